/* SPDX-License-Identifier: MIT */
/* mailbox.c - routing and storing sealed copies (see mailbox.h). */
#include "mailbox.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "contacts.h"
#include "dbq.h"
#include "dlist.h"
#include "db_mail.h"
#include "online.h"
#include "plugins.h"
#include "xinst.h"
#include "xlink.h"

_Static_assert(MB_WINDOW <= UINT16_MAX, "a device's copies in flight fit conn.h's mb.n");
_Static_assert(DB_MAIL_SENDER_GONE == RV_SEAL_SENDER_GONE,
               "a fetched copy of a gone sender carries the RV_SEALED flag");

enum item_kind {
    IT_ROUTED,  /* sent to a connected device, held in memory */
    IT_FETCHED, /* a stored copy sent to its device (row seq) */
    IT_QUEUED,  /* to be stored at the next flush */
    IT_DROP,    /* for an account that blocked the sender: answered, kept nowhere */
    IT_REMOTE,  /* stored for a device on another instance: its answer waits (xinst.h) */
    IT_LINK,    /* forwarded over a link to the instance holding the device (xlink.h) */
};

/* RV_SEALED = type, id, flags, created_ms, from_len, from_user, from_device, sealed */
#define SEALED_HEAD(from_len) (1u + RV_ID_LEN + 1u + 8u + 1u + (from_len) + RV_KEY_LEN)
_Static_assert(CONFIG_MAX_COPY_BYTES == BANTER_MAX_PLAINTEXT - SEALED_HEAD(1),
               "config.c checks the sender share against the largest copy stored here");

/*
 * One copy. On at most one of: a device's in-flight list (ROUTED,
 * FETCHED) or the store queue (QUEUED, DROP), through ql; ROUTED ones
 * also on the timeout list (through tl); while its sender is connected and
 * waits for an answer, on the sender's list (sl, from != NULL). REMOTE
 * ones are on the mailbox's remote list (through tl) until their
 * recipient's instance says it was delivered or the deadline passes.
 * LINK ones are on the mailbox's link list (through tl) and in its
 * ticket table until the instance they were forwarded to answers, the
 * link closes or the deadline passes (then they are stored here). A copy
 * that came over a link (link != 0) is answered over it (xlink_answer),
 * not to a sender connection.
 */
struct mb_item {
    dlist_link ql; /* a device's in-flight list, or the store queue */
    dlist_link sl; /* its sender's list */
    dlist_link tl; /* the timeout, remote or link list */
    conn *to;      /* the device it is in flight to */
    mailbox *mb;   /* REMOTE: its mailbox (the post's callback has only the item) */
    conn *from;    /* the sender, while connected */
    uint64_t deadline;
    uint64_t ltag; /* came over a link: the tag to answer; LINK: the ticket's tag */
    uint32_t link; /* the link it came over (0: from a connection), or LINK: went over */
    int64_t seq;
    int64_t created_ms;
    int result;          /* the flush's outcome */
    const char *refusal; /* the recipient's check refused it (check): the code */
    uint32_t len;
    uint8_t kind;
    bool check; /* the recipient device was not connected: checked in the commit */
    uint8_t flags;
    bool posting;  /* REMOTE: the wake-up's post is in flight (it holds the item) */
    bool answered; /* REMOTE: answered and off the list; freed when the post returns */
    uint8_t id[RV_ID_LEN];
    uint8_t to_device[RV_KEY_LEN];
    uint8_t from_device[RV_KEY_LEN];
    char to_user[BANTER_MAX_NAME + 1];
    char from_user[BANTER_MAX_NAME + 1];
    uint8_t blob[];
};
#define QL offsetof(mb_item, ql)
#define SL offsetof(mb_item, sl)
#define TL offsetof(mb_item, tl)

/* A stored row to delete at the next flush: by seq, or by id, device and
 * sending device. */
struct del {
    int64_t seq;
    char user[BANTER_MAX_NAME + 1]; /* the row's account: its usage row is locked (db_mail.h) */
    uint8_t id[RV_ID_LEN];
    uint8_t dev[RV_KEY_LEN];
    uint8_t from[RV_KEY_LEN];
};

/* The copies a device was routed and that were stored because it did not
 * answer in time, so that a late RV_DELIVERED deletes exactly the stored
 * row it answers (another sender's copy with the same id is not touched).
 * The last MB_WINDOW, oldest first; made at the device's first stall,
 * freed when it goes. One forgotten only means that copy is delivered
 * again (the node drops duplicates). */
struct mb_late {
    uint32_t n;
    struct {
        uint8_t id[RV_ID_LEN];
        uint8_t from[RV_KEY_LEN];
        bool kept; /* by RV_KEEP: not sent again on this connection */
    } e[MB_WINDOW];
};

struct mailbox {
    core *k;
    uv_timer_t expire;
    bool timer_on;
    bool committing; /* a batch is in a database job: the next one waits */
    dlist queue;     /* to store (ql) */
    dlist routed;    /* routed, by deadline (tl) */
    dlist remote;    /* stored for devices on other instances, by deadline (tl) */
    size_t nremote;
    dlist linked; /* forwarded over links, by deadline (tl) */
    uint64_t link_bytes;
    /* Tickets of forwarded copies: the tag is gen << 32 | slot. */
    mb_item **tk;
    uint32_t *tk_gen, *tk_free;
    uint32_t tk_cap, tk_nfree;
    conn *fetch; /* devices to send stored copies to */
    struct del *dels;
    size_t ndel, capdel;
    uint64_t routed_bytes;
    mailbox_stats st;
    uint8_t scratch[BANTER_MAX_PLAINTEXT];
};

/* ---- lists ---- */

static void dev_push(conn *d, mb_item *it)
{
    it->to = d;
    dlist_push_back(&d->mb.inflight, it, QL);
    d->mb.n++;
    if (it->kind == IT_ROUTED)
        d->mb.bytes += it->len;
}

