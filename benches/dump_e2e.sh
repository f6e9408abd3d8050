#!/usr/bin/env bash
# End to end on the shared bench's db dumps (benches/RESULTS.md, "Dumps"): BIN LABEL command|path [SIZE]
# prints gen1 data/, what gen2 adds to data/ and to the whole repository, and gen2's time.
set -euo pipefail
BIN=$1; LABEL=$2; KIND=$3; CHUNK=${4:-}
W=${TMPDIR:-/tmp}/dump-e2e/$LABEL
rm -rf "$W"; mkdir -p "$W/live"
export CAIRN_LOG=warn
"$BIN" key generate --output "$W/id.txt" >"$W/rcpt.txt" 2>/dev/null
R=$W/repo
"$BIN" --repo "$R" init --recipient "$(tr -d '[:space:]' <"$W/rcpt.txt")" >/dev/null
ln -sf /tmp/benchdata/db/gen1/bench.sql "$W/cur.sql"
extra=()
[[ -n $CHUNK ]] && extra=(--chunk-size "$CHUNK")
if [[ $KIND == command ]]; then
  "$BIN" --repo "$R" service add data --command "cat $W/cur.sql" "${extra[@]}" >/dev/null
else
  cp /tmp/benchdata/db/gen1/bench.sql "$W/live/bench.sql"
  "$BIN" --repo "$R" service add data --path "$W/live" "${extra[@]}" >/dev/null
fi
"$BIN" --repo "$R" backup --quiet
d1=$(du -sb "$R/data" | cut -f1); a1=$(du -sb "$R" | cut -f1)
ln -sf /tmp/benchdata/db/gen2/bench.sql "$W/cur.sql"
[[ $KIND == path ]] && rsync -rlp --checksum /tmp/benchdata/db/gen2/bench.sql "$W/live/bench.sql"
t0=$(date +%s.%N)
/usr/bin/time -f "gen2 cpu: user %U s sys %S s wall %e s maxrss %M KB" -o "$W/time" "$BIN" --repo "$R" backup --quiet >/dev/null
t1=$(date +%s.%N)
cat "$W/time"
d2=$(du -sb "$R/data" | cut -f1); a2=$(du -sb "$R" | cut -f1)
m=$(du -sb "$R/backups" | cut -f1); l=$(du -sb "$R/local" | cut -f1)
python3 -c "
import sys
L,d1,a1,d2,a2,t0,t1,m,l=sys.argv[1:]
f=float
print(f'{L}\tgen1 data {f(d1)/1e6:.1f} MB\tgen2 added: data {(f(d2)-f(d1))/1e6:.2f} MB, whole repo {(f(a2)-f(a1))/1e6:.2f} MB\tgen2 {f(t1)-f(t0):.2f} s\t(backups/ {f(m)/1e6:.2f} MB, local/ {f(l)/1e6:.1f} MB)')
" "$LABEL" "$d1" "$a1" "$d2" "$a2" "$t0" "$t1" "$m" "$l"
rm -rf "$W"
