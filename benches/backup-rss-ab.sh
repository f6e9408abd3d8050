#!/usr/bin/env bash
# Peak RSS and CPU of a backup with its export to the loopback Samba share, builds or settings
# alternated (A/B), each into a new repository and a new folder of the share:
#
#   GIB=3 ROUNDS=2 benches/backup-rss-ab.sh "base:/tmp/cairn-before:" "new:target/release/cairn:" \
#     "env1m:/tmp/cairn-before:MALLOC_MMAP_THRESHOLD_=1048576"
#
# Each argument is NAME:BINARY:ENV (ENV: space-separated VAR=VALUE set for that run, may be
# empty). The drill's generator (benches/gen-site.py) writes GIB GiB once; the page cache is
# dropped before each backup (needs root). One line per backup: wall, user + sys (cairn and its
# SMB workers), peak RSS (of cairn or of its largest worker, as wait4 reports it). A bench, not a
# test.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
LIB=${ACCEPT_LIB:-$HERE/../../shared/accept/lib.sh}
[[ -f $LIB ]] || { echo "no $LIB: put ../shared beside the project" >&2; exit 2; }
CAIRN=$(realpath "${CAIRN:-$HERE/../target/release/cairn}")
# shellcheck source=/dev/null
source "$LIB"
GIB=${GIB:-3}
# shellcheck source=/dev/null
source "$HERE/drill-site.sh"
"$CAIRN" key generate --output "$WORK/id.txt" >"$WORK/recipient" 2>/dev/null || fail "key generate failed"
auth=(--username cairn --password-file "$WORK/smb-password")
echo "| round | run | wall | user + sys | peak RSS |"
echo "| --- | --- | ---: | ---: | ---: |"
n=0
for round in $(seq 1 "${ROUNDS:-2}"); do
  for v in "$@"; do
    name=${v%%:*} rest=${v#*:}
    bin=$(realpath "${rest%%:*}") envs=${rest#*:}
    n=$((n + 1))
    export CAIRN_REPO=$WORK/repo$n
    ok init --recipient "$(tr -d '[:space:]' <"$WORK/recipient")"
    ok service add data --path "$site/data"
    ok target set "$SMB_URL/r$n" "${auth[@]}"
    sync
    echo 3 >/proc/sys/vm/drop_caches
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086
    env $envs /usr/bin/time -f '%M %U %S' -o "$WORK/time" "$bin" backup --quiet >"$OUT" 2>"$ERR" \
      || fail "$name: backup failed: $(head -c 600 "$ERR")"
    t1=$(date +%s.%N)
    read -r rss user sys <"$WORK/time"
    echo "| $round | $name | $(python3 -c "print(f'{$t1 - $t0:.1f}')") s | $user + $sys s | $((rss / 1024)) MB |"
    rm -rf "$WORK/repo$n" "$SMB_SHARE_DIR/r$n"
  done
done
