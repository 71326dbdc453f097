/* SPDX-License-Identifier: MIT */
/* contacts.c - relations, the contact list, presence (see contacts.h). */
#include "contacts.h"

#include <stdlib.h>
#include <string.h>

#include "db_contacts.h"
#include "dirview.h"
#include "mailbox.h"
#include "rel.h"
#include "xinst.h"

/* ---- the relation cache of a connected account ---- */

/* Index of peer in a->rel, or where it would go (*found false). */
static uint32_t cache_pos(const account *a, const char *peer, bool *found)
{
    uint32_t lo = 0, hi = a->nrel;
    *found = false;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(a->rel[mid].peer, peer);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static const crel *cache_find(const account *a, const char *peer)
{
    bool found;
    uint32_t i = cache_pos(a, peer, &found);
    return found ? &a->rel[i] : NULL;
}

static void crel_set(crel *r, rel_side s, bool blocked_me)
{
    r->rel = s.rel;
    r->blocked = s.blocked;
    r->blocked_me = blocked_me;
}

static rel_side crel_side(const crel *r) { return (rel_side){r->rel, r->blocked}; }

/* Record a's side of its relation with peer; an entry with no side and no
 * block from the peer is dropped. BANTER_ENOMEM (the cache is unchanged). */
static int cache_set(account *a, const char *peer, rel_side s, bool blocked_me)
{
    bool found;
    uint32_t i = cache_pos(a, peer, &found);
    bool keep = rel_exists(s) || blocked_me;
    if (found && keep) {
        crel_set(&a->rel[i], s, blocked_me);
    } else if (found) {
        free(a->rel[i].peer);
        memmove(&a->rel[i], &a->rel[i + 1], (a->nrel - i - 1) * sizeof *a->rel);
        a->nrel--;
    } else if (keep) {
        if (a->nrel == a->caprel) {
            uint32_t ncap = a->caprel ? a->caprel * 2 : 8;
            crel *n = realloc(a->rel, ncap * sizeof *n);
            if (!n)
                return BANTER_ENOMEM;
            a->rel = n;
            a->caprel = ncap;
        }
        char *name = strdup(peer);
        if (!name)
            return BANTER_ENOMEM;
        memmove(&a->rel[i + 1], &a->rel[i], (a->nrel - i) * sizeof *a->rel);
        a->rel[i].peer = name;
        crel_set(&a->rel[i], s, blocked_me);
        a->nrel++;
    }
    return 0;
}

/* Copy a database error into a job's errmsg (database thread). */
static int job_err(db *d, int r, char errmsg[static DBQ_ERRMSG_LEN])
{
    if (r)
        snprintf(errmsg, DBQ_ERRMSG_LEN, "%s", r == BANTER_EDB ? db_errmsg(d) : banter_strerror(r));
    return r;
}

/* Replace a's relations (what cache_set may have put there while they
 * were read) by rows[0..n). BANTER_ENOMEM (then a has none). */
static int cache_install(account *a, const db_rel *rows, size_t n)
{
    for (uint32_t i = 0; i < a->nrel; i++)
        free(a->rel[i].peer);
    free(a->rel);
    a->rel = NULL;
    a->nrel = a->caprel = 0;
    if (n > 0 && !(a->rel = calloc(n, sizeof *a->rel)))
        return BANTER_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!(a->rel[i].peer = strdup(rows[i].peer)))
            return BANTER_ENOMEM;
        crel_set(&a->rel[i], rows[i].side, rows[i].blocked_me);
        a->nrel = a->caprel = (uint32_t)i + 1;
    }
    return 0;
}

/* ---- presence ---- */

/* What contacts see of a: offline when it has no device or is invisible. */
static rv_presence visible(const account *a)
{
    if (!a || a->ndevs == 0 || a->status == RV_P_INVISIBLE)
        return RV_P_OFFLINE;
    return (rv_presence)a->status;
}

/* Send one encoded message to every connected device of a. */
static void send_all(account *a, const uint8_t *pt, size_t len)
{
    for (conn *c = a->devs.head, *next; c; c = next) {
        next = c->dev.next; /* c may close on a full queue */
        conn_send_pt(c, pt, len);
    }
}

/* Add dev to st's devices unless it is there (or the list is full). */
static void own_device_add(struct rv_status *st, const uint8_t dev[static 32])
{
    for (size_t i = 0; i < st->ndev; i++)
        if (memcmp(st->dev[i], dev, 32) == 0)
            return;
    if (st->ndev < RV_DEVICES_MAX)
        memcpy(st->dev[st->ndev++], dev, 32);
}

