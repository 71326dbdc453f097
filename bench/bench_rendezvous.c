/* SPDX-License-Identifier: MIT */
/*
 * bench_rendezvous.c - the rendezvous server under load, with its baseline
 * measured in the same run (docs/rendezvous.md, "Performance"):
 *
 *   1. connections: N devices (BENCH_RDV_CONNS, default 50000) connect from
 *      several loopback source addresses (127.0.0.2, .3, ...: one address
 *      has only ~28,000 ephemeral ports), complete the Noise handshake and
 *      HELLO, and are authenticated by their device keys, which this bench
 *      binds in the database before the server starts (N first logins
 *      would each cost an Argon2id hash: hours). Target 50,000 held.
 *   2. server memory per connection: the server's RSS grown from before
 *      the connections to after, divided by N (the kernel's socket memory
 *      is not in it). Target < 2 KiB.
 *   3. routing between online devices: P sender/receiver pairs (approved
 *      contacts), each sender keeping W copies unanswered: RV_SEAL ->
 *      RV_SEALED -> RV_DELIVERED -> RV_STORED "delivered", counted per
 *      second, with the N idle connections still held. Baseline: PING/PONG
 *      round trips per second on the same connections with the same
 *      window (the server's cheapest answer: one decrypt, one encrypt).
 *      Target >= 400,000 routed messages/s. Measured twice in the same
 *      run: P pairs that do not list the HELLO feature "batch" (one
 *      transport message per rendezvous message), then P other pairs that
 *      do (RV_BATCH both ways: what one read produces is sealed as one
 *      transport message, docs/rendezvous.md section 2.2); the ratios of
 *      the two, wall-clock and per second of server CPU, are printed.
 *   4. first logins: fresh devices log in with a password (Argon2id t=2,
 *      64 MiB, at most 2 at a time on the server): logins/s.
 *
 * Several instances (bench/bench_cluster.sh, `make bench-cluster`): with
 * BENCH_RDV_HOLD=PATH the bench prints "holding" once its connections are
 * up and keeps them (answering the server's keepalives) until PATH.go
 * exists; then, with BENCH_RDV_MEASURE=0, it only holds on until PATH.done
 * exists and exits; otherwise it goes on with parts 3 and 4.
 *
 * Two instances on PostgreSQL (bench/bench_xinst.sh, `make bench-xinst`):
 * with BENCH_RDV_PG=URL (an empty database) the accounts, devices and
 * relations go into that database, and two instances of one service serve
 * it, each with its instance key. Part 3 then routes between pairs on one
 * instance and between pairs whose receiver is on the other instance (a
 * stored copy, the other instance woken, the device's RV_DELIVERED, the
 * "delivered" back through the database: docs/rendezvous.md 8.2), in the
 * same run, and prints the ratio; nothing is batched there.
 *
 * Runs bin/banter-rendezvous (BENCH_RDV_BIN) in a scratch directory and
 * stops it at the end. Raises its open file limit (and the server's) when
 * it may; with fewer descriptors it holds fewer connections and says so.
 * Client and server share this machine's cores: the rates are what both
 * together reach.
 */
#define _GNU_SOURCE /* IP_BIND_ADDRESS_NO_PORT */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "bcrypto.h"
#include "identity.h"
#include "msg.h"
#include "rvbatch.h"
#include "rvmsg.h"
#include "session.h"

#define SOURCES     8   /* loopback source addresses 127.0.0.2 .. */
#define HS_INFLIGHT 384 /* handshakes at once (the server allows 1024 pending) */
#define WINDOW      32  /* unanswered messages per active connection */
#define SEALED_LEN  120 /* bytes of the opaque sealed copy */
#define LOGINS      16
#define PASSWORD    "bench password"
#define READ_BUF    65536

enum { ST_CONNECTING, ST_HANDSHAKE, ST_HELLO, ST_READY, ST_DEAD };
enum { R_IDLE, R_SENDER, R_RECEIVER, R_LOGIN };
enum { MODE_NONE, MODE_PING, MODE_ROUTE };

typedef struct bconn {
    int fd;
    session *s;
    identity *id;
    uint8_t state, role;
    bool pollout;
    uint32_t peer;        /* a sender's receiver */
    uint32_t outstanding; /* pings or copies unanswered */
    uint64_t next;        /* the next ping token / copy id */
    bool batch;           /* lists "batch" in HELLO (the second group of pairs) */
    bool far;             /* BENCH_RDV_PG: connects to the second instance */
    bool batch_ok;        /* ... and the server's HELLO did too: RV_BATCH may go */
    rvbatch *ob;          /* batch: what was queued since the last flush */
} bconn;

