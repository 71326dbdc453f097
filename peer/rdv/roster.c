/* SPDX-License-Identifier: MIT */
/* roster.c - rendezvous contacts, presence and relayed messages (see roster.h). */
#include "rdv/roster.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bcrypto.h"
#include "gkey.h"
#include "gstate.h"
#include "rdv/parking.h"
#include "sealed.h"

#define RELAY_PT_CAP (BANTER_MAX_PLAINTEXT + 1u)
#define RKEY_LEN     (2 * MSG_ID_LEN + 2 * 32 + 2) /* "idhex:keyhex" */

typedef struct contact {
    char name[BANTER_MAX_NAME + 1];
    uint8_t key[32];
    rv_cstate state;
    rv_presence status;
    char text[RV_TEXT_MAX + 1];
    size_t ndev;
    uint8_t dev[RV_DEVICES_MAX][RV_KEY_LEN];
    struct rv_profile p; /* owned strings */
} contact;

typedef struct bcast bcast;

/* The copies of an organisation broadcast to one account, in flight. */
typedef struct sendrec {
    uint8_t id[MSG_ID_LEN];
    uint8_t key[32]; /* the account's contact key */
    bcast *b;        /* the broadcast, or NULL once it ended */
    unsigned pending, delivered, stored, refused;
    char error[BANTER_MAX_ERRCODE + 1];
    char rkey[RKEY_LEN]; /* its key in ro->recs */
} sendrec;

struct bcast {
    roster_bcast_fn done;
    void *ud;
    char department[65];
    uint8_t id[MSG_ID_LEN];
    buf pt; /* the CHAT plaintext sealed to every device */
    uint32_t page;
    uint64_t total;
    struct rv_rcpt *users; /* the current page, copied */
    size_t nusers, ui;     /* the next user to send to */
    bool last_page;
    rdv_req *q;
    size_t accounts, delivered, stored, refused, unanswered;
};

struct roster {
    node *n;
    rdv *r;
    const identity *id;
    char fpd[IDENTITY_FP_DIGITS + 1];
    bool online;
    char user[BANTER_MAX_NAME + 1];
    GHashTable *contacts; /* name -> contact (owned) */
    GHashTable *by_key;   /* its contact key (32 bytes) -> the same contact */
    GHashTable *recs;     /* "idhex:keyhex" -> sendrec of a broadcast (owned) */
    GHashTable *copies;   /* "idhex:devhex" -> sendrec (borrowed from recs) */
    bcast *bc;
    contact self;     /* the account's own entry (state RV_CS_SELF when the server sent it) */
    parking *parking; /* early group messages (parked, below) */
    GQueue *unparks;  /* unpark (below) still to run, oldest first */
    bool unparking;   /* roster_group_taken runs them */
};

/* A relayed group message that came before its group's state or its
 * sender's key (BANTER_EAGAIN): not acknowledged, so the server keeps it
 * (and sends it again at the next login), and parked (parking.h) until
 * its group's state or its sender's key is taken, from the relay or the
 * LAN. Past its sender's share or the total, the server's copy waits. */
typedef struct parked {
    struct rv_seal s; /* s.sealed points at blob */
    uint8_t *blob;
} parked;

static void parked_free(void *p)
{
    parked *k = p;
    if (!k)
        return;
    g_free(k->blob);
    g_free(k);
}

/* What a taken group message may let in: the parked messages of group,
 * from sender only when by_sender. */
typedef struct unpark {
    uint8_t group[PARKING_GROUP_LEN];
    uint8_t sender[PARKING_SENDER_LEN];
    bool by_sender;
} unpark;

static void park(roster *ro, const struct rv_seal *s, const uint8_t group[static PARKING_GROUP_LEN])
{
    parked *k = g_new0(parked, 1);
    k->s = *s;
    k->blob = g_memdup2(s->sealed, s->sealed_len);
    k->s.sealed = k->blob;
    if (parking_add(ro->parking, s->id, s->device, group, k) != 0)
        parked_free(k); /* parked already, or no room: the server's copy waits */
}

static int64_t now_ms(void) { return g_get_real_time() / 1000; }

