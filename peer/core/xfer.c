/* SPDX-License-Identifier: MIT */
/* xfer.c - file transfers: offers, streaming, flow control, resume (the
 * receiving end's disk work is in xfer_sink.c). */
#include "core/xfer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "bcrypto.h"
#include "buf.h"
#include "core/xfer_sink.h"
#include "fpath.h"
#include "tbucket.h"

#define LEGACY_SUFFIX  ".sum" /* the per-chunk checksums of older versions */
#define STATE_TAG      ".hstate"
#define PUMP_BATCH     16
#define HASH_BUF       (1u << 20)
#define HCACHE_MAX     4096 /* file hashes remembered (sending a file again) */
/* An offer's JSON must fit one message: budget per file beyond its name. */
#define OFFER_BUDGET   60000u
#define OFFER_PER_FILE 140u

/* ---- types ---- */

typedef struct xf {
    xfer_mgr *m;
    store_xfer rec;
    uint64_t total;
    /* sender */
    uint64_t send_off;
    uint64_t acked;     /* the receiver stored everything before this */
    uint64_t last_mark; /* offset of the last FILE_MARK sent */
    uint64_t window;    /* 0: the receiver sends no FILE_STORED */
    int src_fd;
    size_t src_idx;
    guint pump;
    /* receiver */
    int dest_fd;
    uint64_t recv_off;    /* the next byte expected (everything before is queued) */
    uint64_t verified;    /* written and hashed */
    uint64_t mark_want;   /* the last FILE_MARK not fully answered yet, 0 none */
    uint64_t stored_sent; /* the offset of the last FILE_STORED sent */
    bool notified;        /* an xsink_notify is under way (one at a time) */
    xpart *pf;            /* the file being received */
    size_t pf_idx;
    bool *fin_queued; /* per file: its finish is queued in the sink */
    bool need_scan, scanning, want_accept;
    /* progress */
    int64_t last_progress_ms, rate_ms;
    uint64_t rate_bytes;
    double rate;
    int jobs; /* hash jobs under way */
} xf;

typedef struct hfile {
    char *path, *name;
    uint64_t size;
    int64_t mtime_ns;
    uint8_t hash[BANTER_FILE_HASHLEN];
} hfile;

/* A sender's hash job: the files below paths, hashed in a worker thread. */
typedef struct job {
    xfer_mgr *m;
    int err;
    char why[512];
    char **paths;
    size_t npaths;
    uint8_t peer[32];
    xfer_offer_done done;
    void *ud2;
    hfile *files;
    size_t nfiles, cap;
} job;

/* What identifies a file's content well enough to reuse its hash. */
typedef struct hkey {
    uint64_t dev, ino, size;
    int64_t mtime_ns, ctime_ns;
} hkey;

struct xfer_mgr {
    store *st;
    char download_dir[4096];
    xfer_callbacks cb;
    void *ud;
    GList *xfers;        /* in memory, newest first: live ones and this run's */
    GHashTable *byid;    /* id -> xf, the same transfers */
    GHashTable *offered; /* peer key -> incoming offers waiting for an answer */
    size_t offered_total;
    xfer_limits lim;
    guint sweep;             /* expiry and eviction, while offers wait */
    int64_t refused_said_ms; /* when a refused offer was last logged */
    size_t refused_unsaid;   /* refused since then */
    GHashTable *rates;       /* peer key -> tbucket of new offers */
    tbucket rate_all;        /* new offers from all devices together */
    GThreadPool *pool;       /* hash jobs */
    xsink *sink;             /* everything a receiver does on disk */
    GMainContext *ctx;
    uint8_t *chunk;     /* BANTER_CHUNK_HDR + XFER_CHUNK, for the pump */
    uint8_t *hbuf;      /* the hash worker's buffer */
    gint stopping;      /* set by xfer_mgr_free: queued jobs give up at once */
    GMutex hlock;       /* guards hcache, shared with the hash worker */
    GHashTable *hcache; /* hkey -> hash */
};

static int64_t now_ms(void) { return g_get_real_time() / 1000; }

uint64_t xfer_disk_room(const xfer_mgr *m)
{
    struct statvfs v;
    if (statvfs(m->download_dir, &v) != 0)
        return 0;
    uint64_t unit = v.f_frsize ? (uint64_t)v.f_frsize : (uint64_t)v.f_bsize;
    uint64_t avail = (uint64_t)v.f_bavail;
    uint64_t room = unit && avail > UINT64_MAX / unit ? UINT64_MAX : avail * unit;
    for (const GList *l = m->xfers; l; l = l->next) {
        const xf *x = l->data;
        if (x->rec.dir != XFER_IN || (x->rec.state != XFER_ACTIVE && x->rec.state != XFER_PAUSED))
            continue;
        uint64_t owed = x->total > x->rec.done ? x->total - x->rec.done : 0;
        room = room > owed ? room - owed : 0;
    }
    return room;
}

const char *xfer_state_name(xfer_state s)
{
    static const char *names[] = {"offered", "active",   "paused",   "done",
                                  "failed",  "declined", "cancelled"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "unknown";
}

static bool over(const xf *x)
{
    return x->rec.state == XFER_DONE || x->rec.state == XFER_DECLINED ||
           x->rec.state == XFER_CANCELLED;
}

static uint64_t file_start(const xf *x, size_t idx)
{
    uint64_t s = 0;
    for (size_t i = 0; i < idx; i++)
        s += x->rec.files[i].size;
    return s;
}

/* ---- info and events ---- */

static void fill_info(const xf *x, xfer_info *out)
{
    memset(out, 0, sizeof *out);
    memcpy(out->id, x->rec.id, MSG_ID_LEN);
    memcpy(out->peer, x->rec.peer, 32);
    out->dir = (xfer_dir)x->rec.dir;
    out->state = (xfer_state)x->rec.state;
    out->nfiles = x->rec.nfiles;
    out->size = x->total;
    out->done = x->rec.dir == XFER_OUT ? x->send_off : x->verified;
    if (x->rec.state == XFER_DONE)
        out->done = x->total;
    out->rate = x->rec.state == XFER_ACTIVE ? x->rate : 0;
    out->created_ms = x->rec.created_ms;
    g_strlcpy(out->error, x->rec.error, sizeof out->error);
    g_strlcpy(out->dest, x->rec.dest, sizeof out->dest);
    const char *first = x->rec.nfiles ? x->rec.files[0].name : "";
    if (x->rec.nfiles <= 1) {
        g_strlcpy(out->name, first, sizeof out->name);
    } else {
        size_t n = strcspn(first, "/");
        snprintf(out->name, sizeof out->name, "%.*s (%zu files)", (int)n, first, x->rec.nfiles);
    }
}

static void emit(xf *x, xfer_ev_type type)
{
    xfer_info info;
    fill_info(x, &info);
    if (x->m->cb.event)
        x->m->cb.event(x->m->ud, type, &info);
}

static void save(xf *x)
{
    x->rec.updated_ms = now_ms();
    x->rec.done = x->rec.dir == XFER_OUT ? x->send_off : x->verified;
    if (store_xfer_save(x->m->st, &x->rec) != 0)
        g_printerr("banter: cannot save transfer state: %s\n", store_errmsg(x->m->st));
}

static void set_error(xf *x, const char *text)
{
    free(x->rec.error);
    x->rec.error = g_strdup(text ? text : "");
}

static void progress(xf *x, uint64_t bytes)
{
    int64_t t = now_ms();
    if (x->rate_ms == 0 || t - x->rate_ms > 5000) { /* first bytes, or after a pause */
        x->rate_ms = t;
        x->rate_bytes = 0;
    }
    x->rate_bytes += bytes;
    if (t - x->rate_ms >= 500) { /* rate over the last half second or more */
        x->rate = (double)x->rate_bytes * 1000.0 / (double)(t - x->rate_ms);
        x->rate_ms = t;
        x->rate_bytes = 0;
    }
    if (t - x->last_progress_ms >= XFER_PROGRESS_MS) {
        x->last_progress_ms = t;
        emit(x, XFER_EV_PROGRESS);
    }
    /* Not saved here: a database commit (an fsync) has no place on the path
     * of every chunk. The state is saved when it changes; after a restart
     * the receiver finds out from the partial file what it has. */
}

static void count_offered(xfer_mgr *m, const uint8_t peer[static 32], int delta);

/* The state in memory only (an offer no longer waiting leaves the caps). */
static void set_state_quiet(xf *x, xfer_state s, const char *error)
{
    if (x->rec.dir == XFER_IN && x->rec.state == XFER_OFFERED && s != XFER_OFFERED)
        count_offered(x->m, x->rec.peer, -1);
    x->rec.state = s;
    if (error)
        set_error(x, error);
}

static void set_state(xf *x, xfer_state s, const char *error)
{
    set_state_quiet(x, s, error);
    save(x);
    emit(x, s == XFER_DONE                                                  ? XFER_EV_DONE
            : s == XFER_FAILED || s == XFER_DECLINED || s == XFER_CANCELLED ? XFER_EV_FAILED
                                                                            : XFER_EV_STATE);
}

/* ---- sending messages ---- */

static conn *peer_conn(xf *x) { return x->m->cb.conn_for(x->m->ud, x->rec.peer); }

/* Control messages always fit: chunks stop at XFER_QUEUE_HIGH, half the
 * session's queue. A peer that is offline learns on reconnect. */
static void send_msg(xf *x, const msg *m)
{
    conn *c = peer_conn(x);
    int r = c ? conn_send(c, m) : 0;
    if (r && r != BANTER_ESTATE)
        g_printerr("banter: cannot send a %s message: %s\n", msg_type_name((int)m->type),
                   banter_strerror(r));
}

static void send_end(xf *x, msg_type type, const char *reason)
{
    msg m = {.type = type};
    memcpy(m.u.end.id, x->rec.id, MSG_ID_LEN);
    g_strlcpy(m.u.end.reason, reason ? reason : "", sizeof m.u.end.reason);
    send_msg(x, &m);
}

static void send_result(xf *x, size_t idx, bool ok, const char *error)
{
    msg m = {.type = MSG_FILE_RESULT};
    memcpy(m.u.result.id, x->rec.id, MSG_ID_LEN);
    m.u.result.file = (uint32_t)idx;
    m.u.result.ok = ok;
    g_strlcpy(m.u.result.error, error ? error : "", sizeof m.u.result.error);
    send_msg(x, &m);
}

static void send_accept(xf *x)
{
    msg m = {.type = MSG_FILE_ACCEPT};
    memcpy(m.u.accept.id, x->rec.id, MSG_ID_LEN);
    m.u.accept.offset = x->recv_off;
    m.u.accept.window = XFER_WINDOW; /* we answer FILE_MARK */
    x->want_accept = false;
    x->mark_want = 0;
    x->stored_sent = x->recv_off;
    send_msg(x, &m);
}

/* FILE_MARK (sender) or FILE_STORED (receiver) at offset. */
static void send_mark(xf *x, msg_type type, uint64_t offset)
{
    msg m = {.type = type};
    memcpy(m.u.mark.id, x->rec.id, MSG_ID_LEN);
    m.u.mark.offset = offset;
    send_msg(x, &m);
}

static void send_offer(xf *x)
{
    msg m;
    if (msg_offer_init(&m, x->rec.id, x->rec.created_ms, x->rec.nfiles) != 0)
        return;
    for (size_t i = 0; i < x->rec.nfiles; i++) {
        if (msg_offer_set_name(&m, i, x->rec.files[i].name) != 0)
            goto out;
        m.u.offer.files[i].size = x->rec.files[i].size;
        memcpy(m.u.offer.files[i].hash, x->rec.files[i].hash, BANTER_FILE_HASHLEN);
    }
    send_msg(x, &m);
out:
    msg_clear(&m);
}

/* ---- hashes of files to send, remembered ---- */

static guint hkey_hash(gconstpointer p)
{
    const hkey *k = p;
    return (guint)(k->ino * 2654435761u ^ k->size ^ (uint64_t)k->mtime_ns);
}

static gboolean hkey_equal(gconstpointer a, gconstpointer b)
{
    return memcmp(a, b, sizeof(hkey)) == 0;
}

static hkey key_of(const struct stat *st)
{
    hkey k;
    memset(&k, 0, sizeof k); /* no padding left undefined: compared with memcmp */
    k.dev = (uint64_t)st->st_dev;
    k.ino = (uint64_t)st->st_ino;
    k.size = (uint64_t)st->st_size;
    k.mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    k.ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
    return k;
}

/* From any thread. */
static bool hcache_get(xfer_mgr *m, const struct stat *st, uint8_t out[static BANTER_FILE_HASHLEN])
{
    hkey k = key_of(st);
    g_mutex_lock(&m->hlock);
    const uint8_t *h = g_hash_table_lookup(m->hcache, &k);
    if (h)
        memcpy(out, h, BANTER_FILE_HASHLEN);
    g_mutex_unlock(&m->hlock);
    return h != NULL;
}

static void hcache_put(xfer_mgr *m, const struct stat *st,
                       const uint8_t hash[static BANTER_FILE_HASHLEN])
{
    hkey k = key_of(st);
    g_mutex_lock(&m->hlock);
    if (g_hash_table_size(m->hcache) >= HCACHE_MAX)
        g_hash_table_remove_all(m->hcache);
    g_hash_table_replace(m->hcache, g_memdup2(&k, sizeof k), g_memdup2(hash, BANTER_FILE_HASHLEN));
    g_mutex_unlock(&m->hlock);
}

/* ---- the hash worker ---- */

static gboolean job_done(gpointer p);

static int hash_fd(int fd, uint8_t *b, uint8_t out[static BANTER_FILE_HASHLEN], uint64_t *size)
{
    bcrypto_hash h;
    uint64_t total = 0;
    int ret = 0;
    bcrypto_hash_init(&h, BANTER_FILE_HASHLEN);
    for (;;) {
        ssize_t n = read(fd, b, HASH_BUF);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            ret = BANTER_EIO;
            break;
        }
        if (n == 0)
            break;
        bcrypto_hash_update(&h, b, (size_t)n);
        total += (uint64_t)n;
    }
    bcrypto_hash_final(&h, out, BANTER_FILE_HASHLEN);
    *size = total;
    return ret;
}

