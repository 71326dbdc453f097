/* SPDX-License-Identifier: MIT */
/* instance.c - instance keys and certificates, and the `instance` command
 * (see instance.h). */
#include "instance.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "keys.h"

#define HOUR_MS (3600LL * 1000)
#define DAY_MS  (24 * HOUR_MS)

int64_t instance_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cert_path(const char *path, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s" INSTANCE_CERT_SUFFIX, path);
    return n < 0 || (size_t)n >= cap ? BANTER_ETOOLONG : 0;
}

static int read_cert(const char *path, uint8_t out[static ICERT_LEN_MAX], size_t *len)
{
    uint8_t b[ICERT_LEN_MAX + 1];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return BANTER_EIO;
    ssize_t n = read(fd, b, sizeof b);
    close(fd);
    if (n < 0)
        return BANTER_EIO;
    if ((size_t)n > ICERT_LEN_MAX)
        return BANTER_ETOOBIG;
    memcpy(out, b, (size_t)n);
    *len = (size_t)n;
    return 0;
}

static int write_cert(const char *path, const uint8_t *b, size_t n)
{
    char tmp[CONFIG_PATH_MAX + 16];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return BANTER_ETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return BANTER_EIO;
    bool ok = write(fd, b, n) == (ssize_t)n && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return BANTER_EIO;
    }
    return 0;
}

int instance_load(const char *path, const identity *org, int64_t now_ms, identity **id,
                  uint8_t out[static ICERT_LEN_MAX], size_t *len, int64_t *days_left, char *why,
                  size_t cap)
{
    char cp[CONFIG_PATH_MAX + sizeof INSTANCE_CERT_SUFFIX];
    icert c;
    *id = NULL;
    int r = identity_load(id, path);
    if (r) {
        snprintf(why, cap,
                 "cannot load the instance key %s: %s (make it with `" CLI_PROG
                 " instance new %s --name NAME` where the server key is)",
                 path, r == BANTER_EIO ? strerror(errno) : banter_strerror(r), path);
        return r;
    }
    r = cert_path(path, cp, sizeof cp);
    if (r == 0)
        r = read_cert(cp, out, len);
    if (r) {
        snprintf(why, cap, "cannot read the instance certificate %s: %s", cp,
                 r == BANTER_EIO ? strerror(errno) : banter_strerror(r));
        goto fail;
    }
    r = icert_decode(&c, out, *len);
    if (r) {
        snprintf(why, cap, "%s is not a valid instance certificate: %s", cp, banter_strerror(r));
        goto fail;
    }
    r = icert_check(&c, identity_public(org), identity_public(*id), now_ms);
    if (r == BANTER_EKEYMISMATCH) {
        snprintf(why, cap,
                 "%s was not made for this instance key by this server key: sign it again "
                 "with `" CLI_PROG " instance new %s --name %s` where the server key is",
                 cp, path, c.name);
        goto fail;
    }
    if (r) {
        snprintf(why, cap,
                 "the instance certificate %s has expired or is not valid yet: renew it "
                 "with `" CLI_PROG " instance new %s --name %s`",
                 cp, path, c.name);
        goto fail;
    }
    *days_left = (c.expires_ms - now_ms) / DAY_MS;
    return 0;
fail:
    identity_free(*id);
    *id = NULL;
    return r;
}

