/* SPDX-License-Identifier: MIT */
/*
 * test_xlmsg.c - the messages of a link between rendezvous instances
 * (shared/xlmsg.h): every type round-trips; every malformed one is refused
 * with its code; the peer check accepts an instance of the organisation
 * and refuses another organisation's, a certificate for another key, one
 * not valid at the clock given, garbage, and no certificate from a key
 * that is not the organisation's; and a link's opening, sans I/O: two
 * sessions with the instance keys (randomness handed in) exchange XL_CERT
 * alone (each taking frames of XL_PRE_RX_MAX until it accepted the
 * other's), each checking the other at a clock it is given, then the
 * device lists in an RV_BATCH; nothing but the certificate is taken
 * before it was accepted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "icert.h"
#include "icert_test.h"
#include "rvbatch.h"
#include "session.h"
#include "xlmsg.h"

static uint8_t wbuf[BANTER_MAX_PLAINTEXT + 64];

/* Encode m, decode it back into *out; the size. */
static size_t round_trip(const xlmsg *m, xlmsg *out)
{
    size_t n, n2;
    static uint8_t again[BANTER_MAX_PLAINTEXT];
    assert_int_equal(xlmsg_encode(m, wbuf, sizeof wbuf, &n), 0);
    assert_int_equal(xlmsg_decode(out, wbuf, n), 0);
    assert_int_equal(out->type, m->type);
    assert_int_equal(xlmsg_encode(out, again, sizeof again, &n2), 0);
    assert_int_equal(n2, n);
    assert_memory_equal(again, wbuf, n);
    return n;
}

static xl_fwd sample_fwd(const uint8_t *sealed, size_t len)
{
    xl_fwd f = {.tag = 0x0102030405060708ULL, .flags = 1, .created_ms = 1764763200000LL};
    memset(f.id, 0xaa, sizeof f.id);
    memset(f.to_device, 0xbb, sizeof f.to_device);
    memset(f.from_device, 0xcc, sizeof f.from_device);
    memcpy(f.to_user, "bob", 4);
    memcpy(f.from_user, "ada", 4);
    f.sealed = sealed;
    f.sealed_len = len;
    return f;
}

static void test_round_trips(void **state)
{
    (void)state;
    xlmsg m = {.type = XL_CERT}, d;
    assert_int_equal(round_trip(&m, &d), 1);
    assert_null(d.u.cert.cert);
    uint8_t cert[10] = {1, 2, 3};
    m.u.cert.cert = cert;
    m.u.cert.len = sizeof cert;
    assert_int_equal(round_trip(&m, &d), 11);
    assert_int_equal(d.u.cert.len, 10);

    uint8_t keys[3][32];
    memset(keys, 7, sizeof keys);
    m = (xlmsg){.type = XL_DEV, .u.dev = {.op = XL_DEV_DOWN, .n = 3, .keys = &keys[0][0]}};
    assert_int_equal(round_trip(&m, &d), 2 + 96);
    assert_int_equal(d.u.dev.op, XL_DEV_DOWN);
    assert_int_equal(d.u.dev.n, 3);

    const uint8_t sealed[5] = {9, 8, 7, 6, 5};
    m = (xlmsg){.type = XL_FWD};
    m.u.fwd = sample_fwd(sealed, sizeof sealed);
    assert_int_equal(round_trip(&m, &d), XL_FWD_FIXED + 3 + 3 + 5);
    assert_int_equal(d.u.fwd.tag, m.u.fwd.tag);
    assert_int_equal(d.u.fwd.created_ms, m.u.fwd.created_ms);
    assert_string_equal(d.u.fwd.to_user, "bob");
    assert_string_equal(d.u.fwd.from_user, "ada");
    assert_int_equal(d.u.fwd.flags, 1);
    assert_int_equal(d.u.fwd.sealed_len, 5);
    assert_memory_equal(d.u.fwd.sealed, sealed, 5);
    assert_memory_equal(d.u.fwd.to_device, m.u.fwd.to_device, 32);

    m = (xlmsg){.type = XL_ANS, .u.ans = {.tag = 42, .fate = 1}};
    assert_int_equal(round_trip(&m, &d), 11);
    assert_int_equal(d.u.ans.tag, 42);
    assert_int_equal(d.u.ans.fate, 1);
    m.u.ans.fate = 2;
    memcpy(m.u.ans.error, "EQUOTA", 7);
    assert_int_equal(round_trip(&m, &d), 17);
    assert_string_equal(d.u.ans.error, "EQUOTA");
}