void contacts_own_status(conn *c, bool all)
{
    account *a = c->acct;
    rvmsg m = {.type = RV_STATUS};
    m.u.status.status =
        a->status >= RV_P_ONLINE && a->status < RV_P_COUNT ? (rv_presence)a->status : RV_P_ONLINE;
    snprintf(m.u.status.text, sizeof m.u.status.text, "%s", a->text ? a->text : "");
    /* The account's devices connected now: here, and on a cluster those
     * the last read found elsewhere (docs/rendezvous.md 5.3). */
    m.u.status.has_devices = true;
    for (const conn *d = a->devs.head; d; d = d->dev.next)
        if (!d->closing)
            own_device_add(&m.u.status, conn_device(d));
    for (uint32_t i = 0; i < a->nelsewhere; i++)
        own_device_add(&m.u.status, a->elsewhere[i]);
    buf b;
    buf_init(&b, BANTER_MAX_PLAINTEXT);
    if (rvmsg_encode(&m, &b) == 0) {
        if (all)
            send_all(a, buf_data(&b), buf_len(&b));
        else
            conn_send_pt(c, buf_data(&b), buf_len(&b));
    }
    buf_free(&b);
}

/* The devices of a online elsewhere are now devs (n, as read): whether
 * that changed what a holds. */
static bool own_elsewhere(core *k, account *a, const uint8_t (*devs)[32], size_t n)
{
    uint8_t(*copy)[32] = NULL;
    size_t m = 0;
    if (n) {
        copy = malloc(n * sizeof *copy);
        if (!copy) {
            core_log(k, "out of memory: the devices of %s online elsewhere are stale", a->name);
            return false;
        }
        for (size_t i = 0; i < n; i++)
            if (!online_device(a, devs[i])) /* the ones here are read from a->devs */
                memcpy(copy[m++], devs[i], 32);
    }
    bool same = m == a->nelsewhere && (m == 0 || memcmp(copy, a->elsewhere, m * sizeof *copy) == 0);
    if (same) {
        free(copy);
        return false;
    }
    free(a->elsewhere);
    a->elsewhere = copy;
    a->nelsewhere = (uint32_t)m;
    return true;
}

void contacts_own_read(core *k, const char *name, uint64_t read, uint8_t status, const char *text,
                       const uint8_t (*devs)[32], size_t n)
{
    account *a = online_find(k->on, name);
    if (!a || !a->devs.head)
        return;
    bool tell = own_elsewhere(k, a, devs, n);
    /* A status chosen on another instance. A read sent before this
     * instance stored the status it holds may say the one before: not
     * taken (the read the change here brought comes later). */
    if (a->loaded && read > a->status_read && status >= RV_P_ONLINE && status < RV_P_COUNT &&
        (a->status != status || strcmp(a->text ? a->text : "", text) != 0)) {
        char *copy = text[0] ? strdup(text) : NULL;
        if (text[0] && !copy) {
            core_log(k, "out of memory: the status of %s is stale here", name);
        } else {
            free(a->text);
            a->text = copy;
            a->status = status;
            a->shown = (uint8_t)visible(a); /* what the read pushes to contacts */
            tell = true;
        }
    }
    if (tell)
        contacts_own_status(a->devs.head, true);
}

/* RV_PRESENCE of a to every connected device of its approved contacts
 * that neither blocked nor were blocked by it; chosen: after a status
 * change (else a first login or a last logout). */
static void push_presence(core *k, account *a, bool chosen)
{
    if (k->cl) {
        /* Other instances may hold devices too: they are told, and what
         * the shared tables say decides (xinst.h). Online here is online
         * anywhere: a login is said at once, as on one server, unless
         * this instance's read of the tables said it first (the login's
         * own notification, read while its list was being read): once is
         * enough. Offline here is for the tables to decide, and so is a
         * status change: reads are answered in order, each newer than the
         * last, while a push of its own here could come before the answer
         * to an older read, which would then show the old status again. */
        xinst_presence_changed(k, a->name);
        a->shown = (uint8_t)visible(a);
        if (chosen || visible(a) == RV_P_OFFLINE ||
            !xinst_presence_local(k, a->name, visible(a), a->text ? a->text : ""))
            return;
    }
    rvmsg m = {.type = RV_PRESENCE};
    buf b;
    m.u.status.status = visible(a);
    snprintf(m.u.status.user, sizeof m.u.status.user, "%s", a->name);
    if (m.u.status.status != RV_P_OFFLINE && a->text)
        snprintf(m.u.status.text, sizeof m.u.status.text, "%s", a->text);
    a->shown = (uint8_t)m.u.status.status;
    buf_init(&b, BANTER_MAX_PLAINTEXT);
    if (rvmsg_encode(&m, &b) != 0) {
        core_log(k, "cannot encode the presence of %s", a->name);
        buf_free(&b);
        return;
    }
    for (uint32_t i = 0; i < a->nrel; i++) {
        const crel *r = &a->rel[i];
        if (!rel_details(crel_side(r), r->blocked_me))
            continue;
        account *v = online_find(k->on, r->peer);
        if (v)
            send_all(v, buf_data(&b), buf_len(&b));
    }
    buf_free(&b);
}

struct remote_push {
    const char *name;
    const uint8_t *pt;
    size_t len;
};

static void push_to_viewer(account *v, void *ud)
{
    const struct remote_push *x = ud;
    const crel *r = cache_find(v, x->name);
    if (r && rel_details(crel_side(r), r->blocked_me))
        send_all(v, x->pt, x->len);
}

