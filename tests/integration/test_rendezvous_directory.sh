#!/usr/bin/env bash
# test: seconds 35
# SPDX-License-Identifier: MIT
#
# test_rendezvous_directory.sh - the directory is not an oracle
# (docs/rendezvous.md 4): nothing about an account reaches a stranger
# beyond the fields the organisation made public. On a real
# banter-rendezvous (ASan build) with rdv_probe clients on loopback:
#   1. default directory_public_fields (display_name): for every hidden
#      field (department, title, email, phone, location, about), a
#      stranger's search with the account's value and with another value
#      get byte-identical answers (results, total, page), for eq, contains,
#      and with a second condition on a later page; the account's own
#      search and an approved contact's still find it; the display name
#      finds it for everyone;
#   2. a stranger's contact list entry (after a request) holds the public
#      fields only, on both sides; a change of a hidden field is pushed to
#      contacts only (a stranger cannot even tell that it changed), one of
#      a public field to both;
#   3. nothing else answers a stranger differently: RV_SEAL to an unknown
#      account, a disabled one, an invisible one, a device that is not the
#      account's, an account that blocked the stranger: all ENOTCONTACT;
#      RV_CONTACT block or remove of a disabled account the stranger has no
#      relation with: ENOUSER, as for an unknown one (a contact can still
#      remove it);
#   4. directory_public_fields = display_name, department, title: those
#      match and show for everyone, the others stay hidden.
# Needs $RDV_BIN and $RDV_PROBE (the ASan builds by default).
# shellcheck disable=SC2015,SC2317
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$here/lib.sh"
# shellcheck source=tests/integration/rdv_lib.sh
. "$here/rdv_lib.sh"

rdv_setup alice sam cal dee ivy bea
rdv_start main
for u in alice sam cal dee ivy bea; do
    out=$(pr "$u.key" "login=$u:$PW" ready)
    has "$out" "^recv auth ok user=$u " || t_fail "login $u" "$out"
done
fields=(department title email phone location about)
declare -A val=([department]=Finance [title]=Treasurer [email]=alice@corp.example
    [phone]=5550142 [location]="Room 4.12" [about]="likes sailing")
declare -A sub=([department]=inan [title]=REAS [email]=corp.ex [phone]=014 [location]=4.1
    [about]=sail)
set_alice=("profile=display_name=Alice Archer")
for f in "${fields[@]}"; do
    [ "$f" = department ] || set_alice+=("profile=$f=${val[$f]}")
done
pr alice.key ready "${set_alice[@]}" >/dev/null
# the department is the admins' to set (RV_PROFILE_SET with one is EPERM)
"$RDV_BIN" --db rdv.db user set alice department "${val[department]}" >/dev/null 2>&1 ||
    t_fail setup "alice's department"
pr sam.key ready "profile=display_name=Sam Stranger" profile=phone=5559999 >/dev/null
pr cal.key ready contact=request:alice >/dev/null
out=$(pr alice.key ready contact=approve:cal wait=200)
has "$out" '^recv contact cal state=approved' || t_fail setup "$out"
pr cal.key ready contact=request:dee >/dev/null
pr dee.key ready contact=approve:cal >/dev/null
pr ivy.key ready status=invisible >/dev/null
pr bea.key ready contact=block:sam >/dev/null
dee_dev=$(devkey dee.key)
"$RDV_BIN" --db rdv.db user disable dee >/dev/null 2>&1 || t_fail setup "disable dee"

