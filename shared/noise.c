/* SPDX-License-Identifier: MIT */
/* noise.c - Noise handshake engine and cipher states (see noise.h). */
#include "noise.h"

#include <stdlib.h>
#include <string.h>

#define SUITE_SUFFIX "_25519_ChaChaPoly_BLAKE2b"
#define MAX_TOKENS   8
#define MAX_MESSAGES 8

typedef enum tok { T_E, T_S, T_EE, T_ES, T_SE, T_SS, T_PSK } tok;

struct msg_pattern {
    bool from_initiator;
    uint8_t ntok;
    tok toks[MAX_TOKENS];
};

struct pattern {
    struct msg_pattern pre[2]; /* pre-messages, initiator's then responder's */
    uint8_t npre;
    struct msg_pattern msgs[MAX_MESSAGES];
    uint8_t nmsgs;
};

/*
 * The patterns of the specification (sections 7.4, 7.5 and 18), written as
 * in the spec: one line per message, pre-messages above "...".
 */
static const struct {
    const char *name;
    const char *text;
} patterns[] = {
    {"N", "<- s\n...\n-> e, es"},
    {"K", "-> s\n<- s\n...\n-> e, es, ss"},
    {"X", "<- s\n...\n-> e, es, s, ss"},
    {"NN", "-> e\n<- e, ee"},
    {"NK", "<- s\n...\n-> e, es\n<- e, ee"},
    {"NX", "-> e\n<- e, ee, s, es"},
    {"XN", "-> e\n<- e, ee\n-> s, se"},
    {"XK", "<- s\n...\n-> e, es\n<- e, ee\n-> s, se"},
    {"XX", "-> e\n<- e, ee, s, es\n-> s, se"},
    {"KN", "-> s\n...\n-> e\n<- e, ee, se"},
    {"KK", "-> s\n<- s\n...\n-> e, es, ss\n<- e, ee, se"},
    {"KX", "-> s\n...\n-> e\n<- e, ee, se, s, es"},
    {"IN", "-> e, s\n<- e, ee, se"},
    {"IK", "<- s\n...\n-> e, es, s, ss\n<- e, ee, se"},
    {"IX", "-> e, s\n<- e, ee, se, s, es"},
    {"NK1", "<- s\n...\n-> e\n<- e, ee, es"},
    {"NX1", "-> e\n<- e, ee, s\n-> es"},
    {"X1N", "-> e\n<- e, ee\n-> s\n<- se"},
    {"X1K", "<- s\n...\n-> e, es\n<- e, ee\n-> s\n<- se"},
    {"XK1", "<- s\n...\n-> e\n<- e, ee, es\n-> s, se"},
    {"X1K1", "<- s\n...\n-> e\n<- e, ee, es\n-> s\n<- se"},
    {"X1X", "-> e\n<- e, ee, s, es\n-> s\n<- se"},
    {"XX1", "-> e\n<- e, ee, s\n-> es, s, se"},
    {"X1X1", "-> e\n<- e, ee, s\n-> es, s\n<- se"},
    {"K1N", "-> s\n...\n-> e\n<- e, ee\n-> se"},
    {"K1K", "-> s\n<- s\n...\n-> e, es\n<- e, ee\n-> se"},
    {"KK1", "-> s\n<- s\n...\n-> e\n<- e, ee, se, es"},
    {"K1K1", "-> s\n<- s\n...\n-> e\n<- e, ee, es\n-> se"},
    {"K1X", "-> s\n...\n-> e\n<- e, ee, s, es\n-> se"},
    {"KX1", "-> s\n...\n-> e\n<- e, ee, se, s\n-> es"},
    {"K1X1", "-> s\n...\n-> e\n<- e, ee, s\n-> se, es"},
    {"I1N", "-> e, s\n<- e, ee\n-> se"},
    {"I1K", "<- s\n...\n-> e, es, s\n<- e, ee\n-> se"},
    {"IK1", "<- s\n...\n-> e, s\n<- e, ee, se, es"},
    {"I1K1", "<- s\n...\n-> e, s\n<- e, ee, es\n-> se"},
    {"I1X", "-> e, s\n<- e, ee, s, es\n-> se"},
    {"IX1", "-> e, s\n<- e, ee, se, s\n-> es"},
    {"I1X1", "-> e, s\n<- e, ee, s\n-> se, es"},
};

