/* SPDX-License-Identifier: MIT */
/*
 * host.c - banter-plugin-host: one plug-in in a process of its own.
 *
 *   banter-plugin-host --fd N --name NAME --state DIR [--memory-mb M] PLUGIN.so
 *
 * The node starts it with one end of a Unix socket pair as fd N, loads
 * nothing else into it, and watches it: a heartbeat (PING, answered with
 * PONG from this loop), its resident memory, and its exit status. Before
 * loading the plug-in this program caps its own address space at
 * 2M + 256 MiB (RLIMIT_AS; the node's limit on resident memory is M) and
 * asks to be killed when its parent dies, so any supervisor can start it
 * as it is. This program dlopens the plug-in, checks its
 * ABI version (same major, minor at most ours: otherwise FAIL naming both
 * and exit 2), says HELLO, waits for its CONFIG, calls init, then runs one
 * poll() loop over the node's socket, the plug-in's fd watches and timers.
 * Every call into the plug-in happens on this thread, from this loop.
 *
 * The plug-in's key/value storage is DIR/kv.sqlite (SQLite, one table).
 * Exit status: 0 after QUIT, stop() or the node closing the socket; 2 when
 * the plug-in cannot be loaded or refused to start; 1 on a protocol or I/O
 * error. The wire protocol is shared/plugmsg.h.
 */
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "banter_plugin.h"
#include "plugmsg.h"
#include "utf8.h"

#define MAX_WATCHES 64
#define MAX_TIMERS  256
#define MAX_SUBS    64
#define KV_MAX_KEY  128u
#define KV_MAX_VAL  65536u
#define KV_MAX_KEYS 10000
#define KV_MAX_SIZE (64ll << 20) /* bytes of keys and values together */

struct banter_timer {
    bool used, repeat, removed;
    uint32_t ms;
    int64_t due;
    banter_timer_fn fn;
    void *ud;
};

struct banter_watch {
    bool used;
    int fd;
    unsigned events;
    banter_watch_fn fn;
    void *ud;
};

struct banter_event {
    banter_event_kind kind;
    const char *contact, *name, *text, *id;
    int64_t request;
    int status;
};

typedef struct sub {
    int id;
    uint32_t mask;
    banter_event_fn fn;
    void *ud;
} sub;

struct banter_ctx {
    int fd; /* the node */
    const char *name;
    const banter_plugin *pl;
    plugmsg config;
    sqlite3 *kv;
    buf in;
    bool quit;
    int status;
    int64_t next_request;
    int next_sub;
    uint32_t sent_mask;
    sub subs[MAX_SUBS];
    banter_timer timers[MAX_TIMERS];
    banter_watch watches[MAX_WATCHES];
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- to the node ---- */

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return BANTER_EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int send_msg(banter_ctx *c, const plugmsg *m)
{
    buf b;
    buf_init(&b, PLUG_MAX_FRAME + PLUG_HDR);
    int r = plugmsg_encode(m, &b);
    if (r == 0)
        r = write_all(c->fd, buf_data(&b), buf_len(&b));
    buf_free(&b);
    if (r == BANTER_EIO) /* the node is gone */
        c->quit = true;
    return r;
}

/* Text made acceptable to the codec: bad bytes become '?', cut to cap. */
static void clean_text(char *s, size_t cap)
{
    size_t n = strnlen(s, cap - 1);
    s[n] = '\0';
    while (n > 0 && !utf8_valid(s, n)) /* a cut character, or worse: cut before it */
        s[--n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] < 0x20 && s[i] != '\t' && s[i] != '\n') || s[i] == 0x7f)
            s[i] = '?';
}