static void dev_unlink(conn *d, mb_item *it)
{
    dlist_remove(&d->mb.inflight, it, QL);
    it->to = NULL;
    d->mb.n--;
    if (it->kind == IT_ROUTED)
        d->mb.bytes -= it->len;
}

static void sent_push(conn *c, mb_item *it)
{
    it->from = c;
    hlist_push(&c->mb.sent, it, SL);
}

static void sent_unlink(mb_item *it)
{
    if (!it->from)
        return;
    hlist_remove(&it->from->mb.sent, it, SL);
    it->from = NULL;
}

static void timeout_push(mailbox *mb, mb_item *it)
{
    dlist_push_back(&mb->routed, it, TL);
    mb->routed_bytes += it->len;
}

static void timeout_unlink(mailbox *mb, mb_item *it)
{
    dlist_remove(&mb->routed, it, TL);
    mb->routed_bytes -= it->len;
}

static void queue_push(mailbox *mb, mb_item *it)
{
    if (it->kind != IT_DROP)
        it->kind = IT_QUEUED;
    dlist_push_back(&mb->queue, it, QL);
}

static void fetch_push(mailbox *mb, conn *d)
{
    if (d->mb.fetch_prevp || d->closing)
        return;
    d->mb.fetch_next = mb->fetch;
    if (mb->fetch)
        mb->fetch->mb.fetch_prevp = &d->mb.fetch_next;
    d->mb.fetch_prevp = &mb->fetch;
    mb->fetch = d;
}

static void fetch_unlink(conn *d)
{
    if (!d->mb.fetch_prevp)
        return;
    *d->mb.fetch_prevp = d->mb.fetch_next;
    if (d->mb.fetch_next)
        d->mb.fetch_next->mb.fetch_prevp = d->mb.fetch_prevp;
    d->mb.fetch_next = NULL;
    d->mb.fetch_prevp = NULL;
}

/* Remember that d was routed it, now stored, or that d kept it (no
 * memory: forgotten). */
static void late_push(conn *d, const mb_item *it, bool kept)
{
    if (!d->mb.late && !(d->mb.late = calloc(1, sizeof *d->mb.late)))
        return;
    mb_late *l = d->mb.late;
    if (l->n == MB_WINDOW) { /* full: the oldest goes */
        memmove(&l->e[0], &l->e[1], (MB_WINDOW - 1) * sizeof l->e[0]);
        l->n--;
    }
    memcpy(l->e[l->n].id, it->id, RV_ID_LEN);
    memcpy(l->e[l->n].from, it->from_device, RV_KEY_LEN);
    l->e[l->n].kept = kept;
    l->n++;
}

/* Whether d kept the copy id from device from (RV_KEEP). */
static bool late_kept(const conn *d, const uint8_t id[static RV_ID_LEN],
                      const uint8_t from[static RV_KEY_LEN])
{
    const mb_late *l = d->mb.late;
    for (uint32_t i = 0; l && i < l->n; i++)
        if (l->e[i].kept && memcmp(l->e[i].id, id, RV_ID_LEN) == 0 &&
            memcmp(l->e[i].from, from, RV_KEY_LEN) == 0)
            return true;
    return false;
}

/* The oldest copy with id (sent by device want, unless NULL) that d was
 * routed or fetched and that is stored now: its sender's device into
 * from, and it is forgotten. false when none. */
static bool late_take(conn *d, const uint8_t id[static RV_ID_LEN], const uint8_t *want,
                      uint8_t from[static RV_KEY_LEN])
{
    mb_late *l = d->mb.late;
    for (uint32_t i = 0; l && i < l->n; i++) {
        if (memcmp(l->e[i].id, id, RV_ID_LEN) != 0 ||
            (want && memcmp(l->e[i].from, want, RV_KEY_LEN) != 0))
            continue;
        memcpy(from, l->e[i].from, RV_KEY_LEN);
        memmove(&l->e[i], &l->e[i + 1], (l->n - i - 1) * sizeof l->e[0]);
        l->n--;
        return true;
    }
    return false;
}

/* Take a ROUTED copy off its device and timeout list; it goes to the store. */
static void unroute(mailbox *mb, mb_item *it)
{
    dev_unlink(it->to, it);
    timeout_unlink(mb, it);
    queue_push(mb, it);
}

/* ---- answers ---- */

/* RV_STORED to the sender of id for device dev. */
static void send_stored(conn *to, const uint8_t *id, const uint8_t *dev, rv_fate fate,
                        const char *error)
{
    rvmsg m = {.type = RV_STORED};
    memcpy(m.u.stored.id, id, RV_ID_LEN);
    memcpy(m.u.stored.device, dev, RV_KEY_LEN);
    m.u.stored.fate = fate;
    if (error)
        snprintf(m.u.stored.error, sizeof m.u.stored.error, "%s", error);
    conn_send_rv(to, &m);
}

/* Answer the sender of it, if it is still connected (or the instance it
 * came from), and let go of it. */
static void answer(mb_item *it, rv_fate fate, const char *error)
{
    conn *from = it->from;
    sent_unlink(it);
    if (from)
        send_stored(from, it->id, it->to_device, fate, error);
    else if (it->link && it->kind != IT_LINK) {
        xlink_answer(it->mb->k, it->link, it->ltag, it->len, fate, error);
        it->link = 0;
    }
}

static void item_free(mb_item *it)
{
    sent_unlink(it);
    free(it);
}

/* ---- sending ---- */

/* RV_SEALED of it (or of a stored row) to d. */
static void send_sealed(mailbox *mb, conn *d, const uint8_t *id, uint8_t flags, int64_t created,
                        const char *from, const uint8_t *from_dev, const uint8_t *blob, size_t len)
{
    size_t flen = strlen(from), head = SEALED_HEAD(flen);
    if (head + len > sizeof mb->scratch)
        return; /* checked on the way in */
    uint8_t *p = mb->scratch;
    *p++ = RV_SEALED;
    memcpy(p, id, RV_ID_LEN);
    p += RV_ID_LEN;
    *p++ = flags;
    put_u64be(p, (uint64_t)created);
    p += 8;
    *p++ = (uint8_t)flen;
    memcpy(p, from, flen);
    p += flen;
    memcpy(p, from_dev, RV_KEY_LEN);
    memcpy(p + RV_KEY_LEN, blob, len);
    conn_send_pt(d, mb->scratch, head + len);
}

