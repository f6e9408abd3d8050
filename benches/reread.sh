#!/usr/bin/env bash
# The first backup on a recovered controller: every chunk is already in the repository (the index
# is rebuilt from the pack headers) but there is no files cache, so every file is read, chunked
# and hashed again and nothing new is stored. A bench, not a test: it prints figures.
#
#   benches/reread.sh BIN LABEL [SRC] [REPS]
#
# SRC defaults to a mixed data set built once in $DATA (default /tmp/reread-data, ~2.1 GB: two
# 570 MB pg_dump files and the 53k small files of `src` gen1 from ../shared/bench's datasets, and
# 512 MiB that do not compress); delete it afterwards (`rm -rf /tmp/reread-data`). For each BIN:
# `init`, one path service on SRC, a first backup (timed), then REPS times: remove
# REPO/local/index, REPO/local/chunks and REPO/local/files-cache (what `recover` leaves: a fresh
# index, no files cache), `verify` (rebuilds the index from the pack headers, as `recover` does;
# timed apart), and the backup that re-reads everything (timed).
# Figures are with the data in the page cache (read twice before the first timing), or with
# COLD=1, with the data set's pages dropped from it before each re-read (posix_fadvise DONTNEED on
# its files only: other processes' cache is left alone), as after a restore larger than memory.
# Each line: LABEL step seconds MB/s user+sys-CPU-seconds peak-RSS-MB.
set -euo pipefail
BIN=$(realpath "$1")
LABEL=$2
BENCHDATA=${BENCHDATA:-/tmp/benchdata}
DATA=${DATA:-/tmp/reread-data}
SRC=${3:-$DATA}
REPS=${4:-2}
WORK=$(mktemp -d /tmp/reread-work.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

if [[ $SRC == "$DATA" && ! -f $DATA/.done ]]; then
  rm -rf "$DATA"
  mkdir -p "$DATA/dumps" "$DATA/random"
  cp "$BENCHDATA/db/gen1/bench.sql" "$DATA/dumps/gen1.sql"
  cp "$BENCHDATA/db/gen2/bench.sql" "$DATA/dumps/gen2.sql"
  cp -a "$BENCHDATA/src/gen1" "$DATA/src"
  python3 - "$DATA/random/random.bin" 512 <<'PY'
import random, sys
r = random.Random(7)
with open(sys.argv[1], "wb") as f:
    for _ in range(int(sys.argv[2])):
        f.write(r.randbytes(1 << 20))
PY
  touch "$DATA/.done"
fi
BYTES=$(du -sb --exclude=.done "$SRC" | cut -f1)
tar cf - "$SRC" 2>/dev/null | cat >/dev/null # into the page cache
tar cf - "$SRC" 2>/dev/null | cat >/dev/null

REPO=$WORK/repo
"$BIN" key generate --output "$WORK/identity.txt" >"$WORK/recipient.txt"
"$BIN" --repo "$REPO" init --recipient "$(tr -d '[:space:]' <"$WORK/recipient.txt")" >/dev/null
"$BIN" --repo "$REPO" service add data --path "$SRC" >/dev/null

# evict DIR: drop DIR's files from the page cache
evict() {
  python3 - "$1" <<'PY'
import os, sys
for root, _, files in os.walk(sys.argv[1]):
    for f in files:
        try:
            fd = os.open(os.path.join(root, f), os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
PY
}

# timed STEP CMD...: one result line
timed() {
  local step=$1; shift
  /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" "$@" >/dev/null
  read -r e u s m <"$WORK/time"
  python3 -c "import sys; e,u,s,m=map(float,sys.argv[3:7]); b=int(sys.argv[2])
print(f'{sys.argv[1]} {e:.2f} s {b/1e6/e:.0f} MB/s cpu {u+s:.2f} s rss {m/1024:.0f} MB')" \
    "$LABEL $step" "$BYTES" "$e" "$u" "$s" "$m"
}

echo "$LABEL: $SRC, $BYTES bytes, load $(cut -d' ' -f1 /proc/loadavg)"
timed first "$BIN" --repo "$REPO" backup --quiet
for _ in $(seq "$REPS"); do
  rm -rf "$REPO/local/index" "$REPO/local/chunks" "$REPO/local/files-cache"
  timed rebuild-index "$BIN" --repo "$REPO" verify
  [[ -n ${COLD:-} ]] && evict "$SRC"
  timed "reread${COLD:+-cold}" "$BIN" --repo "$REPO" backup --quiet
done
echo "$LABEL: repository data $(du -sb "$REPO/data" | cut -f1) bytes, load $(cut -d' ' -f1 /proc/loadavg)"
