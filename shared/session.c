/* SPDX-License-Identifier: MIT */
/* session.c - one Banter connection, sans I/O (see session.h). */
#include "session.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "frame.h"
#include "banter_limits.h"

/* A server holds one per connection: kept small (session_send_msg encodes
 * straight into out, so there is no encoding buffer; the small fields
 * share the last word). */
struct session {
    const identity *id;
    noise_hs *hs;
    noise_cipher tx, rx;
    frame_dec dec;
    buf out;
    buf rx_pt; /* last decrypted plaintext, handed out in an event */
    /* The key the peer must have (has_expect) until the handshake ends,
     * the key it proved from then on: one field, as a server holds one
     * session per connection. */
    uint8_t peer[BCRYPTO_ED_PKLEN];
    uint8_t *h; /* the final handshake hash, kept only when asked (binding) */
    bool has_expect;
    bool binding;
    bool established;
    bool announce; /* ESTABLISHED event not yet delivered */
    uint8_t role;  /* noise_role */
    bool dead;     /* a fatal error ended it */
    bool keep;     /* keep_buffers: drained buffers keep their memory */
};

/* Drop n bytes from the front of b, freeing a drained buffer unless the
 * session keeps its buffers. */
static void consume(const session *s, buf *b, size_t n)
{
    if (s->keep)
        buf_consume_keep(b, n);
    else
        buf_consume(b, n);
}

/* Queue one handshake message carrying payload. */
static int hs_write(session *s, const uint8_t *payload, size_t len)
{
    uint8_t *dst;
    size_t n = noise_hs_write_size(s->hs, len), wrote = 0;
    int r = buf_reserve(&s->out, BANTER_FRAME_HDR + n, &dst);
    if (r)
        return r;
    r = noise_hs_write(s->hs, payload, len, dst + BANTER_FRAME_HDR, &wrote);
    if (r)
        return r;
    r = frame_header(dst, wrote);
    if (r)
        return r;
    buf_commit(&s->out, BANTER_FRAME_HDR + wrote);
    return 0;
}

/* Our identity proof for a handshake whose hash so far is h. */
static void make_proof(const session *s, const uint8_t h[static NOISE_HASHLEN],
                       uint8_t proof[static SESSION_PROOF_LEN])
{
    uint8_t signed_data[sizeof SESSION_PROOF_CONTEXT - 1 + NOISE_HASHLEN];
    memcpy(signed_data, SESSION_PROOF_CONTEXT, sizeof SESSION_PROOF_CONTEXT - 1);
    memcpy(signed_data + sizeof SESSION_PROOF_CONTEXT - 1, h, NOISE_HASHLEN);
    memcpy(proof, identity_public(s->id), BCRYPTO_ED_PKLEN);
    identity_sign(s->id, signed_data, sizeof signed_data, proof + BCRYPTO_ED_PKLEN);
}

/* Check the peer's proof against the static key the handshake gave. */
static int check_proof(session *s, const uint8_t h[static NOISE_HASHLEN], const uint8_t *proof,
                       size_t len)
{
    uint8_t signed_data[sizeof SESSION_PROOF_CONTEXT - 1 + NOISE_HASHLEN];
    uint8_t x[BCRYPTO_DHLEN];
    const uint8_t *rs = noise_hs_remote_static(s->hs);

    if (len != SESSION_PROOF_LEN || !rs)
        return BANTER_EIDENTITY;
    if (bcrypto_ed_to_x_public(x, proof) != 0 || !bcrypto_equal(x, rs, sizeof x))
        return BANTER_EIDENTITY;
    memcpy(signed_data, SESSION_PROOF_CONTEXT, sizeof SESSION_PROOF_CONTEXT - 1);
    memcpy(signed_data + sizeof SESSION_PROOF_CONTEXT - 1, h, NOISE_HASHLEN);
    if (bcrypto_verify(proof + BCRYPTO_ED_PKLEN, signed_data, sizeof signed_data, proof) != 0)
        return BANTER_EIDENTITY;
    if (s->has_expect && !bcrypto_equal(proof, s->peer, BCRYPTO_ED_PKLEN))
        return BANTER_EKEYMISMATCH;
    memcpy(s->peer, proof, BCRYPTO_ED_PKLEN);
    return 0;
}

static int establish(session *s)
{
    int r = noise_hs_split(s->hs, &s->tx, &s->rx);
    if (r)
        return r;
    if (s->binding) {
        if ((s->h = malloc(NOISE_HASHLEN)) == NULL)
            return BANTER_ENOMEM;
        noise_hs_hash(s->hs, s->h);
    }
    noise_hs_free(s->hs);
    s->hs = NULL;
    s->established = true;
    s->announce = true;
    frame_dec_set_max(&s->dec, BANTER_NOISE_MAX_MSG);
    return 0;
}

size_t session_size(void) { return sizeof(session); }
_Static_assert(_Alignof(session) <= 8, "session_init's memory is aligned to 8");

