#!/usr/bin/env bash
# test: seconds 82
# SPDX-License-Identifier: MIT
# shellcheck disable=SC2015
# test_deb.sh - the Debian packages as an admin meets them: `make deb`
# builds them with Debian's tools, lintian finds no error, and in a fresh
# Debian 12 root (debootstrap) they install with apt, the rendezvous runs
# as the unit says (its user, its ExecStart, the packaged config), two
# nodes log in to it and talk, an upgrade to a rebuilt higher version keeps
# the server's database and key and the nodes' history, and a purge leaves
# nothing behind.
#
# Traffic: the server and the nodes run inside one network namespace made
# here (lib.sh's host 1), talking to 198.18.0.1 only. The root's apt
# fetches the packages' dependencies from the machine's Debian mirror.
#
# Needs root, debootstrap, dpkg-dev, debhelper and lintian (scripts/deps.sh).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/lib.sh"
require_root
for t in debootstrap dpkg-buildpackage dh lintian chroot; do
    command -v "$t" >/dev/null || t_skip "no $t (scripts/deps.sh installs it)"
done

net_setup 1
T=$BT_TMP
ROOT=$T/root
MIRROR=${BANTER_DEB_MIRROR:-http://deb.debian.org/debian}

# The root lives in $T, which net_teardown removes; what is mounted in it
# must go first (mounts are made in host 1's own mount namespace, so they
# vanish with it; this is the belt to those braces).
deb_cleanup() {
    local m
    for m in "$ROOT/proc" "$ROOT/dev/pts" "$ROOT/dev"; do
        mountpoint -q "$m" 2>/dev/null && umount -l "$m"
    done
    net_teardown
}
trap deb_cleanup EXIT

run() {
    RC=0
    OUT=$("$@" 2>&1) || RC=$?
}

# ---- build: two versions of the same tree ----
V1=$(sed -n '1s/^banter (\([^)]*\)).*/\1/p' "$top/debian/changelog")
V2=$V1.1
run make -C "$top" --no-print-directory deb DEB_DIR="$T/deb1"
[ "$RC" -eq 0 ] || t_fail "make deb" "exit $RC: $(tail -n 20 <<<"$OUT")"
run make -C "$top" --no-print-directory deb DEB_DIR="$T/deb2" DEB_VERSION="$V2"
[ "$RC" -eq 0 ] || t_fail "make deb $V2" "exit $RC: $(tail -n 20 <<<"$OUT")"
for p in banter banter-rendezvous banter-admin; do
    [ -f "$T/deb1/${p}_${V1}_amd64.deb" ] && [ -f "$T/deb2/${p}_${V2}_amd64.deb" ] ||
        t_fail "make deb" "no $p package: $(ls "$T/deb1" "$T/deb2")"
done
for p in banter-plugin-mail banter-plugin-sms banter-plugin-xmpp; do
    dpkg-deb -c "$T/deb1/${p}_${V1}_amd64.deb" 2>/dev/null | grep -q "/usr/lib/banter/plugins/${p#banter-plugin-}.so$" ||
        t_fail "make deb" "no ${p#banter-plugin-}.so in $p: $(ls "$T/deb1")"
done
t_pass "make deb: dpkg-buildpackage built banter, banter-rendezvous and banter-admin ($V1, and $V2 for the upgrade), and the gateway plug-ins"

run lintian --fail-on error --allow-root "$T/deb1"/*.changes
[ "$RC" -eq 0 ] || t_fail lintian "$OUT"
t_pass "lintian: no errors ($(grep -c '^[EW]:' <<<"$OUT") errors or warnings printed)"

# ---- a fresh Debian 12 root ----
run debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR"
[ "$RC" -eq 0 ] || t_fail debootstrap "exit $RC: $(tail -n 5 <<<"$OUT")"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
in_root() { chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
mkdir -p "$ROOT/srv/debs"
cp "$T/deb1"/*.deb "$T/deb2"/*.deb "$ROOT/srv/debs/"
run in_root apt-get update -qq
[ "$RC" -eq 0 ] || t_fail "apt-get update" "$OUT"
run in_root apt-get install -y -qq --no-install-recommends \
    "/srv/debs/banter_${V1}_amd64.deb" "/srv/debs/banter-rendezvous_${V1}_amd64.deb" \
    "/srv/debs/banter-admin_${V1}_amd64.deb"
[ "$RC" -eq 0 ] || t_fail "apt install" "exit $RC: $(tail -n 20 <<<"$OUT")"
in_root dpkg-query -W -f='${Status} ${Version}\n' banter banter-rendezvous banter-admin >"$T/status" 2>&1
[ "$(grep -c "install ok installed $V1" "$T/status")" -eq 3 ] || t_fail "apt install" "$(cat "$T/status")"
in_root getent passwd banter-rendezvous >/dev/null || t_fail "apt install" "no system user banter-rendezvous"
st=$(in_root stat -c '%U %a' "/var/lib/banter-rendezvous") && [ "$st" = "banter-rendezvous 700" ] ||
    t_fail "state directory" "$st"
st=$(in_root stat -c '%U:%G %a' "/etc/banter/rendezvous.conf") && [ "$st" = "root:banter-rendezvous 640" ] ||
    t_fail "config mode" "$st"
[ -f "$ROOT/usr/lib/systemd/user/banter.service" ] || t_fail "user unit" "not installed"
t_pass "apt installed both packages in a fresh Debian 12 root: system user, /var/lib 0700, config 0640, user unit"

# ---- the server as its unit runs it ----
UNIT=$ROOT/lib/systemd/system/banter-rendezvous.service
unit_key() { sed -n "s/^$1=//p" "$UNIT" | tail -n 1; }
SUSER=$(unit_key User)
SDIR=$(unit_key WorkingDirectory)
SEXEC=$(unit_key ExecStart)
[ -n "$SUSER" ] && [ -n "$SEXEC" ] || t_fail unit "User=$SUSER ExecStart=$SEXEC"
# The packaged config listens on every address of its host: here, the
# namespace's own 198.18.0.1 and lo.
SRV=198.18.0.1:7071
as_server() { in_root setpriv --reuid="$SUSER" --regid="$SUSER" --init-groups "$@"; }
host_exec 1 mount -t proc proc "$ROOT/proc" || t_fail setup "mount proc"
SRV_N=0
start_server() {
    SRV_N=$((SRV_N + 1))
    # The unit's ExecStart, word-split as systemd would for this plain line.
    # shellcheck disable=SC2086
    host_bg 1 "$T/srv$SRV_N.log" chroot "$ROOT" setpriv --reuid="$SUSER" --regid="$SUSER" \
        --init-groups env -i PATH=/usr/bin:/bin sh -c "cd $SDIR && exec $SEXEC" >/dev/null
    SRV_PID=$BT_LAST_PID
    wait_for 10 grep -q "listening on" "$T/srv$SRV_N.err" ||
        t_fail "server start" "$(tail -n 5 "$T/srv$SRV_N.err")"
}
FP=$(as_server /usr/bin/banter-rendezvous --config /etc/banter/rendezvous.conf fingerprint 2>/dev/null) ||
    t_fail fingerprint "$FP"
printf 'a packaged password 1\n' >"$ROOT/srv/pw"
chmod 0644 "$ROOT/srv/pw"
for u in ada bob; do
    run as_server /usr/bin/banter-rendezvous --config /etc/banter/rendezvous.conf user add "$u" \
        --password-file /srv/pw
    [ "$RC" -eq 0 ] || t_fail "user add $u" "$OUT"
done
start_server
grep -q "fingerprint $FP\|$FP" "$T/srv1.err" || t_fail "server start" "fingerprint not $FP: $(cat "$T/srv1.err")"
owner=$(in_root stat -c '%U %a' "/var/lib/banter-rendezvous/rendezvous.db") &&
    [ "$owner" = "banter-rendezvous 600" ] || t_fail "database" "$owner"
t_pass "the server runs as $SUSER with the unit's ExecStart ($SEXEC), database 0600 in $SDIR"

# ---- two people's nodes, as their own users ----
for u in ada bob; do
    in_root useradd -m -s /bin/sh "$u" || t_fail setup "useradd $u"
done
bn() {
    local u=$1
    shift
    host_exec 1 chroot "$ROOT" setpriv --reuid="$u" --regid="$u" --init-groups \
        env -i PATH=/usr/bin:/bin HOME="/home/$u" USER="$u" /usr/bin/banter "$@"
}
declare -A NPID
NODE_N=0
start_user_node() {
    local u=$1 port=$2
    NODE_N=$((NODE_N + 1))
    host_bg 1 "$T/$u-$NODE_N.log" chroot "$ROOT" setpriv --reuid="$u" --regid="$u" --init-groups \
        env -i PATH=/usr/bin:/bin HOME="/home/$u" USER="$u" \
        /usr/bin/banter node --no-mdns --port "$port" --rendezvous "$SRV" --server-key "$FP" >/dev/null
    NPID[$u]=$BT_LAST_PID
    wait_for 10 bn "$u" id >/dev/null 2>&1 || t_fail "start $u" "$(tail -n 5 "$T/$u-$NODE_N.err")"
}
stop_pid() {
    kill -TERM "$1" 2>/dev/null
    wait_for 10 gone "$1" || t_fail stop "PID $1 did not exit"
}
gone() { ! _bt_alive "$1"; }
connected() { bn "$1" rendezvous --json 2>/dev/null | grep -q '"connected":true'; }
start_user_node ada 7070
start_user_node bob 7080
for u in ada bob; do
    wait_for 15 connected "$u" || t_fail "connect $u" "$(bn "$u" rendezvous --json 2>&1)"
    cp "$ROOT/srv/pw" "$ROOT/home/$u/pw" && in_root chown "$u:$u" "/home/$u/pw" && chmod 600 "$ROOT/home/$u/pw"
    run bn "$u" login "$u" --password-file "/home/$u/pw"
    [ "$RC" -eq 0 ] || t_fail "login $u" "exit $RC: $OUT"
done
[ -d "$ROOT/home/ada/.local/share/banter" ] || t_fail "node state" "not in ~/.local/share/banter"
run bn ada contact add bob
[ "$RC" -eq 0 ] || t_fail "contact add" "$OUT"
incoming() { bn bob contacts --json 2>/dev/null | grep -q '"user":"ada".*"state":"incoming"\|"state":"incoming".*"user":"ada"'; }
wait_for 10 incoming || t_fail "contact request" "$(bn bob contacts --json 2>&1)"
run bn bob approve ada
[ "$RC" -eq 0 ] || t_fail approve "$OUT"
approved() { bn ada contacts --json 2>/dev/null | grep -q '"state":"approved"'; }
wait_for 10 approved || t_fail approve "$(bn ada contacts --json 2>&1)"
has() { bn "$1" history "$2" --json 2>/dev/null | grep -qF "$3"; }
sent_ok() {
    run bn ada send bob "$1"
    [ "$RC" -eq 0 ] || return 1
    wait_for 10 has bob ada "$1"
}
wait_for 10 sent_ok "hello from the packaged node" || t_fail "send" "exit $RC: $OUT; bob: $(bn bob history ada 2>&1)"
t_pass "two packaged nodes as their users: logged in, contact approved, a message ada -> bob arrived"

# ---- banter-admin from its package, remote over the same protocol ----
adm() {
    host_exec 1 chroot "$ROOT" setpriv --reuid=ada --regid=ada --init-groups \
        env -i PATH=/usr/bin:/bin HOME=/home/ada BANTER_ADMIN_SERVER="$SRV" \
        BANTER_ADMIN_SERVER_KEY="$FP" /usr/bin/banter-admin "$@"
}
AFP=$(adm keygen 2>"$T/keygen.err") || t_fail "banter-admin keygen" "$(cat "$T/keygen.err")"
run as_server /usr/bin/banter-rendezvous --config /etc/banter/rendezvous.conf admin add "$AFP" --role admin
[ "$RC" -eq 0 ] || t_fail "admin add" "exit $RC: $OUT"
run adm user list --json
[ "$RC" -eq 0 ] && grep -q '"ada"' <<<"$OUT" && grep -q '"bob"' <<<"$OUT" ||
    t_fail "banter-admin user list" "exit $RC: $OUT"
t_pass "banter-admin (its own package): a key made by ada, authorized on the server, lists the accounts remotely"

# ---- upgrade to the rebuilt higher version, state kept ----
for u in ada bob; do stop_pid "${NPID[$u]}"; done
stop_pid "$SRV_PID"
run in_root apt-get install -y -qq --no-install-recommends \
    "/srv/debs/banter_${V2}_amd64.deb" "/srv/debs/banter-rendezvous_${V2}_amd64.deb" \
    "/srv/debs/banter-admin_${V2}_amd64.deb"
[ "$RC" -eq 0 ] || t_fail upgrade "exit $RC: $(tail -n 20 <<<"$OUT")"
in_root dpkg-query -W -f='${Status} ${Version}\n' banter banter-rendezvous banter-admin >"$T/status" 2>&1
[ "$(grep -c "install ok installed $V2" "$T/status")" -eq 3 ] || t_fail upgrade "$(cat "$T/status")"
FP2=$(as_server /usr/bin/banter-rendezvous --config /etc/banter/rendezvous.conf fingerprint 2>/dev/null)
[ "$FP2" = "$FP" ] || t_fail upgrade "server key changed: $FP -> $FP2"
as_server /usr/bin/banter-rendezvous --config /etc/banter/rendezvous.conf user list >"$T/users" 2>&1
grep -q ada "$T/users" && grep -q bob "$T/users" || t_fail upgrade "accounts lost: $(cat "$T/users")"
start_server
start_user_node ada 7070
start_user_node bob 7080
for u in ada bob; do
    wait_for 15 connected "$u" || t_fail "reconnect $u" "$(bn "$u" rendezvous --json 2>&1)"
done
has ada bob "hello from the packaged node" || t_fail upgrade "ada's history lost"
has bob ada "hello from the packaged node" || t_fail upgrade "bob's history lost"
wait_for 15 sent_ok "after the upgrade" || t_fail "send after upgrade" "exit $RC: $OUT"
t_pass "upgraded $V1 -> $V2 with apt: same server key, accounts, history; messages still flow"

# ---- purge ----
for u in ada bob; do stop_pid "${NPID[$u]}"; done
stop_pid "$SRV_PID"
in_root dpkg -L banter banter-rendezvous banter-admin 2>/dev/null | sort -u >"$T/files"
run in_root apt-get purge -y -qq banter banter-rendezvous banter-admin
[ "$RC" -eq 0 ] || t_fail purge "exit $RC: $OUT"
in_root dpkg-query -W -f='${Status}\n' banter banter-rendezvous banter-admin 2>/dev/null | grep -q installed &&
    t_fail purge "still installed"
left=""
while read -r f; do
    [ -f "$ROOT$f" ] && left="$left $f"
done <"$T/files"
[ -z "$left" ] || t_fail purge "files left:$left"
[ ! -e "$ROOT/var/lib/banter-rendezvous" ] || t_fail purge "/var/lib/banter-rendezvous left"
[ ! -e "$ROOT/etc/banter" ] || t_fail purge "/etc/banter left: $(ls -la "$ROOT/etc/banter")"
t_pass "purged: no package file, no /etc/banter, no /var/lib/banter-rendezvous left (the system user stays, as Debian does)"