/* Store keys are hashes already: their first bytes hash them well. */
static guint key_hash(gconstpointer k)
{
    guint h;
    memcpy(&h, k, sizeof h);
    return h;
}

static gboolean key_equal(gconstpointer a, gconstpointer b) { return memcmp(a, b, 32) == 0; }

static void hexkey(char *out, size_t cap, const uint8_t id[static MSG_ID_LEN], const uint8_t k[32])
{
    char a[2 * MSG_ID_LEN + 1], b[65];
    msg_id_to_hex(id, a);
    for (int i = 0; i < 32; i++)
        snprintf(b + 2 * i, 3, "%02x", k[i]);
    snprintf(out, cap, "%s:%s", a, b);
}

static void profile_free(struct rv_profile *p)
{
    for (int i = 0; i < RV_F_COUNT; i++) {
        g_free(p->f[i]);
        p->f[i] = NULL;
    }
}

static void contact_free(gpointer v)
{
    contact *c = v;
    profile_free(&c->p);
    g_free(c);
}

static void to_public(const contact *c, roster_contact *out)
{
    memset(out, 0, sizeof *out);
    memcpy(out->name, c->name, sizeof out->name);
    memcpy(out->key, c->key, 32);
    out->state = c->state;
    out->status = c->status;
    memcpy(out->text, c->text, sizeof out->text);
    out->ndev = c->ndev;
    out->profile = &c->p;
}

/* Tell the core who the account is now. */
static void tell_core(roster *ro, const contact *c)
{
    node_org_entry e = {.account = c->name,
                        .state = c->state == RV_CS_NONE ? "" : rv_cstate_name(c->state),
                        .status = rv_presence_name(c->status),
                        .text = c->text,
                        .display_name = c->p.f[RV_F_DISPLAY_NAME],
                        .devs = (const uint8_t(*)[32])c->dev,
                        .ndev = c->state == RV_CS_APPROVED ? c->ndev : 0};
    node_org_update(ro->n, &e);
}

/* ---- sending ---- */

static void rec_free(gpointer v) { g_free(v); }

static void pump_bcast(roster *ro);

/* Every copy of a broadcast's rec was answered: count the outcome. */
static void rec_finish(roster *ro, sendrec *rec)
{
    bcast *b = rec->b;
    if (b) {
        b->delivered += rec->delivered;
        b->stored += rec->stored;
        b->refused += rec->refused;
        b->unanswered -= rec->delivered + rec->stored + rec->refused;
    }
    g_hash_table_remove(ro->recs, rec->rkey); /* frees rec */
    if (b)
        pump_bcast(ro);
}

/* Seal pt for one device and send it as RV_SEAL. */
static int seal_send(roster *ro, const uint8_t id[static MSG_ID_LEN], const char *to,
                     const uint8_t dev[static 32], const uint8_t *pt, size_t len, uint8_t flags)
{
    size_t slen = len + SEALED_OVERHEAD;
    uint8_t *sealed = g_malloc(slen);
    int r = sealed_seal(sealed, ro->id, dev, pt, len);
    if (r == 0) {
        rvmsg m = {.type = RV_SEAL};
        memcpy(m.u.seal.id, id, MSG_ID_LEN);
        m.u.seal.flags = flags;
        g_strlcpy(m.u.seal.user, to, sizeof m.u.seal.user);
        memcpy(m.u.seal.device, dev, 32);
        m.u.seal.sealed = sealed;
        m.u.seal.sealed_len = slen;
        r = rdv_send(ro->r, &m);
    }
    g_free(sealed);
    return r;
}

/* Seal pt for one device and send it as RV_SEAL. */
static int send_copy(roster *ro, sendrec *rec, const char *to, const uint8_t dev[static 32],
                     const uint8_t *pt, size_t len, uint8_t flags)
{
    int r = seal_send(ro, rec->id, to, dev, pt, len, flags);
    if (r == 0) {
        char ck[RKEY_LEN];
        hexkey(ck, sizeof ck, rec->id, dev);
        g_hash_table_insert(ro->copies, g_strdup(ck), rec);
        rec->pending++;
    }
    return r;
}

