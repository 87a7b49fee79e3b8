#!/usr/bin/env bash
# Starts the workshop: applies every step's blank.patch, so the core of the node is yours to
# write. In a git checkout it works on a new branch, `workshop` (your main branch keeps the
# reference code); elsewhere it makes a copy, ../peerchain-workshop.
#
#   bash tutorial/workshop/start.sh
#   bash tutorial/workshop/check.sh        which step is next, and what fails there
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
steps="$root/tutorial/workshop/steps.txt"

if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  cd "$root"
  if ! git diff --quiet || ! git diff --cached --quiet; then
    echo "start.sh: you have uncommitted changes; commit or stash them first" >&2
    exit 1
  fi
  if git rev-parse --verify --quiet workshop >/dev/null; then
    echo "start.sh: a branch named workshop exists already (git switch workshop to go on)" >&2
    exit 1
  fi
  git switch --quiet -c workshop
  where="branch workshop"
else
  target="$(dirname "$root")/peerchain-workshop"
  if [ -e "$target" ]; then
    echo "start.sh: $target exists already" >&2
    exit 1
  fi
  cp -R "$root" "$target"
  cd "$target"
  root=$target
  where="the copy in $target"
fi

grep -v '^#' "$steps" | cut -d'|' -f1 | while read -r step; do
  git apply "tutorial/workshop/$step/blank.patch" 2>/dev/null || patch -p1 -s <"tutorial/workshop/$step/blank.patch"
  echo "blanked step $step"
done
if [ "$where" = "branch workshop" ]; then
  git commit --quiet -am "Workshop: the core, blanked"
fi
cargo build --quiet 2>/dev/null || {
  echo "start.sh: the blanked code does not compile; please report this" >&2
  exit 1
}
echo
echo "Ready, on $where. Every blanked function panics with todo!(\"step NN: what to do\")."
echo "Start with tutorial/workshop/01-blocks-and-hashes/README.md, and run"
echo "  bash tutorial/workshop/check.sh"
echo "to see which step is next and which tests fail there."
