/* SPDX-License-Identifier: MIT */
/* test_msg.c - the message codec: every type round-trips, every refusal has its own code, and
 * the encoder refuses what the decoder would. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "gstate.h"
#include "msg.h"

#define ID_HEX "000102030405060708090a0b0c0d0e0f"
#define ID_LIT "\"id\":\"" ID_HEX "\""

static const uint8_t test_id[MSG_ID_LEN] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

/* True when every byte of m is zero: a failed decode leaves nothing to free. */
static bool msg_is_zero(const msg *m)
{
    static const msg zero;
    return memcmp(m, &zero, sizeof zero) == 0;
}

/* Decode type byte + body from a heap block of exactly that size, so a read
 * past the end is caught. Not for CHUNK, whose data would dangle. */
static int decode_bytes(msg *m, uint8_t type, const void *body, size_t n)
{
    uint8_t *p = malloc(n + 1);
    assert_non_null(p);
    p[0] = type;
    if (n)
        memcpy(p + 1, body, n);
    int r = msg_decode(m, p, n + 1);
    free(p);
    return r;
}

static int decode_str(msg *m, uint8_t type, const char *json)
{
    return decode_bytes(m, type, json, strlen(json));
}

/* Decoding must fail with want, and leave m zeroed. */
static void expect_bytes(uint8_t type, const void *body, size_t n, int want, int line)
{
    msg m;
    memset(&m, 0x5a, sizeof m);
    int r = decode_bytes(&m, type, body, n);
    if (r != want)
        fail_msg("line %d: type 0x%02x \"%.*s\": got %s, want %s", line, type,
                 (int)(n > 120 ? 120 : n), (const char *)body, banter_errname(r),
                 banter_errname(want));
    assert_true(msg_is_zero(&m));
}
#define EXPECT(type, json, want)    expect_bytes(type, json, strlen(json), want, __LINE__)
/* For literals holding NUL or invalid bytes. */
#define EXPECT_LIT(type, lit, want) expect_bytes(type, lit, sizeof(lit) - 1, want, __LINE__)

/* Decoding must succeed; the caller clears m. */
static void accept_str(msg *m, uint8_t type, const char *json, int line)
{
    int r = decode_str(m, type, json);
    if (r != 0)
        fail_msg("line %d: \"%.120s\": got %s", line, json, banter_errname(r));
}
#define ACCEPT(m, type, json) accept_str(m, type, json, __LINE__)

/* A string of n copies of c (caller frees). */
static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* a, b and c joined (caller frees). */
static char *cat3(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = malloc(la + lb + lc + 1);
    assert_non_null(s);
    memcpy(s, a, la);
    memcpy(s + la, b, lb);
    memcpy(s + la + lb, c, lc + 1);
    return s;
}

/* Copy a string into a fixed array field (which must hold it). */
#define SET(field, str) assert_true((size_t)snprintf(field, sizeof field, "%s", str) < sizeof field)

/* Encode in, decode the wire form into out, and check that encoding out
 * again gives the same bytes. Returns the wire copy out may point into
 * (CHUNK data); the caller frees it and clears out. */
static uint8_t *roundtrip(const msg *in, msg *out, size_t *wire_len)
{
    buf w, w2;
    buf_init(&w, BANTER_MAX_PLAINTEXT);
    buf_init(&w2, BANTER_MAX_PLAINTEXT);
    assert_int_equal(msg_encode(in, &w), 0);
    size_t n = buf_len(&w);
    uint8_t *copy = malloc(n);
    assert_non_null(copy);
    memcpy(copy, buf_data(&w), n);
    assert_int_equal(copy[0], in->type);
    assert_int_equal(msg_decode(out, copy, n), 0);
    assert_int_equal(out->type, in->type);
    assert_int_equal(msg_encode(out, &w2), 0);
    assert_int_equal(buf_len(&w2), n);
    assert_memory_equal(buf_data(&w2), copy, n);
    buf_free(&w);
    buf_free(&w2);
    *wire_len = n;
    return copy;
}

/* ---- round trips ---- */

static void test_roundtrip_hello(void **state)
{
    (void)state;
    msg in = {.type = MSG_HELLO}, out;
    size_t n;
    in.u.hello.version = 1;
    SET(in.u.hello.name, "Alice's laptop \xe2\x80\x94 \xf0\x9f\x92\xbb");
    in.u.hello.nfeatures = 3;
    SET(in.u.hello.features[0], "file");
    SET(in.u.hello.features[1], "typing");
    SET(in.u.hello.features[2], "r\xc3\xa9"
                                "actions");
    uint8_t *w = roundtrip(&in, &out, &n);
    assert_int_equal(out.u.hello.version, 1);
    assert_string_equal(out.u.hello.name, in.u.hello.name);
    assert_int_equal(out.u.hello.nfeatures, 3);
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(out.u.hello.features[i], in.u.hello.features[i]);
    msg_clear(&out);
    assert_true(msg_is_zero(&out));
    free(w);

    /* No features, the largest version, a name of exactly the maximum. */
    memset(&in, 0, sizeof in);
    in.type = MSG_HELLO;
    in.u.hello.version = 255;
    memset(in.u.hello.name, 'n', BANTER_MAX_NAME);
    w = roundtrip(&in, &out, &n);
    assert_int_equal(out.u.hello.version, 255);
    assert_int_equal(strlen(out.u.hello.name), BANTER_MAX_NAME);
    assert_int_equal(out.u.hello.nfeatures, 0);
    msg_clear(&out);
    free(w);

    /* The wire names of the fields, decoded from text written by hand. */
    ACCEPT(&out, MSG_HELLO, "{\"v\":3,\"name\":\"bob\",\"features\":[\"a\",\"b\"]}");
    assert_int_equal(out.u.hello.version, 3);
    assert_string_equal(out.u.hello.name, "bob");
    assert_int_equal(out.u.hello.nfeatures, 2);
    assert_string_equal(out.u.hello.features[1], "b");
    msg_clear(&out);
}

static void check_chat(const char *body, size_t len, bool broadcast, int64_t ts)
{
    msg in, out;
    size_t n;
    assert_int_equal(msg_chat_init(&in, test_id, ts, body, len, broadcast), 0);
    uint8_t *w = roundtrip(&in, &out, &n);
    assert_memory_equal(out.u.chat.id, test_id, MSG_ID_LEN);
    assert_true(out.u.chat.ts_ms == ts);
    assert_int_equal(out.u.chat.body_len, len);
    assert_memory_equal(out.u.chat.body, body, len);
    assert_int_equal(out.u.chat.body[len], '\0');
    assert_int_equal(out.u.chat.broadcast, broadcast);
    msg_clear(&in);
    msg_clear(&out);
    free(w);
}

static void test_roundtrip_chat(void **state)
{
    (void)state;
    const char *ascii = "hello, world";
    const char *multi = "Gr\xc3\xbc\xc3\x9f"
                        "e, \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x8e\x89 "
                        "\xe2\x80\x94 na\xc3\xafve";
    const char *escapes = "quote \" backslash \\ slash / nl \n tab \t bell \x07 del \x7f";
    check_chat(ascii, strlen(ascii), false, 1732200000000);
    check_chat(ascii, strlen(ascii), true, 0);
    check_chat(multi, strlen(multi), false, 999999999999999); /* 15 digits */
    check_chat(multi, strlen(multi), true, 1);
    check_chat(escapes, strlen(escapes), false, 42);
    char *big = repeat('x', BANTER_MAX_BODY);
    check_chat(big, BANTER_MAX_BODY, true, 7);
    free(big);

    /* From hand-written text; broadcast is optional and false when absent. */
    msg m;
    ACCEPT(&m, MSG_CHAT, "{" ID_LIT ",\"ts\":5,\"body\":\"hi\",\"broadcast\":true}");
    assert_memory_equal(m.u.chat.id, test_id, MSG_ID_LEN);
    assert_true(m.u.chat.ts_ms == 5);
    assert_string_equal(m.u.chat.body, "hi");
    assert_true(m.u.chat.broadcast);
    msg_clear(&m);
    ACCEPT(&m, MSG_CHAT, " {\"body\":\"hi\",\"ts\":5," ID_LIT ",\"broadcast\":false} \n");
    assert_false(m.u.chat.broadcast);
    msg_clear(&m);
    /* An escaped surrogate pair is one 4-byte character. */
    ACCEPT(&m, MSG_CHAT, "{" ID_LIT ",\"ts\":5,\"body\":\"\\ud83d\\ude00\"}");
    assert_int_equal(m.u.chat.body_len, 4);
    assert_string_equal(m.u.chat.body, "\xf0\x9f\x98\x80");
    msg_clear(&m);
}

