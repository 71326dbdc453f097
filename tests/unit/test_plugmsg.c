/* SPDX-License-Identifier: MIT */
/* test_plugmsg.c - the plug-in host protocol codec: every type round trips,
 * each side refuses the other's types, caps, bad text, numbers out of
 * range, truncation and trailing bytes, framing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "plugmsg.h"

/* Encode m, check the frame header, decode the body as from. */
static int round_trip(const plugmsg *m, plug_side from, plugmsg *out)
{
    buf b;
    size_t len = 0;
    buf_init(&b, PLUG_MAX_FRAME + PLUG_HDR);
    int r = plugmsg_encode(m, &b);
    if (r == 0) {
        assert_int_equal(plugmsg_frame(buf_data(&b), buf_len(&b), &len), 0);
        assert_int_equal(len, buf_len(&b));
        r = plugmsg_decode(out, buf_data(&b) + PLUG_HDR, len - PLUG_HDR, from);
    }
    buf_free(&b);
    return r;
}

static void test_hello_log_send(void **state)
{
    (void)state;
    plugmsg m = {.type = PLUG_HELLO,
                 .major = 1,
                 .minor = 7,
                 .name = "echo",
                 .version = "0.1",
                 .text = "repeats what it is told"};
    plugmsg d;
    assert_int_equal(round_trip(&m, PLUG_FROM_HOST, &d), 0);
    assert_int_equal(d.type, PLUG_HELLO);
    assert_int_equal(d.major, 1);
    assert_int_equal(d.minor, 7);
    assert_string_equal(d.name, "echo");
    assert_string_equal(d.version, "0.1");
    assert_string_equal(d.text, "repeats what it is told");
    plugmsg_clear(&d);

    m = (plugmsg){.type = PLUG_SEND, .num = 42, .contact = "grace", .text = "hi\nthere"};
    assert_int_equal(round_trip(&m, PLUG_FROM_HOST, &d), 0);
    assert_int_equal(d.num, 42);
    assert_string_equal(d.contact, "grace");
    assert_string_equal(d.text, "hi\nthere");
    plugmsg_clear(&d);

    m = (plugmsg){.type = PLUG_LOG, .level = 2, .text = "started"};
    assert_int_equal(round_trip(&m, PLUG_FROM_HOST, &d), 0);
    assert_int_equal(d.level, 2);
    plugmsg_clear(&d);

    m = (plugmsg){.type = PLUG_SUBSCRIBE, .mask = 0x7f};
    assert_int_equal(round_trip(&m, PLUG_FROM_HOST, &d), 0);
    assert_int_equal(d.mask, 0x7f);
    plugmsg_clear(&d);
}

static void test_node_types(void **state)
{
    (void)state;
    plugmsg m = {.type = PLUG_CONFIG, .nconf = 2};
    m.key[0] = "greeting";
    m.value[0] = "hello";
    m.key[1] = "remind.max";
    m.value[1] = "";
    plugmsg d;
    assert_int_equal(round_trip(&m, PLUG_FROM_NODE, &d), 0);
    assert_int_equal(d.nconf, 2);
    assert_string_equal(d.key[1], "remind.max");
    assert_string_equal(d.value[1], "");
    plugmsg_clear(&d);

    m = (plugmsg){.type = PLUG_EVENT, .kind = 0, .contact = "ada", .text = "ping", .id = "00ff"};
    assert_int_equal(round_trip(&m, PLUG_FROM_NODE, &d), 0);
    assert_string_equal(d.id, "00ff");
    plugmsg_clear(&d);

    m = (plugmsg){.type = PLUG_QUIT};
    assert_int_equal(round_trip(&m, PLUG_FROM_NODE, &d), 0);
    plugmsg_clear(&d);

    m = (plugmsg){.type = PLUG_SEND_RESULT, .num = 3, .status = 15, .text = "not given"};
    assert_int_equal(round_trip(&m, PLUG_FROM_NODE, &d), 0);
    assert_int_equal(d.status, 15);
    plugmsg_clear(&d);
}

/* A host cannot send what only the node says, nor the other way round. */
static void test_wrong_side(void **state)
{
    (void)state;
    plugmsg d;
    plugmsg ev = {.type = PLUG_EVENT, .contact = "ada", .text = "forged"};
    assert_int_equal(round_trip(&ev, PLUG_FROM_HOST, &d), BANTER_EBADTYPE);
    plugmsg send = {.type = PLUG_SEND, .num = 1, .contact = "ada", .text = "x"};
    assert_int_equal(round_trip(&send, PLUG_FROM_NODE, &d), BANTER_EBADTYPE);
    uint8_t unknown[] = {0x3f};
    assert_int_equal(plugmsg_decode(&d, unknown, sizeof unknown, PLUG_FROM_HOST), BANTER_EBADTYPE);
    assert_int_equal(plugmsg_decode(&d, unknown, 0, PLUG_FROM_HOST), BANTER_ETRUNCATED);
}