static void test_malformed(void **state)
{
    (void)state;
    xlmsg d;
    assert_int_equal(xlmsg_decode(&d, wbuf, 0), BANTER_ETRUNCATED);
    const uint8_t unknown[] = {0x09, 1};
    assert_int_equal(xlmsg_decode(&d, unknown, sizeof unknown), BANTER_EBADTYPE);
    const uint8_t batch[] = {RV_BATCH, 0, 1, 1};
    assert_int_equal(xlmsg_decode(&d, batch, sizeof batch), BANTER_EBADTYPE);

    /* XL_DEV: op, count, whole keys */
    uint8_t dev[2 + 64] = {XL_DEV, XL_DEV_UP};
    assert_int_equal(xlmsg_decode(&d, dev, 2), BANTER_ESCHEMA); /* no key */
    assert_int_equal(xlmsg_decode(&d, dev, 2 + 31), BANTER_ETRUNCATED);
    assert_int_equal(xlmsg_decode(&d, dev, 2 + 64), 0);
    dev[1] = 3;
    assert_int_equal(xlmsg_decode(&d, dev, 2 + 64), BANTER_ESCHEMA);
    assert_int_equal(xlmsg_decode(&d, dev, 1), BANTER_ETRUNCATED);
    static uint8_t many[2 + 32 * (XL_DEV_MAX + 1)] = {XL_DEV, XL_DEV_UP};
    assert_int_equal(xlmsg_decode(&d, many, 2 + 32 * XL_DEV_MAX), 0);
    assert_int_equal(xlmsg_decode(&d, many, sizeof many), BANTER_ESCHEMA);

    /* XL_FWD: every field */
    const uint8_t sealed[3] = {1, 2, 3};
    xlmsg m = {.type = XL_FWD};
    m.u.fwd = sample_fwd(sealed, sizeof sealed);
    size_t n;
    assert_int_equal(xlmsg_encode(&m, wbuf, sizeof wbuf, &n), 0);
    for (size_t cut = 1; cut < n - 3; cut++)
        assert_int_not_equal(xlmsg_decode(&d, wbuf, cut), 0);
    assert_int_equal(xlmsg_decode(&d, wbuf, n - 3), BANTER_ESCHEMA); /* no sealed byte */
    uint8_t bad[256];
    memcpy(bad, wbuf, n);
    size_t to_len_at = 1 + 8 + 16 + 1 + 8;
    bad[to_len_at + 2] = 0; /* a NUL in the name */
    assert_int_equal(xlmsg_decode(&d, bad, n), BANTER_ESCHEMA);
    memcpy(bad, wbuf, n);
    bad[to_len_at] = 0; /* an empty name: the rest shifts, still refused */
    assert_int_not_equal(xlmsg_decode(&d, bad, n), 0);
    memcpy(bad, wbuf, n);
    bad[1 + 8 + 16 + 1] = 0x01; /* created_ms past 2^53 */
    assert_int_equal(xlmsg_decode(&d, bad, n), BANTER_ESCHEMA);
    m.u.fwd.created_ms = -1;
    assert_int_equal(xlmsg_encode(&m, wbuf, sizeof wbuf, &n), BANTER_ESCHEMA);
    m.u.fwd = sample_fwd(sealed, 0);
    assert_int_equal(xlmsg_encode(&m, wbuf, sizeof wbuf, &n), BANTER_ESCHEMA);
    m.u.fwd.to_user[0] = '\0';
    m.u.fwd.sealed_len = 1;
    assert_int_equal(xlmsg_encode(&m, wbuf, sizeof wbuf, &n), BANTER_ESCHEMA);
    /* Too large for one RV_SEALED: refused both ways. */
    static uint8_t big[BANTER_MAX_PLAINTEXT];
    m.u.fwd = sample_fwd(big, BANTER_MAX_PLAINTEXT - XL_FWD_FIXED - 6 + 1);
    assert_int_equal(xlmsg_encode(&m, wbuf, sizeof wbuf, &n), BANTER_ETOOBIG);
    m.u.fwd.sealed_len--;
    assert_int_equal(xlmsg_encode(&m, wbuf, sizeof wbuf, &n), 0);
    assert_int_equal(xlmsg_decode(&d, wbuf, n), 0);
    assert_int_equal(xlmsg_encode(&m, wbuf, n - 1, &n), BANTER_ETOOBIG); /* short buffer */

    /* XL_ANS: fate and error go together */
    uint8_t ans[12 + 33] = {XL_ANS, 0, 0, 0, 0, 0, 0, 0, 5, 2, 0};
    assert_int_equal(xlmsg_decode(&d, ans, 11), BANTER_ESCHEMA); /* refused, no error */
    ans[9] = 3;
    assert_int_equal(xlmsg_decode(&d, ans, 11), BANTER_ESCHEMA); /* no such fate */
    ans[9] = 1;
    ans[10] = 2;
    memcpy(ans + 11, "EX", 2);
    assert_int_equal(xlmsg_decode(&d, ans, 13), BANTER_ESCHEMA); /* error when delivered */
    ans[9] = 2;
    assert_int_equal(xlmsg_decode(&d, ans, 13), 0);
    assert_string_equal(d.u.ans.error, "EX");
    assert_int_equal(xlmsg_decode(&d, ans, 14), BANTER_ETRAILING);
    assert_int_equal(xlmsg_decode(&d, ans, 12), BANTER_ETRUNCATED);
    memcpy(ans + 11, "e\n", 2);
    assert_int_equal(xlmsg_decode(&d, ans, 13), BANTER_ESCHEMA); /* not A-Z 0-9 */
    ans[10] = 33;
    memset(ans + 11, 'E', 33);
    assert_int_equal(xlmsg_decode(&d, ans, 44), BANTER_ESCHEMA); /* too long */

    uint8_t cert[1 + ICERT_LEN_MAX + 1] = {XL_CERT};
    assert_int_equal(xlmsg_decode(&d, cert, sizeof cert), BANTER_ETOOBIG);
}

