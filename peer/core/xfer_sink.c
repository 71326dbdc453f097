/* SPDX-License-Identifier: MIT */
/* xfer_sink.c - the receiving end of file transfers, on its own thread
 * (see xfer_sink.h). */
#define _GNU_SOURCE /* renameat2, sync_file_range */
#include "core/xfer_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bcrypto.h"
#include "fpath.h"

#define READ_BUF    (1u << 20)  /* re-reading a partial file after a restart */
#define SETTLE_MS   20          /* longest wait for the clock to pass a sealed ctime */
#define MAX_EXTRA   256         /* checkpoints beyond one per XSINK_CHECKPOINT read back */
#define DATA_CAP    XSINK_BLOCK /* room of a recycled data operation */
/* Data operations kept for reuse while busy: a sender's window of data
 * (4 MiB, about 68 chunks) can be queued at once, and each operation
 * allocated beyond the spares is freed again (heap churn, page faults). */
#define SPARES      80
#define IDLE_US     1000000    /* spares are freed after this long with nothing to do */
#define STORED_STEP (1u << 20) /* progress reported at least this often (and when idle) */

typedef enum op_kind {
    OP_OPEN,
    OP_DATA,
    OP_NOTIFY,
    OP_FINISH,
    OP_CHECKPOINT,
    OP_DISCARD,
    OP_RELEASE
} op_kind;

typedef struct op {
    struct op *next;
    op_kind kind;
    xpart *p;
    uint64_t off;
    size_t len;
    uint8_t *block;      /* OP_DATA: the memory holding the data (owned; malloc) */
    size_t cap;          /* its size */
    const uint8_t *data; /* OP_DATA: len bytes inside block */
} op;

struct xsink {
    GMainContext *ctx;
    GThread *thread;
    GSource *wake; /* under lock: a one-shot source on ctx while events wait
                      (none in between: the loop walks nothing for the sink
                      on every message) */
    xsink_cb cb;
    void *ud;
    uint8_t *rbuf; /* the worker's */
    GMutex lock;   /* guards what follows */
    GCond work, room;
    op *head, *tail; /* queued, in order */
    bool idle;       /* the worker waits on work: a push signals it */
    bool room_wait;  /* xsink_write waits on room */
    bool quit;       /* stop once the queue is empty */
    bool stopped;    /* the worker is gone: pushes are ignored */
    size_t queued;   /* bytes of OP_DATA queued */
    op *spare;       /* data operations to reuse */
    size_t nspare;
    GQueue events; /* struct event */
    /* The flusher: a thread that syncs what the worker wrote, one file at a
     * time, so the disk's cache never holds much of a transfer (see
     * flush_some). */
    GThreadPool *flusher;
    gint flushing; /* atomic: a sync is queued or running */
};

struct xpart {
    xsink *s;
    gint refs;
    /* set by xsink_open, read-only afterwards */
    int dir_fd;
    char *part, *state, *legacy, *local;
    uint64_t size;
    uint8_t hash[BANTER_FILE_HASHLEN];
    hstate_key key;
    bool resume;
    void *owner;
    size_t idx;
    /* the worker's */
    int fd, sfd;
    bcrypto_hash h;
    uint64_t stored, next_ckpt, wb_off, nrec, last_covered, posted;
    bool dead; /* failed, finished or discarded: later operations do nothing */
    /* under s->lock */
    uint64_t pub_stored;
    bool stored_pending;
};

typedef struct event {
    xsink_ev ev;
    char *why, *name;
} event;

/* ---- references and events ---- */

static xpart *part_ref(xpart *p)
{
    g_atomic_int_inc(&p->refs);
    return p;
}

static void close_files(xpart *p)
{
    if (p->fd >= 0)
        close(p->fd);
    if (p->sfd >= 0)
        close(p->sfd);
    p->fd = p->sfd = -1;
}

static void part_unref(xpart *p)
{
    if (!p || !g_atomic_int_dec_and_test(&p->refs))
        return;
    close_files(p);
    if (p->dir_fd >= 0)
        close(p->dir_fd);
    g_free(p->part);
    g_free(p->state);
    g_free(p->legacy);
    g_free(p->local);
    bcrypto_wipe(&p->key, sizeof p->key);
    g_free(p);
}

