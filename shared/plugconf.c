/* SPDX-License-Identifier: MIT */
/* plugconf.c - plug-in settings of a configuration file (see plugconf.h). */
#include "plugconf.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "identity.h"
#include "utf8.h"

static bool name_ok(const char *s, size_t len)
{
    if (len == 0 || len > PLUGCONF_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
              s[i] == '-'))
            return false;
    return true;
}

/* An ASCII blank, as the node strips each entry of a list (g_strstrip). */
static bool blank(char c) { return c && strchr(" \t\n\v\f\r", c) != NULL; }

/* Each entry of a contacts list that is a fingerprint (digits, with any
 * spaces or dashes) gives it whole: a few first digits are matched by a
 * key made to begin with them (a second of work), so they name nobody. */
static int fingerprints_whole(const kvconf *k, const char *full, const char *v)
{
    const char *p = v;
    while (*p) {
        size_t len = strcspn(p, ","), digits = 0;
        bool fp = true;
        for (size_t i = 0; i < len; i++) {
            if (p[i] >= '0' && p[i] <= '9')
                digits++;
            else if (p[i] != '-' && !blank(p[i]))
                fp = false;
        }
        if (fp && digits > 0 && digits != IDENTITY_FP_DIGITS) {
            char q[UTF8_QUOTE_CAP];
            size_t a = 0, b = len;
            while (a < b && blank(p[a]))
                a++;
            while (b > a && blank(p[b - 1]))
                b--;
            utf8_quote(q, p + a, b - a);
            return kvconf_fail(k, BANTER_EFORMAT,
                               "%s: %s is part of a fingerprint: give all %d digits (a key can "
                               "be made to begin with a few chosen ones)",
                               full, q, IDENTITY_FP_DIGITS);
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

static int parse_uint(const kvconf *k, const char *key, const char *v, uint64_t lo, uint64_t hi,
                      uint64_t *out)
{
    char q[UTF8_QUOTE_CAP], *end = NULL;
    bool digits = *v != '\0' && strlen(v) <= 12;
    for (const char *c = v; *c; c++)
        digits = digits && *c >= '0' && *c <= '9';
    if (digits) {
        unsigned long long n = strtoull(v, &end, 10);
        if (end && *end == '\0' && n >= lo && n <= hi) {
            *out = n;
            return 0;
        }
    }
    utf8_quote(q, v, strlen(v));
    return kvconf_fail(k, BANTER_EFORMAT, "%s: %s is not a whole number from %llu to %llu", key, q,
                       (unsigned long long)lo, (unsigned long long)hi);
}

/* The keys the host side reads itself; 1 when key is not one of them. */
static int host_key(plugconf_entry *e, const kvconf *k, const char *full, const char *key,
                    const char *v)
{
    char q[UTF8_QUOTE_CAP];
    uint64_t n = 0;
    int r;
    utf8_quote(q, v, strlen(v));
    if (strcmp(key, "path") == 0) {
        if (v[0] != '/' || strlen(v) >= sizeof e->path)
            return kvconf_fail(k, BANTER_EFORMAT, "%s: %s is not an absolute path", full, q);
        memcpy(e->path, v, strlen(v) + 1);
        return 0;
    }
    if (strcmp(key, "enabled") == 0) {
        if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0)
            e->enabled = true;
        else if (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0)
            e->enabled = false;
        else
            return kvconf_fail(k, BANTER_EFORMAT, "%s: %s is not yes or no", full, q);
        return 0;
    }
    if (strcmp(key, "contacts") == 0) {
        if (strlen(v) >= sizeof e->contacts || !utf8_valid(v, strlen(v)))
            return kvconf_fail(k, BANTER_EFORMAT, "%s: over %zu bytes or not UTF-8", full,
                               sizeof e->contacts - 1);
        e->all_contacts = strcmp(v, "*") == 0;
        memcpy(e->contacts, e->all_contacts ? "" : v, e->all_contacts ? 1 : strlen(v) + 1);
        return e->all_contacts ? 0 : fingerprints_whole(k, full, v);
    }
    if (strcmp(key, "memory_mb") == 0) {
        r = parse_uint(k, full, v, 16, 1u << 20, &n);
        e->memory_mb = r ? e->memory_mb : n;
        return r;
    }
    if (strcmp(key, "heartbeat_ms") == 0) {
        r = parse_uint(k, full, v, 100, 600000, &n);
        e->heartbeat_ms = r ? e->heartbeat_ms : (uint32_t)n;
        return r;
    }
    return 1;
}

static plugconf_entry *entry_for(plugconf *pc, const char *name, size_t len)
{
    for (size_t i = 0; i < pc->count; i++)
        if (strlen(pc->e[i]->name) == len && memcmp(pc->e[i]->name, name, len) == 0)
            return pc->e[i];
    if (pc->count == PLUGCONF_MAX)
        return NULL;
    plugconf_entry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    memcpy(e->name, name, len);
    e->enabled = true;
    e->memory_mb = PLUGCONF_MEM_MB;
    e->heartbeat_ms = PLUGCONF_HB_MS;
    pc->e[pc->count++] = e;
    return e;
}

/* A plug-in's own setting (KEY already checked). */
static int own_key(plugconf_entry *e, const kvconf *k, const char *q, const char *key,
                   const char *value)
{
    char *v = strdup(value), *kk = NULL;
    if (!v)
        return kvconf_fail(k, BANTER_ENOMEM, "out of memory");
    for (size_t i = 0; i < e->nconf; i++) {
        if (strcmp(e->key[i], key) == 0) { /* a later line wins */
            free(e->value[i]);
            e->value[i] = v;
            return 0;
        }
    }
    if (e->nconf == PLUGCONF_OWN_MAX) {
        free(v);
        return kvconf_fail(k, BANTER_EFORMAT, "%s: more than %d settings for one plug-in", q,
                           PLUGCONF_OWN_MAX);
    }
    kk = strdup(key);
    if (!kk) {
        free(v);
        return kvconf_fail(k, BANTER_ENOMEM, "out of memory");
    }
    e->key[e->nconf] = kk;
    e->value[e->nconf++] = v;
    return 0;
}

int plugconf_set(plugconf *pc, const kvconf *k, const char *key, const char *value)
{
    char q[UTF8_QUOTE_CAP];
    utf8_quote(q, key, strlen(key));
    if (strcmp(key, "plugins.host") == 0) {
        if (value[0] != '/' || strlen(value) >= sizeof pc->host)
            return kvconf_fail(k, BANTER_EFORMAT, "plugins.host: expected an absolute path");
        memcpy(pc->host, value, strlen(value) + 1);
        return 0;
    }
    if (strncmp(key, "plugins.", 8) == 0)
        return kvconf_fail(k, BANTER_EFORMAT, "unknown key %s (plugins.host is the only one)", q);
    if (strncmp(key, "plugin.", 7) != 0)
        return 1;
    const char *name = key + 7, *dot = strchr(name, '.');
    if (!dot || !name_ok(name, (size_t)(dot - name)) || !dot[1])
        return kvconf_fail(k, BANTER_EFORMAT,
                           "%s: expected plugin.NAME.KEY (NAME: 1..32 of a-z 0-9 _ -)", q);
    plugconf_entry *e = entry_for(pc, name, (size_t)(dot - name));
    if (!e)
        return kvconf_fail(k, BANTER_EFORMAT, "%s: more than %d plug-ins (or out of memory)", q,
                           PLUGCONF_MAX);
    int r = host_key(e, k, key, dot + 1, value);
    if (r <= 0)
        return r;
    size_t klen = strlen(dot + 1), vlen = strlen(value);
    if (klen > PLUG_MAX_KEY || strspn(dot + 1, "abcdefghijklmnopqrstuvwxyz0123456789_.-") != klen)
        return kvconf_fail(k, BANTER_EFORMAT, "%s: a plug-in's key is 1..64 of a-z 0-9 _ . -", q);
    if (vlen > PLUG_MAX_LINE || !utf8_valid(value, vlen))
        return kvconf_fail(k, BANTER_EFORMAT, "%s: the value is over %u bytes or not UTF-8", q,
                           PLUG_MAX_LINE);
    return own_key(e, k, q, dot + 1, value);
}

static int set_only(void *ud, const kvconf *k, const char *key, const char *value)
{
    int r = plugconf_set(ud, k, key, value);
    return r == 1 ? 0 : r; /* another module's key */
}

int plugconf_load(plugconf *pc, const char *path, char *why, size_t cap)
{
    const char *slash = strrchr(path, '/');
    kvconf k = {slash ? slash + 1 : path, 0, why, cap};
    plugconf_clear(pc);
    int r = kvconf_load(path, set_only, pc, why, cap);
    if (r == BANTER_ENOENT) { /* no file: no plug-ins */
        if (why && cap)
            why[0] = '\0';
        r = 0;
    }
    for (size_t i = 0; r == 0 && i < pc->count; i++)
        if (!pc->e[i]->path[0])
            r = kvconf_fail(&k, BANTER_EFORMAT, "plugin.%s.path is missing (the plug-in's .so)",
                            pc->e[i]->name);
    if (r)
        plugconf_clear(pc);
    return r;
}

void plugconf_init(plugconf *pc) { memset(pc, 0, sizeof *pc); }

void plugconf_entry_config(const plugconf_entry *e, plugmsg *m)
{
    memset(m, 0, sizeof *m);
    m->type = PLUG_CONFIG;
    m->nconf = e->nconf;
    for (size_t i = 0; i < e->nconf; i++) {
        m->key[i] = e->key[i];
        m->value[i] = e->value[i];
    }
}

void plugconf_entry_clear(plugconf_entry *e)
{
    for (size_t i = 0; e && i < e->nconf; i++) {
        free(e->key[i]);
        free(e->value[i]);
    }
    if (e)
        e->nconf = 0;
}

void plugconf_clear(plugconf *pc)
{
    for (size_t i = 0; i < pc->count; i++) {
        plugconf_entry_clear(pc->e[i]);
        free(pc->e[i]);
    }
    plugconf_init(pc);
}