static sendrec *rec_new(roster *ro, const uint8_t id[static MSG_ID_LEN], const uint8_t key[32])
{
    sendrec *rec = g_new0(sendrec, 1);
    memcpy(rec->id, id, MSG_ID_LEN);
    memcpy(rec->key, key, 32);
    hexkey(rec->rkey, sizeof rec->rkey, id, key);
    g_hash_table_insert(ro->recs, rec->rkey, rec);
    return rec;
}

/* ---- the relay route ---- */

static contact *contact_of(roster *ro, const store_contact *c)
{
    if (c->kind != CONTACT_ORG)
        return NULL;
    if (ro->self.state == RV_CS_SELF && strcmp(c->account, ro->self.name) == 0)
        return &ro->self; /* the account's other devices */
    return g_hash_table_lookup(ro->contacts, c->account);
}

static bool lists(const contact *rc, const uint8_t dev[static 32])
{
    for (size_t i = 0; i < rc->ndev; i++)
        if (memcmp(rc->dev[i], dev, 32) == 0)
            return true;
    return false;
}

static bool route_reaches(void *ud, const store_contact *c, const store_device *d)
{
    roster *ro = ud;
    contact *rc = contact_of(ro, c);
    return ro->online && rc && (rc->state == RV_CS_APPROVED || rc->state == RV_CS_SELF) &&
           lists(rc, d->key);
}

static int route_send(void *ud, const store_contact *c, const store_device *d, const store_msg *m)
{
    roster *ro = ud;
    contact *rc = contact_of(ro, c);
    if (!ro->online || !rc)
        return BANTER_ESTATE;
    if (!rdv_writable(ro->r))
        return BANTER_EAGAIN;
    buf pt;
    msg chat;
    buf_init(&pt, RELAY_PT_CAP);
    int r = messenger_chat_of(m, &chat);
    if (r == 0) {
        r = msg_encode(&chat, &pt);
        msg_clear(&chat);
    }
    if (r == 0 && buf_len(&pt) + SEALED_OVERHEAD + 1 + MSG_ID_LEN + 2 + strlen(rc->name) + 32 >
                      BANTER_MAX_PLAINTEXT)
        r = BANTER_ETOOBIG;
    if (r) { /* can never be relayed: settle it as refused */
        buf_free(&pt);
        messenger_settled(node_messenger(ro->n), "relay", d->key, m->id, COPY_FAILED,
                          banter_errname(r));
        return 0;
    }
    r = seal_send(ro, m->id, rc->name, d->key, buf_data(&pt), buf_len(&pt), 0);
    buf_free(&pt);
    if (r) /* the connection failed: it is being reset (session NULL follows) */
        g_printerr("banter: cannot send to the rendezvous server: %s\n", banter_strerror(r));
    return r;
}

mr_route roster_route(roster *ro) { return (mr_route){"relay", route_reaches, route_send, ro}; }

/* ---- organisation broadcast ---- */

static void bcast_end(roster *ro, int err, const char *why)
{
    bcast *b = ro->bc;
    ro->bc = NULL;
    rdv_req_cancel(b->q);
    /* Copies still unanswered stay in recs: their answers find no owner. */
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, ro->recs);
    while (g_hash_table_iter_next(&it, &k, &v))
        if (((sendrec *)v)->b == b)
            ((sendrec *)v)->b = NULL;
    roster_bcast_result res = {err, why, b->accounts, b->delivered, b->stored, b->refused};
    if (b->done)
        b->done(b->ud, &res);
    buf_free(&b->pt);
    g_free(b->users);
    g_free(b);
}

static void on_page(void *ud, const rdv_answer *a);

static void request_page(roster *ro)
{
    bcast *b = ro->bc;
    char why[300];
    if (rdv_broadcast_to(ro->r, b->department, b->page, on_page, ro, &b->q, why, sizeof why) !=
        RDV_OK)
        bcast_end(ro, BANTER_EIO, why);
}

