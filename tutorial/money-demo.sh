#!/usr/bin/env bash
# Money between two nodes, start to end: starts two regtest nodes (the second dials the first),
# mines on the first until its rewards can be spent, pays the second node, mines the payment
# into a block, and prints both balances.
#
#   bash tutorial/money-demo.sh          # nodes on ports 8555 and 8556
#   bash tutorial/money-demo.sh 9000     # on ports 9000 and 9001
#
# Everything stays on 127.0.0.1. Chapters 17 to 19 explain each step.
set -euo pipefail
base=${1:-8555}
source "$(dirname "$0")/demo-lib.sh"

start_node 0 "$base"
start_node 1 $((base + 1)) "$base"
wait_for 1 "Handshake with"
a=$(grep -o 'address [0-9a-f]*' "$dir/log0" | cut -d' ' -f2)
b=$(grep -o 'address [0-9a-f]*' "$dir/log1" | cut -d' ' -f2)
echo "node A on $base, address $a"
echo "node B on $((base + 1)), address $b"

# A reward can be spent 10 blocks after its own: after 11 blocks, the next block may spend
# the rewards of blocks 1 and 2.
echo "A: mine -n 11"
type_into 0 "mine -n 11"
wait_for 0 "11 of 11"
wait_for 1 "Accepted block 11"
echo "A: $(ask 0 balance | grep 'spendable,')"

echo "A: send $b 5"
ask 0 "send $b 5" | grep -E '^(sent|could not)' | sed 's/^/A: /'
wait_for 1 "Mempool: accepted"
echo "B: the payment waits in its mempool too"

echo "A: mine"
type_into 0 "mine"
wait_for 1 "Accepted block 12"
echo "A: $(ask 0 balance | grep 'spendable,')"
echo "B: $(ask 1 balance | grep 'spendable,')"
