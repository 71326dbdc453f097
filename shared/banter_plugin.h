/* SPDX-License-Identifier: MIT */
/*
 * banter_plugin.h - the Banter plug-in ABI (docs/plugins.md).
 *
 * A plug-in is a shared object that exports one symbol, banter_plugin_entry,
 * returning a description of itself. It is loaded by banter-plugin-host, a
 * small process of its own that the node (or the server) starts, watches
 * and restarts: a plug-in that crashes, hangs or eats memory takes only its
 * host process down. Everything the plug-in may do goes through the host's
 * function table (banter_host), which is append-only: new functions are
 * added at its end with a new minor version, never removed or reordered.
 *
 * Versions. A plug-in is built against BANTER_PLUGIN_ABI_MAJOR and _MINOR
 * and says so in its banter_plugin. The host loads it when the majors are
 * equal and the plug-in's minor is at most the host's; otherwise it refuses
 * it with a message naming both versions. A plug-in that uses a function
 * added after the minor it was built for checks BANTER_HOST_HAS first.
 *
 * Structs that cross the boundary begin with a size field (the sizeof the
 * side that filled it knew), so each side can tell which members exist.
 * Handles (banter_ctx, banter_event, banter_timer, banter_watch) are opaque:
 * their layout is the host's and is read only through accessors.
 *
 * Threads and blocking. The host calls the plug-in on one thread only, from
 * its loop; every host function must be called on that thread. A plug-in
 * must not block: waiting on a socket or a timer goes through watch_fd and
 * timer_add. A plug-in that does not return to the loop for the host's
 * heartbeat deadline is killed and restarted.
 *
 * Strings are UTF-8 and NUL-terminated. Pointers the host hands to a
 * callback are valid during that callback only; copy what you keep.
 */
#ifndef BANTER_PLUGIN_H
#define BANTER_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BANTER_PLUGIN_ABI_MAJOR 1
#define BANTER_PLUGIN_ABI_MINOR 0

/* The one symbol a plug-in exports (the name of banter_plugin_entry_fn). */
#define BANTER_PLUGIN_ENTRY "banter_plugin_entry"

/* ---- opaque handles ---- */
typedef struct banter_ctx banter_ctx;     /* this plug-in in its host */
typedef struct banter_event banter_event; /* one event, valid during its callback */
typedef struct banter_timer banter_timer;
typedef struct banter_watch banter_watch;

/* ---- results ---- */
#define BANTER_PLUGIN_OK     0
#define BANTER_PLUGIN_EINVAL (-1) /* a bad argument (NULL, not UTF-8, too long) */
#define BANTER_PLUGIN_ENOMEM (-2)
#define BANTER_PLUGIN_ENOENT (-3) /* no such key or handle */
#define BANTER_PLUGIN_EIO    (-4) /* the host could not do it (storage, the node gone) */
#define BANTER_PLUGIN_ESPACE (-5) /* the value does not fit the buffer given */
#define BANTER_PLUGIN_EFULL  (-6) /* the storage is full (10000 keys or 64 MiB) */

/* ---- log levels ---- */
#define BANTER_LOG_ERROR 0
#define BANTER_LOG_WARN  1
#define BANTER_LOG_INFO  2
#define BANTER_LOG_DEBUG 3

/* ---- events (a bit each, for subscribe's mask) ---- */
typedef enum banter_event_kind {
    BANTER_EV_MESSAGE_IN = 0,  /* a message from a contact: contact, text, id */
    BANTER_EV_MESSAGE_OUT = 1, /* a message this node sent reached its final state:
                                  contact, text ("delivered", "stored", "failed"), id */
    BANTER_EV_PRESENCE = 2,    /* a contact's presence: contact, text ("online", "offline",
                                  "away", "busy") */
    BANTER_EV_CONTACT = 3,     /* the contact list changed: contact may be "" */
    BANTER_EV_LOGIN = 4,       /* the node logged in to its server: text */
    BANTER_EV_LOGOUT = 5,      /* ... or logged out / lost it: text */
    BANTER_EV_SEND_RESULT = 6, /* the answer to a send_message: request, status, text */
    BANTER_EV_STORED = 7,      /* on the server: a sealed message waits for an account none of
                                  whose devices is online: contact "@ACCOUNT"; no content */
} banter_event_kind;

#define BANTER_EV_BIT(k) (1u << (unsigned)(k))
#define BANTER_EV_ALL    0xffu

/* ---- fd watches ---- */
#define BANTER_IO_READ  0x1u
#define BANTER_IO_WRITE 0x2u
#define BANTER_IO_ERROR 0x4u /* only in revents: error or hang-up */

typedef void (*banter_event_fn)(banter_ctx *ctx, const banter_event *ev, void *ud);
typedef void (*banter_timer_fn)(banter_ctx *ctx, banter_timer *t, void *ud);
typedef void (*banter_watch_fn)(banter_ctx *ctx, banter_watch *w, int fd, unsigned revents,
                                void *ud);