static int add_hfile(job *j, const char *path, const char *name)
{
    char why[256];
    if (fpath_check(name, why, sizeof why) != 0) {
        snprintf(j->why, sizeof j->why, "cannot send %s: %s", path, why);
        return BANTER_EINVAL;
    }
    for (size_t i = 0; i < j->nfiles; i++) {
        if (strcmp(j->files[i].name, name) == 0) {
            snprintf(j->why, sizeof j->why, "two files would both be named \"%s\"", name);
            return BANTER_EINVAL;
        }
    }
    if (j->nfiles == j->cap) {
        j->cap = j->cap ? j->cap * 2 : 16;
        j->files = g_renew(hfile, j->files, j->cap);
    }
    hfile *f = &j->files[j->nfiles++];
    memset(f, 0, sizeof *f);
    f->path = g_strdup(path);
    f->name = g_strdup(name);
    return 0;
}

static gint cmp_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Collect the regular files below dir (symbolic links and special files
 * are skipped: they are not content). */
static int walk(job *j, const char *dir, const char *prefix, int depth)
{
    if (depth > FPATH_MAX_DEPTH) {
        snprintf(j->why, sizeof j->why, "%s: folders nested too deep", dir);
        return BANTER_EINVAL;
    }
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(j->why, sizeof j->why, "cannot read %s: %s", dir, g_strerror(errno));
        return BANTER_EIO;
    }
    struct dirent *e;
    int r = 0;
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            g_ptr_array_add(names, g_strdup(e->d_name));
    closedir(d);
    g_ptr_array_sort(names, cmp_names);
    for (guint i = 0; i < names->len && r == 0; i++) {
        const char *n = g_ptr_array_index(names, i);
        char *path = g_build_filename(dir, n, NULL);
        char *name = g_strconcat(prefix, "/", n, NULL);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            r = walk(j, path, name, depth + 1);
        else if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
            r = add_hfile(j, path, name);
        g_free(path);
        g_free(name);
    }
    g_ptr_array_unref(names);
    return r;
}

/* Hash one file to send, or take its hash from the cache when the file is
 * the one hashed before (same inode, size, modification and change time). */
static void hash_one(job *j, hfile *f)
{
    struct stat st, st2;
    int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(j->why, sizeof j->why, "cannot read %s: %s", f->path, g_strerror(errno));
        j->err = BANTER_EIO;
    } else if (hcache_get(j->m, &st, f->hash)) {
        f->size = (uint64_t)st.st_size;
    } else if (hash_fd(fd, j->m->hbuf, f->hash, &f->size) != 0 || fstat(fd, &st2) != 0) {
        snprintf(j->why, sizeof j->why, "cannot read %s: %s", f->path, g_strerror(errno));
        j->err = BANTER_EIO;
    } else if ((uint64_t)st.st_size != f->size || key_of(&st).ctime_ns != key_of(&st2).ctime_ns) {
        snprintf(j->why, sizeof j->why, "%s changed while it was read", f->path);
        j->err = BANTER_EIO;
    } else {
        hcache_put(j->m, &st, f->hash);
    }
    if (j->err == 0)
        f->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    if (fd >= 0)
        close(fd);
}

static void run_hash(job *j)
{
    for (size_t i = 0; i < j->npaths && j->err == 0; i++) {
        struct stat st;
        char *base = g_path_get_basename(j->paths[i]);
        if (lstat(j->paths[i], &st) != 0) {
            snprintf(j->why, sizeof j->why, "%s: %s", j->paths[i], g_strerror(errno));
            j->err = errno == ENOENT ? BANTER_ENOENT : BANTER_EIO;
        } else if (S_ISDIR(st.st_mode)) {
            j->err = walk(j, j->paths[i], base, 1);
        } else if (S_ISREG(st.st_mode)) {
            j->err = add_hfile(j, j->paths[i], base);
        } else {
            snprintf(j->why, sizeof j->why, "%s is not a regular file or folder", j->paths[i]);
            j->err = BANTER_EINVAL;
        }
        g_free(base);
    }
    if (j->err == 0 && j->nfiles == 0) {
        snprintf(j->why, sizeof j->why, "nothing to send: the folders hold no files");
        j->err = BANTER_EINVAL;
    }
    for (size_t i = 0; i < j->nfiles && j->err == 0; i++) {
        if (g_atomic_int_get(&j->m->stopping)) {
            snprintf(j->why, sizeof j->why, "the node is stopping");
            j->err = BANTER_ESTATE;
            break;
        }
        hash_one(j, &j->files[i]);
    }
}

static void worker(gpointer data, gpointer user)
{
    job *j = data;
    (void)user;
    if (g_atomic_int_get(&j->m->stopping)) {
        j->err = BANTER_ESTATE;
        snprintf(j->why, sizeof j->why, "the node is stopping");
    } else {
        run_hash(j);
    }
    g_main_context_invoke(j->m->ctx, job_done, j);
}

static void push(xfer_mgr *m, job *j) { g_thread_pool_push(m->pool, j, NULL); }

/* ---- lifetime ---- */

static void close_source(xf *x)
{
    if (x->src_fd >= 0)
        close(x->src_fd);
    x->src_fd = -1;
}

/* Stop sending: the pump and the open source file. Not from the pump. */
static void close_sender(xf *x)
{
    if (x->pump) {
        g_source_remove(x->pump);
        x->pump = 0;
    }
    close_source(x);
}

