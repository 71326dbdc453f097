/* SPDX-License-Identifier: MIT */
/* contacts.c - contacts, devices and trust (see contacts.h). */
#include "core/contacts.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bcrypto.h"
#include "utf8.h"

struct contacts {
    store *st;
    char server_fpd[IDENTITY_FP_DIGITS + 1];
    node_clock clock;
    char self[BANTER_MAX_NAME + 1]; /* the node's own account, "" when none known */
    uint8_t own_key[32];            /* the node's own device key (never a contact's device) */
    bool (*revoked)(void *ud, const uint8_t key[static 32]); /* contacts_set_revoked */
    void *revoked_ud;
};

void contacts_set_revoked(contacts *cs, bool (*fn)(void *ud, const uint8_t key[static 32]),
                          void *ud)
{
    cs->revoked = fn;
    cs->revoked_ud = ud;
}

static bool is_revoked(const contacts *cs, const uint8_t key[static 32])
{
    return cs->revoked && cs->revoked(cs->revoked_ud, key);
}

int contacts_new(contacts **out, store *st, const char *server_fpd, const node_clock *clock)
{
    contacts *cs = g_new0(contacts, 1);
    cs->st = st;
    g_strlcpy(cs->server_fpd, server_fpd ? server_fpd : "", sizeof cs->server_fpd);
    cs->clock = *clock;
    *out = cs;
    return 0;
}

void contacts_free(contacts *cs) { g_free(cs); }

/* ---- names ---- */

/* s without what cannot be seen: invisible code points (utf8.h) dropped, runs of
 * white space one space, none at either end (g_free). */
static gchar *visible_only(const gchar *s)
{
    GString *o = g_string_sized_new(strlen(s));
    bool space = false;
    for (const gchar *p = s; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        if (utf8_invisible(c)) /* default-ignorable: a name looks the same without it */
            continue;
        if (g_unichar_isspace(c)) {
            space = o->len > 0;
            continue;
        }
        if (space)
            g_string_append_c(o, ' ');
        space = false;
        g_string_append_unichar(o, c);
    }
    return g_string_free(o, FALSE);
}

/* Whether c is shown as an at sign ('@' and its compatibility forms,
 * U+FE6B and U+FF20): a LAN name may not begin like an @ACCOUNT. */
static bool at_sign(gunichar c) { return c == '@' || c == 0xfe6b || c == 0xff20; }

/* What a LAN device's name is kept and shown as: NFC, without what cannot
 * be seen (ignorable code points, bidi controls among them: a name cannot
 * be shown in another order than it is compared in), white space one
 * space, and no leading at sign (only accounts are @NAME). out gets at
 * most cap - 1 bytes, cut at a character; "" when nothing is left. */
static void clean_name(const char *name, char *out, size_t cap)
{
    out[0] = '\0';
    gchar *norm = g_utf8_normalize(name, -1, G_NORMALIZE_NFC);
    gchar *seen = norm ? visible_only(norm) : NULL;
    const gchar *p = seen;
    while (p && *p && (at_sign(g_utf8_get_char(p)) || g_unichar_isspace(g_utf8_get_char(p))))
        p = g_utf8_next_char(p);
    if (p) {
        size_t n = strlen(p);
        if (n >= cap) {
            n = cap - 1;
            while (n > 0 && ((unsigned char)p[n] & 0xc0) == 0x80)
                n--;
        }
        memcpy(out, p, n);
        out[n] = '\0';
    }
    g_free(seen);
    g_free(norm);
}

/* Letters of other scripts drawn like a Latin letter in common fonts, in
 * both their capital and small forms (case folding has made them small:
 * Cyrillic "а" stands for "А" too), and the Latin letter they are
 * compared as. A name written with them is the same name as its Latin
 * look-alike: "Аlice" with a Cyrillic А is alice. Letters whose small
 * form looks like another Latin letter than their capital (Greek Η/η,
 * Cyrillic Н/н, Т/т, В/в...) are not here: mapping them would make
 * "Тома" and "Toma" one name. Sorted by code point. */
static const struct {
    uint32_t cp;
    char latin;
} look_alike[] = {
    {0x0131, 'i'}, /* dotless i */
    {0x0251, 'a'}, /* Latin alpha */
    {0x0261, 'g'}, /* script g */
    {0x03b1, 'a'}, /* Greek alpha (Α) */
    {0x03b9, 'i'}, /* iota (Ι) */
    {0x03ba, 'k'}, /* kappa (Κ) */
    {0x03bf, 'o'}, /* omicron (Ο) */
    {0x03c1, 'p'}, /* rho (Ρ) */
    {0x03c7, 'x'}, /* chi (Χ) */
    {0x0430, 'a'}, /* Cyrillic а (А) */
    {0x0435, 'e'}, /* е (Е) */
    {0x043e, 'o'}, /* о (О) */
    {0x0440, 'p'}, /* р (Р) */
    {0x0441, 'c'}, /* с (С) */
    {0x0443, 'y'}, /* у (У) */
    {0x0445, 'x'}, /* х (Х) */
    {0x0455, 's'}, /* ѕ (Ѕ) */
    {0x0456, 'i'}, /* і (І) */
    {0x0458, 'j'}, /* ј (Ј) */
    {0x04bb, 'h'}, /* һ (Һ) */
    {0x04cf, 'l'}, /* palochka ӏ (Ӏ) */
    {0x0501, 'd'}, /* ԁ (Ԁ) */
    {0x051b, 'q'}, /* ԛ (Ԛ) */
    {0x051d, 'w'}, /* ԝ (Ԝ) */
};

