#!/usr/bin/env bash
# Two builds side by side on one data set, alternated: for each round and each build, a fresh
# repository (`key generate`, `init`, a path service on SRC), a first backup, then UNCHANGED
# unchanged backups. A bench, not a test: it prints one line per build and round.
#
#   benches/pairs.sh BIN_A BIN_B [SRC] [ROUNDS] [UNCHANGED]
#
# SRC defaults to ../shared/bench's `src` gen1 (/tmp/benchdata/src/gen1). On a machine shared with
# other sessions, set PRIORITY=1 (as root): the script then raises its own autogroup to nice -15,
# so that builds in other sessions take little of the 2 cores from the runs (`nice` alone does
# nothing against other sessions while autogroups are on). Repositories go under $WORK (default
# a temporary directory, removed at the end).
# Each line: round label load first: wall user sys peak-RSS | unchanged: … (`/usr/bin/time`).
set -euo pipefail
A=$(realpath "$1")
B=$(realpath "$2")
SRC=${3:-/tmp/benchdata/src/gen1}
ROUNDS=${4:-3}
UNCHANGED=${5:-2}
WORK=${WORK:-$(mktemp -d)}
trap 'rm -rf "$WORK"' EXIT
if [ "${PRIORITY:-0}" = 1 ]; then
  echo -15 >/proc/self/autogroup
fi
T='%e s %U u %S s %M KB'
"$A" key generate --output "$WORK/id.txt" >"$WORK/r.txt"
for i in $(seq 1 "$ROUNDS"); do
  for label in a b; do
    bin=$A
    [ "$label" = b ] && bin=$B
    repo="$WORK/repo-$label"
    rm -rf "$repo"
    "$bin" --repo "$repo" init --recipient "$(tr -d '[:space:]' <"$WORK/r.txt")" >/dev/null 2>&1
    "$bin" --repo "$repo" service add data --path "$SRC" >/dev/null 2>&1
    load=$(cut -d' ' -f1 /proc/loadavg)
    line="$i $label load=$load first: $({ /usr/bin/time -f "$T" "$bin" --repo "$repo" backup --quiet >/dev/null; } 2>&1)"
    for _ in $(seq 1 "$UNCHANGED"); do
      line="$line | unchanged: $({ /usr/bin/time -f "$T" "$bin" --repo "$repo" backup --quiet >/dev/null; } 2>&1)"
    done
    echo "$line"
  done
done
