/* SPDX-License-Identifier: MIT */
/*
 * test_peer_contacts.c - the rules of contacts.h, one test each: names
 * folded by one rule, trust on first use, a new key claiming a known
 * colleague, a known key renaming itself into a trusted name (issue 11's
 * first attack), a LAN key naming itself like an organisation account
 * (issue 11's second attack), certificates and the server's device lists,
 * resolving what a user typed, and verifying.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "core/contacts.h"
#include "core/store.h"
#include "identity.h"
#include "utf8.h"

#define SERVER_FPD "1234567890123456789012345678901234567890"

struct fixture {
    char dir[64];
    char path[128];
    store *st;
    contacts *cs;
    int64_t wall;
    node_clock clock;
};

static int64_t f_wall(void *ctx) { return ((struct fixture *)ctx)->wall; }
static int64_t f_mono(void *ctx) { return ((struct fixture *)ctx)->wall - 1700000000000; }

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/banter-contacts-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/banter.db", f->dir);
    char err[256];
    assert_int_equal(store_open(&f->st, f->path, err, sizeof err), 0);
    f->wall = 1700000000000;
    f->clock = (node_clock){f_wall, f_mono, f};
    assert_int_equal(contacts_new(&f->cs, f->st, SERVER_FPD, &f->clock), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    contacts_free(f->cs);
    store_close(f->st);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void fill_key(uint8_t key[32], uint8_t seed)
{
    for (size_t i = 0; i < 32; i++)
        key[i] = (uint8_t)(seed * 7 + i);
}

/* Admit the device of seed with name (and account), expecting `want`. */
static contacts_admit_result admit(struct fixture *f, uint8_t seed, const char *name,
                                   const char *account, contacts_admitted want)
{
    uint8_t key[32];
    contacts_admit_result res;
    fill_key(key, seed);
    f->wall += 1000;
    assert_int_equal(contacts_admit(f->cs, key, name, "lan", "198.18.0.2:7070", account, 0, &res),
                     0);
    if (res.what != want)
        print_error("admit %u as \"%s\": %d, wanted %d (%s)\n", seed, name, res.what, want,
                    res.text);
    assert_int_equal(res.what, want);
    assert_memory_equal(res.dev.key, key, 32);
    assert_memory_equal(res.dev.contact, res.contact.key, 32);
    return res;
}

static store_device device_of(struct fixture *f, uint8_t seed)
{
    uint8_t key[32];
    store_device d;
    fill_key(key, seed);
    assert_int_equal(store_device_get(f->st, key, &d), 0);
    return d;
}

static store_contact contact_get(struct fixture *f, const uint8_t key[32])
{
    store_contact c;
    assert_int_equal(store_contact_get(f->st, key, &c), 0);
    return c;
}

static size_t ncontacts(struct fixture *f)
{
    store_contact *all = NULL;
    size_t n = 0;
    assert_int_equal(store_contact_list(f->st, &all, &n), 0);
    free(all);
    return n;
}

static size_t ndevices(struct fixture *f, const uint8_t contact[32])
{
    store_device *all = NULL;
    size_t n = 0;
    assert_int_equal(store_device_list(f->st, contact, &all, &n), 0);
    free(all);
    return n;
}

static int resolve(struct fixture *f, const char *query, uint8_t key[32], char *why, size_t cap)
{
    bool has_dev = false;
    why[0] = '\0';
    return contacts_resolve(f->cs, query, key, NULL, &has_dev, why, cap);
}

/* An incoming message under contact, from the device of seed. */
static void add_in(struct fixture *f, const uint8_t contact[32], uint8_t seed, uint8_t n,
                   const char *body)
{
    store_msg m = {.dir = STORE_IN, .state = STORE_RECEIVED, .has_device = true};
    memset(m.id, n, sizeof m.id);
    memcpy(m.contact, contact, 32);
    fill_key(m.device, seed);
    m.body = (char *)(uintptr_t)body;
    m.body_len = strlen(body);
    assert_int_equal(store_msg_add(f->st, &m, NULL), 0);
}

static size_t history_len(struct fixture *f, const uint8_t contact[32])
{
    store_msg *h = NULL;
    size_t n = 0;
    assert_int_equal(store_history(f->st, contact, 0, 1000, &h, &n), 0);
    store_msgs_free(h, n);
    return n;
}

/* Admit the device of seed showing a certificate for account that
 * expires at expires_ms (the clock does not move). */
static contacts_admit_result admit_cert(struct fixture *f, uint8_t seed, const char *name,
                                        const char *account, int64_t expires_ms,
                                        contacts_admitted want)
{
    uint8_t key[32];
    contacts_admit_result res;
    fill_key(key, seed);
    assert_int_equal(
        contacts_admit(f->cs, key, name, "lan", "198.18.0.2:7070", account, expires_ms, &res), 0);
    if (res.what != want)
        print_error("admit %u as \"%s\": %d, wanted %d (%s)\n", seed, name, res.what, want,
                    res.text);
    assert_int_equal(res.what, want);
    return res;
}

/* Whether the device of seed speaks for its contact now. */
static bool trusted_now(struct fixture *f, uint8_t seed)
{
    store_device d;
    uint8_t key[32];
    fill_key(key, seed);
    assert_int_equal(store_device_get(f->st, key, &d), 0);
    return contacts_device_trusted(&d, f->wall);
}

/* How many devices of contact a message to it goes to now (the
 * messenger's rule: contacts_device_trusted), and whether seed is one. */
static size_t sent_to(struct fixture *f, const uint8_t contact[32], uint8_t seed, bool *has)
{
    store_device *all = NULL;
    size_t n = 0, k = 0;
    uint8_t key[32];
    fill_key(key, seed);
    *has = false;
    assert_int_equal(store_device_list(f->st, contact, &all, &n), 0);
    for (size_t i = 0; i < n; i++)
        if (contacts_device_trusted(&all[i], f->wall)) {
            k++;
            *has |= memcmp(all[i].key, key, 32) == 0;
        }
    free(all);
    return k;
}

/* ---- names ---- */

