/* SPDX-License-Identifier: MIT */
/*
 * admmsg.h - the codec of the admin protocol (banter-admin <-> the
 * rendezvous server, docs/admin.md and docs/rendezvous.md section 12):
 * types 0x60 (ADM_REQUEST, admin -> server) and 0x61 (ADM_RESULT, server ->
 * admin), each a type byte and one JSON object, with the strictness of
 * msg.h (jsonv).
 *
 *   ADM_REQUEST {"id":N, "cmd":"user.disable", "args":{"name":"ann"}}
 *   ADM_RESULT  {"id":N, "ok":true, "text":"disabled user ann ...",
 *                "data":{...}}
 *               {"id":N, "ok":false, "error":"EPERM", "text":"..."}
 *
 * The command table is here, once: each command's wire name, whether it
 * changes anything (an auditor may only run those that do not), and which
 * arguments it requires and allows. A request naming an unknown command,
 * an argument the command does not take, or missing one it needs is
 * refused by the decoder (BANTER_ESCHEMA), so the server's handlers only
 * see well-formed, typed requests. "data" is any JSON object (checked by
 * the parser's rules: size, depth, members); it stays text here, for the
 * tool to print with --json: no cJSON leaves the codec.
 */
#ifndef BANTER_ADMMSG_H
#define BANTER_ADMMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "banter_limits.h"
#include "buf.h"
#include "error.h"

#define ADM_REQUEST 0x60
#define ADM_RESULT  0x61

#define ADM_MAX_TEXT     32768u /* bytes of an announcement, a result's text */
#define ADM_MAX_VALUE    1024u  /* bytes of a profile value, a password, a path */
#define ADM_MAX_WORD     64u    /* bytes of a name, a field, a role, a level */
#define ADM_MAX_FP       64u    /* bytes of a fingerprint as typed (digits, spaces) */
#define ADM_MAX_DAYS     36500
#define ADM_MAX_COUNT    100000
#define ADM_MAX_ID       4294967295ll
#define ADM_MAX_ANNOUNCE 4096u /* bytes of an announcement (annmsg.h ANN_MAX_TEXT) */

/* The commands, in table order. */
typedef enum adm_cmd {
    ADM_STATUS,
    ADM_USER_LIST,
    ADM_USER_SHOW,
    ADM_USER_ADD,
    ADM_USER_DISABLE,
    ADM_USER_ENABLE,
    ADM_USER_DELETE,
    ADM_USER_PASSWD,
    ADM_USER_SET,
    ADM_USER_GRANT,
    ADM_USER_REVOKE,
    ADM_DEVICE_LIST,
    ADM_DEVICE_REVOKE,
    ADM_SESSION_LIST,
    ADM_SESSION_KICK,
    ADM_MAILBOX_STATS,
    ADM_MAILBOX_PURGE,
    ADM_AUDIT_TAIL,
    ADM_AUDIT_VERIFY,
    ADM_BACKUP,
    ADM_CONFIG_SHOW,
    ADM_LOG_LEVEL,
    ADM_ADMIN_LIST,
    ADM_ADMIN_ADD,
    ADM_ADMIN_REMOVE,
    ADM_POLICY_SHOW,
    ADM_POLICY_SET,
    ADM_PLUGIN_LIST,
    ADM_PLUGIN_ENABLE,
    ADM_PLUGIN_DISABLE,
    ADM_PLUGIN_RESTART,
    ADM_ANNOUNCE,
    ADM_ANNOUNCE_REPORT,
    ADM_CMD_COUNT
} adm_cmd;

/* The arguments a request may carry (bits of adm_cmd_info's masks). */
typedef enum adm_arg {
    ADM_A_NAME,       /* a user or plug-in name (1..64 of [a-z0-9._-]) */
    ADM_A_FP,         /* a fingerprint or its prefix (digits, spaces, dashes) */
    ADM_A_ROLE,       /* "admin" or "auditor" */
    ADM_A_FIELD,      /* a profile field's name */
    ADM_A_VALUE,      /* a profile field's value ("" clears it) */
    ADM_A_PASSWORD,   /* a new password (wiped when cleared) */
    ADM_A_ADMIN,      /* bool: the new account is an admin account */
    ADM_A_DAYS,       /* an integer 0..ADM_MAX_DAYS */
    ADM_A_COUNT,      /* an integer 1..ADM_MAX_COUNT */
    ADM_A_OFFSET,     /* an integer 0..ADM_MAX_COUNT */
    ADM_A_FILE,       /* a plain file name (no '/') */
    ADM_A_LEVEL,      /* "error", "info" or "debug" */
    ADM_A_RIGHT,      /* "broadcast" */
    ADM_A_TEXT,       /* an announcement: 1..ADM_MAX_ANNOUNCE bytes, newlines and tabs allowed */
    ADM_A_DEPARTMENT, /* a department ("" everyone), 0..64 bytes, plain */
    ADM_A_ANN,        /* an announcement's id, 1..2^53 */
    ADM_A_REUSE,      /* bool: user.add may take the name of a deleted account */
    ADM_A_COUNT_OF
} adm_arg;

