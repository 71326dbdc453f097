/* SPDX-License-Identifier: MIT */
/*
 * rvmsg.h - the codec for messages between a node and the rendezvous
 * server (docs/rendezvous.md section 2): JSON types 0x20-0x39 and binary
 * types 0x43-0x4f, with the same strictness as msg.h (jsonv):
 * authentication, the directory, certificates, contacts and presence,
 * sealed (offline and routed) messages, broadcast recipients, and ICE
 * signaling with the STUN/TURN servers and credentials (section 12),
 * and the reachability probe (section 16).
 */
#ifndef BANTER_RVMSG_H
#define BANTER_RVMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "banter_limits.h"
#include "buf.h"
#include "cert.h"
#include "error.h"

#define RV_PASSWORD_MAX     1024u
#define RV_SEARCH_MAX       8u       /* criteria per search */
#define RV_PER_PAGE_MAX     100u     /* users per result page */
#define RV_PAGE_MAX         1000000u /* largest page number (from 0) */
#define RV_RETRY_MAX_MS     86400000 /* largest RV_AUTH retry_after_ms (a day) */
#define RV_VALUE_MAX        512u     /* longest profile field */
#define RV_TEXT_MAX         128u     /* status text */
#define RV_DEVICES_MAX      16u      /* devices per account */
#define RV_CONTACTS_PER_MSG 16u      /* contacts in one RV_CONTACTS */
#define RV_RCPT_PER_PAGE    32u      /* users in one RV_RECIPIENTS */
#define RV_ID_LEN           16u      /* message id (as msg.h MSG_ID_LEN) */
#define RV_KEY_LEN          32u      /* an Ed25519 device key */
#define RV_SEAL_BROADCAST   0x01u    /* RV_SEAL/RV_SEALED flag: a broadcast */
/* RV_SEALED flag, set by the server only: the copy's sending account was
 * deleted, or its device is no longer bound to it, so the server does not
 * vouch that the device is the account's (docs/rendezvous.md 6.1). An
 * RV_SEAL carrying it does not decode (BANTER_ESCHEMA). */
#define RV_SEAL_SENDER_GONE 0x02u
#define RV_ICE_URLS_MAX     4u    /* STUN or TURN servers in RV_ICE_SERVERS */
#define RV_ICE_URL_MAX      128u  /* bytes of one "stun:"/"turn:" URL */
#define RV_ICE_CRED_MAX     128u  /* bytes of a TURN username or password */
#define RV_ICE_SESSION_LEN  16u   /* an ICE session id */
#define RV_ADDR_MAX         45u   /* a numeric IPv4 or IPv6 address (INET6_ADDRSTRLEN - 1) */
#define RV_PROBE_MS_MAX     60000 /* largest RV_PROBE_RESULT ms */

typedef enum rv_type {
    RV_LOGIN = 0x20,
    RV_AUTH = 0x21,
    RV_LOGOUT = 0x22,
    RV_PROFILE_SET = 0x23,
    RV_SEARCH = 0x24,
    RV_SEARCH_RESULT = 0x25,
    RV_CONTACT = 0x26,      /* node -> server: request, approve, deny, ... */
    RV_CONTACTS = 0x27,     /* server -> node: the contact list or changes to it */
    RV_STATUS = 0x28,       /* node -> server: own presence */
    RV_PRESENCE = 0x29,     /* server -> node: an approved contact's presence */
    RV_STORED = 0x2a,       /* server -> node: a sealed copy is stored or delivered */
    RV_DELIVERED = 0x2b,    /* node -> server: a sealed copy reached this device */
    RV_BROADCAST_TO = 0x2c, /* node -> server: who a broadcast goes to */
    RV_RECIPIENTS = 0x2d,   /* server -> node: the answer, one page */
    RV_KEEP = 0x2e,         /* node -> server: keep that sealed copy stored, not taken now */
    RV_ICE_SERVERS = 0x30,  /* server -> node: STUN/TURN servers and TURN credentials */
    RV_ICE_OFFER = 0x31,    /* node <-> node through the server: an ICE description */
    RV_ICE_ANSWER = 0x32,   /* node <-> node through the server: the answer to it */
    RV_ICE_END = 0x33,      /* node <-> node, or server -> node: the session ends */
    RV_PROBE = 0x38,        /* node -> server: connect back to this port of mine */
    RV_PROBE_RESULT = 0x39, /* server -> node: what that connection attempt found */
    RV_CERT = 0x44,         /* binary: a certificate in the cert.h wire form */
    RV_SEAL = 0x45,         /* binary: one sealed copy for one device */
    RV_SEALED = 0x46,       /* binary: one sealed copy, delivered */
} rv_type;

