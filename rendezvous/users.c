/* SPDX-License-Identifier: MIT */
/*
 * users.c - `user add|list|disable|enable|grant|revoke`: local account
 * management on the server's database (the remote admin tool comes later).
 * Changes that matter to live sessions are told to a running server over
 * its control socket (ctl.h).
 *
 * Passwords come from the first line of a file (--password-file) or are
 * asked twice on the terminal with echo off. They are hashed with Argon2id
 * (bcrypto_pwhash_str), wiped from memory after use, and never printed.
 */
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "bcrypto.h"
#include "cli.h"
#include "ctl.h"
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

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

static int user_add(const cli_ctx *ctx, int argc, char **argv)
{
    const char *name = NULL, *file = NULL;
    bool admin = false;
    char pw[PASSWORD_MAX + 2], hash[BCRYPTO_PWHASH_STRLEN];
    size_t len = 0;

    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--admin") == 0) {
            admin = true;
        } else if (strcmp(argv[i], "--password-file") == 0 && i + 1 < argc) {
            file = argv[++i];
        } else if (strncmp(argv[i], "--password-file=", 16) == 0) {
            file = argv[i] + 16;
        } else if (argv[i][0] == '-' || name) {
            fprintf(stderr,
                    CLI_PROG ": unexpected \"%s\"; usage: user add NAME [--admin] "
                             "[--password-file F]\n",
                    argv[i]);
            return EXIT_USAGE;
        } else {
            name = argv[i];
        }
    }
    if (!name) {
        fprintf(stderr, CLI_PROG ": usage: user add NAME [--admin] [--password-file F]\n");
        return EXIT_USAGE;
    }
    if (!name_ok(name))
        return EXIT_USAGE;
    db *d = cli_open_db(ctx);
    if (!d)
        return EXIT_ERROR;
    int ret = EXIT_ERROR;
    db_user u;
    int r = db_user_get(d, name, &u, NULL);
    if (r == 0) {
        fprintf(stderr, CLI_PROG ": user %s already exists\n", name);
        goto out;
    }
    if (r == BANTER_ENOENT) {
        if (get_password(file, name, pw, &len) != 0)
            goto out; /* the reason is printed */
        r = bcrypto_pwhash_str(hash, pw, len);
        if (r == 0)
            r = db_user_add(d, name, hash, admin, now_ms());
    }
    if (r == 0) {
        printf("added %s %s\n", admin ? "admin" : "user", name);
        ret = EXIT_OK;
    } else if (r == 1) {
        fprintf(stderr, CLI_PROG ": user %s already exists\n", name);
    } else {
        fprintf(stderr, CLI_PROG ": cannot add user %s: %s\n", name,
                r == BANTER_EDB ? db_errmsg(d) : banter_strerror(r));
    }
out:
    bcrypto_wipe(pw, sizeof pw);
    bcrypto_wipe(hash, sizeof hash);
    db_close(d);
    return ret;
}

static void print_created(int64_t ms, char *out, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!localtime_r(&t, &tm) || strftime(out, cap, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        snprintf(out, cap, "?");
}

static int list_json(const db_user *u, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o) || !cJSON_AddStringToObject(o, "name", u[i].name) ||
            !cJSON_AddBoolToObject(o, "admin", u[i].admin) ||
            !cJSON_AddBoolToObject(o, "disabled", u[i].disabled) ||
            !cJSON_AddBoolToObject(o, "broadcast", u[i].broadcast) ||
            !cJSON_AddNumberToObject(o, "devices", (double)u[i].devices) ||
            !cJSON_AddNumberToObject(o, "created", (double)u[i].created_ms)) {
            cJSON_Delete(arr);
            arr = NULL;
        }
    }
    char *text = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    if (!text) {
        fprintf(stderr, CLI_PROG ": out of memory\n");
        return EXIT_ERROR;
    }
    puts(text);
    cJSON_free(text);
    return EXIT_OK;
}

static int list_table(const db_user *u, size_t n)
{
    int w = 4; /* "NAME" */
    char when[32];
    for (size_t i = 0; i < n; i++) {
        int len = (int)strlen(u[i].name);
        w = len > w ? len : w;
    }
    printf("%-*s  %-5s  %-8s  %-9s  %7s  %s\n", w, "NAME", "ADMIN", "DISABLED", "BROADCAST",
           "DEVICES", "CREATED");
    for (size_t i = 0; i < n; i++) {
        print_created(u[i].created_ms, when, sizeof when);
        printf("%-*s  %-5s  %-8s  %-9s  %7lld  %s\n", w, u[i].name, u[i].admin ? "yes" : "no",
               u[i].disabled ? "yes" : "no", u[i].broadcast ? "yes" : "no", (long long)u[i].devices,
               when);
    }
    return EXIT_OK;
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
    db *d = cli_open_db(ctx);
    if (!d)
        return EXIT_ERROR;
    db_user *u = NULL;
    size_t n = 0;
    int ret = EXIT_ERROR;
    int r = db_user_list(d, &u, &n);
    if (r)
        fprintf(stderr, CLI_PROG ": cannot list users: %s\n",
                r == BANTER_EDB ? db_errmsg(d) : banter_strerror(r));
    else if (json)
        ret = list_json(u, n);
    else if (n == 0)
        ret = fprintf(stderr, "no users yet: add one with `" CLI_PROG " user add NAME`\n") < 0
                  ? EXIT_ERROR
                  : EXIT_OK;
    else
        ret = list_table(u, n);
    free(u);
    db_close(d);
    if (ret == EXIT_OK && fflush(stdout) != 0)
        ret = EXIT_ERROR;
    return ret;
}

