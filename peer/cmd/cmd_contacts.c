/* SPDX-License-Identifier: MIT */
/* cmd_contacts.c - `banter contacts`, `contact`, `requests`, `approve`,
 * `deny`, `status`: rendezvous contacts and presence. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *str(const cJSON *o, const char *key) { return cli_str(o, key); }

static bool wants_json(int argc, char **argv, const char *cmd, int *bad)
{
    bool json = false;
    *bad = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else {
            fprintf(stderr, "banter %s: unexpected argument \"%s\"\n", cmd, argv[i]);
            *bad = 1;
        }
    }
    return json;
}

static void print_contact(const cJSON *c, bool details)
{
    const char *dn = str(c, "display_name"), *text = str(c, "text");
    printf("%-20s %-24s %-9s %-8s %s\n", str(c, "user"), dn, str(c, "state"),
           details ? str(c, "status") : "", details ? text : "");
}

static cJSON *list_call(const cli_ctx *ctx, const char *cmd, int *rc)
{
    ctl_request q = {.kind = cmd[0] == 'c' ? CTL_CONTACTS : CTL_REQUESTS};
    return cli_call(ctx, &q, rc);
}

int cmd_contacts(const cli_ctx *ctx, int argc, char **argv)
{
    int bad, rc;
    bool json = wants_json(argc, argv, "contacts", &bad);
    if (bad)
        return EXIT_USAGE;
    cJSON *r = list_call(ctx, "contacts", &rc);
    if (!r)
        return rc;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(r, "contacts"), *c;
    if (json) {
        cli_print_json(list);
    } else if (cJSON_GetArraySize(list) == 0) {
        printf("no contacts yet: find colleagues with `banter search`, then "
               "`banter contact add USER`\n");
    } else {
        printf("%-20s %-24s %-9s %-8s %s\n", "USER", "NAME", "STATE", "STATUS", "TEXT");
        cJSON_ArrayForEach (c, list)
            print_contact(c, strcmp(str(c, "state"), "approved") == 0);
    }
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "logged_in")) && !json)
        printf("(not logged in to the rendezvous server: this list may be out of date)\n");
    cJSON_Delete(r);
    return EXIT_OK;
}

int cmd_requests(const cli_ctx *ctx, int argc, char **argv)
{
    int bad, rc;
    bool json = wants_json(argc, argv, "requests", &bad);
    if (bad)
        return EXIT_USAGE;
    cJSON *r = list_call(ctx, "requests", &rc);
    if (!r)
        return rc;
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(r, "incoming");
    const cJSON *out = cJSON_GetObjectItemCaseSensitive(r, "outgoing"), *c;
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "incoming", cJSON_Duplicate(in, true));
        cJSON_AddItemToObject(o, "outgoing", cJSON_Duplicate(out, true));
        cli_print_json(o);
        cJSON_Delete(o);
    } else {
        if (cJSON_GetArraySize(in) == 0)
            printf("no one asked to be your contact\n");
        cJSON_ArrayForEach (c, in)
            printf("%s (%s) asks to be your contact: banter approve %s | banter deny %s\n",
                   str(c, "user"), str(c, "display_name"), str(c, "user"), str(c, "user"));
        cJSON_ArrayForEach (c, out)
            printf("waiting for %s to approve your request\n", str(c, "user"));
    }
    cJSON_Delete(r);
    return EXIT_OK;
}

static int contact_op(const cli_ctx *ctx, const char *op, const char *user)
{
    static const struct {
        const char *op, *before, *after;
    } said[] = {
        {"request", "asked ", " to be your contact; you see each other once they approve"},
        {"approve", "", " is now your contact"},
        {"deny", "denied the request of ", ""},
        {"remove", "", " is no longer your contact"},
        {"block", "blocked ", ": their messages and requests are dropped (they are not told)"},
        {"unblock", "unblocked ", ""},
    };
    ctl_request q = {.kind = CTL_CONTACT};
    if (rv_op_parse(op, &q.u.contact.op) != 0 ||
        !cli_copy(q.u.contact.user, sizeof q.u.contact.user, user, "contact", "the user name"))
        return EXIT_USAGE;
    int rc;
    cJSON *r = cli_call(ctx, &q, &rc);
    if (!r)
        return rc;
    for (size_t i = 0; i < sizeof said / sizeof said[0]; i++) {
        if (strcmp(said[i].op, op) == 0)
            printf("%s%s%s\n", said[i].before, user, said[i].after);
    }
    cJSON_Delete(r);
    return EXIT_OK;
}

int cmd_contact(const cli_ctx *ctx, int argc, char **argv)
{
    static const char *verbs[][2] = {
        {"add", "request"}, {"remove", "remove"}, {"block", "block"}, {"unblock", "unblock"}};
    if (argc == 3) {
        for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
            if (strcmp(argv[1], verbs[i][0]) == 0)
                return contact_op(ctx, verbs[i][1], argv[2]);
    }
    cli_usage(stderr, cli_find("contact"));
    return EXIT_USAGE;
}

int cmd_approve(const cli_ctx *ctx, int argc, char **argv)
{
    if (argc != 2) {
        cli_usage(stderr, cli_find(argv[0]));
        return EXIT_USAGE;
    }
    return contact_op(ctx, strcmp(argv[0], "deny") == 0 ? "deny" : "approve", argv[1]);
}

int cmd_status(const cli_ctx *ctx, int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        cli_usage(stderr, cli_find("status"));
        return EXIT_USAGE;
    }
    ctl_request q = {.kind = CTL_STATUS};
    if (rv_presence_parse(argv[1], &q.u.status.status) != 0 || q.u.status.status == RV_P_OFFLINE) {
        fprintf(stderr,
                "banter status: \"%s\" is not a status: online, away, busy or "
                "invisible\n",
                argv[1]);
        return EXIT_USAGE;
    }
    if (argc == 3 &&
        !cli_copy(q.u.status.text, sizeof q.u.status.text, argv[2], "status", "the status text"))
        return EXIT_USAGE;
    int rc;
    cJSON *r = cli_call(ctx, &q, &rc);
    if (!r)
        return rc;
    printf("status: %s%s%s\n", str(r, "status"), str(r, "text")[0] ? " - " : "", str(r, "text"));
    cJSON_Delete(r);
    return EXIT_OK;
}