static void pump_bcast(roster *ro)
{
    bcast *b = ro->bc;
    if (!b || b->q)
        return;
    while (b->ui < b->nusers && rdv_writable(ro->r)) {
        struct rv_rcpt *u = &b->users[b->ui++];
        if (!u->ndev)
            continue;
        uint8_t key[32];
        contacts_account_key(ro->fpd, u->name, key);
        sendrec *rec = rec_new(ro, b->id, key);
        rec->b = b;
        b->accounts++;
        for (size_t d = 0; d < u->ndev; d++) {
            int r = send_copy(ro, rec, u->name, u->dev[d], buf_data(&b->pt), buf_len(&b->pt),
                              RV_SEAL_BROADCAST);
            if (r) {
                bcast_end(ro, r, "cannot send to the rendezvous server");
                return;
            }
            b->unanswered++;
        }
    }
    if (b->ui < b->nusers)
        return; /* writable() resumes */
    if (!b->last_page) {
        b->page++;
        request_page(ro);
    } else if (b->unanswered == 0) {
        bcast_end(ro, 0, NULL);
    }
}

static void on_page(void *ud, const rdv_answer *a)
{
    roster *ro = ud;
    bcast *b = ro->bc;
    b->q = NULL;
    if (a->err) {
        bcast_end(ro, a->code && strcmp(a->code, "EPERM") == 0 ? BANTER_EPERM : BANTER_EIO,
                  a->code && strcmp(a->code, "EPERM") == 0
                      ? "this account has no broadcast right (an admin grants it)"
                      : a->why);
        return;
    }
    g_free(b->users);
    b->nusers = a->rcpt->n;
    b->users = g_memdup2(a->rcpt->users, b->nusers * sizeof *b->users);
    b->ui = 0;
    b->total = a->rcpt->total;
    b->last_page = (uint64_t)(b->page + 1) * RV_RCPT_PER_PAGE >= b->total || b->nusers == 0;
    pump_bcast(ro);
}

int roster_org_broadcast(roster *ro, const char *department, const char *text, size_t len,
                         roster_bcast_fn done, void *ud, char *why, size_t cap)
{
    if (!ro->online) {
        snprintf(why, cap, "not logged in to the rendezvous server: run `banter login USER`");
        return BANTER_ESTATE;
    }
    if (ro->bc) {
        snprintf(why, cap, "an organisation broadcast is already being sent: wait for it");
        return BANTER_ESTATE;
    }
    bcast *b = g_new0(bcast, 1);
    b->done = done;
    b->ud = ud;
    g_strlcpy(b->department, department, sizeof b->department);
    banter_rng rng = bcrypto_rng_system();
    rng.fill(rng.ctx, b->id, MSG_ID_LEN);
    buf_init(&b->pt, RELAY_PT_CAP);
    msg chat;
    int r = msg_chat_init(&chat, b->id, now_ms(), text, len, true);
    if (r == 0) {
        r = msg_encode(&chat, &b->pt);
        msg_clear(&chat);
    }
    if (r == 0 && buf_len(&b->pt) + SEALED_OVERHEAD + 128 > BANTER_MAX_PLAINTEXT)
        r = BANTER_ETOOBIG;
    if (r) {
        snprintf(why, cap, "the announcement cannot be sent: %s", banter_strerror(r));
        buf_free(&b->pt);
        g_free(b);
        return r;
    }
    ro->bc = b;
    request_page(ro);
    return 0;
}

void roster_bcast_forget(roster *ro, void *ud)
{
    if (ro && ro->bc && ro->bc->ud == ud)
        ro->bc->done = NULL;
}

/* ---- what the server sends ---- */

static void emit_contacts(roster *ro)
{
    node_event ev = {.type = NODE_EV_CONTACTS};
    node_emit(ro->n, &ev);
}

static void drop_inflight(roster *ro)
{
    if (ro->bc)
        bcast_end(ro, BANTER_EIO, "the connection to the rendezvous server ended");
    g_hash_table_remove_all(ro->copies);
    g_hash_table_remove_all(ro->recs);
    /* Relayed copies without an answer go back to pending: sent again. */
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, ro->contacts);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        contact *c = v;
        for (size_t i = 0; i < c->ndev; i++)
            messenger_route_lost(node_messenger(ro->n), "relay", c->dev[i]);
    }
    for (size_t i = 0; i < ro->self.ndev; i++)
        messenger_route_lost(node_messenger(ro->n), "relay", ro->self.dev[i]);
}