enum hs_state { HS_RUNNING, HS_DONE, HS_SPLIT, HS_FAILED };

typedef struct symmetric {
    noise_cipher c;
    bool has_key; /* c was initialised: before, EncryptWithAd passes bytes through */
    uint8_t ck[NOISE_HASHLEN];
    uint8_t h[NOISE_HASHLEN];
} symmetric;

struct noise_hs {
    struct pattern pat;
    symmetric ss;
    noise_role role;
    enum hs_state state;
    uint8_t msg_idx;
    bool psk_mode;
    bool has_s, has_e, has_rs, has_re, fixed_e;
    uint8_t s[NOISE_KEYLEN], s_pub[NOISE_KEYLEN];
    uint8_t e[NOISE_KEYLEN], e_pub[NOISE_KEYLEN];
    uint8_t rs[NOISE_KEYLEN], re[NOISE_KEYLEN];
    uint8_t psks[NOISE_MAX_PSKS][NOISE_PSKLEN];
    size_t npsks, psk_next;
    banter_rng rng;
};

/* ---- CipherState ---- */

void noise_cipher_init(noise_cipher *c, const uint8_t k[static NOISE_KEYLEN])
{
    memcpy(c->k, k, NOISE_KEYLEN);
    c->n = 0;
}

void noise_cipher_set_nonce(noise_cipher *c, uint64_t n) { c->n = n; }

int noise_cipher_encrypt(noise_cipher *c, const uint8_t *ad, size_t adlen, const uint8_t *pt,
                         size_t len, uint8_t *out)
{
    if (c->n == UINT64_MAX)
        return BANTER_ENONCE;
    bcrypto_aead_encrypt(out, c->k, c->n, ad, adlen, pt, len);
    c->n++;
    return 0;
}

int noise_cipher_decrypt(noise_cipher *c, const uint8_t *ad, size_t adlen, const uint8_t *ct,
                         size_t len, uint8_t *out)
{
    if (c->n == UINT64_MAX)
        return BANTER_ENONCE;
    int r = bcrypto_aead_decrypt(out, c->k, c->n, ad, adlen, ct, len);
    if (r)
        return r;
    c->n++;
    return 0;
}

void noise_cipher_rekey(noise_cipher *c)
{
    uint8_t zeros[NOISE_KEYLEN + NOISE_TAGLEN] = {0};
    bcrypto_aead_encrypt(zeros, c->k, UINT64_MAX, NULL, 0, zeros, NOISE_KEYLEN);
    memcpy(c->k, zeros, NOISE_KEYLEN);
    bcrypto_wipe(zeros, sizeof zeros);
}

void noise_cipher_wipe(noise_cipher *c) { bcrypto_wipe(c, sizeof *c); }

/* ---- SymmetricState ---- */

static void sym_init(symmetric *ss, const char *name)
{
    size_t len = strlen(name);
    memset(ss, 0, sizeof *ss);
    if (len <= NOISE_HASHLEN)
        memcpy(ss->h, name, len);
    else
        bcrypto_hash2(ss->h, (const uint8_t *)name, len, NULL, 0);
    memcpy(ss->ck, ss->h, NOISE_HASHLEN);
}

static void sym_mix_hash(symmetric *ss, const uint8_t *data, size_t len)
{
    bcrypto_hash2(ss->h, ss->h, NOISE_HASHLEN, data, len);
}

static void sym_mix_key(symmetric *ss, const uint8_t *ikm, size_t len)
{
    uint8_t k[NOISE_HASHLEN];
    bcrypto_hkdf(ss->ck, ikm, len, ss->ck, k, NULL);
    noise_cipher_init(&ss->c, k);
    ss->has_key = true;
    bcrypto_wipe(k, sizeof k);
}