static void test_peer_check(void **state)
{
    (void)state;
    identity *org = icert_test_key(1), *other = icert_test_key(2), *inst = icert_test_key(3),
             *inst2 = icert_test_key(4);
    const uint8_t *ik = identity_public(inst);
    uint8_t c[ICERT_LEN_MAX], c2[ICERT_LEN_MAX];
    char name[BANTER_MAX_NAME + 1];
    size_t n = icert_test_make(c, org, ik, "rdv-b", 1000, 5000);
    assert_int_equal(xlmsg_peer_check(c, n, identity_public(org), ik, 2000, name), 0);
    assert_string_equal(name, "rdv-b");
    /* the clock given decides */
    assert_int_equal(xlmsg_peer_check(c, n, identity_public(org), ik, 999, name), BANTER_ETIMEDOUT);
    assert_int_equal(xlmsg_peer_check(c, n, identity_public(org), ik, 7000, name),
                     BANTER_ETIMEDOUT);
    /* proved another key than the certificate's */
    assert_int_equal(
        xlmsg_peer_check(c, n, identity_public(org), identity_public(inst2), 2000, name),
        BANTER_EKEYMISMATCH);
    /* another organisation's instance */
    size_t n2 = icert_test_make(c2, other, ik, "rdv-x", 1000, 5000);
    assert_int_equal(xlmsg_peer_check(c2, n2, identity_public(org), ik, 2000, name),
                     BANTER_EKEYMISMATCH);
    assert_string_equal(name, "");
    /* a forged signature, garbage */
    c[n - 1] ^= 1;
    assert_int_equal(xlmsg_peer_check(c, n, identity_public(org), ik, 2000, name),
                     BANTER_EIDENTITY);
    assert_int_equal(xlmsg_peer_check(c, 7, identity_public(org), ik, 2000, name),
                     BANTER_EIDENTITY);
    /* no certificate: only the organisation key itself */
    assert_int_equal(
        xlmsg_peer_check(NULL, 0, identity_public(org), identity_public(org), 2000, name), 0);
    assert_string_equal(name, "main");
    assert_int_equal(xlmsg_peer_check(NULL, 0, identity_public(org), ik, 2000, name),
                     BANTER_EIDENTITY);
    identity_free(org);
    identity_free(other);
    identity_free(inst);
    identity_free(inst2);
}

