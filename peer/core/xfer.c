/* SPDX-License-Identifier: MIT */
/* xfer.c - file transfers: offers, streaming, verification, resume. */
#define _GNU_SOURCE /* renameat2 */
#include "core/xfer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bcrypto.h"
#include "buf.h"
#include "fpath.h"

#define SUM_SUFFIX     ".sum"
#define SUM_REC        28 /* offset u64 BE | length u32 BE | tag 16 */
#define SAVE_MS        1000
#define PUMP_BATCH     16
#define HASH_BUF       (1u << 20)
/* An offer's JSON must fit one message: budget per file beyond its name. */
#define OFFER_BUDGET   60000u
#define OFFER_PER_FILE 140u

/* ---- types ---- */

typedef struct pfile { /* a receiver's partial file and its sidecar */
    int part_fd, sum_fd;
    gint refs;
} pfile;

typedef struct xf {
    xfer_mgr *m;
    store_xfer rec;
    uint64_t total;
    /* sender */
    uint64_t send_off;
    int src_fd;
    size_t src_idx;
    guint pump;
    /* receiver */
    int dest_fd;
    uint64_t recv_off, verified;
    pfile *pf;
    size_t pf_idx;
    bcrypto_hash *hstate; /* the worker's while jobs are pending */
    int jobs;
    bool need_scan, scanning, want_accept;
    /* progress */
    int64_t last_progress_ms, last_save_ms, rate_ms;
    uint64_t rate_bytes;
    double rate;
    bool removed;
} xf;

typedef struct hfile {
    char *path, *name;
    uint64_t size;
    int64_t mtime_ns;
    uint8_t hash[BANTER_FILE_HASHLEN];
} hfile;

typedef enum job_kind { JOB_HASH, JOB_CHUNK, JOB_SCAN } job_kind;

typedef struct job {
    job_kind kind;
    xfer_mgr *m;
    xf *x;
    int err;
    char why[512];
    /* HASH */
    char **paths;
    size_t npaths;
    uint8_t peer[32];
    xfer_offer_done done;
    void *ud2;
    hfile *files;
    size_t nfiles, cap;
    /* CHUNK and SCAN */
    pfile *pf;
    size_t idx;
    uint64_t foff, gstart; /* offset in the file; global offset of the file */
    uint32_t len;
    bool init_hash, file_done, file_ok;
    uint64_t good; /* SCAN: verified bytes of file idx */
} job;

struct xfer_mgr {
    store *st;
    char download_dir[4096];
    xfer_callbacks cb;
    void *ud;
    GList *xfers;
    GThreadPool *pool;
    GMainContext *ctx;
    uint8_t *chunk; /* BANTER_CHUNK_HDR + XFER_CHUNK, for the pump */
    uint8_t *wbuf;  /* the worker's buffer */
    gint stopping;  /* set by xfer_mgr_free: queued jobs give up at once */
};

static int64_t now_ms(void) { return g_get_real_time() / 1000; }

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
    x->last_save_ms = x->rec.updated_ms;
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
    if (t - x->last_save_ms >= SAVE_MS)
        save(x);
}

static void set_state(xf *x, xfer_state s, const char *error)
{
    x->rec.state = s;
    if (error)
        set_error(x, error);
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
    m.u.accept.offset = x->verified;
    x->want_accept = false;
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

/* ---- the worker thread ---- */

static gboolean job_done(gpointer p);

static void pfile_unref(pfile *pf)
{
    if (pf && g_atomic_int_dec_and_test(&pf->refs)) {
        if (pf->part_fd >= 0)
            close(pf->part_fd);
        if (pf->sum_fd >= 0)
            close(pf->sum_fd);
        g_free(pf);
    }
}

static int hash_fd(int fd, uint8_t out[static BANTER_FILE_HASHLEN], uint64_t *size)
{
    bcrypto_hash h;
    uint8_t *b = g_malloc(HASH_BUF);
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
    g_free(b);
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
        hfile *f = &j->files[i];
        struct stat st;
        if (g_atomic_int_get(&j->m->stopping)) {
            snprintf(j->why, sizeof j->why, "the node is stopping");
            j->err = BANTER_ESTATE;
            break;
        }
        int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 || fstat(fd, &st) != 0 || hash_fd(fd, f->hash, &f->size) != 0) {
            snprintf(j->why, sizeof j->why, "cannot read %s: %s", f->path, g_strerror(errno));
            j->err = BANTER_EIO;
        } else {
            f->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
            if ((uint64_t)st.st_size != f->size) {
                snprintf(j->why, sizeof j->why, "%s changed while it was read", f->path);
                j->err = BANTER_EIO;
            }
        }
        if (fd >= 0)
            close(fd);
    }
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}

