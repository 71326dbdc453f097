/* SPDX-License-Identifier: MIT */
/*
 * users.c - `user add|list|show|disable|enable|delete|passwd|set|grant|
 * revoke`: local account management on the server machine. The command
 * line is read here; the operation itself is acct.h's, the one
 * implementation banter-admin's requests run too (cli_run). Changes that
 * matter to live sessions are told to a running server over its control
 * socket (ctl.h).
 *
 * Passwords come from the first line of a file (--password-file) or are
 * asked twice on the terminal with echo off. They are hashed with Argon2id
 * (bcrypto_pwhash_str), wiped from memory after use, and never printed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "acct.h"
#include "admmsg.h"
#include "bcrypto.h"
#include "cli.h"
#include "db_admin.h"
#include "utf8.h"

#define PASSWORD_MAX 1024u /* bytes of a password */

/*
 * The terminal's settings while a prompt has echo off, so that Ctrl-C does
 * not leave the terminal without echo. File-scope because a signal handler
 * can reach nothing else; only the prompt below sets them.
 */
static struct termios saved_tty;
static volatile sig_atomic_t tty_saved;

static void restore_tty(int sig)
{
    if (tty_saved)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* One line from fd into pw (PASSWORD_MAX + 2 bytes), without its "\n" or
 * "\r\n". 0, or -1 with the reason printed. */
static int read_line(int fd, char *pw, size_t *len, const char *from)
{
    size_t n = 0;
    for (;;) {
        char ch;
        ssize_t r = read(fd, &ch, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            fprintf(stderr, CLI_PROG ": cannot read the password from %s: %s\n", from,
                    strerror(errno));
            return -1;
        }
        if (r == 0 || ch == '\n')
            break;
        if (n > PASSWORD_MAX) {
            fprintf(stderr, CLI_PROG ": the password from %s is longer than %u bytes\n", from,
                    PASSWORD_MAX);
            return -1;
        }
        pw[n++] = ch;
    }
    if (n > 0 && pw[n - 1] == '\r')
        n--;
    pw[n] = '\0';
    *len = n;
    return 0;
}

/* Ask for a password on the terminal (stdin) with echo off. */
static int prompt(const char *text, char *pw, size_t *len)
{
    struct termios t;
    struct sigaction sa = {.sa_handler = restore_tty}, old_int, old_term;
    if (tcgetattr(STDIN_FILENO, &t) != 0) {
        fprintf(stderr, CLI_PROG ": cannot read the terminal's settings: %s\n", strerror(errno));
        return -1;
    }
    saved_tty = t;
    tty_saved = 1;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    t.c_lflag &= ~(tcflag_t)ECHO;
    t.c_lflag |= ECHONL;
    fputs(text, stderr);
    fflush(stderr);
    int r = tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) == 0
                ? read_line(STDIN_FILENO, pw, len, "the terminal")
                : -1;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
    tty_saved = 0;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return r;
}

/* The new account's password, checked: from file, else asked twice on the
 * terminal. pw has PASSWORD_MAX + 2 bytes. 0 or -1 (printed). */
static int get_password(const char *file, const char *name, char *pw, size_t *len)
{
    char again[PASSWORD_MAX + 2], text[128];
    size_t len2 = 0;
    int r;
    if (file) {
        int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
            fprintf(stderr, CLI_PROG ": cannot open the password file %s: %s\n", file,
                    strerror(errno));
            return -1;
        }
        r = read_line(fd, pw, len, file);
        close(fd);
    } else if (isatty(STDIN_FILENO)) {
        snprintf(text, sizeof text, "Password for %s: ", name);
        r = prompt(text, pw, len);
        if (r == 0)
            r = prompt("Again: ", again, &len2);
        if (r == 0 && (len2 != *len || !bcrypto_equal(pw, again, *len))) {
            fprintf(stderr, CLI_PROG ": the two passwords differ; nothing was changed\n");
            r = -1;
        }
        bcrypto_wipe(again, sizeof again);
    } else {
        fprintf(stderr, CLI_PROG ": no password: give --password-file F (its first line is "
                                 "the password), or run this on a terminal to be asked\n");
        return -1;
    }
    if (r == 0 && *len == 0) {
        fprintf(stderr, CLI_PROG ": the password is empty; an account needs one\n");
        r = -1;
    } else if (r == 0 && (memchr(pw, '\0', *len) || !utf8_valid(pw, *len))) {
        fprintf(stderr, CLI_PROG ": the password is not UTF-8 text (or holds a NUL byte)\n");
        r = -1;
    }
    return r;
}