/* Let go of the file being received; sealed first, so a restart goes on
 * from the saved hash state (unless it is being deleted). */
static void close_receiver(xf *x, bool seal)
{
    if (!x->pf)
        return;
    if (seal)
        xsink_checkpoint(x->pf);
    xsink_release(x->pf);
    x->pf = NULL;
}

static void xf_free(xf *x)
{
    close_sender(x);
    close_receiver(x, true);
    if (x->dest_fd >= 0)
        close(x->dest_fd);
    g_free(x->fin_queued);
    store_xfer_clear(&x->rec);
    g_free(x);
}

static xf *xf_new(xfer_mgr *m)
{
    xf *x = g_new0(xf, 1);
    x->m = m;
    x->src_fd = -1;
    x->dest_fd = -1;
    return x;
}

static guint id_hash(gconstpointer p)
{
    guint h;
    memcpy(&h, p, sizeof h); /* random ids: any four bytes spread well */
    return h;
}

static gboolean id_equal(gconstpointer a, gconstpointer b) { return memcmp(a, b, MSG_ID_LEN) == 0; }

static guint key_hash(gconstpointer p)
{
    guint h;
    memcpy(&h, p, sizeof h); /* public keys: uniform bytes */
    return h;
}

static gboolean key_equal(gconstpointer a, gconstpointer b) { return memcmp(a, b, 32) == 0; }

/* A transfer in memory, by id (not the store). */
static xf *find(xfer_mgr *m, const uint8_t id[static MSG_ID_LEN])
{
    return g_hash_table_lookup(m->byid, id);
}

/* Whether a transfer not in memory is stored: one that is over. */
static bool gone(xfer_mgr *m, const uint8_t id[static MSG_ID_LEN])
{
    store_xfer rec;
    if (store_xfer_get(m->st, id, &rec) != 0)
        return false;
    store_xfer_clear(&rec);
    return true;
}

/* Count an incoming offer waiting for its answer (+1) or no longer (-1). */
static void count_offered(xfer_mgr *m, const uint8_t peer[static 32], int delta)
{
    guint k = GPOINTER_TO_UINT(g_hash_table_lookup(m->offered, peer));
    if (delta > 0) {
        g_hash_table_replace(m->offered, g_memdup2(peer, 32), GUINT_TO_POINTER(k + 1));
        m->offered_total++;
        return;
    }
    if (k <= 1)
        g_hash_table_remove(m->offered, peer);
    else
        g_hash_table_replace(m->offered, g_memdup2(peer, 32), GUINT_TO_POINTER(k - 1));
    if (m->offered_total)
        m->offered_total--;
}

static void arm_sweep(xfer_mgr *m);

/* Hold x in memory (newest first). */
static void adopt(xfer_mgr *m, xf *x, bool newest)
{
    m->xfers = newest ? g_list_prepend(m->xfers, x) : g_list_append(m->xfers, x);
    g_hash_table_replace(m->byid, x->rec.id, x);
    if (x->rec.dir == XFER_IN && x->rec.state == XFER_OFFERED) {
        count_offered(m, x->rec.peer, 1);
        arm_sweep(m);
    }
}

/* The total, and the receiver's per-file flags, once the files are known. */
static void set_files(xf *x)
{
    x->total = file_start(x, x->rec.nfiles);
    g_free(x->fin_queued);
    x->fin_queued = g_new0(bool, x->rec.nfiles ? x->rec.nfiles : 1);
}

/* ---- receiver ---- */

/* The names beside file idx's final place: ".NAME.ID8.banter-partial" and
 * its checkpoints ".NAME.ID8.hstate.banter-partial" (the transfer id keeps
 * two transfers that chose the same final name apart until the rename; the
 * suffix is one no name from a peer can have), and the sidecar an older
 * version kept. */
static int partial_names(const xf *x, size_t idx, char *part, char *state, char *legacy)
{
    char hex[2 * MSG_ID_LEN + 1], tagged[4200];
    msg_id_to_hex(x->rec.id, hex);
    const char *local = x->rec.files[idx].local;
    if ((size_t)snprintf(tagged, sizeof tagged, "%s.%.8s", local, hex) >= sizeof tagged ||
        fpath_partial(tagged, part, 4096) != 0 ||
        (size_t)snprintf(legacy, 4200, "%s%s", part, LEGACY_SUFFIX) >= 4200 ||
        (size_t)snprintf(tagged, sizeof tagged, "%s.%.8s%s", local, hex, STATE_TAG) >=
            sizeof tagged ||
        fpath_partial(tagged, state, 4096) != 0)
        return BANTER_ETOOLONG;
    return 0;
}

/* Delete what a file left below the folder (main loop: only for a file
 * with nothing queued in the sink). */
static void delete_partial(xf *x, size_t idx)
{
    char part[4096], state[4096], legacy[4200];
    if (x->dest_fd < 0 || !x->rec.files[idx].local[0] ||
        partial_names(x, idx, part, state, legacy) != 0)
        return;
    /* Below the folder, never through a link on the way. */
    (void)fpath_unlink_beneath(x->dest_fd, part);
    (void)fpath_unlink_beneath(x->dest_fd, state);
    (void)fpath_unlink_beneath(x->dest_fd, legacy);
}

static int open_dest(xf *x, const char *dir, char *why, size_t cap);
static void unreserve(xf *x);

/* A transfer that is over lets go of its folder (open_dest opens it again
 * when needed): a node that receives for months must not collect them. */
static void close_dest(xf *x)
{
    if (x->dest_fd >= 0)
        close(x->dest_fd);
    x->dest_fd = -1;
}

/* For a cancel: the partial files go, and so does the folder's descriptor. */
static void delete_partials(xf *x)
{
    char why[256];
    size_t skip = x->pf ? x->pf_idx : SIZE_MAX;
    if (x->pf)
        xsink_discard(x->pf);
    close_receiver(x, false);
    if (x->dest_fd < 0 && x->rec.dest[0] && open_dest(x, x->rec.dest, why, sizeof why) != 0)
        return;
    for (size_t i = 0; i < x->rec.nfiles; i++)
        if (!x->rec.files[i].verified && !x->fin_queued[i] && i != skip)
            delete_partial(x, i);
    unreserve(x);
    close_dest(x);
}

static void fail_in(xf *x, size_t idx, const char *why, bool tell_peer)
{
    close_receiver(x, true);
    if (tell_peer)
        send_result(x, idx, false, why);
    set_state(x, XFER_FAILED, why);
    x->need_scan = true; /* a later accept resumes from what checks out */
}

static bool all_verified(const xf *x)
{
    for (size_t i = 0; i < x->rec.nfiles; i++)
        if (!x->rec.files[i].verified)
            return false;
    return true;
}

static void check_done_in(xf *x)
{
    if (x->rec.state != XFER_DONE && all_verified(x)) {
        close_receiver(x, false);
        close_dest(x);
        x->verified = x->recv_off = x->total;
        set_state(x, XFER_DONE, "");
    }
}

/* Open file idx in the sink: fresh, or (resume) finding out what its
 * partial file holds. */
static xpart *open_part(xf *x, size_t idx, bool resume)
{
    xpart_params pp = {.dir_fd = x->dest_fd,
                       .local = x->rec.files[idx].local,
                       .size = x->rec.files[idx].size,
                       .resume = resume,
                       .owner = x,
                       .idx = idx};
    char part[4096], state[4096], legacy[4200];
    if (partial_names(x, idx, part, state, legacy) != 0)
        return NULL;
    pp.part = part;
    pp.state = state;
    pp.legacy = legacy;
    memcpy(pp.hash, x->rec.files[idx].hash, BANTER_FILE_HASHLEN);
    memcpy(pp.key.secret, x->rec.secret, sizeof pp.key.secret);
    memcpy(pp.key.id, x->rec.id, sizeof pp.key.id);
    pp.key.file = (uint32_t)idx;
    xpart *p = xsink_open(x->m->sink, &pp);
    bcrypto_wipe(&pp.key, sizeof pp.key);
    return p;
}

/* Every byte of file idx is queued: the sink checks it and moves it. */
static void queue_finish(xf *x, xpart *p, size_t idx)
{
    x->fin_queued[idx] = true;
    xsink_finish(p);
}

/* Empty files need no data: finished as soon as the stream reaches them. */
static void settle_empty(xf *x)
{
    uint64_t start = 0;
    for (size_t i = 0; i < x->rec.nfiles && start <= x->recv_off; i++) {
        store_xfile *f = &x->rec.files[i];
        if (f->size == 0 && !f->verified && !x->fin_queued[i]) {
            xpart *p = open_part(x, i, false);
            if (!p) {
                fail_in(x, i, "cannot create an empty file in the destination folder", true);
                return;
            }
            queue_finish(x, p, i);
            xsink_release(p);
        }
        start += f->size;
    }
    check_done_in(x);
}

static void maybe_accept(xf *x)
{
    if (x->want_accept && !x->scanning && x->rec.state == XFER_ACTIVE && peer_conn(x))
        send_accept(x);
}

/* Answer the sender's FILE_MARKs: what is stored up to the last one, as
 * it gets stored (any offset up to it may be acknowledged). */
static void maybe_stored(xf *x)
{
    if (!x->mark_want || x->rec.state != XFER_ACTIVE)
        return;
    uint64_t v = x->verified < x->mark_want ? x->verified : x->mark_want;
    if (v > x->stored_sent) {
        send_mark(x, MSG_FILE_STORED, v);
        x->stored_sent = v;
    }
    if (x->verified >= x->mark_want)
        x->mark_want = 0;
}

static const char *disk_full_text = "the disk is full: free some space, then accept again";

/* Re-check the first file not yet verified nor finishing, then ask for the
 * rest. */
