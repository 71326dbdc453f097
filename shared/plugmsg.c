/* SPDX-License-Identifier: MIT */
/* plugmsg.c - the plug-in host protocol codec (see plugmsg.h). */
#include "plugmsg.h"

#include <stdlib.h>
#include <string.h>

#include "utf8.h"

/* The fields a type carries, in wire order. */
typedef enum field {
    F_END,
    F_MAJOR,
    F_MINOR,
    F_LEVEL,
    F_KIND,
    F_MASK,
    F_NUM,
    F_STATUS,
    F_NAME,    /* 1..PLUG_MAX_NAME */
    F_VERSION, /* 0..PLUG_MAX_NAME */
    F_CONTACT, /* SEND: 1..; EVENT: 0..PLUG_MAX_CONTACT */
    F_TEXT,    /* 0..the type's cap */
    F_ID,      /* 0..PLUG_MAX_ID */
    F_LABEL,   /* 0..PLUG_MAX_CONTACT, into name */
    F_CONF,    /* u16 count, then key/value pairs */
} field;

#define MAX_FIELDS 5

typedef struct type_def {
    plug_type type;
    size_t text_max;     /* F_TEXT's cap */
    bool contact_needed; /* F_CONTACT must not be empty */
    field f[MAX_FIELDS];
} type_def;

/* The one table of message types: what each carries. */
static const type_def TYPES[] = {
    {PLUG_HELLO, PLUG_MAX_LINE, false, {F_MAJOR, F_MINOR, F_NAME, F_VERSION, F_TEXT}},
    {PLUG_LOG, PLUG_MAX_LINE, false, {F_LEVEL, F_TEXT}},
    {PLUG_SEND, BANTER_MAX_BODY, true, {F_NUM, F_CONTACT, F_TEXT}},
    {PLUG_SUBSCRIBE, 0, false, {F_MASK}},
    {PLUG_PONG, 0, false, {F_NUM}},
    {PLUG_STOP, PLUG_MAX_LINE, false, {F_TEXT}},
    {PLUG_FAIL, PLUG_MAX_LINE, false, {F_TEXT}},
    {PLUG_CONFIG, 0, false, {F_CONF}},
    {PLUG_EVENT, BANTER_MAX_BODY, false, {F_KIND, F_CONTACT, F_LABEL, F_TEXT, F_ID}},
    {PLUG_SEND_RESULT, PLUG_MAX_LINE, false, {F_NUM, F_STATUS, F_TEXT}},
    {PLUG_PING, 0, false, {F_NUM}},
    {PLUG_QUIT, 0, false, {F_END}},
};

static const type_def *find_type(unsigned t, plug_side from)
{
    bool host_type = t >= 0x01 && t <= 0x3f;
    if (host_type != (from == PLUG_FROM_HOST))
        return NULL;
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++)
        if ((unsigned)TYPES[i].type == t)
            return &TYPES[i];
    return NULL;
}

/* Text a person or a log may see: UTF-8, no NUL, no control byte but tab
 * and newline. */
static int check_text(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
            return BANTER_EUTF8;
    }
    return utf8_valid(s, len) ? 0 : BANTER_EUTF8;
}

static int check_str(const char *s, size_t len, size_t min, size_t max)
{
    if (len > max)
        return BANTER_ETOOLONG;
    if (len < min)
        return BANTER_EINVAL;
    return check_text(s, len);
}

/* A configuration key: 1..PLUG_MAX_KEY of [a-z0-9_.-]. */
static int check_key(const char *s, size_t len)
{
    if (len == 0)
        return BANTER_EINVAL;
    if (len > PLUG_MAX_KEY)
        return BANTER_ETOOLONG;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return BANTER_EINVAL;
    }
    return 0;
}

/* ---- decode ---- */

typedef struct dec {
    cur c;
    char *mem; /* where strings are copied, NUL-terminated */
    size_t used, cap;
} dec;

static uint32_t get_u32(cur *c)
{
    uint32_t hi = cur_u16be(c);
    return hi << 16 | cur_u16be(c);
}

/* A string of min..max bytes, copied out; check: check_str or check_key. */
static int get_str(dec *d, const char **out, size_t min, size_t max, bool key)
{
    size_t len = cur_u16be(&d->c);
    const uint8_t *p = cur_bytes(&d->c, len);
    if (!p)
        return BANTER_ETRUNCATED;
    int r = key ? check_key((const char *)p, len) : check_str((const char *)p, len, min, max);
    if (r)
        return r;
    if (d->used + len + 1 > d->cap) /* cannot happen: cap is the frame's length + fields */
        return BANTER_ETOOBIG;
    char *s = d->mem + d->used;
    memcpy(s, p, len);
    s[len] = '\0';
    d->used += len + 1;
    *out = s;
    return 0;
}