/* Add one written chunk to the file's hash; check the file after its last.
 * (Its checksum record was written with the data, on the main loop.) */
static void run_chunk(job *j, uint8_t *b)
{
    xf *x = j->x;
    const store_xfile *f = &x->rec.files[j->idx];
    ssize_t n = pread(j->pf->part_fd, b, j->len, (off_t)j->foff);
    if (n != (ssize_t)j->len) {
        j->err = BANTER_EIO;
        snprintf(j->why, sizeof j->why, "cannot read back %s: %s", f->local,
                 n < 0 ? g_strerror(errno) : "short read");
        return;
    }
    if (j->init_hash)
        bcrypto_hash_init(x->hstate, BANTER_FILE_HASHLEN);
    bcrypto_hash_update(x->hstate, b, j->len);
    if (j->foff + j->len < f->size)
        return;
    uint8_t h[BANTER_FILE_HASHLEN];
    bcrypto_hash_final(x->hstate, h, sizeof h);
    j->file_done = true;
    j->file_ok = bcrypto_equal(h, f->hash, sizeof h);
    if (j->file_ok && (fdatasync(j->pf->part_fd) != 0 || fdatasync(j->pf->sum_fd) != 0)) {
        j->err = BANTER_EIO;
        snprintf(j->why, sizeof j->why, "cannot sync %s: %s", f->local, g_strerror(errno));
    }
}

/* ".NAME.ID8.banter-partial" and its ".sum": the transfer id keeps two
 * transfers that chose the same final name apart until the rename. */
static int partial_names(const xf *x, size_t idx, char *part, size_t pcap, char *sum, size_t scap)
{
    char hex[2 * MSG_ID_LEN + 1], tagged[4200];
    msg_id_to_hex(x->rec.id, hex);
    if ((size_t)snprintf(tagged, sizeof tagged, "%s.%.8s", x->rec.files[idx].local, hex) >=
            sizeof tagged ||
        fpath_partial(tagged, part, pcap) != 0 ||
        (size_t)snprintf(sum, scap, "%s%s", part, SUM_SUFFIX) >= scap)
        return BANTER_ETOOLONG;
    return 0;
}

