/* SPDX-License-Identifier: MIT */
/* pluginctl.c - the "plugins" control request (see pluginctl.h). */
#include "ui/pluginctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

static int list_to(plugins *p, const char *message, buf *out)
{
    plugin_status *s = NULL;
    size_t n = 0;
    int r = plugins_list(p, &s, &n);
    if (r)
        return ctlmsg_encode_error(r, NULL, NULL, NULL, 0, out);
    ctl_plugin *cp = calloc(n + 1, sizeof *cp);
    if (!cp) {
        free(s);
        return ctlmsg_encode_error(BANTER_ENOMEM, NULL, NULL, NULL, 0, out);
    }
    for (size_t i = 0; i < n; i++) {
        cp[i].name = s[i].name;
        cp[i].path = utf8_valid(s[i].path, strlen(s[i].path)) ? s[i].path : "?";
        cp[i].state = s[i].state;
        cp[i].enabled = s[i].enabled;
        cp[i].pid = s[i].pid;
        cp[i].restarts = s[i].restarts;
        cp[i].retry_in_ms = s[i].retry_in_ms > 0 ? s[i].retry_in_ms : 0;
        cp[i].version = s[i].version;
        cp[i].description = s[i].description;
        cp[i].last_error = s[i].last_error;
    }
    ctl_reply rp = {.kind = CTL_PLUGINS};
    rp.u.plugins.message = message;
    rp.u.plugins.n = n;
    rp.u.plugins.plugins = cp;
    r = ctlmsg_encode_reply(&rp, out);
    free(cp);
    free(s);
    return r;
}

int pluginctl_request(plugins *p, const struct ctl_plugins_req *q, buf *out)
{
    if (!q->action[0] || strcmp(q->action, "list") == 0)
        return list_to(p, NULL, out);
    bool on = strcmp(q->action, "enable") == 0, restart = strcmp(q->action, "restart") == 0;
    char said[256] = "";
    int r = restart ? plugins_restart(p, q->name, said, sizeof said)
                    : plugins_enable(p, q->name, on, said, sizeof said);
    if (r)
        return ctlmsg_encode_error(r, NULL, said[0] ? said : NULL, NULL, 0, out);
    return list_to(p, said, out);
}