static void test_fold(void **state)
{
    (void)state;
    char out[CONTACTS_FOLD_MAX];
    contacts_fold("BOB", out, sizeof out);
    assert_string_equal(out, "bob");
    contacts_fold("ｂｏｂ", out, sizeof out); /* fullwidth */
    assert_string_equal(out, "bob");
    contacts_fold("ＢＯＢ", out, sizeof out);
    assert_string_equal(out, "bob");
    contacts_fold("Straße", out, sizeof out); /* case folding, not lowering */
    assert_string_equal(out, "strasse");
    contacts_fold("ﬁona", out, sizeof out); /* a ligature (NFKC) */
    assert_string_equal(out, "fiona");
    contacts_fold("Ame\xcc\x81lie", out, sizeof out); /* decomposed é */
    assert_string_equal(out, "am\xc3\xa9lie");
    assert_true(contacts_same_name("ｂｏｂ", "bob"));
    assert_true(contacts_same_name("BOB", "bob"));
    assert_true(contacts_same_name("Bob", "ＢＯＢ"));
    assert_true(contacts_same_name("Amélie", "AME\xcc\x81LIE"));
    assert_true(contacts_same_name("STRASSE", "straße"));
    assert_false(contacts_same_name("bob", "bob2"));
    assert_false(contacts_same_name("bob", "b o b"));
    /* Letters of another script drawn like Latin ones in both cases are
     * compared as those: Cyrillic о, А, р, у; Greek Ο, Α, Ι, Κ, Ρ, Χ; a
     * dotless ı. Those alike as capitals only are not (Т, м: Тома is not
     * Toma; Greek Β, Η...). */
    assert_true(contacts_same_name("bob", "b\xd0\xbe"
                                          "b"));
    assert_true(contacts_same_name("Alice", "\xd0\x90"
                                            "lice"));
    assert_true(contacts_same_name("paypal", "\xd1\x80\xd0\xb0\xd1\x83\xd1\x80\xd0\xb0"
                                             "l"));
    assert_true(contacts_same_name("KAPO", "\xce\x9a\xce\x91\xce\xa1\xce\x9f"));  /* ΚΑΡΟ */
    assert_false(contacts_same_name("BOB", "\xce\x92\xce\x9f\xce\x92"));          /* ΒΟΒ */
    assert_false(contacts_same_name("Toma", "\xd0\xa2\xd0\xbe\xd0\xbc\xd0\xb0")); /* Тома */
    assert_true(contacts_same_name("ivan", "\xc4\xb1van"));
    contacts_fold("\xd0\x90"
                  "LICE",
                  out, sizeof out);
    assert_string_equal(out, "alice");
    /* a name in another script stays itself, apart from Latin names */
    assert_true(contacts_same_name("\xd0\x92\xd0\xbe\xd0\xb2\xd0\xb0", /* Вова */
                                   "\xd0\xb2\xd0\xbe\xd0\xb2\xd0\xb0"));
    assert_false(contacts_same_name("bob", "\xd0\x92\xd0\xbe\xd0\xb2\xd0\xb0"));
    assert_false(contacts_same_name("\xd0\x9e\xd0\xbb\xd1\x8f",                   /* Оля */
                                    "\xd0\x9e\xd0\xbb\xd0\xb5\xd0\xb3"));         /* Олег */
    assert_false(contacts_same_name("\xce\x96\xce\xb5\xcf\x8d\xcf\x82", "zeus")); /* Ζεύς */
    /* What cannot be seen does not make another name: white space at the
     * ends or doubled, zero-width characters, bidi controls, a soft
     * hyphen, a variation selector, a tag character. */
    assert_true(contacts_same_name("Alice ", "alice"));
    assert_true(contacts_same_name("\xe2\x80\x83"
                                   "Alice",
                                   "alice")); /* em space */
    assert_true(contacts_same_name("Ali\xe2\x80\x8b"
                                   "ce",
                                   "alice")); /* U+200B */
    assert_true(contacts_same_name("Ali\xe2\x80\x8d"
                                   "ce",
                                   "alice")); /* U+200D */
    assert_true(contacts_same_name("\xe2\x80\xae"
                                   "Alice",
                                   "alice"));                      /* U+202E */
    assert_true(contacts_same_name("Alice\xe2\x81\xa9", "alice")); /* U+2069 */
    assert_true(contacts_same_name("Al\xc2\xad"
                                   "ice",
                                   "alice"));                          /* U+00AD */
    assert_true(contacts_same_name("Alice\xef\xb8\x8f", "alice"));     /* U+FE0F */
    assert_true(contacts_same_name("Alice\xf3\xa0\x80\x81", "alice")); /* U+E0001 */
    assert_true(contacts_same_name("Ada  Lovelace", "ada lovelace"));
    assert_false(contacts_same_name("\xe2\x80\x8b", "\xe2\x80\x8b")); /* nothing visible */

    /* Invalid UTF-8 folds to "" and matches nothing, not even itself. */
    memset(out, 'x', sizeof out);
    contacts_fold("bob\xff", out, sizeof out);
    assert_string_equal(out, "");
    contacts_fold("\xc3", out, sizeof out);
    assert_string_equal(out, "");
    contacts_fold("\xed\xa0\x80", out, sizeof out); /* a surrogate */
    assert_string_equal(out, "");
    contacts_fold(NULL, out, sizeof out);
    assert_string_equal(out, "");
    assert_false(contacts_same_name("bob\xff", "bob\xff"));
    assert_false(contacts_same_name("bob\xff", "bob"));
    assert_false(contacts_same_name("", ""));
    assert_false(contacts_same_name(NULL, NULL));

    /* A small buffer cuts at a character. */
    contacts_fold("ÉÉÉ", out, 4);
    assert_string_equal(out, "é");
    contacts_fold("ÉÉÉ", out, 5);
    assert_string_equal(out, "éé");
    contacts_fold("abc", out, 1);
    assert_string_equal(out, "");
    /* A name of the longest kind that grows when folded still fits. */
    char longest[BANTER_MAX_NAME + 1];
    size_t k = 0;
    while (k + 3 <= BANTER_MAX_NAME) { /* "ﬃ" is 3 bytes and folds to "ffi" */
        memcpy(longest + k, "ﬃ", 3);
        k += 3;
    }
    longest[k] = '\0';
    contacts_fold(longest, out, sizeof out);
    assert_int_equal(strlen(out), k);
    assert_true(utf8_valid(out, strlen(out)));
}

static void test_account_key(void **state)
{
    (void)state;
    uint8_t a[32], b[32], c[32], want[32];
    contacts_account_key(SERVER_FPD, "dave", a);
    contacts_account_key(SERVER_FPD, "dave", b);
    assert_memory_equal(a, b, 32);
    contacts_account_key(SERVER_FPD, "davf", c);
    assert_memory_not_equal(a, c, 32);
    contacts_account_key("1234567890123456789012345678901234567891", "dave", c);
    assert_memory_not_equal(a, c, 32);
    /* BLAKE2b-256("banter-account-v1" || server || 0 || account). */
    static const char in[] = "banter-account-v1" SERVER_FPD "\0dave";
    assert_int_equal(sodium_init() >= 0, 1);
    crypto_generichash(want, 32, (const unsigned char *)in, sizeof in - 1, NULL, 0);
    assert_memory_equal(a, want, 32);
}

/* ---- trust on first use ---- */