static gboolean on_wake(gpointer ud);

/* Events wait (s->lock held): make the one-shot source unless one is
 * pending. Its callback runs on the owner's context. */
static void kick_locked(xsink *s)
{
    if (s->wake || s->stopped)
        return;
    s->wake = g_idle_source_new();
    g_source_set_priority(s->wake, G_PRIORITY_DEFAULT);
    g_source_set_callback(s->wake, on_wake, s, NULL);
    g_source_attach(s->wake, s->ctx);
}

/* Queue an event for the main loop (why and name copied). */
static void post(xpart *p, xsink_ev_type type, uint64_t bytes, bool ok, int err, const char *why,
                 const char *name)
{
    xsink *s = p->s;
    event *e = g_new0(event, 1);
    e->ev = (xsink_ev){.type = type,
                       .part = part_ref(p),
                       .owner = p->owner,
                       .idx = p->idx,
                       .bytes = bytes,
                       .ok = ok,
                       .err = err};
    e->why = g_strdup(why);
    e->name = g_strdup(name);
    g_mutex_lock(&s->lock);
    g_queue_push_tail(&s->events, e);
    kick_locked(s);
    g_mutex_unlock(&s->lock);
}

/* Progress: at most one STORED event waits per part, with the latest;
 * one is posted every STORED_STEP bytes, at the file's end, and before a
 * checkpoint or a release (now: when it changed), or after xsink_notify
 * (POST_ALWAYS: an answer even when nothing changed). */
#define POST_ALWAYS 2
static void post_stored(xpart *p, int now)
{
    xsink *s = p->s;
    bool post_it;
    if (p->stored == p->posted && now != POST_ALWAYS)
        return;
    if (!now && p->stored - p->posted < STORED_STEP)
        return;
    p->posted = p->stored;
    g_mutex_lock(&s->lock);
    p->pub_stored = p->stored;
    post_it = !p->stored_pending;
    p->stored_pending = true;
    if (post_it) {
        event *e = g_new0(event, 1);
        e->ev =
            (xsink_ev){.type = XSINK_STORED, .part = part_ref(p), .owner = p->owner, .idx = p->idx};
        g_queue_push_tail(&s->events, e);
        kick_locked(s);
    }
    g_mutex_unlock(&s->lock);
}

static void fail(xpart *p, int err, const char *what, int e)
{
    char why[512];
    snprintf(why, sizeof why, "cannot %s %s: %s", what, p->local, g_strerror(e));
    p->dead = true;
    post(p, XSINK_FAILED, 0, false, err, why, NULL);
}

static int errno_code(int e) { return e == ENOSPC || e == EDQUOT ? BANTER_ENOSPC : BANTER_EIO; }

/* ---- checkpoints ---- */

/* Whether the clock file times come from has passed t: only then does any
 * later change to the file get a change time other than t. (Where a
 * kernel keeps coarse times, a change in the same tick would keep it.) */
static bool clock_past(const struct timespec *t)
{
    for (int i = 0; i < SETTLE_MS; i++) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME_COARSE, &now);
        if (now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec > t->tv_nsec))
            return true;
        g_usleep(1000);
    }
    return false; /* timestamps this coarse prove nothing: not sealed */
}

/* Append a checkpoint: the hash state after the first `covered` bytes,
 * which p->h holds now; sealed (covered is all that was stored) after a
 * sync, with the file's identity. One that cannot be written only costs a
 * re-read. */
