//! Throughput of each stage of the backup pipeline, and of a whole backup.
//!
//! ```text
//! cargo bench --bench pipeline              # everything, a few minutes
//! cargo bench --bench pipeline -- chunker   # one group
//! cargo bench --bench pipeline -- --quick   # fewer samples
//! ```
//! Every group reports bytes per second (`Throughput::Bytes`). Sample sizes are kept at
//! criterion's minimum so a default run stays within a few minutes on a 2-core machine.
#![allow(clippy::unwrap_used)]
// a test or bench: a panic is the failure report

// criterion_group! defines an undocumented public function.
#![allow(missing_docs)]

mod common;

use cairn::chunker::{chunk_reader, ChunkerParams};
use cairn::controller::Controller;
use cairn::crypto::{self, IdKey, SessionKey};
use cairn::progress::Progress;
use cairn::service::ServiceDef;
use common::{random_bytes, text_bytes, Rng};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

const MIB: usize = 1 << 20;
const CHUNK: usize = 256 * 1024;

fn chunker(c: &mut Criterion) {
    let mut g = c.benchmark_group("chunker");
    g.sample_size(10).warm_up_time(Duration::from_secs(1));
    let p = ChunkerParams::default();
    for (name, data) in [
        ("random_64MiB", random_bytes(64 * MIB, 1)),
        ("text_64MiB", text_bytes(64 * MIB, 2)),
    ] {
        g.throughput(Throughput::Bytes(data.len() as u64));
        let mut buf = Vec::new();
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut n = 0usize;
                chunk_reader::<_, ()>(&mut &data[..], p, &mut buf, |c| {
                    n += c.len();
                    Ok(())
                })
                .map_err(|_| ())
                .expect("chunking");
                assert_eq!(n, data.len());
            })
        });
    }
    g.finish();
}

fn hash_compress_seal(c: &mut Criterion) {
    let text = text_bytes(CHUNK, 3);
    let random = random_bytes(CHUNK, 4);
    let key = IdKey::from_bytes([7; 32]);
    let id = key.chunk_id(&text);

    let mut g = c.benchmark_group("id_hash");
    g.throughput(Throughput::Bytes(CHUNK as u64));
    g.bench_function("chunk_id_256KiB", |b| {
        b.iter(|| key.chunk_id(black_box(&text)))
    });
    g.finish();

    let mut g = c.benchmark_group("compress");
    g.throughput(Throughput::Bytes(CHUNK as u64));
    g.sample_size(20);
    for (name, data) in [
        ("zstd3_text_256KiB", &text),
        ("zstd3_random_256KiB", &random),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| cairn::compress::compress(black_box(data), 3))
        });
    }
    // what cairn::compress saves by keeping one context per thread
    g.bench_function("zstd3_text_256KiB_fresh_context", |b| {
        b.iter(|| zstd::bulk::compress(black_box(&text), 3).expect("zstd"))
    });
    let z = cairn::compress::compress(&text, 3);
    g.bench_function("decompress_text_256KiB", |b| {
        b.iter(|| cairn::compress::decompress(black_box(&z), CHUNK, &"bench").expect("decompress"))
    });
    g.finish();

    let mut g = c.benchmark_group("seal");
    g.throughput(Throughput::Bytes(CHUNK as u64));
    let sk = SessionKey::from_bytes([9; 32]);
    g.bench_function("xchacha20poly1305_256KiB", |b| {
        b.iter(|| sk.seal(&id, black_box(&random)))
    });
    let sealed = sk.seal(&id, &random);
    g.bench_function("open_256KiB", |b| {
        b.iter(|| sk.open(&id, black_box(&sealed)).expect("open"))
    });
    g.finish();
}

