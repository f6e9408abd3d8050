#!/usr/bin/env python3
"""The recovery drill's site data (benches/drill.sh, benches/recover-ab.sh): GIB GiB under ROOT,
nine tenths in 256 MiB files alternately random (images, archives: incompressible) and text
(dumps, logs: compressible), one tenth in small files (16-64 KiB); every file different, so
nothing deduplicates. Usage: gen-site.py ROOT GIB"""
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
