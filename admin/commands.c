/* SPDX-License-Identifier: MIT */
/*
 * commands.c - banter-admin's remote commands: one table (words,
 * arguments, options, help) from the command line to an ADM_REQUEST, and
 * the run: connect, ask, page through lists, print the text or the JSON
 * data (control characters escaped: show), map the answer to an exit
 * code.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "admin.h"
#include "bcrypto.h"
#include "client.h"
#include "utf8.h"

/* Options a command may take besides its arguments. */
enum {
    O_ADMIN = 1,   /* --admin */
    O_PWFILE = 2,  /* --password-file F (else asked on the terminal) */
    O_OLDER = 4,   /* --older-than DAYS */
    O_ROLE = 8,    /* --role admin|auditor */
    O_COUNT = 16,  /* -n N, --count N */
    O_USER = 32,   /* --user NAME */
    O_DEPT = 64,   /* --department D */
    O_REUSE = 128, /* --reuse-name */
};

#define REST (-1) /* the argument takes every word left (a fingerprint in groups) */

typedef struct command {
    const char *w1, *w2; /* "user", "disable" */
    adm_cmd cmd;
    int args[3]; /* adm_arg in order, ADM_A_COUNT_OF ends; REST joins the rest */
    unsigned opts;
    const char *usage; /* after the words */
    const char *help;
} command;

#define END ADM_A_COUNT_OF