static void checkpoint(xpart *p, uint64_t covered, bool sealed)
{
    hstate_rec r = {.covered = covered};
    uint8_t b[HSTATE_REC_LEN];
    struct stat st;
    if (p->sfd < 0)
        return;
    if (sealed && (fdatasync(p->fd) != 0 || fstat(p->fd, &st) != 0 || !clock_past(&st.st_ctim)))
        sealed = false;
    if (sealed) {
        r.sealed = true;
        r.dev = (uint64_t)st.st_dev;
        r.ino = (uint64_t)st.st_ino;
        r.ctime_s = (int64_t)st.st_ctim.tv_sec;
        r.ctime_ns = (uint32_t)st.st_ctim.tv_nsec;
    }
    bcrypto_hash_peek(&p->h, r.digest, sizeof r.digest);
    bcrypto_hash_export(&p->h, r.state);
    hstate_encode(&r, &p->key, b);
    /* A second checkpoint at the same size replaces the first (a transfer
     * paused again and again does not grow the file). */
    uint64_t slot = p->nrec > 0 && p->last_covered == covered ? p->nrec - 1 : p->nrec;
    off_t at = (off_t)(HSTATE_HDR_LEN + slot * HSTATE_REC_LEN);
    if (pwrite(p->sfd, b, sizeof b, at) == (ssize_t)sizeof b) {
        p->nrec = slot + 1;
        p->last_covered = covered;
    }
    bcrypto_wipe(&r, sizeof r);
}

static bool write_header(int sfd)
{
    uint8_t h[HSTATE_HDR_LEN];
    hstate_header(h);
    return ftruncate(sfd, 0) == 0 && pwrite(sfd, h, sizeof h, 0) == (ssize_t)sizeof h;
}

/* ---- opening ---- */

static void open_fresh(xpart *p)
{
    int fl = O_RDWR | O_CREAT | O_TRUNC;
    p->fd = fpath_open_beneath(p->dir_fd, p->part, fl, true);
    if (p->fd < 0) {
        fail(p, p->fd == BANTER_ENOSPC ? BANTER_ENOSPC : p->fd, "create the partial file of",
             errno);
        return;
    }
    p->sfd = fpath_open_beneath(p->dir_fd, p->state, fl, true);
    if (p->sfd < 0 || !write_header(p->sfd)) {
        fail(p, errno_code(errno), "create the checkpoint file of", errno);
        return;
    }
    bcrypto_hash_init(&p->h, BANTER_FILE_HASHLEN);
    p->stored = p->wb_off = p->nrec = 0;
    p->next_ckpt = XSINK_CHECKPOINT;
    post(p, XSINK_OPENED, 0, true, 0, NULL, NULL);
}

/* The checkpoints of a partial file, in order: valid records with growing
 * coverage inside the file's size; reading stops at the first other. */
static hstate_rec *read_checkpoints(xpart *p, size_t *n)
{
    uint8_t hdr[HSTATE_HDR_LEN], b[HSTATE_REC_LEN];
    uint64_t cap = p->size / XSINK_CHECKPOINT + MAX_EXTRA;
    GArray *a = g_array_new(FALSE, TRUE, sizeof(hstate_rec));
    hstate_rec r;
    if (pread(p->sfd, hdr, sizeof hdr, 0) == (ssize_t)sizeof hdr &&
        hstate_check_header(hdr, sizeof hdr) == 0) {
        for (uint64_t k = 0; k < cap; k++) {
            off_t at = (off_t)(HSTATE_HDR_LEN + k * HSTATE_REC_LEN);
            if (pread(p->sfd, b, sizeof b, at) != (ssize_t)sizeof b ||
                hstate_decode(&r, &p->key, b, sizeof b) != 0 || r.covered > p->size ||
                (k > 0 && r.covered <= g_array_index(a, hstate_rec, k - 1).covered))
                break;
            g_array_append_val(a, r);
        }
    }
    bcrypto_wipe(&r, sizeof r);
    *n = a->len;
    return (hstate_rec *)(void *)g_array_free(a, FALSE);
}

static bool same_file(const hstate_rec *r, const struct stat *st)
{
    return r->sealed && r->covered == (uint64_t)st->st_size && r->dev == (uint64_t)st->st_dev &&
           r->ino == (uint64_t)st->st_ino && r->ctime_s == (int64_t)st->st_ctim.tv_sec &&
           r->ctime_ns == (uint32_t)st->st_ctim.tv_nsec;
}

/* Hash the file from its start; check each checkpoint on the way. Stops at
 * the first that does not match, back at the last that did. Returns the
 * bytes kept; *kept is how many checkpoints stay valid. */