static bool can_route(const mailbox *mb, const conn *d, size_t len)
{
    return !d->mb.stalled && d->mb.n < MB_WINDOW && d->mb.bytes + len <= MB_DEV_BYTES &&
           mb->routed_bytes + len <= MB_ROUTED_BYTES && !conn_busy(d);
}

/* Send it to the connected device d and hold it until d answers. The
 * lists are set first: if the send closes d, d's departure stores it. */
static void route(mailbox *mb, conn *d, mb_item *it)
{
    it->kind = IT_ROUTED;
    it->deadline = core_now(mb->k) + MB_ROUTE_TIMEOUT_MS;
    dev_push(d, it);
    timeout_push(mb, it);
    mb->st.routed++;
    send_sealed(mb, d, it->id, it->flags, it->created_ms, it->from_user, it->from_device, it->blob,
                it->len);
}

/* ---- copies over links between instances (xlink.h) ---- */

/* A ticket for it: its tag in it->ltag. false when the table is full. */
static bool ticket_take(mailbox *mb, mb_item *it)
{
    if (mb->tk_nfree == 0) {
        uint32_t ncap = mb->tk_cap ? mb->tk_cap * 2 : 256;
        if (ncap > MB_REMOTE_MAX)
            return false;
        mb_item **t = realloc(mb->tk, ncap * sizeof *t);
        if (t)
            mb->tk = t;
        uint32_t *g = t ? realloc(mb->tk_gen, ncap * sizeof *g) : NULL;
        if (g)
            mb->tk_gen = g;
        uint32_t *f = g ? realloc(mb->tk_free, ncap * sizeof *f) : NULL;
        if (!f)
            return false;
        mb->tk_free = f;
        for (uint32_t i = mb->tk_cap; i < ncap; i++) {
            mb->tk[i] = NULL;
            mb->tk_gen[i] = 0;
            mb->tk_free[mb->tk_nfree++] = ncap - 1 - (i - mb->tk_cap);
        }
        mb->tk_cap = ncap;
    }
    uint32_t slot = mb->tk_free[--mb->tk_nfree];
    mb->tk[slot] = it;
    it->ltag = (uint64_t)mb->tk_gen[slot] << 32 | slot;
    return true;
}

static void ticket_drop(mailbox *mb, const mb_item *it)
{
    uint32_t slot = (uint32_t)it->ltag;
    mb->tk[slot] = NULL;
    mb->tk_gen[slot]++;
    mb->tk_free[mb->tk_nfree++] = slot;
}

/* The forwarded copy of tag, or NULL (answered late, or never ours). */
static mb_item *ticket_find(const mailbox *mb, uint64_t tag, uint32_t link)
{
    uint32_t slot = (uint32_t)tag;
    if (slot >= mb->tk_cap || mb->tk_gen[slot] != (uint32_t)(tag >> 32))
        return NULL;
    mb_item *it = mb->tk[slot];
    return it && it->link == link ? it : NULL;
}

static void link_unlist(mailbox *mb, mb_item *it)
{
    dlist_remove(&mb->linked, it, TL);
    mb->link_bytes -= it->len;
    ticket_drop(mb, it);
    it->link = 0;
}

/* A copy for a device not connected here: forward it over the link to
 * the instance that holds it, if any. false: store it here. */
static bool link_forward(mailbox *mb, mb_item *it)
{
    core *k = mb->k;
    uint32_t l = k->xl ? xlink_where(k, it->to_device) : 0;
    if (!l || mb->link_bytes + it->len > MB_ROUTED_BYTES || !ticket_take(mb, it))
        return false;
    xl_fwd f = {.tag = it->ltag,
                .flags = it->flags,
                .created_ms = it->created_ms,
                .sealed = it->blob,
                .sealed_len = it->len};
    memcpy(f.id, it->id, RV_ID_LEN);
    memcpy(f.to_device, it->to_device, RV_KEY_LEN);
    memcpy(f.from_device, it->from_device, RV_KEY_LEN);
    memcpy(f.to_user, it->to_user, sizeof f.to_user);
    memcpy(f.from_user, it->from_user, sizeof f.from_user);
    if (xlink_forward(k, l, &f) != 0) {
        ticket_drop(mb, it);
        return false;
    }
    it->kind = IT_LINK;
    it->link = l;
    it->mb = mb;
    it->deadline = core_now(k) + MB_LINK_TIMEOUT_MS;
    dlist_push_back(&mb->linked, it, TL);
    mb->link_bytes += it->len;
    mb->st.linked++;
    return true;
}

/* A forwarded copy goes to the store here after all (its recipient is
 * checked in the commit, as for any device not connected here). */
static void link_fallback(mailbox *mb, mb_item *it)
{
    link_unlist(mb, it);
    it->check = true;
    queue_push(mb, it);
}

void mailbox_link_ans(core *k, uint32_t link, const xl_ans *a)
{
    mailbox *mb = k->mb;
    mb_item *it = ticket_find(mb, a->tag, link);
    if (!it)
        return;
    link_unlist(mb, it);
    if (a->fate == RV_STORED_DELIVERED)
        mb->st.delivered++;
    else if (a->fate == RV_STORED_DISK)
        mb->st.stored++;
    else
        mb->st.refused++;
    answer(it, (rv_fate)a->fate, a->fate == RV_STORED_REFUSED ? a->error : NULL);
    item_free(it);
}

void mailbox_link_down(core *k, uint32_t link)
{
    mailbox *mb = k->mb;
    for (mb_item *it = mb->linked.head, *next; it; it = next) {
        next = it->tl.next;
        if (it->link == link)
            link_fallback(mb, it);
    }
}

