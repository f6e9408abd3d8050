#!/usr/bin/env bash
# Recoveries of one share by two builds, alternated (A/B), each onto a newly made file system:
#
#   OLD=/path/to/cairn-before NEW=target/release/cairn GIB=3 ROUNDS=3 [TMPFS=1] benches/recover-ab.sh
#
# The drill's generator (benches/drill.sh) writes GIB GiB of service data; NEW backs it up once and
# exports it to the loopback Samba share. Then, ROUNDS times, OLD and NEW each run
# `recover --from` the share onto a new ext4 on a loop device (TMPFS=1: a tmpfs), with the page
# cache dropped before each (needs root). One line per recovery: wall, CPU, peak RSS and the
# phases (`CAIRN_LOG=cairn=info`: copy, restore, verify). A bench, not a test.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
LIB=${ACCEPT_LIB:-$HERE/../../shared/accept/lib.sh}
[[ -f $LIB ]] || { echo "no $LIB: put ../shared beside the project" >&2; exit 2; }
CAIRN=$NEW
# shellcheck source=/dev/null
source "$LIB"
GIB=${GIB:-3}
# shellcheck source=/dev/null
source "$HERE/drill-site.sh"
(cd "$site" && find data -type f -print0 | sort -z | xargs -0 sha256sum) >"$WORK/sums"
# shellcheck source=/dev/null
source "$HERE/share-repo.sh"
ok backup --quiet
rm -rf "$WORK/repo" "$site"
fs=$WORK/fs
mkdir "$fs"
echo "| round | build | wall | user + sys | peak RSS | copy, restore, verify |"
echo "| --- | --- | ---: | ---: | ---: | --- |"
for round in $(seq 1 "${ROUNDS:-3}"); do
  for which in OLD NEW; do
    bin=${!which}
    if [[ ${TMPFS:-0} == 1 ]]; then
      mount -t tmpfs -o size=$((GIB * 3 + 4))G tmpfs "$fs" || fail "cannot mount a tmpfs"
    else
      truncate -s "$((GIB * 3 + 4))G" "$WORK/site.img"
      mkfs.ext4 -q -F "$WORK/site.img" || fail "mkfs.ext4 failed"
      mount -o loop "$WORK/site.img" "$fs" || fail "cannot mount a loop device (needs root)"
    fi
    sync
    echo 3 >/proc/sys/vm/drop_caches
    export CAIRN_REPO=$fs/repo
    t0=$(date +%s.%N)
    CAIRN_LOG=cairn=info /usr/bin/time -f '%M %U %S' -o "$WORK/time" "$bin" recover --from "$url" "${auth[@]}" \
      --identity "$WORK/id.txt" --fingerprint "$fp" --target "$fs/site" >"$OUT" 2>"$ERR" \
      || { umount "$fs"; fail "$which: $(tail -c 600 "$ERR")"; }
    t1=$(date +%s.%N)
    (cd "$fs/site" && sha256sum --quiet -c "$WORK/sums") >/dev/null 2>&1 || { umount "$fs"; fail "$which: recovered bytes differ"; }
    read -r rss user sys <"$WORK/time"
    phases=$(grep -oE '(copied from the share|restored|verified) in [0-9.]+ s' "$ERR" | sed -E 's/.* in //' | paste -sd, -)
    echo "| $round | $which | $(python3 -c "print(f'{$t1 - $t0:.1f}')") s | $user + $sys s | $((rss / 1024)) MB | $phases |"
    umount "$fs"
    rm -f "$WORK/site.img"
  done
done
