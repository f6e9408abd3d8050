//! Write valid encodings of every on-disk structure as seed corpora:
//! `gen_seeds DIR` fills `DIR/<target>/seed-*` for each fuzz target. Built with the targets by
//! `cargo fuzz build`, so the seeds always follow the current format.

use cairn::backend::smb_negotiate::response as negotiate;
use cairn::chunker::ChunkerParams;
use cairn::compress;
use cairn::format::config::RepoConfig;
use cairn::format::envelope::{Envelope, EnvelopeKind};
use cairn::format::manifest::{Definitions, Manifest, Prev, ServiceRecord};
use cairn::format::pack::{self, BlobKind, PackEntry, PackHeader};
use cairn::format::sealed_key::SealedKey;
use cairn::format::tree::{ChunkRef, Node, NodeKind, Tree};
use cairn::id::{ChunkId, KeyId, PackId};
use cairn::index::{CachedDir, CachedFile};
use cairn::service::ServiceDef;
use cairn::signing::SigningKey;
use std::path::Path;

fn put(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let d = dir.join(target);
    std::fs::create_dir_all(&d).expect("create seed dir");
    std::fs::write(d.join(format!("seed-{name}")), bytes).expect("write seed");
}

fn sample_pack(blobs: &[(u8, usize, BlobKind)]) -> Vec<u8> {
    let mut p = pack::lead();
    let mut entries = Vec::new();
    for (i, (fill, len, kind)) in blobs.iter().enumerate() {
        entries.push(PackEntry {
            id: ChunkId([i as u8; 32]),
            kind: *kind,
            offset: p.len() as u32,
            length: *len as u32,
            raw_len: (*len - 41) as u32,
            inner: None,
        });
        p.extend(std::iter::repeat_n(*fill, *len));
    }
    p.extend_from_slice(
        &PackHeader {
            session: KeyId([7; 32]),
            entries,
        }
        .encode_tail(),
    );
    p
}

