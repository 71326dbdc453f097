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

/* Load a's presence and relations from the database. */
static int cache_load(core *k, account *a)
{
    char text[RV_TEXT_MAX + 1];
    db_rel *rows = NULL;
    size_t n = 0;
    int r = db_presence_get(k->db, a->name, &a->status, text);
    if (r == 0 && text[0] && !(a->text = strdup(text)))
        r = BANTER_ENOMEM;
    if (r == 0)
        r = db_rel_list(k->db, a->name, &rows, &n);
    if (r == 0 && n > 0 && !(a->rel = calloc(n, sizeof *a->rel)))
        r = BANTER_ENOMEM;
    for (size_t i = 0; r == 0 && i < n; i++) {
        if (!(a->rel[i].peer = strdup(rows[i].peer))) {
            r = BANTER_ENOMEM;
            break;
        }
        crel_set(&a->rel[i], rows[i].side, rows[i].blocked_me);
        a->nrel = a->caprel = (uint32_t)i + 1;
    }
    free(rows);
    if (r)
        core_log(k, "cannot read the contacts of %s: %s", a->name,
                 r == BANTER_EDB ? db_errmsg(k->db) : banter_strerror(r));
    else
        a->loaded = true;
    return r;
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
    for (conn *c = a->devs, *next; c; c = next) {
        next = c->dev_next; /* c may close on a full queue */
        conn_send_pt(c, pt, len);
    }
}