static const command commands[] = {
    {"status",
     NULL,
     ADM_STATUS,
     {END},
     0,
     "",
     "Version, uptime, connections, accounts and devices online, stored copies, memory."},
    {"user", "list", ADM_USER_LIST, {END}, 0, "", "Every account, with its flags and devices."},
    {"user",
     "show",
     ADM_USER_SHOW,
     {ADM_A_NAME, END},
     0,
     "NAME",
     "One account: flags, devices, sessions online, profile."},
    {"user",
     "add",
     ADM_USER_ADD,
     {ADM_A_NAME, END},
     O_ADMIN | O_PWFILE | O_REUSE,
     "NAME [--admin] [--password-file F] [--reuse-name]",
     "A new account; the password is the first line of F, or asked twice on the terminal.\n"
     "--admin: an admin account (may send organisation broadcasts).\n"
     "--reuse-name: take the name of a deleted account (refused without it: colleagues'\n"
     "nodes keep that name's history and groups, which the new holder would continue)."},
    {"user",
     "disable",
     ADM_USER_DISABLE,
     {ADM_A_NAME, END},
     0,
     "NAME",
     "The account can no longer log in; its live sessions end at once."},
    {"user", "enable", ADM_USER_ENABLE, {ADM_A_NAME, END}, 0, "NAME", "Undo disable."},
    {"user",
     "delete",
     ADM_USER_DELETE,
     {ADM_A_NAME, END},
     0,
     "NAME",
     "Delete the account with its devices, profile, contacts and stored messages;\n"
     "its live sessions end at once."},
    {"user",
     "passwd",
     ADM_USER_PASSWD,
     {ADM_A_NAME, END},
     O_PWFILE,
     "NAME [--password-file F]",
     "A new password (its devices stay logged in)."},
    {"user",
     "set",
     ADM_USER_SET,
     {ADM_A_NAME, ADM_A_FIELD, ADM_A_VALUE},
     0,
     "NAME FIELD VALUE",
     "Set a profile field: display_name, department, title, email, phone, location,\n"
     "about (\"\" clears it)."},
    {"user",
     "grant",
     ADM_USER_GRANT,
     {ADM_A_NAME, ADM_A_RIGHT, END},
     0,
     "NAME broadcast",
     "Give the right to send organisation broadcasts."},
    {"user",
     "revoke",
     ADM_USER_REVOKE,
     {ADM_A_NAME, ADM_A_RIGHT, END},
     0,
     "NAME broadcast",
     "Take the right to send organisation broadcasts."},
    {"device",
     "list",
     ADM_DEVICE_LIST,
     {END},
     O_USER,
     "[--user NAME]",
     "Devices bound to accounts, with fingerprints, online or not, last seen."},
    {"device",
     "revoke",
     ADM_DEVICE_REVOKE,
     {REST, END},
     0,
     "FINGERPRINT",
     "Revoke a device (its fingerprint, or a prefix only it has): its session ends at\n"
     "once and it can never log in again. Its certificate expires by itself (see\n"
     "banter-admin(1), REVOCATION). A device of a deleted account is found too (the\n"
     "delete left a mark with its key): revoked, it stays refused for good."},
    {"session", "list", ADM_SESSION_LIST, {END}, 0, "", "Devices connected now."},
    {"session",
     "kick",
     ADM_SESSION_KICK,
     {ADM_A_NAME, END},
     0,
     "NAME",
     "End every live session of an account (its devices may log in again)."},
    {"mailbox",
     "stats",
     ADM_MAILBOX_STATS,
     {END},
     0,
     "",
     "Stored offline copies: how many, bytes, accounts, the oldest."},
    {"mailbox",
     "purge",
     ADM_MAILBOX_PURGE,
     {END},
     O_OLDER,
     "--older-than DAYS",
     "Delete stored copies older than DAYS days."},
    {"audit",
     "tail",
     ADM_AUDIT_TAIL,
     {END},
     O_COUNT,
     "[-n N]",
     "The last N entries of the audit log (default 20)."},
    {"audit",
     "verify",
     ADM_AUDIT_VERIFY,
     {END},
     0,
     "",
     "Check the whole audit log: chain and signatures. Exit 1 when tampered with."},
    {"backup",
     NULL,
     ADM_BACKUP,
     {ADM_A_FILE, END},
     0,
     "FILE",
     "A consistent copy of the server's database, written on the server beside the\n"
     "database as FILE (a plain name; never replaces a file)."},
    {"config", "show", ADM_CONFIG_SHOW, {END}, 0, "", "The server's settings."},
    {"log",
     "level",
     ADM_LOG_LEVEL,
     {ADM_A_LEVEL, END},
     0,
     "[info|debug]",
     "Show the server's log level, or set it: info (the default) or debug (also each\n"
     "connection accepted and closed). Until the server restarts."},
    {"admin", "list", ADM_ADMIN_LIST, {END}, 0, "", "Admin keys and their roles."},
    {"policy",
     "show",
     ADM_POLICY_SHOW,
     {END},
     0,
     "",
     "The organisation's policy, as the server signs it for every device."},
    {"policy",
     "set",
     ADM_POLICY_SET,
     {ADM_A_FIELD, ADM_A_VALUE, END},
     0,
     "RULE VALUE",
     "Change one rule: max_file_mb N (0: no limit), history_days N (0: keep),\n"
     "auto_accept yes|no, lan_discovery yes|no, public_fields LIST (the profile\n"
     "fields everyone sees, comma-separated). The server signs the new policy and\n"
     "sends it to every device online that takes it; public_fields applies to the\n"
     "directory at once."},
    {"admin",
     "add",
     ADM_ADMIN_ADD,
     {REST, END},
     O_ROLE,
     "FINGERPRINT --role admin|auditor",
     "Authorize an admin key: admin (everything) or auditor (read-only)."},
    {"plugin",
     "list",
     ADM_PLUGIN_LIST,
     {END},
     0,
     "",
     "The server's plug-ins: state (running, starting, backoff, failed, stopped,\n"
     "disabled), process, restarts and the last error."},
    {"plugin",
     "enable",
     ADM_PLUGIN_ENABLE,
     {ADM_A_NAME, END},
     0,
     "NAME",
     "Start a server plug-in now (and clear a failure). Until the server restarts:\n"
     "plugin.NAME.enabled in the server's --config file is the lasting choice."},
    {"plugin",
     "disable",
     ADM_PLUGIN_DISABLE,
     {ADM_A_NAME, END},
     0,
     "NAME",
     "Stop a server plug-in (fini runs; killed a second later). Until the server\n"
     "restarts."},
    {"plugin",
     "restart",
     ADM_PLUGIN_RESTART,
     {ADM_A_NAME, END},
     0,
     "NAME",
     "Stop a server plug-in and start it in a new process (a new .so is loaded)."},
    /* "announce report" before "announce": the first match wins */
    {"announce",
     "report",
     ADM_ANNOUNCE_REPORT,
     {ADM_A_ANN, END},
     0,
     "ID",
     "What became of announcement ID: how many devices it was addressed to, how many\n"
     "received it (the device confirmed), and how many people read it (a device of\n"
     "theirs showed it: the web page, `banter history` or `banter listen`)."},
    {"announce",
     NULL,
     ADM_ANNOUNCE,
     {ADM_A_TEXT, END},
     O_DEPT,
     "TEXT [--department D]",
     "Announce TEXT (one argument: quote it; newlines allowed, at most 4096 bytes) to\n"
     "every device of every enabled account, or of department D. Devices online get\n"
     "it at once, the others at their next login. Prints the announcement's id for\n"
     "`announce report ID`."},
    {"admin",
     "remove",
     ADM_ADMIN_REMOVE,
     {REST, END},
     0,
     "FINGERPRINT",
     "Remove an admin key (not the last admin)."},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

void admin_commands_usage(FILE *f)
{
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const command *c = &commands[i];
        char line[128];
        snprintf(line, sizeof line, "%s%s%s %s", c->w1, c->w2 ? " " : "", c->w2 ? c->w2 : "",
                 c->usage);
        fprintf(f, "  %s\n", line);
    }
}