static void sym_mix_key_and_hash(symmetric *ss, const uint8_t *ikm, size_t len)
{
    uint8_t th[NOISE_HASHLEN], k[NOISE_HASHLEN];
    bcrypto_hkdf(ss->ck, ikm, len, ss->ck, th, k);
    sym_mix_hash(ss, th, sizeof th);
    noise_cipher_init(&ss->c, k);
    ss->has_key = true;
    bcrypto_wipe(th, sizeof th);
    bcrypto_wipe(k, sizeof k);
}

/* out receives len (+16 with a key) bytes. */
static int sym_encrypt_and_hash(symmetric *ss, const uint8_t *pt, size_t len, uint8_t *out)
{
    int r = 0;
    if (ss->has_key)
        r = noise_cipher_encrypt(&ss->c, ss->h, NOISE_HASHLEN, pt, len, out);
    else if (len && out != pt)
        memmove(out, pt, len);
    if (r)
        return r;
    sym_mix_hash(ss, out, len + (ss->has_key ? NOISE_TAGLEN : 0));
    return 0;
}

/* ct must not alias out. */
static int sym_decrypt_and_hash(symmetric *ss, const uint8_t *ct, size_t len, uint8_t *out)
{
    int r = 0;
    if (ss->has_key)
        r = noise_cipher_decrypt(&ss->c, ss->h, NOISE_HASHLEN, ct, len, out);
    else if (len)
        memmove(out, ct, len);
    if (r)
        return r;
    sym_mix_hash(ss, ct, len);
    return 0;
}

/* ---- pattern parsing ---- */

static int parse_token(const char *w, size_t n, tok *t)
{
    static const struct {
        const char *s;
        tok t;
    } names[] = {{"e", T_E},   {"s", T_S},   {"ee", T_EE},  {"es", T_ES},
                 {"se", T_SE}, {"ss", T_SS}, {"psk", T_PSK}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strlen(names[i].s) == n && memcmp(names[i].s, w, n) == 0) {
            *t = names[i].t;
            return 0;
        }
    }
    return BANTER_EUNSUPPORTED;
}

/* One line "-> e, es" into m. */
static int parse_line(const char *p, size_t n, struct msg_pattern *m)
{
    if (n < 3 || (memcmp(p, "->", 2) != 0 && memcmp(p, "<-", 2) != 0))
        return BANTER_EUNSUPPORTED;
    m->from_initiator = p[0] == '-';
    m->ntok = 0;
    size_t i = 2;
    while (i < n) {
        while (i < n && (p[i] == ' ' || p[i] == ','))
            i++;
        size_t start = i;
        while (i < n && p[i] != ',' && p[i] != ' ')
            i++;
        if (i == start)
            break;
        if (m->ntok == MAX_TOKENS)
            return BANTER_EUNSUPPORTED;
        int r = parse_token(p + start, i - start, &m->toks[m->ntok]);
        if (r)
            return r;
        m->ntok++;
    }
    return 0;
}

static int parse_pattern(const char *text, struct pattern *pat)
{
    struct msg_pattern lines[MAX_MESSAGES + 2];
    size_t nlines = 0, npre = 0;
    bool has_pre = false;
    const char *p = text;

    memset(pat, 0, sizeof *pat);
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n == 3 && memcmp(p, "...", 3) == 0) {
            has_pre = true;
            npre = nlines;
        } else {
            if (nlines == sizeof lines / sizeof lines[0])
                return BANTER_EUNSUPPORTED;
            int r = parse_line(p, n, &lines[nlines++]);
            if (r)
                return r;
        }
        p += n + (nl ? 1 : 0);
    }
    if (!has_pre)
        npre = 0;
    if (npre > 2 || nlines - npre > MAX_MESSAGES || nlines == npre)
        return BANTER_EUNSUPPORTED;
    memcpy(pat->pre, lines, npre * sizeof lines[0]);
    pat->npre = (uint8_t)npre;
    memcpy(pat->msgs, lines + npre, (nlines - npre) * sizeof lines[0]);
    pat->nmsgs = (uint8_t)(nlines - npre);
    return 0;
}

/* Apply "pskN" modifiers: psk0 prepends a psk token to the first message,
 * pskN appends one to message N. */