/* The host's function table: append-only. ctx is the one handed to init. */
typedef struct banter_host {
    uint32_t size; /* sizeof the host's struct: see BANTER_HOST_HAS */
    uint16_t abi_major, abi_minor;

    /* ABI 1.0 */
    void (*log)(banter_ctx *ctx, int level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    /* The value of plugin.NAME.KEY in the node's configuration, or NULL. */
    const char *(*config_get)(banter_ctx *ctx, const char *key);
    /* The plug-in's name as configured (plugin.NAME.path). */
    const char *(*name)(banter_ctx *ctx);

    /* Send text to a contact (a name as `banter send` takes it). Returns a
     * request number > 0; its BANTER_EV_SEND_RESULT comes later. The node
     * refuses a contact the plug-in was not given (plugin.NAME.contacts).
     * BANTER_PLUGIN_EINVAL for empty or too long arguments. */
    int64_t (*send_message)(banter_ctx *ctx, const char *contact, const char *text);

    /* Call fn for each event whose kind is in mask (BANTER_EV_BIT). Returns
     * a subscription number > 0, or an error. */
    int (*subscribe)(banter_ctx *ctx, uint32_t mask, banter_event_fn fn, void *ud);
    int (*unsubscribe)(banter_ctx *ctx, int subscription);

    /* Event accessors. */
    banter_event_kind (*event_kind)(const banter_event *ev);
    /* The contact: a handle ("#" and its key in hex) that send_message
     * takes and that names it exactly; "" when none. */
    const char *(*event_contact)(const banter_event *ev);
    const char *(*event_contact_name)(const banter_event *ev); /* its label, "" when none */
    const char *(*event_text)(const banter_event *ev);         /* "" when none */
    const char *(*event_id)(const banter_event *ev);           /* message id in hex, or "" */
    int64_t (*event_request)(const banter_event *ev);          /* SEND_RESULT: the request */
    int (*event_status)(const banter_event *ev);               /* SEND_RESULT: 0 or < 0 */

    /* A timer after ms milliseconds, again every ms when repeat. Removing
     * it (also from its own callback) frees it; a one-shot timer is freed
     * after its callback returns. NULL on failure. */
    banter_timer *(*timer_add)(banter_ctx *ctx, uint32_t ms, int repeat, banter_timer_fn fn,
                               void *ud);
    void (*timer_remove)(banter_ctx *ctx, banter_timer *t);

    /* Watch fd for events (BANTER_IO_READ, _WRITE). The plug-in keeps
     * owning fd; remove the watch before closing it. NULL on failure. */
    banter_watch *(*watch_fd)(banter_ctx *ctx, int fd, unsigned events, banter_watch_fn fn,
                              void *ud);
    void (*watch_remove)(banter_ctx *ctx, banter_watch *w);

    /* Per-plug-in key/value storage that survives restarts. Keys: 1..128
     * bytes; values: up to 64 KiB; at most 10000 keys and 64 MiB in all
     * (kv_set: BANTER_PLUGIN_EFULL beyond). kv_get copies at most cap bytes into out
     * and sets *len to the value's length (BANTER_PLUGIN_ESPACE when it is
     * longer than cap); BANTER_PLUGIN_ENOENT when the key is not there. */
    int (*kv_set)(banter_ctx *ctx, const char *key, const void *val, size_t len);
    int (*kv_get)(banter_ctx *ctx, const char *key, void *out, size_t cap, size_t *len);
    int (*kv_del)(banter_ctx *ctx, const char *key);

    /* Ask to be stopped cleanly (fini runs; the node does not restart it). */
    void (*stop)(banter_ctx *ctx, const char *why);
    /* Add new functions here, with a new minor version. */
} banter_host;

/* Whether the host's table has member m (for functions added after 1.0). */
#define BANTER_HOST_HAS(host, m)                                                                   \
    ((host)->size >= offsetof(banter_host, m) + sizeof(((banter_host *)0)->m) && (host)->m)

/* What banter_plugin_entry returns: static data of the plug-in. */
typedef struct banter_plugin {
    uint32_t size; /* sizeof(banter_plugin) as the plug-in was built */
    uint16_t abi_major, abi_minor;
    const char *name;        /* short, e.g. "echo" */
    const char *version;     /* the plug-in's own version */
    const char *description; /* one line */
    /* Called once after loading: subscribe, add timers here. Return 0, or a
     * negative number to refuse to start (the host exits and reports it). */
    int (*init)(banter_ctx *ctx, const banter_host *host);
    /* Called once before a clean stop (not after a crash or a kill). */
    void (*fini)(banter_ctx *ctx);
    /* Append new members here, with a new minor version. */
} banter_plugin;

typedef const banter_plugin *(*banter_plugin_entry_fn)(void);

/* Fill the version fields of a banter_plugin in a plug-in's source. */
#define BANTER_PLUGIN_INIT                                                                         \
    .size = sizeof(banter_plugin), .abi_major = BANTER_PLUGIN_ABI_MAJOR,                           \
    .abi_minor = BANTER_PLUGIN_ABI_MINOR

#ifdef __cplusplus
}
#endif

#endif
