/* SPDX-License-Identifier: MIT */
/*
 * srvrec.h - DNS SRV answers (RFC 2782) for a node's rendezvous service
 * name, e.g. _banter._tcp.example.com: the targets of an answer, and the
 * order to try them in. Pure: the caller does the query (res_nquery, off
 * its event loop) and hands in the answer's bytes and a random source;
 * libresolv's ns_initparse/ns_parserr read the message.
 */
#ifndef BANTER_SRVREC_H
#define BANTER_SRVREC_H

#include <stddef.h>
#include <stdint.h>

#include "banter_limits.h"
#include "bcrypto.h"
#include "error.h"

#define SRVREC_HOST_MAX 255

typedef struct srvrec {
    char host[SRVREC_HOST_MAX + 1]; /* the target, without the final dot */
    uint16_t port, priority, weight;
} srvrec;

/* The SRV records of a DNS answer (len bytes, at most
 * BANTER_MAX_DNS_ANSWER), at most cap of them in out (*n), in the
 * answer's order; other record types are skipped, and so is a target "."
 * (RFC 2782: the service is not offered there). BANTER_EFORMAT when the
 * message does not parse, BANTER_ENOENT when it holds no usable SRV
 * record, BANTER_ETOOBIG when len is over the cap. */
BANTER_WUR int srvrec_parse(const uint8_t *ans, size_t len, srvrec *out, size_t cap, size_t *n);

/* Sort into the order to try (RFC 2782): lower priority first; within a
 * priority, a weighted random draw (a weight 0 record is drawn rarely
 * but can be). */
void srvrec_order(srvrec *t, size_t n, const banter_rng *rng);

#endif