void contacts_push_presence(core *k, const char *name, rv_presence status, const char *text)
{
    rvmsg m = {.type = RV_PRESENCE};
    buf b;
    m.u.status.status = status;
    snprintf(m.u.status.user, sizeof m.u.status.user, "%s", name);
    if (status != RV_P_OFFLINE)
        snprintf(m.u.status.text, sizeof m.u.status.text, "%s", text);
    buf_init(&b, BANTER_MAX_PLAINTEXT);
    if (rvmsg_encode(&m, &b) == 0) {
        struct remote_push x = {name, buf_data(&b), buf_len(&b)};
        online_each(k->on, push_to_viewer, &x);
    } else {
        core_log(k, "cannot encode the presence of %s", name);
    }
    buf_free(&b);
}

void contacts_account_gone(core *k, account *a)
{
    if (a->shown != RV_P_OFFLINE)
        push_presence(k, a, false);
}

/* ---- entries ---- */

/* What an entry about one account holds, for any viewer: read once. */
struct peer_info {
    struct rv_profile p; /* every field that is set */
    size_t ndev;
    uint8_t dev[RV_DEVICES_MAX][RV_KEY_LEN];
};

/* Database thread. */
static int peer_read(db *d, const char *peer, struct peer_info *pi,
                     char errmsg[static DBQ_ERRMSG_LEN])
{
    int r = db_profile_get(d, peer, &pi->p);
    if (r == 0)
        r = db_devices_of(d, peer, pi->dev, RV_DEVICES_MAX, &pi->ndev);
    return job_err(d, r, errmsg);
}

/*
 * The entry about peer (pi) as viewer sees it: viewer's side of the
 * relation and whether peer blocked viewer. The profile fields are what
 * the viewer's view sees (dirview.h: every field for an approved contact,
 * the public ones otherwise); an approved entry also has the devices, and
 * the presence unless peer blocked viewer (docs/rendezvous.md 5.2: a block
 * is never visible, the blocked one sees the other offline). Free with
 * db_profile_clear(&e->p).
 */
static int entry_make(core *k, const char *peer, const struct peer_info *pi, rel_side side,
                      bool blocked_me, struct rv_contact *e)
{
    dir_view view = dir_view_of(false, side);
    bool approved = view == DIR_CONTACT;
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", peer);
    e->state = rel_view(side);
    int r = dir_show(k->pub, view, &pi->p, false, &e->p);
    if (r || !approved)
        return r;
    e->ndev = pi->ndev;
    memcpy(e->dev, pi->dev, pi->ndev * RV_KEY_LEN);
    if (blocked_me)
        return 0; /* offline */
    const account *pa = online_find(k->on, peer);
    e->status = visible(pa);
    if (e->status != RV_P_OFFLINE && pa->text)
        snprintf(e->text, sizeof e->text, "%s", pa->text);
    else if (e->status == RV_P_OFFLINE && k->cl) /* online on another instance? */
        e->status = xinst_presence(k, peer, e->text, sizeof e->text);
    return 0;
}

/* Whether c's contact list is due and its first page (RV_CONTACTS with
 * reset) not sent yet: an update now would be wiped by that reset, and
 * the page carries the entry as it is after this update anyway (the
 * update's job came before the page's, which reads the relations and
 * entries then: jobs run in order, and their afters too). Later pages do
 * not reset: an update goes out at once, and a page after it shows the
 * entry as the cache has it then. */
static bool list_will_carry(const conn *c) { return c->clist_after && c->clist_after[0] == '\0'; }

/* Encode and send RV_CONTACTS holding es[0..n) to c, or to every device of
 * a when c is NULL (but those whose list will carry it). */
static void send_contacts(core *k, account *a, conn *c, struct rv_contact *es, size_t n, bool reset)
{
    rvmsg m = {.type = RV_CONTACTS};
    m.u.contacts = (struct rv_contacts){.reset = reset, .n = n, .c = es};
    buf b;
    buf_init(&b, BANTER_MAX_PLAINTEXT);
    int r = rvmsg_encode(&m, &b);
    if (r) {
        core_log(k, "cannot encode a contact list for %s: %s", a->name, banter_strerror(r));
    } else if (c) {
        conn_send_pt(c, buf_data(&b), buf_len(&b));
    } else {
        for (conn *d = a->devs.head, *next; d; d = next) {
            next = d->dev.next; /* d may close on a full queue */
            if (!list_will_carry(d))
                conn_send_pt(d, buf_data(&b), buf_len(&b));
        }
    }
    buf_free(&b);
}

/* The account's own entry (docs/rendezvous.md 5.2): state "self" and the
 * keys of all its devices (read by the database half: pi), so each
 * device knows the others (it seals copies of what it sends to them). */
static void self_entry(const char *name, const struct peer_info *pi, struct rv_contact *e)
{
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    e->state = RV_CS_SELF;
    e->ndev = pi->ndev;
    memcpy(e->dev, pi->dev, pi->ndev * RV_KEY_LEN);
}

