/* SPDX-License-Identifier: MIT */
/*
 * wanline.c - a simulated WAN line in user space: one-way delay, jitter,
 * random loss and a rate cap, each direction on its own (this kernel has no
 * sch_netem).
 *
 *   wanline [OPTIONS] IFACE_A IFACE_B
 *
 * The line is a wire between two Ethernet interfaces of the namespace it
 * runs in (typically the inner ends of two veth pairs): every frame that
 * arrives on A leaves on B after the A->B treatment, and the other way
 * round. It has no address and is invisible to IP (ARP goes through), so it
 * can be put into any veth link. Test scripts: tests/integration/nat_lib.sh
 * (nat_wan_line, netlab_line) sets up the namespace and the interfaces.
 *
 * Options (a VALUE applies to both directions; "AB/BA" gives A->B and B->A
 * apart, e.g. --delay 25/30):
 *   -d, --delay MS      one-way delay in milliseconds (fractions allowed)
 *   -j, --jitter MS     each packet's delay varies uniformly by +-MS; packets
 *                       stay in order (a packet never leaves before the one
 *                       ahead of it)
 *   -l, --loss PCT      drop PCT % of the packets, independently, from a
 *                       seeded generator (--seed): the same packet sequence
 *                       loses the same packets in every run
 *   -r, --rate BITS     cap in bits/s (suffix k, M, G: 56k, 100M); a token
 *                       bucket of --burst bytes (default 1514) serializes
 *                       packets like a link of that speed
 *   -q, --queue BYTES   the bottleneck's buffer when --rate is set: a packet
 *                       that would wait longer than BYTES/rate to start is
 *                       dropped (drop-tail; default 64 KiB)
 *   -m, --limit BYTES   bytes held in the line per direction (default 64 MiB:
 *                       a 50 ms line filled at 1 GB/s); beyond it, dropped
 *   -s, --seed N        seed of the loss and jitter generators (default 1)
 *   -v, --verbose       counters every second on stderr
 * Suffixes k, M, G (x1000) for BITS, K, M, G (x1024) for BYTES.
 *
 * Prints "wanline: ready" on stderr when both interfaces are open, and the
 * counters of each direction at SIGTERM/SIGINT (then exits 0). SIGUSR1
 * prints the counters without stopping. Exit 2 on bad usage, 1 when an
 * interface cannot be opened.
 *
 * Speed: AF_PACKET sockets with PACKET_VNET_HDR, so the kernel hands over
 * GSO super-packets (up to 64 KiB of TCP) as they are and takes them back;
 * batches of recvmmsg/sendmmsg; one thread per direction. A super-packet is
 * cut into its real segments in user space when the direction has loss,
 * jitter or a rate cap, so each of those applies per wire packet, as on a
 * real line (TCP/UDP over IPv4; others go whole). Measured figures and the
 * command that reproduces them: docs/ice.md.
 *
 * Build: `make build/rel/tests/wanline` (Makefile rule "netlab tools").
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif
#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define VHDR      ((size_t)sizeof(struct virtio_net_hdr))
#define FRAME_MAX (65536u + 256u) /* a GSO super-packet and its headers */
#define BATCH     64
#define ETH_HLEN_ 14u
#define REC_ALIGN 8u
#define NS_PER_S  1000000000ll
#define SEG_MAX   (9216u + 256u) /* one segment: at most a jumbo frame */
#define SOCKBUF   (64 << 20)
#define DEF_LIMIT ((size_t)64 << 20)
#define DEF_QUEUE ((size_t)64 << 10)
#define DEF_BURST 1514.0
#define IPPROTO_T 6
#define IPPROTO_U 17
#define TCP_FIN   0x01u
#define TCP_PSH   0x08u
#define TCP_CWR   0x80u

/* One direction's settings. */
typedef struct line_cfg {
    int64_t delay_ns, jitter_ns;
    double loss;  /* 0..1 */
    double rate;  /* bytes per second, 0 = no cap */
    double burst; /* bytes */
    size_t queue; /* bottleneck buffer, bytes */
    size_t limit; /* bytes held */
    uint64_t seed;
} line_cfg;

/* A record in the byte ring: header, then vnet header + frame. */
typedef struct rec {
    int64_t due;
    uint32_t len; /* 0: wrap marker (the rest of the ring is unused) */
    uint32_t pad;
} rec;

