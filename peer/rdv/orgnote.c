/* SPDX-License-Identifier: MIT */
/* orgnote.c - announcements and the revocation list (see orgnote.h). */
#include "rdv/orgnote.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banter_limits.h"

struct orgnote {
    rdv *r;
    char path[HOME_PATH_MAX];
    char fpd[IDENTITY_FP_DIGITS + 1];
    orgnote_callbacks cb;
    void *ud;
    bool has;
    revlist l; /* the newest list taken */
};

/* Signed by the server we pin. */
static bool pinned(const orgnote *o, const uint8_t server[static 32])
{
    char fp[IDENTITY_FP_LEN + 1], fpd[IDENTITY_FP_DIGITS + 1];
    identity_fingerprint(server, fp);
    return rdv_parse_fingerprint(fp, fpd) == 0 && strcmp(fpd, o->fpd) == 0;
}

static int save(const char *path, const revlist *l)
{
    uint8_t *b = g_malloc(REVLIST_LEN_MAX);
    char tmp[HOME_PATH_MAX + 8];
    size_t n = revlist_encode(l, b, REVLIST_LEN_MAX);
    int ret = BANTER_EIO;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
        bool ok = fchmod(fd, 0600) == 0 && write(fd, b, n) == (ssize_t)n && fsync(fd) == 0;
        ok = close(fd) == 0 && ok;
        if (ok && rename(tmp, path) == 0)
            ret = 0;
        else
            unlink(tmp);
    }
    g_free(b);
    return ret;
}

static void load(orgnote *o)
{
    uint8_t *b;
    if (!o->path[0])
        return;
    int fd = open(o->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno != ENOENT)
            g_printerr("banter: cannot read %s: %s\n", o->path, g_strerror(errno));
        return;
    }
    b = g_malloc(REVLIST_LEN_MAX + 1);
    ssize_t n = read(fd, b, REVLIST_LEN_MAX + 1);
    close(fd);
    int e = n < 0 ? BANTER_EIO : revlist_decode(&o->l, b, (size_t)n);
    if (e == 0 && !pinned(o, o->l.server))
        e = BANTER_EKEYMISMATCH;
    g_free(b);
    if (e) {
        g_printerr("banter: ignoring %s: %s\n", o->path, banter_strerror(e));
        memset(&o->l, 0, sizeof o->l);
        return;
    }
    o->has = true;
}

/* RV_REVOKED from the server that proved server: the pinned server's
 * signature, newer than the one kept. */
static void on_revoked(orgnote *o, const uint8_t *server, const uint8_t *b, size_t len)
{
    revlist *l = g_malloc(sizeof *l);
    int e = revlist_decode(l, b, len);
    if (e == 0 && (!server || memcmp(l->server, server, 32) != 0 || !pinned(o, l->server)))
        e = BANTER_EKEYMISMATCH;
    if (e) {
        g_printerr("banter: ignoring a revocation list from the rendezvous server: %s\n",
                   banter_strerror(e));
    } else if (!o->has || l->issued_ms > o->l.issued_ms) {
        if (o->has ? l->n != o->l.n || memcmp(l->keys, o->l.keys, 32 * l->n) != 0 : l->n > 0)
            g_printerr("banter: the organisation's revocation list changed: it names %zu "
                       "device%s\n",
                       l->n, l->n == 1 ? "" : "s");
        o->l = *l;
        o->has = true;
        if (o->path[0] && save(o->path, l) != 0)
            g_printerr("banter: cannot save the revocation list in %s: %s\n", o->path,
                       g_strerror(errno));
        if (o->cb.revoked)
            o->cb.revoked(o->ud, &o->l);
    }
    g_free(l);
    if (e == 0 && o->cb.login)
        o->cb.login(o->ud);
}

static void on_announce(orgnote *o, const uint8_t *pt, size_t len)
{
    ann_msg *m = g_malloc(sizeof *m);
    int e = ann_decode(m, pt, len);
    if (e)
        g_printerr("banter: ignoring an announcement from the rendezvous server: %s\n",
                   banter_strerror(e));
    else if (o->cb.announce && o->cb.announce(o->ud, m) == 0 && orgnote_receipt(o, m->id, false))
        g_printerr("banter: cannot confirm announcement %lld to the server\n", (long long)m->id);
    g_free(m);
}

void orgnote_feed(orgnote *o, const uint8_t *server, const uint8_t *pt, size_t len)
{
    if (len && pt[0] == RV_REVOKED)
        on_revoked(o, server, pt + 1, len - 1);
    else if (len && pt[0] == RV_ANNOUNCE)
        on_announce(o, pt, len);
    /* RV_ANNOUNCE_RCPT goes the other way: a server never sends it */
}

static void on_org(void *ud, const uint8_t *pt, size_t len)
{
    orgnote *o = ud;
    orgnote_feed(o, rdv_server_key(o->r), pt, len);
}

orgnote *orgnote_new(rdv *r, const char *path, const char *fpd, const orgnote_callbacks *cb,
                     void *ud)
{
    orgnote *o = g_try_new0(orgnote, 1);
    if (!o)
        return NULL;
    o->r = r;
    g_strlcpy(o->path, path, sizeof o->path);
    g_strlcpy(o->fpd, fpd, sizeof o->fpd);
    o->cb = *cb;
    o->ud = ud;
    load(o);
    if (r)
        rdv_set_org_hook(r, on_org, o);
    return o;
}

void orgnote_free(orgnote *o)
{
    if (!o)
        return;
    if (o->r)
        rdv_set_org_hook(o->r, NULL, NULL);
    g_free(o);
}

void orgnote_start(orgnote *o)
{
    if (o->has && o->cb.revoked)
        o->cb.revoked(o->ud, &o->l);
}

bool orgnote_revoked(const orgnote *o, const uint8_t key[static 32])
{
    return o && o->has && revlist_has(&o->l, key);
}

int orgnote_receipt(orgnote *o, int64_t id, bool read)
{
    ann_rcpt rc = {.id = id, .read = read};
    buf b;
    buf_init(&b, 256);
    int e = o->r ? ann_rcpt_encode(&rc, &b) : BANTER_ESTATE;
    if (e == 0)
        e = rdv_send_raw(o->r, buf_data(&b), buf_len(&b));
    buf_free(&b);
    return e;
}
