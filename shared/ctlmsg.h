/* SPDX-License-Identifier: MIT */
/*
 * ctlmsg.h - the codec of the node's control protocol (docs/control.md).
 *
 * Requests: one JSON line (without its "\n") or one WebSocket text frame
 * in, a typed request out: its kind and every argument checked (types,
 * lengths, UTF-8, ranges, integers exact as jsonv.h reads them). Replies
 * and events: a typed struct in, one JSON text out (no newline: the socket
 * adds "\n", a WebSocket frame carries it as it is). Pure code: no I/O, no
 * clock (an event's "at" is handed in), and no cJSON pointer leaves the
 * module.
 *
 * The request table exists once, in ctlmsg.c: each kind's name, flags
 * (CTL_F_*) and argument schema. Members a request does not define are
 * ignored (as in the peer protocol: a newer client's optional extras do
 * not break an older node); a member it defines must have the right type
 * (null is no exception, except for a read mark in settings_set).
 *
 * Errors of ctlmsg_decode, with the words for people in why:
 *   BANTER_ETOOBIG   over BANTER_CTL_MAX_LINE bytes (the node closes)
 *   BANTER_EUTF8     not UTF-8
 *   BANTER_EJSON     not one well-formed JSON object (also: a member
 *                    twice, over 32 members, nested over 8 levels)
 *   BANTER_ESCHEMA   no "cmd", or "cmd" not a string
 *   BANTER_EBADTYPE  an unknown "cmd"
 *   BANTER_EINVAL    an argument missing or bad (why names it)
 *   BANTER_ETOOLONG  a message "text" over BANTER_MAX_BODY bytes
 *   BANTER_ENOMEM
 */
#ifndef BANTER_CTLMSG_H
#define BANTER_CTLMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "banter_limits.h"
#include "buf.h"
#include "error.h"
#include "rvmsg.h"

#define CTL_ID_LEN  16 /* a message or transfer id (as MSG_ID_LEN) */
#define CTL_WHY_CAP 512

typedef enum ctl_kind {
    CTL_ID,
    CTL_PEERS,
    CTL_SEND,
    CTL_BROADCAST,
    CTL_HISTORY,
    CTL_VERIFY,
    CTL_LISTEN,
    CTL_SEND_FILE,
    CTL_TRANSFERS,
    CTL_ACCEPT,
    CTL_DECLINE,
    CTL_CANCEL,
    CTL_SETTINGS_GET,
    CTL_SETTINGS_SET,
    CTL_WEB,
    CTL_RENDEZVOUS,
    CTL_LOGIN,
    CTL_LOGOUT,
    CTL_PROFILE_SET,
    CTL_SEARCH,
    CTL_CONTACTS,
    CTL_REQUESTS,
    CTL_CONTACT,
    CTL_STATUS,
    CTL_ORG_BROADCAST,
    CTL_PLUGINS,
    CTL_GROUPS,
    CTL_GROUP_CREATE,
    CTL_GROUP_INVITE,
    CTL_GROUP_REMOVE,
    CTL_GROUP_LEAVE,
    CTL_GROUP_RENAME,
    CTL_GROUP_ADMIN,
    CTL_GROUP_MEMBERS,
    CTL_GROUP_SEND,
    CTL_GROUP_HISTORY,
    CTL_GROUP_READ,
    CTL_GROUP_DELETE,
    CTL_FIND,
    CTL_NAT_CHECK,
    CTL_ANNOUNCEMENTS,
    CTL_ANNOUNCEMENT_READ,
    CTL_DOCTOR,
    CTL_KIND_COUNT
} ctl_kind;

/* What the table says of a kind (ctl_kind_flags). */
#define CTL_F_IDLE   0x01u /* refused (ESTATE) while a reply of the same client waits */
#define CTL_F_WAITS  0x02u /* its reply may come later; the client waits meanwhile */
#define CTL_F_RDV    0x04u /* served by the rendezvous part (ENOTCONF without one) */
#define CTL_F_SECRET 0x08u /* carries a secret (a password): wiped when cleared */

