/* SPDX-License-Identifier: MIT */
/* pluginctl.c - the "plugins" control request (see pluginctl.h). */
#include "ui/pluginctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

static const char *arg(const cJSON *req, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static cJSON *list(plugins *p, const char *message, int *err)
{
    plugin_status *s = NULL;
    size_t n = 0;
    int r = plugins_list(p, &s, &n);
    cJSON *o = cJSON_CreateObject(), *a = cJSON_CreateArray();
    if (r || !o || !a) {
        free(s);
        cJSON_Delete(o);
        cJSON_Delete(a);
        *err = r ? r : BANTER_ENOMEM;
        return NULL;
    }
    cJSON_AddTrueToObject(o, "ok");
    cJSON_AddItemToObject(o, "plugins", a);
    for (size_t i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddItemToArray(a, e);
        cJSON_AddStringToObject(e, "name", s[i].name);
        cJSON_AddStringToObject(e, "path",
                                utf8_valid(s[i].path, strlen(s[i].path)) ? s[i].path : "?");
        cJSON_AddStringToObject(e, "state", s[i].state);
        cJSON_AddBoolToObject(e, "enabled", s[i].enabled);
        cJSON_AddNumberToObject(e, "pid", (double)s[i].pid);
        cJSON_AddNumberToObject(e, "restarts", s[i].restarts);
        cJSON_AddNumberToObject(e, "retry_in_ms", (double)s[i].retry_in_ms);
        cJSON_AddStringToObject(e, "version", s[i].version);
        cJSON_AddStringToObject(e, "description", s[i].description);
        cJSON_AddStringToObject(e, "last_error", s[i].last_error);
    }
    if (message)
        cJSON_AddStringToObject(o, "message", message);
    free(s);
    return o;
}

cJSON *pluginctl_handle(plugins *p, const cJSON *req, int *err, char *why, size_t cap)
{
    const char *action = arg(req, "action"), *name = arg(req, "name");
    *err = 0;
    if (!action || strcmp(action, "list") == 0)
        return list(p, NULL, err);
    bool on = strcmp(action, "enable") == 0, restart = strcmp(action, "restart") == 0;
    if (!on && !restart && strcmp(action, "disable") != 0) {
        *err = BANTER_EINVAL;
        snprintf(why, cap, "\"action\" must be \"list\", \"enable\", \"disable\" or \"restart\"");
        return NULL;
    }
    if (!name || !name[0] || strlen(name) > PLUGIN_NAME_MAX) {
        *err = BANTER_EINVAL;
        snprintf(why, cap, "%s needs \"name\": a plug-in's name (1..%d bytes)", action,
                 PLUGIN_NAME_MAX);
        return NULL;
    }
    char said[256];
    int r = restart ? plugins_restart(p, name, said, sizeof said)
                    : plugins_enable(p, name, on, said, sizeof said);
    if (r) {
        *err = r;
        snprintf(why, cap, "%s", said);
        return NULL;
    }
    return list(p, said, err);
}
