#!/usr/bin/env bash
# test: seconds 3
# SPDX-License-Identifier: MIT
#
# test_admin_plugins.sh - `banter-admin plugin list|enable|disable|restart`
# (docs/admin.md) against a running banter-rendezvous with server plug-ins
# (the ASan builds, loopback, rdv_lib.sh):
#   1. an admin key lists the plug-ins with state, pid and last error (text
#      and --json); a plug-in that segfaults shows "crashed: killed by
#      signal 11" as its last error;
#   2. disable, enable and restart change the server's plug-ins at once
#      (restart: a new process), the same as the local control socket sees;
#      an unknown plug-in is ENOENT (exit 1);
#   3. an auditor key may list, but enable/disable/restart are refused
#      (EPERM, exit 5) and nothing changes; a device key and an unknown key
#      are refused (exit 5);
#   4. every one of these is in the audit log, with its actor and result.
# Needs $RDV_BIN, $RDV_PROBE, $ADMIN_BIN, $PLUGIN_HOST, $PLUGIN_DIR, jq.
# shellcheck disable=SC2015,SC2317
set -u
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/rdv_lib.sh
. "$here/rdv_lib.sh"
ADMIN_BIN=${ADMIN_BIN:-$src/build/asan/banter-admin}
PLUGIN_HOST=${PLUGIN_HOST:-$src/bin/banter-plugin-host}
PLUGIN_DIR=${PLUGIN_DIR:-$src/build/rel/tests/plugins}
[ -x "$ADMIN_BIN" ] || t_fail setup "no program at $ADMIN_BIN (make test-run builds it, or set ADMIN_BIN)"
[ -x "$PLUGIN_HOST" ] || t_fail setup "no $PLUGIN_HOST (make bin/banter-plugin-host)"
for p in audit segv; do
    [ -f "$PLUGIN_DIR/$p.so" ] || t_fail setup "no $PLUGIN_DIR/$p.so"
done
command -v jq >/dev/null || t_skip "needs jq"
ADMIN_BIN=$(cd "$(dirname "$ADMIN_BIN")" && pwd)/$(basename "$ADMIN_BIN")

rdv_setup ann
cat >"$T/rdv.conf" <<CONF
plugins.host = $PLUGIN_HOST
plugin.audit.path = $PLUGIN_DIR/audit.so
plugin.segv.path = $PLUGIN_DIR/segv.so
CONF
rdv() { "$RDV_BIN" --db rdv.db "$@" 2>&1; }
SFP=$(rdv fingerprint)
rdv_start main --config "$T/rdv.conf"
export BANTER_ADMIN_SERVER=127.0.0.1:$PORT BANTER_ADMIN_SERVER_KEY=$SFP
# adm KEY ARGS...: banter-admin with the key file $T/KEY; output, exit code in RC
adm() {
    local key=$1
    shift
    OUT=$("$ADMIN_BIN" --key "$T/$key" "$@" 2>&1)
    RC=$?
}
for k in boss audit stranger; do
    "$ADMIN_BIN" --key "$T/$k.key" keygen >"$T/$k.fp" 2>/dev/null || t_fail setup "keygen $k"
done
out=$(rdv admin add "$(cat boss.fp)" --role admin) || t_fail "admin add" "$out"
out=$(rdv admin add "$(cat audit.fp)" --role auditor) || t_fail "admin add" "$out"
# what the server's own control socket says of plug-in NAME's FIELD
local_state() { "$RDV_BIN" --db rdv.db plugins --json | jq -r --arg n "$1" ".[] | select(.name == \$n) | .$2"; }
remote() { adm boss.key plugin list --json && jq -r --arg n "$1" ".plugins[] | select(.name == \$n) | .$2" <<<"$OUT"; }
running() { [ "$(local_state audit state)" = running ]; }
wait_for 10 running || t_fail start "$("$RDV_BIN" --db rdv.db plugins)"

# ---- 1. list ----
# the segv plug-in crashes on a login
out=$(pr ann.key "login=ann:$PW" ready)
has "$out" "^recv auth ok user=ann " || t_fail "login ann" "$out"
crashed() { [ -n "$(local_state segv last_error)" ]; }
wait_for 10 crashed || t_fail crash "$("$RDV_BIN" --db rdv.db plugins)"
adm boss.key plugin list
[ "$RC" = 0 ] || t_fail list "exit $RC: $OUT"
has "$OUT" "^audit +running +pid [0-9]+" || t_fail list "$OUT"
has "$OUT" "last error: crashed: killed by signal 11" || t_fail list "$OUT"
has "$OUT" "$PLUGIN_DIR/audit.so" || t_fail list "$OUT"
adm boss.key plugin list --json
[ "$RC" = 0 ] || t_fail "list --json" "exit $RC: $OUT"
jq -e '.plugins | length == 2' <<<"$OUT" >/dev/null || t_fail "list --json" "$OUT"
[ "$(jq -r '.plugins[] | select(.name == "audit") | .pid' <<<"$OUT")" = "$(local_state audit pid)" ] ||
    t_fail "list --json" "pid differs from the control socket's: $OUT"
