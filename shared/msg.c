/* SPDX-License-Identifier: MIT */
/* msg.c - typed messages to and from their wire form (see msg.h). */
#include "msg.h"

#include <cJSON.h>
#include <sodium.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "gkey.h"
#include "gstate.h"
#include "jsonv.h"
#include "utf8.h"

static const struct {
    int type;
    const char *name;
} type_names[] = {
    {MSG_HELLO, "hello"},
    {MSG_CHAT, "chat"},
    {MSG_ACK, "ack"},
    {MSG_BYE, "bye"},
    {MSG_FILE_OFFER, "file_offer"},
    {MSG_FILE_ACCEPT, "file_accept"},
    {MSG_FILE_DECLINE, "file_decline"},
    {MSG_FILE_CANCEL, "file_cancel"},
    {MSG_FILE_RESULT, "file_result"},
    {MSG_GROUP_STATE, "group_state"},
    {MSG_GROUP_KEY, "group_key"},
    {MSG_GROUP_MSG, "group_msg"},
    {MSG_GROUP_TEXT, "group_text"},
    {MSG_ERROR, "error"},
    {MSG_PING, "ping"},
    {MSG_PONG, "pong"},
    {MSG_CHUNK, "chunk"},
    {MSG_FILE_MARK, "file_mark"},
    {MSG_FILE_STORED, "file_stored"},
};

const char *msg_type_name(int type)
{
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (type_names[i].type == type)
            return type_names[i].name;
    return "unknown";
}

/* A switch, not the name table: it runs on every message both ways. */
static bool known_type(int type)
{
    switch (type) {
    case MSG_HELLO:
    case MSG_CHAT:
    case MSG_ACK:
    case MSG_BYE:
    case MSG_FILE_OFFER:
    case MSG_FILE_ACCEPT:
    case MSG_FILE_DECLINE:
    case MSG_FILE_CANCEL:
    case MSG_FILE_RESULT:
    case MSG_GROUP_STATE:
    case MSG_GROUP_KEY:
    case MSG_GROUP_MSG:
    case MSG_GROUP_TEXT:
    case MSG_ERROR:
    case MSG_PING:
    case MSG_PONG:
    case MSG_CHUNK:
    case MSG_FILE_MARK:
    case MSG_FILE_STORED:
        return true;
    default:
        return false;
    }
}

/* How much of a msg a binary type uses (its type and its member); 0 for
 * the JSON types, which use the whole of it. */
static size_t binary_extent(int type)
{
    switch (type) {
    case MSG_PING:
    case MSG_PONG:
        return offsetof(msg, u) + sizeof(struct msg_ping);
    case MSG_CHUNK:
        return offsetof(msg, u) + sizeof(struct msg_chunk);
    case MSG_FILE_MARK:
    case MSG_FILE_STORED:
        return offsetof(msg, u) + sizeof(struct msg_mark);
    default:
        return 0;
    }
}

void msg_id_to_hex(const uint8_t id[static MSG_ID_LEN], char out[static 2 * MSG_ID_LEN + 1])
{
    sodium_bin2hex(out, 2 * MSG_ID_LEN + 1, id, MSG_ID_LEN);
}

int msg_id_from_hex(uint8_t id[static MSG_ID_LEN], const char *hex)
{
    size_t n;
    if (strlen(hex) != 2 * MSG_ID_LEN)
        return BANTER_ESCHEMA;
    for (const char *p = hex; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return BANTER_ESCHEMA;
    if (sodium_hex2bin(id, MSG_ID_LEN, hex, 2 * MSG_ID_LEN, NULL, &n, NULL) != 0 || n != MSG_ID_LEN)
        return BANTER_ESCHEMA;
    return 0;
}

/* ---- decoding JSON ---- */

static int get_id(const cJSON *obj, const char *key, uint8_t id[static MSG_ID_LEN])
{
    const char *s;
    size_t n;
    int r = jsonv_str(obj, key, true, 2 * MSG_ID_LEN, 2 * MSG_ID_LEN, &s, &n);
    return r ? r : msg_id_from_hex(id, s);
}

static int decode_hello(const cJSON *o, struct msg_hello *h)
{
    const char *s;
    size_t n;
    int64_t v;
    int r = jsonv_int(o, "v", 1, 255, &v);
    if (r)
        return r;
    h->version = (uint32_t)v;
    r = jsonv_str(o, "name", true, 1, BANTER_MAX_NAME, &s, &n);
    if (r)
        return r;
    if (!jsonv_plain(s))
        return BANTER_ESCHEMA;
    jsonv_copy(h->name, s, n);
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, "features");
    if (!f)
        return 0;
    if (!cJSON_IsArray(f))
        return BANTER_ESCHEMA;
    const cJSON *it;
    cJSON_ArrayForEach (it, f) {
        if (h->nfeatures == BANTER_MAX_FEATURES)
            return BANTER_ETOOLONG;
        if (!cJSON_IsString(it))
            return BANTER_ESCHEMA;
        n = strlen(it->valuestring);
        if (n > BANTER_MAX_FEATURE)
            return BANTER_ETOOLONG;
        if (n == 0 || !utf8_valid(it->valuestring, n) || !jsonv_plain(it->valuestring))
            return BANTER_ESCHEMA;
        jsonv_copy(h->features[h->nfeatures++], it->valuestring, n);
    }
    return 0;
}

