/* SPDX-License-Identifier: MIT */
/* plugins.c - plug-in host processes: start, watch, restart (see plugins.h). */
#include "plugin/plugins.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "banter_plugin.h"
#include "core/contacts.h"
#include "plugconf.h"
#include "plugmsg.h"
#include "plugsup.h"
#include "selfexe.h"
#include "utf8.h"

#define OUT_CAP       (1u << 20) /* queued for a host that does not read: then it is killed */
#define SEND_RATE     10         /* messages a second a plug-in may send ... */
#define SEND_BURST    20         /* ... and at once */
#define STOP_GRACE_MS 1000

_Static_assert(PLUGCONF_MAX <= PLUGINS_MAX, "every configured plug-in has a place");
_Static_assert(PLUGCONF_NAME_MAX == PLUGIN_NAME_MAX, "one name length");
_Static_assert(PLUGSUP_ERROR_MAX == PLUGIN_ERROR_MAX, "one error length");

typedef struct plug {
    plugins *owner;
    plugconf_entry cf; /* its settings (whether enabled: sup) */
    plugsup sup;       /* state, checks, back-off */
    /* running */
    pid_t pid;
    int fd;
    guint rsrc, wsrc, child, hb, retry, grace;
    buf in, out;
    bool refusal_said;
    uint32_t mask;
    double tokens;
    int64_t tokens_ms;
} plug;

struct plugins {
    node *n;
    GMainContext *ctx;
    char home[4096];
    char host[4096];
    size_t count;
    plug *p[PLUGINS_MAX];
    bool subscribed;
    bool org_online;
};

static int64_t mono_ms(void) { return g_get_monotonic_time() / 1000; }

static void say(const plug *pl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const plug *pl, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    g_printerr("banter: plugin %s: %s\n", pl->cf.name, text);
}

static void sup_log(void *ud, const char *text) { say(ud, "%s", text); }

/* ---- configuration ---- */

static plug *find(plugins *p, const char *name, size_t len)
{
    for (size_t i = 0; i < p->count; i++)
        if (strlen(p->p[i]->cf.name) == len && memcmp(p->p[i]->cf.name, name, len) == 0)
            return p->p[i];
    return NULL;
}

/* A plug-in from its settings (taken: e is left empty). */
static plug *plug_new(plugins *p, plugconf_entry *e)
{
    plug *pl = g_new0(plug, 1);
    pl->owner = p;
    pl->cf = *e;
    e->nconf = 0; /* its settings are the plug's now */
    pl->fd = -1;
    plugsup_init(&pl->sup, pl->cf.enabled, sup_log, pl);
    buf_init(&pl->in, 2 * (PLUG_MAX_FRAME + PLUG_HDR));
    buf_init(&pl->out, OUT_CAP);
    return pl;
}

/* The host program: plugins.host, else beside our executable, else $PATH. */
static void find_host(plugins *p)
{
    if (p->host[0] || selfexe_sibling("banter-plugin-host", p->host, sizeof p->host) == 0)
        return;
    gchar *found = g_find_program_in_path("banter-plugin-host");
    snprintf(p->host, sizeof p->host, "%s", found ? found : "banter-plugin-host");
    g_free(found);
}

static bool marker_path(const plug *pl, char *out, size_t cap, const char *file)
{
    int n = snprintf(out, cap, "%s/plugins/%s%s%s", pl->owner->home, pl->cf.name, file ? "/" : "",
                     file ? file : "");
    return n > 0 && (size_t)n < cap;
}

/* ---- talking to a host ---- */

