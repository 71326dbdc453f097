/* SPDX-License-Identifier: MIT */
/*
 * mail.c - the e-mail gateway, a plug-in (docs/plugins.md, "The e-mail
 * gateway"). It runs on a node that is an account of its own (say
 * @mail-gateway): people write to it, so it can read what they send, and
 * from here on their text is ordinary e-mail. Every message it relays into
 * Banter says so.
 *
 *   "mail ADDRESS TEXT"  sends TEXT to ADDRESS by SMTP (plugin.NAME.smtp_host,
 *                        smtp_port), from banter+TOKEN@DOMAIN, where TOKEN
 *                        stands for the sender (kept in the plug-in's storage)
 *   a mail to banter+TOKEN@DOMAIN that the mail server delivers into
 *   plugin.NAME.maildir comes back to that person as a message, marked as
 *   coming from e-mail, not end-to-end encrypted, its text valid UTF-8
 *   (shared/mailmsg.h); it stays in new/ until the node took that message
 *   (tried again after a refusal, with a back-off), then moves to cur/
 *
 * The first message from each person is answered with what the gateway
 * does. Nothing of a message is logged. Settings: domain and maildir
 * (required), smtp_host (127.0.0.1), smtp_port (25).
 */
#define _GNU_SOURCE /* vasprintf */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "banter_plugin.h"
#include "error.h"
#include "gwrate.h"
#include "gwtext.h"
#include "mailmsg.h"

#define MAX_JOBS       16
#define MAX_ADDR       MAILMSG_MAX_ADDR
#define MAX_BODY       MAILMSG_MAX_BODY /* of an outgoing message */
#define MAX_MAIL       65536            /* of a mail read from the maildir */
#define MAX_SHOWN      4000             /* of a mail's body shown in Banter */
#define SMTP_TIMEOUT   30000
#define TOKEN_HEX      12
#define SCAN_MS        1000
#define MAX_PENDING    256   /* mails of new/ waiting for the node's answer or a retry */
#define RELAY_PER_SCAN 8     /* mails relayed per scan: the node takes 10 a second */
#define RETRY_FIRST    1000  /* ms, then doubling ... */
#define RETRY_MAX      60000 /* ... up to this */
#define ANSWER_MS      30000 /* no answer to a relay's send by then: tried again */
#define NOTICE_PREFIX  "[e-mail gateway] "
#define RATE_WINDOW    60000 /* ms */
#define RATE_PER_USER  10    /* mails a person may send per window */
#define RATE_USERS     64    /* people counted at once */

typedef enum smtp_step { S_GREETING, S_EHLO, S_FROM, S_RCPT, S_DATA, S_BODY, S_QUIT } smtp_step;

typedef struct job {
    bool used;
    char contact[80]; /* the Banter contact's handle */
    char token[TOKEN_HEX + 1];
    char name[80]; /* the sender's name, ASCII for the From header */
    char to[MAX_ADDR + 1];
    char *body; /* the text, malloc'd */
    int fd;
    smtp_step step;
    banter_watch *w;
    banter_timer *t;
    char in[1024]; /* the server's reply so far */
    size_t inlen;
    char *out; /* what is left to write */
    size_t outlen, outoff;
} job;

static const banter_host *host;
static job jobs[MAX_JOBS];
static gwrate_slot rate_slots[RATE_USERS];
static gwrate rates = {rate_slots, RATE_USERS, RATE_WINDOW, RATE_PER_USER};
static char domain[256], maildir[4096], smtp_host[64];
static int smtp_port = 25;

static void tell(banter_ctx *ctx, const char *contact, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void tell(banter_ctx *ctx, const char *contact, const char *fmt, ...)
{
    char *text = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&text, fmt, ap); /* whole: a cut could split a UTF-8 character */
    va_end(ap);
    if (n < 0)
        return; /* out of memory: text is not set */
    host->send_message(ctx, contact, text);
    free(text);
}

/* ---- addresses and tokens ---- */

