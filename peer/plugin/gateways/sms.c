/* SPDX-License-Identifier: MIT */
/*
 * sms.c - the SMS gateway, a plug-in (docs/plugins.md, "The SMS gateway")
 * in front of Kannel's smsbox. It runs on a node that is an account of its
 * own (say @sms-gateway): people write to it, so it can read what they
 * send, and from here on their text is an ordinary SMS. Every message it
 * relays into Banter says so.
 *
 *   "+15551234567 TEXT" (or "+15551234567: TEXT") to the gateway: TEXT goes
 *       out as an SMS from plugin.NAME.number through smsbox's sendsms
 *       interface, signed with the sender's name; the number then answers
 *       to that person. "@ACCOUNT TEXT" goes to the phone the admins bound
 *       to ACCOUNT (plugin.NAME.phone.ACCOUNT), to page a colleague.
 *   an SMS to the gateway's number, which smsbox hands to the gateway's
 *       get-url on loopback (GET /sms?key=K&from=%p&to=%P&text=%b):
 *       "@alice TEXT" reaches the Banter account alice; TEXT alone reaches
 *       the last person who wrote to that phone through the gateway;
 *       anything else (no one named, an account the gateway's node does not
 *       know, a wrong key) is refused (HTTP 403/404, nothing relayed).
 *
 * SMS go out only to international numbers ("+" and at least 8 digits: no
 * short codes or premium-rate services), and only to those beginning with
 * one of plugin.NAME.allow_prefixes when it is set (e.g. "+33,+49");
 * anything else is refused with a reply saying why.
 *
 * The first message from each person is answered with what the gateway
 * does. Nothing of a message is logged. Settings: number, listen_port,
 * key, sendsms_user, sendsms_password (required); sendsms_host
 * (127.0.0.1), sendsms_port (13013), allow_prefixes (any international
 * number).
 */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "banter_plugin.h"
#include "gwrate.h"
#include "gwtext.h"
#include "smshttp.h"

#define MAX_CONNS     8     /* get-url requests at once */
#define MAX_JOBS      16    /* sendsms requests at once */
#define HTTP_TIMEOUT  10000 /* ms, either way */
#define NOTICE_PREFIX "[SMS gateway] "
#define RATE_WINDOW   60000 /* ms */
#define RATE_PER_USER 10    /* SMS a person may send per window */
#define RATE_USERS    64
#define MAX_ACCOUNT   64
#define ANSWER_CAP    1024

/* One get-url request from smsbox. */
typedef struct conn {
    bool used;
    int fd;
    banter_watch *w;
    banter_timer *t;
    char in[BANTER_SMS_MAX_REQUEST];
    size_t inlen;
    int64_t request; /* the send_message waited for, or 0 */
    char from[BANTER_SMS_MAX_NUMBER + 1];
    char contact[MAX_ACCOUNT + 2]; /* "@account" or a handle */
    const char *answer;            /* what is being written back */
    size_t answer_off;
} conn;

/* One sendsms request to smsbox. */
typedef struct job {
    bool used;
    char contact[80];
    char to[BANTER_SMS_MAX_NUMBER + 1];
    int fd;
    banter_watch *w;
    banter_timer *t;
    char *out;
    size_t outlen, outoff;
    char in[512];
    size_t inlen;
} job;

static const banter_host *host;
static conn conns[MAX_CONNS];
static job jobs[MAX_JOBS];
/* Counted apart: phones writing in (anyone with a phone) can fill only
 * their own table, never lock out the people sending from Banter. */
static gwrate_slot out_slots[RATE_USERS], in_slots[RATE_USERS];
static gwrate rates_out = {out_slots, RATE_USERS, RATE_WINDOW, RATE_PER_USER};
static gwrate rates_in = {in_slots, RATE_USERS, RATE_WINDOW, RATE_PER_USER};
static int listen_fd = -1;
static banter_watch *listen_w;
static char number[BANTER_SMS_MAX_NUMBER + 1], key[BANTER_SMS_MAX_KEY + 1];
static char send_host[64], send_user[128], send_pass[128];
static char allow[1025]; /* plugin.NAME.allow_prefixes: "" for any international number */
static int send_port = 13013;

static const char A_OK[] =
    "HTTP/1.0 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
static const char A_BAD[] = "HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\nConnection: "
                            "close\r\n\r\n";
