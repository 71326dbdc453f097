/* SPDX-License-Identifier: MIT */
/* web.c - the web interface: libsoup server, checks, assets, WebSockets as
 * control clients, uploads (web.h). */
#include "ui/web.h"

#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libsoup/soup.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "bcrypto.h"
#include "core/home.h"
#include "ctlmsg.h"
#include "fpath.h"
#include "msg.h"
#include "ui/acceptor.h"
#include "utf8.h"
#include "web_res.h"

#define TOKEN_LEN      32
#define TOKEN_HEX      (2 * TOKEN_LEN)
#define COOKIE_HEX     64
#define WS_KEEPALIVE_S 30
#define MAX_PEER_ARG   256
#define ID_HEX         (2 * MSG_ID_LEN)

/* One WebSocket: a control client. What it was sent and what the page
 * acknowledged ({"ack":N}, docs/web.md): past WEB_WS_WINDOW frames or
 * WEB_WS_WINDOW_BYTES bytes unacknowledged it is dropped. libsoup queues
 * what it cannot write without saying how much: this is that count. */
typedef struct wsconn {
    web *w;
    SoupWebsocketConnection *ws;
    control_client *cc;
    GSocket *sock; /* its connection (a ref), shut down to drop it */
    uint64_t sent, acked, bytes;
    uint64_t *at; /* [WEB_WS_WINDOW + 1]: bytes before frame i, at i % (WEB_WS_WINDOW + 1) */
    bool dropped;
} wsconn;

/* One TCP connection to the server, from accept until libsoup closes it. */
typedef struct wconn {
    GSocket *sock;          /* a ref: closed (g_socket_is_closed) when libsoup is done */
    GSocketAddress *remote; /* a ref: the object libsoup's messages give back */
    int64_t since;          /* when it began waiting for request headers (ms), or 0 */
    bool waiting;           /* a request's headers are not all in yet */
    bool ws;                /* a WebSocket: no deadline, no eviction */
    bool killed;            /* shut down by us (deadline, eviction): closing */
} wconn;

typedef struct upload { /* one POST /upload, then its send_file request */
    web *w;
    SoupServerMessage *msg; /* NULL once soup is done with it */
    int fd;
    char dir[HOME_PATH_MAX + 8];
    char path[HOME_PATH_MAX + 8 + 300];
    char peer[MAX_PEER_ARG + 1];
    goffset expect, got;
    int err;            /* errno of a failed write */
    control_client *cc; /* the send_file request, while it waits */
    GSource *idle;      /* detaches cc outside its callback */
    bool offered;       /* send_file answered ok: the folder stays */
    /* A file for a group (peer "%GROUP"): group_members, then one
     * send_file per other member, one after the other. */
    bool group;
    GPtrArray *targets; /* char *: each other member's peer argument, once the members are in */
    guint next;         /* the target whose send_file is asked now */
    GSource *step;      /* asks the next one, outside the reply's callback */
    cJSON *offers;      /* the POST's answer so far: one entry per target */
    GString *ids;       /* the transfers offered, one id per line (the folder's mark) */
} upload;

struct web {
    control *ctl;
    GMainContext *ctx;
    SoupServer *srv;
    int lfd;        /* our listening socket (libsoup only serves) */
    acceptor *acc;  /* its accept loop */
    GList *conns;   /* wconn, newest first */
    GSource *sweep; /* deadlines, while there are connections */
    unsigned timed_out, evicted, refused;
    uint16_t port;
    char token[TOKEN_HEX + 1];
    char cookie[COOKIE_HEX + 1];
    char cookie_name[24];
    char host1[32], host2[32];     /* 127.0.0.1:PORT, localhost:PORT */
    char origin1[40], origin2[40]; /* http:// + the same */
    char csp[512];
    char uploads[HOME_PATH_MAX];
    GList *socks; /* wsconn */
    GList *ups;   /* upload */
    control_client *janitor;
    bool janitor_listening;
    GHashTable *up_dirs; /* transfer id (hex) -> upload folder */
};

/* ---- the token ---- */

static bool is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!g_ascii_isxdigit(s[i]) || g_ascii_isupper(s[i]))
            return false;
    return s[n] == '\0';
}

static int new_token(web *w, const char *path, char *why, size_t cap)
{
    uint8_t raw[TOKEN_LEN];
    banter_rng rng = bcrypto_rng_system();
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(why, cap, "cannot create %s: %s", path, g_strerror(errno));
        return BANTER_EIO;
    }
    rng.fill(rng.ctx, raw, sizeof raw);
    sodium_bin2hex(w->token, sizeof w->token, raw, sizeof raw);
    bcrypto_wipe(raw, sizeof raw);
    w->token[TOKEN_HEX] = '\n';
    bool ok = write(fd, w->token, TOKEN_HEX + 1) == TOKEN_HEX + 1 && fsync(fd) == 0;
    w->token[TOKEN_HEX] = '\0';
    if (close(fd) != 0 || !ok) {
        snprintf(why, cap, "cannot write %s: %s", path, g_strerror(errno));
        unlink(path);
        return BANTER_EIO;
    }
    return 0;
}

/* DIR/web.token: a new key at every start, so the one a page kept from an
 * earlier start opens nothing (such a page sends it to whatever listens on
 * its port, which after the node moved to another may be someone else's
 * server); written beside it and renamed over it. Then the cookie derived
 * from it. */
static int load_token(web *w, const char *dir, char *why, size_t cap)
{
    char path[HOME_PATH_MAX + 16], tmp[HOME_PATH_MAX + 20];
    uint8_t mac[BCRYPTO_HASHLEN];
    static const char label[] = "banter web page cookie v1";
    snprintf(path, sizeof path, "%s/web.token", dir);
    snprintf(tmp, sizeof tmp, "%s/web.token.new", dir);
    if (unlink(tmp) != 0 && errno != ENOENT) {
        snprintf(why, cap, "cannot remove %s: %s", tmp, g_strerror(errno));
        return BANTER_EIO;
    }
    int r = new_token(w, tmp, why, cap);
    if (r == 0 && rename(tmp, path) != 0) {
        snprintf(why, cap, "cannot replace %s: %s", path, g_strerror(errno));
        unlink(tmp);
        r = BANTER_EIO;
    }
    if (r)
        return r;
    bcrypto_hmac(mac, (const uint8_t *)w->token, TOKEN_HEX, (const uint8_t *)label,
                 sizeof label - 1);
    sodium_bin2hex(w->cookie, sizeof w->cookie, mac, COOKIE_HEX / 2);
    bcrypto_wipe(mac, sizeof mac);
    return 0;
}