int session_new(session **out, const session_config *cfg)
{
    *out = NULL;
    if (!cfg || !cfg->id || !cfg->rng.fill)
        return BANTER_EINVAL;
    session *s = calloc(1, sizeof *s);
    if (!s)
        return BANTER_ENOMEM;
    int r = session_init(s, cfg);
    if (r) {
        free(s);
        return r;
    }
    *out = s;
    return 0;
}

int session_init(session *s, const session_config *cfg)
{
    int r;

    if (!cfg || !cfg->id || !cfg->rng.fill)
        return BANTER_EINVAL;
    s->id = cfg->id;
    s->role = (uint8_t)cfg->role;
    if (cfg->expect_peer) {
        memcpy(s->peer, cfg->expect_peer, sizeof s->peer);
        s->has_expect = true;
    }
    s->binding = cfg->binding;
    s->keep = cfg->keep_buffers;
    frame_dec_init(&s->dec, BANTER_MAX_HANDSHAKE_MSG);
    frame_dec_set_keep(&s->dec, cfg->keep_buffers);
    buf_init(&s->out, cfg->out_cap ? cfg->out_cap : SESSION_DEFAULT_OUT_CAP);
    buf_init(&s->rx_pt, BANTER_MAX_PLAINTEXT);

    noise_hs_config hc = {
        .protocol_name = SESSION_PROTOCOL,
        .role = cfg->role,
        .prologue = (const uint8_t *)SESSION_PROLOGUE,
        .prologue_len = sizeof SESSION_PROLOGUE - 1,
        .s = identity_dh_secret(cfg->id),
        .rng = cfg->rng,
    };
    r = noise_hs_new(&s->hs, &hc);
    if (r)
        goto fail;
    if (cfg->role == NOISE_INITIATOR) {
        uint8_t version = SESSION_VERSION;
        r = hs_write(s, &version, 1);
        if (r)
            goto fail;
    }
    return 0;
fail:
    session_fini(s);
    return r;
}

void session_fini(session *s)
{
    if (!s)
        return;
    noise_hs_free(s->hs);
    frame_dec_free(&s->dec);
    buf_free(&s->out);
    buf_free(&s->rx_pt);
    if (s->h)
        bcrypto_wipe(s->h, NOISE_HASHLEN);
    free(s->h);
    bcrypto_wipe(s, sizeof *s);
}

void session_free(session *s)
{
    session_fini(s);
    free(s);
}

/* One handshake frame. */
static int on_hs_frame(session *s, const uint8_t *f, size_t n)
{
    uint8_t h[NOISE_HASHLEN], payload[BANTER_MAX_HANDSHAKE_MSG], proof[SESSION_PROOF_LEN];
    size_t plen;
    int r;

    if (noise_hs_action(s->hs) != NOISE_READ)
        return BANTER_EPROTO;
    noise_hs_hash(s->hs, h); /* the peer's proof signs h before its message */
    r = noise_hs_read(s->hs, f, n, payload, sizeof payload, &plen);
    if (r)
        return r;

    if (s->role == NOISE_RESPONDER && noise_hs_action(s->hs) == NOISE_WRITE) {
        /* Message 1: the initiator's protocol version, in clear. */
        if (plen != 1)
            return BANTER_EPROTO;
        if (payload[0] != SESSION_VERSION)
            return BANTER_EUNSUPPORTED;
        noise_hs_hash(s->hs, h);
        make_proof(s, h, proof);
        return hs_write(s, proof, sizeof proof);
    }
    r = check_proof(s, h, payload, plen);
    if (r)
        return r;
    if (s->role == NOISE_INITIATOR) {
        /* Message 2 read; message 3 carries our proof. */
        noise_hs_hash(s->hs, h);
        make_proof(s, h, proof);
        r = hs_write(s, proof, sizeof proof);
        if (r)
            return r;
    }
    return noise_hs_action(s->hs) == NOISE_SPLIT ? establish(s) : BANTER_EPROTO;
}

static void rekey_if_due(noise_cipher *c)
{
    if (c->n > 0 && c->n % BANTER_REKEY_INTERVAL == 0)
        noise_cipher_rekey(c);
}

/* One transport frame into s->rx_pt. */
static int on_transport_frame(session *s, const uint8_t *f, size_t n)
{
    uint8_t *dst;
    if (n < NOISE_TAGLEN + 1)
        return BANTER_ETRUNCATED;
    int r = buf_reserve(&s->rx_pt, n - NOISE_TAGLEN, &dst);
    if (r)
        return r;
    rekey_if_due(&s->rx);
    r = noise_cipher_decrypt(&s->rx, NULL, 0, f, n, dst);
    if (r)
        return r;
    buf_commit(&s->rx_pt, n - NOISE_TAGLEN);
    return 0;
}