jq -e '.plugins[] | select(.name == "segv") | .last_error | contains("signal 11")' <<<"$OUT" >/dev/null ||
    t_fail "list --json" "$OUT"
t_pass "plugin list: state, pid, path and last error (text and --json), as the server sees them"

# ---- 2. changes ----
adm boss.key plugin disable audit
[ "$RC" = 0 ] && has "$OUT" "disabled plug-in audit" || t_fail disable "exit $RC: $OUT"
disabled() { [ "$(local_state audit state)" = disabled ]; }
wait_for 10 disabled || t_fail disable "$("$RDV_BIN" --db rdv.db plugins)"
[ "$(remote audit state)" = disabled ] || t_fail disable "remote: $OUT"
adm boss.key plugin enable audit
[ "$RC" = 0 ] && has "$OUT" "enabled plug-in audit" || t_fail enable "exit $RC: $OUT"
wait_for 10 running || t_fail enable "$("$RDV_BIN" --db rdv.db plugins)"
pid0=$(local_state audit pid)
adm boss.key plugin restart audit
[ "$RC" = 0 ] && has "$OUT" "restarted plug-in audit" || t_fail restart "exit $RC: $OUT"
restarted() { running && [ "$(local_state audit pid)" != "$pid0" ]; }
wait_for 10 restarted || t_fail restart "$("$RDV_BIN" --db rdv.db plugins)"
adm boss.key plugin restart nosuch
[ "$RC" = 1 ] && has "$OUT" "no plug-in of that name" || t_fail unknown "exit $RC: $OUT"
adm boss.key plugin restart
[ "$RC" = 2 ] || t_fail usage "exit $RC: $OUT"
t_pass "plugin disable, enable, restart act at once (restart: a new process); an unknown name is refused"

# ---- 3. who may ----
adm audit.key plugin list
[ "$RC" = 0 ] && has "$OUT" "^audit +running" || t_fail "auditor list" "exit $RC: $OUT"
pid1=$(local_state audit pid)
for verb in disable restart enable; do
    adm audit.key plugin "$verb" audit
    [ "$RC" = 5 ] && has "$OUT" "auditor key may only look" || t_fail "auditor $verb" "exit $RC: $OUT"
done
# No wait: each refusal is the answer to its request, and a change would
# have been started by the handler before that answer (a disable or
# restart shows at once as another state or pid).
[ "$(local_state audit state)" = running ] && [ "$(local_state audit pid)" = "$pid1" ] ||
    t_fail "auditor" "the plug-in changed: $("$RDV_BIN" --db rdv.db plugins)"
adm stranger.key plugin list
[ "$RC" = 5 ] || t_fail stranger "exit $RC: $OUT"
"$ADMIN_BIN" --key "$T/ann.key" plugin restart audit >/dev/null 2>&1
rc=$?
[ "$rc" = 5 ] || t_fail "device key" "exit $rc"
[ "$(local_state audit pid)" = "$pid1" ] || t_fail "refused keys" "the plug-in changed"
t_pass "an auditor may list but not change (EPERM, exit 5); a device key and an unknown key are refused"

# ---- 4. audited ----
adm boss.key audit tail -n 30
[ "$RC" = 0 ] || t_fail audit "exit $RC: $OUT"
for want in "^ +[0-9]+ .* admin [0-9]+ plugin.disable name=audit: accepted" "admin [0-9]+ plugin.enable name=audit: accepted" \
    "admin [0-9]+ plugin.restart name=audit: accepted" "plugin.restart name=nosuch: ENOENT" \
    "auditor [0-9]+ plugin.restart name=audit: EPERM" "auditor [0-9]+ plugin.list: ok"; do
    has "$OUT" "$want" || t_fail audit "no \"$want\" in: $OUT"
done
adm boss.key audit verify
[ "$RC" = 0 ] || t_fail "audit verify" "exit $RC: $OUT"
t_pass "every plugin command is in the audit log with its actor and result; the log verifies"

rdv_stop main
exit 0