static void link_tick(mailbox *mb, uint64_t now)
{
    mb_item *it;
    while ((it = mb->linked.head) != NULL && it->deadline <= now) {
        uint32_t l = it->link;
        link_fallback(mb, it);
        /* A link that leaves a copy unanswered this long does not work (a
         * partition TCP has not noticed yet): closed, so what waits on it
         * is stored now and new copies take the database until it is back. */
        xlink_drop(mb->k, l, "a forwarded copy unanswered for 15 s");
    }
}

void mailbox_link_fwd(core *k, uint32_t link, const xl_fwd *f)
{
    mailbox *mb = k->mb;
    account *ra = online_find(k->on, f->to_user);
    conn *d = ra ? online_device(ra, f->to_device) : NULL;
    mb_item *it = malloc(sizeof *it + f->sealed_len);
    if (!it) {
        xlink_answer(k, link, f->tag, f->sealed_len, RV_STORED_REFUSED, "ENOMEM");
        return;
    }
    memset(it, 0, sizeof *it);
    it->mb = mb;
    it->link = link;
    it->ltag = f->tag;
    it->created_ms = f->created_ms;
    it->len = (uint32_t)f->sealed_len;
    it->flags = f->flags;
    it->check = d == NULL;
    memcpy(it->id, f->id, RV_ID_LEN);
    memcpy(it->to_device, f->to_device, RV_KEY_LEN);
    memcpy(it->from_device, f->from_device, RV_KEY_LEN);
    memcpy(it->to_user, f->to_user, sizeof it->to_user);
    memcpy(it->from_user, f->from_user, sizeof it->from_user);
    memcpy(it->blob, f->sealed, f->sealed_len);
    if (d && can_route(mb, d, it->len))
        route(mb, d, it);
    else
        queue_push(mb, it);
}

/* ---- RV_SEAL ---- */

static void refuse(conn *c, const struct rv_seal *s, const char *error)
{
    conn_core(c)->mb->st.refused++;
    send_stored(c, s->id, s->device, RV_STORED_REFUSED, error);
}

/* A recipient device that is not connected: is it one of the enabled
 * account's? NULL, or the refusal code. On the database thread (commit). */
static const char *check_recipient(db *d, const char *user, const uint8_t *device)
{
    db_user u;
    int r = db_device_user(d, device, &u);
    if (r == 0 && strcmp(u.name, user) == 0)
        return u.disabled ? "ENOUSER" : NULL;
    if (r && r != BANTER_ENOENT)
        return banter_errname(r);
    r = db_user_get(d, user, &u, NULL);
    if (r == BANTER_ENOENT || (r == 0 && u.disabled))
        return "ENOUSER";
    return r ? banter_errname(r) : "ENODEVICE";
}

static mb_item *item_new(conn *c, const struct rv_seal *s, bool keep_blob)
{
    size_t len = keep_blob ? s->sealed_len : 0;
    mb_item *it = malloc(sizeof *it + len);
    if (!it)
        return NULL;
    memset(it, 0, sizeof *it);
    it->created_ms = core_wall_ms();
    it->len = (uint32_t)len;
    it->flags = s->flags;
    memcpy(it->id, s->id, RV_ID_LEN);
    memcpy(it->to_device, s->device, RV_KEY_LEN);
    memcpy(it->from_device, conn_device(c), RV_KEY_LEN);
    snprintf(it->to_user, sizeof it->to_user, "%s", s->user);
    snprintf(it->from_user, sizeof it->from_user, "%s", c->acct->name);
    memcpy(it->blob, s->sealed, len);
    return it;
}

void mailbox_seal(conn *c, const struct rv_seal *s)
{
    mailbox *mb = conn_core(c)->mb;
    if (!c->acct) {
        refuse(c, s, "EAUTH");
        return;
    }
    bool bc = (s->flags & RV_SEAL_BROADCAST) != 0;
    if (bc && !c->acct->broadcast) {
        refuse(c, s, "EPERM");
        return;
    }
    if (SEALED_HEAD(strlen(c->acct->name)) + s->sealed_len > BANTER_MAX_PLAINTEXT) {
        refuse(c, s, "ETOOBIG");
        return;
    }
    /* The contact check first: to a sender without the right to send, the
     * answer is the same whether the account exists, is disabled or
     * invisible, whose the device is, and whether it blocked the sender. */
    int may = contacts_may_seal(c->acct, s->user, bc);
    if (may == CONTACTS_SEAL_NOTCONTACT) {
        refuse(c, s, "ENOTCONTACT");
        return;
    }
    account *ra = online_find(conn_core(c)->on, s->user);
    conn *d = ra ? online_device(ra, s->device) : NULL;
    mb_item *it = item_new(c, s, may != CONTACTS_SEAL_DROP);
    if (!it) {
        refuse(c, s, "ENOMEM");
        return;
    }
    /* A device not connected: whose it is is checked in the commit, and a
     * refusal (ENOUSER, ENODEVICE) answered with the batch. */
    it->check = d == NULL;
    sent_push(c, it);
    if (may == CONTACTS_SEAL_DROP) {
        it->kind = IT_DROP;
        queue_push(mb, it);
    } else if (d && can_route(mb, d, it->len)) {
        route(mb, d, it);
    } else if (d || !link_forward(mb, it)) {
        queue_push(mb, it);
    }
}

/* ---- RV_DELIVERED ---- */

static void del_push(mailbox *mb, const char *user, int64_t seq, const uint8_t *id,
                     const uint8_t *dev, const uint8_t *from)
{
    if (mb->ndel == mb->capdel) {
        size_t ncap = mb->capdel ? mb->capdel * 2 : 64;
        struct del *n = realloc(mb->dels, ncap * sizeof *n);
        if (!n)
            return; /* the row stays: delivered again later, dropped as a duplicate */
        mb->dels = n;
        mb->capdel = ncap;
    }
    struct del *x = &mb->dels[mb->ndel++];
    x->seq = seq;
    snprintf(x->user, sizeof x->user, "%s", user);
    if (id)
        memcpy(x->id, id, RV_ID_LEN);
    if (dev)
        memcpy(x->dev, dev, RV_KEY_LEN);
    if (from)
        memcpy(x->from, from, RV_KEY_LEN);
}