/* CHAT "to": a copy from another device of the sender's own account. */
static void test_chat_to(void **state)
{
    (void)state;
    static const char *const good[] = {
        "@bob", "@a.b_c-9", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        msg in, out;
        size_t n;
        assert_int_equal(msg_chat_init(&in, test_id, 5, "hi", 2, false), 0);
        snprintf(in.u.chat.to, sizeof in.u.chat.to, "%s", good[i]);
        uint8_t *w = roundtrip(&in, &out, &n);
        assert_string_equal(out.u.chat.to, good[i]);
        assert_false(out.u.chat.broadcast);
        msg_clear(&in);
        msg_clear(&out);
        free(w);
    }
    msg m;
    ACCEPT(&m, MSG_CHAT, "{" ID_LIT ",\"ts\":5,\"body\":\"hi\"}");
    assert_string_equal(m.u.chat.to, ""); /* absent: an ordinary message */
    msg_clear(&m);
    static const char *const bad[] = {
        "{" ID_LIT ",\"ts\":5,\"body\":\"hi\",\"to\":\"@\"}",
        "{" ID_LIT ",\"ts\":5,\"body\":\"hi\",\"to\":\"bob\"}",
        "{" ID_LIT ",\"ts\":5,\"body\":\"hi\",\"to\":\"@Bob\"}",
        "{" ID_LIT ",\"ts\":5,\"body\":\"hi\",\"to\":\"@b b\"}",
        "{" ID_LIT ",\"ts\":5,\"body\":\"hi\",\"to\":7}",
        "{" ID_LIT ",\"ts\":5,\"body\":\"hi\",\"to\":\"\"}",
        "{" ID_LIT ",\"ts\":5,\"body\":\"hi\",\"to\":"
        "\"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\"}",
        "{" ID_LIT ",\"ts\":5,\"body\":\"hi\",\"to\":"
        "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\"}",
        /* a broadcast is never a copy for one conversation */
        "{" ID_LIT ",\"ts\":5,\"body\":\"hi\",\"broadcast\":true,\"to\":\"@bob\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int r = decode_str(&m, MSG_CHAT, bad[i]);
        if (r != BANTER_ESCHEMA && r != BANTER_ETOOLONG)
            fail_msg("\"%s\": got %s", bad[i], banter_errname(r));
        assert_true(msg_is_zero(&m));
    }
    /* The encoder refuses what a receiver would. */
    msg in;
    buf b;
    buf_init(&b, BANTER_MAX_PLAINTEXT);
    assert_int_equal(msg_chat_init(&in, test_id, 5, "hi", 2, true), 0);
    snprintf(in.u.chat.to, sizeof in.u.chat.to, "%s", "@bob");
    assert_int_equal(msg_encode(&in, &b), BANTER_ESCHEMA);
    in.u.chat.broadcast = false;
    snprintf(in.u.chat.to, sizeof in.u.chat.to, "%s", "@B");
    assert_int_equal(msg_encode(&in, &b), BANTER_ESCHEMA);
    msg_clear(&in);
    buf_free(&b);
}

