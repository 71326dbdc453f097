/* SPDX-License-Identifier: MIT */
/*
 * admin.h - what banter-admin's files share: exit codes (also in
 * banter-admin(1)), the global options, and the remote commands' entry
 * points (commands.c).
 */
#ifndef BANTER_ADMIN_ADMIN_H
#define BANTER_ADMIN_ADMIN_H

#include <stdbool.h>
#include <stdio.h>

#define ADMIN_PROG      "banter-admin"
#define ADMIN_TIMEOUT_S 10

enum {
    ADMIN_EXIT_OK = 0,
    ADMIN_EXIT_ERROR = 1,   /* the server refused or failed the command; the message says why */
    ADMIN_EXIT_USAGE = 2,   /* bad command line */
    ADMIN_EXIT_CONNECT = 3, /* cannot reach the server, or the connection broke */
    ADMIN_EXIT_PIN = 4,     /* the server's key is not the pinned one */
    ADMIN_EXIT_DENIED = 5,  /* this key may not do that (EAUTH, EPERM) */
};

typedef struct admin_opts {
    const char *server;     /* HOST:PORT */
    const char *server_key; /* the pinned fingerprint, as typed */
    const char *key;        /* the admin key file */
    bool json;
    int timeout_s;
} admin_opts;

/* The remote commands' lines for --help. */
void admin_commands_usage(FILE *f);
/* Run the remote command argv[0] [argv[1]] ...; the exit code. */
int admin_command(admin_opts *o, int argc, char **argv);

#endif