static struct bench {
    int ep;
    uint16_t port, port2; /* port2: the second instance (BENCH_RDV_PG) */
    pid_t srv, srv2;
    const char *pg; /* BENCH_RDV_PG, or NULL */
    char dir[64];
    bconn *c;
    size_t n;                     /* connections in c */
    size_t n_idle, pairs;         /* the layout of c: idle, then 2 groups of pairs, then logins */
    size_t pc;                    /* pair connections: 4 * pairs (plain, then batched) */
    size_t ready, dead, authfail; /* counters */
    size_t hs_inflight;
    uint64_t pongs, delivered, errors;
    double last_cpu; /* the server's share of one core in the last measure() */
    int mode;
    uint8_t rbuf[READ_BUF];
} B;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench_rendezvous: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (B.srv > 0)
        kill(B.srv, SIGKILL);
    exit(1);
}

static size_t env_size(const char *name, size_t def, size_t min, size_t max)
{
    const char *v = getenv(name);
    char *end;
    if (!v || !*v)
        return def;
    unsigned long long x = strtoull(v, &end, 10);
    if (*end || x < min || x > max)
        die("%s=%s is not a number from %zu to %zu", name, v, min, max);
    return (size_t)x;
}

/* The device key of connection i: deterministic, so the database and the
 * client agree without storing anything. */
static identity *device(size_t i, uint32_t salt)
{
    uint8_t seed[BCRYPTO_ED_SEEDLEN] = "banter-bench-device";
    memcpy(seed + 20, &i, sizeof(uint32_t));
    memcpy(seed + 24, &salt, sizeof salt);
    identity *id = NULL;
    if (identity_from_seed(&id, seed) != 0)
        die("cannot make a device key");
    return id;
}

/* The account of connection i (at most 8 bytes). */
static void name_of(size_t i, char out[static 16])
{
    if (i < B.n_idle)
        snprintf(out, 16, "c%06u", (unsigned)(i % 1000000));
    else if (i < B.n_idle + B.pc)
        snprintf(out, 16, "%c%05u", (i - B.n_idle) % 2 ? 'r' : 's',
                 (unsigned)((i - B.n_idle) / 2 % 100000));
    else
        snprintf(out, 16, "l%05u", (unsigned)((i - B.n_idle - B.pc) % 100000));
}

/* ---- the database, before the server starts ---- */

static void sql(sqlite3 *db, const char *q)
{
    char *err = NULL;
    if (sqlite3_exec(db, q, NULL, NULL, &err) != SQLITE_OK)
        die("sqlite: %s: %s", q, err ? err : "?");
}