static const char A_FORBIDDEN[] = "HTTP/1.0 403 Forbidden\r\nContent-Length: 0\r\nConnection: "
                                  "close\r\n\r\n";
static const char A_NOBODY[] = "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: "
                               "close\r\n\r\n";
static const char A_TOO_MANY[] = "HTTP/1.0 429 Too Many Requests\r\nContent-Length: 0\r\n"
                                 "Connection: close\r\n\r\n";
static const char A_BUSY[] = "HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n"
                             "Connection: close\r\n\r\n";

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

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The storage key of a phone number: its digits, without "+". */
static void number_key(char out[static 64], const char *what, const char *num)
{
    snprintf(out, 64, "%s:%s", what, num[0] == '+' ? num + 1 : num);
}

/* Compare secrets without leaking where they differ. */
static bool same_secret(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = (unsigned char)(la != lb);
    for (size_t i = 0; i < la && i < lb; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

/* ---- SMS coming in: smsbox's get-url ---- */

static void conn_end(banter_ctx *ctx, conn *c)
{
    if (c->w)
        host->watch_remove(ctx, c->w);
    if (c->t)
        host->timer_remove(ctx, c->t);
    if (c->fd >= 0)
        close(c->fd);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

static void on_conn_io(banter_ctx *ctx, banter_watch *w, int fd, unsigned rev, void *ud);

/* Write answer back, then close. */
static void conn_answer(banter_ctx *ctx, conn *c, const char *answer)
{
    c->answer = answer;
    c->answer_off = 0;
    c->request = 0;
    if (c->w)
        host->watch_remove(ctx, c->w);
    c->w = host->watch_fd(ctx, c->fd, BANTER_IO_WRITE, on_conn_io, c);
    if (!c->w)
        conn_end(ctx, c);
}

/* A whole request in c->in: check it, and relay the SMS or refuse it. */
static void conn_request(banter_ctx *ctx, conn *c, const smshttp_req *r)
{
    char marker[128], kk[64];
    const char *body = r->text;
    size_t len = 0;
    if (!same_secret(r->key, key)) {
        host->log(ctx, BANTER_LOG_WARN, "refused a get-url request with a wrong key");
        conn_answer(ctx, c, A_FORBIDDEN);
        return;
    }
    if (strcmp(r->to[0] == '+' ? r->to + 1 : r->to, number[0] == '+' ? number + 1 : number) != 0) {
        conn_answer(ctx, c, A_NOBODY); /* not this gateway's number */
        return;
    }
    if (body[0] == '@') {
        size_t n = strspn(body + 1, "abcdefghijklmnopqrstuvwxyz"
                                    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");
        if (n == 0 || n > MAX_ACCOUNT || (body[n + 1] && !strchr(" :\n\t", body[n + 1]))) {
            conn_answer(ctx, c, A_NOBODY);
            return;
        }
        snprintf(c->contact, sizeof c->contact, "@%.*s", (int)n, body + 1);
        body += n + 1;
        body += strspn(body, " :\n\t");
    } else {
        number_key(kk, "reply", r->from);
        if (host->kv_get(ctx, kk, c->contact, sizeof c->contact - 1, &len) != BANTER_PLUGIN_OK) {
            host->log(ctx, BANTER_LOG_INFO,
                      "refused an SMS from %s: it names no one, and no one wrote to that number",
                      r->from);
            conn_answer(ctx, c, A_NOBODY);
            return;
        }
        c->contact[len] = '\0';
    }
    snprintf(kk, sizeof kk, "in:%s", r->from);
    if (!gwrate_take(&rates_in, kk, now_ms())) {
        host->log(ctx, BANTER_LOG_INFO, "refused an SMS from %s: over %d a minute", r->from,
                  RATE_PER_USER);
        conn_answer(ctx, c, A_TOO_MANY);
        return;
    }
    snprintf(c->from, sizeof c->from, "%s", r->from);
    snprintf(marker, sizeof marker, "[SMS from %s, not end-to-end encrypted]", r->from);
    char *text = gwtext_relay(marker, "\n", body, SIZE_MAX); /* no line of it passes for a marker */
    c->request = text ? host->send_message(ctx, c->contact, text) : 0;
    free(text);
    if (c->request <= 0)
        conn_answer(ctx, c, A_BAD);
    /* else the answer waits for the node's SEND_RESULT (on_send_result) */
}

static void conn_read(banter_ctx *ctx, conn *c)
{
    ssize_t n = recv(c->fd, c->in + c->inlen, sizeof c->in - c->inlen, 0);
    if (n <= 0) {
        if (n < 0 && errno == EAGAIN)
            return;
        conn_end(ctx, c);
        return;
    }
    c->inlen += (size_t)n;
    smshttp_req *r = malloc(sizeof *r);
    size_t used = 0;
    if (!r) {
        conn_answer(ctx, c, A_BUSY);
        return;
    }
    int ret = smshttp_parse_request(c->in, c->inlen, r, &used);
    if (ret == 0) {
        host->watch_remove(ctx, c->w); /* one request per connection */
        c->w = NULL;
        conn_request(ctx, c, r);
    } else if (ret != BANTER_EAGAIN) {
        host->log(ctx, BANTER_LOG_WARN, "refused a malformed get-url request (error %d)", ret);
        conn_answer(ctx, c, ret == BANTER_ENOENT ? A_NOBODY : A_BAD);
    }
    free(r);
}

static void on_conn_io(banter_ctx *ctx, banter_watch *w, int fd, unsigned rev, void *ud)
{
    conn *c = ud;
    (void)w;
    (void)fd;
    if (!c->answer) {
        conn_read(ctx, c);
        return;
    }
    size_t left = strlen(c->answer) - c->answer_off;
    ssize_t n = send(c->fd, c->answer + c->answer_off, left, MSG_NOSIGNAL);
    if ((n < 0 && errno != EAGAIN) || (rev & BANTER_IO_ERROR) || (n > 0 && (size_t)n == left)) {
        conn_end(ctx, c);
        return;
    }
    c->answer_off += n > 0 ? (size_t)n : 0;
}

static void on_conn_timeout(banter_ctx *ctx, banter_timer *t, void *ud)
{
    conn *c = ud;
    (void)t;
    c->t = NULL; /* one-shot: freed by the host */
    conn_end(ctx, c);
}

static void on_accept(banter_ctx *ctx, banter_watch *w, int fd, unsigned rev, void *ud)
{
    (void)w;
    (void)rev;
    (void)ud;
    int s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (s < 0)
        return;
    for (size_t i = 0; i < MAX_CONNS; i++) {
        conn *c = &conns[i];
        if (c->used)
            continue;
        memset(c, 0, sizeof *c);
        c->used = true;
        c->fd = s;
        c->w = host->watch_fd(ctx, s, BANTER_IO_READ, on_conn_io, c);
        c->t = host->timer_add(ctx, HTTP_TIMEOUT, 0, on_conn_timeout, c);
        if (!c->w || !c->t)
            conn_end(ctx, c);
        return;
    }
    close(s); /* busy: smsbox logs a failed fetch (get-url retries if configured) */
}

/* The node's answer to a send_message: an SMS's relay into Banter. */
static void on_send_result(banter_ctx *ctx, const banter_event *ev, void *ud)
{
    int64_t req = host->event_request(ev);
    char kk[64];
    (void)ud;
    for (size_t i = 0; i < MAX_CONNS; i++) {
        conn *c = &conns[i];
        if (!c->used || c->request != req || req <= 0)
            continue;
        if (host->event_status(ev) == BANTER_EAGAIN) {
            host->log(ctx, BANTER_LOG_INFO, "an SMS from %s not relayed: %s", c->from,
                      host->event_text(ev)); /* the node's send rate for plug-ins */
            conn_answer(ctx, c, A_BUSY);
            return;
        }
        if (host->event_status(ev) != 0) {
            host->log(ctx, BANTER_LOG_INFO, "refused an SMS from %s to %s: %s", c->from, c->contact,
                      host->event_text(ev)); /* an account this node does not know */
            conn_answer(ctx, c, A_NOBODY);
            return;
        }
        number_key(kk, "reply", c->from); /* the phone's answers go to that person */
        host->kv_set(ctx, kk, c->contact, strlen(c->contact));
        conn_answer(ctx, c, A_OK);
        return;
    }
}

/* ---- SMS going out: smsbox's sendsms ---- */

static void job_end(banter_ctx *ctx, job *j, const char *error)
{
    if (error)
        tell(ctx, j->contact, NOTICE_PREFIX "could not send to %s: %s", j->to, error);
    else
        tell(ctx, j->contact,
             NOTICE_PREFIX "sent to %s (as SMS: not end-to-end encrypted from here on)", j->to);
    if (j->w)
        host->watch_remove(ctx, j->w);
    if (j->t)
        host->timer_remove(ctx, j->t);
    if (j->fd >= 0)
        close(j->fd);
    free(j->out);
    memset(j, 0, sizeof *j);
    j->fd = -1;
}

static void on_job_io(banter_ctx *ctx, banter_watch *w, int fd, unsigned rev, void *ud)
{
    job *j = ud;
    char why[96];
    (void)w;
    if (j->outoff < j->outlen) {
        ssize_t n = send(fd, j->out + j->outoff, j->outlen - j->outoff, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN) {
            job_end(ctx, j, "smsbox cannot be reached");
            return;
        }
        j->outoff += n > 0 ? (size_t)n : 0;
        if (j->outoff == j->outlen) {
            host->watch_remove(ctx, j->w);
            j->w = host->watch_fd(ctx, fd, BANTER_IO_READ, on_job_io, j);
        }
        return;
    }
    ssize_t n = recv(fd, j->in + j->inlen, sizeof j->in - j->inlen, 0);
    if (n < 0 && errno == EAGAIN && !(rev & BANTER_IO_ERROR))
        return;
    j->inlen += n > 0 ? (size_t)n : 0;
    int code = 0, ret = smshttp_parse_status(j->in, j->inlen, &code);
    if (ret == BANTER_EAGAIN && n > 0 && j->inlen < sizeof j->in)
        return;
    if (ret != 0) {
        job_end(ctx, j, n <= 0 ? "smsbox closed the connection" : "smsbox's answer is not HTTP");
        return;
    }
    if (code == 200 || code == 202) {
        job_end(ctx, j, NULL);
        return;
    }
    snprintf(why, sizeof why, "smsbox refused it (HTTP %d)", code);
    job_end(ctx, j, why);
}

static void on_job_timeout(banter_ctx *ctx, banter_timer *t, void *ud)
{
    job *j = ud;
    (void)t;
    j->t = NULL;
    job_end(ctx, j, "smsbox did not answer in time");
}

static void send_sms(banter_ctx *ctx, const banter_event *ev, const char *to, const char *text)
{
    const char *contact = host->event_contact(ev);
    char signed_text[BANTER_SMS_MAX_TEXT + 1], name[64], kk[64];
    snprintf(name, sizeof name, "%s", host->event_contact_name(ev));
    for (char *c = name; *c; c++)
        if ((unsigned char)*c < 0x20)
            *c = ' ';
    int n = snprintf(signed_text, sizeof signed_text, "%s (Banter): %s", name, text);
    if (n < 0 || (size_t)n >= sizeof signed_text) {
        tell(ctx, contact, NOTICE_PREFIX "not sent: the text is over %u bytes",
             BANTER_SMS_MAX_TEXT - (unsigned)strlen(name) - 11);
        return;
    }
    if (!smshttp_number_intl(to)) {
        tell(ctx, contact,
             NOTICE_PREFIX "not sent: %s is not an international number (+ and at least %d "
                           "digits): this gateway sends no SMS to short codes or premium-rate "
                           "services",
             to, SMSHTTP_INTL_MIN_DIGITS);
        return;
    }
    if (!smshttp_number_allowed(to, allow)) {
        tell(ctx, contact,
             NOTICE_PREFIX "not sent: this gateway sends SMS only to numbers "
                           "beginning %s",
             allow);
        return;
    }
    if (!gwrate_take(&rates_out, contact, now_ms())) {
        tell(ctx, contact, NOTICE_PREFIX "not sent: at most %d SMS a minute", RATE_PER_USER);
        return;
    }
    job *j = NULL;
    for (size_t i = 0; i < MAX_JOBS && !j; i++)
        if (!jobs[i].used)
            j = &jobs[i];
    if (!j) {
        tell(ctx, contact, NOTICE_PREFIX "busy: try again in a minute");
        return;
    }
    memset(j, 0, sizeof *j);
    j->used = true;
    j->fd = -1;
    snprintf(j->contact, sizeof j->contact, "%s", contact);
    snprintf(j->to, sizeof j->to, "%s", to);
    size_t cap = BANTER_SMS_MAX_TEXT * 3 + 1024;
    j->out = malloc(cap);
    int len = j->out ? smshttp_sendsms_request(j->out, cap, send_host, send_port, send_user,
                                               send_pass, number, to, signed_text)
                     : BANTER_ENOMEM;
    if (len < 0) {
        job_end(ctx, j, "the gateway cannot write the request");
        return;
    }
    j->outlen = (size_t)len;
    number_key(kk, "reply", to); /* the phone's answers come back to this person */
    host->kv_set(ctx, kk, contact, strlen(contact));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)send_port)};
    j->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (j->fd < 0 || inet_pton(AF_INET, send_host, &sa.sin_addr) != 1 ||
        (connect(j->fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS)) {
        job_end(ctx, j, "smsbox cannot be reached");
        return;
    }
    j->w = host->watch_fd(ctx, j->fd, BANTER_IO_WRITE, on_job_io, j);
    j->t = host->timer_add(ctx, HTTP_TIMEOUT, 0, on_job_timeout, j);
    if (!j->w || !j->t)
        job_end(ctx, j, "the gateway is out of resources");
}

/* ---- messages from Banter users ---- */

/* "@ACCOUNT TEXT": an SMS to the phone the admins bound to ACCOUNT
 * (plugin.NAME.phone.ACCOUNT = +NUMBER; the plug-in ABI has no directory
 * lookup), e.g. to page a colleague away from Banter. */
static void page_account(banter_ctx *ctx, const banter_event *ev, const char *text)
{
    const char *contact = host->event_contact(ev), *num;
    char kk[16 + MAX_ACCOUNT];
    size_t n = strspn(text + 1, "abcdefghijklmnopqrstuvwxyz0123456789._-");
    const char *body = text + 1 + n;
    if (n == 0 || n > MAX_ACCOUNT || (body[0] != ' ' && body[0] != ':')) {
        tell(ctx, contact, NOTICE_PREFIX "write: @ACCOUNT TEXT (to a colleague's phone)");
        return;
    }
    body += strspn(body, " :");
    snprintf(kk, sizeof kk, "phone.%.*s", (int)n, text + 1);
    if (!(num = host->config_get(ctx, kk)) || !smshttp_number_ok(num)) {
        tell(ctx, contact, NOTICE_PREFIX "not sent: no phone number for @%.*s at this gateway",
             (int)n, text + 1);
        return;
    }
    if (body[0])
        send_sms(ctx, ev, num, body);
}

static void on_message(banter_ctx *ctx, const banter_event *ev, void *ud)
{
    const char *contact = host->event_contact(ev), *text = host->event_text(ev);
    char kk[128], v[2], to[BANTER_SMS_MAX_NUMBER + 1];
    size_t len, n;
    (void)ud;
    snprintf(kk, sizeof kk, "seen:%s", contact);
    bool first = host->kv_get(ctx, kk, v, sizeof v, &len) != BANTER_PLUGIN_OK;
    if (first) {
        tell(ctx, contact,
             NOTICE_PREFIX "This is an SMS gateway. What you send here leaves Banter's "
                           "end-to-end encryption: it goes out as an ordinary SMS from %s, "
                           "signed with your name, and the phone's answers come back here. "
                           "Write: +NUMBER TEXT (or @ACCOUNT TEXT to a colleague's phone)",
             number);
        host->kv_set(ctx, kk, "1", 1);
    }
    if (text[0] == '@') {
        page_account(ctx, ev, text);
        return;
    }
    n = strspn(text + (text[0] == '+'), "0123456789") + (text[0] == '+');
    if (n > 0 && n < sizeof to && (text[n] == ' ' || text[n] == ':')) {
        memcpy(to, text, n);
        to[n] = '\0';
        const char *body = text + n + (text[n] == ':');
        body += strspn(body, " ");
        if (smshttp_number_ok(to) && body[0]) {
            send_sms(ctx, ev, to, body);
            return;
        }
    }
    if (!first)
        tell(ctx, contact, NOTICE_PREFIX "write: +NUMBER TEXT (e.g. +15551234567 see you at 5)");
}

/* ---- start and stop ---- */

static bool copy_setting(banter_ctx *ctx, const char *name, char *out, size_t cap, const char *def)
{
    const char *v = host->config_get(ctx, name);
    if (!v)
        v = def;
    if (!v || !v[0] || strlen(v) >= cap) {
        host->log(ctx, BANTER_LOG_ERROR, "needs plugin.NAME.%s (1..%zu bytes)", name, cap - 1);
        return false;
    }
    snprintf(out, cap, "%s", v);
    return true;
}

static int sms_init(banter_ctx *ctx, const banter_host *h)
{
    host = h;
    char port_s[8];
    const char *sp = h->config_get(ctx, "sendsms_port");
    if (!copy_setting(ctx, "number", number, sizeof number, NULL) ||
        !copy_setting(ctx, "listen_port", port_s, sizeof port_s, NULL) ||
        !copy_setting(ctx, "key", key, sizeof key, NULL) ||
        !copy_setting(ctx, "sendsms_user", send_user, sizeof send_user, NULL) ||
        !copy_setting(ctx, "sendsms_password", send_pass, sizeof send_pass, NULL) ||
        !copy_setting(ctx, "sendsms_host", send_host, sizeof send_host, "127.0.0.1"))
        return -1;
    const char *ap = h->config_get(ctx, "allow_prefixes");
    if (!smshttp_prefixes_ok(ap) || (ap && strlen(ap) >= sizeof allow)) {
        h->log(ctx, BANTER_LOG_ERROR,
               "allow_prefixes must be a list of +DIGITS separated by commas (at most %d), "
               "e.g. +33,+49",
               SMSHTTP_PREFIX_MAX);
        return -1;
    }
    snprintf(allow, sizeof allow, "%s", ap ? ap : "");
    long lport = strtol(port_s, NULL, 10);
    send_port = sp ? (int)strtol(sp, NULL, 10) : 13013;
    struct in_addr a;
    if (!smshttp_number_ok(number) || lport < 1 || lport > 65535 || send_port < 1 ||
        send_port > 65535 || inet_pton(AF_INET, send_host, &a) != 1 || strlen(key) < 16) {
        h->log(ctx, BANTER_LOG_ERROR,
               "number must be +DIGITS, listen_port and sendsms_port 1..65535, sendsms_host an "
               "IPv4 address, key at least 16 characters");
        return -1;
    }
    for (size_t i = 0; i < MAX_CONNS; i++)
        conns[i].fd = -1;
    for (size_t i = 0; i < MAX_JOBS; i++)
        jobs[i].fd = -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)lport)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd < 0 || setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(listen_fd, 16) != 0) {
        h->log(ctx, BANTER_LOG_ERROR, "cannot listen on 127.0.0.1:%ld: %s", lport, strerror(errno));
        return -1;
    }
    listen_w = h->watch_fd(ctx, listen_fd, BANTER_IO_READ, on_accept, NULL);
    if (!listen_w || h->subscribe(ctx, BANTER_EV_BIT(BANTER_EV_MESSAGE_IN), on_message, NULL) < 0 ||
        h->subscribe(ctx, BANTER_EV_BIT(BANTER_EV_SEND_RESULT), on_send_result, NULL) < 0)
        return -1;
    h->log(ctx, BANTER_LOG_INFO, "SMS gateway for %s ready (get-url on 127.0.0.1:%ld)", number,
           lport);
    return 0;
}

static void sms_fini(banter_ctx *ctx)
{
    for (size_t i = 0; i < MAX_CONNS; i++)
        if (conns[i].used)
            conn_end(ctx, &conns[i]);
    for (size_t i = 0; i < MAX_JOBS; i++)
        if (jobs[i].used)
            job_end(ctx, &jobs[i], "the gateway is stopping");
    if (listen_w)
        host->watch_remove(ctx, listen_w);
    if (listen_fd >= 0)
        close(listen_fd);
}

static const banter_plugin SMS = {
    BANTER_PLUGIN_INIT,
    .name = "sms",
    .version = "1.0",
    .description = "SMS gateway: +NUMBER TEXT; answers come back (not end-to-end encrypted "
                   "beyond the gateway)",
    .init = sms_init,
    .fini = sms_fini,
};

const banter_plugin *banter_plugin_entry(void);
const banter_plugin *banter_plugin_entry(void) { return &SMS; }