static int decode_chat(const cJSON *o, struct msg_chat *c)
{
    const char *s;
    size_t n;
    int r = get_id(o, "id", c->id);
    if (r)
        return r;
    r = jsonv_int(o, "ts", 0, JSONV_INT_MAX, &c->ts_ms);
    if (r)
        return r;
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "broadcast");
    if (b && !cJSON_IsBool(b))
        return BANTER_ESCHEMA;
    c->broadcast = b && cJSON_IsTrue(b);
    if (cJSON_GetObjectItemCaseSensitive(o, "to")) {
        r = jsonv_str(o, "to", true, 2, MSG_TO_MAX, &s, &n);
        if (r)
            return r;
        if (c->broadcast || strlen(s) != n || !msg_chat_to_valid(s))
            return BANTER_ESCHEMA;
        jsonv_copy(c->to, s, n);
    }
    r = jsonv_str(o, "body", true, 1, BANTER_MAX_BODY, &s, &n);
    if (r)
        return r;
    c->body = malloc(n + 1);
    if (!c->body)
        return BANTER_ENOMEM;
    jsonv_copy(c->body, s, n);
    c->body_len = n;
    return 0;
}

/* 64 lowercase hex digits. */
static int get_hash(const cJSON *obj, const char *key, uint8_t out[static BANTER_FILE_HASHLEN])
{
    return jsonv_hex(obj, key, out, BANTER_FILE_HASHLEN);
}

static int decode_offer(const cJSON *o, struct msg_offer *f)
{
    int64_t v;
    int r = get_id(o, "id", f->id);
    if (!r)
        r = jsonv_int(o, "ts", 0, JSONV_INT_MAX, &f->ts_ms);
    if (r)
        return r;
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(o, "files");
    if (!cJSON_IsArray(files))
        return BANTER_ESCHEMA;
    int count = cJSON_GetArraySize(files);
    if (count < 1)
        return BANTER_ESCHEMA;
    if ((size_t)count > BANTER_MAX_FILES)
        return BANTER_ETOOLONG;
    f->files = calloc((size_t)count, sizeof *f->files);
    if (!f->files)
        return BANTER_ENOMEM;
    f->nfiles = (size_t)count;
    uint64_t total = 0; /* at most 256 sizes of at most 2^53: no wrap */
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach (it, files) {
        struct msg_file *e = &f->files[i++];
        const char *name;
        size_t n;
        if (!cJSON_IsObject(it) || jsonv_members(it) != 0)
            return BANTER_ESCHEMA;
        r = jsonv_str(it, "name", true, 1, BANTER_MAX_PATH, &name, &n);
        if (!r)
            r = jsonv_int(it, "size", 0, JSONV_INT_MAX, &v);
        if (!r)
            r = get_hash(it, "hash", e->hash);
        if (r)
            return r;
        e->size = (uint64_t)v;
        total += (uint64_t)v;
        e->name = malloc(n + 1);
        if (!e->name)
            return BANTER_ENOMEM;
        jsonv_copy(e->name, name, n);
    }
    return total > (uint64_t)JSONV_INT_MAX ? BANTER_ESCHEMA : 0;
}

static int decode_reason(const cJSON *o, const char *key, char out[static BANTER_MAX_REASON + 1])
{
    const char *s;
    size_t n;
    int r = jsonv_str(o, key, false, 0, BANTER_MAX_REASON, &s, &n);
    if (!r)
        jsonv_copy(out, s, n);
    return r;
}

