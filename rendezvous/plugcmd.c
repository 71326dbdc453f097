/* SPDX-License-Identifier: MIT */
/* plugcmd.c - `banter-rendezvous plugins [list | enable|disable|restart NAME] [--json]`:
 * asks the running server through its control socket (ctl.h, plugins.h). */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ctl.h"

static const char *str(const cJSON *o, const char *key)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
    return s ? s : "";
}

static void print_list(const cJSON *a)
{
    const cJSON *p;
    if (cJSON_GetArraySize(a) == 0)
        printf("no plug-ins (plugin.NAME.path = /path/to/NAME.so in the --config file)\n");
    cJSON_ArrayForEach (p, a) {
        const cJSON *pid = cJSON_GetObjectItemCaseSensitive(p, "pid");
        const cJSON *rs = cJSON_GetObjectItemCaseSensitive(p, "restarts");
        printf("%-16s %-9s", str(p, "name"), str(p, "state"));
        if (cJSON_IsNumber(pid) && pid->valuedouble > 0)
            printf(" pid %.0f", pid->valuedouble);
        if (cJSON_IsNumber(rs) && rs->valuedouble > 0)
            printf(" restarts %.0f", rs->valuedouble);
        printf("\n    %s\n", str(p, "path"));
        if (str(p, "last_error")[0])
            printf("    last error: %s\n", str(p, "last_error"));
    }
}

int cmd_plugins(const cli_ctx *ctx, int argc, char **argv)
{
    char line[CTL_LINE_MAX] = "plugins", why[512] = "";
    bool json = false;
    int words = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
            continue;
        }
        size_t len = strlen(line);
        if (++words > 2 ||
            strspn(argv[i], "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(argv[i]) ||
            snprintf(line + len, sizeof line - len, " %s", argv[i]) >= (int)(sizeof line - len)) {
            fprintf(stderr, CLI_PROG ": plugins: unexpected \"%s\"\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    char *ans = malloc(CTL_ANSWER_MAX);
    if (!ans)
        return EXIT_ERROR;
    int r = ctl_ask(config_base(ctx->cfg), line, ans, CTL_ANSWER_MAX, why, sizeof why);
    int rc = EXIT_ERROR;
    cJSON *a = NULL;
    if (r)
        fprintf(stderr, CLI_PROG ": %s\n", why);
    else if (strncmp(ans, "ok ", 3) != 0)
        fprintf(stderr, CLI_PROG ": %.*s\n", (int)strcspn(ans, "\n"),
                strncmp(ans, "error ", 6) == 0 ? ans + 6 : ans);
    else if (!(a = cJSON_Parse(ans + 3)))
        fprintf(stderr, CLI_PROG ": the server's answer is not JSON\n");
    else {
        if (json)
            printf("%.*s\n", (int)strcspn(ans + 3, "\n"), ans + 3);
        else
            print_list(a);
        rc = EXIT_OK;
    }
    cJSON_Delete(a);
    free(ans);
    return rc;
}
