/* SPDX-License-Identifier: MIT */
/*
 * smshttp.h - the HTTP the SMS gateway (peer/plugin/gateways/sms.c) speaks
 * with Kannel's smsbox, sans-I/O: bytes in, typed values out.
 *
 *   in:  smsbox calls the gateway's get-url for each SMS it receives,
 *        GET /sms?key=K&from=NUMBER&to=NUMBER&text=URL-ENCODED HTTP/1.x
 *        (docs/plugins.md, "The SMS gateway"). smshttp_parse_request reads
 *        one such request, strictly: a request of any other shape is refused.
 *   out: the gateway asks smsbox's sendsms interface to send an SMS;
 *        smshttp_sendsms_request writes that request and
 *        smshttp_parse_status reads the answer's status code.
 *
 * Everything from the socket is untrusted (any local process can connect to
 * the gateway's port): caps are in banter_limits.h, and the parser has a
 * fuzz target (tests/fuzz/fuzz_smshttp.c).
 */
#ifndef BANTER_SMSHTTP_H
#define BANTER_SMSHTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "banter_limits.h"
#include "error.h"

/* One SMS, as smsbox handed it to the get-url. Numbers are "+" and digits
 * or digits only, as the SMSC gave them; text is UTF-8 with no NUL (an SMS
 * that was not UTF-8 is read as ISO-8859-1, what Kannel passes for GSM
 * 7-bit text) and no control characters but newline and tab. */
typedef struct smshttp_req {
    char key[BANTER_SMS_MAX_KEY + 1];
    char from[BANTER_SMS_MAX_NUMBER + 1];
    char to[BANTER_SMS_MAX_NUMBER + 1];
    char text[BANTER_SMS_MAX_TEXT * 2 + 1]; /* ISO-8859-1 may double in UTF-8 */
    size_t text_len;
} smshttp_req;

/* Parse the request at the start of buf[0..len).
 * Returns 0 and sets *used (the request's bytes, headers included) when a
 * whole request is there; BANTER_EAGAIN when more bytes are needed (and
 * len is under BANTER_SMS_MAX_REQUEST); a negative BANTER_E* code when the
 * bytes are not such a request: BANTER_ETOOBIG (over the cap),
 * BANTER_EPROTO (not GET, not HTTP/1.0 or 1.1, a bad header line, a body),
 * BANTER_ENOENT (a path other than /sms), BANTER_ESCHEMA (a missing,
 * repeated or unknown parameter, bad percent-encoding, a NUL), BANTER_EINVAL
 * (a number that is not one), BANTER_ETOOLONG (a field over its cap).
 * *out is written only on success. */
BANTER_WUR int smshttp_parse_request(const char *buf, size_t len, smshttp_req *out, size_t *used);

/* Whether s is a phone number as the gateway accepts it from the SMSC: an
 * optional "+" then 3..BANTER_SMS_MAX_NUMBER-1 digits. */
bool smshttp_number_ok(const char *s);

/* Whether s is a number the gateway may send to: international form, "+"
 * then SMSHTTP_INTL_MIN_DIGITS..BANTER_SMS_MAX_NUMBER-1 digits (no short
 * code, no national or premium-rate number written without its country). */
#define SMSHTTP_INTL_MIN_DIGITS 8
bool smshttp_number_intl(const char *s);

/* Whether prefixes (a setting: "+DIGITS" items, 1..SMSHTTP_PREFIX_MAX of
 * them, separated by commas, spaces around them allowed) is well formed.
 * NULL is, and so is "" (no list). */
#define SMSHTTP_PREFIX_MAX 64
bool smshttp_prefixes_ok(const char *prefixes);

/* Whether the gateway may send to number: smshttp_number_intl, and when
 * prefixes is a list (smshttp_prefixes_ok, not NULL or ""), number begins
 * with one of its items. */
bool smshttp_number_allowed(const char *number, const char *prefixes);

/* Write into out (cap bytes, NUL-terminated) the sendsms request for smsbox
 * at host:port: GET /cgi-bin/sendsms with username, password, from, to,
 * text (UTF-8, charset=UTF-8) and coding=0 (smsbox converts), every value
 * percent-encoded. Returns the length, or BANTER_ETOOBIG when it does not
 * fit, BANTER_EINVAL for a bad number (to must be smshttp_number_intl) or
 * text over BANTER_SMS_MAX_TEXT. */
BANTER_WUR int smshttp_sendsms_request(char *out, size_t cap, const char *host, int port,
                                       const char *user, const char *pass, const char *from,
                                       const char *to, const char *text);

/* The status code of the HTTP answer at the start of buf[0..len) once its
 * status line is complete: 0 and *code (100..599); BANTER_EAGAIN when the
 * line is not complete yet; BANTER_EPROTO when it is not a status line. */
BANTER_WUR int smshttp_parse_status(const char *buf, size_t len, int *code);

#endif