static int decode_file_msg(const cJSON *o, msg *m)
{
    int64_t v;
    int r;
    switch (m->type) {
    case MSG_FILE_OFFER:
        return decode_offer(o, &m->u.offer);
    case MSG_FILE_ACCEPT:
        r = get_id(o, "id", m->u.accept.id);
        if (!r)
            r = jsonv_int(o, "offset", 0, JSONV_INT_MAX, &v);
        if (!r)
            m->u.accept.offset = (uint64_t)v;
        if (!r && cJSON_GetObjectItemCaseSensitive(o, "window")) {
            r = jsonv_int(o, "window", 1, JSONV_INT_MAX, &v);
            m->u.accept.window = r ? 0 : (uint64_t)v;
        }
        return r;
    case MSG_FILE_DECLINE:
    case MSG_FILE_CANCEL:
        r = get_id(o, "id", m->u.end.id);
        return r ? r : decode_reason(o, "reason", m->u.end.reason);
    default: { /* MSG_FILE_RESULT */
        const cJSON *ok = cJSON_GetObjectItemCaseSensitive(o, "ok");
        r = get_id(o, "id", m->u.result.id);
        if (!r)
            r = jsonv_int(o, "file", 0, BANTER_MAX_FILES - 1, &v);
        if (r)
            return r;
        if (!cJSON_IsBool(ok))
            return BANTER_ESCHEMA;
        m->u.result.file = (uint32_t)v;
        m->u.result.ok = cJSON_IsTrue(ok);
        return decode_reason(o, "error", m->u.result.error);
    }
    }
}

/* ---- groups ---- */

_Static_assert(MSG_GROUP_DIST_LEN == GKEY_DIST_LEN, "a distribution's length");

/* Exactly standard base64 (with padding, no white space) of 1..max bytes
 * into a malloc'd *out. */
static int get_b64(const cJSON *o, const char *key, size_t max, uint8_t **out, size_t *outlen)
{
    const char *s, *end = NULL;
    size_t n, bin = 0;
    int r = jsonv_str(o, key, true, 4, (max + 2) / 3 * 4, &s, &n);
    if (r)
        return r;
    if (n % 4 != 0)
        return BANTER_ESCHEMA;
    uint8_t *p = malloc(n / 4 * 3);
    if (!p)
        return BANTER_ENOMEM;
    if (sodium_base642bin(p, n / 4 * 3, s, n, NULL, &bin, &end, sodium_base64_VARIANT_ORIGINAL) !=
            0 ||
        end != s + n || bin == 0 || bin > max) {
        free(p);
        return BANTER_ESCHEMA;
    }
    *out = p;
    *outlen = bin;
    return 0;
}

static int add_b64(cJSON *o, const char *key, const uint8_t *p, size_t len)
{
    size_t n = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
    char *s = malloc(n);
    if (!s)
        return BANTER_ENOMEM;
    sodium_bin2base64(s, n, p, len, sodium_base64_VARIANT_ORIGINAL);
    int r = cJSON_AddStringToObject(o, key, s) ? 0 : BANTER_ENOMEM;
    free(s);
    return r;
}

static int decode_group(const cJSON *o, msg *m)
{
    uint8_t *p = NULL;
    size_t n = 0;
    const char *s;
    int r;
    switch (m->type) {
    case MSG_GROUP_KEY:
        r = get_id(o, "id", m->u.gkey.id);
        if (r == 0)
            r = get_b64(o, "dist", MSG_GROUP_DIST_LEN, &p, &n);
        if (r == 0 && n != MSG_GROUP_DIST_LEN)
            r = BANTER_ESCHEMA;
        if (r == 0)
            memcpy(m->u.gkey.dist, p, n);
        if (p)
            sodium_memzero(p, n); /* a chain key */
        free(p);
        return r;
    case MSG_GROUP_MSG:
        r = get_id(o, "id", m->u.gmsg.id);
        if (r == 0)
            r = get_b64(o, "g", MSG_GROUP_SEALED_MAX, &m->u.gmsg.sealed, &m->u.gmsg.len);
        return r;
    default: /* MSG_GROUP_TEXT */
        r = get_id(o, "id", m->u.gtext.id);
        if (!r)
            r = jsonv_int(o, "ts", 0, JSONV_INT_MAX, &m->u.gtext.ts_ms);
        if (!r)
            r = jsonv_int(o, "lc", 0, JSONV_INT_MAX, &m->u.gtext.lc);
        if (!r)
            r = jsonv_str(o, "body", true, 1, BANTER_MAX_BODY, &s, &n);
        if (r)
            return r;
        m->u.gtext.body = malloc(n + 1);
        if (!m->u.gtext.body)
            return BANTER_ENOMEM;
        jsonv_copy(m->u.gtext.body, s, n);
        m->u.gtext.body_len = n;
        return 0;
    }
}

