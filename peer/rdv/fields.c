/* SPDX-License-Identifier: MIT */
/* fields.c - search criteria and profile values as typed (see fields.h). */
#include "rdv/fields.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "utf8.h"

static bool plain(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

int rdv_parse_criterion(const char *s, struct rv_criterion *c, char *why, size_t cap)
{
    char q[UTF8_QUOTE_CAP], field[32];
    const char *op = strpbrk(s, "=~");
    utf8_quote(q, s, strlen(s));
    memset(c, 0, sizeof *c);
    if (!op) {
        snprintf(why, cap, "%s: expected FIELD=VALUE (exact) or FIELD~SUBSTRING (contains)", q);
        return BANTER_EINVAL;
    }
    size_t fl = (size_t)(op - s), vl = strlen(op + 1);
    if (fl < sizeof field) {
        memcpy(field, s, fl);
        field[fl] = '\0';
    }
    if (fl >= sizeof field || rv_field_parse(field, &c->field) != 0) {
        snprintf(why, cap,
                 "%s: unknown field (fields: user, display_name, department, title, email, "
                 "phone, location, about)",
                 q);
        return BANTER_EINVAL;
    }
    if (vl == 0 || vl >= sizeof c->value || !utf8_valid(op + 1, vl) || !plain(op + 1)) {
        snprintf(why, cap,
                 "%s: the value must be 1 to %zu bytes of UTF-8 without control "
                 "characters",
                 q, sizeof c->value - 1);
        return BANTER_EINVAL;
    }
    c->contains = *op == '~';
    memcpy(c->value, op + 1, vl + 1);
    return 0;
}

int rdv_check_value(rv_field f, const char *value, char *why, size_t cap)
{
    if (f >= RV_F_COUNT) {
        snprintf(why, cap, "the account name is not a profile field");
        return BANTER_EINVAL;
    }
    if (rv_field_by_admin(f)) {
        snprintf(why, cap,
                 "the %s is set by your organisation's admins, not by you (the server refuses "
                 "it: ask an admin)",
                 rv_field_name(f));
        return BANTER_EPERM;
    }
    if (rv_field_check(f, value) != 0) {
        snprintf(why, cap, "%s must be at most %zu bytes of UTF-8: %s", rv_field_name(f),
                 rv_field_max(f), rv_field_rule(f));
        return BANTER_EINVAL;
    }
    return 0;
}
