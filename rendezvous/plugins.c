/* SPDX-License-Identifier: MIT */
/* plugins.c - plug-in host processes on the server (see plugins.h). */
#include "plugins.h"

#include <cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banter_plugin.h"
#include "plugconf.h"
#include "plugmsg.h"
#include "plugsup.h"

#define OUT_CAP       (1u << 20)
#define STOP_GRACE_MS 1000

typedef struct rplug rplug;

/* One process and its socket; heap-allocated per start, freed once both
 * handles are closed (a new start does not wait for the old close). */
typedef struct proc {
    rplug *pl;
    uv_process_t process;
    uv_pipe_t pipe;
    int open; /* handles not closed yet */
    bool exited, pipe_closed;
} proc;

struct rplug {
    rplugins *owner;
    plugconf_entry cf; /* its settings (whether enabled: sup) */
    plugsup sup;       /* state, checks, back-off */
    proc *pr;
    uv_timer_t hb, retry, grace;
    buf in;
};

struct rplugins {
    core *k;
    char host[4096];
    char state_dir[4096];
    size_t count;
    rplug *p[PLUGCONF_MAX];
    bool closing;
};

static int64_t now_ms(const rplug *pl) { return (int64_t)uv_now(pl->owner->k->loop); }

static void sup_log(void *ud, const char *text)
{
    const rplug *pl = ud;
    core_log(pl->owner->k, "plugin %s: %s", pl->cf.name, text);
}

/* ---- the socket ---- */

