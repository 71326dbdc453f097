/* SPDX-License-Identifier: MIT */
/*
 * config.c - the server's "key = value" settings, read strictly so that
 * every mistake is reported with its line, its key and the bad value.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "utf8.h"

#define CONFIG_MAX_FILE (64u * 1024u)
/* Where the parser is, for messages. */
struct parse {
    const char *file; /* the file's base name, or NULL for an option */
    unsigned line;    /* 1-based; 0 outside a file's lines */
    char *why;
    size_t cap;
};

__attribute__((format(printf, 3, 4))) static int fail(const struct parse *p, int err,
                                                      const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (!p->why || p->cap == 0)
        return err;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (p->file && p->line)
        snprintf(p->why, p->cap, "%s line %u: %s", p->file, p->line, msg);
    else if (p->file)
        snprintf(p->why, p->cap, "%s: %s", p->file, msg);
    else
        snprintf(p->why, p->cap, "%s", msg);
    return err;
}

void config_defaults(config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->db, sizeof c->db, "%s", CONFIG_DEFAULT_DB);
    snprintf(c->listen, sizeof c->listen, "0.0.0.0:%d", CONFIG_DEFAULT_PORT);
}

/* A port: decimal digits only, 0..65535. */
static int parse_port(const char *s, uint16_t *out)
{
    unsigned long v = 0;
    if (*s == '\0' || strlen(s) > 5)
        return BANTER_EINVAL;
    for (const char *c = s; *c; c++) {
        if (*c < '0' || *c > '9')
            return BANTER_EINVAL;
        v = v * 10 + (unsigned long)(*c - '0');
    }
    if (v > 65535)
        return BANTER_EINVAL;
    *out = (uint16_t)v;
    return 0;
}

int config_parse_listen(const char *s, struct sockaddr_storage *out)
{
    char host[CONFIG_LISTEN_MAX];
    const char *port;
    uint16_t p;
    size_t n = strnlen(s, CONFIG_LISTEN_MAX);

    if (n == 0 || n >= CONFIG_LISTEN_MAX)
        return BANTER_EINVAL;
    memset(out, 0, sizeof *out);
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return BANTER_EINVAL;
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = '\0';
        port = close + 2;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)out;
        if (parse_port(port, &p) != 0 || inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
            return BANTER_EINVAL;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(p);
        return 0;
    }
    const char *colon = strrchr(s, ':');
    if (!colon)
        return BANTER_EINVAL;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    struct sockaddr_in *in = (struct sockaddr_in *)(void *)out;
    if (parse_port(colon + 1, &p) != 0 || inet_pton(AF_INET, host, &in->sin_addr) != 1)
        return BANTER_EINVAL;
    in->sin_family = AF_INET;
    in->sin_port = htons(p);
    return 0;
}

static int set_key(const struct parse *p, config *c, const char *key, const char *value)
{
    char q[UTF8_QUOTE_CAP];
    struct sockaddr_storage ss;

    utf8_quote(q, value, strlen(value));
    if (strcmp(key, "listen") == 0) {
        if (config_parse_listen(value, &ss) != 0)
            return fail(p, BANTER_EFORMAT,
                        "listen: %s is not ADDR:PORT with a numeric address "
                        "(e.g. 0.0.0.0:7071 or [::]:7071)",
                        q);
        snprintf(c->listen, sizeof c->listen, "%s", value);
        return 0;
    }
    if (strcmp(key, "db") == 0) {
        if (*value == '\0')
            return fail(p, BANTER_EFORMAT, "db: the path is empty");
        if (strlen(value) + sizeof CONFIG_KEY_SUFFIX > sizeof c->db)
            return fail(p, BANTER_EFORMAT, "db: %s is longer than %zu bytes", q,
                        sizeof c->db - sizeof CONFIG_KEY_SUFFIX);
        snprintf(c->db, sizeof c->db, "%s", value);
        return 0;
    }
    utf8_quote(q, key, strlen(key));
    return fail(p, BANTER_EFORMAT, "unknown key %s (known: listen, db)", q);
}

