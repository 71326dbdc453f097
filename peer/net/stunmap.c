/* SPDX-License-Identifier: MIT */
/* stunmap.c - the NAT mapping check's socket and timers (stunmap.h). */
#include "net/stunmap.h"

#include <errno.h>
#include <glib-unix.h>
#include <ifaddrs.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LOCALS_MAX 32
#define READS_MAX  64 /* datagrams or errors read per wake-up */

struct stunmap {
    GMainContext *ctx;
    natmap *m;
    int fd;
    int family;
    GSource *io, *timer;
    stunmap_done_fn done;
    void *ud;
};

static int64_t now_ms(void) { return g_get_monotonic_time() / 1000; }

static void drop_source(GSource **s)
{
    if (*s) {
        g_source_destroy(*s);
        g_source_unref(*s);
        *s = NULL;
    }
}

void stunmap_cancel(stunmap *s)
{
    if (!s)
        return;
    drop_source(&s->io);
    drop_source(&s->timer);
    if (s->fd >= 0)
        close(s->fd);
    natmap_free(s->m);
    g_free(s);
}

static socklen_t to_sockaddr(const stun_addr *a, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (a->family == 4) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        in->sin_port = htons(a->port);
        memcpy(&in->sin_addr, a->ip, 4);
        return sizeof *in;
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(a->port);
    memcpy(&in6->sin6_addr, a->ip, 16);
    return sizeof *in6;
}

static bool from_sockaddr(const struct sockaddr *sa, stun_addr *a)
{
    memset(a, 0, sizeof *a);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        a->family = 4;
        a->port = ntohs(in->sin_port);
        memcpy(a->ip, &in->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        a->family = 6;
        a->port = ntohs(in6->sin6_port);
        memcpy(a->ip, &in6->sin6_addr, 16);
    }
    return a->family != 0;
}

/* This host's addresses of the check's family (no NAT when one is seen). */
static size_t host_addrs(int family, stun_addr *out, size_t max)
{
    struct ifaddrs *ifs = NULL, *i;
    size_t n = 0;
    if (getifaddrs(&ifs) != 0)
        return 0;
    for (i = ifs; i && n < max; i = i->ifa_next) {
        stun_addr a;
        if (i->ifa_addr && from_sockaddr(i->ifa_addr, &a) && a.family == family)
            out[n++] = a;
    }
    freeifaddrs(ifs);
    return n;
}

static void finish(stunmap *s)
{
    stun_addr locals[LOCALS_MAX];
    size_t nl = host_addrs(s->family, locals, LOCALS_MAX);
    natmap_report r;
    natmap_result(s->m, locals, nl, &r);
    drop_source(&s->io);
    drop_source(&s->timer);
    s->done(s->ud, &r);
    stunmap_cancel(s);
}

static gboolean on_timer(gpointer ud);

/* Send what is due, then finish or wait for the next moment. */
static void step(stunmap *s)
{
    int64_t now = now_ms();
    stun_addr to;
    uint8_t req[STUN_HDR_LEN];
    while (natmap_poll_send(s->m, now, &to, req)) {
        struct sockaddr_storage ss;
        socklen_t sl = to_sockaddr(&to, &ss);
        /* A failed send (no route, UDP blocked) is a request that gets no
         * answer: the deadline says so. */
        (void)sendto(s->fd, req, sizeof req, MSG_NOSIGNAL, (struct sockaddr *)&ss, sl);
    }
    int64_t next = natmap_next_ms(s->m);
    if (next < 0 || natmap_done(s->m, now)) {
        finish(s);
        return;
    }
    drop_source(&s->timer);
    s->timer = g_timeout_source_new((guint)(next > now ? next - now : 0));
    g_source_set_callback(s->timer, on_timer, s, NULL);
    g_source_attach(s->timer, s->ctx);
}

static gboolean on_timer(gpointer ud)
{
    stunmap *s = ud;
    g_source_unref(s->timer);
    s->timer = NULL; /* removed by returning G_SOURCE_REMOVE */
    step(s);
    return G_SOURCE_REMOVE;
}