/* ---- a link's opening, sans I/O ---- */

/* Deterministic randomness handed to the sessions. */
static void fill(void *ctx, uint8_t *out, size_t len)
{
    uint8_t *ctr = ctx;
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)(*ctr * 31u + i);
    (*ctr)++;
}

struct side {
    session *s;
    identity *me;
    const uint8_t *cert;
    size_t cert_len;
    int verdict; /* 1 before the peer's certificate came */
    char name[BANTER_MAX_NAME + 1];
    size_t devs;
    uint8_t more[8 * 32]; /* more device keys */
    int err;              /* what ended the link on this side */
};

/* What one side does with an event, as rendezvous/xlink.c does: at
 * ESTABLISHED it sends its certificate alone and takes small frames; a
 * certificate is checked at now_ms against org, and once accepted the
 * side takes any frame and sends its devices (a batch of two lists). */
static void send_pt(struct side *p, const xlmsg *m, rvbatch *bt)
{
    uint8_t out[512];
    size_t n;
    assert_int_equal(xlmsg_encode(m, out, sizeof out, &n), 0);
    if (bt)
        assert_int_equal(rvbatch_add(bt, out, n), 0);
    else
        assert_int_equal(session_send(p->s, out, n), 0);
}

static void on_event(struct side *p, const session_event *ev, const uint8_t *org, int64_t now_ms)
{
    if (ev->type == SESSION_EV_ESTABLISHED) {
        session_set_rx_max(p->s, XL_PRE_RX_MAX);
        xlmsg m = {.type = XL_CERT, .u.cert = {.cert = p->cert, .len = p->cert_len}};
        send_pt(p, &m, NULL);
        return;
    }
    xlmsg m;
    if (p->verdict != 0) { /* only the certificate, alone */
        assert_int_equal(xlmsg_decode(&m, ev->data, ev->len), 0);
        assert_int_equal(m.type, XL_CERT);
        p->verdict =
            xlmsg_peer_check(m.u.cert.cert, m.u.cert.len, org, session_peer(p->s), now_ms, p->name);
        if (p->verdict == 0) {
            session_set_rx_max(p->s, 65535);
            rvbatch bt;
            size_t len;
            rvbatch_init(&bt);
            m = (xlmsg){.type = XL_DEV,
                        .u.dev = {.op = XL_DEV_UP, .n = 1, .keys = identity_public(p->me)}};
            send_pt(p, &m, &bt);
            m.u.dev.keys = p->more;
            m.u.dev.n = 8;
            send_pt(p, &m, &bt);
            const uint8_t *pt = rvbatch_plaintext(&bt, &len);
            assert_true(len > XL_PRE_RX_MAX); /* could not have come with the certificate */
            assert_int_equal(session_send(p->s, pt, len), 0);
            rvbatch_free(&bt);
        }
        return;
    }
    size_t count, ml;
    const uint8_t *item;
    assert_int_equal(rvbatch_check(ev->data, ev->len, &count), 0);
    rvbatch_iter it = rvbatch_iter_make(ev->data, ev->len);
    while (rvbatch_next(&it, &item, &ml)) {
        assert_int_equal(xlmsg_decode(&m, item, ml), 0);
        assert_int_equal(m.type, XL_DEV);
        p->devs += m.u.dev.n;
    }
}

