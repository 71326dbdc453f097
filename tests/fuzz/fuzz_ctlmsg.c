/* SPDX-License-Identifier: MIT */
/*
 * fuzz_ctlmsg.c - libFuzzer target for the control protocol's codec.
 *
 * The input is one request line for ctlmsg_decode(). A refusal must be one
 * of the documented codes with a reason. A request taken must hold what
 * the header promises (terminated strings within their caps, integers in
 * range) and survive a round trip: ctlmsg_encode_request() writes it, the
 * decoder takes that, and writing it again gives the same bytes. The
 * input, when it is UTF-8, is also written as the body and the name of a
 * "message" event, which must then read back as one JSON object, and as
 * an announcement's text (up to its first NUL) in an "announcement" event
 * and an "announcements" reply (refused whole unless UTF-8, else read
 * back). It is
 * also read as the web page's acknowledgement (ctlmsg_decode_ack): a
 * refusal is one of its codes, a number taken is within 0..2^53.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctlmsg.h"
#include "jsonv.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error(int r, const char *why)
{
    switch (r) {
    case BANTER_ETOOBIG:
    case BANTER_EUTF8:
    case BANTER_EJSON:
    case BANTER_ESCHEMA:
    case BANTER_EBADTYPE:
    case BANTER_EINVAL:
    case BANTER_ETOOLONG:
    case BANTER_ENOMEM:
        break;
    default:
        abort();
    }
    if (!why[0])
        abort();
}

/* A char array member: terminated, UTF-8, at most max bytes. */
static void check_chars(const char *s, size_t size, size_t max)
{
    const char *end = memchr(s, '\0', size);
    if (!end || (size_t)(end - s) > max || !utf8_valid(s, (size_t)(end - s)))
        abort();
}

static void check_text(const ctl_text *t, size_t max)
{
    if (!t->s || strlen(t->s) != t->len || t->len > max || !utf8_valid(t->s, t->len))
        abort();
}

static void check_request(const ctl_request *q)
{
    switch (q->kind) {
    case CTL_SEND:
        check_chars(q->u.send.peer, sizeof q->u.send.peer, BANTER_CTL_MAX_PEER);
        check_text(&q->u.send.text, BANTER_MAX_BODY);
        if (q->u.send.wait_ms < 0 || q->u.send.wait_ms > BANTER_CTL_MAX_WAIT_MS)
            abort();
        break;
    case CTL_HISTORY:
        if (q->u.history.limit < 1 || q->u.history.limit > BANTER_CTL_MAX_HISTORY ||
            q->u.history.before < 0 || q->u.history.before > BANTER_MAX_INT)
            abort();
        break;
    case CTL_SEND_FILE:
        if (q->u.send_file.npaths < 1 || q->u.send_file.npaths > BANTER_CTL_MAX_PATHS)
            abort();
        for (size_t i = 0; i < q->u.send_file.npaths; i++) {
            check_text(&q->u.send_file.paths[i], BANTER_CTL_MAX_ABS_PATH);
            if (q->u.send_file.paths[i].s[0] != '/')
                abort();
        }
        break;
    case CTL_LOGIN:
        check_chars(q->u.login.password, sizeof q->u.login.password, RV_PASSWORD_MAX);
        break;
    case CTL_SEARCH:
        if (q->u.search.n < 1 || q->u.search.n > RV_SEARCH_MAX || q->u.search.page < 0 ||
            q->u.search.page > RV_PAGE_MAX || q->u.search.per_page < 1 ||
            q->u.search.per_page > RV_PER_PAGE_MAX)
            abort();
        break;
    case CTL_GROUP_CREATE:
    case CTL_GROUP_INVITE:
        if (q->u.group.nmembers > CTL_MAX_GROUP_MEMBERS ||
            (q->kind == CTL_GROUP_INVITE && q->u.group.nmembers == 0))
            abort();
        for (size_t i = 0; i < q->u.group.nmembers; i++)
            check_chars(q->u.group.members[i], sizeof q->u.group.members[i], BANTER_CTL_MAX_PEER);
        break;
    case CTL_GROUP_SEND:
        check_text(&q->u.group.text, BANTER_MAX_BODY);
        break;
    case CTL_FIND:
        if (q->u.find.limit < 1 || q->u.find.limit > CTL_MAX_GROUP_PAGE || q->u.find.before < 0 ||
            q->u.find.before > BANTER_MAX_INT)
            abort();
        break;
    case CTL_SETTINGS_SET:
        if (q->u.settings.nread > BANTER_CTL_MAX_READ_SET)
            abort();
        for (size_t i = 0; i < q->u.settings.nread; i++)
            if (q->u.settings.read[i].ts < 0 || q->u.settings.read[i].ts > BANTER_MAX_INT)
                abort();
        break;
    default:
        break;
    }
}

