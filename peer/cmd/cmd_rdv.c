/* SPDX-License-Identifier: MIT */
/* cmd_rdv.c - `banter login`, `logout`, `profile set`, `search`, `rendezvous`. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "bcrypto.h"
#include "cli.h"
#include "rdv/rdv.h"

#define PW_CAP (RV_PASSWORD_MAX + 2) /* the password, its newline, the terminator */

static const char *str(const cJSON *o, const char *key) { return cli_str(o, key); }

/* For people: counts and times (exact below 2^53, as every integer the
 * node writes). */
static double num(const cJSON *o, const char *key) { return (double)cli_int(o, key); }

static bool flag(const cJSON *o, const char *key)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* ---- the password ---- */

/* The first line of path. EXIT_OK, or EXIT_USAGE after saying why. */
static int password_from_file(const char *path, char pw[static PW_CAP])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "banter login: cannot open %s: %s\n", path, strerror(errno));
        return EXIT_USAGE;
    }
    ssize_t n = read(fd, pw, PW_CAP - 1);
    close(fd);
    if (n < 0) {
        fprintf(stderr, "banter login: cannot read %s: %s\n", path, strerror(errno));
        return EXIT_USAGE;
    }
    pw[n] = '\0';
    pw[strcspn(pw, "\r\n")] = '\0';
    if (!pw[0] || strlen(pw) > RV_PASSWORD_MAX || (size_t)n > strlen(pw) + 2) {
        bcrypto_wipe(pw, PW_CAP);
        fprintf(stderr,
                "banter login: %s must hold the password (1 to %u bytes) on its first line\n", path,
                RV_PASSWORD_MAX);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

static volatile sig_atomic_t interrupted;
static void on_interrupt(int sig) { interrupted = sig; }

/* Read a line from the terminal without echo; Ctrl-C restores it. */
static int read_hidden(int fd, char pw[static PW_CAP])
{
    struct termios old, quiet;
    struct sigaction sa = {.sa_handler = on_interrupt}, oint, oterm;
    size_t n = 0;
    char ch;
    if (tcgetattr(fd, &old) != 0)
        return -1;
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    sigaction(SIGINT, &sa, &oint); /* no SA_RESTART: read returns */
    sigaction(SIGTERM, &sa, &oterm);
    tcsetattr(fd, TCSAFLUSH, &quiet);
    while (!interrupted && read(fd, &ch, 1) == 1 && ch != '\n' && ch != '\r')
        if (n < PW_CAP - 1)
            pw[n++] = ch;
    pw[n] = '\0';
    tcsetattr(fd, TCSAFLUSH, &old);
    sigaction(SIGINT, &oint, NULL);
    sigaction(SIGTERM, &oterm, NULL);
    (void)!write(fd, "\n", 1);
    return interrupted ? -2 : 0;
}

static int password_from_tty(const char *user, char pw[static PW_CAP])
{
    char prompt[128];
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    int r = -1;
    if (fd >= 0) {
        int len = snprintf(prompt, sizeof prompt, "Password for %s: ", user);
        if (write(fd, prompt, (size_t)len) == len)
            r = read_hidden(fd, pw);
        close(fd);
    }
    if (r == -2) {
        bcrypto_wipe(pw, PW_CAP);
        return EXIT_INTERRUPTED;
    }
    if (r != 0) {
        fprintf(stderr, "banter login: no terminal to ask for the password: use "
                        "--password-file F\n");
        return EXIT_USAGE;
    }
    if (!pw[0] || strlen(pw) > RV_PASSWORD_MAX) {
        bcrypto_wipe(pw, PW_CAP);
        fprintf(stderr, "banter login: the password must be 1 to %u bytes\n", RV_PASSWORD_MAX);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* ---- login, logout ---- */

int cmd_login(const cli_ctx *ctx, int argc, char **argv)
{
    const char *user = NULL, *file = NULL;
    char pw[PW_CAP];
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--password-file") == 0 && i + 1 < argc) {
            file = argv[++i];
        } else if (!user && argv[i][0] != '-') {
            user = argv[i];
        } else {
            cli_usage(stderr, cli_find("login"));
            return EXIT_USAGE;
        }
    }
    if (!user) {
        cli_usage(stderr, cli_find("login"));
        return EXIT_USAGE;
    }
    if (!cert_name_valid(user)) {
        fprintf(stderr,
                "banter login: \"%s\": a user name is 1 to 64 bytes of a-z, 0-9, '.', "
                "'_' and '-'\n",
                user);
        return EXIT_USAGE;
    }
    int rc = file ? password_from_file(file, pw) : password_from_tty(user, pw);
    if (rc != EXIT_OK)
        return rc;
    ctl_request q = {.kind = CTL_LOGIN};
    bool fits =
        cli_copy(q.u.login.user, sizeof q.u.login.user, user, "login", "the user name") &&
        cli_copy(q.u.login.password, sizeof q.u.login.password, pw, "login", "the password");
    bcrypto_wipe(pw, sizeof pw);
    /* cli_request wipes the line it writes; q's copy is wiped here. */
    cJSON *r = fits ? cli_call(ctx, &q, &rc) : NULL;
    bcrypto_wipe(q.u.login.password, sizeof q.u.login.password);
    if (!fits)
        return EXIT_USAGE;
    if (!r)
        return rc;
    printf("logged in to the rendezvous server as %s%s\n", str(r, "user"),
           flag(r, "admin") ? " (admin)" : "");
    cJSON_Delete(r);
    return EXIT_OK;
}

static cJSON *just(const cli_ctx *ctx, ctl_kind kind, int *rc)
{
    ctl_request q = {.kind = kind};
    return cli_call(ctx, &q, rc);
}

int cmd_logout(const cli_ctx *ctx, int argc, char **argv)
{
    int rc;
    (void)argv;
    if (argc != 1) {
        cli_usage(stderr, cli_find("logout"));
        return EXIT_USAGE;
    }
    cJSON *r = just(ctx, CTL_LOGOUT, &rc);
    if (!r)
        return rc;
    printf("logged out of the rendezvous server (%s); this device is no longer bound to it\n",
           str(r, "user"));
    cJSON_Delete(r);
    return EXIT_OK;
}

/* ---- profile ---- */

int cmd_profile(const cli_ctx *ctx, int argc, char **argv)
{
    rv_field f;
    char why[300];
    if (argc != 4 || strcmp(argv[1], "set") != 0) {
        cli_usage(stderr, cli_find("profile"));
        return EXIT_USAGE;
    }
    if (rv_field_parse(argv[2], &f) != 0 || f == RV_F_COUNT) {
        fprintf(stderr,
                "banter profile: unknown field \"%s\" (display_name, title, email, phone, "
                "location, about)\n",
                argv[2]);
        return EXIT_USAGE;
    }
    int bad = rdv_check_value(f, argv[3], why, sizeof why);
    if (bad) {
        fprintf(stderr, "banter profile: %s\n", why);
        return bad == BANTER_EPERM ? EXIT_ERROR : EXIT_USAGE; /* the department: not yours */
    }
    ctl_request q = {.kind = CTL_PROFILE_SET};
    q.u.profile.field = f;
    q.u.profile.value = cli_text(argv[3]);
    int rc;
    cJSON *r = cli_call(ctx, &q, &rc);
    if (!r)
        return rc;
    if (str(r, "value")[0])
        printf("%s set to \"%s\"\n", str(r, "field"), str(r, "value"));
    else
        printf("%s cleared\n", str(r, "field"));
    cJSON_Delete(r);
    return EXIT_OK;
}

/* ---- search ---- */

typedef struct search_args {
    struct ctl_search q; /* the criteria */
    bool json;
    double page; /* from 1 */
} search_args;

static int parse_search(int argc, char **argv, search_args *a)
{
    char why[400];
    struct rv_criterion c;
    a->page = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            a->json = true;
        } else if (strcmp(argv[i], "--page") == 0 && i + 1 < argc) {
            char *end;
            errno = 0;
            a->page = strtod(argv[++i], &end);
            if (errno || *end || !(a->page >= 1 && a->page <= 1000000) ||
                a->page != (double)(long)a->page) {
                fprintf(stderr, "banter search: --page takes 1 to 1000000\n");
                return EXIT_USAGE;
            }
        } else if (rdv_parse_criterion(argv[i], &c, why, sizeof why) != 0) {
            fprintf(stderr, "banter search: %s\n", why);
            return EXIT_USAGE;
        } else if (a->q.n == RV_SEARCH_MAX) {
            fprintf(stderr, "banter search: at most %u criteria\n", RV_SEARCH_MAX);
            return EXIT_USAGE;
        } else {
            a->q.c[a->q.n++] = c;
        }
    }
    if (a->q.n == 0) {
        cli_usage(stderr, cli_find("search"));
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

static void print_users(const cJSON *r, double page)
{
    const cJSON *users = cJSON_GetObjectItemCaseSensitive(r, "users"), *u;
    long long total = (long long)cli_int(r, "total"), per = (long long)cli_int(r, "per_page");
    int shown = cJSON_GetArraySize(users);
    if (shown == 0) {
        printf(total > 0 ? "no users on page %.0f (%lld match)\n" : "no users match\n", page,
               total);
        return;
    }
    printf("%-20s %-24s %-20s %s\n", "NAME", "DISPLAY NAME", "DEPARTMENT", "TITLE");
    cJSON_ArrayForEach (u, users)
        printf("%-20s %-24s %-20s %s\n", str(u, "user"), str(u, "display_name"),
               str(u, "department"), str(u, "title"));
    if (per > 0 && total > shown) {
        long long pages = (total + per - 1) / per;
        printf("page %.0f of %lld (%lld users match)%s\n", page, pages, total,
               page < (double)pages ? ": --page N for more" : "");
    }
}

int cmd_search(const cli_ctx *ctx, int argc, char **argv)
{
    search_args a = {0};
    /* Words without FIELD=VALUE or FIELD~PART: a search of history. */
    bool criteria = false, words = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--page") == 0) {
            i++;
            continue;
        }
        criteria |= argv[i][0] != '-' && strpbrk(argv[i], "=~") != NULL;
        words |= argv[i][0] != '-';
    }
    if (words && !criteria)
        return cmd_find(ctx, argc, argv);
    int rc = parse_search(argc, argv, &a);
    if (rc != EXIT_OK) {
        return rc;
    }
    ctl_request q = {.kind = CTL_SEARCH};
    q.u.search = a.q;
    q.u.search.page = (int64_t)a.page - 1;
    q.u.search.per_page = 20;
    cJSON *r = cli_call(ctx, &q, &rc);
    if (!r)
        return rc;
    if (a.json)
        cli_print_json(cJSON_GetObjectItemCaseSensitive(r, "users"));
    else
        print_users(r, a.page);
    cJSON_Delete(r);
    return EXIT_OK;
}

