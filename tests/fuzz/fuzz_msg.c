/* SPDX-License-Identifier: MIT */
/*
 * fuzz_msg.c - libFuzzer target for the message codec.
 *
 * The input is one plaintext for msg_decode(). A failure must be one of the
 * documented errors. A success must survive a round trip: msg_encode() of
 * the result is accepted by msg_decode() again with the same fields,
 * encoding that gives the same bytes (so encoding is canonical), and a
 * binary message encodes back to exactly the input. The input, when it is
 * short, is also tried as a hex message id.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "error.h"
#include "gstate.h"
#include "banter_limits.h"
#include "msg.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_decode_error(int r)
{
    switch (r) {
    case BANTER_ETRUNCATED:
    case BANTER_EBADTYPE:
    case BANTER_ETOOBIG:
    case BANTER_EUTF8:
    case BANTER_EJSON:
    case BANTER_ESCHEMA:
    case BANTER_ETOOLONG:
    case BANTER_ETRAILING:
    case BANTER_ENOMEM:
        return;
    default:
        abort();
    }
}

/* A NUL-terminated field of a decoded message: valid UTF-8, within max. */
static void check_text(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    if (n > max || !utf8_valid(s, n))
        abort();
}

/* What a successful decode promises about m. */
static void check_decoded(const msg *m, const uint8_t *pt, size_t len)
{
    if ((int)m->type != pt[0])
        abort();
    switch (m->type) {
    case MSG_HELLO:
        if (m->u.hello.version < 1 || m->u.hello.version > 255 || m->u.hello.name[0] == '\0' ||
            m->u.hello.nfeatures > BANTER_MAX_FEATURES)
            abort();
        check_text(m->u.hello.name, BANTER_MAX_NAME);
        for (size_t i = 0; i < m->u.hello.nfeatures; i++)
            check_text(m->u.hello.features[i], BANTER_MAX_FEATURE);
        break;
    case MSG_CHAT:
        if (!m->u.chat.body || m->u.chat.body_len == 0 || m->u.chat.body_len > BANTER_MAX_BODY ||
            strlen(m->u.chat.body) != m->u.chat.body_len || m->u.chat.ts_ms < 0 ||
            m->u.chat.ts_ms > BANTER_MAX_INT)
            abort();
        check_text(m->u.chat.body, BANTER_MAX_BODY);
        break;
    case MSG_BYE:
        check_text(m->u.bye.reason, BANTER_MAX_REASON);
        break;
    case MSG_ERROR:
        if (m->u.error.code[0] == '\0')
            abort();
        check_text(m->u.error.code, BANTER_MAX_ERRCODE);
        check_text(m->u.error.message, BANTER_MAX_REASON);
        break;
    case MSG_PING:
    case MSG_PONG:
        if (len != 9)
            abort();
        break;
    case MSG_CHUNK: /* the data is borrowed from pt */
        if (len < BANTER_CHUNK_HDR || m->u.chunk.len != len - BANTER_CHUNK_HDR ||
            m->u.chunk.offset > BANTER_MAX_FILE_SIZE ||
            (m->u.chunk.len && m->u.chunk.data != pt + BANTER_CHUNK_HDR))
            abort();
        break;
    case MSG_FILE_OFFER: {
        uint64_t total = 0;
        if (m->u.offer.nfiles < 1 || m->u.offer.nfiles > BANTER_MAX_FILES || !m->u.offer.files)
            abort();
        for (size_t i = 0; i < m->u.offer.nfiles; i++) {
            const struct msg_file *f = &m->u.offer.files[i];
            if (!f->name || f->name[0] == '\0' || f->size > BANTER_MAX_FILE_SIZE)
                abort();
            check_text(f->name, BANTER_MAX_PATH);
            total += f->size;
        }
        if (total > BANTER_MAX_FILE_SIZE)
            abort();
        break;
    }
    case MSG_FILE_ACCEPT:
        if (m->u.accept.offset > BANTER_MAX_FILE_SIZE || m->u.accept.window > BANTER_MAX_FILE_SIZE)
            abort();
        break;
    case MSG_FILE_MARK:
    case MSG_FILE_STORED:
        if (len != 1 + MSG_ID_LEN + 8 || m->u.mark.offset > BANTER_MAX_FILE_SIZE)
            abort();
        break;
    case MSG_FILE_DECLINE:
    case MSG_FILE_CANCEL:
        check_text(m->u.end.reason, BANTER_MAX_REASON);
        break;
    case MSG_FILE_RESULT:
        if (m->u.result.file >= BANTER_MAX_FILES)
            abort();
        check_text(m->u.result.error, BANTER_MAX_REASON);
        break;
    case MSG_GROUP_STATE:
        if (!m->u.gstate.st || m->u.gstate.st->n < 1 || m->u.gstate.st->n > GSTATE_MAX_MEMBERS)
            abort();
        check_text(m->u.gstate.st->name, BANTER_MAX_NAME);
        break;
    case MSG_GROUP_MSG:
        if (!m->u.gmsg.sealed || m->u.gmsg.len < 1 || m->u.gmsg.len > MSG_GROUP_SEALED_MAX)
            abort();
        break;
    case MSG_GROUP_TEXT:
        if (!m->u.gtext.body || m->u.gtext.body_len == 0 || m->u.gtext.body_len > BANTER_MAX_BODY ||
            strlen(m->u.gtext.body) != m->u.gtext.body_len || m->u.gtext.lc < 0 ||
            m->u.gtext.lc > BANTER_MAX_INT || m->u.gtext.ts_ms < 0)
            abort();
        check_text(m->u.gtext.body, BANTER_MAX_BODY);
        break;
    default: /* ACK and GROUP_KEY have nothing to check beyond their fixed sizes */
        if (m->type != MSG_ACK && m->type != MSG_GROUP_KEY)
            abort();
        break;
    }
}

