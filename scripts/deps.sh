#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Debian packages Banter needs, in one place.
#   deps.sh install   install them (as root; as another user print the line, exit 1)
#   deps.sh ensure    do nothing when all are there, else as `install`
#   deps.sh list      print the package names
set -euo pipefail

PKGS=(
    build-essential pkg-config
    libsodium-dev libcjson-dev libsqlite3-dev
    libglib2.0-dev libglib2.0-dev-bin libavahi-client-dev libnice-dev libuv1-dev nettle-dev
    libsoup-3.0-dev
    libcmocka-dev clang libclang-rt-14-dev clang-format cppcheck
    avahi-daemon avahi-utils dbus iproute2 tcpdump procps socat jq
    coturn libusrsctp-dev iptables conntrack iputils-ping openssl
    chromium fonts-dejavu-core nodejs npm curl
    debhelper dpkg-dev fakeroot lintian debootstrap
    python3-aiosmtpd kannel kannel-extras
    postgresql libpq-dev
    libexpat1-dev prosody lua-unbound
)

missing() {
    local p
    for p in "${PKGS[@]}"; do
        # npm may come with a nodejs from elsewhere (NodeSource): any npm will do.
        [ "$p" = npm ] && command -v npm >/dev/null && continue
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
            printf '%s\n' "$p"
    done
}

install() {
    local need=("$@")
    if [ "$(id -u)" -ne 0 ]; then
        echo "banter: missing Debian packages: ${need[*]}" >&2
        echo "banter: install them as root with:" >&2
        echo "  apt-get install -y --no-install-recommends ${need[*]}" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    echo "banter: installing ${need[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

case "${1:-ensure}" in
list) printf '%s\n' "${PKGS[@]}" ;;
install)
    mapfile -t need < <(missing)
    if [ "${#need[@]}" -eq 0 ]; then
        echo "banter: all ${#PKGS[@]} packages are installed"
    else
        install "${need[@]}"
    fi
    ;;
ensure)
    mapfile -t need < <(missing)
    [ "${#need[@]}" -eq 0 ] || install "${need[@]}"
    ;;
*)
    echo "usage: $0 install|ensure|list" >&2
    exit 2
    ;;
esac