/* One entry, about peer (pi), to every device of viewer. */
static void push_entry(core *k, account *viewer, const char *peer, const struct peer_info *pi,
                       rel_side side, bool blocked_me)
{
    struct rv_contact e;
    if (entry_make(k, peer, pi, side, blocked_me, &e) == 0)
        send_contacts(k, viewer, NULL, &e, 1, false);
    else
        core_log(k, "out of memory: a contact update for %s is lost", viewer->name);
    db_profile_clear(&e.p);
}

void contacts_profile_changed(core *k, const char *name, const struct rv_profile *p)
{
    uint32_t what = 0;
    for (int i = 0; i < RV_F_COUNT; i++)
        if (p->f[i])
            what |= 1u << i;
    if (what)
        contacts_entry_changed(k, name, what);
}

/* contacts_entry_changed: the account's entry and relations, read. */
struct changed_job {
    core *k;
    uint32_t what;
    char name[BANTER_MAX_NAME + 1];
    struct peer_info pi; /* its profile and devices */
    db_rel *rows;        /* its relations, for when it is not connected */
    size_t n;
};

static int changed_work(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    struct changed_job *j = arg;
    int r = db_rel_list(d, j->name, &j->rows, &j->n);
    if (job_err(d, r, errmsg))
        return r;
    return peer_read(d, j->name, &j->pi, errmsg);
}

static void changed_after(void *arg, int ret, const char *errmsg)
{
    struct changed_job *j = arg;
    core *k = j->k;
    account *a = online_find(k->on, j->name);
    if (ret) {
        core_log(k, "cannot read the contact %s: %s", j->name, errmsg);
        goto out;
    }
    if (a && (j->what & CONTACTS_CH_DEVICES)) {
        struct rv_contact self;
        self_entry(j->name, &j->pi, &self);
        send_contacts(k, a, NULL, &self, 1, false); /* its own devices first */
    }
    bool cached = a && a->loaded; /* else what the database said */
    size_t count = cached ? a->nrel : j->n;
    /* On a cluster, who reads the entry again where it is connected to
     * another instance (xinst_entry_changed): each viewer that sees the
     * change, and the account itself for its devices. */
    size_t ecap = (count + 1) * (BANTER_MAX_NAME + 1) + 1, elen = 0;
    char *elsewhere = k->cl ? malloc(ecap) : NULL;
    if (elsewhere && (j->what & CONTACTS_CH_DEVICES))
        elen += (size_t)snprintf(elsewhere, ecap, "%s\n", j->name);
    for (size_t i = 0; i < count; i++) {
        const char *peer = cached ? a->rel[i].peer : j->rows[i].peer;
        rel_side mine = cached ? crel_side(&a->rel[i]) : j->rows[i].side;
        bool blocked_me = cached ? a->rel[i].blocked_me : j->rows[i].blocked_me;
        /* The peer's side mirrors ours; its block is what blocked us. */
        rel_side theirs = {rel_mirror(mine.rel), blocked_me};
        account *v = online_find(k->on, peer);
        bool sees = dir_view_of(false, theirs) == DIR_CONTACT || (j->what & k->pub) != 0;
        if (v && rel_exists(theirs) && sees)
            push_entry(k, v, j->name, &j->pi, theirs, mine.blocked);
        if (elsewhere && rel_exists(theirs) && sees)
            elen += (size_t)snprintf(elsewhere + elen, ecap - elen, "%s\n", peer);
    }
    if (elsewhere && elen) {
        elsewhere[elen - 1] = '\0';
        xinst_entry_changed(k, j->name, elsewhere);
    } else if (k->cl && !elsewhere) {
        core_log(k, "out of memory: contacts of %s on other instances see its change later",
                 j->name);
    }
    free(elsewhere);
out:
    db_profile_clear(&j->pi.p);
    free(j->rows);
    free(j);
}

void contacts_entry_changed(core *k, const char *name, uint32_t what)
{
    struct changed_job *j = calloc(1, sizeof *j);
    int r = j ? 0 : BANTER_ENOMEM;
    if (j) {
        j->k = k;
        j->what = what;
        snprintf(j->name, sizeof j->name, "%s", name);
        r = core_job(k, changed_work, changed_after, j);
    }
    if (r) {
        core_log(k, "the contacts of %s do not hear of its change: %s", name, banter_strerror(r));
        free(j);
    }
}

/* ---- the list ---- */

/* One page of a contact list: the entries after a name, read. */
struct page_job {
    conn *c; /* held */
    char name[BANTER_MAX_NAME + 1];
    char *after; /* the cursor it was read for (owned) */
    bool reset;  /* the first page: the account's own entry first */
    size_t n;
    char peer[RV_CONTACTS_PER_MSG][BANTER_MAX_NAME + 1];
    struct peer_info self, pi[RV_CONTACTS_PER_MSG];
};

static int page_work(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    struct page_job *j = arg;
    int r = 0;
    if (j->reset) {
        r = db_devices_of(d, j->name, j->self.dev, RV_DEVICES_MAX, &j->self.ndev);
        if (job_err(d, r, errmsg))
            return r;
    }
    for (size_t i = 0; i < j->n && r == 0; i++)
        r = peer_read(d, j->peer[i], &j->pi[i], errmsg);
    return r;
}