void contacts_own_status(conn *c, bool all)
{
    account *a = c->acct;
    rvmsg m = {.type = RV_STATUS};
    m.u.status.status =
        a->status >= RV_P_ONLINE && a->status < RV_P_COUNT ? (rv_presence)a->status : RV_P_ONLINE;
    snprintf(m.u.status.text, sizeof m.u.status.text, "%s", a->text ? a->text : "");
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

/* RV_PRESENCE of a to every connected device of its approved contacts
 * that neither blocked nor were blocked by it. */
static void push_presence(core *k, account *a)
{
    if (k->cl) { /* other instances may hold devices too: xinst.h decides and pushes */
        a->shown = (uint8_t)visible(a);
        xinst_presence_changed(k, a->name);
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
        push_presence(k, a);
}

/* ---- entries ---- */

/* What an entry about one account holds, for any viewer: read once. */
struct peer_info {
    struct rv_profile p; /* every field that is set */
    size_t ndev;
    uint8_t dev[RV_DEVICES_MAX][RV_KEY_LEN];
};

static int peer_load(core *k, const char *peer, struct peer_info *pi)
{
    int r = db_profile_get(k->db, peer, &pi->p);
    if (r == 0)
        r = db_devices_of(k->db, peer, pi->dev, RV_DEVICES_MAX, &pi->ndev);
    if (r)
        core_log(k, "cannot read the contact %s: %s", peer,
                 r == BANTER_EDB ? db_errmsg(k->db) : banter_strerror(r));
    return r;
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

/* The entry about peer for viewer, read from the database. */
static int entry_fill(core *k, const char *peer, rel_side side, bool blocked_me,
                      struct rv_contact *e)
{
    struct peer_info pi = {0};
    int r = peer_load(k, peer, &pi);
    if (r == 0)
        r = entry_make(k, peer, &pi, side, blocked_me, e);
    else
        memset(e, 0, sizeof *e);
    db_profile_clear(&pi.p);
    return r;
}

/* Encode and send RV_CONTACTS holding es[0..n) to c, or to every device of
 * a when c is NULL. */
static void send_contacts(core *k, account *a, conn *c, struct rv_contact *es, size_t n, bool reset)
{
    rvmsg m = {.type = RV_CONTACTS};
    m.u.contacts = (struct rv_contacts){.reset = reset, .n = n, .c = es};
    buf b;
    buf_init(&b, BANTER_MAX_PLAINTEXT);
    int r = rvmsg_encode(&m, &b);
    if (r)
        core_log(k, "cannot encode a contact list for %s: %s", a->name, banter_strerror(r));
    else if (c)
        conn_send_pt(c, buf_data(&b), buf_len(&b));
    else
        send_all(a, buf_data(&b), buf_len(&b));
    buf_free(&b);
}

/* The account's own entry (docs/rendezvous.md 5.2): state "self" and the
 * keys of all its devices, so each device knows the others (it seals
 * copies of what it sends to them). */
static int self_entry(core *k, const char *name, struct rv_contact *e)
{
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    e->state = RV_CS_SELF;
    int r = db_devices_of(k->db, name, e->dev, RV_DEVICES_MAX, &e->ndev);
    if (r)
        core_log(k, "cannot read the devices of %s: %s", name,
                 r == BANTER_EDB ? db_errmsg(k->db) : banter_strerror(r));
    return r;
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

void contacts_entry_changed(core *k, const char *name, uint32_t what)
{
    account *a = online_find(k->on, name);
    db_rel *rows = NULL;
    size_t n = 0;
    struct peer_info pi = {0};
    struct rv_contact self;
    if (a && (what & CONTACTS_CH_DEVICES) && self_entry(k, name, &self) == 0)
        send_contacts(k, a, NULL, &self, 1, false); /* its own devices first */
    if (!a && db_rel_list(k->db, name, &rows, &n) != 0) {
        core_log(k, "cannot read the contacts of %s: %s", name, db_errmsg(k->db));
        return;
    }
    if (peer_load(k, name, &pi) != 0) {
        free(rows);
        return;
    }
    size_t count = a ? a->nrel : n;
    for (size_t i = 0; i < count; i++) {
        const char *peer = a ? a->rel[i].peer : rows[i].peer;
        rel_side mine = a ? crel_side(&a->rel[i]) : rows[i].side;
        bool blocked_me = a ? a->rel[i].blocked_me : rows[i].blocked_me;
        /* The peer's side mirrors ours; its block is what blocked us. */
        rel_side theirs = {rel_mirror(mine.rel), blocked_me};
        account *v = online_find(k->on, peer);
        bool sees = dir_view_of(false, theirs) == DIR_CONTACT || (what & k->pub) != 0;
        if (v && rel_exists(theirs) && sees)
            push_entry(k, v, name, &pi, theirs, mine.blocked);
    }
    db_profile_clear(&pi.p);
    free(rows);
}

/* ---- the list ---- */

/* Send the next messages of c's list while it has room. */
static void send_list(conn *c)
{
    account *a = c->acct;
    struct rv_contact es[RV_CONTACTS_PER_MSG];
    while (c->clist_after && a && !c->closing && !conn_busy(c)) {
        bool reset = c->clist_after[0] == '\0', found;
        uint32_t i = cache_pos(a, c->clist_after, &found) + (found ? 1 : 0);
        size_t n = 0;
        int r = reset ? self_entry(conn_core(c), a->name, &es[n++]) : 0;
        for (; i < a->nrel && n < RV_CONTACTS_PER_MSG && r == 0; i++) {
            const crel *cr = &a->rel[i];
            if (rel_exists(crel_side(cr)))
                r = entry_fill(conn_core(c), cr->peer, crel_side(cr), cr->blocked_me, &es[n++]);
        }
        if (r == 0)
            send_contacts(conn_core(c), a, c, es, n, reset);
        char *last = n && r == 0 && i < a->nrel && es[n - 1].state != RV_CS_SELF
                         ? strdup(es[n - 1].name)
                         : NULL;
        for (size_t j = 0; j < n; j++)
            db_profile_clear(&es[j].p);
        free(c->clist_after);
        c->clist_after = last; /* NULL: done (or failed, logged) */
        if (r)
            core_log(conn_core(c), "cannot send the contact list of %s: %s", a->name,
                     r == BANTER_EDB ? db_errmsg(conn_core(c)->db) : banter_strerror(r));
        if (!c->clist_after)
            mailbox_wake(c); /* stored copies come after the list */
    }
}

void contacts_continue(conn *c)
{
    if (c->clist_after)
        send_list(c);
}

int contacts_device_up(conn *c, bool first)
{
    account *a = c->acct;
    if (!a->loaded) {
        int r = cache_load(conn_core(c), a);
        if (r)
            return r;
    }
    free(c->clist_after);
    c->clist_after = strdup("");
    if (!c->clist_after)
        return BANTER_ENOMEM;
    send_list(c);
    if (first && visible(a) != RV_P_OFFLINE)
        push_presence(conn_core(c), a);
    return 0;
}

void contacts_device_down(conn *c)
{
    free(c->clist_after);
    c->clist_after = NULL;
}

/* ---- RV_STATUS ---- */

void contacts_status(conn *c, const struct rv_status *st)
{
    account *a = c->acct;
    int r =
        db_presence_set(conn_core(c)->db, a->name, (uint8_t)st->status, st->text, core_wall_ms());
    if (r) {
        conn_error(c, banter_errname(r), "the server cannot store the status");
        return;
    }
    char *text = st->text[0] ? strdup(st->text) : NULL;
    if (st->text[0] && !text) {
        conn_close(c, BANTER_ENOMEM, NULL);
        return;
    }
    bool text_changed = strcmp(a->text ? a->text : "", st->text) != 0;
    free(a->text);
    a->text = text;
    a->status = (uint8_t)st->status;
    contacts_own_status(c, true); /* every device of the account shows it */
    rv_presence now = visible(a);
    if (now != a->shown || (now != RV_P_OFFLINE && text_changed))
        push_presence(conn_core(c), a);
}

/* ---- RV_CONTACT ---- */

/* Whether an op would take side s of name past REL_MAX relations. */
static int over_limit(core *k, const char *name, rel_side before, rel_side after, bool *over)
{
    int64_t n = 0;
    *over = false;
    if (rel_exists(before) || !rel_exists(after))
        return 0;
    int r = db_rel_count(k->db, name, &n);
    *over = r == 0 && n >= REL_MAX;
    return r;
}

/* Check the other account: it must exist; a request or approval also
 * needs it enabled (*disabled says whether it is). NULL, or the ERROR
 * code. */
static const char *check_peer(conn *c, const struct rv_contact_op *op, bool *disabled)
{
    db_user u;
    if (strcmp(op->user, c->acct->name) == 0)
        return "EINVAL";
    int r = db_user_get(conn_core(c)->db, op->user, &u, NULL);
    if (r == BANTER_ENOENT)
        return "ENOUSER";
    if (r)
        return banter_errname(r);
    *disabled = u.disabled;
    if (u.disabled && (op->op == RV_OP_REQUEST || op->op == RV_OP_APPROVE))
        return "ENOUSER";
    return NULL;
}

/* The pair changed from (oa, ob) to (na, nb): update the caches of the
 * connected side(s) and push the entries whose content changed. */
static void apply_change(core *k, account *a, const char *peer, rel_side oa, rel_side ob,
                         rel_side na, rel_side nb)
{
    account *b = online_find(k->on, peer);
    struct peer_info pa = {0}, pb = {0};
    if (cache_set(a, peer, na, nb.blocked) != 0 || (b && cache_set(b, a->name, nb, na.blocked)))
        core_log(k, "out of memory: the contacts of %s are stale until it reconnects", a->name);
    if ((rel_view(oa) != rel_view(na) ||
         rel_details(oa, ob.blocked) != rel_details(na, nb.blocked)) &&
        peer_load(k, peer, &pb) == 0)
        push_entry(k, a, peer, &pb, na, nb.blocked);
    if (b &&
        (rel_view(ob) != rel_view(nb) ||
         rel_details(ob, oa.blocked) != rel_details(nb, na.blocked)) &&
        peer_load(k, a->name, &pa) == 0)
        push_entry(k, b, a->name, &pa, nb, na.blocked);
    db_profile_clear(&pa.p);
    db_profile_clear(&pb.p);
}

void contacts_op(conn *c, const struct rv_contact_op *op)
{
    core *k = conn_core(c);
    account *a = c->acct;
    rel_side sa, sb;
    bool over_a = false, over_b = false, disabled = false;
    const char *err = check_peer(c, op, &disabled);
    if (err) {
        conn_error(c, err,
                   strcmp(err, "EINVAL") == 0    ? "not with yourself"
                   : strcmp(err, "ENOUSER") == 0 ? "no such account"
                                                 : "the server cannot read the account");
        return;
    }
    int r = db_rel_pair(k->db, a->name, op->user, &sa, &sb);
    if (r) {
        conn_error(c, banter_errname(r), "the server cannot read the relation");
        return;
    }
    if (disabled && !rel_exists(sa)) {
        /* A disabled account is no account to whoever has nothing with it
         * (its own side, a block of the other, does not count: hidden). */
        conn_error(c, "ENOUSER", "no such account");
        return;
    }
    rel_side oa = sa, ob = sb;
    if (rel_apply(op->op, &sa, &sb) != 0) {
        conn_error(c, "ESTATE",
                   oa.blocked ? "you blocked this account: unblock it first"
                              : "there is no request from this account to answer");
        return;
    }
    if (memcmp(&oa, &sa, sizeof sa) == 0 && memcmp(&ob, &sb, sizeof sb) == 0)
        return;
    r = over_limit(k, a->name, oa, sa, &over_a);
    if (r == 0)
        r = over_limit(k, op->user, ob, sb, &over_b);
    if (r == 0 && (over_a || over_b)) {
        conn_error(c, "ELIMIT",
                   over_a ? "your contact list is full" : "their contact list is full");
        return;
    }
    if (r == 0)
        r = db_rel_write(k->db, a->name, op->user, sa, sb, core_wall_ms());
    if (r) {
        core_log(k, "cannot store a relation of %s: %s", a->name, db_errmsg(k->db));
        conn_error(c, banter_errname(r), "the server cannot store the relation");
        return;
    }
    apply_change(k, a, op->user, oa, ob, sa, sb);
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
