//! Chunk size choice: dedup against speed and metadata, on a database dump with scattered edits.
//!
//! ```text
//! cargo bench --bench chunk_sizes             # 256 MiB dump (CHUNK_BENCH_MIB to change)
//! CHUNK_BENCH_A=gen1/dump.sql CHUNK_BENCH_B=gen2/dump.sql cargo bench --bench chunk_sizes
//! ```
//! The second form compares two real files instead (the shared bench's `db` generations).
//! Builds version A of a synthetic `pg_dump` and version B with the peer baseline's edits
//! (one row every ~260 KB rewritten and moved to the end of its table, 1000 scattered one-value
//! updates), chunks both with each parameter set, and prints what fraction of B's bytes (and of
//! its zstd-3 compressed bytes) are in chunks A does not have, the chunk count, and chunking
//! speed. docs/FORMAT.md records the figures.
//!
//! A second table gives, per parameter set and segment size, what one generation (B after A)
//! adds in metadata: without segments, the file's whole chunk list in its tree entry; with
//! them (docs/FORMAT.md §8a), the segment refs in the entry plus the segments that are new;
//! and the per-blob cost of every new chunk and segment (nonce, tag, pack header entry).
//! `CHUNK_BENCH_AVGS=4,8,16` (KiB) limits the parameter sets.
#![allow(clippy::unwrap_used)] // a test or bench: a panic is the failure report

mod common;

use cairn::chunker::{chunk_reader, ChunkerParams};
use cairn::format::segment;
use cairn::format::tree::ChunkRef;
use cairn::id::ChunkId;
use std::collections::HashSet;
use std::time::Instant;

const KIB: u32 = 1024;

fn chunks(data: &[u8], p: ChunkerParams) -> (Vec<(blake3::Hash, usize, usize)>, f64) {
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut off = 0;
    let t = Instant::now();
    chunk_reader::<_, ()>(&mut &data[..], p, &mut buf, |c| {
        out.push((blake3::hash(c), off, c.len()));
        off += c.len();
        Ok(())
    })
    .map_err(|_| ())
    .expect("chunking");
    // chunking plus the id hash, as the pipeline does per chunk
    let mbs = data.len() as f64 / 1e6 / t.elapsed().as_secs_f64();
    (out, mbs)
}

fn chunk_only_mbs(data: &[u8], p: ChunkerParams) -> f64 {
    let mut buf = Vec::new();
    let t = Instant::now();
    chunk_reader::<_, ()>(&mut &data[..], p, &mut buf, |c| {
        std::hint::black_box(c);
        Ok(())
    })
    .map_err(|_| ())
    .expect("chunking");
    data.len() as f64 / 1e6 / t.elapsed().as_secs_f64()
}

