/* SPDX-License-Identifier: MIT */
/*
 * cli.h - what the client commands share: the exit codes, the option
 * scanner, and a connection to the node's control socket.
 */
#ifndef BANTER_PEER_CLI_H
#define BANTER_PEER_CLI_H

#include <cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/home.h"
#include "ctlmsg.h"

/* Exit codes (also in banter(1)). */
enum {
    EXIT_OK = 0,
    EXIT_ERROR = 1,         /* the request failed; the message says why */
    EXIT_USAGE = 2,         /* bad command line */
    EXIT_QUEUED = 3,        /* send: stored, delivered when the peer is back */
    EXIT_NO_NODE = 4,       /* no node is running with this home */
    EXIT_NO_PEER = 5,       /* unknown or ambiguous peer (or transfer id) */
    EXIT_REFUSED = 6,       /* the peer's key changed: verify first */
    EXIT_DECLINED = 7,      /* send-file: the receiver declined */
    EXIT_CANCELLED = 8,     /* send-file: cancelled, on either side */
    EXIT_AUTH = 9,          /* login: the rendezvous server refused it */
    EXIT_INTERRUPTED = 130, /* send-file: Ctrl-C; the transfer goes on */
};

typedef struct cli_ctx {
    const home *home;
    const char *prog; /* "banter" */
} cli_ctx;

typedef int (*cli_cmd_fn)(const cli_ctx *ctx, int argc, char **argv);

typedef struct cli_cmd {
    const char *name;
    cli_cmd_fn fn;
    const char *usage; /* after "banter [--home DIR] " */
    const char *help;  /* one paragraph */
} cli_cmd;

/* The commands, defined in cmd_*.c. `node` in banter is cmd_node_exec,
 * which becomes banter-node; cmd_node (the node itself) is banter-node's. */
int cmd_node_exec(const cli_ctx *ctx, int argc, char **argv);
int cmd_node(const cli_ctx *ctx, int argc, char **argv);
int cmd_id(const cli_ctx *ctx, int argc, char **argv);
int cmd_peers(const cli_ctx *ctx, int argc, char **argv);
int cmd_verify(const cli_ctx *ctx, int argc, char **argv);
int cmd_send(const cli_ctx *ctx, int argc, char **argv);
int cmd_broadcast(const cli_ctx *ctx, int argc, char **argv);
int cmd_history(const cli_ctx *ctx, int argc, char **argv);
int cmd_listen(const cli_ctx *ctx, int argc, char **argv);
int cmd_send_file(const cli_ctx *ctx, int argc, char **argv);
int cmd_transfers(const cli_ctx *ctx, int argc, char **argv);
int cmd_accept(const cli_ctx *ctx, int argc, char **argv);
int cmd_decline(const cli_ctx *ctx, int argc, char **argv);
int cmd_cancel(const cli_ctx *ctx, int argc, char **argv);
int cmd_login(const cli_ctx *ctx, int argc, char **argv);
int cmd_logout(const cli_ctx *ctx, int argc, char **argv);
int cmd_profile(const cli_ctx *ctx, int argc, char **argv);
int cmd_search(const cli_ctx *ctx, int argc, char **argv);
int cmd_rendezvous(const cli_ctx *ctx, int argc, char **argv);
int cmd_contacts(const cli_ctx *ctx, int argc, char **argv);
int cmd_contact(const cli_ctx *ctx, int argc, char **argv);
int cmd_requests(const cli_ctx *ctx, int argc, char **argv);
int cmd_approve(const cli_ctx *ctx, int argc, char **argv); /* approve and deny */
int cmd_status(const cli_ctx *ctx, int argc, char **argv);
int cmd_open(const cli_ctx *ctx, int argc, char **argv);
int cmd_plugins(const cli_ctx *ctx, int argc, char **argv);
int cmd_nat_check(const cli_ctx *ctx, int argc, char **argv);
int cmd_doctor(const cli_ctx *ctx, int argc, char **argv);
int cmd_group(const cli_ctx *ctx, int argc, char **argv);
int cmd_find(const cli_ctx *ctx, int argc, char **argv);
int cmd_announcements(const cli_ctx *ctx, int argc, char **argv);
/* `listen` got an "announcement" event: print it (as JSON with json) and
 * mark it read, since it was shown. */
void cli_announcement_shown(const cli_ctx *ctx, const cJSON *ev, bool json);
/* `send %GROUP TEXT` / `send --group GROUP TEXT`, `history %GROUP`. */
int cmd_group_send(const cli_ctx *ctx, const char *group, const char *text);
int cmd_group_history(const cli_ctx *ctx, const char *group, bool json, int64_t limit);

/* The table in main.c, for --help. */
const cli_cmd *cli_find(const char *name);
/* Print a command's usage and help to f. */
void cli_usage(FILE *f, const cli_cmd *c);
/* True when argv holds -h or --help; prints the help then. */
bool cli_wants_help(const char *name, int argc, char **argv);

typedef struct cli_conn cli_conn;

/* Connect to the node of ctx->home. NULL after printing "no node is
 * running in DIR: start one with `banter node`". */
cli_conn *cli_connect(const cli_ctx *ctx);
void cli_close(cli_conn *c);
/* Send a request and read one reply line; NULL on a broken connection
 * (printed) or a request ctlmsg refuses (printed with why). The request
 * is written by ctlmsg_encode_request, as the node decodes it; its
 * strings stay the caller's (a password is wiped from the written line,
 * the caller wipes its own). The reply is the caller's (cJSON_Delete);
 * its numbers are read exactly by cli_int. */
cJSON *cli_request(cli_conn *c, const ctl_request *q);
/* Read the next line as JSON (events after listen). NULL at the end. */
cJSON *cli_read(cli_conn *c);
/* Wait up to ms for something to read: 1 when cli_read will not block
 * (or the connection ended), 0 on timeout or a signal, -1 on error. */
int cli_wait(cli_conn *c, int ms);
/* One request on a new connection: the reply (the caller's), or NULL with
 * *rc set to the exit code after printing why (EXIT_USAGE for a request
 * ctlmsg refuses). */
cJSON *cli_call(const cli_ctx *ctx, const ctl_request *q, int *rc);
/* For replies with "ok":false: print "banter: MESSAGE" and map the error
 * name to an exit code. Returns EXIT_OK when the reply is ok. */
int cli_check(const cJSON *reply);

/* Members of a reply: a string ("" when absent or not one), an integer
 * (exact, 0 when absent or not one), a boolean, an object or array. */
const char *cli_str(const cJSON *o, const char *key);
int64_t cli_int(const cJSON *o, const char *key);
bool cli_bool(const cJSON *o, const char *key);
const cJSON *cli_obj(const cJSON *o, const char *key);
/* Copy src into dst (cap bytes with the NUL) for a request; false after
 * printing "banter CMD: WHAT is too long" when it does not fit. */
bool cli_copy(char *dst, size_t cap, const char *src, const char *cmd, const char *what);
/* A text member of a request pointing at s (borrowed). */
ctl_text cli_text(const char *s);

/* Print a JSON value on one line to stdout (numbers exactly as the node
 * wrote them). */
void cli_print_json(const cJSON *v);
/* "2026-11-21 22:58:01" in local time. */
void cli_time(int64_t ms, char *out, size_t cap);
/* "12.4 MB": bytes in decimal units (B, kB, MB, GB, TB). */
void cli_size(double bytes, char *out, size_t cap);

#endif
