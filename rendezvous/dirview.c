/* SPDX-License-Identifier: MIT */
/* dirview.c - who sees which profile field (see dirview.h). */
#include "dirview.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

dir_view dir_view_of(bool self, rel_side viewer_side)
{
    if (self)
        return DIR_SELF;
    return rel_details(viewer_side, false) ? DIR_CONTACT : DIR_STRANGER;
}

dir_view dir_min_view(dir_public pub, rv_field f)
{
    if (f >= RV_F_COUNT || (pub & ((dir_public)1u << f)))
        return DIR_STRANGER;
    return DIR_CONTACT;
}

int dir_show(dir_public pub, dir_view v, const struct rv_profile *all, bool keep_display_name,
             struct rv_profile *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < RV_F_COUNT; i++) {
        const char *val = all->f[i];
        if (!dir_sees(pub, v, (rv_field)i))
            continue;
        if (!val || !*val) {
            if (i != RV_F_DISPLAY_NAME || !keep_display_name)
                continue;
            val = "";
        }
        if (!(out->f[i] = strdup(val))) {
            for (int j = 0; j < RV_F_COUNT; j++) {
                free(out->f[j]);
                out->f[j] = NULL;
            }
            return BANTER_ENOMEM;
        }
        rv_field_mask((rv_field)i, out->f[i]);
    }
    return 0;
}

/* One name of a list: start..start+n (blanks trimmed) as a field. */
static int parse_one(const char *start, size_t n, rv_field *f)
{
    char name[32];
    while (n && (start[n - 1] == ' ' || start[n - 1] == '\t'))
        n--;
    if (n == 0 || n >= sizeof name)
        return BANTER_EINVAL;
    memcpy(name, start, n);
    name[n] = '\0';
    if (rv_field_parse(name, f) != 0 || *f >= RV_F_COUNT)
        return BANTER_EINVAL;
    return 0;
}

int dir_public_parse(const char *list, dir_public *out, const char **bad)
{
    dir_public pub = 0;
    const char *p = list + strspn(list, " \t");
    while (*p) {
        const char *start = p;
        size_t n = strcspn(p, ",");
        rv_field f;
        if (parse_one(start, n, &f) != 0) {
            if (bad)
                *bad = start;
            return BANTER_EINVAL;
        }
        pub |= (dir_public)1u << f;
        p += n;
        if (*p == ',') {
            p++;
            p += strspn(p, " \t");
            if (!*p) { /* a trailing comma */
                if (bad)
                    *bad = p;
                return BANTER_EINVAL;
            }
        }
    }
    *out = pub;
    return 0;
}

void dir_public_format(dir_public pub, char *out, size_t cap)
{
    size_t o = 0;
    if (cap)
        out[0] = '\0';
    for (int i = 0; i < RV_F_COUNT && o < cap; i++) {
        if (!(pub & ((dir_public)1u << i)))
            continue;
        int w = snprintf(out + o, cap - o, "%s%s", o ? "," : "", rv_field_name((rv_field)i));
        if (w < 0)
            return;
        o += (size_t)w;
    }
}
