#!/usr/bin/env bash
# The recovery drill of issue 11, end to end on this machine's loopback Samba share:
#
#   CAIRN=target/release/cairn GIB=10 benches/drill.sh
#
# 1. GIB GiB of service data under $WORK/site/data: half in large files that do not compress
#    (images, archives), half in text files that do (dumps, logs, configs), a tenth of it in
#    small files (16–64 KiB); every file different, so nothing deduplicates.
# 2. `backup` with the share set as target (the backup and its export, timed together, and
#    the export alone as reported by the job).
# 3. Total loss: the internal repository and the site data are deleted (a sha256 list of the
#    data is kept to compare with).
# 4. `recover --from` the share alone, onto the original location (timed).
# 5. The first `backup` on the recovered controller, which has no files cache and so reads
#    every byte again (timed), and its export.
#
# FRESH=1 recovers onto a newly made file system mounted at the site, as onto a freshly deployed
# machine, instead of into the directory whose files were just deleted (needs root).
#
# Disk: about GIB × 2.4 at the peak (the share's copy, the recovered repository and the data).
# A bench, not a test: it prints figures and fails only when a step fails or a byte differs.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PROJECT=$(cd "$HERE/.." && pwd)
LIB=${ACCEPT_LIB:-$PROJECT/../shared/accept/lib.sh}
[[ -f $LIB ]] || { echo "no $LIB: put ../shared beside the project" >&2; exit 2; }
# shellcheck source=/dev/null
source "$LIB"
GIB=${GIB:-10}
# shellcheck source=/dev/null
source "$HERE/drill-site.sh"
bytes=$(du -sb "$site/data" | cut -f1)
(cd "$site" && find data -type f -print0 | sort -z | xargs -0 sha256sum) >"$WORK/sums"

secs() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$2"; }
rate() { python3 -c "import sys; print(f'{$bytes / 1e6 / float(sys.argv[1]):.0f}')" "$1"; }
timed() { # label command…: run, print the row
  local label=$1 t0 t1 s; shift
  t0=$(date +%s.%N)
  /usr/bin/time -f '%M %U %S' -o "$WORK/time" "$@" >"$OUT" 2>"$ERR" || fail "$label: $(head -c 600 "$ERR")"
  t1=$(date +%s.%N)
  s=$(secs "$t0" "$t1")
  read -r rss user sys <"$WORK/time"
  echo "| $label | $s s | $(rate "$s") MB/s | $user + $sys s | $((rss / 1024)) MB |"
}

# shellcheck source=/dev/null
source "$HERE/share-repo.sh"
echo "| step ($((bytes / 1000000)) MB) | wall | rate | CPU (user + sys) | peak RSS |"
echo "| --- | ---: | ---: | ---: | ---: |"
timed "backup + export" "$CAIRN" backup --quiet
note "total loss: the repository and the data are deleted"
rm -rf "$WORK/repo" "$site/data"
if [[ ${FRESH:-0} == 1 ]]; then
  # A freshly deployed machine: the site on a new (journalled) ext4, not on the file system the
  # data was just deleted from. This machine's root is ext4 without a journal, whose inode
  # allocator skips every inode freed in the last minutes (`recently_deleted`) while holding
  # the directory's lock: recovering in place right after the deletion measures that too.
  rm -rf "$site"
  mkdir "$site"
  truncate -s "$((${GIB%.*} * 2 + 4))G" "$WORK/site.img"
  mkfs.ext4 -q -F "$WORK/site.img" || fail "mkfs.ext4 failed"
  mount -o loop "$WORK/site.img" "$site" || fail "cannot mount a loop device (FRESH=1 needs root)"
  on_exit "umount '$site'"
  rmdir "$site/lost+found"
fi
export CAIRN_REPO=$WORK/recovered
timed "recover --from the share" "$CAIRN" recover --from "$url" "${auth[@]}" \
  --identity "$WORK/id.txt" --fingerprint "$fp" --target "$site"
(cd "$site" && sha256sum --quiet -c "$WORK/sums") >"$WORK/cmp" 2>&1 \
  || fail "recovered bytes differ: $(head -c 600 "$WORK/cmp")"
timed "first backup after recovery (+ export)" "$CAIRN" backup --quiet
timed "next backup, unchanged (+ export)" "$CAIRN" backup --quiet
