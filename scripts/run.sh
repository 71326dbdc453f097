#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make run`: make sure a D-Bus system bus and avahi-daemon are running
# (start them when root and they are not), then start a node named after
# the user, in the foreground. BANTER_NAME and BANTER_HOME override.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'banter: %s\n' "$*" >&2; }

bus_up() { [ -S /run/dbus/system_bus_socket ] && dbus-send --system --print-reply \
    --dest=org.freedesktop.DBus / org.freedesktop.DBus.GetId >/dev/null 2>&1; }
avahi_up() { avahi-daemon --check 2>/dev/null; }

if ! bus_up; then
    if [ "$(id -u)" -eq 0 ]; then
        say "starting the D-Bus system bus"
        mkdir -p /run/dbus
        rm -f /run/dbus/pid
        dbus-daemon --system --fork
    else
        say "no D-Bus system bus is running; LAN discovery needs it."
        say "start it as root: service dbus start (or: dbus-daemon --system --fork)"
    fi
fi
if bus_up && ! avahi_up; then
    if [ "$(id -u)" -eq 0 ]; then
        say "starting avahi-daemon"
        avahi-daemon -D || say "avahi-daemon did not start: see its messages above"
    else
        say "avahi-daemon is not running; colleagues will not be found on the LAN."
        say "start it as root: service avahi-daemon start"
    fi
fi
bus_up && avahi_up || say "the node runs without LAN discovery for now; it registers when avahi-daemon is up"

name=${BANTER_NAME:-$(id -un)}
say "starting your node as \"$name\" (Ctrl-C stops it)."
say "in another terminal: bin/banter peers | bin/banter send NAME 'hello' | bin/banter listen"
exec bin/banter node --name "$name"