/* ---- status ---- */

static void print_status(const cJSON *r)
{
    char when[32];
    const char *user = str(r, "user"), *err = str(r, "error");
    printf("server:       %s (%s)\n", str(r, "server"),
           flag(r, "connected")  ? "connected, key verified"
           : flag(r, "verified") ? "key verified, starting"
                                 : "not connected");
    printf("server key:   %s\n", str(r, "server_key"));
    if (user[0])
        printf("user:         %s%s\n", user, flag(r, "admin") ? " (admin)" : "");
    else
        printf("user:         not logged in (banter login USER)\n");
    if (num(r, "cert_expires") > 0) {
        cli_time(cli_int(r, "cert_expires"), when, sizeof when);
        printf("certificate:  valid until %s\n", when);
    } else {
        printf("certificate:  none\n");
    }
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(r, "policy");
    if (cJSON_IsObject(p)) {
        char files[64], hist[64];
        double mb = num(p, "max_file_mb"), days = num(p, "history_days");
        if (mb > 0)
            snprintf(files, sizeof files, "files up to %.0f MB", mb);
        else
            snprintf(files, sizeof files, "files of any size");
        if (days > 0)
            snprintf(hist, sizeof hist, "history kept %.0f days", days);
        else
            snprintf(hist, sizeof hist, "history kept");
        printf("policy:       %.0f, signed by the server: %s, auto-accept %s, %s, LAN "
               "discovery %s\n",
               num(p, "serial"), files, flag(p, "auto_accept") ? "allowed" : "forbidden", hist,
               flag(p, "lan_discovery") ? "allowed" : "forbidden");
    }
    if (err[0])
        printf("problem:      %s\n", err);
}

int cmd_rendezvous(const cli_ctx *ctx, int argc, char **argv)
{
    bool json = argc == 2 && strcmp(argv[1], "--json") == 0;
    int rc;
    if (argc > 2 || (argc == 2 && !json)) {
        cli_usage(stderr, cli_find("rendezvous"));
        return EXIT_USAGE;
    }
    cJSON *r = just(ctx, CTL_RENDEZVOUS, &rc);
    if (!r)
        return rc;
    if (json) {
        cJSON_DeleteItemFromObjectCaseSensitive(r, "ok");
        cli_print_json(r);
    } else if (!flag(r, "configured")) {
        printf("no rendezvous configured: start the node with --rendezvous HOST:PORT "
               "--server-key FINGERPRINT\n");
    } else {
        print_status(r);
    }
    cJSON_Delete(r);
    return EXIT_OK;
}