static void test_tofu(void **state)
{
    struct fixture *f = *state;
    contacts_admit_result r = admit(f, 1, "bob", NULL, ADMIT_NEW);
    assert_int_equal(r.dev.trust, TRUST_KNOWN);
    assert_int_equal(r.contact.kind, CONTACT_LAN);
    assert_string_equal(r.contact.name, "bob");
    assert_memory_equal(r.contact.key, r.dev.key, 32); /* named by its first key */
    assert_string_equal(r.dev.source, "lan");
    assert_string_equal(r.dev.addresses, "198.18.0.2:7070");
    assert_string_equal(r.text, "");
    int64_t first = r.dev.first_seen_ms;
    assert_int_equal(r.dev.last_seen_ms, first);
    assert_true(contacts_device_trusted(&r.dev, f->wall));
    assert_int_equal(contacts_may_send(f->cs, r.contact.key), 0);
    /* Stored as said. */
    store_device d = device_of(f, 1);
    assert_int_equal(d.trust, TRUST_KNOWN);
    store_contact c = contact_get(f, d.contact);
    assert_string_equal(c.name, "bob");

    /* Seen again: the same, only when it was seen changes. */
    r = admit(f, 1, "bob", NULL, ADMIT_SAME);
    assert_int_equal(r.dev.first_seen_ms, first);
    assert_true(r.dev.last_seen_ms > first);
    d = device_of(f, 1);
    assert_int_equal(d.last_seen_ms, r.dev.last_seen_ms);
    assert_int_equal(d.trust, TRUST_KNOWN);

    /* Another new key with another name: another contact. */
    r = admit(f, 2, "carol", NULL, ADMIT_NEW);
    assert_int_equal(ncontacts(f), 2);
    assert_int_equal(contacts_may_send(f->cs, r.contact.key), 0);
    /* A contact that does not exist. */
    uint8_t nobody[32];
    fill_key(nobody, 99);
    assert_int_equal(contacts_may_send(f->cs, nobody), BANTER_ENOENT);

    /* Bad names are refused, nothing stored. */
    uint8_t key[32];
    fill_key(key, 3);
    contacts_admit_result res;
    assert_int_equal(contacts_admit(f->cs, key, "bad\xff", "lan", "", NULL, 0, &res),
                     BANTER_EINVAL);
    char longname[BANTER_MAX_NAME + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(contacts_admit(f->cs, key, longname, "lan", "", NULL, 0, &res), BANTER_EINVAL);
    assert_int_equal(contacts_admit(f->cs, key, NULL, "lan", "", NULL, 0, &res), BANTER_EINVAL);
    assert_int_equal(store_device_get(f->st, key, &d), BANTER_ENOENT);
    assert_int_equal(ncontacts(f), 2);
    /* The longest name is fine. */
    longname[BANTER_MAX_NAME] = '\0';
    (void)admit(f, 3, longname, NULL, ADMIT_NEW);
}

/* A LAN name is kept and shown as it is compared: a bidi override that
 * would show "ecila" as "alice", invisible characters and a leading at
 * sign (only accounts are @NAME) are taken out; a name with nothing
 * visible is refused. */
static void test_names_shown_as_compared(void **state)
{
    struct fixture *f = *state;
    (void)admit(f, 1, "alice", NULL, ADMIT_NEW);
    contacts_admit_result r = admit(f, 2,
                                    "\xe2\x80\xae"
                                    "ecila",
                                    NULL, ADMIT_NEW); /* U+202E */
    assert_string_equal(r.contact.name, "ecila");
    assert_string_equal(r.dev.name, "ecila");
    assert_string_equal(device_of(f, 2).name, "ecila");
    r = admit(f, 3,
              "\xe2\x81\xa7"
              "b\xe2\x80\x8bob\xe2\x81\xa9  smith ",
              NULL, ADMIT_NEW); /* U+2067 ... U+2069, U+200B */
    assert_string_equal(r.contact.name, "bob smith");
    r = admit(f, 4, "@carol", NULL, ADMIT_NEW);
    assert_string_equal(r.contact.name, "carol");
    r = admit(f, 5, "\xef\xbc\xa0 dave", NULL, ADMIT_NEW); /* U+FF20, fullwidth @ */
    assert_string_equal(r.contact.name, "dave");
    /* Known, renaming itself: the same rule. */
    r = admit(f, 4,
              "\xe2\x80\xae"
              "lorac",
              NULL, ADMIT_RENAMED);
    assert_string_equal(r.contact.name, "lorac");
    /* A name that says the same as a known one after the cleaning claims it. */
    r = admit(f, 6, "@alice\xe2\x80\x8b", NULL, ADMIT_CHANGED);
    assert_int_equal(r.dev.trust, TRUST_CHANGED);
    /* Look-alike letters of another script (Cyrillic U+0430 in "alice",
     * or a whole word of them: а ӏ і с е) are compared as the Latin ones:
     * the new key claims alice, as "ALICE" would. */
    r = admit(f, 8, "\xd0\xb0lice", NULL, ADMIT_CHANGED);
    assert_int_equal(r.dev.trust, TRUST_CHANGED);
    r = admit(f, 10, "\xd0\xb0\xd3\x8f\xd1\x96\xd1\x81\xd0\xb5", NULL, ADMIT_CHANGED);
    assert_int_equal(r.dev.trust, TRUST_CHANGED);
    /* A mix that looks like no contact's name: another name, but the label
     * carries the key's first digits and says why; a name whose words
     * each have one script does not. */
    r = admit(f, 11, "\xd0\xb3lice", NULL, ADMIT_NEW); /* Cyrillic г */
    assert_int_equal(r.dev.trust, TRUST_KNOWN);
    assert_true(strncmp(r.contact.name, "\xd0\xb3lice (", 8) == 0);
    assert_non_null(strstr(r.text, "mixes the letters of two scripts"));
    r = admit(f, 9, "Zo\xc3\xab \xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd", NULL,
              ADMIT_NEW); /* "Zoë Иван": Latin, then Cyrillic */
    assert_string_equal(r.contact.name, "Zo\xc3\xab \xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd");
    r = admit(f, 5, "d\xd0\xb0ve", NULL, ADMIT_RENAMED); /* dave renames into a mix */
    assert_true(strncmp(r.contact.name, "d\xd0\xb0ve (", 7) == 0);
    /* Nothing visible: refused, nothing stored. */
    uint8_t key[32];
    fill_key(key, 7);
    store_device d;
    contacts_admit_result res;
    assert_int_equal(contacts_admit(f->cs, key, "\xe2\x80\x8b@ ", "lan", "", NULL, 0, &res),
                     BANTER_EINVAL);
    assert_int_equal(store_device_get(f->st, key, &d), BANTER_ENOENT);
}

/* A new key with a known LAN contact's name, in any case or width, claims
 * that contact: changed, nothing is sent until someone verifies. */
static void test_new_key_claims_known_name(void **state)
{
    struct fixture *f = *state;
    contacts_admit_result bob = admit(f, 1, "bob", NULL, ADMIT_NEW);
    add_in(f, bob.contact.key, 1, 1, "hi from bob");
    const char *claims[] = {"bob", "BOB", "Bob", "ｂｏｂ", "ＢＯＢ"};
    for (uint8_t i = 0; i < sizeof claims / sizeof claims[0]; i++) {
        contacts_admit_result r = admit(f, (uint8_t)(10 + i), claims[i], NULL, ADMIT_CHANGED);
        assert_memory_equal(r.contact.key, bob.contact.key, 32);
        assert_int_equal(r.dev.trust, TRUST_CHANGED);
        assert_true(r.dev.has_replaces);
        assert_memory_equal(r.dev.replaces, bob.dev.key, 32);
        assert_false(contacts_device_trusted(&r.dev, f->wall));
        /* The warning shows both real fingerprints. */
        char ofp[IDENTITY_FP_LEN + 1], nfp[IDENTITY_FP_LEN + 1];
        identity_fingerprint(bob.dev.key, ofp);
        identity_fingerprint(r.dev.key, nfp);
        assert_non_null(strstr(r.text, ofp));
        assert_non_null(strstr(r.text, nfp));
        assert_non_null(strstr(r.text, "banter verify"));
        assert_int_equal(contacts_may_send(f->cs, bob.contact.key), BANTER_EKEYMISMATCH);
        /* bob is still bob: his device, label, history untouched. */
        store_device d = device_of(f, 1);
        assert_int_equal(d.trust, TRUST_KNOWN);
        assert_false(d.has_replaces);
        store_contact c = contact_get(f, bob.contact.key);
        assert_string_equal(c.name, "bob");
        assert_int_equal(history_len(f, bob.contact.key), 1);
        /* The claimer has no contact of its own. */
        assert_int_equal(ncontacts(f), 1);
        /* Seen again, still changed. */
        r = admit(f, (uint8_t)(10 + i), claims[i], NULL, ADMIT_SAME);
        assert_int_equal(r.dev.trust, TRUST_CHANGED);
    }
    uint8_t key[32];
    char why[512];
    assert_int_equal(resolve(f, "BOB", key, why, sizeof why), 0);
    assert_memory_equal(key, bob.contact.key, 32);
}

/* Issue 11, first attack: a key the victim already knows restarts under a
 * trusted colleague's name. It keeps its own contact and label; the name
 * still resolves to the real colleague, whose trust and history are
 * untouched, and sending to him is not refused. */
static void test_known_key_renames_into_trusted_name(void **state)
{
    struct fixture *f = *state;
    contacts_admit_result bob = admit(f, 1, "bob", NULL, ADMIT_NEW);
    uint8_t k[32];
    char why[512], note[256];
    assert_int_equal(contacts_verify(f->cs, bob.contact.key, NULL, note, sizeof note), 0);
    assert_int_equal(device_of(f, 1).trust, TRUST_VERIFIED);
    add_in(f, bob.contact.key, 1, 1, "from the real bob");
    contacts_admit_result mal = admit(f, 2, "mallory", NULL, ADMIT_NEW);
    add_in(f, mal.contact.key, 2, 2, "from mallory");

    const char *names[] = {"bob", "BOB", "ｂｏｂ", "Bob"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        contacts_admit_result r = admit(f, 2, names[i], NULL, ADMIT_RENAMED);
        /* Its own contact, its own label, said so. */
        assert_memory_equal(r.contact.key, mal.contact.key, 32);
        assert_string_equal(r.contact.name, "mallory");
        assert_non_null(strstr(r.text, "still shown as mallory"));
        store_device d = device_of(f, 2);
        assert_memory_equal(d.contact, mal.contact.key, 32);
        assert_string_equal(d.name, names[i]); /* what it calls itself: a label */
        assert_int_equal(d.trust, TRUST_KNOWN);
        assert_string_equal(contact_get(f, mal.contact.key).name, "mallory");
        /* bob: label, trust, history untouched. */
        assert_string_equal(contact_get(f, bob.contact.key).name, "bob");
        d = device_of(f, 1);
        assert_int_equal(d.trust, TRUST_VERIFIED);
        assert_memory_equal(d.contact, bob.contact.key, 32);
        assert_int_equal(history_len(f, bob.contact.key), 1);
        assert_int_equal(history_len(f, mal.contact.key), 1);
        /* "bob" is bob, once; sending to him is allowed. */
        for (size_t q = 0; q < sizeof names / sizeof names[0]; q++) {
            assert_int_equal(resolve(f, names[q], k, why, sizeof why), 0);
            assert_memory_equal(k, bob.contact.key, 32);
        }
        assert_int_equal(contacts_may_send(f->cs, bob.contact.key), 0);
        assert_int_equal(contacts_may_send(f->cs, mal.contact.key), 0);
        assert_int_equal(ncontacts(f), 2);
    }
    /* Its own label is still reachable, and a rename to a free name is
     * followed (a colleague renaming themselves). */
    assert_int_equal(resolve(f, "mallory", k, why, sizeof why), 0);
    assert_memory_equal(k, mal.contact.key, 32);
    contacts_admit_result r = admit(f, 2, "Mallory M.", NULL, ADMIT_RENAMED);
    assert_string_equal(r.contact.name, "Mallory M.");
    assert_string_equal(contact_get(f, mal.contact.key).name, "Mallory M.");
    assert_non_null(strstr(r.text, "now calls itself"));
    /* Once the person wrote to her, she is known by that label: a rename
     * into a free name ("carol", which a plug-in's list may give) leaves
     * it, and "carol" names nobody. */
    store_msg m;
    memset(&m, 0, sizeof m);
    memset(m.id, 7, sizeof m.id);
    memcpy(m.contact, mal.contact.key, 32);
    m.dir = STORE_OUT;
    m.state = STORE_QUEUED;
    m.ts_ms = m.stored_ms = f->wall;
    m.body = (char *)(uintptr_t) "hello";
    m.body_len = 5;
    int64_t seq;
    assert_int_equal(store_msg_add(f->st, &m, &seq), 0);
    r = admit(f, 2, "carol", NULL, ADMIT_RENAMED);
    assert_string_equal(r.contact.name, "Mallory M.");
    assert_string_equal(contact_get(f, mal.contact.key).name, "Mallory M.");
    assert_non_null(strstr(r.text, "you know them by their label"));
    assert_int_equal(resolve(f, "carol", k, why, sizeof why), BANTER_ENOENT);
    assert_int_equal(resolve(f, "Mallory M.", k, why, sizeof why), 0);
    assert_memory_equal(k, mal.contact.key, 32);
}

/* Issue 11, second attack: a never-seen LAN host says HELLO with an
 * approved account's name, no certificate. It neither joins, hides nor
 * replaces the organisation contact: it is a contact of its own with a
 * distinct label, "@account" and the plain name still give the account,
 * nothing is refused, and verifying either changes nothing of the other. */
static void test_lan_claim_does_not_hide_org(void **state)
{
    struct fixture *f = *state;
    uint8_t u2dev[1][32];
    fill_key(u2dev[0], 50);
    store_contact org;
    assert_int_equal(contacts_org(f->cs, "u2", (const uint8_t(*)[32])u2dev, 1, &org), 0);
    add_in(f, org.key, 50, 1, "from u2 through the server");
    store_device before = device_of(f, 50);

    const char *claims[] = {"u2", "U2", "ｕ２"};
    for (uint8_t i = 0; i < sizeof claims / sizeof claims[0]; i++) {
        contacts_admit_result r = admit(f, (uint8_t)(60 + i), claims[i], NULL, ADMIT_NEW);
        assert_memory_not_equal(r.contact.key, org.key, 32);
        assert_int_equal(r.contact.kind, CONTACT_LAN);
        assert_int_equal(r.dev.trust, TRUST_KNOWN);
        assert_false(r.dev.has_replaces);
        /* A distinct label: the name and the first digits of its key. */
        char fp[IDENTITY_FP_LEN + 1];
        identity_fingerprint(r.dev.key, fp);
        assert_false(contacts_same_name(r.contact.name, "u2"));
        char digits[6];
        snprintf(digits, sizeof digits, "%.5s", fp);
        assert_int_equal(strncmp(r.contact.name, claims[i], strlen(claims[i])), 0);
        assert_non_null(strstr(r.contact.name + strlen(claims[i]), digits));
        assert_non_null(strstr(r.text, "another contact's name"));

        /* The organisation contact is as it was. */
        store_contact o = contact_get(f, org.key);
        assert_int_equal(o.kind, CONTACT_ORG);
        assert_string_equal(o.name, "u2");
        assert_string_equal(o.account, "u2");
        store_device d = device_of(f, 50);
        assert_int_equal(d.trust, TRUST_CERTIFIED);
        assert_memory_equal(d.contact, org.key, 32);
        assert_false(d.has_replaces);
        assert_int_equal(d.last_seen_ms, before.last_seen_ms);
        store_device *devs = NULL;
        size_t n = 0;
        assert_int_equal(store_device_list(f->st, org.key, &devs, &n), 0);
        assert_int_equal(n, 1);
        free(devs);
        assert_int_equal(history_len(f, org.key), 1);
        assert_int_equal(contacts_may_send(f->cs, org.key), 0);
        /* "@u2" and "u2" are the account. */
        uint8_t k[32];
        char why[512];
        assert_int_equal(resolve(f, "@u2", k, why, sizeof why), 0);
        assert_memory_equal(k, org.key, 32);
        assert_int_equal(resolve(f, "u2", k, why, sizeof why), 0);
        assert_memory_equal(k, org.key, 32);
        assert_int_equal(resolve(f, "U2", k, why, sizeof why), 0);
        assert_memory_equal(k, org.key, 32);
        /* Verifying the impostor (as a warning might suggest) touches
         * nothing of the account. */
        char note[256];
        assert_int_equal(contacts_verify(f->cs, r.contact.key, NULL, note, sizeof note), 0);
        assert_int_equal(device_of(f, 50).trust, TRUST_CERTIFIED);
        assert_int_equal(store_contact_get(f->st, org.key, &o), 0);
        /* And seen again it stays where it is. */
        r = admit(f, (uint8_t)(60 + i), claims[i], NULL, ADMIT_SAME);
        assert_memory_not_equal(r.contact.key, org.key, 32);
    }
    assert_int_equal(ncontacts(f), 4);
}

/* A known LAN key renaming itself into the account's name changes nothing
 * either. */
static void test_lan_rename_into_org_name(void **state)
{
    struct fixture *f = *state;
    uint8_t u2dev[1][32];
    fill_key(u2dev[0], 50);
    store_contact org;
    assert_int_equal(contacts_org(f->cs, "u2", (const uint8_t(*)[32])u2dev, 1, &org), 0);
    contacts_admit_result eve = admit(f, 3, "eve", NULL, ADMIT_NEW);
    contacts_admit_result r = admit(f, 3, "U2", NULL, ADMIT_RENAMED);
    assert_string_equal(r.contact.name, "eve");
    assert_memory_equal(r.contact.key, eve.contact.key, 32);
    uint8_t k[32];
    char why[256];
    assert_int_equal(resolve(f, "u2", k, why, sizeof why), 0);
    assert_memory_equal(k, org.key, 32);
    assert_int_equal(device_of(f, 50).trust, TRUST_CERTIFIED);
}

/* The distinct label of a long name still fits, cut at a character. */
static void test_distinct_label_long_name(void **state)
{
    struct fixture *f = *state;
    char name[BANTER_MAX_NAME + 1] = "";
    for (size_t k = 0; k + 3 <= BANTER_MAX_NAME; k += 3)
        memcpy(name + k, "\xe2\x82\xac", 4); /* the euro sign, 3 bytes, and a NUL */
    store_contact org;
    assert_int_equal(contacts_org(f->cs, "acct", NULL, 0, &org), 0);
    snprintf(org.name, sizeof org.name, "%s", name);
    assert_int_equal(store_contact_put(f->st, &org), 0);
    contacts_admit_result r = admit(f, 7, name, NULL, ADMIT_NEW);
    assert_true(strlen(r.contact.name) <= BANTER_MAX_NAME);
    assert_true(utf8_valid(r.contact.name, strlen(r.contact.name)));
    assert_false(contacts_same_name(r.contact.name, name));
    assert_int_equal(strncmp(r.contact.name, name, 6), 0);
    uint8_t k[32];
    char why[256];
    assert_int_equal(resolve(f, name, k, why, sizeof why), 0);
    assert_memory_equal(k, org.key, 32);
    assert_int_equal(resolve(f, r.contact.name, k, why, sizeof why), 0);
    assert_memory_equal(k, r.contact.key, 32);
}

/* ---- the organisation ---- */

/* A device with a valid certificate joins the account; a LAN contact of
 * its own is merged in, history and all. */
static void test_certificate_joins_org(void **state)
{
    struct fixture *f = *state;
    /* Met on the LAN first, without a certificate. */
    contacts_admit_result lan = admit(f, 1, "carol-laptop", NULL, ADMIT_NEW);
    add_in(f, lan.contact.key, 1, 1, "LAN hello");
    add_in(f, lan.contact.key, 1, 2, "LAN again");
    /* The account exists, with another device the server listed. */
    uint8_t other[1][32];
    fill_key(other[0], 2);
    store_contact org;
    assert_int_equal(contacts_org(f->cs, "carol", (const uint8_t(*)[32])other, 1, &org), 0);
    add_in(f, org.key, 2, 3, "relayed");
    assert_int_equal(ncontacts(f), 2);

    /* It shows a certificate for carol. */
    contacts_admit_result r = admit(f, 1, "carol-laptop", "carol", ADMIT_JOINED);
    assert_memory_equal(r.contact.key, org.key, 32);
    assert_int_equal(r.contact.kind, CONTACT_ORG);
    assert_int_equal(r.dev.trust, TRUST_CERTIFIED);
    assert_non_null(strstr(r.text, "carol"));
    store_contact c;
    assert_int_equal(store_contact_get(f->st, lan.contact.key, &c), BANTER_ENOENT);
    assert_int_equal(ncontacts(f), 1);
    assert_int_equal(history_len(f, org.key), 3);
    store_device *devs = NULL;
    size_t n = 0;
    assert_int_equal(store_device_list(f->st, org.key, &devs, &n), 0);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(devs[i].trust, TRUST_CERTIFIED);
    free(devs);
    /* Seen again with its certificate: the same. */
    r = admit(f, 1, "carol-laptop", "carol", ADMIT_SAME);
    assert_memory_equal(r.contact.key, org.key, 32);
    assert_int_equal(r.dev.trust, TRUST_CERTIFIED);

    /* A new key with a certificate joins at once; an account not seen
     * before is made. */
    r = admit(f, 3, "carol-phone", "carol", ADMIT_JOINED);
    assert_memory_equal(r.contact.key, org.key, 32);
    assert_int_equal(r.dev.trust, TRUST_CERTIFIED);
    r = admit(f, 4, "Erin", "erin", ADMIT_JOINED);
    assert_int_equal(r.contact.kind, CONTACT_ORG);
    assert_string_equal(r.contact.account, "erin");
    uint8_t want[32];
    contacts_account_key(SERVER_FPD, "erin", want);
    assert_memory_equal(r.contact.key, want, 32);
    assert_int_equal(store_contact_by_account(f->st, "erin", &c), 0);
    /* A certificate also overrides a name claim: a new key named like a
     * known LAN colleague but certified for its own account is not a
     * changed key of that colleague. */
    contacts_admit_result bob = admit(f, 5, "bob", NULL, ADMIT_NEW);
    r = admit(f, 6, "bob", "bob2", ADMIT_JOINED);
    assert_memory_not_equal(r.contact.key, bob.contact.key, 32);
    assert_int_equal(contacts_may_send(f->cs, bob.contact.key), 0);
}

/* Without a pinned server no certificate is accepted and no account made. */
static void test_no_server(void **state)
{
    struct fixture *f = *state;
    contacts *cs = NULL;
    assert_int_equal(contacts_new(&cs, f->st, "", &f->clock), 0);
    uint8_t key[32];
    fill_key(key, 1);
    contacts_admit_result r;
    assert_int_equal(contacts_admit(cs, key, "carol", "lan", "", "carol", 0, &r), 0);
    assert_int_equal(r.what, ADMIT_NEW);
    assert_int_equal(r.contact.kind, CONTACT_LAN);
    assert_int_equal(r.dev.trust, TRUST_KNOWN);
    uint8_t devs[1][32];
    fill_key(devs[0], 2);
    assert_int_equal(contacts_org(cs, "carol", (const uint8_t(*)[32])devs, 1, NULL), BANTER_EINVAL);
    assert_int_equal(contacts_org(f->cs, "", (const uint8_t(*)[32])devs, 1, NULL), BANTER_EINVAL);
    store_contact c;
    assert_int_equal(store_contact_by_account(f->st, "carol", &c), BANTER_ENOENT);
    contacts_free(cs);
    contacts_free(NULL);
}

/* The server's device list: every device certified, in the one contact. */
static void test_org_device_list(void **state)
{
    struct fixture *f = *state;
    uint8_t devs[3][32];
    for (uint8_t i = 0; i < 3; i++)
        fill_key(devs[i], (uint8_t)(20 + i));
    store_contact org, again;
    assert_int_equal(contacts_org(f->cs, "dave", (const uint8_t(*)[32])devs, 2, &org), 0);
    assert_int_equal(org.kind, CONTACT_ORG);
    assert_string_equal(org.account, "dave");
    assert_string_equal(org.name, "dave");
    uint8_t want[32];
    contacts_account_key(SERVER_FPD, "dave", want);
    assert_memory_equal(org.key, want, 32);
    store_device *list = NULL;
    size_t n = 0;
    assert_int_equal(store_device_list(f->st, org.key, &list, &n), 0);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(list[i].trust, TRUST_CERTIFIED);
        assert_string_equal(list[i].source, "rendezvous");
        assert_true(contacts_device_trusted(&list[i], f->wall));
    }
    free(list);
    /* Listed again: nothing changes, not even when they were seen. */
    store_device d0 = device_of(f, 20);
    f->wall += 60000;
    assert_int_equal(contacts_org(f->cs, "dave", (const uint8_t(*)[32])devs, 2, &again), 0);
    assert_memory_equal(again.key, org.key, 32);
    store_device d1 = device_of(f, 20);
    assert_int_equal(d1.last_seen_ms, d0.last_seen_ms);
    assert_int_equal(d1.first_seen_ms, d0.first_seen_ms);
    /* A third device; no list at all (NULL out) is fine. */
    assert_int_equal(contacts_org(f->cs, "dave", (const uint8_t(*)[32])devs, 3, NULL), 0);
    assert_int_equal(store_device_list(f->st, org.key, &list, &n), 0);
    assert_int_equal(n, 3);
    free(list);
    assert_int_equal(contacts_org(f->cs, "dave", NULL, 0, &again), 0);
    assert_int_equal(ncontacts(f), 1);

    /* A device that was a LAN contact of its own (TOFU) is merged in. */
    contacts_admit_result lan = admit(f, 30, "dave-desk", NULL, ADMIT_NEW);
    add_in(f, lan.contact.key, 30, 9, "from the desk");
    uint8_t desk[1][32];
    fill_key(desk[0], 30);
    assert_int_equal(contacts_org(f->cs, "dave", (const uint8_t(*)[32])desk, 1, NULL), 0);
    store_contact c;
    assert_int_equal(store_contact_get(f->st, lan.contact.key, &c), BANTER_ENOENT);
    assert_int_equal(device_of(f, 30).trust, TRUST_CERTIFIED);
    assert_int_equal(history_len(f, org.key), 1);
    assert_int_equal(ncontacts(f), 1);
}