/* "send", "peers", ...; "?" for a kind out of range. */
const char *ctl_kind_name(ctl_kind k);
unsigned ctl_kind_flags(ctl_kind k);
/* BANTER_EBADTYPE for a name that is no kind. */
BANTER_WUR int ctl_kind_parse(const char *name, ctl_kind *out);

/* Text of len bytes, NUL-terminated, owned by the request (NULL: absent). */
typedef struct ctl_text {
    char *s;
    size_t len;
} ctl_text;

typedef enum ctl_theme {
    CTL_THEME_SYSTEM,
    CTL_THEME_LIGHT,
    CTL_THEME_DARK,
    CTL_THEME_COUNT
} ctl_theme;

#define CTL_FONT_MIN     12
#define CTL_FONT_MAX     24
#define CTL_FONT_DEFAULT 15

/* One conversation's "read up to" mark. */
struct ctl_read_mark {
    char key[BANTER_CTL_MAX_READ_KEY + 1]; /* 1..80 printable ASCII bytes */
    bool remove;                           /* settings_set: null, forget the mark */
    int64_t ts;                            /* 0..2^53 milliseconds */
};

/* settings_set: the keys given (CTL_SET_* in has), checked. */
#define CTL_SET_THEME     0x01u
#define CTL_SET_FONT_SIZE 0x02u
#define CTL_SET_SOUND     0x04u
#define CTL_SET_NOTIFY    0x08u
#define CTL_SET_READ      0x10u
struct ctl_settings_set {
    unsigned has;
    ctl_theme theme;
    int64_t font_size; /* CTL_FONT_MIN..CTL_FONT_MAX */
    bool sound, notify;
    size_t nread; /* 0..BANTER_CTL_MAX_READ_SET, keys distinct */
    struct ctl_read_mark read[BANTER_CTL_MAX_READ_SET];
};

/* Requests; NUL-terminated strings everywhere. "peer" is a display name,
 * "@account" or a fingerprint prefix: 1..BANTER_CTL_MAX_PEER bytes of
 * UTF-8 without control characters, resolved by the node. */
struct ctl_send {
    char peer[BANTER_CTL_MAX_PEER + 1];
    ctl_text text;   /* 1..BANTER_MAX_BODY bytes of UTF-8 */
    int64_t wait_ms; /* 0..BANTER_CTL_MAX_WAIT_MS, default 0 */
    bool wait_offline;
};

struct ctl_broadcast {
    ctl_text text;
};

struct ctl_history {
    char peer[BANTER_CTL_MAX_PEER + 1];
    int64_t limit;  /* 1..BANTER_CTL_MAX_HISTORY, default 50 */
    int64_t before; /* 0..2^53: only messages older than this seq; 0 (default): the newest */
};

struct ctl_verify {
    char peer[BANTER_CTL_MAX_PEER + 1];
};

struct ctl_send_file {
    char peer[BANTER_CTL_MAX_PEER + 1];
    size_t npaths;   /* 1..BANTER_CTL_MAX_PATHS */
    ctl_text *paths; /* each absolute, 1..BANTER_CTL_MAX_ABS_PATH bytes */
    bool follow;
};

/* accept, decline, cancel. */
struct ctl_xfer {
    char id[2 * CTL_ID_LEN + 1]; /* 1..32 hex digits (either case): an id or a prefix */
    ctl_text to;                 /* accept only; absolute path, or absent (s NULL) */
};

struct ctl_transfers {
    int64_t limit;                   /* 1..1000, default 50 */
    char before[2 * CTL_ID_LEN + 1]; /* "" (default): the newest; else a transfer's id */
};

struct ctl_login {
    char user[BANTER_MAX_NAME + 1];     /* an account name (cert_name_valid) */
    char password[RV_PASSWORD_MAX + 1]; /* 1..1024 bytes; wiped by ctl_request_clear */
};

struct ctl_profile_set {
    rv_field field; /* a profile field (not RV_F_COUNT, the account name) */
    ctl_text value; /* 0..rv_field_max(field) bytes, as rv_field_check allows */
};