static uint64_t rehash(xpart *p, const hstate_rec *recs, size_t n, uint64_t len, size_t *kept,
                       bool *changed)
{
    bcrypto_hash good;
    uint64_t off = 0, good_off = 0;
    size_t k = 0;
    uint8_t d[BANTER_FILE_HASHLEN];
    bcrypto_hash_init(&p->h, BANTER_FILE_HASHLEN);
    good = p->h;
    *changed = false;
    for (;;) {
        for (; k < n && recs[k].covered == off; k++) {
            bcrypto_hash_peek(&p->h, d, sizeof d);
            if (!bcrypto_equal(d, recs[k].digest, sizeof d)) {
                *changed = true;
                break;
            }
            good = p->h;
            good_off = off;
        }
        if (*changed || off >= len)
            break;
        uint64_t stop = k < n && recs[k].covered < len ? recs[k].covered : len;
        size_t want = stop - off < READ_BUF ? (size_t)(stop - off) : READ_BUF;
        ssize_t got = pread(p->fd, p->s->rbuf, want, (off_t)off);
        if (got <= 0)
            break; /* shorter than it said: keep what was read */
        bcrypto_hash_update(&p->h, p->s->rbuf, (size_t)got);
        off += (uint64_t)got;
    }
    if (*changed) {
        p->h = good;
        off = good_off;
    }
    *kept = k;
    p->last_covered = k ? recs[k - 1].covered : 0;
    bcrypto_wipe(&good, sizeof good);
    return off;
}

/* After a restart: take the saved state when the file is exactly as it was
 * sealed, else re-read it. */
static void resume_state(xpart *p, char *why, size_t cap)
{
    struct stat st;
    size_t n = 0, kept = 0;
    hstate_rec *recs = read_checkpoints(p, &n);
    uint8_t d[BANTER_FILE_HASHLEN];
    bool changed = false;
    uint64_t len = 0;
    if (fstat(p->fd, &st) == 0)
        len = (uint64_t)st.st_size;
    if (n > 0 && same_file(&recs[n - 1], &st)) {
        bcrypto_hash_import(&p->h, recs[n - 1].state);
        bcrypto_hash_peek(&p->h, d, sizeof d);
        if (bcrypto_equal(d, recs[n - 1].digest, sizeof d)) {
            p->stored = p->last_covered = len;
            p->nrec = n;
            snprintf(why, cap, "resumed at %" PRIu64 " bytes with the saved hash state", len);
            goto out;
        }
    }
    p->stored = rehash(p, recs, n, len < p->size ? len : p->size, &kept, &changed);
    p->nrec = kept;
    if (changed)
        snprintf(why, cap,
                 "the partial file changed after %" PRIu64 " bytes: fetching it again from there",
                 p->stored);
    else
        snprintf(why, cap, "re-read %" PRIu64 " bytes of the partial file (%zu checkpoints)",
                 p->stored, kept);
out:
    for (size_t i = 0; i < n; i++)
        bcrypto_wipe(recs[i].state, sizeof recs[i].state);
    g_free(recs);
}

static void open_resume(xpart *p)
{
    char why[256];
    p->fd = fpath_open_beneath(p->dir_fd, p->part, O_RDWR, false);
    if (p->fd == BANTER_ENOENT) {
        open_fresh(p);
        return;
    }
    if (p->legacy)
        (void)fpath_unlink_beneath(p->dir_fd, p->legacy);
    if (p->fd >= 0)
        p->sfd = fpath_open_beneath(p->dir_fd, p->state, O_RDWR | O_CREAT, false);
    if (p->fd < 0 || p->sfd < 0) {
        fail(p, errno_code(errno), "open the partial file of", errno);
        return;
    }
    resume_state(p, why, sizeof why);
    /* Cut what is not vouched for; later checkpoints go after the kept ones. */
    off_t keep = (off_t)(HSTATE_HDR_LEN + p->nrec * HSTATE_REC_LEN);
    if (ftruncate(p->fd, (off_t)p->stored) != 0 ||
        (p->nrec == 0 ? !write_header(p->sfd) : ftruncate(p->sfd, keep) != 0)) {
        fail(p, errno_code(errno), "truncate the partial file of", errno);
        return;
    }
    p->wb_off = p->stored;
    p->next_ckpt = (p->stored / XSINK_CHECKPOINT + 1) * XSINK_CHECKPOINT;
    post(p, XSINK_OPENED, p->stored, true, 0, why, NULL);
}

