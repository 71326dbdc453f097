/* SPDX-License-Identifier: MIT */
/* test_rvmsg.c - node <-> rendezvous codec: round trips and refusals. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bcrypto.h"
#include "rvmsg.h"

static void round_trip(const rvmsg *in, rvmsg *out)
{
    buf w;
    buf_init(&w, BANTER_MAX_PLAINTEXT);
    assert_int_equal(rvmsg_encode(in, &w), 0);
    assert_int_equal(buf_data(&w)[0], in->type);
    assert_int_equal(rvmsg_decode(out, buf_data(&w), buf_len(&w)), 0);
    buf_free(&w);
}

static int dec(rvmsg *m, uint8_t type, const char *json)
{
    size_t n = strlen(json);
    uint8_t *p = malloc(n + 1);
    assert_non_null(p);
    p[0] = type;
    memcpy(p + 1, json, n);
    int r = rvmsg_decode(m, p, n + 1);
    free(p);
    return r;
}

static void test_login_auth(void **state)
{
    (void)state;
    rvmsg in = {.type = RV_LOGIN}, out;
    snprintf(in.u.login.user, sizeof in.u.login.user, "ada");
    snprintf(in.u.login.password, sizeof in.u.login.password, "correct horse \"battery\"");
    round_trip(&in, &out);
    assert_string_equal(out.u.login.user, "ada");
    assert_string_equal(out.u.login.password, "correct horse \"battery\"");
    rvmsg_clear(&out);
    char zero[sizeof out.u.login.password] = {0};
    assert_memory_equal(out.u.login.password, zero, sizeof zero); /* wiped */

    rvmsg a = {.type = RV_AUTH};
    a.u.auth.ok = true;
    a.u.auth.admin = true;
    snprintf(a.u.auth.user, sizeof a.u.auth.user, "ada");
    round_trip(&a, &out);
    assert_true(out.u.auth.ok && out.u.auth.admin);
    assert_string_equal(out.u.auth.user, "ada");
    rvmsg_clear(&out);
    rvmsg f = {.type = RV_AUTH};
    snprintf(f.u.auth.error, sizeof f.u.auth.error, "EPASSWORD");
    f.u.auth.retry_after_ms = 4000;
    round_trip(&f, &out);
    assert_false(out.u.auth.ok);
    assert_string_equal(out.u.auth.error, "EPASSWORD");
    assert_true(out.u.auth.retry_after_ms == 4000);
    rvmsg_clear(&out);

    rvmsg m;
    assert_int_equal(dec(&m, RV_LOGIN, "{\"user\":\"Ada\",\"password\":\"x\"}"), BANTER_ESCHEMA);
    assert_int_equal(dec(&m, RV_LOGIN, "{\"user\":\"ada\",\"password\":\"\"}"), BANTER_ESCHEMA);
    assert_int_equal(dec(&m, RV_LOGIN, "{\"user\":\"ada\"}"), BANTER_ESCHEMA);
    assert_int_equal(dec(&m, RV_AUTH, "{\"ok\":false}"), BANTER_ESCHEMA);
    assert_int_equal(dec(&m, RV_AUTH, "{\"ok\":1}"), BANTER_ESCHEMA);
    assert_int_equal(dec(&m, RV_LOGOUT, "{}"), 0);
    rvmsg_clear(&m);
    assert_int_equal(dec(&m, 0x37, "{}"), BANTER_EBADTYPE);
}

static void test_profile_search(void **state)
{
    (void)state;
    rvmsg p = {.type = RV_PROFILE_SET}, out;
    p.u.profile.f[RV_F_DEPARTMENT] = strdup("Research");
    p.u.profile.f[RV_F_ABOUT] = strdup("line one\nline two");
    p.u.profile.f[RV_F_PHONE] = strdup("");
    round_trip(&p, &out);
    assert_string_equal(out.u.profile.f[RV_F_DEPARTMENT], "Research");
    assert_string_equal(out.u.profile.f[RV_F_ABOUT], "line one\nline two");
    assert_string_equal(out.u.profile.f[RV_F_PHONE], "");
    assert_null(out.u.profile.f[RV_F_EMAIL]);
    rvmsg_clear(&out);
    rvmsg_clear(&p);

    rvmsg s = {.type = RV_SEARCH};
    s.u.search.n = 2;
    s.u.search.c[0] = (struct rv_criterion){RV_F_DEPARTMENT, false, "research"};
    s.u.search.c[1] = (struct rv_criterion){RV_F_COUNT, true, "ad"};
    s.u.search.page = 3;
    s.u.search.per_page = 20;
    round_trip(&s, &out);
    assert_int_equal(out.u.search.n, 2);
    assert_int_equal(out.u.search.c[1].field, RV_F_COUNT);
    assert_true(out.u.search.c[1].contains);
    assert_int_equal(out.u.search.per_page, 20);
    rvmsg_clear(&out);

    rvmsg res = {.type = RV_SEARCH_RESULT};
    struct rv_user users[2] = {{.name = "ada"}, {.name = "grace"}};
    users[1].p.f[RV_F_TITLE] = "Rear Admiral";
    res.u.result.total = 42;
    res.u.result.n = 2;
    res.u.result.users = users;
    round_trip(&res, &out);
    assert_true(out.u.result.total == 42);
    assert_string_equal(out.u.result.users[1].name, "grace");
    assert_string_equal(out.u.result.users[1].p.f[RV_F_TITLE], "Rear Admiral");
    rvmsg_clear(&out);

    rvmsg m;
    assert_int_equal(dec(&m, RV_SEARCH, "{\"q\":[],\"page\":0,\"per_page\":10}"), BANTER_ESCHEMA);
    assert_int_equal(dec(&m, RV_SEARCH,
                         "{\"q\":[{\"field\":\"salary\",\"op\":\"eq\",\"value\":\"1\"}],"
                         "\"page\":0,\"per_page\":10}"),
                     BANTER_ESCHEMA);
    assert_int_equal(dec(&m, RV_SEARCH,
                         "{\"q\":[{\"field\":\"title\",\"op\":\"like\",\"value\":\"1\"}],"
                         "\"page\":0,\"per_page\":10}"),
                     BANTER_ESCHEMA);
    assert_int_equal(dec(&m, RV_SEARCH,
                         "{\"q\":[{\"field\":\"title\",\"op\":\"eq\",\"value\":\"x\"}],"
                         "\"page\":0,\"per_page\":101}"),
                     BANTER_ESCHEMA);
    /* RV_PROFILE_SET's values are the server's to check (rv_field_check,
     * refused EINVAL naming the field): only lengths and UTF-8 here */
    assert_int_equal(dec(&m, RV_PROFILE_SET, "{\"title\":\"a\\u0001b\"}"), 0);
    assert_string_equal(m.u.profile.f[RV_F_TITLE], "a\001b");
    assert_int_equal(rv_field_check(RV_F_TITLE, m.u.profile.f[RV_F_TITLE]), BANTER_ESCHEMA);
    rvmsg_clear(&m);
    char big[200];
    snprintf(big, sizeof big, "{\"phone\":\"%040d\"}", 1);
    assert_int_equal(dec(&m, RV_PROFILE_SET, big), BANTER_ETOOLONG);
}