static void on_session(void *ud, const char *user)
{
    roster *ro = ud;
    drop_inflight(ro);
    ro->online = user != NULL;
    node_org_session(ro->n, ro->online);
    if (user) {
        g_strlcpy(ro->user, user, sizeof ro->user);
        if (strcmp(ro->self.name, user) != 0)
            memset(&ro->self, 0, sizeof ro->self); /* another account: its entry comes */
        node_set_account(ro->n, user);
        return; /* the server sends the list next; sending waits for it */
    }
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, ro->contacts);
    while (g_hash_table_iter_next(&it, &k, &v))
        ((contact *)v)->status = RV_P_OFFLINE;
    emit_contacts(ro);
}

/* The account's own entry: its devices, the other ones of which get a
 * copy of what this one sends. */
static void apply_self(roster *ro, const struct rv_contact *e)
{
    if (strcmp(e->name, ro->user) != 0)
        return; /* not this account's: ignored */
    g_strlcpy(ro->self.name, e->name, sizeof ro->self.name);
    contacts_account_key(ro->fpd, e->name, ro->self.key);
    ro->self.state = RV_CS_SELF;
    ro->self.ndev = e->ndev;
    memcpy(ro->self.dev, e->dev, e->ndev * RV_KEY_LEN);
    node_self_update(ro->n, (const uint8_t(*)[32])ro->self.dev, ro->self.ndev);
}

static void apply_entry(roster *ro, const struct rv_contact *e)
{
    if (e->state == RV_CS_SELF) {
        apply_self(ro, e);
        return;
    }
    if (strcmp(e->name, ro->user) == 0)
        return; /* the account is never a contact of its own */
    contact *c = g_hash_table_lookup(ro->contacts, e->name);
    if (e->state == RV_CS_NONE) {
        if (c) {
            c->state = RV_CS_NONE;
            tell_core(ro, c);
            g_hash_table_remove(ro->by_key, c->key);
            g_hash_table_remove(ro->contacts, e->name);
        }
        return;
    }
    if (!c) {
        c = g_new0(contact, 1);
        g_strlcpy(c->name, e->name, sizeof c->name);
        contacts_account_key(ro->fpd, c->name, c->key);
        g_hash_table_insert(ro->contacts, c->name, c);
        g_hash_table_insert(ro->by_key, c->key, c);
    }
    c->state = e->state;
    profile_free(&c->p);
    for (int i = 0; i < RV_F_COUNT; i++)
        c->p.f[i] = e->p.f[i] ? g_strdup(e->p.f[i]) : NULL;
    c->ndev = e->ndev;
    memcpy(c->dev, e->dev, e->ndev * RV_KEY_LEN);
    c->status = e->state == RV_CS_APPROVED ? e->status : RV_P_OFFLINE;
    g_strlcpy(c->text, e->text, sizeof c->text);
    tell_core(ro, c);
}

static void on_contacts(void *ud, const struct rv_contacts *cs)
{
    roster *ro = ud;
    /* A reset starts the whole list again. It only comes right after
     * logging in, when every contact is already shown offline: dropping
     * the old entries says nothing to anyone. */
    if (cs->reset) {
        g_hash_table_remove_all(ro->by_key);
        g_hash_table_remove_all(ro->contacts);
    }
    for (size_t i = 0; i < cs->n; i++)
        apply_entry(ro, &cs->c[i]);
    emit_contacts(ro);
}

static void on_presence(void *ud, const struct rv_status *p)
{
    roster *ro = ud;
    contact *c = g_hash_table_lookup(ro->contacts, p->user);
    if (!c || c->state != RV_CS_APPROVED)
        return;
    c->status = p->status;
    g_strlcpy(c->text, p->text, sizeof c->text);
    tell_core(ro, c);
}