static bool token_ok(const web *w, const char *given)
{
    return given && strlen(given) == TOKEN_HEX && bcrypto_equal(given, w->token, TOKEN_HEX);
}

/* ---- checks every request passes ---- */

static const char *req_header(SoupServerMessage *sm, const char *name)
{
    return soup_message_headers_get_one(soup_server_message_get_request_headers(sm), name);
}

static void refuse(SoupServerMessage *sm, guint status, const char *text)
{
    SoupMessageHeaders *h = soup_server_message_get_response_headers(sm);
    soup_message_headers_replace(h, "Connection", "close");
    soup_server_message_set_status(
        sm, status, status == SOUP_STATUS_MISDIRECTED_REQUEST ? "Misdirected Request" : NULL);
    soup_server_message_set_response(sm, "text/plain; charset=utf-8", SOUP_MEMORY_COPY, text,
                                     strlen(text));
}

/* Host, Origin (required when need_origin) and Sec-Fetch-Site: requests
 * from other sites (or other ports: same-site) are refused, except a
 * navigation that brings the key (`banter open` goes through a local file,
 * a cross-site origin; only the key matters then). */
static bool check_common(const web *w, SoupServerMessage *sm, bool need_origin, bool key_nav)
{
    const char *host = req_header(sm, "Host");
    const char *origin = req_header(sm, "Origin");
    const char *site = req_header(sm, "Sec-Fetch-Site");
    if (!host || (strcmp(host, w->host1) != 0 && g_ascii_strcasecmp(host, w->host2) != 0)) {
        refuse(sm, SOUP_STATUS_MISDIRECTED_REQUEST,
               "Banter answers only to http://127.0.0.1 and http://localhost on its port.\n");
        return false;
    }
    if ((origin || need_origin) &&
        (!origin || (strcmp(origin, w->origin1) != 0 && strcmp(origin, w->origin2) != 0))) {
        refuse(sm, SOUP_STATUS_FORBIDDEN, "Requests from other web pages are refused.\n");
        return false;
    }
    const char *mode = req_header(sm, "Sec-Fetch-Mode");
    if (key_nav && mode && strcmp(mode, "navigate") == 0)
        site = NULL;
    if (site && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0) {
        refuse(sm, SOUP_STATUS_FORBIDDEN, "Requests from other web pages are refused.\n");
        return false;
    }
    return true;
}

static bool cookie_ok(const web *w, SoupServerMessage *sm)
{
    const char *header = req_header(sm, "Cookie");
    if (!header)
        return false;
    GHashTable *t = soup_header_parse_semi_param_list(header);
    const char *v = g_hash_table_lookup(t, w->cookie_name);
    bool ok = v && strlen(v) == COOKIE_HEX && bcrypto_equal(v, w->cookie, COOKIE_HEX);
    soup_header_free_param_list(t);
    return ok;
}

/* ---- connections: cap, header deadline ---- */

static int64_t mono_ms(void) { return g_get_monotonic_time() / 1000; }

/* The connection of a message. libsoup knows a connection handed to it
 * by its stream and addresses only (soup_server_message_get_socket is
 * NULL then), and keeps the remote address object it was given. */
static wconn *find_conn(const web *w, SoupServerMessage *sm)
{
    const GSocketAddress *remote = soup_server_message_get_remote_address(sm);
    for (GList *l = w->conns; remote && l; l = l->next)
        if (((wconn *)l->data)->remote == remote)
            return l->data;
    return NULL;
}

/* Shut the connection down: libsoup reads the end and closes it. */
static void conn_kill(wconn *c)
{
    c->killed = true;
    g_socket_shutdown(c->sock, TRUE, TRUE, NULL);
}

static void on_got_headers(SoupServerMessage *sm, gpointer v)
{
    wconn *c = find_conn(v, sm);
    g_signal_handlers_disconnect_by_func(sm, G_CALLBACK(on_got_headers), v);
    if (c)
        c->waiting = false;
}

/* Forget the connections libsoup closed. */
static void prune(web *w)
{
    for (GList *l = w->conns, *next; l; l = next) {
        wconn *c = l->data;
        next = l->next;
        if (g_socket_is_closed(c->sock)) {
            w->conns = g_list_delete_link(w->conns, l);
            g_object_unref(c->sock);
            g_clear_object(&c->remote);
            g_free(c);
        }
    }
}

/* Every second while a connection waits for its request headers (or was
 * shut and is not closed yet): shut those that are late. An open page
 * (its WebSocket) does not keep the timer going. */
static gboolean on_sweep(gpointer v)
{
    web *w = v;
    int64_t now = mono_ms();
    bool need = false;
    prune(w);
    for (GList *l = w->conns; l; l = l->next) {
        wconn *c = l->data;
        if (c->waiting && !c->killed && now - c->since >= WEB_HEADER_TIMEOUT_MS) {
            w->timed_out++;
            conn_kill(c);
        } else if (c->killed && now - c->since >= 2 * WEB_HEADER_TIMEOUT_MS) {
            g_socket_close(c->sock, NULL); /* libsoup never noticed: close it under it */
        }
        need = need || c->waiting || c->killed;
    }
    if (need)
        return G_SOURCE_CONTINUE;
    g_source_unref(w->sweep);
    w->sweep = NULL;
    return G_SOURCE_REMOVE;
}

static void sweep_start(web *w)
{
    if (w->sweep)
        return;
    w->sweep = g_timeout_source_new(WEB_SWEEP_MS);
    g_source_set_callback(w->sweep, on_sweep, w, NULL);
    g_source_attach(w->sweep, w->ctx);
}

/* Room for one more connection: at WEB_MAX_CONNS the oldest one still
 * waiting for its request headers is shut (the owner's browser sends
 * them at once; a slow one waits its turn); false when none is. */
