/* SPDX-License-Identifier: MIT */
/*
 * plugsup.h - what a plug-in supervisor decides, without doing it: the
 * state of one plug-in host process (disabled, starting, running,
 * back-off, failed, stopped), its checks of what the host sends (HELLO
 * first and once, the ABI, PONG, LOG, STOP, FAIL), the heartbeat, why it
 * was killed and why it ended, and the restart schedule (1 s doubling to
 * 60 s; 1 s again after a minute of health) on a clock handed in.
 *
 * Sans-I/O, shared by the node (peer/plugin/plugins.c, GLib) and the
 * server (rendezvous/plugins.c, libuv): they spawn, kill, read and write,
 * run the timers, and ask this engine what to do next (a plugsup_do).
 * Whether a host process is alive is theirs to know and is passed in.
 *
 * A small value type: embed it, plugsup_init it; its fields are private
 * (read them through the getters). Log lines go to the handed-in log
 * function, without the plug-in's name (the caller prefixes it).
 */
#ifndef BANTER_PLUGSUP_H
#define BANTER_PLUGSUP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "plugmsg.h"
#include "tbucket.h"

#define PLUGSUP_BACKOFF_FIRST_MS 1000
#define PLUGSUP_BACKOFF_MAX_MS   60000
#define PLUGSUP_HEALTHY_MS       60000 /* running this long resets the back-off */
#define PLUGSUP_ERROR_MAX        256
#define PLUGSUP_DESC_MAX         256
/* A plug-in's log lines: at most this many a second, PLUGSUP_LOG_BURST at
 * once; the rest are dropped and counted ("N lines dropped" with the next
 * line logged). */
#define PLUGSUP_LOG_RATE         50
#define PLUGSUP_LOG_BURST        200

typedef enum plugsup_state {
    PLUGSUP_DISABLED,
    PLUGSUP_STARTING,
    PLUGSUP_RUNNING,
    PLUGSUP_BACKOFF,
    PLUGSUP_FAILED,
    PLUGSUP_STOPPED
} plugsup_state;

/* What the caller does next. */
typedef enum plugsup_do {
    PLUGSUP_NOTHING, /* nothing (the engine's state changed, or not) */
    PLUGSUP_KILL,    /* SIGKILL the host now, by its PID; the reason is kept */
    PLUGSUP_CONFIG,  /* its HELLO was accepted: send it PLUG_CONFIG */
    PLUGSUP_PASS,    /* a message the supervisor leaves to the caller (SEND, SUBSCRIBE) */
    PLUGSUP_PING,    /* send PLUG_PING with the number given */
    PLUGSUP_QUIT,    /* send PLUG_QUIT and start the grace timer (SIGKILL when it ends) */
    PLUGSUP_SPAWN,   /* start a host now (cancel any retry timer first) */
    PLUGSUP_RETRY    /* start a host after the delay given */
} plugsup_do;

typedef void (*plugsup_log_fn)(void *ud, const char *text);

typedef struct plugsup {
    /* private */
    plugsup_state state;
    bool enabled, hello, ping_out, quit_sent, no_restart, stopped_itself, respawn;
    uint64_t ping_seq;
    unsigned restarts, failures;
    int64_t started_ms, retry_at_ms;
    plugsup_log_fn log;
    void *log_ud;
    char name[PLUG_MAX_NAME + 1]; /* as its HELLO said, on one line */
    char version[PLUG_MAX_NAME + 1], description[PLUGSUP_DESC_MAX + 1];
    tbucket logs;      /* PLUGSUP_LOG_RATE lines a second */
    uint64_t log_drop; /* lines dropped since the last one logged */
    char kill_reason[PLUGSUP_ERROR_MAX], last_error[PLUGSUP_ERROR_MAX];
} plugsup;

/* Ready, not started: PLUGSUP_BACKOFF (to be started) when enabled, else
 * PLUGSUP_DISABLED. log may be NULL. */
void plugsup_init(plugsup *s, bool enabled, plugsup_log_fn log, void *ud);

/* A host process was started at now_ms: PLUGSUP_STARTING until its HELLO. */
void plugsup_started(plugsup *s, int64_t now_ms);
/* It could not be started (the cause, printf-style): PLUGSUP_FAILED. */
void plugsup_start_failed(plugsup *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A decoded message from the host, at now_ms: PLUGSUP_KILL (protocol broken, wrong
 * ABI: the reason is kept; a wrong ABI is not restarted), PLUGSUP_CONFIG
 * (HELLO accepted, now running), PLUGSUP_PASS (SEND, SUBSCRIBE and the
 * rest: the caller's), or PLUGSUP_NOTHING (LOG logged, PONG, STOP and
 * FAIL noted: not restarted after it exits). */
plugsup_do plugsup_host_message(plugsup *s, const plugmsg *m, int64_t now_ms);

/* A heartbeat tick: PLUGSUP_KILL (resident_mb over limit_mb, or the last
 * PING unanswered after heartbeat_ms), else PLUGSUP_PING with *seq the
 * number to send. resident_mb 0: unknown, not checked. */
plugsup_do plugsup_heartbeat(plugsup *s, uint64_t resident_mb, uint64_t limit_mb,
                             unsigned heartbeat_ms, uint64_t *seq);

/* The caller kills the host for the reason fmt formats (printf-style;
 * the reason its exit gives, unless one was kept already). */
void plugsup_killing(plugsup *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void plugsup_vkilling(plugsup *s, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Stop an alive host: PLUGSUP_QUIT the first time, then PLUGSUP_NOTHING.
 * Nothing changes for a host that is not alive. */
plugsup_do plugsup_quit(plugsup *s, bool alive);

/* The host exited (sig: the signal that killed it, else 0 and status its
 * exit status; host: the host program, for status 127) at now_ms. Says
 * why (last error) and what next: PLUGSUP_SPAWN (enabled again while it
 * stopped), PLUGSUP_RETRY with *delay_ms (a failure: back-off), or
 * PLUGSUP_NOTHING (stopped, disabled, or failed for good). */
plugsup_do plugsup_exited(plugsup *s, int status, int sig, const char *host, int64_t now_ms,
                          uint64_t *delay_ms);

/* Disable: PLUGSUP_QUIT when an alive host is to be told, else
 * PLUGSUP_NOTHING; no retry or respawn happens after (cancel the retry
 * timer). */
plugsup_do plugsup_disable(plugsup *s, bool alive);
/* Enable, or restart (a clean stop and a new start): PLUGSUP_SPAWN (not
 * alive: start now, the back-off and last error forgotten), PLUGSUP_QUIT
 * (restart of an alive host: it is started again once gone), or
 * PLUGSUP_NOTHING (running already; or stopping, and started again once
 * gone). */
plugsup_do plugsup_enable(plugsup *s, bool restart, bool alive);

plugsup_state plugsup_get_state(const plugsup *s);
/* "disabled", "starting", "running", "backoff", "failed", "stopped". */
const char *plugsup_state_name(plugsup_state st);
bool plugsup_enabled(const plugsup *s);
bool plugsup_quit_sent(const plugsup *s);
unsigned plugsup_restarts(const plugsup *s);
/* In back-off: how long until the next start, else 0. */
int64_t plugsup_retry_in_ms(const plugsup *s, int64_t now_ms);
/* From its HELLO ("" before); the last error ("" none). */
/* Its name and version as its HELLO said them (control bytes as spaces). */
const char *plugsup_name(const plugsup *s);
const char *plugsup_version(const plugsup *s);
const char *plugsup_description(const plugsup *s);
const char *plugsup_last_error(const plugsup *s);

#endif