/* ---- data, finish ---- */

static bool write_full(int fd, const uint8_t *b, size_t len, off_t off)
{
    while (len > 0) {
        ssize_t w = pwrite(fd, b, len, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return false;
        }
        b += w;
        len -= (size_t)w;
        off += w;
    }
    return true;
}

/* The flusher's job: sync one file (a descriptor of its own), then close it. */
static void flush_job(gpointer data, gpointer ud)
{
    xsink *s = ud;
    int fd = GPOINTER_TO_INT(data) - 1;
    (void)fdatasync(fd); /* the final sync reports errors; this one only makes room */
    close(fd);
    g_atomic_int_set(&s->flushing, 0);
}

/* Sync fd on the flusher unless it is busy. A sync makes the disk write
 * its cache; unsynced, the cache fills with the transfer, and the next
 * commit of the node's database (a chat message, also another program's on
 * the same disk) waits until all of it is written: 135 ms behind a 1 GiB
 * transfer on the benchmark machine, against a few ms with this. The
 * worker never waits for it. */
static void flush_some(xsink *s, int fd)
{
    if (!s->flusher || !g_atomic_int_compare_and_exchange(&s->flushing, 0, 1))
        return;
    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0 || !g_thread_pool_push(s->flusher, GINT_TO_POINTER(dup_fd + 1), NULL)) {
        if (dup_fd >= 0)
            close(dup_fd);
        g_atomic_int_set(&s->flushing, 0);
    }
}

static void run_data(xpart *p, const op *o)
{
    if (p->dead)
        return;
    if (o->off != p->stored || o->off + o->len > p->size) {
        fail(p, BANTER_EIO, "place data in", EINVAL); /* a caller's bug */
        return;
    }
    if (!write_full(p->fd, o->data, o->len, (off_t)o->off)) {
        int e = errno;
        /* Cut the piece that did not fit: the checkpoints stay true. If
         * even that fails, the file is longer than its checkpoints say,
         * which a resume finds (a longer partial is fetched again). */
        if (ftruncate(p->fd, (off_t)p->stored) != 0)
            g_printerr("banter: cannot cut a partial file back: %s\n", g_strerror(errno));
        fail(p, errno_code(e), "write", e);
        return;
    }
    /* Hashed in pieces that end on the checkpoints' positions: one every
     * XSINK_CHECKPOINT bytes of the file, wherever the chunks fall. */
    const uint8_t *d = o->data;
    for (size_t left = o->len; left > 0;) {
        size_t take = left;
        if (p->stored + take >= p->next_ckpt)
            take = (size_t)(p->next_ckpt - p->stored);
        bcrypto_hash_update(&p->h, d, take);
        d += take;
        left -= take;
        p->stored += take;
        if (p->stored == p->next_ckpt) {
            checkpoint(p, p->stored, false);
            p->next_ckpt += XSINK_CHECKPOINT;
        }
    }
    if (p->stored - p->wb_off >= XSINK_WRITEBACK) { /* the final sync then has little left */
        (void)sync_file_range(p->fd, (off_t)p->wb_off, (off_t)(p->stored - p->wb_off),
                              SYNC_FILE_RANGE_WRITE);
        p->wb_off = p->stored;
        flush_some(p->s, p->fd);
    }
    post_stored(p, p->stored == p->size);
}

/* The directory holding name (below dir_fd), and name's last component. */
static int open_parent(const xpart *p, const char *name, const char **leaf)
{
    const char *slash = strrchr(name, '/');
    *leaf = slash ? slash + 1 : name;
    if (!slash)
        return dup(p->dir_fd);
    char *dir = g_strndup(name, (size_t)(slash - name));
    int fd = fpath_open_beneath(p->dir_fd, dir, O_RDONLY | O_DIRECTORY, true);
    g_free(dir);
    return fd;
}

/* Move the verified partial to its name, or the next free one. Returns the
 * name (g_free) or NULL with errno set. */
