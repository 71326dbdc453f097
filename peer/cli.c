/* SPDX-License-Identifier: MIT */
/* cli.c - control socket client and helpers for the commands. */
#include "cli.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bcrypto.h"
#include "buf.h"
#include "jsonv.h"

#define LINE_MAX_BYTES (8u << 20)

struct cli_conn {
    int fd;
    char *buf;
    size_t len, cap;
};

void cli_usage(FILE *f, const cli_cmd *c)
{
    fprintf(f, "usage: banter [--home DIR] %s\n\n%s\n", c->usage, c->help);
}

bool cli_wants_help(const char *name, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            cli_usage(stdout, cli_find(name));
            return true;
        }
    }
    return false;
}

cli_conn *cli_connect(const cli_ctx *ctx)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memcpy(sa.sun_path, ctx->home->sock, sizeof sa.sun_path - 1);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0)
            close(fd);
        fprintf(stderr, "banter: no node is running in %s: start one with `banter node`\n",
                ctx->home->dir);
        return NULL;
    }
    cli_conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return NULL;
    }
    c->fd = fd;
    return c;
}

void cli_close(cli_conn *c)
{
    if (!c)
        return;
    close(c->fd);
    free(c->buf);
    free(c);
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

cJSON *cli_read(cli_conn *c)
{
    for (;;) {
        char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - c->buf);
            cJSON *o = NULL;
            /* Numbers kept as their digits: 2^53 stays 9007199254740992. */
            int r = jsonv_parse_max(c->buf, n, LINE_MAX_BYTES, &o);
            memmove(c->buf, nl + 1, c->len - n - 1);
            c->len -= n + 1;
            if (r)
                fprintf(stderr, "banter: the node sent a line that is not JSON (%s)\n",
                        banter_strerror(r));
            return o;
        }
        if (c->len == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 65536;
            char *b = cap <= LINE_MAX_BYTES ? realloc(c->buf, cap) : NULL;
            if (!b) {
                fprintf(stderr, "banter: reply too large\n");
                return NULL;
            }
            c->buf = b;
            c->cap = cap;
        }
        ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return NULL;
        c->len += (size_t)r;
    }
}

int cli_wait(cli_conn *c, int ms)
{
    if (c->len && memchr(c->buf, '\n', c->len))
        return 1;
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    int r = poll(&p, 1, ms);
    return r > 0 ? 1 : r == 0 || errno == EINTR ? 0 : -1;
}

/* The line of q into b; false after printing why ctlmsg refuses it. */
static bool encode(const ctl_request *q, buf *b)
{
    char why[CTL_WHY_CAP];
    int r = ctlmsg_encode_request(q, b, why, sizeof why);
    if (r == 0 && buf_append(b, "\n", 1) == 0)
        return true;
    fprintf(stderr, "banter %s: %s\n", ctl_kind_name(q->kind), r ? why : "request too long");
    return false;
}

cJSON *cli_request(cli_conn *c, const ctl_request *q)
{
    buf b;
    buf_init(&b, BANTER_CTL_MAX_LINE + 1);
    if (!encode(q, &b)) {
        buf_free(&b);
        return NULL;
    }
    /* Read even when the write failed: a node that refused us (EBUSY) has
     * said why before closing. */
    (void)write_all(c->fd, (const char *)buf_data(&b), buf_len(&b));
    bcrypto_wipe((void *)(uintptr_t)buf_data(&b), buf_len(&b)); /* it may hold a password */
    buf_free(&b);
    cJSON *reply = cli_read(c);
    if (!reply)
        fprintf(stderr, "banter: the node closed the control connection\n");
    return reply;
}

cJSON *cli_call(const cli_ctx *ctx, const ctl_request *q, int *rc)
{
    buf b;
    buf_init(&b, BANTER_CTL_MAX_LINE + 1);
    bool ok = encode(q, &b); /* refused before connecting: a usage error */
    bcrypto_wipe((void *)(uintptr_t)buf_data(&b), buf_len(&b));
    buf_free(&b);
    if (!ok) {
        *rc = EXIT_USAGE;
        return NULL;
    }
    cli_conn *c = cli_connect(ctx);
    if (!c) {
        *rc = EXIT_NO_NODE;
        return NULL;
    }
    cJSON *reply = cli_request(c, q);
    cli_close(c);
    *rc = reply ? cli_check(reply) : EXIT_ERROR;
    if (*rc != EXIT_OK) {
        cJSON_Delete(reply);
        return NULL;
    }
    return reply;
}

const char *cli_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

int64_t cli_int(const cJSON *o, const char *key)
{
    int64_t v = 0;
    if (jsonv_int_opt(o, key, JSONV_INT_MIN, JSONV_INT_MAX, 0, &v) != 0)
        return 0;
    return v;
}

bool cli_bool(const cJSON *o, const char *key)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

const cJSON *cli_obj(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

bool cli_copy(char *dst, size_t cap, const char *src, const char *cmd, const char *what)
{
    size_t n = strlen(src);
    if (n >= cap) {
        fprintf(stderr, "banter %s: %s is too long (at most %zu bytes)\n", cmd, what, cap - 1);
        return false;
    }
    memcpy(dst, src, n + 1);
    return true;
}

ctl_text cli_text(const char *s) { return (ctl_text){(char *)(uintptr_t)s, strlen(s)}; }

int cli_check(const cJSON *reply)
{
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "ok")))
        return EXIT_OK;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(reply, "error");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(reply, "message");
    fprintf(stderr, "banter: %s\n", cJSON_IsString(m) ? m->valuestring : "request failed");
    const char *name = cJSON_IsString(e) ? e->valuestring : "";
    if (strcmp(name, "ENOENT") == 0 || strcmp(name, "EAMBIGUOUS") == 0)
        return EXIT_NO_PEER;
    if (strcmp(name, "EKEYMISMATCH") == 0)
        return EXIT_REFUSED;
    if (strcmp(name, "EAUTH") == 0)
        return EXIT_AUTH;
    return EXIT_ERROR;
}

void cli_print_json(const cJSON *v)
{
    char *text = cJSON_PrintUnformatted(v);
    if (text) {
        puts(text);
        cJSON_free(text);
    }
}

void cli_time(int64_t ms, char *out, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!localtime_r(&t, &tm) || strftime(out, cap, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        snprintf(out, cap, "?");
}

void cli_size(double bytes, char *out, size_t cap)
{
    static const char *units[] = {"B", "kB", "MB", "GB", "TB"};
    size_t u = 0;
    while (bytes >= 999.95 && u + 1 < sizeof units / sizeof units[0]) {
        bytes /= 1000;
        u++;
    }
    if (u == 0)
        snprintf(out, cap, "%.0f B", bytes);
    else
        snprintf(out, cap, "%.1f %s", bytes, units[u]);
}
