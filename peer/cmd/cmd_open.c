/* SPDX-License-Identifier: MIT */
/*
 * cmd_open.c - `banter open`: the address of the node's web interface, with
 * its key, printed or opened in the browser.
 *
 * The key must not appear on a command line (every local user can read
 * those in /proc), so the browser is not given the address itself: it is
 * given DIR/open.html (0600, in the 0700 home), a page that forwards to
 * the address.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bcrypto.h"
#include "cli.h"

extern char **environ;

/* Write DIR/open.html forwarding to url; false on failure (printed). */
static bool write_forward(const char *path, const char *url)
{
    char page[512];
    int n = snprintf(page, sizeof page,
                     "<!DOCTYPE html><meta charset=\"utf-8\"><title>Banter</title>"
                     "<meta http-equiv=\"refresh\" content=\"0; url=%s\">"
                     "<p>Opening Banter&hellip;</p>\n",
                     url);
    unlink(path); /* a fresh file: 0600 even if an older one was not */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && n > 0 && (size_t)n < sizeof page && write(fd, page, (size_t)n) == n;
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    bcrypto_wipe(page, sizeof page);
    if (!ok)
        fprintf(stderr, "banter open: cannot write %s: %s\n", path, strerror(errno));
    return ok;
}

/* Run xdg-open on path; true when it says it opened it. */
static bool xdg_open(const char *path)
{
    char *argv[] = {"xdg-open", (char *)path, NULL};
    pid_t pid;
    int status;
    if (posix_spawnp(&pid, "xdg-open", NULL, NULL, argv, environ) != 0)
        return false;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return false;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static bool has_display(void)
{
    const char *x = getenv("DISPLAY"), *w = getenv("WAYLAND_DISPLAY");
    return (x && *x) || (w && *w);
}

int cmd_open(const cli_ctx *ctx, int argc, char **argv)
{
    bool print = false;
    int rc;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--print") != 0) {
            fprintf(stderr, "banter open: unexpected argument \"%s\"\n", argv[i]);
            return EXIT_USAGE;
        }
        print = true;
    }
    ctl_request q = {.kind = CTL_WEB};
    cJSON *r = cli_call(ctx, &q, &rc);
    if (!r)
        return rc;
    const char *url = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "url"));
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "enabled")) || !url) {
        const char *why = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "message"));
        fprintf(stderr, "banter open: the node has no web interface: %s\n", why ? why : "off");
        cJSON_Delete(r);
        return EXIT_ERROR;
    }
    char path[HOME_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/open.html", ctx->home->dir);
    if (!print && has_display() && write_forward(path, url) && xdg_open(path)) {
        printf("opened Banter in your browser (the address with its key: banter open --print)\n");
    } else {
        if (!print)
            fprintf(stderr, "banter open: no browser to start here: open this address in yours "
                            "(it holds the key: do not share it)\n");
        printf("%s\n", url);
    }
    bcrypto_wipe(cJSON_GetObjectItemCaseSensitive(r, "url")->valuestring, strlen(url));
    cJSON_Delete(r);
    return EXIT_OK;
}
