/* SPDX-License-Identifier: MIT */
/*
 * rdv_probe.c - a scripted Banter client for the rendezvous tests
 * (tests/integration/test_rendezvous_basic.sh).
 *
 *   rdv_probe [--expect-fp FP] [--key FILE] [--source ADDR] [--org HEX] [--raw] HOST PORT STEP...
 *   rdv_probe --key FILE --print-key     (the device key of FILE, in hex)
 *   rdv_probe --sql DB SQL               (run SQL on DB, print column 1 of each row)
 *
 * --key keeps the device identity in FILE (created when missing), so a
 * later run is the same device; --source binds the local address (another
 * 127.x address stands for another client to the server's rate limits);
 * --raw also prints each RV_SEARCH_RESULT's plaintext in hex ("recv raw
 * HEX"), so two answers can be compared byte for byte. --org HEX checks
 * certificates, policies and revocation lists against the organisation
 * key HEX instead of the key the server proved (an instance of a service
 * of several proves its own key).
 * Connects, completes the handshake under a fresh random identity and
 * prints "fingerprint <fp>" (the key the server proved) and "device <hex>"
 * (its own device key). With --expect-fp a
 * different fingerprint ends the run (exit 1). Then it runs the steps in
 * order, without waiting in between unless told:
 *
 *   hello      send HELLO (name "rdv_probe")
 *   hellob     send HELLO with the feature "batch": RV_BATCH both ways
 *              (docs/rendezvous.md section 2.2). An RV_BATCH from the
 *              server is printed "recv batch n=N", then each of its
 *              messages as if it came alone; what the probe answers to
 *              them, and the copies of one seals= between two waits, go
 *              out as one RV_BATCH
 *   bpings=N   send N PINGs in one RV_BATCH (also without "batch")
 *   pt=HEX     send one plaintext given in hex, as it is
 *   hellop     send HELLO with the feature "policy" (then RV_POLICY is
 *              printed as "recv policy serial=N ..." once checked)
 *   helloa     send HELLO with the features "policy" and "announce"
 *              (RV_ANNOUNCE and RV_REVOKED are printed, see below)
 *   arcpt=ID:delivered|read  send RV_ANNOUNCE_RCPT for announcement ID
 *   anns=N     wait (10 s at most) until N RV_ANNOUNCE and RV_REVOKED came
 *              in all; prints "waited anns=K"
 *   ping       send PING
 *   bye        send BYE
 *   type=HH    send a plaintext made of the one type byte HH (hex)
 *   mute       stop answering the server's PINGs
 *   wait=MS    print what arrives for MS milliseconds
 *   waitfile=PATH  print what arrives until PATH exists (30 s at most),
 *              then "go" (or "no go"): the test says when the next step
 *              goes out
 *   login=USER:PASSWORD   send RV_LOGIN, then print what arrives until
 *              its RV_AUTH (and certificate) or an ERROR (5 s at most)
 *   logout     send RV_LOGOUT
 *   profile=FIELD=VALUE   send RV_PROFILE_SET with that one field
 *   search=PAGE:PER_PAGE:CRIT[,CRIT...]  send RV_SEARCH; CRIT is
 *              FIELD=VALUE (eq) or FIELD~VALUE (contains); then wait for
 *              the answer
 *   logins=USER:PASSWORD:N  log in N times in a row and print
 *              "logins N ok K in MS ms" (a measurement)
 *   contact=OP:USER       send RV_CONTACT (request, approve, deny, remove,
 *              block, unblock)
 *   status=STATUS[:TEXT]  send RV_STATUS (online, away, busy, invisible)
 *   seal=USER:TEXT        seal a CHAT with TEXT to every device of USER the
 *              probe learnt (RV_CONTACTS, RV_RECIPIENTS) and send the
 *              RV_SEALs; prints "seal id=ID to=USER devices=N"
 *   seals=USER:N          N such messages ("message 1"...), at most 256
 *              copies unanswered at a time
 *   icehost=ADDR          the host candidate address of the ICE offers and
 *              answers ice= sends from now on (default 127.0.0.1, which a
 *              node refuses: ADDR makes the offer usable)
 *   sealto=USER:DEVHEX:TEXT  one copy to the device key given
 *   bsealto=USER:DEVHEX:TEXT the same with the broadcast flag
 *   bcast=DEPT:TEXT       RV_BROADCAST_TO for every page (DEPT may be
 *              empty), then a broadcast copy to every recipient device
 *   bto=DEPT:PAGE         one RV_BROADCAST_TO, wait for the answer
 *   probe=PORT            send RV_PROBE for PORT (RV_PROBE_RESULT is printed
 *              as "recv probe port=N result=R address=A"; follow with wait=)
 *   stored=N | sealed=N   wait (20 s at most) until N RV_STORED / RV_SEALED
 *              came in all; prints "waited stored=K"
 *   ready                 wait (5 s at most) until the whole contact list
 *              came (after login, or right after HELLO for a bound device);
 *              prints "ready" or "not ready"
 *   noack | ack           stop / start answering RV_SEALED with RV_DELIVERED
 *              (the default is to answer)
 *   keep                  answer RV_SEALED with RV_KEEP (naming the
 *              sending device) instead, until ack or noack
 *   delivered=ID[:FROM]   send RV_DELIVERED for ID (32 hex digits), sent
 *              by device FROM (64 hex digits) when given
 *   junk=N                send a frame of N random bytes, not encrypted
 *   xldevs=N              as an instance on a link (cluster_listen, with
 *              the organisation key as --key, after pt=01, an empty
 *              XL_CERT): N random device keys in XL_DEV messages
 *   sealid=USER:DEVHEX:IDHEX:TEXT  one copy to the device key given, with
 *              the message id given
 *   gjunk=USER:DEVHEX     one copy of a GROUP_MSG for a group that does not
 *              exist (a node cannot take it now); prints "gjunk id=ID"
 *   chatto=TO  the CHATs sealed from now on (not broadcasts) carry "to":
 *              TO (a copy from another device of one's own account,
 *              docs/protocol.md); "chatto=" stops
 *   searches=N:PAGE:PER_PAGE:CRIT[,CRIT...]  N searches one after the
 *              other, each waiting for its answer (not printed); prints
 *              "searches N in MS ms" (a measurement)
 *   target=USER:DEVHEX:VALUE  what send= sends to: an account, one of its
 *              devices, a value of one of its hidden profile fields (phone)
 *   send=HH    send one well-formed message of type HH (hex) as a node
 *              could (the authorization test): a login with a wrong
 *              password to an unknown account (waits for its RV_AUTH),
 *              about=... for a profile, a search for phone=VALUE, a
 *              contact request, status away, a broadcast recipients
 *              page, a sealed copy to the target's device (waits for its
 *              RV_STORED; type 145 is the same with the broadcast flag),
 *              a server-to-node message of each kind, HELLO, PING, PONG,
 *              ERROR, BYE; any other type of docs/protocol.md goes as
 *              its bare type byte. A type the probe has no message for
 *              prints "no message for type HH" and ends the run (exit 2)
 *   sync       send a PING and print what arrives until its PONG (which
 *              is not printed): everything the server answered before
 *   mark=TEXT  print "mark TEXT"
 *
 * and finally prints what arrives until the server closes the connection or
 * nothing came for 1 s. What arrives is printed one line each:
 *
 *   recv hello name=<name> features=<f1,f2>
 *   recv batch n=<n> | recv batch bad <ERRNAME>  (then each message)
 *   recv error <code>
 *   recv pong | recv ping | recv bye <reason> | recv <type name>
 *   recv auth ok user=<name> admin=<0|1>
 *   recv auth fail error=<code> retry_after_ms=<ms>
 *   recv cert user=<name> server=<ok|other> device=<ok|other>
 *             check=<ERRNAME|ok> days=<validity in days>
 *   recv result total=<n> page=<p> users=<name,name...>
 *   recv user <name> display_name=<v> department=<v> title=<v>
 *             (one per user of a result, fields present only)
 *   recv contacts reset=<0|1> n=<n>, then per entry
 *   recv contact <user> state=<s> status=<s|-> text=<t|-> display_name=<v|->
 *             department=<v|-> devices=<n>
 *   recv presence <user> <status> text=<t|->
 *   recv stored id=<id> device=<first 8 hex> state=<s> error=<code|->
 *   recv sealed from=<user> id=<id> flags=<n> body=<text> check=<ok|ERRNAME>
 *             (opened with the probe's key; checked: sender key, CHAT, id)
 *   recv recipients total=<n> page=<p> users=<name,name...>
 *   recv status <status> text=<t|-> devices=<n|->   (RV_STATUS from the server:
 *                                     how many of the account's devices are connected)
 *   recv announce id=<n> department=<d|-> text=<text>
 *   recv revoked n=<n> check=<ok|ERRNAME> keys=<first 8 hex of each|->
 *             (checked against the server's key)
 *   recv raw <hex>    (with --raw, after each recv result)
 *   recv undecodable <error name>
 *   closed            the server ended the stream
 *   closed <ERRNAME>  the session failed (a bad frame, a bad tag)
 *   quiet             nothing for 1 s, the connection still open
 *
 * PINGs from the server are answered (until mute). Text from the server is printed with
 * bytes outside printable ASCII as \xNN. Exit: 0 when the handshake
 * completed (whatever came after), 1 when it did not or the fingerprint
 * differs, 2 on bad usage.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "bcrypto.h"
#include "identity.h"
#include "gkey.h"
#include "msg.h"
#include "annmsg.h"
#include "policy.h"
#include "rvbatch.h"
#include "rvmsg.h"
#include "sealed.h"
#include "session.h"
#include "tnet.h"

#define CONNECT_MS 5000
#define QUIET_MS   1000
#define READ_CHUNK 65536
#define SAFE_MAX   (4 * 300 + 1)

#define KNOWN_MAX   64
/* stored=, sealed=, anns=: twice the 10 s the server gives a routed copy
 * to be answered before it stores it (a wait as long as that raced it) */