/* The token standing for contact, made on first use. */
static int token_for(banter_ctx *ctx, const char *contact, char token[static TOKEN_HEX + 1])
{
    char key[128];
    size_t len = 0;
    snprintf(key, sizeof key, "tok:%s", contact);
    if (host->kv_get(ctx, key, token, TOKEN_HEX, &len) == BANTER_PLUGIN_OK && len == TOKEN_HEX) {
        token[TOKEN_HEX] = '\0';
        return 0;
    }
    unsigned char r[TOKEN_HEX / 2];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        return -1;
    for (size_t i = 0; i < sizeof r; i++)
        snprintf(token + 2 * i, 3, "%02x", r[i]);
    char back[64];
    snprintf(back, sizeof back, "who:%s", token);
    if (host->kv_set(ctx, key, token, TOKEN_HEX) != BANTER_PLUGIN_OK ||
        host->kv_set(ctx, back, contact, strlen(contact)) != BANTER_PLUGIN_OK)
        return -1;
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- SMTP, one connection per message ---- */

static void job_end(banter_ctx *ctx, job *j, const char *error)
{
    if (!j->contact[0]) /* a notification: nobody in Banter to tell */
        host->log(ctx, error ? BANTER_LOG_WARN : BANTER_LOG_INFO, "notification %s%s",
                  error ? "not sent: " : "sent", error ? error : "");
    else if (error)
        tell(ctx, j->contact, NOTICE_PREFIX "could not send to %s: %s", j->to, error);
    else
        tell(ctx, j->contact,
             NOTICE_PREFIX "sent to %s (as e-mail: not end-to-end encrypted from here on)", j->to);
    if (j->w)
        host->watch_remove(ctx, j->w);
    if (j->t)
        host->timer_remove(ctx, j->t);
    if (j->fd >= 0)
        close(j->fd);
    free(j->body);
    free(j->out);
    memset(j, 0, sizeof *j);
    j->fd = -1;
}

static bool queue_out(job *j, const char *text, size_t len)
{
    free(j->out);
    j->out = malloc(len);
    if (!j->out)
        return false;
    memcpy(j->out, text, len);
    j->outlen = len;
    j->outoff = 0;
    return true;
}

/* The next command after a reply of code. NULL when the dialogue is over. */
static const char *advance(banter_ctx *ctx, job *j, int code)
{
    static const int want[] = {220, 250, 250, 250, 354, 250, 221};
    char cmd[512];
    int n = 0;
    if (code != want[j->step] && !(j->step == S_RCPT && code == 251)) {
        if (j->step == S_QUIT)
            return NULL;
        j->in[strcspn(j->in, "\r\n")] = '\0';
        return j->in[0] ? j->in : "the server refused it";
    }
    switch (j->step) {
    case S_GREETING:
        n = snprintf(cmd, sizeof cmd, "EHLO %s\r\n", domain);
        break;
    case S_EHLO:
        n = snprintf(cmd, sizeof cmd, "MAIL FROM:<banter+%s@%s>\r\n", j->token, domain);
        break;
    case S_FROM:
        n = snprintf(cmd, sizeof cmd, "RCPT TO:<%s>\r\n", j->to);
        break;
    case S_RCPT:
        n = snprintf(cmd, sizeof cmd, "DATA\r\n");
        break;
    case S_DATA: {
        mailmsg_out mo = {.name = j->name,
                          .token = j->token,
                          .domain = domain,
                          .to = j->to,
                          .body = j->body,
                          .notice = !j->contact[0],
                          .now = (int64_t)time(NULL)};
        char *m = NULL;
        size_t len = 0;
        int r = mailmsg_compose(&mo, &m, &len);
        bool ok = r == 0 && queue_out(j, m, len);
        free(m);
        j->step = S_BODY;
        return ok ? "" : r == 0 || r == BANTER_ENOMEM ? "out of memory" : "it cannot be written";
    }
    case S_BODY:
        n = snprintf(cmd, sizeof cmd, "QUIT\r\n");
        break;
    default:
        return NULL;
    }
    (void)ctx;
    if (n < 0 || (size_t)n >= sizeof cmd) /* never a command cut short */
        return "it cannot be written";
    j->step++;
    return queue_out(j, cmd, (size_t)n) ? "" : "out of memory";
}

/* A whole reply in j->in (last line "NNN "): its code, else 0. */
static int reply_code(const job *j)
{
    const char *line = j->in, *end = j->in + j->inlen;
    while (line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        if (!nl)
            return 0;
        if (nl - line >= 4 && line[3] == ' ')
            return (int)strtol(line, NULL, 10);
        line = nl + 1;
    }
    return 0;
}

static void on_io(banter_ctx *ctx, banter_watch *w, int fd, unsigned rev, void *ud)
{
    job *j = ud;
    (void)w;
    if (j->outoff < j->outlen && (rev & BANTER_IO_WRITE)) {
        ssize_t n = send(fd, j->out + j->outoff, j->outlen - j->outoff, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN) {
            job_end(ctx, j, j->step >= S_QUIT ? NULL : strerror(errno));
            return;
        }
        j->outoff += n > 0 ? (size_t)n : 0;
    }
    if (rev & (BANTER_IO_READ | BANTER_IO_ERROR)) {
        ssize_t n = recv(fd, j->in + j->inlen, sizeof j->in - 1 - j->inlen, 0);
        if (n <= 0) {
            job_end(ctx, j,
                    j->step >= S_QUIT ? NULL
                    : n < 0           ? strerror(errno)
                                      : "the server closed the connection");
            return;
        }
        j->inlen += (size_t)n;
        j->in[j->inlen] = '\0';
        int code = reply_code(j);
        if (code == 0 && j->inlen == sizeof j->in - 1)
            code = -1;
        if (code != 0) {
            const char *err = advance(ctx, j, code);
            j->inlen = 0;
            if (!err || err[0]) {
                job_end(ctx, j, err);
                return;
            }
        }
    }
    host->watch_remove(ctx, j->w);
    j->w = host->watch_fd(ctx, fd, BANTER_IO_READ | (j->outoff < j->outlen ? BANTER_IO_WRITE : 0),
                          on_io, j);
}

static void on_timeout(banter_ctx *ctx, banter_timer *t, void *ud)
{
    job *j = ud;
    (void)t;
    j->t = NULL; /* a one-shot timer: freed by the host */
    job_end(ctx, j, "the mail server did not answer in time");
}

static void start_job(banter_ctx *ctx, job *j)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)smtp_port)};
    j->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (j->fd < 0 || inet_pton(AF_INET, smtp_host, &sa.sin_addr) != 1 ||
        (connect(j->fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS)) {
        job_end(ctx, j, "cannot reach the mail server");
        return;
    }
    j->step = S_GREETING;
    j->w = host->watch_fd(ctx, j->fd, BANTER_IO_READ, on_io, j);
    j->t = host->timer_add(ctx, SMTP_TIMEOUT, 0, on_timeout, j);
}