/// Finding a chunk's place among those of a 10 GB repository (600,000 ids, as a restore's
/// locator holds them): the prefix index against a bisection of the whole list.
fn locate(c: &mut Criterion) {
    use cairn::id::ChunkId;
    use cairn::prefix_index::PrefixIndex;
    let mut ids: Vec<ChunkId> = (0..600_000u64)
        .map(|i| ChunkId(*blake3::hash(&i.to_le_bytes()).as_bytes()))
        .collect();
    ids.sort_unstable();
    // 60-byte entries, as the locator's (id, place) pairs
    let places: Vec<(ChunkId, [u8; 28])> = ids.iter().map(|id| (*id, [0; 28])).collect();
    let table = PrefixIndex::new(&places, |(id, _)| id);
    let mut r = Rng::new(5);
    let probes: Vec<ChunkId> = (0..4096)
        .map(|_| ids[r.below(ids.len() as u64) as usize])
        .collect();
    let mut g = c.benchmark_group("locate");
    g.throughput(Throughput::Elements(probes.len() as u64));
    g.bench_function("bisection_600k", |b| {
        b.iter(|| {
            probes
                .iter()
                .filter(|id| places.binary_search_by(|(k, _)| k.cmp(id)).is_ok())
                .count()
        })
    });
    g.bench_function("prefix_index_600k", |b| {
        b.iter(|| {
            probes
                .iter()
                .filter(|id| table.find(&places, id, |(k, _)| k).is_some())
                .count()
        })
    });
    g.finish();
}

/// 2,000 text files of 4–64 KiB in 40 directories, plus 4 random files of 16 MiB; total bytes.
fn make_tree(root: &Path) -> u64 {
    let mut r = Rng::new(11);
    let mut total = 0u64;
    for i in 0..2000u64 {
        let dir = root.join(format!("d{:02}", i % 40));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let len = 4096 + r.below(60 * 1024) as usize;
        std::fs::write(dir.join(format!("f{i:04}.conf")), text_bytes(len, 100 + i)).expect("write");
        total += len as u64;
    }
    let big = root.join("blobs");
    std::fs::create_dir_all(&big).expect("mkdir");
    for i in 0..4u64 {
        std::fs::write(
            big.join(format!("image{i}.bin")),
            random_bytes(16 * MIB, 900 + i),
        )
        .expect("write");
        total += 16 * MIB as u64;
    }
    total
}

fn new_controller(repo: &Path, data: &Path) -> Controller {
    let (_, public) = crypto::generate_identity();
    let r = crypto::parse_recipient(&public).expect("recipient");
    let ctl = Controller::init(repo, &[r]).expect("init");
    let mut s = ctl.services().expect("services");
    s.add(ServiceDef {
        name: "data".into(),
        path: Some(data.display().to_string()),
        command: None,
        restore_command: None,
        ..Default::default()
    })
    .expect("add service");
    ctl.save_services(&s).expect("save services");
    ctl
}

fn end_to_end(c: &mut Criterion) {
    let data = tempfile::tempdir().expect("tempdir");
    let bytes = make_tree(data.path());
    let mut g = c.benchmark_group("backup");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(15));
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("first_2000_files_plus_64MiB", |b| {
        b.iter_batched(
            || {
                let repo = tempfile::tempdir().expect("tempdir");
                let ctl = new_controller(repo.path(), data.path());
                (repo, ctl)
            },
            |(repo, ctl)| {
                let m = cairn::backup::run(&ctl, &Progress::default()).expect("backup");
                assert_eq!(m.bytes(), bytes);
                (repo, ctl) // dropped (and deleted) outside the timing
            },
            BatchSize::PerIteration,
        )
    });
    let repo = tempfile::tempdir().expect("tempdir");
    let ctl = new_controller(repo.path(), data.path());
    cairn::backup::run(&ctl, &Progress::default()).expect("first backup");
    g.bench_function("unchanged_2000_files_plus_64MiB", |b| {
        b.iter(|| {
            let m = cairn::backup::run(&ctl, &Progress::default()).expect("backup");
            assert!(m.bytes_new() < 1 << 20, "an unchanged tree stores ~nothing");
        })
    });
    g.finish();
}

criterion_group!(benches, chunker, hash_compress_seal, locate, end_to_end);
criterion_main!(benches);
