/* SPDX-License-Identifier: MIT */
/* settings.c - the web interface's preferences in DIR/settings.json. */
#include "core/settings.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "utf8.h"

#define FONT_MIN     12
#define FONT_MAX     24
#define FONT_DEFAULT 15
#define MAX_READ_KEY 80

struct settings {
    char path[4096];
    cJSON *v; /* always holds every key, checked */
};

static cJSON *defaults(void)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "theme", "system");
    cJSON_AddNumberToObject(o, "font_size", FONT_DEFAULT);
    cJSON_AddTrueToObject(o, "sound");
    cJSON_AddFalseToObject(o, "notify");
    cJSON_AddObjectToObject(o, "read");
    return o;
}

static bool read_key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > MAX_READ_KEY)
        return false;
    for (const char *p = k; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            return false;
    return true;
}

static bool read_mark_ok(const cJSON *v)
{
    return cJSON_IsNull(v) || (cJSON_IsNumber(v) && v->valuedouble >= 0 &&
                               v->valuedouble <= 9007199254740992.0 && /* 2^53, as ctlmsg */
                               v->valuedouble == (double)(int64_t)v->valuedouble);
}

/* Whether one key = value may be applied; why names what is wrong. */
static bool check_one(const cJSON *item, char *why, size_t cap)
{
    const char *k = item->string;
    char q[UTF8_QUOTE_CAP];
    if (strcmp(k, "theme") == 0) {
        const char *t = cJSON_GetStringValue(item);
        if (t && (!strcmp(t, "system") || !strcmp(t, "light") || !strcmp(t, "dark")))
            return true;
        snprintf(why, cap, "\"theme\" must be \"system\", \"light\" or \"dark\"");
    } else if (strcmp(k, "font_size") == 0) {
        double d = cJSON_IsNumber(item) ? item->valuedouble : -1;
        if (d >= FONT_MIN && d <= FONT_MAX && d == (double)(int)d)
            return true;
        snprintf(why, cap, "\"font_size\" must be a whole number from %d to %d", FONT_MIN,
                 FONT_MAX);
    } else if (strcmp(k, "sound") == 0 || strcmp(k, "notify") == 0) {
        if (cJSON_IsBool(item))
            return true;
        snprintf(why, cap, "\"%s\" must be true or false", k);
    } else if (strcmp(k, "read") == 0) {
        const cJSON *m;
        if (!cJSON_IsObject(item)) {
            snprintf(why, cap, "\"read\" must be an object of conversation: milliseconds");
            return false;
        }
        cJSON_ArrayForEach (m, item) {
            if (!read_key_ok(m->string) || !read_mark_ok(m)) {
                snprintf(why, cap,
                         "\"read\": each key must be 1..80 printable ASCII bytes and each "
                         "value milliseconds since the epoch (or null)");
                return false;
            }
        }
        return true;
    } else {
        utf8_quote(q, k, strlen(k));
        snprintf(why, cap, "unknown setting %s (theme, font_size, sound, notify, read)", q);
    }
    return false;
}

static void merge_read(cJSON *marks, const cJSON *changes)
{
    const cJSON *m;
    cJSON_ArrayForEach (m, changes) {
        cJSON_DeleteItemFromObjectCaseSensitive(marks, m->string);
        if (!cJSON_IsNull(m))
            cJSON_AddNumberToObject(marks, m->string, m->valuedouble);
    }
}

/* Check every key, then apply them to v. */
static int apply(cJSON *v, const cJSON *changes, char *why, size_t cap)
{
    const cJSON *item;
    if (!cJSON_IsObject(changes)) {
        snprintf(why, cap, "\"settings\" must be an object");
        return BANTER_EINVAL;
    }
    cJSON_ArrayForEach (item, changes)
        if (!check_one(item, why, cap))
            return BANTER_EINVAL;
    cJSON_ArrayForEach (item, changes) {
        if (strcmp(item->string, "read") == 0) {
            cJSON *marks = cJSON_GetObjectItemCaseSensitive(v, "read");
            merge_read(marks, item);
            if (cJSON_GetArraySize(marks) > SETTINGS_MAX_READ) {
                /* Drop the oldest entries first (the first ones added). */
                while (cJSON_GetArraySize(marks) > SETTINGS_MAX_READ)
                    cJSON_DeleteItemFromArray(marks, 0);
            }
        } else {
            cJSON_ReplaceItemInObjectCaseSensitive(v, item->string, cJSON_Duplicate(item, true));
        }
    }
    return 0;
}