typedef struct stats {
    uint64_t rx_pkts, rx_bytes, tx_pkts, tx_bytes;
    uint64_t lost, dropped_queue, dropped_limit, dropped_tx, truncated, cut;
} stats;

typedef struct dir {
    const char *name;
    int rx, tx;
    line_cfg cfg;
    bool per_packet; /* loss, jitter or rate: cut super-packets */
    uint64_t rng;
    /* token bucket: tokens at time tb_t; the link is busy until link_free */
    double tb_tokens;
    int64_t tb_t, link_free, last_due;
    /* the byte ring */
    uint8_t *ring;
    size_t cap, head, tail, used;
    stats st;
    pthread_t thread;
} dir;

static atomic_bool stopping;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* splitmix64: small, seeded, the same sequence everywhere. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) * 0x1.0p-53; }

/* ---- the ring ---- */

static size_t rec_size(size_t len)
{
    return (sizeof(rec) + len + REC_ALIGN - 1) & ~(size_t)(REC_ALIGN - 1);
}

/* Room for len bytes at the tail, or NULL. */
static uint8_t *ring_reserve(dir *d, size_t len)
{
    size_t need = rec_size(len);
    if (d->used + need > d->cfg.limit)
        return NULL;
    if (d->tail >= d->head && d->used > 0) {
        if (d->cap - d->tail >= need)
            return d->ring + d->tail;
        if (d->head <= need)
            return NULL; /* tail never catches up with head */
        if (d->cap - d->tail >= sizeof(rec)) {
            rec *w = (rec *)(void *)(d->ring + d->tail);
            w->len = 0;
        }
        d->used += d->cap - d->tail;
        d->tail = 0;
        return d->ring;
    }
    if (d->used == 0) {
        d->head = d->tail = 0;
        return need <= d->cap ? d->ring : NULL;
    }
    return d->head - d->tail > need ? d->ring + d->tail : NULL;
}

static void ring_commit(dir *d, int64_t due, size_t len)
{
    rec *r = (rec *)(void *)(d->ring + d->tail);
    r->due = due;
    r->len = (uint32_t)len;
    d->tail += rec_size(len);
    d->used += rec_size(len);
    if (d->tail == d->cap)
        d->tail = 0;
}

/* The oldest record, skipping a wrap marker; NULL when empty. */
static rec *ring_head(dir *d)
{
    if (d->used == 0)
        return NULL;
    if (d->cap - d->head < sizeof(rec) || ((rec *)(void *)(d->ring + d->head))->len == 0) {
        d->used -= d->cap - d->head;
        d->head = 0;
        if (d->used == 0) {
            d->tail = 0;
            return NULL;
        }
    }
    return (rec *)(void *)(d->ring + d->head);
}

static void ring_pop(dir *d)
{
    const rec *r = (const rec *)(void *)(d->ring + d->head);
    size_t n = rec_size(r->len);
    d->head += n;
    d->used -= n;
    if (d->head == d->cap)
        d->head = 0;
    if (d->used == 0)
        d->head = d->tail = 0;
}

/* ---- the line's treatment of one wire packet ---- */

/* When the packet of len bytes arriving now leaves, or -1 to drop it. */
static int64_t schedule(dir *d, int64_t now, size_t len)
{
    const line_cfg *c = &d->cfg;
    int64_t start = now, due;

    if (c->loss > 0 && rng_unit(&d->rng) < c->loss) {
        d->st.lost++;
        return -1;
    }
    if (c->rate > 0) {
        /* Token bucket, FIFO: the packet starts when the one before it has
         * gone and enough tokens are there. */
        if (d->link_free > start)
            start = d->link_free;
        if ((double)(start - now) * c->rate / 1e9 > (double)c->queue) {
            d->st.dropped_queue++;
            return -1;
        }
        double tokens = d->tb_tokens + (double)(start - d->tb_t) * c->rate / 1e9;
        if (tokens > c->burst)
            tokens = c->burst;
        tokens -= (double)len;
        if (tokens < 0) {
            start += (int64_t)(-tokens / c->rate * 1e9);
            tokens = 0;
        }
        d->tb_tokens = tokens;
        d->tb_t = start;
        d->link_free = start;
    }
    due = start + c->delay_ns;
    if (c->jitter_ns > 0)
        due += (int64_t)((2.0 * rng_unit(&d->rng) - 1.0) * (double)c->jitter_ns);
    if (due < d->last_due)
        due = d->last_due; /* keep the order */
    d->last_due = due;
    return due;
}

