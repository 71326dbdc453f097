/* SPDX-License-Identifier: MIT */
/*
 * main.c - `banter-admin`: remote administration of a rendezvous server
 * (banter-admin(1), docs/admin.md). Global options, the local commands
 * (keygen, fingerprint), then one request per run through client.h; the
 * remote commands are the table in commands.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "admin.h"
#include "bcrypto.h"
#include "client.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: " ADMIN_PROG " [--server HOST:PORT] [--server-key FINGERPRINT] [--key FILE]\n"
            "                    [--json] [--timeout SECONDS] COMMAND [ARGS]\n\n"
            "Administers a Banter rendezvous server over its encrypted protocol, with an\n"
            "admin key the server authorized (banter-rendezvous admin add FINGERPRINT).\n\n"
            "commands:\n"
            "  keygen                      make the admin key (--key) and print its fingerprint\n"
            "  fingerprint                 print the admin key's fingerprint\n");
    admin_commands_usage(f);
    fprintf(f, "\n--server, --server-key and --key default to $BANTER_ADMIN_SERVER,\n"
               "$BANTER_ADMIN_SERVER_KEY and $BANTER_ADMIN_KEY (else ~/.config/banter/admin.key).\n"
               "`" ADMIN_PROG " COMMAND --help` explains a command; exit codes are in\n"
               "banter-admin(1): 0 ok, 1 the server refused or failed, 2 usage, 3 cannot\n"
               "reach the server, 4 the server's key is not the pinned one, 5 not allowed.\n");
}

/* The default key file: $XDG_CONFIG_HOME/banter/admin.key or
 * ~/.config/banter/admin.key. */
static int default_key(char *out, size_t cap)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    int n = xdg && *xdg ? snprintf(out, cap, "%s/banter/admin.key", xdg)
            : home      ? snprintf(out, cap, "%s/.config/banter/admin.key", home)
                        : -1;
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* A number of seconds, 1..86400; -1 when s is not one. */
static int parse_seconds(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v <= 0 || v > 86400)
        return -1;
    return (int)v;
}

/* One global option at argv[*i]: 1 when taken, 0 when not an option of
 * ours, -1 on error (printed). */
static int global_option(int argc, char **argv, int *i, admin_opts *o)
{
    static const char *const names[] = {"--server", "--server-key", "--key", "--timeout"};
    if (strcmp(argv[*i], "--json") == 0) {
        o->json = true;
        (*i)++;
        return 1;
    }
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        size_t n = strlen(names[k]);
        const char *v;
        if (strcmp(argv[*i], names[k]) == 0 && *i + 1 < argc) {
            v = argv[*i + 1];
            *i += 2;
        } else if (strncmp(argv[*i], names[k], n) == 0 && argv[*i][n] == '=') {
            v = argv[*i] + n + 1;
            *i += 1;
        } else if (strcmp(argv[*i], names[k]) == 0) {
            fprintf(stderr, ADMIN_PROG ": %s needs a value\n", names[k]);
            return -1;
        } else {
            continue;
        }
        if (k == 0)
            o->server = v;
        else if (k == 1)
            o->server_key = v;
        else if (k == 2)
            o->key = v;
        else if ((o->timeout_s = parse_seconds(v)) <= 0) {
            fprintf(stderr, ADMIN_PROG ": --timeout needs a number of seconds, not \"%s\"\n", v);
            return -1;
        }
        return 1;
    }
    return 0;
}

/* keygen: a new 0600 key file (its folder made 0700 when missing). */
static int cmd_keygen(const admin_opts *o)
{
    identity *id = NULL;
    bool created = false;
    char fp[IDENTITY_FP_LEN + 1], dir[1024];
    struct stat st;
    if (stat(o->key, &st) == 0) {
        fprintf(stderr,
                ADMIN_PROG ": %s exists: keygen never replaces a key (`" ADMIN_PROG
                           " fingerprint` shows it)\n",
                o->key);
        return ADMIN_EXIT_ERROR;
    }
    /* Make the missing folders of the key's path, 0700 (~/.config may not
     * exist yet on a fresh account). */
    snprintf(dir, sizeof dir, "%s", o->key);
    for (char *p = strchr(dir + 1, '/'); p; p = strchr(p + 1, '/')) {
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            break;
        *p = '/';
    }
    int r = identity_load_or_create(&id, o->key, bcrypto_rng_system(), &created);
    if (r) {
        fprintf(stderr, ADMIN_PROG ": cannot create %s: %s\n", o->key, banter_strerror(r));
        return ADMIN_EXIT_ERROR;
    }
    identity_fingerprint(identity_public(id), fp);
    identity_free(id);
    printf("%s\n", fp);
    fprintf(stderr,
            "created admin key %s; on the server machine an admin authorizes it with\n"
            "  banter-rendezvous admin add \"%s\" --role admin\n",
            o->key, fp);
    return ADMIN_EXIT_OK;
}

static int cmd_fingerprint(const admin_opts *o)
{
    identity *id = NULL;
    char fp[IDENTITY_FP_LEN + 1];
    int r = identity_load(&id, o->key);
    if (r) {
        fprintf(stderr, ADMIN_PROG ": cannot read the admin key %s: %s%s\n", o->key,
                banter_strerror(r),
                r == BANTER_EIO && errno == ENOENT ? " (`" ADMIN_PROG " keygen` makes one)" : "");
        return ADMIN_EXIT_ERROR;
    }
    identity_fingerprint(identity_public(id), fp);
    identity_free(id);
    printf("%s\n", fp);
    return ADMIN_EXIT_OK;
}

int main(int argc, char **argv)
{
    admin_opts o = {.timeout_s = ADMIN_TIMEOUT_S};
    char key[1024];
    int i = 1;
    o.server = getenv("BANTER_ADMIN_SERVER");
    o.server_key = getenv("BANTER_ADMIN_SERVER_KEY");
    o.key = getenv("BANTER_ADMIN_KEY");
    if (!o.key && default_key(key, sizeof key) == 0)
        o.key = key;
    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return ADMIN_EXIT_OK;
        }
        int r = global_option(argc, argv, &i, &o);
        if (r < 0)
            return ADMIN_EXIT_USAGE;
        if (r == 0) {
            fprintf(stderr, ADMIN_PROG ": unknown option %s (" ADMIN_PROG " --help)\n", argv[i]);
            return ADMIN_EXIT_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return ADMIN_EXIT_USAGE;
    }
    if (bcrypto_init() != 0) {
        fprintf(stderr, ADMIN_PROG ": libsodium failed to initialise\n");
        return ADMIN_EXIT_ERROR;
    }
    if (!o.key) {
        fprintf(stderr, ADMIN_PROG ": no admin key: give --key FILE\n");
        return ADMIN_EXIT_USAGE;
    }
    bool help = argc > i + 1 &&
                (strcmp(argv[argc - 1], "--help") == 0 || strcmp(argv[argc - 1], "-h") == 0);
    if (strcmp(argv[i], "keygen") == 0 || strcmp(argv[i], "fingerprint") == 0) {
        if (help || argc > i + 1) {
            printf("usage: " ADMIN_PROG " [--key FILE] %s\n", argv[i]);
            return help ? ADMIN_EXIT_OK : ADMIN_EXIT_USAGE;
        }
        return argv[i][0] == 'k' ? cmd_keygen(&o) : cmd_fingerprint(&o);
    }
    return admin_command(&o, argc - i, argv + i);
}