/* A free job, zeroed, or NULL. */
static job *new_job(void)
{
    for (size_t i = 0; i < MAX_JOBS; i++) {
        job *j = &jobs[i];
        if (j->used)
            continue;
        memset(j, 0, sizeof *j);
        j->used = true;
        j->fd = -1;
        return j;
    }
    return NULL;
}

/* On the server: a sealed message waits for an account none of whose
 * devices is online. If the account opted in (plugin.NAME.notify.ACCOUNT =
 * its address, set by the admins), one mail says so, with nothing of the
 * message (the server has none of it), at most one per RATE_WINDOW. */
static void on_stored(banter_ctx *ctx, const banter_event *ev, void *ud)
{
    const char *who = host->event_contact(ev), *to;
    const char *account = who[0] == '@' ? who + 1 : who;
    char key[128];
    (void)ud;
    int n = snprintf(key, sizeof key, "notify.%s", account);
    if (n < 0 || (size_t)n >= sizeof key || !(to = host->config_get(ctx, key)) ||
        !mailmsg_addr_ok(to))
        return; /* a cut key could name another account's setting */
    n = snprintf(key, sizeof key, "notified:%s", who);
    if (n < 0 || (size_t)n >= sizeof key)
        return;
    int64_t now = now_ms();
    if (!gwrate_take(&rates, key, now) || gwrate_count(&rates, key, now) > 1)
        return; /* told already in this window */
    job *j = new_job();
    if (!j)
        return;
    snprintf(j->to, sizeof j->to, "%s", to);
    snprintf(j->name, sizeof j->name, "%s", account);
    snprintf(j->token, sizeof j->token, "notify");
    j->body = strdup("A new message waits for you in Banter. Open Banter to read it.\n"
                     "(Its content is end-to-end encrypted: it is not in this mail, and the\n"
                     "server could not read it.)\n");
    if (!j->body) {
        job_end(ctx, j, "out of memory");
        return;
    }
    start_job(ctx, j);
}

