/* SPDX-License-Identifier: MIT */
/* cmd_msg.c - `banter send`, `broadcast`, `history`, `listen`. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

int cmd_send(const cli_ctx *ctx, int argc, char **argv)
{
    const char *peer = NULL, *text = NULL, *group = NULL;
    double wait_s = 5;
    bool explicit_wait = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--group") == 0 && i + 1 < argc && !peer) {
            group = argv[++i];
            peer = group;
        } else if (strcmp(argv[i], "--wait") == 0 && i + 1 < argc) {
            char *end;
            errno = 0;
            wait_s = strtod(argv[++i], &end);
            if (errno || *end || !(wait_s >= 0 && wait_s <= 600)) {
                fprintf(stderr, "banter send: --wait takes 0 to 600 seconds\n");
                return EXIT_USAGE;
            }
            explicit_wait = true;
        } else if (!peer) {
            peer = argv[i];
        } else if (!text) {
            text = argv[i];
        } else {
            fprintf(stderr, "banter send: too many arguments (quote the text)\n");
            return EXIT_USAGE;
        }
    }
    if (!peer || !text) {
        cli_usage(stderr, cli_find("send"));
        return EXIT_USAGE;
    }
    if (group || (peer[0] == '%' && peer[1]))
        return cmd_group_send(ctx, group ? group : peer + 1, text);
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "cmd", "send");
    cJSON_AddStringToObject(req, "peer", peer);
    cJSON_AddStringToObject(req, "text", text);
    cJSON_AddNumberToObject(req, "wait", wait_s * 1000);
    cJSON_AddBoolToObject(req, "wait_offline", explicit_wait);
    int rc;
    cJSON *r = cli_call(ctx, req, &rc);
    if (!r)
        return rc;
    const char *state = str(r, "state");
    int code = EXIT_OK;
    if (strcmp(state, "delivered") == 0) {
        printf("delivered to %s\n", peer);
    } else if (strcmp(state, "stored") == 0) {
        printf("stored on the rendezvous server: %s gets it at their next login\n", peer);
    } else if (strcmp(state, "failed") == 0) {
        fprintf(stderr, "banter send: the rendezvous server refused the message for %s: %s\n", peer,
                str(r, "error"));
        code = EXIT_ERROR;
    } else {
        printf("queued: %s will get it when they are back online\n", peer);
        code = EXIT_QUEUED;
    }
    cJSON_Delete(r);
    return code;
}

int cmd_broadcast(const cli_ctx *ctx, int argc, char **argv)
{
    const char *text = NULL, *dep = NULL;
    bool org = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--org") == 0)
            org = true;
        else if (strcmp(argv[i], "--department") == 0 && i + 1 < argc)
            org = true, dep = argv[++i];
        else if (!text)
            text = argv[i];
        else
            text = NULL, i = argc; /* too many: usage below */
    }
    if (!text) {
        cli_usage(stderr, cli_find("broadcast"));
        return EXIT_USAGE;
    }
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "cmd", org ? "org_broadcast" : "broadcast");
    cJSON_AddStringToObject(req, "text", text);
    if (dep)
        cJSON_AddStringToObject(req, "department", dep);
    int rc;
    cJSON *r = cli_call(ctx, req, &rc);
    if (!r)
        return rc;
    if (org)
        printf("announced to %.0f accounts%s%s: %.0f devices have it, %.0f get it at their next "
               "login%s\n",
               num(r, "users"), dep ? " in " : "", dep ? dep : "", num(r, "delivered"),
               num(r, "stored"), num(r, "refused") > 0 ? " (some copies were refused)" : "");
    else
        printf("broadcast to %.0f peers (offline ones get it when they are back)\n",
               num(r, "recipients"));
    cJSON_Delete(r);
    return EXIT_OK;
}

static void print_message(const cJSON *m, const char *peer_name)
{
    char when[32];
    bool in = strcmp(str(m, "direction"), "in") == 0;
    cli_time(num(m, "ts"), when, sizeof when);
    printf("[%s] %s %s%s: %s%s\n", when, in ? "<" : ">", in ? peer_name : "me",
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "broadcast")) ? " (broadcast)" : "",
           str(m, "body"),
           strcmp(str(m, "state"), "queued") == 0   ? "  [queued]"
           : strcmp(str(m, "state"), "stored") == 0 ? "  [on the server]"
           : strcmp(str(m, "state"), "failed") == 0 ? "  [refused by the server]"
                                                    : "");
}

