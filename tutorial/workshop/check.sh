#!/usr/bin/env bash
# Runs the tests that judge each workshop step, in the order of steps.txt, up to step N (all
# steps by default), and stops at the first step that is not done: it names the step, its
# README, the failing tests and the first line of each one's panic.
#
#   bash tutorial/workshop/check.sh        every step
#   bash tutorial/workshop/check.sh 05     steps 01 to 05
#   bash tutorial/workshop/check.sh 09     steps 01 to 06, 14, 15, 08 and 09 (steps.txt's order:
#                                          the handshake needs signatures)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
upto=${1:-}
upto=${upto#"${upto%%[! ]*}"} # without leading spaces
upto=${upto%"${upto##*[! ]}"} # without trailing spaces
case $upto in
  [0-9] | [0-9][0-9]) upto=$(printf '%02d' "$((10#$upto))") ;; # 5 means 05
esac
if [ -n "$upto" ] && ! grep -q "^$upto-" "$root/tutorial/workshop/steps.txt"; then
  echo "no workshop step $upto; the steps, in order:"
  grep -v '^#' "$root/tutorial/workshop/steps.txt" | cut -d'|' -f1 | sed 's/^/  /'
  exit 2
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT

while IFS='|' read -r step runs; do
  step=$(echo "$step" | tr -d ' ')
  num=${step%%-*}
  failed=0
  IFS=';' read -ra list <<<"$runs"
  for run in "${list[@]}"; do
    run="${run#"${run%%[! ]*}"}" # without leading spaces
    run="${run%"${run##*[! ]}"}" # without trailing spaces
    # shellcheck disable=SC2086 # the arguments are meant to split
    if ! cargo test --quiet $run >"$log" 2>&1; then
      failed=1
      break
    fi
  done
  if [ $failed = 0 ]; then
    echo "done  step $step"
    if [ "$num" = "$upto" ]; then
      echo "Steps up to $upto are done."
      exit 0
    fi
    continue
  fi
  echo "NEXT  step $step: see tutorial/workshop/$step/README.md"
  if grep -q "could not compile" "$log"; then
    echo "      it does not compile:"
    grep -E "^error" -A6 "$log" | head -20 | sed 's/^/      /'
    exit 1
  fi
  echo "      failing, from cargo test $run:"
  # Each failure prints "---- NAME stdout ----", then "thread ... panicked at FILE:", then
  # the message: show the name and the message.
  awk '/^---- .* stdout ----$/ { name = $2; want = 0; next }
       /panicked at/ { want = 1; next }
       want == 1 && name != "" { print "      " name ": " $0; want = 0; name = "" }' "$log" | head -12
  exit 1
done < <(grep -v '^#' tutorial/workshop/steps.txt)
echo "All steps done: the core is yours. Run cargo test for the whole suite."