static void page_free(struct page_job *j)
{
    for (size_t i = 0; i < j->n; i++)
        db_profile_clear(&j->pi[i].p);
    free(j->after);
    free(j);
}

static void send_list(conn *c);

/* Send the page j read to c (its job's after, on a live c), then the
 * next one, or wake the mailbox at the end of the list. */
static void page_deliver(conn *c, const struct page_job *j, int ret, const char *errmsg)
{
    account *a = c->acct;
    struct rv_contact es[RV_CONTACTS_PER_MSG];
    size_t n = 0;
    c->clist_busy = false;
    if (!a || strcmp(a->name, j->name) != 0 || !c->clist_after ||
        strcmp(c->clist_after, j->after) != 0) {
        send_list(c); /* the list moved on (logged out, in again): read it again */
        return;
    }
    int r = 0;
    if (ret) {
        r = ret;
        core_log(conn_core(c), "cannot send the contact list of %s: %s", a->name, errmsg);
    }
    if (r == 0 && j->reset)
        self_entry(a->name, &j->self, &es[n++]);
    for (size_t i = 0; r == 0 && i < j->n; i++) {
        /* The relation as it is now (a change after the read was pushed). */
        const crel *cr = cache_find(a, j->peer[i]);
        if (cr && rel_exists(crel_side(cr)))
            r = entry_make(conn_core(c), cr->peer, &j->pi[i], crel_side(cr), cr->blocked_me,
                           &es[n++]);
    }
    if (r == 0)
        send_contacts(conn_core(c), a, c, es, n, j->reset);
    else if (!ret)
        core_log(conn_core(c), "cannot send the contact list of %s: %s", a->name,
                 banter_strerror(r));
    bool found;
    uint32_t next = j->n ? cache_pos(a, j->peer[j->n - 1], &found) + (found ? 1 : 0) : a->nrel;
    char *last = r == 0 && j->n && next < a->nrel ? strdup(j->peer[j->n - 1]) : NULL;
    for (size_t i = 0; i < n; i++)
        db_profile_clear(&es[i].p);
    free(c->clist_after);
    c->clist_after = last; /* NULL: done (or failed, logged) */
    if (c->clist_after)
        send_list(c);
    else
        mailbox_wake(c); /* stored copies come after the list */
}

static void page_after(void *arg, int ret, const char *errmsg)
{
    struct page_job *j = arg;
    conn *c = j->c;
    if (!c->closing)
        page_deliver(c, j, ret, errmsg);
    conn_release(c);
    page_free(j);
}

/* The peers of the page after j->after: those of a's relations that
 * exist, at most what a message holds (with the own entry on the first). */
static void page_peers(struct page_job *j, const account *a)
{
    bool found;
    size_t max = RV_CONTACTS_PER_MSG - (j->reset ? 1 : 0);
    for (uint32_t i = cache_pos(a, j->after, &found) + (found ? 1 : 0); i < a->nrel && j->n < max;
         i++)
        if (rel_exists(crel_side(&a->rel[i])))
            snprintf(j->peer[j->n++], sizeof j->peer[0], "%s", a->rel[i].peer);
}

/* Read the next page of c's list, if one is due and c has room. */
static void send_list(conn *c)
{
    account *a = c->acct;
    if (!c->clist_after || !a || c->closing || c->clist_busy || conn_busy(c))
        return;
    struct page_job *j = calloc(1, sizeof *j);
    int r = j && (j->after = strdup(c->clist_after)) ? 0 : BANTER_ENOMEM;
    if (r == 0) {
        j->c = c;
        snprintf(j->name, sizeof j->name, "%s", a->name);
        j->reset = c->clist_after[0] == '\0';
        page_peers(j, a);
        conn_hold(c);
        r = core_job(conn_core(c), page_work, page_after, j);
        if (r == 0) {
            c->clist_busy = true;
            return; /* page_after frees j */
        }
        conn_release(c);
    }
    if (j)
        page_free(j);
    core_log(conn_core(c), "cannot send the contact list of %s: %s", a->name, banter_strerror(r));
    free(c->clist_after);
    c->clist_after = NULL;
    mailbox_wake(c);
}

void contacts_continue(conn *c)
{
    if (c->clist_after)
        send_list(c);
}

/*
 * contacts_device_up: one job reads the account's presence and relations
 * (when they are not in memory yet: load) and the first page of its list,
 * so that the list follows RV_AUTH at once, as it did when the loop read
 * the database itself; c's next messages wait for it. The page's peers
 * come from the relations read there, not from the cache: an update
 * queued before it is in them (list_will_carry).
 */
struct up_job {
    conn_job h;
    contacts_up_fn then;
    bool first, load;
    uint8_t status;
    char text[RV_TEXT_MAX + 1];
    db_rel *rows;
    size_t n;
    struct page_job *page; /* the first page (its c is not held) */
};

