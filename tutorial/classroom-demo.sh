#!/usr/bin/env bash
# A classroom network on one machine, for a teacher's projector: starts N regtest nodes in a
# line (each dials only the one before it), lets discovery connect them all, mines a block on
# the first node and a block on the last, shows every node's chain, and stops them.
#
#   bash tutorial/classroom-demo.sh          # 5 nodes on ports 8555-8559
#   bash tutorial/classroom-demo.sh 8 9000   # 8 nodes on ports 9000-9007
#
# Everything stays on 127.0.0.1. On a real classroom LAN each student runs one node with
# `--bind 0.0.0.0` and dials the teacher's address instead (see chapter 13).
set -euo pipefail
n=${1:-5}
base=${2:-8555}
cd "$(dirname "$0")/.."
cargo build -q
bin=target/debug/peerchain
dir=$(mktemp -d)
pids=()
cleanup() {
  for ((i = 0; i < n; i++)); do echo quit >"$dir/in$i" 2>/dev/null || true; done
  sleep 0.5
  kill "${pids[@]}" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

# Waits up to 10 s for a line matching $2 in node $1's log.
wait_for() {
  for _ in $(seq 100); do
    grep -q "$2" "$dir/log$1" && return 0
    sleep 0.1
  done
  echo "node $1 never printed: $2" >&2
  exit 1
}

for ((i = 0; i < n; i++)); do
  mkfifo "$dir/in$i"
  sleep 600 >"$dir/in$i" & # holds each console open
  pids+=($!)
  peer=()
  ((i > 0)) && peer=($((base + i - 1)))
  "$bin" $((base + i)) "${peer[@]}" --regtest <"$dir/in$i" >"$dir/log$i" 2>&1 &
  pids+=($!)
  wait_for "$i" "listening on"
  echo "node $((base + i)) started$( ((i > 0)) && echo ", dialing $((base + i - 1))")"
done

# Asks node $1 for its peers (the console's `peers` command) and prints how many it lists.
peer_count() {
  local before
  before=$(wc -l <"$dir/log$1")
  echo peers >"$dir/in$1"
  sleep 0.2
  tail -n +"$((before + 1))" "$dir/log$1" | grep -cE 'node [0-9a-f]{16} (inbound|outbound)' || true
}

# Discovery: every node dials addresses it learns until it has 8 outbound peers (or knows no
# more), so each should reach at least min(n - 1, 8) peers within a few maintenance ticks.
want=$((n - 1 < 8 ? n - 1 : 8))
echo "waiting until every node has at least $want peers"
for ((i = 0; i < n; i++)); do
  for _ in $(seq 50); do
    count=$(peer_count "$i")
    ((count >= want)) && break
  done
done
sleep 1 # let the last handshakes settle before counting for the record
for ((i = 0; i < n; i++)); do
  echo "node $((base + i)): $(peer_count "$i") peers"
done

echo "mine hello class" >"$dir/in0"
wait_for $((n - 1)) "Accepted block 1"
echo "mine and hello teacher" >"$dir/in$((n - 1))"
wait_for 0 "Accepted block 2"
for ((i = 0; i < n; i++)); do
  echo chain >"$dir/in$i"
  wait_for "$i" "^height 2"
  echo "node $((base + i)): $(grep '^height 2' "$dir/log$i" | cut -c1-40)..."
done
