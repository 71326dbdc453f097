/* SPDX-License-Identifier: MIT */
/* cmd_group.c - `banter group ...`, sending to and reading a group, and `banter find`. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* Integers are read exactly (cli_int): the replies' numbers are not
 * cJSON doubles here. */
static double num(const cJSON *o, const char *key) { return (double)cli_int(o, key); }

static bool flag(const cJSON *o, const char *key)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* Send q; print the reply as JSON, or with fn. */
static int call(const cli_ctx *ctx, const ctl_request *q, bool json, void (*fn)(const cJSON *r))
{
    int rc;
    cJSON *r = cli_call(ctx, q, &rc);
    if (!r)
        return rc;
    rc = cli_check(r);
    if (rc == EXIT_OK && json) {
        cJSON_DeleteItemFromObjectCaseSensitive(r, "ok");
        cli_print_json(r);
    } else if (rc == EXIT_OK && fn) {
        fn(r);
    }
    cJSON_Delete(r);
    return rc;
}

static void print_members(const cJSON *r)
{
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(r, "group");
    const cJSON *m;
    printf("%s (%s), %.0f members%s\n", str(g, "name"), str(g, "id"), num(g, "members_count"),
           flag(g, "member") ? "" : "; you are no longer a member");
    cJSON_ArrayForEach (m, cJSON_GetObjectItemCaseSensitive(g, "members")) {
        const char *name = str(m, "name");
        printf("  %s%s%s%s%s%s\n",
               str(m, "id")[0] == '@' ? str(m, "id")
               : name[0]              ? name
                                      : "?",
               str(m, "id")[0] == '@' ? "" : "  ",
               str(m, "id")[0] == '@' ? "" : str(m, "fingerprint"),
               flag(m, "admin") ? "  (admin)" : "", flag(m, "me") ? "  (you)" : "", "");
    }
}

static void print_list(const cJSON *r)
{
    const cJSON *g;
    const cJSON *all = cJSON_GetObjectItemCaseSensitive(r, "groups");
    if (cJSON_GetArraySize(all) == 0)
        printf("no groups (banter group create NAME [MEMBER...])\n");
    cJSON_ArrayForEach (g, all)
        printf("%-24s %.0f members  %.0f unread%s%s  %s\n", str(g, "name"), num(g, "members_count"),
               num(g, "unread"), flag(g, "admin") ? "  admin" : "",
               flag(g, "member") ? "" : "  (left)", str(g, "id"));
    /* At the most groups a node holds, invitations are refused: say so,
     * and what makes room. */
    double limit = num(r, "limit"), refused = num(r, "refused");
    if (refused > 0) {
        char when[32];
        cli_time(cli_int(r, "refused_at"), when, sizeof when);
        printf(
            "! %.0f invitation%s refused (the last at %s): this node holds %.0f groups, the most "
            "it may; delete old ones: banter group delete GROUP\n",
            refused, refused == 1 ? "" : "s", when, limit);
    } else if (limit > 0 && cJSON_GetArraySize(all) >= limit) {
        printf("! this node holds %.0f groups, the most it may: new invitations are refused; "
               "delete old ones: banter group delete GROUP\n",
               limit);
    }
}

static void print_deleted(const cJSON *r)
{
    double n = num(r, "messages");
    printf("deleted the group %s (%s)%s; %.0f message%s removed from this node\n", str(r, "name"),
           str(r, "id"),
           flag(r, "left") ? ": you left it first, the other members see that you left" : "", n,
           n == 1 ? "" : "s");
}

/* A group request of kind k naming group (NULL: none); false after printing
 * why when group does not fit. */
static bool req_of(ctl_request *q, ctl_kind k, const char *group)
{
    *q = (ctl_request){.kind = k};
    return !group || cli_copy(q->u.group.group, sizeof q->u.group.group, group, "group", "GROUP");
}

static bool add_members(ctl_request *q, int argc, char **argv)
{
    if (argc > CTL_MAX_GROUP_MEMBERS) {
        fprintf(stderr, "banter group: at most %d members at a time\n", CTL_MAX_GROUP_MEMBERS);
        return false;
    }
    for (int i = 0; i < argc; i++)
        if (!cli_copy(q->u.group.members[q->u.group.nmembers++], sizeof q->u.group.members[0],
                      argv[i], "group", "MEMBER"))
            return false;
    return true;
}