static int up_work(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    struct up_job *j = arg;
    int r = j->load ? db_presence_get(d, j->page->name, &j->status, j->text) : 0;
    if (r == 0)
        r = db_rel_list(d, j->page->name, &j->rows, &j->n);
    if (job_err(d, r, errmsg))
        return r;
    for (size_t i = 0; i < j->n && j->page->n < RV_CONTACTS_PER_MSG - 1; i++)
        if (rel_exists(j->rows[i].side))
            snprintf(j->page->peer[j->page->n++], sizeof j->page->peer[0], "%s", j->rows[i].peer);
    return page_work(d, j->page, errmsg);
}

/* The loaded presence and relations into a (unless another device's
 * load came first). */
static int up_install(struct up_job *j, account *a)
{
    if (!j->load || a->loaded)
        return 0;
    char *text = j->text[0] ? strdup(j->text) : NULL;
    int r = j->text[0] && !text ? BANTER_ENOMEM : cache_install(a, j->rows, j->n);
    if (r) {
        free(text);
        return r;
    }
    free(a->text);
    a->text = text;
    a->status = j->status;
    a->loaded = true;
    return 0;
}

static void up_after(conn *c, void *arg, int ret, const char *errmsg)
{
    struct up_job *j = arg;
    core *k = conn_core(c);
    account *a = online_find(k->on, j->page->name);
    int r = a && ret == 0 ? up_install(j, a) : 0;
    c->clist_busy = false;
    if (r || ret)
        core_log(k, "cannot read the contacts of %s: %s", j->page->name,
                 r ? banter_strerror(r) : errmsg);
    if (c->closing || !a || c->acct != a)
        goto out; /* gone, or logged out meanwhile */
    if (r == 0)
        r = ret;
    if (r) {
        j->then(c, r);
        goto out;
    }
    page_deliver(c, j->page, ret, errmsg);
    if (j->load) /* a status chosen elsewhere while it loaded was skipped by the reads */
        xinst_presence_reread(k, a->name);
    if (j->first && visible(a) != RV_P_OFFLINE)
        push_presence(k, a, false);
    if (!c->closing)
        j->then(c, 0);
out:
    free(j->rows);
    page_free(j->page);
    free(j);
}

void contacts_device_up(conn *c, bool first, contacts_up_fn then)
{
    account *a = c->acct;
    struct up_job *j = conn_job_new(c, sizeof *j);
    if (!j)
        return;
    int r = (j->page = calloc(1, sizeof *j->page)) ? 0 : BANTER_ENOMEM;
    /* The list is due from now on: updates wait for it (list_will_carry),
     * the mailbox too. */
    free(c->clist_after);
    c->clist_after = r == 0 ? strdup("") : NULL;
    if (r == 0 && (!c->clist_after || !(j->page->after = strdup(""))))
        r = BANTER_ENOMEM;
    if (r == 0) {
        j->then = then;
        j->first = first;
        j->load = !a->loaded;
        j->page->c = c;
        j->page->reset = true;
        snprintf(j->page->name, sizeof j->page->name, "%s", a->name);
        r = conn_job_submit(j, up_work, up_after);
        if (r == 0) {
            c->clist_busy = true;
            return;
        }
    }
    if (j->page)
        page_free(j->page);
    free(j);
    then(c, r);
}

void contacts_device_down(conn *c)
{
    free(c->clist_after);
    c->clist_after = NULL; /* a page being read is dropped when it comes */
}

/* ---- RV_STATUS ---- */

struct status_job {
    conn_job h;
    uint8_t status;
    char text[RV_TEXT_MAX + 1];
    int64_t now;
};

static int status_work(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    struct status_job *j = arg;
    return job_err(d, db_presence_set(d, j->h.user, j->status, j->text, j->now), errmsg);
}

static void status_after(conn *c, void *arg, int ret, const char *errmsg)
{
    struct status_job *j = arg;
    core *k = conn_core(c);
    /* Stored: the account's record follows, whichever device is left. */
    account *a = online_find(k->on, j->h.user);
    if (ret) {
        core_log(k, "cannot store the status of %s: %s", j->h.user, errmsg);
        if (!c->closing)
            conn_error(c, banter_errname(ret), "the server cannot store the status");
        goto out;
    }
    if (!a) { /* stored: the other instances read it */
        xinst_presence_changed(k, j->h.user);
        goto out;
    }
    char *text = j->text[0] ? strdup(j->text) : NULL;
    if (j->text[0] && !text) {
        core_log(k, "out of memory: the status of %s is stale until it reconnects", j->h.user);
        goto out;
    }
    bool text_changed = strcmp(a->text ? a->text : "", j->text) != 0;
    free(a->text);
    a->text = text;
    a->status = j->status;
    a->status_read = xinst_reads_sent(k); /* earlier reads may say the status before */
    if (a->devs.head)
        contacts_own_status(a->devs.head, true); /* every device of the account shows it */
    rv_presence now = visible(a);
    /* On a cluster every change is announced: the read it brings is
     * numbered after status_read, so it is taken on every instance. */
    if (k->cl || now != a->shown || (now != RV_P_OFFLINE && text_changed))
        push_presence(k, a, true);
out:
    free(j);
}

