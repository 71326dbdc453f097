/* SPDX-License-Identifier: MIT */
/*
 * fpath.c - file names from a peer: the checks, the walk below a folder that
 * never follows a symbolic link, free names ("a (1).txt") and the names of
 * partial files.
 */
#include "fpath.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "utf8.h"

#define PARTIAL_SUFFIX     ".banter-partial"
#define PARTIAL_SUFFIX_LEN (sizeof PARTIAL_SUFFIX - 1)
#define UNIQUE_MAX         9999u
/* A name quoted in a message shows at most this many bytes, then "...". */
/* Room for a quoted name: each byte may become "\xNN", plus quotes, "..." and NUL. */

/* Length of the valid UTF-8 sequence that starts at s (n bytes left), 0 if none. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    size_t len = 0;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4;
    if (len == 0 || len > n || !utf8_valid((const char *)s, len))
        return 0;
    return len;
}

/* Cut a trailing UTF-8 sequence that snprintf truncated in the middle. */
static void trim_partial_utf8(char *s)
{
    size_t len = strlen(s), back = 0;
    while (back < len && back < 4 && ((unsigned char)s[len - 1 - back] & 0xc0) == 0x80)
        back++;
    if (back == len)
        return;
    size_t lead = len - 1 - back;
    if (utf8_seq((const unsigned char *)s + lead, len - lead) == 0)
        s[lead] = '\0';
}

/* Write "unsafe file name "PATH": REASON" to why and return BANTER_EINVAL. */
__attribute__((format(printf, 4, 5))) static int refuse(char *why, size_t cap, const char *path,
                                                        const char *fmt, ...)
{
    char q[UTF8_QUOTE_CAP], reason[UTF8_QUOTE_CAP + 128];
    va_list ap;

    if (!why || cap == 0)
        return BANTER_EINVAL;
    utf8_quote(q, path, strnlen(path, FPATH_MAX + 1));
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    snprintf(why, cap, "unsafe file name %s: %s", q, reason);
    trim_partial_utf8(why);
    return BANTER_EINVAL;
}

/* One component c[0..n). A partial name (".x.banter-partial") is accepted
 * when allow_partial: that is how fpath_open_beneath() opens the temporary
 * file of fpath_partial(). */
static int check_component(const char *path, const char *c, size_t n, bool allow_partial, char *why,
                           size_t cap)
{
    char q[UTF8_QUOTE_CAP];

    if (n == 0)
        return refuse(why, cap, path,
                      "an empty component (\"//\" or a final \"/\") is not allowed");
    if (n == 1 && c[0] == '.')
        return refuse(why, cap, path, "\".\" is not allowed");
    if (n == 2 && c[0] == '.' && c[1] == '.')
        return refuse(why, cap, path, "\"..\" is not allowed");
    utf8_quote(q, c, n);
    if (n > FPATH_MAX_COMPONENT)
        return refuse(why, cap, path, "component %s is longer than %d bytes", q,
                      FPATH_MAX_COMPONENT);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)c[i];
        if (ch < 0x20 || ch == 0x7f)
            return refuse(why, cap, path, "component %s has a control character", q);
        if (ch == '\\')
            return refuse(why, cap, path, "component %s has a backslash", q);
    }
    if (n >= PARTIAL_SUFFIX_LEN &&
        memcmp(c + n - PARTIAL_SUFFIX_LEN, PARTIAL_SUFFIX, PARTIAL_SUFFIX_LEN) == 0 &&
        !(allow_partial && c[0] == '.' && n > PARTIAL_SUFFIX_LEN + 1))
        return refuse(why, cap, path, "component %s ends in \"%s\"", q, PARTIAL_SUFFIX);
    return 0;
}

