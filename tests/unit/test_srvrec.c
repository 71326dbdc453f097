/* SPDX-License-Identifier: MIT */
/*
 * test_srvrec.c - DNS SRV answers: the targets of a real answer (with
 * name compression), "." skipped, other types skipped, bad messages
 * refused; the try order: priority first, weights drawn in proportion.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "srvrec.h"

static size_t put_name(uint8_t *p, const char *dotted)
{
    size_t o = 0;
    while (*dotted) {
        size_t l = strcspn(dotted, ".");
        p[o++] = (uint8_t)l;
        memcpy(p + o, dotted, l);
        o += l;
        dotted += l;
        if (*dotted == '.')
            dotted++;
    }
    p[o++] = 0;
    return o;
}

/* An answer to _banter._tcp.ex with SRV records (prio, weight, port,
 * target; target NULL: a compression pointer to "ex" in the question). */
typedef struct rec {
    uint16_t prio, weight, port, type;
    const char *target;
} rec;

static size_t answer(uint8_t *p, const rec *r, size_t n)
{
    size_t o = 0;
    uint8_t hdr[12] = {0x12, 0x34, 0x81, 0x80, 0, 1, 0, (uint8_t)n, 0, 0, 0, 0};
    memcpy(p, hdr, 12);
    o = 12;
    o += put_name(p + o, "_banter._tcp.ex");
    uint8_t q[4] = {0, 33, 0, 1};
    memcpy(p + o, q, 4);
    o += 4;
    for (size_t i = 0; i < n; i++) {
        uint8_t a[10] = {0xc0, 12, (uint8_t)(r[i].type >> 8), (uint8_t)r[i].type, 0, 1, 0, 0, 1, 0};
        memcpy(p + o, a, 10);
        o += 10;
        size_t lenpos = o;
        o += 2;
        uint8_t f[6] = {(uint8_t)(r[i].prio >> 8),   (uint8_t)r[i].prio,
                        (uint8_t)(r[i].weight >> 8), (uint8_t)r[i].weight,
                        (uint8_t)(r[i].port >> 8),   (uint8_t)r[i].port};
        size_t start = o;
        if (r[i].type == 33) {
            memcpy(p + o, f, 6);
            o += 6;
        }
        if (r[i].target) {
            o += put_name(p + o, r[i].target);
        } else { /* "a." then a pointer to "ex" (offset 12 + 8 + 5) */
            p[o++] = 1;
            p[o++] = 'a';
            p[o++] = 0xc0;
            p[o++] = 12 + 8 + 5;
        }
        p[lenpos] = (uint8_t)((o - start) >> 8);
        p[lenpos + 1] = (uint8_t)(o - start);
    }
    return o;
}

static void test_parse(void **state)
{
    (void)state;
    uint8_t p[1024];
    rec r[] = {{10, 5, 7071, 33, "rdv1.ex"},
               {0, 0, 7072, 33, NULL},
               {0, 0, 0, 1, "1.2.3.4"}, /* an A record: skipped */
               {20, 0, 0, 33, ""}};     /* ".": not offered */
    size_t len = answer(p, r, 4), n;
    srvrec out[8];
    assert_int_equal(srvrec_parse(p, len, out, 8, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(out[0].host, "rdv1.ex");
    assert_int_equal(out[0].port, 7071);
    assert_int_equal(out[0].priority, 10);
    assert_int_equal(out[0].weight, 5);
    assert_string_equal(out[1].host, "a.ex");
    assert_int_equal(out[1].port, 7072);
    assert_int_equal(srvrec_parse(p, len, out, 1, &n), 0); /* capped */
    assert_int_equal(n, 1);
    /* Truncated anywhere: refused, never read past the end. */
    for (size_t l = 0; l < len; l++)
        assert_int_not_equal(srvrec_parse(p, l, out, 8, &n), 0);
    /* Only ".": nothing usable. */
    len = answer(p, &r[3], 1);
    assert_int_equal(srvrec_parse(p, len, out, 8, &n), BANTER_ENOENT);
    assert_int_equal(srvrec_parse(p, BANTER_MAX_DNS_ANSWER + 1, out, 8, &n), BANTER_ETOOBIG);
}

typedef struct fake_rng {
    uint64_t v;
} fake_rng;

static void fill(void *ctx, uint8_t *out, size_t len)
{
    fake_rng *f = ctx;
    for (size_t i = 0; i < len; i++) {
        if (i % 8 == 0) {
            f->v ^= f->v << 13;
            f->v ^= f->v >> 7;
            f->v ^= f->v << 17;
        }
        out[i] = (uint8_t)(f->v >> (56 - 8 * (i % 8)));
    }
}

static void test_order(void **state)
{
    (void)state;
    fake_rng fr = {88172645463325252u};
    banter_rng rng = {fill, &fr};
    int first[3] = {0};
    for (int k = 0; k < 3000; k++) {
        srvrec t[4] = {{"c", 1, 0, 0}, {"a", 1, 0, 30}, {"b", 1, 0, 10}, {"z", 1, 9, 100}};
        srvrec_order(t, 4, &rng);
        assert_int_equal(t[3].priority, 9); /* the backup priority last */
        assert_true(t[0].priority == 0 && t[1].priority == 0 && t[2].priority == 0);
        first[t[0].host[0] - 'a']++;
    }
    /* Weights 30:10:0 -> about 3/4, 1/4, and c (weight 0) rarely. */
    assert_true(first[0] > 2000 && first[0] < 2500);
    assert_true(first[1] > 550 && first[1] < 950);
    assert_true(first[2] < 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
