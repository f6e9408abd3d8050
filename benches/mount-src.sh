#!/usr/bin/env bash
# Mount figures on a tree of many small files (issue 11): `ls -lR` cold through a backup id and
# through `latest`, `tar cf - .` of the whole backup through the mount (with tar's default 10 KB
# writes into the pipe, and with `-b 256`, 128 KB writes: on a small VM the pipe's ping-pong of
# small writes alone costs seconds), and `cairn restore` of the same backup (into tmpfs). "Cold":
# page cache dropped and the mount made afresh before each step. The mount runs in the
# foreground with its log in $W/mount.log: the requests each step cost are printed from it.
# Needs root and /dev/fuse. Usage:
#   CAIRN=target/release/cairn SRC=/tmp/benchdata/src/gen1 benches/mount-src.sh
set -eu
B=$(realpath "${CAIRN:-target/release/cairn}")
SRC=${SRC:-/tmp/benchdata/src/gen1}
W=${BENCH_DIR:-/tmp/mntbench}
R=${RESTORE_DIR:-/dev/shm/mntbench-restore}
export CAIRN_REPO=$W/repo
now() { date +%s.%N; }
secs() { python3 -c "print(round($2-$1,2))"; }
if [[ ! -e $W/repo/config ]]; then
  rm -rf "$W"; mkdir -p "$W/mnt"
  $B key generate --output "$W/id.txt" > "$W/recip"
  $B init --recipient "$(cat "$W/recip")" >/dev/null
  $B service add src --path "$SRC" >/dev/null
  t0=$(now); $B -q backup >/dev/null; t1=$(now); echo "backup: $(secs "$t0" "$t1") s"
fi
unmount() {
  if mountpoint -q "$W/mnt"; then
    umount "$W/mnt"
    while [[ -n ${MPID:-} ]] && kill -0 "$MPID" 2>/dev/null; do sleep 0.1; done
    grep -o 'requests served: .*' "$W/mount.log" | sed 's/^/  /' || true
  fi
}
cold_mount() {
  unmount
  sync; echo 3 > /proc/sys/vm/drop_caches
  CAIRN_LOG=cairn_fuse=info $B mount "$W/mnt" --identity "$W/id.txt" --foreground \
    2>"$W/mount.log" &
  MPID=$!
  until mountpoint -q "$W/mnt"; do sleep 0.05; done
}
cold_mount
ID=$(ls "$W/mnt" | grep -v '^latest$' | tail -1)
for via in "$ID" latest; do
  cold_mount
  t0=$(now); n=$(ls -lR "$W/mnt/$via/" | wc -l); t1=$(now)
  echo "ls -lR cold via ${via/$ID/id}: $(secs "$t0" "$t1") s ($n lines)"
  t0=$(now); ls -lR "$W/mnt/$via/" >/dev/null; t1=$(now)
  echo "ls -lR warm via ${via/$ID/id}: $(secs "$t0" "$t1") s"
done
cold_mount
t0=$(now); bytes=$(cd "$W/mnt/$ID" && tar cf - . | wc -c); t1=$(now)
tar_s=$(secs "$t0" "$t1"); echo "tar cf - . (cold): $tar_s s ($bytes bytes)"
cold_mount
t0=$(now); bytes=$(cd "$W/mnt/$ID" && tar -b 256 -cf - . | wc -c); t1=$(now)
tarb_s=$(secs "$t0" "$t1"); echo "tar -b 256 -cf - . (cold): $tarb_s s ($bytes bytes)"
unmount
rm -rf "$R"; sync; echo 3 > /proc/sys/vm/drop_caches
t0=$(now); $B -q restore "$ID" --target "$R" --identity "$W/id.txt" >/dev/null; t1=$(now)
res_s=$(secs "$t0" "$t1"); echo "restore (cold, into tmpfs): $res_s s"
rm -rf "$R"
echo "tar / restore: $(python3 -c "print(round($tar_s/$res_s,2))")"
echo "tar -b 256 / restore: $(python3 -c "print(round($tarb_s/$res_s,2))")"