static bool make_room(web *w)
{
    unsigned live = 0, closing = 0;
    wconn *oldest = NULL;
    for (GList *l = w->conns; l; l = l->next) {
        wconn *c = l->data;
        if (g_socket_is_closed(c->sock))
            continue;
        if (c->killed) { /* shut, not closed by libsoup yet: still a descriptor */
            closing++;
            continue;
        }
        live++;
        if (c->waiting && !c->ws)
            oldest = c; /* the list is newest first */
    }
    if (live < WEB_MAX_CONNS)
        return true;
    /* A burst faster than libsoup closes what was shut: refuse rather than
     * hold more than WEB_MAX_CONNS + WEB_MAX_CLOSING descriptors. */
    if (!oldest || closing >= WEB_MAX_CLOSING)
        return false;
    w->evicted++;
    conn_kill(oldest);
    return true;
}

static void on_accept(void *ud, int fd)
{
    web *w = ud;
    GError *err = NULL;
    prune(w);
    if (!make_room(w)) {
        w->refused++;
        close(fd);
        return;
    }
    GSocket *sock = g_socket_new_from_fd(fd, &err);
    if (!sock) {
        g_clear_error(&err);
        close(fd);
        return;
    }
    GSocketConnection *sc = g_socket_connection_factory_create_connection(sock);
    GSocketAddress *local = g_socket_get_local_address(sock, NULL);
    GSocketAddress *remote = g_socket_get_remote_address(sock, NULL);
    wconn *c = g_new0(wconn, 1);
    c->sock = sock; /* our ref */
    c->remote = remote ? g_object_ref(remote) : NULL;
    c->since = mono_ms();
    c->waiting = true;
    w->conns = g_list_prepend(w->conns, c);
    sweep_start(w);
    if (!local || !remote ||
        !soup_server_accept_iostream(w->srv, G_IO_STREAM(sc), local, remote, &err)) {
        g_clear_error(&err);
        g_socket_close(sock, NULL); /* forgotten by the next sweep */
    }
    g_clear_object(&local);
    g_clear_object(&remote);
    g_object_unref(sc);
}

static void on_request_started(SoupServer *srv, SoupServerMessage *sm, gpointer v)
{
    web *w = v;
    SoupMessageHeaders *h = soup_server_message_get_response_headers(sm);
    wconn *c = find_conn(w, sm);
    (void)srv;
    if (c) { /* a new request on it: its headers are due within the deadline */
        c->waiting = true;
        c->since = mono_ms();
        g_signal_connect(sm, "got-headers", G_CALLBACK(on_got_headers), w);
        sweep_start(w);
    }
    soup_message_headers_append(h, "Content-Security-Policy", w->csp);
    soup_message_headers_append(h, "X-Content-Type-Options", "nosniff");
    soup_message_headers_append(h, "Referrer-Policy", "no-referrer");
    soup_message_headers_append(h, "X-Frame-Options", "DENY");
    soup_message_headers_append(h, "Cross-Origin-Opener-Policy", "same-origin");
    soup_message_headers_append(h, "Cross-Origin-Resource-Policy", "same-origin");
    soup_message_headers_append(h, "Cache-Control", "no-store");
}

/* Early handler of every path: bodies are never kept in memory (only
 * /upload reads one, streaming); then the common checks. */
static void early_check(SoupServer *srv, SoupServerMessage *sm, const char *path, GHashTable *query,
                        gpointer v)
{
    bool key = query && g_hash_table_lookup(query, "t") && strcmp(path, "/") == 0;
    (void)srv;
    /* One request per connection (libsoup keeps none alive for a server
     * fed by soup_server_accept_iostream): say so. A WebSocket's upgrade
     * answer says "Upgrade" instead. */
    if (strcmp(path, "/ws") != 0)
        soup_message_headers_replace(soup_server_message_get_response_headers(sm), "Connection",
                                     "close");
    soup_message_body_set_accumulate(soup_server_message_get_request_body(sm), FALSE);
    check_common(v, sm, strcmp(path, "/ws") == 0, key);
}

/* ---- the page ---- */

static const struct asset {
    const char *path, *res, *type;
} assets[] = {
    {"/", "/banter/web/index.html", "text/html; charset=utf-8"},
    {"/app.js", "/banter/web/app.js", "text/javascript; charset=utf-8"},
    {"/app.css", "/banter/web/app.css", "text/css; charset=utf-8"},
    {"/icon.svg", "/banter/web/icon.svg", "image/svg+xml"},
};

static const char no_key_text[] =
    "This is the web interface of a Banter node. It opens only with its key:\n"
    "run `banter open` (or `banter open --print`) as the user who runs the node.\n";

static void serve_asset(web *w, SoupServerMessage *sm, const struct asset *a, bool set_cookie)
{
    GBytes *b = g_resource_lookup_data(banter_web_get_resource(), a->res,
                                       G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
    SoupMessageHeaders *h = soup_server_message_get_response_headers(sm);
    if (!b) {
        refuse(sm, SOUP_STATUS_NOT_FOUND, "Not found.\n");
        return;
    }
    if (set_cookie) {
        char c[160];
        snprintf(c, sizeof c, "%s=%s; Path=/; HttpOnly; SameSite=Strict", w->cookie_name,
                 w->cookie);
        soup_message_headers_append(h, "Set-Cookie", c);
    }
    soup_message_headers_set_content_type(h, a->type, NULL);
    soup_message_body_append_bytes(soup_server_message_get_response_body(sm), b);
    soup_server_message_set_status(sm, SOUP_STATUS_OK, NULL);
    g_bytes_unref(b);
}

static void on_page(SoupServer *srv, SoupServerMessage *sm, const char *path, GHashTable *query,
                    gpointer v)
{
    web *w = v;
    const char *method = soup_server_message_get_method(sm);
    const struct asset *a = NULL;
    (void)srv;
    for (size_t i = 0; i < G_N_ELEMENTS(assets); i++)
        if (strcmp(path, assets[i].path) == 0)
            a = &assets[i];
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        refuse(sm, SOUP_STATUS_METHOD_NOT_ALLOWED, "Method not allowed.\n");
        return;
    }
    const char *t = query ? g_hash_table_lookup(query, "t") : NULL;
    if (t && !token_ok(w, t)) {
        refuse(sm, SOUP_STATUS_FORBIDDEN, "Wrong key: use the address `banter open` gives.\n");
        return;
    }
    if (!t && !cookie_ok(w, sm)) {
        refuse(sm, SOUP_STATUS_UNAUTHORIZED, no_key_text);
        return;
    }
    if (!a) {
        refuse(sm, SOUP_STATUS_NOT_FOUND, "Not found.\n");
        return;
    }
    serve_asset(w, sm, a, t != NULL);
}