static void command_help(const command *c)
{
    printf("usage: " ADMIN_PROG " [OPTIONS] %s%s%s %s [--json]\n\n%s\n", c->w1, c->w2 ? " " : "",
           c->w2 ? c->w2 : "", c->usage, c->help);
}

/* ---- the password ---- */

/* One line of fd into out (cap bytes) without its end of line. */
static int read_line(int fd, char *out, size_t cap)
{
    size_t n = 0;
    for (;;) {
        char ch;
        ssize_t r = read(fd, &ch, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0 || ch == '\n')
            break;
        if (n + 1 >= cap)
            return -1;
        out[n++] = ch;
    }
    if (n > 0 && out[n - 1] == '\r')
        n--;
    out[n] = '\0';
    return 0;
}

static int prompt(const char *text, char *out, size_t cap)
{
    struct termios t, saved;
    if (tcgetattr(STDIN_FILENO, &t) != 0)
        return -1;
    saved = t;
    t.c_lflag &= ~(tcflag_t)ECHO;
    t.c_lflag |= ECHONL;
    fputs(text, stderr);
    fflush(stderr);
    int r = tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) == 0 ? read_line(STDIN_FILENO, out, cap) : -1;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    return r;
}

static int get_password(const char *file, adm_request *rq)
{
    char again[ADM_MAX_VALUE + 1];
    int r;
    if (file) {
        int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        r = fd < 0 ? -1 : read_line(fd, rq->password, sizeof rq->password);
        if (fd >= 0)
            close(fd);
        if (r)
            fprintf(stderr, ADMIN_PROG ": cannot read the password from %s: %s\n", file,
                    fd < 0 ? strerror(errno) : "too long or unreadable");
    } else if (isatty(STDIN_FILENO)) {
        r = prompt("New password: ", rq->password, sizeof rq->password);
        if (r == 0)
            r = prompt("Again: ", again, sizeof again);
        if (r == 0 && strcmp(again, rq->password) != 0) {
            fprintf(stderr, ADMIN_PROG ": the two passwords differ; nothing was changed\n");
            r = -1;
        }
        bcrypto_wipe(again, sizeof again);
    } else {
        fprintf(stderr, ADMIN_PROG ": no password: give --password-file F, or run this on a "
                                   "terminal to be asked\n");
        return -1;
    }
    if (r == 0 && rq->password[0] == '\0') {
        fprintf(stderr, ADMIN_PROG ": the password is empty\n");
        r = -1;
    }
    rq->has |= ADM_BIT(ADM_A_PASSWORD);
    return r;
}