#define HOUR_MS (3600LL * 1000)

/* A certificate vouches until it expires: the device connecting later
 * without one is lapsed (nothing for the account goes to it, a note says
 * why), until it shows a valid one again. */
static void test_certificate_lapses(void **state)
{
    struct fixture *f = *state;
    int64_t t0 = f->wall;
    contacts_admit_result r = admit_cert(f, 40, "ada-laptop", "ada", t0 + HOUR_MS, ADMIT_JOINED);
    store_contact org = r.contact;
    assert_int_equal(device_of(f, 40).vouched_until_ms, t0 + HOUR_MS);
    assert_int_equal(contacts_trust(&r.dev, t0), TRUST_CERTIFIED);
    /* Within the certificate's life, no certificate on a connection
     * changes nothing. */
    f->wall = t0 + HOUR_MS / 2;
    r = admit_cert(f, 40, "ada-laptop", NULL, 0, ADMIT_SAME);
    assert_true(trusted_now(f, 40));
    /* Past its expiry, connecting without one: lapsed, still ada's device. */
    f->wall = t0 + 2 * HOUR_MS;
    assert_false(trusted_now(f, 40));
    r = admit_cert(f, 40, "ada-laptop", NULL, 0, ADMIT_LAPSED);
    assert_memory_equal(r.contact.key, org.key, 32);
    assert_memory_equal(r.dev.contact, org.key, 32);
    assert_int_equal(r.dev.trust, TRUST_CERTIFIED); /* as stored */
    assert_int_equal(contacts_trust(&r.dev, f->wall), TRUST_LAPSED);
    assert_false(contacts_device_trusted(&r.dev, f->wall));
    assert_non_null(strstr(r.text, "a device of @ada"));
    assert_non_null(strstr(r.text, "no current organisation certificate"));
    assert_non_null(strstr(r.text, "banter verify"));
    bool has;
    assert_int_equal(sent_to(f, org.key, 40, &has), 0);
    assert_string_equal(store_trust_name(TRUST_LAPSED), "lapsed");
    /* Said again at each connection while it lasts. */
    r = admit_cert(f, 40, "ada-laptop", NULL, 0, ADMIT_LAPSED);
    /* A valid certificate: vouched for again at once, until its expiry. */
    r = admit_cert(f, 40, "ada-laptop", "ada", f->wall + 24 * HOUR_MS, ADMIT_JOINED);
    assert_non_null(strstr(r.text, "again"));
    assert_true(trusted_now(f, 40));
    assert_int_equal(device_of(f, 40).vouched_until_ms, f->wall + 24 * HOUR_MS);
    assert_int_equal(sent_to(f, org.key, 40, &has), 1);
    assert_true(has);
    /* A renewal extends it; an older certificate shown does not shorten it. */
    r = admit_cert(f, 40, "ada-laptop", "ada", f->wall + 30 * HOUR_MS, ADMIT_SAME);
    assert_int_equal(device_of(f, 40).vouched_until_ms, f->wall + 30 * HOUR_MS);
    r = admit_cert(f, 40, "ada-laptop", "ada", f->wall + 3 * HOUR_MS, ADMIT_SAME);
    assert_int_equal(device_of(f, 40).vouched_until_ms, f->wall + 30 * HOUR_MS);
    /* Not told the expiry: a day from now. */
    r = admit_cert(f, 41, "ada-phone", "ada", 0, ADMIT_JOINED);
    assert_int_equal(device_of(f, 41).vouched_until_ms, f->wall + CONTACTS_VOUCH_MS);

    /* A lapsed device is accepted by a person who compared fingerprints:
     * verified, for good; a device still vouched for is left certified. */
    f->wall += 31 * HOUR_MS;
    uint8_t k40[32];
    fill_key(k40, 40);
    char note[256];
    assert_int_equal(contacts_verify(f->cs, org.key, k40, note, sizeof note), 0);
    assert_non_null(strstr(note, "no longer vouches"));
    assert_int_equal(device_of(f, 40).trust, TRUST_VERIFIED);
    f->wall += 365 * 24 * HOUR_MS;
    assert_true(trusted_now(f, 40));
    r = admit_cert(f, 40, "ada-laptop", NULL, 0, ADMIT_SAME);
    assert_int_equal(r.text[0], '\0');
}