static void test_refused(void **state)
{
    (void)state;
    plugmsg d;
    buf b;
    buf_init(&b, 1 << 20);
    char *big = malloc(BANTER_MAX_BODY + 2);
    assert_non_null(big);
    memset(big, 'a', BANTER_MAX_BODY + 1);
    big[BANTER_MAX_BODY + 1] = '\0';
    plugmsg m = {.type = PLUG_SEND, .num = 1, .contact = "ada", .text = big};
    assert_int_equal(plugmsg_encode(&m, &b), BANTER_ETOOLONG);
    big[BANTER_MAX_BODY] = '\0';
    assert_int_equal(round_trip(&m, PLUG_FROM_HOST, &d), 0);
    plugmsg_clear(&d);
    free(big);

    m = (plugmsg){.type = PLUG_SEND, .num = 1, .contact = "", .text = "x"};
    assert_int_equal(plugmsg_encode(&m, &b), BANTER_EINVAL); /* no contact */
    m = (plugmsg){.type = PLUG_SEND, .num = 0, .contact = "ada", .text = "x"};
    assert_int_equal(plugmsg_encode(&m, &b), BANTER_EINVAL); /* request 0 */
    m = (plugmsg){.type = PLUG_LOG, .level = 4, .text = "x"};
    assert_int_equal(plugmsg_encode(&m, &b), BANTER_EINVAL);
    m = (plugmsg){.type = PLUG_LOG, .level = 1, .text = "bell\a"};
    assert_int_equal(plugmsg_encode(&m, &b), BANTER_EUTF8);
    m = (plugmsg){.type = PLUG_LOG, .level = 1, .text = "\xc3("};
    assert_int_equal(plugmsg_encode(&m, &b), BANTER_EUTF8);
    m = (plugmsg){.type = PLUG_SUBSCRIBE, .mask = 0x100};
    assert_int_equal(plugmsg_encode(&m, &b), BANTER_EINVAL);
    m = (plugmsg){.type = PLUG_CONFIG, .nconf = 2};
    m.key[0] = m.key[1] = "same";
    assert_int_equal(plugmsg_encode(&m, &b), BANTER_EINVAL);
    m.key[1] = "Upper";
    assert_int_equal(plugmsg_encode(&m, &b), BANTER_EINVAL);
    assert_int_equal(buf_len(&b), 0); /* nothing appended by any refusal */

    /* By hand: a NUL inside a string, a short string, trailing bytes. */
    uint8_t nul[] = {PLUG_LOG, 1, 0, 3, 'a', 0, 'b'};
    assert_int_equal(plugmsg_decode(&d, nul, sizeof nul, PLUG_FROM_HOST), BANTER_EUTF8);
    uint8_t shortstr[] = {PLUG_LOG, 1, 0, 9, 'a'};
    assert_int_equal(plugmsg_decode(&d, shortstr, sizeof shortstr, PLUG_FROM_HOST),
                     BANTER_ETRUNCATED);
    uint8_t trailing[] = {PLUG_PONG, 0, 0, 0, 0, 0, 0, 0, 1, 9};
    assert_int_equal(plugmsg_decode(&d, trailing, sizeof trailing, PLUG_FROM_HOST),
                     BANTER_ETRAILING);
    uint8_t pong[] = {PLUG_PONG, 0, 0, 0, 0, 0, 0, 0, 1};
    assert_int_equal(plugmsg_decode(&d, pong, sizeof pong, PLUG_FROM_HOST), 0);
    assert_int_equal(d.num, 1);
    plugmsg_clear(&d);
    buf_free(&b);
}

static void test_frame(void **state)
{
    (void)state;
    size_t len = 99;
    uint8_t h[8] = {0, 0, 0, 2, PLUG_PONG, 0};
    assert_int_equal(plugmsg_frame(h, 3, &len), 0);
    assert_int_equal(len, 0);
    assert_int_equal(plugmsg_frame(h, 5, &len), 0);
    assert_int_equal(len, 0); /* body not all there */
    assert_int_equal(plugmsg_frame(h, 6, &len), 0);
    assert_int_equal(len, 6);
    uint8_t zero[4] = {0};
    assert_int_equal(plugmsg_frame(zero, 4, &len), BANTER_ETOOBIG);
    uint8_t huge[4] = {0, 1, 0, 0};
    assert_int_equal(plugmsg_frame(huge, 4, &len), BANTER_ETOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_log_send), cmocka_unit_test(test_node_types),
        cmocka_unit_test(test_wrong_side),     cmocka_unit_test(test_refused),
        cmocka_unit_test(test_frame),
    };
    return cmocka_run_group_tests_name("plugmsg", tests, NULL, NULL);
}