/* instance new PATH --name NAME [--days N] */
static int cmd_new(const cli_ctx *ctx, int argc, char **argv)
{
    const char *path = NULL, *name = NULL;
    long days = INSTANCE_DAYS;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--name") == 0 && i + 1 < argc) {
            name = argv[++i];
        } else if (strcmp(argv[i], "--days") == 0 && i + 1 < argc) {
            char *end;
            errno = 0;
            days = strtol(argv[++i], &end, 10);
            if (errno || *end || days < 1 || days > INSTANCE_MAX_DAYS) {
                fprintf(stderr, CLI_PROG ": --days takes 1 to %d (not \"%s\")\n", INSTANCE_MAX_DAYS,
                        argv[i]);
                return EXIT_USAGE;
            }
        } else if (argv[i][0] != '-' && !path) {
            path = argv[i];
        } else {
            fprintf(stderr, CLI_PROG ": instance new: unexpected \"%s\"\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (!path || !name || !cert_name_valid(name)) {
        fprintf(stderr, CLI_PROG ": instance new PATH --name NAME: NAME is 1 to 64 bytes of "
                                 "a-z, 0-9, '.', '_' and '-'\n");
        return EXIT_USAGE;
    }
    identity *org = NULL, *inst = NULL;
    bool created = false;
    char why[600], cp[CONFIG_PATH_MAX + sizeof INSTANCE_CERT_SUFFIX], fp[IDENTITY_FP_LEN + 1];
    uint8_t b[ICERT_LEN_MAX];
    size_t n;
    icert c;
    int ret = EXIT_ERROR;
    int r = identity_load(&org, ctx->key_path);
    if (r) {
        fprintf(stderr,
                CLI_PROG ": cannot load the server key %s: %s (run this where the server key "
                         "is, with its --db or --config)\n",
                ctx->key_path, r == BANTER_EIO ? strerror(errno) : banter_strerror(r));
        goto out;
    }
    if (keys_load(&inst, path, &created, why, sizeof why) != 0) {
        fprintf(stderr, CLI_PROG ": %s\n", why);
        goto out;
    }
    if (bcrypto_equal(identity_public(inst), identity_public(org), 32)) {
        fprintf(stderr,
                CLI_PROG ": %s is the server key itself: give the instance a key of "
                         "its own\n",
                path);
        goto out;
    }
    if (cert_path(path, cp, sizeof cp) != 0 ||
        /* valid from an hour ago: clocks differ */
        icert_issue(&c, org, identity_public(inst), name, instance_wall_ms() - HOUR_MS,
                    days * DAY_MS + HOUR_MS) != 0 ||
        icert_encode(&c, b, sizeof b, &n) != 0 || write_cert(cp, b, n) != 0) {
        fprintf(stderr, CLI_PROG ": cannot write the instance certificate %s: %s\n", cp,
                strerror(errno));
        goto out;
    }
    identity_fingerprint(identity_public(inst), fp);
    printf("%s instance key %s (%s)\n", created ? "created" : "kept", path, fp);
    printf("signed %s for %ld days: copy both files to the instance (0600) and set "
           "instance = %s in its --config\n",
           cp, days, path);
    ret = fflush(stdout) == 0 ? EXIT_OK : EXIT_ERROR;
out:
    identity_free(org);
    identity_free(inst);
    return ret;
}

/* instance show PATH */
static int cmd_show(const cli_ctx *ctx, int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, CLI_PROG ": instance show PATH\n");
        return EXIT_USAGE;
    }
    char cp[CONFIG_PATH_MAX + sizeof INSTANCE_CERT_SUFFIX], fp[IDENTITY_FP_LEN + 1];
    uint8_t b[ICERT_LEN_MAX];
    size_t n;
    icert c;
    int r = cert_path(argv[2], cp, sizeof cp);
    if (r == 0)
        r = read_cert(cp, b, &n);
    if (r == 0)
        r = icert_decode(&c, b, n);
    if (r) {
        fprintf(stderr, CLI_PROG ": %s: %s\n", cp,
                r == BANTER_EIO ? strerror(errno) : banter_strerror(r));
        return EXIT_ERROR;
    }
    printf("name:         %s\n", c.name);
    identity_fingerprint(c.instance, fp);
    printf("instance key: %s\n", fp);
    identity_fingerprint(c.org, fp);
    printf("signed by:    %s\n", fp);
    int64_t now = instance_wall_ms();
    printf("expires:      in %lld days%s\n", (long long)((c.expires_ms - now) / DAY_MS),
           now >= c.expires_ms ? " (EXPIRED)" : "");
    identity *org = NULL;
    if (identity_load(&org, ctx->key_path) == 0) {
        printf("this server key: %s\n", bcrypto_equal(c.org, identity_public(org), 32)
                                            ? "signed it"
                                            : "did NOT sign it (nodes pinning it refuse this)");
        identity_free(org);
    }
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_ERROR;
}

int cmd_instance(const cli_ctx *ctx, int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "new") == 0)
        return cmd_new(ctx, argc, argv);
    if (argc >= 2 && strcmp(argv[1], "show") == 0)
        return cmd_show(ctx, argc, argv);
    fprintf(stderr, CLI_PROG ": instance new PATH --name NAME [--days N] | instance show PATH "
                             "(" CLI_PROG " instance --help)\n");
    return EXIT_USAGE;
}
