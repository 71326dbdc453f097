/* SPDX-License-Identifier: MIT */
/* ctl.c - the local control socket (see ctl.h). */
#define _GNU_SOURCE /* struct ucred (SO_PEERCRED) */
#include "ctl.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "contacts.h"
#include "orgrevoke.h"
#include "plugins.h"
#include "xinst.h"

typedef struct ctl_client {
    uv_pipe_t pipe; /* first: the handle pointer is the client pointer */
    ctl *owner;
    uint64_t since;
    size_t len;
    bool open;
    bool busy; /* a database job answers it: the slot is not reused before its after */
    char line[CTL_LINE_MAX];
} ctl_client;

struct ctl {
    core *k;
    uv_pipe_t listener;
    bool listening; /* the listener handle is open */
    bool bound;     /* the socket file is ours: remove it at the end */
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    ctl_client clients[CTL_CLIENTS];
};

/* Connect to a Unix socket at path: the fd, or -1 with errno. */
static int dial(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* A socket file at path from an earlier server: refuse when one answers,
 * remove a stale one. */
static int clear_stale(const char *path, char *why, size_t cap)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(why, cap, "%s exists and is not a socket: remove it", path);
        return BANTER_EIO;
    }
    int fd = dial(path);
    if (fd >= 0) {
        close(fd);
        snprintf(why, cap,
                 "another banter-rendezvous is serving this database (%s answers): stop it "
                 "first",
                 path);
        return BANTER_EIO;
    }
    if (unlink(path) != 0 && errno != ENOENT) {
        snprintf(why, cap, "cannot remove the stale socket %s: %s", path, strerror(errno));
        return BANTER_EIO;
    }
    return 0;
}

static void on_client_closed(uv_handle_t *h)
{
    ctl_client *cl = (ctl_client *)(void *)h;
    cl->open = false;
}

static void client_close(ctl_client *cl)
{
    if (!uv_is_closing((uv_handle_t *)&cl->pipe))
        uv_close((uv_handle_t *)&cl->pipe, on_client_closed);
}

static void on_reply_written(uv_write_t *w, int status)
{
    (void)status;
    ctl_client *cl = w->data;
    free(w);
    client_close(cl);
}

static void reply(ctl_client *cl, const char *text)
{
    size_t len = strlen(text);
    uv_write_t *w = malloc(sizeof *w + len);
    if (!w) {
        client_close(cl);
        return;
    }
    char *copy = (char *)(w + 1);
    memcpy(copy, text, len);
    uv_buf_t b = uv_buf_init(copy, (unsigned)len);
    w->data = cl;
    if (uv_write(w, (uv_stream_t *)&cl->pipe, &b, 1, on_reply_written) != 0) {
        free(w);
        client_close(cl);
    }
}

/* "refresh NAME": the account read by the database thread, then applied
 * to its sessions (auth_apply) and answered. */
struct refresh_job {
    ctl_client *cl;
    db_user u;
    char name[DB_MAX_USER + 1];
};

static int refresh_work(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    struct refresh_job *j = arg;
    return auth_read(d, j->name, &j->u, errmsg);
}

static void refresh_after(void *arg, int r, const char *errmsg)
{
    struct refresh_job *j = arg;
    ctl_client *cl = j->cl;
    core *k = cl->owner->k;
    char out[96];
    cl->busy = false;
    if (r && r != BANTER_ENOENT)
        core_log(k, "refresh %s: database: %s", j->name, errmsg);
    int n = r && r != BANTER_ENOENT ? r : auth_apply(k, j->name, r == 0 ? &j->u : NULL);
    if (n >= 0) { /* its devices on other instances read the account again */
        xinst_admin(k, j->name, NULL, XINST_REFRESH);
        /* a disable, enable or delete changed its devices' marks on the
         * revocation list (sent when it changed), and what its contacts
         * get of its devices: as acct.c does for banter-admin */
        orgrevoke_reload(k);
        xinst_org_changed(k, XINST_ORG_REVOKED);
        if (r == 0)
            contacts_devices_changed(k, j->name);
    }
    if (cl->open && !uv_is_closing((uv_handle_t *)&cl->pipe)) {
        if (n < 0)
            snprintf(out, sizeof out, "error %s\n", banter_strerror(n));
        else
            snprintf(out, sizeof out, "ok %d\n", n);
        reply(cl, out);
    }
    free(j);
}

