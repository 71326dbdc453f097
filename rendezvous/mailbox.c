/* SPDX-License-Identifier: MIT */
/* mailbox.c - routing and storing sealed copies (see mailbox.h). */
#include "mailbox.h"

#include <stdlib.h>
#include <string.h>

#include "contacts.h"
#include "db_mail.h"
#include "online.h"
#include "plugins.h"
#include "xinst.h"

enum item_kind {
    IT_ROUTED,  /* sent to a connected device, held in memory */
    IT_FETCHED, /* a stored copy sent to its device (row seq) */
    IT_QUEUED,  /* to be stored at the next flush */
    IT_DROP,    /* for an account that blocked the sender: answered, kept nowhere */
    IT_REMOTE,  /* stored for a device on another instance: its answer waits (xinst.h) */
};

/* RV_SEALED = type, id, flags, created_ms, from_len, from_user, from_device, sealed */
#define SEALED_HEAD(from_len) (1u + RV_ID_LEN + 1u + 8u + 1u + (from_len) + RV_KEY_LEN)

/*
 * One copy. On at most one of: a device's in-flight list (ROUTED,
 * FETCHED) or the store queue (QUEUED, DROP), through next/prev; ROUTED
 * ones also on the timeout list; while its sender is connected and waits
 * for an answer, on the sender's list (snext/sprev, from != NULL). REMOTE
 * ones are on the mailbox's remote list (through tnext/tprev) until their
 * recipient's instance says it was delivered or the deadline passes.
 */
struct mb_item {
    mb_item *next, *prev;
    mb_item *snext, *sprev;
    mb_item *tnext, *tprev;
    conn *to;    /* the device it is in flight to */
    mailbox *mb; /* REMOTE: its mailbox (the post's callback has only the item) */
    conn *from;  /* the sender, while connected */
    uint64_t deadline;
    int64_t seq;
    int64_t created_ms;
    int result; /* the flush's outcome */
    uint32_t len;
    uint8_t kind;
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

/* A stored row to delete at the next flush: by seq, or by id, device and
 * sending device. */
struct del {
    int64_t seq;
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
    } e[MB_WINDOW];
};

struct mailbox {
    core *k;
    uv_timer_t expire;
    bool timer_on;
    mb_item *qhead, *qtail; /* to store */
    mb_item *thead, *ttail; /* routed, by deadline */
    mb_item *rhead, *rtail; /* stored for devices on other instances, by deadline */
    size_t nremote;
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
    it->next = NULL;
    it->prev = d->mb.tail;
    if (d->mb.tail)
        d->mb.tail->next = it;
    else
        d->mb.head = it;
    d->mb.tail = it;
    d->mb.n++;
    if (it->kind == IT_ROUTED)
        d->mb.bytes += it->len;
}

static void dev_unlink(conn *d, mb_item *it)
{
    if (it->prev)
        it->prev->next = it->next;
    else
        d->mb.head = it->next;
    if (it->next)
        it->next->prev = it->prev;
    else
        d->mb.tail = it->prev;
    it->next = it->prev = NULL;
    it->to = NULL;
    d->mb.n--;
    if (it->kind == IT_ROUTED)
        d->mb.bytes -= it->len;
}

static void sent_push(conn *c, mb_item *it)
{
    it->from = c;
    it->sprev = NULL;
    it->snext = c->mb.sent;
    if (c->mb.sent)
        c->mb.sent->sprev = it;
    c->mb.sent = it;
}

static void sent_unlink(mb_item *it)
{
    if (!it->from)
        return;
    if (it->sprev)
        it->sprev->snext = it->snext;
    else
        it->from->mb.sent = it->snext;
    if (it->snext)
        it->snext->sprev = it->sprev;
    it->snext = it->sprev = NULL;
    it->from = NULL;
}

static void timeout_push(mailbox *mb, mb_item *it)
{
    it->tnext = NULL;
    it->tprev = mb->ttail;
    if (mb->ttail)
        mb->ttail->tnext = it;
    else
        mb->thead = it;
    mb->ttail = it;
    mb->routed_bytes += it->len;
}