static char *move_into_place(xpart *p)
{
    const char *leaf, *pleaf = strrchr(p->part, '/') ? strrchr(p->part, '/') + 1 : p->part;
    char *name = g_strdup(p->local), next[4096];
    int dfd = open_parent(p, name, &leaf);
    if (dfd < 0) {
        g_free(name);
        return NULL;
    }
    while (renameat2(dfd, pleaf, dfd, leaf, RENAME_NOREPLACE) != 0) {
        if (errno != EEXIST || fpath_unique(p->dir_fd, name, false, next, sizeof next) != 0) {
            int e = errno;
            g_free(name);
            close(dfd);
            errno = e;
            return NULL;
        }
        g_free(name); /* taken meanwhile: the next free name */
        name = g_strdup(next);
        leaf = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
    }
    (void)fpath_unlink_beneath(p->dir_fd, p->state);
    (void)fsync(dfd);
    close(dfd);
    return name;
}

static void run_finish(xpart *p)
{
    uint8_t d[BANTER_FILE_HASHLEN];
    if (p->dead)
        return;
    p->dead = true;
    bcrypto_hash_peek(&p->h, d, sizeof d);
    if (p->stored != p->size || !bcrypto_equal(d, p->hash, sizeof d)) {
        close_files(p);
        (void)fpath_unlink_beneath(p->dir_fd, p->part);
        (void)fpath_unlink_beneath(p->dir_fd, p->state);
        post(p, XSINK_FINISHED, p->stored, false, 0, NULL, NULL);
        return;
    }
    if (fdatasync(p->fd) != 0) {
        int e = errno;
        fail(p, errno_code(e), "sync", e);
        return;
    }
    close_files(p);
    char *name = move_into_place(p);
    if (!name) {
        int e = errno;
        fail(p, BANTER_EIO, "move into place the verified", e);
        return;
    }
    post(p, XSINK_FINISHED, p->stored, true, 0, NULL, name);
    g_free(name);
}

static void run(op *o)
{
    xpart *p = o->p;
    switch (o->kind) {
    case OP_OPEN:
        if (p->resume)
            open_resume(p);
        else
            open_fresh(p);
        break;
    case OP_DATA:
        run_data(p, o);
        break;
    case OP_NOTIFY: /* everything queued before is stored: say so */
        post_stored(p, POST_ALWAYS);
        break;
    case OP_FINISH:
        run_finish(p);
        break;
    case OP_CHECKPOINT: /* also after a failed write: the data was cut back */
        post_stored(p, 1);
        if (p->fd >= 0)
            checkpoint(p, p->stored, true);
        break;
    case OP_DISCARD:
        p->dead = true;
        close_files(p);
        (void)fpath_unlink_beneath(p->dir_fd, p->part);
        (void)fpath_unlink_beneath(p->dir_fd, p->state);
        break;
    case OP_RELEASE:
        post_stored(p, 1);
        close_files(p);
        part_unref(p); /* the caller's reference */
        break;
    }
}

static void free_ops(op *o)
{
    while (o) {
        op *next = o->next;
        free(o->block);
        g_free(o);
        o = next;
    }
}

/* Free operations, or keep data ones for reuse (under s->lock). */
static void recycle(xsink *s, op *o)
{
    while (o) {
        op *next = o->next;
        if (o->block && o->cap >= DATA_CAP && s->nspare < SPARES) {
            o->next = s->spare;
            s->spare = o;
            s->nspare++;
        } else {
            free(o->block);
            g_free(o);
        }
        o = next;
    }
}

/* The worker: takes everything queued at once, runs it, and sleeps only
 * when there is nothing; so a busy stream costs no wakeups. */