fn label(p: ChunkerParams) -> String {
    let f = |v: u32| {
        if v >= 1 << 20 {
            format!("{}M", v >> 20)
        } else {
            format!("{}K", v / KIB)
        }
    };
    format!("{}/{}/{}", f(p.min), f(p.avg), f(p.max))
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument is ignored too.
    let mib: usize = std::env::var("CHUNK_BENCH_MIB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256);
    let t = Instant::now();
    let (a, b) = match (
        std::env::var_os("CHUNK_BENCH_A"),
        std::env::var_os("CHUNK_BENCH_B"),
    ) {
        (Some(a), Some(b)) => (std::fs::read(a).unwrap(), std::fs::read(b).unwrap()),
        _ => common::dump_pair(mib << 20),
    };
    eprintln!(
        "dump A {:.1} MB, B {:.1} MB, built in {:.1}s",
        a.len() as f64 / 1e6,
        b.len() as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let sets = [
        (KIB, 4 * KIB, 16 * KIB),
        (2 * KIB, 8 * KIB, 32 * KIB),
        (4 * KIB, 16 * KIB, 64 * KIB),
        (8 * KIB, 32 * KIB, 128 * KIB),
        (16 * KIB, 64 * KIB, 256 * KIB),
        (32 * KIB, 128 * KIB, 512 * KIB),
        (64 * KIB, 256 * KIB, 1024 * KIB),
        (128 * KIB, 512 * KIB, 2048 * KIB),
        (512 * KIB, 1024 * KIB, 8192 * KIB),
    ];
    let only: Option<Vec<u32>> = std::env::var("CHUNK_BENCH_AVGS")
        .ok()
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect());
    let sets: Vec<_> = sets
        .into_iter()
        .filter(|s| only.as_ref().is_none_or(|o| o.contains(&(s.1 / KIB))))
        .collect();
    let mut meta = Vec::new();
    println!("| min/avg/max | chunks in A | mean chunk | B bytes new | B new after zstd-3 | new MB (zstd-3) | chunk MB/s | chunk+hash MB/s |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (min, avg, max) in sets {
        let p = ChunkerParams { min, avg, max };
        assert!(p.valid());
        let speed = chunk_only_mbs(&a, p).max(chunk_only_mbs(&a, p));
        let (ca, hash_speed) = chunks(&a, p);
        let (cb, _) = chunks(&b, p);
        let known: HashSet<_> = ca.iter().map(|c| c.0).collect();
        for bits in [4, 6, 8] {
            meta.push(metadata(p, bits, &ca, &cb, new_z_of(&b, &cb, &known)));
        }
        let (mut new_raw, mut new_z, mut all_z) = (0usize, 0usize, 0usize);
        let mut seen = HashSet::new();
        for (h, off, len) in &cb {
            if !seen.insert(*h) {
                continue; // stored once
            }
            let z = cairn::compress::compress(&b[*off..off + len], 3).len();
            all_z += z;
            if !known.contains(h) {
                new_raw += len;
                new_z += z;
            }
        }
        println!(
            "| {} | {} | {:.0} KiB | {:.1} % | {:.1} % | {:.1} | {:.0} | {:.0} |",
            label(p),
            ca.len(),
            a.len() as f64 / ca.len() as f64 / 1024.0,
            100.0 * new_raw as f64 / b.len() as f64,
            100.0 * new_z as f64 / all_z as f64,
            new_z as f64 / 1e6,
            speed,
            hash_speed,
        );
    }
    println!();
    println!("| min/avg/max | ids per segment (mean) | new data MB (zstd-3) | new chunks | list in tree, unsegmented MB | segment refs in tree MB | new segments | new segment MB | blob overhead MB | total added MB, unsegmented | total added MB, segmented |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for m in meta {
        println!("{m}");
    }
}

/// Compressed bytes and count of B's distinct chunks that A does not have.
fn new_z_of(
    b: &[u8],
    cb: &[(blake3::Hash, usize, usize)],
    known: &HashSet<blake3::Hash>,
) -> (usize, usize) {
    let mut seen = HashSet::new();
    let (mut z, mut n) = (0, 0);
    for (h, off, len) in cb {
        if seen.insert(*h) && !known.contains(h) {
            z += cairn::compress::compress(&b[*off..off + len], 3).len();
            n += 1;
        }
    }
    (z, n)
}

/// Bytes a sealed blob costs beyond its payload: nonce 24, tag 16, payload kind 1, and its
/// pack header entry (32-byte id, kind, three varints: ~42).
const BLOB_OVERHEAD: usize = 24 + 16 + 1 + 42;

/// One row of the metadata table: what generation B adds after A, with and without segments
/// of mean 2^`bits` ids.
fn metadata(
    p: ChunkerParams,
    bits: u32,
    ca: &[(blake3::Hash, usize, usize)],
    cb: &[(blake3::Hash, usize, usize)],
    (new_z, new_n): (usize, usize),
) -> String {
    let refs = |c: &[(blake3::Hash, usize, usize)]| -> Vec<ChunkRef> {
        c.iter()
            .map(|(h, _, len)| ChunkRef {
                id: ChunkId(*h.as_bytes()),
                len: *len as u32,
            })
            .collect()
    };
    let (ra, rb) = (refs(ca), refs(cb));
    let seg_ids = |r: &[ChunkRef]| -> Vec<(blake3::Hash, usize)> {
        segment::split_bits(r, bits)
            .into_iter()
            .map(|s| {
                let e = segment::encode(s);
                (blake3::hash(&e), e.len())
            })
            .collect()
    };
    let (sa, sb) = (seg_ids(&ra), seg_ids(&rb));
    let known: HashSet<_> = sa.iter().map(|s| s.0).collect();
    let new_segs: Vec<_> = sb.iter().filter(|s| !known.contains(&s.0)).collect();
    let new_seg_bytes: usize = new_segs.iter().map(|s| s.1).sum();
    let list = postcard::to_allocvec(&rb).unwrap().len();
    let seg_refs = sb.len() * 37;
    let overhead_plain = new_n * BLOB_OVERHEAD;
    let overhead_seg = (new_n + new_segs.len()) * BLOB_OVERHEAD;
    let mb = |v: usize| v as f64 / 1e6;
    format!(
        "| {} | {:.0} | {:.1} | {} | {:.2} | {:.2} | {} | {:.2} | {:.2} | {:.1} | {:.1} |",
        label(p),
        rb.len() as f64 / sb.len() as f64,
        mb(new_z),
        new_n,
        mb(list),
        mb(seg_refs),
        new_segs.len(),
        mb(new_seg_bytes),
        mb(overhead_seg),
        mb(new_z + list + overhead_plain),
        mb(new_z + seg_refs + new_seg_bytes + overhead_seg),
    )
}