static void timeout_unlink(mailbox *mb, mb_item *it)
{
    if (it->tprev)
        it->tprev->tnext = it->tnext;
    else
        mb->thead = it->tnext;
    if (it->tnext)
        it->tnext->tprev = it->tprev;
    else
        mb->ttail = it->tprev;
    it->tnext = it->tprev = NULL;
    mb->routed_bytes -= it->len;
}

static void queue_push(mailbox *mb, mb_item *it)
{
    if (it->kind != IT_DROP)
        it->kind = IT_QUEUED;
    it->next = NULL;
    it->prev = mb->qtail;
    if (mb->qtail)
        mb->qtail->next = it;
    else
        mb->qhead = it;
    mb->qtail = it;
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

/* Remember that d was routed it, now stored (no memory: forgotten). */
static void late_push(conn *d, const mb_item *it)
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
    l->n++;
}

/* The oldest copy with id that d was routed and that was then stored: its
 * sender's device into from, and it is forgotten. false when none. */
static bool late_take(conn *d, const uint8_t id[static RV_ID_LEN], uint8_t from[static RV_KEY_LEN])
{
    mb_late *l = d->mb.late;
    for (uint32_t i = 0; l && i < l->n; i++) {
        if (memcmp(l->e[i].id, id, RV_ID_LEN) != 0)
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

/* Answer the sender of it, if it is still connected, and let go of it. */
static void answer(mb_item *it, rv_fate fate, const char *error)
{
    conn *from = it->from;
    sent_unlink(it);
    if (from)
        send_stored(from, it->id, it->to_device, fate, error);
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

/* ---- RV_SEAL ---- */

static void refuse(conn *c, const struct rv_seal *s, const char *error)
{
    conn_core(c)->mb->st.refused++;
    send_stored(c, s->id, s->device, RV_STORED_REFUSED, error);
}

/* A recipient device that is not connected: is it one of the enabled
 * account's? NULL, or the refusal code. */
static const char *check_recipient(core *k, const char *user, const uint8_t *device)
{
    db_user u;
    int r = db_device_user(k->db, device, &u);
    if (r == 0 && strcmp(u.name, user) == 0)
        return u.disabled ? "ENOUSER" : NULL;
    if (r && r != BANTER_ENOENT)
        return banter_errname(r);
    r = db_user_get(k->db, user, &u, NULL);
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
    const char *err = d ? NULL : check_recipient(conn_core(c), s->user, s->device);
    if (err) {
        refuse(c, s, err);
        return;
    }
    mb_item *it = item_new(c, s, may != CONTACTS_SEAL_DROP);
    if (!it) {
        refuse(c, s, "ENOMEM");
        return;
    }
    sent_push(c, it);
    if (may == CONTACTS_SEAL_DROP) {
        it->kind = IT_DROP;
        queue_push(mb, it);
    } else if (d && can_route(mb, d, it->len)) {
        route(mb, d, it);
    } else {
        queue_push(mb, it);
    }
}

/* ---- RV_DELIVERED ---- */

static void del_push(mailbox *mb, int64_t seq, const uint8_t *id, const uint8_t *dev,
                     const uint8_t *from)
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
    if (id)
        memcpy(x->id, id, RV_ID_LEN);
    if (dev)
        memcpy(x->dev, dev, RV_KEY_LEN);
    if (from)
        memcpy(x->from, from, RV_KEY_LEN);
}

void mailbox_delivered(conn *c, const uint8_t id[static RV_ID_LEN])
{
    mailbox *mb = conn_core(c)->mb;
    if (!c->acct) {
        conn_refuse(c, "EAUTH", "log in first");
        return;
    }
    mb_item *it = c->mb.head;
    uint8_t from[RV_KEY_LEN];
    while (it && memcmp(it->id, id, RV_ID_LEN) != 0)
        it = it->next;
    if (!it) {
        /* Stored after its device was too slow (that row, not another
         * sender's with the same id), or a duplicate (nothing). */
        if (late_take(c, id, from))
            del_push(mb, 0, id, conn_device(c), from);
    } else if (it->kind == IT_ROUTED) {
        timeout_unlink(mb, it);
        dev_unlink(c, it);
        mb->st.delivered++;
        answer(it, RV_STORED_DELIVERED, NULL);
        free(it);
    } else {
        dev_unlink(c, it);
        del_push(mb, it->seq, NULL, NULL, NULL);
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

/* ---- copies for devices on other instances (xinst.h) ---- */

static void remote_unlink(mailbox *mb, mb_item *it)
{
    if (it->tprev)
        it->tprev->tnext = it->tnext;
    else
        mb->rhead = it->tnext;
    if (it->tnext)
        it->tnext->tprev = it->tprev;
    else
        mb->rtail = it->tprev;
    it->tnext = it->tprev = NULL;
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
    it->tnext = NULL;
    it->tprev = mb->rtail;
    if (mb->rtail)
        mb->rtail->tnext = it;
    else
        mb->rhead = it;
    mb->rtail = it;
    mb->nremote++;
    it->posting = true;
    xinst_stored(mb->k, it->to_device, on_remote_posted, it);
    return true;
}

void mailbox_remote_delivered(conn *c, int64_t tag)
{
    mailbox *mb = conn_core(c)->mb;
    for (mb_item *it = c->mb.sent; it; it = it->snext)
        if (it->kind == IT_REMOTE && !it->answered && xinst_id_tag(it->id) == tag) {
            mb->st.delivered++;
            remote_answer(mb, it, RV_STORED_DELIVERED);
            return;
        }
}

static void remote_tick(mailbox *mb, uint64_t now)
{
    while (mb->rhead && mb->rhead->deadline <= now)
        remote_answer(mb, mb->rhead, RV_STORED_DISK);
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
    while (c->mb.head) {
        mb_item *it = c->mb.head;
        if (it->kind == IT_ROUTED) {
            unroute(mb, it);
        } else {
            dev_unlink(c, it);
            item_free(it);
        }
    }
    while (c->mb.sent)
        sent_unlink(c->mb.sent);
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
    while (mb->thead && mb->thead->deadline <= now) {
        conn *d = mb->thead->to;
        /* d does not answer: store all it holds, route nothing more to it
         * until it answers something. */
        d->mb.stalled = true;
        for (mb_item *it = d->mb.head, *next; it; it = next) {
            next = it->next;
            if (it->kind == IT_ROUTED) {
                late_push(d, it);
                unroute(mb, it);
            }
        }
    }
}

/* ---- the flush ---- */

/* Store (or drop) every queued copy and delete every delivered row in one
 * transaction. Each copy's result: DB_MAIL_* or BANTER_E*. */
static int commit_batch(mailbox *mb)
{
    core *k = mb->k;
    int r = db_begin(k->db);
    for (mb_item *it = mb->qhead; it; it = it->next) {
        db_sealed s = {.flags = it->flags,
                       .to_user = it->to_user,
                       .from_user = it->from_user,
                       .blob = it->blob,
                       .len = it->len,
                       .created_ms = it->created_ms,
                       .expires_ms = it->created_ms + k->lim.ttl_ms};
        memcpy(s.id, it->id, RV_ID_LEN);
        memcpy(s.to_device, it->to_device, RV_KEY_LEN);
        memcpy(s.from_device, it->from_device, RV_KEY_LEN);
        it->result = r ? r
                     : it->kind == IT_DROP
                         ? DB_MAIL_STORED
                         : db_mail_put(k->db, &s, k->lim.quota_messages, k->lim.quota_bytes);
    }
    for (size_t i = 0; r == 0 && i < mb->ndel; i++) {
        const struct del *x = &mb->dels[i];
        int e =
            x->seq ? db_mail_del_seq(k->db, x->seq) : db_mail_del_id(k->db, x->id, x->dev, x->from);
        if (e)
            core_log(k, "cannot delete a delivered copy: %s", db_errmsg(k->db));
    }
    mb->ndel = 0;
    if (r == 0)
        r = db_commit(k->db);
    if (r) {
        core_log(k, "cannot store sealed copies: %s", db_errmsg(k->db));
        db_rollback(k->db);
    }
    mb->st.commits++;
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

static void answer_batch(mailbox *mb, int r)
{
    while (mb->qhead) {
        mb_item *it = mb->qhead;
        mb->qhead = it->next;
        int res = r ? r : it->result;
        if (res == DB_MAIL_STORED || res == DB_MAIL_DUPLICATE) {
            mb->st.stored++;
            if (it->kind != IT_DROP && !stored_for(mb, it) && remote_wait(mb, it))
                continue; /* the answer waits for the recipient's instance */
            answer(it, RV_STORED_DISK, NULL);
        } else {
            mb->st.refused++;
            answer(it, RV_STORED_REFUSED,
                   res == DB_MAIL_OVER_QUOTA ? "EQUOTA" : banter_errname(res));
        }
        free(it);
    }
    mb->qtail = NULL;
}

struct fetch_ctx {
    mailbox *mb;
    conn *d;
    bool stopped; /* the device's queue filled up: the rest waits */
};

static void on_row(void *ud, const db_sealed *s)
{
    struct fetch_ctx *f = ud;
    conn *d = f->d;
    if (f->stopped || d->closing || conn_busy(d) || strlen(s->from_user) > BANTER_MAX_NAME ||
        SEALED_HEAD(strlen(s->from_user)) + s->len > BANTER_MAX_PLAINTEXT) {
        f->stopped = true;
        return;
    }
    mb_item *it = calloc(1, sizeof *it);
    if (!it) {
        f->stopped = true;
        return;
    }
    it->kind = IT_FETCHED;
    it->seq = s->seq;
    memcpy(it->id, s->id, RV_ID_LEN);
    memcpy(it->from_device, s->from_device, RV_KEY_LEN);
    memcpy(it->to_device, conn_device(d), RV_KEY_LEN);
    d->mb.last_seq = s->seq;
    dev_push(d, it);
    send_sealed(f->mb, d, s->id, s->flags, s->created_ms, s->from_user, s->from_device, s->blob,
                s->len);
}

/* Send d the stored copies past what it got, as far as its window and its
 * output queue allow. */
static void fetch_one(mailbox *mb, conn *d)
{
    if (d->closing || !d->acct || !d->mb.more || d->mb.stalled || conn_busy(d) ||
        d->mb.n >= MB_WINDOW || d->clist_after)
        return; /* mailbox_wake calls again (the contact list goes first) */
    size_t room = MB_WINDOW - d->mb.n;
    struct fetch_ctx f = {mb, d, false};
    int n =
        db_mail_fetch(mb->k->db, conn_device(d), d->mb.last_seq, core_wall_ms(), room, on_row, &f);
    if (n < 0)
        core_log(mb->k, "cannot read stored copies: %s", db_errmsg(mb->k->db));
    else if (!f.stopped && (size_t)n < room && !d->closing)
        d->mb.more = false;
}

void mailbox_flush(mailbox *mb)
{
    if (mb->qhead || mb->ndel)
        answer_batch(mb, commit_batch(mb));
    while (mb->fetch) {
        conn *d = mb->fetch;
        fetch_unlink(d);
        fetch_one(mb, d);
    }
}

/* ---- expiry ---- */

static void on_expire(uv_timer_t *t)
{
    mailbox *mb = t->data;
    int64_t n = 0;
    int r = db_mail_expire(mb->k->db, core_wall_ms(), MB_EXPIRE_BATCH, &n);
    if (r)
        core_log(mb->k, "cannot delete expired copies: %s", db_errmsg(mb->k->db));
    else if (n > 0)
        core_log(mb->k, "deleted %lld expired stored copies", (long long)n);
    mb->st.expired += (uint64_t)n;
    /* A full batch: more may wait; go on soon, without holding the loop. */
    uv_timer_start(t, on_expire, n == MB_EXPIRE_BATCH ? 100 : MB_EXPIRE_EVERY_MS, 0);
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
     * not lost; nobody is left to answer. */
    if (mb->qhead || mb->ndel)
        answer_batch(mb, commit_batch(mb));
    while (mb->fetch)
        fetch_unlink(mb->fetch);
    /* Nobody is left to answer: the copies are stored. */
    while (mb->rhead)
        remote_answer(mb, mb->rhead, RV_STORED_DISK);
    if (mb->timer_on)
        uv_close((uv_handle_t *)&mb->expire, NULL);
    mb->timer_on = false;
}

void mailbox_free(mailbox *mb)
{
    if (!mb)
        return;
    while (mb->qhead) {
        mb_item *it = mb->qhead;
        mb->qhead = it->next;
        item_free(it);
    }
    free(mb->dels);
    free(mb);
}

void mailbox_take_stats(mailbox *mb, mailbox_stats *out)
{
    *out = mb->st;
    memset(&mb->st, 0, sizeof mb->st);
}