struct ctl_search {
    size_t n; /* 1..RV_SEARCH_MAX criteria, as "FIELD=VALUE" or "FIELD~VALUE" */
    struct rv_criterion c[RV_SEARCH_MAX];
    int64_t page;     /* 0..RV_PAGE_MAX, default 0 */
    int64_t per_page; /* 1..RV_PER_PAGE_MAX, default 20 */
};

struct ctl_contact_req {
    rv_op op;
    char user[BANTER_MAX_NAME + 1]; /* an account name */
};

struct ctl_status {
    rv_presence status;         /* not RV_P_OFFLINE */
    char text[RV_TEXT_MAX + 1]; /* plain; absent: "" */
};

struct ctl_org_broadcast {
    ctl_text text;       /* 1..BANTER_MAX_BODY bytes */
    char department[65]; /* plain, 0..64 bytes; "": everyone */
};

#define CTL_PLUGIN_NAME_MAX 32
struct ctl_plugins_req {
    char action[8];                     /* "list" ("" read as it), "enable", "disable", "restart" */
    char name[CTL_PLUGIN_NAME_MAX + 1]; /* enable, disable: 1..32 bytes */
};

/* The group requests (docs/control.md, "Groups"): each uses the members
 * its schema names. "group" and members are as typed (a name, an id,
 * "@account", a fingerprint prefix...), resolved by the node. */
#define CTL_MAX_GROUP_MEMBERS 32
#define CTL_MAX_GROUP_PAGE    500
#define CTL_MAX_FIND          256
struct ctl_group {
    char group[BANTER_CTL_MAX_PEER + 1];  /* 1..128 bytes, plain */
    char name[BANTER_MAX_NAME + 1];       /* create, rename: 1..64 bytes, plain */
    char member[BANTER_CTL_MAX_PEER + 1]; /* remove, admin */
    size_t nmembers;                      /* create: 0..32, invite: 1..32 */
    char members[CTL_MAX_GROUP_MEMBERS][BANTER_CTL_MAX_PEER + 1];
    bool admin;    /* admin: required */
    ctl_text text; /* send: 1..BANTER_MAX_BODY bytes */
    int64_t limit; /* history: 1..500, default 50 */
};

struct ctl_find {
    char text[CTL_MAX_FIND + 1]; /* 1..256 bytes, plain */
    int64_t limit;               /* 1..500, default 20 */
    int64_t before;              /* 0..2^53: only messages with a smaller seq; 0: none */
};

/* The organisation's announcements (docs/control.md, "Announcements"). */
#define CTL_MAX_ANNOUNCEMENTS 200
struct ctl_ann {
    int64_t limit; /* announcements: 1..200, default 50 */
    bool unread;   /* announcements: only those not read yet */
    int64_t id;    /* announcement_read: 1..2^53, required */
};

/* doctor: the contact to look at, or "" (docs/control.md, "Doctor"). */
struct ctl_doctor_req {
    char peer[BANTER_CTL_MAX_PEER + 1];
};

typedef struct ctl_request {
    ctl_kind kind;
    union {
        struct ctl_send send;
        struct ctl_broadcast broadcast;
        struct ctl_history history;
        struct ctl_verify verify;
        struct ctl_send_file send_file;
        struct ctl_xfer xfer; /* accept, decline, cancel */
        struct ctl_transfers transfers;
        struct ctl_settings_set settings;
        struct ctl_login login;
        struct ctl_profile_set profile;
        struct ctl_search search;
        struct ctl_contact_req contact;
        struct ctl_status status;
        struct ctl_org_broadcast org_broadcast;
        struct ctl_plugins_req plugins;
        struct ctl_group group; /* every group_* kind */
        struct ctl_find find;
        struct ctl_ann ann; /* announcements, announcement_read */
        struct ctl_doctor_req doctor;
    } u; /* kinds without arguments use none */
} ctl_request;

/* Decode one request of len bytes (not NUL-terminated; no newline). On
 * success the caller calls ctl_request_clear(q); on failure q needs none
 * and why (at least CTL_WHY_CAP bytes, cap given) says what is wrong,
 * quoting the argument. Errors: the list at the top. A password in the
 * text is copied into q only; the caller wipes its own copy of the line. */
BANTER_WUR int ctlmsg_decode(ctl_request *q, const char *text, size_t len, char *why, size_t cap);