static void kill_host(plug *pl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void stop_io(plug *pl)
{
    if (pl->rsrc)
        g_source_remove(pl->rsrc);
    if (pl->wsrc)
        g_source_remove(pl->wsrc);
    if (pl->hb)
        g_source_remove(pl->hb);
    pl->rsrc = pl->wsrc = pl->hb = 0;
    if (pl->fd >= 0)
        close(pl->fd);
    pl->fd = -1;
    buf_free(&pl->in);
    buf_free(&pl->out);
}

static gboolean on_writable(gint fd, GIOCondition cond, gpointer ud);

static void flush(plug *pl)
{
    while (pl->fd >= 0 && buf_len(&pl->out) > 0) {
        ssize_t w = send(pl->fd, buf_data(&pl->out), buf_len(&pl->out), MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!pl->wsrc)
                pl->wsrc = g_unix_fd_add(pl->fd, G_IO_OUT, on_writable, pl);
            return;
        }
        if (w <= 0) {
            kill_host(pl, "its socket failed: %s", g_strerror(errno));
            return;
        }
        buf_consume(&pl->out, (size_t)w);
    }
    if (pl->wsrc && buf_len(&pl->out) == 0) {
        g_source_remove(pl->wsrc);
        pl->wsrc = 0;
    }
}

static gboolean on_writable(gint fd, GIOCondition cond, gpointer ud)
{
    (void)fd;
    (void)cond;
    plug *pl = ud;
    pl->wsrc = 0;
    flush(pl);
    return G_SOURCE_REMOVE;
}

static void send_to(plug *pl, const plugmsg *m)
{
    if (pl->fd < 0)
        return;
    int r = plugmsg_encode(m, &pl->out);
    if (r == BANTER_ETOOBIG) {
        kill_host(pl, "it does not read what the node sends (over %u KiB queued)", OUT_CAP >> 10);
        return;
    }
    if (r) /* our own message does not encode: say so, the plug-in is not to blame */
        say(pl, "a message to it was not sent: %s", banter_strerror(r));
    flush(pl);
}

/* SIGKILL it for the reason the engine kept. */
static void kill_kept(plug *pl)
{
    if (pl->pid <= 0)
        return;
    kill(pl->pid, SIGKILL);
    stop_io(pl); /* nothing more is read from it; its exit is reaped by on_child_exit */
}

static void kill_host(plug *pl, const char *fmt, ...)
{
    va_list ap;
    if (pl->pid <= 0)
        return;
    va_start(ap, fmt);
    plugsup_vkilling(&pl->sup, fmt, ap);
    va_end(ap);
    kill(pl->pid, SIGKILL);
    stop_io(pl); /* nothing more is read from it; its exit is reaped by on_child_exit */
}

/* ---- events to plug-ins ---- */

static bool may_use(plug *pl, const uint8_t *key)
{
    if (pl->cf.all_contacts)
        return true;
    if (!key || !pl->cf.contacts[0])
        return false;
    gchar **names = g_strsplit(pl->cf.contacts, ",", -1);
    bool ok = false;
    for (size_t i = 0; names[i] && !ok; i++) {
        uint8_t k[32];
        char why[128];
        store_contact c;
        g_strstrip(names[i]);
        if (strcmp(names[i], "@*") == 0) /* every organisation account, no LAN-only key */
            ok = store_contact_get(node_store(pl->owner->n), key, &c) == 0 && c.kind == CONTACT_ORG;
        else /* @account, a whole fingerprint, #id: that one; a plain name: only an
                established colleague's label (a LAN key can give itself any name
                not taken yet) */
            ok = names[i][0] &&
                 node_resolve(pl->owner->n, names[i], k, NULL, NULL, why, sizeof why) == 0 &&
                 memcmp(k, key, 32) == 0 &&
                 (contacts_names_one(names[i]) || node_contact_established(pl->owner->n, key));
    }
    g_strfreev(names);
    return ok;
}

static const char *out_state(const store_msg *m)
{
    switch (m->state) {
    case STORE_DELIVERED:
        return "delivered";
    case STORE_FAILED:
        return "failed";
    default:
        return "stored";
    }
}