/* The oldest copy in flight to c with id, from device want (any when
 * NULL), or NULL. */
static mb_item *inflight_find(conn *c, const uint8_t id[static RV_ID_LEN], const uint8_t *want)
{
    mb_item *it = c->mb.inflight.head;
    while (it && (memcmp(it->id, id, RV_ID_LEN) != 0 ||
                  (want && memcmp(it->from_device, want, RV_KEY_LEN) != 0)))
        it = it->ql.next;
    return it;
}

void mailbox_delivered(conn *c, const uint8_t id[static RV_ID_LEN], const uint8_t *want)
{
    mailbox *mb = conn_core(c)->mb;
    if (!c->acct) {
        conn_refuse(c, "EAUTH", "log in first");
        return;
    }
    mb_item *it = inflight_find(c, id, want);
    uint8_t from[RV_KEY_LEN];
    if (!it) {
        /* Stored after its device was too slow or kept it (that row, not
         * another sender's with the same id), or a duplicate (nothing). */
        if (late_take(c, id, want, from))
            del_push(mb, c->acct->name, 0, id, conn_device(c), from);
    } else if (it->kind == IT_ROUTED) {
        timeout_unlink(mb, it);
        dev_unlink(c, it);
        mb->st.delivered++;
        answer(it, RV_STORED_DELIVERED, NULL);
        free(it);
    } else {
        dev_unlink(c, it);
        del_push(mb, c->acct->name, it->seq, NULL, NULL, NULL);
        mb->st.delivered++;
        xinst_acked(mb->k, it->from_device, it->id);
        item_free(it);
    }
    if (c->closing)
        return;
    c->mb.stalled = false;
    if (c->mb.more)
        fetch_push(mb, c);
}

void mailbox_keep(conn *c, const uint8_t id[static RV_ID_LEN],
                  const uint8_t from[static RV_KEY_LEN])
{
    mailbox *mb = conn_core(c)->mb;
    if (!c->acct) {
        conn_refuse(c, "EAUTH", "log in first");
        return;
    }
    mb_item *it = inflight_find(c, id, from);
    if (!it) /* stored already (too slow, or kept before): nothing to do */
        return;
    /* A later RV_DELIVERED finds the stored row by id, device and sender. */
    late_push(c, it, true);
    if (it->kind == IT_ROUTED) {
        unroute(mb, it); /* stored at the next flush; its sender hears "stored" */
    } else {
        /* A stored row: it stays; the fetch went past it (last_seq), so it
         * comes again at the next login, not in this session. */
        dev_unlink(c, it);
        item_free(it);
    }
    if (!c->closing && c->mb.more && !c->mb.stalled)
        fetch_push(mb, c);
}

/* ---- copies for devices on other instances (xinst.h) ---- */

static void remote_unlink(mailbox *mb, mb_item *it)
{
    dlist_remove(&mb->remote, it, TL);
    mb->nremote--;
}

/* Answer a waiting REMOTE copy; freed now, or when its post returns. */
static void remote_answer(mailbox *mb, mb_item *it, rv_fate fate)
{
    remote_unlink(mb, it);
    answer(it, fate, NULL);
    it->answered = true;
    if (!it->posting)
        free(it);
}

static void on_remote_posted(void *ud, bool held)
{
    mb_item *it = ud;
    it->posting = false;
    if (it->answered) {
        free(it);
        return;
    }
    if (!held) /* online nowhere: stored is the answer */
        remote_answer(it->mb, it, RV_STORED_DISK);
}

/* it was stored for a device not connected here: with other instances,
 * wake the one holding the device and wait for its "delivered" until the
 * deadline. false (answer "stored" now) without a cluster, without a
 * sender to tell, or past the bound of waiting copies. */
static bool remote_wait(mailbox *mb, mb_item *it)
{
    if (!mb->k->cl || !it->from || mb->nremote >= MB_REMOTE_MAX)
        return false;
    it->kind = IT_REMOTE;
    it->mb = mb;
    it->deadline = core_now(mb->k) + MB_ROUTE_TIMEOUT_MS;
    dlist_push_back(&mb->remote, it, TL);
    mb->nremote++;
    it->posting = true;
    xinst_stored(mb->k, it->to_device, on_remote_posted, it);
    return true;
}

void mailbox_remote_delivered(conn *c, int64_t tag)
{
    mailbox *mb = conn_core(c)->mb;
    for (mb_item *it = c->mb.sent.head; it; it = it->sl.next)
        if (it->kind == IT_REMOTE && !it->answered && xinst_id_tag(it->id) == tag) {
            mb->st.delivered++;
            remote_answer(mb, it, RV_STORED_DELIVERED);
            return;
        }
}

static void remote_tick(mailbox *mb, uint64_t now)
{
    mb_item *it;
    while ((it = mb->remote.head) != NULL && it->deadline <= now)
        remote_answer(mb, it, RV_STORED_DISK);
}

/* ---- devices coming and going ---- */

void mailbox_device_up(conn *c)
{
    memset(&c->mb, 0, sizeof c->mb);
    c->mb.more = true;
    fetch_push(conn_core(c)->mb, c);
}

void mailbox_device_down(conn *c)
{
    mailbox *mb = conn_core(c)->mb;
    mb_item *it;
    while ((it = c->mb.inflight.head) != NULL) {
        if (it->kind == IT_ROUTED) {
            unroute(mb, it);
        } else {
            dev_unlink(c, it);
            item_free(it);
        }
    }
    while (c->mb.sent.head)
        sent_unlink(c->mb.sent.head);
    fetch_unlink(c);
    free(c->mb.late);
    memset(&c->mb, 0, sizeof c->mb);
}

void mailbox_wake(conn *c)
{
    if (c->acct && c->mb.more && !c->mb.stalled)
        fetch_push(conn_core(c)->mb, c);
}