#define ADM_BIT(a) (1u << (a))

typedef struct adm_cmd_info {
    const char *wire; /* "user.disable" */
    bool change;      /* changes something: admins only */
    uint32_t need;    /* ADM_BIT()s required */
    uint32_t allow;   /* ADM_BIT()s allowed (need included) */
} adm_cmd_info;

/* The table entry of c (c < ADM_CMD_COUNT). */
const adm_cmd_info *adm_cmd_get(adm_cmd c);
/* The command of a wire name; -1 when there is none. */
int adm_cmd_find(const char *wire);
/* The JSON key of an argument ("name", "fp", ...). */
const char *adm_arg_key(adm_arg a);

typedef struct adm_request {
    uint32_t id;
    adm_cmd cmd;
    uint32_t has; /* ADM_BIT()s of the arguments present */
    char name[ADM_MAX_WORD + 1];
    char fp[ADM_MAX_FP + 1];
    char role[ADM_MAX_WORD + 1];
    char field[ADM_MAX_WORD + 1];
    char value[ADM_MAX_VALUE + 1];
    char password[ADM_MAX_VALUE + 1];
    char file[ADM_MAX_WORD + 1];
    char level[ADM_MAX_WORD + 1];
    char right[ADM_MAX_WORD + 1];
    char text[ADM_MAX_ANNOUNCE + 1];
    char department[ADM_MAX_WORD + 1];
    bool admin, reuse_name;
    int64_t days, count, offset, ann;
} adm_request;

/* Where the text argument a of r lives (its longest text in *cap, the
 * NUL not counted), or NULL when a is not a text argument. */
char *adm_request_text(adm_request *r, adm_arg a, size_t *cap);
/* Where the number argument a of r lives, or NULL when a is not one. */
int64_t *adm_request_int(adm_request *r, adm_arg a);
/* Where the yes/no argument a of r lives, or NULL when a is not one. */
bool *adm_request_bool(adm_request *r, adm_arg a);

typedef struct adm_result {
    uint32_t id;
    bool ok;
    char error[BANTER_MAX_ERRCODE + 1]; /* "EPERM" when !ok */
    char *text;                         /* owned; NULL for none */
    char *data;                         /* owned; compact JSON object text, NULL for none */
} adm_result;

/* Whether type is one of this codec's. */
bool admmsg_owns(int type);

/*
 * Encode a request (type byte + JSON) and append it to out. BANTER_ESCHEMA
 * when it breaks the command's argument rules (as the decoder would
 * refuse it), BANTER_ETOOBIG, BANTER_ENOMEM. Only the arguments in r->has
 * are written.
 */
BANTER_WUR int adm_request_encode(const adm_request *r, buf *out);
/*
 * Decode a request plaintext (type byte first). BANTER_EBADTYPE,
 * BANTER_ETRUNCATED, the jsonv errors, BANTER_ESCHEMA (unknown command,
 * an argument not allowed or missing, a value out of its rules). *r is
 * zeroed on failure (the password wiped).
 */
BANTER_WUR int adm_request_decode(adm_request *r, const uint8_t *pt, size_t len);
/* Wipe the request (it may hold a password). */
void adm_request_clear(adm_request *r);

/* Encode a result (text and data as given: data must be a JSON object's
 * text, or NULL). Errors as adm_request_encode. */
BANTER_WUR int adm_result_encode(const adm_result *r, buf *out);
/* Decode a result plaintext. On success r owns text and data (free with
 * adm_result_clear); on failure nothing is held. */
BANTER_WUR int adm_result_decode(adm_result *r, const uint8_t *pt, size_t len);
/* Free what r holds. Accepts a zeroed r. */
void adm_result_clear(adm_result *r);

/*
 * Lists come in pages: a result's data has "next" (the offset to ask
 * for) while more rows follow. adm_data_next gives it (-1 when there is
 * none or data is not an object). adm_data_merge folds the data of the
 * next page into *acc (a new string replaces it; free with free()): every
 * array member of page is appended to acc's array of the same name, other
 * members replace acc's, and "next" is dropped. BANTER_ENOMEM, the parse
 * errors (acc unchanged).
 */
int64_t adm_data_next(const char *data);
BANTER_WUR int adm_data_merge(char **acc, const char *page);

#endif