/* Whether an error-queue entry is an ICMP(v6) port unreachable. */
static bool port_unreachable(struct msghdr *mh)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        bool v4 = c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR;
        bool v6 = c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR;
        if (!v4 && !v6)
            continue;
        struct sock_extended_err ee;
        memcpy(&ee, CMSG_DATA(c), sizeof ee);
        if (v4)
            return ee.ee_origin == SO_EE_ORIGIN_ICMP && ee.ee_type == 3 && ee.ee_code == 3;
        return ee.ee_origin == SO_EE_ORIGIN_ICMP6 && ee.ee_type == 1 && ee.ee_code == 4;
    }
    return false;
}

/* ICMP errors for our requests (IP_RECVERR): a port unreachable gives that
 * vantage point up at once ("nothing listens there"). msg_name is the
 * address the request went to. */
static void read_errors(stunmap *s)
{
    for (int i = 0; i < READS_MAX; i++) {
        struct sockaddr_storage ss;
        uint8_t data[64];
        union {
            struct cmsghdr align;
            uint8_t b[512];
        } ctl;
        struct iovec iov = {data, sizeof data};
        struct msghdr mh = {.msg_name = &ss,
                            .msg_namelen = sizeof ss,
                            .msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = ctl.b,
                            .msg_controllen = sizeof ctl.b};
        if (recvmsg(s->fd, &mh, MSG_ERRQUEUE) < 0)
            return; /* EAGAIN: the queue is empty */
        stun_addr to;
        if (port_unreachable(&mh) && from_sockaddr((struct sockaddr *)&ss, &to))
            (void)natmap_refused(s->m, &to);
    }
}

static gboolean on_readable(gint fd, GIOCondition cond, gpointer ud)
{
    (void)cond;
    stunmap *s = ud;
    uint8_t buf[BANTER_MAX_STUN_MSG + 1];
    read_errors(s);
    for (int i = 0; i < READS_MAX; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        ssize_t k = recvfrom(fd, buf, sizeof buf, MSG_TRUNC, (struct sockaddr *)&ss, &sl);
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (k < 0)
            continue; /* EINTR, or an ICMP error reported once (read_errors has it) */
        stun_addr from;
        if (from_sockaddr((struct sockaddr *)&ss, &from))
            (void)natmap_feed(s->m, &from, buf, (size_t)k > sizeof buf ? sizeof buf : (size_t)k,
                              now_ms()); /* not ours or malformed: ignored */
    }
    step(s); /* finishes (and frees s) when every answer is in */
    return G_SOURCE_CONTINUE;
}

stunmap *stunmap_start(GMainContext *ctx, const stun_addr *dests, size_t n, const banter_rng *rng,
                       stunmap_done_fn done, void *ud)
{
    if (!dests || !n || !done)
        return NULL;
    stunmap *s = g_new0(stunmap, 1);
    s->ctx = ctx;
    s->done = done;
    s->ud = ud;
    s->family = dests[0].family;
    s->fd =
        socket(s->family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    s->m = natmap_new(dests, n, rng, now_ms());
    if (s->fd < 0 || !s->m) {
        stunmap_cancel(s);
        return NULL;
    }
    /* ICMP errors (port unreachable: nothing listens) come back on the
     * error queue; without this an unconnected UDP socket never hears them. */
    int on = 1;
    if (s->family == 6)
        (void)setsockopt(s->fd, SOL_IPV6, IPV6_RECVERR, &on, sizeof on);
    else
        (void)setsockopt(s->fd, SOL_IP, IP_RECVERR, &on, sizeof on);
    s->io = g_unix_fd_source_new(s->fd, G_IO_IN | G_IO_ERR);
    g_source_set_callback(s->io, G_SOURCE_FUNC(on_readable), s, NULL);
    g_source_attach(s->io, ctx);
    /* The first requests go out from the loop, so done never runs inside
     * this call. */
    s->timer = g_timeout_source_new(0);
    g_source_set_callback(s->timer, on_timer, s, NULL);
    g_source_attach(s->timer, ctx);
    return s;
}