/* Profile values hold no control characters (C0, DEL, C1), but "about"
 * may hold newlines and tabs: checked when encoded, and when decoded in
 * search results and contact entries (a node's screen); a stored one is
 * masked. */
static void test_profile_controls(void **state)
{
    (void)state;
    assert_int_equal(rv_field_check(RV_F_ABOUT, "line one\nline two\tend"), 0);
    assert_int_equal(rv_field_check(RV_F_ABOUT, "red \x1b[31m"), BANTER_ESCHEMA);
    assert_int_equal(rv_field_check(RV_F_ABOUT, "cr\r"), BANTER_ESCHEMA);
    assert_int_equal(rv_field_check(RV_F_ABOUT, "del\x7f"), BANTER_ESCHEMA);
    assert_int_equal(rv_field_check(RV_F_ABOUT, "csi\xc2\x9b"
                                                "2J"),
                     BANTER_ESCHEMA);
    assert_int_equal(rv_field_check(RV_F_ABOUT, "nbsp\xc2\xa0ok \xc3\xa9"), 0);
    assert_int_equal(rv_field_check(RV_F_DISPLAY_NAME, "Ada\tLovelace"), BANTER_ESCHEMA);
    assert_int_equal(rv_field_check(RV_F_DISPLAY_NAME, "Ada\xc2\x85"), BANTER_ESCHEMA);
    assert_int_equal(rv_field_check(RV_F_TITLE, "bad \xff"), BANTER_EUTF8);
    /* a display name is read as a name: no invisible characters (RLO
     * U+202E, zero-width space U+200B, tag U+E0001), no leading at sign */
    assert_int_equal(rv_field_check(RV_F_DISPLAY_NAME, "Ada \xe2\x80\xae"
                                                       "ecalevoL"),
                     BANTER_ESCHEMA);
    assert_int_equal(rv_field_check(RV_F_DISPLAY_NAME, "B\xe2\x80\x8b"
                                                       "ob"),
                     BANTER_ESCHEMA);
    assert_int_equal(rv_field_check(RV_F_DISPLAY_NAME, "Bob\xf3\xa0\x80\x81"), BANTER_ESCHEMA);
    assert_int_equal(rv_field_check(RV_F_DISPLAY_NAME, "@alice"), BANTER_ESCHEMA);
    assert_int_equal(rv_field_check(RV_F_DISPLAY_NAME, "\xef\xbc\xa0"
                                                       "alice"),
                     BANTER_ESCHEMA);
    assert_int_equal(rv_field_check(RV_F_DISPLAY_NAME, "Ada @ Research"), 0);
    /* a space at either end, also Unicode's: " @alice" is "@alice" */
    assert_int_equal(rv_field_check(RV_F_DISPLAY_NAME, " @alice"), BANTER_ESCHEMA);
    assert_int_equal(rv_field_check(RV_F_DISPLAY_NAME, "\xc2\xa0@alice"), BANTER_ESCHEMA);
    assert_int_equal(rv_field_check(RV_F_DISPLAY_NAME, "\xe2\x80\x83@alice"), BANTER_ESCHEMA);
    assert_int_equal(rv_field_check(RV_F_DISPLAY_NAME, "Ada\xe3\x80\x80"), BANTER_ESCHEMA);
    assert_int_equal(rv_field_check(RV_F_DISPLAY_NAME, "Ada "), BANTER_ESCHEMA);
    assert_int_equal(rv_field_check(RV_F_DISPLAY_NAME, "Ada\xc2\xa0Lovelace"), 0);
    assert_int_equal(rv_field_check(RV_F_DISPLAY_NAME, "Zo\xc3\xab \xd7\xa9\xd7\x9c"), 0);
    assert_int_equal(rv_field_check(RV_F_ABOUT, "B\xe2\x80\x8b"
                                                "ob @x"),
                     0);
    char old[64];
    snprintf(old, sizeof old, "%s",
             "@\xef\xbc\xa0"
             "B\xe2\x80\x8b"
             "ob\xe2\x80\xae\x1b");
    rv_field_mask(RV_F_DISPLAY_NAME, old); /* one stored before the rule */
    assert_string_equal(old, "Bob?");
    assert_int_equal(rv_field_check(RV_F_DISPLAY_NAME, old), 0);
    assert_non_null(strstr(rv_field_rule(RV_F_DISPLAY_NAME), "invisible"));
    char longer[80];
    memset(longer, 'x', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    assert_int_equal(rv_field_check(RV_F_DISPLAY_NAME, longer), BANTER_ETOOLONG);
    for (int f = 0; f <= RV_F_COUNT; f++) /* only the department is the admins' */
        assert_int_equal(rv_field_by_admin((rv_field)f), f == RV_F_DEPARTMENT);

    rvmsg p = {.type = RV_PROFILE_SET}, out;
    buf w;
    buf_init(&w, BANTER_MAX_PLAINTEXT);
    p.u.profile.f[RV_F_ABOUT] = "\x1b]0;owned\x07";
    assert_int_equal(rvmsg_encode(&p, &w), BANTER_ESCHEMA);
    p.u.profile.f[RV_F_ABOUT] = "a\tb\nc";
    p.u.profile.f[RV_F_TITLE] = "x\xc2\x9b";
    assert_int_equal(rvmsg_encode(&p, &w), BANTER_ESCHEMA);
    p.u.profile.f[RV_F_TITLE] = NULL;
    round_trip(&p, &out);
    assert_string_equal(out.u.profile.f[RV_F_ABOUT], "a\tb\nc");
    rvmsg_clear(&out);
    buf_free(&w);

    rvmsg m;
    assert_int_equal(dec(&m, RV_PROFILE_SET, "{\"about\":\"\\u001b[2J\"}"), 0);
    assert_string_equal(m.u.profile.f[RV_F_ABOUT], "\x1b[2J");
    rvmsg_clear(&m);
    assert_int_equal(dec(&m, RV_SEARCH_RESULT,
                         "{\"total\":1,\"page\":0,\"users\":[{\"user\":\"ada\","
                         "\"about\":\"\\u001b[2J\"}]}"),
                     BANTER_ESCHEMA);
    rvmsg_clear(&m);
    assert_int_equal(dec(&m, RV_SEARCH_RESULT,
                         "{\"total\":1,\"page\":0,\"users\":[{\"user\":\"ada\","
                         "\"about\":\"\\u009b2J\"}]}"),
                     BANTER_ESCHEMA);
    rvmsg_clear(&m);
    assert_int_equal(dec(&m, RV_SEARCH_RESULT,
                         "{\"total\":1,\"page\":0,\"users\":[{\"user\":\"ada\","
                         "\"about\":\"a\\nb\\tc\"}]}"),
                     0);
    assert_string_equal(m.u.result.users[0].p.f[RV_F_ABOUT], "a\nb\tc");
    rvmsg_clear(&m);

    char stored[] = "old \x1b[5mblink\xc2\x9b\n";
    rv_field_mask(RV_F_ABOUT, stored);
    assert_string_equal(stored, "old ?[5mblink?\n");
    assert_int_equal(rv_field_check(RV_F_ABOUT, stored), 0);
    char name[] = "Ada\nL";
    rv_field_mask(RV_F_DISPLAY_NAME, name);
    assert_string_equal(name, "Ada?L");
}

static void test_cert_message(void **state)
{
    (void)state;
    uint8_t seed[32] = {5}, dev[32] = {6};
    identity *s;
    assert_int_equal(identity_from_seed(&s, seed), 0);
    rvmsg c = {.type = RV_CERT}, out;
    assert_int_equal(cert_issue(&c.u.cert, s, dev, "ada", 10, 100), 0);
    round_trip(&c, &out);
    assert_string_equal(out.u.cert.name, "ada");
    assert_int_equal(cert_check(&out.u.cert, identity_public(s), dev, 50), 0);
    rvmsg_clear(&out);
    identity_free(s);
}

static void test_contacts_presence(void **state)
{
    (void)state;
    rvmsg in = {.type = RV_CONTACT}, out, m;
    in.u.contact.op = RV_OP_BLOCK;
    snprintf(in.u.contact.user, sizeof in.u.contact.user, "bob");
    round_trip(&in, &out);
    assert_int_equal(out.u.contact.op, RV_OP_BLOCK);
    assert_string_equal(out.u.contact.user, "bob");
    rvmsg_clear(&out);
    assert_int_equal(dec(&m, RV_CONTACT, "{\"op\":\"hug\",\"user\":\"bob\"}"), BANTER_ESCHEMA);

    struct rv_contact cs[2] = {0};
    snprintf(cs[0].name, sizeof cs[0].name, "bob");
    cs[0].state = RV_CS_APPROVED;
    cs[0].status = RV_P_AWAY;
    snprintf(cs[0].text, sizeof cs[0].text, "lunch");
    cs[0].ndev = 2;
    memset(cs[0].dev[0], 0xab, 32);
    memset(cs[0].dev[1], 0x01, 32);
    cs[0].p.f[RV_F_DISPLAY_NAME] = "Bob B";
    cs[0].p.f[RV_F_EMAIL] = "bob@example.org";
    snprintf(cs[1].name, sizeof cs[1].name, "eve");
    cs[1].state = RV_CS_INCOMING;
    rvmsg l = {.type = RV_CONTACTS};
    l.u.contacts.reset = true;
    l.u.contacts.n = 2;
    l.u.contacts.c = cs;
    round_trip(&l, &out);
    assert_true(out.u.contacts.reset);
    assert_int_equal(out.u.contacts.n, 2);
    assert_int_equal(out.u.contacts.c[0].status, RV_P_AWAY);
    assert_string_equal(out.u.contacts.c[0].text, "lunch");
    assert_int_equal(out.u.contacts.c[0].ndev, 2);
    assert_memory_equal(out.u.contacts.c[0].dev[1], cs[0].dev[1], 32);
    assert_string_equal(out.u.contacts.c[0].p.f[RV_F_EMAIL], "bob@example.org");
    assert_int_equal(out.u.contacts.c[1].state, RV_CS_INCOMING);
    assert_int_equal(out.u.contacts.c[1].ndev, 0);
    rvmsg_clear(&out);
    assert_int_equal(dec(&m, RV_CONTACTS, "{\"contacts\":[{\"user\":\"a\",\"state\":\"x\"}]}"),
                     BANTER_ESCHEMA);
    /* The account's own entry: state "self" with its devices. */
    struct rv_contact self = {.state = RV_CS_SELF, .ndev = 2};
    snprintf(self.name, sizeof self.name, "ada");
    memset(self.dev[0], 0x11, 32);
    memset(self.dev[1], 0x22, 32);
    l.u.contacts = (struct rv_contacts){.reset = false, .n = 1, .c = &self};
    round_trip(&l, &out);
    assert_int_equal(out.u.contacts.c[0].state, RV_CS_SELF);
    assert_string_equal(rv_cstate_name(out.u.contacts.c[0].state), "self");
    assert_int_equal(out.u.contacts.c[0].ndev, 2);
    assert_memory_equal(out.u.contacts.c[0].dev[1], self.dev[1], 32);
    rvmsg_clear(&out);
    assert_int_equal(dec(&m, RV_CONTACTS,
                         "{\"contacts\":[{\"user\":\"a\",\"state\":\"approved\","
                         "\"status\":\"invisible\"}]}"),
                     BANTER_ESCHEMA); /* nobody is told someone is invisible */
    assert_int_equal(dec(&m, RV_CONTACTS,
                         "{\"contacts\":[{\"user\":\"a\",\"state\":\"approved\","
                         "\"devices\":[\"AB\"]}]}"),
                     BANTER_ESCHEMA);

    rvmsg st = {.type = RV_STATUS};
    st.u.status.status = RV_P_INVISIBLE;
    round_trip(&st, &out);
    assert_int_equal(out.u.status.status, RV_P_INVISIBLE);
    assert_false(out.u.status.has_devices); /* a server that does not say */
    rvmsg_clear(&out);
    /* The account's devices connected now: an empty list is a list. */
    st.u.status.has_devices = true;
    round_trip(&st, &out);
    assert_true(out.u.status.has_devices);
    assert_int_equal(out.u.status.ndev, 0);
    rvmsg_clear(&out);
    st.u.status.ndev = 2;
    memset(st.u.status.dev[0], 0x31, 32);
    memset(st.u.status.dev[1], 0x32, 32);
    round_trip(&st, &out);
    assert_true(out.u.status.has_devices);
    assert_int_equal(out.u.status.ndev, 2);
    assert_memory_equal(out.u.status.dev[1], st.u.status.dev[1], 32);
    rvmsg_clear(&out);
    assert_int_equal(dec(&m, RV_STATUS, "{\"status\":\"online\",\"devices\":{}}"), BANTER_ESCHEMA);
    assert_int_equal(dec(&m, RV_STATUS, "{\"status\":\"online\",\"devices\":[\"ab\"]}"),
                     BANTER_ESCHEMA);
    assert_int_equal(dec(&m, RV_STATUS, "{\"status\":\"offline\"}"), BANTER_ESCHEMA);
    assert_int_equal(dec(&m, RV_STATUS, "{\"status\":\"busy\",\"text\":\"a\\nb\"}"),
                     BANTER_ESCHEMA);
    rvmsg pr = {.type = RV_PRESENCE};
    pr.u.status.status = RV_P_INVISIBLE;
    snprintf(pr.u.status.user, sizeof pr.u.status.user, "bob");
    buf w;
    buf_init(&w, BANTER_MAX_PLAINTEXT);
    assert_int_equal(rvmsg_encode(&pr, &w), BANTER_ESCHEMA);
    buf_free(&w);
    pr.u.status.status = RV_P_BUSY;
    round_trip(&pr, &out);
    assert_string_equal(out.u.status.user, "bob");
    rvmsg_clear(&out);
}

static void test_stored_recipients(void **state)
{
    (void)state;
    rvmsg in = {.type = RV_STORED}, out, m;
    memset(in.u.stored.id, 7, RV_ID_LEN);
    memset(in.u.stored.device, 9, RV_KEY_LEN);
    in.u.stored.fate = RV_STORED_DELIVERED;
    round_trip(&in, &out);
    assert_int_equal(out.u.stored.fate, RV_STORED_DELIVERED);
    assert_memory_equal(out.u.stored.device, in.u.stored.device, RV_KEY_LEN);
    rvmsg_clear(&out);
    in.u.stored.fate = RV_STORED_REFUSED;
    snprintf(in.u.stored.error, sizeof in.u.stored.error, "EQUOTA");
    round_trip(&in, &out);
    assert_string_equal(out.u.stored.error, "EQUOTA");
    rvmsg_clear(&out);
    assert_int_equal(dec(&m, RV_STORED,
                         "{\"id\":\"07070707070707070707070707070707\",\"device\":"
                         "\"0909090909090909090909090909090909090909090909090909090909090909\","
                         "\"state\":\"refused\"}"),
                     BANTER_ESCHEMA);
    in.type = RV_DELIVERED;
    round_trip(&in, &out);
    assert_memory_equal(out.u.stored.id, in.u.stored.id, RV_ID_LEN);
    assert_false(out.u.stored.has_from);
    rvmsg_clear(&out);
    assert_int_equal(dec(&m, RV_DELIVERED, "{\"id\":\"00\"}"), BANTER_ESCHEMA);
    /* RV_DELIVERED may name the sending device; RV_KEEP must. */
    in.u.stored.has_from = true;
    memset(in.u.stored.from, 0x5a, RV_KEY_LEN);
    round_trip(&in, &out);
    assert_true(out.u.stored.has_from);
    assert_memory_equal(out.u.stored.from, in.u.stored.from, RV_KEY_LEN);
    rvmsg_clear(&out);
    in.type = RV_KEEP;
    round_trip(&in, &out);
    assert_int_equal(out.type, RV_KEEP);
    assert_memory_equal(out.u.stored.id, in.u.stored.id, RV_ID_LEN);
    assert_memory_equal(out.u.stored.from, in.u.stored.from, RV_KEY_LEN);
    rvmsg_clear(&out);
    assert_int_equal(dec(&m, RV_KEEP, "{\"id\":\"07070707070707070707070707070707\"}"),
                     BANTER_ESCHEMA);
    assert_int_equal(
        dec(&m, RV_DELIVERED, "{\"id\":\"07070707070707070707070707070707\",\"from\":\"0909\"}"),
        BANTER_ESCHEMA);

    rvmsg b = {.type = RV_BROADCAST_TO};
    snprintf(b.u.bto.department, sizeof b.u.bto.department, "Sales");
    b.u.bto.page = 3;
    round_trip(&b, &out);
    assert_string_equal(out.u.bto.department, "Sales");
    assert_int_equal(out.u.bto.page, 3);
    rvmsg_clear(&out);

    struct rv_rcpt u[1] = {0};
    snprintf(u[0].name, sizeof u[0].name, "carol");
    u[0].ndev = 1;
    memset(u[0].dev[0], 3, 32);
    rvmsg rc = {.type = RV_RECIPIENTS};
    rc.u.rcpt.total = 40;
    rc.u.rcpt.n = 1;
    rc.u.rcpt.users = u;
    round_trip(&rc, &out);
    assert_true(out.u.rcpt.total == 40);
    assert_string_equal(out.u.rcpt.users[0].name, "carol");
    assert_int_equal(out.u.rcpt.users[0].ndev, 1);
    rvmsg_clear(&out);
}

static void test_seal_messages(void **state)
{
    (void)state;
    uint8_t blob[100];
    memset(blob, 0x5a, sizeof blob);
    rvmsg in = {.type = RV_SEALED}, out;
    memset(in.u.seal.id, 1, RV_ID_LEN);
    in.u.seal.flags = RV_SEAL_BROADCAST;
    in.u.seal.created_ms = 1700000000123;
    snprintf(in.u.seal.user, sizeof in.u.seal.user, "ada");
    memset(in.u.seal.device, 2, RV_KEY_LEN);
    in.u.seal.sealed = blob;
    in.u.seal.sealed_len = sizeof blob;
    buf w;
    buf_init(&w, BANTER_MAX_PLAINTEXT);
    assert_int_equal(rvmsg_encode(&in, &w), 0);
    assert_int_equal(buf_len(&w), 1 + 16 + 1 + 8 + 1 + 3 + 32 + 100);
    assert_int_equal(rvmsg_decode(&out, buf_data(&w), buf_len(&w)), 0);
    assert_true(out.u.seal.created_ms == 1700000000123);
    assert_int_equal(out.u.seal.flags, RV_SEAL_BROADCAST);
    assert_string_equal(out.u.seal.user, "ada");
    assert_int_equal(out.u.seal.sealed_len, 100);
    assert_memory_equal(out.u.seal.sealed, blob, 100);
    rvmsg_clear(&out);
    /* every truncation is refused */
    for (size_t n = 1; n < buf_len(&w) - 100 + 1; n++)
        assert_int_not_equal(rvmsg_decode(&out, buf_data(&w), n), 0);
    /* unknown flags, bad names */
    uint8_t *p = (uint8_t *)buf_data(&w);
    p[17] = 0x80;
    assert_int_equal(rvmsg_decode(&out, p, buf_len(&w)), BANTER_ESCHEMA);
    p[17] = 0;
    p[26] = 0;
    assert_int_equal(rvmsg_decode(&out, p, buf_len(&w)), BANTER_ESCHEMA);
    p[26] = 3;
    p[27] = 'A';
    assert_int_equal(rvmsg_decode(&out, p, buf_len(&w)), BANTER_ESCHEMA);
    buf_free(&w);
    /* the server says a sender is gone */
    in.u.seal.flags = RV_SEAL_BROADCAST | RV_SEAL_SENDER_GONE;
    round_trip(&in, &out);
    assert_int_equal(out.u.seal.flags, RV_SEAL_BROADCAST | RV_SEAL_SENDER_GONE);
    rvmsg_clear(&out);

    in.type = RV_SEAL;
    in.u.seal.flags = 0;
    snprintf(in.u.seal.user, sizeof in.u.seal.user, "bob");
    round_trip(&in, &out);
    assert_string_equal(out.u.seal.user, "bob");
    assert_int_equal(out.u.seal.sealed_len, 100);
    rvmsg_clear(&out);
    /* a node never says so: not encoded, and refused from the wire */
    in.u.seal.flags = RV_SEAL_SENDER_GONE;
    buf_init(&w, BANTER_MAX_PLAINTEXT);
    assert_int_equal(rvmsg_encode(&in, &w), BANTER_ESCHEMA);
    in.u.seal.flags = 0;
    assert_int_equal(rvmsg_encode(&in, &w), 0);
    p = (uint8_t *)buf_data(&w);
    p[17] = RV_SEAL_SENDER_GONE;
    assert_int_equal(rvmsg_decode(&out, p, buf_len(&w)), BANTER_ESCHEMA);
    buf_free(&w);
    in.u.seal.sealed_len = 0;
    buf_init(&w, BANTER_MAX_PLAINTEXT);
    assert_int_equal(rvmsg_encode(&in, &w), BANTER_ESCHEMA);
    buf_free(&w);
}

/* Every integer field is exact and in its range (docs/rendezvous.md 2). */
static const struct rv_int_field {
    uint8_t type;
    const char *pre, *post;
    int64_t min, max;
} rv_int_fields[] = {
    {RV_AUTH, "{\"ok\":false,\"error\":\"ERATE\",\"retry_after_ms\":", "}", 0, 86400000},
    {RV_SEARCH, "{\"q\":[{\"field\":\"user\",\"op\":\"eq\",\"value\":\"a\"}],\"page\":",
     ",\"per_page\":1}", 0, 1000000},
    {RV_SEARCH,
     "{\"q\":[{\"field\":\"user\",\"op\":\"eq\",\"value\":\"a\"}],\"page\":0,\"per_page\":", "}", 1,
     100},
    {RV_SEARCH_RESULT, "{\"total\":", ",\"page\":0,\"users\":[]}", 0, INT64_C(9007199254740992)},
    {RV_SEARCH_RESULT, "{\"total\":0,\"page\":", ",\"users\":[]}", 0, 1000000},
    {RV_BROADCAST_TO, "{\"page\":", "}", 0, 1000000},
    {RV_RECIPIENTS, "{\"total\":", ",\"page\":0,\"users\":[]}", 0, INT64_C(9007199254740992)},
    {RV_RECIPIENTS, "{\"total\":0,\"page\":", ",\"users\":[]}", 0, 1000000},
};

static int dec_int(const struct rv_int_field *f, const char *num)
{
    char json[512];
    rvmsg m;
    snprintf(json, sizeof json, "%s%s%s", f->pre, num, f->post);
    int r = dec(&m, f->type, json);
    rvmsg_clear(&m);
    return r;
}

static void test_integers_exact(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int want;
    } bad[] = {
        {"9007199254740993", BANTER_ESCHEMA},
        {"9223372036854775808", BANTER_ESCHEMA},
        {"-1", BANTER_ESCHEMA},
        {"-0", BANTER_ESCHEMA},
        {"1e3", BANTER_ESCHEMA},
        {"1.0", BANTER_ESCHEMA},
        {"\"5\"", BANTER_ESCHEMA},
        {"05", BANTER_EJSON},
        {"1.", BANTER_EJSON},
    };
    char num[32];
    for (size_t f = 0; f < sizeof rv_int_fields / sizeof rv_int_fields[0]; f++) {
        const struct rv_int_field *fl = &rv_int_fields[f];
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            int r = dec_int(fl, bad[i].text);
            if (r != bad[i].want)
                fail_msg("field %zu, %s: got %s, want %s", f, bad[i].text, banter_errname(r),
                         banter_errname(bad[i].want));
        }
        snprintf(num, sizeof num, "%" PRId64, fl->min);
        assert_int_equal(dec_int(fl, num), 0);
        snprintf(num, sizeof num, "%" PRId64, fl->max);
        assert_int_equal(dec_int(fl, num), 0);
        snprintf(num, sizeof num, "%" PRId64, fl->max + 1);
        assert_int_equal(dec_int(fl, num), BANTER_ESCHEMA);
        if (fl->min > 0) {
            snprintf(num, sizeof num, "%" PRId64, fl->min - 1);
            assert_int_equal(dec_int(fl, num), BANTER_ESCHEMA);
        }
    }

    /* The encoders refuse what the decoder would. */
    buf w;
    buf_init(&w, BANTER_MAX_PLAINTEXT);
    rvmsg a = {.type = RV_AUTH};
    snprintf(a.u.auth.error, sizeof a.u.auth.error, "ERATE");
    a.u.auth.retry_after_ms = 86400001;
    assert_int_equal(rvmsg_encode(&a, &w), BANTER_ESCHEMA);
    rvmsg r = {.type = RV_RECIPIENTS};
    r.u.rcpt.total = UINT64_C(9007199254740993);
    assert_int_equal(rvmsg_encode(&r, &w), BANTER_ESCHEMA);
    r.u.rcpt.total = UINT64_C(9007199254740992);
    r.u.rcpt.page = 1000001;
    assert_int_equal(rvmsg_encode(&r, &w), BANTER_ESCHEMA);
    rvmsg b = {.type = RV_BROADCAST_TO};
    b.u.bto.page = 1000001;
    assert_int_equal(rvmsg_encode(&b, &w), BANTER_ESCHEMA);
    assert_int_equal(buf_len(&w), 0);
    /* 2^53 is written in digits. */
    r.u.rcpt.page = 0;
    assert_int_equal(rvmsg_encode(&r, &w), 0);
    const char want[] = "{\"total\":9007199254740992,";
    assert_true(buf_len(&w) > sizeof want);
    assert_memory_equal(buf_data(&w) + 1, want, sizeof want - 1);
    buf_free(&w);

    /* RV_SEALED's created_ms (binary): 0..2^53 as well. */
    uint8_t sealed[16 + 1 + 8 + 1 + 1 + 32 + 1] = {0};
    uint8_t pt[1 + sizeof sealed];
    pt[0] = RV_SEALED;
    sealed[16 + 1 + 8] = 1; /* name length */
    sealed[16 + 1 + 8 + 1] = 'a';
    memcpy(pt + 1, sealed, sizeof sealed);
    static const uint8_t t53[8] = {0x00, 0x20, 0, 0, 0, 0, 0, 0}; /* 2^53 */
    memcpy(pt + 1 + 17, t53, 8);
    rvmsg m;
    assert_int_equal(rvmsg_decode(&m, pt, sizeof pt), 0);
    assert_true(m.u.seal.created_ms == INT64_C(9007199254740992));
    rvmsg_clear(&m);
    pt[1 + 17 + 7] = 1; /* 2^53 + 1 */
    assert_int_equal(rvmsg_decode(&m, pt, sizeof pt), BANTER_ESCHEMA);
    memset(pt + 1 + 17, 0xff, 8);
    assert_int_equal(rvmsg_decode(&m, pt, sizeof pt), BANTER_ESCHEMA);
}

