#!/usr/bin/env bash
# Hand measurement of `cairn mount` (needs root, /dev/fuse, ~3 GB in /tmp): sequential read of a
# 1 GiB file through the mount vs `cairn restore` of it, `ls -R` of 50,000 small files, peak RSS.
# Usage: CAIRN=target/release/cairn benches/mount-by-hand.sh
set -eu
B=${CAIRN:-target/release/cairn}
W=${BENCH_DIR:-/tmp/mbench}
if [[ ! -e $W/repo/config ]]; then
  rm -rf $W; mkdir -p $W/src/big $W/src/small $W/mnt
  head -c $((1024*1024*1024)) /dev/urandom > $W/src/big/large.bin
  python3 - $W/src/small <<'PY'
import os, sys
root = sys.argv[1]
for d in range(500):
    p = os.path.join(root, f"d{d:03}")
    os.makedirs(p)
    for i in range(100):
        with open(os.path.join(p, f"f{i:03}.txt"), "w") as f:
            f.write(f"file {d}/{i}\n" * (1 + i % 7))
PY
  export CAIRN_REPO=$W/repo
  $B key generate --output $W/id.txt > $W/recip
  $B init --recipient $(cat $W/recip) >/dev/null
  $B service add big --path $W/src/big >/dev/null
  $B service add small --path $W/src/small >/dev/null
  /usr/bin/time -f "backup %e s" $B -q backup | tail -1
fi
export CAIRN_REPO=$W/repo
umount -l $W/mnt 2>/dev/null || true
$B mount $W/mnt --identity $W/id.txt
PID=$(ls -t $W/repo/local/mount-*.log | head -1 | sed "s/.*mount-\([0-9]*\).log/\1/")
echo "mount pid $PID"
t0=$(date +%s.%N); ls -R $W/mnt/latest/small | wc -l; t1=$(date +%s.%N)
echo "ls -R 50k files: $(python3 -c "print(round($t1-$t0,2))") s"
t0=$(date +%s.%N); ls -lR $W/mnt/latest/small >/dev/null; t1=$(date +%s.%N)
echo "ls -lR again (cached): $(python3 -c "print(round($t1-$t0,2))") s"
t0=$(date +%s.%N); cat $W/mnt/latest/big/large.bin >/dev/null; t1=$(date +%s.%N)
echo "mount sequential read: $(python3 -c "print(round(1024/($t1-$t0)))") MB/s"
grep VmHWM /proc/$PID/status
rm -rf $W/restore
t0=$(date +%s.%N); $B -q restore latest --target $W/restore --identity $W/id.txt --service big; t1=$(date +%s.%N)
echo "restore of the same file: $(python3 -c "print(round(1024/($t1-$t0)))") MB/s"
rm -rf $W/restore
umount $W/mnt
