#!/usr/bin/env bash
# usage: localsize.sh BIN SRC_GEN1 [SRC_GEN2 ...] ; prints sizes after each backup
set -euo pipefail
BIN=$1; shift
W=$(mktemp -d /tmp/ls.XXXX); R=$W/repo; LIVE=$W/live
$BIN key generate --output $W/id.txt > $W/pub.txt
$BIN --repo $R init --recipient "$(tr -d '[:space:]' < $W/pub.txt)" >/dev/null
mkdir -p $LIVE
$BIN --repo $R service add data --path $LIVE >/dev/null
for g in "$@"; do
  rsync -a --delete "$g"/ $LIVE/
  /usr/bin/time -f "%e s %M KB" -o $W/t $BIN --repo $R backup --quiet
  $BIN --repo $R backup --quiet >/dev/null  # unchanged re-backup
  echo "$(basename $g): backup $(cat $W/t); local $(du -sb $R/local | cut -f1) (index $(du -sb $R/local/index | cut -f1)); data $(du -sb $R/data | cut -f1)"
done
du -ab $R/local | sort -n | tail -8
[[ -n ${KEEP:-} ]] && echo "kept $W" || rm -rf $W
