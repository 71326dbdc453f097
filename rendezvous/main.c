/* SPDX-License-Identifier: MIT */
/* main.c - `banter-rendezvous`: global options and the command table. */
#include <stdio.h>
#include <string.h>

#include "bcrypto.h"
#include "cli.h"

static const cli_cmd commands[] = {
    {"serve", cmd_serve, "[serve]",
     "Run the server in the foreground until SIGINT or SIGTERM (the default command).\n"
     "Creates the server key on first start and prints its fingerprint; nodes pin\n"
     "the server by that fingerprint. Logs go to standard error."},
    {"fingerprint", cmd_fingerprint, "fingerprint",
     "Print the server key's fingerprint alone on one line (creating the key when\n"
     "there is none), to hand to nodes as --server-key."},
    {"user", cmd_user,
     "user add NAME [--admin] [--password-file F] [--reuse-name]\n"
     "  user list [--json]\n"
     "  user show NAME [--json]\n"
     "  user disable|enable|delete NAME\n"
     "  user passwd NAME [--password-file F]\n"
     "  user set NAME FIELD VALUE\n"
     "  user grant|revoke NAME broadcast",
     "Manage the accounts in the database. add: a new account; the password is the\n"
     "first line of F, or asked twice on the terminal. Names are 1 to 64 bytes of\n"
     "a-z, 0-9, '.', '_' and '-', starting with a letter or a digit. list: every\n"
     "account with its devices. disable: the account can no longer log in, and a\n"
     "running server ends its live sessions at once; enable undoes it. grant and\n"
     "revoke: the right to send organisation broadcasts (admins have it unless\n"
     "revoked). A running server is told through its control socket (DB.sock,\n"
     "or STATE.sock with PostgreSQL).\n"
     "show, delete, passwd and set (a profile field) as banter-admin(1) has them;\n"
     "both run the same code, and every change is in the audit log."},
    {"admin", cmd_admin,
     "admin add FINGERPRINT --role admin|auditor\n"
     "  admin list [--json]\n"
     "  admin remove FINGERPRINT",
     "Who may administer this server remotely with banter-admin(1): the admin key's\n"
     "fingerprint (`banter-admin --key FILE keygen` prints it) and its role: admin\n"
     "(everything) or auditor (read-only). Once one admin key exists, the rest can\n"
     "be done remotely. Every change is in the audit log."},
    {"instance", cmd_instance,
     "instance new PATH --name NAME [--days N]\n"
     "  instance show PATH",
     "One instance of a service of several (docs/cluster.md). new: make an instance key\n"
     "at PATH (or keep the one there) and sign PATH.cert for it with the server key\n"
     "(the organisation key nodes pin; run it where that key is) for N days (default\n"
     "365). Copy both files to the instance and set `instance = PATH` in its --config:\n"
     "it proves its own key and presents the certificate, and nodes pinning the\n"
     "server key accept it. show: the certificate's name, keys and expiry."},
    {"plugins", cmd_plugins, "plugins [list | enable NAME | disable NAME | restart NAME] [--json]",
     "The running server's plug-ins (plugin.NAME.path in the --config file), each in a\n"
     "process of its own: state, PID, restarts and the last error; enable, disable or\n"
     "restart one (until the server restarts: the file is the lasting choice).\n"
     "See docs/plugins.md."},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: " CLI_PROG
               " [--config FILE] [--db PATH|URL] [--state PATH] [--listen ADDR:PORT]\n"
               "       [COMMAND]\n\n"
               "Banter's rendezvous server: accounts, contacts, presence, offline messages and\n"
               "broadcasts for remote staff.\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %s\n", commands[i].usage);
    fprintf(f,
            "\n--db defaults to " CONFIG_DEFAULT_DB " (the server key is PATH" CONFIG_KEY_SUFFIX
            "); a postgresql:// URL\n"
            "names a PostgreSQL database, and the server key is then STATE" CONFIG_KEY_SUFFIX
            " (--state, default\n" CONFIG_DEFAULT_STATE "); --listen defaults to 0.0.0.0:%d.\n"
            "Options override the --config file. `" CLI_PROG
            " COMMAND --help` explains a command;\n"
            "exit codes are in banter-rendezvous(1).\n",
            CONFIG_DEFAULT_PORT);
}