static int get_conf(dec *d, plugmsg *m)
{
    size_t n = cur_u16be(&d->c);
    if (cur_finish(&d->c) == BANTER_ETRUNCATED)
        return BANTER_ETRUNCATED;
    if (n > PLUG_MAX_CONF)
        return BANTER_ETOOLONG;
    for (size_t i = 0; i < n; i++) {
        int r = get_str(d, &m->key[i], 1, PLUG_MAX_KEY, true);
        if (r == 0)
            r = get_str(d, &m->value[i], 0, PLUG_MAX_LINE, false);
        if (r)
            return r;
        for (size_t j = 0; j < i; j++)
            if (strcmp(m->key[j], m->key[i]) == 0)
                return BANTER_EINVAL;
        m->nconf = i + 1;
    }
    return 0;
}

static int get_field(dec *d, const type_def *t, field f, plugmsg *m)
{
    switch (f) {
    case F_END:
        return 0;
    case F_MAJOR:
        m->major = cur_u16be(&d->c);
        return 0;
    case F_MINOR:
        m->minor = cur_u16be(&d->c);
        return 0;
    case F_LEVEL:
        m->level = cur_u8(&d->c);
        return m->level > PLUG_MAX_LEVEL ? BANTER_EINVAL : 0;
    case F_KIND:
        m->kind = cur_u8(&d->c);
        return m->kind > PLUG_MAX_KIND ? BANTER_EINVAL : 0;
    case F_MASK:
        m->mask = get_u32(&d->c);
        return m->mask >> (PLUG_MAX_KIND + 1) ? BANTER_EINVAL : 0;
    case F_NUM:
        m->num = cur_u64be(&d->c);
        return m->num == 0 || m->num > (uint64_t)BANTER_MAX_INT ? BANTER_EINVAL : 0;
    case F_STATUS:
        m->status = cur_u16be(&d->c);
        return 0;
    case F_NAME:
        return get_str(d, &m->name, 1, PLUG_MAX_NAME, false);
    case F_VERSION:
        return get_str(d, &m->version, 0, PLUG_MAX_NAME, false);
    case F_CONTACT:
        return get_str(d, &m->contact, t->contact_needed ? 1 : 0, PLUG_MAX_CONTACT, false);
    case F_TEXT:
        return get_str(d, &m->text, 0, t->text_max, false);
    case F_ID:
        return get_str(d, &m->id, 0, PLUG_MAX_ID, false);
    case F_LABEL:
        return get_str(d, &m->name, 0, PLUG_MAX_CONTACT, false);
    case F_CONF:
        return get_conf(d, m);
    }
    return BANTER_EINVAL;
}

int plugmsg_frame(const uint8_t *p, size_t n, size_t *len)
{
    *len = 0;
    if (n < PLUG_HDR)
        return 0;
    uint32_t body = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    if (body == 0 || body > PLUG_MAX_FRAME)
        return BANTER_ETOOBIG;
    if (n >= PLUG_HDR + body)
        *len = PLUG_HDR + body;
    return 0;
}

int plugmsg_decode(plugmsg *m, const uint8_t *p, size_t n, plug_side from)
{
    int ret = BANTER_ETRUNCATED;
    dec d = {.c = cur_make(p, n)};
    memset(m, 0, sizeof *m);
    if (n == 0)
        return BANTER_ETRUNCATED;
    if (n > PLUG_MAX_FRAME)
        return BANTER_ETOOBIG;
    const type_def *t = find_type(cur_u8(&d.c), from);
    if (!t)
        return BANTER_EBADTYPE;
    m->type = t->type;
    /* Every string takes at least its 2-byte length, which becomes a NUL. */
    d.cap = n + 1;
    d.mem = malloc(d.cap);
    if (!d.mem)
        return BANTER_ENOMEM;
    m->mem = d.mem;
    for (size_t i = 0; i < MAX_FIELDS && t->f[i] != F_END; i++) {
        ret = get_field(&d, t, t->f[i], m);
        if (cur_finish(&d.c) == BANTER_ETRUNCATED) /* before what a zeroed field means */
            ret = BANTER_ETRUNCATED;
        if (ret)
            goto out;
    }
    ret = cur_finish(&d.c);
out:
    if (ret)
        plugmsg_clear(m);
    return ret;
}

void plugmsg_clear(plugmsg *m)
{
    if (!m)
        return;
    free(m->mem);
    memset(m, 0, sizeof *m);
}