static int check(const char *path, bool allow_partial, char *why, size_t cap)
{
    if (!path) {
        if (why && cap)
            snprintf(why, cap, "no file name");
        return BANTER_EINVAL;
    }
    size_t len = strnlen(path, FPATH_MAX + 1);
    if (len == 0)
        return refuse(why, cap, path, "it is empty");
    if (len > FPATH_MAX)
        return refuse(why, cap, path, "it is longer than %d bytes", FPATH_MAX);
    if (!utf8_valid(path, len))
        return refuse(why, cap, path, "it is not valid UTF-8");
    if (path[0] == '/')
        return refuse(why, cap, path, "an absolute path is not allowed");

    int depth = 0;
    for (const char *c = path;;) {
        const char *slash = strchr(c, '/');
        size_t n = slash ? (size_t)(slash - c) : strlen(c);
        if (++depth > FPATH_MAX_DEPTH)
            return refuse(why, cap, path, "it is deeper than %d levels", FPATH_MAX_DEPTH);
        int r = check_component(path, c, n, allow_partial && !slash, why, cap);
        if (r)
            return r;
        if (!slash)
            return 0;
        c = slash + 1;
    }
}

int fpath_check(const char *path, char *why, size_t cap)
{
    if (why && cap)
        why[0] = '\0';
    return check(path, false, why, cap);
}

/* The BANTER_E* code for errno e. */
static int err_code(int e)
{
    switch (e) {
    case ELOOP:
        return BANTER_EPERM;
    case ENOSPC:
#ifdef EDQUOT
    case EDQUOT:
#endif
        return BANTER_ENOSPC;
    case ENOENT:
        return BANTER_ENOENT;
    default:
        return BANTER_EIO;
    }
}

/* After openat(at, name) failed: ENOTDIR (O_NOFOLLOW|O_DIRECTORY) or
 * EEXIST (O_CREAT|O_EXCL) on a symbolic link counts as a link (ELOOP), so a
 * link always gives BANTER_EPERM. Sets errno, returns the code. */
static int open_error(int at, const char *name)
{
    int e = errno;
    struct stat st;
    if ((e == ENOTDIR || e == EEXIST) && fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISLNK(st.st_mode))
        e = ELOOP;
    errno = e;
    return err_code(e);
}

static void close_keep_errno(int fd)
{
    int e = errno;
    close(fd);
    errno = e;
}

/* Open the directory name below at, without following a link; make it
 * (0700) first when it is missing and create is true. */
static int open_dir(int at, const char *name, bool create)
{
    const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    int fd = openat(at, name, flags);
    if (fd < 0 && errno == ENOENT && create) {
        /* EEXIST: made by someone else meanwhile; the open below checks it. */
        if (mkdirat(at, name, 0700) != 0 && errno != EEXIST)
            return err_code(errno);
        fd = openat(at, name, flags);
    }
    return fd >= 0 ? fd : open_error(at, name);
}

/*
 * Walk buf (a checked relative path, cut in place) down to the directory
 * holding its final component. Returns that directory's fd (dirfd itself
 * when there is no '/') with *name set to the final component, or a
 * negative code. Every other directory opened on the way is closed.
 */
static int walk(int dirfd, char *buf, bool create, char **name)
{
    int at = dirfd;
    char *c = buf, *slash;
    while ((slash = strchr(c, '/')) != NULL) {
        *slash = '\0';
        int fd = open_dir(at, c, create);
        if (at != dirfd)
            close_keep_errno(at);
        if (fd < 0)
            return fd;
        at = fd;
        c = slash + 1;
    }
    *name = c;
    return at;
}

/* The folder of path's last name, beneath dirfd (walk: dirfd itself for a
 * bare name), after path is checked; *name points into buf. */
static int parent_of(int dirfd, const char *path, bool create_dirs, char buf[static FPATH_MAX + 1],
                     char **name)
{
    if (check(path, true, NULL, 0) != 0)
        return BANTER_EINVAL;
    memcpy(buf, path, strlen(path) + 1);
    return walk(dirfd, buf, create_dirs, name);
}

int fpath_open_beneath(int dirfd, const char *path, int flags, bool create_dirs)
{
    char buf[FPATH_MAX + 1], *name;
    int at = parent_of(dirfd, path, create_dirs, buf, &name);
    if (at < 0)
        return at;
    int fd = openat(at, name, flags | O_NOFOLLOW | O_CLOEXEC, 0600);
    int ret = fd >= 0 ? fd : open_error(at, name);
    if (at != dirfd)
        close_keep_errno(at);
    return ret;
}

