/* SPDX-License-Identifier: MIT */
/* cmd_nat.c - `banter nat-check`: what kind of direct connection this node can make. */
#include <string.h>

#include "cli.h"

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static int num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valueint : 0;
}

int cmd_nat_check(const cli_ctx *ctx, int argc, char **argv)
{
    bool json = false;
    int rc;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") != 0) {
            fprintf(stderr, "banter nat-check: unexpected argument \"%s\"\n", argv[i]);
            return EXIT_USAGE;
        }
        json = true;
    }
    ctl_request q = {.kind = CTL_NAT_CHECK};
    cJSON *r = cli_call(ctx, &q, &rc);
    if (!r)
        return rc;
    rc = cli_check(r);
    if (rc == EXIT_OK && json) {
        cJSON_DeleteItemFromObjectCaseSensitive(r, "ok");
        cli_print_json(r);
    } else if (rc == EXIT_OK) {
        printf("servers:    %s\n", str(r, "servers")[0] ? str(r, "servers") : "none");
        const cJSON *c;
        cJSON_ArrayForEach (c, cJSON_GetObjectItemCaseSensitive(r, "candidates")) {
            printf("candidate:  %-5s %s %s:%d", str(c, "type"), str(c, "transport"),
                   str(c, "address"), num(c, "port"));
            if (str(c, "turn")[0])
                printf(" (TURN over %s)", str(c, "turn"));
            printf("\n");
        }
        printf("NAT:        %s%s%s\n",
               strcmp(str(r, "nat"), "behind") == 0 ? "behind NAT"
               : strcmp(str(r, "nat"), "none") == 0 ? "none (a public address)"
                                                    : "unknown",
               str(r, "mapped")[0] ? ", seen from outside as " : "", str(r, "mapped"));
        printf("TURN:       %s\n", strcmp(str(r, "turn"), "udp") == 0 ? "works over UDP"
                                   : strcmp(str(r, "turn"), "tcp") == 0
                                       ? "works over TCP only (UDP blocked)"
                                   : strcmp(str(r, "turn"), "failed") == 0 ? "FAILED"
                                                                           : "none configured");
        printf("verdict:    %s\n", str(r, "verdict"));
    }
    cJSON_Delete(r);
    return rc;
}