/* ---- the command line ---- */

static int set_arg(adm_request *rq, int a, const char *v)
{
    size_t cap = 0;
    char *dst = adm_request_text(rq, (adm_arg)a, &cap);
    if (dst) {
        if (strlen(v) > cap) {
            fprintf(stderr, ADMIN_PROG ": \"%.40s...\" is too long\n", v);
            return -1;
        }
        snprintf(dst, cap + 1, "%s", v);
    } else {
        char *end;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (errno || end == v || *end || n < 0) {
            fprintf(stderr, ADMIN_PROG ": \"%s\" is not a number\n", v);
            return -1;
        }
        int64_t *num = adm_request_int(rq, (adm_arg)a);
        if (num)
            *num = n;
    }
    rq->has |= ADM_BIT(a);
    return 0;
}

/* The words left from argv[*i] joined by spaces, as one fingerprint. */
static int take_rest(adm_request *rq, int argc, char **argv, int *i)
{
    size_t n = 0;
    while (*i < argc && argv[*i][0] != '-') {
        int w = snprintf(rq->fp + n, sizeof rq->fp - n, "%s%s", n ? " " : "", argv[(*i)++]);
        if (w < 0 || (size_t)w >= sizeof rq->fp - n)
            return -1;
        n += (size_t)w;
    }
    rq->has |= ADM_BIT(ADM_A_FP);
    return n ? 0 : -1;
}

/* An option of c at argv[*i] with its value. */
static int take_option(const command *c, adm_request *rq, int argc, char **argv, int *i,
                       const char **pwfile)
{
    static const struct {
        const char *name;
        unsigned opt;
        int arg;
    } opts[] = {{"--admin", O_ADMIN, ADM_A_ADMIN},     {"--password-file", O_PWFILE, -1},
                {"--older-than", O_OLDER, ADM_A_DAYS}, {"--role", O_ROLE, ADM_A_ROLE},
                {"-n", O_COUNT, ADM_A_COUNT},          {"--count", O_COUNT, ADM_A_COUNT},
                {"--user", O_USER, ADM_A_NAME},        {"--department", O_DEPT, ADM_A_DEPARTMENT},
                {"--reuse-name", O_REUSE, ADM_A_REUSE}};
    for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++) {
        if (strcmp(argv[*i], opts[k].name) != 0 || !(c->opts & opts[k].opt))
            continue;
        if (opts[k].opt == O_ADMIN || opts[k].opt == O_REUSE) {
            *adm_request_bool(rq, (adm_arg)opts[k].arg) = true;
            rq->has |= ADM_BIT(opts[k].arg);
            (*i)++;
            return 0;
        }
        if (*i + 1 >= argc) {
            fprintf(stderr, ADMIN_PROG ": %s needs a value\n", argv[*i]);
            return -1;
        }
        const char *v = argv[*i + 1];
        *i += 2;
        if (opts[k].arg < 0) {
            *pwfile = v;
            return 0;
        }
        return set_arg(rq, opts[k].arg, v);
    }
    fprintf(stderr, ADMIN_PROG ": unexpected \"%s\" (" ADMIN_PROG " %s%s%s --help)\n", argv[*i],
            c->w1, c->w2 ? " " : "", c->w2 ? c->w2 : "");
    return -1;
}

