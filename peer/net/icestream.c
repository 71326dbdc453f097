/* SPDX-License-Identifier: MIT */
/*
 * icestream.c - shared/rstream on a GLib main context (see icestream.h).
 */
#include "icestream.h"

#include <stdlib.h>

#include "error.h"

#define DGRAM_MAX 2048u
#define READ_MAX  65536u

typedef struct timer_source {
    GSource base;
    icestream *s;
} timer_source;

struct icestream {
    rstream *rs;
    GSource *timer;
    icestream_send_fn send;
    void *send_ud;
    icestream_callbacks cb;
    void *ud;
    bool want_writable, closed_reported, in_callback, freed, paused;
    uint64_t malformed;
    uint8_t dgram[DGRAM_MAX];
    uint8_t *rd;
};

static void pump(icestream *s);

static gboolean timer_dispatch(GSource *src, GSourceFunc fn, gpointer ud)
{
    (void)fn, (void)ud;
    g_source_set_ready_time(src, -1);
    pump(((timer_source *)(void *)src)->s);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs timer_funcs = {NULL, NULL, timer_dispatch, NULL, NULL, NULL};

icestream *icestream_new(GMainContext *ctx, const rstream_config *cfg, icestream_send_fn send,
                         void *send_ud, const icestream_callbacks *cb, void *ud, int *err)
{
    icestream *s = calloc(1, sizeof *s);
    *err = BANTER_ENOMEM;
    if (!s)
        return NULL;
    s->send = send;
    s->send_ud = send_ud;
    s->cb = *cb;
    s->ud = ud;
    s->rd = malloc(READ_MAX);
    if (!s->rd)
        goto fail;
    if ((*err = rstream_new(&s->rs, cfg, g_get_monotonic_time())) != 0)
        goto fail;
    s->timer = g_source_new(&timer_funcs, sizeof(timer_source));
    ((timer_source *)(void *)s->timer)->s = s;
    g_source_attach(s->timer, ctx);
    *err = 0;
    return s;
fail:
    free(s->rd);
    free(s);
    return NULL;
}

static void really_free(icestream *s)
{
    g_source_destroy(s->timer);
    g_source_unref(s->timer);
    rstream_free(s->rs);
    free(s->rd);
    free(s);
}

void icestream_free(icestream *s)
{
    if (!s)
        return;
    if (s->in_callback) {
        s->freed = true; /* freed when the callback returns */
        return;
    }
    really_free(s);
}

/* Run one callback; false when the stream was freed inside it (then it is
 * gone: touch nothing). */
static bool after_callback(icestream *s)
{
    s->in_callback = false;
    if (s->freed) {
        really_free(s);
        return false;
    }
    return true;
}

/* Hand in-order bytes to the owner. false when freed meanwhile. */
static bool deliver(icestream *s)
{
    size_t n;
    while (!s->closed_reported && !s->paused && (n = rstream_read(s->rs, s->rd, READ_MAX)) > 0) {
        if (!s->cb.data)
            continue;
        s->in_callback = true;
        s->cb.data(s->ud, s, s->rd, n);
        if (!after_callback(s))
            return false;
    }
    return true;
}

static bool report(icestream *s)
{
    int err = rstream_error(s->rs);
    bool ended = rstream_eof(s->rs) && rstream_done(s->rs);

    if (s->want_writable && !err && rstream_writable(s->rs) > 0) {
        s->want_writable = false;
        if (s->cb.writable) {
            s->in_callback = true;
            s->cb.writable(s->ud, s);
            if (!after_callback(s))
                return false;
        }
    }
    if ((err || ended) && !s->closed_reported) {
        s->closed_reported = true;
        if (s->cb.closed) {
            s->in_callback = true;
            s->cb.closed(s->ud, s, err);
            if (!after_callback(s))
                return false;
        }
    }
    return true;
}

/* Send what is due and set the timer for what comes next. */
static void flush_out(icestream *s)
{
    size_t n;
    gint64 now = g_get_monotonic_time();
    while ((n = rstream_output(s->rs, now, s->dgram, sizeof s->dgram)) > 0)
        s->send(s->send_ud, s->dgram, n);
    int64_t t = rstream_next_timer(s->rs);
    g_source_set_ready_time(s->timer, t == INT64_MAX ? -1 : t);
}

static void pump(icestream *s)
{
    if (!deliver(s))
        return;
    /* Reading may have opened the window: output after delivering. */
    flush_out(s);
    if (!report(s))
        return;
    flush_out(s); /* what the callbacks wrote */
}

void icestream_input(icestream *s, const uint8_t *p, size_t len)
{
    /* A malformed datagram is dropped (counted); rstream_error() says when
     * the stream itself dies. */
    if (rstream_input(s->rs, g_get_monotonic_time(), p, len) != 0)
        s->malformed++;
    pump(s);
}

size_t icestream_write(icestream *s, const uint8_t *p, size_t len)
{
    /* Sends at once what pacing allows, but runs no callback. */
    size_t n = rstream_write(s->rs, p, len);
    if (n < len)
        s->want_writable = true;
    if (n > 0 && !s->in_callback)
        flush_out(s);
    return n;
}

size_t icestream_unacked(const icestream *s) { return rstream_unacked(s->rs); }

size_t icestream_rate(const icestream *s) { return rstream_rate(s->rs); }

void icestream_pause(icestream *s, bool paused)
{
    bool resume = s->paused && !paused;
    s->paused = paused;
    if (resume)
        g_source_set_ready_time(s->timer, 0); /* deliver from the loop, not from here */
}

void icestream_close(icestream *s)
{
    rstream_close(s->rs);
    if (!s->in_callback)
        flush_out(s);
}

void icestream_stats(const icestream *s, rstream_stats *st) { rstream_get_stats(s->rs, st); }