fn main() {
    let out = std::env::args().nth(1).unwrap_or_else(|| "corpus".into());
    let dir = Path::new(&out);

    // pack_header: whole packs; and `len ‖ header` for the decode half
    let packs = [
        sample_pack(&[]),
        sample_pack(&[(1, 41, BlobKind::Data)]),
        sample_pack(&[
            (1, 50, BlobKind::Data),
            (2, 60, BlobKind::Tree),
            (3, 45, BlobKind::Meta),
        ]),
    ];
    // a pack whose first blob is a group of two chunks
    let mut grouped = packs[2].clone();
    let mut h = PackHeader::from_pack(&grouped, "seed").expect("seed pack");
    let tail = h.encode_tail().len();
    grouped.truncate(grouped.len() - tail);
    h.entries[0].inner = Some(0);
    h.entries[0].raw_len = 4;
    let second = PackEntry {
        id: ChunkId([9; 32]),
        inner: Some(4),
        ..h.entries[0]
    };
    h.entries.insert(1, second);
    grouped.extend_from_slice(&h.encode_tail());
    let packs = [packs[0].clone(), packs[1].clone(), packs[2].clone(), grouped];
    for (i, p) in packs.iter().enumerate() {
        put(dir, "pack_header", &format!("pack{i}"), p);
        let (hl, _) =
            PackHeader::header_len(&p[p.len() - pack::TRAILER_LEN..], "seed").unwrap_or((0, 0));
        let end = p.len() - pack::TRAILER_LEN;
        let mut v = (p.len() as u64).to_le_bytes().to_vec();
        v.extend_from_slice(&p[end - hl as usize..end]);
        put(dir, "pack_header", &format!("header{i}"), &v);
    }

    // tree
    let file = |name: &[u8], n: usize| Node {
        name: name.to_vec(),
        kind: NodeKind::File {
            chunks: (0..n)
                .map(|i| ChunkRef {
                    id: ChunkId([i as u8; 32]),
                    len: 65536,
                })
                .collect(),
        },
        mode: 0o644,
        uid: 1000,
        gid: 1000,
        mtime_s: 1_763_790_000,
        mtime_ns: 123_456_789,
        size: 65536 * n as u64,
    };
    let tree = Tree {
        nodes: vec![
            file(b"a.conf", 1),
            file(b"big.db", 3),
            Node {
                name: b"etc".to_vec(),
                kind: NodeKind::Dir {
                    tree: ChunkId([9; 32]),
                },
                mode: 0o755,
                uid: 0,
                gid: 0,
                mtime_s: 1,
                mtime_ns: 0,
                size: 0,
            },
            Node {
                name: b"link".to_vec(),
                kind: NodeKind::Symlink {
                    target: b"../x".to_vec(),
                },
                mode: 0o777,
                uid: 0,
                gid: 0,
                mtime_s: -1,
                mtime_ns: 0,
                size: 0,
            },
        ],
    };
    put(dir, "tree", "empty", &Tree::default().encode());
    put(dir, "tree", "four", &tree.encode());
    let mut segmented = tree.clone();
    segmented.nodes[1].kind = NodeKind::FileSegments {
        segments: vec![cairn::format::segment::SegmentRef {
            id: ChunkId([8; 32]),
            chunks: 3,
            bytes: 3 * 65536,
        }],
    };
    put(dir, "tree", "segmented", &segmented.encode());

    // segment: the file entry's claim (count u32 LE, bytes u64 LE), then the blob
    let part: Vec<ChunkRef> = (0..3u8)
        .map(|i| ChunkRef {
            id: ChunkId([i; 32]),
            len: 65536,
        })
        .collect();
    let mut seg = 3u32.to_le_bytes().to_vec();
    seg.extend_from_slice(&(3u64 * 65536).to_le_bytes());
    seg.extend_from_slice(&cairn::format::segment::encode(&part));
    put(dir, "segment", "three", &seg);

    // dir_record: a directory's files cache record
    let mut record = CachedDir::default();
    for (i, name) in [&b"Cargo.toml"[..], b"main.rs", b"\xff"].into_iter().enumerate() {
        record.push(
            name,
            CachedFile {
                size: 9000 * i as u64,
                mtime: 1_700_000_000_123_456_789,
                ctime: 1_700_000_001_000_000_000 - i as i128,
                ino: 77 + i as u64,
                chunks: (0..i as u8)
                    .map(|c| ChunkRef {
                        id: ChunkId([c; 32]),
                        len: 9000,
                    })
                    .collect(),
            },
        );
    }
    record.sort();
    put(dir, "dir_record", "empty", &CachedDir::default().encode());
    put(dir, "dir_record", "three", &record.encode());
    let mut with_tree = record.clone();
    with_tree.tree = Some(ChunkId([5; 32]));
    put(dir, "dir_record", "three-tree", &with_tree.encode());
    put(dir, "dir_record", "three-v1", &record.encode_v2());
    put(dir, "dir_record", "three-tree-v2", &with_tree.encode_v2());

    // files_cache: a files cache file of three directories, and an empty one
    let stamp = cairn::index::Stamp {
        instance: [3; 16],
        removals: 2,
    };
    let dirs: Vec<_> = [1u8, 5, 9]
        .iter()
        .map(|&k| (cairn::index::DirKey([k; 16]), record.clone()))
        .collect();
    put(dir, "files_cache", "three", &cairn::index::cachefile::encode_file(stamp, &dirs));
    put(dir, "files_cache", "empty", &cairn::index::cachefile::encode_file(stamp, &[]));

    // chunk_base: the chunk index's base file of three chunks (locations as the index encodes
    // them: ordinal, offset, length, raw_len varints and the kind), and an empty one
    let chunks: Vec<(ChunkId, Vec<u8>)> = [2u8, 4, 200]
        .iter()
        .map(|&k| (ChunkId([k; 32]), vec![k % 3, 0x80, 0x01, 60, 5, 0]))
        .collect();
    put(dir, "chunk_base", "three", &cairn::index::cachefile::encode_raw(stamp, &chunks));
    let none: &[(ChunkId, Vec<u8>)] = &[];
    put(dir, "chunk_base", "empty", &cairn::index::cachefile::encode_raw(stamp, none));

    // the fuzz targets' fixed repository key and id (see fuzz_targets/*.rs)
    let key = SigningKey::from_seed(&[42; 32]);
    let repo_id = [6u8; 16];

    // manifest (+ definitions); the target signs the input itself too, so seed both forms
    let m = Manifest {
        id: "20261122T053600.123Z".into(),
        repo_id,
        seq: 2,
        prev: Some(Prev {
            id: "20261121T053600.000Z".into(),
            hash: [8; 32],
        }),
        time_ms: 1_763_790_000_123,
        host: "controller-1".into(),
        epoch: KeyId([1; 32]),
        session: KeyId([2; 32]),
        services: vec![ServiceRecord {
            name: "identity".into(),
            kind: "path".into(),
            root: ChunkId([3; 32]),
            files: 10,
            dirs: 2,
            bytes: 4096,
            bytes_new: 1024,
            duration_ms: 12,
            root_mode: 0o755,
            root_uid: 0,
            root_gid: 0,
            root_mtime_s: 1_763_790_000,
            phases: Default::default(),
        }],
        definitions: ChunkId([4; 32]),
        refs: vec![ChunkId([3; 32]), ChunkId([4; 32])],
        warnings: 1,
    };
    let mb = m.encode(&key);
    put(dir, "manifest", "full", &mb);
    put(dir, "manifest", "body", &mb[..mb.len() - 64]);
    let first = Manifest {
        seq: 1,
        prev: None,
        ..m.clone()
    };
    let fb = first.encode(&key);
    put(dir, "manifest", "first-body", &fb[..fb.len() - 64]);
    let defs = Definitions::of(&[
        ServiceDef {
            name: "identity".into(),
            path: Some("/var/lib/identity".into()),
            command: None,
            restore_command: None,
            ..Default::default()
        },
        ServiceDef {
            name: "db".into(),
            path: None,
            command: Some("pg_dump app".into()),
            restore_command: Some("psql app".into()),
            ..Default::default()
        },
    ]);
    put(dir, "manifest", "definitions", &defs.encode());

    // envelope
    let epoch = Envelope {
        kind: EnvelopeKind::Epoch {
            recipients: vec![
                "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p".into(),
            ],
        },
        created_ms: 1_763_790_000_000,
        wrapped: b"age-encryption.org/v1\n-> X25519 stanza\n".to_vec(),
    };
    let session = Envelope {
        kind: EnvelopeKind::Session {
            epoch: KeyId([5; 32]),
        },
        created_ms: 1_763_790_000_001,
        wrapped: vec![0xa5; 200],
    };
    for (name, e) in [("epoch", &epoch), ("session", &session)] {
        let b = e.encode(&repo_id, &key);
        put(dir, "envelope", name, &b);
        put(dir, "envelope", &format!("{name}-body"), &b[..b.len() - 64]);
    }

    // config
    let c = RepoConfig {
        repo_id: [6; 16],
        created_ms: 1_763_790_000_000,
        chunker: ChunkerParams::default(),
        pack_target: 16 << 20,
        zstd_level: 3,
        signing_key: key.public().to_bytes(),
    };
    let cb = c.encode(&key);
    put(dir, "config", "default", &cb);
    put(dir, "config", "body", &cb[..cb.len() - 64]);

    // sealed signing key
    let s = SealedKey {
        public: key.public().to_bytes(),
        epoch: KeyId([5; 32]),
        created_ms: 1_763_790_000_000,
        wrapped: b"age-encryption.org/v1\n-> X25519 stanza\n".to_vec(),
    };
    let sb = s.encode(&repo_id, &key);
    put(dir, "sealed_key", "full", &sb);
    put(dir, "sealed_key", "body", &sb[..sb.len() - 64]);

    // signed framing and fingerprints
    put(dir, "signed", "manifest", &mb);
    put(
        dir,
        "signed",
        "fingerprint",
        key.public().fingerprint().as_bytes(),
    );
    put(dir, "signed", "key", &key.public().to_bytes());

    // decompress: raw and zstd payloads
    let text = b"tenant=contoso plan=gold quota.cores=64\n".repeat(200);
    put(dir, "decompress", "zstd", &compress::compress(&text, 3));
    put(dir, "decompress", "raw", &compress::compress(b"short", 3));
    let noise: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    put(dir, "decompress", "noise", &compress::compress(&noise, 3));

    // text: fingerprints, backup ids, pack names, hex ids, recipients, names to escape
    let pack_name = PackId([0xab; 32]).object_name();
    for (name, t) in [
        ("fingerprint", key.public().fingerprint()),
        ("fingerprint-pasted", format!(" CAIRN-FP1:{} \n", hex_upper(&key.public().to_bytes()))),
        ("backup-id", "20261122T053600.123Z".to_string()),
        ("pack-name", pack_name),
        ("chunk-id", ChunkId([0x3c; 32]).to_hex()),
        ("recipient", "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p".into()),
        ("escape", "fifo\u{1b}[31m\nFAKE\r\t\u{7f}\u{9b}\u{202e}x\\y\0 grüße".into()),
    ] {
        put(dir, "text", name, t.as_bytes());
    }

    // smb_negotiate: SMB2 NEGOTIATE answers (3.1.1 with an encryption context; 3.0 by capability)
    put(dir, "smb_negotiate", "311-aes", &negotiate(0x0311, 0, Some(2)));
    put(dir, "smb_negotiate", "300-cap", &negotiate(0x0300, 0x40, None));
}

fn hex_upper(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}