#define AWAIT_MS    20000
#define SEAL_WINDOW 256u /* seals=: copies sent and not yet answered */

enum { AW_NONE, AW_LOGIN, AW_RESULT, AW_STORED, AW_SEALED, AW_RCPT, AW_LIST, AW_SYNC, AW_ANN };

/* An account and its devices, as RV_CONTACTS or RV_RECIPIENTS told. */
struct known {
    char user[BANTER_MAX_NAME + 1];
    size_t ndev;
    uint8_t dev[RV_DEVICES_MAX][RV_KEY_LEN];
};

typedef struct probe {
    int fd;
    session *s;
    identity *id;
    bool closed;
    bool mute;
    bool noack;                   /* do not answer RV_SEALED with RV_DELIVERED */
    bool keep;                    /* answer RV_SEALED with RV_KEEP */
    bool batch;                   /* hellob: RV_BATCH both ways */
    bool hold;                    /* batch: collect in ob, do not send yet */
    rvbatch ob;                   /* batch: what waits to go out as one RV_BATCH */
    bool raw;                     /* --raw: print search results' plaintext in hex */
    char ice_host[46];            /* icehost=: the candidate's address ("": 127.0.0.1) */
    bool has_org;                 /* --org: signatures are checked against org */
    uint8_t org[32];              /* (else against the key the server proved) */
    bool quiet_results;           /* searches=: do not print the results */
    int await;                    /* AW_*: what ends the current wait */
    bool done;                    /* the awaited answer came */
    bool authed;                  /* an RV_AUTH ok came */
    bool listing;                 /* a contact list started (reset) and is not complete */
    bool listed;                  /* the whole contact list came */
    char chat_to[MSG_TO_MAX + 1]; /* chatto=: the "to" of CHATs sealed */
    unsigned want;                /* AW_STORED, AW_SEALED: how many in all */
    unsigned n_stored;            /* RV_STOREDs received */
    unsigned n_sealed;            /* RV_SEALEDs received */
    unsigned n_ann;               /* RV_ANNOUNCEs and RV_REVOKEDs received */
    uint64_t rcpt_total;          /* the last RV_RECIPIENTS */
    size_t nknown;
    struct known known[KNOWN_MAX];
    uint64_t token;
    struct { /* target= */
        char user[BANTER_MAX_NAME + 1];
        uint8_t dev[RV_KEY_LEN];
        char value[BANTER_MAX_NAME * 2 + 1]; /* as a search value */
    } target;
    size_t in_off, in_len;
    uint8_t in[READ_CHUNK];
} probe;

/* s with bytes outside printable ASCII as \xNN. */
static void safe(char out[static SAFE_MAX], const char *s)
{
    size_t o = 0;
    for (const unsigned char *u = (const unsigned char *)s; *u && o + 5 < SAFE_MAX; u++) {
        if (*u < 0x20 || *u >= 0x7f)
            o += (size_t)snprintf(out + o, 5, "\\x%02x", *u);
        else
            out[o++] = (char)*u;
    }
    out[o] = '\0';
}

static void say(const char *line)
{
    printf("%s\n", line);
    fflush(stdout);
}

/* Write what the session queued. A failed write (the server closed) is
 * not an error of the probe: what the server said before is still read. */
static void flush_out(probe *p)
{
    size_t len;
    const uint8_t *b;
    if (p->hold)
        return;
    if ((b = rvbatch_plaintext(&p->ob, &len)) != NULL && session_send(p->s, b, len) != 0)
        fprintf(stderr, "rdv_probe: cannot send a batch\n");
    rvbatch_reset(&p->ob);
    while (!p->closed && (b = session_out(p->s, &len)) != NULL) {
        ssize_t w = send(p->fd, b, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            say("send failed");
            return;
        }
        session_out_consume(p->s, (size_t)w);
    }
}

/* The next session event before deadline. 1 with *ev, 0 on timeout, -1
 * when the connection ended (printed as "closed"). Not tnet_next: a failed
 * write is no error here (what the server said before it closed is still
 * read and printed), and batches are held back (flush_out). */
static int next_event(probe *p, session_event *ev, int64_t deadline)
{
    char line[64];
    for (;;) {
        size_t used;
        int r = session_feed(p->s, p->in + p->in_off, p->in_len - p->in_off, &used, ev);
        p->in_off += used;
        if (r < 0) {
            snprintf(line, sizeof line, "closed %s", banter_errname(r));
            say(line);
            return -1;
        }
        flush_out(p);
        if (r == 1)
            return 1;
        int64_t left = deadline - tnet_mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
        int pr = poll(&pfd, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0)
            return 0;
        ssize_t n = pr < 0 ? -1 : recv(p->fd, p->in, sizeof p->in, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            say("closed");
            return -1;
        }
        p->in_off = 0;
        p->in_len = (size_t)n;
    }
}

static void send_msg(probe *p, const msg *m)
{
    bool hold = p->hold;
    p->hold = false;
    flush_out(p); /* what was batched goes first */
    p->hold = hold;
    int r = session_send_msg(p->s, m);
    if (r)
        fprintf(stderr, "rdv_probe: cannot send %s: %s\n", msg_type_name((int)m->type),
                banter_strerror(r));
    flush_out(p);
}

/* The key that signs certificates, policies and revocation lists: --org
 * (an organisation with several instances, each proving its own key), or
 * the key the server proved. */
static const uint8_t *signer(const probe *p) { return p->has_org ? p->org : session_peer(p->s); }

/* A certificate: for us, from the server we talked to, valid now? */
static void show_cert(probe *p, const cert *c, char *line, size_t cap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    int r = cert_check(c, signer(p), identity_public(p->id), now);
    snprintf(line, cap, "recv cert user=%s server=%s device=%s check=%s days=%lld", c->name,
             memcmp(c->server, signer(p), 32) == 0 ? "ok" : "other",
             memcmp(c->device, identity_public(p->id), 32) == 0 ? "ok" : "other",
             r ? banter_errname(r) : "ok", (long long)((c->expires_ms - c->issued_ms) / 86400000));
}

static void show_result(const struct rv_search_result *res, char *line, size_t cap)
{
    char a[SAFE_MAX], b[SAFE_MAX], c[SAFE_MAX], u[3 * SAFE_MAX + BANTER_MAX_NAME + 128];
    size_t o = (size_t)snprintf(line, cap, "recv result total=%llu page=%u users=",
                                (unsigned long long)res->total, res->page);
    for (size_t i = 0; i < res->n && o < cap; i++)
        o += (size_t)snprintf(line + o, cap - o, "%s%s", i ? "," : "", res->users[i].name);
    say(line);
    for (size_t i = 0; i < res->n; i++) {
        const struct rv_profile *pr = &res->users[i].p;
        safe(a, pr->f[RV_F_DISPLAY_NAME] ? pr->f[RV_F_DISPLAY_NAME] : "-");
        safe(b, pr->f[RV_F_DEPARTMENT] ? pr->f[RV_F_DEPARTMENT] : "-");
        safe(c, pr->f[RV_F_TITLE] ? pr->f[RV_F_TITLE] : "-");
        snprintf(u, sizeof u, "recv user %s display_name=%s department=%s title=%s%s",
                 res->users[i].name, a, b, c, pr->f[RV_F_EMAIL] ? " email=present" : "");
        say(u);
    }
    line[0] = '\0';
}