static void send_mail(banter_ctx *ctx, const banter_event *ev, const char *args)
{
    const char *contact = host->event_contact(ev), *sp = strchr(args, ' ');
    char to[MAX_ADDR + 1];
    if (!sp || sp == args || (size_t)(sp - args) > MAX_ADDR || !sp[1]) {
        tell(ctx, contact, NOTICE_PREFIX "write: mail ADDRESS TEXT");
        return;
    }
    memcpy(to, args, (size_t)(sp - args));
    to[sp - args] = '\0';
    if (!mailmsg_addr_ok(to) || strlen(sp + 1) > MAX_BODY) {
        tell(ctx, contact,
             NOTICE_PREFIX "not sent: \"%.80s\" is not a plain e-mail address "
                           "(or the text is over %d bytes)",
             to, MAX_BODY);
        return;
    }
    if (!gwrate_take(&rates, contact, now_ms())) {
        tell(ctx, contact, NOTICE_PREFIX "not sent: at most %d mails a minute", RATE_PER_USER);
        return;
    }
    job *j = strlen(contact) < sizeof j->contact ? new_job() : NULL; /* a handle: "#" and hex */
    if (j) {
        snprintf(j->contact, sizeof j->contact, "%s", contact);
        snprintf(j->to, sizeof j->to, "%s", to);
        snprintf(j->name, sizeof j->name, "%s", host->event_contact_name(ev)); /* made ASCII,
                                                                              mailmsg_compose */
        j->body = strdup(sp + 1);
        if (!j->body || token_for(ctx, contact, j->token) != 0) {
            job_end(ctx, j, "the gateway cannot keep its records");
            return;
        }
        start_job(ctx, j);
        return;
    }
    tell(ctx, contact, NOTICE_PREFIX "busy: try again in a minute");
}

/* ---- mail coming back: the maildir ---- */

/* A mail of new/ whose relay waits: for the node's answer to its
 * send_message (request), or for its next try (at). A mail stays in new/
 * until the node took its message; then it moves to cur/, seen. One the
 * node refuses for good (no such contact, a text it cannot take) moves to
 * cur/ unseen, and so does one that stopped the gateway while it was
 * being read ("busy" in the storage): nothing is lost or relayed in a loop. */
typedef struct pending {
    char name[256];  /* its file name in new/; "" when the slot is free */
    int64_t request; /* the send waited for, or 0 */
    int64_t at;      /* when it was sent (request), or may be tried again */
    uint32_t delay;  /* the next back-off, ms */
} pending;

typedef enum relay_result { R_NOT_OURS, R_SENT, R_FAILED, R_UNREAD } relay_result;

static pending pend[MAX_PENDING];

/* banter+TOKEN@domain in a recipient list: TOKEN, or false. */
static bool find_token(const char *rcpts, char token[static TOKEN_HEX + 1])
{
    char low[1024];
    size_t i = 0, dl = strlen(domain);
    for (; rcpts[i] && i + 1 < sizeof low; i++) /* domain is lower case already */
        low[i] = (char)(rcpts[i] >= 'A' && rcpts[i] <= 'Z' ? rcpts[i] - 'A' + 'a' : rcpts[i]);
    low[i] = '\0';
    const char *p = low;
    while ((p = strstr(p, "banter+")) != NULL) {
        p += 7;
        size_t n = strspn(p, "0123456789abcdef");
        if (n == TOKEN_HEX && p[n] == '@' && strncmp(p + n + 1, domain, dl) == 0 &&
            strchr(">, \t", p[n + 1 + dl])) {
            memcpy(token, p, TOKEN_HEX);
            token[TOKEN_HEX] = '\0';
            return true;
        }
    }
    return false;
}