/* The node's event as a plug-in event; false for events plug-ins do not see. */
static bool map_event(const node_event *ev, plugmsg *m)
{
    switch (ev->type) {
    case NODE_EV_MESSAGE:
        /* Not a copy of what another of our devices sent, and not what a
         * device whose key changed said in the contact's name (stored
         * marked unverified): a plug-in cannot tell it from the contact. */
        if (!ev->msg || ev->msg->dir != STORE_IN || (ev->msg->flags & STORE_MSG_UNTRUSTED))
            return false;
        m->kind = BANTER_EV_MESSAGE_IN;
        m->text = ev->msg->body;
        return true;
    case NODE_EV_DELIVERED:
        if (!ev->msg || ev->group) /* a group's message: no contact of the plug-in's */
            return false;
        m->kind = BANTER_EV_MESSAGE_OUT;
        m->text = out_state(ev->msg);
        return true;
    case NODE_EV_ONLINE:
    case NODE_EV_OFFLINE:
        m->kind = BANTER_EV_PRESENCE;
        m->text = ev->type == NODE_EV_ONLINE ? "online" : "offline";
        return true;
    case NODE_EV_PRESENCE:
        m->kind = BANTER_EV_PRESENCE;
        m->text = ev->status ? ev->status : "";
        return true;
    case NODE_EV_CONTACTS:
    case NODE_EV_RENAMED:
    case NODE_EV_KEY_CHANGED:
        m->kind = BANTER_EV_CONTACT;
        m->text = ev->text ? ev->text : "";
        return true;
    default:
        return false;
    }
}

static void deliver(plugins *p, const plugmsg *m, const uint8_t *key)
{
    for (size_t i = 0; i < p->count; i++) {
        plug *pl = p->p[i];
        if (plugsup_get_state(&pl->sup) != PLUGSUP_RUNNING || !(pl->mask & BANTER_EV_BIT(m->kind)))
            continue;
        if (key ? !may_use(pl, key) : (m->kind == BANTER_EV_CONTACT && !pl->cf.all_contacts))
            continue;
        send_to(pl, m);
    }
}

static void on_node_event(void *ud, const node_event *ev)
{
    plugins *p = ud;
    char handle[2 + 64], id[PLUG_MAX_ID + 1] = "", body[BANTER_MAX_BODY + 1];
    plugmsg m = {.type = PLUG_EVENT, .contact = "", .name = "", .id = id};
    if (node_org_online(p->n) != p->org_online) { /* login and logout, from any event */
        p->org_online = !p->org_online;
        plugmsg l = {.type = PLUG_EVENT,
                     .kind = p->org_online ? BANTER_EV_LOGIN : BANTER_EV_LOGOUT,
                     .text = p->org_online ? "logged in" : "logged out"};
        deliver(p, &l, NULL);
    }
    if (!map_event(ev, &m))
        return;
    if (ev->peer) {
        handle[0] = '#';
        for (size_t i = 0; i < 32; i++)
            snprintf(handle + 1 + 2 * i, 3, "%02x", ev->peer[i]);
        m.contact = handle;
        m.name = ev->name ? ev->name : "";
    }
    if (ev->msg)
        for (size_t i = 0; i < MSG_ID_LEN; i++)
            snprintf(id + 2 * i, 3, "%02x", ev->msg->id[i]);
    if (m.kind == BANTER_EV_MESSAGE_IN && ev->msg->body_len > BANTER_MAX_BODY)
        return;
    if (m.kind == BANTER_EV_MESSAGE_IN) { /* what the codec takes: no control bytes */
        memcpy(body, ev->msg->body, ev->msg->body_len + 1);
        for (char *c = body; *c; c++)
            if (((unsigned char)*c < 0x20 && *c != '\t' && *c != '\n') || *c == 0x7f)
                *c = ' ';
        m.text = body;
    }
    if (strlen(m.name) > PLUG_MAX_CONTACT)
        m.name = "";
    deliver(p, &m, ev->peer);
}

/* ---- what a host sends ---- */

/* Token bucket: SEND_RATE a second, SEND_BURST at once. */
static bool may_send_now(plug *pl)
{
    int64_t now = mono_ms();
    pl->tokens += (double)(now - pl->tokens_ms) * SEND_RATE / 1000.0;
    pl->tokens_ms = now;
    if (pl->tokens > SEND_BURST)
        pl->tokens = SEND_BURST;
    if (pl->tokens < 1.0)
        return false;
    pl->tokens -= 1.0;
    return true;
}

/* A refused send: one answer whether the contact exists or not, so a
 * plug-in given some contacts learns nothing of the others. */