/* ---- encode ---- */

static int put_u8(buf *b, uint8_t v) { return buf_append(b, &v, 1); }

static int put_u16(buf *b, uint16_t v)
{
    uint8_t p[2];
    put_u16be(p, v);
    return buf_append(b, p, 2);
}

static int put_u32(buf *b, uint32_t v)
{
    int r = put_u16(b, (uint16_t)(v >> 16));
    return r ? r : put_u16(b, (uint16_t)v);
}

static int put_u64(buf *b, uint64_t v)
{
    uint8_t p[8];
    put_u64be(p, v);
    return buf_append(b, p, 8);
}

static int put_str(buf *b, const char *s, size_t min, size_t max, bool key)
{
    s = s ? s : "";
    size_t len = strlen(s);
    int r = key ? check_key(s, len) : check_str(s, len, min, max);
    if (r == 0)
        r = put_u16(b, (uint16_t)len);
    return r ? r : buf_append(b, s, len);
}

static int put_conf(buf *b, const plugmsg *m)
{
    if (m->nconf > PLUG_MAX_CONF)
        return BANTER_ETOOLONG;
    int r = put_u16(b, (uint16_t)m->nconf);
    for (size_t i = 0; r == 0 && i < m->nconf; i++) {
        for (size_t j = 0; j < i; j++)
            if (m->key[i] && m->key[j] && strcmp(m->key[j], m->key[i]) == 0)
                return BANTER_EINVAL;
        r = put_str(b, m->key[i], 1, PLUG_MAX_KEY, true);
        if (r == 0)
            r = put_str(b, m->value[i], 0, PLUG_MAX_LINE, false);
    }
    return r;
}

static int put_field(buf *b, const type_def *t, field f, const plugmsg *m)
{
    switch (f) {
    case F_END:
        return 0;
    case F_MAJOR:
        return put_u16(b, m->major);
    case F_MINOR:
        return put_u16(b, m->minor);
    case F_LEVEL:
        return m->level > PLUG_MAX_LEVEL ? BANTER_EINVAL : put_u8(b, m->level);
    case F_KIND:
        return m->kind > PLUG_MAX_KIND ? BANTER_EINVAL : put_u8(b, m->kind);
    case F_MASK:
        return m->mask >> (PLUG_MAX_KIND + 1) ? BANTER_EINVAL : put_u32(b, m->mask);
    case F_NUM:
        return m->num == 0 || m->num > (uint64_t)BANTER_MAX_INT ? BANTER_EINVAL
                                                                : put_u64(b, m->num);
    case F_STATUS:
        return put_u16(b, m->status);
    case F_NAME:
        return put_str(b, m->name, 1, PLUG_MAX_NAME, false);
    case F_VERSION:
        return put_str(b, m->version, 0, PLUG_MAX_NAME, false);
    case F_CONTACT:
        return put_str(b, m->contact, t->contact_needed ? 1 : 0, PLUG_MAX_CONTACT, false);
    case F_TEXT:
        return put_str(b, m->text, 0, t->text_max, false);
    case F_ID:
        return put_str(b, m->id, 0, PLUG_MAX_ID, false);
    case F_LABEL:
        return put_str(b, m->name, 0, PLUG_MAX_CONTACT, false);
    case F_CONF:
        return put_conf(b, m);
    }
    return BANTER_EINVAL;
}

int plugmsg_encode(const plugmsg *m, buf *out)
{
    int ret = BANTER_EBADTYPE;
    const type_def *t = find_type((unsigned)m->type, PLUG_FROM_HOST);
    if (!t)
        t = find_type((unsigned)m->type, PLUG_FROM_NODE);
    if (!t)
        return BANTER_EBADTYPE;
    buf tmp;
    buf_init(&tmp, PLUG_MAX_FRAME);
    ret = put_u8(&tmp, (uint8_t)m->type);
    for (size_t i = 0; ret == 0 && i < MAX_FIELDS && t->f[i] != F_END; i++)
        ret = put_field(&tmp, t, t->f[i], m);
    if (ret)
        goto out;
    size_t n = buf_len(&tmp);
    uint8_t hdr[PLUG_HDR] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    uint8_t *dst;
    ret = buf_reserve(out, PLUG_HDR + n, &dst);
    if (ret)
        goto out;
    memcpy(dst, hdr, PLUG_HDR);
    memcpy(dst + PLUG_HDR, buf_data(&tmp), n);
    buf_commit(out, PLUG_HDR + n);
out:
    buf_free(&tmp);
    return ret == BANTER_ETOOBIG ? BANTER_ETOOBIG : ret;
}