/* {"id":..,"state":{the state}}: the state's object is printed back and
 * checked by gstate_decode. */
static int decode_gstate(const cJSON *o, msg *m)
{
    int r = get_id(o, "id", m->u.gstate.id);
    if (r)
        return r;
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(o, "state");
    if (!cJSON_IsObject(so))
        return BANTER_ESCHEMA;
    char *text = cJSON_PrintUnformatted(so);
    if (!text)
        return BANTER_ENOMEM;
    m->u.gstate.st = malloc(sizeof(gstate));
    r = m->u.gstate.st ? gstate_decode(m->u.gstate.st, text, strlen(text)) : BANTER_ENOMEM;
    free(text);
    return r;
}

static int decode_error(const cJSON *o, struct msg_error *e)
{
    const char *s;
    size_t n;
    int r = jsonv_str(o, "code", true, 1, BANTER_MAX_ERRCODE, &s, &n);
    if (r)
        return r;
    if (!jsonv_plain(s))
        return BANTER_ESCHEMA;
    jsonv_copy(e->code, s, n);
    r = jsonv_str(o, "message", false, 0, BANTER_MAX_REASON, &s, &n);
    if (r)
        return r;
    jsonv_copy(e->message, s, n);
    e->has_id = cJSON_GetObjectItemCaseSensitive(o, "id") != NULL;
    return e->has_id ? get_id(o, "id", e->id) : 0;
}

static int decode_json(msg *m, const char *text, size_t len)
{
    cJSON *o;
    int r = jsonv_parse(text, len, &o);
    if (r)
        return r;
    switch (m->type) {
    case MSG_HELLO:
        r = decode_hello(o, &m->u.hello);
        break;
    case MSG_CHAT:
        r = decode_chat(o, &m->u.chat);
        break;
    case MSG_ACK:
        r = get_id(o, "id", m->u.ack.id);
        break;
    case MSG_BYE: {
        const char *s;
        size_t n;
        r = jsonv_str(o, "reason", false, 0, BANTER_MAX_REASON, &s, &n);
        if (!r)
            jsonv_copy(m->u.bye.reason, s, n);
        break;
    }
    case MSG_ERROR:
        r = decode_error(o, &m->u.error);
        break;
    case MSG_GROUP_STATE:
        r = decode_gstate(o, m);
        break;
    case MSG_GROUP_KEY:
    case MSG_GROUP_MSG:
    case MSG_GROUP_TEXT:
        r = decode_group(o, m);
        break;
    default:
        r = decode_file_msg(o, m);
        break;
    }
    cJSON_Delete(o);
    return r;
}

static int decode_binary(msg *m, const uint8_t *p, size_t len)
{
    cur c = cur_make(p, len);
    if (m->type == MSG_PING || m->type == MSG_PONG) {
        m->u.ping.token = cur_u64be(&c);
    } else if (m->type == MSG_FILE_MARK || m->type == MSG_FILE_STORED) {
        const uint8_t *t = cur_bytes(&c, MSG_ID_LEN);
        m->u.mark.offset = cur_u64be(&c);
        if (t)
            memcpy(m->u.mark.id, t, MSG_ID_LEN);
        int r = cur_finish(&c);
        return r ? r : m->u.mark.offset > BANTER_MAX_FILE_SIZE ? BANTER_ESCHEMA : 0;
    } else { /* MSG_CHUNK */
        const uint8_t *t = cur_bytes(&c, MSG_ID_LEN);
        m->u.chunk.offset = cur_u64be(&c);
        if (t)
            memcpy(m->u.chunk.transfer, t, MSG_ID_LEN);
        m->u.chunk.data = cur_rest(&c, &m->u.chunk.len);
    }
    int r = cur_finish(&c);
    /* A CHUNK's offset counts bytes of a transfer: 0..2^53 (docs/protocol.md). */
    if (!r && m->type == MSG_CHUNK && m->u.chunk.offset > (uint64_t)JSONV_INT_MAX)
        r = BANTER_ESCHEMA;
    return r;
}

