/* SPDX-License-Identifier: MIT */
/*
 * bad.c - misbehaving plug-ins for tests/integration/test_plugins.sh, one
 * per -DBAD_*: a segfault on the first message (SEGV), an endless loop on
 * the first message (SPIN), allocation without end that keeps answering
 * (HOG: 8 MiB more, touched, every 10 ms from the first message on, so
 * that the memory limit and not the heartbeat is what stops it), one built for
 * another ABI major (ABI2), one built for a newer minor than the host's
 * (MINOR), and one that writes to a contact it was not
 * given (GREEDY: every half second to its setting "target", logging each
 * answer, and logging any message it hears of: it should hear of none),
 * one that logs every event and answers it (AUDIT: on the server, where it
 * may not send), and one that writes raw bytes to the node's socket (FORGE: the
 * host's fd 3, as any code in the process could) to pass as the node: an
 * EVENT frame, a type only the node may send.
 */
#include <signal.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "banter_plugin.h"

static const banter_host *host;

#if defined(BAD_HOG)
static void hog_tick(banter_ctx *ctx, banter_timer *t, void *ud)
{
    (void)ctx;
    (void)t;
    (void)ud;
    for (int i = 0; i < 8; i++) {
        char *p = malloc(1 << 20);
        if (p)
            memset(p, 1, 1 << 20); /* resident, not just reserved */
    }
}
#endif

static void on_message(banter_ctx *ctx, const banter_event *ev, void *ud)
{
    (void)ctx;
    (void)ev;
    (void)ud;
#if defined(BAD_SEGV)
    volatile int *p = NULL;
    *p = 1;
#elif defined(BAD_SPIN)
    for (volatile unsigned long i = 0;; i++)
        ;
#elif defined(BAD_GREEDY)
    host->log(ctx, BANTER_LOG_INFO, "heard from %s", host->event_contact_name(ev));
#elif defined(BAD_AUDIT)
    host->log(ctx, BANTER_LOG_INFO, "event %d %s %s", (int)host->event_kind(ev),
              host->event_contact(ev), host->event_text(ev));
    if (host->send_message(ctx, host->event_contact(ev), "hello") < 0)
        host->log(ctx, BANTER_LOG_WARN, "send_message refused at once");
#elif defined(BAD_HOG)
    static int hogging;
    if (!hogging)
        hogging = host->timer_add(ctx, 10, 1, hog_tick, NULL) != NULL;
#endif
}

static void on_tick(banter_ctx *ctx, banter_timer *t, void *ud)
{
    (void)t;
    (void)ud;
    const char *target = host->config_get(ctx, "target");
    if (target)
        host->send_message(ctx, target, "I was not given you");
}

static void on_result(banter_ctx *ctx, const banter_event *ev, void *ud)
{
    (void)ud;
    host->log(ctx, BANTER_LOG_INFO, "send result %d: %s", host->event_status(ev),
              host->event_text(ev));
}

static void forge(banter_ctx *ctx, banter_timer *t, void *ud)
{
    (void)ctx;
    (void)t;
    (void)ud;
#if defined(BAD_FORGE)
    /* EVENT (0x42), kind 0, contact "x", name "", text "hi", id "". */
    static const unsigned char f[] = {0, 0, 0, 13, 0x42, 0, 0, 1, 'x', 0, 0, 0, 2, 'h', 'i', 0, 0};
    if (write(3, f, sizeof f) < 0)
        abort();
#endif
}

static int bad_init(banter_ctx *ctx, const banter_host *h)
{
    host = h;
#if defined(BAD_FORGE)
    h->timer_add(ctx, 200, 0, forge, NULL);
#endif
    h->log(ctx, BANTER_LOG_INFO, "misbehaving plug-in ready");
    if (!h->timer_add(ctx, 500, 1, on_tick, NULL) ||
        h->subscribe(ctx, BANTER_EV_BIT(BANTER_EV_SEND_RESULT), on_result, NULL) < 0)
        return -1;
    /* Messages on a node; logins and logouts on the server. */
    unsigned mask = BANTER_EV_BIT(BANTER_EV_MESSAGE_IN) | BANTER_EV_BIT(BANTER_EV_LOGIN) |
                    BANTER_EV_BIT(BANTER_EV_LOGOUT);
    return h->subscribe(ctx, mask, on_message, NULL) < 0 ? -1 : 0;
}

static const banter_plugin BAD = {
    .size = sizeof(banter_plugin),
#if defined(BAD_ABI2)
    .abi_major = BANTER_PLUGIN_ABI_MAJOR + 1,
#else
    .abi_major = BANTER_PLUGIN_ABI_MAJOR,
#endif
#if defined(BAD_MINOR)
    .abi_minor = BANTER_PLUGIN_ABI_MINOR + 1,
#else
    .abi_minor = 0,
#endif
    .name = "bad",
    .version = "0",
    .description = "a test plug-in that misbehaves",
    .init = bad_init,
};

const banter_plugin *banter_plugin_entry(void);
const banter_plugin *banter_plugin_entry(void) { return &BAD; }