static void round_trip(const ctl_request *q)
{
    ctl_request q2;
    char why[CTL_WHY_CAP];
    buf b1, b2;
    buf_init(&b1, BANTER_CTL_MAX_LINE);
    buf_init(&b2, BANTER_CTL_MAX_LINE);
    int r = ctlmsg_encode_request(q, &b1, why, sizeof why);
    /* Escapes in the input may write back longer than the cap. */
    if (r == BANTER_ETOOBIG)
        goto out;
    if (r != 0 ||
        ctlmsg_decode(&q2, (const char *)buf_data(&b1), buf_len(&b1), why, sizeof why) != 0)
        abort();
    if (q2.kind != q->kind)
        abort();
    check_request(&q2);
    if (ctlmsg_encode_request(&q2, &b2, why, sizeof why) != 0 || buf_len(&b2) != buf_len(&b1) ||
        memcmp(buf_data(&b1), buf_data(&b2), buf_len(&b1)) != 0)
        abort();
    ctl_request_clear(&q2);
out:
    buf_free(&b1);
    buf_free(&b2);
}

/* The input as a message event's body and peer name: must read back. */
static void event_from(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    buf b;
    cJSON *o = NULL;
    if (!s)
        return;
    memcpy(s, data, size);
    s[size] = '\0';
    ctl_peer_ref peer = {NULL, "1", s};
    ctl_message m = {.ts = BANTER_MAX_INT, .body = s, .body_len = size};
    ctl_event ev = {.kind = CTL_EV_MESSAGE, .at = 1, .peer = &peer, .message = &m};
    buf_init(&b, 1u << 20);
    int r = ctlmsg_encode_event(&ev, &b);
    bool ok = utf8_valid(s, size) && !memchr(s, '\0', size);
    if (r != (ok ? 0 : BANTER_EUTF8))
        abort();
    if (r == 0) {
        /* Nesting and member count are the codec's own; the object reads. */
        if (jsonv_parse_max((const char *)buf_data(&b), buf_len(&b), SIZE_MAX, &o) != 0)
            abort();
        const cJSON *body = cJSON_GetObjectItemCaseSensitive(o, "body");
        int64_t ts;
        if (!cJSON_IsString(body) || strcmp(body->valuestring, s) != 0 ||
            jsonv_int(o, "ts", 0, BANTER_MAX_INT, &ts) != 0 || ts != BANTER_MAX_INT)
            abort();
        cJSON_Delete(o);
    }
    buf_free(&b);
    free(s);
}

/* The input as an announcement's text, in an event and in a reply. */
static void announcement_from(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return;
    memcpy(s, data, size);
    s[size] = '\0';
    bool ok = utf8_valid(s, strlen(s)); /* a C string: up to its first NUL */
    ctl_announcement a = {1, 2, "ops", s, 3, 0};
    ctl_event ev = {.kind = CTL_EV_ANNOUNCEMENT, .at = 1, .announcement = &a};
    ctl_reply rp = {.kind = CTL_ANNOUNCEMENTS, .u.announcements = {1, &a}};
    for (int i = 0; i < 2; i++) {
        buf b;
        cJSON *o = NULL;
        buf_init(&b, 1u << 20);
        int r = i ? ctlmsg_encode_reply(&rp, &b) : ctlmsg_encode_event(&ev, &b);
        if (r != (ok ? 0 : BANTER_EUTF8) || (r && buf_len(&b)))
            abort();
        if (r == 0) {
            if (jsonv_parse_max((const char *)buf_data(&b), buf_len(&b), SIZE_MAX, &o) != 0)
                abort();
            const cJSON *v =
                i ? cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "announcements"), 0)
                  : cJSON_GetObjectItemCaseSensitive(o, "announcement");
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(v, "text");
            if (!cJSON_IsString(t) || strcmp(t->valuestring, s) != 0)
                abort();
            cJSON_Delete(o);
        }
        buf_free(&b);
    }
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ctl_request q;
    char why[CTL_WHY_CAP];
    int r = ctlmsg_decode(&q, (const char *)data, size, why, sizeof why);
    if (r) {
        check_error(r, why);
    } else {
        if ((unsigned)q.kind >= CTL_KIND_COUNT)
            abort();
        check_request(&q);
        round_trip(&q);
        ctl_request_clear(&q);
    }
    if (size <= 4096) {
        event_from(data, size);
        announcement_from(data, size);
    }
    int64_t n = -1;
    r = ctlmsg_decode_ack((const char *)data, size, &n);
    if (r == 0 && (n < 0 || n > JSONV_INT_MAX))
        abort();
    if (r && r != BANTER_EBADTYPE && r != BANTER_ESCHEMA && r != BANTER_ETOOBIG &&
        r != BANTER_EUTF8 && r != BANTER_EJSON && r != BANTER_ENOMEM)
        abort();
    return 0;
}