static void prepare_db(const char *path, const char *pwhash)
{
    sqlite3 *db;
    sqlite3_stmt *u, *d, *c;
    char name[16], peer[16];
    if (sqlite3_open(path, &db) != SQLITE_OK)
        die("cannot open %s", path);
    sql(db, "PRAGMA synchronous = OFF; BEGIN");
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO users (name, pwhash, admin, disabled, created, broadcast)"
                           " VALUES (?1, ?2, 0, 0, 1, 0)",
                           -1, &u, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(
            db, "INSERT INTO devices (key, user, created, last_seen) VALUES (?1, ?2, 1, 1)", -1, &d,
            NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "INSERT INTO contacts (user, peer, rel, blocked, updated)"
                           " VALUES (?1, ?2, 3, 0, 1), (?2, ?1, 3, 0, 1)",
                           -1, &c, NULL) != SQLITE_OK)
        die("sqlite: %s", sqlite3_errmsg(db));
    for (size_t i = 0; i < B.n; i++) {
        bool login = B.c[i].role == R_LOGIN;
        name_of(i, name);
        sqlite3_bind_text(u, 1, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(u, 2, login ? pwhash : "x", -1, SQLITE_TRANSIENT);
        if (sqlite3_step(u) != SQLITE_DONE)
            die("sqlite: %s", sqlite3_errmsg(db));
        sqlite3_reset(u);
        if (login)
            continue;
        sqlite3_bind_blob(d, 1, identity_public(B.c[i].id), 32, SQLITE_TRANSIENT);
        sqlite3_bind_text(d, 2, name, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(d) != SQLITE_DONE)
            die("sqlite: %s", sqlite3_errmsg(db));
        sqlite3_reset(d);
        if (B.c[i].role == R_RECEIVER) {
            name_of(i - 1, peer);
            sqlite3_bind_text(c, 1, peer, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(c, 2, name, -1, SQLITE_TRANSIENT);
            if (sqlite3_step(c) != SQLITE_DONE)
                die("sqlite: %s", sqlite3_errmsg(db));
            sqlite3_reset(c);
        }
    }
    sqlite3_finalize(u);
    sqlite3_finalize(d);
    sqlite3_finalize(c);
    sql(db, "COMMIT");
    sqlite3_close(db);
}

/* The same rows in PostgreSQL (BENCH_RDV_PG), in one transaction. */
static void pg_ok(PGconn *db, PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        die("postgresql: %s", PQerrorMessage(db));
    PQclear(r);
}

static void prepare_pg(const char *url, const char *pwhash)
{
    PGconn *db = PQconnectdb(url);
    char name[16], peer[16];
    if (PQstatus(db) != CONNECTION_OK)
        die("postgresql: %s", PQerrorMessage(db));
    pg_ok(db, PQexec(db, "BEGIN"));
    for (size_t i = 0; i < B.n; i++) {
        bool login = B.c[i].role == R_LOGIN;
        name_of(i, name);
        const char *u[2] = {name, login ? pwhash : "x"};
        pg_ok(db,
              PQexecParams(db,
                           "INSERT INTO users (name, pwhash, admin, disabled, created, broadcast)"
                           " VALUES ($1, $2, 0, 0, 1, 0)",
                           2, NULL, u, NULL, NULL, 0));
        if (login)
            continue;
        const char *d[2] = {(const char *)identity_public(B.c[i].id), name};
        const int dl[2] = {32, 0}, df[2] = {1, 0};
        pg_ok(db, PQexecParams(db,
                               "INSERT INTO devices (key, \"user\", created, last_seen)"
                               " VALUES ($1, $2, 1, 1)",
                               2, NULL, d, dl, df, 0));
        if (B.c[i].role == R_RECEIVER) {
            name_of(i - 1, peer);
            const char *r[2] = {peer, name};
            pg_ok(db, PQexecParams(db,
                                   "INSERT INTO contacts (\"user\", peer, rel, blocked, updated)"
                                   " VALUES ($1, $2, 3, 0, 1), ($2, $1, 3, 0, 1)",
                                   2, NULL, r, NULL, NULL, 0));
        }
    }
    pg_ok(db, PQexec(db, "COMMIT"));
    PQfinish(db);
}

/* ---- the server ---- */

static const char *server_bin(void)
{
    const char *b = getenv("BENCH_RDV_BIN");
    return b && *b ? b : "bin/banter-rendezvous";
}

/* Run the server's CLI once (creates the schema). */
/* Run the server's CLI once (creates the schema); db is quoted for the
 * shell (a URL holds '&'), opts go before the command. */
static void run_cli(const char *db, const char *opts, const char *cmd)
{
    char line[2048];
    snprintf(line, sizeof line, "%s --db '%s' %s %s >/dev/null 2>&1", server_bin(), db, opts, cmd);
    if (system(line) != 0)
        die("%s failed", line);
}

/* Start the server with the arguments given (then --listen 127.0.0.1:0
 * serve), its log in B.dir/err; its port, once it listens (and, with
 * wait_join, once it joined its cluster). */
static uint16_t start_server(pid_t *pid, const char *err, bool wait_join, const char *a1,
                             const char *a2)
{
    char log[128], text[8192];
    snprintf(log, sizeof log, "%s/%s", B.dir, err);
    *pid = fork();
    if (*pid < 0)
        die("fork: %s", strerror(errno));
    if (*pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, 2) < 0)
            _exit(127);
        execl(server_bin(), server_bin(), a1, a2, "--listen", "127.0.0.1:0", "serve", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 300; i++) {
        FILE *f = fopen(log, "r");
        size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
        if (f)
            fclose(f);
        text[n] = '\0';
        const char *p = strstr(text, "listening on 127.0.0.1:");
        if (p && (!wait_join || strstr(text, "joined the service")))
            return (uint16_t)strtoul(p + strlen("listening on 127.0.0.1:"), NULL, 10);
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    die("the server did not start: %s", text);
}

/* BENCH_RDV_PG: the schema, an organisation key, two instances (rdv-a,
 * rdv-b) of one service on the database; B.port and B.port2. */
static void start_instances(const char *url)
{
    char org[128], line[1024], conf[128];
    snprintf(org, sizeof org, "--state %s/org", B.dir);
    run_cli(url, org, "user list");
    for (int k = 0; k < 2; k++) {
        char x = (char)('a' + k);
        snprintf(line, sizeof line, "instance new %s/%c.key --name rdv-%c", B.dir, x, x);
        run_cli(url, org, line);
        snprintf(line, sizeof line, "cp %s/org.key %s/s_%c.key", B.dir, B.dir, x);
        if (system(line) != 0)
            die("%s failed", line);
        snprintf(conf, sizeof conf, "%s/%c.conf", B.dir, x);
        FILE *f = fopen(conf, "w");
        if (!f)
            die("%s: %s", conf, strerror(errno));
        fprintf(f, "db = %s\nstate = %s/s_%c\ninstance = %s/%c.key\n", url, B.dir, x, B.dir, x);
        if (!getenv("BENCH_RDV_NOLINK")) /* links between the instances (xlink.h) */
            fprintf(f, "cluster_listen = 127.0.0.1:0\n");
        fclose(f);
    }
    snprintf(conf, sizeof conf, "%s/a.conf", B.dir);
    B.port = start_server(&B.srv, "server.err", true, "--config", conf);
    snprintf(conf, sizeof conf, "%s/b.conf", B.dir);
    B.port2 = start_server(&B.srv2, "server2.err", true, "--config", conf);
}

static long server_rss_kb(void)
{
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)B.srv);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