/* ---- WebSockets ---- */

/* A page that does not read (or acknowledge) what it is sent: stop
 * sending, shut its connection; "closed" comes from libsoup later. */
static void ws_drop(wsconn *c, const char *why)
{
    c->dropped = true;
    g_printerr("banter: web page WebSocket dropped: %s\n", why);
    if (c->sock)
        g_socket_shutdown(c->sock, TRUE, TRUE, NULL);
    else
        soup_websocket_connection_close(c->ws, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, why);
}

static void ws_send(void *ud, const char *json, size_t len)
{
    wsconn *c = ud;
    if (c->dropped || soup_websocket_connection_get_state(c->ws) != SOUP_WEBSOCKET_STATE_OPEN)
        return;
    c->at[c->sent % (WEB_WS_WINDOW + 1)] = c->bytes;
    c->sent++;
    c->bytes += len;
    if (c->sent - c->acked > WEB_WS_WINDOW ||
        c->bytes - c->at[c->acked % (WEB_WS_WINDOW + 1)] > WEB_WS_WINDOW_BYTES) {
        ws_drop(c, "over its window of unacknowledged frames (the page stopped reading)");
        return;
    }
    GBytes *b = g_bytes_new(json, len);
    soup_websocket_connection_send_message(c->ws, SOUP_WEBSOCKET_DATA_TEXT, b);
    g_bytes_unref(b);
}

static void ws_control_closed(void *ud)
{
    wsconn *c = ud;
    c->cc = NULL;
    if (soup_websocket_connection_get_state(c->ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close(c->ws, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION,
                                        "closed by the node");
}

static void ws_message(SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer v)
{
    wsconn *c = v;
    gsize len;
    const char *data = g_bytes_get_data(message, &len);
    if (type != SOUP_WEBSOCKET_DATA_TEXT) {
        soup_websocket_connection_close(ws, SOUP_WEBSOCKET_CLOSE_UNSUPPORTED_DATA,
                                        "text frames only: one JSON request each");
        return;
    }
    int64_t n;
    int r = data ? ctlmsg_decode_ack(data, len, &n) : BANTER_EBADTYPE;
    if (r == 0 && (uint64_t)n >= c->acked && (uint64_t)n <= c->sent)
        c->acked = (uint64_t)n;
    else if (r == 0) /* more than it was sent, or less than before */
        soup_websocket_connection_close(ws, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION,
                                        "{\"ack\":N}: N counts the frames received");
    else if (c->cc && data && !c->dropped)      /* a request (or not even JSON: control says so) */
        control_client_input(c->cc, data, len); /* wipes its own copy */
}

static void wsconn_free(wsconn *c)
{
    g_signal_handlers_disconnect_by_data(c->ws, c);
    control_detach(c->cc);
    g_object_unref(c->ws);
    g_clear_object(&c->sock);
    g_free(c->at);
    g_free(c);
}

static void ws_closed(SoupWebsocketConnection *ws, gpointer v)
{
    wsconn *c = v;
    (void)ws;
    c->w->socks = g_list_remove(c->w->socks, c);
    wsconn_free(c);
}

/* The normal handler of /ws runs before the handshake: refusing here
 * (setting a status) stops it. */
static void on_ws_check(SoupServer *srv, SoupServerMessage *sm, const char *path, GHashTable *query,
                        gpointer v)
{
    web *w = v;
    (void)srv;
    (void)path;
    if (!token_ok(w, query ? g_hash_table_lookup(query, "t") : NULL))
        refuse(sm, SOUP_STATUS_FORBIDDEN, "Wrong or missing key.\n");
    else if (g_list_length(w->socks) >= WEB_MAX_SOCKETS)
        refuse(sm, SOUP_STATUS_SERVICE_UNAVAILABLE, "Too many open pages: close one.\n");
}

static void on_ws(SoupServer *srv, SoupServerMessage *sm, const char *path,
                  SoupWebsocketConnection *ws, gpointer v)
{
    web *w = v;
    wsconn *c = g_new0(wsconn, 1);
    (void)srv;
    (void)path;
    c->w = w;
    c->ws = g_object_ref(ws);
    c->at = g_new0(uint64_t, WEB_WS_WINDOW + 1);
    wconn *tc = find_conn(w, sm);
    if (tc) { /* a WebSocket now: no deadline, not evicted */
        tc->ws = true;
        tc->waiting = false;
        c->sock = g_object_ref(tc->sock);
    }
    c->cc = control_attach(w->ctl, ws_send, ws_control_closed, c);
    soup_websocket_connection_set_max_incoming_payload_size(ws, CONTROL_MAX_LINE + 1);
    soup_websocket_connection_set_keepalive_interval(ws, WS_KEEPALIVE_S);
    g_signal_connect(ws, "message", G_CALLBACK(ws_message), c);
    g_signal_connect(ws, "closed", G_CALLBACK(ws_closed), c);
    w->socks = g_list_prepend(w->socks, c);
    if (!c->cc)
        soup_websocket_connection_close(ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
                                        "the node serves too many clients");
}

/* ---- uploads ---- */

/* Remove a folder of DIR/uploads and the files in it (it holds no
 * subfolders). */
static void remove_upload_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (d) {
        while ((e = readdir(d)) != NULL)
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
    }
    rmdir(dir);
}

static void drop_idle(GSource **src)
{
    if (*src) {
        g_source_destroy(*src);
        g_source_unref(*src);
        *src = NULL;
    }
}

static void upload_free(upload *u)
{
    web *w = u->w;
    w->ups = g_list_remove(w->ups, u);
    drop_idle(&u->idle);
    drop_idle(&u->step);
    if (u->targets)
        g_ptr_array_free(u->targets, TRUE);
    cJSON_Delete(u->offers);
    if (u->ids)
        g_string_free(u->ids, TRUE);
    control_detach(u->cc);
    if (u->fd >= 0)
        close(u->fd);
    if (!u->offered && u->dir[0])
        remove_upload_dir(u->dir);
    if (u->msg) {
        g_signal_handlers_disconnect_by_data(u->msg, u);
        g_object_set_data(G_OBJECT(u->msg), "banter-upload", NULL);
    }
    g_free(u);
}

static void upload_maybe_free(upload *u)
{
    if (!u->msg && !u->cc && !u->idle && !u->step)
        upload_free(u);
}

static void on_upload_finished(SoupServerMessage *sm, gpointer v)
{
    upload *u = v;
    g_signal_handlers_disconnect_by_data(sm, u);
    u->msg = NULL;
    upload_maybe_free(u);
}

static void on_upload_chunk(SoupServerMessage *sm, GBytes *chunk, gpointer v)
{
    upload *u = v;
    gsize len;
    const uint8_t *p = g_bytes_get_data(chunk, &len);
    (void)sm;
    if (u->err)
        return;
    if (u->got + (goffset)len > u->expect) {
        u->err = EFBIG;
        return;
    }
    while (len) {
        ssize_t n = write(u->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            u->err = n < 0 ? errno : EIO;
            return;
        }
        p += n;
        len -= (size_t)n;
        u->got += n;
    }
}

static void json_reply(SoupServerMessage *sm, guint status, const char *json, size_t len)
{
    soup_server_message_set_status(sm, status, NULL);
    soup_server_message_set_response(sm, "application/json", SOUP_MEMORY_COPY, json, len);
}

static void json_error(SoupServerMessage *sm, guint status, const char *err, const char *text)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddFalseToObject(o, "ok");
    cJSON_AddStringToObject(o, "error", err);
    cJSON_AddStringToObject(o, "message", text);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (s)
        json_reply(sm, status, s, strlen(s));
    else
        refuse(sm, SOUP_STATUS_INTERNAL_SERVER_ERROR, "Out of memory.\n");
    cJSON_free(s);
}

