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
source "$(dirname "$0")/demo-lib.sh"

for ((i = 0; i < n; i++)); do
  peer=()
  ((i > 0)) && peer=($((base + i - 1)))
  start_node "$i" $((base + i)) "${peer[@]}"
  echo "node $((base + i)) started$( ((i > 0)) && echo ", dialing $((base + i - 1))")"
done

# Asks node $1 for its peers (the console's `peers` command) and prints how many it lists.
peer_count() {
  ask "$1" peers | grep -cE 'node [0-9a-f]{16} (inbound|outbound)' || true
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

type_into 0 "mine hello class"
wait_for $((n - 1)) "Accepted block 1"
type_into $((n - 1)) "mine and hello teacher"
wait_for 0 "Accepted block 2"
for ((i = 0; i < n; i++)); do
  type_into "$i" chain
  wait_for "$i" "^height 2"
  echo "node $((base + i)): $(grep '^height 2' "$dir/log$i" | cut -c1-40)..."
done
