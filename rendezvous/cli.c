/* SPDX-License-Identifier: MIT */
/* cli.c - helpers the commands share (see cli.h). */
#include "cli.h"

#include "db_pg.h"

#include <pwd.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

db *cli_open_db(const cli_ctx *ctx)
{
    struct stat st;
    char why[512];
    const char *path = ctx->cfg->db;
    if (stat(path, &st) == 0 && st.st_uid != geteuid()) {
        const struct passwd *pw = getpwuid(st.st_uid);
        char who[64];
        snprintf(who, sizeof who, "%s", pw ? pw->pw_name : "");
        fprintf(stderr,
                CLI_PROG ": the database %s belongs to user %s (uid %lu): run " CLI_PROG
                         " as that user (e.g. sudo -u %s " CLI_PROG " ...)\n",
                path, *who ? who : "?", (unsigned long)st.st_uid, *who ? who : "#uid");
        return NULL;
    }
    db *d = NULL;
    int r = db_open(&d, path, why, sizeof why);
    if (r) {
        /* A PostgreSQL URL may hold a password: never printed. */
        fprintf(stderr, CLI_PROG ": cannot open the database %s: %s\n",
                db_pg_is_url(path) ? "(PostgreSQL)" : path, *why ? why : banter_strerror(r));
        return NULL;
    }
    return d;
}