int msg_decode(msg *m, const uint8_t *pt, size_t len)
{
    /* A binary type (PING on every keepalive, CHUNK on every block of a
     * file) zeroes only what it uses: the msg is 600 bytes. */
    size_t extent = len ? binary_extent(pt[0]) : 0;
    memset(m, 0, extent ? extent : sizeof *m);
    if (len < 1)
        return BANTER_ETRUNCATED;
    if (!known_type(pt[0]))
        return BANTER_EBADTYPE;
    m->type = (msg_type)pt[0];
    int r = m->type <= MSG_JSON_LAST ? decode_json(m, (const char *)pt + 1, len - 1)
                                     : decode_binary(m, pt + 1, len - 1);
    if (r) {
        msg_clear(m);
        memset(m, 0, sizeof *m); /* a refused message leaves all of m zeroed */
    }
    return r;
}

void msg_clear(msg *m)
{
    if (m->type == MSG_CHAT)
        free(m->u.chat.body);
    if (m->type == MSG_GROUP_STATE)
        free(m->u.gstate.st);
    if (m->type == MSG_GROUP_MSG)
        free(m->u.gmsg.sealed);
    if (m->type == MSG_GROUP_TEXT)
        free(m->u.gtext.body);
    if (m->type == MSG_FILE_OFFER && m->u.offer.files) {
        for (size_t i = 0; i < m->u.offer.nfiles; i++)
            free(m->u.offer.files[i].name);
        free(m->u.offer.files);
    }
    size_t extent = binary_extent((int)m->type);
    memset(m, 0, extent ? extent : sizeof *m);
}

int msg_offer_init(msg *m, const uint8_t id[static MSG_ID_LEN], int64_t ts_ms, size_t n)
{
    memset(m, 0, sizeof *m);
    if (n < 1 || n > BANTER_MAX_FILES)
        return BANTER_EINVAL;
    m->type = MSG_FILE_OFFER;
    m->u.offer.files = calloc(n, sizeof *m->u.offer.files);
    if (!m->u.offer.files)
        return BANTER_ENOMEM;
    memcpy(m->u.offer.id, id, MSG_ID_LEN);
    m->u.offer.ts_ms = ts_ms;
    m->u.offer.nfiles = n;
    return 0;
}

int msg_offer_set_name(msg *m, size_t i, const char *name)
{
    size_t n = strlen(name);
    if (n > BANTER_MAX_PATH)
        return BANTER_ETOOLONG;
    char *copy = malloc(n + 1);
    if (!copy)
        return BANTER_ENOMEM;
    memcpy(copy, name, n + 1);
    free(m->u.offer.files[i].name);
    m->u.offer.files[i].name = copy;
    return 0;
}