void mailbox_more(conn *c)
{
    if (!c->acct || c->closing)
        return;
    c->mb.more = true;
    if (!c->mb.stalled)
        fetch_push(conn_core(c)->mb, c);
}

void mailbox_tick(mailbox *mb, uint64_t now)
{
    remote_tick(mb, now);
    link_tick(mb, now);
    mb_item *first;
    while ((first = mb->routed.head) != NULL && first->deadline <= now) {
        conn *d = first->to;
        /* d does not answer: store all it holds, route nothing more to it
         * until it answers something. */
        d->mb.stalled = true;
        for (mb_item *it = d->mb.inflight.head, *next; it; it = next) {
            next = it->ql.next;
            if (it->kind == IT_ROUTED) {
                late_push(d, it, false);
                unroute(mb, it);
            }
        }
    }
}

/* ---- the flush ---- */

/* A batch in a database job: the copies queued and the deliveries since
 * the last one, the senders whose input waits for their answers. */
struct batch {
    mailbox *mb;
    mb_item *head;
    struct del *dels;
    size_t ndel;
    conn **held;
    size_t nheld, capheld;
    core_limits lim;
    size_t del_failed;
    char del_err[DBQ_ERRMSG_LEN];
};

/* Copy it of b into the store (or dropped), unless its recipient's check
 * refuses it; r: the transaction's state (not begun: every copy gets it). */
static void put_one(db *d, const struct batch *b, mb_item *it, int r)
{
    if (r == 0 && it->check && (it->refusal = check_recipient(d, it->to_user, it->to_device)))
        return;
    db_sealed s = {.flags = it->flags,
                   .to_user = it->to_user,
                   .from_user = it->from_user,
                   .blob = it->blob,
                   .len = it->len,
                   .created_ms = it->created_ms,
                   .expires_ms = it->created_ms + b->lim.ttl_ms};
    memcpy(s.id, it->id, RV_ID_LEN);
    memcpy(s.to_device, it->to_device, RV_KEY_LEN);
    memcpy(s.from_device, it->from_device, RV_KEY_LEN);
    db_mail_quota q = {.count = b->lim.quota_messages,
                       .bytes = b->lim.quota_bytes,
                       .sender_count = b->lim.sender_messages,
                       .sender_bytes = b->lim.sender_bytes};
    it->result = r ? r : it->kind == IT_DROP ? DB_MAIL_BLOCKED : db_mail_put_q(d, &s, &q);
}

static void del_one(db *d, struct batch *b, const struct del *x)
{
    int e = x->seq ? db_mail_del_seq(d, x->seq) : db_mail_del_id(d, x->id, x->dev, x->from);
    if (e && b->del_failed++ == 0)
        snprintf(b->del_err, sizeof b->del_err, "%s", db_errmsg(d));
}

/* Store (or drop) every copy of b and delete every delivered row in one
 * transaction; the recipient of a copy for a device that was not
 * connected is checked first. Each copy's result: DB_MAIL_* or BANTER_E*,
 * or its refusal. Each write locks its account's mailbox usage row to the
 * commit (db_mail.h), so they go in db_mail_lock_order: by account, each
 * account's copies in the order they came, then its deletes; batches of
 * two instances then never deadlock on PostgreSQL. (No memory for the
 * order: as queued, which only risks that.) On the database thread. */
static int commit_work(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    struct batch *b = arg;
    int r = db_begin(d);
    size_t n = 0;
    for (mb_item *it = b->head; it; it = it->ql.next)
        n++;
    size_t nw = n + b->ndel;
    mb_item **item = malloc((n ? n : 1) * sizeof *item);
    db_mail_lock *w = malloc((nw ? nw : 1) * sizeof *w);
    if (item && w) {
        size_t i = 0;
        for (mb_item *it = b->head; it; it = it->ql.next, i++) {
            item[i] = it;
            w[i] = (db_mail_lock){.user = it->to_user, .pos = i};
        }
        for (size_t j = 0; j < b->ndel; j++)
            w[n + j] = (db_mail_lock){.user = b->dels[j].user, .pos = n + j};
        db_mail_lock_order(w, nw);
        for (i = 0; i < nw; i++) {
            if (w[i].pos < n)
                put_one(d, b, item[w[i].pos], r);
            else if (r == 0)
                del_one(d, b, &b->dels[w[i].pos - n]);
        }
    } else {
        for (mb_item *it = b->head; it; it = it->ql.next)
            put_one(d, b, it, r);
        for (size_t i = 0; r == 0 && i < b->ndel; i++)
            del_one(d, b, &b->dels[i]);
    }
    free(w);
    free(item);
    if (r == 0)
        r = db_commit(d);
    if (r) {
        snprintf(errmsg, DBQ_ERRMSG_LEN, "%s", db_errmsg(d));
        db_rollback(d);
    }
    return r;
}

/* The copy it was stored: its device, if connected, has more to fetch.
 * Whether it is connected here. */
static bool stored_for(mailbox *mb, const mb_item *it)
{
    account *ra = online_find(mb->k->on, it->to_user);
    conn *d = ra ? online_device(ra, it->to_device) : NULL;
    if (!ra) /* nobody there to fetch it: a plug-in may tell them (plugins.h) */
        rplugins_stored(mb->k->pg, it->to_user);
    if (d) {
        d->mb.more = true;
        if (!d->mb.stalled)
            fetch_push(mb, d);
    }
    return d != NULL;
}

/* The batch's commit returned r: answer its senders (then they are read
 * again) and let it go. On the loop thread. */