static bool make_uploads_dir(const web *w)
{
    struct stat st;
    if (mkdir(w->uploads, 0700) != 0 && errno != EEXIST)
        return false;
    return lstat(w->uploads, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid();
}

/* The arguments of POST /upload; false after answering. */
static bool upload_args(SoupServerMessage *sm, GHashTable *query, const char **peer,
                        const char **name, goffset *len)
{
    char why[200];
    SoupMessageHeaders *h = soup_server_message_get_request_headers(sm);
    *peer = query ? g_hash_table_lookup(query, "peer") : NULL;
    *name = query ? g_hash_table_lookup(query, "name") : NULL;
    if (!*peer || !**peer || strlen(*peer) > MAX_PEER_ARG || !utf8_valid(*peer, strlen(*peer))) {
        json_error(sm, SOUP_STATUS_BAD_REQUEST, "EINVAL", "missing or bad \"peer\"");
        return false;
    }
    if (!*name || strchr(*name, '/') || fpath_check(*name, why, sizeof why) != 0) {
        json_error(sm, SOUP_STATUS_BAD_REQUEST, "EINVAL",
                   *name && !strchr(*name, '/') ? why : "missing or bad \"name\"");
        return false;
    }
    if (soup_message_headers_get_encoding(h) != SOUP_ENCODING_CONTENT_LENGTH) {
        json_error(sm, SOUP_STATUS_LENGTH_REQUIRED, "EINVAL", "Content-Length required");
        return false;
    }
    *len = soup_message_headers_get_content_length(h);
    return true;
}

/* Where the body goes: a fresh 0700 folder under DIR/uploads, if the disk
 * has room for it. false after answering. */
static bool upload_open(web *w, SoupServerMessage *sm, upload *u, const char *name)
{
    struct statvfs vfs;
    if (!make_uploads_dir(w) || statvfs(w->uploads, &vfs) != 0) {
        json_error(sm, SOUP_STATUS_INTERNAL_SERVER_ERROR, "EIO",
                   "cannot use the node's uploads folder");
        return false;
    }
    guint64 avail = (guint64)vfs.f_bavail * vfs.f_frsize;
    if ((guint64)u->expect + WEB_UPLOAD_RESERVE > avail) {
        json_error(sm, SOUP_STATUS_INSUFFICIENT_STORAGE, "ENOSPC",
                   "not enough free disk space on the node for this file");
        return false;
    }
    snprintf(u->dir, sizeof u->dir, "%s/XXXXXX", w->uploads);
    if (!g_mkdtemp_full(u->dir, 0700)) {
        u->dir[0] = '\0';
        json_error(sm, SOUP_STATUS_INTERNAL_SERVER_ERROR, "EIO",
                   "cannot create a folder for the upload");
        return false;
    }
    snprintf(u->path, sizeof u->path, "%s/%s", u->dir, name);
    u->fd = open(u->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (u->fd < 0) {
        json_error(sm, SOUP_STATUS_INTERNAL_SERVER_ERROR, "EIO", "cannot create the uploaded file");
        return false;
    }
    return true;
}

/* Early handler of /upload: checks, then the body streams to disk. */
static void early_upload(SoupServer *srv, SoupServerMessage *sm, const char *path,
                         GHashTable *query, gpointer v)
{
    web *w = v;
    const char *peer, *name;
    goffset len;
    (void)srv;
    (void)path;
    soup_message_body_set_accumulate(soup_server_message_get_request_body(sm), FALSE);
    if (!check_common(w, sm, true, false))
        return;
    if (strcmp(soup_server_message_get_method(sm), "POST") != 0) {
        refuse(sm, SOUP_STATUS_METHOD_NOT_ALLOWED, "POST only.\n");
        return;
    }
    if (!token_ok(w, req_header(sm, "X-Banter-Token"))) {
        refuse(sm, SOUP_STATUS_FORBIDDEN, "Wrong or missing key.\n");
        return;
    }
    if (!upload_args(sm, query, &peer, &name, &len))
        return;
    if (g_list_length(w->ups) >= WEB_MAX_UPLOADS) {
        json_error(sm, SOUP_STATUS_SERVICE_UNAVAILABLE, "EBUSY",
                   "4 uploads are running already: try again when one is done");
        return;
    }
    upload *u = g_new0(upload, 1);
    u->w = w;
    u->fd = -1;
    u->expect = len;
    g_strlcpy(u->peer, peer, sizeof u->peer);
    u->group = peer[0] == '%' && peer[1];
    w->ups = g_list_prepend(w->ups, u);
    if (!upload_open(w, sm, u, name)) {
        upload_free(u);
        return;
    }
    u->msg = sm;
    g_object_set_data(G_OBJECT(sm), "banter-upload", u);
    g_signal_connect(sm, "got-chunk", G_CALLBACK(on_upload_chunk), u);
    g_signal_connect(sm, "finished", G_CALLBACK(on_upload_finished), u);
}

static gboolean upload_idle(gpointer v)
{
    upload *u = v;
    g_source_unref(u->idle);
    u->idle = NULL; /* this source is being removed by returning REMOVE */
    control_detach(u->cc);
    u->cc = NULL;
    upload_maybe_free(u);
    return G_SOURCE_REMOVE;
}

/* Remember which transfers an upload folder serves (ids: one per line;
 * several for a file to a group), on disk too (for the sweep at the next
 * start). */
static void upload_mark(web *w, const char *dir, const char *ids)
{
    char path[HOME_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/.transfer", dir);
    if (!g_file_set_contents(path, ids, (gssize)strlen(ids), NULL))
        g_printerr("banter: web: cannot write %s\n", path);
    gchar **v = g_strsplit(ids, "\n", -1);
    for (gchar **p = v; *p; p++)
        if (is_hex(*p, ID_HEX) && !(*p)[ID_HEX])
            g_hash_table_replace(w->up_dirs, g_strdup(*p), g_strdup(dir));
    g_strfreev(v);
}

/* Whether another transfer still uses dir. */
static bool dir_in_use(web *w, const char *dir)
{
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, w->up_dirs);
    while (g_hash_table_iter_next(&it, &k, &v))
        if (strcmp(v, dir) == 0)
            return true;
    return false;
}

/* Send one request line on the upload's control client (it may answer at
 * once). */
static void upload_ask(upload *u, cJSON *req)
{
    char *s = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    if (s && u->cc)
        control_client_input(u->cc, s, strlen(s));
    cJSON_free(s);
}

static gboolean upload_step(gpointer v)
{
    upload *u = v;
    g_source_unref(u->step);
    u->step = NULL;
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "cmd", "send_file");
    cJSON_AddStringToObject(req, "peer", g_ptr_array_index(u->targets, u->next));
    cJSON *paths = cJSON_AddArrayToObject(req, "paths");
    cJSON_AddItemToArray(paths, cJSON_CreateString(u->path));
    upload_ask(u, req);
    return G_SOURCE_REMOVE;
}

static void schedule(upload *u, GSource **src, GSourceFunc fn)
{
    if (*src)
        return;
    *src = g_idle_source_new();
    g_source_set_callback(*src, fn, u, NULL);
    g_source_attach(*src, u->w->ctx);
}

static gboolean upload_idle(gpointer v);

/* Answer the POST with json (len bytes), then let the client go. */
static void upload_answer(upload *u, const char *json, size_t len)
{
    if (u->msg) {
        json_reply(u->msg, SOUP_STATUS_OK, json, len);
        soup_server_message_unpause(u->msg);
    }
    schedule(u, &u->idle, upload_idle);
}

/* The group's members are in: every other member is a target. */
static void group_targets(upload *u, const cJSON *o)
{
    const cJSON *m;
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(o, "group");
    u->targets = g_ptr_array_new_with_free_func(g_free);
    cJSON_ArrayForEach (m, cJSON_GetObjectItemCaseSensitive(g, "members")) {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "id"));
        const char *fp = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "fingerprint"));
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "me")))
            continue;
        if (id && id[0] == '@')
            g_ptr_array_add(u->targets, g_strdup(id));
        else if (fp && fp[0])
            g_ptr_array_add(u->targets, g_strdup(fp));
    }
}