/* The web page's acknowledgement on its WebSocket (docs/web.md): exactly
 * {"ack":N}, N the number of frames the page has received on it, 0..2^53.
 * BANTER_EBADTYPE when text is not an acknowledgement (it has a "cmd", or
 * no "ack": then it is a request for ctlmsg_decode); BANTER_ESCHEMA when
 * "ack" is not such a number; other errors as ctlmsg_decode. */
BANTER_WUR int ctlmsg_decode_ack(const char *text, size_t len, int64_t *n);

/* Free what q owns and wipe it. Accepts a zeroed request. */
void ctl_request_clear(ctl_request *q);

/* Append the JSON text of q (for clients: the CLI, tests). Every argument
 * is written when it differs from its default; what ctlmsg_decode would
 * refuse is refused with its code (why as there) and nothing is
 * appended. BANTER_ETOOBIG past out's cap or BANTER_CTL_MAX_LINE. */
BANTER_WUR int ctlmsg_encode_request(const ctl_request *q, buf *out, char *why, size_t cap);

/* ---- replies and events (node -> client) ----
 *
 * Strings are borrowed from the caller for the call; NULL is written as
 * "" unless a member says "absent" or "null". Every string must be UTF-8
 * (BANTER_EUTF8 otherwise: nothing is appended). Integers are written
 * exactly and must lie in 0..2^53 (BANTER_ESCHEMA otherwise). A reply or
 * event is refused whole or appended whole; BANTER_ETOOBIG past out's cap.
 */

/* The contact named in a reply or event: {"id","fingerprint","name"}. */
typedef struct ctl_peer_ref {
    const uint8_t *id; /* the contact's key (32 bytes), "id" in hex ("#ID" names it); NULL: none */
    const char *fingerprint, *name;
} ctl_peer_ref;

/* One device of a contact. */
typedef struct ctl_device {
    const char *fingerprint, *name, *trust;
    bool online;
    const char *address, *source;
    const char *route; /* how it is reached now: "lan", "direct", "relay", "server" or "" */
    const char *path;  /* the path's details ("" when none) */
} ctl_device;

/* An entry of "peers" (also verify's "peer"). */
typedef struct ctl_peer {
    const uint8_t *id; /* the contact's key (32 bytes); NULL: no "id" (a device never met) */
    const char *fingerprint, *name;
    const char *fold; /* the name shown (display_name, else name) as compared: "" when NULL */
    bool online;
    const char *address;        /* "addresses": [] when NULL or "" */
    const char *source, *trust; /* "lan" ...; "known" ... */
    int64_t last_seen;          /* milliseconds */
    /* An organisation account when account is not NULL nor "": then
     * "account", "status", "text", "contact", "display_name" and "org"
     * ({"account","server_fp"}) are written. */
    const char *account, *status, *text, *contact, *display_name, *org_server_fp;
    const char *replaces; /* "replaces" when not NULL nor "" */
    const char *route;    /* the first device's route (ctl_device), "" when none */
    size_t ndev;          /* "devices" */
    const ctl_device *devs;
} ctl_peer;

/* A history entry, or what a "message" / "delivered" event carries. */
typedef struct ctl_message {
    uint8_t id[CTL_ID_LEN];
    int64_t seq;        /* the store's order (history's "before") */
    bool incoming;      /* "direction": "in" or "out" (history) */
    bool from_self;     /* a "message" event: "direction":"out", a copy of what this
                           account sent from another of its devices */
    const char *device; /* history: the device's fingerprint, when not NULL nor "" */
    bool unverified;    /* "unverified": true, written only when set */
    int64_t ts, stored; /* milliseconds ("stored": history) */
    const char *state;  /* queued, delivered, received, stored, failed */
    const char *error;  /* "error" when not NULL nor "" */
    bool broadcast;
    const char *body; /* body_len bytes of UTF-8; "links" is computed from it */
    size_t body_len;
} ctl_message;