/* The server's listing vouches for a day: a device lapses 24 h after the
 * last listing unless listed again (a relisting within the hour writes
 * nothing). */
static void test_listing_lapses(void **state)
{
    struct fixture *f = *state;
    uint8_t devs[2][32];
    fill_key(devs[0], 60);
    fill_key(devs[1], 61);
    int64_t t0 = f->wall;
    store_contact org;
    assert_int_equal(contacts_org(f->cs, "dave", (const uint8_t(*)[32])devs, 2, &org), 0);
    assert_int_equal(device_of(f, 60).vouched_until_ms, t0 + CONTACTS_VOUCH_MS);
    f->wall = t0 + CONTACTS_VOUCH_MS - 1;
    assert_true(trusted_now(f, 60));
    f->wall = t0 + CONTACTS_VOUCH_MS;
    assert_false(trusted_now(f, 60));
    assert_false(trusted_now(f, 61));
    bool has;
    assert_int_equal(sent_to(f, org.key, 60, &has), 0);
    /* Listed again (only one of them): that one is vouched for a day more. */
    f->wall = t0 + CONTACTS_VOUCH_MS + 5;
    assert_int_equal(contacts_org(f->cs, "dave", (const uint8_t(*)[32])devs, 1, NULL), 0);
    assert_true(trusted_now(f, 60));
    assert_false(trusted_now(f, 61));
    int64_t t1 = f->wall;
    /* Within the hour: not written again; after it: a day from then. */
    f->wall = t1 + HOUR_MS / 2;
    assert_int_equal(contacts_org(f->cs, "dave", (const uint8_t(*)[32])devs, 1, NULL), 0);
    assert_int_equal(device_of(f, 60).vouched_until_ms, t1 + CONTACTS_VOUCH_MS);
    f->wall = t1 + 2 * HOUR_MS;
    assert_int_equal(contacts_org(f->cs, "dave", (const uint8_t(*)[32])devs, 1, NULL), 0);
    assert_int_equal(device_of(f, 60).vouched_until_ms, t1 + 2 * HOUR_MS + CONTACTS_VOUCH_MS);
    f->wall = t1 + CONTACTS_VOUCH_MS + HOUR_MS;
    assert_true(trusted_now(f, 60));
    /* The node's own account's other devices lapse the same way. */
    uint8_t own[32];
    fill_key(own, 99);
    contacts_set_self(f->cs, "me", own);
    uint8_t mine[1][32];
    fill_key(mine[0], 62);
    assert_int_equal(contacts_self_devices(f->cs, (const uint8_t(*)[32])mine, 1), 0);
    assert_true(trusted_now(f, 62));
    f->wall += CONTACTS_VOUCH_MS;
    assert_false(trusted_now(f, 62));
    assert_int_equal(contacts_self_devices(f->cs, (const uint8_t(*)[32])mine, 1), 0);
    assert_true(trusted_now(f, 62));
}

