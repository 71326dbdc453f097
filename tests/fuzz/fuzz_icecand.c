/* SPDX-License-Identifier: MIT */
/* fuzz_icecand.c - ICE signaling from a remote device: the input is lines
 * (ufrag, pwd, then candidates); every candidate accepted must format to a
 * canonical line that parses again to the same value, and the canonical
 * line of a canonical line is itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "icecand.h"

#define MAX_LINES (BANTER_ICE_MAX_CANDS + 8)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_roundtrip(const icecand *c)
{
    static const icecand_policy any = {.same_lan = true, .allow_ipv6 = true, .allow_tcp = true};
    char a[BANTER_ICE_MAX_LINE + 1], b[BANTER_ICE_MAX_LINE + 1];
    icecand d;
    int n = icecand_format(c, a, sizeof a);
    if (n < 0 || icecand_parse(a, (size_t)n, &any, &d) != 0 || memcmp(c, &d, sizeof d) != 0)
        abort();
    if (icecand_format(&d, b, sizeof b) != n || strcmp(a, b) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const icecand_policy pols[2] = {
        {0}, {.same_lan = true, .allow_ipv6 = true, .allow_tcp = true}};
    static icecand_set set;
    char *text = malloc(size + 1), *lines[MAX_LINES];
    size_t n = 0, rejected;
    icecand c;

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    for (int p = 0; p < 2; p++)
        if (icecand_parse((const char *)data, size, &pols[p], &c) == 0)
            check_roundtrip(&c);
    for (char *s = text, *nl; n < MAX_LINES; s = nl + 1) {
        lines[n++] = s;
        if (!(nl = strchr(s, '\n')))
            break;
        *nl = '\0';
    }
    icecand_url u;
    if (icecand_parse_url(text, &u) == 0 && (u.port == 0 || !u.host[0]))
        abort();
    if (n >= 2) {
        for (int p = 0; p < 2; p++) {
            if (icecand_parse_set(lines[0], lines[1], (const char *const *)lines + 2, n - 2,
                                  &pols[p], &set, &rejected, NULL) != 0)
                continue;
            if (set.n + rejected != n - 2)
                abort();
            for (size_t i = 0; i < set.n; i++)
                check_roundtrip(&set.c[i]);
        }
    }
    free(text);
    return 0;
}
