/* SPDX-License-Identifier: MIT */
/*
 * test_gw_mail.c - the e-mail gateway's Maildir side (peer/plugin/gateways/
 * mail.c) against a fake host: a mail stays in new/ until the node took its
 * message (a send refused for now, EAGAIN from the node's send rate or a
 * send that could not start, is tried again after its back-off; no answer
 * at all, too), moves to cur/ seen once taken, unseen when refused for
 * good; at most 8 relays a scan; a mail that stopped the gateway while it
 * was read is put aside, not read again; every text relayed is UTF-8.
 *
 * White-box: the plug-in's source is included, so the test calls its
 * callbacks and moves its clock (pend[].at) instead of sleeping.
 */
#include "../../peer/plugin/gateways/mail.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "utf8.h"

struct banter_event {
    banter_event_kind kind;
    int64_t request;
    int status;
    const char *text;
};

#define MAX_SENT 64
#define MAX_KV   16

static struct {
    char dir[64];
    banter_event_fn on_result;
    banter_timer_fn on_scan_fn;
    int64_t next_request, fail_next; /* fail_next: sends refused at once */
    size_t nsent;
    struct {
        int64_t request;
        char contact[80];
        char *text;
    } sent[MAX_SENT];
    struct {
        char key[129];
        char val[512];
        size_t len;
    } kv[MAX_KV];
} f;

static void h_log(banter_ctx *ctx, int level, const char *fmt, ...)
{
    (void)ctx, (void)level, (void)fmt;
}

static const char *h_config_get(banter_ctx *ctx, const char *key)
{
    (void)ctx;
    if (strcmp(key, "domain") == 0)
        return "gw.example";
    if (strcmp(key, "maildir") == 0)
        return f.dir;
    return NULL;
}

/* As the node does: a request number, or a refusal for text not UTF-8. */
static int64_t h_send_message(banter_ctx *ctx, const char *contact, const char *text)
{
    (void)ctx;
    assert_true(utf8_valid(text, strlen(text)));
    if (f.fail_next > 0) {
        f.fail_next--;
        return BANTER_PLUGIN_EIO;
    }
    assert_true(f.nsent < MAX_SENT);
    f.sent[f.nsent].request = ++f.next_request;
    snprintf(f.sent[f.nsent].contact, sizeof f.sent[f.nsent].contact, "%s", contact);
    f.sent[f.nsent].text = strdup(text);
    return f.sent[f.nsent++].request;
}

static int h_subscribe(banter_ctx *ctx, uint32_t mask, banter_event_fn fn, void *ud)
{
    (void)ctx, (void)ud;
    if (mask == BANTER_EV_BIT(BANTER_EV_SEND_RESULT))
        f.on_result = fn;
    return 1;
}

static int64_t h_event_request(const banter_event *ev) { return ev->request; }
static int h_event_status(const banter_event *ev) { return ev->status; }
static const char *h_event_text(const banter_event *ev) { return ev->text; }

static banter_timer *h_timer_add(banter_ctx *ctx, uint32_t ms, int repeat, banter_timer_fn fn,
                                 void *ud)
{
    (void)ctx, (void)ms, (void)repeat, (void)ud;
    f.on_scan_fn = fn;
    return (banter_timer *)&f;
}

static int h_kv_set(banter_ctx *ctx, const char *key, const void *val, size_t len)
{
    (void)ctx;
    size_t i = 0;
    while (i < MAX_KV && f.kv[i].key[0] && strcmp(f.kv[i].key, key) != 0)
        i++;
    assert_true(i < MAX_KV && len <= sizeof f.kv[i].val);
    snprintf(f.kv[i].key, sizeof f.kv[i].key, "%s", key);
    memcpy(f.kv[i].val, val, len);
    f.kv[i].len = len;
    return BANTER_PLUGIN_OK;
}

static int h_kv_get(banter_ctx *ctx, const char *key, void *out, size_t cap, size_t *len)
{
    (void)ctx;
    for (size_t i = 0; i < MAX_KV; i++) {
        if (!f.kv[i].key[0] || strcmp(f.kv[i].key, key) != 0)
            continue;
        *len = f.kv[i].len;
        if (f.kv[i].len > cap)
            return BANTER_PLUGIN_ESPACE;
        memcpy(out, f.kv[i].val, f.kv[i].len);
        return BANTER_PLUGIN_OK;
    }
    return BANTER_PLUGIN_ENOENT;
}