/* The name reused: ann's old laptop, certified and listed before this
 * node spent a day away from the server, meanwhile ann was deleted and
 * the name given to someone else. The old laptop is not a device that
 * @ann's messages go to, and says why; the new ann's device is. */
static void test_reused_name_after_absence(void **state)
{
    struct fixture *f = *state;
    int64_t t0 = f->wall;
    contacts_admit_result r =
        admit_cert(f, 50, "ann-laptop", "ann", t0 + CONTACTS_VOUCH_MS, ADMIT_JOINED);
    store_contact ann = r.contact;
    uint8_t listed[1][32];
    fill_key(listed[0], 50);
    bool removed;
    assert_int_equal(
        contacts_org_devices(f->cs, "ann", (const uint8_t(*)[32])listed, 1, NULL, &removed), 0);
    bool has;
    assert_int_equal(sent_to(f, ann.key, 50, &has), 1);
    /* A day and an hour without the server. The new ann's phone shows its
     * valid certificate on the LAN. */
    f->wall = t0 + CONTACTS_VOUCH_MS + HOUR_MS;
    r = admit_cert(f, 51, "ann", "ann", f->wall + CONTACTS_VOUCH_MS, ADMIT_JOINED);
    assert_memory_equal(r.contact.key, ann.key, 32);
    /* The old laptop connects, with no certificate ever again. */
    r = admit_cert(f, 50, "ann-laptop", NULL, 0, ADMIT_LAPSED);
    assert_non_null(strstr(r.text, "@ann"));
    assert_int_equal(sent_to(f, ann.key, 50, &has), 1); /* the new phone only */
    assert_false(has);
    assert_true(trusted_now(f, 51));
    assert_false(trusted_now(f, 50));
    /* Back at the server: its list for ann lacks the old laptop, which is
     * forgotten. */
    fill_key(listed[0], 51);
    assert_int_equal(
        contacts_org_devices(f->cs, "ann", (const uint8_t(*)[32])listed, 1, NULL, &removed), 0);
    assert_true(removed);
    assert_int_equal(ndevices(f, ann.key), 1);
}

/* ---- resolving what a user typed ---- */