/* One complete line from a client. */
static void on_line(ctl_client *cl)
{
    char out[96];
    const char *name = cl->line + 8;
    if (strcmp(cl->line, "plugins") == 0 || strncmp(cl->line, "plugins ", 8) == 0) {
        char *big = malloc(CTL_ANSWER_MAX);
        if (!big) {
            reply(cl, "error out of memory\n");
            return;
        }
        rplugins_ctl(cl->owner->k->pg, cl->line, big, CTL_ANSWER_MAX);
        reply(cl, big);
        free(big);
        return;
    }
    if (strncmp(cl->line, "refresh ", 8) != 0 || db_name_problem(name)) {
        reply(cl, "error expected \"refresh NAME\"\n");
        return;
    }
    struct refresh_job *j = calloc(1, sizeof *j);
    int r = j ? 0 : BANTER_ENOMEM;
    if (j) {
        j->cl = cl;
        snprintf(j->name, sizeof j->name, "%s", name);
        r = core_job(cl->owner->k, refresh_work, refresh_after, j);
    }
    if (r) {
        free(j);
        snprintf(out, sizeof out, "error %s\n", banter_strerror(r));
        reply(cl, out);
        return;
    }
    cl->busy = true;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    ctl_client *cl = (ctl_client *)(void *)h;
    (void)suggested;
    *b = uv_buf_init(cl->line + cl->len, (unsigned)(sizeof cl->line - 1 - cl->len));
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    ctl_client *cl = (ctl_client *)(void *)st;
    (void)b;
    if (nread < 0) {
        client_close(cl);
        return;
    }
    cl->len += (size_t)nread;
    cl->line[cl->len] = '\0';
    char *nl = memchr(cl->line, '\n', cl->len);
    if (nl) {
        *nl = '\0';
        uv_read_stop(st);
        on_line(cl);
    } else if (cl->len >= sizeof cl->line - 1) {
        uv_read_stop(st);
        reply(cl, "error line too long\n");
    }
}

static void on_spare_closed(uv_handle_t *h) { free(h); }

/* Only the server's own user and root. */
static bool peer_allowed(uv_pipe_t *p)
{
    uv_os_fd_t fd;
    struct ucred cr;
    socklen_t len = sizeof cr;
    if (uv_fileno((uv_handle_t *)p, &fd) != 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0)
        return false;
    return cr.uid == 0 || cr.uid == geteuid();
}

static void on_connection(uv_stream_t *l, int status)
{
    ctl *c = l->data;
    ctl_client *cl = NULL;
    for (int i = 0; i < CTL_CLIENTS && !cl; i++)
        if (!c->clients[i].open && !c->clients[i].busy)
            cl = &c->clients[i];
    if (status < 0)
        return;
    if (!cl) {
        /* Full: accept and close at once. */
        uv_pipe_t *t = malloc(sizeof *t);
        if (t && uv_pipe_init(c->k->loop, t, 0) == 0) {
            if (uv_accept(l, (uv_stream_t *)t) == 0)
                core_log(c->k, "control socket: too many clients");
            uv_close((uv_handle_t *)t, on_spare_closed);
        } else {
            free(t);
        }
        return;
    }
    uv_pipe_t *p = &cl->pipe;
    if (uv_pipe_init(c->k->loop, p, 0) != 0)
        return;
    memset(cl->line, 0, sizeof cl->line);
    cl->owner = c;
    cl->open = true;
    cl->len = 0;
    cl->since = core_now(c->k);
    if (uv_accept(l, (uv_stream_t *)p) != 0 || !peer_allowed(p) ||
        uv_read_start((uv_stream_t *)p, on_alloc, on_read) != 0)
        client_close(cl);
}

int ctl_open(ctl **out, core *k, const char *path, char *why, size_t cap)
{
    *out = NULL;
    ctl *c = calloc(1, sizeof *c);
    if (!c)
        return BANTER_ENOMEM;
    c->k = k;
    if (strlen(path) >= sizeof c->path) {
        snprintf(why, cap, "the control socket path %s is longer than %zu bytes", path,
                 sizeof c->path - 1);
        free(c);
        return BANTER_ETOOLONG;
    }
    snprintf(c->path, sizeof c->path, "%s", path);
    int ret = clear_stale(path, why, cap);
    if (ret) {
        free(c);
        return ret;
    }
    int r = uv_pipe_init(k->loop, &c->listener, 0);
    if (r) {
        snprintf(why, cap, "cannot make the control socket: %s", uv_strerror(r));
        free(c);
        return BANTER_EIO;
    }
    c->listener.data = c;
    c->listening = true;
    mode_t old = umask(0177); /* the socket is 0600 from its creation */
    r = uv_pipe_bind(&c->listener, path);
    umask(old);
    c->bound = r == 0;
    if (r == 0)
        r = uv_listen((uv_stream_t *)&c->listener, CTL_CLIENTS, on_connection);
    if (r) {
        snprintf(why, cap, "cannot listen on the control socket %s: %s", path, uv_strerror(r));
        *out = c; /* the caller closes and frees it */
        return BANTER_EIO;
    }
    *out = c;
    return 0;
}

