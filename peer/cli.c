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
            cJSON *o = cJSON_ParseWithLength(c->buf, n);
            memmove(c->buf, nl + 1, c->len - n - 1);
            c->len -= n + 1;
            if (!o)
                fprintf(stderr, "banter: the node sent a line that is not JSON\n");
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

cJSON *cli_request(cli_conn *c, cJSON *o)
{
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text)
        return NULL;
    /* Read even when the write failed: a node that refused us (EBUSY) has
     * said why before closing. */
    (void)(write_all(c->fd, text, strlen(text)) && write_all(c->fd, "\n", 1));
    bcrypto_wipe(text, strlen(text)); /* it may hold a password (login) */
    cJSON_free(text);
    cJSON *reply = cli_read(c);
    if (!reply)
        fprintf(stderr, "banter: the node closed the control connection\n");
    return reply;
}

cJSON *cli_call(const cli_ctx *ctx, cJSON *req, int *rc)
{
    cli_conn *c = cli_connect(ctx);
    if (!c) {
        cJSON_Delete(req);
        *rc = EXIT_NO_NODE;
        return NULL;
    }
    cJSON *reply = cli_request(c, req);
    cli_close(c);
    *rc = reply ? cli_check(reply) : EXIT_ERROR;
    if (*rc != EXIT_OK) {
        cJSON_Delete(reply);
        return NULL;
    }
    return reply;
}

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

void cli_time(double ms, char *out, size_t cap)
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