typedef enum rv_field {
    RV_F_DISPLAY_NAME,
    RV_F_DEPARTMENT,
    RV_F_TITLE,
    RV_F_EMAIL,
    RV_F_PHONE,
    RV_F_LOCATION,
    RV_F_ABOUT,
    RV_F_COUNT
} rv_field;

struct rv_login {
    char user[BANTER_MAX_NAME + 1];
    char password[RV_PASSWORD_MAX + 1]; /* wiped by rvmsg_clear */
};

struct rv_auth {
    bool ok;
    bool admin;
    char user[BANTER_MAX_NAME + 1];     /* when ok */
    char error[BANTER_MAX_ERRCODE + 1]; /* when not ok: EPASSWORD, EDISABLED, ... */
    int64_t retry_after_ms;             /* when not ok: 0 or how long to wait */
};

/* Profile fields: NULL when absent (PROFILE_SET changes only those given;
 * "" clears a field). Owned by the message. */
struct rv_profile {
    char *f[RV_F_COUNT];
};

struct rv_criterion {
    rv_field field; /* RV_F_COUNT stands for the account name ("user") */
    bool contains;  /* substring rather than exact; both case-insensitive */
    char value[BANTER_MAX_NAME * 2 + 1];
};

struct rv_search {
    size_t n; /* 1..RV_SEARCH_MAX */
    struct rv_criterion c[RV_SEARCH_MAX];
    uint32_t page;     /* from 0 */
    uint32_t per_page; /* 1..RV_PER_PAGE_MAX */
};

struct rv_user {
    char name[BANTER_MAX_NAME + 1];
    struct rv_profile p;
};

struct rv_search_result {
    uint64_t total;
    uint32_t page;
    size_t n;
    struct rv_user *users; /* owned */
};

typedef enum rv_op {
    RV_OP_REQUEST,
    RV_OP_APPROVE,
    RV_OP_DENY,
    RV_OP_REMOVE,
    RV_OP_BLOCK,
    RV_OP_UNBLOCK,
    RV_OP_COUNT
} rv_op;

struct rv_contact_op {
    rv_op op;
    char user[BANTER_MAX_NAME + 1];
};

/* Where a contact stands, seen from the receiver of RV_CONTACTS. */
typedef enum rv_cstate {
    RV_CS_NONE,     /* no relation (an update: remove the entry) */
    RV_CS_APPROVED, /* both agreed */
    RV_CS_INCOMING, /* they asked, we have not answered */
    RV_CS_OUTGOING, /* we asked, they have not answered */
    RV_CS_BLOCKED,  /* we blocked them */
    RV_CS_SELF,     /* the account itself: its devices (docs/rendezvous.md 5.2) */
    RV_CS_COUNT
} rv_cstate;

/* Presence. RV_P_INVISIBLE is only ever sent by a node about itself;
 * others see an invisible user as RV_P_OFFLINE. */
typedef enum rv_presence {
    RV_P_OFFLINE,
    RV_P_ONLINE,
    RV_P_AWAY,
    RV_P_BUSY,
    RV_P_INVISIBLE,
    RV_P_COUNT
} rv_presence;

struct rv_contact {
    char name[BANTER_MAX_NAME + 1];
    rv_cstate state;
    struct rv_profile p; /* display_name always; the rest only when approved */
    rv_presence status;  /* approved only; otherwise RV_P_OFFLINE */
    char text[RV_TEXT_MAX + 1];
    size_t ndev; /* approved only: the account's device keys */
    uint8_t dev[RV_DEVICES_MAX][RV_KEY_LEN];
};

struct rv_contacts {
    bool reset; /* this message starts the whole list; later ones (reset false) add to it */
    size_t n;   /* 0..RV_CONTACTS_PER_MSG */
    struct rv_contact *c; /* owned */
};

struct rv_status {
    rv_presence status; /* RV_STATUS: not RV_P_OFFLINE; RV_PRESENCE: not RV_P_INVISIBLE */
    char user[BANTER_MAX_NAME + 1]; /* RV_PRESENCE only */
    char text[RV_TEXT_MAX + 1];
    /* RV_STATUS from the server: "devices", the account's devices
     * connected now (docs/rendezvous.md 5.3), when has_devices (written
     * even when empty); a server that does not say leaves it out. */
    bool has_devices;
    size_t ndev;
    uint8_t dev[RV_DEVICES_MAX][RV_KEY_LEN];
};

