/* SPDX-License-Identifier: MIT */
/* netaddr.c - kinds of IP addresses (see netaddr.h). */
#include "netaddr.h"

#include <string.h>

static netaddr_kind classify4(const uint8_t a[static 4])
{
    if (a[0] == 0)
        return NETADDR_UNSPECIFIED;
    if (a[0] == 127)
        return NETADDR_LOOPBACK;
    if (a[0] == 169 && a[1] == 254)
        return NETADDR_LINK_LOCAL;
    if (a[0] >= 240)
        return NETADDR_RESERVED;
    return a[0] >= 224 ? NETADDR_MULTICAST : NETADDR_UNICAST;
}

netaddr_kind netaddr_classify(bool ipv6, const uint8_t addr[static 16])
{
    static const uint8_t zero[16] = {0}, mapped[12] = {[10] = 0xff, [11] = 0xff};
    if (!ipv6)
        return classify4(addr);
    if (memcmp(addr, mapped, 12) == 0)
        return classify4(addr + 12);
    if (memcmp(addr, zero, 16) == 0)
        return NETADDR_UNSPECIFIED;
    if (memcmp(addr, zero, 15) == 0 && addr[15] == 1)
        return NETADDR_LOOPBACK;
    if (addr[0] == 0xff)
        return NETADDR_MULTICAST;
    if (addr[0] == 0xfe && (addr[1] & 0xc0) == 0x80)
        return NETADDR_LINK_LOCAL;
    return NETADDR_UNICAST;
}

const char *netaddr_kind_name(netaddr_kind k)
{
    switch (k) {
    case NETADDR_UNICAST:
        return "unicast";
    case NETADDR_LOOPBACK:
        return "loopback";
    case NETADDR_LINK_LOCAL:
        return "link-local";
    case NETADDR_UNSPECIFIED:
        return "unspecified";
    case NETADDR_MULTICAST:
        return "multicast";
    case NETADDR_RESERVED:
        return "reserved or broadcast";
    }
    return "unknown";
}