/* Check a user name, printing why it is refused. */
static bool name_ok(const char *name)
{
    char q[UTF8_QUOTE_CAP];
    const char *why = db_name_problem(name);
    if (!why)
        return true;
    utf8_quote(q, name, strlen(name));
    fprintf(stderr, CLI_PROG ": bad user name %s: it %s\n", q, why);
    return false;
}

/* A request naming the account name (checked). */
static bool named(adm_request *rq, adm_cmd cmd, const char *name)
{
    rq->cmd = cmd;
    rq->has |= ADM_BIT(ADM_A_NAME);
    if (!name_ok(name))
        return false;
    snprintf(rq->name, sizeof rq->name, "%s", name);
    return true;
}

/* The password of rq from file or the terminal (wiped by the caller). */
static int ask_password(adm_request *rq, const char *file, const char *name)
{
    char pw[PASSWORD_MAX + 2];
    size_t len = 0;
    if (get_password(file, name, pw, &len) != 0) {
        bcrypto_wipe(pw, sizeof pw);
        return -1;
    }
    if (len > ADM_MAX_VALUE) {
        fprintf(stderr, CLI_PROG ": the password is longer than %u bytes\n", ADM_MAX_VALUE);
        bcrypto_wipe(pw, sizeof pw);
        return -1;
    }
    memcpy(rq->password, pw, len + 1);
    rq->has |= ADM_BIT(ADM_A_PASSWORD);
    bcrypto_wipe(pw, sizeof pw);
    return 0;
}

/* user add NAME [--admin] [--password-file F] [--reuse-name]; user passwd NAME
 * [--password-file F] */
static int user_add(const cli_ctx *ctx, int argc, char **argv)
{
    const char *name = NULL, *file = NULL;
    bool passwd = strcmp(argv[1], "passwd") == 0, admin = false, reuse = false;
    const char *usage = passwd ? "user passwd NAME [--password-file F]"
                               : "user add NAME [--admin] [--password-file F] [--reuse-name]";
    for (int i = 2; i < argc; i++) {
        if (!passwd && strcmp(argv[i], "--admin") == 0) {
            admin = true;
        } else if (!passwd && strcmp(argv[i], "--reuse-name") == 0) {
            reuse = true;
        } else if (strcmp(argv[i], "--password-file") == 0 && i + 1 < argc) {
            file = argv[++i];
        } else if (strncmp(argv[i], "--password-file=", 16) == 0) {
            file = argv[i] + 16;
        } else if (argv[i][0] == '-' || name) {
            fprintf(stderr, CLI_PROG ": unexpected \"%s\"; usage: %s\n", argv[i], usage);
            return EXIT_USAGE;
        } else {
            name = argv[i];
        }
    }
    if (!name) {
        fprintf(stderr, CLI_PROG ": usage: %s\n", usage);
        return EXIT_USAGE;
    }
    adm_request rq = {.admin = admin, .reuse_name = reuse};
    if (!named(&rq, passwd ? ADM_USER_PASSWD : ADM_USER_ADD, name))
        return EXIT_USAGE;
    if (admin)
        rq.has |= ADM_BIT(ADM_A_ADMIN);
    if (reuse)
        rq.has |= ADM_BIT(ADM_A_REUSE);
    /* An existing account is refused before the password is asked. */
    db *d = cli_open_db(ctx);
    if (!d)
        return EXIT_ERROR;
    db_user u;
    int r = db_user_get(d, name, &u, NULL);
    int64_t gone = 0;
    bool retired = !passwd && r == BANTER_ENOENT && !reuse && db_name_retired(d, name, &gone) == 0;
    db_close(d);
    if (!passwd && r == 0) {
        fprintf(stderr, CLI_PROG ": user %s already exists\n", name);
        return EXIT_ERROR;
    }
    if (retired) { /* refused before the password is asked, as the server would */
        fprintf(stderr, CLI_PROG ": %s (ERETIRED)\n", acct_retired_text(name, gone).text);
        return EXIT_ERROR;
    }
    if (passwd && r == BANTER_ENOENT) {
        fprintf(stderr, CLI_PROG ": no user %s (`" CLI_PROG " user list` shows them)\n", name);
        return EXIT_ERROR;
    }
    if (ask_password(&rq, file, name) != 0)
        return EXIT_ERROR;
    int ret = cli_run(ctx, &rq, false, NULL);
    adm_request_clear(&rq);
    return ret;
}