static void start_scan(xf *x)
{
    size_t i = 0;
    uint64_t start = 0;
    while (i < x->rec.nfiles && (x->rec.files[i].verified || x->fin_queued[i]))
        start += x->rec.files[i++].size;
    close_receiver(x, true);
    x->need_scan = false;
    x->verified = x->recv_off = start;
    if (i == x->rec.nfiles || x->rec.files[i].size == 0) { /* nothing to read */
        settle_empty(x);
        x->want_accept = !over(x);
        maybe_accept(x);
        return;
    }
    x->pf = open_part(x, i, true);
    x->pf_idx = i;
    if (!x->pf) {
        fail_in(x, i, "the name of a partial file is too long", true);
        return;
    }
    x->scanning = true;
}

/* ---- what the sink tells ---- */

static void on_opened(xf *x, const xsink_ev *ev)
{
    if (ev->why) {
        char hex[2 * MSG_ID_LEN + 1];
        msg_id_to_hex(x->rec.id, hex);
        g_printerr("banter: transfer %.8s, %s: %s\n", hex, x->rec.files[ev->idx].name, ev->why);
    }
    if (!x->scanning || ev->part != x->pf)
        return;
    x->scanning = false;
    uint64_t start = file_start(x, ev->idx);
    x->verified = x->recv_off = start + ev->bytes;
    if (ev->bytes == x->rec.files[ev->idx].size) { /* all there: check it */
        queue_finish(x, x->pf, ev->idx);
        close_receiver(x, false);
    }
    settle_empty(x);
    if (over(x) || x->rec.state == XFER_FAILED)
        return;
    x->want_accept = true;
    maybe_accept(x);
}

static void on_finished(xf *x, const xsink_ev *ev)
{
    store_xfile *f = &x->rec.files[ev->idx];
    x->fin_queued[ev->idx] = false;
    if (!ev->ok) {
        char why[BANTER_MAX_REASON];
        snprintf(why, sizeof why, "%s does not match the hash in the offer", f->name);
        if (!over(x))
            fail_in(x, ev->idx, why, true);
        return;
    }
    free(f->local);
    f->local = g_strdup(ev->name);
    f->verified = true;
    if (store_xfile_save(x->m->st, x->rec.id, ev->idx, f) != 0)
        g_printerr("banter: cannot save transfer state: %s\n", store_errmsg(x->m->st));
    if (over(x))
        return;     /* cancelled while the file was being moved: it stays, nothing more */
    struct stat st; /* below the folder, following no link: the file itself */
    if (x->dest_fd >= 0 && fpath_stat_beneath(x->dest_fd, f->local, &st) == 0 &&
        S_ISREG(st.st_mode) && (uint64_t)st.st_size == f->size)
        hcache_put(x->m, &st, f->hash); /* sending it on needs no hashing */
    send_result(x, ev->idx, true, NULL);
    if (!g_atomic_int_get(&x->m->stopping))
        check_done_in(x);
}

static void on_sink(void *ud, const xsink_ev *ev)
{
    xf *x = ev->owner;
    (void)ud;
    if (ev->type == XSINK_FINISHED) { /* even while stopping: the file has its name */
        on_finished(x, ev);
        return;
    }
    if (g_atomic_int_get(&x->m->stopping) || over(x))
        return;
    switch (ev->type) {
    case XSINK_OPENED:
        on_opened(x, ev);
        break;
    case XSINK_STORED: {
        uint64_t v = file_start(x, ev->idx) + ev->bytes;
        x->notified = false;
        if (v > x->verified) {
            progress(x, v - x->verified);
            x->verified = v;
        }
        maybe_stored(x);
        break;
    }
    default: /* XSINK_FAILED */
        x->fin_queued[ev->idx] = false;
        if (x->rec.state == XFER_ACTIVE || x->rec.state == XFER_PAUSED) {
            if (x->pf == ev->part)
                x->scanning = false;
            fail_in(x, ev->idx, ev->err == BANTER_ENOSPC ? disk_full_text : ev->why, true);
        }
        break;
    }
}

/* ---- receiving data ---- */

/* Queue a chunk's data for the sink. The memory the session decrypted it
 * into goes to the sink as it is, and the session takes a block from the
 * sink's spares in its place: no copy of the data on the main loop. */
static void store_chunk(xf *x, conn *cn, uint64_t off, const uint8_t *data, size_t len)
{
    size_t cap;
    uint8_t *spare = xsink_block(x->m->sink);
    uint8_t *blk = cn ? conn_take_plaintext(cn, spare, XSINK_BLOCK, &cap) : NULL;
    if (!blk) {
        free(spare);
        xsink_write(x->pf, off, data, len);
        return;
    }
    uintptr_t d = (uintptr_t)data, b = (uintptr_t)blk;
    if (d < b || len > cap || d - b > cap - len) {
        /* not the session's plaintext: copy (still valid in blk) */
        xsink_write(x->pf, off, data, len);
        free(blk);
        return;
    }
    xsink_write_block(x->pf, off, blk, cap, data, len);
}

static void on_chunk(xf *x, conn *cn, const struct msg_chunk *c)
{
    if (x->rec.state != XFER_ACTIVE || x->scanning || c->offset != x->recv_off || c->len == 0)
        return; /* stale or repeated data after a resume: the sender follows our offset */
    size_t idx = 0;
    uint64_t start = 0;
    while (idx < x->rec.nfiles && start + x->rec.files[idx].size <= c->offset)
        start += x->rec.files[idx++].size;
    if (idx == x->rec.nfiles || c->offset + c->len > start + x->rec.files[idx].size ||
        c->len > XFER_CHUNK) {
        fail_in(x, idx < x->rec.nfiles ? idx : 0, "the sender sent data outside the offered files",
                true);
        return;
    }
    if (!x->pf || x->pf_idx != idx) { /* a file starts */
        close_receiver(x, false);
        x->pf = c->offset == start ? open_part(x, idx, false) : NULL;
        x->pf_idx = idx;
        if (!x->pf) {
            fail_in(x, idx, "cannot write into the destination folder", true);
            return;
        }
    }
    store_chunk(x, cn, c->offset - start, c->data, c->len);
    x->recv_off += c->len;
    if (x->recv_off == start + x->rec.files[idx].size) {
        queue_finish(x, x->pf, idx);
        close_receiver(x, false);
        settle_empty(x);
    }
}

/* The sender's FILE_MARK: answered once the data before it is stored. */
static void on_mark(xf *x, uint64_t offset)
{
    if (x->rec.state != XFER_ACTIVE || offset > x->recv_off)
        return; /* not from this stream (before a resume), or ahead of its data */
    if (offset <= x->mark_want || offset <= x->stored_sent)
        return; /* nothing new (a peer cannot make us queue work by repeating) */
    x->mark_want = offset;
    maybe_stored(x);
    if (x->mark_want && x->pf && !x->notified) {
        xsink_notify(x->pf); /* stored up to here once the sink gets to it */
        x->notified = true;
    }
}

/* An offer holding a file over the limit (xfer_callbacks.max_file): 0, or
 * BANTER_ETOOBIG with why. */
static int over_limit(xfer_mgr *m, const struct msg_offer *o, char *why, size_t cap)
{
    const char *rule = "the limit";
    uint64_t max = m->cb.max_file ? m->cb.max_file(m->ud, &rule) : 0;
    for (size_t i = 0; max && i < o->nfiles; i++) {
        if (o->files[i].size > max) {
            snprintf(why, cap, "%s is larger than %s allows (%llu MB)", o->files[i].name, rule,
                     (unsigned long long)(max / (1024 * 1024)));
            return BANTER_ETOOBIG;
        }
    }
    return 0;
}

/* Validate an incoming offer. 0, or BANTER_EINVAL with why. */
static int check_offer(const struct msg_offer *o, char *why, size_t cap)
{
    for (size_t i = 0; i < o->nfiles; i++) {
        const char *a = o->files[i].name;
        if (fpath_check(a, why, cap) != 0)
            return BANTER_EINVAL;
        for (size_t k = 0; k < i; k++) {
            const char *b = o->files[k].name;
            size_t la = strlen(a), lb = strlen(b);
            bool clash = strcmp(a, b) == 0 || (la < lb && strncmp(a, b, la) == 0 && b[la] == '/') ||
                         (lb < la && strncmp(a, b, lb) == 0 && a[lb] == '/');
            if (clash) {
                snprintf(why, cap, "the offer names \"%s\" twice", la < lb ? a : b);
                return BANTER_EINVAL;
            }
        }
    }
    return 0;
}

/* Answer an offer that is not kept (over a cap, refused, or known and
 * declined) with FILE_DECLINE and reason. */
static void decline_id(xfer_mgr *m, const uint8_t peer[static 32],
                       const uint8_t id[static MSG_ID_LEN], const char *reason)
{
    conn *c = m->cb.conn_for(m->ud, peer);
    msg d = {.type = MSG_FILE_DECLINE};
    memcpy(d.u.end.id, id, MSG_ID_LEN);
    g_strlcpy(d.u.end.reason, reason, sizeof d.u.end.reason);
    int r = c ? conn_send(c, &d) : 0;
    (void)r; /* a peer that does not read loses its answer */
}

/* A log line for offers refused, at most one a minute (a flood of them
 * must not flood the log). */
static void say_refused(xfer_mgr *m, const char *why)
{
    int64_t t = now_ms();
    if (m->refused_said_ms && t - m->refused_said_ms < 60000) {
        m->refused_unsaid++;
        return;
    }
    if (m->refused_unsaid)
        g_printerr("banter: refused a file offer: %s (and %zu more in the last minute)\n", why,
                   m->refused_unsaid);
    else
        g_printerr("banter: refused a file offer: %s\n", why);
    m->refused_said_ms = t;
    m->refused_unsaid = 0;
}

