/* SPDX-License-Identifier: MIT */
/* kvconf.c - "key = value" configuration files (see kvconf.h). */
#include "kvconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "utf8.h"

int kvconf_fail(const kvconf *k, int err, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    if (!k->why || k->cap == 0)
        return err;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (k->file && k->line)
        snprintf(k->why, k->cap, "%s line %u: %s", k->file, k->line, msg);
    else if (k->file)
        snprintf(k->why, k->cap, "%s: %s", k->file, msg);
    else
        snprintf(k->why, k->cap, "%s", msg);
    return err;
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

static void cut_comment(char *line)
{
    for (char *c = line; *c; c++) {
        if (*c == '#' && (c == line || c[-1] == ' ' || c[-1] == '\t')) {
            *c = '\0';
            return;
        }
    }
}

/* The whole file into *buf (NUL-terminated, *len bytes). */
static int read_all(const kvconf *k, const char *path, char **buf, size_t *len)
{
    struct stat st;
    size_t n = 0;
    int ret;
    char *b = NULL;

    *buf = NULL;
    /* O_NONBLOCK: a FIFO in its place must not hang the program. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        ret = kvconf_fail(k, e == ENOENT ? BANTER_ENOENT : BANTER_EIO, "cannot open: %s",
                          strerror(e));
        errno = e;
        return ret;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ret = kvconf_fail(k, BANTER_EFORMAT, "not a regular file");
        goto out;
    }
    ret = BANTER_ENOMEM;
    b = malloc(KVCONF_MAX_FILE + 2);
    if (!b)
        goto out;
    while (n <= KVCONF_MAX_FILE) {
        ssize_t r = read(fd, b + n, KVCONF_MAX_FILE + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            ret = kvconf_fail(k, BANTER_EIO, "cannot read: %s", strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n > KVCONF_MAX_FILE) {
        ret = kvconf_fail(k, BANTER_EFORMAT, "larger than %u KiB", KVCONF_MAX_FILE / 1024u);
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

/* One line, NUL-terminated and without its '\n'. */
static int parse_line(const kvconf *k, char *raw, kvconf_set_fn set, void *ud)
{
    char q[UTF8_QUOTE_CAP];
    cut_comment(raw);
    char *line = trim(raw);
    if (*line == '\0')
        return 0;
    char *eq = strchr(line, '=');
    if (!eq) {
        utf8_quote(q, line, strlen(line));
        return kvconf_fail(k, BANTER_EFORMAT, "%s has no \"=\" (expected key = value)", q);
    }
    *eq = '\0';
    char *key = trim(line), *value = trim(eq + 1);
    if (*key == '\0')
        return kvconf_fail(k, BANTER_EFORMAT, "no key before \"=\"");
    return set(ud, k, key, value);
}

int kvconf_load(const char *path, kvconf_set_fn set, void *ud, char *why, size_t cap)
{
    const char *slash = strrchr(path, '/');
    kvconf k = {slash ? slash + 1 : path, 0, why, cap};
    char *buf = NULL;
    size_t len = 0;

    if (why && cap)
        why[0] = '\0';
    int ret = read_all(&k, path, &buf, &len);
    if (ret)
        return ret;
    char *line = buf, *end = buf + len;
    while (ret == 0 && line < end) {
        k.line++;
        char *nl = memchr(line, '\n', (size_t)(end - line));
        char *stop = nl ? nl : end;
        if (memchr(line, '\0', (size_t)(stop - line))) {
            ret = kvconf_fail(&k, BANTER_EFORMAT, "a NUL byte");
            break;
        }
        *stop = '\0';
        ret = parse_line(&k, line, set, ud);
        line = stop + 1;
    }
    free(buf);
    return ret;
}