static void hex(char *out, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

static int unhex(uint8_t *out, size_t n, const char *s)
{
    if (strlen(s) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}

/* The record of user, made when missing (NULL when the table is full). */
static struct known *known_of(probe *p, const char *user)
{
    for (size_t i = 0; i < p->nknown; i++)
        if (strcmp(p->known[i].user, user) == 0)
            return &p->known[i];
    if (p->nknown == KNOWN_MAX)
        return NULL;
    struct known *k = &p->known[p->nknown++];
    memset(k, 0, sizeof *k);
    snprintf(k->user, sizeof k->user, "%s", user);
    return k;
}

static void learn(probe *p, const char *user, size_t ndev, const uint8_t (*dev)[RV_KEY_LEN])
{
    struct known *k = known_of(p, user);
    if (!k)
        return;
    k->ndev = ndev;
    memcpy(k->dev, dev, ndev * RV_KEY_LEN);
}

static const char *dash(const char *s) { return s && *s ? s : "-"; }

static void show_contacts(probe *p, const struct rv_contacts *cs)
{
    char line[4 * SAFE_MAX + 256], a[SAFE_MAX], b[SAFE_MAX], t[SAFE_MAX];
    snprintf(line, sizeof line, "recv contacts reset=%d n=%zu", cs->reset ? 1 : 0, cs->n);
    say(line);
    if (cs->reset)
        p->listing = true;
    if (p->listing && cs->n < RV_CONTACTS_PER_MSG) {
        p->listing = false;
        p->listed = true;
        p->done |= p->await == AW_LIST;
    }
    for (size_t i = 0; i < cs->n; i++) {
        const struct rv_contact *c = &cs->c[i];
        safe(a, dash(c->p.f[RV_F_DISPLAY_NAME]));
        safe(b, dash(c->p.f[RV_F_DEPARTMENT]));
        safe(t, dash(c->text));
        snprintf(line, sizeof line,
                 "recv contact %s state=%s status=%s text=%s display_name=%s department=%s "
                 "devices=%zu",
                 c->name, rv_cstate_name(c->state),
                 c->state == RV_CS_APPROVED ? rv_presence_name(c->status) : "-", t, a, b, c->ndev);
        say(line);
        learn(p, c->name, c->ndev, (const uint8_t(*)[RV_KEY_LEN])c->dev);
    }
}

static void send_delivered(probe *p, const uint8_t *id, const uint8_t *from, bool keep);

/* An RV_SEALED: open it, check it, print it, answer RV_DELIVERED. */
static void show_sealed(probe *p, const struct rv_seal *s)
{
    char line[2 * SAFE_MAX + 256], idh[2 * RV_ID_LEN + 1], body[SAFE_MAX];
    const char *check = "ok";
    uint8_t from[32];
    size_t n = 0;
    uint8_t *pt = s->sealed_len > SEALED_OVERHEAD ? malloc(s->sealed_len - SEALED_OVERHEAD) : NULL;
    msg m = {0};
    hex(idh, s->id, RV_ID_LEN);
    int r = pt ? sealed_open(pt, &n, from, p->id, s->sealed, s->sealed_len) : BANTER_ETRUNCATED;
    if (r)
        check = banter_errname(r);
    else if (memcmp(from, s->device, 32) != 0)
        check = "EKEYMISMATCH";
    else if (msg_decode(&m, pt, n) != 0 || m.type != MSG_CHAT)
        check = "ENOTCHAT";
    else if (memcmp(m.u.chat.id, s->id, RV_ID_LEN) != 0)
        check = "EID";
    safe(body, m.type == MSG_CHAT && m.u.chat.body ? m.u.chat.body : "-");
    snprintf(line, sizeof line, "recv sealed from=%s id=%s flags=%u body=%s check=%s", s->user, idh,
             (unsigned)s->flags, body, check);
    say(line);
    if (m.type == MSG_CHAT)
        msg_clear(&m);
    free(pt);
    p->n_sealed++;
    p->done |= p->await == AW_SEALED && p->n_sealed >= p->want;
    if (!p->noack)
        send_delivered(p, s->id, s->device, p->keep);
}

/* The other rendezvous messages. line is left empty when printed here. */
static void show_rv_more(probe *p, rvmsg *m, char *line, size_t cap)
{
    char a[SAFE_MAX], idh[2 * RV_ID_LEN + 1], dv[2 * RV_KEY_LEN + 1];
    line[0] = '\0';
    if (m->type == RV_CONTACTS) {
        show_contacts(p, &m->u.contacts);
    } else if (m->type == RV_PRESENCE) {
        safe(a, dash(m->u.status.text));
        snprintf(line, cap, "recv presence %s %s text=%s", m->u.status.user,
                 rv_presence_name(m->u.status.status), a);
    } else if (m->type == RV_STORED) {
        static const char *const fates[] = {"stored", "delivered", "refused"};
        hex(idh, m->u.stored.id, RV_ID_LEN);
        hex(dv, m->u.stored.device, 4);
        snprintf(line, cap, "recv stored id=%s device=%s state=%s error=%s", idh, dv,
                 fates[m->u.stored.fate % 3], dash(m->u.stored.error));
        p->n_stored++;
        p->done |= p->await == AW_STORED && p->n_stored >= p->want;
    } else if (m->type == RV_SEALED) {
        show_sealed(p, &m->u.seal);
    } else if (m->type == RV_RECIPIENTS) {
        size_t o = (size_t)snprintf(line, cap, "recv recipients total=%llu page=%u users=",
                                    (unsigned long long)m->u.rcpt.total, m->u.rcpt.page);
        for (size_t i = 0; i < m->u.rcpt.n && o < cap; i++) {
            o += (size_t)snprintf(line + o, cap - o, "%s%s", i ? "," : "", m->u.rcpt.users[i].name);
            learn(p, m->u.rcpt.users[i].name, m->u.rcpt.users[i].ndev,
                  (const uint8_t(*)[RV_KEY_LEN])m->u.rcpt.users[i].dev);
        }
        p->rcpt_total = m->u.rcpt.total;
        p->done |= p->await == AW_RCPT;
    } else if (m->type == RV_ICE_SERVERS) {
        const struct rv_ice_servers *v = &m->u.ice_servers;
        snprintf(line, cap,
                 "recv ice servers stun=%s turn=%s username=%s password=%s expires_ms=%lld",
                 v->nstun ? v->stun[0] : "-", v->nturn ? v->turn[0] : "-", dash(v->username),
                 dash(v->password), (long long)v->expires_ms);
    } else if (m->type == RV_ICE_OFFER || m->type == RV_ICE_ANSWER || m->type == RV_ICE_END) {
        static const char *const kinds[] = {"offer", "answer", "end"};
        hex(dv, m->u.ice.device, 4);
        hex(idh, m->u.ice.session, 4);
        snprintf(line, cap, "recv ice %s user=%s device=%s session=%s cands=%zu error=%s",
                 kinds[m->type - RV_ICE_OFFER], m->u.ice.user, dv, idh, m->u.ice.ncand,
                 dash(m->u.ice.error));
    } else if (m->type == RV_PROBE_RESULT) {
        snprintf(line, cap, "recv probe port=%u result=%s address=%s", (unsigned)m->u.probe.port,
                 rv_probe_res_name(m->u.probe.result), dash(m->u.probe.address));
    } else {
        snprintf(line, cap, "recv rv type %02x", (unsigned)m->type);
    }
}

/* "recv raw HEX": a plaintext byte for byte. */
static void show_raw(const uint8_t *pt, size_t len)
{
    printf("recv raw ");
    for (size_t i = 0; i < len; i++)
        printf("%02x", pt[i]);
    printf("\n");
    fflush(stdout);
}

/* Print one rendezvous message. */
static void show_rv(probe *p, const uint8_t *pt, size_t len)
{
    char line[4 * SAFE_MAX + 64], a[SAFE_MAX];
    rvmsg m;
    int r = rvmsg_decode(&m, pt, len);
    if (r) {
        snprintf(line, sizeof line, "recv undecodable %s", banter_errname(r));
        say(line);
        return;
    }
    if (m.type == RV_AUTH && m.u.auth.ok) {
        snprintf(line, sizeof line, "recv auth ok user=%s admin=%d", m.u.auth.user,
                 m.u.auth.admin ? 1 : 0);
        p->authed = true;
    } else if (m.type == RV_AUTH) {
        safe(a, m.u.auth.error);
        snprintf(line, sizeof line, "recv auth fail error=%s retry_after_ms=%lld", a,
                 (long long)m.u.auth.retry_after_ms);
        p->authed = false;
        p->done |= p->await == AW_LOGIN;
    } else if (m.type == RV_CERT) {
        show_cert(p, &m.u.cert, line, sizeof line);
        p->done |= p->await == AW_LOGIN;
    } else if (m.type == RV_SEARCH_RESULT) {
        if (!p->quiet_results)
            show_result(&m.u.result, line, sizeof line);
        if (p->raw && !p->quiet_results)
            show_raw(pt, len);
        line[0] = '\0';
        p->done |= p->await == AW_RESULT;
    } else if (m.type == RV_STATUS) {
        safe(a, dash(m.u.status.text));
        char nd[24] = "-";
        if (m.u.status.has_devices)
            snprintf(nd, sizeof nd, "%zu", m.u.status.ndev);
        snprintf(line, sizeof line, "recv status %s text=%s devices=%s",
                 rv_presence_name(m.u.status.status), a, nd);
    } else {
        show_rv_more(p, &m, line, sizeof line);
    }
    if (line[0])
        say(line);
    rvmsg_clear(&m);
}

/* Print one message from the server; answer a PING. */
/* RV_POLICY: the signed policy, checked against the server's key. */
static void show_policy(probe *p, const uint8_t *pt, size_t len)
{
    char line[256];
    policy pol;
    int r = policy_decode(&pol, pt + 1, len - 1);
    if (r == 0)
        r = policy_check(&pol, signer(p));
    if (r)
        snprintf(line, sizeof line, "recv policy refused %s", banter_errname(r));
    else
        snprintf(line, sizeof line,
                 "recv policy serial=%llu max_file_mb=%lld history_days=%u auto_accept=%d "
                 "lan=%d public=%u",
                 (unsigned long long)pol.serial, (long long)pol.max_file_mb, pol.history_days,
                 !!(pol.flags & POLICY_F_AUTO), !!(pol.flags & POLICY_F_LAN), pol.public_fields);
    say(line);
}

/* RV_ANNOUNCE and RV_REVOKED. */
static void show_ann(probe *p, const uint8_t *pt, size_t len)
{
    static ann_msg m;
    static revlist l;
    char line[2 * SAFE_MAX + 64], a[SAFE_MAX], b[SAFE_MAX];
    int r;
    p->n_ann++;
    p->done |= p->await == AW_ANN && p->n_ann >= p->want;
    if (pt[0] == RV_ANNOUNCE) {
        r = ann_decode(&m, pt, len);
        if (r) {
            snprintf(line, sizeof line, "recv announce refused %s", banter_errname(r));
        } else {
            safe(a, m.department[0] ? m.department : "-");
            safe(b, m.text);
            snprintf(line, sizeof line, "recv announce id=%lld department=%s text=%s",
                     (long long)m.id, a, b);
        }
        say(line);
        return;
    }
    r = revlist_decode(&l, pt + 1, len - 1);
    if (r == 0 && memcmp(l.server, signer(p), 32) != 0)
        r = BANTER_EKEYMISMATCH;
    size_t o = 0;
    a[0] = '\0';
    for (size_t i = 0; r == 0 && i < l.n && o + 10 < sizeof a; i++) {
        hex(a + o, l.keys[i], 4);
        o += 8;
        a[o++] = i + 1 < l.n ? ',' : '\0';
        a[o] = '\0';
    }
    snprintf(line, sizeof line, "recv revoked n=%zu check=%s keys=%s", r ? 0 : l.n,
             r ? banter_errname(r) : "ok", a[0] ? a : "-");
    say(line);
}

static void show(probe *p, const uint8_t *pt, size_t len);

/* An RV_BATCH: each message as if it came alone; the answers to them go
 * out together. */
static void show_batch(probe *p, const uint8_t *pt, size_t len)
{
    char line[64];
    size_t n, ml;
    const uint8_t *m;
    int r = rvbatch_check(pt, len, &n);
    if (r)
        snprintf(line, sizeof line, "recv batch bad %s", banter_errname(r));
    else
        snprintf(line, sizeof line, "recv batch n=%zu", n);
    say(line);
    if (r)
        return;
    bool hold = p->hold;
    p->hold = true;
    rvbatch_iter it = rvbatch_iter_make(pt, len);
    while (rvbatch_next(&it, &m, &ml))
        show(p, m, ml);
    p->hold = hold;
    flush_out(p);
}

static void show(probe *p, const uint8_t *pt, size_t len)
{
    char line[2 * SAFE_MAX + 64], a[SAFE_MAX], b[SAFE_MAX], c[SAFE_MAX];
    msg m;
    if (len > 0 && pt[0] == RV_BATCH) {
        show_batch(p, pt, len);
        return;
    }
    if (len > 0 && rvmsg_owns(pt[0])) {
        show_rv(p, pt, len);
        return;
    }
    if (len > 0 && pt[0] == 0x62) {
        show_policy(p, pt, len);
        return;
    }
    if (len > 0 && (pt[0] == RV_ANNOUNCE || pt[0] == RV_REVOKED)) {
        show_ann(p, pt, len);
        return;
    }
    int r = msg_decode(&m, pt, len);
    if (r) {
        snprintf(line, sizeof line, "recv undecodable %s", banter_errname(r));
        say(line);
        return;
    }
    if (m.type == MSG_PONG && p->await == AW_SYNC && m.u.ping.token == p->token) {
        p->done = true; /* the barrier of sync: not printed */
        msg_clear(&m);
        return;
    }
    if (m.type == MSG_HELLO) {
        size_t o = 0;
        b[0] = '\0';
        for (size_t i = 0; i < m.u.hello.nfeatures && o < sizeof b / 2; i++)
            o += (size_t)snprintf(b + o, sizeof b - o, "%s%s", i ? "," : "", m.u.hello.features[i]);
        safe(a, m.u.hello.name);
        safe(c, b);
        snprintf(line, sizeof line, "recv hello name=%s features=%s", a, c);
    } else if (m.type == MSG_ERROR) {
        safe(a, m.u.error.code);
        snprintf(line, sizeof line, "recv error %s", a);
        p->done |= p->await != AW_NONE && p->await != AW_SYNC;
    } else if (m.type == MSG_BYE) {
        safe(a, m.u.bye.reason);
        snprintf(line, sizeof line, "recv bye %s", a);
    } else {
        snprintf(line, sizeof line, "recv %s", msg_type_name((int)m.type));
    }
    say(line);
    if (m.type == MSG_PING && !p->mute) {
        msg pong = {.type = MSG_PONG, .u.ping.token = m.u.ping.token};
        send_msg(p, &pong);
    }
    msg_clear(&m);
}

/* Print what arrives for ms; with until_quiet, until nothing came for ms. */
static void drain(probe *p, int ms, bool until_quiet)
{
    int64_t deadline = tnet_mono_ms() + ms;
    while (!p->closed) {
        session_event ev;
        int r = next_event(p, &ev, deadline);
        if (r < 0) {
            p->closed = true;
        } else if (r == 0) {
            if (until_quiet)
                say("quiet");
            return;
        } else if (ev.type == SESSION_EV_MESSAGE) {
            show(p, ev.data, ev.len);
            if (until_quiet)
                deadline = tnet_mono_ms() + ms;
            if (p->await != AW_NONE && p->done)
                return;
        }
    }
}

struct opts {
    const char *expect, *key, *source;
};

static int open_probe(probe *p, const char *host, const char *port, const struct opts *o)
{
    banter_rng rng = bcrypto_rng_system();
    char fp[IDENTITY_FP_LEN + 1], line[IDENTITY_FP_LEN + 16];
    const char *expect = o->expect;
    session_event ev;
    bool created;
    if (o->key ? identity_load_or_create(&p->id, o->key, rng, &created) != 0
               : identity_generate(&p->id, rng) != 0)
        return -1;
    session_config cfg = {.role = NOISE_INITIATOR, .id = p->id, .rng = rng};
    if (session_new(&p->s, &cfg) != 0)
        return -1;
    p->fd = tnet_dial("rdv_probe", host, port, o->source);
    if (p->fd < 0)
        return -1;
    flush_out(p);
    int64_t deadline = tnet_mono_ms() + CONNECT_MS;
    do {
        int r = next_event(p, &ev, deadline);
        if (r == 0)
            fprintf(stderr, "rdv_probe: no handshake in %d ms\n", CONNECT_MS);
        if (r <= 0)
            return -1;
    } while (ev.type != SESSION_EV_ESTABLISHED);
    identity_fingerprint(session_peer(p->s), fp);
    snprintf(line, sizeof line, "fingerprint %s", fp);
    say(line);
    char devh[2 * RV_KEY_LEN + 1], dline[2 * RV_KEY_LEN + 16];
    hex(devh, identity_public(p->id), RV_KEY_LEN);
    snprintf(dline, sizeof dline, "device %s", devh);
    say(dline);
    if (expect && !identity_fingerprint_has_prefix(fp, expect)) {
        fprintf(stderr, "rdv_probe: the server's fingerprint is %s, not %s\n", fp, expect);
        return -1;
    }
    return 0;
}

/* Send an rvmsg; 0 or -1 (the codec refused it). */
static int send_rv(probe *p, const rvmsg *m)
{
    buf b;
    buf_init(&b, 65536);
    int r = rvmsg_encode(m, &b);
    if (r == 0 && p->batch) {
        r = rvbatch_add(&p->ob, buf_data(&b), buf_len(&b));
        if (r == BANTER_ETOOBIG || r == BANTER_EINVAL) {
            bool hold = p->hold;
            p->hold = false;
            flush_out(p); /* full (or too large for one): what waits goes first */
            p->hold = hold;
            r = r == BANTER_ETOOBIG ? rvbatch_add(&p->ob, buf_data(&b), buf_len(&b))
                                    : session_send(p->s, buf_data(&b), buf_len(&b));
        }
    } else if (r == 0) {
        r = session_send(p->s, buf_data(&b), buf_len(&b));
    }
    buf_free(&b);
    if (r)
        fprintf(stderr, "rdv_probe: cannot send type %02x: %s\n", (unsigned)m->type,
                banter_strerror(r));
    flush_out(p);
    return r ? -1 : 0;
}

/* RV_DELIVERED (or RV_KEEP) for id, naming the sending device when from
 * is not NULL (always for RV_KEEP). */
static void send_delivered(probe *p, const uint8_t *id, const uint8_t *from, bool keep)
{
    rvmsg m = {.type = keep ? RV_KEEP : RV_DELIVERED};
    memcpy(m.u.stored.id, id, RV_ID_LEN);
    if (from) {
        memcpy(m.u.stored.from, from, RV_KEY_LEN);
        m.u.stored.has_from = true;
    }
    (void)send_rv(p, &m);
}

/* Seal m to one device of user and send the RV_SEAL with id. */
static int seal_msg(probe *p, const char *user, const uint8_t dev[32], const uint8_t id[16],
                    const msg *m, uint8_t flags);

/* Seal a CHAT with body to one device of user and send the RV_SEAL (id
 * given: one message id for all of a message's copies). */
static int seal_one(probe *p, const char *user, const uint8_t dev[32], const uint8_t id[16],
                    const char *body, uint8_t flags)
{
    msg chat = {.type = MSG_CHAT};
    memcpy(chat.u.chat.id, id, RV_ID_LEN);
    chat.u.chat.ts_ms = (int64_t)time(NULL) * 1000;
    chat.u.chat.body = (char *)body;
    chat.u.chat.body_len = strlen(body);
    chat.u.chat.broadcast = flags != 0;
    if (!flags)
        snprintf(chat.u.chat.to, sizeof chat.u.chat.to, "%s", p->chat_to);
    return seal_msg(p, user, dev, id, &chat, flags);
}

/* gjunk=USER:DEVHEX: a GROUP_MSG from this device for a group that does
 * not exist (random id), well formed up to its sender-key header (gkey.h:
 * version 1, group, this device, epoch 0, iteration 0) and random after,
 * as a contact could send to make the node wait for the group's state;
 * prints "gjunk id=ID". */
static int seal_gjunk(probe *p, const char *arg)
{
    char user[BANTER_MAX_NAME + 1], line[64], idh[2 * RV_ID_LEN + 1];
    uint8_t dev[RV_KEY_LEN], id[RV_ID_LEN], sealed[GKEY_OVERHEAD + 16];
    const char *c1 = strchr(arg, ':');
    if (!c1 || (size_t)(c1 - arg) > BANTER_MAX_NAME || unhex(dev, sizeof dev, c1 + 1) != 0)
        return -1;
    snprintf(user, sizeof user, "%.*s", (int)(c1 - arg), arg);
    banter_rng rng = bcrypto_rng_system();
    rng.fill(rng.ctx, id, sizeof id);
    rng.fill(rng.ctx, sealed, sizeof sealed);
    sealed[0] = 1;
    memcpy(sealed + 1 + GKEY_GROUP_LEN, identity_public(p->id), GKEY_DEVICE_LEN);
    memset(sealed + 1 + GKEY_GROUP_LEN + GKEY_DEVICE_LEN, 0, 8);
    msg m;
    if (msg_gmsg_init(&m, id, sealed, sizeof sealed) != 0)
        return -1;
    int r = seal_msg(p, user, dev, id, &m, 0);
    msg_clear(&m);
    hex(idh, id, RV_ID_LEN);
    snprintf(line, sizeof line, "gjunk id=%s", idh);
    say(line);
    return r;
}

static int seal_msg(probe *p, const char *user, const uint8_t dev[32], const uint8_t id[16],
                    const msg *m0, uint8_t flags)
{
    buf pt;
    buf_init(&pt, BANTER_MAX_PLAINTEXT);
    int r = msg_encode(m0, &pt);
    uint8_t *sealed = r ? NULL : malloc(buf_len(&pt) + SEALED_OVERHEAD);
    if (!r && !sealed)
        r = BANTER_ENOMEM;
    if (!r)
        r = sealed_seal(sealed, p->id, dev, buf_data(&pt), buf_len(&pt));
    if (!r) {
        rvmsg m = {.type = RV_SEAL};
        memcpy(m.u.seal.id, id, RV_ID_LEN);
        m.u.seal.flags = flags;
        snprintf(m.u.seal.user, sizeof m.u.seal.user, "%s", user);
        memcpy(m.u.seal.device, dev, RV_KEY_LEN);
        m.u.seal.sealed = sealed;
        m.u.seal.sealed_len = buf_len(&pt) + SEALED_OVERHEAD;
        r = send_rv(p, &m) ? BANTER_EINVAL : 0;
    }
    free(sealed);
    buf_free(&pt);
    return r;
}

/* One message to every known device of user; prints "seal id=... to=USER
 * devices=N". */
static int seal_user(probe *p, const char *user, const char *body, uint8_t flags)
{
    char line[256], idh[2 * RV_ID_LEN + 1];
    uint8_t id[RV_ID_LEN];
    struct known *k = known_of(p, user);
    size_t ndev = k ? k->ndev : 0;
    bcrypto_rng_system().fill(NULL, id, sizeof id);
    for (size_t i = 0; i < ndev; i++)
        if (seal_one(p, user, k->dev[i], id, body, flags) != 0)
            return -1;
    hex(idh, id, RV_ID_LEN);
    snprintf(line, sizeof line, "seal id=%s to=%s devices=%zu", idh, user, ndev);
    say(line);
    return 0;
}

/* Wait up to 5 s for the answer of the kind aw. */
static void await_answer(probe *p, int aw)
{
    p->await = aw;
    p->done = false;
    drain(p, aw == AW_STORED || aw == AW_SEALED ? AWAIT_MS : 5000, false);
    p->await = AW_NONE;
}

/* Wait until n RV_STOREDs (AW_STORED) or RV_SEALEDs (AW_SEALED) came in
 * all; prints "waited stored=K" or "waited sealed=K". */
static void await_count(probe *p, int aw, unsigned n)
{
    char line[64];
    p->want = n;
    if ((aw == AW_STORED ? p->n_stored : p->n_sealed) < n)
        await_answer(p, aw);
    snprintf(line, sizeof line, "waited %s=%u", aw == AW_STORED ? "stored" : "sealed",
             aw == AW_STORED ? p->n_stored : p->n_sealed);
    say(line);
}

/* bcast=DEPT:TEXT: every page of RV_BROADCAST_TO, then one broadcast
 * copy to each device of each recipient. */
static int broadcast(probe *p, const char *arg)
{
    const char *colon = strchr(arg, ':');
    char dept[65];
    if (!colon || (size_t)(colon - arg) > 64)
        return -1;
    snprintf(dept, sizeof dept, "%.*s", (int)(colon - arg), arg);
    size_t first = p->nknown;
    for (uint32_t page = 0;; page++) {
        rvmsg m = {.type = RV_BROADCAST_TO};
        snprintf(m.u.bto.department, sizeof m.u.bto.department, "%s", dept);
        m.u.bto.page = page;
        p->rcpt_total = 0;
        if (send_rv(p, &m) != 0)
            return -1;
        await_answer(p, AW_RCPT);
        if ((uint64_t)(page + 1) * RV_RCPT_PER_PAGE >= p->rcpt_total)
            break;
    }
    for (size_t i = first; i < p->nknown; i++)
        if (seal_user(p, p->known[i].user, colon + 1, RV_SEAL_BROADCAST) != 0)
            return -1;
    return 0;
}

/* sealto=USER:DEVHEX:TEXT (flags: RV_SEAL_BROADCAST for bsealto=) */
static int seal_to(probe *p, const char *arg, uint8_t flags)
{
    char user[BANTER_MAX_NAME + 1], devh[2 * RV_KEY_LEN + 1];
    uint8_t dev[RV_KEY_LEN], id[RV_ID_LEN];
    const char *c1 = strchr(arg, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2 || (size_t)(c1 - arg) > BANTER_MAX_NAME || (size_t)(c2 - c1 - 1) != 2 * RV_KEY_LEN)
        return -1;
    snprintf(user, sizeof user, "%.*s", (int)(c1 - arg), arg);
    snprintf(devh, sizeof devh, "%.*s", (int)(c2 - c1 - 1), c1 + 1);
    if (unhex(dev, sizeof dev, devh) != 0)
        return -1;
    bcrypto_rng_system().fill(NULL, id, sizeof id);
    return seal_one(p, user, dev, id, c2 + 1, flags);
}

#define AUTH_TEST_TTL_MS 86400000LL

static int parse_search(const char *arg, struct rv_search *q);

/* sealid=USER:DEVHEX:IDHEX:TEXT */
static int seal_id(probe *p, const char *arg)
{
    char user[BANTER_MAX_NAME + 1], h[2 * RV_KEY_LEN + 1];
    uint8_t dev[RV_KEY_LEN], id[RV_ID_LEN];
    const char *c1 = strchr(arg, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    const char *c3 = c2 ? strchr(c2 + 1, ':') : NULL;
    if (!c3 || (size_t)(c1 - arg) > BANTER_MAX_NAME || (size_t)(c2 - c1 - 1) != 2 * RV_KEY_LEN ||
        (size_t)(c3 - c2 - 1) != 2 * RV_ID_LEN)
        return -1;
    snprintf(user, sizeof user, "%.*s", (int)(c1 - arg), arg);
    snprintf(h, sizeof h, "%.*s", (int)(c2 - c1 - 1), c1 + 1);
    if (unhex(dev, sizeof dev, h) != 0)
        return -1;
    snprintf(h, sizeof h, "%.*s", (int)(c3 - c2 - 1), c2 + 1);
    if (unhex(id, sizeof id, h) != 0)
        return -1;
    return seal_one(p, user, dev, id, c3 + 1, 0);
}

/* target=USER:DEVHEX:VALUE */
static int set_target(probe *p, const char *arg)
{
    char h[2 * RV_KEY_LEN + 1];
    const char *c1 = strchr(arg, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2 || (size_t)(c1 - arg) > BANTER_MAX_NAME || (size_t)(c2 - c1 - 1) != 2 * RV_KEY_LEN ||
        strlen(c2 + 1) >= sizeof p->target.value || !c2[1])
        return -1;
    snprintf(p->target.user, sizeof p->target.user, "%.*s", (int)(c1 - arg), arg);
    snprintf(h, sizeof h, "%.*s", (int)(c2 - c1 - 1), c1 + 1);
    snprintf(p->target.value, sizeof p->target.value, "%s", c2 + 1);
    return unhex(p->target.dev, sizeof p->target.dev, h);
}

/* An ICE message of type t for device dev of user, well-formed: a fresh
 * session, and for an offer or answer credentials and one candidate line
 * (heap: rvmsg_clear frees it). 0, or 1 when out of memory. */
static int ice_for(rvmsg *m, rv_type t, const char *user, const uint8_t *dev, const char *host)
{
    m->type = t;
    snprintf(m->u.ice.user, sizeof m->u.ice.user, "%s", user);
    memcpy(m->u.ice.device, dev, RV_KEY_LEN);
    bcrypto_rng_system().fill(NULL, m->u.ice.session, RV_ICE_SESSION_LEN);
    if (t == RV_ICE_END)
        return 0;
    snprintf(m->u.ice.ufrag, sizeof m->u.ice.ufrag, "prob");
    snprintf(m->u.ice.pwd, sizeof m->u.ice.pwd, "probeprobeprobeprobepr");
    m->u.ice.cand = calloc(1, sizeof *m->u.ice.cand);
    if (!m->u.ice.cand)
        return 1;
    snprintf(m->u.ice.cand[0], sizeof m->u.ice.cand[0],
             "candidate:1 1 udp 2130706431 %s 9 typ host", host && *host ? host : "127.0.0.1");
    m->u.ice.ncand = 1;
    return 0;
}

/* ice=offer|answer|end:USER: an ICE message to the first device of USER
 * the probe learnt from its contact list (or the target's). */
static int ice_step(probe *p, const char *arg)
{
    static const char *const kinds[] = {"offer", "answer", "end"};
    static const rv_type types[] = {RV_ICE_OFFER, RV_ICE_ANSWER, RV_ICE_END};
    const char *colon = strchr(arg, ':');
    rvmsg m = {0};
    if (!colon || strlen(colon + 1) > BANTER_MAX_NAME)
        return -1;
    for (int i = 0; i < 3; i++) {
        if (strncmp(arg, kinds[i], (size_t)(colon - arg)) != 0 || kinds[i][colon - arg])
            continue;
        struct known *k = known_of(p, colon + 1);
        const uint8_t *dev = k && k->ndev ? k->dev[0] : p->target.dev;
        if (ice_for(&m, types[i], colon + 1, dev, p->ice_host) != 0)
            return -1;
        int r = send_rv(p, &m);
        rvmsg_clear(&m);
        return r ? -1 : 0;
    }
    return -1;
}

/* The well-formed rendezvous message of type t that send= sends (the
 * target's, or a made-up one for the server-to-node types). 0, 1 when the
 * probe has none for t. */
static int canonical_rv(probe *p, int t, rvmsg *m)
{
    memset(m, 0, sizeof *m);
    m->type = (rv_type)t;
    switch ((rv_type)t) {
    case RV_LOGIN: {
        uint8_t r[4];
        bcrypto_rng_system().fill(NULL, r, sizeof r);
        snprintf(m->u.login.user, sizeof m->u.login.user, "nosuch%02x%02x%02x%02x", r[0], r[1],
                 r[2], r[3]);
        snprintf(m->u.login.password, sizeof m->u.login.password, "wrong");
        return 0;
    }
    case RV_AUTH:
        snprintf(m->u.auth.error, sizeof m->u.auth.error, "EPASSWORD");
        return 0;
    case RV_LOGOUT:
        return 0;
    case RV_PROFILE_SET:
        m->u.profile.f[RV_F_ABOUT] = strdup("set by the authorization test");
        return m->u.profile.f[RV_F_ABOUT] ? 0 : 1;
    case RV_SEARCH:
        m->u.search = (struct rv_search){.n = 1, .per_page = 10};
        m->u.search.c[0].field = RV_F_PHONE;
        snprintf(m->u.search.c[0].value, sizeof m->u.search.c[0].value, "%s", p->target.value);
        return 0;
    case RV_CONTACT:
        m->u.contact.op = RV_OP_REQUEST;
        snprintf(m->u.contact.user, sizeof m->u.contact.user, "%s", p->target.user);
        return 0;
    case RV_STATUS:
    case RV_PRESENCE:
        m->u.status.status = t == RV_STATUS ? RV_P_AWAY : RV_P_ONLINE;
        snprintf(m->u.status.user, sizeof m->u.status.user, "%s", p->target.user);
        return 0;
    case RV_STORED:
    case RV_DELIVERED:
    case RV_KEEP:
        bcrypto_rng_system().fill(NULL, m->u.stored.id, RV_ID_LEN);
        memcpy(m->u.stored.device, p->target.dev, RV_KEY_LEN);
        memcpy(m->u.stored.from, p->target.dev, RV_KEY_LEN);
        return 0;
    case RV_SEARCH_RESULT:
    case RV_CONTACTS:
    case RV_BROADCAST_TO:
    case RV_RECIPIENTS:
        return 0; /* empty page, empty list, page 0 of everyone */
    case RV_CERT:
        return cert_issue(&m->u.cert, p->id, identity_public(p->id), p->target.user, 0,
                          AUTH_TEST_TTL_MS) == 0
                   ? 0
                   : 1;
    case RV_SEALED:
        snprintf(m->u.seal.user, sizeof m->u.seal.user, "%s", p->target.user);
        m->u.seal.sealed = (const uint8_t *)"x";
        m->u.seal.sealed_len = 1;
        return 0;
    case RV_ICE_SERVERS:
        return 0; /* no servers */
    case RV_ICE_OFFER:
    case RV_ICE_ANSWER:
    case RV_ICE_END:
        return ice_for(m, (rv_type)t, p->target.user, p->target.dev, p->ice_host);
    case RV_PROBE:
    case RV_PROBE_RESULT:
        m->u.probe.port = 9; /* discard: nothing listens there in the tests */
        m->u.probe.result = RV_PR_ERROR;
        return 0;
    default:
        return 1; /* RV_SEAL is sealed by send_type itself */
    }
}

/* The peer-protocol message of type t (docs/protocol.md) that send= sends:
 * HELLO, PING, PONG, ERROR, BYE well-formed, others as their bare type
 * byte (the server has no use for them). */
static void send_peer_type(probe *p, int t)
{
    msg m = {.type = (msg_type)t};
    if (t == MSG_HELLO) {
        m.u.hello.version = SESSION_VERSION;
        snprintf(m.u.hello.name, sizeof m.u.hello.name, "rdv_probe");
    } else if (t == MSG_PING || t == MSG_PONG) {
        m.u.ping.token = ++p->token;
    } else if (t == MSG_ERROR) {
        snprintf(m.u.error.code, sizeof m.u.error.code, "ETEST");
    } else if (t != MSG_BYE) {
        uint8_t b = (uint8_t)t;
        if (session_send(p->s, &b, 1) != 0)
            fprintf(stderr, "rdv_probe: cannot send type %02x\n", b);
        flush_out(p);
        return;
    }
    send_msg(p, &m);
}

/* send=HH. 0, or -1 when the probe has no message for the type. */
static int send_type(probe *p, const char *arg)
{
    char *end, line[64];
    unsigned long t = strtoul(arg, &end, 16);
    rvmsg m;
    if (end == arg || *end || t > 0x1ff)
        return -1;
    if (t == RV_SEAL || t == (RV_SEAL | 0x100)) { /* 145: with the broadcast flag */
        uint8_t id[RV_ID_LEN];
        unsigned base = p->n_stored;
        bcrypto_rng_system().fill(NULL, id, sizeof id);
        if (seal_one(p, p->target.user, p->target.dev, id, "authorization test",
                     t > 0xff ? RV_SEAL_BROADCAST : 0) != 0)
            return -1;
        p->want = base + 1;
        await_answer(p, AW_STORED);
        return 0;
    }
    if (rvmsg_owns((int)t)) {
        if (canonical_rv(p, (int)t, &m) != 0) {
            snprintf(line, sizeof line, "no message for type %02lx", t);
            say(line);
            return -1;
        }
        int r = send_rv(p, &m);
        rvmsg_clear(&m);
        if (r == 0 && t == RV_LOGIN)
            await_answer(p, AW_LOGIN);
        return 0;
    }
    if (t > 0x7f || strcmp(msg_type_name((int)t), "unknown") == 0) {
        snprintf(line, sizeof line, "no message for type %02lx", t);
        say(line);
        return -1;
    }
    send_peer_type(p, (int)t);
    return 0;
}

/* searches=N:PAGE:PER_PAGE:CRIT[,CRIT...] */
static int search_bench(probe *p, const char *arg)
{
    char *end, line[96];
    rvmsg m = {.type = RV_SEARCH};
    long n = strtol(arg, &end, 10);
    if (*end != ':' || n < 1 || n > 1000000 || parse_search(end + 1, &m.u.search) != 0)
        return -1;
    long answered = 0;
    int64_t t0 = tnet_mono_ms();
    p->quiet_results = true;
    for (long i = 0; i < n && !p->closed; i++) {
        if (send_rv(p, &m) != 0)
            break;
        await_answer(p, AW_RESULT);
        answered += p->done;
    }
    p->quiet_results = false;
    snprintf(line, sizeof line, "searches %ld answered %ld in %lld ms", n, answered,
             (long long)(tnet_mono_ms() - t0));
    say(line);
    return 0;
}

/* The steps of the authorization test and the measurements; 0, 1 when s
 * is not one of them, -1 for bad usage. */
static int rv_step3(probe *p, const char *s)
{
    if (strncmp(s, "sealid=", 7) == 0)
        return seal_id(p, s + 7);
    if (strncmp(s, "gjunk=", 6) == 0)
        return seal_gjunk(p, s + 6);
    if (strncmp(s, "chatto=", 7) == 0) {
        if (s[7] && !msg_chat_to_valid(s + 7))
            return -1;
        snprintf(p->chat_to, sizeof p->chat_to, "%s", s + 7);
        return 0;
    }
    if (strncmp(s, "searches=", 9) == 0)
        return search_bench(p, s + 9);
    if (strncmp(s, "target=", 7) == 0)
        return set_target(p, s + 7);
    if (strncmp(s, "ice=", 4) == 0)
        return ice_step(p, s + 4);
    if (strncmp(s, "icehost=", 8) == 0) {
        if (strlen(s + 8) >= sizeof p->ice_host)
            return -1;
        snprintf(p->ice_host, sizeof p->ice_host, "%s", s + 8);
        return 0;
    }
    if (strncmp(s, "send=", 5) == 0)
        return send_type(p, s + 5);
    if (strncmp(s, "mark=", 5) == 0) {
        printf("mark %s\n", s + 5);
        fflush(stdout);
        return 0;
    }
    if (strcmp(s, "sync") == 0) {
        msg ping = {.type = MSG_PING};
        ping.u.ping.token = ++p->token;
        send_msg(p, &ping);
        await_answer(p, AW_SYNC);
        return 0;
    }
    return 1;
}

/* The steps of contacts, presence and sealed copies; 0, 1 when s is not
 * one of them, -1 for bad usage. */
static int rv_step2(probe *p, const char *s)
{
    rvmsg m = {0};
    char *end;
    const char *colon = strchr(s, ':');
    if (strncmp(s, "contact=", 8) == 0) {
        m.type = RV_CONTACT;
        char op[16];
        if (!colon || colon - s - 8 >= (long)sizeof op)
            return -1;
        snprintf(op, sizeof op, "%.*s", (int)(colon - s - 8), s + 8);
        if (rv_op_parse(op, &m.u.contact.op) != 0)
            return -1;
        snprintf(m.u.contact.user, sizeof m.u.contact.user, "%s", colon + 1);
        return send_rv(p, &m) ? -1 : 0;
    }
    if (strncmp(s, "status=", 7) == 0) {
        char st[16];
        m.type = RV_STATUS;
        size_t n = colon ? (size_t)(colon - s - 7) : strlen(s + 7);
        if (n >= sizeof st)
            return -1;
        snprintf(st, sizeof st, "%.*s", (int)n, s + 7);
        if (rv_presence_parse(st, &m.u.status.status) != 0)
            return -1;
        snprintf(m.u.status.text, sizeof m.u.status.text, "%s", colon ? colon + 1 : "");
        return send_rv(p, &m) ? -1 : 0;
    }
    if (strncmp(s, "seal=", 5) == 0) {
        char user[BANTER_MAX_NAME + 1];
        if (!colon || colon - s - 5 > (long)BANTER_MAX_NAME)
            return -1;
        snprintf(user, sizeof user, "%.*s", (int)(colon - s - 5), s + 5);
        return seal_user(p, user, colon + 1, 0);
    }
    if (strncmp(s, "seals=", 6) == 0) {
        char user[BANTER_MAX_NAME + 1], body[32];
        long n = colon ? strtol(colon + 1, &end, 10) : -1;
        if (!colon || *end || n < 1 || n > 100000 || colon - s - 6 > (long)BANTER_MAX_NAME)
            return -1;
        snprintf(user, sizeof user, "%.*s", (int)(colon - s - 6), s + 6);
        struct known *k = known_of(p, user);
        unsigned per = k && k->ndev ? (unsigned)k->ndev : 1, base = p->n_stored;
        int ret = 0;
        p->hold = p->batch; /* batched: the copies between two waits go together */
        for (long i = 0; i < n && ret == 0; i++) {
            snprintf(body, sizeof body, "message %ld", i + 1);
            if (seal_user(p, user, body, 0) != 0)
                ret = -1;
            /* As a node would: at most SEAL_WINDOW copies unanswered. */
            unsigned sent = (unsigned)(i + 1) * per;
            if (ret == 0 && sent - (p->n_stored - base) >= SEAL_WINDOW) {
                p->hold = false;
                flush_out(p);
                p->want = base + sent - SEAL_WINDOW / 2;
                await_answer(p, AW_STORED);
                p->hold = p->batch;
            }
        }
        p->hold = false;
        flush_out(p);
        return ret;
    }
    if (strncmp(s, "sealto=", 7) == 0)
        return seal_to(p, s + 7, 0);
    if (strncmp(s, "bsealto=", 8) == 0)
        return seal_to(p, s + 8, RV_SEAL_BROADCAST);
    if (strncmp(s, "bcast=", 6) == 0)
        return broadcast(p, s + 6);
    if (strncmp(s, "probe=", 6) == 0) {
        long port = strtol(s + 6, &end, 10);
        if (end == s + 6 || *end || port < 1 || port > 65535)
            return -1;
        m.type = RV_PROBE;
        m.u.probe.port = (uint16_t)port;
        return send_rv(p, &m) == 0 ? 0 : -1;
    }
    if (strncmp(s, "bto=", 4) == 0) {
        m.type = RV_BROADCAST_TO;
        unsigned long page = colon ? strtoul(colon + 1, &end, 10) : 0;
        if (!colon || *end || colon - s - 4 > 64)
            return -1;
        snprintf(m.u.bto.department, sizeof m.u.bto.department, "%.*s", (int)(colon - s - 4),
                 s + 4);
        m.u.bto.page = (uint32_t)page;
        if (send_rv(p, &m) == 0)
            await_answer(p, AW_RCPT);
        return 0;
    }
    if (strncmp(s, "anns=", 5) == 0) {
        long n = strtol(s + 5, &end, 10);
        if (end == s + 5 || *end || n < 0 || n > 1000)
            return -1;
        p->want = (unsigned)n;
        if (p->n_ann < p->want) {
            p->await = AW_ANN;
            p->done = false;
            drain(p, AWAIT_MS, false);
            p->await = AW_NONE;
        }
        char w[32];
        snprintf(w, sizeof w, "waited anns=%u", p->n_ann);
        say(w);
        return 0;
    }
    if (strncmp(s, "stored=", 7) == 0 || strncmp(s, "sealed=", 7) == 0) {
        long n = strtol(s + 7, &end, 10);
        if (*end || n < 0 || n > 1000000)
            return -1;
        await_count(p, s[2] == 'o' ? AW_STORED : AW_SEALED, (unsigned)n);
        return 0;
    }
    if (strncmp(s, "junk=", 5) == 0) {
        /* A frame of N random bytes, not encrypted: the server must close. */
        long n = strtol(s + 5, &end, 10);
        if (*end || n < 1 || n > 65535)
            return -1;
        uint8_t *f = malloc((size_t)n + 2);
        if (!f)
            return -1;
        put_u16be(f, (uint16_t)n);
        bcrypto_rng_system().fill(NULL, f + 2, (size_t)n);
        for (size_t off = 0; off < (size_t)n + 2;) {
            ssize_t w = send(p->fd, f + off, (size_t)n + 2 - off, MSG_NOSIGNAL);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        free(f);
        return 0;
    }
    if (strcmp(s, "ready") == 0) {
        if (!p->listed)
            await_answer(p, AW_LIST);
        say(p->listed ? "ready" : "not ready");
        return 0;
    }
    if (strcmp(s, "noack") == 0 || strcmp(s, "ack") == 0 || strcmp(s, "keep") == 0) {
        p->noack = s[0] == 'n';
        p->keep = s[0] == 'k';
        return 0;
    }
    if (strncmp(s, "delivered=", 10) == 0) {
        uint8_t id[RV_ID_LEN], from[RV_KEY_LEN];
        char idh[2 * RV_ID_LEN + 1];
        const char *sep = strchr(s + 10, ':');
        if (strlen(s + 10) < 2 * RV_ID_LEN || (sep && sep - (s + 10) != 2 * RV_ID_LEN))
            return -1;
        memcpy(idh, s + 10, 2 * RV_ID_LEN);
        idh[2 * RV_ID_LEN] = '\0';
        if (unhex(id, sizeof id, idh) != 0 || (sep && unhex(from, sizeof from, sep + 1) != 0))
            return -1;
        send_delivered(p, id, sep ? from : NULL, false);
        return 0;
    }
    return rv_step3(p, s);
}

/* "USER:PASSWORD" into a login message. */
static int parse_login(const char *arg, rvmsg *m)
{
    const char *colon = strchr(arg, ':');
    m->type = RV_LOGIN;
    if (!colon || (size_t)(colon - arg) > BANTER_MAX_NAME || strlen(colon + 1) > RV_PASSWORD_MAX)
        return -1;
    memcpy(m->u.login.user, arg, (size_t)(colon - arg));
    snprintf(m->u.login.password, sizeof m->u.login.password, "%s", colon + 1);
    return 0;
}

/* "PAGE:PER_PAGE:CRIT[,CRIT...]" into a search. */
static int parse_search(const char *arg, struct rv_search *q)
{
    char tmp[1024], *save = NULL, *end;
    snprintf(tmp, sizeof tmp, "%s", arg);
    unsigned long page = strtoul(tmp, &end, 10);
    if (*end != ':')
        return -1;
    unsigned long per = strtoul(end + 1, &end, 10);
    if (*end != ':' || page > 1000000 || per > 1000)
        return -1;
    q->page = (uint32_t)page;
    q->per_page = (uint32_t)per;
    for (char *c = strtok_r(end + 1, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
        char *op = strpbrk(c, "=~");
        if (!op || q->n >= RV_SEARCH_MAX)
            return -1;
        struct rv_criterion *cr = &q->c[q->n++];
        cr->contains = *op == '~';
        *op = '\0';
        if (rv_field_parse(c, &cr->field) != 0)
            return -1;
        snprintf(cr->value, sizeof cr->value, "%s", op + 1);
    }
    return 0;
}

/* "USER:PASSWORD:N": N logins in a row on this connection, timed. */
static int bench_logins(probe *p, const char *arg)
{
    char tmp[1200], line[128];
    rvmsg m = {0};
    snprintf(tmp, sizeof tmp, "%s", arg);
    char *last = strrchr(tmp, ':'), *end;
    if (!last)
        return -1;
    *last = '\0';
    long n = strtol(last + 1, &end, 10);
    if (*end || n < 1 || n > 100000 || parse_login(tmp, &m) != 0)
        return -1;
    long ok = 0;
    int64_t t0 = tnet_mono_ms();
    for (long i = 0; i < n && !p->closed; i++) {
        p->authed = false;
        if (send_rv(p, &m) != 0)
            break;
        await_answer(p, AW_LOGIN);
        ok += p->authed;
    }
    rvmsg_clear(&m);
    snprintf(line, sizeof line, "logins %ld ok %ld in %lld ms", n, ok,
             (long long)(tnet_mono_ms() - t0));
    say(line);
    return 0;
}

/* The rendezvous steps; 0, 1 when s is not one of them, -1 for bad usage. */
static int rv_step(probe *p, const char *s)
{
    rvmsg m = {0};
    int r = 0;
    if (strncmp(s, "login=", 6) == 0) {
        r = parse_login(s + 6, &m);
        if (r == 0 && send_rv(p, &m) == 0)
            await_answer(p, AW_LOGIN);
    } else if (strcmp(s, "logout") == 0) {
        m.type = RV_LOGOUT;
        (void)send_rv(p, &m);
    } else if (strncmp(s, "profile=", 8) == 0) {
        const char *eq = strchr(s + 8, '=');
        char name[32];
        rv_field f;
        snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - s - 8) : 0, s + 8);
        m.type = RV_PROFILE_SET;
        if (!eq || rv_field_parse(name, &f) != 0 || f == RV_F_COUNT)
            return -1;
        m.u.profile.f[f] = strdup(eq + 1);
        (void)send_rv(p, &m);
    } else if (strncmp(s, "search=", 7) == 0) {
        m.type = RV_SEARCH;
        r = parse_search(s + 7, &m.u.search);
        if (r == 0 && send_rv(p, &m) == 0)
            await_answer(p, AW_RESULT);
    } else if (strncmp(s, "logins=", 7) == 0) {
        r = bench_logins(p, s + 7);
    } else {
        return rv_step2(p, s);
    }
    rvmsg_clear(&m);
    return r;
}

/* One step; 0, or -1 for a step that is not one (usage). */
/* xldevs=N: as an instance on a link (docs/rendezvous.md 8.3), N random
 * device keys in XL_DEV messages (op 1, 2000 keys each), each its own
 * transport message. */
static int xl_devs(probe *p, const char *arg)
{
    char *end;
    long n = strtol(arg, &end, 10);
    if (end == arg || *end || n < 1 || n > 10000000)
        return -1;
    banter_rng rng = bcrypto_rng_system();
    uint8_t *b = malloc(2 + 2000 * 32);
    if (!b)
        return -1;
    for (long done = 0; done < n && !p->closed;) {
        size_t k = n - done < 2000 ? (size_t)(n - done) : 2000;
        b[0] = 0x02; /* XL_DEV */
        b[1] = 0x01; /* up */
        rng.fill(rng.ctx, b + 2, k * 32);
        if (session_send(p->s, b, 2 + k * 32) != 0)
            break;
        flush_out(p);
        done += (long)k;
    }
    free(b);
    return 0;
}

static int step(probe *p, const char *s)
{
    msg m = {0};
    char *end;
    int rv = rv_step(p, s);
    if (rv <= 0)
        return rv;
    if (strcmp(s, "hellob") == 0) {
        m.type = MSG_HELLO;
        m.u.hello.version = SESSION_VERSION;
        snprintf(m.u.hello.name, sizeof m.u.hello.name, "rdv_probe");
        snprintf(m.u.hello.features[0], sizeof m.u.hello.features[0], RVBATCH_FEATURE);
        m.u.hello.nfeatures = 1;
        send_msg(p, &m);
        p->batch = true;
    } else if (strncmp(s, "bpings=", 7) == 0) {
        long n = strtol(s + 7, &end, 10);
        rvbatch b;
        if (end == s + 7 || *end || n < 1 || n > (long)BANTER_MAX_BATCH)
            return -1;
        rvbatch_init(&b);
        for (long i = 0; i < n; i++) {
            uint8_t ping[9] = {MSG_PING};
            uint64_t t = ++p->token;
            put_u64be(ping + 1, t);
            if (rvbatch_add(&b, ping, sizeof ping) != 0)
                return -1;
        }
        size_t len;
        const uint8_t *pt = rvbatch_plaintext(&b, &len);
        if (session_send(p->s, pt, len) != 0)
            fprintf(stderr, "rdv_probe: cannot send the batch\n");
        rvbatch_free(&b);
        flush_out(p);
    } else if (strncmp(s, "xldevs=", 7) == 0) {
        return xl_devs(p, s + 7);
    } else if (strncmp(s, "pt=", 3) == 0) {
        size_t n = strlen(s + 3) / 2;
        uint8_t *b = n ? malloc(n) : NULL;
        if (!b || strlen(s + 3) % 2 || unhex(b, n, s + 3) != 0) {
            free(b);
            return -1;
        }
        if (session_send(p->s, b, n) != 0)
            fprintf(stderr, "rdv_probe: cannot send the plaintext\n");
        free(b);
        flush_out(p);
    } else if (strcmp(s, "hello") == 0 || strcmp(s, "hellop") == 0 || strcmp(s, "helloa") == 0) {
        m.type = MSG_HELLO;
        m.u.hello.version = SESSION_VERSION;
        snprintf(m.u.hello.name, sizeof m.u.hello.name, "rdv_probe");
        if (s[5]) { /* a node that takes the organisation's policy */
            snprintf(m.u.hello.features[0], sizeof m.u.hello.features[0], "policy");
            m.u.hello.nfeatures = 1;
        }
        if (s[5] == 'a') { /* ... and announcements, the revocation list */
            snprintf(m.u.hello.features[1], sizeof m.u.hello.features[1], ANN_FEATURE);
            m.u.hello.nfeatures = 2;
        }
        send_msg(p, &m);
    } else if (strncmp(s, "arcpt=", 6) == 0) {
        ann_rcpt rc = {.id = strtoll(s + 6, &end, 10)};
        buf b;
        if (end == s + 6 || *end != ':' ||
            (strcmp(end + 1, "read") != 0 && strcmp(end + 1, "delivered") != 0))
            return -1;
        rc.read = strcmp(end + 1, "read") == 0;
        buf_init(&b, 256);
        if (ann_rcpt_encode(&rc, &b) != 0 || session_send(p->s, buf_data(&b), buf_len(&b)) != 0)
            fprintf(stderr, "rdv_probe: cannot send the receipt\n");
        buf_free(&b);
        flush_out(p);
    } else if (strcmp(s, "ping") == 0) {
        m.type = MSG_PING;
        m.u.ping.token = ++p->token;
        send_msg(p, &m);
    } else if (strcmp(s, "mute") == 0) {
        p->mute = true;
    } else if (strcmp(s, "bye") == 0) {
        m.type = MSG_BYE;
        send_msg(p, &m);
    } else if (strncmp(s, "type=", 5) == 0) {
        unsigned long t = strtoul(s + 5, &end, 16);
        if (end == s + 5 || *end || t > 0xff)
            return -1;
        uint8_t b = (uint8_t)t;
        if (session_send(p->s, &b, 1) != 0)
            fprintf(stderr, "rdv_probe: cannot send type %02x\n", b);
        flush_out(p);
    } else if (strncmp(s, "waitfile=", 9) == 0) {
        int waited = 0;
        while (access(s + 9, F_OK) != 0 && waited < 30000) {
            drain(p, 20, false);
            waited += 20;
        }
        say(access(s + 9, F_OK) == 0 ? "go" : "no go");
    } else if (strncmp(s, "wait=", 5) == 0) {
        long ms = strtol(s + 5, &end, 10);
        if (end == s + 5 || *end || ms < 0 || ms > 600000)
            return -1;
        drain(p, (int)ms, false);
    } else {
        return -1;
    }
    return 0;
}

/* --sql DB SQL: run the statements of SQL on the database DB (as the
 * tests' helper, so they need no sqlite3 program); prints the first column
 * of every row, one per line. */
static int run_sql(const char *path, const char *q)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(db, 5000);
    while (rc == SQLITE_OK && q && *q) {
        sqlite3_stmt *st = NULL;
        const char *tail = NULL;
        rc = sqlite3_prepare_v2(db, q, -1, &st, &tail);
        while (rc == SQLITE_OK && st && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            const unsigned char *t = sqlite3_column_text(st, 0);
            printf("%s\n", t ? (const char *)t : "");
            rc = SQLITE_OK;
        }
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
        sqlite3_finalize(st);
        q = tail;
    }
    if (rc != SQLITE_OK)
        fprintf(stderr, "rdv_probe: %s: %s\n", path, db ? sqlite3_errmsg(db) : "cannot open");
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : 1;
}

/* --key FILE --print-key: the device key (hex) of FILE, made when missing. */
static int print_key(const char *path)
{
    identity *id = NULL;
    bool created;
    char h[2 * RV_KEY_LEN + 1];
    if (bcrypto_init() != 0 ||
        identity_load_or_create(&id, path, bcrypto_rng_system(), &created) != 0)
        return 1;
    hex(h, identity_public(id), RV_KEY_LEN);
    printf("%s\n", h);
    identity_free(id);
    return 0;
}

int main(int argc, char **argv)
{
    probe p = {.fd = -1};
    rvbatch_init(&p.ob);
    struct opts o = {0};
    int i = 1, ret = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--raw") == 0) {
            p.raw = true;
            i--;
            continue;
        }
        if (strcmp(argv[i], "--expect-fp") == 0)
            o.expect = argv[i + 1];
        else if (strcmp(argv[i], "--key") == 0)
            o.key = argv[i + 1];
        else if (strcmp(argv[i], "--source") == 0)
            o.source = argv[i + 1];
        else if (strcmp(argv[i], "--org") == 0) {
            size_t got = 0;
            if (sodium_hex2bin(p.org, 32, argv[i + 1], strlen(argv[i + 1]), NULL, &got, NULL) !=
                    0 ||
                got != 32) {
                fprintf(stderr, "rdv_probe: --org takes a key in hex (64 digits)\n");
                return 2;
            }
            p.has_org = true;
        } else
            break;
    }
    if (argc - i == 1 && strcmp(argv[i], "--print-key") == 0 && o.key)
        return print_key(o.key);
    if (argc == 4 && strcmp(argv[1], "--sql") == 0)
        return run_sql(argv[2], argv[3]);
    if (argc - i < 2) {
        fprintf(
            stderr,
            "usage: rdv_probe [--expect-fp FP] [--key FILE] [--source ADDR] [--org HEX] [--raw] "
            "HOST PORT STEP...\n       rdv_probe --key FILE --print-key\n");
        return 2;
    }
    if (bcrypto_init() != 0 || open_probe(&p, argv[i], argv[i + 1], &o) != 0)
        goto out;
    ret = 0;
    for (int k = i + 2; k < argc; k++) {
        if (step(&p, argv[k]) != 0) {
            fprintf(stderr, "rdv_probe: unknown step \"%s\"\n", argv[k]);
            ret = 2;
            goto out;
        }
    }
    drain(&p, QUIET_MS, true);
out:
    if (p.fd >= 0)
        close(p.fd);
    session_free(p.s);
    identity_free(p.id);
    rvbatch_free(&p.ob);
    return ret;
}