/* The object every transfer reply and event carries. */
typedef struct ctl_transfer {
    uint8_t id[CTL_ID_LEN];
    ctl_peer_ref peer;
    bool incoming;             /* "direction" */
    const char *state, *name;  /* "offered" ...; the file's or folder's name */
    int64_t files, size, done; /* count, bytes, bytes */
    int64_t rate;              /* bytes per second (negative: 0) */
    const char *error, *dest;
    int64_t created; /* milliseconds */
} ctl_transfer;

/* The whole settings (settings_get, settings_set, the "settings" event). */
typedef struct ctl_settings {
    ctl_theme theme;
    int64_t font_size;
    bool sound, notify;
    size_t nread;
    const struct ctl_read_mark *read; /* remove ignored */
} ctl_settings;

/* An entry of "contacts" / "requests" (the contact list from the server). */
typedef struct ctl_contact {
    const char *user;
    rv_cstate state;
    rv_presence status;
    const char *text;
    int64_t devices;
    const struct rv_profile *profile; /* fields that are not NULL; NULL: none */
} ctl_contact;

struct ctl_rdv_status {
    bool configured;
    const char *server, *server_key; /* null when NULL or "" (as every string below) */
    const char *instance;            /* the instance certificate's name (docs/rendezvous.md 15.2) */
    bool connected, verified;
    const char *user;
    bool admin;
    const char *error, *auth_error;
    int64_t retry_after_ms; /* written when auth_error is set and this is positive */
    int64_t cert_expires;   /* 0: null */
    rv_presence status;     /* RV_P_OFFLINE: null */
    const char *status_text;
    /* The organisation's policy: "policy" {serial, issued, max_file_mb,
     * auto_accept, history_days, lan_discovery} when has_policy, else null. */
    bool has_policy;
    int64_t pol_serial, pol_issued, pol_max_file_mb, pol_history_days;
    bool pol_auto_accept, pol_lan_discovery;
};

/* An ok reply, {"ok":true,...}, to a request of this kind. */
/* One plug-in in the "plugins" reply (docs/plugins.md). */
typedef struct ctl_plugin {
    const char *name, *path, *state, *version, *description, *last_error;
    bool enabled;
    int64_t pid, restarts, retry_in_ms;
} ctl_plugin;

/* One check of the "doctor" reply: status "ok", "warn", "fail" or "skip";
 * text a sentence a user can act on. */
typedef struct ctl_check {
    const char *name, *status, *text;
} ctl_check;

/* Groups (docs/control.md, "Groups"). A member as people read it. */
#define CTL_GROUP_ID_LEN 16
typedef struct ctl_group_member {
    const char *id;                 /* "@account", or a LAN colleague's device key in hex */
    bool admin, me;                 /* written only when true */
    const char *fingerprint, *name; /* a key member's; NULL: absent */
} ctl_group_member;

/* A group: "members" is written when with_members. */
typedef struct ctl_group_view {
    uint8_t id[CTL_GROUP_ID_LEN];
    const char *name, *creator;
    int64_t version, members_count;
    bool member, admin;
    int64_t unread, created; /* created: milliseconds */
    bool with_members;
    size_t nmembers;
    const ctl_group_member *members;
} ctl_group_view;

/* Where a group message this device sent has got to, per member. */
typedef struct ctl_delivery {
    const char *member; /* a member id */
    const char *state;  /* delivered, stored, failed, queued */
} ctl_delivery;

/* A message of a group (or, in "find", of any conversation). */
typedef struct ctl_group_message {
    uint8_t id[CTL_ID_LEN];
    int64_t seq;
    bool incoming;                       /* "direction" */
    const char *device, *from, *account; /* the sending device's fingerprint, its contact's
                                            name and account; NULL: absent */
    int64_t ts, stored;                  /* milliseconds */
    const char *state;                   /* queued, delivered, received, stored, failed */
    const char *body;                    /* body_len bytes of UTF-8 */
    size_t body_len;
    /* A group message this device sent: "delivery", "delivered_to" and
     * "recipients" (= ndelivery) when has_delivery. */
    bool has_delivery;
    size_t ndelivery;
    const ctl_delivery *delivery;
    int64_t delivered_to;
} ctl_group_message;