int config_set(config *c, const char *key, const char *value, char *why, size_t cap)
{
    struct parse p = {NULL, 0, why, cap};
    if (why && cap)
        why[0] = '\0';
    return set_key(&p, c, key, value);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
        s[--len] = '\0';
    return s;
}

/* Cut a comment: "#" at the start or after a space or tab, so that a path
 * may still hold a "#" ("/srv/#1"). */
static void cut_comment(char *line)
{
    for (char *c = line; *c; c++) {
        if (*c == '#' && (c == line || c[-1] == ' ' || c[-1] == '\t')) {
            *c = '\0';
            return;
        }
    }
}

/* One line, NUL-terminated and without its '\n'. */
static int parse_line(const struct parse *p, char *raw, config *c)
{
    char q[UTF8_QUOTE_CAP];

    cut_comment(raw);
    char *line = trim(raw);
    if (*line == '\0')
        return 0;
    char *eq = strchr(line, '=');
    if (!eq) {
        utf8_quote(q, line, strlen(line));
        return fail(p, BANTER_EFORMAT, "%s has no \"=\" (expected key = value)", q);
    }
    *eq = '\0';
    char *key = trim(line), *value = trim(eq + 1);
    if (*key == '\0')
        return fail(p, BANTER_EFORMAT, "no key before \"=\"");
    return set_key(p, c, key, value);
}

/* The whole file into *buf (NUL-terminated, *len bytes). */
static int read_all(const struct parse *p, const char *path, char **buf, size_t *len)
{
    struct stat st;
    size_t n = 0;
    int ret;

    *buf = NULL;
    /* O_NONBLOCK: a FIFO in its place must not hang the server. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        ret = fail(p, BANTER_EIO, "cannot open: %s", strerror(e));
        errno = e;
        return ret;
    }
    char *b = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ret = fail(p, BANTER_EFORMAT, "not a regular file");
        goto out;
    }
    ret = BANTER_ENOMEM;
    b = malloc(CONFIG_MAX_FILE + 2);
    if (!b)
        goto out;
    while (n <= CONFIG_MAX_FILE) {
        ssize_t r = read(fd, b + n, CONFIG_MAX_FILE + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            ret = fail(p, BANTER_EIO, "cannot read: %s", strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n > CONFIG_MAX_FILE) {
        ret = fail(p, BANTER_EFORMAT, "larger than %u KiB", CONFIG_MAX_FILE / 1024u);
        goto out;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    b = NULL;
    ret = 0;
out:
    free(b);
    close(fd);
    return ret;
}

int config_load(config *c, const char *path, char *why, size_t cap)
{
    const char *slash = strrchr(path, '/');
    struct parse p = {slash ? slash + 1 : path, 0, why, cap};
    char *buf = NULL;
    size_t len = 0;

    if (why && cap)
        why[0] = '\0';
    int ret = read_all(&p, path, &buf, &len);
    if (ret)
        return ret;
    /* Parsed into a copy: on an error c is unchanged. */
    config tmp = *c;
    char *line = buf, *end = buf + len;
    while (ret == 0 && line < end) {
        p.line++;
        char *nl = memchr(line, '\n', (size_t)(end - line));
        char *stop = nl ? nl : end;
        if (memchr(line, '\0', (size_t)(stop - line))) {
            ret = fail(&p, BANTER_EFORMAT, "a NUL byte");
            break;
        }
        *stop = '\0';
        ret = parse_line(&p, line, &tmp);
        line = stop + 1;
    }
    if (ret == 0)
        *c = tmp;
    free(buf);
    return ret;
}

int config_key_path(const config *c, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s%s", c->db, CONFIG_KEY_SUFFIX);
    return n < 0 || (size_t)n >= cap ? BANTER_ETOOLONG : 0;
}
