/* SPDX-License-Identifier: MIT */
/* cmd_plugins.c - `banter plugins [list|enable NAME|disable NAME|restart NAME] [--json]`. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char *str(const cJSON *o, const char *key)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
    return s ? s : "";
}

static double num(const cJSON *o, const char *key) { return (double)cli_int(o, key); }

static void print_one(const cJSON *p)
{
    printf("%-16s %-9s", str(p, "name"), str(p, "state"));
    if (num(p, "pid") > 0)
        printf(" pid %.0f", num(p, "pid"));
    if (strcmp(str(p, "state"), "backoff") == 0)
        printf(" (again in %.1f s)", num(p, "retry_in_ms") / 1000.0);
    if (num(p, "restarts") > 0)
        printf(" restarts %.0f", num(p, "restarts"));
    if (str(p, "version")[0])
        printf(" v%s", str(p, "version"));
    printf("\n    %s\n", str(p, "path"));
    if (str(p, "description")[0])
        printf("    %s\n", str(p, "description"));
    if (str(p, "last_error")[0])
        printf("    last error: %s\n", str(p, "last_error"));
}

int cmd_plugins(const cli_ctx *ctx, int argc, char **argv)
{
    bool json = false;
    const char *action = "list", *name = NULL;
    int rc, pos = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (pos == 0 && argv[i][0] != '-' && ++pos)
            action = argv[i];
        else if (pos == 1 && argv[i][0] != '-' && ++pos)
            name = argv[i];
        else {
            fprintf(stderr, "banter plugins: unexpected argument \"%s\"\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    bool list = strcmp(action, "list") == 0;
    if ((list && name) ||
        (!list && strcmp(action, "enable") != 0 && strcmp(action, "disable") != 0 &&
         strcmp(action, "restart") != 0) ||
        (!list && !name)) {
        fprintf(stderr, "banter plugins: expected list, or enable, disable or restart NAME\n");
        return EXIT_USAGE;
    }
    ctl_request q = {.kind = CTL_PLUGINS};
    if (!cli_copy(q.u.plugins.action, sizeof q.u.plugins.action, action, "plugins", "the action") ||
        (name && !cli_copy(q.u.plugins.name, sizeof q.u.plugins.name, name, "plugins", "NAME")))
        return EXIT_USAGE;
    cJSON *r = cli_call(ctx, &q, &rc);
    if (!r)
        return rc;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(r, "plugins"), *p;
    if (json) {
        cli_print_json(a);
    } else {
        if (str(r, "message")[0])
            printf("%s\n", str(r, "message"));
        if (list && cJSON_GetArraySize(a) == 0)
            printf("no plug-ins (add plugin.NAME.path = /path/to/NAME.so to banter.conf)\n");
        cJSON_ArrayForEach (p, a) {
            if (list || strcmp(str(p, "name"), name) == 0)
                print_one(p);
        }
    }
    cJSON_Delete(r);
    return EXIT_OK;
}