/* What became of one RV_SEAL. */
typedef enum rv_fate {
    RV_STORED_DISK,      /* "stored": on the server's disk, for later delivery */
    RV_STORED_DELIVERED, /* "delivered": the device said it has it */
    RV_STORED_REFUSED,   /* "refused": not taken; error says why */
    RV_STORED_COUNT
} rv_fate;

/* RV_STORED (id, device, fate, error), RV_DELIVERED (id, from when
 * has_from) and RV_KEEP (id and from). from: the device that sent the
 * copy (RV_SEALED's), so that another sender's copy with the same id is
 * never the one answered. */
struct rv_stored {
    uint8_t id[RV_ID_LEN];
    uint8_t device[RV_KEY_LEN];
    uint8_t from[RV_KEY_LEN];
    bool has_from;
    rv_fate fate;
    char error[BANTER_MAX_ERRCODE + 1]; /* RV_STORED_REFUSED: EQUOTA, ENOTCONTACT, ... */
};

struct rv_broadcast_to {
    char department[65]; /* "" = everyone */
    uint32_t page;       /* from 0 */
};

struct rv_rcpt {
    char name[BANTER_MAX_NAME + 1];
    size_t ndev;
    uint8_t dev[RV_DEVICES_MAX][RV_KEY_LEN];
};

struct rv_recipients {
    uint64_t total; /* users in all pages */
    uint32_t page;
    size_t n;              /* 0..RV_RCPT_PER_PAGE */
    struct rv_rcpt *users; /* owned */
};

/*
 * RV_SEAL (node -> server):
 *   id (16) || flags (1) || to_len (1) || to_user || to_device (32) || sealed
 * RV_SEALED (server -> node):
 *   id (16) || flags (1) || created_ms (8, BE) || from_len (1) || from_user ||
 *   from_device (32) || sealed
 * sealed is 1.. bytes (see sealed.h); after decoding it points into the
 * decoded plaintext (borrowed: valid while that buffer is).
 */
struct rv_seal {
    uint8_t id[RV_ID_LEN];
    uint8_t flags;                  /* RV_SEAL_BROADCAST; RV_SEALED: RV_SEAL_SENDER_GONE too */
    int64_t created_ms;             /* RV_SEALED only */
    char user[BANTER_MAX_NAME + 1]; /* RV_SEAL: recipient; RV_SEALED: sender */
    uint8_t device[RV_KEY_LEN];     /* RV_SEAL: recipient's; RV_SEALED: sender's */
    const uint8_t *sealed;
    size_t sealed_len;
};

/* RV_ICE_SERVERS: where to gather and the short-lived TURN credentials
 * (coturn's REST scheme: username "EXPIRY:ACCOUNT", password
 * base64(HMAC-SHA1(secret, username))). URLs are "stun:HOST:PORT" and
 * "turn:HOST:PORT[?transport=udp|tcp]" with a numeric HOST. */
struct rv_ice_servers {
    size_t nstun, nturn;
    char stun[RV_ICE_URLS_MAX][RV_ICE_URL_MAX + 1];
    char turn[RV_ICE_URLS_MAX][RV_ICE_URL_MAX + 1];
    char username[RV_ICE_CRED_MAX + 1]; /* "" when there is no TURN server */
    char password[RV_ICE_CRED_MAX + 1]; /* wiped by rvmsg_clear */
    int64_t expires_ms;                 /* when the credentials stop working */
};

/* RV_ICE_OFFER, RV_ICE_ANSWER, RV_ICE_END. user and device name the other
 * end: the target on the way to the server, the sender on the way from
 * it. OFFER and ANSWER carry ufrag, pwd and 0..BANTER_ICE_MAX_CANDS
 * candidate lines (checked for size and plain text here; shared/icecand
 * checks their content); END carries error ("" for a plain end). */
struct rv_ice {
    char user[BANTER_MAX_NAME + 1];
    uint8_t device[RV_KEY_LEN];
    uint8_t session[RV_ICE_SESSION_LEN];
    char ufrag[BANTER_ICE_MAX_UFRAG + 1];
    char pwd[BANTER_ICE_MAX_PWD + 1];
    size_t ncand;
    char (*cand)[BANTER_ICE_MAX_LINE + 1]; /* ncand lines; owned after decode */
    char error[BANTER_MAX_ERRCODE + 1];
};

/* What the server found when it connected back (docs/rendezvous.md 16). */
typedef enum rv_probe_res {
    RV_PR_REACHABLE,   /* "reachable": connected, and the handshake proved this device's key */
    RV_PR_OTHER,       /* "other": connected, but what answered is not this device */
    RV_PR_REFUSED,     /* "refused": the connection was refused (TCP RST, ICMP port unreachable) */
    RV_PR_TIMEOUT,     /* "timeout": no answer within the deadline (dropped, filtered) */
    RV_PR_UNREACHABLE, /* "unreachable": ICMP host or network unreachable */
    RV_PR_ERROR,       /* "error": the server could not try (out of sockets, ...) */
    RV_PR_COUNT
} rv_probe_res;