bool msg_chat_to_valid(const char *s)
{
    size_t n = strnlen(s, MSG_TO_MAX + 1);
    if (n >= 2 && n <= 1 + BANTER_MAX_NAME && s[0] == '@') {
        for (size_t i = 1; i < n; i++)
            if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
                  s[i] == '_' || s[i] == '-'))
                return false;
        return true;
    }
    if (n != 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

int msg_chat_init(msg *m, const uint8_t id[static MSG_ID_LEN], int64_t ts_ms, const char *body,
                  size_t len, bool broadcast)
{
    memset(m, 0, sizeof *m);
    if (len > BANTER_MAX_BODY)
        return BANTER_ETOOLONG;
    m->type = MSG_CHAT;
    m->u.chat.body = malloc(len + 1);
    if (!m->u.chat.body)
        return BANTER_ENOMEM;
    memcpy(m->u.chat.id, id, MSG_ID_LEN);
    m->u.chat.ts_ms = ts_ms;
    memcpy(m->u.chat.body, body, len);
    m->u.chat.body[len] = '\0';
    m->u.chat.body_len = len;
    m->u.chat.broadcast = broadcast;
    return 0;
}

int msg_gstate_init(msg *m, const uint8_t id[static MSG_ID_LEN], const gstate *st)
{
    memset(m, 0, sizeof *m);
    m->type = MSG_GROUP_STATE;
    memcpy(m->u.gstate.id, id, MSG_ID_LEN);
    m->u.gstate.st = malloc(sizeof *st);
    if (!m->u.gstate.st)
        return BANTER_ENOMEM;
    memcpy(m->u.gstate.st, st, sizeof *st);
    return 0;
}

int msg_gmsg_init(msg *m, const uint8_t id[static MSG_ID_LEN], const uint8_t *sealed, size_t len)
{
    memset(m, 0, sizeof *m);
    if (len == 0)
        return BANTER_EINVAL;
    if (len > MSG_GROUP_SEALED_MAX)
        return BANTER_ETOOBIG;
    m->type = MSG_GROUP_MSG;
    m->u.gmsg.sealed = malloc(len);
    if (!m->u.gmsg.sealed)
        return BANTER_ENOMEM;
    memcpy(m->u.gmsg.id, id, MSG_ID_LEN);
    memcpy(m->u.gmsg.sealed, sealed, len);
    m->u.gmsg.len = len;
    return 0;
}

int msg_gtext_init(msg *m, const uint8_t id[static MSG_ID_LEN], int64_t ts_ms, int64_t lc,
                   const char *body, size_t len)
{
    memset(m, 0, sizeof *m);
    if (len > BANTER_MAX_BODY)
        return BANTER_ETOOLONG;
    m->type = MSG_GROUP_TEXT;
    m->u.gtext.body = malloc(len + 1);
    if (!m->u.gtext.body)
        return BANTER_ENOMEM;
    memcpy(m->u.gtext.id, id, MSG_ID_LEN);
    m->u.gtext.ts_ms = ts_ms;
    m->u.gtext.lc = lc;
    memcpy(m->u.gtext.body, body, len);
    m->u.gtext.body[len] = '\0';
    m->u.gtext.body_len = len;
    return 0;
}

/* ---- encoding ---- */

static int add_id(cJSON *o, const char *key, const uint8_t id[static MSG_ID_LEN])
{
    char hex[2 * MSG_ID_LEN + 1];
    msg_id_to_hex(id, hex);
    return cJSON_AddStringToObject(o, key, hex) ? 0 : BANTER_ENOMEM;
}

static int add_reason(cJSON *o, const char *key, const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    int r = jsonv_check_text(s, n, 0, BANTER_MAX_REASON, false);
    if (r)
        return r;
    return n && !cJSON_AddStringToObject(o, key, s) ? BANTER_ENOMEM : 0;
}

static int build_offer(const struct msg_offer *f, cJSON *o)
{
    char hex[2 * BANTER_FILE_HASHLEN + 1];
    uint64_t total = 0;
    int r;
    if (f->nfiles < 1 || f->nfiles > BANTER_MAX_FILES || !f->files || f->ts_ms < 0)
        return BANTER_ESCHEMA;
    if (add_id(o, "id", f->id))
        return BANTER_ENOMEM;
    r = jsonv_add_int(o, "ts", f->ts_ms);
    if (r)
        return r;
    cJSON *a = cJSON_AddArrayToObject(o, "files");
    if (!a)
        return BANTER_ENOMEM;
    for (size_t i = 0; i < f->nfiles; i++) {
        const struct msg_file *e = &f->files[i];
        if (!e->name)
            return BANTER_ESCHEMA;
        r = jsonv_check_text(e->name, strlen(e->name), 1, BANTER_MAX_PATH, false);
        if (r)
            return r;
        if (e->size > (uint64_t)JSONV_INT_MAX)
            return BANTER_ESCHEMA;
        total += e->size;
        cJSON *it = cJSON_CreateObject();
        if (!it || !cJSON_AddItemToArray(a, it)) {
            cJSON_Delete(it);
            return BANTER_ENOMEM;
        }
        sodium_bin2hex(hex, sizeof hex, e->hash, sizeof e->hash);
        if (!cJSON_AddStringToObject(it, "name", e->name))
            return BANTER_ENOMEM;
        r = jsonv_add_int(it, "size", (int64_t)e->size);
        if (r)
            return r;
        if (!cJSON_AddStringToObject(it, "hash", hex))
            return BANTER_ENOMEM;
    }
    return total > (uint64_t)JSONV_INT_MAX ? BANTER_ESCHEMA : 0;
}

static int build_file_msg(const msg *m, cJSON *o)
{
    switch (m->type) {
    case MSG_FILE_OFFER:
        return build_offer(&m->u.offer, o);
    case MSG_FILE_ACCEPT:
        if (m->u.accept.offset > (uint64_t)JSONV_INT_MAX)
            return BANTER_ESCHEMA;
        if (add_id(o, "id", m->u.accept.id))
            return BANTER_ENOMEM;
        if (m->u.accept.window) {
            if (m->u.accept.window > (uint64_t)JSONV_INT_MAX)
                return BANTER_ESCHEMA;
            int e = jsonv_add_int(o, "window", (int64_t)m->u.accept.window);
            if (e)
                return e;
        }
        return jsonv_add_int(o, "offset", (int64_t)m->u.accept.offset);
    case MSG_FILE_DECLINE:
    case MSG_FILE_CANCEL:
        if (add_id(o, "id", m->u.end.id))
            return BANTER_ENOMEM;
        return add_reason(o, "reason", m->u.end.reason, sizeof m->u.end.reason);
    default: /* MSG_FILE_RESULT */
        if (m->u.result.file >= BANTER_MAX_FILES)
            return BANTER_ESCHEMA;
        if (add_id(o, "id", m->u.result.id) || jsonv_add_int(o, "file", m->u.result.file) ||
            !cJSON_AddBoolToObject(o, "ok", m->u.result.ok))
            return BANTER_ENOMEM;
        return add_reason(o, "error", m->u.result.error, sizeof m->u.result.error);
    }
}

static int build_group(const msg *m, cJSON *o)
{
    int r;
    switch (m->type) {
    case MSG_GROUP_STATE: {
        if (!m->u.gstate.st)
            return BANTER_ESCHEMA;
        buf js;
        cJSON *so = NULL;
        buf_init(&js, BANTER_MAX_JSON);
        r = add_id(o, "id", m->u.gstate.id);
        if (r == 0)
            r = gstate_encode(m->u.gstate.st, &js);
        if (r == 0)
            r = jsonv_parse((const char *)buf_data(&js), buf_len(&js), &so);
        buf_free(&js);
        if (r == 0 && !cJSON_AddItemToObject(o, "state", so)) {
            cJSON_Delete(so);
            r = BANTER_ENOMEM;
        }
        return r;
    }
    case MSG_GROUP_KEY:
        r = add_id(o, "id", m->u.gkey.id);
        return r ? r : add_b64(o, "dist", m->u.gkey.dist, MSG_GROUP_DIST_LEN);
    case MSG_GROUP_MSG:
        if (!m->u.gmsg.sealed || m->u.gmsg.len == 0)
            return BANTER_ESCHEMA;
        if (m->u.gmsg.len > MSG_GROUP_SEALED_MAX)
            return BANTER_ETOOBIG;
        r = add_id(o, "id", m->u.gmsg.id);
        return r ? r : add_b64(o, "g", m->u.gmsg.sealed, m->u.gmsg.len);
    default: { /* MSG_GROUP_TEXT */
        const struct msg_gtext *t = &m->u.gtext;
        if (!t->body || t->ts_ms < 0 || t->lc < 0)
            return BANTER_ESCHEMA;
        r = jsonv_check_text(t->body, t->body_len, 1, BANTER_MAX_BODY, false);
        if (!r)
            r = add_id(o, "id", t->id);
        if (!r)
            r = jsonv_add_int(o, "ts", t->ts_ms);
        if (!r)
            r = jsonv_add_int(o, "lc", t->lc);
        if (r)
            return r;
        return cJSON_AddStringToObject(o, "body", t->body) ? 0 : BANTER_ENOMEM;
    }
    }
}

static int build_json(const msg *m, cJSON *o)
{
    if (m->type >= MSG_FILE_OFFER && m->type <= MSG_FILE_RESULT)
        return build_file_msg(m, o);
    if (m->type >= MSG_GROUP_STATE && m->type <= MSG_GROUP_TEXT)
        return build_group(m, o);
    int r = 0;
    switch (m->type) {
    case MSG_HELLO: {
        const struct msg_hello *h = &m->u.hello;
        if (h->version < 1 || h->version > 255 || h->nfeatures > BANTER_MAX_FEATURES)
            return BANTER_ESCHEMA;
        r = jsonv_check_text(h->name, strnlen(h->name, sizeof h->name), 1, BANTER_MAX_NAME, true);
        if (r)
            return r;
        r = jsonv_add_int(o, "v", h->version);
        if (r)
            return r;
        if (!cJSON_AddStringToObject(o, "name", h->name))
            return BANTER_ENOMEM;
        if (h->nfeatures) {
            cJSON *a = cJSON_AddArrayToObject(o, "features");
            if (!a)
                return BANTER_ENOMEM;
            for (size_t i = 0; i < h->nfeatures; i++) {
                const char *f = h->features[i];
                r = jsonv_check_text(f, strnlen(f, BANTER_MAX_FEATURE + 1), 1, BANTER_MAX_FEATURE,
                                     true);
                if (r)
                    return r;
                cJSON *s = cJSON_CreateString(f);
                if (!s || !cJSON_AddItemToArray(a, s)) {
                    cJSON_Delete(s);
                    return BANTER_ENOMEM;
                }
            }
        }
        return 0;
    }
    case MSG_CHAT: {
        const struct msg_chat *c = &m->u.chat;
        if (!c->body || c->ts_ms < 0)
            return BANTER_ESCHEMA;
        r = jsonv_check_text(c->body, c->body_len, 1, BANTER_MAX_BODY, false);
        if (!r && add_id(o, "id", c->id))
            r = BANTER_ENOMEM;
        if (!r)
            r = jsonv_add_int(o, "ts", c->ts_ms); /* ESCHEMA over 2^53 */
        if (r)
            return r;
        if (!cJSON_AddStringToObject(o, "body", c->body))
            return BANTER_ENOMEM;
        if (c->broadcast && !cJSON_AddTrueToObject(o, "broadcast"))
            return BANTER_ENOMEM;
        if (c->to[0] && (c->broadcast || !msg_chat_to_valid(c->to)))
            return BANTER_ESCHEMA;
        if (c->to[0] && !cJSON_AddStringToObject(o, "to", c->to))
            return BANTER_ENOMEM;
        return 0;
    }
    case MSG_ACK:
        return add_id(o, "id", m->u.ack.id);
    case MSG_BYE: {
        const char *s = m->u.bye.reason;
        size_t n = strnlen(s, sizeof m->u.bye.reason);
        r = jsonv_check_text(s, n, 0, BANTER_MAX_REASON, false);
        if (r)
            return r;
        return n && !cJSON_AddStringToObject(o, "reason", s) ? BANTER_ENOMEM : 0;
    }
    default: { /* MSG_ERROR */
        const struct msg_error *e = &m->u.error;
        size_t n = strnlen(e->message, sizeof e->message);
        r = jsonv_check_text(e->code, strnlen(e->code, sizeof e->code), 1, BANTER_MAX_ERRCODE,
                             true);
        if (!r)
            r = jsonv_check_text(e->message, n, 0, BANTER_MAX_REASON, false);
        if (r)
            return r;
        if (!cJSON_AddStringToObject(o, "code", e->code))
            return BANTER_ENOMEM;
        if (e->has_id && add_id(o, "id", e->id))
            return BANTER_ENOMEM;
        return n && !cJSON_AddStringToObject(o, "message", e->message) ? BANTER_ENOMEM : 0;
    }
    }
}

static int encode_json(const msg *m, buf *out)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return BANTER_ENOMEM;
    int r = build_json(m, o);
    if (r == 0)
        r = jsonv_write(o, (uint8_t)m->type, out);
    cJSON_Delete(o);
    return r;
}

