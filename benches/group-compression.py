#!/usr/bin/env python3
"""How much smaller the data of a tree of small files gets when small files are compressed together
instead of one by one (issue 11: the repository after gen1, and dumps with small chunks).

Every file is cut in 256 KiB pieces, as cairn's chunks of a large file; files of at most 64 KiB
are one piece. "per-chunk" compresses each piece alone with zstd-3 (what cairn stores today);
"grouped" concatenates the small files, in walk order, into groups of 64 KiB, 256 KiB or 1 MiB and
compresses each group alone (what a pack holding compressed groups of small chunks would store).
Only the compressed payload is counted: no encryption, headers or ids.

    python3 -m venv /tmp/zv && /tmp/zv/bin/pip install zstandard
    /tmp/zv/bin/python benches/group-compression.py /tmp/benchdata/src/gen1
    /tmp/zv/bin/python benches/group-compression.py --dump /tmp/benchdata/db/gen1/bench.sql
"""
import os, sys, zstandard

c = zstandard.ZstdCompressor(level=3)
if sys.argv[1] == "--dump":
    b = open(sys.argv[2], "rb").read()
    for piece in (8192, 262144):
        tot = sum(len(c.compress(b[i:i + piece])) for i in range(0, len(b), piece))
        print(f"{piece >> 10} KiB pieces, each compressed alone: {tot}")
    for frame in (65536, 262144):
        tot = sum(len(c.compress(b[i:i + frame])) for i in range(0, len(b), frame))
        print(f"8 KiB pieces compressed together in {frame >> 10} KiB groups: {tot}")
    sys.exit(0)
root = sys.argv[1]
files = []
for d, ds, fs in os.walk(root):
    ds.sort(); fs.sort()
    for f in fs:
        p = os.path.join(d, f)
        if os.path.isfile(p) and not os.path.islink(p):
            files.append(p)
raw = 0; indiv = 0
datas = []
for p in files:
    b = open(p, 'rb').read()
    raw += len(b)
    datas.append(b)
# individual: files split in 256K-ish pieces roughly like chunks (files <= 64K whole)
for b in datas:
    if len(b) == 0: continue
    for i in range(0, len(b), 262144):
        part = b[i:i+262144]
        z = len(c.compress(part))
        indiv += min(z, len(part)+1)
print("files", len(files), "raw", raw, "per-chunk zstd3", indiv)
for G in (64<<10, 256<<10, 1<<20):
    tot = 0; buf = bytearray(); grouped_small = 0
    for b in datas:
        if len(b) > 65536:
            for i in range(0, len(b), 262144):
                tot += len(c.compress(b[i:i+262144]))
            continue
        buf += b
        if len(buf) >= G:
            tot += len(c.compress(bytes(buf))); buf = bytearray()
    if buf: tot += len(c.compress(bytes(buf)))
    print("small files (<=64K) grouped in", G>>10, "KiB:", tot, "ratio", round(tot/indiv,3))