static void enqueue(dir *d, int64_t now, const uint8_t *pkt, size_t len)
{
    int64_t due = schedule(d, now, len - VHDR);
    if (due < 0)
        return;
    uint8_t *p = ring_reserve(d, len);
    if (!p) {
        d->st.dropped_limit++;
        return;
    }
    memcpy(p + sizeof(rec), pkt, len);
    ring_commit(d, due, len);
}

/* ---- cutting a super-packet into wire packets ---- */

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
    for (; n > 1; p += 2, n -= 2)
        sum += (uint32_t)(p[0] << 8 | p[1]);
    if (n)
        sum += (uint32_t)(p[0] << 8);
    return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffffu) + (sum >> 16);
    return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint32_t get16(const uint8_t *p) { return (uint32_t)(p[0] << 8 | p[1]); }

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v & 0xffffu);
}

static uint32_t get32(const uint8_t *p) { return get16(p) << 16 | get16(p + 2); }

/* Fill the IPv4 and L4 checksums of one segment (frame starts at eth). */
static void seg_checksums(uint8_t *eth, size_t ihl, size_t l4len, unsigned proto)
{
    uint8_t *ip = eth + ETH_HLEN_, *l4 = ip + ihl;
    uint32_t sum;

    put16(ip + 10, 0);
    put16(ip + 10, csum_fold(csum_add(0, ip, ihl)));
    put16(l4 + (proto == IPPROTO_T ? 16 : 6), 0);
    sum = csum_add(0, ip + 12, 8); /* saddr, daddr */
    sum += proto + (uint32_t)l4len;
    uint16_t c = csum_fold(csum_add(sum, l4, l4len));
    if (proto == IPPROTO_U && c == 0)
        c = 0xffff;
    put16(l4 + (proto == IPPROTO_T ? 16 : 6), c);
}

/*
 * Cut the GSO packet pkt (vnet header + frame) into wire packets and hand
 * each to enqueue(). Returns false when it is not a kind this knows (IPv4
 * TCP or UDP): then the caller sends it whole.
 */
static bool cut_and_enqueue(dir *d, int64_t now, const uint8_t *pkt, size_t len)
{
    const struct virtio_net_hdr *vh = (const struct virtio_net_hdr *)(const void *)pkt;
    const uint8_t *eth = pkt + VHDR, *ip = eth + ETH_HLEN_;
    size_t flen = len - VHDR, ihl, l4h, hdrs, mss, off;
    unsigned gso = vh->gso_type & (unsigned)~VIRTIO_NET_HDR_GSO_ECN, proto;
    static _Thread_local uint8_t seg[SEG_MAX];

    if (gso != VIRTIO_NET_HDR_GSO_TCPV4 && gso != VIRTIO_NET_HDR_GSO_UDP_L4)
        return false;
    if (flen < ETH_HLEN_ + 20 || get16(eth + 12) != ETH_P_IP || (ip[0] >> 4) != 4)
        return false;
    ihl = (size_t)(ip[0] & 0x0f) * 4;
    proto = ip[9];
    if (ihl < 20 || flen < ETH_HLEN_ + ihl + 8)
        return false;
    if (proto == IPPROTO_T) {
        l4h = (size_t)(ip[ihl + 12] >> 4) * 4;
        if (l4h < 20)
            return false;
    } else if (proto == IPPROTO_U) {
        l4h = 8;
    } else {
        return false;
    }
    hdrs = ETH_HLEN_ + ihl + l4h;
    mss = vh->gso_size;
    if (flen < hdrs || mss == 0 || hdrs + mss + VHDR > SEG_MAX)
        return false;
    d->st.cut++;
    uint32_t seq = proto == IPPROTO_T ? get32(ip + ihl + 4) : 0, id = get16(ip + 4);
    for (off = 0; hdrs + off < flen; off += mss, id++) {
        size_t n = flen - hdrs - off < mss ? flen - hdrs - off : mss;
        bool first = off == 0, last = hdrs + off + n == flen;
        uint8_t *e = seg + VHDR, *sip = e + ETH_HLEN_, *l4 = sip + ihl;

        memset(seg, 0, VHDR); /* no offload: checksums are complete */
        memcpy(e, eth, hdrs);
        memcpy(e + hdrs, eth + hdrs + off, n);
        put16(sip + 2, (uint32_t)(ihl + l4h + n));
        put16(sip + 4, id & 0xffffu);
        if (proto == IPPROTO_T) {
            put32(l4 + 4, seq + (uint32_t)off);
            if (!last)
                l4[13] &= (uint8_t) ~(TCP_FIN | TCP_PSH);
            if (!first)
                l4[13] &= (uint8_t)~TCP_CWR;
        } else {
            put16(l4 + 4, (uint32_t)(l4h + n));
        }
        seg_checksums(e, ihl, l4h + n, proto);
        enqueue(d, now, seg, VHDR + hdrs + n);
    }
    return true;
}

