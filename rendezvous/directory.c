/* SPDX-License-Identifier: MIT */
/* directory.c - profiles and search (see directory.h). */
#include "directory.h"

#include "contacts.h"
#include "online.h"

void directory_profile_set(conn *c, const struct rv_profile *p)
{
    int r = db_profile_set(conn_core(c)->db, c->acct->name, p, core_wall_ms());
    if (r == BANTER_EINVAL) {
        conn_error(c, "ETOOLONG", "a profile field is too long");
    } else if (r) {
        core_log(conn_core(c), "cannot store the profile of %s: %s", c->acct->name,
                 db_errmsg(conn_core(c)->db));
        conn_error(c, banter_errname(r), "the server cannot store the profile");
    } else {
        contacts_profile_changed(conn_core(c), c->acct->name, p);
    }
}

void directory_search(conn *c, const struct rv_search *q)
{
    rvmsg res = {.type = RV_SEARCH_RESULT};
    int r = db_search(conn_core(c)->db, c->acct->name, q, conn_core(c)->pub, &res.u.result);
    if (r) {
        if (r != BANTER_EINVAL)
            core_log(conn_core(c), "search: database: %s", db_errmsg(conn_core(c)->db));
        conn_error(c, banter_errname(r), "the search failed");
    } else {
        conn_send_rv(c, &res);
    }
    rvmsg_clear(&res);
}
