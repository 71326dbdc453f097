/* SPDX-License-Identifier: MIT */
/*
 * echo.c - an example Banter bot: the template of docs/plugins.md.
 *
 * It answers every message it is sent:
 *   "remind N TEXT"  writes TEXT back after N seconds (1..86400), from a timer
 *   "count"          says how many messages it has answered (kept in its
 *                    key/value storage, so the number survives restarts)
 *   anything else    is sent back with a prefix (setting plugin.echo.prefix,
 *                    default "echo: ")
 *
 * Build it out of tree against an installed Banter:
 *   cc -shared -fPIC $(pkg-config --cflags banter-plugin) echo.c -o echo.so
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <banter_plugin.h>

#define MAX_REMINDERS 32

typedef struct reminder {
    banter_timer *t;
    char contact[160];
    char text[512];
} reminder;

/* A plug-in's own state: one instance per host process. */
static const banter_host *host;
static reminder reminders[MAX_REMINDERS];

static void on_reminder(banter_ctx *ctx, banter_timer *t, void *ud)
{
    reminder *r = ud;
    char text[600];
    (void)t;
    snprintf(text, sizeof text, "reminder: %s", r->text);
    host->send_message(ctx, r->contact, text);
    r->t = NULL; /* a one-shot timer is freed by the host after this returns */
}

static void remind(banter_ctx *ctx, const char *contact, const char *args)
{
    char *end;
    long secs = strtol(args, &end, 10);
    if (end == args || secs < 1 || secs > 86400 || *end != ' ') {
        host->send_message(ctx, contact, "usage: remind SECONDS TEXT");
        return;
    }
    for (size_t i = 0; i < MAX_REMINDERS; i++) {
        reminder *r = &reminders[i];
        if (r->t)
            continue;
        snprintf(r->contact, sizeof r->contact, "%s", contact);
        snprintf(r->text, sizeof r->text, "%s", end + 1);
        r->t = host->timer_add(ctx, (uint32_t)secs * 1000u, 0, on_reminder, r);
        host->send_message(ctx, contact, r->t ? "ok, I will remind you" : "cannot set a timer");
        return;
    }
    host->send_message(ctx, contact, "too many reminders waiting");
}

static unsigned long bump_count(banter_ctx *ctx)
{
    char v[24] = "0";
    size_t len = 0;
    if (host->kv_get(ctx, "count", v, sizeof v - 1, &len) == BANTER_PLUGIN_OK)
        v[len] = '\0';
    unsigned long n = strtoul(v, NULL, 10) + 1;
    int k = snprintf(v, sizeof v, "%lu", n);
    if (host->kv_set(ctx, "count", v, (size_t)k) != BANTER_PLUGIN_OK)
        host->log(ctx, BANTER_LOG_WARN, "cannot store the count");
    return n;
}

static void on_message(banter_ctx *ctx, const banter_event *ev, void *ud)
{
    (void)ud;
    const char *from = host->event_contact(ev), *text = host->event_text(ev);
    unsigned long n = bump_count(ctx);
    if (strncmp(text, "remind ", 7) == 0) {
        remind(ctx, from, text + 7);
    } else if (strcmp(text, "count") == 0) {
        char reply[64];
        snprintf(reply, sizeof reply, "%lu messages so far", n);
        host->send_message(ctx, from, reply);
    } else {
        const char *prefix = host->config_get(ctx, "prefix");
        size_t len = strlen(text) + 64;
        char *reply = malloc(len);
        if (!reply)
            return;
        snprintf(reply, len, "%s%s", prefix ? prefix : "echo: ", text);
        if (host->send_message(ctx, from, reply) < 0)
            host->log(ctx, BANTER_LOG_WARN, "could not answer %s", host->event_contact_name(ev));
        free(reply);
    }
}

static void on_result(banter_ctx *ctx, const banter_event *ev, void *ud)
{
    (void)ud;
    if (host->event_status(ev) != 0)
        host->log(ctx, BANTER_LOG_WARN, "message %lld not sent: %s",
                  (long long)host->event_request(ev), host->event_text(ev));
}

static int echo_init(banter_ctx *ctx, const banter_host *h)
{
    host = h;
    if (h->subscribe(ctx, BANTER_EV_BIT(BANTER_EV_MESSAGE_IN), on_message, NULL) < 0 ||
        h->subscribe(ctx, BANTER_EV_BIT(BANTER_EV_SEND_RESULT), on_result, NULL) < 0)
        return -1;
    h->log(ctx, BANTER_LOG_INFO, "echo bot ready");
    return 0;
}

static void echo_fini(banter_ctx *ctx) { host->log(ctx, BANTER_LOG_INFO, "echo bot stopping"); }

static const banter_plugin ECHO = {
    BANTER_PLUGIN_INIT, .name = "echo",
    .version = "1.0",   .description = "answers every message; remind SECONDS TEXT; count",
    .init = echo_init,  .fini = echo_fini,
};

const banter_plugin *banter_plugin_entry(void);
const banter_plugin *banter_plugin_entry(void) { return &ECHO; }