static void test_ice_messages(void **state)
{
    (void)state;
    rvmsg in = {.type = RV_ICE_SERVERS}, out, m;
    struct rv_ice_servers *v = &in.u.ice_servers;
    v->nstun = 1;
    snprintf(v->stun[0], sizeof v->stun[0], "stun:198.18.0.1:3478");
    v->nturn = 2;
    snprintf(v->turn[0], sizeof v->turn[0], "turn:198.18.0.1:3478?transport=udp");
    snprintf(v->turn[1], sizeof v->turn[1], "turn:198.18.0.1:3478?transport=tcp");
    snprintf(v->username, sizeof v->username, "1796000000:ada");
    snprintf(v->password, sizeof v->password, "c2VjcmV0c2VjcmV0c2VjcmV0c2U=");
    v->expires_ms = INT64_C(1796000000000);
    round_trip(&in, &out);
    assert_int_equal(out.u.ice_servers.nturn, 2);
    assert_string_equal(out.u.ice_servers.turn[1], v->turn[1]);
    assert_string_equal(out.u.ice_servers.password, v->password);
    assert_true(out.u.ice_servers.expires_ms == v->expires_ms);
    rvmsg_clear(&out);
    /* TURN without credentials, a URL of the wrong scheme, too many. */
    assert_int_equal(dec(&m, RV_ICE_SERVERS, "{\"turn\":[\"turn:1.2.3.4:3478\"]}"), BANTER_ESCHEMA);
    assert_int_equal(dec(&m, RV_ICE_SERVERS, "{\"stun\":[\"turn:1.2.3.4:3478\"]}"), BANTER_ESCHEMA);
    assert_int_equal(dec(&m, RV_ICE_SERVERS,
                         "{\"stun\":[\"stun:a\",\"stun:b\",\"stun:c\","
                         "\"stun:d\",\"stun:e\"]}"),
                     BANTER_ETOOLONG);
    assert_int_equal(dec(&m, RV_ICE_SERVERS, "{}"), 0);
    rvmsg_clear(&m);

    char lines[2][BANTER_ICE_MAX_LINE + 1] = {
        "candidate:1 1 udp 2130706431 198.18.0.11 50000 typ host",
        "candidate:2 1 udp 1694498815 198.18.1.1 50001 typ srflx raddr 0.0.0.0 rport 0"};
    rvmsg o = {.type = RV_ICE_OFFER};
    snprintf(o.u.ice.user, sizeof o.u.ice.user, "grace");
    memset(o.u.ice.device, 5, RV_KEY_LEN);
    memset(o.u.ice.session, 6, RV_ICE_SESSION_LEN);
    snprintf(o.u.ice.ufrag, sizeof o.u.ice.ufrag, "abcd");
    snprintf(o.u.ice.pwd, sizeof o.u.ice.pwd, "0123456789abcdefghijkl");
    o.u.ice.ncand = 2;
    o.u.ice.cand = lines;
    round_trip(&o, &out);
    assert_string_equal(out.u.ice.user, "grace");
    assert_memory_equal(out.u.ice.session, o.u.ice.session, RV_ICE_SESSION_LEN);
    assert_int_equal(out.u.ice.ncand, 2);
    assert_string_equal(out.u.ice.cand[1], lines[1]);
    rvmsg_clear(&out);
    o.type = RV_ICE_ANSWER;
    o.u.ice.ncand = 0;
    round_trip(&o, &out);
    assert_int_equal(out.u.ice.ncand, 0);
    rvmsg_clear(&out);
    o.type = RV_ICE_END;
    snprintf(o.u.ice.error, sizeof o.u.ice.error, "EOFFLINE");
    round_trip(&o, &out);
    assert_string_equal(out.u.ice.error, "EOFFLINE");
    assert_null(out.u.ice.cand);
    rvmsg_clear(&out);
    /* A short pwd, a control character in a line, no candidates array. */
    const char *head =
        "{\"user\":\"g\",\"device\":\"0505050505050505050505050505050505050505"
        "050505050505050505050505\",\"session\":\"06060606060606060606060606060606\",";
    char j[512];
    snprintf(j, sizeof j, "%s\"ufrag\":\"abcd\",\"pwd\":\"short\",\"candidates\":[]}", head);
    assert_int_equal(dec(&m, RV_ICE_OFFER, j), BANTER_ESCHEMA);
    snprintf(j, sizeof j,
             "%s\"ufrag\":\"abcd\",\"pwd\":\"0123456789abcdefghijkl\",\"candidates\":[\"a\\nb\"]}",
             head);
    assert_int_equal(dec(&m, RV_ICE_OFFER, j), BANTER_ESCHEMA);
    snprintf(j, sizeof j, "%s\"ufrag\":\"abcd\",\"pwd\":\"0123456789abcdefghijkl\"}", head);
    assert_int_equal(dec(&m, RV_ICE_ANSWER, j), BANTER_ESCHEMA);
    snprintf(j, sizeof j, "%s\"error\":\"EOFFLINE\"}", head);
    assert_int_equal(dec(&m, RV_ICE_END, j), 0);
    rvmsg_clear(&m);
}

