/* SPDX-License-Identifier: MIT */
/*
 * fuzz_gstate.c - libFuzzer target for group membership states
 * (shared/gstate.h), which any member device sends.
 *
 * The input is read as a state. One that decodes must encode, and decode
 * again to a state with the same encoding (one encoding per state); it is
 * then checked as a creation and fed to a view of a fixed group, which
 * must keep a well-formed current state whatever the answer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gstate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static gstate fixed(void)
{
    gstate st;
    memset(&st, 0, sizeof st);
    memset(st.group, 0x42, sizeof st.group);
    st.v = 1;
    memcpy(st.name, "g", 2);
    memcpy(st.creator, "@ada", 5);
    memcpy(st.by, "@ada", 5);
    memcpy(st.m[0].id, "@ada", 5);
    st.m[0].admin = true;
    memcpy(st.m[1].id, "@bob", 5);
    st.n = 2;
    return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static gstate st, again;
    static gview g;
    buf b1, b2;
    if (gstate_decode(&st, (const char *)data, size) != 0)
        return 0;
    buf_init(&b1, 1 << 20);
    buf_init(&b2, 1 << 20);
    if (gstate_encode(&st, &b1) != 0 ||
        gstate_decode(&again, (const char *)buf_data(&b1), buf_len(&b1)) != 0 ||
        gstate_encode(&again, &b2) != 0 || buf_len(&b1) != buf_len(&b2) ||
        memcmp(buf_data(&b1), buf_data(&b2), buf_len(&b1)) != 0)
        abort();
    int created = gstate_check(NULL, &st, NULL, 0);
    if (created == 0 && (st.v != 1 || !gstate_find(&st, st.creator)))
        abort();
    gstate f = fixed();
    gview_result res;
    if (gview_init(&g, &f, NULL, 0) != 0)
        abort();
    int r = gview_receive(&g, &st, &res, NULL, 0);
    if (r != 0 && (res != GVIEW_IGNORED || g.cur.v != 1))
        abort(); /* a refused state changed nothing */
    buf_free(&b2);
    if (gstate_encode(&g.cur, &b2) != 0)
        abort();
    buf_free(&b1);
    buf_free(&b2);
    return 0;
}