/* A file for a group: each reply moves it on (docs/web.md, POST /upload). */
static void group_reply(upload *u, const char *json, size_t len)
{
    static const char nomem[] = "{\"ok\":false,\"error\":\"ENOMEM\"}";
    cJSON *o = cJSON_ParseWithLength(json, len);
    bool ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "ok"));
    if (!u->targets) { /* group_members */
        if (ok)
            group_targets(u, o);
        cJSON_Delete(o);
        if (!ok) {
            upload_answer(u, json, len);
        } else if (u->targets->len == 0) {
            static const char none[] = "{\"ok\":false,\"error\":\"EINVAL\",\"message\":"
                                       "\"nobody else is in the group\"}";
            upload_answer(u, none, sizeof none - 1);
        } else {
            u->offers = cJSON_CreateArray();
            u->ids = g_string_new(NULL);
            schedule(u, &u->step, upload_step);
        }
        return;
    }
    /* one member's send_file */
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "id"));
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "member", g_ptr_array_index(u->targets, u->next));
    if (ok && id && strlen(id) == ID_HEX) {
        u->offered = true;
        g_string_append_printf(u->ids, "%s%s", u->ids->len ? "\n" : "", id);
    }
    for (cJSON *c = o ? o->child : NULL; c; c = c->next)
        if (strcmp(c->string, "member") != 0)
            cJSON_AddItemToObject(e, c->string, cJSON_Duplicate(c, true));
    cJSON_AddItemToArray(u->offers, e);
    cJSON_Delete(o);
    if (++u->next < u->targets->len) {
        schedule(u, &u->step, upload_step);
        return;
    }
    if (u->offered)
        upload_mark(u->w, u->dir, u->ids->str);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddBoolToObject(r, "ok", u->offered);
    if (!u->offered) {
        cJSON_AddStringToObject(r, "error", "EINVAL");
        cJSON_AddStringToObject(r, "message", "no member could be offered the file");
    }
    cJSON_AddItemToObject(r, "offers", u->offers);
    u->offers = NULL;
    char *s = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    if (s)
        upload_answer(u, s, strlen(s));
    else
        upload_answer(u, nomem, sizeof nomem - 1);
    cJSON_free(s);
}