static char latin_of(gunichar c)
{
    size_t lo = 0, hi = sizeof look_alike / sizeof look_alike[0];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (look_alike[mid].cp == c)
            return look_alike[mid].latin;
        if (look_alike[mid].cp < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* s with each look-alike letter replaced by its Latin one (g_free). */
static gchar *latin_look(const gchar *s)
{
    GString *o = g_string_sized_new(strlen(s));
    for (const gchar *p = s; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        char l = latin_of(c);
        if (l)
            g_string_append_c(o, l);
        else
            g_string_append_unichar(o, c);
    }
    return g_string_free(o, FALSE);
}

void contacts_fold(const char *name, char *out, size_t cap)
{
    out[0] = '\0';
    if (!name || !utf8_valid(name, strlen(name)))
        return;
    gchar *norm = g_utf8_normalize(name, -1, G_NORMALIZE_NFKC);
    gchar *seen = norm ? visible_only(norm) : NULL;
    gchar *folded = seen ? g_utf8_casefold(seen, -1) : NULL;
    gchar *fold = folded ? latin_look(folded) : NULL;
    g_free(folded);
    g_free(seen);
    if (fold) {
        size_t n = strlen(fold);
        if (n >= cap) { /* cut at a character boundary */
            n = cap - 1;
            while (n > 0 && ((unsigned char)fold[n] & 0xc0) == 0x80)
                n--;
        }
        memcpy(out, fold, n);
        out[n] = '\0';
    }
    g_free(fold);
    g_free(norm);
}

bool contacts_same_name(const char *a, const char *b)
{
    char fa[CONTACTS_FOLD_MAX], fb[CONTACTS_FOLD_MAX];
    contacts_fold(a, fa, sizeof fa);
    contacts_fold(b, fb, sizeof fb);
    return fa[0] && strcmp(fa, fb) == 0;
}

void contacts_account_key(const char *server_fpd, const char *account, uint8_t key[static 32])
{
    static const char label[] = "banter-account-v1";
    bcrypto_hash h;
    uint8_t zero = 0;
    bcrypto_hash_init(&h, 32);
    bcrypto_hash_update(&h, (const uint8_t *)label, sizeof label - 1);
    bcrypto_hash_update(&h, (const uint8_t *)server_fpd, strlen(server_fpd));
    bcrypto_hash_update(&h, &zero, 1);
    bcrypto_hash_update(&h, (const uint8_t *)account, strlen(account));
    bcrypto_hash_final(&h, key, 32);
}

static void fp_of(const uint8_t key[static 32], char out[static IDENTITY_FP_LEN + 1])
{
    identity_fingerprint(key, out);
}

/* The contacts whose label is the same name as name (by the rule), except
 * skip. *out malloc'd. */
static int by_label(contacts *cs, const char *name, const uint8_t *skip, store_contact **out,
                    size_t *n)
{
    store_contact *all = NULL;
    size_t k = 0, m = 0;
    *out = NULL;
    *n = 0;
    int r = store_contact_list(cs->st, &all, &k);
    if (r)
        return r;
    for (size_t i = 0; i < k; i++)
        if ((!skip || memcmp(all[i].key, skip, 32) != 0) && contacts_same_name(all[i].name, name))
            all[m++] = all[i];
    if (m == 0) {
        free(all);
        return 0;
    }
    *out = all;
    *n = m;
    return 0;
}

static bool label_taken(contacts *cs, const char *name, const uint8_t *skip)
{
    store_contact *hits = NULL;
    size_t n = 0;
    if (by_label(cs, name, skip, &hits, &n) != 0)
        return true; /* when in doubt, do not take it */
    free(hits);
    return n > 0;
}

/* Whether a word of name mixes the letters of two scripts (a Cyrillic
 * "а" in "аlice"): look-alike letters make another name by the rule, one
 * that looks like a contact's; a label of such a name carries the start
 * of the key. Letters of no script of their own (digits, marks) count for
 * none; a name's words may each have their own script. */
static bool mixes_scripts(const char *name)
{
    GUnicodeScript word = G_UNICODE_SCRIPT_COMMON;
    for (const gchar *p = name; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        if (g_unichar_isspace(c) || c == '-' || c == '_' || c == '.') {
            word = G_UNICODE_SCRIPT_COMMON;
            continue;
        }
        GUnicodeScript s = g_unichar_get_script(c);
        if (!g_unichar_isalpha(c) || s == G_UNICODE_SCRIPT_COMMON ||
            s == G_UNICODE_SCRIPT_INHERITED || s == G_UNICODE_SCRIPT_UNKNOWN)
            continue;
        if (word == G_UNICODE_SCRIPT_COMMON)
            word = s;
        else if (s != word)
            return true;
    }
    return false;
}

/* Whether s is written like a fingerprint (digits, with any spaces or
 * dashes): what contacts_resolve takes as one, never as a name. */
/* The digits of s when it is written like a fingerprint (digits, with
 * any spaces or dashes), else 0. */
static size_t fp_digits(const char *s)
{
    size_t digits = 0;
    for (; *s; s++) {
        if (*s >= '0' && *s <= '9')
            digits++;
        else if (*s != ' ' && *s != '-')
            return 0;
    }
    return digits;
}

static bool fingerprint_shaped(const char *s) { return fp_digits(s) > 0; }

bool contacts_names_one(const char *query)
{
    return query[0] == '@' || query[0] == '#' || fp_digits(query) == IDENTITY_FP_DIGITS;
}

/* A label for a LAN contact's name: the name, or, when that is another
 * contact's label than skip's, or its words mix scripts, or it is written
 * like a fingerprint (someone else's, perhaps), the name with the first
 * digits of key's fingerprint. */
static void fresh_label(contacts *cs, const char *name, const uint8_t key[static 32],
                        const uint8_t *skip, char *out, size_t cap)
{
    char fp[IDENTITY_FP_LEN + 1];
    if (!mixes_scripts(name) && !fingerprint_shaped(name) && !label_taken(cs, name, skip)) {
        g_strlcpy(out, name, cap);
        return;
    }
    fp_of(key, fp);
    char tail[16];
    snprintf(tail, sizeof tail, " (%.5s)", fp);
    size_t keep = cap - 1 - strlen(tail), n = strlen(name);
    if (n > keep) {
        n = keep;
        while (n > 0 && ((unsigned char)name[n] & 0xc0) == 0x80)
            n--;
    }
    snprintf(out, cap, "%.*s%s", (int)n, name, tail);
}

/* ---- devices of a contact ---- */

/* The contact's devices; *out malloc'd. */
static int devices_of(contacts *cs, const uint8_t contact[static 32], store_device **out, size_t *n)
{
    return store_device_list(cs->st, contact, out, n);
}

store_trust contacts_trust(const store_device *d, int64_t now_ms)
{
    return d->trust == TRUST_CERTIFIED && d->vouched_until_ms <= now_ms ? TRUST_LAPSED : d->trust;
}

bool contacts_device_trusted(const store_device *d, int64_t now_ms)
{
    store_trust t = contacts_trust(d, now_ms);
    return t == TRUST_KNOWN || t == TRUST_VERIFIED || t == TRUST_CERTIFIED;
}

/* Until when a certificate expiring at expires_ms (0: not known) vouches. */
static int64_t cert_until(const contacts *cs, int64_t expires_ms)
{
    return expires_ms > 0 ? expires_ms : clock_wall(&cs->clock) + CONTACTS_VOUCH_MS;
}

static void add_address(store_device *d, const char *addr)
{
    if (addr && addr[0])
        g_strlcpy(d->addresses, addr, sizeof d->addresses);
}

/* Make sure the organisation contact for account exists; *out receives it. */
static int org_contact(contacts *cs, const char *account, store_contact *out)
{
    int r = store_contact_by_account(cs->st, account, out);
    if (r != BANTER_ENOENT)
        return r;
    memset(out, 0, sizeof *out);
    contacts_account_key(cs->server_fpd, account, out->key);
    out->kind = CONTACT_ORG;
    g_strlcpy(out->account, account, sizeof out->account);
    g_strlcpy(out->name, account, sizeof out->name);
    out->created_ms = clock_wall(&cs->clock);
    return store_contact_put(cs->st, out);
}

/* A device that claimed a contact now being merged away becomes a LAN
 * contact of its own (a stranger that used a name: trust on first use, a
 * label of its own), so it neither follows the history nor blocks sending
 * to the organisation contact. */
static int release_claimer(contacts *cs, store_device *cl)
{
    store_contact c = {.kind = CONTACT_LAN, .created_ms = clock_wall(&cs->clock)};
    memcpy(c.key, cl->key, 32);
    fresh_label(cs, cl->name, cl->key, NULL, c.name, sizeof c.name);
    memcpy(cl->contact, c.key, 32);
    cl->trust = TRUST_KNOWN;
    cl->has_replaces = false;
    int r = store_contact_put(cs->st, &c);
    return r ? r : store_device_put(cs->st, cl);
}

/* Device d (stored) becomes a certified device of organisation contact
 * org, vouched for until `until` (or later, when it already was). A LAN
 * contact left with no trusted device of its own is merged in, history
 * included; devices that had only claimed it are let go. */
static int join_org(contacts *cs, store_device *d, const store_contact *org, int64_t until)
{
    uint8_t old[32];
    memcpy(old, d->contact, 32);
    bool moved = memcmp(old, org->key, 32) != 0;
    bool was = !moved && d->trust == TRUST_CERTIFIED;
    memcpy(d->contact, org->key, 32);
    d->trust = TRUST_CERTIFIED;
    d->vouched_until_ms = was && d->vouched_until_ms > until ? d->vouched_until_ms : until;
    d->has_replaces = false;
    int r = store_device_put(cs->st, d);
    if (r || !moved)
        return r;
    store_device *left = NULL;
    size_t n = 0;
    store_contact oc;
    r = devices_of(cs, old, &left, &n);
    bool only_claimers = true;
    for (size_t i = 0; r == 0 && i < n; i++)
        only_claimers &= left[i].trust == TRUST_CHANGED;
    if (r == 0 && only_claimers && store_contact_get(cs->st, old, &oc) == 0 &&
        oc.kind == CONTACT_LAN) {
        for (size_t i = 0; r == 0 && i < n; i++)
            r = release_claimer(cs, &left[i]);
        if (r == 0)
            r = store_contact_merge(cs->st, old, org->key);
    }
    free(left);
    return r;
}

bool contacts_established(contacts *cs, const uint8_t contact[static 32])
{
    store_contact c;
    store_device *devs = NULL;
    size_t k = 0;
    if (store_contact_get(cs->st, contact, &c) != 0)
        return false;
    if (c.kind == CONTACT_ORG || store_contact_written(cs->st, contact) == 0)
        return true;
    bool verified = false;
    if (store_device_list(cs->st, contact, &devs, &k) == 0)
        for (size_t i = 0; i < k && !verified; i++)
            verified = devs[i].trust == TRUST_VERIFIED;
    free(devs);
    return verified;
}

int contacts_revoked(contacts *cs, const uint8_t key[static 32], contacts_admit_result *out)
{
    store_device d;
    store_contact org;
    memset(out, 0, sizeof *out);
    int r = store_device_get(cs->st, key, &d);
    if (r == BANTER_ENOENT)
        return 0;
    if (r == 0)
        r = store_contact_get(cs->st, d.contact, &org);
    if (r == BANTER_ENOENT || (r == 0 && org.kind != CONTACT_ORG))
        return 0;
    if (r == 0)
        r = release_claimer(cs, &d);
    if (r == 0)
        r = store_contact_get(cs->st, d.contact, &out->contact);
    if (r)
        return r;
    char fp[IDENTITY_FP_LEN + 1];
    fp_of(key, fp);
    out->what = ADMIT_JOINED;
    out->dev = d;
    snprintf(out->text, sizeof out->text,
             "the organisation revoked device %.11s of %s: it is no longer shown as the "
             "organisation's (now the unverified LAN contact %s)",
             fp, org.account, out->contact.name);
    return 1;
}

int contacts_org(contacts *cs, const char *account, const uint8_t (*devs)[32], size_t ndev,
                 store_contact *out)
{
    store_contact org;
    if (!cs->server_fpd[0] || !account || !account[0])
        return BANTER_EINVAL;
    int r = org_contact(cs, account, &org);
    int64_t now = clock_wall(&cs->clock);
    for (size_t i = 0; r == 0 && i < ndev; i++) {
        store_device d;
        if (memcmp(devs[i], cs->own_key, 32) == 0 || is_revoked(cs, devs[i]))
            continue; /* this node is never a device of a contact, its own account's neither;
                         a revoked key is no longer the organisation's */
        r = store_device_get(cs->st, devs[i], &d);
        if (r == BANTER_ENOENT) {
            memset(&d, 0, sizeof d);
            memcpy(d.key, devs[i], 32);
            memcpy(d.contact, org.key, 32);
            g_strlcpy(d.name, account, sizeof d.name);
            g_strlcpy(d.source, "rendezvous", sizeof d.source);
            d.first_seen_ms = now;
            r = 0;
        }
        if (r == 0 && ((d.trust != TRUST_CERTIFIED && d.trust != TRUST_VERIFIED) ||
                       memcmp(d.contact, org.key, 32) != 0 || !d.last_seen_ms)) {
            d.last_seen_ms = d.last_seen_ms ? d.last_seen_ms : now;
            r = join_org(cs, &d, &org, now + CONTACTS_VOUCH_MS);
        } else if (r == 0 && d.trust == TRUST_CERTIFIED &&
                   d.vouched_until_ms < now + CONTACTS_VOUCH_MS - CONTACTS_VOUCH_SLACK_MS) {
            d.vouched_until_ms = now + CONTACTS_VOUCH_MS; /* listed again: a day more */
            r = store_device_put(cs->st, &d);
        }
    }
    if (r == 0 && out)
        *out = org;
    return r;
}

/* ---- the node's own account ---- */

void contacts_set_self(contacts *cs, const char *account, const uint8_t own_key[static 32])
{
    g_strlcpy(cs->self, account && cs->server_fpd[0] ? account : "", sizeof cs->self);
    memcpy(cs->own_key, own_key, 32);
}

bool contacts_self_known(const contacts *cs) { return cs->self[0] != '\0'; }

bool contacts_is_self(const contacts *cs, const store_contact *c)
{
    return cs->self[0] && c->kind == CONTACT_ORG && strcmp(c->account, cs->self) == 0;
}

int contacts_self(contacts *cs, store_contact *out)
{
    return cs->self[0] ? org_contact(cs, cs->self, out) : BANTER_ENOENT;
}

int contacts_org_devices(contacts *cs, const char *account, const uint8_t (*devs)[32], size_t ndev,
                         store_contact *out, bool *removed)
{
    store_contact org;
    store_device *have = NULL;
    size_t n = 0;
    *removed = false;
    int r = contacts_org(cs, account, devs, ndev, &org);
    if (r == 0)
        r = devices_of(cs, org.key, &have, &n);
    /* The server is the truth about an account's devices: one it no
     * longer lists (logged out, rebound) gets no more copies. */
    for (size_t i = 0; r == 0 && i < n; i++) {
        bool listed = false;
        for (size_t j = 0; j < ndev && !listed; j++)
            listed = memcmp(have[i].key, devs[j], 32) == 0;
        if (!listed) {
            r = store_device_delete(cs->st, have[i].key);
            *removed = true;
        }
    }
    free(have);
    if (r == 0 && out)
        *out = org;
    return r;
}

int contacts_self_devices(contacts *cs, const uint8_t (*devs)[32], size_t ndev)
{
    bool removed;
    if (!cs->self[0])
        return BANTER_ENOENT;
    return contacts_org_devices(cs, cs->self, devs, ndev, NULL, &removed);
}

int contacts_sync_to(contacts *cs, const store_contact *c, char *to)
{
    if (contacts_is_self(cs, c))
        return BANTER_EINVAL;
    if (c->kind == CONTACT_ORG) {
        snprintf(to, MSG_TO_MAX + 1, "@%s", c->account);
        return msg_chat_to_valid(to) ? 0 : BANTER_EINVAL;
    }
    store_device *devs = NULL;
    size_t n = 0;
    int r = devices_of(cs, c->key, &devs, &n);
    for (size_t i = 0; r == 0 && i < n; i++)
        if (contacts_device_trusted(&devs[i], clock_wall(&cs->clock))) {
            for (int b = 0; b < 32; b++)
                snprintf(to + 2 * b, 3, "%02x", devs[i].key[b]);
            free(devs);
            return 0;
        }
    free(devs);
    return r ? r : BANTER_ENOENT;
}

static bool hex32(const char *s, uint8_t out[static 32]);

int contacts_sync_from(contacts *cs, const char *to, store_contact *out)
{
    if (!msg_chat_to_valid(to))
        return BANTER_EINVAL;
    if (to[0] == '@') {
        if (strcmp(to + 1, cs->self) == 0)
            return BANTER_EPERM;
        int r = contacts_org(cs, to + 1, NULL, 0, out);
        return r == BANTER_EINVAL ? BANTER_ENOENT : r; /* no server: no account */
    }
    uint8_t key[32];
    store_device d;
    if (!hex32(to, key) || memcmp(key, cs->own_key, 32) == 0)
        return BANTER_EPERM;
    int r = store_device_get(cs->st, key, &d);
    if (r == 0)
        r = store_contact_get(cs->st, d.contact, out);
    return r == 0 && contacts_is_self(cs, out) ? BANTER_EPERM : r;
}

/* ---- admission of a LAN device ---- */

/* The note for a device of organisation contact c that the organisation
 * no longer vouches for. */
static void lapsed_note(const store_device *d, const store_contact *c, char *text, size_t cap)
{
    char fp[IDENTITY_FP_LEN + 1];
    fp_of(d->key, fp);
    snprintf(text, cap,
             "a device of @%s (%s) shows no current organisation certificate and the server "
             "has not listed it within a day: until it does, nothing for @%s goes to it and what "
             "it sends is marked unverified. Compare fingerprints with them and run `banter "
             "verify \"%s\"` to trust it on your word.",
             c->account, fp, c->account, fp);
}

static int admit_known(contacts *cs, store_device *d, const char *name, const char *source,
                       const char *addr, const char *account, int64_t expires_ms,
                       contacts_admit_result *res)
{
    store_contact c;
    int64_t now = clock_wall(&cs->clock);
    int r = store_contact_get(cs->st, d->contact, &c);
    if (r)
        return r;
    d->last_seen_ms = now;
    add_address(d, addr);
    if (strcmp(d->source, "rendezvous") == 0 || !d->source[0])
        g_strlcpy(d->source, source, sizeof d->source);
    if (account && !(c.kind == CONTACT_ORG && strcmp(c.account, account) == 0)) {
        store_contact org;
        r = org_contact(cs, account, &org);
        if (r == 0)
            r = join_org(cs, d, &org, cert_until(cs, expires_ms));
        if (r == 0) {
            res->what = ADMIT_JOINED;
            res->contact = org;
            snprintf(res->text, sizeof res->text, "%s is %s of the organisation", name, account);
        }
        return r;
    }
    bool lapsed = contacts_trust(d, now) == TRUST_LAPSED;
    if (account && d->trust == TRUST_CERTIFIED) { /* its certificate again, or a renewed one */
        r = join_org(cs, d, &c, cert_until(cs, expires_ms));
        if (r == 0 && lapsed) {
            res->what = ADMIT_JOINED;
            res->contact = c;
            snprintf(res->text, sizeof res->text,
                     "%s shows a certificate for %s again: the organisation vouches for it", name,
                     account);
            return 0;
        }
        if (r)
            return r;
    }
    res->what = ADMIT_SAME;
    if (strcmp(d->name, name) != 0) {
        char old[BANTER_MAX_NAME + 1];
        g_strlcpy(old, d->name, sizeof old);
        g_strlcpy(d->name, name, sizeof d->name);
        res->what = ADMIT_RENAMED;
        /* The label follows a LAN contact's own rename, unless the new name
         * is another contact's, or the person knows them by the label (wrote
         * to them, or verified this device): then it stays, and says so, so
         * what the person named them by (`send`, a plug-in's list) keeps
         * meaning them and no one else. */
        bool taken = c.kind == CONTACT_LAN && label_taken(cs, name, c.key);
        bool known_by_label = c.kind == CONTACT_LAN && contacts_established(cs, c.key);
        if (c.kind == CONTACT_LAN && d->trust != TRUST_CHANGED && !taken && !known_by_label) {
            fresh_label(cs, name, d->key, c.key, c.name, sizeof c.name);
            r = store_contact_put(cs->st, &c);
            snprintf(res->text, sizeof res->text, "%s now calls itself %s", old, name);
        } else {
            snprintf(res->text, sizeof res->text,
                     "a device of %s now calls itself \"%s\"%s; it is still shown as %s", c.name,
                     name,
                     taken            ? ", which is another contact's name"
                     : known_by_label ? ", and you know them by their label"
                                      : "",
                     c.name);
        }
    }
    if (lapsed && !account && c.kind == CONTACT_ORG) {
        res->what = ADMIT_LAPSED;
        lapsed_note(d, &c, res->text, sizeof res->text);
    }
    res->contact = c;
    return r ? r : store_device_put(cs->st, d);
}

/* The trusted device a new key would replace in contact c, if any. */
static bool trusted_device(contacts *cs, const store_contact *c, store_device *out)
{
    store_device *devs = NULL;
    size_t n = 0;
    bool found = false;
    if (devices_of(cs, c->key, &devs, &n) != 0)
        return false;
    for (size_t i = n; i-- > 0 && !found;) /* the newest trusted one */
        if (devs[i].trust == TRUST_KNOWN || devs[i].trust == TRUST_VERIFIED) {
            *out = devs[i];
            found = true;
        }
    free(devs);
    return found;
}

static int admit_new(contacts *cs, store_device *d, const char *name, const char *source,
                     const char *addr, const char *account, int64_t expires_ms,
                     contacts_admit_result *res)
{
    int64_t now = clock_wall(&cs->clock);
    memset(d, 0, sizeof *d);
    memcpy(d->key, res->dev.key, 32);
    g_strlcpy(d->name, name, sizeof d->name);
    g_strlcpy(d->source, source, sizeof d->source);
    add_address(d, addr);
    d->first_seen_ms = d->last_seen_ms = now;
    if (account) {
        store_contact org;
        int r = org_contact(cs, account, &org);
        if (r)
            return r;
        memcpy(d->contact, org.key, 32);
        res->what = ADMIT_JOINED;
        res->contact = org;
        snprintf(res->text, sizeof res->text, "%s is %s of the organisation", name, account);
        return join_org(cs, d, &org, cert_until(cs, expires_ms));
    }
    /* A LAN contact of that name with a trusted device: this key claims it. */
    store_contact *hits = NULL;
    size_t n = 0;
    int r = by_label(cs, name, NULL, &hits, &n);
    if (r)
        return r;
    for (size_t i = 0; i < n; i++) {
        store_device old;
        if (hits[i].kind != CONTACT_LAN || !trusted_device(cs, &hits[i], &old))
            continue;
        char ofp[IDENTITY_FP_LEN + 1], nfp[IDENTITY_FP_LEN + 1];
        fp_of(old.key, ofp);
        fp_of(d->key, nfp);
        memcpy(d->contact, hits[i].key, 32);
        d->trust = TRUST_CHANGED;
        d->has_replaces = true;
        memcpy(d->replaces, old.key, 32);
        res->what = ADMIT_CHANGED;
        res->contact = hits[i];
        snprintf(res->text, sizeof res->text,
                 "WARNING: a new key says it is %s. Known key %s, new key %s. Nothing is sent "
                 "to %s until you compare fingerprints with them and run `banter verify %s`; "
                 "what the new key sends is marked as unverified.",
                 hits[i].name, ofp, nfp, hits[i].name, hits[i].name);
        free(hits);
        return store_device_put(cs->st, d);
    }
    free(hits);
    /* A new colleague: trust on first use. */
    store_contact c = {.kind = CONTACT_LAN, .created_ms = now};
    memcpy(c.key, d->key, 32);
    fresh_label(cs, name, d->key, NULL, c.name, sizeof c.name);
    memcpy(d->contact, c.key, 32);
    d->trust = TRUST_KNOWN;
    r = store_contact_put(cs->st, &c);
    if (r == 0)
        r = store_device_put(cs->st, d);
    res->what = ADMIT_NEW;
    res->contact = c;
    if (strcmp(c.name, name) != 0)
        snprintf(res->text, sizeof res->text,
                 "a new colleague calls itself \"%s\", %s: shown as %s", name,
                 mixes_scripts(name) ? "which mixes the letters of two scripts (a look-alike?)"
                                     : "another contact's name",
                 c.name);
    return r;
}

int contacts_admit(contacts *cs, const uint8_t key[static 32], const char *name, const char *source,
                   const char *addr, const char *account, int64_t expires_ms,
                   contacts_admit_result *out)
{
    memset(out, 0, sizeof *out);
    if (!name || !utf8_valid(name, strlen(name)) || strlen(name) > BANTER_MAX_NAME)
        return BANTER_EINVAL;
    char shown[BANTER_MAX_NAME + 1];
    clean_name(name, shown, sizeof shown);
    if (!shown[0])
        return BANTER_EINVAL;
    name = shown;
    if (account && (!cs->server_fpd[0] || is_revoked(cs, key)))
        account = NULL;
    memcpy(out->dev.key, key, 32);
    store_device d;
    int r = store_device_get(cs->st, key, &d);
    if (r == 0)
        r = admit_known(cs, &d, name, source, addr, account, expires_ms, out);
    else if (r == BANTER_ENOENT)
        r = admit_new(cs, &d, name, source, addr, account, expires_ms, out);
    if (r == 0)
        out->dev = d;
    return r;
}

/* ---- resolution ---- */

/* Whether contact key k is the self contact's. */
static bool is_self_key(const contacts *cs, const uint8_t k[static 32])
{
    uint8_t key[32];
    if (!cs->self[0])
        return false;
    contacts_account_key(cs->server_fpd, cs->self, key);
    return memcmp(key, k, 32) == 0;
}

static void list_candidates(char *why, size_t cap, const char *query, const store_contact *c,
                            size_t n)
{
    size_t o = (size_t)snprintf(why, cap, "'%s' is ambiguous:", query);
    for (size_t i = 0; i < n && o < cap; i++) {
        char fp[IDENTITY_FP_LEN + 1];
        fp_of(c[i].key, fp);
        if (c[i].kind == CONTACT_ORG)
            o += (size_t)snprintf(why + o, cap - o, " @%s (organisation account);", c[i].account);
        else
            o += (size_t)snprintf(why + o, cap - o, " %s (LAN, fingerprint %.11s);", c[i].name, fp);
    }
    if (o < cap)
        snprintf(why + o, cap - o,
                 " name one with @ACCOUNT or more digits of a fingerprint (banter peers)");
}

static int resolve_account(contacts *cs, const char *account, uint8_t key[static 32], char *why,
                           size_t cap)
{
    store_contact *all = NULL;
    size_t k = 0, hits = 0;
    int r = store_contact_list(cs->st, &all, &k);
    if (r)
        return r;
    for (size_t i = 0; i < k; i++)
        if (all[i].kind == CONTACT_ORG && !contacts_is_self(cs, &all[i]) &&
            contacts_same_name(all[i].account, account) && hits++ == 0)
            memcpy(key, all[i].key, 32);
    free(all);
    if (hits == 1)
        return 0;
    snprintf(why, cap, "no organisation contact '%s' (banter contacts lists them)", account);
    return BANTER_ENOENT;
}

static int resolve_fingerprint(contacts *cs, const char *query, uint8_t key[static 32],
                               uint8_t *dev, bool *has_dev, char *why, size_t cap)
{
    store_device *all = NULL;
    size_t k = 0, hits = 0;
    int r = store_device_list(cs->st, NULL, &all, &k);
    if (r)
        return r;
    for (size_t i = 0; i < k; i++) {
        char fp[IDENTITY_FP_LEN + 1];
        fp_of(all[i].key, fp);
        if (!identity_fingerprint_has_prefix(fp, query) || is_self_key(cs, all[i].contact))
            continue;
        if (hits++ == 0) {
            memcpy(key, all[i].contact, 32);
            if (dev)
                memcpy(dev, all[i].key, 32);
            *has_dev = true;
        }
    }
    free(all);
    if (hits == 1)
        return 0;
    *has_dev = false;
    snprintf(why, cap,
             hits ? "'%s' matches %zu devices: give more digits of the fingerprint"
                  : "no contact matches '%s' (banter peers lists them)",
             query, hits);
    return hits ? BANTER_EAMBIGUOUS : BANTER_ENOENT;
}

/* 64 hex digits to 32 bytes. */
static bool hex32(const char *s, uint8_t out[static 32])
{
    if (strlen(s) != 64)
        return false;
    for (int i = 0; i < 32; i++) {
        int hi = g_ascii_xdigit_value(s[2 * i]), lo = g_ascii_xdigit_value(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

int contacts_resolve(contacts *cs, const char *query, uint8_t key[static 32], uint8_t *dev,
                     bool *has_dev, char *why, size_t cap)
{
    *has_dev = false;
    if (!query || !query[0] || !utf8_valid(query, strlen(query))) {
        snprintf(why, cap, "no contact given");
        return BANTER_ENOENT;
    }
    if (query[0] == '@')
        return resolve_account(cs, query + 1, key, why, cap);
    if (query[0] == '#') { /* a contact's id: its key in hex (the page's handle) */
        store_contact c;
        if (hex32(query + 1, key) && store_contact_get(cs->st, key, &c) == 0 &&
            !contacts_is_self(cs, &c))
            return 0;
        snprintf(why, cap, "no contact has the id %.70s", query);
        return BANTER_ENOENT;
    }
    /* Digits are a fingerprint, whatever name a device gave itself: a name
     * written like a colleague's fingerprint (which mDNS shows anyone)
     * never stands for it. */
    if (fingerprint_shaped(query))
        return resolve_fingerprint(cs, query, key, dev, has_dev, why, cap);
    store_contact *hits = NULL;
    size_t n = 0;
    int r = by_label(cs, query, NULL, &hits, &n);
    if (r)
        return r;
    size_t kept = 0; /* the self contact is no conversation */
    for (size_t i = 0; i < n; i++)
        if (!contacts_is_self(cs, &hits[i]))
            hits[kept++] = hits[i];
    n = kept;
    if (n == 1)
        memcpy(key, hits[0].key, 32);
    else if (n > 1)
        list_candidates(why, cap, query, hits, n);
    free(hits);
    if (n == 1)
        return 0;
    if (n > 1)
        return BANTER_EAMBIGUOUS;
    return resolve_fingerprint(cs, query, key, dev, has_dev, why, cap);
}

/* ---- trust ---- */

int contacts_may_send(contacts *cs, const uint8_t contact[static 32])
{
    store_contact c;
    store_device *devs = NULL;
    size_t n = 0;
    int r = store_contact_get(cs->st, contact, &c);
    if (r == 0)
        r = devices_of(cs, contact, &devs, &n);
    for (size_t i = 0; r == 0 && i < n; i++)
        if (devs[i].trust == TRUST_CHANGED)
            r = BANTER_EKEYMISMATCH;
    free(devs);
    return r;
}

/* Verify one device; a changed one retires the key it claimed. */
static int verify_device(contacts *cs, store_device *d, char *note, size_t cap)
{
    char fp[IDENTITY_FP_LEN + 1];
    fp_of(d->key, fp);
    store_trust t = contacts_trust(d, clock_wall(&cs->clock));
    if (t == TRUST_CERTIFIED) {
        snprintf(note, cap, "device %s is vouched for by the organisation", fp);
        return 0;
    }
    if (d->trust == TRUST_CHANGED && d->has_replaces) {
        /* Retire the claimed key only while it is still this contact's: a
         * key that has since joined an account is the organisation's. */
        store_device old;
        int r = store_device_get(cs->st, d->replaces, &old);
        if (r == 0 && memcmp(old.contact, d->contact, 32) == 0)
            r = store_device_delete(cs->st, d->replaces);
        if (r && r != BANTER_ENOENT)
            return r;
        d->has_replaces = false;
        snprintf(note, cap, "device %s verified; it replaces the key it claimed", fp);
    } else if (t == TRUST_LAPSED) {
        snprintf(note, cap,
                 "device %s verified: the organisation no longer vouches for it, it is trusted "
                 "on your word",
                 fp);
    } else {
        snprintf(note, cap, "device %s verified", fp);
    }
    d->trust = TRUST_VERIFIED;
    return store_device_put(cs->st, d);
}

int contacts_verify(contacts *cs, const uint8_t contact[static 32], const uint8_t *device,
                    char *note, size_t cap)
{
    store_device *devs = NULL;
    size_t n = 0;
    int r = devices_of(cs, contact, &devs, &n);
    if (r)
        return r;
    note[0] = '\0';
    bool changed = false;
    for (size_t i = 0; i < n; i++)
        changed |= devs[i].trust == TRUST_CHANGED;
    size_t done = 0;
    int64_t now = clock_wall(&cs->clock);
    for (size_t i = 0; r == 0 && i < n; i++) {
        bool pick = device ? memcmp(devs[i].key, device, 32) == 0
                           : (changed ? devs[i].trust == TRUST_CHANGED
                                      : contacts_trust(&devs[i], now) != TRUST_CERTIFIED);
        if (!pick)
            continue;
        r = verify_device(cs, &devs[i], note, cap);
        done++;
    }
    free(devs);
    if (r == 0 && done == 0 && !note[0])
        snprintf(note, cap, "nothing to verify: every device is vouched for by the organisation");
    return r == 0 && n == 0 ? BANTER_ENOENT : r;
}