int cmd_history(const cli_ctx *ctx, int argc, char **argv)
{
    const char *peer = NULL;
    bool json = false;
    double limit = 50;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc) {
            char *end;
            limit = strtod(argv[++i], &end);
            if (*end || !(limit >= 1 && limit <= 100000)) {
                fprintf(stderr, "banter history: --limit takes 1 to 100000\n");
                return EXIT_USAGE;
            }
        } else if (!peer) {
            peer = argv[i];
        } else {
            cli_usage(stderr, cli_find("history"));
            return EXIT_USAGE;
        }
    }
    if (!peer) {
        cli_usage(stderr, cli_find("history"));
        return EXIT_USAGE;
    }
    if (peer[0] == '%' && peer[1])
        return cmd_group_history(ctx, peer + 1, json, limit > 500 ? 500 : limit);
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "cmd", "history");
    cJSON_AddStringToObject(req, "peer", peer);
    cJSON_AddNumberToObject(req, "limit", limit);
    int rc;
    cJSON *r = cli_call(ctx, req, &rc);
    if (!r)
        return rc;
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(r, "messages");
    if (json) {
        cli_print_json(msgs);
    } else {
        const char *name = str(cJSON_GetObjectItemCaseSensitive(r, "peer"), "name");
        const cJSON *m;
        cJSON_ArrayForEach (m, msgs)
            print_message(m, name);
    }
    cJSON_Delete(r);
    return EXIT_OK;
}

/* File events: offers, state changes and ends (progress is left out). */
static void print_file_event(const char *type, const cJSON *t)
{
    const char *name = str(cJSON_GetObjectItemCaseSensitive(t, "peer"), "name");
    const char *state = str(t, "state"), *err = str(t, "error");
    char id[9], size[32], w[1200];
    snprintf(id, sizeof id, "%.8s", str(t, "id"));
    cli_size(num(t, "size"), size, sizeof size);
    if (num(t, "files") == 1) /* "a.pdf (2.5 MB)", or "3 files (12.4 MB)" */
        snprintf(w, sizeof w, "%s (%s)", str(t, "name"), size);
    else
        snprintf(w, sizeof w, "%.0f files (%s)", num(t, "files"), size);
    if (strcmp(type, "file_offer") == 0)
        printf("* %s offers %s: banter accept %s\n", name, w, id);
    else if (strcmp(type, "file_done") == 0)
        printf("* transfer %s done: %s %s %s\n", id, w,
               strcmp(str(t, "direction"), "in") == 0 ? "from" : "to", name);
    else if (strcmp(state, "failed") == 0)
        printf("* transfer %s failed: %s\n", id, str(t, "error"));
    else if (strcmp(state, "declined") == 0 || strcmp(state, "cancelled") == 0)
        printf("* transfer %s %s: %s%s%s\n", id, state, w, /* with the reason given */
               strcmp(err, state) && *err ? ": " : "", strcmp(err, state) ? err : "");
    else if (strcmp(type, "file_state") == 0)
        printf("* transfer %s is %s: %s\n", id, state, w);
}

static void print_event(const cJSON *ev)
{
    const char *type = str(ev, "event");
    const char *name = str(cJSON_GetObjectItemCaseSensitive(ev, "peer"), "name");
    char when[32];
    if (strcmp(type, "message") == 0) {
        cli_time(num(ev, "ts"), when, sizeof when);
        bool out = strcmp(str(ev, "direction"), "out") == 0; /* from another own device */
        printf("[%s] %s%s%s: %s\n", when, out ? "me to " : "", name,
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ev, "broadcast")) ? " (broadcast)"
                                                                               : "",
               str(ev, "body"));
    } else if (strcmp(type, "online") == 0 || strcmp(type, "offline") == 0) {
        printf("* %s is %s\n", name, type);
    } else if (strcmp(type, "delivered") == 0) {
        printf("* delivered to %s\n", name);
    } else if (strncmp(type, "file_", 5) == 0) {
        print_file_event(type, cJSON_GetObjectItemCaseSensitive(ev, "transfer"));
    } else {
        printf("* %s\n", str(ev, "text"));
    }
    fflush(stdout);
}

int cmd_listen(const cli_ctx *ctx, int argc, char **argv)
{
    bool json = argc == 2 && strcmp(argv[1], "--json") == 0;
    if (argc > 2 || (argc == 2 && !json)) {
        cli_usage(stderr, cli_find("listen"));
        return EXIT_USAGE;
    }
    cli_conn *c = cli_connect(ctx);
    if (!c)
        return EXIT_NO_NODE;
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "cmd", "listen");
    cJSON *r = cli_request(c, req);
    int rc = r ? cli_check(r) : EXIT_ERROR;
    cJSON_Delete(r);
    if (rc == EXIT_OK) {
        /* On stderr in both forms: a script waits for it to know that no
         * later event is missed. */
        fprintf(stderr, "listening for events (Ctrl-C to stop)\n");
        cJSON *ev;
        while ((ev = cli_read(c)) != NULL) {
            if (json) {
                cli_print_json(ev);
                fflush(stdout);
            } else {
                print_event(ev);
            }
            cJSON_Delete(ev);
        }
    }
    cli_close(c);
    return rc;
}
