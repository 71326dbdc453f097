/* SPDX-License-Identifier: MIT */
/* cmd_file.c - `banter send-file`, `transfers`, `accept`, `decline`, `cancel`. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define MAX_PATHS  256 /* per send-file, as the control socket allows */
#define XFER_PAGE  50  /* transfers asked for at a time */
#define XFER_IDHEX 32  /* hex digits of a transfer id */
#define BAR_WIDTH  24
#define REDRAW_MS  100 /* the progress bar, at most ten times a second */

static const char *str(const cJSON *o, const char *key) { return cli_str(o, key); }

/* For people: sizes and counts (exact below 2^53, as every integer the
 * node writes). */
static double num(const cJSON *o, const char *key) { return (double)cli_int(o, key); }

static const cJSON *obj(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static bool is(const char *a, const char *b) { return strcmp(a, b) == 0; }

static bool over(const char *state)
{
    return is(state, "done") || is(state, "failed") || is(state, "declined") ||
           is(state, "cancelled");
}

/* "3 files, 12.4 MB" */
static void summary(const cJSON *t, char *out, size_t cap)
{
    char size[32];
    long long files = (long long)cli_int(t, "files");
    cli_size(num(t, "size"), size, sizeof size);
    snprintf(out, cap, "%lld file%s, %s", files, files == 1 ? "" : "s", size);
}

/* "report.pdf (2.5 MB)", or "12 files (12.4 MB)" */
static void what(const cJSON *t, char *out, size_t cap)
{
    char size[32];
    long long files = (long long)cli_int(t, "files");
    cli_size(num(t, "size"), size, sizeof size);
    if (files == 1)
        snprintf(out, cap, "%s (%s)", str(t, "name"), size);
    else
        snprintf(out, cap, "%lld files (%s)", files, size);
}

static double percent(const cJSON *t)
{
    double size = num(t, "size"), done = num(t, "done");
    double p = size > 0 ? 100 * done / size : is(str(t, "state"), "done") ? 100 : 0;
    return p < 0 ? 0 : p > 100 ? 100 : p;
}

/* ---- send-file ---- */

typedef struct send_args {
    const char *peer;
    const char *paths[MAX_PATHS];
    size_t n;
    bool wait;
} send_args;

static int parse_send(int argc, char **argv, send_args *a)
{
    bool opts = true;
    for (int i = 1; i < argc; i++) {
        if (opts && is(argv[i], "--")) {
            opts = false;
        } else if (opts && is(argv[i], "--wait")) {
            a->wait = true;
        } else if (opts && argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr,
                    "banter send-file: unknown option %s (a file named so: put -- "
                    "before it)\n",
                    argv[i]);
            return EXIT_USAGE;
        } else if (!a->peer) {
            a->peer = argv[i];
        } else if (a->n == MAX_PATHS) {
            fprintf(stderr, "banter send-file: at most %d paths at once (send a folder)\n",
                    MAX_PATHS);
            return EXIT_USAGE;
        } else {
            a->paths[a->n++] = argv[i];
        }
    }
    if (!a->peer || a->n == 0) {
        cli_usage(stderr, cli_find("send-file"));
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* The send_file request, with every path made absolute (the caller frees
 * them with free_paths); false with *rc set when a path does not exist. */
static bool send_request(const send_args *a, bool follow, ctl_request *q, int *rc)
{
    *q = (ctl_request){.kind = CTL_SEND_FILE};
    q->u.send_file.paths = calloc(a->n, sizeof(ctl_text));
    if (!q->u.send_file.paths || !cli_copy(q->u.send_file.peer, sizeof q->u.send_file.peer, a->peer,
                                           "send-file", "the peer")) {
        *rc = EXIT_USAGE;
        return false;
    }
    for (size_t i = 0; i < a->n; i++) {
        char *real = realpath(a->paths[i], NULL);
        if (!real) {
            fprintf(stderr, "banter send-file: cannot send \"%s\": %s\n", a->paths[i],
                    strerror(errno));
            *rc = EXIT_USAGE;
            return false;
        }
        q->u.send_file.paths[q->u.send_file.npaths++] = (ctl_text){real, strlen(real)};
    }
    q->u.send_file.follow = follow;
    return true;
}

static void free_paths(ctl_request *q)
{
    for (size_t i = 0; i < q->u.send_file.npaths; i++)
        free(q->u.send_file.paths[i].s);
    free(q->u.send_file.paths);
}

typedef struct follow_state {
    bool tty;
    char id8[9];
    const char *peer;
    char state[16];
    int decile;      /* plain output: the last 10% step printed */
    double drawn_ms; /* terminal: when the bar was last drawn */
    bool bar;        /* terminal: the bar is on the current line */
    cJSON *pending;  /* terminal: the transfer as not drawn yet, or NULL */
} follow_state;

/* What Ctrl-C prints while following. A signal handler may only write(),
 * so the text is made beforehand; nothing else uses these. */
static char interrupt_text[128];
static size_t interrupt_len;

static void on_interrupt(int sig)
{
    (void)sig;
    ssize_t w = write(STDERR_FILENO, interrupt_text, interrupt_len);
    (void)w;
    _exit(EXIT_INTERRUPTED);
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000 + (double)ts.tv_nsec / 1e6;
}

static void eta_text(double left, double rate, char *out, size_t cap)
{
    if (!(rate > 0) || left < 0) {
        snprintf(out, cap, "--:--");
        return;
    }
    unsigned long s = (unsigned long)(left / rate + 0.5);
    if (s >= 3600)
        snprintf(out, cap, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(out, cap, "%lu:%02lu", s / 60, s % 60);
}

static void draw_bar(follow_state *f, const cJSON *t)
{
    char bar[BAR_WIDTH + 1], done[32], size[32], eta[32];
    double pct = percent(t), rate = num(t, "rate");
    int fill = (int)(pct * BAR_WIDTH / 100);
    for (int i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < fill ? '#' : '-';
    bar[BAR_WIDTH] = '\0';
    cli_size(num(t, "done"), done, sizeof done);
    cli_size(num(t, "size"), size, sizeof size);
    eta_text(num(t, "size") - num(t, "done"), rate, eta, sizeof eta);
    printf("\r\033[K[%s] %3.0f%%  %s / %s  %.1f MB/s  ETA %s%s", bar, pct, done, size, rate / 1e6,
           eta, is(str(t, "state"), "paused") ? "  (paused)" : "");
    fflush(stdout);
    f->bar = true;
    f->drawn_ms = mono_ms();
}

static void state_text(const follow_state *f, const cJSON *t, char *out, size_t cap)
{
    const char *s = str(t, "state"), *why = str(t, "error");
    const char *sep = *why && !is(why, s) ? ": " : "";
    char w[1200];
    what(t, w, sizeof w);
    if (is(s, "offered"))
        snprintf(out, cap, "waiting for %s to accept %s", f->peer, w);
    else if (is(s, "active"))
        snprintf(out, cap, "sending %s to %s", w, f->peer);
    else if (is(s, "paused"))
        snprintf(out, cap, "paused: %s is offline; it goes on when they are back", f->peer);
    else if (is(s, "done"))
        snprintf(out, cap, "done: %s verified %s", f->peer, w);
    else if (is(s, "declined")) /* with the reason given, if any */
        snprintf(out, cap, "%s declined %s%s%s", f->peer, w, sep, *sep ? why : "");
    else if (is(s, "cancelled"))
        snprintf(out, cap, "cancelled: %s%s%s", w, sep, *sep ? why : "");
    else
        snprintf(out, cap, "%s", s);
}

static void show_state(follow_state *f, const cJSON *t)
{
    char text[1400];
    if (is(str(t, "state"), "failed")) {
        if (f->bar)
            putchar('\n');
        fflush(stdout);
        fprintf(stderr, "banter: transfer %s failed: %s\n", f->id8, str(t, "error"));
        f->bar = false;
        return;
    }
    state_text(f, t, text, sizeof text);
    if (f->tty)
        printf("\r\033[K%s\n", text);
    else
        printf("transfer %s: %s\n", f->id8, text);
    f->bar = false;
    fflush(stdout);
}

static void show_progress(follow_state *f, const cJSON *t, bool changed)
{
    const char *s = str(t, "state");
    cJSON_Delete(f->pending);
    f->pending = NULL;
    if (!is(s, "active") && !is(s, "paused"))
        return;
    if (f->tty) {
        if (changed || mono_ms() - f->drawn_ms >= REDRAW_MS)
            draw_bar(f, t);
        else
            f->pending = cJSON_Duplicate(t, true); /* drawn if nothing newer comes */
        return;
    }
    int decile = (int)(percent(t) / 10);
    if (decile > f->decile) {
        char done[32], size[32];
        cli_size(num(t, "done"), done, sizeof done);
        cli_size(num(t, "size"), size, sizeof size);
        printf("transfer %s: %d%% (%s of %s, %.1f MB/s)\n", f->id8, decile * 10, done, size,
               num(t, "rate") / 1e6);
        fflush(stdout);
        f->decile = decile;
    }
}

/* The exit code once the transfer is over, else -1. */
static int on_transfer(follow_state *f, const cJSON *t)
{
    const char *s = str(t, "state");
    bool changed = !is(s, f->state);
    if (changed) {
        show_state(f, t);
        snprintf(f->state, sizeof f->state, "%s", s);
    }
    show_progress(f, t, changed);
    if (!over(s))
        return -1;
    return is(s, "done")        ? EXIT_OK
           : is(s, "declined")  ? EXIT_DECLINED
           : is(s, "cancelled") ? EXIT_CANCELLED
                                : EXIT_ERROR;
}

/* After the reply, the connection carries this transfer's events only. */
static int follow(cli_conn *c, const cJSON *reply, const char *peer_arg)
{
    follow_state f = {.tty = isatty(STDOUT_FILENO)};
    const cJSON *t = obj(reply, "transfer");
    const char *name = str(obj(t, "peer"), "name");
    f.peer = *name ? name : peer_arg;
    snprintf(f.id8, sizeof f.id8, "%.8s", str(reply, "id"));
    int n = snprintf(interrupt_text, sizeof interrupt_text,
                     "%sstill transferring in the node; `banter cancel %s` stops it\n",
                     f.tty ? "\n" : "", f.id8);
    interrupt_len = n > 0 ? (size_t)n : 0;
    struct sigaction sa = {.sa_handler = on_interrupt}, old;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);
    if (is(str(reply, "state"), "queued"))
        printf("%s is offline: the offer goes out when they are back\n", f.peer);
    int rc = t ? on_transfer(&f, t) : -1;
    while (rc < 0) {
        if (f.pending && cli_wait(c, REDRAW_MS) == 0) {
            draw_bar(&f, f.pending);
            cJSON_Delete(f.pending);
            f.pending = NULL;
            continue;
        }
        cJSON *ev = cli_read(c);
        if (!ev) {
            fprintf(stderr,
                    "%sbanter: the node closed the control connection (banter transfers "
                    "shows where %s is)\n",
                    f.bar ? "\n" : "", f.id8);
            rc = EXIT_ERROR;
            break;
        }
        if (cJSON_IsObject(obj(ev, "transfer")))
            rc = on_transfer(&f, obj(ev, "transfer"));
        cJSON_Delete(ev);
    }
    sigaction(SIGINT, &old, NULL);
    cJSON_Delete(f.pending);
    return rc;
}

/* `send-file %GROUP PATH...`: one offer to each other member of the group
 * (each accepts or declines on their own), not followed. Exit 0 when
 * every offer was made, 3 when some wait for their member to be back. */
static int send_to_group(const cli_ctx *ctx, send_args *a)
{
    const cJSON *m;
    int rc, queued = 0, failed = 0, offered = 0;
    ctl_request gq = {.kind = CTL_GROUP_MEMBERS};
    if (!cli_copy(gq.u.group.group, sizeof gq.u.group.group, a->peer + 1, "send-file", "GROUP"))
        return EXIT_USAGE;
    cJSON *g = cli_call(ctx, &gq, &rc);
    if (!g)
        return rc;
    cJSON_ArrayForEach (m, obj(obj(g, "group"), "members")) {
        const char *id = str(m, "id");
        if (cJSON_IsTrue(obj(m, "me")))
            continue;
        send_args one = *a;
        one.peer = id[0] == '@' ? id : str(m, "fingerprint");
        ctl_request q;
        bool made = send_request(&one, false, &q, &rc);
        cJSON *r = made ? cli_call(ctx, &q, &rc) : NULL;
        free_paths(&q);
        if (!made)
            break;
        if (!r) {
            failed++;
            continue;
        }
        bool wait = is(str(r, "state"), "queued");
        printf("%s %.8s %s %s\n", wait ? "queued" : "offered", str(r, "id"), wait ? "for" : "to",
               one.peer);
        queued += wait;
        offered += !wait;
        cJSON_Delete(r);
    }
    cJSON_Delete(g);
    if (rc == EXIT_USAGE)
        return rc;
    printf("offered to %d members, %d when they are back%s\n", offered, queued,
           failed ? " (some offers failed: see above)" : "");
    return failed ? EXIT_ERROR : queued ? EXIT_QUEUED : EXIT_OK;
}

int cmd_send_file(const cli_ctx *ctx, int argc, char **argv)
{
    send_args a = {0};
    int rc = parse_send(argc, argv, &a);
    if (rc)
        return rc;
    if (a.peer[0] == '%' && a.peer[1])
        return send_to_group(ctx, &a);
    bool follow_it = a.wait || isatty(STDOUT_FILENO);
    ctl_request q;
    if (!send_request(&a, follow_it, &q, &rc)) {
        free_paths(&q);
        return rc;
    }
    cli_conn *c = cli_connect(ctx);
    if (!c) {
        free_paths(&q);
        return EXIT_NO_NODE;
    }
    cJSON *r = cli_request(c, &q);
    free_paths(&q);
    rc = r ? cli_check(r) : EXIT_ERROR;
    if (rc == EXIT_OK && follow_it) {
        rc = follow(c, r, a.peer);
    } else if (rc == EXIT_OK) {
        const cJSON *t = obj(r, "transfer");
        const char *name = str(obj(t, "peer"), "name");
        bool queued = is(str(r, "state"), "queued");
        char sum[64];
        summary(t, sum, sizeof sum);
        printf("%s %.8s %s %s: %s%s (banter transfers shows progress)\n",
               queued ? "queued" : "offered", str(r, "id"), queued ? "for" : "to",
               *name ? name : a.peer, sum, queued ? "; offered when they are back online" : "");
        rc = queued ? EXIT_QUEUED : EXIT_OK;
    }
    cJSON_Delete(r);
    cli_close(c);
    return rc;
}

/* ---- transfers, accept, decline, cancel ---- */

static void print_row(const cJSON *t)
{
    char done[32], size[32], prog[80];
    cli_size(num(t, "done"), done, sizeof done);
    cli_size(num(t, "size"), size, sizeof size);
    snprintf(prog, sizeof prog, "%s/%s %.0f%%", done, size, percent(t));
    printf("%-8.8s  %-16s %-3s %-9s %-24s %-30s %s\n", str(t, "id"), str(obj(t, "peer"), "name"),
           str(t, "direction"), str(t, "state"), prog, str(t, "name"), str(t, "error"));
}

/* One page of `transfers` (before: "" for the newest); prints its rows
 * (the header first when head) and sets last to the last row's id.
 * Returns the rows printed, or -1 with *rc set. */
static int transfers_page(const cli_ctx *ctx, const char *before, int limit, cJSON *json, bool head,
                          char *last, size_t cap, int *rc)
{
    ctl_request q = {.kind = CTL_TRANSFERS};
    q.u.transfers.limit = limit;
    if (!cli_copy(q.u.transfers.before, sizeof q.u.transfers.before, before, "transfers",
                  "--before")) {
        *rc = EXIT_USAGE;
        return -1;
    }
    cJSON *r = cli_call(ctx, &q, rc);
    if (!r)
        return -1;
    const cJSON *list = obj(r, "transfers"), *t;
    int k = cJSON_GetArraySize(list);
    if (json) {
        cJSON_ArrayForEach (t, list)
            cJSON_AddItemToArray(json, cJSON_Duplicate(t, true));
    } else {
        if (head && k)
            printf("%-8s  %-16s %-3s %-9s %-24s %-30s %s\n", "ID", "PEER", "DIR", "STATE",
                   "PROGRESS", "NAME", "ERROR");
        cJSON_ArrayForEach (t, list)
            print_row(t);
    }
    if (k)
        snprintf(last, cap, "%s", str(cJSON_GetArrayItem(list, k - 1), "id"));
    cJSON_Delete(r);
    return k;
}

/* `transfers [--json] [--all | --before ID]`: the newest 50, every one
 * (page after page), or the 50 before a transfer's id. */
int cmd_transfers(const cli_ctx *ctx, int argc, char **argv)
{
    bool json = false, all = false;
    char before[XFER_IDHEX + 1] = "";
    for (int i = 1; i < argc; i++) {
        if (is(argv[i], "--json")) {
            json = true;
        } else if (is(argv[i], "--all")) {
            all = true;
        } else if (is(argv[i], "--before") && i + 1 < argc && strlen(argv[i + 1]) == XFER_IDHEX) {
            snprintf(before, sizeof before, "%s", argv[++i]);
        } else {
            cli_usage(stderr, cli_find("transfers"));
            return EXIT_USAGE;
        }
    }
    if (all && before[0]) {
        cli_usage(stderr, cli_find("transfers"));
        return EXIT_USAGE;
    }
    int rc = EXIT_OK, k, total = 0;
    char last[XFER_IDHEX + 1] = "";
    cJSON *list = json ? cJSON_CreateArray() : NULL; /* --json: one array of every page */
    do {
        k = transfers_page(ctx, before, XFER_PAGE, list, total == 0, last, sizeof last, &rc);
        if (k < 0) {
            cJSON_Delete(list);
            return rc;
        }
        total += k;
        snprintf(before, sizeof before, "%s", last);
    } while (all && k == XFER_PAGE);
    if (json) {
        cli_print_json(list);
        cJSON_Delete(list);
    } else if (total == 0)
        printf("no transfers yet: `banter send-file PEER PATH` offers files\n");
    else if (!all && k == XFER_PAGE)
        printf("(the newest %d; older: banter transfers --before %s, or --all)\n", total, last);
    return EXIT_OK;
}

/* path made absolute without requiring it to exist (accept creates it). */
static bool absolute(const char *path, char *out, size_t cap)
{
    char *real = realpath(path, NULL);
    char cwd[PATH_MAX];
    int n;
    if (real) {
        n = snprintf(out, cap, "%s", real);
        free(real);
    } else if (path[0] == '/') {
        n = snprintf(out, cap, "%s", path);
    } else if (getcwd(cwd, sizeof cwd)) {
        n = snprintf(out, cap, "%s/%s", cwd, path);
    } else {
        return false;
    }
    return n > 0 && (size_t)n < cap;
}

static int xfer_op(const cli_ctx *ctx, const char *cmd, const char *id, const char *to)
{
    ctl_request q = {0};
    if (ctl_kind_parse(cmd, &q.kind) != 0 ||
        !cli_copy(q.u.xfer.id, sizeof q.u.xfer.id, id, cmd, "the transfer id"))
        return EXIT_USAGE;
    if (to)
        q.u.xfer.to = cli_text(to);
    int rc;
    cJSON *r = cli_call(ctx, &q, &rc);
    if (!r)
        return rc;
    const cJSON *t = obj(r, "transfer");
    const char *peer = str(obj(t, "peer"), "name");
    char w[1200];
    what(t, w, sizeof w);
    if (is(cmd, "accept"))
        printf("accepted %.8s: %s from %s, into %s\n", str(t, "id"), w, peer, str(t, "dest"));
    else if (is(cmd, "decline"))
        printf("declined %.8s: %s from %s\n", str(t, "id"), w, peer);
    else
        printf("cancelled %.8s: %s %s %s\n", str(t, "id"), w,
               is(str(t, "direction"), "in") ? "from" : "to", peer);
    cJSON_Delete(r);
    return EXIT_OK;
}

int cmd_accept(const cli_ctx *ctx, int argc, char **argv)
{
    const char *id = NULL, *to = NULL;
    char dir[PATH_MAX];
    for (int i = 1; i < argc; i++) {
        if (is(argv[i], "--to") && i + 1 < argc && !to) {
            to = argv[++i];
        } else if (!id && argv[i][0] != '-') {
            id = argv[i];
        } else {
            cli_usage(stderr, cli_find("accept"));
            return EXIT_USAGE;
        }
    }
    if (!id) {
        cli_usage(stderr, cli_find("accept"));
        return EXIT_USAGE;
    }
    if (to && (!*to || !absolute(to, dir, sizeof dir))) {
        fprintf(stderr, "banter accept: bad folder \"%s\"\n", to);
        return EXIT_USAGE;
    }
    return xfer_op(ctx, "accept", id, to ? dir : NULL);
}

int cmd_decline(const cli_ctx *ctx, int argc, char **argv)
{
    if (argc != 2) {
        cli_usage(stderr, cli_find("decline"));
        return EXIT_USAGE;
    }
    return xfer_op(ctx, "decline", argv[1], NULL);
}

int cmd_cancel(const cli_ctx *ctx, int argc, char **argv)
{
    if (argc != 2) {
        cli_usage(stderr, cli_find("cancel"));
        return EXIT_USAGE;
    }
    return xfer_op(ctx, "cancel", argv[1], NULL);
}
