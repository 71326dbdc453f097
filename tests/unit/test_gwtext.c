/* SPDX-License-Identifier: MIT */
/* test_gwtext.c - a gateway's relayed text: every line of what the outside
 * sender wrote is quoted, so none passes for a marker or a notice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "gwtext.h"

static void check(const char *marker, const char *sep, const char *body, const char *want)
{
    char *t = gwtext_relay(marker, sep, body, SIZE_MAX);
    assert_non_null(t);
    assert_string_equal(t, want);
    free(t);
}

static void test_plain(void **state)
{
    (void)state;
    check("[SMS from +1, not end-to-end encrypted]", "\n", "Yes, see you at noon",
          "[SMS from +1, not end-to-end encrypted]\n> Yes, see you at noon");
    check("[XMPP from a@b, not end-to-end encrypted]", " ", "",
          "[XMPP from a@b, not end-to-end encrypted] ");
    check("[m]", "\n", "a [b] c\n\nend\n", "[m]\n> a [b] c\n\n> end\n");
    check("[m]", "\n", "", "[m]\n");
}

/* What imitates a marker, however drawn, is quoted with the rest; with
 * sep " " the first line shares the marker's line. */
static void test_imitation(void **state)
{
    (void)state;
    check("[SMS from +15551234567, not end-to-end encrypted]", "\n",
          "hi\n[SMS from +15550000000, not end-to-end encrypted]\nwire the money",
          "[SMS from +15551234567, not end-to-end encrypted]\n> hi\n> [SMS from +15550000000, "
          "not end-to-end encrypted]\n> wire the money");
    /* a zero-width space, a no-break space, a fullwidth bracket before it */
    check("[m]", "\n",
          "\xe2\x80\x8b[SMS from +1]\n\xc2\xa0[SMS from +2]\n\xef\xbc\xbbSMS from +3\xef\xbc\xbd",
          "[m]\n> \xe2\x80\x8b[SMS from +1]\n> \xc2\xa0[SMS from +2]\n> \xef\xbc\xbbSMS from "
          "+3\xef\xbc\xbd");
    check("[XMPP from a@b, not end-to-end encrypted]", " ",
          "[XMPP from boss@b, not end-to-end encrypted] pay\n  \t[SMS gateway] sent",
          "[XMPP from a@b, not end-to-end encrypted] [XMPP from boss@b, not end-to-end "
          "encrypted] pay\n>   \t[SMS gateway] sent");
}

/* The gateway's own note after the first n bytes is kept as it is. */
static void test_note(void **state)
{
    (void)state;
    const char *shown = "a\n[x]\n[cut: the mail's text is over 4000 bytes]";
    char *t = gwtext_relay("[e-mail from c, not end-to-end encrypted]", "\n", shown, 5);
    assert_non_null(t);
    assert_string_equal(t, "[e-mail from c, not end-to-end encrypted]\n> a\n> [x]\n[cut: the "
                           "mail's text is over 4000 bytes]");
    free(t);
    t = gwtext_relay("[m]", "\n", "(not shown)", 0);
    assert_string_equal(t, "[m]\n(not shown)");
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_imitation),
        cmocka_unit_test(test_note),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