static void same_file_msg(const msg *a, const msg *b)
{
    switch (a->type) {
    case MSG_FILE_OFFER:
        if (memcmp(a->u.offer.id, b->u.offer.id, MSG_ID_LEN) != 0 ||
            a->u.offer.ts_ms != b->u.offer.ts_ms || a->u.offer.nfiles != b->u.offer.nfiles)
            abort();
        for (size_t i = 0; i < a->u.offer.nfiles; i++) {
            const struct msg_file *x = &a->u.offer.files[i], *y = &b->u.offer.files[i];
            if (strcmp(x->name, y->name) != 0 || x->size != y->size ||
                memcmp(x->hash, y->hash, sizeof x->hash) != 0)
                abort();
        }
        break;
    case MSG_FILE_ACCEPT:
        if (memcmp(a->u.accept.id, b->u.accept.id, MSG_ID_LEN) != 0 ||
            a->u.accept.offset != b->u.accept.offset || a->u.accept.window != b->u.accept.window)
            abort();
        break;
    case MSG_FILE_DECLINE:
    case MSG_FILE_CANCEL:
        if (memcmp(a->u.end.id, b->u.end.id, MSG_ID_LEN) != 0 ||
            strcmp(a->u.end.reason, b->u.end.reason) != 0)
            abort();
        break;
    default: /* MSG_FILE_RESULT */
        if (memcmp(a->u.result.id, b->u.result.id, MSG_ID_LEN) != 0 ||
            a->u.result.file != b->u.result.file || a->u.result.ok != b->u.result.ok ||
            strcmp(a->u.result.error, b->u.result.error) != 0)
            abort();
        break;
    }
}

static void same_hello(const struct msg_hello *a, const struct msg_hello *b)
{
    if (a->version != b->version || strcmp(a->name, b->name) != 0 || a->nfeatures != b->nfeatures)
        abort();
    for (size_t i = 0; i < a->nfeatures; i++)
        if (strcmp(a->features[i], b->features[i]) != 0)
            abort();
}

static void same_chat(const struct msg_chat *a, const struct msg_chat *b)
{
    if (memcmp(a->id, b->id, MSG_ID_LEN) != 0 || a->ts_ms != b->ts_ms ||
        a->body_len != b->body_len || a->broadcast != b->broadcast ||
        memcmp(a->body, b->body, a->body_len + 1) != 0)
        abort();
}

static void same_chunk(const struct msg_chunk *a, const struct msg_chunk *b)
{
    if (memcmp(a->transfer, b->transfer, MSG_ID_LEN) != 0 || a->offset != b->offset ||
        a->len != b->len || (a->len && memcmp(a->data, b->data, a->len) != 0))
        abort();
}

static void same_group(const msg *a, const msg *b)
{
    switch (a->type) {
    case MSG_GROUP_STATE: {
        const gstate *x = a->u.gstate.st, *y = b->u.gstate.st;
        if (memcmp(a->u.gstate.id, b->u.gstate.id, MSG_ID_LEN) != 0 || x->v != y->v ||
            x->n != y->n || strcmp(x->name, y->name) != 0 || strcmp(x->by, y->by) != 0 ||
            memcmp(x->m, y->m, x->n * sizeof x->m[0]) != 0)
            abort();
        break;
    }
    case MSG_GROUP_KEY:
        if (memcmp(a->u.gkey.id, b->u.gkey.id, MSG_ID_LEN) != 0 ||
            memcmp(a->u.gkey.dist, b->u.gkey.dist, MSG_GROUP_DIST_LEN) != 0)
            abort();
        break;
    case MSG_GROUP_MSG:
        if (memcmp(a->u.gmsg.id, b->u.gmsg.id, MSG_ID_LEN) != 0 || a->u.gmsg.len != b->u.gmsg.len ||
            memcmp(a->u.gmsg.sealed, b->u.gmsg.sealed, a->u.gmsg.len) != 0)
            abort();
        break;
    default: /* MSG_GROUP_TEXT */
        if (memcmp(a->u.gtext.id, b->u.gtext.id, MSG_ID_LEN) != 0 ||
            a->u.gtext.ts_ms != b->u.gtext.ts_ms || a->u.gtext.lc != b->u.gtext.lc ||
            a->u.gtext.body_len != b->u.gtext.body_len ||
            memcmp(a->u.gtext.body, b->u.gtext.body, a->u.gtext.body_len + 1) != 0)
            abort();
        break;
    }
}