/* RV_PROBE (port only) and RV_PROBE_RESULT (all members). The request
 * never names an address: the server probes the source address of the
 * connection the request came on. */
struct rv_probe {
    uint16_t port;                 /* 1..65535 */
    rv_probe_res result;           /* RV_PROBE_RESULT */
    char address[RV_ADDR_MAX + 1]; /* RV_PROBE_RESULT: the address probed, numeric; "" unknown */
    int64_t ms;                    /* RV_PROBE_RESULT: how long it took, 0..RV_PROBE_MS_MAX */
};

typedef struct rvmsg {
    rv_type type;
    union {
        struct rv_login login;
        struct rv_auth auth;
        struct rv_profile profile;
        struct rv_search search;
        struct rv_search_result result;
        struct rv_contact_op contact;
        struct rv_contacts contacts;
        struct rv_status status;
        struct rv_stored stored;
        struct rv_broadcast_to bto;
        struct rv_recipients rcpt;
        struct rv_seal seal;
        struct rv_ice_servers ice_servers;
        struct rv_ice ice;
        struct rv_probe probe;
        cert cert;
    } u;
} rvmsg;

/* Whether a type byte belongs to this codec. */
bool rvmsg_owns(int type);

/* Decode one plaintext; errors as msg_decode (and those of cert_decode for
 * RV_CERT). On success the caller calls rvmsg_clear. */
BANTER_WUR int rvmsg_decode(rvmsg *m, const uint8_t *pt, size_t len);
/* Append the encoding; the same schema is enforced. */
BANTER_WUR int rvmsg_encode(const rvmsg *m, buf *out);
/* Free what m owns and wipe it (passwords too). An rv_ice whose cand the
 * caller pointed at its own lines must be wiped by the caller instead. */
void rvmsg_clear(rvmsg *m);

const char *rv_field_name(rv_field f); /* "display_name"...; "user" for RV_F_COUNT */
/* BANTER_EINVAL for an unknown name. */
BANTER_WUR int rv_field_parse(const char *name, rv_field *out);
size_t rv_field_max(rv_field f);
/*
 * Whether value may be in profile field f: at most rv_field_max(f) bytes
 * of UTF-8 without control characters (utf8.h: C0, DEL and C1), where
 * "about" may also hold newlines and tabs; a display name, which people
 * read as a name, also without invisible characters (utf8_invisible) and
 * not beginning with an at sign ('@', U+FE6B, U+FF20: "@alice" would pass
 * for alice's handle). 0, BANTER_ETOOLONG, BANTER_EUTF8 or BANTER_ESCHEMA
 * (what rv_field_rule says). Every profile
 * encoded is checked so, and every one decoded but RV_PROFILE_SET's, whose
 * values the server checks with this itself (and refuses EINVAL).
 */
BANTER_WUR int rv_field_check(rv_field f, const char *value);
/* Whether field f is the organisation's to set (an admin: banter-admin or
 * banter-rendezvous `user set`), not the account's own: department, by
 * which announcements and broadcasts to a department choose their
 * recipients. RV_PROFILE_SET with such a field is refused EPERM. */
bool rv_field_by_admin(rv_field f);
/* The rule of field f's characters, for a refusal: "no control characters
 * (C0, DEL, C1)" ... (static). */
const char *rv_field_rule(rv_field f);
/* A stored value of field f, in place, made to pass rv_field_check's
 * tests of characters (one stored before them): each control character
 * becomes '?'; from a display name, invisible characters and leading at
 * signs are dropped. */
void rv_field_mask(rv_field f, char *value);

/* Names on the wire and their parsers (BANTER_EINVAL for unknown ones). */
const char *rv_op_name(rv_op op);            /* "request", "approve", ... */
const char *rv_cstate_name(rv_cstate s);     /* "none", "approved", "incoming", ... */
const char *rv_presence_name(rv_presence p); /* "offline", "online", ... */
BANTER_WUR int rv_op_parse(const char *s, rv_op *out);
BANTER_WUR int rv_presence_parse(const char *s, rv_presence *out);
/* RV_PROBE_RESULT's result on the wire: "reachable", "other", ... ("?"
 * for a value out of range). */
const char *rv_probe_res_name(rv_probe_res r);
/* Whether text is a valid status text (UTF-8, plain, at most RV_TEXT_MAX). */
bool rv_text_valid(const char *text);

#endif