void contacts_status(conn *c, const struct rv_status *st)
{
    struct status_job *j = conn_job_new(c, sizeof *j);
    if (!j)
        return;
    j->status = (uint8_t)st->status;
    snprintf(j->text, sizeof j->text, "%s", st->text);
    j->now = core_wall_ms();
    int r = conn_job_submit(j, status_work, status_after);
    if (r) {
        free(j);
        conn_error(c, banter_errname(r), "the server cannot store the status");
    }
}

/* ---- RV_CONTACT ---- */

/* An RV_CONTACT from name about peer, checked and written on the
 * database thread; the caches and pushes follow on the loop. */
struct op_job {
    conn_job h; /* h.user: who asks */
    rv_op op;
    char peer[BANTER_MAX_NAME + 1];
    int64_t now;
    const char *code; /* a refusal (a static string), or NULL */
    const char *why;  /* the refusal's sentence, or what failed */
    bool changed;
    rel_side oa, ob, na, nb;
    struct peer_info pa, pb; /* name's and peer's entries, when they are pushed */
    bool has_pa, has_pb;
};

/* Whether an op would take side s of name past REL_MAX relations. */
static int over_limit(db *d, const char *name, rel_side before, rel_side after, bool *over)
{
    int64_t n = 0;
    *over = false;
    if (rel_exists(before) || !rel_exists(after))
        return 0;
    int r = db_rel_count(d, name, &n);
    *over = r == 0 && n >= REL_MAX;
    return r;
}

static int op_refuse(struct op_job *j, const char *code, const char *why)
{
    j->code = code;
    j->why = why;
    return 0;
}

/* Check the other account: it must exist; a request or approval also
 * needs it enabled (*disabled says whether it is). 0 (j->code set when
 * refused), or a database error. */
static int check_peer(db *d, struct op_job *j, bool *disabled)
{
    db_user u;
    if (strcmp(j->peer, j->h.user) == 0)
        return op_refuse(j, "EINVAL", "not with yourself");
    int r = db_user_get(d, j->peer, &u, NULL);
    if (r == BANTER_ENOENT)
        return op_refuse(j, "ENOUSER", "no such account");
    if (r)
        return r;
    *disabled = u.disabled;
    if (u.disabled && (j->op == RV_OP_REQUEST || j->op == RV_OP_APPROVE))
        return op_refuse(j, "ENOUSER", "no such account");
    return 0;
}

/* The entries to push once the pair changed from (oa, ob) to (na, nb):
 * name sees peer's when its view of it changed, and the other way round
 * (if peer is connected then). */
static int op_read_entries(db *d, struct op_job *j, char errmsg[static DBQ_ERRMSG_LEN])
{
    int r = 0;
    if (rel_view(j->oa) != rel_view(j->na) ||
        rel_details(j->oa, j->ob.blocked) != rel_details(j->na, j->nb.blocked)) {
        r = peer_read(d, j->peer, &j->pb, errmsg);
        j->has_pb = r == 0;
    }
    if (r == 0 && (rel_view(j->ob) != rel_view(j->nb) ||
                   rel_details(j->ob, j->oa.blocked) != rel_details(j->nb, j->na.blocked))) {
        r = peer_read(d, j->h.user, &j->pa, errmsg);
        j->has_pa = r == 0;
    }
    return r;
}

static int op_work(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    struct op_job *j = arg;
    bool over_a = false, over_b = false, disabled = false;
    j->why = "the server cannot read the account";
    int r = check_peer(d, j, &disabled);
    if (r || j->code)
        return r ? job_err(d, r, errmsg) : 0;
    j->why = "the server cannot read the relation";
    r = db_rel_pair(d, j->h.user, j->peer, &j->na, &j->nb);
    if (r)
        return job_err(d, r, errmsg);
    j->oa = j->na;
    j->ob = j->nb;
    if (disabled && !rel_exists(j->oa))
        /* A disabled account is no account to whoever has nothing with it
         * (its own side, a block of the other, does not count: hidden). */
        return op_refuse(j, "ENOUSER", "no such account");
    if (rel_apply(j->op, &j->na, &j->nb) != 0)
        return op_refuse(j, "ESTATE",
                         j->oa.blocked ? "you blocked this account: unblock it first"
                                       : "there is no request from this account to answer");
    if (memcmp(&j->oa, &j->na, sizeof j->na) == 0 && memcmp(&j->ob, &j->nb, sizeof j->nb) == 0)
        return 0;
    j->why = "the server cannot store the relation";
    r = over_limit(d, j->h.user, j->oa, j->na, &over_a);
    if (r == 0)
        r = over_limit(d, j->peer, j->ob, j->nb, &over_b);
    if (r == 0 && (over_a || over_b))
        return op_refuse(j, "ELIMIT",
                         over_a ? "your contact list is full" : "their contact list is full");
    if (r == 0)
        r = db_rel_write(d, j->h.user, j->peer, j->na, j->nb, j->now);
    if (r)
        return job_err(d, r, errmsg);
    j->changed = true;
    (void)op_read_entries(d, j, errmsg); /* logged; the caches still follow */
    return 0;
}

