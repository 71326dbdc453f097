/* SPDX-License-Identifier: MIT */
/*
 * netaddr.h - what kind of IP address another party gave us, in one
 * place: an address a host may have (unicast), or one that is never a
 * peer's to hand out (loopback: this host; unspecified; multicast;
 * reserved, broadcast among them), or one that only the link reaches
 * (link-local). ICE candidates (icecand.h), a STUN server's OTHER-ADDRESS
 * (natmap.h) and mDNS records (peer/net/mdns.h) are checked with it, so
 * that no peer can make the node dial its own loopback services or send
 * to a group.
 *
 * Sans I/O, pure. An address is 16 bytes: an IPv4 one in the first 4
 * (ipv6 false), an IPv6 one in all 16. An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) is the IPv4 address it carries, so it cannot dodge
 * the IPv4 rules.
 */
#ifndef BANTER_NETADDR_H
#define BANTER_NETADDR_H

#include <stdbool.h>
#include <stdint.h>

typedef enum netaddr_kind {
    NETADDR_UNICAST = 0, /* none of the below */
    NETADDR_LOOPBACK,    /* 127.0.0.0/8, ::1 */
    NETADDR_LINK_LOCAL,  /* 169.254.0.0/16, fe80::/10 (IPv6: meaningful only with a scope) */
    NETADDR_UNSPECIFIED, /* 0.0.0.0/8 ("this network"), :: */
    NETADDR_MULTICAST,   /* 224.0.0.0/4, ff00::/8 */
    NETADDR_RESERVED,    /* 240.0.0.0/4, 255.255.255.255 (broadcast) among them */
} netaddr_kind;

/* The kind of addr (see above). */
netaddr_kind netaddr_classify(bool ipv6, const uint8_t addr[static 16]);
/* A word for logs: "unicast", "loopback", "link-local", "unspecified",
 * "multicast", "reserved or broadcast". */
const char *netaddr_kind_name(netaddr_kind k);

#endif
