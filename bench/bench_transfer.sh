#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench_transfer.sh - a file between two nodes over loopback, next to the
# ceiling and the context measured in the same run:
#   - libsodium's single-core ChaCha20-Poly1305 rate (bench_noise),
#   - a plain unencrypted TCP copy of the same file on the same path (socat),
# Both write the received file to the same disk; the script syncs before each
# phase, because dirty pages left by one phase would throttle the next to the
# disk's speed.
#   - the Banter transfer: from accept to verified (streaming), and from
#     send-file to verified (with the sender's hashing pass),
#   - chat round trips during the transfer, and the peak RSS of both nodes.
# BENCH_XFER_MB sets the size (default 1024). Release build (bin/banter).
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${BENCH_XFER_MB:-1024}
B=$PWD/bin/banter
[ -x "$B" ] && [ -x build/rel/bench_noise ] || { echo "bench_transfer: build first (make bin/banter build/rel/bench_noise)"; exit 1; }
command -v socat >/dev/null && command -v jq >/dev/null || { echo "bench_transfer: SKIP (needs socat and jq)"; exit 0; }

T=$(mktemp -d /tmp/banter-bench-xfer.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT
now_ms() { date +%s%3N; }
port() { echo $((20000 + RANDOM % 20000)); }

echo "bench_transfer: ${MB} MiB file over loopback"
head -c $((MB * 1024 * 1024)) /dev/urandom >"$T/src.bin"
sync

# ---- the ceiling: libsodium on one core ----
enc=$(build/rel/bench_noise | sed -n 's/.*encrypt only *\([0-9.]*\) MB\/s.*/\1/p')
encdec=$(build/rel/bench_noise | sed -n 's/.*encrypt+decrypt *\([0-9.]*\) MB\/s.*baseline.*/\1/p')

# ---- context: a plain TCP copy of the same file (1 MiB buffers) ----
p=$(port)
sync # each phase starts with no dirty pages: the VM's disk would throttle it
socat -u -b 1048576 TCP-LISTEN:$p,bind=127.0.0.1,reuseaddr OPEN:"$T/tcp.bin",creat,trunc &
PIDS+=($!)
sleep 0.3
t0=$(now_ms)
socat -u -b 1048576 OPEN:"$T/src.bin" TCP:127.0.0.1:$p
wait "${PIDS[-1]}" 2>/dev/null || true
tcp_ms=$(($(now_ms) - t0))
rm -f "$T/tcp.bin"
sync

# ---- Banter: two nodes, alice sends to bob ----
pa=$(port)
pb=$((pa + 1))
mkdir -p "$T/a" "$T/b" "$T/dl"
printf 'download_dir = %s\n' "$T/dl" >"$T/b/banter.conf"
"$B" --home "$T/a" node --name alice --port $pa --no-mdns --peer 127.0.0.1:$pb >"$T/a.log" 2>&1 &
PA=$!
PIDS+=($PA)
"$B" --home "$T/b" node --name bob --port $pb --no-mdns >"$T/b.log" 2>&1 &
PB=$!
PIDS+=($PB)
for _ in $(seq 50); do
    [ "$("$B" --home "$T/a" peers --json 2>/dev/null | jq -r '.[0].online')" = true ] && break
    sleep 0.1
done
rtt_idle=()
for _ in 1 2 3 4 5; do
    s=$(now_ms); "$B" --home "$T/a" send bob "ping" >/dev/null; rtt_idle+=($(($(now_ms) - s)))
done

t_send=$(now_ms)
"$B" --home "$T/a" send-file bob "$T/src.bin" --wait >"$T/send.out" 2>&1 &
SENDER=$!
id=""
for _ in $(seq 600); do
    id=$("$B" --home "$T/b" transfers --json 2>/dev/null | jq -r '.[0].id // empty')
    [ -n "$id" ] && break
    sleep 0.05
done
[ -n "$id" ] || { echo "bench_transfer: no offer arrived"; cat "$T/a.log" "$T/b.log"; exit 1; }
t_offer=$(now_ms)
"$B" --home "$T/b" accept "$id" >/dev/null
t_accept=$(now_ms)
rtt_busy=()
while kill -0 $SENDER 2>/dev/null; do
    s=$(now_ms)
    "$B" --home "$T/a" send bob "ping during transfer" --wait 10 >/dev/null && rtt_busy+=($(($(now_ms) - s)))
    sleep 0.2
done
wait $SENDER || { echo "bench_transfer: send-file failed"; cat "$T/send.out"; exit 1; }
t_done=$(now_ms)
cmp -s "$T/src.bin" "$T/dl/src.bin" || { echo "bench_transfer: received file differs"; exit 1; }
hwm() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"; }
rss_a=$(($(hwm $PA) / 1024))
rss_b=$(($(hwm $PB) / 1024))

rate() { awk -v mb="$MB" -v ms="$1" 'BEGIN { printf "%.1f", mb * 1048576 / 1e6 / (ms / 1000) }'; }
stream_ms=$((t_done - t_accept))
r_stream=$(rate $stream_ms)
r_total=$(rate $((t_done - t_send)))
r_tcp=$(rate $tcp_ms)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
list() { local IFS=,; echo "$*"; }
echo "  libsodium ChaCha20-Poly1305, one core: encrypt ${enc} MB/s, encrypt+decrypt ${encdec} MB/s"
echo "  plain TCP copy (socat, no crypto)        ${r_tcp} MB/s"
echo "  Banter, accept -> verified               ${r_stream} MB/s  ratio to encrypt-only $(ratio "$r_stream" "$enc"), to encrypt+decrypt $(ratio "$r_stream" "$encdec")"
echo "  Banter, send-file -> verified            ${r_total} MB/s  (includes the sender's hash pass: offer after $((t_offer - t_send)) ms)"
echo "  target: >= 0.70 of the cipher rate (encrypt-only) -> $(awk -v a="$r_stream" -v b="$enc" 'BEGIN { print (a / b >= 0.7) ? "met" : "NOT met" }')"
echo "  chat round trip (send, acknowledged): idle $(list "${rtt_idle[@]}") ms; during the transfer $(list "${rtt_busy[@]:-none}") ms"
echo "  peak RSS: sender ${rss_a} MiB, receiver ${rss_b} MiB (target < 64 MiB)"
# Context for the ratio: how far two threads of crypto scale on this machine.
par=$(build/rel/bench_noise --parallel 2>/dev/null | sed -n 's/.*scaling \([0-9.]*\).*/\1/p')
[ -n "$par" ] && echo "  this machine runs two ChaCha20-Poly1305 loops at once ${par}x as fast as one"
