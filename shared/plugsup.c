/* SPDX-License-Identifier: MIT */
/* plugsup.c - a plug-in supervisor's decisions (see plugsup.h). */
#include "plugsup.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "banter_plugin.h"

static const char *const STATE_NAMES[] = {"disabled", "starting", "running",
                                          "backoff",  "failed",   "stopped"};

static void say(const plugsup *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const plugsup *s, const char *fmt, ...)
{
    char text[PLUG_MAX_LINE + 64];
    va_list ap;
    if (!s->log)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    s->log(s->log_ud, text);
}

static void vset_error(plugsup *s, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void vset_error(plugsup *s, const char *fmt, va_list ap)
{
    vsnprintf(s->last_error, sizeof s->last_error, fmt, ap);
    say(s, "%s", s->last_error);
}

static void set_error(plugsup *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(plugsup *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset_error(s, fmt, ap);
    va_end(ap);
}

/* A plug-in's words in one log line: no newline or tab of its own. */
static void one_line(char *out, size_t cap, const char *text)
{
    snprintf(out, cap, "%s", text ? text : "");
    for (char *c = out; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) /* a line of the log is one line */
            *c = ' ';
}

void plugsup_init(plugsup *s, bool enabled, plugsup_log_fn log, void *ud)
{
    memset(s, 0, sizeof *s);
    s->enabled = enabled;
    s->state = enabled ? PLUGSUP_BACKOFF : PLUGSUP_DISABLED;
    s->log = log;
    s->log_ud = ud;
}

void plugsup_started(plugsup *s, int64_t now_ms)
{
    s->hello = s->ping_out = s->quit_sent = s->no_restart = s->stopped_itself = false;
    s->kill_reason[0] = '\0';
    s->state = PLUGSUP_STARTING;
    s->started_ms = now_ms;
    tbucket_init(&s->logs, PLUGSUP_LOG_RATE, PLUGSUP_LOG_BURST, now_ms);
    s->log_drop = 0;
    s->restarts += s->failures > 0 ? 1 : 0;
}

void plugsup_start_failed(plugsup *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset_error(s, fmt, ap);
    va_end(ap);
    s->state = PLUGSUP_FAILED;
}

void plugsup_vkilling(plugsup *s, const char *fmt, va_list ap)
{
    if (!s->kill_reason[0])
        vsnprintf(s->kill_reason, sizeof s->kill_reason, fmt, ap);
}

void plugsup_killing(plugsup *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    plugsup_vkilling(s, fmt, ap);
    va_end(ap);
}

static plugsup_do kill_for(plugsup *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static plugsup_do kill_for(plugsup *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    plugsup_vkilling(s, fmt, ap);
    va_end(ap);
    return PLUGSUP_KILL;
}

static plugsup_do on_hello(plugsup *s, const plugmsg *m)
{
    if (s->hello)
        return kill_for(s, "broke the protocol: a second HELLO");
    if (m->major != BANTER_PLUGIN_ABI_MAJOR || m->minor > BANTER_PLUGIN_ABI_MINOR) {
        s->no_restart = true;
        return kill_for(s, "built for plug-in ABI %u.%u; this program has ABI %u.%u", m->major,
                        m->minor, BANTER_PLUGIN_ABI_MAJOR, BANTER_PLUGIN_ABI_MINOR);
    }
    s->hello = true;
    s->state = PLUGSUP_RUNNING;
    one_line(s->name, sizeof s->name, m->name);
    one_line(s->version, sizeof s->version, m->version);
    one_line(s->description, sizeof s->description, m->text);
    return PLUGSUP_CONFIG;
}

plugsup_do plugsup_host_message(plugsup *s, const plugmsg *m, int64_t now_ms)
{
    static const char *const LEVEL[] = {"error", "warning", "info", "debug"};
    char line[PLUG_MAX_LINE + 1];
    if (!s->hello && m->type != PLUG_HELLO && m->type != PLUG_FAIL && m->type != PLUG_LOG)
        return kill_for(s, "broke the protocol: %u before HELLO", (unsigned)m->type);
    switch (m->type) {
    case PLUG_HELLO:
        return on_hello(s, m);
    case PLUG_LOG:
        if (!tbucket_take(&s->logs, now_ms)) {
            s->log_drop++;
            return PLUGSUP_NOTHING;
        }
        if (s->log_drop) {
            say(s, "%" PRIu64 " log line%s dropped (over %d a second)", s->log_drop,
                s->log_drop == 1 ? "" : "s", PLUGSUP_LOG_RATE);
            s->log_drop = 0;
        }
        one_line(line, sizeof line, m->text);
        say(s, "%s: %s", m->level <= PLUG_MAX_LEVEL ? LEVEL[m->level] : "debug", line);
        return PLUGSUP_NOTHING;
    case PLUG_PONG:
        if (m->num == s->ping_seq)
            s->ping_out = false;
        return PLUGSUP_NOTHING;
    case PLUG_STOP:
    case PLUG_FAIL:
        one_line(line, sizeof line, m->text);
        s->no_restart = true;
        s->stopped_itself = m->type == PLUG_STOP;
        set_error(s, "%s%s", s->stopped_itself ? "stopped itself: " : "", line);
        return PLUGSUP_NOTHING;
    default:
        return PLUGSUP_PASS;
    }
}

plugsup_do plugsup_heartbeat(plugsup *s, uint64_t resident_mb, uint64_t limit_mb,
                             unsigned heartbeat_ms, uint64_t *seq)
{
    if (resident_mb > limit_mb)
        return kill_for(s, "over its memory limit (%llu MiB resident, limit %llu MiB): killed",
                        (unsigned long long)resident_mb, (unsigned long long)limit_mb);
    if (s->ping_out)
        return kill_for(s, "did not answer the heartbeat within %u ms (hung?): killed",
                        heartbeat_ms);
    s->ping_out = true;
    *seq = ++s->ping_seq;
    return PLUGSUP_PING;
}

plugsup_do plugsup_quit(plugsup *s, bool alive)
{
    if (!alive || s->quit_sent)
        return PLUGSUP_NOTHING;
    s->quit_sent = true;
    return PLUGSUP_QUIT;
}

static void describe_exit(plugsup *s, int status, int sig, const char *host)
{
    if (s->kill_reason[0])
        set_error(s, "%s", s->kill_reason);
    else if (sig)
        set_error(s, "crashed: killed by signal %d (%s)", sig, strsignal(sig));
    else if (status == 127)
        set_error(s, "cannot run the host program %s", host);
    else if (status != 0 && !s->no_restart)
        set_error(s, "exited with status %d", status);
    else if (status == 0 && !s->no_restart && !s->quit_sent)
        set_error(s, "exited by itself");
    s->kill_reason[0] = '\0';
}

plugsup_do plugsup_exited(plugsup *s, int status, int sig, const char *host, int64_t now_ms,
                          uint64_t *delay_ms)
{
    describe_exit(s, status, sig, host);
    if (s->respawn && s->enabled) {
        s->respawn = false;
        s->failures = 0;
        return PLUGSUP_SPAWN;
    }
    if (s->state == PLUGSUP_DISABLED || s->quit_sent) {
        s->state = s->enabled ? PLUGSUP_STOPPED : PLUGSUP_DISABLED;
        return PLUGSUP_NOTHING;
    }
    if (s->no_restart) {
        s->state = s->stopped_itself ? PLUGSUP_STOPPED : PLUGSUP_FAILED;
        return PLUGSUP_NOTHING;
    }
    if (now_ms - s->started_ms >= PLUGSUP_HEALTHY_MS)
        s->failures = 0;
    uint64_t delay = PLUGSUP_BACKOFF_FIRST_MS;
    for (unsigned i = 0; i < s->failures && delay < PLUGSUP_BACKOFF_MAX_MS; i++)
        delay *= 2;
    if (delay > PLUGSUP_BACKOFF_MAX_MS)
        delay = PLUGSUP_BACKOFF_MAX_MS;
    s->failures++;
    s->state = PLUGSUP_BACKOFF;
    s->retry_at_ms = now_ms + (int64_t)delay;
    *delay_ms = delay;
    say(s, "restarting in %llu ms", (unsigned long long)delay);
    return PLUGSUP_RETRY;
}

plugsup_do plugsup_disable(plugsup *s, bool alive)
{
    s->enabled = false;
    s->respawn = false;
    s->state = PLUGSUP_DISABLED;
    return plugsup_quit(s, alive);
}

plugsup_do plugsup_enable(plugsup *s, bool restart, bool alive)
{
    s->enabled = true;
    if (!alive) {
        s->failures = 0;
        s->last_error[0] = '\0';
        return PLUGSUP_SPAWN;
    }
    if (restart && plugsup_quit(s, alive) == PLUGSUP_QUIT) {
        s->respawn = true;
        s->state = PLUGSUP_STARTING;
        return PLUGSUP_QUIT;
    }
    if (s->quit_sent) { /* still stopping: started again once it is gone */
        s->respawn = true;
        s->state = PLUGSUP_STARTING;
    }
    return PLUGSUP_NOTHING;
}

plugsup_state plugsup_get_state(const plugsup *s) { return s->state; }

const char *plugsup_state_name(plugsup_state st)
{
    return (unsigned)st < sizeof STATE_NAMES / sizeof STATE_NAMES[0] ? STATE_NAMES[st] : "?";
}

bool plugsup_enabled(const plugsup *s) { return s->enabled; }
bool plugsup_quit_sent(const plugsup *s) { return s->quit_sent; }
unsigned plugsup_restarts(const plugsup *s) { return s->restarts; }

int64_t plugsup_retry_in_ms(const plugsup *s, int64_t now_ms)
{
    return s->state == PLUGSUP_BACKOFF && s->retry_at_ms > now_ms ? s->retry_at_ms - now_ms : 0;
}

const char *plugsup_name(const plugsup *s) { return s->name; }
const char *plugsup_version(const plugsup *s) { return s->version; }
const char *plugsup_description(const plugsup *s) { return s->description; }
const char *plugsup_last_error(const plugsup *s) { return s->last_error; }
