/* SPDX-License-Identifier: MIT */
/*
 * directory.h - profiles and the directory search (docs/rendezvous.md 4)
 * for authenticated connections: RV_PROFILE_SET (no answer on success,
 * ERROR EPERM for a field the organisation's admins set, the department
 * (rv_field_by_admin), EINVAL for a value with a control character
 * (rv_field_check), ETOOLONG or a database code; nothing stored then) and
 * RV_SEARCH
 * (RV_SEARCH_RESULT, or ERROR). A profile change is pushed to the
 * account's contacts.
 */
#ifndef BANTER_RDV_DIRECTORY_H
#define BANTER_RDV_DIRECTORY_H

#include "conn.h"
#include "rvmsg.h"

void directory_profile_set(conn *c, const struct rv_profile *p);
void directory_search(conn *c, const struct rv_search *q);

#endif