/* The pair changed: update the caches of the connected side(s) and push
 * the entries whose content changed. */
static void apply_change(core *k, struct op_job *j)
{
    account *a = online_find(k->on, j->h.user), *b = online_find(k->on, j->peer);
    if ((a && cache_set(a, j->peer, j->na, j->nb.blocked) != 0) ||
        (b && cache_set(b, j->h.user, j->nb, j->na.blocked) != 0))
        core_log(k, "out of memory: the contacts of %s are stale until it reconnects", j->h.user);
    if (a && j->has_pb)
        push_entry(k, a, j->peer, &j->pb, j->na, j->nb.blocked);
    if (b && j->has_pa)
        push_entry(k, b, j->h.user, &j->pa, j->nb, j->na.blocked);
    /* Their devices on other instances hold caches of the pair too. */
    xinst_contact_changed(k, j->h.user, j->peer);
    xinst_contact_changed(k, j->peer, j->h.user);
}

/* ---- a relation changed on another instance (xinst.h) ---- */

struct remote_job {
    core *k;
    char user[BANTER_MAX_NAME + 1], peer[BANTER_MAX_NAME + 1];
    rel_side us, them; /* user's side of the pair, peer's side */
    struct peer_info pi;
    bool has_pi;
};

static int remote_work(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    struct remote_job *j = arg;
    if (strcmp(j->user, j->peer) == 0) /* the account's own entry */
        return peer_read(d, j->peer, &j->pi, errmsg);
    int r = db_rel_pair(d, j->user, j->peer, &j->us, &j->them);
    if (r)
        return job_err(d, r, errmsg);
    j->has_pi = peer_read(d, j->peer, &j->pi, errmsg) == 0;
    return 0;
}

static void remote_after(void *arg, int ret, const char *errmsg)
{
    struct remote_job *j = arg;
    account *a = online_find(j->k->on, j->user);
    if (ret) {
        core_log(j->k, "cannot read a relation of %s changed elsewhere: %s", j->user, errmsg);
    } else if (a && strcmp(j->user, j->peer) == 0) { /* its devices, changed elsewhere */
        struct rv_contact self;
        self_entry(j->user, &j->pi, &self);
        send_contacts(j->k, a, NULL, &self, 1, false);
    } else if (a && a->loaded) {
        if (cache_set(a, j->peer, j->us, j->them.blocked) != 0)
            core_log(j->k, "out of memory: the contacts of %s are stale until it reconnects",
                     j->user);
        if (j->has_pi)
            push_entry(j->k, a, j->peer, &j->pi, j->us, j->them.blocked);
    }
    db_profile_clear(&j->pi.p);
    free(j);
}

void contacts_remote_change(core *k, const char *user, const char *peer)
{
    if (!online_find(k->on, user) || db_name_problem(peer))
        return;
    struct remote_job *j = calloc(1, sizeof *j);
    if (!j) {
        core_log(k, "out of memory: the contacts of %s are stale until it reconnects", user);
        return;
    }
    j->k = k;
    snprintf(j->user, sizeof j->user, "%s", user);
    snprintf(j->peer, sizeof j->peer, "%s", peer);
    if (core_job(k, remote_work, remote_after, j) != 0)
        free(j);
}

static void op_after(conn *c, void *arg, int ret, const char *errmsg)
{
    struct op_job *j = arg;
    core *k = conn_core(c);
    if (ret) {
        core_log(k, "a relation of %s: %s: %s", j->h.user, j->why, errmsg);
        if (!c->closing)
            conn_error(c, banter_errname(ret), j->why);
    } else if (j->code) {
        if (!c->closing)
            conn_error(c, j->code, j->why);
    } else if (j->changed) {
        if (errmsg[0])
            core_log(k, "cannot read the contact entries of %s and %s: %s", j->h.user, j->peer,
                     errmsg);
        apply_change(k, j);
    }
    db_profile_clear(&j->pa.p);
    db_profile_clear(&j->pb.p);
    free(j);
}

void contacts_op(conn *c, const struct rv_contact_op *op)
{
    struct op_job *j = conn_job_new(c, sizeof *j);
    if (!j)
        return;
    j->op = op->op;
    snprintf(j->peer, sizeof j->peer, "%s", op->user);
    j->now = core_wall_ms();
    int r = conn_job_submit(j, op_work, op_after);
    if (r) {
        free(j);
        conn_error(c, banter_errname(r), "the server cannot store the relation");
    }
}

/* ---- the mailbox's question ---- */

int contacts_may_seal(const account *from, const char *to, bool broadcast)
{
    if (strcmp(from->name, to) == 0)
        return CONTACTS_SEAL_OK; /* another device of its own account */
    const crel *r = cache_find(from, to);
    /* Not a contact whatever the other did: a block shows only to those
     * who could send anyway (and then as "stored"). */
    if (!broadcast && !(r && rel_details(crel_side(r), false)))
        return CONTACTS_SEAL_NOTCONTACT;
    return r && r->blocked_me ? CONTACTS_SEAL_DROP : CONTACTS_SEAL_OK;
}
