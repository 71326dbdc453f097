/* SPDX-License-Identifier: MIT */
/* cmd_msg.c - `banter send`, `broadcast`, `history`, `listen`. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "jsonv.h"

static const char *str(const cJSON *o, const char *key) { return cli_str(o, key); }

/* For people: sizes and counts (exact below 2^53, as every integer the
 * node writes). */
static double num(const cJSON *o, const char *key) { return (double)cli_int(o, key); }

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
    ctl_request q = {.kind = CTL_SEND};
    if (!cli_copy(q.u.send.peer, sizeof q.u.send.peer, peer, "send", "the peer"))
        return EXIT_USAGE;
    q.u.send.text = cli_text(text);
    q.u.send.wait_ms = (int64_t)(wait_s * 1000);
    q.u.send.wait_offline = explicit_wait;
    int rc;
    cJSON *r = cli_call(ctx, &q, &rc);
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
    ctl_request q = {.kind = org ? CTL_ORG_BROADCAST : CTL_BROADCAST};
    if (org) {
        q.u.org_broadcast.text = cli_text(text);
        if (dep && !cli_copy(q.u.org_broadcast.department, sizeof q.u.org_broadcast.department, dep,
                             "broadcast", "--department"))
            return EXIT_USAGE;
    } else {
        q.u.broadcast.text = cli_text(text);
    }
    int rc;
    cJSON *r = cli_call(ctx, &q, &rc);
    if (!r)
        return rc;
    if (org)
        printf("announced to %lld accounts%s%s: %lld devices have it, %lld get it at their next "
               "login%s\n",
               (long long)cli_int(r, "users"), dep ? " in " : "", dep ? dep : "",
               (long long)cli_int(r, "delivered"), (long long)cli_int(r, "stored"),
               cli_int(r, "refused") > 0 ? " (some copies were refused)" : "");
    else
        printf("broadcast to %lld peers (offline ones get it when they are back)\n",
               (long long)cli_int(r, "recipients"));
    cJSON_Delete(r);
    return EXIT_OK;
}

static void print_message(const cJSON *m, const char *peer_name)
{
    char when[32];
    bool in = strcmp(str(m, "direction"), "in") == 0;
    cli_time(cli_int(m, "ts"), when, sizeof when);
    printf("[%s] %s %s%s: %s%s\n", when, in ? "<" : ">", in ? peer_name : "me",
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "broadcast")) ? " (broadcast)" : "",
           str(m, "body"),
           strcmp(str(m, "state"), "queued") == 0   ? "  [queued]"
           : strcmp(str(m, "state"), "stored") == 0 ? "  [on the server]"
           : strcmp(str(m, "state"), "failed") == 0 ? "  [refused by the server]"
                                                    : "");
}

/* The pages of history, newest first, until limit messages or the
 * start: each reply holds at most a page (docs/control.md), and the next
 * asks for the messages before the oldest one it holds. The messages are
 * moved into all, oldest first. */
static int history_pages(cli_conn *c, ctl_request *q, int64_t limit, cJSON *all, cJSON **peer)
{
    int64_t got = 0;
    for (;;) {
        q->u.history.limit = limit - got;
        cJSON *r = cli_request(c, q);
        int rc = r ? cli_check(r) : EXIT_ERROR;
        if (rc != EXIT_OK) {
            cJSON_Delete(r);
            return rc;
        }
        cJSON *msgs = cJSON_DetachItemFromObjectCaseSensitive(r, "messages");
        int n = cJSON_GetArraySize(msgs);
        int64_t first = n ? cli_int(cJSON_GetArrayItem(msgs, 0), "seq") : 0;
        bool more = cli_bool(r, "more");
        if (!*peer)
            *peer = cJSON_DetachItemFromObjectCaseSensitive(r, "peer");
        cJSON_Delete(r);
        /* This page goes before what came so far (it is older). */
        cJSON *m;
        for (int i = n - 1; i >= 0; i--) {
            m = cJSON_DetachItemFromArray(msgs, i);
            if (all->child)
                cJSON_InsertItemInArray(all, 0, m);
            else
                cJSON_AddItemToArray(all, m);
        }
        cJSON_Delete(msgs);
        got += n;
        if (!more || n == 0 || got >= limit || first <= 1)
            return EXIT_OK;
        q->u.history.before = first;
    }
}

int cmd_history(const cli_ctx *ctx, int argc, char **argv)
{
    const char *peer = NULL;
    bool json = false;
    int64_t limit = 50, before_arg = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if ((strcmp(argv[i], "--limit") == 0 || strcmp(argv[i], "--before") == 0) &&
                   i + 1 < argc) {
            bool lim = argv[i][2] == 'l';
            int64_t v;
            i++;
            if (jsonv_int_parse(argv[i], strlen(argv[i]), 1,
                                lim ? BANTER_CTL_MAX_HISTORY : JSONV_INT_MAX, &v) != 0) {
                fprintf(stderr, lim ? "banter history: --limit takes 1 to 100000\n"
                                    : "banter history: --before takes a message's seq "
                                      "(history --json shows them)\n");
                return EXIT_USAGE;
            }
            *(lim ? &limit : &before_arg) = v;
        } else if (strcmp(argv[i], "--announcements") == 0) {
            return cmd_announcements(ctx, argc, argv);
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
    ctl_request q = {.kind = CTL_HISTORY};
    if (!cli_copy(q.u.history.peer, sizeof q.u.history.peer, peer, "history", "the peer"))
        return EXIT_USAGE;
    q.u.history.before = before_arg;
    cli_conn *c = cli_connect(ctx);
    if (!c)
        return EXIT_NO_NODE;
    cJSON *all = cJSON_CreateArray(), *who = NULL;
    int rc = history_pages(c, &q, limit, all, &who);
    cli_close(c);
    if (rc == EXIT_OK && json) {
        cli_print_json(all);
    } else if (rc == EXIT_OK) {
        const char *name = str(who, "name");
        const cJSON *m;
        cJSON_ArrayForEach (m, all)
            print_message(m, name);
    }
    cJSON_Delete(who);
    cJSON_Delete(all);
    return rc;
}

/* File events: offers, state changes and ends (progress is left out). */
static void print_file_event(const char *type, const cJSON *t)
{
    const char *name = str(cJSON_GetObjectItemCaseSensitive(t, "peer"), "name");
    const char *state = str(t, "state"), *err = str(t, "error");
    char id[9], size[32], w[1200];
    snprintf(id, sizeof id, "%.8s", str(t, "id"));
    cli_size(num(t, "size"), size, sizeof size);
    if (cli_int(t, "files") == 1) /* "a.pdf (2.5 MB)", or "3 files (12.4 MB)" */
        snprintf(w, sizeof w, "%s (%s)", str(t, "name"), size);
    else
        snprintf(w, sizeof w, "%lld files (%s)", (long long)cli_int(t, "files"), size);
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
        cli_time(cli_int(ev, "ts"), when, sizeof when);
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
    ctl_request q = {.kind = CTL_LISTEN};
    cJSON *r = cli_request(c, &q);
    int rc = r ? cli_check(r) : EXIT_ERROR;
    cJSON_Delete(r);
    if (rc == EXIT_OK) {
        /* On stderr in both forms: a script waits for it to know that no
         * later event is missed. */
        fprintf(stderr, "listening for events (Ctrl-C to stop)\n");
        cJSON *ev;
        while ((ev = cli_read(c)) != NULL) {
            if (strcmp(str(ev, "event"), "announcement") == 0) {
                cli_announcement_shown(ctx, ev, json);
            } else if (json) {
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
