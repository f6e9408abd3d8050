//! Rebuilding the chunk index from the pack headers, as `recover` and a stale index do.
//!
//! ```text
//! cargo bench --bench index_rebuild                                  # 1 million entries
//! CAIRN_REBUILD_ENTRIES=1000000,4000000 cargo bench --bench index_rebuild
//! ```
//! The packs are headers only (every entry a member of one small group blob), held in memory,
//! so the figure is the index's own work: reading headers, staging, spilling runs, writing the
//! base file. Throughput is in index entries.
#![allow(clippy::unwrap_used)]
// a test or bench: a panic is the failure report

// criterion_group! defines an undocumented public function.
#![allow(missing_docs)]

use cairn::backend::{Backend, MemoryBackend};
use cairn::format::pack::{lead, BlobKind, PackEntry, PackHeader};
use cairn::id::{ChunkId, KeyId, PackId};
use cairn::index::Index;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::time::Duration;

/// Entries per pack (a 16 MiB pack of 2 KiB chunks).
const PER_PACK: u32 = 8192;

/// A store of packs holding `entries` chunks in all.
fn store_of(entries: u32) -> MemoryBackend {
    let store = MemoryBackend::new();
    let mut n = 0u32;
    while n < entries {
        let mut pack = lead();
        let at = pack.len() as u32;
        pack.resize(pack.len() + 64, 0);
        let members = PER_PACK.min(entries - n);
        let header = PackHeader {
            session: KeyId([0; 32]),
            entries: (0..members)
                .map(|i| PackEntry {
                    id: ChunkId(*blake3::hash(&(n + i).to_le_bytes()).as_bytes()),
                    kind: BlobKind::Data,
                    offset: at,
                    length: 64,
                    raw_len: 1,
                    inner: Some(i),
                })
                .collect(),
        };
        pack.extend_from_slice(&header.encode_tail());
        let id = PackId(*blake3::hash(&pack).as_bytes());
        store.write(&id.object_name(), &pack).unwrap();
        n += members;
    }
    store
}

fn rebuild(c: &mut Criterion) {
    let sizes = std::env::var("CAIRN_REBUILD_ENTRIES").unwrap_or_else(|_| "1000000".into());
    let mut g = c.benchmark_group("index_rebuild");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(20));
    for entries in sizes.split(',').map(|s| s.trim().parse::<u32>().unwrap()) {
        let store = store_of(entries);
        g.throughput(Throughput::Elements(u64::from(entries)));
        g.bench_function(format!("{entries}"), |b| {
            b.iter_batched(
                || tempfile::tempdir().unwrap(),
                |dir| {
                    let idx = Index::open(&dir.path().join("index")).unwrap();
                    let packs = idx.sync(&store).unwrap();
                    assert_eq!(packs, entries.div_ceil(PER_PACK) as usize);
                    drop(idx);
                    dir
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, rebuild);
criterion_main!(benches);