# compare NAME OUTPUT: the "recv raw" lines of OUTPUT, taken two by two,
# are byte-identical (a search with the value, then one without).
compare() {
    local -a raw
    mapfile -t raw < <(grep '^recv raw ' <<<"$2")
    [ "${#raw[@]}" -ge 2 ] && [ $((${#raw[@]} % 2)) -eq 0 ] || t_fail "$1" "no answers: $2"
    local i
    for ((i = 0; i < ${#raw[@]}; i += 2)); do
        [ "${raw[i]}" = "${raw[i + 1]}" ] ||
            t_fail "$1" "answer $((i / 2 + 1)) differs with and without the value: $2"
    done
}

# The searches of one hidden field f, each pair with and without a match.
pairs() {
    local f=$1
    printf '%s\n' "search=0:5:$f=${val[$f]}" "search=0:5:$f=nothing like it" \
        "search=0:5:$f~${sub[$f]}" "search=0:5:$f~zzqq" \
        "search=1:1:user~a,$f~${sub[$f]}" "search=1:1:user~a,$f~zzqq" \
        "search=0:1:display_name~a,$f=${val[$f]}" "search=0:1:display_name~a,$f=x"
}

# ---- 1. hidden fields ----
steps=()
for f in "${fields[@]}"; do mapfile -t -O "${#steps[@]}" steps < <(pairs "$f"); done
out=$("$RDV_PROBE" --raw --key "$T/sam.key" 127.0.0.1 "$PORT" hello ready "${steps[@]}" 2>&1)
[ "$(count "$out" '^recv result ')" -eq $((8 * ${#fields[@]})) ] || t_fail "stranger" "$out"
compare "a stranger's search by a hidden field" "$out"
has "$out" 'users=[^ ]*alice' && t_fail "stranger" "a hidden field found alice: $out"
t_pass "every hidden field: a stranger's search with alice's value and with another value get byte-identical answers (total, page, results)"
for who in alice cal; do
    steps=()
    for f in "${fields[@]}"; do steps+=("search=0:5:$f=${val[$f]}" "search=0:5:$f~${sub[$f]}"); done
    out=$(pr "$who.key" ready "${steps[@]}")
    [ "$(count "$out" '^recv result total=1 page=0 users=alice$')" -eq $((2 * ${#fields[@]})) ] ||
        t_fail "$who" "expected alice found by each of her fields: $out"
done
out=$(pr cal.key ready "search=0:5:phone=0000")
has "$out" '^recv result total=0 page=0 users=$' || t_fail "contact" "$out"
t_pass "alice's own searches and her approved contact's find her by every field"
out=$(pr sam.key ready "search=0:5:display_name~ARCHER")
has "$out" '^recv result total=1 page=0 users=alice$' &&
    has "$out" '^recv user alice display_name=Alice Archer department=- title=-$' ||
    t_fail "public" "$out"
t_pass "the display name (public by default) finds alice for a stranger, who sees it and nothing else"

# ---- 2. contact list entries ----
bgp a alice.key ready wait=2500
wait_out a '^ready$' || t_fail "entries" "$(cat "$T/a.out")"
out=$(pr sam.key ready contact=request:alice wait=200)
has "$out" '^recv contact alice state=outgoing status=- text=- display_name=Alice Archer department=- devices=0$' ||
    t_fail "entries" "sam's entry for alice: $out"
wait_out a '^recv contact sam state=incoming status=- text=- display_name=Sam Stranger department=- devices=0$' ||
    t_fail "entries" "alice's entry for sam: $(cat "$T/a.out")"
bg_done a
t_pass "a pending request's entries hold the public fields only, on both sides"
bgp s sam.key ready wait=2500
bgp c cal.key ready wait=2500
wait_out s '^ready$' && wait_out c '^ready$' || t_fail "updates" "$(cat "$T/s.out" "$T/c.out")"
pr alice.key ready "profile=phone=${val[phone]}" wait=300 "profile=display_name=Alice Archer" >/dev/null
bg_done s
bg_done c
after_ready() { sed '1,/^ready$/d' "$T/$1.out" | grep -c '^recv contact alice '; }
[ "$(after_ready s)" -eq 1 ] && grep -q '^recv contact alice state=outgoing .*display_name=Alice Archer ' "$T/s.out" ||
    t_fail "updates" "the stranger should hear of the display name only: $(cat "$T/s.out")"
[ "$(after_ready c)" -eq 2 ] || t_fail "updates" "the contact should hear of both: $(cat "$T/c.out")"
t_pass "a hidden field's change is pushed to contacts only; a public one's to the stranger too"

# ---- 3. no other answer tells ----
alice_dev=$(devkey alice.key)
other=$(devkey other.key)
bea_dev=$(devkey bea.key)
out=$(pr sam.key ready "sealto=nosuch:$alice_dev:x" "sealto=dee:$dee_dev:x" "sealto=ivy:$other:x" \
    "sealto=alice:$other:x" "sealto=bea:$bea_dev:x" "sealto=alice:$alice_dev:x" stored=6)
[ "$(count "$out" 'state=refused error=ENOTCONTACT$')" -eq 6 ] ||
    t_fail "seal" "expected ENOTCONTACT for every copy: $out"
[ "$(rows 'SELECT count(*) FROM sealed')" = 0 ] || t_fail "seal" "a copy was stored"
t_pass "RV_SEAL from a stranger: ENOTCONTACT for an unknown, disabled or invisible account, another device, an account that blocked it"
out=$(pr sam.key ready contact=block:nosuch contact=block:dee contact=remove:dee contact=unblock:dee)
errs=$(grep '^recv error' <<<"$out" | tr '\n' ' ')
[ "$errs" = "recv error ENOUSER recv error ENOUSER recv error ENOUSER recv error ENOUSER " ] ||
    t_fail "contact" "a disabled account must look like no account: $errs: $out"
out=$(pr cal.key ready contact=remove:dee wait=200)
has "$out" '^recv error' && t_fail "contact" "cal could not remove its disabled contact: $out"
has "$out" '^recv contact dee state=none' || t_fail "contact" "$out"
t_pass "RV_CONTACT about a disabled account: ENOUSER as for an unknown one, unless there is a relation to end"

# ---- 4. public fields chosen by the organisation ----
rdv_stop main
printf 'directory_public_fields = display_name, department, title\n' >"$T/pub.conf"
rdv_start pub --config "$T/pub.conf"
grep -q 'directory: public fields: display_name,department,title$' "$T/pub.err" ||
    t_fail "settings" "$(cat "$T/pub.err")"
out=$(pr sam.key ready "search=0:5:department=FINANCE" "search=0:5:title~reas")
[ "$(count "$out" '^recv result total=1 page=0 users=alice$')" -eq 2 ] &&
    has "$out" '^recv user alice display_name=Alice Archer department=Finance title=Treasurer$' ||
    t_fail "public" "$out"
steps=()
for f in email phone location about; do mapfile -t -O "${#steps[@]}" steps < <(pairs "$f"); done
out=$("$RDV_PROBE" --raw --key "$T/sam.key" 127.0.0.1 "$PORT" hello ready "${steps[@]}" 2>&1)
compare "the fields still hidden" "$out"
has "$out" 'users=[^ ]*alice' && t_fail "hidden" "a hidden field found alice: $out"
out=$(pr sam.key ready)
has "$out" '^recv contact alice state=outgoing status=- text=- display_name=Alice Archer department=Finance devices=0$' ||
    t_fail "public" "sam's entry for alice: $out"
t_pass "directory_public_fields = display_name, department, title: those match and show for everyone; email, phone, location, about stay hidden"
rdv_stop pub
echo "PASS: test_rendezvous_directory"