static int save(const settings *s, char *why, size_t cap)
{
    char tmp[4200];
    char *text = cJSON_Print(s->v);
    int ret = BANTER_EIO;
    if (!text)
        return BANTER_ENOMEM;
    snprintf(tmp, sizeof tmp, "%s.tmp", s->path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    size_t len = strlen(text), off = 0;
    while (fd >= 0 && off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    if (fd >= 0 && off == len && fsync(fd) == 0 && close(fd) == 0) {
        fd = -1;
        if (rename(tmp, s->path) == 0)
            ret = 0;
    }
    if (ret) {
        snprintf(why, cap, "cannot write %s: %s", s->path, g_strerror(errno));
        if (fd >= 0)
            close(fd);
        unlink(tmp);
    }
    cJSON_free(text);
    return ret;
}

/* Read the file into s->v; false when it is not a valid settings file. */
static bool load(settings *s, bool *missing)
{
    gchar *text = NULL;
    gsize len = 0;
    struct stat st;
    *missing = false;
    if (lstat(s->path, &st) != 0) {
        *missing = errno == ENOENT;
        return false;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > (off_t)SETTINGS_MAX_FILE ||
        !g_file_get_contents(s->path, &text, &len, NULL))
        return false;
    cJSON *file = utf8_valid(text, len) ? cJSON_ParseWithLength(text, len) : NULL;
    g_free(text);
    char why[200];
    bool ok = file && apply(s->v, file, why, sizeof why) == 0;
    cJSON_Delete(file);
    return ok;
}

int settings_open(settings **out, const char *dir, char *why, size_t cap)
{
    settings *s = g_new0(settings, 1);
    bool missing;
    *out = NULL;
    if (why && cap)
        why[0] = '\0';
    int n = snprintf(s->path, sizeof s->path, "%s/settings.json", dir);
    if (n < 0 || (size_t)n >= sizeof s->path) {
        g_free(s);
        return BANTER_ETOOLONG;
    }
    s->v = defaults();
    if (!load(s, &missing) && !missing) {
        char bad[4200];
        snprintf(bad, sizeof bad, "%s.bad", s->path);
        cJSON_Delete(s->v);
        s->v = defaults();
        if (why && cap)
            snprintf(why, cap, "%s is not a valid settings file: moved to %s, using defaults",
                     s->path, rename(s->path, bad) == 0 ? bad : "(could not move it)");
    }
    *out = s;
    return 0;
}

void settings_free(settings *s)
{
    if (!s)
        return;
    cJSON_Delete(s->v);
    g_free(s);
}

cJSON *settings_json(const settings *s) { return cJSON_Duplicate(s->v, true); }

int settings_set(settings *s, const cJSON *changes, char *why, size_t cap)
{
    cJSON *next = cJSON_Duplicate(s->v, true);
    int r = next ? apply(next, changes, why, cap) : BANTER_ENOMEM;
    if (r) {
        cJSON_Delete(next);
        return r;
    }
    cJSON_Delete(s->v);
    s->v = next;
    return save(s, why, cap);
}

int settings_apply(settings *s, const struct ctl_settings_set *c, char *why, size_t cap)
{
    static const char *themes[] = {"system", "light", "dark"};
    cJSON *ch = cJSON_CreateObject();
    if (!ch)
        return BANTER_ENOMEM;
    if ((c->has & CTL_SET_THEME) && (unsigned)c->theme < CTL_THEME_COUNT)
        cJSON_AddStringToObject(ch, "theme", themes[c->theme]);
    if (c->has & CTL_SET_FONT_SIZE)
        cJSON_AddNumberToObject(ch, "font_size", (double)c->font_size);
    if (c->has & CTL_SET_SOUND)
        cJSON_AddBoolToObject(ch, "sound", c->sound);
    if (c->has & CTL_SET_NOTIFY)
        cJSON_AddBoolToObject(ch, "notify", c->notify);
    if (c->has & CTL_SET_READ) {
        cJSON *rd = cJSON_AddObjectToObject(ch, "read");
        for (size_t i = 0; rd && i < c->nread; i++) {
            if (c->read[i].remove)
                cJSON_AddNullToObject(rd, c->read[i].key);
            else /* 0..2^53: exact in a double */
                cJSON_AddNumberToObject(rd, c->read[i].key, (double)c->read[i].ts);
        }
    }
    int r = settings_set(s, ch, why, cap);
    cJSON_Delete(ch);
    return r;
}

int settings_view(const settings *s, ctl_settings *out, struct ctl_read_mark **marks)
{
    const cJSON *v = s->v;
    const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "theme"));
    const cJSON *fs = cJSON_GetObjectItemCaseSensitive(v, "font_size");
    const cJSON *rd = cJSON_GetObjectItemCaseSensitive(v, "read"), *m;
    int n = cJSON_GetArraySize(rd);
    memset(out, 0, sizeof *out);
    *marks = NULL;
    out->theme = !t || !strcmp(t, "system") ? CTL_THEME_SYSTEM
                 : !strcmp(t, "light")      ? CTL_THEME_LIGHT
                                            : CTL_THEME_DARK;
    out->font_size = cJSON_IsNumber(fs) ? (int64_t)fs->valuedouble : FONT_DEFAULT;
    out->sound = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "sound"));
    out->notify = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "notify"));
    if (n <= 0)
        return 0;
    *marks = g_try_new0(struct ctl_read_mark, (size_t)n);
    if (!*marks)
        return BANTER_ENOMEM;
    cJSON_ArrayForEach (m, rd) {
        struct ctl_read_mark *k = &(*marks)[out->nread++];
        g_strlcpy(k->key, m->string, sizeof k->key);
        k->ts = (int64_t)m->valuedouble;
    }
    out->read = *marks;
    return 0;
}