/* A "find" result: the conversation (a group, or a contact) and the message. */
typedef struct ctl_found {
    bool group;
    const uint8_t *conv; /* the group's id (16 bytes) or the contact's key (32) */
    const char *name;    /* NULL: absent */
    const char *account; /* a contact's account; NULL: absent */
    ctl_group_message message;
} ctl_found;

/* One gathered candidate of the "nat_check" reply. */
typedef struct ctl_nat_cand {
    const char *type;      /* host, srflx, prflx, relay */
    const char *transport; /* udp, tcp */
    const char *address;
    int64_t port;
    const char *turn; /* a relay's: "udp" or "tcp"; NULL: absent */
} ctl_nat_cand;

/* The "nat_check" reply (docs/control.md, "Direct connections"):
 * "servers", "credentials_expire_ms", "candidates", the counts "host",
 * "srflx", "relay_udp", "relay_tcp", then "nat", "mapped" (absent when
 * NULL or ""), "turn" and "verdict", in that order. */
typedef struct ctl_nat {
    const char *servers;
    int64_t credentials_expire_ms;
    size_t ncands;
    const ctl_nat_cand *cands;
    int64_t host, srflx, relay_udp, relay_tcp;
    const char *nat, *mapped, *turn, *verdict;
} ctl_nat;

/* An announcement of the organisation (docs/control.md, "Announcements"):
 * {"id","ts","department","text","received","read"}, "read" null when 0. */
typedef struct ctl_announcement {
    int64_t id, ts;
    const char *department, *text;
    int64_t received, read; /* milliseconds */
} ctl_announcement;

typedef struct ctl_reply {
    ctl_kind kind;
    union {
        struct {
            const char *fingerprint, *name;
            int64_t port;
        } id;
        struct {
            size_t n;
            const ctl_peer *peers;
        } peers;
        struct { /* send: also the late reply after "wait" */
            uint8_t id[CTL_ID_LEN];
            const char *state, *error; /* queued, delivered, stored, failed; error absent if "" */
        } send;
        struct {
            uint8_t id[CTL_ID_LEN];
            int64_t recipients;
        } broadcast;
        struct {
            ctl_peer_ref peer;
            size_t n;
            const ctl_message *messages; /* oldest first */
            bool more; /* "more": older messages exist (ask again with before = messages[0].seq) */
        } history;
        struct {
            const char *message;  /* what verifying did, for people */
            const ctl_peer *peer; /* NULL: no "peer" */
        } verify;
        struct {
            uint8_t id[CTL_ID_LEN];
            bool offered;                 /* "state": "offered" or "queued" */
            const ctl_transfer *transfer; /* NULL: absent */
        } send_file;
        struct {
            size_t n;
            const ctl_transfer *transfers;
        } transfers;
        struct {                          /* accept, decline, cancel */
            const ctl_transfer *transfer; /* NULL: absent */
        } xfer;
        ctl_settings settings; /* settings_get, settings_set */
        struct {
            bool enabled;
            const char *url;     /* when enabled */
            const char *message; /* when not */
        } web;
        struct ctl_rdv_status rendezvous;
        struct {
            const char *user;
            bool admin;
        } login;
        struct {
            const char *user;
        } logout;
        struct {
            rv_field field;
            const char *value;
        } profile;
        struct {
            int64_t total, page, per_page;
            size_t n;
            const struct rv_user *users;
        } search;
        struct { /* contacts, requests (split into "incoming" and "outgoing") */
            bool logged_in;
            size_t n;
            const ctl_contact *contacts;
        } contacts;
        struct {
            rv_op op;
            const char *user;
        } contact;
        struct {
            rv_presence status;
            const char *text;
        } status;
        struct {
            int64_t users, delivered, stored, refused;
        } org_broadcast;
        struct {
            const char *message; /* enable, disable: what happened; NULL: absent */
            size_t n;
            const ctl_plugin *plugins;
        } plugins;
        struct {
            size_t n;
            const ctl_check *checks;
        } doctor;
        struct {
            size_t n;
            const ctl_group_view *groups;
            /* "limit": the most groups a node holds; "refused": invitations
             * refused at it since the node started, "refused_at" the last
             * (written when refused > 0). */
            int64_t limit, refused, refused_at;
        } groups;
        struct { /* group_delete: "id", "name", "left", "messages" */
            uint8_t id[CTL_GROUP_ID_LEN];
            const char *name;
            bool left;
            int64_t messages;
        } group_delete;
        /* group_create ... group_read: "group"; group_history: "group"
         * (without members) and "messages", oldest first. */
        struct {
            const ctl_group_view *group;
            size_t n;
            const ctl_group_message *messages;
        } group;
        struct { /* group_send: "id", "group", "state":"queued" */
            uint8_t id[CTL_ID_LEN];
            uint8_t group[CTL_GROUP_ID_LEN];
        } group_send;
        struct {
            size_t n;
            const ctl_found *results; /* newest first */
            int64_t next_before;      /* positive: "next_before" (the next page's before) */
        } find;
        ctl_nat nat_check;
        struct {
            size_t n;
            const ctl_announcement *announcements; /* oldest first */
        } announcements;
        struct { /* announcement_read: "id" */
            int64_t id;
        } announcement_read;
    } u; /* id, listen ({"listening":true}), ... as named */
} ctl_reply;