static int user_list(const cli_ctx *ctx, int argc, char **argv)
{
    bool json = false;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--json") != 0) {
            fprintf(stderr, CLI_PROG ": unexpected \"%s\"; usage: user list [--json]\n", argv[i]);
            return EXIT_USAGE;
        }
        json = true;
    }
    adm_request rq = {.cmd = ADM_USER_LIST};
    return cli_run(ctx, &rq, json, NULL);
}

/* user disable|enable|delete|show NAME [--json] */
static int user_one(const cli_ctx *ctx, int argc, char **argv)
{
    static const struct {
        const char *name;
        adm_cmd cmd;
    } ops[] = {{"disable", ADM_USER_DISABLE},
               {"enable", ADM_USER_ENABLE},
               {"delete", ADM_USER_DELETE},
               {"show", ADM_USER_SHOW}};
    bool json = argc == 4 && strcmp(argv[3], "--json") == 0;
    if ((argc != 3 && !json) || argv[2][0] == '-') {
        fprintf(stderr, CLI_PROG ": usage: user %s NAME [--json]\n", argv[1]);
        return EXIT_USAGE;
    }
    adm_request rq = {0};
    size_t i = 0;
    while (strcmp(ops[i].name, argv[1]) != 0)
        i++;
    if (!named(&rq, ops[i].cmd, argv[2]))
        return EXIT_USAGE;
    return cli_run(ctx, &rq, json, ops[i].cmd == ADM_USER_SHOW ? NULL : argv[2]);
}

/* user grant|revoke NAME broadcast */
static int user_right(const cli_ctx *ctx, int argc, char **argv)
{
    if (argc != 4 || argv[2][0] == '-' || strcmp(argv[3], "broadcast") != 0) {
        fprintf(stderr,
                CLI_PROG ": usage: user %s NAME broadcast (the one right there is so far)\n",
                argv[1]);
        return EXIT_USAGE;
    }
    adm_request rq = {.has = ADM_BIT(ADM_A_RIGHT)};
    snprintf(rq.right, sizeof rq.right, "broadcast");
    if (!named(&rq, strcmp(argv[1], "grant") == 0 ? ADM_USER_GRANT : ADM_USER_REVOKE, argv[2]))
        return EXIT_USAGE;
    return cli_run(ctx, &rq, false, argv[2]);
}

/* user set NAME FIELD VALUE */
static int user_set(const cli_ctx *ctx, int argc, char **argv)
{
    if (argc != 5 || argv[2][0] == '-') {
        fprintf(stderr, CLI_PROG ": usage: user set NAME FIELD VALUE\n");
        return EXIT_USAGE;
    }
    adm_request rq = {.has = ADM_BIT(ADM_A_FIELD) | ADM_BIT(ADM_A_VALUE)};
    if (!named(&rq, ADM_USER_SET, argv[2]))
        return EXIT_USAGE;
    if (strlen(argv[3]) > ADM_MAX_WORD || strlen(argv[4]) > ADM_MAX_VALUE) {
        fprintf(stderr, CLI_PROG ": the field or the value is too long\n");
        return EXIT_USAGE;
    }
    snprintf(rq.field, sizeof rq.field, "%s", argv[3]);
    snprintf(rq.value, sizeof rq.value, "%s", argv[4]);
    return cli_run(ctx, &rq, false, NULL);
}

int cmd_user(const cli_ctx *ctx, int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(const cli_ctx *, int, char **);
    } subs[] = {{"add", user_add},    {"passwd", user_add},  {"list", user_list},
                {"show", user_one},   {"disable", user_one}, {"enable", user_one},
                {"delete", user_one}, {"grant", user_right}, {"revoke", user_right},
                {"set", user_set}};
    for (size_t i = 0; argc >= 2 && i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].fn(ctx, argc, argv);
    fprintf(stderr, CLI_PROG ": usage: user add NAME [--admin] [--password-file F] | user list "
                             "[--json] | user show NAME [--json] | user disable|enable|delete "
                             "NAME | user passwd NAME [--password-file F] | user set NAME FIELD "
                             "VALUE | user grant|revoke NAME broadcast\n");
    return EXIT_USAGE;
}