/* The request of c from argv (after its words). 0, 1 for --help, -1. */
static int parse(const command *c, admin_opts *o, int argc, char **argv, adm_request *rq,
                 const char **pwfile)
{
    int i = 0, next = 0;
    while (i < argc) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
        if (strcmp(argv[i], "--json") == 0) {
            o->json = true;
            i++;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            if (take_option(c, rq, argc, argv, &i, pwfile) != 0)
                return -1;
        } else if (next < 3 && c->args[next] == REST) {
            if (take_rest(rq, argc, argv, &i) != 0)
                return -1;
            next++;
        } else if (next < 3 && c->args[next] != END) {
            if (set_arg(rq, c->args[next++], argv[i++]) != 0)
                return -1;
        } else {
            fprintf(stderr, ADMIN_PROG ": unexpected \"%s\"\n", argv[i]);
            return -1;
        }
    }
    /* a missing argument the command does not need is optional */
    if (next < 3 && c->args[next] != END && c->args[next] != REST &&
        !(adm_cmd_get(c->cmd)->need & ADM_BIT(c->args[next])))
        next++;
    if (next < 3 && c->args[next] != END) {
        fprintf(stderr, ADMIN_PROG ": usage: %s%s%s %s\n", c->w1, c->w2 ? " " : "",
                c->w2 ? c->w2 : "", c->usage);
        return -1;
    }
    return 0;
}

/* ---- what the server says ---- */

/*
 * s[0..n) from the server, written to f with its control characters
 * escaped (utf8_escape): \xNN for people (newlines and tabs kept), \u00NN
 * inside the strings of --json's text. Everything the server sends passes
 * here, so what a profile, a plug-in's error, an audit entry or a
 * malicious server holds cannot drive the admin's terminal.
 */
static void show(FILE *f, const char *s, size_t n, utf8_esc how)
{
    utf8_fwrite_escaped(f, s, n, how);
}

/* "banter-admin: TEXT\n" with TEXT (from the server) shown. */
static void show_error(const char *text, const char *code)
{
    size_t n = strlen(text);
    if (n && text[n - 1] == '\n')
        n--;
    fputs(ADMIN_PROG ": ", stderr);
    show(stderr, text, n, UTF8_ESC_TERM);
    if (code) {
        fputs(" (", stderr);
        show(stderr, code, strlen(code), UTF8_ESC_TERM);
        fputc(')', stderr);
    }
    fputc('\n', stderr);
}

/* ---- the run ---- */

static int split_server(const char *s, char *host, size_t hcap, char *port, size_t pcap)
{
    const char *colon = s ? strrchr(s, ':') : NULL;
    if (!colon || colon == s || !colon[1])
        return -1;
    const char *h = s;
    size_t hl = (size_t)(colon - s);
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= hcap || strlen(colon + 1) >= pcap)
        return -1;
    snprintf(host, hcap, "%.*s", (int)hl, h);
    snprintf(port, pcap, "%s", colon + 1);
    return 0;
}

static int connect_server(const admin_opts *o, identity **id, aclient **cl)
{
    char host[256], port[16], pin[IDENTITY_FP_DIGITS + 1], why[512];
    if (split_server(o->server, host, sizeof host, port, sizeof port) != 0) {
        fprintf(stderr, ADMIN_PROG ": give the server as --server HOST:PORT (or "
                                   "$BANTER_ADMIN_SERVER)\n");
        return ADMIN_EXIT_USAGE;
    }
    if (!o->server_key || aclient_fp_digits(o->server_key, pin) != 0) {
        fprintf(stderr, ADMIN_PROG ": give the server's fingerprint as --server-key \"...\" "
                                   "(40 digits; `banter-rendezvous fingerprint` prints it)\n");
        return ADMIN_EXIT_USAGE;
    }
    int r = identity_load(id, o->key);
    if (r) {
        fprintf(stderr, ADMIN_PROG ": cannot read the admin key %s: %s%s\n", o->key,
                banter_strerror(r), r == BANTER_EIO ? " (`" ADMIN_PROG " keygen` makes one)" : "");
        return ADMIN_EXIT_ERROR;
    }
    aclient_config cc = {
        .host = host, .port = port, .id = *id, .pin = pin, .timeout_ms = o->timeout_s * 1000};
    r = aclient_open(cl, &cc, why, sizeof why);
    if (r) {
        show_error(why, NULL); /* may quote the server's BYE or ERROR */
        return r == BANTER_EKEYMISMATCH ? ADMIN_EXIT_PIN : ADMIN_EXIT_CONNECT;
    }
    return ADMIN_EXIT_OK;
}