void ctl_close(ctl *c)
{
    if (!c || !c->listening)
        return;
    c->listening = false;
    uv_close((uv_handle_t *)&c->listener, NULL);
    for (int i = 0; i < CTL_CLIENTS; i++)
        if (c->clients[i].open)
            client_close(&c->clients[i]);
    if (c->bound)
        (void)unlink(c->path);
}

void ctl_free(ctl *c) { free(c); }

void ctl_tick(ctl *c, uint64_t now)
{
    if (!c)
        return;
    for (int i = 0; i < CTL_CLIENTS; i++)
        if (c->clients[i].open && now - c->clients[i].since >= CTL_TIMEOUT_MS)
            client_close(&c->clients[i]);
}

/* ---- the client ---- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read the answer line (up to cap - 1 bytes) within CTL_TIMEOUT_MS. */
static int read_answer(int fd, char *ans, size_t cap, char *why, size_t wcap)
{
    size_t got = 0;
    int64_t deadline = mono_ms() + CTL_TIMEOUT_MS;
    while (got < cap - 1 && !memchr(ans, '\n', got)) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int64_t left = deadline - mono_ms();
        int pr = left > 0 ? poll(&p, 1, (int)left) : 0;
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0) {
            snprintf(why, wcap, "the server did not answer within %u ms", CTL_TIMEOUT_MS);
            return BANTER_ETIMEDOUT;
        }
        ssize_t n = pr < 0 ? -1 : read(fd, ans + got, cap - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
        ans[got] = '\0';
    }
    ans[got] = '\0';
    return 0;
}

int ctl_ask(const char *base, const char *line, char *ans, size_t acap, char *why, size_t cap)
{
    char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
    int n = snprintf(path, sizeof path, "%s%s", base, CTL_SUFFIX);
    ans[0] = '\0';
    if (n < 0 || (size_t)n >= sizeof path - 1) {
        snprintf(why, cap, "the control socket path is too long");
        return BANTER_ETOOLONG;
    }
    int fd = dial(path);
    if (fd < 0) {
        snprintf(why, cap, "no server answers at %s: %s", path, strerror(errno));
        return errno == ENOENT || errno == ECONNREFUSED ? BANTER_ENOENT : BANTER_EIO;
    }
    size_t len = strlen(line);
    int ret = 0;
    if (len + 1 >= CTL_LINE_MAX || write(fd, line, len) != (ssize_t)len ||
        write(fd, "\n", 1) != 1) {
        snprintf(why, cap, "cannot write to the server's control socket %s", path);
        ret = BANTER_EIO;
    }
    if (ret == 0)
        ret = read_answer(fd, ans, acap, why, cap);
    close(fd);
    return ret;
}

int ctl_notify(const char *base, const char *name, int *sessions, char *why, size_t cap)
{
    char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1], line[CTL_LINE_MAX], ans[96] = "";
    *sessions = 0;
    int n = snprintf(path, sizeof path, "%s%s", base, CTL_SUFFIX);
    if (n < 0 || (size_t)n >= sizeof path - 1) {
        snprintf(why, cap, "the control socket path is too long");
        return BANTER_ETOOLONG;
    }
    int fd = dial(path);
    if (fd < 0) {
        if (errno == ENOENT || errno == ECONNREFUSED)
            return BANTER_ENOENT;
        snprintf(why, cap, "cannot reach the server at %s: %s", path, strerror(errno));
        return BANTER_EIO;
    }
    n = snprintf(line, sizeof line, "refresh %s\n", name);
    int ret = 0;
    if (n < 0 || (size_t)n >= sizeof line || write(fd, line, (size_t)n) != n) {
        snprintf(why, cap, "cannot write to the server's control socket %s", path);
        ret = BANTER_EIO;
    }
    if (ret == 0)
        ret = read_answer(fd, ans, sizeof ans, why, cap);
    close(fd);
    if (ret)
        return ret;
    if (sscanf(ans, "ok %d", sessions) == 1)
        return 0;
    ans[strcspn(ans, "\n")] = '\0';
    snprintf(why, cap, "the server answered \"%s\"", ans);
    return BANTER_EIO;
}