static int h_kv_del(banter_ctx *ctx, const char *key)
{
    (void)ctx;
    for (size_t i = 0; i < MAX_KV; i++)
        if (f.kv[i].key[0] && strcmp(f.kv[i].key, key) == 0)
            f.kv[i].key[0] = '\0';
    return BANTER_PLUGIN_OK;
}

static const banter_host fake = {
    .size = sizeof(banter_host),
    .abi_major = BANTER_PLUGIN_ABI_MAJOR,
    .abi_minor = BANTER_PLUGIN_ABI_MINOR,
    .log = h_log,
    .config_get = h_config_get,
    .send_message = h_send_message,
    .subscribe = h_subscribe,
    .event_text = h_event_text,
    .event_request = h_event_request,
    .event_status = h_event_status,
    .timer_add = h_timer_add,
    .kv_set = h_kv_set,
    .kv_get = h_kv_get,
    .kv_del = h_kv_del,
};

static banter_ctx *const CTX = (banter_ctx *)&f;

/* A mail for TOKEN (or for nobody here) delivered into new/ as NAME. */
static void deliver(const char *name, const char *token, const char *body)
{
    char path[160];
    snprintf(path, sizeof path, "%s/new/%s", f.dir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fprintf(fp, "From: Carol <carol@example.org>\nTo: %s%s%s\n\n%s", token ? "banter+" : "x@y.z",
            token ? token : "", token ? "@gw.example" : "", body);
    fclose(fp);
}

/* Where NAME is: 'n' new/, 'S' cur/ seen, 'u' cur/ unseen, '-' nowhere. */
static char where(const char *name)
{
    char path[200];
    snprintf(path, sizeof path, "%s/new/%s", f.dir, name);
    if (access(path, F_OK) == 0)
        return 'n';
    snprintf(path, sizeof path, "%s/cur/%s:2,S", f.dir, name);
    if (access(path, F_OK) == 0)
        return 'S';
    snprintf(path, sizeof path, "%s/cur/%s:2,", f.dir, name);
    return access(path, F_OK) == 0 ? 'u' : '-';
}

static void scan(void) { f.on_scan_fn(CTX, NULL, NULL); }

static void answer(int64_t request, int status)
{
    banter_event ev = {BANTER_EV_SEND_RESULT, request, status, status ? "refused" : "queued"};
    f.on_result(CTX, &ev, NULL);
}

/* The request of the last send whose text holds s, or 0. */
static int64_t sent_with(const char *s)
{
    for (size_t i = f.nsent; i-- > 0;)
        if (strstr(f.sent[i].text, s))
            return f.sent[i].request;
    return 0;
}

/* Every mail waiting for its next try may be tried now. */
static void time_passes(void)
{
    for (size_t i = 0; i < MAX_PENDING; i++)
        if (pend[i].name[0] && !pend[i].request)
            pend[i].at = 0;
}

static int setup(void **state)
{
    (void)state;
    memset(&f, 0, sizeof f);
    snprintf(f.dir, sizeof f.dir, "/tmp/test_gw_mail.XXXXXX");
    assert_non_null(mkdtemp(f.dir));
    char sub[96];
    for (const char *s = "tmp\0new\0cur\0"; *s; s += 4) {
        snprintf(sub, sizeof sub, "%s/%s", f.dir, s);
        assert_int_equal(mkdir(sub, 0700), 0);
    }
    assert_int_equal(MAIL.init(CTX, &fake), 0);
    assert_non_null(f.on_result);
    assert_non_null(f.on_scan_fn);
    assert_int_equal(h_kv_set(CTX, "who:0123456789ab", "#b0b", 4), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    MAIL.fini(CTX);
    for (size_t i = 0; i < f.nsent; i++)
        free(f.sent[i].text);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f.dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_kept_until_taken(void **state)
{
    (void)state;
    deliver("m1", "0123456789ab", "one\n");
    deliver("m2", "0123456789ab", "two\n");
    deliver("m3", "0123456789ab", "three\n");
    deliver("other", NULL, "not for a Banter user\n");
    scan();
    int64_t r1 = sent_with("one"), r2 = sent_with("two"), r3 = sent_with("three");
    assert_true(r1 > 0 && r2 > 0 && r3 > 0);
    assert_string_equal(f.sent[0].contact, "#b0b");
    assert_int_equal(where("other"), 'S'); /* for nobody here: put aside at once */
    assert_int_equal(where("m1"), 'n');    /* sent, not taken yet: still in new/ */
    answer(r1, BANTER_EAGAIN);             /* over the node's send rate */
    answer(r2, 0);
    answer(r3, BANTER_ENOENT); /* no such contact: for good */
    assert_int_equal(where("m1"), 'n');
    assert_int_equal(where("m2"), 'S');
    assert_int_equal(where("m3"), 'u');
    size_t n = f.nsent;
    scan(); /* within its back-off: not tried */
    assert_int_equal(f.nsent, n);
    time_passes();
    scan();
    assert_int_equal(f.nsent, n + 1);
    r1 = sent_with("one");
    assert_int_equal(where("m1"), 'n');
    answer(r1, BANTER_EAGAIN); /* again: a longer back-off */
    for (size_t i = 0; i < MAX_PENDING; i++)
        if (strcmp(pend[i].name, "m1") == 0)
            assert_int_equal(pend[i].delay, 4 * RETRY_FIRST);
    time_passes();
    scan();
    answer(sent_with("one"), 0);
    assert_int_equal(where("m1"), 'S');
    for (size_t i = 0; i < MAX_PENDING; i++)
        assert_int_equal(pend[i].name[0], '\0'); /* nothing left waiting */
}

static void test_no_send_or_no_answer(void **state)
{
    (void)state;
    deliver("m4", "0123456789ab", "four\n");
    f.fail_next = 1; /* send_message itself fails */
    size_t n = f.nsent;
    scan();
    assert_int_equal(f.nsent, n);
    assert_int_equal(where("m4"), 'n');
    time_passes();
    scan();
    int64_t r = sent_with("four");
    assert_true(r > 0);
    for (size_t i = 0; i < MAX_PENDING; i++) /* the node never answers ... */
        if (pend[i].request == r)
            pend[i].at -= ANSWER_MS;
    scan(); /* ... so it waits its back-off, then goes again */
    time_passes();
    scan();
    assert_true(sent_with("four") > r);
    answer(r, 0); /* a late answer to the first send: nothing waits for it */
    assert_int_equal(where("m4"), 'n');
    answer(sent_with("four"), 0);
    assert_int_equal(where("m4"), 'S');
}

static void test_paced(void **state)
{
    (void)state;
    char name[16], body[32];
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "p%02d", i);
        snprintf(body, sizeof body, "paced %d\n", i);
        deliver(name, "0123456789ab", body);
    }
    for (int round = 0; round < 3; round++) {
        size_t n = f.nsent;
        scan();
        assert_int_equal(f.nsent - n, round < 2 ? RELAY_PER_SCAN : 20 - 2 * RELAY_PER_SCAN);
        for (size_t i = n; i < f.nsent; i++)
            answer(f.sent[i].request, 0);
    }
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "p%02d", i);
        assert_int_equal(where(name), 'S');
    }
}