/* Ask rq, and the following pages of a list; print. */
static int ask(aclient *cl, adm_request *rq, bool json)
{
    char why[512], *data = NULL;
    adm_result res;
    int ret = ADMIN_EXIT_OK;
    for (;;) {
        int r = aclient_request(cl, rq, &res, why, sizeof why);
        if (r) {
            show_error(why, NULL);
            ret = ADMIN_EXIT_CONNECT;
            break;
        }
        if (!res.ok) {
            show_error(res.text ? res.text : "", res.error);
            ret = strcmp(res.error, "EAUTH") == 0 || strcmp(res.error, "EPERM") == 0
                      ? ADMIN_EXIT_DENIED
                      : ADMIN_EXIT_ERROR;
            adm_result_clear(&res);
            break;
        }
        if (!json && res.text)
            show(stdout, res.text, strlen(res.text), UTF8_ESC_TERM);
        int64_t next = adm_data_next(res.data);
        if (json && res.data && !data) {
            data = res.data;
            res.data = NULL;
        } else if (json && res.data && adm_data_merge(&data, res.data) != 0) {
            ret = ADMIN_EXIT_ERROR;
        }
        adm_result_clear(&res);
        if (next <= rq->offset || ret != ADMIN_EXIT_OK)
            break;
        rq->offset = next;
        rq->has |= ADM_BIT(ADM_A_OFFSET);
        rq->id++;
    }
    if (json && ret == ADMIN_EXIT_OK) {
        show(stdout, data ? data : "{}", data ? strlen(data) : 2, UTF8_ESC_JSON);
        putchar('\n');
    }
    free(data);
    return ret;
}

int admin_command(admin_opts *o, int argc, char **argv)
{
    const command *c = NULL;
    int used = 0;
    for (size_t i = 0; i < NCOMMANDS && !c; i++) {
        if (strcmp(argv[0], commands[i].w1) != 0)
            continue;
        if (!commands[i].w2)
            c = &commands[i], used = 1;
        else if (argc > 1 && strcmp(argv[1], commands[i].w2) == 0)
            c = &commands[i], used = 2;
    }
    if (!c) {
        fprintf(stderr,
                ADMIN_PROG ": unknown command \"%s%s%s\" (" ADMIN_PROG " --help lists "
                           "them)\n",
                argv[0], argc > 1 ? " " : "", argc > 1 ? argv[1] : "");
        return ADMIN_EXIT_USAGE;
    }
    adm_request rq = {.id = 1, .cmd = c->cmd};
    const char *pwfile = NULL;
    identity *id = NULL;
    aclient *cl = NULL;
    int r = parse(c, o, argc - used, argv + used, &rq, &pwfile);
    if (r) {
        if (r > 0)
            command_help(c);
        return r > 0 ? ADMIN_EXIT_OK : ADMIN_EXIT_USAGE;
    }
    int ret = ADMIN_EXIT_ERROR;
    if (adm_cmd_get(c->cmd)->need & ADM_BIT(ADM_A_PASSWORD) && get_password(pwfile, &rq) != 0)
        goto out;
    /* What the server would refuse is refused here, before connecting. */
    buf b;
    buf_init(&b, BANTER_MAX_PLAINTEXT);
    r = adm_request_encode(&rq, &b);
    buf_free(&b);
    if (r) {
        fprintf(stderr,
                ADMIN_PROG ": bad argument (%s): a name is lowercase a-z 0-9 . _ -, a "
                           "fingerprint digits, a file a plain name; a text or a department "
                           "holds no control characters (C0, DEL, C1; a text may hold "
                           "newlines and tabs) (" ADMIN_PROG " %s%s%s --help)\n",
                banter_strerror(r), c->w1, c->w2 ? " " : "", c->w2 ? c->w2 : "");
        ret = ADMIN_EXIT_USAGE;
        goto out;
    }
    ret = connect_server(o, &id, &cl);
    if (ret == ADMIN_EXIT_OK)
        ret = ask(cl, &rq, o->json);
out:
    adm_request_clear(&rq);
    aclient_free(cl);
    identity_free(id);
    return ret;
}