/* ---- the loop of one direction ---- */

/* Send every due record, in batches. Returns the due time of the next one
 * (or INT64_MAX when the ring is empty, 0 when the socket is full). */
static int64_t release(dir *d, int64_t now)
{
    struct mmsghdr mm[BATCH];
    struct iovec iov[BATCH];
    for (;;) {
        int n = 0;
        size_t h = d->head, used = d->used;
        rec *r = ring_head(d);
        h = d->head;
        used = d->used;
        while (r && r->due <= now && n < BATCH) {
            iov[n] = (struct iovec){(uint8_t *)r + sizeof(rec), r->len};
            mm[n].msg_hdr = (struct msghdr){.msg_iov = &iov[n], .msg_iovlen = 1};
            n++;
            size_t step = rec_size(r->len);
            h += step;
            used -= step;
            if (h == d->cap)
                h = 0;
            if (used == 0)
                break;
            if (d->cap - h < sizeof(rec) || ((rec *)(void *)(d->ring + h))->len == 0) {
                used -= d->cap - h;
                h = 0;
                if (used == 0)
                    break;
            }
            r = (rec *)(void *)(d->ring + h);
        }
        if (n == 0)
            return r ? r->due : INT64_MAX;
        int sent = sendmmsg(d->tx, mm, (unsigned)n, MSG_DONTWAIT);
        if (sent < 0) {
            if (errno == EAGAIN || errno == ENOBUFS || errno == EINTR)
                return 0;
            /* a frame the interface refuses: drop it, go on */
            sent = 1;
            d->st.dropped_tx++;
        } else {
            for (int i = 0; i < sent; i++) {
                d->st.tx_pkts++;
                d->st.tx_bytes += iov[i].iov_len - VHDR;
            }
        }
        for (int i = 0; i < sent; i++) {
            ring_head(d);
            ring_pop(d);
        }
        if (sent < n)
            return 0;
    }
}