static void on_stored(void *ud, const struct rv_stored *s)
{
    roster *ro = ud;
    char ck[RKEY_LEN];
    hexkey(ck, sizeof ck, s->id, s->device);
    sendrec *rec = g_hash_table_lookup(ro->copies, ck);
    if (!rec) { /* a chat copy: the messenger settles it */
        store_copy_state st = s->fate == RV_STORED_DELIVERED ? COPY_DELIVERED
                              : s->fate == RV_STORED_DISK    ? COPY_SERVER
                                                             : COPY_FAILED;
        messenger_settled(node_messenger(ro->n), "relay", s->device, s->id, st, s->error);
        return;
    }
    g_hash_table_remove(ro->copies, ck);
    if (s->fate == RV_STORED_DELIVERED)
        rec->delivered++;
    else if (s->fate == RV_STORED_DISK)
        rec->stored++;
    else {
        rec->refused++;
        g_strlcpy(rec->error, s->error, sizeof rec->error);
    }
    if (--rec->pending == 0)
        rec_finish(ro, rec);
}

/* Answer the relayed copy s: RV_DELIVERED (this node has it, or never
 * wants it), or RV_KEEP (not taken now: the server keeps it stored and
 * sends it again at the next login; a later RV_DELIVERED still takes
 * it). Every RV_SEALED gets one of the two, so an unanswered copy never
 * holds the server's window for this device. Both name the sending
 * device, so another sender's copy with the same id is not the one
 * answered. */
static void answer_sealed(roster *ro, const struct rv_seal *s, bool keep)
{
    rvmsg a = {.type = keep ? RV_KEEP : RV_DELIVERED};
    memcpy(a.u.stored.id, s->id, MSG_ID_LEN);
    memcpy(a.u.stored.from, s->device, RV_KEY_LEN);
    a.u.stored.has_from = true;
    int r = rdv_send(ro->r, &a);
    if (r) /* the connection is going: the server delivers it again later */
        g_printerr("banter: cannot answer a relayed message: %s\n", banter_strerror(r));
}

static void ack_sealed(roster *ro, const struct rv_seal *s) { answer_sealed(ro, s, false); }

/* The id of a message the relay may carry (CHAT, and the group messages
 * that travel pairwise), NULL for any other type. */
static const uint8_t *relayed_id(const msg *m)
{
    switch (m->type) {
    case MSG_CHAT:
        return m->u.chat.id;
    case MSG_GROUP_STATE:
        return m->u.gstate.id;
    case MSG_GROUP_KEY:
        return m->u.gkey.id;
    case MSG_GROUP_MSG:
        return m->u.gmsg.id;
    default:
        return NULL;
    }
}

/* Open and check one sealed copy: NULL with the CHAT in *chat, or a reason. */
static const char *open_sealed(roster *ro, const struct rv_seal *s, msg *chat)
{
    uint8_t from[32];
    size_t n = 0;
    if (s->sealed_len < SEALED_OVERHEAD)
        return "too short";
    uint8_t *pt = g_malloc(s->sealed_len);
    const char *why = NULL;
    int r = sealed_open(pt, &n, from, ro->id, s->sealed, s->sealed_len);
    if (r)
        why = r == BANTER_EIDENTITY ? "the signature does not verify" : "it does not open";
    else if (memcmp(from, s->device, 32) != 0)
        why = "signed by another device than the one that sent it";
    else if (msg_decode(chat, pt, n) != 0)
        why = "not a valid message";
    else if (!relayed_id(chat) || memcmp(relayed_id(chat), s->id, MSG_ID_LEN) != 0) {
        msg_clear(chat);
        why = "not the message it claims to be";
    }
    bcrypto_wipe(pt, s->sealed_len);
    g_free(pt);
    return why;
}

/* The group a GROUP_STATE, GROUP_KEY or GROUP_MSG is about, and the
 * device whose chain a GROUP_KEY or GROUP_MSG carries (*dev NULL for a
 * state, whose group any device speaks of). false for anything else. */