/* After a restart: how much of file idx's partial still checks out. */
static void run_scan(job *j, uint8_t *b)
{
    xf *x = j->x;
    const store_xfile *f = &x->rec.files[j->idx];
    char part[4096], sum[4200];
    uint8_t rec[SUM_REC];
    bcrypto_hash_init(x->hstate, BANTER_FILE_HASHLEN);
    j->good = 0;
    if (partial_names(x, j->idx, part, sizeof part, sum, sizeof sum) != 0)
        return;
    int pfd = fpath_open_beneath(x->dest_fd, part, O_RDWR, false);
    int sfd = fpath_open_beneath(x->dest_fd, sum, O_RDWR, false);
    off_t roff = 0;
    while (pfd >= 0 && sfd >= 0 && pread(sfd, rec, sizeof rec, roff) == (ssize_t)sizeof rec) {
        cur c = cur_make(rec, sizeof rec);
        uint64_t foff = cur_u64be(&c);
        uint32_t len = (uint32_t)cur_u16be(&c) << 16;
        len |= cur_u16be(&c);
        uint8_t tag[BCRYPTO_CHUNK_TAGLEN];
        if (foff != j->good || len == 0 || len > XFER_CHUNK || foff + len > f->size ||
            pread(pfd, b, len, (off_t)foff) != (ssize_t)len)
            break;
        bcrypto_chunk_tag(tag, x->rec.secret, j->gstart + foff, b, len);
        if (!bcrypto_equal(tag, rec + 12, sizeof tag))
            break; /* corrupted: fetch again from here */
        bcrypto_hash_update(x->hstate, b, len);
        j->good += len;
        roff += SUM_REC;
    }
    if (pfd >= 0 && ftruncate(pfd, (off_t)j->good) != 0)
        j->good = 0;
    if (sfd >= 0 && ftruncate(sfd, roff) != 0)
        j->good = 0;
    if (j->good == f->size && f->size > 0) {
        uint8_t h[BANTER_FILE_HASHLEN];
        bcrypto_hash_final(x->hstate, h, sizeof h);
        j->file_done = true;
        j->file_ok = bcrypto_equal(h, f->hash, sizeof h);
    }
    if (pfd >= 0)
        close(pfd);
    if (sfd >= 0)
        close(sfd);
}

static void worker(gpointer data, gpointer user)
{
    job *j = data;
    uint8_t *b = user;
    if (g_atomic_int_get(&j->m->stopping)) {
        j->err = BANTER_ESTATE;
        snprintf(j->why, sizeof j->why, "the node is stopping");
    } else if (j->kind == JOB_HASH)
        run_hash(j);
    else if (j->kind == JOB_CHUNK)
        run_chunk(j, b);
    else
        run_scan(j, b);
    g_main_context_invoke(j->m->ctx, job_done, j);
}

static void push(xfer_mgr *m, job *j)
{
    if (j->x)
        j->x->jobs++;
    g_thread_pool_push(m->pool, j, NULL);
}

/* ---- lifetime ---- */

static void close_receiver(xf *x)
{
    pfile_unref(x->pf);
    x->pf = NULL;
}

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

static void xf_free(xf *x)
{
    close_sender(x);
    close_receiver(x);
    if (x->dest_fd >= 0)
        close(x->dest_fd);
    free(x->hstate);
    store_xfer_clear(&x->rec);
    g_free(x);
}

static xf *xf_new(xfer_mgr *m)
{
    xf *x = g_new0(xf, 1);
    x->m = m;
    x->src_fd = -1;
    x->dest_fd = -1;
    if (posix_memalign((void **)&x->hstate, 64, sizeof *x->hstate) != 0) {
        g_free(x);
        return NULL;
    }
    return x;
}

static xf *find(xfer_mgr *m, const uint8_t id[static MSG_ID_LEN])
{
    for (GList *l = m->xfers; l; l = l->next) {
        xf *x = l->data;
        if (memcmp(x->rec.id, id, MSG_ID_LEN) == 0)
            return x;
    }
    return NULL;
}

static void compute_total(xf *x) { x->total = file_start(x, x->rec.nfiles); }

/* ---- receiver ---- */

static void delete_partial(xf *x, size_t idx)
{
    char part[4096], sum[4200];
    if (x->dest_fd < 0 || !x->rec.files[idx].local[0] ||
        partial_names(x, idx, part, sizeof part, sum, sizeof sum) != 0)
        return;
    (void)unlinkat(x->dest_fd, part, 0);
    (void)unlinkat(x->dest_fd, sum, 0);
}

static int open_dest(xf *x, const char *dir, char *why, size_t cap);

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
    close_receiver(x);
    if (x->dest_fd < 0 && x->rec.dest[0] && open_dest(x, x->rec.dest, why, sizeof why) != 0)
        return;
    for (size_t i = 0; i < x->rec.nfiles; i++)
        if (!x->rec.files[i].verified)
            delete_partial(x, i);
    close_dest(x);
}