static void commit_after(void *arg, int r, const char *errmsg)
{
    struct batch *b = arg;
    mailbox *mb = b->mb;
    core *k = mb->k;
    mb->committing = false;
    mb->st.commits++;
    if (r)
        core_log(k, "cannot store sealed copies: %s", errmsg);
    if (b->del_failed)
        core_log(k, "cannot delete %zu delivered copies: %s", b->del_failed, b->del_err);
    while (b->head) {
        mb_item *it = b->head;
        b->head = it->ql.next;
        int res = r ? r : it->result;
        if (r == 0 && it->refusal) {
            mb->st.refused++;
            answer(it, RV_STORED_REFUSED, it->refusal);
        } else if (res == DB_MAIL_BLOCKED) {
            /* The recipient blocked the sender (known here, or found in
             * the database: blocked on another instance, or after the
             * copy came): answered as if stored, kept nowhere. */
            mb->st.stored++;
            answer(it, RV_STORED_DISK, NULL);
        } else if (res == DB_MAIL_STORED || res == DB_MAIL_DUPLICATE) {
            mb->st.stored++;
            bool here = stored_for(mb, it);
            if (!here && it->link) /* from another instance: wake the holder, if any */
                xinst_stored(k, it->to_device, NULL, NULL);
            else if (!here && remote_wait(mb, it))
                continue; /* the answer waits for the recipient's instance */
            answer(it, RV_STORED_DISK, NULL);
        } else {
            mb->st.refused++;
            answer(it, RV_STORED_REFUSED,
                   res == DB_MAIL_OVER_QUOTA || res == DB_MAIL_OVER_SHARE ? "EQUOTA"
                                                                          : banter_errname(res));
        }
        item_free(it);
    }
    for (size_t i = 0; i < b->nheld; i++) {
        conn *c = b->held[i];
        c->mb_batch = false;
        conn_input_resume(c);
        conn_release(c);
    }
    free(b->held);
    free(b->dels);
    free(b);
}

/* The sender of a copy in b waits for its answer: its next messages are
 * handled after it (as when the commit was synchronous). */
static void batch_hold(struct batch *b, conn *c)
{
    if (c->mb_batch || c->closing)
        return;
    if (b->nheld == b->capheld) {
        size_t ncap = b->capheld ? b->capheld * 2 : 8;
        conn **n = realloc(b->held, ncap * sizeof *n);
        if (!n)
            return; /* only its order: its answer still comes */
        b->held = n;
        b->capheld = ncap;
    }
    b->held[b->nheld++] = c;
    c->mb_batch = true;
    conn_hold(c);
    conn_input_hold(c);
}

/* Hand what is queued to the database thread as one batch. */
static void commit_batch(mailbox *mb)
{
    struct batch *b = calloc(1, sizeof *b);
    if (!b)
        return; /* it stays queued: the next flush tries again */
    b->mb = mb;
    b->lim = mb->k->lim;
    b->head = mb->queue.head; /* the queue's links are the batch's until it is freed */
    b->dels = mb->dels;
    b->ndel = mb->ndel;
    mb->queue = (dlist){0};
    mb->dels = NULL;
    mb->ndel = mb->capdel = 0;
    for (mb_item *it = b->head; it; it = it->ql.next)
        if (it->from)
            batch_hold(b, it->from);
    int r = core_job(mb->k, commit_work, commit_after, b);
    if (r) {
        commit_after(b, r, banter_strerror(r)); /* every copy refused with r */
        return;
    }
    mb->committing = true;
}

/* One stored copy read for a device. */
struct frow {
    struct frow *next;
    int64_t seq, created_ms;
    size_t len;
    uint8_t flags;
    uint8_t id[RV_ID_LEN];
    uint8_t from_device[RV_KEY_LEN];
    char from_user[BANTER_MAX_NAME + 1];
    uint8_t blob[];
};

/* The stored copies past what a device got, read by the database thread
 * and sent by the loop. */
struct fetch_job {
    mailbox *mb;
    conn *d;
    uint8_t gen;  /* d->sess_gen when it was asked: another session drops it */
    bool stopped; /* not all rows were taken: the rest waits */
    uint8_t key[RV_KEY_LEN];
    int64_t after, now_ms;
    size_t room;   /* rows */
    size_t budget; /* bytes: what the device's output queue takes */
    size_t bytes;
    struct frow *head, **tail;
};

static void on_row(void *ud, const db_sealed *s)
{
    struct fetch_job *f = ud;
    size_t flen = strlen(s->from_user);
    if (f->stopped || f->bytes >= f->budget || flen > BANTER_MAX_NAME ||
        SEALED_HEAD(flen) + s->len > BANTER_MAX_PLAINTEXT) {
        f->stopped = true;
        return;
    }
    struct frow *w = malloc(sizeof *w + s->len);
    if (!w) {
        f->stopped = true;
        return;
    }
    w->next = NULL;
    w->seq = s->seq;
    w->created_ms = s->created_ms;
    w->len = s->len;
    w->flags = s->flags;
    memcpy(w->id, s->id, RV_ID_LEN);
    memcpy(w->from_device, s->from_device, RV_KEY_LEN);
    memcpy(w->from_user, s->from_user, flen + 1);
    memcpy(w->blob, s->blob, s->len);
    *f->tail = w;
    f->tail = &w->next;
    f->bytes += SEALED_HEAD(flen) + s->len;
}

static int fetch_work(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    struct fetch_job *f = arg;
    int n = db_mail_fetch(d, f->key, f->after, f->now_ms, f->room, on_row, f);
    if (n < 0)
        snprintf(errmsg, DBQ_ERRMSG_LEN, "%s", db_errmsg(d));
    return n;
}

/* Send the rows as far as the device still takes them (in order: the
 * first one not sent stops the rest, fetched again later). */