static bool group_of(const msg *m, uint8_t group[static PARKING_GROUP_LEN],
                     uint8_t dev[static PARKING_SENDER_LEN], bool *has_dev)
{
    gkey_header h;
    gkey_chain *c = NULL;
    *has_dev = m->type != MSG_GROUP_STATE;
    switch (m->type) {
    case MSG_GROUP_STATE:
        memcpy(group, m->u.gstate.st->group, PARKING_GROUP_LEN);
        return true;
    case MSG_GROUP_KEY:
        if (gkey_dist_decode(&c, m->u.gkey.dist, sizeof m->u.gkey.dist) != 0)
            return false;
        h = gkey_chain_header(c);
        gkey_chain_free(c);
        break;
    case MSG_GROUP_MSG:
        if (gkey_peek(&h, m->u.gmsg.sealed, m->u.gmsg.len) != 0)
            return false;
        break;
    default:
        return false;
    }
    memcpy(group, h.group, PARKING_GROUP_LEN);
    memcpy(dev, h.device, PARKING_SENDER_LEN);
    return true;
}

static void take_sealed(roster *ro, const struct rv_seal *s);

/* The parked messages u may let in are tried again, and what they let in
 * in turn, in order (a queue, not recursion). Messages that are early
 * still park again. */
static void unpark_run(roster *ro, const unpark *u)
{
    g_queue_push_tail(ro->unparks, g_memdup2(u, sizeof *u));
    if (ro->unparking)
        return;
    ro->unparking = true;
    unpark *next;
    while ((next = g_queue_pop_head(ro->unparks)) != NULL) {
        void **items = NULL;
        size_t n =
            parking_take(ro->parking, next->group, next->by_sender ? next->sender : NULL, &items);
        for (size_t i = 0; i < n; i++) {
            take_sealed(ro, &((parked *)items[i])->s);
            parked_free(items[i]);
        }
        g_free(items);
        g_free(next);
    }
    ro->unparking = false;
}

void roster_group_taken(roster *ro, const uint8_t device[static 32], const msg *m)
{
    unpark u;
    uint8_t chain_dev[PARKING_SENDER_LEN];
    bool has_dev;
    /* A state may let in its group's keys and messages; a key, its
     * sender's messages of that group; a message lets nothing in. */
    if (!ro || m->type == MSG_GROUP_MSG || !group_of(m, u.group, chain_dev, &has_dev))
        return;
    memcpy(u.sender, device, PARKING_SENDER_LEN);
    u.by_sender = has_dev;
    unpark_run(ro, &u);
}

static void on_sealed(void *ud, const struct rv_seal *s) { take_sealed(ud, s); }

static void take_sealed(roster *ro, const struct rv_seal *s)
{
    msg chat;
    const char *why = open_sealed(ro, s, &chat);
    if (why) {
        g_printerr("banter: dropped a relayed message from %s: %s\n", s->user, why);
        ack_sealed(ro, s); /* never useful: do not have it sent again */
        return;
    }
    if ((s->flags & RV_SEAL_BROADCAST) && chat.type == MSG_CHAT)
        chat.u.chat.broadcast = true;
    /* The server vouches that the device is the account's, unless it says
     * the account was deleted or the device is no longer its (the flag only
     * the server sets: rvmsg.h): then the text is kept, unverified, and the
     * device gains no trust (a name given again is another person's). */
    bool gone = (s->flags & RV_SEAL_SENDER_GONE) != 0;
    int r = gone ? 0 : node_org_device(ro->n, s->user, s->device);
    if (r == 0 && chat.type == MSG_CHAT && gone)
        r = messenger_received_unvouched(node_messenger(ro->n), s->user, s->device, &chat.u.chat);
    else if (r == 0 && chat.type == MSG_CHAT)
        r = messenger_received(node_messenger(ro->n), s->device, &chat.u.chat);
    else if (r == 0)
        r = node_group_received(ro->n, s->device, &chat);
    if (r == BANTER_EPERM && chat.type != MSG_CHAT) { /* refused for good */
        g_printerr("banter: refused a relayed %s from %s: no right to it, or its group was "
                   "deleted here\n",
                   msg_type_name(chat.type), s->user);
        ack_sealed(ro, s);
    } else if (r == BANTER_EPERM) { /* refused for good (a "to" copy from another account) */
        g_printerr("banter: refused a relayed message from %s: not from a device of this "
                   "account, it may not say it was sent from here\n",
                   s->user);
        ack_sealed(ro, s);
    } else if (r == BANTER_ELIMIT) { /* an invitation beyond GROUPS_MAX: never taken (the
                                        node told the user, groups.h refused) */
        ack_sealed(ro, s);
    } else if (r == BANTER_EAGAIN && chat.type != MSG_CHAT) {
        uint8_t group[PARKING_GROUP_LEN], dev[PARKING_SENDER_LEN];
        bool has_dev;
        if (group_of(&chat, group, dev, &has_dev))
            park(ro, s, group);     /* early: its state or key is on its way */
        answer_sealed(ro, s, true); /* the server keeps it until it is taken */
    } else if (r < 0) {             /* not stored: the server keeps it for the next login */
        g_printerr("banter: cannot store a message from %s: %s\n", s->user, banter_strerror(r));
        answer_sealed(ro, s, true);
    } else {
        ack_sealed(ro, s);
        if (chat.type != MSG_CHAT)
            roster_group_taken(ro, s->device, &chat);
    }
    msg_clear(&chat);
}