static int64_t mono_ms(void) { return g_get_monotonic_time() / 1000; }

/* One new offer from peer: within its device's rate and the node's (a
 * token taken from each), or not. The device's bucket is asked first, so a
 * device over its own rate does not use up the node's. An established
 * colleague's device (cb.established) is held to its own rate only: keys
 * cost nothing to make, and a flood of new ones, each within its own
 * rate, empties the node's bucket - it must not keep a colleague's file
 * out meanwhile. *est: -1 when not asked yet, else whether peer is
 * established (asked only once the device's own bucket let it through: a
 * device flooding over its rate costs no lookup). */
static bool within_rate(xfer_mgr *m, const uint8_t peer[static 32], int *est)
{
    if (m->lim.rate) {
        tbucket *b = g_hash_table_lookup(m->rates, peer);
        if (!b) {
            b = g_new(tbucket, 1);
            tbucket_init(b, m->lim.rate, m->lim.burst, mono_ms());
            g_hash_table_insert(m->rates, g_memdup2(peer, 32), b);
        }
        if (!tbucket_take(b, mono_ms()))
            return false;
    }
    if (m->lim.rate_all && m->cb.established) {
        *est = m->cb.established(m->ud, peer);
        if (*est)
            return true;
    }
    return tbucket_take(&m->rate_all, mono_ms()); /* rate_all 0: always */
}

/* A stored transfer back in memory (one evicted earlier), or NULL. */
static xf *revive(xfer_mgr *m, const uint8_t id[static MSG_ID_LEN])
{
    store_xfer rec;
    if (store_xfer_get(m->st, id, &rec) != 0)
        return NULL;
    xf *x = xf_new(m);
    x->rec = rec;
    set_files(x);
    x->send_off = x->verified = x->recv_off = x->rec.done;
    adopt(m, x, false);
    return x;
}

/* An offer sent again after a reconnect. */
static void on_offer_again(xfer_mgr *m, xf *x, const uint8_t peer[static 32])
{
    if (x->rec.dir != XFER_IN || memcmp(x->rec.peer, peer, 32) != 0)
        return;
    if (x->rec.state == XFER_ACTIVE || x->rec.state == XFER_PAUSED)
        xfer_peer_online(m, peer);
    else if (x->rec.state == XFER_DONE) /* our results may never have reached it */
        for (size_t i = 0; i < x->rec.nfiles; i++)
            send_result(x, i, true, NULL);
    else if (x->rec.state == XFER_DECLINED) /* our answer may never have reached it */
        send_end(x, MSG_FILE_DECLINE, x->rec.error[0] ? x->rec.error : "declined");
}

static void on_offer(xfer_mgr *m, const uint8_t peer[static 32], const struct msg_offer *o)
{
    xf *x = find(m, o->id);
    if (!x)
        x = revive(m, o->id);
    if (x) {
        on_offer_again(m, x, peer);
        return;
    }
    char why[BANTER_MAX_REASON] = "";
    int est = -1;
    if (!within_rate(m, peer, &est)) {
        snprintf(why, sizeof why, "ERATE: too many file offers at once; offer again later");
        decline_id(m, peer, o->id, why);
        say_refused(m, why);
        return;
    }
    guint mine = GPOINTER_TO_UINT(g_hash_table_lookup(m->offered, peer));
    /* The node-wide cap holds strangers' waiting offers; an established
     * colleague's are held by their own cap only (a flood of new keys
     * that fills the node's must not keep a colleague's file out). */
    bool full = m->offered_total >= m->lim.total;
    if (full && est < 0)
        est = m->cb.established && m->cb.established(m->ud, peer);
    if (mine >= m->lim.per_peer || (full && est != 1)) {
        /* Over a cap: answered, not kept (docs/limits.md). */
        snprintf(why, sizeof why,
                 "EBUSY: too many offers wait for an answer (%s limit %u); offer again later",
                 mine >= m->lim.per_peer ? "your" : "the node's",
                 mine >= m->lim.per_peer ? m->lim.per_peer : m->lim.total);
        decline_id(m, peer, o->id, why);
        say_refused(m, why);
        return;
    }
    int bad = check_offer(o, why, sizeof why);
    if (!bad)
        bad = over_limit(m, o, why, sizeof why);
    x = xf_new(m);
    memcpy(x->rec.id, o->id, MSG_ID_LEN);
    memcpy(x->rec.peer, peer, 32);
    x->rec.dir = XFER_IN;
    x->rec.state = bad ? XFER_FAILED : XFER_OFFERED;
    x->rec.created_ms = x->rec.updated_ms = now_ms();
    x->rec.dest = g_strdup("");
    x->rec.error = g_strdup(bad ? why : "");
    bcrypto_rng_system().fill(NULL, x->rec.secret, sizeof x->rec.secret);
    x->rec.nfiles = o->nfiles;
    x->rec.files = g_new0(store_xfile, o->nfiles);
    for (size_t i = 0; i < o->nfiles; i++) {
        x->rec.files[i].name = g_strdup(o->files[i].name);
        x->rec.files[i].local = g_strdup("");
        x->rec.files[i].size = o->files[i].size;
        memcpy(x->rec.files[i].hash, o->files[i].hash, BANTER_FILE_HASHLEN);
    }
    set_files(x);
    if (bad) {
        /* Refused: answered, told once to listeners, and not kept. */
        decline_id(m, peer, o->id, why);
        say_refused(m, why);
        emit(x, XFER_EV_FAILED);
        xf_free(x);
        return;
    }
    if (store_xfer_put(m->st, &x->rec) != 0) {
        xf_free(x);
        return;
    }
    adopt(m, x, true);
    emit(x, XFER_EV_OFFER);
    if (m->cb.auto_accept && m->cb.auto_accept(m->ud, peer, x->total)) {
        char err[256];
        if (xfer_accept(m, x->rec.id, NULL, err, sizeof err) != 0)
            g_printerr("banter: auto-accept failed: %s\n", err);
    }
}

/* The most tries at a folder name others keep taking meanwhile. */
#define RESERVE_TRIES 64

/* A free name like path below dest_fd (fpath_unique); for a folder sent
 * whole, its top folder is made now (0700), so that the next offer
 * accepted before this one's data arrives, from whoever, sees the name
 * taken and gets a folder of its own (protocol 7.1: renamed as a whole).
 * A name made by someone else meanwhile (EEXIST) gives the next one. */
static int reserve_name(int dest_fd, const char *path, bool folder, char *chosen, size_t cap)
{
    for (int tries = 0; tries < RESERVE_TRIES; tries++) {
        int r = fpath_unique(dest_fd, path, folder, chosen, cap);
        if (r || !folder)
            return r;
        char *top = g_strndup(chosen, strcspn(chosen, "/"));
        r = mkdirat(dest_fd, top, 0700) == 0 ? 0 : errno;
        g_free(top);
        if (r != EEXIST)
            return r == 0 ? 0 : r == ENOSPC || r == EDQUOT ? BANTER_ENOSPC : BANTER_EIO;
    }
    errno = EEXIST;
    return BANTER_EIO;
}

/* For a cancel: the top folders reserve_name made for x go when they are
 * empty (a folder holding anything, even an empty folder, stays). */
static void unreserve(xf *x)
{
    for (size_t i = 0; x->dest_fd >= 0 && i < x->rec.nfiles; i++) {
        const char *local = x->rec.files[i].local;
        if (!strchr(local, '/'))
            continue;
        char *top = g_strndup(local, strcspn(local, "/"));
        (void)unlinkat(x->dest_fd, top, AT_REMOVEDIR);
        g_free(top);
    }
}

/* Choose free names below dest: a folder sent whole is renamed as a whole. */
static int choose_names(xf *x, char *why, size_t cap)
{
    for (size_t i = 0; i < x->rec.nfiles; i++) {
        store_xfile *f = &x->rec.files[i];
        if (f->local[0])
            continue;
        const char *slash = strchr(f->name, '/');
        char chosen[4096];
        int r = reserve_name(x->dest_fd, f->name, slash != NULL, chosen, sizeof chosen);
        if (r) {
            snprintf(why, cap, "no free name for %s in %s: %s", f->name, x->rec.dest,
                     banter_strerror(r));
            return r;
        }
        size_t root = slash ? (size_t)(slash - f->name) : 0;
        char *croot = slash ? g_strndup(chosen, strcspn(chosen, "/")) : NULL;
        for (size_t k = i; k < x->rec.nfiles; k++) { /* the same root, the same new name */
            store_xfile *g = &x->rec.files[k];
            if (g->local[0] || (k != i && (!slash || strncmp(g->name, f->name, root + 1) != 0)))
                continue;
            free(g->local);
            g->local = k == i ? g_strdup(chosen) : g_strconcat(croot, g->name + root, NULL);
        }
        g_free(croot);
    }
    return 0;
}

static int open_dest(xf *x, const char *dir, char *why, size_t cap)
{
    if (x->dest_fd >= 0)
        return 0;
    if (g_mkdir_with_parents(dir, 0700) != 0) {
        snprintf(why, cap, "cannot create %s: %s", dir, g_strerror(errno));
        return BANTER_EIO;
    }
    x->dest_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (x->dest_fd < 0) {
        snprintf(why, cap, "cannot open %s: %s", dir, g_strerror(errno));
        return BANTER_EIO;
    }
    return 0;
}