static void fetch_after(void *arg, int n, const char *errmsg)
{
    struct fetch_job *f = arg;
    mailbox *mb = f->mb;
    conn *d = f->d;
    bool same = !d->closing && d->acct && d->sess_gen == f->gen;
    bool halt = !same; /* a row not sent: the rest wait too */
    size_t sent = 0, skipped = 0;
    d->mb_fetching = false;
    if (n < 0)
        core_log(mb->k, "cannot read stored copies: %s", errmsg);
    for (struct frow *w = f->head, *next; w; w = next) {
        next = w->next;
        mb_item *it = NULL;
        if (!halt && late_kept(d, w->id, w->from_device)) {
            d->mb.last_seq = w->seq; /* kept: at the next login */
            skipped++;
            free(w);
            continue;
        }
        if (!halt && (d->closing || conn_busy(d) || !(it = calloc(1, sizeof *it))))
            halt = true;
        if (it) {
            it->kind = IT_FETCHED;
            it->seq = w->seq;
            memcpy(it->id, w->id, RV_ID_LEN);
            memcpy(it->from_device, w->from_device, RV_KEY_LEN);
            memcpy(it->to_device, conn_device(d), RV_KEY_LEN);
            d->mb.last_seq = w->seq;
            dev_push(d, it);
            send_sealed(mb, d, w->id, w->flags, w->created_ms, w->from_user, w->from_device,
                        w->blob, w->len);
            sent++;
        }
        free(w);
    }
    if (same && n >= 0 && !f->stopped && !halt && (size_t)n < f->room && !d->closing)
        d->mb.more = false;
    /* More to send now: the rest of a budget-limited read, or a session
     * that began meanwhile. Otherwise (its queue is full, a copy it cannot
     * take) mailbox_wake or its next answer asks again. */
    if ((sent > 0 || skipped > 0 || !same) && !d->closing && d->acct && d->mb.more &&
        !d->mb.stalled)
        fetch_push(mb, d);
    conn_release(d);
    free(f);
}

/* Send d the stored copies past what it got, as far as its window and its
 * output queue allow: read by a database job, one at a time per device. */
static void fetch_one(mailbox *mb, conn *d)
{
    if (d->closing || !d->acct || !d->mb.more || d->mb.stalled || conn_busy(d) ||
        d->mb.n >= MB_WINDOW || d->clist_after || d->mb_fetching)
        return; /* mailbox_wake (or the fetch in flight) calls again */
    struct fetch_job *f = calloc(1, sizeof *f);
    if (!f)
        return;
    f->mb = mb;
    f->d = d;
    f->gen = d->sess_gen;
    memcpy(f->key, conn_device(d), RV_KEY_LEN);
    f->after = d->mb.last_seq;
    f->now_ms = core_wall_ms();
    f->room = MB_WINDOW - d->mb.n;
    f->budget = CONN_OUT_HIGH - conn_queued(d);
    f->tail = &f->head;
    if (core_job(mb->k, fetch_work, fetch_after, f) != 0) {
        free(f);
        return;
    }
    d->mb_fetching = true;
    conn_hold(d);
}

void mailbox_flush(mailbox *mb)
{
    if ((mb->queue.head || mb->ndel) && !mb->committing)
        commit_batch(mb);
    while (mb->fetch) {
        conn *d = mb->fetch;
        fetch_unlink(d);
        fetch_one(mb, d);
    }
}

/* ---- expiry ---- */

struct expire_job {
    mailbox *mb;
    int64_t now_ms;
    int64_t n;
};

static int expire_work(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    struct expire_job *j = arg;
    int r = db_mail_expire(d, j->now_ms, MB_EXPIRE_BATCH, &j->n);
    if (r)
        snprintf(errmsg, DBQ_ERRMSG_LEN, "%s", db_errmsg(d));
    return r;
}

static void on_expire(uv_timer_t *t);

/* A full batch: more may wait; go on soon, without holding the loop. */
static void expire_after(void *arg, int r, const char *errmsg)
{
    struct expire_job *j = arg;
    mailbox *mb = j->mb;
    int64_t n = r ? 0 : j->n;
    if (r)
        core_log(mb->k, "cannot delete expired copies: %s", errmsg);
    else if (n > 0)
        core_log(mb->k, "deleted %lld expired stored copies", (long long)n);
    mb->st.expired += (uint64_t)n;
    if (mb->timer_on)
        (void)uv_timer_start(&mb->expire, on_expire,
                             n == MB_EXPIRE_BATCH ? 100 : MB_EXPIRE_EVERY_MS, 0);
    free(j);
}

static void on_expire(uv_timer_t *t)
{
    mailbox *mb = t->data;
    struct expire_job *j = calloc(1, sizeof *j);
    if (j) {
        j->mb = mb;
        j->now_ms = core_wall_ms();
    }
    if (!j || core_job(mb->k, expire_work, expire_after, j) != 0) {
        free(j);
        (void)uv_timer_start(t, on_expire, MB_EXPIRE_EVERY_MS, 0);
    }
}

mailbox *mailbox_new(core *k)
{
    mailbox *mb = calloc(1, sizeof *mb);
    if (!mb)
        return NULL;
    mb->k = k;
    if (uv_timer_init(k->loop, &mb->expire) != 0) {
        free(mb);
        return NULL;
    }
    mb->expire.data = mb;
    mb->timer_on = true;
    (void)uv_timer_start(&mb->expire, on_expire, 0, 0);
    return mb;
}

void mailbox_stop(mailbox *mb)
{
    if (!mb)
        return;
    /* What is still queued (copies whose device left) is stored, so it is
     * not lost (the database thread finishes it before the server stops);
     * nobody is left to answer. So are copies forwarded over links
     * (xlink_stop closed them first: none should be left). */
    while (mb->linked.head)
        link_fallback(mb, mb->linked.head);
    if (mb->queue.head || mb->ndel)
        commit_batch(mb);
    while (mb->fetch)
        fetch_unlink(mb->fetch);
    /* Nobody is left to answer: the copies are stored. */
    while (mb->remote.head)
        remote_answer(mb, mb->remote.head, RV_STORED_DISK);
    if (mb->timer_on)
        uv_close((uv_handle_t *)&mb->expire, NULL);
    mb->timer_on = false;
}

void mailbox_free(mailbox *mb)
{
    if (!mb)
        return;
    for (mb_item *it = mb->queue.head, *next; it; it = next) {
        next = it->ql.next;
        item_free(it);
    }
    free(mb->dels);
    free(mb->tk);
    free(mb->tk_gen);
    free(mb->tk_free);
    free(mb);
}

void mailbox_take_stats(mailbox *mb, mailbox_stats *out)
{
    *out = mb->st;
    memset(&mb->st, 0, sizeof mb->st);
}
