#!/usr/bin/env bash
# usage: walk-bench.sh BIN LABEL ; one run on src: first backup of gen1, unchanged re-backup,
# gen2 rsynced over the tree, backed up, then unchanged again. Prints /usr/bin/time "wall s,
# peak RSS KB, user s, sys s" per step and the sizes of REPO/data and REPO/local.
set -euo pipefail
BIN=$1; L=$2
W=$(mktemp -d /tmp/wb.XXXX); R=$W/repo; LIVE=$W/live
$BIN key generate --output $W/id.txt > $W/pub.txt
$BIN --repo $R init --recipient "$(tr -d '[:space:]' < $W/pub.txt)" >/dev/null
DATA=${DATA:-/tmp/benchdata/src}
rsync -a $DATA/gen1/ $LIVE/
$BIN --repo $R service add src --path $LIVE >/dev/null
sync
t() { /usr/bin/time -f "%e %M %U %S" -o $W/t "$@" >/dev/null; cat $W/t; }
load=$(cut -d' ' -f1 /proc/loadavg)
a=$(t $BIN --repo $R backup --quiet)
b=$(t $BIN --repo $R backup --quiet)
rsync -a --delete $DATA/gen2/ $LIVE/
sync
c=$(t $BIN --repo $R backup --quiet)
d=$(t $BIN --repo $R backup --quiet)
echo "$L load=$load first=[$a] unchanged=[$b] gen2=[$c] unchanged2=[$d] data=$(du -sb $R/data | cut -f1) local=$(du -sb $R/local | cut -f1)"
rm -rf $W