static const cli_cmd *find(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* One global option at argv[*i] with its value; 1 when it was one, 0 when
 * argv[*i] is not a global option, -1 on an error (printed). */
static int global_option(int argc, char **argv, int *i, const char **conf, config *over,
                         bool set[static 3])
{
    static const char *const names[] = {"--config", "--db", "--listen", "--state"};
    static const char *const keys[] = {"", "db", "listen", "state"};
    char why[512];
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        size_t n = strlen(names[k]);
        const char *v;
        if (strcmp(argv[*i], names[k]) == 0) {
            if (*i + 1 >= argc) {
                fprintf(stderr, CLI_PROG ": %s needs a value\n", names[k]);
                return -1;
            }
            v = argv[*i + 1];
            *i += 2;
        } else if (strncmp(argv[*i], names[k], n) == 0 && argv[*i][n] == '=') {
            v = argv[*i] + n + 1;
            *i += 1;
        } else {
            continue;
        }
        if (k == 0) {
            *conf = v;
            return 1;
        }
        if (config_set(over, keys[k], v, why, sizeof why) != 0) {
            fprintf(stderr, CLI_PROG ": %s\n", why);
            return -1;
        }
        set[k - 1] = true;
        return 1;
    }
    return 0;
}

/* Defaults, then the config file, then the options given. */
static int settings(int argc, char **argv, int *i, config *cfg, const char **conf_out)
{
    const char *conf = NULL;
    config over;
    bool set[3] = {false, false, false}; /* db, listen, state */
    char why[512];

    config_defaults(cfg);
    config_defaults(&over);
    while (*i < argc && argv[*i][0] == '-') {
        if (strcmp(argv[*i], "-h") == 0 || strcmp(argv[*i], "--help") == 0) {
            usage(stdout);
            return 1;
        }
        int r = global_option(argc, argv, i, &conf, &over, set);
        if (r < 0)
            return -1;
        if (r == 0) {
            fprintf(stderr, CLI_PROG ": unknown option %s\n", argv[*i]);
            usage(stderr);
            return -1;
        }
    }
    if (conf && config_load(cfg, conf, why, sizeof why) != 0) {
        fprintf(stderr, CLI_PROG ": %s\n", why);
        return -1;
    }
    *conf_out = conf;
    if (set[0])
        memcpy(cfg->db, over.db, sizeof cfg->db);
    if (set[1])
        memcpy(cfg->listen, over.listen, sizeof cfg->listen);
    if (set[2])
        memcpy(cfg->state, over.state, sizeof cfg->state);
    return 0;
}

static bool wants_help(const cli_cmd *c, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: " CLI_PROG " [OPTIONS] %s\n\n%s\n", c->usage, c->help);
            return true;
        }
    }
    return false;
}

int main(int argc, char **argv)
{
    config cfg;
    char key_path[CONFIG_PATH_MAX];
    int i = 1;

    const char *conf = NULL;
    int r = settings(argc, argv, &i, &cfg, &conf);
    if (r)
        return r > 0 ? EXIT_OK : EXIT_USAGE;
    const cli_cmd *c = i < argc ? find(argv[i]) : &commands[0];
    if (!c) {
        fprintf(stderr, CLI_PROG ": unknown command \"%s\" (" CLI_PROG " --help lists them)\n",
                argv[i]);
        return EXIT_USAGE;
    }
    char *serve_argv[] = {(char *)"serve", NULL};
    int cargc = i < argc ? argc - i : 1;
    char **cargv = i < argc ? argv + i : serve_argv;
    if (wants_help(c, cargc, cargv))
        return EXIT_OK;
    if (config_key_path(&cfg, key_path, sizeof key_path) != 0) {
        fprintf(stderr, CLI_PROG ": the database path is too long\n");
        return EXIT_USAGE;
    }
    if (bcrypto_init() != 0) {
        fprintf(stderr, CLI_PROG ": libsodium failed to initialise\n");
        return EXIT_ERROR;
    }
    cli_ctx ctx = {&cfg, key_path, conf};
    return c->fn(&ctx, cargc, cargv);
}