static void test_text_always_utf8(void **state)
{
    (void)state;
    char body[6000];
    size_t o = 0;
    while (o + 3 < sizeof body - 1) { /* 3-byte characters past 4000 bytes */
        memcpy(body + o, "\xe2\x82\xac", 3);
        o += 3;
    }
    body[o] = '\0';
    deliver("long", "0123456789ab", body);
    deliver("bad", "0123456789ab", "caf\xe9 \xff\n");
    scan(); /* h_send_message asserts UTF-8, as the node refuses anything else */
    int64_t rl = sent_with("[cut: the mail's text is over 4000 bytes]");
    int64_t rb = sent_with("caf\xef\xbf\xbd \xef\xbf\xbd");
    assert_true(rl > 0 && rb > 0);
    answer(rl, 0);
    answer(rb, 0);
    assert_int_equal(where("long"), 'S');
    assert_int_equal(where("bad"), 'S');
}

static void test_busy_put_aside(void **state)
{
    (void)state;
    deliver("poison", "0123456789ab", "stopped the gateway\n");
    /* as if the gateway had stopped while reading it */
    assert_int_equal(h_kv_set(CTX, "busy", "poison", 6), 0);
    size_t n = f.nsent;
    scan();
    assert_int_equal(f.nsent, n);
    assert_int_equal(where("poison"), 'u');
    size_t len = 0;
    char v[8];
    assert_int_equal(h_kv_get(CTX, "busy", v, sizeof v, &len), BANTER_PLUGIN_ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kept_until_taken),
        cmocka_unit_test(test_no_send_or_no_answer),
        cmocka_unit_test(test_paced),
        cmocka_unit_test(test_text_always_utf8),
        cmocka_unit_test(test_busy_put_aside),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