static void kill_host(rplug *pl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void on_handle_closed(uv_handle_t *h)
{
    proc *pr = h->data;
    if (--pr->open == 0)
        free(pr);
}

static void close_pipe(rplug *pl)
{
    proc *pr = pl->pr;
    if (pr && !pr->pipe_closed) {
        pr->pipe_closed = true;
        uv_close((uv_handle_t *)&pr->pipe, on_handle_closed);
    }
    uv_timer_stop(&pl->hb);
    buf_free(&pl->in);
}

static void on_written(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

static void send_to(rplug *pl, const plugmsg *m)
{
    proc *pr = pl->pr;
    buf b;
    if (!pr || pr->pipe_closed)
        return;
    if (pr->pipe.write_queue_size > OUT_CAP) {
        kill_host(pl, "it does not read what the server sends (over %u KiB queued)", OUT_CAP >> 10);
        return;
    }
    buf_init(&b, PLUG_MAX_FRAME + PLUG_HDR);
    int r = plugmsg_encode(m, &b);
    uv_write_t *w = r ? NULL : malloc(sizeof *w + buf_len(&b));
    if (w) {
        memcpy(w + 1, buf_data(&b), buf_len(&b));
        uv_buf_t ub = uv_buf_init((char *)(w + 1), (unsigned)buf_len(&b));
        if (uv_write(w, (uv_stream_t *)&pr->pipe, &ub, 1, on_written) != 0)
            free(w);
    }
    buf_free(&b);
}

/* SIGKILL it for the reason the engine kept. */
static void kill_kept(rplug *pl)
{
    if (!pl->pr || pl->pr->exited)
        return;
    uv_process_kill(&pl->pr->process, SIGKILL);
    close_pipe(pl);
}

static void kill_host(rplug *pl, const char *fmt, ...)
{
    va_list ap;
    if (!pl->pr || pl->pr->exited)
        return;
    va_start(ap, fmt);
    plugsup_vkilling(&pl->sup, fmt, ap);
    va_end(ap);
    kill_kept(pl);
}

/* ---- what a host sends ---- */

static void on_host_message(rplug *pl, const plugmsg *m)
{
    switch (plugsup_host_message(&pl->sup, m, now_ms(pl))) {
    case PLUGSUP_KILL:
        kill_kept(pl);
        break;
    case PLUGSUP_CONFIG: {
        plugmsg c;
        plugconf_entry_config(&pl->cf, &c);
        send_to(pl, &c);
        core_log(pl->owner->k, "plugin %s: running (%s %s)", pl->cf.name, plugsup_name(&pl->sup),
                 plugsup_version(&pl->sup));
        break;
    }
    case PLUGSUP_PASS:
        if (m->type == PLUG_SEND) {
            plugmsg res = {.type = PLUG_SEND_RESULT,
                           .num = m->num,
                           .status = (uint16_t)-BANTER_EPERM,
                           .text = "a plug-in on the server sends no messages (a gateway is an "
                                   "account on a node)"};
            send_to(pl, &res);
        } /* SUBSCRIBE: it hears LOGIN and LOGOUT whatever it asks */
        break;
    default:
        break;
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    proc *pr = h->data;
    uint8_t *dst = NULL;
    (void)suggested;
    if (pr->pl && buf_reserve(&pr->pl->in, 8192, &dst) == 0)
        *b = uv_buf_init((char *)dst, 8192);
    else
        *b = uv_buf_init(NULL, 0);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    proc *pr = st->data;
    rplug *pl = pr->pl;
    (void)b;
    if (n == UV_ENOBUFS || (n < 0)) { /* over its share, or it closed: its exit tells */
        if (n == UV_ENOBUFS)
            kill_host(pl, "sent more than it may at once");
        else
            close_pipe(pl);
        return;
    }
    buf_commit(&pl->in, (size_t)n);
    while (pl->pr == pr && !pr->pipe_closed) {
        size_t len;
        plugmsg m;
        int r = plugmsg_frame(buf_data(&pl->in), buf_len(&pl->in), &len);
        if (r == 0 && len == 0)
            break;
        if (r == 0)
            r = plugmsg_decode(&m, buf_data(&pl->in) + PLUG_HDR, len - PLUG_HDR, PLUG_FROM_HOST);
        if (r) {
            kill_host(pl, "sent a bad message (%s): killed", banter_strerror(r));
            return;
        }
        buf_consume(&pl->in, len);
        on_host_message(pl, &m);
        plugmsg_clear(&m);
    }
}

/* Resident memory of pid in MiB, or 0 when unknown. */
static uint64_t resident_mb(int pid)
{
    char path[64], text[128];
    unsigned long long size = 0, res = 0;
    snprintf(path, sizeof path, "/proc/%d/statm", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    bool ok = fgets(text, sizeof text, f) && sscanf(text, "%llu %llu", &size, &res) == 2;
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return ok && page > 0 ? res * (uint64_t)page >> 20 : 0;
}

static void on_heartbeat(uv_timer_t *t)
{
    rplug *pl = t->data;
    uint64_t seq = 0;
    if (!pl->pr || pl->pr->exited)
        return;
    if (plugsup_heartbeat(&pl->sup, resident_mb(pl->pr->process.pid), pl->cf.memory_mb,
                          pl->cf.heartbeat_ms, &seq) == PLUGSUP_KILL) {
        kill_kept(pl);
        return;
    }
    plugmsg m = {.type = PLUG_PING, .num = seq};
    send_to(pl, &m);
}

/* ---- processes ---- */

static void on_timer_closed(uv_handle_t *h) { (void)h; }

static void spawn(rplug *pl);

static void on_retry(uv_timer_t *t)
{
    rplug *pl = t->data;
    if (plugsup_get_state(&pl->sup) == PLUGSUP_BACKOFF && !pl->owner->closing)
        spawn(pl);
}

static void on_grace(uv_timer_t *t)
{
    rplug *pl = t->data;
    kill_host(pl, "did not stop within %d ms: killed", STOP_GRACE_MS);
}

static void on_host_exit(uv_process_t *h, int64_t status, int sig)
{
    proc *pr = h->data;
    rplug *pl = pr->pl;
    pr->exited = true;
    uv_close((uv_handle_t *)&pr->process, on_handle_closed);
    if (!pl || pl->pr != pr)
        return;
    uv_timer_stop(&pl->grace);
    close_pipe(pl);
    pl->pr = NULL;
    pr->pl = NULL;
    if (pl->owner->closing) { /* the server stops: its grace timer goes too */
        uv_close((uv_handle_t *)&pl->grace, on_timer_closed);
        return;
    }
    uint64_t delay = 0;
    switch (plugsup_exited(&pl->sup, (int)status, sig, pl->owner->host, now_ms(pl), &delay)) {
    case PLUGSUP_SPAWN:
        spawn(pl);
        break;
    case PLUGSUP_RETRY:
        uv_timer_start(&pl->retry, on_retry, delay, 0);
        break;
    default:
        break;
    }
}

static void spawn(rplug *pl)
{
    rplugins *p = pl->owner;
    char dir[4200], mb[24], fd[] = "3";
    uv_os_sock_t sv[2];
    if (snprintf(dir, sizeof dir, "%s/%s", p->state_dir, pl->cf.name) >= (int)sizeof dir ||
        (mkdir(p->state_dir, 0700) != 0 && errno != EEXIST) ||
        (mkdir(dir, 0700) != 0 && errno != EEXIST) ||
        uv_socketpair(SOCK_STREAM, 0, sv, UV_NONBLOCK_PIPE, 0) != 0) {
        plugsup_start_failed(&pl->sup, "cannot start: %s", strerror(errno));
        return;
    }
    proc *pr = calloc(1, sizeof *pr);
    snprintf(mb, sizeof mb, "%llu", (unsigned long long)pl->cf.memory_mb);
    char *argv[] = {p->host, "--fd",        fd, "--name",    pl->cf.name, "--state",
                    dir,     "--memory-mb", mb, pl->cf.path, NULL};
    uv_stdio_container_t st[4] = {{.flags = UV_IGNORE},
                                  {.flags = UV_INHERIT_FD, .data.fd = 1},
                                  {.flags = UV_INHERIT_FD, .data.fd = 2},
                                  {.flags = UV_INHERIT_FD, .data.fd = sv[1]}};
    uv_process_options_t o = {
        .exit_cb = on_host_exit, .file = p->host, .args = argv, .stdio = st, .stdio_count = 4};
    int r = pr ? uv_spawn(p->k->loop, &pr->process, &o) : UV_ENOMEM;
    close(sv[1]);
    if (r != 0) {
        close(sv[0]);
        if (pr && r != UV_ENOMEM) { /* the handle was initialised: close it */
            pr->open = 1;
            pr->process.data = pr;
            uv_close((uv_handle_t *)&pr->process, on_handle_closed);
        } else {
            free(pr);
        }
        plugsup_start_failed(&pl->sup, "cannot start %s: %s", p->host, uv_strerror(r));
        return;
    }
    pr->pl = pl;
    pr->open = 2;
    pr->process.data = pr;
    uv_pipe_init(p->k->loop, &pr->pipe, 0);
    pr->pipe.data = pr;
    uv_pipe_open(&pr->pipe, sv[0]);
    pl->pr = pr;
    plugsup_started(&pl->sup, now_ms(pl));
    buf_init(&pl->in, 2 * (PLUG_MAX_FRAME + PLUG_HDR));
    uv_read_start((uv_stream_t *)&pr->pipe, on_alloc, on_read);
    uv_timer_start(&pl->hb, on_heartbeat, pl->cf.heartbeat_ms, pl->cf.heartbeat_ms);
}

/* QUIT, then SIGKILL after STOP_GRACE_MS. */
static void stop(rplug *pl)
{
    if (plugsup_quit(&pl->sup, pl->pr != NULL) != PLUGSUP_QUIT)
        return;
    plugmsg q = {.type = PLUG_QUIT};
    send_to(pl, &q);
    uv_timer_start(&pl->grace, on_grace, STOP_GRACE_MS, 0);
}

/* ---- public ---- */

int rplugins_new(rplugins **out, core *k, const char *conf_path, const char *state_dir, char *why,
                 size_t cap)
{
    plugconf pc;
    rplugins *p = calloc(1, sizeof *p);
    *out = NULL;
    if (!p)
        return BANTER_ENOMEM;
    p->k = k;
    snprintf(p->state_dir, sizeof p->state_dir, "%s", state_dir);
    plugconf_init(&pc);
    int r = conf_path ? plugconf_load(&pc, conf_path, why, cap) : 0;
    for (size_t i = 0; r == 0 && i < pc.count; i++) {
        rplug *pl = calloc(1, sizeof *pl);
        if (!pl) {
            r = BANTER_ENOMEM;
            break;
        }
        pl->owner = p;
        pl->cf = *pc.e[i];
        pc.e[i]->nconf = 0; /* its settings are the plug's now */
        plugsup_init(&pl->sup, pl->cf.enabled, sup_log, pl);
        uv_timer_init(k->loop, &pl->hb);
        uv_timer_init(k->loop, &pl->retry);
        uv_timer_init(k->loop, &pl->grace);
        pl->hb.data = pl->retry.data = pl->grace.data = pl;
        p->p[p->count++] = pl;
    }
    snprintf(p->host, sizeof p->host, "%s", pc.host[0] ? pc.host : "");
    plugconf_clear(&pc);
    if (!p->host[0]) { /* beside this program, else on $PATH */
        char self[4096];
        size_t n = sizeof self;
        if (uv_exepath(self, &n) == 0 && strrchr(self, '/')) {
            *strrchr(self, '/') = '\0';
            snprintf(p->host, sizeof p->host, "%.4000s/banter-plugin-host", self);
        }
        if (access(p->host, X_OK) != 0)
            snprintf(p->host, sizeof p->host, "/usr/bin/banter-plugin-host");
    }
    *out = p;
    return r;
}

void rplugins_start(rplugins *p)
{
    for (size_t i = 0; p && i < p->count; i++)
        if (plugsup_enabled(&p->p[i]->sup) && !p->p[i]->pr)
            spawn(p->p[i]);
}

void rplugins_close(rplugins *p)
{
    if (!p || p->closing)
        return;
    p->closing = true;
    for (size_t i = 0; i < p->count; i++) {
        rplug *pl = p->p[i];
        uv_timer_stop(&pl->retry);
        uv_timer_stop(&pl->hb);
        uv_close((uv_handle_t *)&pl->hb, on_timer_closed);
        uv_close((uv_handle_t *)&pl->retry, on_timer_closed);
        if (pl->pr) { /* QUIT, and the end of its socket: fini runs; killed after the grace */
            stop(pl);
            close_pipe(pl);
        } else {
            uv_close((uv_handle_t *)&pl->grace, on_timer_closed);
        }
    }
}

void rplugins_free(rplugins *p)
{
    for (size_t i = 0; p && i < p->count; i++) {
        plugconf_entry_clear(&p->p[i]->cf);
        buf_free(&p->p[i]->in);
        free(p->p[i]);
    }
    free(p);
}

static void tell_all(rplugins *p, banter_event_kind kind, const char *account, const char *text)
{
    char who[PLUG_MAX_CONTACT + 1];
    if (!p || p->closing || snprintf(who, sizeof who, "@%s", account) >= (int)sizeof who)
        return;
    plugmsg m = {.type = PLUG_EVENT, .kind = kind, .contact = who, .name = account, .text = text};
    for (size_t i = 0; i < p->count; i++)
        if (plugsup_get_state(&p->p[i]->sup) == PLUGSUP_RUNNING)
            send_to(p->p[i], &m);
}

void rplugins_account(rplugins *p, const char *account, bool up)
{
    tell_all(p, up ? BANTER_EV_LOGIN : BANTER_EV_LOGOUT, account, up ? "logged in" : "logged out");
}

void rplugins_stored(rplugins *p, const char *account)
{
    tell_all(p, BANTER_EV_STORED, account, "a message waits");
}

/* ---- the control socket ---- */

static rplug *find(rplugins *p, const char *name)
{
    for (size_t i = 0; p && i < p->count; i++)
        if (strcmp(p->p[i]->cf.name, name) == 0)
            return p->p[i];
    return NULL;
}

static int switch_one(rplug *pl, const char *action)
{
    bool alive = pl->pr != NULL, restart = strcmp(action, "restart") == 0;
    plugsup_do d;
    if (strcmp(action, "disable") == 0)
        d = plugsup_disable(&pl->sup, alive);
    else if (restart || strcmp(action, "enable") == 0)
        d = plugsup_enable(&pl->sup, restart, alive);
    else
        return BANTER_EINVAL;
    if (d == PLUGSUP_SPAWN || !plugsup_enabled(&pl->sup))
        uv_timer_stop(&pl->retry);
    if (d == PLUGSUP_SPAWN) {
        spawn(pl);
    } else if (d == PLUGSUP_QUIT) { /* QUIT, then SIGKILL after STOP_GRACE_MS */
        plugmsg q = {.type = PLUG_QUIT};
        send_to(pl, &q);
        uv_timer_start(&pl->grace, on_grace, STOP_GRACE_MS, 0);
    }
    return 0;
}

static void list_json(rplugins *p, char *out, size_t cap)
{
    cJSON *a = cJSON_CreateArray();
    int64_t now = (int64_t)uv_now(p->k->loop);
    for (size_t i = 0; a && i < p->count; i++) {
        const rplug *pl = p->p[i];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(a, o))
            break;
        cJSON_AddStringToObject(o, "name", pl->cf.name);
        cJSON_AddStringToObject(o, "path", pl->cf.path);
        cJSON_AddStringToObject(o, "state", plugsup_state_name(plugsup_get_state(&pl->sup)));
        cJSON_AddBoolToObject(o, "enabled", plugsup_enabled(&pl->sup));
        cJSON_AddNumberToObject(o, "pid", pl->pr ? pl->pr->process.pid : 0);
        cJSON_AddNumberToObject(o, "restarts", plugsup_restarts(&pl->sup));
        cJSON_AddNumberToObject(o, "retry_in_ms", (double)plugsup_retry_in_ms(&pl->sup, now));
        cJSON_AddStringToObject(o, "version", plugsup_version(&pl->sup));
        cJSON_AddStringToObject(o, "description", plugsup_description(&pl->sup));
        cJSON_AddStringToObject(o, "last_error", plugsup_last_error(&pl->sup));
    }
    char *text = a ? cJSON_PrintUnformatted(a) : NULL;
    if (text && strlen(text) + 5 <= cap)
        snprintf(out, cap, "ok %s\n", text);
    else
        snprintf(out, cap, "error %s\n", text ? "the list is too long" : "out of memory");
    cJSON_free(text);
    cJSON_Delete(a);
}

void rplugins_ctl(rplugins *p, const char *line, char *out, size_t cap)
{
    char action[16] = "list", name[PLUGCONF_NAME_MAX + 2] = "";
    int n = sscanf(line, "plugins %15s %33s", action, name);
    if (!p || p->closing) {
        snprintf(out, cap, "error the server is stopping\n");
        return;
    }
    if (n <= 0 || strcmp(action, "list") == 0) {
        list_json(p, out, cap);
        return;
    }
    rplug *pl = n == 2 ? find(p, name) : NULL;
    if (!pl) {
        snprintf(out, cap, "error %s\n",
                 n == 2 ? "no plug-in of that name in the --config file"
                        : "expected \"plugins [list | enable|disable|restart NAME]\"");
        return;
    }
    if (switch_one(pl, action) != 0) {
        snprintf(out, cap, "error expected \"plugins [list | enable|disable|restart NAME]\"\n");
        return;
    }
    list_json(p, out, cap);
}