static void fail_in(xf *x, const char *why, bool tell_peer)
{
    close_receiver(x);
    if (tell_peer)
        send_result(x, x->pf_idx, false, why);
    x->recv_off = x->verified;
    set_state(x, XFER_FAILED, why);
    x->need_scan = true; /* a later accept resumes from what checks out */
}

/* The directory that holds path below dest, opened. */
static int open_parent(xf *x, const char *path, const char **leaf)
{
    const char *slash = strrchr(path, '/');
    *leaf = slash ? slash + 1 : path;
    if (!slash)
        return dup(x->dest_fd);
    char *dir = g_strndup(path, (size_t)(slash - path));
    int fd = fpath_open_beneath(x->dest_fd, dir, O_RDONLY | O_DIRECTORY, true);
    g_free(dir);
    return fd;
}

/* Move a verified partial to its final name, never over an existing file. */
static int finish_file(xf *x, size_t idx)
{
    store_xfile *f = &x->rec.files[idx];
    char part[4096], sum[4200], name[4096];
    const char *leaf, *pleaf;
    if (partial_names(x, idx, part, sizeof part, sum, sizeof sum) != 0)
        return BANTER_ETOOLONG;
    int dfd = open_parent(x, f->local, &leaf);
    if (dfd < 0)
        return dfd;
    pleaf = strrchr(part, '/') ? strrchr(part, '/') + 1 : part;
    int r = 0;
    while (renameat2(dfd, pleaf, dfd, leaf, RENAME_NOREPLACE) != 0) {
        if (errno != EEXIST || fpath_unique(x->dest_fd, f->local, false, name, sizeof name) != 0) {
            r = BANTER_EIO;
            break;
        }
        free(f->local); /* taken meanwhile: pick the next free name */
        f->local = g_strdup(name);
        leaf = strrchr(f->local, '/') ? strrchr(f->local, '/') + 1 : f->local;
    }
    if (r == 0) {
        const char *sleaf = strrchr(sum, '/') ? strrchr(sum, '/') + 1 : sum;
        (void)unlinkat(dfd, sleaf, 0);
        (void)fsync(dfd);
        f->verified = true;
        if (store_xfile_save(x->m->st, x->rec.id, idx, f) != 0)
            r = BANTER_EDB;
    }
    close(dfd);
    return r;
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
        close_receiver(x);
        close_dest(x);
        x->verified = x->total;
        set_state(x, XFER_DONE, "");
    }
}

/* Empty files need no data: create them as soon as the stream reaches
 * them. */
static void settle_empty(xf *x)
{
    uint8_t h[BANTER_FILE_HASHLEN];
    uint64_t start = 0;
    for (size_t i = 0; i < x->rec.nfiles; i++) {
        store_xfile *f = &x->rec.files[i];
        if (start > x->verified)
            break;
        if (f->size == 0 && !f->verified && start <= x->verified) {
            bcrypto_hash h2;
            bcrypto_hash_init(&h2, sizeof h);
            bcrypto_hash_final(&h2, h, sizeof h);
            char part[4096], sum[4200];
            if (!bcrypto_equal(h, f->hash, sizeof h)) {
                fail_in(x, "an empty file does not match its hash", true);
                return;
            }
            int fd = partial_names(x, i, part, sizeof part, sum, sizeof sum) == 0
                         ? fpath_open_beneath(x->dest_fd, part, O_WRONLY | O_CREAT | O_TRUNC, true)
                         : BANTER_ETOOLONG;
            if (fd < 0 || (close(fd), finish_file(x, i)) != 0) {
                fail_in(x, "cannot create an empty file in the destination folder", true);
                return;
            }
            send_result(x, i, true, NULL);
        }
        start += f->size;
    }
    check_done_in(x);
}

