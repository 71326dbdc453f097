/* SPDX-License-Identifier: MIT */
/* directory.c - profiles and search (see directory.h). */
#include "directory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contacts.h"
#include "online.h"

/* ---- RV_PROFILE_SET ---- */

struct profile_job {
    conn_job h;
    struct rv_profile p; /* the fields given (owned copies) */
    int64_t now;
};

static int profile_work(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    struct profile_job *j = arg;
    int r = db_profile_set(d, j->h.user, &j->p, j->now);
    if (r && r != BANTER_EINVAL)
        snprintf(errmsg, DBQ_ERRMSG_LEN, "%s", r == BANTER_EDB ? db_errmsg(d) : banter_strerror(r));
    return r;
}

static void profile_after(conn *c, void *arg, int ret, const char *errmsg)
{
    struct profile_job *j = arg;
    if (ret == BANTER_EINVAL) {
        if (!c->closing)
            conn_error(c, "ETOOLONG", "a profile field is too long");
    } else if (ret) {
        core_log(conn_core(c), "cannot store the profile of %s: %s", j->h.user, errmsg);
        if (!c->closing)
            conn_error(c, banter_errname(ret), "the server cannot store the profile");
    } else {
        /* Stored: the contacts hear of it even when c went away meanwhile. */
        contacts_profile_changed(conn_core(c), j->h.user, &j->p);
    }
    db_profile_clear(&j->p);
    free(j);
}

/* Whether the account may store p: no field an admin sets
 * (rv_field_by_admin: EPERM), values rv_field_check takes (the codec
 * checked lengths and UTF-8; EINVAL). Else the refusal is sent, naming
 * the field, and nothing of p is stored. */
static bool profile_values_ok(conn *c, const struct rv_profile *p)
{
    for (int f = 0; f < RV_F_COUNT; f++) {
        if (p->f[f] && rv_field_by_admin((rv_field)f)) {
            char why[200];
            snprintf(why, sizeof why,
                     "the %s is set by the organisation's admins (banter-admin user set NAME %s "
                     "VALUE), not by the account",
                     rv_field_name((rv_field)f), rv_field_name((rv_field)f));
            conn_refuse(c, "EPERM", why);
            return false;
        }
    }
    for (int f = 0; f < RV_F_COUNT; f++) {
        if (!p->f[f] || rv_field_check((rv_field)f, p->f[f]) == 0)
            continue;
        char why[200];
        snprintf(why, sizeof why, "the %s may hold %s", rv_field_name((rv_field)f),
                 rv_field_rule((rv_field)f));
        conn_refuse(c, "EINVAL", why);
        return false;
    }
    return true;
}

void directory_profile_set(conn *c, const struct rv_profile *p)
{
    if (!profile_values_ok(c, p))
        return;
    struct profile_job *j = conn_job_new(c, sizeof *j);
    if (!j)
        return;
    int r = 0;
    for (int f = 0; r == 0 && f < RV_F_COUNT; f++)
        if (p->f[f] && !(j->p.f[f] = strdup(p->f[f])))
            r = BANTER_ENOMEM;
    j->now = core_wall_ms();
    if (r == 0 && (r = conn_job_submit(j, profile_work, profile_after)) == 0)
        return;
    db_profile_clear(&j->p);
    free(j);
    if (r == BANTER_ENOMEM)
        conn_close(c, r, NULL);
    else
        conn_error(c, banter_errname(r), "the server cannot store the profile");
}

/* ---- RV_SEARCH ---- */

struct search_job {
    conn_job h;
    struct rv_search q;
    uint32_t pub; /* the public fields when it was asked */
    rvmsg res;    /* RV_SEARCH_RESULT */
};

static int search_work(db *d, void *arg, char errmsg[static DBQ_ERRMSG_LEN])
{
    struct search_job *j = arg;
    int r = db_search(d, j->h.user, &j->q, j->pub, &j->res.u.result);
    if (r && r != BANTER_EINVAL)
        snprintf(errmsg, DBQ_ERRMSG_LEN, "%s", r == BANTER_EDB ? db_errmsg(d) : banter_strerror(r));
    return r;
}

static void search_after(conn *c, void *arg, int ret, const char *errmsg)
{
    struct search_job *j = arg;
    if (ret && ret != BANTER_EINVAL)
        core_log(conn_core(c), "search: database: %s", errmsg);
    if (!c->closing && ret) /* closed: asked and gone, nothing to answer */
        conn_error(c, banter_errname(ret), "the search failed");
    else if (!c->closing)
        conn_send_rv(c, &j->res);
    rvmsg_clear(&j->res);
    free(j);
}

void directory_search(conn *c, const struct rv_search *q)
{
    struct search_job *j = conn_job_new(c, sizeof *j);
    if (!j)
        return;
    j->q = *q;
    j->pub = conn_core(c)->pub;
    j->res.type = RV_SEARCH_RESULT;
    int r = conn_job_submit(j, search_work, search_after);
    if (r) {
        free(j);
        conn_error(c, banter_errname(r), "the search failed");
    }
}
