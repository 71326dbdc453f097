/* SPDX-License-Identifier: MIT */
/*
 * admins.c - `admin add FINGERPRINT --role admin|auditor | list | remove
 * FINGERPRINT`: who may administer the server remotely with banter-admin,
 * set on the server machine; and cli_run (cli.h), how every local
 * administrative command runs the one implementation in acct.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acct.h"
#include "cli.h"
#include "ctl.h"
#include "keys.h"
#include "utf8.h"

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Tell a running server that name changed; print what it did. */
static void notify(const cli_ctx *ctx, const char *name, bool ended_means_disabled, FILE *f)
{
    char why[512];
    int sessions = 0;
    int r = ctl_notify(config_base(ctx->cfg), name, &sessions, why, sizeof why);
    if (r == 0 && ended_means_disabled)
        fprintf(f, "the running server ended %d live session%s of %s\n", sessions,
                sessions == 1 ? "" : "s", name);
    else if (r == 0)
        fprintf(f, "the running server applied the change\n");
    else if (r == BANTER_ENOENT)
        fprintf(f, "(no server is running on %s: the change applies when it starts)\n",
                config_base(ctx->cfg));
    else
        fprintf(stderr,
                CLI_PROG ": the change is stored, but the running server was not told (%s): "
                         "it applies to sessions that start from now on\n",
                why);
}

/* s[0..n) on f with its control characters escaped as banter-admin
 * shows them (utf8_escape): what accounts put in their profiles cannot
 * drive the terminal on the server machine either. */
static void put_escaped(FILE *f, const char *s, size_t n, utf8_esc how)
{
    utf8_fwrite_escaped(f, s, n, how);
}

/* Print res; the exit code. */
static int show(const adm_result *res, bool json)
{
    if (!res->ok) {
        const char *t = res->text ? res->text : res->error;
        size_t n = strlen(t);
        fputs(CLI_PROG ": ", stderr);
        put_escaped(stderr, t, n && t[n - 1] == '\n' ? n - 1 : n, UTF8_ESC_TERM);
        fputc('\n', stderr);
        return EXIT_ERROR;
    }
    if (json) {
        const char *d = res->data ? res->data : "{}";
        put_escaped(stdout, d, strlen(d), UTF8_ESC_JSON);
        putchar('\n');
    } else if (res->text) {
        put_escaped(stdout, res->text, strlen(res->text), UTF8_ESC_TERM);
    }
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_ERROR;
}

int cli_run(const cli_ctx *ctx, const adm_request *rq, bool json, const char *notify_name)
{
    char why[512], actor[ACCT_ACTOR_MAX];
    identity *id = NULL;
    bool created;
    adm_result res = {0};
    int ret = EXIT_ERROR;
    db *d = cli_open_db(ctx);
    if (!d)
        return EXIT_ERROR;
    if (keys_load(&id, ctx->key_path, &created, why, sizeof why) != 0) {
        fprintf(stderr, CLI_PROG ": %s\n", why);
        goto out;
    }
    snprintf(actor, sizeof actor, "local uid %lu", (unsigned long)geteuid());
    acct_ctx x = {.d = d, .id = id, .k = NULL, .actor = actor, .now_ms = wall_ms()};
    if (acct_exec(&x, rq, &res) != 0) {
        fprintf(stderr, CLI_PROG ": out of memory\n");
        goto out;
    }
    ret = show(&res, json);
    db_close(d);
    d = NULL;
    /* Also when nothing changed: a server may have missed an earlier one. */
    if (res.ok && notify_name)
        notify(ctx, notify_name, rq->cmd == ADM_USER_DISABLE || rq->cmd == ADM_USER_DELETE,
               json ? stderr : stdout);
out:
    adm_result_clear(&res);
    identity_free(id);
    db_close(d);
    return ret;
}

static int usage(void)
{
    fprintf(stderr, CLI_PROG ": usage: admin add FINGERPRINT --role admin|auditor | admin list "
                             "[--json] | admin remove FINGERPRINT\n");
    return EXIT_USAGE;
}

/* FINGERPRINT may be given as one argument or as its 8 groups. */
static int take_fp(int argc, char **argv, int *i, adm_request *rq)
{
    size_t n = 0;
    rq->fp[0] = '\0';
    while (*i < argc && argv[*i][0] >= '0' && argv[*i][0] <= '9') {
        int w = snprintf(rq->fp + n, sizeof rq->fp - n, "%s%s", n ? " " : "", argv[*i]);
        if (w < 0 || (size_t)w >= sizeof rq->fp - n)
            return -1;
        n += (size_t)w;
        (*i)++;
    }
    rq->has |= ADM_BIT(ADM_A_FP);
    return n ? 0 : -1;
}

int cmd_admin(const cli_ctx *ctx, int argc, char **argv)
{
    adm_request rq = {0};
    int i = 2;
    if (argc >= 2 && strcmp(argv[1], "list") == 0) {
        bool json = argc == 3 && strcmp(argv[2], "--json") == 0;
        if (argc != 2 && !json)
            return usage();
        rq.cmd = ADM_ADMIN_LIST;
        return cli_run(ctx, &rq, json, NULL);
    }
    if (argc < 3 || (strcmp(argv[1], "add") != 0 && strcmp(argv[1], "remove") != 0) ||
        take_fp(argc, argv, &i, &rq) != 0)
        return usage();
    rq.cmd = strcmp(argv[1], "add") == 0 ? ADM_ADMIN_ADD : ADM_ADMIN_REMOVE;
    if (rq.cmd == ADM_ADMIN_ADD) {
        const char *role = NULL;
        if (i + 2 == argc && strcmp(argv[i], "--role") == 0)
            role = argv[i + 1];
        else if (i + 1 == argc && strncmp(argv[i], "--role=", 7) == 0)
            role = argv[i] + 7;
        if (!role || strlen(role) >= sizeof rq.role)
            return usage();
        snprintf(rq.role, sizeof rq.role, "%s", role);
        rq.has |= ADM_BIT(ADM_A_ROLE);
        i = argc;
    }
    if (i != argc)
        return usage();
    return cli_run(ctx, &rq, false, NULL);
}