static int apply_modifiers(struct pattern *pat, const char *mods, bool *psk_mode)
{
    while (*mods) {
        const char *end = strchr(mods, '+');
        size_t n = end ? (size_t)(end - mods) : strlen(mods);
        if (n < 4 || n > 5 || memcmp(mods, "psk", 3) != 0)
            return BANTER_EUNSUPPORTED;
        unsigned idx = 0;
        for (size_t i = 3; i < n; i++) {
            if (mods[i] < '0' || mods[i] > '9')
                return BANTER_EUNSUPPORTED;
            idx = idx * 10 + (unsigned)(mods[i] - '0');
        }
        struct msg_pattern *m;
        if (idx == 0) {
            m = &pat->msgs[0];
            if (m->ntok == MAX_TOKENS)
                return BANTER_EUNSUPPORTED;
            memmove(m->toks + 1, m->toks, m->ntok * sizeof m->toks[0]);
            m->toks[0] = T_PSK;
        } else {
            if (idx > pat->nmsgs)
                return BANTER_EUNSUPPORTED;
            m = &pat->msgs[idx - 1];
            if (m->ntok == MAX_TOKENS)
                return BANTER_EUNSUPPORTED;
            m->toks[m->ntok] = T_PSK;
        }
        m->ntok++;
        *psk_mode = true;
        mods += n + (end ? 1 : 0);
    }
    return 0;
}

/* "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b" -> pattern with modifiers. */
static int parse_name(const char *name, struct pattern *pat, bool *psk_mode)
{
    char pname[32];
    const char *prefix = "Noise_";
    size_t plen = strlen(prefix), slen = strlen(SUITE_SUFFIX), len = strlen(name);

    if (len <= plen + slen || memcmp(name, prefix, plen) != 0 ||
        strcmp(name + len - slen, SUITE_SUFFIX) != 0 || len - plen - slen >= sizeof pname)
        return BANTER_EUNSUPPORTED;
    memcpy(pname, name + plen, len - plen - slen);
    pname[len - plen - slen] = '\0';

    size_t base = 0;
    while (pname[base] && !(pname[base] >= 'a' && pname[base] <= 'z'))
        base++;
    for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++) {
        if (strlen(patterns[i].name) != base || memcmp(patterns[i].name, pname, base) != 0)
            continue;
        int r = parse_pattern(patterns[i].text, pat);
        if (r)
            return r;
        *psk_mode = false;
        return apply_modifiers(pat, pname + base, psk_mode);
    }
    return BANTER_EUNSUPPORTED;
}

/* ---- HandshakeState ---- */

static bool uses_token(const struct pattern *pat, bool initiator, tok t)
{
    for (size_t i = 0; i < pat->npre; i++)
        for (size_t j = 0; j < pat->pre[i].ntok; j++)
            if (pat->pre[i].from_initiator == initiator && pat->pre[i].toks[j] == t)
                return true;
    for (size_t i = 0; i < pat->nmsgs; i++)
        for (size_t j = 0; j < pat->msgs[i].ntok; j++)
            if (pat->msgs[i].from_initiator == initiator && pat->msgs[i].toks[j] == t)
                return true;
    return false;
}

static bool pre_has(const struct pattern *pat, bool initiator, tok t)
{
    for (size_t i = 0; i < pat->npre; i++)
        for (size_t j = 0; j < pat->pre[i].ntok; j++)
            if (pat->pre[i].from_initiator == initiator && pat->pre[i].toks[j] == t)
                return true;
    return false;
}

static size_t count_psk(const struct pattern *pat)
{
    size_t n = 0;
    for (size_t i = 0; i < pat->nmsgs; i++)
        for (size_t j = 0; j < pat->msgs[i].ntok; j++)
            n += pat->msgs[i].toks[j] == T_PSK;
    return n;
}

static int check_keys(const noise_hs *hs, const noise_hs_config *cfg)
{
    bool me = cfg->role == NOISE_INITIATOR;
    if (uses_token(&hs->pat, me, T_S) && !cfg->s)
        return BANTER_EINVAL;
    if (pre_has(&hs->pat, !me, T_S) && !cfg->rs)
        return BANTER_EINVAL;
    if (pre_has(&hs->pat, !me, T_E) && !cfg->re)
        return BANTER_EINVAL;
    if (pre_has(&hs->pat, me, T_E) && !cfg->e)
        return BANTER_EINVAL;
    if (count_psk(&hs->pat) > cfg->npsks || cfg->npsks > NOISE_MAX_PSKS)
        return BANTER_EINVAL;
    if (uses_token(&hs->pat, me, T_E) && !cfg->e && !cfg->rng.fill)
        return BANTER_EINVAL;
    return 0;
}