static void receive(dir *d, uint8_t *bufs, struct mmsghdr *mm, struct iovec *iov)
{
    for (int i = 0; i < BATCH; i++) {
        iov[i] = (struct iovec){bufs + (size_t)i * FRAME_MAX, FRAME_MAX};
        mm[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
    }
    int n = recvmmsg(d->rx, mm, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0)
        return;
    int64_t now = now_ns();
    for (int i = 0; i < n; i++) {
        const uint8_t *pkt = iov[i].iov_base;
        size_t len = mm[i].msg_len;
        if ((mm[i].msg_hdr.msg_flags & MSG_TRUNC) || len <= VHDR + ETH_HLEN_) {
            d->st.truncated++;
            continue;
        }
        d->st.rx_pkts++;
        d->st.rx_bytes += len - VHDR;
        const struct virtio_net_hdr *vh = (const void *)pkt;
        if (d->per_packet && vh->gso_type != VIRTIO_NET_HDR_GSO_NONE &&
            cut_and_enqueue(d, now, pkt, len))
            continue;
        enqueue(d, now, pkt, len);
    }
}

static void *dir_run(void *arg)
{
    dir *d = arg;
    uint8_t *bufs = malloc((size_t)BATCH * FRAME_MAX);
    struct mmsghdr mm[BATCH];
    struct iovec iov[BATCH];

    if (!bufs) {
        fprintf(stderr, "wanline: out of memory\n");
        exit(1);
    }
    while (!atomic_load(&stopping)) {
        int64_t now = now_ns(), next = release(d, now);
        struct pollfd pf[2] = {{.fd = d->rx, .events = POLLIN}, {.fd = d->tx, .events = 0}};
        struct timespec ts = {0, 100000000}; /* to see `stopping` */
        if (next == 0) {
            pf[1].events = POLLOUT;
        } else if (next != INT64_MAX && next - now < ts.tv_nsec) {
            int64_t w = next - now;
            ts.tv_nsec = w > 0 ? w : 0;
        }
        if (ts.tv_nsec > 0 && ppoll(pf, 2, &ts, NULL) < 0 && errno != EINTR)
            break;
        receive(d, bufs, mm, iov);
    }
    free(bufs);
    return NULL;
}

/* ---- set-up ---- */

static int open_iface(const char *name)
{
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL)), one = 1, big = SOCKBUF;
    unsigned idx = if_nametoindex(name);
    struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
    struct packet_mreq mr = {.mr_type = PACKET_MR_PROMISC};

    if (fd < 0 || idx == 0) {
        fprintf(stderr, "wanline: %s: %s\n", name, strerror(idx == 0 ? ENODEV : errno));
        goto fail;
    }
    sll.sll_ifindex = (int)idx;
    mr.mr_ifindex = (int)idx;
    if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&sll, sizeof sll) != 0 ||
        setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) != 0) {
        fprintf(stderr, "wanline: %s: %s\n", name, strerror(errno));
        goto fail;
    }
    /* Large buffers when allowed (root): a burst must not be dropped here. */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) != 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big) != 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    return fd;
fail:
    if (fd >= 0)
        close(fd);
    return -1;
}

static void print_stats(const dir *d)
{
    const stats *s = &d->st;
    fprintf(stderr,
            "wanline: %s rx %llu pkts %llu B, tx %llu pkts %llu B, lost %llu, queue-drop %llu, "
            "limit-drop %llu, tx-drop %llu, truncated %llu, cut %llu\n",
            d->name, (unsigned long long)s->rx_pkts, (unsigned long long)s->rx_bytes,
            (unsigned long long)s->tx_pkts, (unsigned long long)s->tx_bytes,
            (unsigned long long)s->lost, (unsigned long long)s->dropped_queue,
            (unsigned long long)s->dropped_limit, (unsigned long long)s->dropped_tx,
            (unsigned long long)s->truncated, (unsigned long long)s->cut);
}

/* "12.5" or "12.5/30": one value per direction. mult scales; suffixes as
 * in the header. false on a bad value. */
static bool parse_num(const char *s, double *out, char **end, bool bits)
{
    errno = 0;
    double v = strtod(s, end);
    if (errno || *end == s || v < 0 || v != v)
        return false;
    double k = bits ? 1000.0 : 1024.0;
    switch (**end) {
    case 'k':
    case 'K':
        v *= k, (*end)++;
        break;
    case 'M':
        v *= k * k, (*end)++;
        break;
    case 'G':
        v *= k * k * k, (*end)++;
        break;
    default:
        break;
    }
    *out = v;
    return true;
}

static bool parse_pair(const char *s, double v[2], bool bits, double max)
{
    char *end;
    if (!parse_num(s, &v[0], &end, bits))
        return false;
    v[1] = v[0];
    if (*end == '/' && !parse_num(end + 1, &v[1], &end, bits))
        return false;
    return *end == '\0' && v[0] <= max && v[1] <= max;
}

static void usage(void)
{
    fprintf(stderr, "usage: wanline [-d MS] [-j MS] [-l PCT] [-r BITS] [--burst BYTES] [-q BYTES]\n"
                    "               [-m BYTES] [-s SEED] [-v] IFACE_A IFACE_B\n"
                    "  a value applies to both directions; AB/BA sets them apart (-d 25/30)\n");
    exit(2);
}