int xfer_accept(xfer_mgr *m, const uint8_t id[static MSG_ID_LEN], const char *dir, char *why,
                size_t cap)
{
    xf *x = find(m, id);
    snprintf(why, cap, "no such incoming transfer");
    if (!x && gone(m, id)) {
        snprintf(why, cap, "the transfer is over");
        return BANTER_ESTATE;
    }
    if (!x || x->rec.dir != XFER_IN)
        return BANTER_ENOENT;
    snprintf(why, cap, "the transfer is %s", xfer_state_name((xfer_state)x->rec.state));
    if (over(x) || x->rec.state == XFER_ACTIVE)
        return BANTER_ESTATE;
    bool fresh = x->rec.state == XFER_OFFERED;
    if (!fresh && x->rec.dest[0] == '\0') /* refused offer: nothing to resume */
        return BANTER_ESTATE;
    const char *target = fresh ? (dir ? dir : m->download_dir) : x->rec.dest;
    int r = open_dest(x, target, why, cap);
    if (r)
        return r;
    if (fresh) {
        free(x->rec.dest);
        x->rec.dest = g_strdup(target);
        r = choose_names(x, why, cap);
        if (r == 0) {
            r = store_xfer_put(m->st, &x->rec);
            if (r)
                snprintf(why, cap, "cannot save the transfer: %s", store_errmsg(m->st));
        }
        if (r) {
            close(x->dest_fd);
            x->dest_fd = -1;
            return r;
        }
        x->verified = x->recv_off = 0;
        x->need_scan = false;
    }
    set_error(x, "");
    set_state(x, peer_conn(x) ? XFER_ACTIVE : XFER_PAUSED, NULL);
    if (x->need_scan) {
        start_scan(x);
    } else {
        settle_empty(x);
        x->want_accept = !over(x);
        maybe_accept(x);
    }
    return 0;
}

int xfer_decline(xfer_mgr *m, const uint8_t id[static MSG_ID_LEN])
{
    xf *x = find(m, id);
    if (!x && gone(m, id))
        return BANTER_ESTATE;
    if (!x || x->rec.dir != XFER_IN)
        return BANTER_ENOENT;
    if (x->rec.state != XFER_OFFERED)
        return BANTER_ESTATE;
    send_end(x, MSG_FILE_DECLINE, "declined");
    set_state(x, XFER_DECLINED, "declined");
    return 0;
}

int xfer_cancel(xfer_mgr *m, const uint8_t id[static MSG_ID_LEN])
{
    xf *x = find(m, id);
    if (!x)
        return gone(m, id) ? BANTER_ESTATE : BANTER_ENOENT;
    if (over(x))
        return BANTER_ESTATE;
    send_end(x, MSG_FILE_CANCEL, "cancelled by the other side");
    if (x->rec.dir == XFER_IN)
        delete_partials(x);
    else
        close_sender(x);
    set_state(x, XFER_CANCELLED, "cancelled");
    return 0;
}

/* ---- sender ---- */

static gboolean pump(gpointer p);

static void start_pump(xf *x)
{
    if (!x->pump && x->rec.state == XFER_ACTIVE && x->send_off < x->total)
        x->pump = g_idle_add_full(G_PRIORITY_LOW, pump, x, NULL);
}

/* May run inside the pump: the pump sees the state and removes itself. */
static void fail_out(xf *x, const char *why)
{
    close_source(x);
    set_state(x, XFER_FAILED, why);
}