static int refuse_contact(plug *pl, char *why, size_t cap)
{
    snprintf(why, cap, "not a contact this plug-in was given (plugin.%s.contacts)", pl->cf.name);
    if (!pl->refusal_said) /* once per start: a plug-in cannot flood the log */
        say(pl, "refused a message to a contact it was not given");
    pl->refusal_said = true;
    return BANTER_EPERM;
}

static void on_send(plug *pl, const plugmsg *m)
{
    char why[256] = "";
    uint8_t key[32], id[MSG_ID_LEN];
    int r;
    if (!may_send_now(pl)) {
        r = BANTER_EAGAIN;
        snprintf(why, sizeof why, "over %d messages a second", SEND_RATE);
    } else if ((r = node_resolve(pl->owner->n, m->contact, key, NULL, NULL, why, sizeof why)) !=
               0) {
        if (!pl->cf.all_contacts)
            r = refuse_contact(pl, why, sizeof why);
    } else if (!may_use(pl, key)) {
        r = refuse_contact(pl, why, sizeof why);
    } else {
        r = node_send_as(pl->owner->n, key, m->text, strlen(m->text), STORE_MSG_AUTO, id);
        snprintf(why, sizeof why, "%s", r ? banter_strerror(r) : "queued");
    }
    plugmsg res = {.type = PLUG_SEND_RESULT, .num = m->num, .status = (uint16_t)-r, .text = why};
    if (!utf8_valid(why, strlen(why)))
        res.text = banter_strerror(r);
    send_to(pl, &res);
}

static void on_host_message(plug *pl, const plugmsg *m)
{
    switch (plugsup_host_message(&pl->sup, m, mono_ms())) {
    case PLUGSUP_KILL:
        kill_kept(pl);
        break;
    case PLUGSUP_CONFIG: {
        plugmsg c;
        plugconf_entry_config(&pl->cf, &c);
        send_to(pl, &c);
        say(pl, "running (%s %s, pid %ld)", plugsup_name(&pl->sup), plugsup_version(&pl->sup),
            (long)pl->pid);
        break;
    }
    case PLUGSUP_PASS:
        if (m->type == PLUG_SEND)
            on_send(pl, m);
        else if (m->type == PLUG_SUBSCRIBE)
            pl->mask = m->mask;
        break;
    default:
        break;
    }
}