static void mix_pre_messages(noise_hs *hs)
{
    bool me = hs->role == NOISE_INITIATOR;
    for (size_t i = 0; i < hs->pat.npre; i++) {
        const struct msg_pattern *m = &hs->pat.pre[i];
        bool mine = m->from_initiator == me;
        for (size_t j = 0; j < m->ntok; j++) {
            const uint8_t *key;
            if (m->toks[j] == T_S)
                key = mine ? hs->s_pub : hs->rs;
            else
                key = mine ? hs->e_pub : hs->re;
            sym_mix_hash(&hs->ss, key, NOISE_KEYLEN);
            if (m->toks[j] == T_E && hs->psk_mode)
                sym_mix_key(&hs->ss, key, NOISE_KEYLEN);
        }
    }
}

int noise_hs_new(noise_hs **out, const noise_hs_config *cfg)
{
    int r;
    noise_hs *hs;

    *out = NULL;
    if (!cfg || !cfg->protocol_name || (cfg->prologue_len && !cfg->prologue))
        return BANTER_EINVAL;
    hs = calloc(1, sizeof *hs);
    if (!hs)
        return BANTER_ENOMEM;
    r = parse_name(cfg->protocol_name, &hs->pat, &hs->psk_mode);
    if (r)
        goto fail;
    r = check_keys(hs, cfg);
    if (r)
        goto fail;

    hs->role = cfg->role;
    hs->rng = cfg->rng;
    if (cfg->s) {
        memcpy(hs->s, cfg->s, NOISE_KEYLEN);
        bcrypto_dh_public(hs->s_pub, hs->s);
        hs->has_s = true;
    }
    if (cfg->e) {
        memcpy(hs->e, cfg->e, NOISE_KEYLEN);
        bcrypto_dh_public(hs->e_pub, hs->e);
        hs->fixed_e = true;
        hs->has_e = pre_has(&hs->pat, cfg->role == NOISE_INITIATOR, T_E);
    }
    if (cfg->rs) {
        memcpy(hs->rs, cfg->rs, NOISE_KEYLEN);
        hs->has_rs = true;
    }
    if (cfg->re) {
        memcpy(hs->re, cfg->re, NOISE_KEYLEN);
        hs->has_re = true;
    }
    for (size_t i = 0; i < cfg->npsks; i++)
        memcpy(hs->psks[i], cfg->psks[i], NOISE_PSKLEN);
    hs->npsks = cfg->npsks;

    sym_init(&hs->ss, cfg->protocol_name);
    sym_mix_hash(&hs->ss, cfg->prologue, cfg->prologue_len);
    mix_pre_messages(hs);
    *out = hs;
    return 0;
fail:
    noise_hs_free(hs);
    return r;
}

void noise_hs_free(noise_hs *hs)
{
    if (!hs)
        return;
    bcrypto_wipe(hs, sizeof *hs);
    free(hs);
}

static void fail_hs(noise_hs *hs)
{
    hs->state = HS_FAILED;
    bcrypto_wipe(&hs->ss.c, sizeof hs->ss.c);
    bcrypto_wipe(hs->ss.ck, sizeof hs->ss.ck);
    bcrypto_wipe(hs->s, sizeof hs->s);
    bcrypto_wipe(hs->e, sizeof hs->e);
    bcrypto_wipe(hs->psks, sizeof hs->psks);
}

noise_action noise_hs_action(const noise_hs *hs)
{
    if (hs->state == HS_FAILED)
        return NOISE_FAILED;
    if (hs->state != HS_RUNNING)
        return NOISE_SPLIT;
    bool initiator_turn = hs->pat.msgs[hs->msg_idx].from_initiator;
    return initiator_turn == (hs->role == NOISE_INITIATOR) ? NOISE_WRITE : NOISE_READ;
}