static void on_file_verified(xf *x, size_t idx, bool ok)
{
    if (!ok) {
        delete_partial(x, idx);
        char why[BANTER_MAX_REASON];
        snprintf(why, sizeof why, "%s does not match the hash in the offer",
                 x->rec.files[idx].name);
        x->pf_idx = idx;
        fail_in(x, why, true);
        return;
    }
    if (x->pf && x->pf_idx == idx)
        close_receiver(x);
    int r = finish_file(x, idx);
    if (r) {
        x->pf_idx = idx;
        fail_in(x, "the verified file could not be moved to its name", true);
        return;
    }
    send_result(x, idx, true, NULL);
    settle_empty(x);
}

static void maybe_accept(xf *x)
{
    if (x->want_accept && x->jobs == 0 && !x->scanning && peer_conn(x))
        send_accept(x);
}

static const char *disk_full_text = "the disk is full: free some space, then accept again";

static void chunk_done(xf *x, job *j)
{
    if (j->err) {
        if (x->rec.state == XFER_ACTIVE || x->rec.state == XFER_PAUSED) {
            x->pf_idx = j->idx;
            fail_in(x, j->err == BANTER_ENOSPC ? disk_full_text : j->why, true);
        }
        return;
    }
    if (x->rec.state == XFER_CANCELLED || x->rec.state == XFER_FAILED)
        return;
    x->verified = j->gstart + j->foff + j->len;
    progress(x, j->len);
    if (j->file_done)
        on_file_verified(x, j->idx, j->file_ok);
}

static void scan_done(xf *x, job *j)
{
    x->scanning = false;
    x->need_scan = false;
    x->verified = x->recv_off = j->gstart + j->good;
    if (j->file_done)
        on_file_verified(x, j->idx, j->file_ok);
    else
        settle_empty(x);
    if (x->rec.state == XFER_FAILED || over(x))
        return;
    x->want_accept = true;
    maybe_accept(x);
}

/* Re-check the first unverified file's partial, then ask for the rest. */
static void start_scan(xf *x)
{
    size_t i = 0;
    uint64_t start = 0;
    while (i < x->rec.nfiles && x->rec.files[i].verified)
        start += x->rec.files[i++].size;
    close_receiver(x);
    job *j = g_new0(job, 1);
    j->kind = JOB_SCAN;
    j->m = x->m;
    j->x = x;
    j->idx = i < x->rec.nfiles ? i : 0;
    j->gstart = start;
    x->scanning = true;
    if (i == x->rec.nfiles) { /* nothing left to check */
        x->scanning = false;
        x->verified = x->recv_off = start;
        g_free(j);
        check_done_in(x);
        return;
    }
    push(x->m, j);
}

/* ---- worker results ---- */

static void hash_done(job *j);

static gboolean job_done(gpointer p)
{
    job *j = p;
    xf *x = j->x;
    if (x)
        x->jobs--;
    if (j->kind == JOB_HASH)
        hash_done(j);
    else if (g_atomic_int_get(&j->m->stopping))
        ; /* not checked: a restart re-checks the partial file */
    else if (x && !x->removed && j->kind == JOB_CHUNK)
        chunk_done(x, j);
    else if (x && !x->removed)
        scan_done(x, j);
    if (x && !x->removed)
        maybe_accept(x);
    pfile_unref(j->pf);
    if (x && x->removed && x->jobs == 0)
        xf_free(x);
    for (size_t i = 0; i < j->nfiles; i++) {
        g_free(j->files[i].path);
        g_free(j->files[i].name);
    }
    g_free(j->files);
    g_strfreev(j->paths);
    g_free(j);
    return G_SOURCE_REMOVE;
}

/* ---- receiving data ---- */