BANTER_WUR int ctlmsg_encode_reply(const ctl_reply *r, buf *out);

/* {"ok":false,"error":NAME,"message":...}: NAME is banter_errname(err)
 * unless name is given (the rendezvous errors ENOTCONF, ESERVER ... that
 * have no BANTER_E code); message NULL: banter_strerror(err); code (the
 * server's) when not NULL nor ""; retry_after_ms when positive. */
BANTER_WUR int ctlmsg_encode_error(int err, const char *name, const char *message, const char *code,
                                   int64_t retry_after_ms, buf *out);

typedef enum ctl_event_kind {
    CTL_EV_MESSAGE,
    CTL_EV_DELIVERED,
    CTL_EV_ONLINE,
    CTL_EV_OFFLINE,
    CTL_EV_KEY_CHANGED,
    CTL_EV_DISCOVERY,
    CTL_EV_RENDEZVOUS,
    CTL_EV_CONTACTS,
    CTL_EV_PRESENCE,
    CTL_EV_RENAMED,
    CTL_EV_SETTINGS,
    CTL_EV_FILE_OFFER,
    CTL_EV_FILE_STATE,
    CTL_EV_FILE_PROGRESS,
    CTL_EV_FILE_DONE,
    CTL_EV_FILE_FAILED,
    CTL_EV_DEFERRED,      /* a device refused a message "not now": id, state, and text its code */
    CTL_EV_GROUP,         /* a group changed: "group" with its members */
    CTL_EV_GROUP_MESSAGE, /* a group message stored: "group" and "message" */
    CTL_EV_ANNOUNCEMENT,  /* an announcement came: "announcement" */
    CTL_EV_COUNT
} ctl_event_kind;

const char *ctl_event_name(ctl_event_kind k); /* "message", ...; "?" */

/* {"event":NAME,"at":at,...}; each member is written when given (not
 * NULL): "peer"; for MESSAGE the message's id, seq, ts, unverified,
 * broadcast, body and links (and "direction":"out" when from_self); for
 * DELIVERED and DEFERRED its id, state and error;
 * "status", "text"; "settings" (SETTINGS); "transfer" (FILE_*). The first
 * ten kinds are in the order of the node's node_ev_type. */
typedef struct ctl_event {
    ctl_event_kind kind;
    int64_t at; /* the node's clock, milliseconds */
    const ctl_peer_ref *peer;
    const ctl_message *message;
    const char *status, *text;
    const ctl_settings *settings;
    const ctl_transfer *transfer;
    const ctl_group_view *group;            /* GROUP, GROUP_MESSAGE: "group"; NULL: absent */
    const ctl_group_message *group_message; /* GROUP_MESSAGE: "message" */
    const ctl_announcement *announcement;   /* ANNOUNCEMENT: "announcement" */
    const uint8_t *deleted_group;           /* GROUP: a group deleted here: "id" (16 bytes,
                                               hex) and "deleted": true */
} ctl_event;

BANTER_WUR int ctlmsg_encode_event(const ctl_event *ev, buf *out);

#endif