static void test_resolve(void **state)
{
    struct fixture *f = *state;
    /* Three contacts answer to "dave": the LAN colleague met first, the
     * account dave and another account whose label folds the same. */
    contacts_admit_result lan = admit(f, 1, "dave", NULL, ADMIT_NEW);
    uint8_t devs[1][32];
    fill_key(devs[0], 2);
    store_contact org;
    assert_int_equal(contacts_org(f->cs, "dave", (const uint8_t(*)[32])devs, 1, &org), 0);
    store_contact org2;
    assert_int_equal(contacts_org(f->cs, "dave2", NULL, 0, &org2), 0);
    snprintf(org2.name, sizeof org2.name, "DAVE");
    assert_int_equal(store_contact_put(f->st, &org2), 0);
    (void)admit(f, 3, "bob", NULL, ADMIT_NEW);

    uint8_t k[32], dev[32];
    bool has_dev = true;
    char why[1024];
    assert_int_equal(contacts_resolve(f->cs, "Dave", k, dev, &has_dev, why, sizeof why),
                     BANTER_EAMBIGUOUS);
    assert_false(has_dev);
    char fp[IDENTITY_FP_LEN + 1];
    identity_fingerprint(lan.contact.key, fp);
    assert_non_null(strstr(why, "@dave "));
    assert_non_null(strstr(why, "@dave2 "));
    char fp11[12];
    snprintf(fp11, sizeof fp11, "%.11s", fp);
    assert_non_null(strstr(why, fp11));
    assert_non_null(strstr(why, "ambiguous"));
    /* @ACCOUNT names the account; case folded. */
    assert_int_equal(resolve(f, "@dave", k, why, sizeof why), 0);
    assert_memory_equal(k, org.key, 32);
    assert_int_equal(resolve(f, "@DAVE", k, why, sizeof why), 0);
    assert_memory_equal(k, org.key, 32);
    assert_int_equal(resolve(f, "@dave2", k, why, sizeof why), 0);
    assert_memory_equal(k, org2.key, 32);
    assert_int_equal(resolve(f, "@bob", k, why, sizeof why), BANTER_ENOENT); /* LAN only */
    assert_non_null(strstr(why, "bob"));
    assert_int_equal(resolve(f, "@nobody", k, why, sizeof why), BANTER_ENOENT);
    assert_int_equal(resolve(f, "@", k, why, sizeof why), BANTER_ENOENT);
    assert_int_equal(resolve(f, "bob", k, why, sizeof why), 0);
    assert_int_equal(resolve(f, "BOB", k, why, sizeof why), 0);
    assert_int_equal(resolve(f, "nobody", k, why, sizeof why), BANTER_ENOENT);
    assert_true(strlen(why) > 0);
    assert_int_equal(resolve(f, "", k, why, sizeof why), BANTER_ENOENT);
    assert_int_equal(resolve(f, NULL, k, why, sizeof why), BANTER_ENOENT);
    assert_int_equal(resolve(f, "bob\xff", k, why, sizeof why), BANTER_ENOENT);

    /* A fingerprint prefix names a device, with or without spaces. */
    identity_fingerprint(lan.dev.key, fp);
    memset(dev, 0, sizeof dev);
    assert_int_equal(contacts_resolve(f->cs, fp, k, dev, &has_dev, why, sizeof why), 0);
    assert_true(has_dev);
    assert_memory_equal(k, lan.contact.key, 32);
    assert_memory_equal(dev, lan.dev.key, 32);
    char nospace[IDENTITY_FP_DIGITS + 1];
    size_t o = 0;
    for (const char *p = fp; *p; p++)
        if (*p != ' ')
            nospace[o++] = *p;
    nospace[o] = '\0';
    assert_int_equal(contacts_resolve(f->cs, nospace, k, NULL, &has_dev, why, sizeof why), 0);
    assert_true(has_dev);
    assert_memory_equal(k, lan.contact.key, 32);
    /* A device that names itself with bob's fingerprint (mDNS shows it to
     * anyone) gets a label with its own digits, and the fingerprint still
     * names bob: digits are a fingerprint, never a name. */
    char bobfp[IDENTITY_FP_LEN + 1];
    uint8_t bobkey[32];
    fill_key(bobkey, 3);
    identity_fingerprint(bobkey, bobfp);
    contacts_admit_result fake = admit(f, 40, bobfp, NULL, ADMIT_NEW);
    assert_string_not_equal(fake.contact.name, bobfp);
    assert_int_equal(contacts_resolve(f->cs, bobfp, k, dev, &has_dev, why, sizeof why), 0);
    assert_memory_equal(dev, bobkey, 32);
    assert_memory_not_equal(k, fake.contact.key, 32);
    /* The org device too: its contact is the account. */
    identity_fingerprint(devs[0], fp);
    assert_int_equal(contacts_resolve(f->cs, fp, k, dev, &has_dev, why, sizeof why), 0);
    assert_memory_equal(k, org.key, 32);
    assert_memory_equal(dev, devs[0], 32);

    /* Too few digits for one device: refused, never guessed. */
    store_device *all = NULL;
    size_t n = 0;
    assert_int_equal(store_device_list(f->st, NULL, &all, &n), 0);
    bool tried = false;
    for (size_t i = 0; i < n && !tried; i++)
        for (size_t j = i + 1; j < n && !tried; j++) {
            char a[IDENTITY_FP_LEN + 1], b[IDENTITY_FP_LEN + 1];
            identity_fingerprint(all[i].key, a);
            identity_fingerprint(all[j].key, b);
            size_t common = 0;
            while (a[common] == b[common] && a[common] != ' ')
                common++;
            if (common == 0)
                continue;
            char q[8];
            snprintf(q, sizeof q, "%.*s", (int)common, a);
            assert_int_equal(contacts_resolve(f->cs, q, k, dev, &has_dev, why, sizeof why),
                             BANTER_EAMBIGUOUS);
            assert_false(has_dev);
            assert_non_null(strstr(why, "more digits"));
            tried = true;
        }
    free(all);
    /* No device has this fingerprint. */
    assert_int_equal(contacts_resolve(f->cs, "0000000000000000000000000000000000000000", k, dev,
                                      &has_dev, why, sizeof why),
                     BANTER_ENOENT);
    /* "#ID": a contact by its key in hex, either case. */
    char hid[66], uid[66];
    hid[0] = uid[0] = '#';
    for (size_t i = 0; i < 32; i++) {
        snprintf(hid + 1 + 2 * i, 3, "%02x", org2.key[i]);
        snprintf(uid + 1 + 2 * i, 3, "%02X", org2.key[i]);
    }
    assert_int_equal(resolve(f, hid, k, why, sizeof why), 0);
    assert_memory_equal(k, org2.key, 32);
    assert_int_equal(resolve(f, uid, k, why, sizeof why), 0);
    assert_memory_equal(k, org2.key, 32);
    hid[64] = '\0'; /* too short */
    assert_int_equal(resolve(f, hid, k, why, sizeof why), BANTER_ENOENT);
    hid[64] = 'g'; /* not hex */
    assert_int_equal(resolve(f, hid, k, why, sizeof why), BANTER_ENOENT);
    memset(hid + 1, '0', 64); /* nobody's */
    assert_int_equal(resolve(f, hid, k, why, sizeof why), BANTER_ENOENT);
    assert_non_null(strstr(why, "no contact has the id"));
    assert_int_equal(resolve(f, "#", k, why, sizeof why), BANTER_ENOENT);
    /* A tiny buffer for why is still terminated. */
    char tiny[8];
    assert_int_equal(resolve(f, "dave", k, tiny, sizeof tiny), BANTER_EAMBIGUOUS);
    assert_true(strlen(tiny) < sizeof tiny);
}

/* ---- verifying ---- */

static void test_verify_changed(void **state)
{
    struct fixture *f = *state;
    contacts_admit_result bob = admit(f, 1, "bob", NULL, ADMIT_NEW);
    contacts_admit_result nk = admit(f, 2, "Bob", NULL, ADMIT_CHANGED);
    add_in(f, bob.contact.key, 1, 1, "old key");
    add_in(f, bob.contact.key, 2, 2, "new key");
    assert_int_equal(contacts_may_send(f->cs, bob.contact.key), BANTER_EKEYMISMATCH);
    char note[256];
    assert_int_equal(contacts_verify(f->cs, bob.contact.key, NULL, note, sizeof note), 0);
    assert_non_null(strstr(note, "replaces"));
    /* The new key is verified and the one it claimed is retired. */
    store_device d = device_of(f, 2);
    assert_int_equal(d.trust, TRUST_VERIFIED);
    assert_false(d.has_replaces);
    assert_memory_equal(d.contact, bob.contact.key, 32);
    assert_int_equal(store_device_get(f->st, bob.dev.key, &d), BANTER_ENOENT);
    assert_int_equal(contacts_may_send(f->cs, bob.contact.key), 0);
    /* The contact, its label and its history stay. */
    assert_string_equal(contact_get(f, bob.contact.key).name, "bob");
    assert_int_equal(history_len(f, bob.contact.key), 2);
    /* Seen again, the new key is simply bob. */
    contacts_admit_result r = admit(f, 2, "Bob", NULL, ADMIT_SAME);
    assert_memory_equal(r.contact.key, bob.contact.key, 32);
    assert_int_equal(r.dev.trust, TRUST_VERIFIED);
    /* and a third key calling itself bob now claims against the new one */
    r = admit(f, 4, "bob", NULL, ADMIT_CHANGED);
    assert_memory_equal(r.dev.replaces, nk.dev.key, 32);

    /* Verifying one named device; an unknown contact. */
    contacts_admit_result carol = admit(f, 3, "carol", NULL, ADMIT_NEW);
    assert_int_equal(contacts_verify(f->cs, carol.contact.key, carol.dev.key, note, sizeof note),
                     0);
    assert_int_equal(device_of(f, 3).trust, TRUST_VERIFIED);
    uint8_t nobody[32];
    fill_key(nobody, 99);
    assert_int_equal(contacts_verify(f->cs, nobody, NULL, note, sizeof note), BANTER_ENOENT);
}

/* With two changed keys claiming one contact, verifying one named device
 * leaves the other changed: still nothing is sent. */
static void test_verify_one_of_two_changed(void **state)
{
    struct fixture *f = *state;
    contacts_admit_result bob = admit(f, 1, "bob", NULL, ADMIT_NEW);
    contacts_admit_result a = admit(f, 2, "bob", NULL, ADMIT_CHANGED);
    (void)admit(f, 3, "BOB", NULL, ADMIT_CHANGED);
    char note[256];
    assert_int_equal(contacts_verify(f->cs, bob.contact.key, a.dev.key, note, sizeof note), 0);
    assert_int_equal(device_of(f, 2).trust, TRUST_VERIFIED);
    assert_int_equal(device_of(f, 3).trust, TRUST_CHANGED);
    assert_int_equal(contacts_may_send(f->cs, bob.contact.key), BANTER_EKEYMISMATCH);
}

/* A key claims a LAN colleague (changed); then the colleague's own key
 * shows its certificate and joins the account. Verifying the claimer
 * afterwards must not retire that key: it is the organisation's now. */