/* The reply of send_file: the answer to the POST. */
static void upload_reply(void *ud, const char *json, size_t len)
{
    upload *u = ud;
    if (u->group) {
        group_reply(u, json, len);
        return;
    }
    cJSON *o = cJSON_ParseWithLength(json, len);
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "id"));
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "ok")) && id && strlen(id) == ID_HEX) {
        u->offered = true;
        upload_mark(u->w, u->dir, id);
    }
    cJSON_Delete(o);
    if (u->msg) {
        json_reply(u->msg, SOUP_STATUS_OK, json, len);
        soup_server_message_unpause(u->msg);
    }
    if (!u->idle) {
        u->idle = g_idle_source_new();
        g_source_set_callback(u->idle, upload_idle, u, NULL);
        g_source_attach(u->idle, u->w->ctx);
    }
}

static void upload_control_closed(void *ud)
{
    upload *u = ud;
    u->cc = NULL;
    if (u->msg) {
        json_error(u->msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "EBUSY", "the node is stopping");
        soup_server_message_unpause(u->msg);
    }
}

/* The body is on disk: offer it with send_file, like any control client. */
static void on_upload(SoupServer *srv, SoupServerMessage *sm, const char *path, GHashTable *query,
                      gpointer v)
{
    web *w = v;
    upload *u = g_object_get_data(G_OBJECT(sm), "banter-upload");
    (void)srv;
    (void)path;
    (void)query;
    if (!u || u->err || u->got != u->expect) {
        json_error(sm,
                   u && u->err == ENOSPC ? SOUP_STATUS_INSUFFICIENT_STORAGE
                                         : SOUP_STATUS_INTERNAL_SERVER_ERROR,
                   u && u->err == ENOSPC ? "ENOSPC" : "EIO",
                   u && u->err ? g_strerror(u->err) : "the upload is incomplete");
        return;
    }
    int r = fsync(u->fd);
    r |= close(u->fd);
    u->fd = -1;
    u->cc = r == 0 ? control_attach(w->ctl, upload_reply, upload_control_closed, u) : NULL;
    if (!u->cc) {
        json_error(sm, SOUP_STATUS_SERVICE_UNAVAILABLE, "EBUSY",
                   r ? "cannot write the uploaded file" : "the node serves too many clients");
        return;
    }
    cJSON *req = cJSON_CreateObject();
    if (u->group) { /* first who is in it */
        cJSON_AddStringToObject(req, "cmd", "group_members");
        cJSON_AddStringToObject(req, "group", u->peer + 1);
    } else {
        cJSON_AddStringToObject(req, "cmd", "send_file");
        cJSON_AddStringToObject(req, "peer", u->peer);
        cJSON *paths = cJSON_AddArrayToObject(req, "paths");
        cJSON_AddItemToArray(paths, cJSON_CreateString(u->path));
    }
    char *s = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    soup_server_message_pause(sm);
    if (s)
        control_client_input(u->cc, s, strlen(s)); /* may answer at once */
    else
        upload_control_closed(u);
    cJSON_free(s);
}

/* ---- the janitor: upload folders of transfers that are over ---- */

#define JANITOR_PAGE 1000 /* the transfers it reads at start (the most a page holds; in sweep) */

static bool final_state(const char *state)
{
    return state && (strcmp(state, "done") == 0 || strcmp(state, "declined") == 0 ||
                     strcmp(state, "cancelled") == 0);
}

/* At start: keep the folders of transfers still going, remove the rest. */
static void janitor_sweep(web *w, const cJSON *transfers)
{
    /* A full page may leave older transfers out: folders of transfers not
     * in it are kept then (removed at a later start, once listed final). */
    bool complete = cJSON_GetArraySize(transfers) < JANITOR_PAGE;
    DIR *d = opendir(w->uploads);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        char dir[HOME_PATH_MAX + 300], mark[HOME_PATH_MAX + 320];
        gchar *ids = NULL;
        bool keep = false;
        if (e->d_name[0] == '.')
            continue;
        snprintf(dir, sizeof dir, "%s/%s", w->uploads, e->d_name);
        snprintf(mark, sizeof mark, "%s/.transfer", dir);
        gchar **v = g_file_get_contents(mark, &ids, NULL, NULL) ? g_strsplit(ids, "\n", 300)
                                                                : g_new0(gchar *, 1);
        for (gchar **p = v; *p; p++) {
            if (!is_hex(*p, ID_HEX) || (*p)[ID_HEX])
                continue;
            bool alive = !complete; /* not in a full page: perhaps older, kept */
            const cJSON *t;
            cJSON_ArrayForEach (t, transfers) {
                const cJSON *tid = cJSON_GetObjectItemCaseSensitive(t, "id");
                const cJSON *st = cJSON_GetObjectItemCaseSensitive(t, "state");
                if (cJSON_IsString(tid) && strcmp(tid->valuestring, *p) == 0)
                    alive = !final_state(cJSON_GetStringValue(st));
            }
            if (alive)
                g_hash_table_replace(w->up_dirs, g_strdup(*p), g_strdup(dir));
            keep |= alive;
        }
        if (!keep)
            remove_upload_dir(dir);
        g_strfreev(v);
        g_free(ids);
    }
    if (d)
        closedir(d);
}

static void janitor_send(void *ud, const char *json, size_t len)
{
    web *w = ud;
    cJSON *o = cJSON_ParseWithLength(json, len);
    const char *ev = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "event"));
    if (!w->janitor_listening && !ev) {
        janitor_sweep(w, cJSON_GetObjectItemCaseSensitive(o, "transfers"));
    } else if (ev && (strcmp(ev, "file_done") == 0 || strcmp(ev, "file_failed") == 0)) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "transfer");
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "id"));
        const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "state"));
        const char *dir = id ? g_hash_table_lookup(w->up_dirs, id) : NULL;
        if (dir && final_state(st)) {
            gchar *d = g_strdup(dir);
            g_hash_table_remove(w->up_dirs, id);
            if (!dir_in_use(w, d)) /* a file to a group: its last transfer */
                remove_upload_dir(d);
            g_free(d);
        }
    }
    cJSON_Delete(o);
}