static double server_cpu_s(void)
{
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)B.srv);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f)
        fclose(f);
    text[n] = '\0';
    const char *p = strrchr(text, ')');
    unsigned long ut = 0, st = 0;
    if (p)
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ---- connections ---- */

static void want_out(bconn *c, bool on)
{
    if (c->pollout == on)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(B.ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
        die("epoll_ctl: %s", strerror(errno));
    c->pollout = on;
}

static void conn_dead(bconn *c, const char *why)
{
    if (c->state == ST_DEAD)
        return;
    if (B.dead < 3)
        fprintf(stderr, "bench_rendezvous: connection %zu: %s\n", (size_t)(c - B.c), why);
    if (c->state == ST_CONNECTING || c->state == ST_HANDSHAKE || c->state == ST_HELLO)
        B.hs_inflight--;
    c->state = ST_DEAD;
    B.dead++;
    epoll_ctl(B.ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
}

static void flush(bconn *c)
{
    size_t len;
    const uint8_t *p;
    if (c->ob && rvbatch_count(c->ob) > 0) {
        p = rvbatch_plaintext(c->ob, &len);
        if (session_send(c->s, p, len) != 0)
            conn_dead(c, "cannot queue a batch");
        rvbatch_reset(c->ob);
    }
    while (c->state != ST_DEAD && (p = session_out(c->s, &len)) != NULL) {
        ssize_t w = send(c->fd, p, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            want_out(c, true);
            return;
        }
        if (w <= 0) {
            conn_dead(c, "write failed");
            return;
        }
        session_out_consume(c->s, (size_t)w);
    }
    if (c->state != ST_DEAD)
        want_out(c, false);
}

static void send_pt(bconn *c, const uint8_t *pt, size_t len)
{
    if (c->batch_ok && c->state == ST_READY) {
        if (!c->ob && (c->ob = malloc(sizeof *c->ob)) != NULL)
            rvbatch_init(c->ob);
        if (!c->ob)
            die("out of memory");
        int r = rvbatch_add(c->ob, pt, len);
        if (r == BANTER_ETOOBIG) { /* full: seal it, start another */
            const uint8_t *p = rvbatch_plaintext(c->ob, &len);
            if (session_send(c->s, p, len) != 0)
                conn_dead(c, "cannot queue a batch");
            rvbatch_reset(c->ob);
            r = rvbatch_add(c->ob, pt, len);
        }
        if (r != 0)
            die("cannot batch a message: %s", banter_strerror(r));
        return;
    }
    if (session_send(c->s, pt, len) != 0)
        conn_dead(c, "cannot queue a message");
}

static void open_conn(bconn *c, size_t i)
{
    struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(i % SOURCES));
    dst.sin_addr.s_addr = htonl(0x7f000001u);
    dst.sin_port = htons(c->far ? B.port2 : B.port);
    int one = 1;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        die("socket: %s (raise the open file limit)", strerror(errno));
    (void)setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (bind(c->fd, (struct sockaddr *)&src, sizeof src) != 0)
        die("bind 127.0.0.%u: %s", 2 + (unsigned)(i % SOURCES), strerror(errno));
    if (connect(c->fd, (struct sockaddr *)&dst, sizeof dst) != 0 && errno != EINPROGRESS)
        die("connect: %s", strerror(errno));
    session_config sc = {.role = NOISE_INITIATOR, .id = c->id, .rng = bcrypto_rng_system()};
    if (session_new(&c->s, &sc) != 0)
        die("session_new");
    c->state = ST_CONNECTING;
    c->pollout = true;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(B.ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        die("epoll_ctl: %s", strerror(errno));
    B.hs_inflight++;
}

static void send_hello(bconn *c)
{
    msg h = {.type = MSG_HELLO};
    h.u.hello.version = SESSION_VERSION;
    snprintf(h.u.hello.name, sizeof h.u.hello.name, "bench");
    if (c->batch) {
        snprintf(h.u.hello.features[0], sizeof h.u.hello.features[0], "%s", RVBATCH_FEATURE);
        h.u.hello.nfeatures = 1;
    }
    if (session_send_msg(c->s, &h) != 0)
        conn_dead(c, "cannot send HELLO");
    c->state = ST_HELLO;
}

static void send_login(bconn *c, size_t i)
{
    rvmsg m = {.type = RV_LOGIN};
    buf b;
    buf_init(&b, 4096);
    name_of(i, m.u.login.user);
    snprintf(m.u.login.password, sizeof m.u.login.password, "%s", PASSWORD);
    if (rvmsg_encode(&m, &b) != 0)
        die("encode RV_LOGIN");
    send_pt(c, buf_data(&b), buf_len(&b));
    buf_free(&b);
    rvmsg_clear(&m);
}

static void send_ping(bconn *c)
{
    uint8_t p[9] = {MSG_PING};
    memcpy(p + 1, &c->next, 8);
    c->next++;
    c->outstanding++;
    send_pt(c, p, sizeof p);
}

/* One RV_SEAL from sender c to its receiver (opaque bytes: the server
 * sees sizes only). */
static void send_seal(bconn *c)
{
    uint8_t p[1 + RV_ID_LEN + 1 + 1 + 16 + RV_KEY_LEN + SEALED_LEN];
    char to[16];
    size_t o = 0;
    name_of(c->peer, to);
    size_t tl = strlen(to);
    p[o++] = RV_SEAL;
    memset(p + o, 0, RV_ID_LEN);
    memcpy(p + o, &c->next, 8);
    memcpy(p + o + 8, &c, sizeof c);
    o += RV_ID_LEN;
    p[o++] = 0;
    p[o++] = (uint8_t)tl;
    memcpy(p + o, to, tl);
    o += tl;
    memcpy(p + o, identity_public(B.c[c->peer].id), RV_KEY_LEN);
    o += RV_KEY_LEN;
    memset(p + o, 0x5a, SEALED_LEN);
    o += SEALED_LEN;
    c->next++;
    c->outstanding++;
    send_pt(c, p, o);
}

/* RV_DELIVERED for the id of an RV_SEALED (hand-encoded: {"id":"<hex>"}). */
static void send_delivered(bconn *c, const uint8_t *id)
{
    static const char head[] = "\x2b{\"id\":\"", hx[] = "0123456789abcdef";
    char p[sizeof head - 1 + 2 * RV_ID_LEN + 2 + 1];
    memcpy(p, head, sizeof head - 1);
    for (size_t i = 0; i < RV_ID_LEN; i++) {
        p[sizeof head - 1 + 2 * i] = hx[id[i] >> 4];
        p[sizeof head + 2 * i] = hx[id[i] & 15];
    }
    memcpy(p + sizeof head - 1 + 2 * RV_ID_LEN, "\"}", 2);
    send_pt(c, (const uint8_t *)p, sizeof p - 1);
}

static void on_message(bconn *c, const uint8_t *pt, size_t len)
{
    switch (pt[0]) {
    case RV_BATCH: {
        size_t n;
        const uint8_t *m;
        if (!c->batch_ok || rvbatch_check(pt, len, &n) != 0) {
            conn_dead(c, "a malformed or unexpected RV_BATCH");
            break;
        }
        rvbatch_iter it = rvbatch_iter_make(pt, len);
        while (c->state != ST_DEAD && rvbatch_next(&it, &m, &n))
            on_message(c, m, n);
        break;
    }
    case MSG_PING: {
        uint8_t pong[9];
        if (len != 9)
            break;
        memcpy(pong, pt, 9);
        pong[0] = MSG_PONG;
        send_pt(c, pong, 9);
        break;
    }
    case MSG_HELLO: {
        msg h;
        if (msg_decode(&h, pt, len) != 0)
            break;
        for (size_t i = 0; i < h.u.hello.nfeatures; i++)
            c->batch_ok |= c->batch && strcmp(h.u.hello.features[i], RVBATCH_FEATURE) == 0;
        msg_clear(&h);
        break;
    }
    case MSG_PONG:
        c->outstanding--;
        B.pongs++;
        if (B.mode == MODE_PING)
            send_ping(c);
        break;
    case RV_AUTH:
        if (!memmem(pt, len, "\"ok\":true", 9)) {
            B.authfail++;
            conn_dead(c, "not authenticated");
        } else if (c->role == R_LOGIN && c->state != ST_READY) {
            c->state = ST_READY;
            B.ready++;
        }
        break;
    case RV_CONTACTS:
        if (c->state == ST_HELLO) {
            c->state = ST_READY;
            B.ready++;
            B.hs_inflight--;
        }
        break;
    case RV_SEALED:
        if (len > 1 + RV_ID_LEN)
            send_delivered(c, pt + 1);
        break;
    case RV_STORED:
        c->outstanding--;
        if (memmem(pt, len, "\"delivered\"", 11)) {
            B.delivered++;
        } else if (B.errors++ < 3) {
            fprintf(stderr, "bench_rendezvous: %.*s\n", (int)len - 1, pt + 1);
        }
        if (B.mode == MODE_ROUTE)
            send_seal(c);
        break;
    case MSG_ERROR:
        if (B.errors++ < 3)
            fprintf(stderr, "bench_rendezvous: ERROR %.*s\n", (int)len - 1, pt + 1);
        break;
    default:
        break;
    }
}

static void on_readable(bconn *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, B.rbuf, sizeof B.rbuf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {
            conn_dead(c, n == 0 ? "closed by the server" : "read failed");
            return;
        }
        const uint8_t *in = B.rbuf;
        size_t left = (size_t)n;
        while (c->state != ST_DEAD) {
            size_t used;
            session_event ev;
            int r = session_feed(c->s, in, left, &used, &ev);
            in += used;
            left -= used;
            if (r < 0) {
                conn_dead(c, banter_strerror(r));
                return;
            }
            if (r == 0)
                break;
            if (ev.type == SESSION_EV_ESTABLISHED) {
                send_hello(c);
                if (c->role == R_LOGIN)
                    send_login(c, (size_t)(c - B.c));
            } else if (ev.len > 0) {
                on_message(c, ev.data, ev.len);
            }
        }
        if ((size_t)n < sizeof B.rbuf)
            break;
    }
    flush(c);
}

static void on_event(bconn *c, uint32_t events)
{
    if (c->state == ST_DEAD)
        return;
    if (c->state == ST_CONNECTING && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t l = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err) {
            conn_dead(c, strerror(err));
            return;
        }
        c->state = ST_HANDSHAKE;
        flush(c);
        return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        on_readable(c);
    if (c->state != ST_DEAD && (events & EPOLLOUT))
        flush(c);
}

static void poll_once(int ms)
{
    struct epoll_event evs[512];
    int n = epoll_wait(B.ep, evs, 512, ms);
    for (int i = 0; i < n; i++)
        on_event(evs[i].data.ptr, evs[i].events);
}

/* Open connections [from, to) with at most HS_INFLIGHT handshakes at once;
 * returns when all are ready or dead, or after timeout s. */
static void connect_range(size_t from, size_t to, double timeout)
{
    size_t next = from, want = B.ready + (to - from);
    double end = now() + timeout;
    while (now() < end) {
        while (next < to && B.hs_inflight < HS_INFLIGHT) {
            open_conn(&B.c[next], next);
            next++;
        }
        if (B.ready >= want || (next == to && B.hs_inflight == 0))
            break;
        poll_once(20);
    }
}

/* Run the loop (answering keepalives) until path exists. */
static void hold_until(const char *path)
{
    while (access(path, F_OK) != 0)
        poll_once(200);
}

/* Run the loop for s seconds. */
static void run_for(double s)
{
    double end = now() + s;
    while (now() < end)
        poll_once(5);
}

/* ---- the phases ---- */

static void raise_nofile(size_t want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_max < want) {
        struct rlimit up = {want, want};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            return; /* root: the hard limit too (the server inherits it) */
    }
    rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
}

