/* SPDX-License-Identifier: MIT */
/*
 * cli.h - what banter-rendezvous's commands share: exit codes, the command
 * table's shape, the settings every command sees, and small helpers.
 */
#ifndef BANTER_RDV_CLI_H
#define BANTER_RDV_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "admmsg.h"
#include "config.h"
#include "db.h"

#define CLI_PROG "banter-rendezvous"

/* Exit codes (also in banter-rendezvous(1)). */
enum {
    EXIT_OK = 0,
    EXIT_ERROR = 1, /* the command failed; the message says why */
    EXIT_USAGE = 2, /* bad command line */
};

typedef struct cli_ctx {
    const config *cfg;
    const char *key_path; /* config_key_path: the base + ".key" */
    const char *conf;     /* the --config file, or NULL */
} cli_ctx;

typedef int (*cli_cmd_fn)(const cli_ctx *ctx, int argc, char **argv);

typedef struct cli_cmd {
    const char *name;
    cli_cmd_fn fn;
    const char *usage; /* after "banter-rendezvous [OPTIONS] " */
    const char *help;  /* one paragraph */
} cli_cmd;

/* The commands (argv[0] is the command's name). */
int cmd_serve(const cli_ctx *ctx, int argc, char **argv);       /* serve.c */
int cmd_fingerprint(const cli_ctx *ctx, int argc, char **argv); /* serve.c */
int cmd_user(const cli_ctx *ctx, int argc, char **argv);        /* users.c */
int cmd_admin(const cli_ctx *ctx, int argc, char **argv);       /* admins.c */
int cmd_plugins(const cli_ctx *ctx, int argc, char **argv);     /* plugcmd.c */
int cmd_instance(const cli_ctx *ctx, int argc, char **argv);    /* instance.c */

/* Open the database of ctx for a command, printing why when it cannot:
 * NULL then. Refuses a database file owned by another user (the files
 * SQLite would create beside it would then lock that user out). */
db *cli_open_db(const cli_ctx *ctx);

/*
 * Run one administrative request on the server machine (admins.c): open
 * the database and the server key, run rq through acct_exec (acct.h, the
 * implementation banter-admin's requests run too; audited as "local uid
 * N"), print the answer's text (stdout; stderr with the program's name
 * when refused) or, with json, its data; then, when notify names an
 * account and the request succeeded, tell a running server (ctl.h).
 * Returns the exit code: EXIT_OK, or EXIT_ERROR when refused or failed.
 */
int cli_run(const cli_ctx *ctx, const adm_request *rq, bool json, const char *notify);

#endif