static gboolean on_readable(gint fd, GIOCondition cond, gpointer ud)
{
    plug *pl = ud;
    uint8_t *dst;
    (void)cond;
    if (buf_reserve(&pl->in, 8192, &dst) != 0) {
        pl->rsrc = 0;
        kill_host(pl, "sent more than it may at once");
        return G_SOURCE_REMOVE;
    }
    ssize_t n = read(fd, dst, 8192);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return G_SOURCE_CONTINUE;
    if (n <= 0) { /* it closed: its exit status tells the rest */
        pl->rsrc = 0;
        stop_io(pl);
        return G_SOURCE_REMOVE;
    }
    buf_commit(&pl->in, (size_t)n);
    while (pl->fd >= 0) {
        size_t len;
        plugmsg m;
        int r = plugmsg_frame(buf_data(&pl->in), buf_len(&pl->in), &len);
        if (r == 0 && len == 0)
            break;
        if (r == 0)
            r = plugmsg_decode(&m, buf_data(&pl->in) + PLUG_HDR, len - PLUG_HDR, PLUG_FROM_HOST);
        if (r) {
            pl->rsrc = 0;
            kill_host(pl, "sent a bad message (%s): killed", banter_strerror(r));
            return G_SOURCE_REMOVE;
        }
        buf_consume(&pl->in, len);
        on_host_message(pl, &m);
        plugmsg_clear(&m);
    }
    if (pl->fd < 0) { /* killed while handling: stop_io removed nothing of ours twice */
        pl->rsrc = 0;
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

/* Resident memory of pid in MiB, or 0 when unknown. */
static uint64_t resident_mb(pid_t pid)
{
    char path[64], text[128];
    snprintf(path, sizeof path, "/proc/%ld/statm", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    unsigned long long size = 0, res = 0;
    bool ok = fgets(text, sizeof text, f) && sscanf(text, "%llu %llu", &size, &res) == 2;
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return ok && page > 0 ? res * (uint64_t)page >> 20 : 0;
}

static gboolean on_heartbeat(gpointer ud)
{
    plug *pl = ud;
    uint64_t seq = 0;
    if (plugsup_heartbeat(&pl->sup, resident_mb(pl->pid), pl->cf.memory_mb, pl->cf.heartbeat_ms,
                          &seq) == PLUGSUP_KILL) {
        pl->hb = 0;
        kill_kept(pl);
        return G_SOURCE_REMOVE;
    }
    plugmsg m = {.type = PLUG_PING, .num = seq};
    send_to(pl, &m);
    return pl->hb ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* ---- processes ---- */

static void spawn(plug *pl);

static gboolean on_retry(gpointer ud)
{
    plug *pl = ud;
    pl->retry = 0;
    if (plugsup_get_state(&pl->sup) == PLUGSUP_BACKOFF)
        spawn(pl);
    return G_SOURCE_REMOVE;
}

static void on_child_exit(GPid pid, gint status, gpointer ud)
{
    plug *pl = ud;
    uint64_t delay = 0;
    g_spawn_close_pid(pid);
    pl->child = 0;
    pl->pid = 0;
    if (pl->grace)
        g_source_remove(pl->grace);
    pl->grace = 0;
    stop_io(pl);
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    switch (plugsup_exited(&pl->sup, code, sig, pl->owner->host, mono_ms(), &delay)) {
    case PLUGSUP_SPAWN:
        spawn(pl);
        break;
    case PLUGSUP_RETRY:
        pl->retry = g_timeout_add((guint)delay, on_retry, pl);
        break;
    default:
        break;
    }
}

/* Everything the child needs, made before fork (only async-signal-safe
 * calls after it). */
typedef struct child_args {
    char fd[16], state[4200], mb[24];
    char *argv[11];
} child_args;

static void child_run(const child_args *a, int sock)
{
    if (sock != 3) {
        if (dup2(sock, 3) < 0)
            _exit(127);
    } else {
        int fl = fcntl(3, F_GETFD);
        if (fl < 0 || fcntl(3, F_SETFD, fl & ~FD_CLOEXEC) < 0)
            _exit(127);
    }
    /* The node blocks SIGINT and SIGTERM in all its threads (app.c): the
     * host starts with none blocked. */
    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) != 0)
        _exit(127);
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the node */
    setpgid(0, 0);
    execv(a->argv[0], a->argv);
    _exit(127);
}

static void spawn(plug *pl)
{
    plugins *p = pl->owner;
    int sv[2];
    child_args a;
    char dir[4200];
    if (!marker_path(pl, a.state, sizeof a.state, NULL) || !marker_path(pl, dir, sizeof dir, NULL))
        return;
    snprintf(dir, sizeof dir, "%s/plugins", p->home);
    if ((mkdir(dir, 0700) != 0 && errno != EEXIST) ||
        (mkdir(a.state, 0700) != 0 && errno != EEXIST) ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        plugsup_start_failed(&pl->sup, "cannot start: %s", g_strerror(errno));
        return;
    }
    snprintf(a.fd, sizeof a.fd, "3");
    a.argv[0] = p->host;
    a.argv[1] = (char *)"--fd";
    a.argv[2] = a.fd;
    a.argv[3] = (char *)"--name";
    a.argv[4] = pl->cf.name;
    a.argv[5] = (char *)"--state";
    a.argv[6] = a.state;
    snprintf(a.mb, sizeof a.mb, "%llu", (unsigned long long)pl->cf.memory_mb);
    a.argv[7] = (char *)"--memory-mb"; /* the host caps its address space */
    a.argv[8] = a.mb;
    a.argv[9] = pl->cf.path;
    a.argv[10] = NULL;
    pid_t pid = fork();
    if (pid == 0)
        child_run(&a, sv[1]);
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        plugsup_start_failed(&pl->sup, "cannot start: fork: %s", g_strerror(errno));
        return;
    }
    g_unix_set_fd_nonblocking(sv[0], TRUE, NULL);
    pl->pid = pid;
    pl->fd = sv[0];
    pl->refusal_said = false;
    pl->mask = 0;
    pl->tokens_ms = mono_ms();
    plugsup_started(&pl->sup, pl->tokens_ms);
    pl->tokens = SEND_BURST;
    buf_init(&pl->in, 2 * (PLUG_MAX_FRAME + PLUG_HDR));
    buf_init(&pl->out, OUT_CAP);
    pl->rsrc = g_unix_fd_add(pl->fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_readable, pl);
    pl->hb = g_timeout_add(pl->cf.heartbeat_ms, on_heartbeat, pl);
    pl->child = g_child_watch_add(pid, on_child_exit, pl);
}

/* Stop one now: QUIT, a second to go, then SIGKILL. Blocks (shutdown only). */
static void stop_now(plug *pl)
{
    if (pl->retry)
        g_source_remove(pl->retry);
    if (pl->grace)
        g_source_remove(pl->grace);
    pl->retry = pl->grace = 0;
    if (pl->pid <= 0)
        return;
    if (pl->child)
        g_source_remove(pl->child);
    pl->child = 0;
    plugmsg q = {.type = PLUG_QUIT};
    if (plugsup_quit(&pl->sup, true) == PLUGSUP_QUIT)
        send_to(pl, &q);
    int status;
    pid_t r = 0;
    for (int i = 0; i < STOP_GRACE_MS / 10 && (r = waitpid(pl->pid, &status, WNOHANG)) == 0; i++)
        g_usleep(10000);
    if (r == 0) {
        kill(pl->pid, SIGKILL);
        (void)waitpid(pl->pid, &status, 0);
    }
    pl->pid = 0;
    stop_io(pl);
}

/* ---- public ---- */

int plugins_new(plugins **out, node *n, GMainContext *ctx, const char *home, const char *conf_path,
                char *why, size_t cap)
{
    plugins *p = g_new0(plugins, 1);
    p->n = n;
    p->ctx = ctx;
    snprintf(p->home, sizeof p->home, "%s", home);
    *out = NULL;
    plugconf pc;
    plugconf_init(&pc);
    int r = plugconf_load(&pc, conf_path, why, cap);
    if (r) {
        plugins_free(p);
        return r;
    }
    snprintf(p->host, sizeof p->host, "%s", pc.host);
    for (size_t i = 0; i < pc.count; i++) {
        plug *pl = p->p[p->count++] = plug_new(p, pc.e[i]);
        char marker[4300];
        if (marker_path(pl, marker, sizeof marker, "disabled") && access(marker, F_OK) == 0)
            plugsup_init(&pl->sup, false, sup_log, pl);
    }
    plugconf_clear(&pc); /* the entries' settings went to the plugs */
    find_host(p);
    *out = p;
    return 0;
}

void plugins_start(plugins *p)
{
    if (!p)
        return;
    if (!p->subscribed && p->count > 0) {
        node_subscribe(p->n, on_node_event, p);
        p->subscribed = true;
        p->org_online = node_org_online(p->n);
    }
    for (size_t i = 0; i < p->count; i++)
        if (plugsup_enabled(&p->p[i]->sup) && p->p[i]->pid <= 0)
            spawn(p->p[i]);
}

void plugins_free(plugins *p)
{
    if (!p)
        return;
    if (p->subscribed)
        node_unsubscribe(p->n, on_node_event, p);
    for (size_t i = 0; i < p->count; i++) {
        plug *pl = p->p[i];
        stop_now(pl);
        plugconf_entry_clear(&pl->cf);
        g_free(pl);
    }
    g_free(p);
}

int plugins_list(plugins *p, plugin_status **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    if (!p || p->count == 0)
        return 0;
    plugin_status *s = calloc(p->count, sizeof *s);
    if (!s)
        return BANTER_ENOMEM;
    int64_t now = mono_ms();
    for (size_t i = 0; i < p->count; i++) {
        const plug *pl = p->p[i];
        snprintf(s[i].name, sizeof s[i].name, "%s", pl->cf.name);
        snprintf(s[i].path, sizeof s[i].path, "%s", pl->cf.path);
        snprintf(s[i].state, sizeof s[i].state, "%s",
                 plugsup_state_name(plugsup_get_state(&pl->sup)));
        s[i].enabled = plugsup_enabled(&pl->sup);
        s[i].pid = pl->pid;
        s[i].restarts = plugsup_restarts(&pl->sup);
        s[i].retry_in_ms = pl->retry ? plugsup_retry_in_ms(&pl->sup, now) : 0;
        snprintf(s[i].version, sizeof s[i].version, "%s", plugsup_version(&pl->sup));
        snprintf(s[i].description, sizeof s[i].description, "%s", plugsup_description(&pl->sup));
        snprintf(s[i].last_error, sizeof s[i].last_error, "%s", plugsup_last_error(&pl->sup));
    }
    *out = s;
    *count = p->count;
    return 0;
}

static gboolean on_grace(gpointer ud)
{
    plug *pl = ud;
    pl->grace = 0;
    kill_host(pl, "did not stop within %d ms of being disabled: killed", STOP_GRACE_MS);
    return G_SOURCE_REMOVE;
}

static int set_marker(plug *pl, bool disabled)
{
    char dir[4200], marker[4300];
    if (!marker_path(pl, marker, sizeof marker, "disabled"))
        return BANTER_ETOOLONG;
    if (!disabled)
        return unlink(marker) == 0 || errno == ENOENT ? 0 : BANTER_EIO;
    snprintf(dir, sizeof dir, "%s/plugins", pl->owner->home);
    (void)mkdir(dir, 0700);
    marker_path(pl, dir, sizeof dir, NULL);
    (void)mkdir(dir, 0700);
    int fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return BANTER_EIO;
    close(fd);
    return 0;
}

/* What the engine said to do after enable, disable or restart. */
static void apply(plug *pl, plugsup_do d)
{
    if (d == PLUGSUP_SPAWN || d == PLUGSUP_QUIT || !plugsup_enabled(&pl->sup)) {
        if (pl->retry)
            g_source_remove(pl->retry);
        pl->retry = 0;
    }
    if (d == PLUGSUP_SPAWN) {
        spawn(pl);
    } else if (d == PLUGSUP_QUIT) { /* fini runs; killed if it takes long */
        plugmsg q = {.type = PLUG_QUIT};
        send_to(pl, &q);
        if (pl->pid > 0 && !pl->grace) /* send_to may have found it gone */
            pl->grace = g_timeout_add(STOP_GRACE_MS, on_grace, pl);
    }
}

int plugins_restart(plugins *p, const char *name, char *why, size_t cap)
{
    plug *pl = p ? find(p, name, strlen(name)) : NULL;
    if (pl && plugsup_enabled(&pl->sup) && pl->pid > 0 && !plugsup_quit_sent(&pl->sup)) {
        apply(pl, plugsup_enable(&pl->sup, true, true));
        snprintf(why, cap, "%s restarting", pl->cf.name);
        return 0;
    }
    return plugins_enable(p, name, true, why, cap);
}

int plugins_enable(plugins *p, const char *name, bool on, char *why, size_t cap)
{
    plug *pl = p ? find(p, name, strlen(name)) : NULL;
    if (!pl) {
        snprintf(why, cap, "no plug-in named \"%s\" in banter.conf (plugin.NAME.path)", name);
        return BANTER_ENOENT;
    }
    if (set_marker(pl, !on) != 0) {
        snprintf(why, cap, "cannot record it in %s/plugins/%s: %s", p->home, pl->cf.name,
                 g_strerror(errno));
        return BANTER_EIO;
    }
    apply(pl, on ? plugsup_enable(&pl->sup, false, pl->pid > 0)
                 : plugsup_disable(&pl->sup, pl->pid > 0));
    if (on)
        snprintf(why, cap, "%s enabled (%s)", pl->cf.name,
                 plugsup_state_name(plugsup_get_state(&pl->sup)));
    else
        snprintf(why, cap, "%s disabled", pl->cf.name);
    return 0;
}