static void fail(banter_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(banter_ctx *c, const char *fmt, ...)
{
    char text[PLUG_MAX_LINE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    clean_text(text, sizeof text);
    fprintf(stderr, "banter-plugin-host: %s: %s\n", c->name, text);
    plugmsg m = {.type = PLUG_FAIL, .text = text};
    (void)send_msg(c, &m);
}

/* ---- the host table ---- */

static void h_log(banter_ctx *c, int level, const char *fmt, ...)
{
    char text[PLUG_MAX_LINE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt ? fmt : "", ap);
    va_end(ap);
    clean_text(text, sizeof text);
    if (level < 0)
        level = 0;
    if (level > (int)PLUG_MAX_LEVEL)
        level = PLUG_MAX_LEVEL;
    plugmsg m = {.type = PLUG_LOG, .level = (uint8_t)level, .text = text};
    (void)send_msg(c, &m);
}

static const char *h_config_get(banter_ctx *c, const char *key)
{
    for (size_t i = 0; key && i < c->config.nconf; i++)
        if (strcmp(c->config.key[i], key) == 0)
            return c->config.value[i];
    return NULL;
}

static const char *h_name(banter_ctx *c) { return c->name; }

static int64_t h_send_message(banter_ctx *c, const char *contact, const char *text)
{
    if (!contact || !text)
        return BANTER_PLUGIN_EINVAL;
    plugmsg m = {
        .type = PLUG_SEND, .num = (uint64_t)++c->next_request, .contact = contact, .text = text};
    int r = send_msg(c, &m);
    if (r == BANTER_EIO)
        return BANTER_PLUGIN_EIO;
    return r ? BANTER_PLUGIN_EINVAL : c->next_request;
}

static void tell_mask(banter_ctx *c)
{
    uint32_t mask = 0;
    for (size_t i = 0; i < MAX_SUBS; i++)
        if (c->subs[i].id)
            mask |= c->subs[i].mask;
    mask |= BANTER_EV_BIT(BANTER_EV_SEND_RESULT); /* always: answers are not events asked for */
    if (mask == c->sent_mask)
        return;
    c->sent_mask = mask;
    plugmsg m = {.type = PLUG_SUBSCRIBE, .mask = mask};
    (void)send_msg(c, &m);
}

static int h_subscribe(banter_ctx *c, uint32_t mask, banter_event_fn fn, void *ud)
{
    if (!fn || mask == 0 || (mask & ~BANTER_EV_ALL))
        return BANTER_PLUGIN_EINVAL;
    for (size_t i = 0; i < MAX_SUBS; i++) {
        if (c->subs[i].id)
            continue;
        c->subs[i] = (sub){++c->next_sub, mask, fn, ud};
        tell_mask(c);
        return c->subs[i].id;
    }
    return BANTER_PLUGIN_ENOMEM;
}

static int h_unsubscribe(banter_ctx *c, int id)
{
    for (size_t i = 0; id > 0 && i < MAX_SUBS; i++) {
        if (c->subs[i].id == id) {
            c->subs[i].id = 0;
            tell_mask(c);
            return 0;
        }
    }
    return BANTER_PLUGIN_ENOENT;
}

static banter_event_kind ev_kind(const banter_event *e) { return e->kind; }
static const char *ev_contact(const banter_event *e) { return e->contact; }
static const char *ev_contact_name(const banter_event *e) { return e->name; }
static const char *ev_text(const banter_event *e) { return e->text; }
static const char *ev_id(const banter_event *e) { return e->id; }
static int64_t ev_request(const banter_event *e) { return e->request; }
static int ev_status(const banter_event *e) { return e->status; }

static banter_timer *h_timer_add(banter_ctx *c, uint32_t ms, int repeat, banter_timer_fn fn,
                                 void *ud)
{
    for (size_t i = 0; fn && i < MAX_TIMERS; i++) {
        banter_timer *t = &c->timers[i];
        if (t->used)
            continue;
        *t = (banter_timer){.used = true,
                            .repeat = repeat != 0,
                            .ms = ms,
                            .due = now_ms() + ms,
                            .fn = fn,
                            .ud = ud};
        return t;
    }
    return NULL;
}

static void h_timer_remove(banter_ctx *c, banter_timer *t)
{
    (void)c;
    if (t) {
        t->used = false;
        t->removed = true;
    }
}

static banter_watch *h_watch_fd(banter_ctx *c, int fd, unsigned events, banter_watch_fn fn,
                                void *ud)
{
    if (fd < 0 || !fn || !(events & (BANTER_IO_READ | BANTER_IO_WRITE)))
        return NULL;
    for (size_t i = 0; i < MAX_WATCHES; i++) {
        banter_watch *w = &c->watches[i];
        if (w->used)
            continue;
        *w = (banter_watch){true, fd, events, fn, ud};
        return w;
    }
    return NULL;
}

static void h_watch_remove(banter_ctx *c, banter_watch *w)
{
    (void)c;
    if (w)
        w->used = false;
}

static bool kv_key_ok(const char *key)
{
    size_t n = key ? strnlen(key, KV_MAX_KEY + 1) : 0;
    return n > 0 && n <= KV_MAX_KEY;
}

/* Whether key = len bytes stays within KV_MAX_KEYS and KV_MAX_SIZE (the
 * key's old value does not count): 0, BANTER_PLUGIN_EFULL or _EIO. */
static int kv_room(banter_ctx *c, const char *key, size_t len)
{
    sqlite3_stmt *st = NULL;
    int ret = BANTER_PLUGIN_EIO;
    if (sqlite3_prepare_v2(c->kv,
                           "SELECT count(*), coalesce(sum(length(k) + length(v)), 0) FROM kv "
                           "WHERE k != ?",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        int64_t n = sqlite3_column_int64(st, 0), size = sqlite3_column_int64(st, 1);
        bool fits = n < KV_MAX_KEYS && size + (int64_t)(strlen(key) + len) <= KV_MAX_SIZE;
        ret = fits ? 0 : BANTER_PLUGIN_EFULL;
    }
out:
    sqlite3_finalize(st);
    return ret;
}

static int h_kv_set(banter_ctx *c, const char *key, const void *val, size_t len)
{
    sqlite3_stmt *st = NULL;
    int ret = BANTER_PLUGIN_EIO;
    if (!kv_key_ok(key) || len > KV_MAX_VAL || (!val && len))
        return BANTER_PLUGIN_EINVAL;
    if (!c->kv)
        return BANTER_PLUGIN_EIO;
    ret = kv_room(c, key, len);
    if (ret)
        return ret;
    ret = BANTER_PLUGIN_EIO;
    if (sqlite3_prepare_v2(c->kv, "INSERT OR REPLACE INTO kv(k, v) VALUES(?, ?)", -1, &st, NULL) !=
        SQLITE_OK)
        goto out;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, len ? val : "", (int)len, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_DONE)
        ret = 0;
out:
    sqlite3_finalize(st);
    return ret;
}

static int h_kv_get(banter_ctx *c, const char *key, void *out, size_t cap, size_t *len)
{
    sqlite3_stmt *st = NULL;
    int ret = BANTER_PLUGIN_EIO;
    if (!kv_key_ok(key) || !len || (!out && cap))
        return BANTER_PLUGIN_EINVAL;
    if (!c->kv ||
        sqlite3_prepare_v2(c->kv, "SELECT v FROM kv WHERE k = ?", -1, &st, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int s = sqlite3_step(st);
    if (s == SQLITE_DONE) {
        ret = BANTER_PLUGIN_ENOENT;
    } else if (s == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        const void *v = sqlite3_column_blob(st, 0);
        *len = n;
        if (n > cap) {
            ret = BANTER_PLUGIN_ESPACE;
        } else {
            if (n)
                memcpy(out, v, n);
            ret = 0;
        }
    }
out:
    sqlite3_finalize(st);
    return ret;
}

static int h_kv_del(banter_ctx *c, const char *key)
{
    sqlite3_stmt *st = NULL;
    int ret = BANTER_PLUGIN_EIO;
    if (!kv_key_ok(key))
        return BANTER_PLUGIN_EINVAL;
    if (!c->kv ||
        sqlite3_prepare_v2(c->kv, "DELETE FROM kv WHERE k = ?", -1, &st, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_DONE)
        ret = sqlite3_changes(c->kv) ? 0 : BANTER_PLUGIN_ENOENT;
out:
    sqlite3_finalize(st);
    return ret;
}

static void h_stop(banter_ctx *c, const char *why)
{
    char text[PLUG_MAX_LINE];
    snprintf(text, sizeof text, "%s", why ? why : "");
    clean_text(text, sizeof text);
    plugmsg m = {.type = PLUG_STOP, .text = text};
    (void)send_msg(c, &m);
    c->quit = true;
}

static const banter_host HOST = {
    .size = sizeof(banter_host),
    .abi_major = BANTER_PLUGIN_ABI_MAJOR,
    .abi_minor = BANTER_PLUGIN_ABI_MINOR,
    .log = h_log,
    .config_get = h_config_get,
    .name = h_name,
    .send_message = h_send_message,
    .subscribe = h_subscribe,
    .unsubscribe = h_unsubscribe,
    .event_kind = ev_kind,
    .event_contact = ev_contact,
    .event_contact_name = ev_contact_name,
    .event_text = ev_text,
    .event_id = ev_id,
    .event_request = ev_request,
    .event_status = ev_status,
    .timer_add = h_timer_add,
    .timer_remove = h_timer_remove,
    .watch_fd = h_watch_fd,
    .watch_remove = h_watch_remove,
    .kv_set = h_kv_set,
    .kv_get = h_kv_get,
    .kv_del = h_kv_del,
    .stop = h_stop,
};

/* ---- from the node ---- */

static void dispatch_event(banter_ctx *c, const banter_event *ev)
{
    for (size_t i = 0; i < MAX_SUBS && !c->quit; i++) {
        sub s = c->subs[i]; /* a callback may unsubscribe */
        if (s.id && (s.mask & BANTER_EV_BIT(ev->kind)))
            s.fn(c, ev, s.ud);
    }
}

static void on_message(banter_ctx *c, const plugmsg *m)
{
    switch (m->type) {
    case PLUG_PING: {
        plugmsg p = {.type = PLUG_PONG, .num = m->num};
        (void)send_msg(c, &p);
        break;
    }
    case PLUG_EVENT: {
        banter_event ev = {(banter_event_kind)m->kind, m->contact, m->name, m->text, m->id, 0, 0};
        if (ev.kind != BANTER_EV_SEND_RESULT)
            dispatch_event(c, &ev);
        break;
    }
    case PLUG_SEND_RESULT: {
        banter_event ev = {BANTER_EV_SEND_RESULT, "", "", m->text, "", (int64_t)m->num,
                           -(int)m->status};
        dispatch_event(c, &ev);
        break;
    }
    case PLUG_QUIT:
        c->quit = true;
        break;
    default: /* CONFIG again: ignored */
        break;
    }
}

/* Handle the whole frames buffered, unless want: then stop at the first
 * message of that type and return it in *out (1). 0: no more whole frames;
 * < 0: the node broke the protocol (c->quit set). */
static int take_frames(banter_ctx *c, int want, plugmsg *out)
{
    while (!c->quit) {
        size_t len;
        plugmsg m;
        int r = plugmsg_frame(buf_data(&c->in), buf_len(&c->in), &len);
        if (r == 0 && len == 0)
            return 0;
        if (r == 0)
            r = plugmsg_decode(&m, buf_data(&c->in) + PLUG_HDR, len - PLUG_HDR, PLUG_FROM_NODE);
        if (r) {
            fprintf(stderr, "banter-plugin-host: %s: bad message from the node: %s\n", c->name,
                    banter_strerror(r));
            c->quit = true;
            c->status = 1;
            return r;
        }
        buf_consume(&c->in, len);
        if (want && (int)m.type == want) {
            *out = m;
            return 1;
        }
        on_message(c, &m);
        plugmsg_clear(&m);
    }
    return 0;
}

/* Read what the node sent, then take_frames. */
static int read_node(banter_ctx *c, int want, plugmsg *out)
{
    uint8_t *dst;
    if (buf_reserve(&c->in, 4096, &dst) != 0) {
        c->quit = true;
        return BANTER_ETOOBIG;
    }
    ssize_t n = read(c->fd, dst, 4096);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n <= 0) { /* the node closed: stop */
        c->quit = true;
        return BANTER_EIO;
    }
    buf_commit(&c->in, (size_t)n);
    return take_frames(c, want, out);
}

/* ---- the loop ---- */

static void run_timers(banter_ctx *c)
{
    int64_t now = now_ms();
    for (size_t i = 0; i < MAX_TIMERS && !c->quit; i++) {
        banter_timer *t = &c->timers[i];
        if (!t->used || t->due > now)
            continue;
        t->removed = false;
        if (t->repeat)
            t->due = now + (t->ms ? t->ms : 1);
        else
            t->used = false; /* freed after its callback */
        t->fn(c, t, t->ud);
    }
}

static int poll_timeout(const banter_ctx *c)
{
    int64_t now = now_ms(), best = -1;
    for (size_t i = 0; i < MAX_TIMERS; i++) {
        const banter_timer *t = &c->timers[i];
        if (!t->used)
            continue;
        int64_t d = t->due > now ? t->due - now : 0;
        if (best < 0 || d < best)
            best = d;
    }
    return best > 60000 ? 60000 : (int)best;
}

static void run_loop(banter_ctx *c)
{
    struct pollfd pf[MAX_WATCHES + 1];
    banter_watch *who[MAX_WATCHES + 1];
    while (!c->quit) {
        nfds_t n = 0;
        pf[n++] = (struct pollfd){.fd = c->fd, .events = POLLIN};
        for (size_t i = 0; i < MAX_WATCHES; i++) {
            banter_watch *w = &c->watches[i];
            if (!w->used)
                continue;
            short ev = (short)((w->events & BANTER_IO_READ ? POLLIN : 0) |
                               (w->events & BANTER_IO_WRITE ? POLLOUT : 0));
            who[n] = w;
            pf[n++] = (struct pollfd){.fd = w->fd, .events = ev};
        }
        int r = poll(pf, n, poll_timeout(c));
        if (r < 0 && errno != EINTR) {
            c->status = 1;
            break;
        }
        if (r > 0 && pf[0].revents)
            (void)read_node(c, 0, NULL);
        for (nfds_t i = 1; r > 0 && i < n && !c->quit; i++) {
            banter_watch *w = who[i];
            if (!pf[i].revents || !w->used || w->fd != pf[i].fd)
                continue;
            unsigned rev = (pf[i].revents & POLLIN ? BANTER_IO_READ : 0) |
                           (pf[i].revents & POLLOUT ? BANTER_IO_WRITE : 0) |
                           (pf[i].revents & (POLLERR | POLLHUP | POLLNVAL) ? BANTER_IO_ERROR : 0);
            w->fn(c, w, w->fd, rev, w->ud);
        }
        run_timers(c);
    }
}

/* ---- start ---- */

/* The plug-in's description, checked: NULL with the reason sent as FAIL. */
static const banter_plugin *load_plugin(banter_ctx *c, const char *path)
{
    void *so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!so) {
        fail(c, "cannot load %s: %s", path, dlerror());
        return NULL;
    }
    banter_plugin_entry_fn entry;
    void *sym = dlsym(so, BANTER_PLUGIN_ENTRY);
    memcpy(&entry, &sym, sizeof entry); /* POSIX: a function pointer from dlsym */
    if (!sym) {
        fail(c, "%s has no %s (not a Banter plug-in)", path, BANTER_PLUGIN_ENTRY);
        return NULL;
    }
    const banter_plugin *pl = entry();
    if (!pl || pl->size < offsetof(banter_plugin, fini) + sizeof pl->fini || !pl->init) {
        fail(c, "%s: %s gave no plug-in description", path, BANTER_PLUGIN_ENTRY);
        return NULL;
    }
    if (pl->abi_major != BANTER_PLUGIN_ABI_MAJOR || pl->abi_minor > BANTER_PLUGIN_ABI_MINOR) {
        fail(c,
             "%s was built for plug-in ABI %u.%u; this host has ABI %u.%u (%s): rebuild it "
             "against this banter_plugin.h",
             path, pl->abi_major, pl->abi_minor, BANTER_PLUGIN_ABI_MAJOR, BANTER_PLUGIN_ABI_MINOR,
             pl->abi_major != BANTER_PLUGIN_ABI_MAJOR ? "another major version"
                                                      : "an older minor version");
        return NULL;
    }
    return pl; /* the object stays loaded until exit */
}

static int open_kv(banter_ctx *c, const char *dir)
{
    char path[4200];
    if (snprintf(path, sizeof path, "%s/kv.sqlite", dir) >= (int)sizeof path)
        return BANTER_ETOOLONG;
    if (sqlite3_open(path, &c->kv) != SQLITE_OK ||
        sqlite3_exec(c->kv,
                     "PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS kv("
                     "k TEXT PRIMARY KEY, v BLOB NOT NULL)",
                     NULL, NULL, NULL) != SQLITE_OK) {
        fail(c, "cannot open its storage %s: %s", path, c->kv ? sqlite3_errmsg(c->kv) : "");
        return BANTER_EDB;
    }
    return 0;
}

static const char *copy_field(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s ? s : "");
    clean_text(dst, cap);
    return dst;
}

/* HELLO, then wait for CONFIG. */
static int greet(banter_ctx *c)
{
    char name[PLUG_MAX_NAME + 1], version[PLUG_MAX_NAME + 1], desc[PLUG_MAX_LINE];
    plugmsg h = {.type = PLUG_HELLO,
                 .major = c->pl->abi_major,
                 .minor = c->pl->abi_minor,
                 .name = copy_field(name, sizeof name, c->pl->name),
                 .version = copy_field(version, sizeof version, c->pl->version),
                 .text = copy_field(desc, sizeof desc, c->pl->description)};
    if (!name[0])
        h.name = c->name;
    int r = send_msg(c, &h);
    if (r)
        return r;
    for (;;) {
        r = take_frames(c, PLUG_CONFIG, &c->config);
        if (r == 0 && !c->quit) {
            struct pollfd pf = {.fd = c->fd, .events = POLLIN};
            if (poll(&pf, 1, -1) < 0 && errno != EINTR)
                return BANTER_EIO;
            r = read_node(c, PLUG_CONFIG, &c->config);
        }
        if (r == 1)
            return 0;
        if (r < 0 || c->quit)
            return r ? r : BANTER_EIO;
    }
}

static int usage(void)
{
    fprintf(stderr, "usage: banter-plugin-host --fd N --name NAME --state DIR [--memory-mb M] "
                    "PLUGIN.so\n"
                    "(started by the node for each plug-in; see docs/plugins.md)\n");
    return 2;
}

static long parse_num(const char *s, long max)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    return errno || *end || end == s || v < 0 || v > max ? -1 : v;
}

/* Die with the parent; cap the address space (M MiB resident: 2M + 256). */
static int confine(long memory_mb)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() == 1)
        return -1; /* no parent to watch over it: do not run */
    if (memory_mb > 0) {
        struct rlimit as;
        as.rlim_cur = as.rlim_max = ((rlim_t)memory_mb * 2 + 256) << 20;
        if (setrlimit(RLIMIT_AS, &as) != 0)
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    banter_ctx c = {.fd = -1, .name = "?"};
    const char *state = NULL, *path = NULL;
    long memory_mb = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--fd") == 0 && i + 1 < argc)
            c.fd = (int)parse_num(argv[++i], 65535);
        else if (strcmp(argv[i], "--memory-mb") == 0 && i + 1 < argc)
            memory_mb = parse_num(argv[++i], 1L << 20);
        else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
            c.name = argv[++i];
        else if (strcmp(argv[i], "--state") == 0 && i + 1 < argc)
            state = argv[++i];
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else
            return usage();
    }
    if (c.fd < 0 || !state || !path || memory_mb < 0)
        return usage();
    if (confine(memory_mb) != 0) {
        fprintf(stderr, "banter-plugin-host: cannot confine itself: %s\n", strerror(errno));
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    buf_init(&c.in, 2 * (PLUG_MAX_FRAME + PLUG_HDR));
    c.status = 2;
    c.pl = load_plugin(&c, path);
    if (!c.pl || greet(&c) != 0 || open_kv(&c, state) != 0)
        goto out;
    c.status = 0;
    int r = c.pl->init(&c, &HOST);
    if (r < 0) {
        fail(&c, "its init refused to start (%d)", r);
        c.status = 2;
        goto out;
    }
    tell_mask(&c);
    if (take_frames(&c, 0, NULL) == 0)
        run_loop(&c);
    if (c.pl->fini)
        c.pl->fini(&c);
out:
    plugmsg_clear(&c.config);
    sqlite3_close(c.kv);
    buf_free(&c.in);
    return c.status;
}