static size_t fd_budget(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    return rl.rlim_cur > 200 ? (size_t)rl.rlim_cur - 200 : 0;
}

/* Traffic of one kind on every connection of one group of pairs (0: plain,
 * 1: batched) for s seconds; the rate per second of what it counts. */
static double measure(int mode, int group, double s)
{
    size_t first = B.n_idle + (size_t)group * 2 * B.pairs, last = first + 2 * B.pairs;
    B.mode = mode;
    for (size_t i = first; i < last; i++) {
        bconn *c = &B.c[i];
        if (c->state != ST_READY || (mode == MODE_ROUTE && c->role != R_SENDER))
            continue;
        for (int w = 0; w < WINDOW; w++)
            mode == MODE_PING ? send_ping(c) : send_seal(c);
        flush(c);
    }
    run_for(0.5); /* warm up */
    uint64_t c0 = mode == MODE_PING ? B.pongs : B.delivered;
    double t0 = now(), cpu0 = server_cpu_s();
    run_for(s);
    double t = now() - t0, cpu = server_cpu_s() - cpu0;
    uint64_t n = (mode == MODE_PING ? B.pongs : B.delivered) - c0;
    B.mode = MODE_NONE;
    /* Let what is in flight come back. */
    for (int i = 0; i < 400; i++) {
        bool busy = false;
        for (size_t k = first; k < last && !busy; k++)
            busy = B.c[k].state == ST_READY && B.c[k].outstanding > 0;
        if (!busy)
            break;
        poll_once(5);
    }
    B.last_cpu = cpu / t;
    printf("bench_rendezvous:   (server CPU %.0f%% of one core during the measurement)\n",
           100.0 * cpu / t);
    return (double)n / t;
}