/* The DH a token calls for, from this side's point of view. */
static int token_dh(noise_hs *hs, tok t)
{
    uint8_t out[NOISE_KEYLEN];
    const uint8_t *priv, *pub;
    bool init = hs->role == NOISE_INITIATOR;
    bool ok;

    switch (t) {
    case T_EE:
        priv = hs->e, pub = hs->re, ok = hs->has_e && hs->has_re;
        break;
    case T_ES:
        priv = init ? hs->e : hs->s;
        pub = init ? hs->rs : hs->re;
        ok = init ? hs->has_e && hs->has_rs : hs->has_s && hs->has_re;
        break;
    case T_SE:
        priv = init ? hs->s : hs->e;
        pub = init ? hs->re : hs->rs;
        ok = init ? hs->has_s && hs->has_re : hs->has_e && hs->has_rs;
        break;
    default: /* T_SS */
        priv = hs->s, pub = hs->rs, ok = hs->has_s && hs->has_rs;
        break;
    }
    if (!ok)
        return BANTER_ESTATE;
    int r = bcrypto_dh(out, priv, pub);
    if (r == 0)
        sym_mix_key(&hs->ss, out, sizeof out);
    bcrypto_wipe(out, sizeof out);
    return r;
}

static size_t key_field_len(bool has_key) { return NOISE_KEYLEN + (has_key ? NOISE_TAGLEN : 0); }

size_t noise_hs_write_size(const noise_hs *hs, size_t len)
{
    if (noise_hs_action(hs) != NOISE_WRITE)
        return 0;
    const struct msg_pattern *m = &hs->pat.msgs[hs->msg_idx];
    bool has_key = hs->ss.has_key;
    size_t n = 0;
    for (size_t i = 0; i < m->ntok; i++) {
        tok t = m->toks[i];
        if (t == T_E) {
            n += NOISE_KEYLEN;
            has_key = has_key || hs->psk_mode;
        } else if (t == T_S) {
            n += key_field_len(has_key);
        } else {
            has_key = true; /* every DH and psk token sets a key */
        }
    }
    return n + len + (has_key ? NOISE_TAGLEN : 0);
}

static int finish_message(noise_hs *hs)
{
    hs->msg_idx++;
    if (hs->msg_idx >= hs->pat.nmsgs)
        hs->state = HS_DONE;
    return 0;
}

int noise_hs_write(noise_hs *hs, const uint8_t *payload, size_t len, uint8_t *out, size_t *outlen)
{
    int r;
    size_t o = 0;

    if (noise_hs_action(hs) != NOISE_WRITE)
        return BANTER_ESTATE;
    if (noise_hs_write_size(hs, len) > NOISE_MAX_MSG)
        return BANTER_ETOOBIG;
    const struct msg_pattern *m = &hs->pat.msgs[hs->msg_idx];
    for (size_t i = 0; i < m->ntok; i++) {
        switch (m->toks[i]) {
        case T_E:
            if (!hs->fixed_e) {
                hs->rng.fill(hs->rng.ctx, hs->e, NOISE_KEYLEN);
                bcrypto_dh_public(hs->e_pub, hs->e);
            }
            hs->has_e = true;
            memcpy(out + o, hs->e_pub, NOISE_KEYLEN);
            o += NOISE_KEYLEN;
            sym_mix_hash(&hs->ss, hs->e_pub, NOISE_KEYLEN);
            if (hs->psk_mode)
                sym_mix_key(&hs->ss, hs->e_pub, NOISE_KEYLEN);
            break;
        case T_S: {
            bool keyed = hs->ss.has_key;
            r = sym_encrypt_and_hash(&hs->ss, hs->s_pub, NOISE_KEYLEN, out + o);
            if (r)
                goto fail;
            o += key_field_len(keyed);
            break;
        }
        case T_PSK:
            sym_mix_key_and_hash(&hs->ss, hs->psks[hs->psk_next++], NOISE_PSKLEN);
            break;
        default:
            r = token_dh(hs, m->toks[i]);
            if (r)
                goto fail;
            break;
        }
    }
    bool keyed = hs->ss.has_key;
    r = sym_encrypt_and_hash(&hs->ss, payload, len, out + o);
    if (r)
        goto fail;
    o += len + (keyed ? NOISE_TAGLEN : 0);
    *outlen = o;
    return finish_message(hs);
fail:
    fail_hs(hs);
    return r;
}