/* Open file idx for sending and check it is what was offered. */
static int open_source(xf *x, size_t idx)
{
    const store_xfile *f = &x->rec.files[idx];
    struct stat st;
    if (x->src_fd >= 0 && x->src_idx == idx)
        return 0;
    close_source(x);
    x->src_fd = open(f->local, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    x->src_idx = idx;
    if (x->src_fd < 0 || fstat(x->src_fd, &st) != 0)
        return BANTER_EIO;
    int64_t mt = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    if ((uint64_t)st.st_size != f->size || mt != f->mtime_ns)
        return BANTER_ESTATE;
    (void)posix_fadvise(x->src_fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return 0;
}

/* On a path that says its rate (ICE), the chunks and the queue shrink to
 * what it carries in XFER_CHUNK_MS and XFER_QUEUE_MS, so a chat message
 * queued behind them goes within a fraction of a second even on dial-up
 * (56 kbit/s: about 1 KiB chunks), and every frame completes long before
 * the receiver's frame timer. Fast paths and TCP keep the full sizes. */
static size_t chunk_max(const conn *c)
{
    uint64_t rate = conn_rate(c), n = rate * XFER_CHUNK_MS / 1000;
    if (!rate || n >= XFER_CHUNK)
        return XFER_CHUNK;
    return n < XFER_CHUNK_MIN ? XFER_CHUNK_MIN : (size_t)n;
}

static size_t queue_high(const conn *c)
{
    uint64_t rate = conn_rate(c), n = rate * XFER_QUEUE_MS / 1000;
    if (!rate || n >= XFER_QUEUE_HIGH)
        return XFER_QUEUE_HIGH;
    return n < XFER_CHUNK_MIN ? XFER_CHUNK_MIN : (size_t)n;
}

/* Send one chunk at send_off. 1 sent, 0 queue full, <0 error (handled). */
static int send_chunk(xf *x, conn *c)
{
    size_t idx = 0;
    uint64_t start = 0;
    while (idx < x->rec.nfiles && start + x->rec.files[idx].size <= x->send_off)
        start += x->rec.files[idx++].size;
    int r = open_source(x, idx);
    if (r) {
        char why[BANTER_MAX_REASON], mine[BANTER_MAX_REASON + 64];
        const char *what = r == BANTER_ESTATE ? "changed after it was offered" : "cannot be read";
        /* The peer learns the offered name, never our local path. */
        snprintf(why, sizeof why, "%s %s", x->rec.files[idx].name, what);
        snprintf(mine, sizeof mine, "%s %s", x->rec.files[idx].local, what);
        send_end(x, MSG_FILE_CANCEL, why);
        fail_out(x, mine);
        return -1;
    }
    uint64_t left = start + x->rec.files[idx].size - x->send_off;
    size_t most = chunk_max(c);
    size_t n = left < most ? (size_t)left : most;
    uint8_t *b = x->m->chunk;
    b[0] = MSG_CHUNK;
    memcpy(b + 1, x->rec.id, MSG_ID_LEN);
    put_u64be(b + 1 + MSG_ID_LEN, x->send_off);
    if (pread(x->src_fd, b + BANTER_CHUNK_HDR, n, (off_t)(x->send_off - start)) != (ssize_t)n) {
        fail_out(x, "a file to send could not be read");
        return -1;
    }
    r = conn_send_raw(c, b, BANTER_CHUNK_HDR + n);
    if (r == BANTER_ETOOBIG)
        return 0;
    if (r)
        return -1;
    x->send_off += n;
    progress(x, n);
    return 1;
}

/* Whether more data may go now: the connection's queue is short, and a
 * receiver that answers FILE_MARK has stored all but window bytes. */
static bool may_send(const xf *x, conn *c)
{
    return c && x->rec.state == XFER_ACTIVE && x->send_off < x->total &&
           conn_queued(c) < queue_high(c) && (x->window == 0 || x->send_off - x->acked < x->window);
}

static gboolean pump(gpointer p)
{
    xf *x = p;
    conn *c = peer_conn(x);
    bool full = false; /* stopped by may_send (not by send_chunk) */
    int k;
    if (c)
        conn_cork(c, true); /* the batch goes in as few writes as the socket allows */
    for (k = 0; k < PUMP_BATCH; k++) {
        if (!may_send(x, c)) {
            full = true;
            break;
        }
        if (send_chunk(x, c) <= 0)
            break;
        if (x->window &&
            (x->send_off - x->last_mark >= XFER_MARK_EVERY || x->send_off == x->total)) {
            send_mark(x, MSG_FILE_MARK, x->send_off);
            x->last_mark = x->send_off;
        }
    }
    if (c)
        conn_cork(c, false);
    /* The queue that stopped the batch may have gone into the socket at
     * once: then no drained() comes, and the pump goes on. */
    if (k == PUMP_BATCH || (full && may_send(x, c)))
        return G_SOURCE_CONTINUE;
    x->pump = 0; /* drained, FILE_STORED or a new accept starts it again */
    if (x->send_off >= x->total)
        close_source(x);
    return G_SOURCE_REMOVE;
}

static void on_accept(xf *x, const struct msg_accept *a)
{
    uint64_t offset = a->offset;
    if (over(x) || x->rec.dir != XFER_OUT) {
        if (over(x) && x->rec.state != XFER_DONE)
            send_end(x, MSG_FILE_CANCEL, "this transfer is over");
        return;
    }
    if (offset > x->total) {
        send_end(x, MSG_FILE_CANCEL, "offset beyond the offered files");
        fail_out(x, "the receiver asked for data beyond the files");
        return;
    }
    x->send_off = x->acked = x->last_mark = offset;
    x->window = a->window < XFER_WINDOW ? a->window : XFER_WINDOW;
    if (x->window && x->window < XFER_CHUNK)
        x->window = XFER_CHUNK;
    set_state(x, XFER_ACTIVE, "");
    start_pump(x);
}

/* The receiver stored everything before offset: more may go. */
static void on_stored(xf *x, uint64_t offset)
{
    if (x->rec.dir != XFER_OUT || x->rec.state != XFER_ACTIVE || offset <= x->acked ||
        offset > x->send_off)
        return;
    x->acked = offset;
    start_pump(x);
}

static void on_result(xf *x, const struct msg_result *r)
{
    if (x->rec.dir != XFER_OUT || r->file >= x->rec.nfiles || over(x))
        return;
    if (!r->ok) {
        char why[BANTER_MAX_REASON + 32];
        snprintf(why, sizeof why, "receiver: %s", r->error[0] ? r->error : "file refused");
        fail_out(x, why);
        return;
    }
    store_xfile *f = &x->rec.files[r->file];
    f->verified = true;
    if (store_xfile_save(x->m->st, x->rec.id, r->file, f) != 0)
        g_printerr("banter: cannot save transfer state: %s\n", store_errmsg(x->m->st));
    if (all_verified(x)) {
        close_sender(x);
        x->send_off = x->total;
        set_state(x, XFER_DONE, "");
    }
}

static void offer_new(xfer_mgr *m, job *j, size_t from, size_t to, uint8_t id[MSG_ID_LEN])
{
    xf *x = xf_new(m);
    bcrypto_rng_system().fill(NULL, x->rec.id, MSG_ID_LEN);
    memcpy(id, x->rec.id, MSG_ID_LEN);
    memcpy(x->rec.peer, j->peer, 32);
    x->rec.dir = XFER_OUT;
    x->rec.state = XFER_OFFERED;
    x->rec.created_ms = x->rec.updated_ms = now_ms();
    x->rec.dest = g_strdup("");
    x->rec.error = g_strdup("");
    x->rec.nfiles = to - from;
    x->rec.files = g_new0(store_xfile, to - from);
    for (size_t i = from; i < to; i++) {
        store_xfile *f = &x->rec.files[i - from];
        f->name = g_strdup(j->files[i].name);
        f->local = g_strdup(j->files[i].path);
        f->size = j->files[i].size;
        f->mtime_ns = j->files[i].mtime_ns;
        memcpy(f->hash, j->files[i].hash, BANTER_FILE_HASHLEN);
    }
    set_files(x);
    if (store_xfer_put(m->st, &x->rec) != 0) {
        xf_free(x);
        return;
    }
    adopt(m, x, true);
    emit(x, XFER_EV_STATE);
    send_offer(x);
}

/* Hashing is over: one transfer per group of files that fits an offer. */
static void hash_done(job *j)
{
    uint8_t id[MSG_ID_LEN] = {0}, first[MSG_ID_LEN] = {0};
    const char *rule = "the limit";
    uint64_t max = j->m->cb.max_file ? j->m->cb.max_file(j->m->ud, &rule) : 0;
    for (size_t i = 0; !j->err && max && i < j->nfiles; i++) {
        if (j->files[i].size > max) {
            snprintf(j->why, sizeof j->why, "%s is larger than %s allows (%llu MB)",
                     j->files[i].path, rule, (unsigned long long)(max / (1024 * 1024)));
            j->err = BANTER_ETOOBIG;
        }
    }
    if (j->err) {
        if (j->done)
            j->done(j->ud2, j->err, first, j->why);
        return;
    }
    size_t from = 0, budget = 0;
    bool any = false;
    for (size_t i = 0; i <= j->nfiles; i++) {
        size_t cost = i < j->nfiles ? strlen(j->files[i].name) + OFFER_PER_FILE : 0;
        if (i == j->nfiles || i - from == BANTER_MAX_FILES || budget + cost > OFFER_BUDGET) {
            offer_new(j->m, j, from, i, id);
            if (!any)
                memcpy(first, id, sizeof id);
            any = true;
            from = i;
            budget = 0;
        }
        budget += cost;
    }
    if (j->done)
        j->done(j->ud2, 0, first, NULL);
}

int xfer_send(xfer_mgr *m, const uint8_t peer[static 32], const char *const *paths, size_t npaths,
              xfer_offer_done done, void *ud2)
{
    if (npaths == 0 || npaths > BANTER_MAX_FILES)
        return BANTER_EINVAL;
    job *j = g_new0(job, 1);
    j->m = m;
    memcpy(j->peer, peer, 32);
    j->done = done;
    j->ud2 = ud2;
    j->paths = g_new0(char *, npaths + 1);
    for (size_t i = 0; i < npaths; i++) {
        if (!paths[i] || paths[i][0] != '/') {
            g_strfreev(j->paths);
            g_free(j);
            return BANTER_EINVAL;
        }
        j->paths[i] = g_strdup(paths[i]);
    }
    j->npaths = npaths;
    push(m, j);
    return 0;
}

/* ---- from the node ---- */

/* ---- worker results ---- */

static gboolean job_done(gpointer p)
{
    job *j = p;
    hash_done(j);
    for (size_t i = 0; i < j->nfiles; i++) {
        g_free(j->files[i].path);
        g_free(j->files[i].name);
    }
    g_free(j->files);
    g_strfreev(j->paths);
    g_free(j);
    return G_SOURCE_REMOVE;
}

/* ---- from the node ---- */

/* An incoming offer its sender cancelled before it was answered: told to
 * listeners, then gone from memory and from the store, like one never
 * made. Nothing was written for it (no folder, no partial file), and
 * nothing refers to it but the lists (an offer or cancel for its id later
 * finds nothing, as for any id). Without this, offering and cancelling in
 * a loop would grow the database and the memory without end: the caps
 * count only offers still waiting. */
static void forget_offer(xfer_mgr *m, xf *x, const char *reason)
{
    set_state_quiet(x, XFER_CANCELLED, reason[0] ? reason : "cancelled by the peer");
    emit(x, XFER_EV_FAILED);
    if (store_xfer_delete(m->st, x->rec.id) != 0)
        g_printerr("banter: cannot delete a cancelled offer: %s\n", store_errmsg(m->st));
    g_hash_table_remove(m->byid, x->rec.id);
    m->xfers = g_list_remove(m->xfers, x);
    xf_free(x);
}

static const uint8_t *id_of(const msg *m)
{
    switch (m->type) {
    case MSG_CHUNK:
        return m->u.chunk.transfer;
    case MSG_FILE_ACCEPT:
        return m->u.accept.id;
    case MSG_FILE_RESULT:
        return m->u.result.id;
    case MSG_FILE_MARK:
    case MSG_FILE_STORED:
        return m->u.mark.id;
    default: /* DECLINE, CANCEL */
        return m->u.end.id;
    }
}

void xfer_on_message(xfer_mgr *m, conn *c, const uint8_t peer[static 32], const msg *msg_in)
{
    if (msg_in->type == MSG_FILE_OFFER) {
        on_offer(m, peer, &msg_in->u.offer);
        return;
    }
    xf *x = find(m, id_of(msg_in));
    if (!x || memcmp(x->rec.peer, peer, 32) != 0)
        return; /* not ours: ignore */
    switch (msg_in->type) {
    case MSG_CHUNK:
        if (x->rec.dir == XFER_IN)
            on_chunk(x, c, &msg_in->u.chunk);
        break;
    case MSG_FILE_MARK:
        if (x->rec.dir == XFER_IN)
            on_mark(x, msg_in->u.mark.offset);
        break;
    case MSG_FILE_STORED:
        on_stored(x, msg_in->u.mark.offset);
        break;
    case MSG_FILE_ACCEPT:
        on_accept(x, &msg_in->u.accept);
        break;
    case MSG_FILE_RESULT:
        on_result(x, &msg_in->u.result);
        break;
    case MSG_FILE_DECLINE:
        if (x->rec.dir == XFER_OUT && x->rec.state == XFER_OFFERED)
            set_state(x, XFER_DECLINED,
                      msg_in->u.end.reason[0] ? msg_in->u.end.reason : "declined");
        else if (x->rec.dir == XFER_OUT && !over(x))
            fail_out(x, msg_in->u.end.reason);
        break;
    default: /* MSG_FILE_CANCEL */
        if (over(x))
            break;
        if (x->rec.dir == XFER_IN && x->rec.state == XFER_OFFERED) {
            forget_offer(m, x, msg_in->u.end.reason);
            break;
        }
        if (x->rec.dir == XFER_IN)
            delete_partials(x);
        else
            close_sender(x);
        set_state(x, XFER_CANCELLED,
                  msg_in->u.end.reason[0] ? msg_in->u.end.reason : "cancelled by the peer");
        break;
    }
}

void xfer_peer_online(xfer_mgr *m, const uint8_t peer[static 32])
{
    for (GList *l = m->xfers; l; l = l->next) {
        xf *x = l->data;
        if (memcmp(x->rec.peer, peer, 32) != 0 || over(x))
            continue;
        if (x->rec.dir == XFER_OUT && (x->rec.state == XFER_OFFERED ||
                                       (x->rec.state == XFER_PAUSED && x->send_off >= x->total))) {
            /* Not answered yet, or all sent and waiting for results that may
             * have been lost: the receiver answers a repeated offer. */
            send_offer(x);
        } else if (x->rec.dir == XFER_IN &&
                   (x->rec.state == XFER_ACTIVE || x->rec.state == XFER_PAUSED)) {
            char why[256];
            if (open_dest(x, x->rec.dest, why, sizeof why) != 0) {
                fail_in(x, 0, why, false);
                continue;
            }
            set_state(x, XFER_ACTIVE, NULL);
            if (x->need_scan && !x->scanning)
                start_scan(x);
            else
                x->want_accept = true;
            maybe_accept(x);
        }
    }
}

void xfer_peer_offline(xfer_mgr *m, const uint8_t peer[static 32])
{
    for (GList *l = m->xfers; l; l = l->next) {
        xf *x = l->data;
        if (memcmp(x->rec.peer, peer, 32) != 0 || x->rec.state != XFER_ACTIVE)
            continue;
        if (x->rec.dir == XFER_OUT)
            close_sender(x);
        else if (x->pf && !x->scanning)
            xsink_checkpoint(x->pf); /* a restart now resumes without reading */
        set_state(x, XFER_PAUSED, NULL);
    }
}

void xfer_drained(xfer_mgr *m, const uint8_t peer[static 32])
{
    for (GList *l = m->xfers; l; l = l->next) {
        xf *x = l->data;
        if (x->rec.dir == XFER_OUT && memcmp(x->rec.peer, peer, 32) == 0)
            start_pump(x);
    }
}

/* ---- queries ---- */

/* What `transfers` shows of a stored row that is not in memory. */
static void info_of_rec(xfer_mgr *m, store_xfer *rec, xfer_info *out)
{
    xf *x = xf_new(m);
    x->rec = *rec; /* moved: freed with x */
    memset(rec, 0, sizeof *rec);
    set_files(x);
    x->send_off = x->verified = x->rec.done;
    fill_info(x, out);
    xf_free(x);
}

int xfer_list_page(xfer_mgr *m, const uint8_t *before, size_t limit, xfer_info **out, size_t *n)
{
    store_xfer *rows = NULL;
    size_t k = 0;
    *out = NULL;
    *n = 0;
    if (limit == 0)
        return 0;
    int r = store_xfer_page(m->st, before, limit, &rows, &k);
    if (r)
        return r;
    *out = k ? calloc(k, sizeof **out) : NULL;
    if (k && !*out) {
        store_xfers_free(rows, k);
        return BANTER_ENOMEM;
    }
    for (size_t i = 0; i < k; i++) {
        const xf *x = find(m, rows[i].id);
        if (x)
            fill_info(x, &(*out)[i]);
        else
            info_of_rec(m, &rows[i], &(*out)[i]);
    }
    store_xfers_free(rows, k);
    *n = k;
    return 0;
}

int xfer_list(xfer_mgr *m, xfer_info **out, size_t *n)
{
    return xfer_list_page(m, NULL, XFER_LIST_PAGE, out, n);
}

int xfer_get(xfer_mgr *m, const uint8_t id[static MSG_ID_LEN], xfer_info *out)
{
    xf *x = find(m, id);
    if (x) {
        fill_info(x, out);
        return 0;
    }
    store_xfer rec;
    int r = store_xfer_get(m->st, id, &rec);
    if (r)
        return r;
    info_of_rec(m, &rec, out);
    return 0;
}

int xfer_resolve(xfer_mgr *m, const char *query, uint8_t id[static MSG_ID_LEN])
{
    size_t ql = strlen(query);
    if (ql == 0 || ql > 2 * MSG_ID_LEN)
        return BANTER_ENOENT;
    /* The ids that start with the prefix lie between it padded with 0s and
     * with fs: one range of the store's primary key. */
    char lo[2 * MSG_ID_LEN + 1], hi[2 * MSG_ID_LEN + 1];
    for (size_t i = 0; i < 2 * MSG_ID_LEN; i++) {
        char c = i < ql ? g_ascii_tolower(query[i]) : 0;
        if (i < ql && !g_ascii_isxdigit(c))
            return BANTER_ENOENT;
        lo[i] = i < ql ? c : '0';
        hi[i] = i < ql ? c : 'f';
    }
    lo[2 * MSG_ID_LEN] = hi[2 * MSG_ID_LEN] = '\0';
    uint8_t a[MSG_ID_LEN], b[MSG_ID_LEN];
    if (msg_id_from_hex(a, lo) != 0 || msg_id_from_hex(b, hi) != 0)
        return BANTER_ENOENT;
    return store_xfer_resolve(m->st, a, b, id);
}

/* ---- expiry and eviction ---- */

/* A declined transfer nothing refers to any more leaves memory (the store
 * keeps its row for `transfers`; a repeated offer brings it back). */
static bool evictable(const xf *x)
{
    return x->rec.state == XFER_DECLINED && x->jobs == 0 && !x->pf && !x->scanning && !x->pump &&
           x->src_fd < 0 && x->dest_fd < 0;
}

static gboolean on_sweep(gpointer p)
{
    xfer_mgr *m = p;
    int64_t t = now_ms();
    char why[BANTER_MAX_REASON];
    snprintf(why, sizeof why, "expired: not answered within %u s", m->lim.expiry_s);
    GList *l = m->xfers;
    while (l) {
        GList *next = l->next;
        xf *x = l->data;
        if (x->rec.dir == XFER_IN && x->rec.state == XFER_OFFERED &&
            t - x->rec.created_ms >= (int64_t)m->lim.expiry_s * 1000) {
            send_end(x, MSG_FILE_DECLINE, why);
            set_state(x, XFER_DECLINED, why);
        }
        if (evictable(x)) {
            g_hash_table_remove(m->byid, x->rec.id);
            m->xfers = g_list_delete_link(m->xfers, l);
            xf_free(x);
        }
        l = next;
    }
    /* Buckets full again are forgotten: made-up keys leave nothing. */
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, m->rates);
    while (g_hash_table_iter_next(&it, NULL, &v))
        if (tbucket_full(v, mono_ms()))
            g_hash_table_iter_remove(&it);
    if (m->offered_total || g_hash_table_size(m->rates))
        return G_SOURCE_CONTINUE;
    m->sweep = 0;
    return G_SOURCE_REMOVE;
}

/* A timer only while incoming offers wait: an idle node has none. Four
 * looks per expiry time, at most one a minute. */
static void arm_sweep(xfer_mgr *m)
{
    if (m->sweep || (!m->offered_total && !g_hash_table_size(m->rates)))
        return;
    guint period = m->lim.expiry_s >= 240 ? 60000u : MAX(m->lim.expiry_s * 250u, 250u);
    m->sweep = g_timeout_add(period, on_sweep, m);
}

void xfer_set_limits(xfer_mgr *m, const xfer_limits *lim)
{
    m->lim.per_peer = lim->per_peer ? lim->per_peer : XFER_OFFERS_PER_PEER;
    m->lim.total = lim->total ? lim->total : XFER_OFFERS_TOTAL;
    m->lim.expiry_s = lim->expiry_s ? lim->expiry_s : XFER_OFFER_EXPIRY_S;
    m->lim.rate = lim->rate;
    m->lim.burst = lim->burst;
    m->lim.rate_all = lim->rate_all;
    m->lim.burst_all = lim->burst_all;
    g_hash_table_remove_all(m->rates);
    tbucket_init(&m->rate_all, m->lim.rate_all, m->lim.burst_all, mono_ms());
    if (m->sweep) { /* the period follows the expiry */
        g_source_remove(m->sweep);
        m->sweep = 0;
    }
    arm_sweep(m);
}

/* ---- lifecycle ---- */

int xfer_mgr_new(xfer_mgr **out, store *st, const char *download_dir, const xfer_callbacks *cb,
                 void *ud)
{
    store_xfer *all = NULL;
    size_t n = 0;
    *out = NULL;
    int r = store_xfer_load_live(st, &all, &n);
    if (r)
        return r;
    xfer_mgr *m = g_new0(xfer_mgr, 1);
    m->st = st;
    g_strlcpy(m->download_dir, download_dir, sizeof m->download_dir);
    m->cb = *cb;
    m->ud = ud;
    m->lim = (xfer_limits){.per_peer = XFER_OFFERS_PER_PEER,
                           .total = XFER_OFFERS_TOTAL,
                           .expiry_s = XFER_OFFER_EXPIRY_S,
                           .rate = XFER_OFFER_RATE,
                           .burst = XFER_OFFER_BURST,
                           .rate_all = XFER_OFFER_RATE_ALL,
                           .burst_all = XFER_OFFER_BURST_ALL};
    tbucket_init(&m->rate_all, m->lim.rate_all, m->lim.burst_all, mono_ms());
    m->rates = g_hash_table_new_full(key_hash, key_equal, g_free, g_free);
    m->byid = g_hash_table_new(id_hash, id_equal);
    m->offered = g_hash_table_new_full(key_hash, key_equal, g_free, NULL);
    m->ctx = g_main_context_default();
    m->chunk = g_malloc(BANTER_CHUNK_HDR + XFER_CHUNK);
    m->hbuf = g_malloc(HASH_BUF);
    g_mutex_init(&m->hlock);
    m->hcache = g_hash_table_new_full(hkey_hash, hkey_equal, g_free, g_free);
    m->pool = g_thread_pool_new(worker, NULL, 1, TRUE, NULL);
    r = xsink_new(&m->sink, m->ctx, on_sink, m);
    if (r || !m->pool) {
        store_xfers_free(all, n);
        xfer_mgr_free(m);
        return r ? r : BANTER_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) { /* newest first, as loaded */
        xf *x = xf_new(m);
        x->rec = all[i];
        memset(&all[i], 0, sizeof all[i]);
        set_files(x);
        if (x->rec.dir == XFER_OUT) {
            x->send_off = x->rec.done;
        } else {
            x->verified = x->recv_off = x->rec.done;
            x->need_scan = true; /* find out what the partial files hold */
        }
        if (x->rec.state == XFER_ACTIVE)
            x->rec.state = XFER_PAUSED;
        adopt(m, x, false);
    }
    store_xfers_free(all, n);
    *out = m;
    return 0;
}

void xfer_mgr_free(xfer_mgr *m)
{
    if (!m)
        return;
    /* Queued jobs give up at once (a waiting send-file is answered)... */
    g_atomic_int_set(&m->stopping, 1);
    for (GList *l = m->xfers; l; l = l->next) {
        xf *x = l->data;
        close_sender(x);
        close_receiver(x, !x->scanning); /* sealed: resumed without reading */
        if (x->rec.state == XFER_ACTIVE || x->rec.state == XFER_PAUSED)
            save(x);
    }
    /* ...the sink writes what it was given, files that were complete get
     * their names (and are recorded), and the checkpoints are sealed... */
    xsink_free(m->sink);
    if (m->pool)
        g_thread_pool_free(m->pool, FALSE, TRUE);
    /* ...and the hash jobs' results, already posted, are run here. */
    while (g_main_context_iteration(m->ctx, FALSE))
        ;
    if (m->sweep)
        g_source_remove(m->sweep);
    for (GList *l = m->xfers; l; l = l->next)
        xf_free(l->data);
    g_list_free(m->xfers);
    if (m->byid)
        g_hash_table_destroy(m->byid);
    if (m->offered)
        g_hash_table_destroy(m->offered);
    if (m->rates)
        g_hash_table_destroy(m->rates);
    if (m->hcache)
        g_hash_table_destroy(m->hcache);
    g_mutex_clear(&m->hlock);
    g_free(m->chunk);
    g_free(m->hbuf);
    g_free(m);
}