int cmd_group(const cli_ctx *ctx, int argc, char **argv)
{
    bool json = false;
    int n = 0;
    char *args[64];
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (n < 64)
            args[n++] = argv[i];
    }
    const char *op = n ? args[0] : "";
    ctl_request q;
    bool ok;
    if (strcmp(op, "list") == 0 && n == 1)
        return call(ctx, &(ctl_request){.kind = CTL_GROUPS}, json, print_list);
    if (strcmp(op, "delete") == 0 && n == 2) {
        if (!req_of(&q, CTL_GROUP_DELETE, args[1]))
            return EXIT_USAGE;
        return call(ctx, &q, json, print_deleted);
    }
    if (strcmp(op, "members") == 0 && n == 2) {
        if (!req_of(&q, CTL_GROUP_MEMBERS, args[1]))
            return EXIT_USAGE;
        return call(ctx, &q, json, print_members);
    }
    if (strcmp(op, "create") == 0 && n >= 2) {
        ok = req_of(&q, CTL_GROUP_CREATE, NULL) &&
             cli_copy(q.u.group.name, sizeof q.u.group.name, args[1], "group", "NAME") &&
             add_members(&q, n - 2, args + 2);
    } else if (strcmp(op, "invite") == 0 && n >= 3) {
        ok = req_of(&q, CTL_GROUP_INVITE, args[1]) && add_members(&q, n - 2, args + 2);
    } else if (strcmp(op, "remove") == 0 && n == 3) {
        ok = req_of(&q, CTL_GROUP_REMOVE, args[1]) &&
             cli_copy(q.u.group.member, sizeof q.u.group.member, args[2], "group", "MEMBER");
    } else if (strcmp(op, "admin") == 0 && n == 4 &&
               (strcmp(args[3], "on") == 0 || strcmp(args[3], "off") == 0)) {
        ok = req_of(&q, CTL_GROUP_ADMIN, args[1]) &&
             cli_copy(q.u.group.member, sizeof q.u.group.member, args[2], "group", "MEMBER");
        q.u.group.admin = strcmp(args[3], "on") == 0;
    } else if (strcmp(op, "leave") == 0 && n == 2) {
        ok = req_of(&q, CTL_GROUP_LEAVE, args[1]);
    } else if (strcmp(op, "rename") == 0 && n == 3) {
        ok = req_of(&q, CTL_GROUP_RENAME, args[1]) &&
             cli_copy(q.u.group.name, sizeof q.u.group.name, args[2], "group", "NAME");
    } else {
        cli_usage(stderr, cli_find("group"));
        return EXIT_USAGE;
    }
    if (!ok)
        return EXIT_USAGE;
    return call(ctx, &q, json, print_members);
}

int cmd_group_send(const cli_ctx *ctx, const char *group, const char *text)
{
    ctl_request q;
    if (!req_of(&q, CTL_GROUP_SEND, group))
        return EXIT_USAGE;
    q.u.group.text = cli_text(text);
    int rc;
    cJSON *r = cli_call(ctx, &q, &rc);
    if (!r)
        return rc;
    rc = cli_check(r);
    if (rc == EXIT_OK)
        printf("sent to the group %s: members get it over the LAN or the server, or when they "
               "are back (banter history %%%s shows delivery)\n",
               group, group);
    cJSON_Delete(r);
    return rc;
}
static void print_history(const cJSON *r)
{
    const cJSON *m;
    cJSON_ArrayForEach (m, cJSON_GetObjectItemCaseSensitive(r, "messages")) {
        char when[32];
        bool in = strcmp(str(m, "direction"), "in") == 0;
        cli_time(cli_int(m, "ts"), when, sizeof when);
        const char *from = str(m, "account")[0] ? str(m, "account") : str(m, "from");
        printf("[%s] %s %s: %s", when, in ? "<" : ">", in ? from : "me", str(m, "body"));
        if (cJSON_GetObjectItemCaseSensitive(m, "recipients"))
            printf("  [delivered to %.0f of %.0f]", num(m, "delivered_to"), num(m, "recipients"));
        printf("\n");
    }
}

int cmd_group_history(const cli_ctx *ctx, const char *group, bool json, int64_t limit)
{
    ctl_request q;
    if (!req_of(&q, CTL_GROUP_HISTORY, group))
        return EXIT_USAGE;
    q.u.group.limit = limit;
    return call(ctx, &q, json, print_history);
}

static void print_found(const cJSON *r)
{
    const cJSON *e;
    cJSON_ArrayForEach (e, cJSON_GetObjectItemCaseSensitive(r, "results")) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "conversation");
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
        char when[32];
        cli_time(cli_int(m, "ts"), when, sizeof when);
        bool group = strcmp(str(c, "kind"), "group") == 0;
        printf("[%s] %s%s %s: %s  (id %s)\n", when, group ? "%" : "",
               str(c, "account")[0] ? str(c, "account") : str(c, "name"),
               strcmp(str(m, "direction"), "in") == 0 ? "<" : ">", str(m, "body"), str(m, "id"));
    }
    if (cJSON_GetObjectItemCaseSensitive(r, "next_before"))
        printf("more: --before %.0f\n", num(r, "next_before"));
}

int cmd_find(const cli_ctx *ctx, int argc, char **argv)
{
    bool json = false;
    const char *text = NULL;
    long long limit = 20, before = 0;
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc) {
            limit = strtoll(argv[++i], &end, 10);
            if (*end || limit < 1 || limit > 500) {
                fprintf(stderr, "banter find: --limit takes 1 to 500\n");
                return EXIT_USAGE;
            }
        } else if (strcmp(argv[i], "--before") == 0 && i + 1 < argc) {
            before = strtoll(argv[++i], &end, 10);
            if (*end || before < 0) {
                fprintf(stderr, "banter find: --before takes a seq from an earlier page\n");
                return EXIT_USAGE;
            }
        } else if (!text) {
            text = argv[i];
        } else {
            fprintf(stderr, "banter find: too many arguments (quote the words)\n");
            return EXIT_USAGE;
        }
    }
    if (!text) {
        cli_usage(stderr, cli_find("find"));
        return EXIT_USAGE;
    }
    ctl_request q = {.kind = CTL_FIND};
    if (!cli_copy(q.u.find.text, sizeof q.u.find.text, text, "find", "TEXT"))
        return EXIT_USAGE;
    q.u.find.limit = (int64_t)limit;
    q.u.find.before = (int64_t)before;
    return call(ctx, &q, json, print_found);
}