/* Relay mail (the file's bytes, changed here) to the person its token
 * stands for: R_SENT with the send's number in *request, R_FAILED when
 * the send could not start, R_NOT_OURS when it is for nobody here. */
static relay_result deliver_mail(banter_ctx *ctx, char *mail, int64_t *request)
{
    char *sep = strstr(mail, "\n\n"), *crsep = strstr(mail, "\r\n\r\n");
    if (crsep && (!sep || crsep < sep)) {
        *crsep = '\0';
        sep = crsep + 4;
    } else if (sep) {
        *sep = '\0';
        sep += 2;
    } else {
        return R_NOT_OURS;
    }
    char rcpt[1024] = "", raw[1024] = "?", from[201], token[TOKEN_HEX + 1], key[64], contact[80];
    size_t len = 0;
    if (!mailmsg_header(mail, "X-RcptTo", rcpt, sizeof rcpt))
        mailmsg_header(mail, "To", rcpt, sizeof rcpt);
    if (!find_token(rcpt, token))
        return R_NOT_OURS; /* not for a Banter user: another mail of the mailbox */
    snprintf(key, sizeof key, "who:%s", token);
    if (host->kv_get(ctx, key, contact, sizeof contact - 1, &len) != BANTER_PLUGIN_OK)
        return R_NOT_OURS; /* a token this gateway never gave out */
    contact[len] = '\0';
    mailmsg_header(mail, "From", raw, sizeof raw);
    mailmsg_text(from, sizeof from, raw, strlen(raw), false);
    for (char *c = from; *c; c++)
        if (*c == '\n' || *c == '\t')
            *c = ' ';
    char *shown = malloc(MAILMSG_SHOWN_CAP), *text = NULL;
    if (!shown)
        return R_FAILED;
    size_t own = mailmsg_shown(shown, mail, sep);
    char *marker = NULL;
    if (asprintf(&marker, "[e-mail from %s, not end-to-end encrypted]", from) >= 0)
        text = gwtext_relay(marker, "\n", shown, own); /* no line of it passes for a marker */
    free(marker);
    free(shown);
    if (!text)
        return R_FAILED;
    *request = host->send_message(ctx, contact, text);
    free(text);
    return *request > 0 ? R_SENT : R_FAILED;
}

/* Read up to MAX_MAIL bytes of path (NUL-terminated), or NULL. */
static char *slurp(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return NULL;
    char *m = malloc(MAX_MAIL + 1);
    size_t n = 0;
    ssize_t r = 0;
    while (m && n < MAX_MAIL && (r = read(fd, m + n, MAX_MAIL - n)) > 0)
        n += (size_t)r;
    close(fd);
    if (m)
        m[n] = '\0';
    return m;
}

/* new/NAME to cur/, seen (relayed, or not for anyone here) or not. */
static void mail_done(banter_ctx *ctx, const char *name, bool seen)
{
    char from[4500], to[4500];
    int a = snprintf(from, sizeof from, "%s/new/%s", maildir, name);
    int b = snprintf(to, sizeof to, "%s/cur/%s:2,%s", maildir, name, seen ? "S" : "");
    if (a < 0 || (size_t)a >= sizeof from || b < 0 || (size_t)b >= sizeof to ||
        rename(from, to) != 0)
        host->log(ctx, BANTER_LOG_WARN, "cannot move a mail from new/ to cur/: %s",
                  strerror(errno));
}

static pending *pend_find(const char *name)
{
    for (size_t i = 0; i < MAX_PENDING; i++)
        if (pend[i].name[0] && strcmp(pend[i].name, name) == 0)
            return &pend[i];
    return NULL;
}

static pending *pend_new(const char *name)
{
    if (strlen(name) >= sizeof pend[0].name)
        return NULL;
    for (size_t i = 0; i < MAX_PENDING; i++) {
        if (pend[i].name[0])
            continue;
        memset(&pend[i], 0, sizeof pend[i]);
        snprintf(pend[i].name, sizeof pend[i].name, "%s", name);
        pend[i].delay = RETRY_FIRST;
        return &pend[i];
    }
    return NULL;
}