static gpointer worker(gpointer ud)
{
    xsink *s = ud;
    g_mutex_lock(&s->lock);
    for (;;) {
        while (!s->head && !s->quit) {
            s->idle = true;
            if (!s->spare) { /* nothing to give back: sleep until work comes */
                g_cond_wait(&s->work, &s->lock);
                continue;
            }
            gint64 until = g_get_monotonic_time() + IDLE_US;
            if (!g_cond_wait_until(&s->work, &s->lock, until) && !s->head) {
                free_ops(s->spare); /* a while with nothing to do: give memory back */
                s->spare = NULL;
                s->nspare = 0;
                malloc_trim(0); /* the data of a transfer is not kept as heap */
            }
        }
        s->idle = false;
        op *batch = s->head;
        s->head = s->tail = NULL;
        if (!batch)
            break; /* quit */
        g_mutex_unlock(&s->lock);
        size_t done = 0;
        for (op *o = batch; o; o = o->next) {
            run(o);
            done += o->kind == OP_DATA ? o->len : 0;
        }
        for (op *o = batch; o; o = o->next)
            part_unref(o->p); /* the operation's reference */
        g_mutex_lock(&s->lock);
        s->queued -= done;
        if (s->room_wait)
            g_cond_signal(&s->room);
        recycle(s, batch);
    }
    g_mutex_unlock(&s->lock);
    return NULL;
}

/* ---- the main loop's side ---- */

/* Queue an operation. OP_DATA: with block, the sink takes block (cap
 * bytes, data inside it); without, data is copied into a spare. */
static void push(xpart *p, op_kind kind, uint64_t off, const uint8_t *data, size_t len,
                 uint8_t *block, size_t cap)
{
    xsink *s = p->s;
    op *o = NULL;
    g_mutex_lock(&s->lock);
    if (s->stopped) { /* stopping: the callback asked for more */
        g_mutex_unlock(&s->lock);
        free(block);
        if (kind == OP_RELEASE)
            part_unref(p);
        return;
    }
    if (kind == OP_DATA) {
        s->room_wait = true;
        while (s->queued > 0 && s->queued + len > XSINK_QUEUE_MAX)
            g_cond_wait(&s->room, &s->lock);
        s->room_wait = false;
        s->queued += len;
        if (!block && len <= DATA_CAP && s->spare) {
            o = s->spare;
            s->spare = o->next;
            s->nspare--;
        }
    }
    g_mutex_unlock(&s->lock);
    if (!o) {
        o = g_new0(op, 1);
        if (kind == OP_DATA && !block) {
            o->cap = len <= DATA_CAP ? DATA_CAP : len;
            o->block = g_malloc(o->cap);
        }
    }
    o->next = NULL;
    o->kind = kind;
    o->p = part_ref(p);
    o->off = off;
    o->len = len;
    if (block) {
        o->block = block;
        o->cap = cap;
        o->data = data;
    } else if (kind == OP_DATA) {
        if (len)
            memcpy(o->block, data, len);
        o->data = o->block;
    }
    g_mutex_lock(&s->lock);
    if (s->tail)
        s->tail->next = o;
    else
        s->head = o;
    s->tail = o;
    bool wake = s->idle;
    s->idle = false; /* one signal is enough */
    g_mutex_unlock(&s->lock);
    if (wake)
        g_cond_signal(&s->work);
}

static gboolean drain(gpointer ud)
{
    xsink *s = ud;
    GQueue q = G_QUEUE_INIT;
    g_mutex_lock(&s->lock);
    q = s->events;
    g_queue_init(&s->events);
    g_mutex_unlock(&s->lock);
    event *e;
    while ((e = g_queue_pop_head(&q)) != NULL) {
        xpart *p = e->ev.part;
        if (e->ev.type == XSINK_STORED) {
            g_mutex_lock(&s->lock);
            e->ev.bytes = p->pub_stored;
            p->stored_pending = false;
            g_mutex_unlock(&s->lock);
        }
        e->ev.why = e->why;
        e->ev.name = e->name;
        s->cb(s->ud, &e->ev);
        part_unref(p);
        g_free(e->why);
        g_free(e->name);
        g_free(e);
    }
    return G_SOURCE_CONTINUE;
}

/* The one-shot source: drain, then there is none until the next event. */
static gboolean on_wake(gpointer ud)
{
    xsink *s = ud;
    g_mutex_lock(&s->lock);
    GSource *src = s->wake;
    s->wake = NULL;
    g_mutex_unlock(&s->lock);
    g_source_unref(src); /* the context holds it until this returns */
    drain(s);
    return G_SOURCE_REMOVE;
}