static void on_error(void *ud, const char *code, const char *text)
{
    (void)ud;
    g_printerr("banter: the rendezvous server refused a message: %s%s%s\n", code,
               text[0] ? ": " : "", text);
}

static void on_writable(void *ud)
{
    roster *ro = ud;
    pump_bcast(ro);
    messenger_kick(node_messenger(ro->n), NULL);
}

/* ---- queries and lifecycle ---- */

int roster_get(roster *ro, const uint8_t key[static 32], roster_contact *out)
{
    contact *c = g_hash_table_lookup(ro->by_key, key);
    if (!c)
        return BANTER_ENOENT;
    to_public(c, out);
    return 0;
}

int roster_find(roster *ro, const char *name, roster_contact *out)
{
    contact *c = g_hash_table_lookup(ro->contacts, name);
    if (!c)
        return BANTER_ENOENT;
    to_public(c, out);
    return 0;
}

static gint by_name(gconstpointer a, gconstpointer b)
{
    return strcmp(((const roster_contact *)a)->name, ((const roster_contact *)b)->name);
}

size_t roster_list(roster *ro, roster_contact **out)
{
    size_t n = g_hash_table_size(ro->contacts), i = 0;
    *out = g_new0(roster_contact, n ? n : 1);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, ro->contacts);
    while (g_hash_table_iter_next(&it, &k, &v))
        to_public(v, &(*out)[i++]);
    qsort(*out, n, sizeof **out, (int (*)(const void *, const void *))by_name);
    return n;
}

bool roster_online(const roster *ro) { return ro && ro->online; }

int roster_new(roster **out, node *n, rdv *r, const identity *id, const char *server_fpd)
{
    roster *ro = g_new0(roster, 1);
    ro->n = n;
    ro->r = r;
    ro->id = id;
    g_strlcpy(ro->fpd, server_fpd, sizeof ro->fpd);
    ro->contacts = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, contact_free);
    ro->by_key = g_hash_table_new(key_hash, key_equal);
    ro->recs = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, rec_free);
    ro->copies = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    ro->parking = parking_new(PARKING_MAX, PARKING_PER_SENDER, parked_free);
    ro->unparks = g_queue_new();
    rdv_sink sink = {on_session, on_contacts, on_presence, on_stored,
                     on_sealed,  on_error,    on_writable};
    rdv_set_sink(r, &sink, ro);
    *out = ro;
    return 0;
}

void roster_free(roster *ro)
{
    if (!ro)
        return;
    rdv_sink none = {0};
    rdv_set_sink(ro->r, &none, NULL);
    if (ro->bc)
        bcast_end(ro, BANTER_EIO, "the node is stopping");
    g_hash_table_destroy(ro->copies);
    g_hash_table_destroy(ro->recs);
    g_hash_table_destroy(ro->by_key);
    g_hash_table_destroy(ro->contacts);
    parking_free(ro->parking);
    g_queue_free_full(ro->unparks, g_free);
    g_free(ro);
}