static void same_msg(const msg *a, const msg *b)
{
    if (a->type != b->type)
        abort();
    if (a->type >= MSG_GROUP_STATE && a->type <= MSG_GROUP_TEXT) {
        same_group(a, b);
        return;
    }
    switch (a->type) {
    case MSG_HELLO:
        same_hello(&a->u.hello, &b->u.hello);
        break;
    case MSG_CHAT:
        same_chat(&a->u.chat, &b->u.chat);
        break;
    case MSG_ACK:
        if (memcmp(a->u.ack.id, b->u.ack.id, MSG_ID_LEN) != 0)
            abort();
        break;
    case MSG_BYE:
        if (strcmp(a->u.bye.reason, b->u.bye.reason) != 0)
            abort();
        break;
    case MSG_ERROR:
        if (strcmp(a->u.error.code, b->u.error.code) != 0 ||
            strcmp(a->u.error.message, b->u.error.message) != 0)
            abort();
        break;
    case MSG_PING:
    case MSG_PONG:
        if (a->u.ping.token != b->u.ping.token)
            abort();
        break;
    case MSG_CHUNK:
        same_chunk(&a->u.chunk, &b->u.chunk);
        break;
    case MSG_FILE_MARK:
    case MSG_FILE_STORED:
        if (memcmp(a->u.mark.id, b->u.mark.id, MSG_ID_LEN) != 0 ||
            a->u.mark.offset != b->u.mark.offset)
            abort();
        break;
    default:
        same_file_msg(a, b);
        break;
    }
}

/* Encode a decoded message, decode that, and compare; the second encoding
 * is appended after a marker byte to check that encode appends. */
static void round_trip(const msg *m1, const uint8_t *pt, size_t len)
{
    static const uint8_t mark = 0xa5;
    buf b1, b2, tight;
    msg m2;

    buf_init(&b1, BANTER_MAX_PLAINTEXT);
    buf_init(&b2, BANTER_MAX_PLAINTEXT + 1);
    int r = msg_encode(m1, &b1);
    /* A long body of control characters grows up to sixfold as \u
     * escapes; past BANTER_MAX_JSON that is a documented refusal. */
    if (r == BANTER_ETOOBIG && m1->type == MSG_CHAT &&
        6 * m1->u.chat.body_len + 256 > BANTER_MAX_JSON)
        goto out;
    if (r == BANTER_ETOOBIG && m1->type == MSG_GROUP_TEXT &&
        6 * m1->u.gtext.body_len + 256 > BANTER_MAX_JSON)
        goto out;
    if (r != 0 || buf_len(&b1) == 0 || buf_data(&b1)[0] != (uint8_t)m1->type)
        abort();
    if (m1->type >= MSG_BIN_FIRST && (buf_len(&b1) != len || memcmp(buf_data(&b1), pt, len) != 0))
        abort();

    r = msg_decode(&m2, buf_data(&b1), buf_len(&b1));
    if (r != 0)
        abort();
    check_decoded(&m2, buf_data(&b1), buf_len(&b1));
    same_msg(m1, &m2);
    if (buf_append(&b2, &mark, 1) != 0 || msg_encode(&m2, &b2) != 0 ||
        buf_len(&b2) != buf_len(&b1) + 1 || buf_data(&b2)[0] != mark ||
        memcmp(buf_data(&b2) + 1, buf_data(&b1), buf_len(&b1)) != 0)
        abort();
    msg_clear(&m2);

    /* One byte short of room: refused, and the buffer stays empty. */
    buf_init(&tight, buf_len(&b1) - 1);
    if (msg_encode(m1, &tight) != BANTER_ETOOBIG || buf_len(&tight) != 0)
        abort();
    buf_free(&tight);
out:
    buf_free(&b1);
    buf_free(&b2);
}

/* Short inputs double as hex ids: accepted ones print back the same. */
static void try_hex_id(const uint8_t *data, size_t size)
{
    char hex[2 * MSG_ID_LEN + 2], back[2 * MSG_ID_LEN + 1];
    uint8_t id[MSG_ID_LEN];

    if (size > 2 * MSG_ID_LEN + 1 || memchr(data, '\0', size))
        return;
    if (size)
        memcpy(hex, data, size);
    hex[size] = '\0';
    if (msg_id_from_hex(id, hex) != 0)
        return;
    msg_id_to_hex(id, back);
    if (strcmp(hex, back) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    msg m;

    try_hex_id(data, size);
    if (size && !msg_type_name(data[0]))
        abort();
    int r = msg_decode(&m, data, size);
    if (r != 0) {
        check_decode_error(r);
    } else {
        check_decoded(&m, data, size);
        round_trip(&m, data, size);
    }
    msg_clear(&m);
    return 0;
}
