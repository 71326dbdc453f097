/* SPDX-License-Identifier: MIT */
/*
 * config.c - banter.conf: the defaults, then "key = value" lines read
 * strictly, so that every mistake is reported with its line and key.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "utf8.h"

#define CONFIG_MAX_FILE (64u * 1024u)
#define MIB             ((uint64_t)1 << 20)
#define DEFAULT_MAX_MB  100u
#define MAX_MB          (UINT64_MAX / MIB) /* so that N MiB fits in the bytes */
/* A value quoted in a message shows at most this many bytes, then "...". */

/* Where the parser is, for messages. */
struct parse {
    const char *file; /* the file's base name */
    unsigned line;    /* 1-based; 0 before the first line */
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
    if (p->line)
        snprintf(p->why, p->cap, "%s line %u: %s", p->file, p->line, msg);
    else
        snprintf(p->why, p->cap, "%s: %s", p->file, msg);
    return err;
}

/* Defaults: download_dir is $XDG_DOWNLOAD_DIR, else $HOME/Downloads, else
 * "." (no HOME: the current directory, the only place left). */
static int set_defaults(config *c)
{
    const char *xdg = getenv("XDG_DOWNLOAD_DIR");
    const char *home = getenv("HOME");
    int n;

    memset(c, 0, sizeof *c);
    c->auto_accept_verified = false;
    c->auto_accept_max_bytes = DEFAULT_MAX_MB * MIB;
    if (xdg && *xdg) {
        n = snprintf(c->download_dir, sizeof c->download_dir, "%s", xdg);
    } else if (home && *home) {
        size_t len = strlen(home);
        while (len > 1 && home[len - 1] == '/')
            len--;
        if (len == 1 && home[0] == '/')
            len = 0; /* HOME=/ gives /Downloads */
        n = snprintf(c->download_dir, sizeof c->download_dir, "%.*s/Downloads",
                     (int)(len < 4096 ? len : 4096), home);
    } else {
        n = snprintf(c->download_dir, sizeof c->download_dir, ".");
    }
    return n < 0 || (size_t)n >= sizeof c->download_dir ? BANTER_ETOOLONG : 0;
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

static int parse_bool(const struct parse *p, const char *key, const char *v, bool *out)
{
    static const char *const yes[] = {"yes", "true", "1"};
    static const char *const no[] = {"no", "false", "0"};
    char q[UTF8_QUOTE_CAP];

    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    utf8_quote(q, v, strlen(v));
    return fail(p, BANTER_EFORMAT, "%s: %s is not yes or no (or true/false, 1/0)", key, q);
}

/* A decimal number of MiB from 0 to MAX_MB: digits only, no sign or space. */
static int parse_mib(const struct parse *p, const char *key, const char *v, uint64_t *bytes)
{
    char q[UTF8_QUOTE_CAP], *end = NULL;
    bool digits = *v != '\0';

    for (const char *c = v; *c; c++)
        digits = digits && *c >= '0' && *c <= '9';
    if (digits) {
        errno = 0;
        unsigned long long n = strtoull(v, &end, 10);
        if (errno == 0 && end && *end == '\0' && n <= MAX_MB) {
            *bytes = (uint64_t)n * MIB;
            return 0;
        }
    }
    utf8_quote(q, v, strlen(v));
    return fail(p, BANTER_EFORMAT, "%s: %s is not a whole number from 0 to %llu", key, q,
                (unsigned long long)MAX_MB);
}

/* An absolute path, or one starting "~/" (or just "~") under $HOME. */
static int parse_dir(const struct parse *p, const char *key, const char *v, config *c)
{
    char q[UTF8_QUOTE_CAP];
    const char *home = getenv("HOME");
    int n;

    utf8_quote(q, v, strlen(v));
    if (v[0] == '~' && (v[1] == '/' || v[1] == '\0')) {
        if (!home || home[0] != '/')
            return fail(p, BANTER_EFORMAT, "%s: %s needs $HOME, which is not an absolute path", key,
                        q);
        n = snprintf(c->download_dir, sizeof c->download_dir, "%s%s", home, v + 1);
    } else if (v[0] == '/') {
        n = snprintf(c->download_dir, sizeof c->download_dir, "%s", v);
    } else {
        return fail(p, BANTER_EFORMAT, "%s: %s is not an absolute path (start it with / or ~/)",
                    key, q);
    }
    if (n < 0 || (size_t)n >= sizeof c->download_dir)
        return fail(p, BANTER_EFORMAT, "%s: %s is longer than %zu bytes", key, q,
                    sizeof c->download_dir - 1);
    return 0;
}

/* Cut a comment: "#" at the start or after a space or tab, so that a path
 * may still hold a "#" ("/data/#1"). */
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
    if (strcmp(key, "download_dir") == 0)
        return parse_dir(p, key, value, c);
    if (strcmp(key, "auto_accept_verified") == 0)
        return parse_bool(p, key, value, &c->auto_accept_verified);
    if (strcmp(key, "auto_accept_max_mb") == 0)
        return parse_mib(p, key, value, &c->auto_accept_max_bytes);
    utf8_quote(q, key, strlen(key));
    return fail(p, BANTER_EFORMAT, "unknown key %s", q);
}