/* Stop the server, remove the scratch directory, free the clients. */
static void finish(void)
{
    int st;
    if (B.srv2) {
        kill(B.srv2, SIGTERM);
        waitpid(B.srv2, &st, 0);
        B.srv2 = 0;
    }
    kill(B.srv, SIGTERM);
    waitpid(B.srv, &st, 0);
    B.srv = 0;
    char rm[160];
    snprintf(rm, sizeof rm, "rm -rf %s", B.dir);
    if (getenv("BENCH_RDV_KEEP")) /* the servers' logs, to read */
        fprintf(stderr, "bench_rendezvous: kept %s\n", B.dir);
    else if (system(rm) != 0)
        fprintf(stderr, "bench_rendezvous: cannot remove %s\n", B.dir);
    for (size_t i = 0; i < B.n; i++) {
        if (B.c[i].state != ST_DEAD && B.c[i].fd >= 0)
            close(B.c[i].fd);
        session_free(B.c[i].s);
        identity_free(B.c[i].id);
        if (B.c[i].ob)
            rvbatch_free(B.c[i].ob);
        free(B.c[i].ob);
    }
    free(B.c);
}

int main(void)
{
    size_t conns = env_size("BENCH_RDV_CONNS", 50000, 0, 1000000);
    double secs = (double)env_size("BENCH_RDV_SECONDS", 3, 1, 600);
    char db[128], hash[BCRYPTO_PWHASH_STRLEN];
    if (bcrypto_init() != 0)
        die("libsodium");
    signal(SIGPIPE, SIG_IGN);
    B.pairs = env_size("BENCH_RDV_PAIRS", 64, 1, 10000);
    B.pg = getenv("BENCH_RDV_PG");
    if (B.pg && !*B.pg)
        B.pg = NULL;
    B.pc = 4 * B.pairs;
    raise_nofile(conns + B.pc + LOGINS + 4096);
    /* The server inherits the limit; each process needs one descriptor per
     * connection and a few of its own. */
    size_t budget = fd_budget() > B.pc + LOGINS ? fd_budget() - B.pc - LOGINS : 0;
    if (conns > budget) {
        struct rlimit rl;
        getrlimit(RLIMIT_NOFILE, &rl);
        printf("bench_rendezvous: the open file limit here is %llu (hard; raising it needs "
               "CAP_SYS_RESOURCE): %zu idle connections, not %zu\n",
               (unsigned long long)rl.rlim_max, budget, conns);
        conns = budget;
    }
    B.n_idle = conns;
    B.n = B.n_idle + B.pc + LOGINS;
    B.c = calloc(B.n, sizeof *B.c);
    if (!B.c)
        die("out of memory");
    double t0 = now();
    for (size_t i = 0; i < B.n; i++) {
        bconn *c = &B.c[i];
        c->role = i < B.n_idle          ? R_IDLE
                  : i < B.n_idle + B.pc ? ((i - B.n_idle) % 2 ? R_RECEIVER : R_SENDER)
                                        : R_LOGIN;
        bool second = i >= B.n_idle + 2 * B.pairs && i < B.n_idle + B.pc;
        c->batch = second && !B.pg;
        c->far = second && B.pg && c->role == R_RECEIVER;
        c->id = device(i, c->role == R_LOGIN ? (uint32_t)getpid() : 0);
        c->peer = (uint32_t)(i + 1);
        c->fd = -1;
    }
    snprintf(B.dir, sizeof B.dir, "/tmp/bench_rdv.XXXXXX");
    if (!mkdtemp(B.dir))
        die("mkdtemp");
    snprintf(db, sizeof db, "%s/rdv.db", B.dir);
    char org[128];
    snprintf(org, sizeof org, "--state %s/org", B.dir);
    run_cli(B.pg ? B.pg : db, B.pg ? org : "", "user list"); /* the schema */
    if (bcrypto_pwhash_str(hash, PASSWORD, strlen(PASSWORD)) != 0)
        die("Argon2id");
    if (B.pg)
        prepare_pg(B.pg, hash);
    else
        prepare_db(db, hash);
    printf("bench_rendezvous: %zu device keys made and bound in the database in %.1f s (first "
           "logins with Argon2id would take about %.0f min)\n",
           B.n - LOGINS, now() - t0, (double)B.n_idle / 14.0 / 60.0);
    if (B.pg)
        start_instances(B.pg);
    else
        B.port = start_server(&B.srv, "server.err", false, "--db", db);
    B.ep = epoll_create1(EPOLL_CLOEXEC);

    /* 1, 2: connections and memory */
    long rss0 = server_rss_kb();
    t0 = now();
    connect_range(0, B.n_idle / 2, 600);
    run_for(1.0);
    long rss_half = server_rss_kb();
    size_t half = B.ready;
    connect_range(B.n_idle / 2, B.n_idle, 600);
    double tc = now() - t0;
    run_for(1.0);
    long rss1 = server_rss_kb();
    size_t held = B.ready;
    printf("bench_rendezvous: %zu authenticated connections held (%zu failed) from %d source "
           "addresses, set up in %.1f s (%.0f/s: Noise handshake, HELLO, RV_AUTH, RV_CERT, "
           "contact list); target 50000\n",
           held, B.dead, SOURCES, tc, (double)held / tc);
    if (held)
        printf("bench_rendezvous: server memory per connection: %.0f bytes (RSS %ld -> %ld KiB); "
               "target <= 1024\n",
               (double)(rss1 - rss0) * 1024.0 / (double)held, rss0, rss1);
    if (held > half)
        printf("bench_rendezvous: server memory per connection, marginal (the second half of the "
               "connections, without what the first filled once, e.g. SQLite's page cache): "
               "%.0f bytes (RSS %ld -> %ld KiB for %zu more)\n",
               (double)(rss1 - rss_half) * 1024.0 / (double)(held - half), rss_half, rss1,
               held - half);
    /* Held a while longer: what the login burst queued has drained and the
     * server's heap_tick (every 10 s) gave back the pages it left free. */
    run_for(12.0);
    long rss2 = server_rss_kb();
    if (B.ready)
        printf("bench_rendezvous: server memory per connection, settled (12 s later, %zu held): "
               "%.0f bytes (RSS %ld -> %ld KiB); target <= 1024\n",
               B.ready, (double)(rss2 - rss0) * 1024.0 / (double)B.ready, rss0, rss2);

    const char *hold = getenv("BENCH_RDV_HOLD");
    if (hold && *hold) {
        char go[512], done[512];
        snprintf(go, sizeof go, "%s.go", hold);
        snprintf(done, sizeof done, "%s.done", hold);
        printf("bench_rendezvous: holding %zu connections (pid %d)\n", B.ready, (int)getpid());
        fflush(stdout);
        hold_until(go);
        const char *m = getenv("BENCH_RDV_MEASURE");
        if (m && strcmp(m, "0") == 0) {
            hold_until(done);
            printf("bench_rendezvous: still held at the end: %zu (%zu failed)\n", B.ready, B.dead);
            fflush(stdout);
            finish();
            return B.authfail ? 1 : 0;
        }
    }

    /* 3: routing, against the ping rate; plain pairs, then batched ones */
    connect_range(B.n_idle, B.n_idle + B.pc, 60);
    double ping = measure(MODE_PING, 0, secs);
    printf("bench_rendezvous: baseline: %.0f PING/PONG round trips/s (%zu connections, %d "
           "unanswered each)\n",
           ping, 2 * B.pairs, WINDOW);
    double routed = measure(MODE_ROUTE, 0, secs), cpu = B.last_cpu;
    printf("bench_rendezvous: routed: %.0f messages/s between online devices (%zu pairs, RV_SEAL "
           "-> RV_SEALED -> RV_DELIVERED -> RV_STORED delivered; %zu idle connections held), "
           "%.2f x the ping rate; target >= 400000/s\n",
           routed, B.pairs, held, routed / ping);
    if (cpu > 0)
        printf("bench_rendezvous: routed per second of server CPU: %.0f messages (the server "
               "used %.0f%% of a core; client and server share this machine's cores)\n",
               routed / cpu, 100.0 * cpu);
    if (B.pg) {
        double far = measure(MODE_ROUTE, 1, secs);
        printf("bench_rendezvous: routed between instances (sender on rdv-a, receiver on rdv-b, "
               "both on one PostgreSQL): %.0f messages/s (%zu other pairs), %.3f x the "
               "same-instance rate of this run (%.0f/s); target >= 0.5 x\n",
               far, B.pairs, routed > 0 ? far / routed : 0.0, routed);
        fflush(stdout);
        finish();
        return B.authfail ? 1 : 0;
    }
    double routed_b = measure(MODE_ROUTE, 1, secs), cpu_b = B.last_cpu;
    printf("bench_rendezvous: routed, batched (HELLO feature \"batch\", RV_BATCH both ways): "
           "%.0f messages/s (%zu other pairs), %.2f x the unbatched rate\n",
           routed_b, B.pairs, routed > 0 ? routed_b / routed : 0.0);
    if (cpu > 0 && cpu_b > 0)
        printf("bench_rendezvous: routed, batched, per second of server CPU: %.0f messages (the "
               "server used %.0f%% of a core), %.2f x the unbatched figure\n",
               routed_b / cpu_b, 100.0 * cpu_b, (routed_b / cpu_b) / (routed / cpu));

    /* 4: first logins */
    size_t before = B.ready;
    t0 = now();
    connect_range(B.n - LOGINS, B.n, 120);
    while (B.ready < before + LOGINS && B.dead == 0 && now() - t0 < 120)
        poll_once(20);
    double tl = now() - t0;
    printf("bench_rendezvous: first logins: %.1f/s (%zu in %.2f s; Argon2id t=2, 64 MiB, at most 2 "
           "at a time: each costs ~0.1 s of a core and 64 MiB)\n",
           (double)(B.ready - before) / tl, B.ready - before, tl);
    fflush(stdout);

    finish();
    return B.authfail ? 1 : 0;
}
