#!/usr/bin/env bash
# Peak memory and local state of a first and an unchanged backup of a tree of one million small
# files (issue 11: "at most 100 MB on a 1-million-file tree"). The tree is generated, reproducibly,
# into tmpfs: 1,000 directories of 1,000 files of 64..4,159 bytes (text-like, so it compresses),
# about 2.1 GB. Usage:
#   CAIRN=target/release/cairn benches/million-files.sh      (TREE=/dev/shm/million, W=/tmp/million)
set -eu
B=$(realpath "${CAIRN:-target/release/cairn}")
TREE=${TREE:-/dev/shm/million}
W=${W:-/tmp/million}
DIRS=${DIRS:-1000}
FILES=${FILES:-1000}
if [[ ! -e $TREE/.done-$DIRS-$FILES ]]; then
  rm -rf "$TREE"; mkdir -p "$TREE"
  python3 - "$TREE" "$DIRS" "$FILES" <<'PY'
import os, random, sys
root, dirs, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(11)
words = [("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))).encode()
         for _ in range(5000)]
for d in range(dirs):
    p = os.path.join(root, "d%04d" % d)
    os.mkdir(p)
    for f in range(files):
        n = 64 + rng.randrange(4096)
        out = bytearray()
        while len(out) < n:
            out += rng.choice(words) + b" "
        with open(os.path.join(p, "f%04d.txt" % f), "wb") as fh:
            fh.write(out[:n])
PY
  touch "$TREE/.done-$DIRS-$FILES"
fi
echo "tree: $(find "$TREE" -type f | wc -l) files, $(du -sb "$TREE" | cut -f1) bytes"
rm -rf "$W"; mkdir -p "$W"
export CAIRN_REPO=$W/repo
$B key generate --output "$W/id.txt" > "$W/recip"
$B init --recipient "$(tr -d '[:space:]' < "$W/recip")" >/dev/null
$B service add million --path "$TREE" >/dev/null
for step in first unchanged; do
  /usr/bin/time -f "%e s, peak RSS %M KB" -o "$W/t" "$B" -q backup >/dev/null
  echo "$step backup: $(cat "$W/t"); local $(du -sb "$W/repo/local" | cut -f1) bytes; data $(du -sb "$W/repo/data" | cut -f1) bytes"
done
[[ -n ${KEEP:-} ]] && echo "kept $W" || rm -rf "$W"