/* Move what a has to write into b, handling b's events. */
static void pump(struct side *a, struct side *b, const uint8_t *org, int64_t now_ms)
{
    size_t len;
    const uint8_t *p = session_out(a->s, &len);
    if (!p)
        return;
    size_t off = 0;
    while (b->err == 0) { /* an error ends the link (xlink.c closes it) */
        size_t used;
        session_event ev;
        int r = session_feed(b->s, p + off, len - off, &used, &ev);
        off += used;
        if (r < 0)
            b->err = r;
        else if (r == 1)
            on_event(b, &ev, org, now_ms);
        else if (off >= len)
            break;
    }
    session_out_consume(a->s, len);
}

static void open_link(identity *org, identity *ka, identity *kb, const uint8_t *ca, size_t la,
                      const uint8_t *cb, size_t lb, int64_t now_ms, struct side *a, struct side *b)
{
    static uint8_t ctr;
    banter_rng rng = {fill, &ctr};
    *a = (struct side){.me = ka, .cert = ca, .cert_len = la, .verdict = 1};
    *b = (struct side){.me = kb, .cert = cb, .cert_len = lb, .verdict = 1};
    session_config sa = {.role = NOISE_INITIATOR, .id = ka, .rng = rng};
    session_config sb = {.role = NOISE_RESPONDER, .id = kb, .rng = rng};
    assert_int_equal(session_new(&a->s, &sa), 0);
    assert_int_equal(session_new(&b->s, &sb), 0);
    for (int i = 0; i < 4; i++) {
        pump(a, b, identity_public(org), now_ms);
        pump(b, a, identity_public(org), now_ms);
    }
    session_free(a->s);
    session_free(b->s);
}

static void test_link_opening(void **state)
{
    (void)state;
    identity *org = icert_test_key(1), *other = icert_test_key(2), *ka = icert_test_key(3),
             *kb = icert_test_key(4);
    uint8_t ca[ICERT_LEN_MAX], cb[ICERT_LEN_MAX], cx[ICERT_LEN_MAX];
    size_t la = icert_test_make(ca, org, identity_public(ka), "rdv-a", 1000, 100000);
    size_t lb = icert_test_make(cb, org, identity_public(kb), "rdv-b", 1000, 100000);
    size_t lx = icert_test_make(cx, other, identity_public(kb), "rdv-b", 1000, 100000);
    struct side a, b;
    open_link(org, ka, kb, ca, la, cb, lb, 5000, &a, &b);
    assert_int_equal(a.verdict, 0);
    assert_int_equal(b.verdict, 0);
    assert_string_equal(a.name, "rdv-b");
    assert_string_equal(b.name, "rdv-a");
    assert_int_equal(a.devs, 9);
    assert_int_equal(b.devs, 9);
    assert_int_equal(a.err, 0);
    assert_int_equal(b.err, 0);
    /* b is another organisation's: a refuses it (b, of its own org key
     * "other", would refuse a too), and takes none of its devices */
    open_link(org, ka, kb, ca, la, cx, lx, 5000, &a, &b);
    assert_int_equal(a.verdict, BANTER_EKEYMISMATCH);
    assert_int_equal(a.devs, 0);
    /* b accepted a and sent its devices: a, not having accepted b, takes
     * no frame that large (the link ends there) */
    assert_int_equal(b.verdict, 0);
    assert_int_equal(a.err, BANTER_ETOOBIG);
    /* b presents a's certificate: not for the key it proved */
    open_link(org, ka, kb, ca, la, ca, la, 5000, &a, &b);
    assert_int_equal(a.verdict, BANTER_EKEYMISMATCH);
    /* the clock handed in is past the certificates */
    open_link(org, ka, kb, ca, la, cb, lb, 200000, &a, &b);
    assert_int_equal(a.verdict, BANTER_ETIMEDOUT);
    assert_int_equal(b.verdict, BANTER_ETIMEDOUT);
    identity_free(org);
    identity_free(other);
    identity_free(ka);
    identity_free(kb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_peer_check),
        cmocka_unit_test(test_link_opening),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