static void janitor_closed(void *ud)
{
    web *w = ud;
    w->janitor = NULL;
}

static void janitor_start(web *w)
{
    static const char sweep[] = "{\"cmd\":\"transfers\",\"limit\":1000}"; /* JANITOR_PAGE */
    static const char listen[] = "{\"cmd\":\"listen\"}";
    w->janitor = control_attach(w->ctl, janitor_send, janitor_closed, w);
    if (w->janitor) /* both answer at once */
        control_client_input(w->janitor, sweep, sizeof sweep - 1);
    w->janitor_listening = true;
    if (w->janitor)
        control_client_input(w->janitor, listen, sizeof listen - 1);
}

/* ---- start and stop ---- */

/* Listen on 127.0.0.1:port or one of the next ports, our own socket (the
 * accept loop is ours: cap, back-off); the port, or 0 with errno set. */
static uint16_t listen_local(web *w, uint16_t port)
{
    int one = 1;
    for (unsigned i = 0; i < WEB_PORT_TRIES && port + i <= 65535; i++) {
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)(port + i)),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return 0;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(fd, WEB_BACKLOG) == 0) {
            w->lfd = fd;
            return (uint16_t)(port + i);
        }
        int e = errno;
        close(fd);
        errno = e;
        if (e != EADDRINUSE)
            return 0;
    }
    return 0;
}

static void set_names(web *w)
{
    unsigned p = w->port;
    snprintf(w->host1, sizeof w->host1, "127.0.0.1:%u", p);
    snprintf(w->host2, sizeof w->host2, "localhost:%u", p);
    snprintf(w->origin1, sizeof w->origin1, "http://127.0.0.1:%u", p);
    snprintf(w->origin2, sizeof w->origin2, "http://localhost:%u", p);
    snprintf(w->cookie_name, sizeof w->cookie_name, "banter_%u", p);
    snprintf(w->csp, sizeof w->csp,
             "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: "
             "blob:; media-src 'self' data: blob:; connect-src 'self' ws://127.0.0.1:%u "
             "ws://localhost:%u; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
             p, p);
}

static void add_handlers(web *w)
{
    SoupServer *s = w->srv;
    soup_server_add_early_handler(s, NULL, early_check, w, NULL);
    soup_server_add_handler(s, NULL, on_page, w, NULL);
    soup_server_add_early_handler(s, "/ws", early_check, w, NULL);
    soup_server_add_handler(s, "/ws", on_ws_check, w, NULL);
    soup_server_add_websocket_handler(s, "/ws", NULL, NULL, on_ws, w, NULL);
    soup_server_add_early_handler(s, "/upload", early_upload, w, NULL);
    soup_server_add_handler(s, "/upload", on_upload, w, NULL);
    g_signal_connect(s, "request-started", G_CALLBACK(on_request_started), w);
}

static void web_off(web *w, control *ctl, const char *why)
{
    g_printerr("banter: web interface off: %s\n", why);
    control_set_web(ctl, NULL, why);
    web_free(w);
}

void web_start(web **out, control *ctl, GMainContext *ctx, evloop *ev, const char *dir,
               uint16_t port)
{
    char why[HOME_PATH_MAX + 600], url[160];
    *out = NULL;
    if (port == 0) {
        control_set_web(ctl, NULL, "the web interface is off (web_port or --web-port is 0)");
        return;
    }
    web *w = g_new0(web, 1);
    w->ctl = ctl;
    w->ctx = ctx;
    w->lfd = -1;
    w->up_dirs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    snprintf(w->uploads, sizeof w->uploads, "%s/uploads", dir);
    if (load_token(w, dir, why, sizeof why) != 0) {
        web_off(w, ctl, why);
        return;
    }
    w->srv = soup_server_new("server-header", NULL, NULL);
    w->port = listen_local(w, port);
    if (!w->port) {
        snprintf(why, sizeof why,
                 "cannot listen on 127.0.0.1 ports %u to %u: %s (choose "
                 "another with web_port in banter.conf or --web-port)",
                 port, MIN(port + WEB_PORT_TRIES - 1, 65535), g_strerror(errno));
        web_off(w, ctl, why);
        return;
    }
    w->acc = acceptor_new(ctx, ev, w->lfd, "the web port", true, on_accept, w);
    if (w->port != port)
        printf("banter: web interface: port %u is taken, using %u\n", port, w->port);
    set_names(w);
    add_handlers(w);
    janitor_start(w);
    printf("banter: web interface on http://127.0.0.1:%u/ (`banter open` opens it)\n", w->port);
    fflush(stdout);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/?t=%s", w->port, w->token);
    control_set_web(ctl, url, NULL);
    bcrypto_wipe(url, sizeof url);
    *out = w;
}

void web_free(web *w)
{
    if (!w)
        return;
    while (w->socks) {
        wsconn *c = w->socks->data;
        w->socks = g_list_delete_link(w->socks, w->socks);
        g_signal_handlers_disconnect_by_data(c->ws, c);
        if (soup_websocket_connection_get_state(c->ws) == SOUP_WEBSOCKET_STATE_OPEN)
            soup_websocket_connection_close(c->ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
                                            "the node is stopping");
        wsconn_free(c);
    }
    while (w->ups)
        upload_free(w->ups->data);
    control_detach(w->janitor);
    acceptor_free(w->acc);
    if (w->lfd >= 0)
        close(w->lfd);
    if (w->srv) {
        soup_server_disconnect(w->srv);
        g_object_unref(w->srv);
    }
    while (w->conns) {
        wconn *c = w->conns->data;
        w->conns = g_list_delete_link(w->conns, w->conns);
        g_socket_close(c->sock, NULL);
        g_object_unref(c->sock);
        g_clear_object(&c->remote);
        g_free(c);
    }
    if (w->sweep) {
        g_source_destroy(w->sweep);
        g_source_unref(w->sweep);
    }
    g_hash_table_destroy(w->up_dirs);
    bcrypto_wipe(w->token, sizeof w->token);
    bcrypto_wipe(w->cookie, sizeof w->cookie);
    g_free(w);
}