static void test_roundtrip_random_bodies(void **state)
{
    (void)state;
    /* Bodies of random scalar values, controls and JSON specials included,
     * survive escaping and unescaping exactly. */
    static const uint32_t specials[] = {'"',    '\\',   '/',     '\b',     '\f',   '\n',  '\r',
                                        '\t',   1,      0x1f,    0x7f,     0x80,   0x7ff, 0x800,
                                        0xfffd, 0xffff, 0x10000, 0x10ffff, 0x2028, 0x2029};
    uint8_t body[600];
    for (int iter = 0; iter < 300; iter++) {
        size_t len = 0, want = 1 + randombytes_uniform(100);
        for (size_t k = 0; k < want; k++) {
            uint32_t cp;
            switch (randombytes_uniform(3)) {
            case 0:
                cp = specials[randombytes_uniform(sizeof specials / sizeof specials[0])];
                break;
            case 1:
                cp = 1 + randombytes_uniform(0x7f);
                break;
            default:
                do
                    cp = 1 + randombytes_uniform(0x10ffff);
                while (cp >= 0xd800 && cp <= 0xdfff);
            }
            if (cp < 0x80) {
                body[len++] = (uint8_t)cp;
            } else if (cp < 0x800) {
                body[len++] = (uint8_t)(0xc0 | cp >> 6);
                body[len++] = (uint8_t)(0x80 | (cp & 0x3f));
            } else if (cp < 0x10000) {
                body[len++] = (uint8_t)(0xe0 | cp >> 12);
                body[len++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
                body[len++] = (uint8_t)(0x80 | (cp & 0x3f));
            } else {
                body[len++] = (uint8_t)(0xf0 | cp >> 18);
                body[len++] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
                body[len++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
                body[len++] = (uint8_t)(0x80 | (cp & 0x3f));
            }
        }
        check_chat((const char *)body, len, iter % 2, (int64_t)randombytes_uniform(1u << 31));
    }
}

static void test_roundtrip_ack_bye_error(void **state)
{
    (void)state;
    msg in = {.type = MSG_ACK}, out;
    size_t n;
    memcpy(in.u.ack.id, test_id, MSG_ID_LEN);
    uint8_t *w = roundtrip(&in, &out, &n);
    assert_memory_equal(out.u.ack.id, test_id, MSG_ID_LEN);
    msg_clear(&out);
    free(w);
    ACCEPT(&out, MSG_ACK, "{" ID_LIT "}");
    assert_memory_equal(out.u.ack.id, test_id, MSG_ID_LEN);
    msg_clear(&out);

    memset(&in, 0, sizeof in);
    in.type = MSG_BYE;
    SET(in.u.bye.reason, "shutting down \xe2\x80\x94 bye");
    w = roundtrip(&in, &out, &n);
    assert_string_equal(out.u.bye.reason, in.u.bye.reason);
    msg_clear(&out);
    free(w);
    /* Without a reason: an empty object, an empty reason. */
    in.u.bye.reason[0] = '\0';
    w = roundtrip(&in, &out, &n);
    assert_string_equal(out.u.bye.reason, "");
    msg_clear(&out);
    free(w);
    ACCEPT(&out, MSG_BYE, "{}");
    assert_string_equal(out.u.bye.reason, "");
    msg_clear(&out);
    ACCEPT(&out, MSG_BYE, "{\"reason\":\"later\"}");
    assert_string_equal(out.u.bye.reason, "later");
    msg_clear(&out);

    memset(&in, 0, sizeof in);
    in.type = MSG_ERROR;
    SET(in.u.error.code, "too-big");
    SET(in.u.error.message, "file over the limit\nsee docs");
    w = roundtrip(&in, &out, &n);
    assert_string_equal(out.u.error.code, "too-big");
    assert_string_equal(out.u.error.message, in.u.error.message);
    msg_clear(&out);
    free(w);
    in.u.error.message[0] = '\0';
    w = roundtrip(&in, &out, &n);
    assert_string_equal(out.u.error.code, "too-big");
    assert_string_equal(out.u.error.message, "");
    msg_clear(&out);
    free(w);
    ACCEPT(&out, MSG_ERROR, "{\"code\":\"x\",\"message\":\"why\"}");
    assert_string_equal(out.u.error.code, "x");
    assert_string_equal(out.u.error.message, "why");
    assert_false(out.u.error.has_id);
    msg_clear(&out);
    /* An ERROR naming the message it refuses (ERATE for a CHAT). */
    SET(in.u.error.code, "ERATE");
    in.u.error.has_id = true;
    memset(in.u.error.id, 0xab, MSG_ID_LEN);
    w = roundtrip(&in, &out, &n);
    assert_true(out.u.error.has_id);
    assert_memory_equal(out.u.error.id, in.u.error.id, MSG_ID_LEN);
    assert_string_equal(out.u.error.code, "ERATE");
    msg_clear(&out);
    free(w);
    ACCEPT(&out, MSG_ERROR, "{\"code\":\"ERATE\",\"id\":\"000102030405060708090a0b0c0d0e0f\"}");
    assert_true(out.u.error.has_id);
    assert_int_equal(out.u.error.id[15], 15);
    msg_clear(&out);
    EXPECT(MSG_ERROR, "{\"code\":\"ERATE\",\"id\":\"00\"}", BANTER_ESCHEMA);
    EXPECT(MSG_ERROR, "{\"code\":\"ERATE\",\"id\":7}", BANTER_ESCHEMA);
}

static void test_roundtrip_binary(void **state)
{
    (void)state;
    msg in = {.type = MSG_PING}, out;
    size_t n;
    in.u.ping.token = 0x0102030405060708ull;
    uint8_t *w = roundtrip(&in, &out, &n);
    const uint8_t ping[] = {MSG_PING, 1, 2, 3, 4, 5, 6, 7, 8};
    assert_int_equal(n, sizeof ping);
    assert_memory_equal(w, ping, sizeof ping);
    assert_true(out.u.ping.token == in.u.ping.token);
    msg_clear(&out);
    free(w);

    in.type = MSG_PONG;
    in.u.ping.token = UINT64_MAX;
    w = roundtrip(&in, &out, &n);
    assert_int_equal(n, 9);
    assert_int_equal(w[0], MSG_PONG);
    assert_true(out.u.ping.token == UINT64_MAX);
    msg_clear(&out);
    free(w);

    /* CHUNK: type, transfer id, 64-bit offset, raw data (not base64). */
    static uint8_t data[BANTER_MAX_CHUNK];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7);
    memset(&in, 0, sizeof in);
    in.type = MSG_CHUNK;
    memcpy(in.u.chunk.transfer, test_id, MSG_ID_LEN);
    in.u.chunk.offset = 0x0011223344556677ull;
    in.u.chunk.data = data;
    in.u.chunk.len = 1000;
    w = roundtrip(&in, &out, &n);
    assert_int_equal(n, BANTER_CHUNK_HDR + 1000);
    assert_memory_equal(w + 1, test_id, MSG_ID_LEN);
    assert_int_equal(w[1 + MSG_ID_LEN], 0x00);
    assert_int_equal(w[2 + MSG_ID_LEN], 0x11);
    assert_int_equal(w[BANTER_CHUNK_HDR - 1], 0x77);
    assert_memory_equal(out.u.chunk.transfer, test_id, MSG_ID_LEN);
    assert_true(out.u.chunk.offset == in.u.chunk.offset);
    assert_int_equal(out.u.chunk.len, 1000);
    assert_ptr_equal(out.u.chunk.data, w + BANTER_CHUNK_HDR); /* borrowed */
    assert_memory_equal(out.u.chunk.data, data, 1000);
    msg_clear(&out);
    free(w);

    /* Empty data, and the largest chunk. */
    in.u.chunk.len = 0;
    in.u.chunk.data = NULL;
    w = roundtrip(&in, &out, &n);
    assert_int_equal(n, BANTER_CHUNK_HDR);
    assert_int_equal(out.u.chunk.len, 0);
    msg_clear(&out);
    free(w);
    in.u.chunk.data = data;
    in.u.chunk.len = BANTER_MAX_CHUNK;
    w = roundtrip(&in, &out, &n);
    assert_int_equal(n, BANTER_MAX_PLAINTEXT);
    assert_memory_equal(out.u.chunk.data, data, BANTER_MAX_CHUNK);
    msg_clear(&out);
    free(w);

    /* The offset is 0..2^53, both ways. */
    in.u.chunk.len = 3;
    in.u.chunk.offset = UINT64_C(9007199254740992);
    w = roundtrip(&in, &out, &n);
    assert_true(out.u.chunk.offset == UINT64_C(9007199254740992));
    msg_clear(&out);
    w[BANTER_CHUNK_HDR - 1] = 0x01; /* 2^53 + 1 */
    assert_int_equal(msg_decode(&out, w, n), BANTER_ESCHEMA);
    assert_true(msg_is_zero(&out));
    memset(w + 1 + MSG_ID_LEN, 0xff, 8); /* 2^64 - 1 */
    assert_int_equal(msg_decode(&out, w, n), BANTER_ESCHEMA);
    free(w);
    buf b;
    buf_init(&b, BANTER_MAX_PLAINTEXT);
    in.u.chunk.offset = UINT64_C(9007199254740993);
    assert_int_equal(msg_encode(&in, &b), BANTER_ESCHEMA);
    assert_int_equal(buf_len(&b), 0);
    buf_free(&b);
}

static void test_roundtrip_mark(void **state)
{
    (void)state;
    for (int t = MSG_FILE_MARK; t <= MSG_FILE_STORED; t++) {
        msg in = {.type = (msg_type)t}, out;
        size_t n;
        memcpy(in.u.mark.id, test_id, MSG_ID_LEN);
        in.u.mark.offset = BANTER_MAX_FILE_SIZE;
        uint8_t *w = roundtrip(&in, &out, &n);
        assert_int_equal(n, 1 + MSG_ID_LEN + 8);
        assert_int_equal(w[0], t);
        assert_memory_equal(w + 1, test_id, MSG_ID_LEN);
        assert_int_equal(w[1 + MSG_ID_LEN + 1], 0x20); /* 2^53, big-endian */
        assert_memory_equal(out.u.mark.id, test_id, MSG_ID_LEN);
        assert_true(out.u.mark.offset == BANTER_MAX_FILE_SIZE);
        assert_true(msg_is_file(out.type));
        msg_clear(&out);
        free(w);

        /* Beyond 2^53: refused both ways. */
        buf b;
        buf_init(&b, BANTER_MAX_PLAINTEXT);
        in.u.mark.offset = BANTER_MAX_FILE_SIZE + 1;
        assert_int_equal(msg_encode(&in, &b), BANTER_ESCHEMA);
        uint8_t body[24] = {0};
        body[16] = 0x00;
        body[17] = 0x20;
        body[23] = 0x01;
        expect_bytes((uint8_t)t, body, sizeof body, BANTER_ESCHEMA, __LINE__);
        expect_bytes((uint8_t)t, body, 23, BANTER_ETRUNCATED, __LINE__);
        buf_free(&b);
    }
    assert_string_equal(msg_type_name(MSG_FILE_MARK), "file_mark");
    assert_string_equal(msg_type_name(MSG_FILE_STORED), "file_stored");
    assert_false(msg_is_file(MSG_CHAT));
    assert_false(msg_is_file(MSG_PING));
    assert_true(msg_is_file(MSG_CHUNK));
    assert_true(msg_is_file(MSG_FILE_OFFER));
}

/* ---- decoding refusals, one code each ---- */

static void test_decode_truncated_and_type(void **state)
{
    (void)state;
    msg m;
    memset(&m, 0x5a, sizeof m);
    assert_int_equal(msg_decode(&m, (const uint8_t *)"", 0), BANTER_ETRUNCATED);
    assert_true(msg_is_zero(&m));

    static const uint8_t bad[] = {0x00, 0x05, 0x06, 0x3e, 0x43, 0x7f, 0x80, 0xc0, 0xff};
    for (size_t i = 0; i < sizeof bad; i++) {
        EXPECT(bad[i], "{}", BANTER_EBADTYPE);
        EXPECT_LIT(bad[i], "12345678", BANTER_EBADTYPE);
        EXPECT_LIT(bad[i], "", BANTER_EBADTYPE);
    }
    assert_string_equal(msg_type_name(MSG_CHAT), "chat");
    assert_string_equal(msg_type_name(MSG_CHUNK), "chunk");
    assert_string_equal(msg_type_name(0x05), "unknown");
}

static void test_decode_binary_lengths(void **state)
{
    (void)state;
    const uint8_t b[32] = {0};
    for (uint8_t t = MSG_PING; t <= MSG_PONG; t++) {
        expect_bytes(t, b, 0, BANTER_ETRUNCATED, __LINE__);
        expect_bytes(t, b, 7, BANTER_ETRUNCATED, __LINE__);
        expect_bytes(t, b, 9, BANTER_ETRAILING, __LINE__);
        expect_bytes(t, b, 16, BANTER_ETRAILING, __LINE__);
        msg m;
        assert_int_equal(decode_bytes(&m, t, b, 8), 0);
        msg_clear(&m);
    }
    /* A CHUNK needs its 24 bytes of transfer id and offset. */
    expect_bytes(MSG_CHUNK, b, 0, BANTER_ETRUNCATED, __LINE__);
    expect_bytes(MSG_CHUNK, b, 15, BANTER_ETRUNCATED, __LINE__);
    expect_bytes(MSG_CHUNK, b, 23, BANTER_ETRUNCATED, __LINE__);
}

/* A binary type writes only its own member (the msg is 600 bytes, a PING
 * comes on every keepalive): decode and clear leave the rest as it was. */
static void test_decode_binary_extent(void **state)
{
    (void)state;
    const uint8_t ping[] = {MSG_PING, 1, 2, 3, 4, 5, 6, 7, 8};
    msg m;
    memset(&m, 0x5a, sizeof m);
    assert_int_equal(msg_decode(&m, ping, sizeof ping), 0);
    assert_int_equal(m.type, MSG_PING);
    assert_true(m.u.ping.token == 0x0102030405060708ull);
    assert_int_equal(m.u.hello.name[sizeof m.u.ping], 0x5a); /* untouched */
    msg_clear(&m);
    assert_int_equal(m.type, 0);
    assert_true(m.u.ping.token == 0);
    msg_clear(&m); /* cleared twice: nothing owned */
    memset(&m, 0x5a, sizeof m);
    assert_int_equal(msg_decode(&m, ping, sizeof ping - 1), BANTER_ETRUNCATED);
    assert_true(msg_is_zero(&m)); /* a refusal zeroes all of it */
}

static void test_decode_utf8(void **state)
{
    (void)state;
    EXPECT_LIT(MSG_BYE, "{\"reason\":\"\xff\"}", BANTER_EUTF8);
    EXPECT_LIT(MSG_BYE, "{\"reason\":\"\xc0\x80\"}", BANTER_EUTF8);
    EXPECT_LIT(MSG_BYE, "{\"reason\":\"\xed\xa0\x80\"}", BANTER_EUTF8);
    EXPECT_LIT(MSG_BYE, "{\"reason\":\"ab\xe2\x82\"}", BANTER_EUTF8);
    EXPECT_LIT(MSG_HELLO, "{\"v\":1,\"name\":\"\xf4\x90\x80\x80\"}", BANTER_EUTF8);
    EXPECT_LIT(MSG_CHAT, "{" ID_LIT ",\"ts\":1,\"body\":\"\x80\"}", BANTER_EUTF8);
    /* Outside any string, and even before the JSON is looked at. */
    EXPECT_LIT(MSG_BYE, "{\"reason\":\"x\"}\xff", BANTER_EUTF8);
    EXPECT_LIT(MSG_BYE, "\xfe{", BANTER_EUTF8);
}

static void test_decode_json(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "   ",
        "{",
        "{\"reason\":",
        "{\"reason\":\"x\"",
        "{\"reason\":\"x}",
        "{reason:\"x\"}",
        "{'reason':'x'}",
        "{\"reason\":\"x\",}",
        "{\"reason\" \"x\"}",
        "{\"reason\":\"\\q\"}",
        "{\"reason\":\"\\ud800\"}", /* a lone surrogate escape */
        /* trailing garbage */
        "{\"reason\":\"x\"} x",
        "{\"reason\":\"x\"}}",
        "{}{}",
        "{} []",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        EXPECT(MSG_BYE, bad[i], BANTER_EJSON);
    EXPECT_LIT(MSG_BYE, "{}\0", BANTER_EJSON);
    /* Control characters must be escaped inside strings (RFC 8259, 7); a
     * raw NUL would otherwise cut the field short where cJSON copies it. */
    EXPECT_LIT(MSG_CHAT, "{" ID_LIT ",\"ts\":1,\"body\":\"a\0b\"}", BANTER_EJSON);
    EXPECT_LIT(MSG_HELLO, "{\"v\":1,\"name\":\"a\0\x01\"}", BANTER_EJSON);
    EXPECT_LIT(MSG_BYE, "{\"reason\":\"line\nbreak\"}", BANTER_EJSON);
    EXPECT_LIT(MSG_BYE, "{\"reason\":\"tab\there\"}", BANTER_EJSON);
    EXPECT_LIT(MSG_BYE, "{\"rea\x1fson\":\"x\"}", BANTER_EJSON);
    EXPECT(MSG_CHAT, "{" ID_LIT ",\"ts\":NaN,\"body\":\"a\"}", BANTER_EJSON);
    EXPECT(MSG_CHAT, "{" ID_LIT ",\"ts\":0x10,\"body\":\"a\"}", BANTER_EJSON);

    /* Whitespace around the object is fine. */
    msg m;
    ACCEPT(&m, MSG_BYE, " \t\r\n{ \"reason\" : \"x\" } \t\r\n");
    assert_string_equal(m.u.bye.reason, "x");
    msg_clear(&m);
}

static void test_decode_depth(void **state)
{
    (void)state;
    char text[256];
    /* features nested d deep inside the top-level object: depth d + 1. At
     * the limit the shape is wrong (ESCHEMA); one deeper it is refused
     * before parsing (EJSON). */
    for (int d = 1; d <= BANTER_MAX_JSON_DEPTH + 4; d++) {
        int o = snprintf(text, sizeof text, "{\"v\":1,\"name\":\"a\",\"features\":");
        for (int k = 0; k < d; k++)
            text[o++] = '[';
        text[o++] = '"', text[o++] = 'x', text[o++] = '"';
        for (int k = 0; k < d; k++)
            text[o++] = ']';
        text[o++] = '}';
        text[o] = '\0';
        int want = d + 1 > BANTER_MAX_JSON_DEPTH ? BANTER_EJSON : d == 1 ? 0 : BANTER_ESCHEMA;
        msg m;
        int r = decode_str(&m, MSG_HELLO, text);
        if (r != want)
            fail_msg("depth %d: got %s", d + 1, banter_errname(r));
        if (r == 0)
            msg_clear(&m);
    }
    /* Brackets inside strings do not count, escaped quotes included. */
    msg m;
    ACCEPT(&m, MSG_BYE, "{\"reason\":\"[[[[[[[[[[{{{{{{{{{{\"}");
    msg_clear(&m);
    ACCEPT(&m, MSG_BYE, "{\"reason\":\"\\\"[[[[[[[[[[[[\\\"\"}");
    assert_string_equal(m.u.bye.reason, "\"[[[[[[[[[[[[\"");
    msg_clear(&m);
}

static void test_decode_nul_escape(void **state)
{
    (void)state;
    EXPECT(MSG_BYE, "{\"reason\":\"a\\u0000b\"}", BANTER_EJSON);
    EXPECT(MSG_BYE, "{\"reason\":\"\\u0000\"}", BANTER_EJSON);
    EXPECT(MSG_BYE, "{\"\\u0000\":\"x\"}", BANTER_EJSON);
    EXPECT(MSG_CHAT, "{" ID_LIT ",\"ts\":1,\"body\":\"x\\u0000\"}", BANTER_EJSON);
    /* An escaped backslash then "\u0000": still a NUL escape. */
    EXPECT(MSG_BYE, "{\"reason\":\"\\\\\\u0000\"}", BANTER_EJSON);

    /* An escaped backslash followed by the text u0000 is just text. */
    msg m;
    ACCEPT(&m, MSG_BYE, "{\"reason\":\"\\\\u0000\"}");
    assert_string_equal(m.u.bye.reason, "\\u0000");
    msg_clear(&m);
    ACCEPT(&m, MSG_CHAT, "{" ID_LIT ",\"ts\":1,\"body\":\"a\\\\u0000b\"}");
    assert_int_equal(m.u.chat.body_len, 8);
    assert_string_equal(m.u.chat.body, "a\\u0000b");
    msg_clear(&m);
    /* Other escapes of control characters are fine in a body. */
    ACCEPT(&m, MSG_CHAT, "{" ID_LIT ",\"ts\":1,\"body\":\"\\u0001\\n\"}");
    assert_int_equal(m.u.chat.body_len, 2);
    msg_clear(&m);
}

static void test_decode_schema(void **state)
{
    (void)state;
    /* Not an object. */
    const char *not_obj[] = {"[]", "[{\"reason\":\"x\"}]", "\"x\"", "1", "null", "true"};
    for (size_t i = 0; i < sizeof not_obj / sizeof not_obj[0]; i++) {
        EXPECT(MSG_BYE, not_obj[i], BANTER_ESCHEMA);
        EXPECT(MSG_ACK, not_obj[i], BANTER_ESCHEMA);
    }
    const char *bad[][2] = {
        /* missing fields */
        {"\x02", "{\"ts\":1,\"body\":\"a\"}"},
        {"\x02", "{" ID_LIT ",\"body\":\"a\"}"},
        {"\x02", "{" ID_LIT ",\"ts\":1}"},
        {"\x03", "{}"},
        {"\x01", "{\"name\":\"a\"}"},
        {"\x01", "{\"v\":1}"},
        {"\x3f", "{\"message\":\"m\"}"},
        /* wrong types */
        {"\x02", "{" ID_LIT ",\"ts\":1,\"body\":5}"},
        {"\x02", "{" ID_LIT ",\"ts\":1,\"body\":null}"},
        {"\x02", "{" ID_LIT ",\"ts\":1,\"body\":[\"a\"]}"},
        {"\x02", "{" ID_LIT ",\"ts\":\"1\",\"body\":\"a\"}"},
        {"\x02", "{" ID_LIT ",\"ts\":true,\"body\":\"a\"}"},
        {"\x02", "{\"id\":7,\"ts\":1,\"body\":\"a\"}"},
        {"\x02", "{" ID_LIT ",\"ts\":1,\"body\":\"a\",\"broadcast\":\"true\"}"},
        {"\x02", "{" ID_LIT ",\"ts\":1,\"body\":\"a\",\"broadcast\":1}"},
        {"\x02", "{" ID_LIT ",\"ts\":1,\"body\":\"a\",\"broadcast\":null}"},
        {"\x01", "{\"v\":\"1\",\"name\":\"a\"}"},
        {"\x01", "{\"v\":1,\"name\":1}"},
        {"\x01", "{\"v\":1,\"name\":\"a\",\"features\":\"x\"}"},
        {"\x01", "{\"v\":1,\"name\":\"a\",\"features\":[1]}"},
        {"\x01", "{\"v\":1,\"name\":\"a\",\"features\":{\"x\":\"y\"}}"},
        {"\x04", "{\"reason\":1}"},
        {"\x04", "{\"reason\":null}"},
        {"\x3f", "{\"code\":1}"},
        {"\x3f", "{\"code\":\"c\",\"message\":false}"},
        /* id: exactly 32 lowercase hex digits */
        {"\x03", "{\"id\":\"000102030405060708090A0B0C0D0E0F\"}"},
        {"\x03", "{\"id\":\"000102030405060708090a0b0c0d0e0\"}"},
        {"\x03", "{\"id\":\"000102030405060708090a0b0c0d0e0g\"}"},
        {"\x03", "{\"id\":\" 00102030405060708090a0b0c0d0e0f\"}"},
        {"\x03", "{\"id\":\"\"}"},
        /* ts: a non-negative integer */
        {"\x02", "{" ID_LIT ",\"ts\":-1,\"body\":\"a\"}"},
        {"\x02", "{" ID_LIT ",\"ts\":1.5,\"body\":\"a\"}"},
        {"\x02", "{" ID_LIT ",\"ts\":0.001,\"body\":\"a\"}"},
        {"\x02", "{" ID_LIT ",\"ts\":1e300,\"body\":\"a\"}"},
        {"\x02", "{" ID_LIT ",\"ts\":18014398509481984,\"body\":\"a\"}"}, /* 2^54 */
        /* HELLO version 1..255 */
        {"\x01", "{\"v\":0,\"name\":\"a\"}"},
        {"\x01", "{\"v\":256,\"name\":\"a\"}"},
        {"\x01", "{\"v\":1.5,\"name\":\"a\"}"},
        /* duplicate keys */
        {"\x04", "{\"reason\":\"a\",\"reason\":\"b\"}"},
        {"\x04", "{\"reason\":\"a\",\"reason\":\"a\"}"},
        {"\x04", "{\"reason\":\"a\",\"re\\u0061son\":\"b\"}"},
        {"\x02", "{" ID_LIT ",\"ts\":1,\"body\":\"a\",\"body\":\"b\"}"},
        {"\x01", "{\"v\":1,\"name\":\"a\",\"v\":1}"},
        /* control characters where plain text is required */
        {"\x01", "{\"v\":1,\"name\":\"a\\u0001b\"}"},
        {"\x01", "{\"v\":1,\"name\":\"a\\nb\"}"},
        {"\x01", "{\"v\":1,\"name\":\"tab\\t\"}"},
        {"\x01", "{\"v\":1,\"name\":\"\\u007f\"}"},
        {"\x01", "{\"v\":1,\"name\":\"a\",\"features\":[\"x\\u001f\"]}"},
        {"\x3f", "{\"code\":\"a\\rb\"}"},
        /* empty where text is required */
        {"\x01", "{\"v\":1,\"name\":\"\"}"},
        {"\x01", "{\"v\":1,\"name\":\"a\",\"features\":[\"\"]}"},
        {"\x02", "{" ID_LIT ",\"ts\":1,\"body\":\"\"}"},
        {"\x3f", "{\"code\":\"\"}"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_bytes((uint8_t)bad[i][0][0], bad[i][1], strlen(bad[i][1]), BANTER_ESCHEMA, (int)i);

    /* 2^53 is the largest ts. */
    msg m;
    ACCEPT(&m, MSG_CHAT, "{" ID_LIT ",\"ts\":9007199254740992,\"body\":\"a\"}");
    assert_true(m.u.chat.ts_ms == INT64_C(9007199254740992));
    msg_clear(&m);
    EXPECT(MSG_CHAT, "{" ID_LIT ",\"ts\":9007199254740994,\"body\":\"a\"}", BANTER_ESCHEMA);
}

/* An object of n members "m0".."m(n-1)" after the given ones, closed. */
static char *with_members(const char *head, int n)
{
    size_t cap = strlen(head) + (size_t)n * 16 + 2;
    char *s = malloc(cap);
    assert_non_null(s);
    size_t o = (size_t)snprintf(s, cap, "%s", head);
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(s + o, cap - o, ",\"m%d\":%d", i, i);
    snprintf(s + o, cap - o, "}");
    return s;
}

static void test_decode_members(void **state)
{
    (void)state;
    msg m;
    /* Unknown members are ignored, whatever their type (forward
     * compatibility). */
    ACCEPT(&m, MSG_BYE, "{\"x\":{\"y\":[1,2,{\"z\":null}]},\"reason\":\"r\",\"w\":true}");
    assert_string_equal(m.u.bye.reason, "r");
    msg_clear(&m);
    ACCEPT(&m, MSG_CHAT,
           "{" ID_LIT ",\"ts\":1,\"body\":\"b\",\"edited\":false,\"reply_to\":\"" ID_HEX "\"}");
    assert_string_equal(m.u.chat.body, "b");
    msg_clear(&m);
    /* Member names are case-sensitive: "Body" is not "body". */
    EXPECT(MSG_CHAT, "{" ID_LIT ",\"ts\":1,\"Body\":\"b\"}", BANTER_ESCHEMA);

    /* At most 32 members. */
    char *t = with_members("{\"reason\":\"r\"", 31);
    ACCEPT(&m, MSG_BYE, t);
    msg_clear(&m);
    free(t);
    t = with_members("{\"reason\":\"r\"", 32);
    EXPECT(MSG_BYE, t, BANTER_ESCHEMA);
    free(t);
}

/* Decoding prefix + n copies of unit + suffix must give want. */
static void expect_filled(uint8_t type, const char *prefix, const char *unit, size_t n,
                          const char *suffix, int want, int line)
{
    size_t ul = strlen(unit);
    char *fill = malloc(n * ul + 1);
    assert_non_null(fill);
    for (size_t i = 0; i < n; i++)
        memcpy(fill + i * ul, unit, ul);
    fill[n * ul] = '\0';
    char *t = cat3(prefix, fill, suffix);
    if (want == 0) {
        msg m;
        accept_str(&m, type, t, line);
        msg_clear(&m);
    } else {
        expect_bytes(type, t, strlen(t), want, line);
    }
    free(t);
    free(fill);
}

static void test_decode_too_long(void **state)
{
    (void)state;
    const char *chat = "{" ID_LIT ",\"ts\":1,\"body\":\"";
    const char *hello = "{\"v\":1,\"name\":\"";

    /* body: 32768 bytes fine, 32769 too long; bytes are counted after
     * unescaping and in UTF-8 (16384 or 16385 two-byte characters). */
    expect_filled(MSG_CHAT, chat, "b", BANTER_MAX_BODY, "\"}", 0, __LINE__);
    expect_filled(MSG_CHAT, chat, "b", BANTER_MAX_BODY + 1, "\"}", BANTER_ETOOLONG, __LINE__);
    expect_filled(MSG_CHAT, chat, "\xc3\xa9", BANTER_MAX_BODY / 2, "\"}", 0, __LINE__);
    expect_filled(MSG_CHAT, chat, "\xc3\xa9", BANTER_MAX_BODY / 2 + 1, "\"}", BANTER_ETOOLONG,
                  __LINE__);
    expect_filled(MSG_CHAT, chat, "\\nb", BANTER_MAX_BODY / 2, "\"}", 0, __LINE__);
    expect_filled(MSG_CHAT, chat, "\\nb", BANTER_MAX_BODY / 2 + 1, "\"}", BANTER_ETOOLONG,
                  __LINE__);

    /* name: 64 bytes fine, 65 too long. */
    expect_filled(MSG_HELLO, hello, "n", BANTER_MAX_NAME, "\"}", 0, __LINE__);
    expect_filled(MSG_HELLO, hello, "n", BANTER_MAX_NAME + 1, "\"}", BANTER_ETOOLONG, __LINE__);
    expect_filled(MSG_HELLO, hello, "\xc3\xa9", BANTER_MAX_NAME / 2, "\"}", 0, __LINE__);
    expect_filled(MSG_HELLO, hello, "\xc3\xa9", BANTER_MAX_NAME / 2 + 1, "\"}", BANTER_ETOOLONG,
                  __LINE__);

    /* reason, error code, error message, one feature. */
    expect_filled(MSG_BYE, "{\"reason\":\"", "r", BANTER_MAX_REASON, "\"}", 0, __LINE__);
    expect_filled(MSG_BYE, "{\"reason\":\"", "r", BANTER_MAX_REASON + 1, "\"}", BANTER_ETOOLONG,
                  __LINE__);
    expect_filled(MSG_ERROR, "{\"code\":\"c\",\"message\":\"", "m", BANTER_MAX_REASON + 1, "\"}",
                  BANTER_ETOOLONG, __LINE__);
    expect_filled(MSG_ERROR, "{\"code\":\"", "c", BANTER_MAX_ERRCODE, "\"}", 0, __LINE__);
    expect_filled(MSG_ERROR, "{\"code\":\"", "c", BANTER_MAX_ERRCODE + 1, "\"}", BANTER_ETOOLONG,
                  __LINE__);
    expect_filled(MSG_HELLO, "{\"v\":1,\"name\":\"a\",\"features\":[\"", "f", BANTER_MAX_FEATURE,
                  "\"]}", 0, __LINE__);
    expect_filled(MSG_HELLO, "{\"v\":1,\"name\":\"a\",\"features\":[\"", "f",
                  BANTER_MAX_FEATURE + 1, "\"]}", BANTER_ETOOLONG, __LINE__);

    /* 16 features fine, 17 too many. */
    const char *features = "{\"v\":1,\"name\":\"a\",\"features\":[\"f\"";
    expect_filled(MSG_HELLO, features, ",\"f\"", BANTER_MAX_FEATURES - 1, "]}", 0, __LINE__);
    expect_filled(MSG_HELLO, features, ",\"f\"", BANTER_MAX_FEATURES, "]}", BANTER_ETOOLONG,
                  __LINE__);

    /* An id one digit too long is over its maximum as well. */
    EXPECT(MSG_ACK, "{\"id\":\"000102030405060708090a0b0c0d0e0f0\"}", BANTER_ETOOLONG);
}

static void test_decode_too_big(void **state)
{
    (void)state;
    /* A JSON body of exactly BANTER_MAX_JSON bytes (padded with trailing
     * whitespace) is read; one byte more is refused before parsing. */
    char *text = malloc(BANTER_MAX_JSON + 2);
    assert_non_null(text);
    const char *obj = "{\"reason\":\"x\"}";
    memset(text, ' ', BANTER_MAX_JSON + 1);
    memcpy(text, obj, strlen(obj));
    text[BANTER_MAX_JSON] = '\0';
    msg m;
    ACCEPT(&m, MSG_BYE, text);
    assert_string_equal(m.u.bye.reason, "x");
    msg_clear(&m);
    text[BANTER_MAX_JSON] = ' ';
    text[BANTER_MAX_JSON + 1] = '\0';
    EXPECT(MSG_BYE, text, BANTER_ETOOBIG);
    /* Too big wins over every other fault. */
    memset(text, 0xff, BANTER_MAX_JSON + 1);
    EXPECT(MSG_CHAT, text, BANTER_ETOOBIG);
    free(text);
}

/* ---- encoding refuses what decoding would ---- */

static void expect_encode(const msg *m, int want, int line)
{
    buf out;
    buf_init(&out, BANTER_MAX_PLAINTEXT);
    int r = msg_encode(m, &out);
    if (r != want)
        fail_msg("line %d: encode gave %s, want %s", line, banter_errname(r), banter_errname(want));
    assert_int_equal(buf_len(&out), 0); /* nothing half-written */
    buf_free(&out);
}
#define EXPECT_ENCODE(m, want) expect_encode(m, want, __LINE__)

static void test_encode_refusals(void **state)
{
    (void)state;
    msg m;

    /* CHAT. msg_chat_init itself refuses an oversized body. */
    char *big = repeat('x', BANTER_MAX_BODY + 1);
    assert_int_equal(msg_chat_init(&m, test_id, 1, big, BANTER_MAX_BODY + 1, false),
                     BANTER_ETOOLONG);
    assert_true(msg_is_zero(&m));
    memset(&m, 0, sizeof m);
    m.type = MSG_CHAT;
    m.u.chat.body = big;
    m.u.chat.body_len = BANTER_MAX_BODY + 1;
    EXPECT_ENCODE(&m, BANTER_ETOOLONG);
    free(big);
    assert_int_equal(msg_chat_init(&m, test_id, 1, "ok\xff", 3, false), 0);
    EXPECT_ENCODE(&m, BANTER_EUTF8);
    msg_clear(&m);
    assert_int_equal(msg_chat_init(&m, test_id, 1, "\xed\xa0\x80", 3, false), 0);
    EXPECT_ENCODE(&m, BANTER_EUTF8);
    msg_clear(&m);
    assert_int_equal(msg_chat_init(&m, test_id, 1, "", 0, false), 0);
    EXPECT_ENCODE(&m, BANTER_ESCHEMA);
    msg_clear(&m);
    assert_int_equal(msg_chat_init(&m, test_id, 1, "a\0b", 3, false), 0);
    EXPECT_ENCODE(&m, BANTER_ESCHEMA); /* a NUL could not be decoded */
    msg_clear(&m);
    assert_int_equal(msg_chat_init(&m, test_id, -1, "a", 1, false), 0);
    EXPECT_ENCODE(&m, BANTER_ESCHEMA);
    msg_clear(&m);
    assert_int_equal(msg_chat_init(&m, test_id, INT64_C(1) << 54, "a", 1, false), 0);
    EXPECT_ENCODE(&m, BANTER_ESCHEMA);
    msg_clear(&m);
    /* A body that fits but whose escaped form is over BANTER_MAX_JSON. */
    big = repeat('"', BANTER_MAX_BODY);
    assert_int_equal(msg_chat_init(&m, test_id, 1, big, BANTER_MAX_BODY, false), 0);
    EXPECT_ENCODE(&m, BANTER_ETOOBIG);
    msg_clear(&m);
    free(big);

    /* HELLO. */
    memset(&m, 0, sizeof m);
    m.type = MSG_HELLO;
    m.u.hello.version = 1;
    EXPECT_ENCODE(&m, BANTER_ESCHEMA); /* empty name */
    SET(m.u.hello.name, "a\x01");
    EXPECT_ENCODE(&m, BANTER_ESCHEMA);
    SET(m.u.hello.name, "\xc0\xaf");
    EXPECT_ENCODE(&m, BANTER_EUTF8);
    memset(m.u.hello.name, 'a', sizeof m.u.hello.name); /* 65 bytes, no terminator */
    EXPECT_ENCODE(&m, BANTER_ETOOLONG);
    SET(m.u.hello.name, "a");
    m.u.hello.version = 0;
    EXPECT_ENCODE(&m, BANTER_ESCHEMA);
    m.u.hello.version = 256;
    EXPECT_ENCODE(&m, BANTER_ESCHEMA);
    m.u.hello.version = 1;
    m.u.hello.nfeatures = BANTER_MAX_FEATURES + 1;
    EXPECT_ENCODE(&m, BANTER_ESCHEMA);
    m.u.hello.nfeatures = 1;
    EXPECT_ENCODE(&m, BANTER_ESCHEMA); /* empty feature */
    SET(m.u.hello.features[0], "x\n");
    EXPECT_ENCODE(&m, BANTER_ESCHEMA);
    SET(m.u.hello.features[0], "\xff");
    EXPECT_ENCODE(&m, BANTER_EUTF8);
    memset(m.u.hello.features[0], 'f', sizeof m.u.hello.features[0]);
    EXPECT_ENCODE(&m, BANTER_ETOOLONG);

    /* BYE and ERROR. */
    memset(&m, 0, sizeof m);
    m.type = MSG_BYE;
    memset(m.u.bye.reason, 'r', sizeof m.u.bye.reason);
    EXPECT_ENCODE(&m, BANTER_ETOOLONG);
    SET(m.u.bye.reason, "\xe2\x82");
    EXPECT_ENCODE(&m, BANTER_EUTF8);
    memset(&m, 0, sizeof m);
    m.type = MSG_ERROR;
    EXPECT_ENCODE(&m, BANTER_ESCHEMA); /* empty code */
    SET(m.u.error.code, "a b\t");
    EXPECT_ENCODE(&m, BANTER_ESCHEMA);
    memset(m.u.error.code, 'c', sizeof m.u.error.code);
    EXPECT_ENCODE(&m, BANTER_ETOOLONG);
    SET(m.u.error.code, "c");
    SET(m.u.error.message, "\x80");
    EXPECT_ENCODE(&m, BANTER_EUTF8);

    /* Unknown types, and a CHUNK over its maximum. */
    memset(&m, 0, sizeof m);
    m.type = (msg_type)0x05;
    EXPECT_ENCODE(&m, BANTER_EBADTYPE);
    m.type = (msg_type)0x00;
    EXPECT_ENCODE(&m, BANTER_EBADTYPE);
    m.type = (msg_type)0x80;
    EXPECT_ENCODE(&m, BANTER_EBADTYPE);
    static uint8_t data[BANTER_MAX_CHUNK + 1];
    m.type = MSG_CHUNK;
    m.u.chunk.data = data;
    m.u.chunk.len = BANTER_MAX_CHUNK + 1;
    EXPECT_ENCODE(&m, BANTER_ETOOBIG);
}

static void test_encode_out_cap(void **state)
{
    (void)state;
    /* The output buffer's cap is respected and a refusal leaves it as it
     * was: other messages already queued stay intact. */
    msg m = {.type = MSG_PING};
    buf out;
    buf_init(&out, 20);
    m.u.ping.token = 1;
    assert_int_equal(msg_encode(&m, &out), 0);
    assert_int_equal(msg_encode(&m, &out), 0);
    assert_int_equal(buf_len(&out), 18);
    assert_int_equal(msg_encode(&m, &out), BANTER_ETOOBIG);
    assert_int_equal(buf_len(&out), 18);
    msg chat;
    assert_int_equal(msg_chat_init(&chat, test_id, 1, "hi", 2, false), 0);
    assert_int_equal(msg_encode(&chat, &out), BANTER_ETOOBIG);
    assert_int_equal(buf_len(&out), 18);
    const uint8_t want[9] = {MSG_PING, 0, 0, 0, 0, 0, 0, 0, 1};
    assert_memory_equal(buf_data(&out), want, 9);
    assert_memory_equal(buf_data(&out) + 9, want, 9);
    msg_clear(&chat);
    buf_free(&out);
}

static void test_id_hex(void **state)
{
    (void)state;
    uint8_t id[MSG_ID_LEN], back[MSG_ID_LEN];
    char hex[2 * MSG_ID_LEN + 1];
    for (int i = 0; i < MSG_ID_LEN; i++)
        id[i] = (uint8_t)(0xf0 + i);
    msg_id_to_hex(id, hex);
    assert_string_equal(hex, "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
    assert_int_equal(msg_id_from_hex(back, hex), 0);
    assert_memory_equal(back, id, MSG_ID_LEN);
    assert_int_equal(msg_id_from_hex(back, ID_HEX), 0);
    assert_memory_equal(back, test_id, MSG_ID_LEN);

    assert_int_equal(msg_id_from_hex(back, "F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF"), BANTER_ESCHEMA);
    assert_int_equal(msg_id_from_hex(back, "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeFf"), BANTER_ESCHEMA);
    assert_true(msg_id_from_hex(back, "f0f1f2f3f4f5f6f7f8f9fafbfcfdfef") < 0);
    assert_true(msg_id_from_hex(back, "f0f1f2f3f4f5f6f7f8f9fafbfcfdfefff0") < 0);
    assert_true(msg_id_from_hex(back, "") < 0);
    assert_true(msg_id_from_hex(back, "f0f1f2f3f4f5f6f7f8f9fafbfcfdfe:f") < 0);
    assert_true(msg_id_from_hex(back, "f0f1f2f3f4f5f6f7 8f9fafbfcfdfeff") < 0);
}

static void test_clear(void **state)
{
    (void)state;
    /* msg_clear accepts a zeroed msg and zeroes what it frees. */
    msg m;
    memset(&m, 0, sizeof m);
    msg_clear(&m);
    assert_true(msg_is_zero(&m));
    assert_int_equal(msg_chat_init(&m, test_id, 1, "x", 1, false), 0);
    msg_clear(&m);
    assert_true(msg_is_zero(&m));
    msg_clear(&m);
}

/* RFC 8259 strictness beyond cJSON's, and integers kept exact. */
static void test_decode_strict_json(void **state)
{
    (void)state;
    static const char id[] = "\"id\":\"00112233445566778899aabbccddeeff\"";
    char text[256];
    /* A byte-order mark before the object. */
    snprintf(text, sizeof text, "\xef\xbb\xbf{%s}", id);
    EXPECT(MSG_ACK, text, BANTER_EJSON);
    /* Raw control characters between tokens (tab, LF, CR are white space). */
    snprintf(text, sizeof text, "{\x01%s}", id);
    EXPECT(MSG_ACK, text, BANTER_EJSON);
    snprintf(text, sizeof text, "{\t%s\r\n}", id);
    msg m;
    assert_int_equal(decode_str(&m, MSG_ACK, text), 0);
    msg_clear(&m);
    /* Leading zeros; zero itself, fractions of zero and exponents are fine. */
    snprintf(text, sizeof text, "{%s,\"ts\":01,\"body\":\"x\"}", id);
    EXPECT(MSG_CHAT, text, BANTER_EJSON);
    snprintf(text, sizeof text, "{%s,\"ts\":-01,\"body\":\"x\"}", id);
    EXPECT(MSG_CHAT, text, BANTER_EJSON);
    snprintf(text, sizeof text, "{%s,\"ts\":0,\"body\":\"x\",\"z\":[0.05,1e-07,10]}", id);
    assert_int_equal(decode_str(&m, MSG_CHAT, text), 0);
    msg_clear(&m);
    /* A digit string inside a string is not a number. */
    snprintf(text, sizeof text, "{%s,\"ts\":1,\"body\":\"007\"}", id);
    assert_int_equal(decode_str(&m, MSG_CHAT, text), 0);
    msg_clear(&m);

    /* The largest timestamp survives encode and decode exactly. */
    uint8_t mid[MSG_ID_LEN] = {1};
    msg in, out;
    buf w;
    buf_init(&w, BANTER_MAX_PLAINTEXT);
    const int64_t ts = INT64_C(9007199254740991);
    assert_int_equal(msg_chat_init(&in, mid, ts, "a", 1, false), 0);
    assert_int_equal(msg_encode(&in, &w), 0);
    assert_int_equal(msg_decode(&out, buf_data(&w), buf_len(&w)), 0);
    assert_true(out.u.chat.ts_ms == ts);
    msg_clear(&in);
    msg_clear(&out);
    buf_free(&w);
}

/* File transfer messages: round trips and refusals. */
static void test_file_messages(void **state)
{
    (void)state;
    uint8_t tid[MSG_ID_LEN] = {9, 8, 7};
    msg in, out;
    buf w;
    buf_init(&w, BANTER_MAX_PLAINTEXT);
    assert_int_equal(msg_offer_init(&in, tid, 1795303925123, 3), 0);
    const char *names[] = {"a.txt", "Photos/2026/\xc3\xa9t\xc3\xa9.jpg", "empty"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(msg_offer_set_name(&in, i, names[i]), 0);
        in.u.offer.files[i].size = i == 2 ? 0 : (uint64_t)1 << (20 + i * 10);
        memset(in.u.offer.files[i].hash, (int)(0x10 + i), BANTER_FILE_HASHLEN);
    }
    assert_int_equal(msg_encode(&in, &w), 0);
    assert_int_equal(msg_decode(&out, buf_data(&w), buf_len(&w)), 0);
    assert_int_equal(out.type, MSG_FILE_OFFER);
    assert_memory_equal(out.u.offer.id, tid, MSG_ID_LEN);
    assert_int_equal(out.u.offer.nfiles, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(out.u.offer.files[i].name, names[i]);
        assert_true(out.u.offer.files[i].size == in.u.offer.files[i].size);
        assert_memory_equal(out.u.offer.files[i].hash, in.u.offer.files[i].hash,
                            BANTER_FILE_HASHLEN);
    }
    msg_clear(&in);
    msg_clear(&out);

    msg a = {.type = MSG_FILE_ACCEPT};
    memcpy(a.u.accept.id, tid, MSG_ID_LEN);
    a.u.accept.offset = INT64_C(9007199254740991);
    buf_consume(&w, buf_len(&w));
    assert_int_equal(msg_encode(&a, &w), 0);
    assert_int_equal(msg_decode(&out, buf_data(&w), buf_len(&w)), 0);
    assert_true(out.u.accept.offset == a.u.accept.offset);
    assert_true(out.u.accept.window == 0); /* absent */
    msg_clear(&out);
    a.u.accept.window = 4u << 20;
    buf_consume(&w, buf_len(&w));
    assert_int_equal(msg_encode(&a, &w), 0);
    assert_int_equal(msg_decode(&out, buf_data(&w), buf_len(&w)), 0);
    assert_true(out.u.accept.window == 4u << 20);
    msg_clear(&out);

    msg r = {.type = MSG_FILE_RESULT};
    r.u.result.file = 2;
    r.u.result.ok = false;
    snprintf(r.u.result.error, sizeof r.u.result.error, "hash mismatch");
    buf_consume(&w, buf_len(&w));
    assert_int_equal(msg_encode(&r, &w), 0);
    assert_int_equal(msg_decode(&out, buf_data(&w), buf_len(&w)), 0);
    assert_int_equal(out.u.result.file, 2);
    assert_false(out.u.result.ok);
    assert_string_equal(out.u.result.error, "hash mismatch");
    msg_clear(&out);

    msg c = {.type = MSG_FILE_CANCEL};
    snprintf(c.u.end.reason, sizeof c.u.end.reason, "changed my mind");
    buf_consume(&w, buf_len(&w));
    assert_int_equal(msg_encode(&c, &w), 0);
    assert_int_equal(msg_decode(&out, buf_data(&w), buf_len(&w)), 0);
    assert_string_equal(out.u.end.reason, "changed my mind");
    msg_clear(&out);
    buf_free(&w);

    static const char id[] = "\"id\":\"00112233445566778899aabbccddeeff\"";
    static const char h[] =
        "\"hash\":\"0000000000000000000000000000000000000000000000000000000000000000\"";
    char text[512];
    snprintf(text, sizeof text, "{%s,\"ts\":1,\"files\":[]}", id);
    EXPECT(MSG_FILE_OFFER, text, BANTER_ESCHEMA);
    snprintf(text, sizeof text, "{%s,\"ts\":1,\"files\":[{\"name\":\"a\",\"size\":1}]}", id);
    EXPECT(MSG_FILE_OFFER, text, BANTER_ESCHEMA);
    snprintf(text, sizeof text, "{%s,\"ts\":1,\"files\":[{\"name\":\"a\",\"size\":-1,%s}]}", id, h);
    EXPECT(MSG_FILE_OFFER, text, BANTER_ESCHEMA);
    snprintf(text, sizeof text,
             "{%s,\"ts\":1,\"files\":[{\"name\":\"a\",\"size\":1,\"hash\":\"00\"}]}", id);
    EXPECT(MSG_FILE_OFFER, text, BANTER_ESCHEMA);
    snprintf(text, sizeof text,
             "{%s,\"ts\":1,\"files\":[{\"name\":\"a\",\"size\":9007199254740992,%s},"
             "{\"name\":\"b\",\"size\":9007199254740992,%s}]}",
             id, h, h);
    EXPECT(MSG_FILE_OFFER, text, BANTER_ESCHEMA); /* total over 2^53 */
    snprintf(text, sizeof text, "{%s,\"offset\":0,\"window\":0}", id);
    EXPECT(MSG_FILE_ACCEPT, text, BANTER_ESCHEMA);
    snprintf(text, sizeof text, "{%s,\"offset\":0,\"window\":\"4M\"}", id);
    EXPECT(MSG_FILE_ACCEPT, text, BANTER_ESCHEMA);
    snprintf(text, sizeof text, "{%s,\"offset\":0,\"window\":9007199254740994}", id);
    EXPECT(MSG_FILE_ACCEPT, text, BANTER_ESCHEMA);
    snprintf(text, sizeof text, "{%s,\"file\":256,\"ok\":true}", id);
    EXPECT(MSG_FILE_RESULT, text, BANTER_ESCHEMA);
    snprintf(text, sizeof text, "{%s,\"file\":0,\"ok\":1}", id);
    EXPECT(MSG_FILE_RESULT, text, BANTER_ESCHEMA);
    assert_int_equal(msg_offer_init(&in, tid, 1, 0), BANTER_EINVAL);
    assert_int_equal(msg_offer_init(&in, tid, 1, BANTER_MAX_FILES + 1), BANTER_EINVAL);
}

/* ---- integers are exact (docs/protocol.md 6.1) ---- */

#define HASH64 "\"hash\":\"" ID_HEX ID_HEX "\""

/* Every integer field, as the text before and after the number, with its
 * range. */
static const struct int_field {
    uint8_t type;
    const char *pre, *post;
    int64_t min, max;
} int_fields[] = {
    {MSG_HELLO, "{\"v\":", ",\"name\":\"a\"}", 1, 255},
    {MSG_CHAT, "{" ID_LIT ",\"ts\":", ",\"body\":\"a\"}", 0, INT64_C(9007199254740992)},
    {MSG_FILE_OFFER, "{" ID_LIT ",\"ts\":", ",\"files\":[{\"name\":\"a\",\"size\":1," HASH64 "}]}",
     0, INT64_C(9007199254740992)},
    {MSG_FILE_OFFER, "{" ID_LIT ",\"ts\":1,\"files\":[{\"name\":\"a\",\"size\":", "," HASH64 "}]}",
     0, INT64_C(9007199254740992)},
    {MSG_FILE_ACCEPT, "{" ID_LIT ",\"offset\":", "}", 0, INT64_C(9007199254740992)},
    {MSG_FILE_RESULT, "{" ID_LIT ",\"file\":", ",\"ok\":true}", 0, 255},
};

static int decode_int_field(const struct int_field *f, const char *num)
{
    msg m;
    char *json = cat3(f->pre, num, f->post);
    int r = decode_str(&m, f->type, json);
    msg_clear(&m);
    free(json);
    return r;
}

/* Whether the n bytes at p hold the text s. */
static bool holds(const uint8_t *p, size_t n, const char *s)
{
    size_t k = strlen(s);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(p + i, s, k) == 0)
            return true;
    return false;
}

static void test_integers_exact(void **state)
{
    (void)state;
    /* Refused whatever the field's range: not integers, or beyond 2^53. */
    static const struct {
        const char *text;
        int want;
    } bad[] = {
        {"9007199254740993", BANTER_ESCHEMA},     /* 2^53 + 1: a double rounds it to 2^53 */
        {"9007199254740994", BANTER_ESCHEMA},     /* 2^53 + 2 */
        {"9223372036854775807", BANTER_ESCHEMA},  /* INT64_MAX */
        {"9223372036854775808", BANTER_ESCHEMA},  /* INT64_MAX + 1 */
        {"18446744073709551617", BANTER_ESCHEMA}, /* 2^64 + 1 */
        {"100000000000000000000000", BANTER_ESCHEMA},
        {"-9223372036854775809", BANTER_ESCHEMA},
        {"1e3", BANTER_ESCHEMA}, /* 1000, but not written as an integer */
        {"1E3", BANTER_ESCHEMA},
        {"1.0", BANTER_ESCHEMA},
        {"10e-1", BANTER_ESCHEMA},
        {"-0", BANTER_ESCHEMA},
        {"-1", BANTER_ESCHEMA}, /* below every range here */
        {"0100", BANTER_EJSON}, /* leading zero: not JSON at all */
        {"00", BANTER_EJSON},
        {"-01", BANTER_EJSON},
        {"1.", BANTER_EJSON},
        {".5", BANTER_EJSON},
        {"+1", BANTER_EJSON},
        {"-", BANTER_EJSON},
        {"1e", BANTER_EJSON},
        {"1.e3", BANTER_EJSON},
        {"0x10", BANTER_EJSON},
        {"\"1\"", BANTER_ESCHEMA},
        {"true", BANTER_ESCHEMA},
        {"null", BANTER_ESCHEMA},
        {"[1]", BANTER_ESCHEMA},
    };
    char num[32];
    for (size_t f = 0; f < sizeof int_fields / sizeof int_fields[0]; f++) {
        const struct int_field *fl = &int_fields[f];
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            int r = decode_int_field(fl, bad[i].text);
            if (r != bad[i].want)
                fail_msg("field %zu, %s: got %s, want %s", f, bad[i].text, banter_errname(r),
                         banter_errname(bad[i].want));
        }
        /* The ends of the range are taken, one beyond is refused. */
        snprintf(num, sizeof num, "%" PRId64, fl->min);
        assert_int_equal(decode_int_field(fl, num), 0);
        snprintf(num, sizeof num, "%" PRId64, fl->max);
        assert_int_equal(decode_int_field(fl, num), 0);
        snprintf(num, sizeof num, "%" PRId64, fl->min - 1);
        assert_int_equal(decode_int_field(fl, num), BANTER_ESCHEMA);
        snprintf(num, sizeof num, "%" PRId64, fl->max + 1);
        assert_int_equal(decode_int_field(fl, num), BANTER_ESCHEMA);
    }

    /* 2^53 is read and written back exactly (not 9.00719925474099e+15). */
    msg m;
    ACCEPT(&m, MSG_CHAT, "{" ID_LIT ",\"ts\":9007199254740992,\"body\":\"a\"}");
    assert_true(m.u.chat.ts_ms == INT64_C(9007199254740992));
    buf b;
    buf_init(&b, BANTER_MAX_PLAINTEXT);
    assert_int_equal(msg_encode(&m, &b), 0);
    assert_true(holds(buf_data(&b), buf_len(&b), "\"ts\":9007199254740992,"));
    buf_free(&b);
    /* ... and one more is refused by the encoder too. */
    m.u.chat.ts_ms = INT64_C(9007199254740993);
    buf_init(&b, BANTER_MAX_PLAINTEXT);
    assert_int_equal(msg_encode(&m, &b), BANTER_ESCHEMA);
    assert_int_equal(buf_len(&b), 0);
    buf_free(&b);
    msg_clear(&m);

    /* Numbers of unknown members may be any JSON number; only their
     * grammar is checked. */
    ACCEPT(&m, MSG_BYE, "{\"x\":[1e400,-0.5,9007199254740993,-0],\"y\":1E+2}");
    msg_clear(&m);
    EXPECT(MSG_BYE, "{\"x\":01}", BANTER_EJSON);
    EXPECT(MSG_BYE, "{\"x\":[1,2.]}", BANTER_EJSON);
    /* Digits inside strings are not numbers. */
    ACCEPT(&m, MSG_BYE, "{\"0\":\"-01\",\"reason\":\"1. 00 \\\"-\\\" 2e\"}");
    assert_string_equal(m.u.bye.reason, "1. 00 \"-\" 2e");
    msg_clear(&m);

    /* Offer sizes add up exactly: 2^53 in all is the most. */
    char text[512];
    snprintf(text, sizeof text,
             "{%s,\"ts\":1,\"files\":[{\"name\":\"a\",\"size\":9007199254740991,%s},"
             "{\"name\":\"b\",\"size\":1,%s}]}",
             ID_LIT, HASH64, HASH64);
    ACCEPT(&m, MSG_FILE_OFFER, text);
    msg_clear(&m);
    snprintf(text, sizeof text,
             "{%s,\"ts\":1,\"files\":[{\"name\":\"a\",\"size\":9007199254740991,%s},"
             "{\"name\":\"b\",\"size\":2,%s}]}",
             ID_LIT, HASH64, HASH64);
    EXPECT(MSG_FILE_OFFER, text, BANTER_ESCHEMA);
}

/* The group types (0x18-0x1b): each round-trips; malformed ones are refused. */
static msg groundtrip(const msg *in)
{
    buf b;
    msg out;
    buf_init(&b, BANTER_MAX_PLAINTEXT);
    assert_int_equal(msg_encode(in, &b), 0);
    assert_int_equal(msg_decode(&out, buf_data(&b), buf_len(&b)), 0);
    buf_free(&b);
    return out;
}

static void test_group_messages(void **state)
{
    (void)state;
    gstate st = {.v = 2, .n = 2};
    memset(st.group, 7, sizeof st.group);
    snprintf(st.name, sizeof st.name, "%s", "launch");
    snprintf(st.creator, sizeof st.creator, "%s", "@ada");
    snprintf(st.by, sizeof st.by, "%s", "@ada");
    snprintf(st.m[0].id, sizeof st.m[0].id, "%s", "@ada");
    st.m[0].admin = true;
    snprintf(st.m[1].id, sizeof st.m[1].id, "%s", "@bob");
    msg m, o;
    assert_int_equal(msg_gstate_init(&m, test_id, &st), 0);
    o = groundtrip(&m);
    assert_int_equal(o.type, MSG_GROUP_STATE);
    assert_int_equal(o.u.gstate.st->v, 2);
    assert_string_equal(o.u.gstate.st->m[1].id, "@bob");
    msg_clear(&o);
    /* A state gstate refuses (no admin) is refused by the encoder too. */
    m.u.gstate.st->m[0].admin = false;
    expect_encode(&m, BANTER_ESCHEMA, __LINE__);
    msg_clear(&m);

    m = (msg){.type = MSG_GROUP_KEY};
    memcpy(m.u.gkey.id, test_id, MSG_ID_LEN);
    for (size_t i = 0; i < MSG_GROUP_DIST_LEN; i++)
        m.u.gkey.dist[i] = (uint8_t)i;
    o = groundtrip(&m);
    assert_memory_equal(o.u.gkey.dist, m.u.gkey.dist, MSG_GROUP_DIST_LEN);
    msg_clear(&o);

    uint8_t sealed[300];
    for (size_t i = 0; i < sizeof sealed; i++)
        sealed[i] = (uint8_t)(i * 7);
    assert_int_equal(msg_gmsg_init(&m, test_id, sealed, sizeof sealed), 0);
    o = groundtrip(&m);
    assert_int_equal(o.u.gmsg.len, sizeof sealed);
    assert_memory_equal(o.u.gmsg.sealed, sealed, sizeof sealed);
    assert_memory_equal(o.u.gmsg.id, test_id, MSG_ID_LEN);
    msg_clear(&o);
    msg_clear(&m);
    assert_int_equal(msg_gmsg_init(&m, test_id, sealed, 0), BANTER_EINVAL);
    uint8_t *big = calloc(1, MSG_GROUP_SEALED_MAX + 1);
    assert_non_null(big);
    assert_int_equal(msg_gmsg_init(&m, test_id, big, MSG_GROUP_SEALED_MAX + 1), BANTER_ETOOBIG);
    assert_int_equal(msg_gmsg_init(&m, test_id, big, MSG_GROUP_SEALED_MAX), 0);
    o = groundtrip(&m); /* the largest fits one JSON body */
    assert_int_equal(o.u.gmsg.len, MSG_GROUP_SEALED_MAX);
    msg_clear(&o);
    msg_clear(&m);
    free(big);

    assert_int_equal(msg_gtext_init(&m, test_id, 1795303925123, 42, "hi all", 6), 0);
    o = groundtrip(&m);
    assert_int_equal(o.u.gtext.lc, 42);
    assert_int_equal(o.u.gtext.ts_ms, 1795303925123);
    assert_string_equal(o.u.gtext.body, "hi all");
    msg_clear(&o);
    msg_clear(&m);

    /* Refusals. */
    EXPECT(MSG_GROUP_STATE, "{}", BANTER_ESCHEMA);
    EXPECT(MSG_GROUP_STATE, "[1]", BANTER_ESCHEMA);
    EXPECT(MSG_GROUP_STATE, "{" ID_LIT ",\"state\":{}}", BANTER_ESCHEMA);
    EXPECT(MSG_GROUP_STATE, "{" ID_LIT ",\"state\":\"x\"}", BANTER_ESCHEMA);
    EXPECT(MSG_GROUP_KEY, "{" ID_LIT ",\"dist\":\"AAAA\"}", BANTER_ESCHEMA); /* 3 bytes */
    EXPECT(MSG_GROUP_KEY, "{" ID_LIT ",\"dist\":\"AA==AA==\"}",
           BANTER_ESCHEMA); /* padding inside */
    EXPECT(MSG_GROUP_KEY, "{" ID_LIT ",\"dist\":5}", BANTER_ESCHEMA);
    EXPECT(MSG_GROUP_MSG, "{" ID_LIT ",\"g\":\"AAA\"}", BANTER_ESCHEMA); /* not a multiple of 4 */
    EXPECT(MSG_GROUP_MSG, "{" ID_LIT ",\"g\":\"AA A\"}", BANTER_ESCHEMA);
    EXPECT(MSG_GROUP_MSG, "{\"g\":\"AAAA\"}", BANTER_ESCHEMA);
    EXPECT(MSG_GROUP_TEXT, "{" ID_LIT ",\"ts\":1,\"lc\":-1,\"body\":\"x\"}", BANTER_ESCHEMA);
    EXPECT(MSG_GROUP_TEXT, "{" ID_LIT ",\"ts\":1,\"body\":\"x\"}", BANTER_ESCHEMA);
    EXPECT(MSG_GROUP_TEXT, "{" ID_LIT ",\"ts\":1,\"lc\":1,\"body\":\"\"}", BANTER_ESCHEMA);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_hello),
        cmocka_unit_test(test_roundtrip_chat),
        cmocka_unit_test(test_chat_to),
        cmocka_unit_test(test_roundtrip_random_bodies),
        cmocka_unit_test(test_roundtrip_ack_bye_error),
        cmocka_unit_test(test_roundtrip_binary),
        cmocka_unit_test(test_roundtrip_mark),
        cmocka_unit_test(test_decode_truncated_and_type),
        cmocka_unit_test(test_decode_binary_lengths),
        cmocka_unit_test(test_decode_binary_extent),
        cmocka_unit_test(test_decode_utf8),
        cmocka_unit_test(test_decode_json),
        cmocka_unit_test(test_decode_depth),
        cmocka_unit_test(test_decode_nul_escape),
        cmocka_unit_test(test_decode_schema),
        cmocka_unit_test(test_decode_members),
        cmocka_unit_test(test_decode_too_long),
        cmocka_unit_test(test_decode_too_big),
        cmocka_unit_test(test_encode_refusals),
        cmocka_unit_test(test_encode_out_cap),
        cmocka_unit_test(test_id_hex),
        cmocka_unit_test(test_clear),
        cmocka_unit_test(test_decode_strict_json),
        cmocka_unit_test(test_file_messages),
        cmocka_unit_test(test_integers_exact),
        cmocka_unit_test(test_group_messages),
    };
    return cmocka_run_group_tests_name("msg", tests, NULL, NULL);
}