int msg_encode(const msg *m, buf *out)
{
    uint8_t *dst;
    int r;

    if (!known_type((int)m->type))
        return BANTER_EBADTYPE;
    if (m->type <= MSG_JSON_LAST)
        return encode_json(m, out);
    if (m->type == MSG_PING || m->type == MSG_PONG) {
        r = buf_reserve(out, 9, &dst);
        if (r)
            return r;
        dst[0] = (uint8_t)m->type;
        put_u64be(dst + 1, m->u.ping.token);
        buf_commit(out, 9);
        return 0;
    }
    if (m->type == MSG_FILE_MARK || m->type == MSG_FILE_STORED) {
        if (m->u.mark.offset > BANTER_MAX_FILE_SIZE)
            return BANTER_ESCHEMA;
        r = buf_reserve(out, 1 + MSG_ID_LEN + 8, &dst);
        if (r)
            return r;
        dst[0] = (uint8_t)m->type;
        memcpy(dst + 1, m->u.mark.id, MSG_ID_LEN);
        put_u64be(dst + 1 + MSG_ID_LEN, m->u.mark.offset);
        buf_commit(out, 1 + MSG_ID_LEN + 8);
        return 0;
    }
    /* MSG_CHUNK */
    const struct msg_chunk *c = &m->u.chunk;
    if (c->len > BANTER_MAX_CHUNK)
        return BANTER_ETOOBIG;
    if (c->offset > (uint64_t)JSONV_INT_MAX)
        return BANTER_ESCHEMA;
    r = buf_reserve(out, BANTER_CHUNK_HDR + c->len, &dst);
    if (r)
        return r;
    dst[0] = MSG_CHUNK;
    memcpy(dst + 1, c->transfer, MSG_ID_LEN);
    put_u64be(dst + 1 + MSG_ID_LEN, c->offset);
    if (c->len)
        memcpy(dst + BANTER_CHUNK_HDR, c->data, c->len);
    buf_commit(out, BANTER_CHUNK_HDR + c->len);
    return 0;
}
