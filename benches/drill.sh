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
export C_TIMEOUT=3600

start_samba
site=$WORK/site
mkdir -p "$site/data"
note "writing $GIB GiB of data"
python3 - "$site/data" "$GIB" <<'PY'
import os, random, sys
root, gib = sys.argv[1], float(sys.argv[2])
total = int(gib * (1 << 30))
r = random.Random(11)
words = [b"cert", b"tenant", b"volume", b"subnet", b"identity", b"token", b"region",
         b"zone", b"image", b"flavor", b"quota", b"router", b"INSERT INTO", b"VALUES"]
def text(n):
    out, size = [], 0
    while size < n:
        line = b" ".join(r.choice(words) for _ in range(6)) + b" %d %x\n" % (
            r.getrandbits(40), r.getrandbits(64))
        out.append(line)
        size += len(line)
    return b"".join(out)[:n]
written, i = 0, 0
big, small = total * 9 // 10, total // 10
while written < big:
    n = min(256 << 20, big - written)
    d = os.path.join(root, "big")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:04}.{'bin' if i % 2 == 0 else 'sql'}"), "wb") as f:
        left = n
        while left:
            k = min(16 << 20, left)
            f.write(r.randbytes(k) if i % 2 == 0 else text(k))
            left -= k
    written += n
    i += 1
done = 0
while done < small:
    d = os.path.join(root, "small", f"d{i // 500:04}")
    os.makedirs(d, exist_ok=True)
    n = r.randint(16 << 10, 64 << 10)
    with open(os.path.join(d, f"s{i:06}.txt"), "wb") as f:
        f.write(text(n) if i % 2 else r.randbytes(n))
    done += n
    i += 1
PY
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

url=$SMB_URL/drill
auth=(--username cairn --password-file "$WORK/smb-password")
export CAIRN_REPO=$WORK/repo
"$CAIRN" key generate --output "$WORK/id.txt" >"$WORK/recipient" 2>/dev/null || fail "key generate failed"
ok init --recipient "$(tr -d '[:space:]' <"$WORK/recipient")"
ok service add data --path "$site/data"
ok target set "$url" "${auth[@]}"
ok key list --json
fp=$(json "d['fingerprint']")
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
