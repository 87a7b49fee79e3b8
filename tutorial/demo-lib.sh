# Helpers for the demo scripts (classroom-demo.sh, money-demo.sh): start regtest nodes whose
# consoles read from named pipes, type into them, wait for their log lines. Sourced, not run.
#
# Each console is a named pipe that this script holds open for reading and writing (a pipe
# opened that way never blocks on Linux), so typing never waits, even for a node that died,
# and a node never sees its input end while the script runs. A failing start prints the
# node's own output and exits non-zero at once.

cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build -q
# Where cargo puts the binary: target/, or $CARGO_TARGET_DIR when that is set.
bin="${CARGO_TARGET_DIR:-$PWD/target}/debug/peerchain"
dir=$(mktemp -d)
pids=()   # every process to stop at the end
nodes=()  # the node processes, by index
inputs=() # the file descriptors of their consoles, by index
trap '' PIPE # a write to a dead node's console fails, quietly

cleanup() {
  for i in "${!nodes[@]}"; do type_into "$i" quit; done
  sleep 0.5
  kill "${pids[@]}" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

# Types a line into node $1's console.
type_into() {
  echo "$2" >&"${inputs[$1]}" 2>/dev/null || true
}

# Prints node $1's output and stops the script: it died, or never said what we waited for.
fail() {
  echo "node $1: $2; its output:" >&2
  sed 's/^/  | /' "$dir/log$1" >&2
  exit 1
}

# Waits up to 10 s for a line matching $2 in node $1's output.
wait_for() {
  for _ in $(seq 100); do
    grep -q "$2" "$dir/log$1" && return 0
    kill -0 "${nodes[$1]}" 2>/dev/null || fail "$1" "it stopped before printing \"$2\""
    sleep 0.1
  done
  fail "$1" "it never printed \"$2\""
}

# Starts node $1 with the arguments after it (a port, peers, flags), regtest, its console on
# a pipe, and waits until it listens.
start_node() {
  local i=$1
  shift
  mkfifo "$dir/in$i"
  exec {fd}<>"$dir/in$i"
  inputs[$i]=$fd
  : >"$dir/log$i"
  "$bin" "$@" --regtest <"$dir/in$i" >"$dir/log$i" 2>&1 &
  nodes[$i]=$!
  pids+=($!)
  wait_for "$i" "listening on"
}

# Types $2 into node $1 and prints what it printed after: from its first new line (within
# 10 s) until it has been quiet for 0.3 s.
ask() {
  local before now last
  before=$(wc -l <"$dir/log$1")
  type_into "$1" "$2"
  last=$before
  for _ in $(seq 100); do
    sleep 0.1
    now=$(wc -l <"$dir/log$1")
    if ((now > before)); then
      ((now == last)) && break
      last=$now
      sleep 0.2
    fi
  done
  tail -n +"$((before + 1))" "$dir/log$1"
}