static void test_verify_claimer_keeps_org_device(void **state)
{
    struct fixture *f = *state;
    contacts_admit_result carol = admit(f, 1, "carol", NULL, ADMIT_NEW);
    contacts_admit_result claim = admit(f, 2, "carol", NULL, ADMIT_CHANGED);
    contacts_admit_result joined = admit(f, 1, "carol", "carol", ADMIT_JOINED);
    assert_int_equal(joined.contact.kind, CONTACT_ORG);
    /* Left with only the claimer, the LAN contact is merged into the
     * account; the claimer becomes a stranger of its own. */
    store_contact gone;
    assert_int_equal(store_contact_get(f->st, carol.contact.key, &gone), BANTER_ENOENT);
    store_device cl = device_of(f, 2);
    assert_int_equal(cl.trust, TRUST_KNOWN);
    assert_false(cl.has_replaces);
    store_contact own = contact_get(f, cl.contact);
    assert_int_equal(own.kind, CONTACT_LAN);
    assert_non_null(strstr(own.name, "carol ("));
    char note[256];
    assert_int_equal(contacts_verify(f->cs, own.key, claim.dev.key, note, sizeof note), 0);
    assert_int_equal(device_of(f, 2).trust, TRUST_VERIFIED);
    store_device d = device_of(f, 1);
    assert_int_equal(d.trust, TRUST_CERTIFIED);
    assert_memory_equal(d.contact, joined.contact.key, 32);
    assert_int_equal(contacts_may_send(f->cs, joined.contact.key), 0);
}

/* Verifying an organisation contact changes nothing: the server vouches. */
static void test_verify_org(void **state)
{
    struct fixture *f = *state;
    uint8_t devs[2][32];
    fill_key(devs[0], 20);
    fill_key(devs[1], 21);
    store_contact org;
    assert_int_equal(contacts_org(f->cs, "dave", (const uint8_t(*)[32])devs, 2, &org), 0);
    store_device *before = NULL, *after = NULL;
    size_t nb = 0, na = 0;
    assert_int_equal(store_device_list(f->st, org.key, &before, &nb), 0);
    char note[256];
    assert_int_equal(contacts_verify(f->cs, org.key, NULL, note, sizeof note), 0);
    assert_non_null(strstr(note, "organisation"));
    assert_int_equal(contacts_verify(f->cs, org.key, devs[0], note, sizeof note), 0);
    assert_non_null(strstr(note, "vouched"));
    assert_int_equal(store_device_list(f->st, org.key, &after, &na), 0);
    assert_int_equal(na, nb);
    assert_memory_equal(after, before, nb * sizeof *before);
    free(before);
    free(after);
    store_contact c = contact_get(f, org.key);
    assert_int_equal(c.kind, CONTACT_ORG);
    assert_string_equal(c.account, "dave");
    /* An account with no device yet: nothing to verify. */
    store_contact empty;
    assert_int_equal(contacts_org(f->cs, "erin", NULL, 0, &empty), 0);
    assert_int_equal(contacts_verify(f->cs, empty.key, NULL, note, sizeof note), BANTER_ENOENT);
}

/* The node's own account: the self contact holds the account's other
 * devices (never the node's own key), follows the server's list, takes a
 * LAN device certified for the account, and is no conversation. */
static void test_self_contact(void **state)
{
    struct fixture *f = *state;
    uint8_t own[32], dev[3][32], key[32];
    char why[512];
    store_contact self, c;
    fill_key(own, 60);
    fill_key(dev[0], 61);
    fill_key(dev[1], 62);
    fill_key(dev[2], 63);
    /* No account known: no self contact. */
    assert_int_equal(contacts_self(f->cs, &self), BANTER_ENOENT);
    assert_int_equal(contacts_self_devices(f->cs, (const uint8_t(*)[32])dev, 2), BANTER_ENOENT);
    contacts_set_self(f->cs, "ada", own);
    /* The server lists three devices, this node's own among them. */
    uint8_t list[3][32];
    memcpy(list[0], dev[0], 32);
    memcpy(list[1], own, 32);
    memcpy(list[2], dev[1], 32);
    assert_int_equal(contacts_self_devices(f->cs, (const uint8_t(*)[32])list, 3), 0);
    assert_int_equal(contacts_self(f->cs, &self), 0);
    assert_true(contacts_is_self(f->cs, &self));
    assert_string_equal(self.account, "ada");
    assert_int_equal(ndevices(f, self.key), 2);
    assert_int_equal(store_device_get(f->st, own, &(store_device){0}), BANTER_ENOENT);
    assert_int_equal(device_of(f, 61).trust, TRUST_CERTIFIED);
    assert_memory_equal(device_of(f, 62).contact, self.key, 32);
    /* A relayed message from the account vouches for its device; our own
     * key is never taken, whoever vouches for it. */
    assert_int_equal(contacts_org(f->cs, "ada", (const uint8_t(*)[32])own, 1, NULL), 0);
    assert_int_equal(ndevices(f, self.key), 2);
    /* A LAN device certified for the account joins it. */
    contacts_admit_result r = admit(f, 63, "ada-laptop", "ada", ADMIT_JOINED);
    assert_memory_equal(r.contact.key, self.key, 32);
    assert_int_equal(ndevices(f, self.key), 3);
    /* The server no longer lists dev[1] and the laptop: they are forgotten. */
    assert_int_equal(contacts_self_devices(f->cs, (const uint8_t(*)[32])list, 2), 0);
    assert_int_equal(ndevices(f, self.key), 1);
    assert_int_equal(store_device_get(f->st, dev[1], &(store_device){0}), BANTER_ENOENT);
    /* It is no conversation: not by its name, its account, its id or a
     * device's fingerprint. */
    assert_int_equal(resolve(f, "ada", key, why, sizeof why), BANTER_ENOENT);
    assert_int_equal(resolve(f, "@ada", key, why, sizeof why), BANTER_ENOENT);
    char q[80] = "#", fp[IDENTITY_FP_LEN + 1];
    for (int i = 0; i < 32; i++)
        snprintf(q + 1 + 2 * i, 3, "%02x", self.key[i]);
    assert_int_equal(resolve(f, q, key, why, sizeof why), BANTER_ENOENT);
    identity_fingerprint(dev[0], fp);
    assert_int_equal(resolve(f, fp, key, why, sizeof why), BANTER_ENOENT);

    /* Naming a conversation in a copy for the other devices, and back. */
    char to[MSG_TO_MAX + 1];
    assert_int_equal(contacts_sync_to(f->cs, &self, to), BANTER_EINVAL);
    assert_int_equal(contacts_org(f->cs, "dave", NULL, 0, &c), 0);
    assert_int_equal(contacts_sync_to(f->cs, &c, to), 0);
    assert_string_equal(to, "@dave");
    contacts_admit_result bob = admit(f, 70, "bob", NULL, ADMIT_NEW);
    assert_int_equal(contacts_sync_to(f->cs, &bob.contact, to), 0);
    assert_int_equal(strlen(to), 64);
    assert_int_equal(contacts_sync_from(f->cs, to, &c), 0);
    assert_memory_equal(c.key, bob.contact.key, 32);
    assert_int_equal(contacts_sync_from(f->cs, "@erin", &c), 0); /* made */
    assert_string_equal(c.account, "erin");
    assert_int_equal(contacts_sync_from(f->cs, "@ada", &c), BANTER_EPERM);
    for (int i = 0; i < 32; i++)
        snprintf(to + 2 * i, 3, "%02x", dev[0][i]);
    assert_int_equal(contacts_sync_from(f->cs, to, &c), BANTER_EPERM); /* an own device */
    for (int i = 0; i < 32; i++)
        snprintf(to + 2 * i, 3, "%02x", own[i]);
    assert_int_equal(contacts_sync_from(f->cs, to, &c), BANTER_EPERM);
    memset(to, 'e', 64);
    assert_int_equal(contacts_sync_from(f->cs, to, &c), BANTER_ENOENT); /* never met */
    assert_int_equal(contacts_sync_from(f->cs, "bob", &c), BANTER_EINVAL);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold),
        cmocka_unit_test(test_account_key),
        T(test_tofu),
        T(test_names_shown_as_compared),
        T(test_new_key_claims_known_name),
        T(test_known_key_renames_into_trusted_name),
        T(test_lan_claim_does_not_hide_org),
        T(test_lan_rename_into_org_name),
        T(test_distinct_label_long_name),
        T(test_certificate_joins_org),
        T(test_no_server),
        T(test_org_device_list),
        T(test_certificate_lapses),
        T(test_listing_lapses),
        T(test_reused_name_after_absence),
        T(test_resolve),
        T(test_verify_changed),
        T(test_verify_one_of_two_changed),
        T(test_verify_claimer_keeps_org_device),
        T(test_verify_org),
        T(test_self_contact),
    };
#undef T
    return cmocka_run_group_tests_name("peer_contacts", tests, NULL, NULL);
}