static void set_opt(line_cfg c[2], int opt, const char *arg)
{
    double v[2];
    bool ok;
    switch (opt) {
    case 'd':
    case 'j':
        if ((ok = parse_pair(arg, v, false, 60000.0)))
            for (int i = 0; i < 2; i++)
                *(opt == 'd' ? &c[i].delay_ns : &c[i].jitter_ns) = (int64_t)(v[i] * 1e6);
        break;
    case 'l':
        if ((ok = parse_pair(arg, v, false, 100.0)))
            for (int i = 0; i < 2; i++)
                c[i].loss = v[i] / 100.0;
        break;
    case 'r':
        if ((ok = parse_pair(arg, v, true, 1e12)))
            for (int i = 0; i < 2; i++)
                c[i].rate = v[i] / 8.0;
        break;
    case 'b':
        if ((ok = parse_pair(arg, v, false, 1e9) && v[0] >= 64 && v[1] >= 64))
            for (int i = 0; i < 2; i++)
                c[i].burst = v[i];
        break;
    case 'q':
    case 'm':
        if ((ok = parse_pair(arg, v, false, 4e9) && v[0] >= 1 && v[1] >= 1))
            for (int i = 0; i < 2; i++)
                *(opt == 'q' ? &c[i].queue : &c[i].limit) = (size_t)v[i];
        break;
    case 's':
        if ((ok = parse_pair(arg, v, false, 1e18)))
            for (int i = 0; i < 2; i++)
                c[i].seed = (uint64_t)v[0] * 2 + (uint64_t)i;
        break;
    default:
        ok = false;
    }
    if (!ok) {
        fprintf(stderr, "wanline: bad value '%s' for -%c\n", arg, opt);
        usage();
    }
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"delay", 1, NULL, 'd'},   {"jitter", 1, NULL, 'j'},
                                             {"loss", 1, NULL, 'l'},    {"rate", 1, NULL, 'r'},
                                             {"burst", 1, NULL, 'b'},   {"queue", 1, NULL, 'q'},
                                             {"limit", 1, NULL, 'm'},   {"seed", 1, NULL, 's'},
                                             {"verbose", 0, NULL, 'v'}, {NULL, 0, NULL, 0}};
    line_cfg c[2];
    dir d[2];
    bool verbose = false;
    int opt, sa, sb, sig;
    sigset_t set;

    for (int i = 0; i < 2; i++)
        c[i] = (line_cfg){
            .burst = DEF_BURST, .queue = DEF_QUEUE, .limit = DEF_LIMIT, .seed = 2 + (uint64_t)i};
    while ((opt = getopt_long(argc, argv, "d:j:l:r:q:m:s:v", longopts, NULL)) != -1) {
        if (opt == 'v')
            verbose = true;
        else if (opt == '?')
            usage();
        else
            set_opt(c, opt, optarg);
    }
    if (argc - optind != 2)
        usage();
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if ((sa = open_iface(argv[optind])) < 0 || (sb = open_iface(argv[optind + 1])) < 0)
        return 1;
    for (int i = 0; i < 2; i++) {
        d[i] = (dir){.name = i == 0 ? "A->B" : "B->A",
                     .rx = i == 0 ? sa : sb,
                     .tx = i == 0 ? sb : sa,
                     .cfg = c[i],
                     .rng = c[i].seed,
                     .tb_tokens = c[i].burst,
                     .cap = (c[i].limit + FRAME_MAX + 64) & ~(size_t)7};
        d[i].per_packet = c[i].loss > 0 || c[i].jitter_ns > 0 || c[i].rate > 0;
        d[i].ring = malloc(d[i].cap);
        if (!d[i].ring) {
            fprintf(stderr, "wanline: out of memory\n");
            return 1;
        }
    }
    for (int i = 0; i < 2; i++)
        if (pthread_create(&d[i].thread, NULL, dir_run, &d[i]) != 0) {
            fprintf(stderr, "wanline: cannot start a thread\n");
            return 1;
        }
    fprintf(stderr, "wanline: ready\n");
    for (;;) {
        struct timespec ts = {1, 0};
        sig = verbose ? sigtimedwait(&set, NULL, &ts) : sigwaitinfo(&set, NULL);
        if (sig == SIGINT || sig == SIGTERM)
            break;
        if (sig == SIGUSR1 || (verbose && sig < 0 && errno == EAGAIN))
            for (int i = 0; i < 2; i++)
                print_stats(&d[i]);
    }
    atomic_store(&stopping, true);
    for (int i = 0; i < 2; i++)
        pthread_join(d[i].thread, NULL);
    for (int i = 0; i < 2; i++) {
        print_stats(&d[i]);
        free(d[i].ring);
    }
    close(sa);
    close(sb);
    return 0;
}