/* RV_PROBE / RV_PROBE_RESULT (docs/rendezvous.md 16): the request is a
 * port and nothing else; the result's members are checked strictly. */
static void test_probe_messages(void **state)
{
    (void)state;
    rvmsg in = {.type = RV_PROBE}, out, m;
    in.u.probe.port = 7070;
    round_trip(&in, &out);
    assert_int_equal(out.u.probe.port, 7070);
    rvmsg_clear(&out);
    in = (rvmsg){.type = RV_PROBE_RESULT};
    in.u.probe.port = 65535;
    in.u.probe.result = RV_PR_TIMEOUT;
    in.u.probe.ms = 3000;
    snprintf(in.u.probe.address, sizeof in.u.probe.address, "198.18.0.2");
    round_trip(&in, &out);
    assert_int_equal(out.u.probe.port, 65535);
    assert_int_equal(out.u.probe.result, RV_PR_TIMEOUT);
    assert_string_equal(out.u.probe.address, "198.18.0.2");
    assert_true(out.u.probe.ms == 3000);
    rvmsg_clear(&out);
    snprintf(in.u.probe.address, sizeof in.u.probe.address, "2001:db8::7");
    in.u.probe.result = RV_PR_REACHABLE;
    round_trip(&in, &out);
    assert_string_equal(out.u.probe.address, "2001:db8::7");
    rvmsg_clear(&out);
    for (int i = 0; i < RV_PR_COUNT; i++)
        assert_string_not_equal(rv_probe_res_name((rv_probe_res)i), "?");
    assert_string_equal(rv_probe_res_name(RV_PR_COUNT), "?");
    /* Port 0, out of range, absent, not an integer. */
    in = (rvmsg){.type = RV_PROBE};
    buf w;
    buf_init(&w, 1024);
    assert_int_equal(rvmsg_encode(&in, &w), BANTER_ESCHEMA);
    buf_free(&w);
    assert_int_equal(dec(&m, RV_PROBE, "{\"port\":0}"), BANTER_ESCHEMA);
    assert_int_equal(dec(&m, RV_PROBE, "{\"port\":65536}"), BANTER_ESCHEMA);
    assert_int_equal(dec(&m, RV_PROBE, "{}"), BANTER_ESCHEMA);
    assert_int_equal(dec(&m, RV_PROBE, "{\"port\":\"80\"}"), BANTER_ESCHEMA);
    assert_int_equal(dec(&m, RV_PROBE, "{\"port\":80.0}"), BANTER_ESCHEMA);
    /* An address in the request is ignored (unknown member): the server
     * never reads one. */
    assert_int_equal(dec(&m, RV_PROBE, "{\"port\":80,\"address\":\"10.0.0.1\"}"), 0);
    assert_int_equal(m.u.probe.port, 80);
    assert_string_equal(m.u.probe.address, "");
    rvmsg_clear(&m);
    /* Results: an unknown result, a name for an address, ms out of range. */
    assert_int_equal(dec(&m, RV_PROBE_RESULT, "{\"port\":80,\"result\":\"open\",\"ms\":1}"),
                     BANTER_ESCHEMA);
    assert_int_equal(dec(&m, RV_PROBE_RESULT,
                         "{\"port\":80,\"result\":\"refused\",\"address\":\"example.com\","
                         "\"ms\":1}"),
                     BANTER_ESCHEMA);
    assert_int_equal(dec(&m, RV_PROBE_RESULT, "{\"port\":80,\"result\":\"refused\",\"ms\":60001}"),
                     BANTER_ESCHEMA);
    assert_int_equal(dec(&m, RV_PROBE_RESULT, "{\"port\":80,\"result\":\"refused\"}"),
                     BANTER_ESCHEMA);
    assert_int_equal(dec(&m, RV_PROBE_RESULT, "{\"port\":80,\"result\":\"error\",\"ms\":0}"), 0);
    assert_int_equal(m.u.probe.result, RV_PR_ERROR);
    rvmsg_clear(&m);
}

int main(void)
{
    if (bcrypto_init() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_login_auth),        cmocka_unit_test(test_profile_search),
        cmocka_unit_test(test_profile_controls),  cmocka_unit_test(test_cert_message),
        cmocka_unit_test(test_contacts_presence), cmocka_unit_test(test_stored_recipients),
        cmocka_unit_test(test_seal_messages),     cmocka_unit_test(test_integers_exact),
        cmocka_unit_test(test_ice_messages),      cmocka_unit_test(test_probe_messages),
    };
    return cmocka_run_group_tests_name("rvmsg", tests, NULL, NULL);
}
