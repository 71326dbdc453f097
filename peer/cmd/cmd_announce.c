/* SPDX-License-Identifier: MIT */
/* cmd_announce.c - `banter announcements` (also `history --announcements`),
 * and how `listen` prints an announcement: the organisation's
 * announcements this node keeps. Whatever is printed was shown, so each
 * one printed that was unread is marked read (announcement_read), which
 * tells the server (banter-admin announce report counts it). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "jsonv.h"

/* "[time] announcement N (to Sales): TEXT" */
static void print_ann(const cJSON *a)
{
    char when[32];
    const char *dept = cli_str(a, "department");
    cli_time(cli_int(a, "ts"), when, sizeof when);
    printf("[%s] announcement %lld from the organisation%s%s%s: %s\n", when,
           (long long)cli_int(a, "id"), dept[0] ? " (to " : "", dept, dept[0] ? ")" : "",
           cli_str(a, "text"));
}

/* Mark announcement id read, on a connection of its own (quietly: a node
 * without a server keeps it read and tells the server later). */
static void mark_read(const cli_ctx *ctx, int64_t id)
{
    ctl_request q = {.kind = CTL_ANNOUNCEMENT_READ, .u.ann.id = id};
    int rc;
    cJSON *r = cli_call(ctx, &q, &rc);
    cJSON_Delete(r);
}

void cli_announcement_shown(const cli_ctx *ctx, const cJSON *ev, bool json)
{
    const cJSON *a = cli_obj(ev, "announcement");
    if (!a)
        return;
    if (json)
        cli_print_json(ev);
    else
        print_ann(a);
    fflush(stdout);
    mark_read(ctx, cli_int(a, "id"));
}

int cmd_announcements(const cli_ctx *ctx, int argc, char **argv)
{
    bool json = false;
    ctl_request q = {.kind = CTL_ANNOUNCEMENTS, .u.ann.limit = 50};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--unread") == 0) {
            q.u.ann.unread = true;
        } else if (strcmp(argv[i], "--announcements") == 0) {
            continue; /* `history --announcements` */
        } else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc) {
            i++;
            if (jsonv_int_parse(argv[i], strlen(argv[i]), 1, CTL_MAX_ANNOUNCEMENTS,
                                &q.u.ann.limit) != 0) {
                fprintf(stderr, "banter announcements: --limit takes 1 to %d\n",
                        CTL_MAX_ANNOUNCEMENTS);
                return EXIT_USAGE;
            }
        } else {
            cli_usage(stderr, cli_find("announcements"));
            return EXIT_USAGE;
        }
    }
    int rc;
    cJSON *r = cli_call(ctx, &q, &rc);
    if (!r)
        return rc;
    rc = cli_check(r);
    const cJSON *list = rc == EXIT_OK ? cli_obj(r, "announcements") : NULL, *a;
    if (rc == EXIT_OK && json)
        cli_print_json(list);
    if (rc == EXIT_OK && !json && cJSON_GetArraySize(list) == 0)
        printf("no announcements%s\n", q.u.ann.unread ? " unread" : "");
    cJSON_ArrayForEach (a, list) {
        if (!json)
            print_ann(a);
        if (cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(a, "read")))
            mark_read(ctx, cli_int(a, "id"));
    }
    cJSON_Delete(r);
    return rc;
}