/* Try p's mail again after its back-off (1 s, doubling up to RETRY_MAX). */
static void retry_later(banter_ctx *ctx, pending *p, const char *why)
{
    if (p->delay == RETRY_FIRST) /* said once per mail: a log line a second is no help */
        host->log(ctx, BANTER_LOG_INFO, "a mail not relayed now (%s): kept in new/, tried again",
                  why);
    p->request = 0;
    p->at = now_ms() + p->delay;
    p->delay = p->delay * 2 > RETRY_MAX ? RETRY_MAX : p->delay * 2;
}

/* A mail that was being read when the gateway stopped: put aside. */
static void forget_busy(banter_ctx *ctx)
{
    char name[256];
    size_t len = 0;
    if (host->kv_get(ctx, "busy", name, sizeof name - 1, &len) != BANTER_PLUGIN_OK)
        return;
    name[len] = '\0';
    host->log(ctx, BANTER_LOG_WARN,
              "a mail stopped the gateway while it was read: moved to cur/ "
              "unread, not relayed");
    if (!strchr(name, '/') && name[0] != '.')
        mail_done(ctx, name, false);
    host->kv_del(ctx, "busy");
}

static void relay(banter_ctx *ctx, pending *p)
{
    char path[4500];
    int64_t request = 0;
    relay_result r = R_UNREAD;
    int n = snprintf(path, sizeof path, "%s/new/%s", maildir, p->name);
    char *m = n > 0 && (size_t)n < sizeof path ? slurp(path) : NULL;
    if (m && host->kv_set(ctx, "busy", p->name, strlen(p->name)) == BANTER_PLUGIN_OK) {
        r = deliver_mail(ctx, m, &request);
        host->kv_del(ctx, "busy");
    }
    free(m);
    if (r == R_SENT) {
        p->request = request;
        p->at = now_ms();
    } else if (r == R_FAILED) {
        retry_later(ctx, p, "the node did not take it");
    } else {
        if (r == R_NOT_OURS)
            mail_done(ctx, p->name, true);
        memset(p, 0, sizeof *p); /* R_UNREAD: gone, or read again at the next scan */
    }
}

