/* SPDX-License-Identifier: MIT */
/*
 * fuzz_smshttp.c - libFuzzer target for the SMS gateway's HTTP reader
 * (shared/smshttp.h): what reaches the gateway's loopback port is as
 * untrusted as a peer's bytes (any local process can connect).
 *
 * The input is read as a stream of get-url requests until the first that is
 * incomplete or refused; every accepted one must hold valid numbers and
 * UTF-8 text without NUL. The same bytes are also read as a sendsms answer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smshttp.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    size_t left = size;
    int code = 0;
    if (smshttp_parse_status(p, size, &code) == 0 && (code < 100 || code > 599))
        abort();
    for (;;) {
        smshttp_req r;
        size_t used = 0;
        if (smshttp_parse_request(p, left, &r, &used) != 0)
            break;
        if (used == 0 || used > left || !smshttp_number_ok(r.from) || !smshttp_number_ok(r.to) ||
            strlen(r.text) != r.text_len || !utf8_valid(r.text, r.text_len))
            abort();
        p += used;
        left -= used;
    }
    return 0;
}