int fpath_unlink_beneath(int dirfd, const char *path)
{
    char buf[FPATH_MAX + 1], *name;
    int at = parent_of(dirfd, path, false, buf, &name);
    if (at < 0)
        return at;
    int ret = unlinkat(at, name, 0) == 0 ? 0 : err_code(errno);
    if (at != dirfd)
        close_keep_errno(at);
    return ret;
}

int fpath_stat_beneath(int dirfd, const char *path, struct stat *st)
{
    char buf[FPATH_MAX + 1], *name;
    int at = parent_of(dirfd, path, false, buf, &name);
    if (at < 0)
        return at;
    int ret = fstatat(at, name, st, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : err_code(errno);
    if (at != dirfd)
        close_keep_errno(at);
    return ret;
}

/* 1 when something (of any type, a link too) has the name path below
 * dirfd, 0 when a directory on the way or the name itself is missing. */
static int taken(int dirfd, const char *path)
{
    char buf[FPATH_MAX + 1], *name;
    struct stat st;
    memcpy(buf, path, strlen(path) + 1);

    int at = walk(dirfd, buf, false, &name);
    if (at == BANTER_ENOENT)
        return 0;
    if (at < 0)
        return at;
    int ret = 1;
    if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        ret = errno == ENOENT ? 0 : err_code(errno);
    if (at != dirfd)
        close_keep_errno(at);
    return ret;
}

/* [*start, *end) of the component to number, and where its extension
 * starts (*dot == *end when it has none; a leading dot is not one). */
static void renamed_part(const char *path, bool first, size_t *start, size_t *end, size_t *dot)
{
    size_t len = strlen(path);
    if (first) {
        const char *slash = strchr(path, '/');
        *start = 0;
        *end = slash ? (size_t)(slash - path) : len;
    } else {
        const char *slash = strrchr(path, '/');
        *start = slash ? (size_t)(slash - path) + 1 : 0;
        *end = len;
    }
    *dot = *end;
    for (size_t i = *end; i > *start + 1; i--) {
        if (path[i - 1] == '.') {
            *dot = i - 1;
            break;
        }
    }
}

int fpath_unique(int dirfd, const char *path, bool first_component, char *out, size_t cap)
{
    char cand[FPATH_MAX + 1], probe[FPATH_MAX + 1];
    size_t start, end, dot;

    if (!out || cap == 0 || check(path, false, NULL, 0) != 0)
        return BANTER_EINVAL;
    renamed_part(path, first_component, &start, &end, &dot);
    for (unsigned n = 0; n <= UNIQUE_MAX; n++) {
        int len;
        if (n == 0)
            len = snprintf(cand, sizeof cand, "%s", path);
        else
            len = snprintf(cand, sizeof cand, "%.*s (%u)%s", (int)dot, path, n, path + dot);
        if (len < 0 || (size_t)len >= sizeof cand || check(cand, false, NULL, 0) != 0)
            return BANTER_ETOOLONG;
        /* In first_component mode only the first component has to be free. */
        size_t plen = (size_t)len;
        if (first_component)
            plen = end + (size_t)len - strlen(path);
        memcpy(probe, cand, plen);
        probe[plen] = '\0';
        int r = taken(dirfd, probe);
        if (r < 0)
            return r;
        if (r == 0) {
            if ((size_t)len >= cap)
                return BANTER_ETOOLONG;
            memcpy(out, cand, (size_t)len + 1);
            return 0;
        }
    }
    errno = EEXIST;
    return BANTER_EIO;
}

int fpath_partial(const char *path, char *out, size_t cap)
{
    if (!path || !out || cap == 0)
        return BANTER_EINVAL;
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path) + 1 : 0;
    size_t nlen = strlen(path + dlen);
    size_t total = dlen + 1 + nlen + PARTIAL_SUFFIX_LEN;
    if (nlen == 0)
        return BANTER_EINVAL;
    if (1 + nlen + PARTIAL_SUFFIX_LEN > FPATH_MAX_COMPONENT || total > FPATH_MAX || total >= cap)
        return BANTER_ETOOLONG;
    memcpy(out, path, dlen);
    out[dlen] = '.';
    memcpy(out + dlen + 1, path + dlen, nlen);
    memcpy(out + dlen + 1 + nlen, PARTIAL_SUFFIX, PARTIAL_SUFFIX_LEN + 1);
    return 0;
}