static void on_scan(banter_ctx *ctx, banter_timer *t, void *ud)
{
    char dir[4200];
    (void)t;
    (void)ud;
    forget_busy(ctx);
    snprintf(dir, sizeof dir, "%s/new", maildir); /* maildir: at most 4000 bytes */
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    int64_t now = now_ms();
    for (int started = 0; started < RELAY_PER_SCAN && (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        pending *p = pend_find(e->d_name);
        if (p && p->request && now - p->at >= ANSWER_MS)
            retry_later(ctx, p, "no answer from the node");
        if (p && (p->request || now < p->at))
            continue; /* waits for the node's answer, or for its next try */
        if (!p && !(p = pend_new(e->d_name)))
            continue; /* as many wait as are kept track of: this one later */
        started++;
        relay(ctx, p);
    }
    closedir(d);
}

/* The node's answer to a relay's send_message. */
static void on_send_result(banter_ctx *ctx, const banter_event *ev, void *ud)
{
    int64_t req = host->event_request(ev);
    int st = host->event_status(ev);
    (void)ud;
    for (size_t i = 0; i < MAX_PENDING && req > 0; i++) {
        pending *p = &pend[i];
        if (!p->name[0] || p->request != req)
            continue;
        if (st == 0 || st == BANTER_EINVAL || st == BANTER_EUTF8 || st == BANTER_ETOOLONG ||
            st == BANTER_ENOENT || st == BANTER_EAMBIGUOUS) {
            if (st != 0) /* for good: no such contact, a text it cannot take */
                host->log(ctx, BANTER_LOG_WARN, "a mail not relayed: %s; kept unread in cur/",
                          host->event_text(ev));
            mail_done(ctx, p->name, st == 0);
            memset(p, 0, sizeof *p);
        } else { /* over the node's send rate, the contact not reachable now... */
            retry_later(ctx, p, host->event_text(ev));
        }
        return;
    }
}

/* ---- messages from Banter users ---- */

static void on_message(banter_ctx *ctx, const banter_event *ev, void *ud)
{
    const char *contact = host->event_contact(ev), *text = host->event_text(ev);
    char key[128];
    size_t len;
    char v[2];
    (void)ud;
    snprintf(key, sizeof key, "seen:%s", contact);
    bool first = host->kv_get(ctx, key, v, sizeof v, &len) != BANTER_PLUGIN_OK;
    if (first) {
        tell(ctx, contact,
             NOTICE_PREFIX "This is an e-mail gateway. What you send here leaves Banter's "
                           "end-to-end encryption: it goes out as ordinary e-mail from "
                           "banter+TOKEN@%s, and replies come back here. Write: mail ADDRESS TEXT",
             domain);
        host->kv_set(ctx, key, "1", 1);
    }
    if (strncmp(text, "mail ", 5) == 0)
        send_mail(ctx, ev, text + 5);
    else if (!first) /* else the notice said how */
        tell(ctx, contact, NOTICE_PREFIX "write: mail ADDRESS TEXT");
}

static int mail_init(banter_ctx *ctx, const banter_host *h)
{
    host = h;
    const char *d = h->config_get(ctx, "domain"), *m = h->config_get(ctx, "maildir");
    const char *sh = h->config_get(ctx, "smtp_host"), *sp = h->config_get(ctx, "smtp_port");
    if (!d || !d[0] || strlen(d) > MAILMSG_MAX_DOMAIN || (m && (m[0] != '/' || strlen(m) > 4000)) ||
        (sh && strlen(sh) >= sizeof smtp_host)) {
        h->log(ctx, BANTER_LOG_ERROR,
               "needs plugin.NAME.domain (1..%d bytes; and plugin.NAME.maildir, an "
               "absolute path of at most 4000 bytes, for replies)",
               MAILMSG_MAX_DOMAIN);
        return -1;
    }
    snprintf(domain, sizeof domain, "%s", d);
    snprintf(maildir, sizeof maildir, "%s", m ? m : "");
    snprintf(smtp_host, sizeof smtp_host, "%s", sh ? sh : "127.0.0.1");
    smtp_port = sp ? (int)strtol(sp, NULL, 10) : 25;
    struct in_addr a;
    if (inet_pton(AF_INET, smtp_host, &a) != 1 || smtp_port < 1 || smtp_port > 65535 ||
        strspn(domain, "abcdefghijklmnopqrstuvwxyz0123456789.-") != strlen(domain)) {
        h->log(ctx, BANTER_LOG_ERROR,
               "smtp_host must be an IPv4 address, smtp_port 1..65535, "
               "domain lower-case letters, digits, dots and dashes");
        return -1;
    }
    for (size_t i = 0; i < MAX_JOBS; i++)
        jobs[i].fd = -1;
    if (h->subscribe(ctx, BANTER_EV_BIT(BANTER_EV_MESSAGE_IN), on_message, NULL) < 0 ||
        h->subscribe(ctx, BANTER_EV_BIT(BANTER_EV_STORED), on_stored, NULL) < 0 ||
        (maildir[0] &&
         (h->subscribe(ctx, BANTER_EV_BIT(BANTER_EV_SEND_RESULT), on_send_result, NULL) < 0 ||
          !h->timer_add(ctx, SCAN_MS, 1, on_scan, NULL))))
        return -1;
    h->log(ctx, BANTER_LOG_INFO, "e-mail gateway for %s ready", domain);
    return 0;
}

static void mail_fini(banter_ctx *ctx)
{
    for (size_t i = 0; i < MAX_JOBS; i++)
        if (jobs[i].used)
            job_end(ctx, &jobs[i], "the gateway is stopping");
}

static const banter_plugin MAIL = {
    BANTER_PLUGIN_INIT,
    .name = "mail",
    .version = "1.0",
    .description = "e-mail gateway: mail ADDRESS TEXT; replies come back (not end-to-end "
                   "encrypted beyond the gateway)",
    .init = mail_init,
    .fini = mail_fini,
};

const banter_plugin *banter_plugin_entry(void);
const banter_plugin *banter_plugin_entry(void) { return &MAIL; }
