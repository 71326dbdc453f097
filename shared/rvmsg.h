/* SPDX-License-Identifier: MIT */
/*
 * rvmsg.h - the codec for messages between a node and the rendezvous
 * server (docs/rendezvous.md section 2): JSON types 0x20-0x37 and binary
 * types 0x43-0x4f, with the same strictness as msg.h (jsonv). This slice
 * covers authentication, the directory and certificates.
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

#define RV_PASSWORD_MAX 1024u
#define RV_SEARCH_MAX   8u   /* criteria per search */
#define RV_PER_PAGE_MAX 100u /* users per result page */
#define RV_VALUE_MAX    512u /* longest profile field */

typedef enum rv_type {
    RV_LOGIN = 0x20,
    RV_AUTH = 0x21,
    RV_LOGOUT = 0x22,
    RV_PROFILE_SET = 0x23,
    RV_SEARCH = 0x24,
    RV_SEARCH_RESULT = 0x25,
    RV_CERT = 0x44, /* binary: a certificate in the cert.h wire form */
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

typedef struct rvmsg {
    rv_type type;
    union {
        struct rv_login login;
        struct rv_auth auth;
        struct rv_profile profile;
        struct rv_search search;
        struct rv_search_result result;
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
/* Free what m owns and wipe it (passwords too). */
void rvmsg_clear(rvmsg *m);

const char *rv_field_name(rv_field f); /* "display_name"...; "user" for RV_F_COUNT */
/* BANTER_EINVAL for an unknown name. */
BANTER_WUR int rv_field_parse(const char *name, rv_field *out);
size_t rv_field_max(rv_field f);

#endif