int xsink_new(xsink **out, GMainContext *ctx, xsink_cb cb, void *ud)
{
    xsink *s = g_new0(xsink, 1);
    s->ctx = ctx;
    s->cb = cb;
    s->ud = ud;
    g_mutex_init(&s->lock);
    g_cond_init(&s->work);
    g_cond_init(&s->room);
    g_queue_init(&s->events);
    s->rbuf = g_malloc(READ_BUF);
    /* NULL when the pool cannot start: the file is then synced only once,
     * at the end, as before the flusher existed - slower, never less safe */
    s->flusher = g_thread_pool_new(flush_job, s, 1, FALSE, NULL);
    s->thread = g_thread_try_new("xfer-sink", worker, s, NULL);
    if (!s->thread) {
        xsink_free(s);
        *out = NULL;
        return BANTER_ENOMEM;
    }
    *out = s;
    return 0;
}

void xsink_free(xsink *s)
{
    if (!s)
        return;
    g_mutex_lock(&s->lock);
    s->quit = true;
    g_mutex_unlock(&s->lock);
    g_cond_signal(&s->work);
    if (s->thread)
        g_thread_join(s->thread); /* it runs what is queued first */
    if (s->flusher)
        g_thread_pool_free(s->flusher, FALSE, TRUE); /* the sync under way ends */
    g_mutex_lock(&s->lock);
    s->stopped = true;
    g_mutex_unlock(&s->lock);
    drain(s); /* a file that got its name is recorded */
    if (s->wake) {
        g_source_destroy(s->wake);
        g_source_unref(s->wake);
    }
    free_ops(s->spare);
    g_mutex_clear(&s->lock);
    g_cond_clear(&s->work);
    g_cond_clear(&s->room);
    g_free(s->rbuf);
    g_free(s);
}

xpart *xsink_open(xsink *s, const xpart_params *pp)
{
    xpart *p = g_new0(xpart, 1);
    p->s = s;
    p->refs = 1;
    p->fd = p->sfd = -1;
    p->dir_fd = dup(pp->dir_fd);
    if (p->dir_fd < 0) {
        g_free(p);
        return NULL;
    }
    p->part = g_strdup(pp->part);
    p->state = g_strdup(pp->state);
    p->legacy = g_strdup(pp->legacy);
    p->local = g_strdup(pp->local);
    p->size = pp->size;
    memcpy(p->hash, pp->hash, sizeof p->hash);
    p->key = pp->key;
    p->resume = pp->resume;
    p->owner = pp->owner;
    p->idx = pp->idx;
    push(p, OP_OPEN, 0, NULL, 0, NULL, 0);
    return p;
}

void xsink_write(xpart *p, uint64_t off, const uint8_t *data, size_t len)
{
    push(p, OP_DATA, off, data, len, NULL, 0);
}

uint8_t *xsink_block(xsink *s)
{
    op *o = NULL;
    g_mutex_lock(&s->lock);
    if (s->spare) {
        o = s->spare;
        s->spare = o->next;
        s->nspare--;
    }
    g_mutex_unlock(&s->lock);
    if (!o)
        return g_malloc(XSINK_BLOCK);
    uint8_t *b = o->block; /* a spare's block holds at least XSINK_BLOCK */
    g_free(o);
    return b;
}

void xsink_write_block(xpart *p, uint64_t off, uint8_t *block, size_t cap, const uint8_t *data,
                       size_t len)
{
    push(p, OP_DATA, off, data, len, block, cap);
}

void xsink_notify(xpart *p) { push(p, OP_NOTIFY, 0, NULL, 0, NULL, 0); }
void xsink_finish(xpart *p) { push(p, OP_FINISH, 0, NULL, 0, NULL, 0); }
void xsink_checkpoint(xpart *p) { push(p, OP_CHECKPOINT, 0, NULL, 0, NULL, 0); }
void xsink_discard(xpart *p) { push(p, OP_DISCARD, 0, NULL, 0, NULL, 0); }

void xsink_release(xpart *p)
{
    if (p)
        push(p, OP_RELEASE, 0, NULL, 0, NULL, 0);
}