/* The whole file into *buf (NUL-terminated, *len bytes). 1 when there is
 * no file, else 0 or a negative code. */
static int read_file(const struct parse *p, const char *path, char **buf, size_t *len)
{
    struct stat st;
    size_t n = 0;
    int ret = BANTER_EIO;

    *buf = NULL;
    /* O_NONBLOCK: a FIFO in its place must not hang the node. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 && errno == ENOENT)
        return 1;
    if (fd < 0) {
        int e = errno;
        ret = fail(p, BANTER_EIO, "cannot open: %s", strerror(e));
        errno = e;
        return ret;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ret = fail(p, BANTER_EFORMAT, "not a regular file");
        goto out;
    }
    char *b = malloc(CONFIG_MAX_FILE + 2);
    if (!b) {
        ret = BANTER_ENOMEM;
        goto out;
    }
    while (n <= CONFIG_MAX_FILE) {
        ssize_t r = read(fd, b + n, CONFIG_MAX_FILE + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            ret = fail(p, BANTER_EIO, "cannot read: %s", strerror(e));
            free(b);
            close(fd);
            errno = e;
            return ret;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n > CONFIG_MAX_FILE) {
        ret = fail(p, BANTER_EFORMAT, "larger than %u KiB", CONFIG_MAX_FILE / 1024u);
        free(b);
        goto out;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    ret = 0;
out:
    close(fd);
    return ret;
}

static int parse_all(struct parse *p, char *buf, size_t len, config *c)
{
    char *line = buf, *end = buf + len;
    while (line < end) {
        p->line++;
        char *nl = memchr(line, '\n', (size_t)(end - line));
        char *stop = nl ? nl : end;
        if (memchr(line, '\0', (size_t)(stop - line)))
            return fail(p, BANTER_EFORMAT, "a NUL byte");
        *stop = '\0';
        int r = parse_line(p, line, c);
        if (r)
            return r;
        line = stop + 1;
    }
    return 0;
}

int config_load(config *c, const char *path, char *why, size_t cap)
{
    const char *slash = strrchr(path, '/');
    struct parse p = {slash ? slash + 1 : path, 0, why, cap};
    char *buf = NULL;
    size_t len = 0;

    if (why && cap)
        why[0] = '\0';
    int ret = set_defaults(c);
    if (ret)
        return fail(&p, ret,
                    "the default download_dir (from $XDG_DOWNLOAD_DIR or $HOME) is "
                    "too long");
    ret = read_file(&p, path, &buf, &len);
    if (ret == 1)
        return 0;
    if (ret)
        return ret;
    /* Parsed into a copy: on an error c keeps the defaults. */
    config tmp = *c;
    ret = parse_all(&p, buf, len, &tmp);
    if (ret == 0)
        *c = tmp;
    free(buf);
    return ret;
}