static int open_pfile(xf *x, size_t idx)
{
    char part[4096], sum[4200];
    if (x->pf && x->pf_idx == idx)
        return 0;
    close_receiver(x);
    int r = partial_names(x, idx, part, sizeof part, sum, sizeof sum);
    if (r)
        return r;
    pfile *pf = g_new0(pfile, 1);
    pf->refs = 1;
    pf->part_fd = fpath_open_beneath(x->dest_fd, part, O_RDWR | O_CREAT, true);
    pf->sum_fd = pf->part_fd < 0
                     ? -1
                     : fpath_open_beneath(x->dest_fd, sum, O_WRONLY | O_CREAT | O_APPEND, true);
    if (pf->part_fd < 0 || pf->sum_fd < 0) {
        r = pf->part_fd < 0 ? pf->part_fd : pf->sum_fd;
        pfile_unref(pf);
        return r;
    }
    x->pf = pf;
    x->pf_idx = idx;
    return 0;
}

/* Write all of p at off, or append when off < 0. A short write (the disk
 * filled up mid-chunk) is continued, so errno says why it stopped. */
static bool write_full(int fd, const uint8_t *p, size_t len, off_t off)
{
    while (len > 0) {
        ssize_t w = off < 0 ? write(fd, p, len) : pwrite(fd, p, len, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return false;
        }
        p += w;
        len -= (size_t)w;
        if (off >= 0)
            off += w;
    }
    return true;
}