int noise_hs_read(noise_hs *hs, const uint8_t *msg, size_t len, uint8_t *out, size_t outcap,
                  size_t *outlen)
{
    int r;
    size_t o = 0;

    if (noise_hs_action(hs) != NOISE_READ)
        return BANTER_ESTATE;
    if (len > NOISE_MAX_MSG) {
        r = BANTER_ETOOBIG;
        goto fail;
    }
    const struct msg_pattern *m = &hs->pat.msgs[hs->msg_idx];
    for (size_t i = 0; i < m->ntok; i++) {
        switch (m->toks[i]) {
        case T_E:
            if (len - o < NOISE_KEYLEN) {
                r = BANTER_ETRUNCATED;
                goto fail;
            }
            memcpy(hs->re, msg + o, NOISE_KEYLEN);
            hs->has_re = true;
            o += NOISE_KEYLEN;
            sym_mix_hash(&hs->ss, hs->re, NOISE_KEYLEN);
            if (hs->psk_mode)
                sym_mix_key(&hs->ss, hs->re, NOISE_KEYLEN);
            break;
        case T_S: {
            size_t n = key_field_len(hs->ss.has_key);
            if (len - o < n) {
                r = BANTER_ETRUNCATED;
                goto fail;
            }
            r = sym_decrypt_and_hash(&hs->ss, msg + o, n, hs->rs);
            if (r)
                goto fail;
            hs->has_rs = true;
            o += n;
            break;
        }
        case T_PSK:
            sym_mix_key_and_hash(&hs->ss, hs->psks[hs->psk_next++], NOISE_PSKLEN);
            break;
        default:
            r = token_dh(hs, m->toks[i]);
            if (r)
                goto fail;
            break;
        }
    }
    size_t clen = len - o;
    size_t plen = clen;
    if (hs->ss.has_key) {
        if (clen < NOISE_TAGLEN) {
            r = BANTER_ETRUNCATED;
            goto fail;
        }
        plen -= NOISE_TAGLEN;
    }
    if (plen > outcap) {
        r = BANTER_ETOOBIG;
        goto fail;
    }
    r = sym_decrypt_and_hash(&hs->ss, msg + o, clen, out);
    if (r)
        goto fail;
    *outlen = plen;
    return finish_message(hs);
fail:
    fail_hs(hs);
    return r;
}

int noise_hs_split(noise_hs *hs, noise_cipher *send, noise_cipher *recv)
{
    uint8_t k1[NOISE_HASHLEN], k2[NOISE_HASHLEN];
    if (hs->state != HS_DONE)
        return BANTER_ESTATE;
    bcrypto_hkdf(hs->ss.ck, NULL, 0, k1, k2, NULL);
    if (hs->role == NOISE_INITIATOR) {
        noise_cipher_init(send, k1);
        noise_cipher_init(recv, k2);
    } else {
        noise_cipher_init(send, k2);
        noise_cipher_init(recv, k1);
    }
    bcrypto_wipe(k1, sizeof k1);
    bcrypto_wipe(k2, sizeof k2);
    /* The handshake's secrets are no longer needed; h stays for binding. */
    bcrypto_wipe(&hs->ss.c, sizeof hs->ss.c);
    bcrypto_wipe(hs->ss.ck, sizeof hs->ss.ck);
    bcrypto_wipe(hs->e, sizeof hs->e);
    bcrypto_wipe(hs->s, sizeof hs->s);
    bcrypto_wipe(hs->psks, sizeof hs->psks);
    hs->state = HS_SPLIT;
    return 0;
}

void noise_hs_hash(const noise_hs *hs, uint8_t h[static NOISE_HASHLEN])
{
    memcpy(h, hs->ss.h, NOISE_HASHLEN);
}

const uint8_t *noise_hs_remote_static(const noise_hs *hs) { return hs->has_rs ? hs->rs : NULL; }