/* Tell a running server that name changed; print what it did. */
static void notify(const cli_ctx *ctx, const char *name, bool ended_means_disabled)
{
    char why[512];
    int sessions = 0;
    int r = ctl_notify(ctx->cfg->db, name, &sessions, why, sizeof why);
    if (r == 0 && ended_means_disabled)
        printf("the running server ended %d live session%s of %s\n", sessions,
               sessions == 1 ? "" : "s", name);
    else if (r == 0)
        printf("the running server applied the change\n");
    else if (r == BANTER_ENOENT)
        printf("(no server is running on %s: the change applies when it starts)\n", ctx->cfg->db);
    else
        fprintf(stderr,
                CLI_PROG ": the change is stored, but the running server was not told (%s): "
                         "it applies to sessions that start from now on\n",
                why);
}

/* One line "...%s..." with the account's name in place of %s. */
static void print_with_name(const char *text, const char *name)
{
    const char *at = strstr(text, "%s");
    printf("%.*s%s%s\n", (int)(at - text), text, name, at + 2);
}

/* What `user disable|enable|grant|revoke` do to an account. */
enum flag_op { F_DISABLE, F_ENABLE, F_GRANT, F_REVOKE };

static int set_flag(db *d, const char *name, enum flag_op op)
{
    switch (op) {
    case F_DISABLE:
        return db_user_disable(d, name);
    case F_ENABLE:
        return db_user_enable(d, name);
    case F_GRANT:
        return db_user_set_broadcast(d, name, true);
    default:
        return db_user_set_broadcast(d, name, false);
    }
}

static int user_flag_cmd(const cli_ctx *ctx, const char *name, enum flag_op op)
{
    static const char *const done[] = {"disabled user %s: it can no longer log in",
                                       "enabled user %s: it can log in again",
                                       "user %s may now send organisation broadcasts",
                                       "user %s may no longer send organisation broadcasts"};
    static const char *const already[] = {
        "user %s was already disabled", "user %s was not disabled",
        "user %s already had the broadcast right", "user %s did not have the broadcast right"};
    if (!name_ok(name))
        return EXIT_USAGE;
    db *d = cli_open_db(ctx);
    if (!d)
        return EXIT_ERROR;
    int r = set_flag(d, name, op);
    if (r == 0 || r == 1)
        print_with_name(r == 0 ? done[op] : already[op], name);
    else if (r == BANTER_ENOENT)
        fprintf(stderr, CLI_PROG ": no user %s (`" CLI_PROG " user list` shows them)\n", name);
    else
        fprintf(stderr, CLI_PROG ": cannot change user %s: %s\n", name,
                r == BANTER_EDB ? db_errmsg(d) : banter_strerror(r));
    db_close(d);
    /* Also when nothing changed: a server may have missed an earlier one. */
    if (r == 0 || r == 1)
        notify(ctx, name, op == F_DISABLE);
    return r >= 0 ? EXIT_OK : EXIT_ERROR;
}

static int user_disable(const cli_ctx *ctx, int argc, char **argv)
{
    if (argc != 3 || argv[2][0] == '-') {
        fprintf(stderr, CLI_PROG ": usage: user %s NAME\n", argv[1]);
        return EXIT_USAGE;
    }
    return user_flag_cmd(ctx, argv[2], strcmp(argv[1], "disable") == 0 ? F_DISABLE : F_ENABLE);
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
    return user_flag_cmd(ctx, argv[2], strcmp(argv[1], "grant") == 0 ? F_GRANT : F_REVOKE);
}

int cmd_user(const cli_ctx *ctx, int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(const cli_ctx *, int, char **);
    } subs[] = {{"add", user_add},        {"list", user_list},   {"disable", user_disable},
                {"enable", user_disable}, {"grant", user_right}, {"revoke", user_right}};
    for (size_t i = 0; argc >= 2 && i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].fn(ctx, argc, argv);
    fprintf(stderr, CLI_PROG ": usage: user add NAME [--admin] [--password-file F] | user list "
                             "[--json] | user disable|enable NAME | user grant|revoke NAME "
                             "broadcast\n");
    return EXIT_USAGE;
}
