/* SPDX-License-Identifier: MIT */
/* cmd_doctor.c - `banter doctor [CONTACT] [--json]`: why a contact or the network is not reached.
 */
#include <string.h>

#include "cli.h"

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

int cmd_doctor(const cli_ctx *ctx, int argc, char **argv)
{
    bool json = false;
    int rc;
    ctl_request q = {.kind = CTL_DOCTOR};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (!q.u.doctor.peer[0] && argv[i][0] != '-' &&
                   strlen(argv[i]) < sizeof q.u.doctor.peer) {
            memcpy(q.u.doctor.peer, argv[i], strlen(argv[i]) + 1);
        } else {
            fprintf(stderr, "banter doctor: unexpected argument \"%s\"\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    cJSON *r = cli_call(ctx, &q, &rc);
    if (!r)
        return rc;
    rc = cli_check(r);
    if (rc == EXIT_OK && json) {
        cJSON_DeleteItemFromObjectCaseSensitive(r, "ok");
        cli_print_json(r);
    } else if (rc == EXIT_OK) {
        const cJSON *c;
        cJSON_ArrayForEach (c, cJSON_GetObjectItemCaseSensitive(r, "checks"))
            printf("%-4s  %-10s %s\n", str(c, "status"), str(c, "name"), str(c, "text"));
    }
    cJSON_Delete(r);
    return rc;
}
