/* SPDX-License-Identifier: MIT */
/*
 * app.h - the composition root of `banter node`: builds the core
 * (core/node.h), its adapters (the LAN, mDNS, the rendezvous and its
 * relay) and its interfaces (the control socket, the web page), wires them
 * together, and runs the main loop until SIGINT or SIGTERM. Nothing else
 * knows more than one of them.
 */
#ifndef BANTER_PEER_APP_H
#define BANTER_PEER_APP_H

#include <stdbool.h>
#include <stdint.h>

#include "banter_limits.h"
#include "core/home.h"

#define APP_MAX_STATIC 32

typedef struct app_config {
    home home;
    char name[BANTER_MAX_NAME + 1];
    uint16_t port; /* 0: any free port */
    bool mdns;
    size_t nstatic;
    char static_peers[APP_MAX_STATIC][300]; /* "host:port" */
    char rendezvous[2048]; /* "host:port[,host:port...]" or an SRV name, "" for none */
    char server_key[128];  /* its pinned fingerprint, as typed */
    int web_port;          /* --web-port 0..65535, or -1: web_port of banter.conf */
} app_config;

/* Run a node until SIGINT/SIGTERM. Returns a process exit code (0, or 1
 * with the cause printed to stderr). */
int app_run(const app_config *cfg);

#endif
