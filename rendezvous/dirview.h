/* SPDX-License-Identifier: MIT */
/*
 * dirview.h - who sees which profile field (docs/rendezvous.md 4): the one
 * rule behind search results, search conditions and contact list entries
 * (RV_CONTACTS), so that nothing about an account reaches a stranger
 * beyond the fields the organisation made public.
 *
 * A viewer sees an account as one of three views: itself (every field),
 * an approved contact it has not blocked (every field), or a stranger
 * (the public fields only: `directory_public_fields`, default
 * display_name). The account name is public. A search condition on a
 * field only matches accounts whose field the searcher sees, so a
 * condition on a hidden field finds nothing, whatever the value: the
 * answer (results, total, paging) is the one a non-matching value gets.
 *
 * Pure: no I/O. db.c states the same view in SQL (DB_VIEW_SQL in db.c,
 * tested against dir_view_of).
 */
#ifndef BANTER_RDV_DIRVIEW_H
#define BANTER_RDV_DIRVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rel.h"
#include "rvmsg.h"

/* How a viewer sees an account; a higher view sees everything a lower one
 * sees. */
typedef enum dir_view {
    DIR_STRANGER = 0, /* no approved relation (or the viewer blocked it) */
    DIR_CONTACT = 1,  /* an approved contact the viewer has not blocked */
    DIR_SELF = 2,     /* the account itself */
} dir_view;

/* The fields everyone sees: bit (1u << f) for each rv_field f. */
typedef uint32_t dir_public;

#define DIR_PUBLIC_DEFAULT ((dir_public)1u << RV_F_DISPLAY_NAME)
#define DIR_PUBLIC_ALL     (((dir_public)1u << RV_F_COUNT) - 1u)
#define DIR_PUBLIC_TEXT    256 /* "display_name,department,..." fits */

/* The viewer's view of an account: self, or the viewer's side of their
 * relation (whether the other blocked the viewer does not matter: a block
 * is never visible). */
dir_view dir_view_of(bool self, rel_side viewer_side);

/* The lowest view that sees field f (RV_F_COUNT, the account name:
 * DIR_STRANGER). */
dir_view dir_min_view(dir_public pub, rv_field f);

static inline bool dir_sees(dir_public pub, dir_view v, rv_field f)
{
    return v >= dir_min_view(pub, f);
}

/*
 * What view v shows of the profile all (every field that is set, others
 * NULL): a copy into out of the fields it sees that are set; the display
 * name, when seen, also when it is "" if keep_display_name. A control
 * character a value may not hold (rv_field_check), stored before that was
 * checked, is shown as '?' (rv_field_mask), so every value shown can be
 * sent. out is cleared first; free it with db_profile_clear(). 0 or
 * BANTER_ENOMEM.
 */
BANTER_WUR int dir_show(dir_public pub, dir_view v, const struct rv_profile *all,
                        bool keep_display_name, struct rv_profile *out);

/* Parse a comma-separated list of profile field names ("" for none;
 * spaces around names are ignored). BANTER_EINVAL for an unknown name
 * ("user", the account name, is always public and not a field here);
 * then *bad (may be NULL) points to it within list. */
BANTER_WUR int dir_public_parse(const char *list, dir_public *out, const char **bad);

/* The list as dir_public_parse reads it, into out (cap bytes). */
void dir_public_format(dir_public pub, char *out, size_t cap);

#endif