static void on_chunk(xf *x, const struct msg_chunk *c)
{
    if (x->rec.state != XFER_ACTIVE || x->scanning || c->offset != x->recv_off || c->len == 0)
        return; /* stale or repeated data after a resume: the sender follows our offset */
    size_t idx = 0;
    uint64_t start = 0;
    while (idx < x->rec.nfiles && start + x->rec.files[idx].size <= c->offset)
        start += x->rec.files[idx++].size;
    if (idx == x->rec.nfiles || c->offset + c->len > start + x->rec.files[idx].size ||
        c->len > XFER_CHUNK) {
        x->pf_idx = idx < x->rec.nfiles ? idx : 0;
        fail_in(x, "the sender sent data outside the offered files", true);
        return;
    }
    int r = open_pfile(x, idx);
    if (r || !write_full(x->pf->part_fd, c->data, c->len, (off_t)(c->offset - start))) {
        int e = errno;
        x->pf_idx = idx;
        char why[BANTER_MAX_REASON];
        snprintf(why, sizeof why, "cannot write %s: %s", x->rec.files[idx].local,
                 r ? banter_strerror(r) : g_strerror(e));
        fail_in(x, r == BANTER_ENOSPC || e == ENOSPC || e == EDQUOT ? disk_full_text : why, true);
        return;
    }
    /* The chunk's record goes next to the data at once: after a crash, all
     * but the chunk being written can be checked and kept. */
    uint8_t rec[SUM_REC];
    put_u64be(rec, c->offset - start);
    put_u32(rec + 8, (uint32_t)c->len);
    bcrypto_chunk_tag(rec + 12, x->rec.secret, c->offset, c->data, c->len);
    if (!write_full(x->pf->sum_fd, rec, sizeof rec, -1)) {
        int e = errno;
        x->pf_idx = idx;
        fail_in(x, e == ENOSPC || e == EDQUOT ? disk_full_text : "cannot write a checksum record",
                true);
        return;
    }
    x->recv_off += c->len;
    job *j = g_new0(job, 1);
    j->kind = JOB_CHUNK;
    j->m = x->m;
    j->x = x;
    j->pf = x->pf;
    g_atomic_int_inc(&x->pf->refs);
    j->idx = idx;
    j->gstart = start;
    j->foff = c->offset - start;
    j->len = (uint32_t)c->len;
    j->init_hash = j->foff == 0;
    push(x->m, j);
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

static void on_offer(xfer_mgr *m, const uint8_t peer[static 32], const struct msg_offer *o)
{
    xf *x = find(m, o->id);
    if (x) { /* sent again after a reconnect */
        if (x->rec.dir == XFER_IN && memcmp(x->rec.peer, peer, 32) == 0 &&
            (x->rec.state == XFER_ACTIVE || x->rec.state == XFER_PAUSED))
            xfer_peer_online(m, peer);
        return;
    }
    char why[BANTER_MAX_REASON] = "";
    int bad = check_offer(o, why, sizeof why);
    x = xf_new(m);
    if (!x)
        return;
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
    compute_total(x);
    if (store_xfer_put(m->st, &x->rec) != 0) {
        xf_free(x);
        return;
    }
    m->xfers = g_list_prepend(m->xfers, x);
    if (bad) {
        g_printerr("banter: refused a file offer: %s\n", why);
        send_end(x, MSG_FILE_DECLINE, why);
        emit(x, XFER_EV_FAILED);
        return;
    }
    emit(x, XFER_EV_OFFER);
    if (m->cb.auto_accept && m->cb.auto_accept(m->ud, peer, x->total)) {
        char err[256];
        if (xfer_accept(m, x->rec.id, NULL, err, sizeof err) != 0)
            g_printerr("banter: auto-accept failed: %s\n", err);
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
        int r = fpath_unique(x->dest_fd, f->name, slash != NULL, chosen, sizeof chosen);
        if (r) {
            snprintf(why, cap, "no free name for %s in %s", f->name, x->rec.dest);
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
        return BANTER_ENOENT;
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
    size_t n = left < XFER_CHUNK ? (size_t)left : XFER_CHUNK;
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

static gboolean pump(gpointer p)
{
    xf *x = p;
    conn *c = peer_conn(x);
    for (int k = 0; k < PUMP_BATCH; k++) {
        if (!c || x->rec.state != XFER_ACTIVE || x->send_off >= x->total ||
            conn_queued(c) >= XFER_QUEUE_HIGH || send_chunk(x, c) <= 0) {
            x->pump = 0; /* drained or a new accept starts it again */
            if (x->send_off >= x->total)
                close_source(x);
            return G_SOURCE_REMOVE;
        }
    }
    return G_SOURCE_CONTINUE;
}

static void on_accept(xf *x, uint64_t offset)
{
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
    x->send_off = offset;
    set_state(x, XFER_ACTIVE, "");
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
    if (!x)
        return;
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
    compute_total(x);
    if (store_xfer_put(m->st, &x->rec) != 0) {
        xf_free(x);
        return;
    }
    m->xfers = g_list_prepend(m->xfers, x);
    emit(x, XFER_EV_STATE);
    send_offer(x);
}

/* Hashing is over: one transfer per group of files that fits an offer. */
static void hash_done(job *j)
{
    uint8_t id[MSG_ID_LEN] = {0}, first[MSG_ID_LEN] = {0};
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
    j->kind = JOB_HASH;
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

void xfer_on_message(xfer_mgr *m, conn *c, const uint8_t peer[static 32], const msg *msg_in)
{
    (void)c;
    if (msg_in->type == MSG_FILE_OFFER) {
        on_offer(m, peer, &msg_in->u.offer);
        return;
    }
    const uint8_t *id = msg_in->type == MSG_CHUNK         ? msg_in->u.chunk.transfer
                        : msg_in->type == MSG_FILE_ACCEPT ? msg_in->u.accept.id
                        : msg_in->type == MSG_FILE_RESULT ? msg_in->u.result.id
                                                          : msg_in->u.end.id;
    xf *x = find(m, id);
    if (!x || memcmp(x->rec.peer, peer, 32) != 0)
        return; /* not ours: ignore */
    switch (msg_in->type) {
    case MSG_CHUNK:
        if (x->rec.dir == XFER_IN)
            on_chunk(x, &msg_in->u.chunk);
        break;
    case MSG_FILE_ACCEPT:
        on_accept(x, msg_in->u.accept.offset);
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
        if (x->rec.dir == XFER_OUT && x->rec.state == XFER_OFFERED) {
            send_offer(x);
        } else if (x->rec.dir == XFER_IN &&
                   (x->rec.state == XFER_ACTIVE || x->rec.state == XFER_PAUSED)) {
            char why[256];
            if (open_dest(x, x->rec.dest, why, sizeof why) != 0) {
                fail_in(x, why, false);
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

int xfer_list(xfer_mgr *m, xfer_info **out, size_t *n)
{
    size_t k = g_list_length(m->xfers), i = 0;
    *out = k ? calloc(k, sizeof **out) : NULL;
    *n = 0;
    if (k && !*out)
        return BANTER_ENOMEM;
    for (GList *l = m->xfers; l; l = l->next)
        fill_info(l->data, &(*out)[i++]);
    *n = k;
    return 0;
}

int xfer_get(xfer_mgr *m, const uint8_t id[static MSG_ID_LEN], xfer_info *out)
{
    xf *x = find(m, id);
    if (!x)
        return BANTER_ENOENT;
    fill_info(x, out);
    return 0;
}

int xfer_resolve(xfer_mgr *m, const char *query, uint8_t id[static MSG_ID_LEN])
{
    size_t ql = strlen(query), hits = 0;
    if (ql == 0 || ql > 2 * MSG_ID_LEN)
        return BANTER_ENOENT;
    for (GList *l = m->xfers; l; l = l->next) {
        xf *x = l->data;
        char hex[2 * MSG_ID_LEN + 1];
        msg_id_to_hex(x->rec.id, hex);
        if (g_ascii_strncasecmp(hex, query, ql) == 0 && hits++ == 0)
            memcpy(id, x->rec.id, MSG_ID_LEN);
    }
    return hits == 1 ? 0 : hits ? BANTER_EAMBIGUOUS : BANTER_ENOENT;
}

/* ---- lifecycle ---- */

int xfer_mgr_new(xfer_mgr **out, store *st, const char *download_dir, const xfer_callbacks *cb,
                 void *ud)
{
    store_xfer *all = NULL;
    size_t n = 0;
    *out = NULL;
    int r = store_xfer_load_all(st, &all, &n);
    if (r)
        return r;
    xfer_mgr *m = g_new0(xfer_mgr, 1);
    m->st = st;
    g_strlcpy(m->download_dir, download_dir, sizeof m->download_dir);
    m->cb = *cb;
    m->ud = ud;
    m->ctx = g_main_context_default();
    m->chunk = g_malloc(BANTER_CHUNK_HDR + XFER_CHUNK);
    m->wbuf = g_malloc(XFER_CHUNK > HASH_BUF ? XFER_CHUNK : HASH_BUF);
    m->pool = g_thread_pool_new(worker, m->wbuf, 1, TRUE, NULL);
    for (size_t i = n; i-- > 0;) { /* keep newest first */
        xf *x = xf_new(m);
        if (!x)
            break;
        x->rec = all[i];
        memset(&all[i], 0, sizeof all[i]);
        compute_total(x);
        if (x->rec.dir == XFER_OUT) {
            x->send_off = x->rec.done;
        } else {
            x->verified = x->recv_off = x->rec.done;
            x->need_scan = true; /* check what the partial files hold */
        }
        if (x->rec.state == XFER_ACTIVE)
            x->rec.state = XFER_PAUSED;
        m->xfers = g_list_prepend(m->xfers, x);
    }
    store_xfers_free(all, n);
    *out = m;
    return 0;
}

void xfer_mgr_free(xfer_mgr *m)
{
    if (!m)
        return;
    for (GList *l = m->xfers; l; l = l->next) {
        xf *x = l->data;
        if (x->rec.state == XFER_ACTIVE || x->rec.state == XFER_PAUSED)
            save(x);
    }
    /* Queued jobs give up at once (a waiting send-file is answered); the
     * pool is freed when they are through... */
    g_atomic_int_set(&m->stopping, 1);
    g_thread_pool_free(m->pool, FALSE, TRUE);
    /* ...and their results, already posted, are run here. */
    while (g_main_context_iteration(m->ctx, FALSE))
        ;
    for (GList *l = m->xfers; l; l = l->next)
        xf_free(l->data);
    g_list_free(m->xfers);
    g_free(m->chunk);
    g_free(m->wbuf);
    g_free(m);
}