int session_feed(session *s, const uint8_t *in, size_t len, size_t *used, session_event *ev)
{
    size_t off = 0;
    int r;

    *used = 0;
    if (s->dead)
        return BANTER_ESTATE;
    consume(s, &s->rx_pt, buf_len(&s->rx_pt)); /* the last event's data */
    for (;;) {
        if (s->announce) {
            s->announce = false;
            *ev = (session_event){.type = SESSION_EV_ESTABLISHED};
            *used = off;
            return 1;
        }
        if (off == len)
            break;
        const uint8_t *f;
        size_t n, u;
        r = frame_dec_push(&s->dec, in + off, len - off, &u, &f, &n);
        off += u;
        if (r < 0)
            goto fail;
        if (r == 0)
            break;
        if (!s->established) {
            r = on_hs_frame(s, f, n);
            if (r)
                goto fail;
            continue;
        }
        r = on_transport_frame(s, f, n);
        if (r)
            goto fail;
        *ev = (session_event){SESSION_EV_MESSAGE, buf_data(&s->rx_pt), buf_len(&s->rx_pt)};
        *used = off;
        return 1;
    }
    *used = off;
    return 0;
fail:
    *used = off;
    s->dead = true;
    return r;
}

int session_finish(const session *s) { return frame_dec_finish(&s->dec); }

int session_send(session *s, const uint8_t *pt, size_t len)
{
    uint8_t *dst;
    int r;

    if (s->dead || !s->established)
        return BANTER_ESTATE;
    if (len == 0)
        return BANTER_EINVAL;
    if (len > BANTER_MAX_PLAINTEXT)
        return BANTER_ETOOBIG;
    r = buf_reserve(&s->out, BANTER_FRAME_HDR + len + NOISE_TAGLEN, &dst);
    if (r)
        return r;
    rekey_if_due(&s->tx);
    r = noise_cipher_encrypt(&s->tx, NULL, 0, pt, len, dst + BANTER_FRAME_HDR);
    if (r) {
        s->dead = true;
        return r;
    }
    put_u16be(dst, (uint16_t)(len + NOISE_TAGLEN));
    buf_commit(&s->out, BANTER_FRAME_HDR + len + NOISE_TAGLEN);
    return 0;
}

/* Encoded straight into the output queue behind room for the frame
 * header, then encrypted in place (the cipher may alias): no buffer of
 * its own, no copy. On failure the queue is as it was. */
int session_send_msg(session *s, const msg *m)
{
    uint8_t *dst;
    size_t before = buf_len(&s->out), len = 0;

    if (s->dead || !s->established)
        return BANTER_ESTATE;
    int r = buf_reserve(&s->out, BANTER_FRAME_HDR, &dst);
    if (r)
        return r;
    buf_commit(&s->out, BANTER_FRAME_HDR);
    r = msg_encode(m, &s->out);
    if (r == 0) {
        len = buf_len(&s->out) - before - BANTER_FRAME_HDR;
        r = len == 0 ? BANTER_EINVAL : len > BANTER_MAX_PLAINTEXT ? BANTER_ETOOBIG : 0;
    }
    if (r == 0)
        r = buf_reserve(&s->out, NOISE_TAGLEN, &dst);
    if (r) {
        buf_truncate(&s->out, before);
        return r;
    }
    uint8_t *f = (uint8_t *)buf_data(&s->out) + before; /* after the reserve: it may move */
    rekey_if_due(&s->tx);
    r = noise_cipher_encrypt(&s->tx, NULL, 0, f + BANTER_FRAME_HDR, len, f + BANTER_FRAME_HDR);
    if (r) {
        buf_truncate(&s->out, before);
        s->dead = true;
        return r;
    }
    put_u16be(f, (uint16_t)(len + NOISE_TAGLEN));
    buf_commit(&s->out, NOISE_TAGLEN);
    return 0;
}

const uint8_t *session_out(const session *s, size_t *len)
{
    *len = buf_len(&s->out);
    return *len ? buf_data(&s->out) : NULL;
}

void session_out_consume(session *s, size_t n) { consume(s, &s->out, n); }

uint8_t *session_take_plaintext(session *s, uint8_t *spare, size_t spare_len, size_t *cap)
{
    *cap = 0;
    if (buf_len(&s->rx_pt) == 0)
        return NULL;
    return buf_swap(&s->rx_pt, spare, spare_len, cap);
}

size_t session_held(const session *s)
{
    return buf_held(&s->out) + buf_held(&s->rx_pt) + frame_dec_held(&s->dec);
}

void session_trim(session *s)
{
    if (buf_len(&s->out) == 0)
        buf_free(&s->out);
    buf_free(&s->rx_pt);
    frame_dec_trim(&s->dec);
}

void session_set_rx_max(session *s, size_t max)
{
    if (s->established)
        frame_dec_set_max(&s->dec, max < BANTER_NOISE_TAGLEN + 1 ? BANTER_NOISE_TAGLEN + 1 : max);
}

bool session_established(const session *s) { return s->established; }

const uint8_t *session_peer(const session *s) { return s->established ? s->peer : NULL; }

int session_binding(const session *s, uint8_t h[static NOISE_HASHLEN])
{
    if (!s->established || !s->h)
        return BANTER_ESTATE;
    memcpy(h, s->h, NOISE_HASHLEN);
    return 0;
}
