//! `backups/<id>`: a backup manifest, the record that commits a backup.
//!
//! `"CAIRNBAK" ‖ version u16 LE ‖ postcard Manifest ‖ Ed25519 signature (64)`, signed by the
//! repository key over the object name `backups/<id>` and the repository id (docs/FORMAT.md).
//! Written last, after every pack it needs. Its plaintext says what `cairn list` shows and which
//! chunks the backup references (so that verify and prune work without the identity); file names
//! and service definitions live only in sealed blobs. Manifests form a chain: each names its
//! predecessor and the blake3 of the predecessor's bytes, and counts up a sequence number.

use super::check_header;
use super::legacy::{DefinitionsV1, DefinitionsV2, ManifestV2, DEFS_V1, DEFS_V2, MANIFEST_V2};
use crate::error::{Error, Result};
use crate::id::{ChunkId, KeyId};
use crate::signing::{PublicKey, SigningKey};
use serde::{Deserialize, Serialize};

/// Magic of a manifest.
pub const MAGIC: &[u8; 8] = b"CAIRNBAK";
/// Manifest layout version (1: unkeyed checksum, retired; 2: no phase times, still read).
pub const VERSION: u16 = 3;
/// Version of the sealed definitions blob (1: no hooks; 2: no chunk size; both still read).
pub const DEFS_VERSION: u16 = 3;

/// When one phase of a service's capture ran: unix milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// Start.
    pub start_ms: i64,
    /// End.
    pub end_ms: i64,
}

/// A service's phases in one backup (manifest v3; all `None` in a v2 manifest). `prepare` and
/// `release` are `None` for a service without that hook.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phases {
    /// Its prepare hook.
    pub prepare: Option<Span>,
    /// Reading its data.
    pub capture: Option<Span>,
    /// Its release hook.
    pub release: Option<Span>,
}

/// Per-service record of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRecord {
    /// Service name (checked with the rules of `service add` when decoded).
    pub name: String,
    /// `path` or `command`.
    pub kind: String,
    /// Root tree of the service's data.
    pub root: ChunkId,
    /// Regular files.
    pub files: u64,
    /// Directories.
    pub dirs: u64,
    /// Logical bytes (sum of file sizes).
    pub bytes: u64,
    /// New bytes stored for this service (sealed, after dedup and compression).
    pub bytes_new: u64,
    /// Time taken, milliseconds.
    pub duration_ms: u64,
    /// The service root directory's permission bits.
    pub root_mode: u32,
    /// The root directory's owner.
    pub root_uid: u32,
    /// The root directory's group.
    pub root_gid: u32,
    /// The root directory's mtime, seconds.
    pub root_mtime_s: i64,
    /// When its prepare, capture and release ran (v3).
    pub phases: Phases,
}

/// The link to the previous backup in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prev {
    /// The predecessor's backup id.
    pub id: String,
    /// blake3 of the predecessor's whole manifest object (signature included).
    pub hash: [u8; 32],
}

/// A backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The backup id (also the object name).
    pub id: String,
    /// The repository id (as in the config).
    pub repo_id: [u8; 16],
    /// Position in the chain: 1 for the first backup, the predecessor's plus one after.
    pub seq: u64,
    /// The predecessor (`None` for the first backup of the repository).
    pub prev: Option<Prev>,
    /// The backup's point in time, unix milliseconds: the moment every prepare hook had
    /// succeeded and capture began.
    pub time_ms: i64,
    /// Controller host name.
    pub host: String,
    /// Key epoch envelope (names the recipients).
    pub epoch: KeyId,
    /// Session key envelope of this backup.
    pub session: KeyId,
    /// Services in the backup.
    pub services: Vec<ServiceRecord>,
    /// Sealed blob (kind Meta) holding the service definitions, for recovery.
    pub definitions: ChunkId,
    /// Every chunk the backup needs (data, trees, meta), each once.
    pub refs: Vec<ChunkId>,
    /// How many warnings the backup recorded (their texts, which name files, stay in the
    /// controller's job record: no file name is stored in plaintext).
    pub warnings: u64,
}

/// The fields of a [`Manifest`] before its references, borrowed, in its order: it encodes as
/// they do.
#[derive(Serialize)]
struct Head<'a> {
    id: &'a String,
    repo_id: &'a [u8; 16],
    seq: u64,
    prev: &'a Option<Prev>,
    time_ms: i64,
    host: &'a String,
    epoch: &'a KeyId,
    session: &'a KeyId,
    services: &'a Vec<ServiceRecord>,
    definitions: &'a ChunkId,
}

/// [`Head`], decoded.
#[derive(Deserialize)]
struct HeadOwned {
    id: String,
    repo_id: [u8; 16],
    seq: u64,
    prev: Option<Prev>,
    time_ms: i64,
    host: String,
    epoch: KeyId,
    session: KeyId,
    services: Vec<ServiceRecord>,
    definitions: ChunkId,
}

#[cfg(test)]
impl Manifest {
    /// A manifest for tests: the first of its chain, no services, one reference.
    pub(crate) fn sample(repo_id: [u8; 16], id: &str) -> Manifest {
        Manifest {
            id: id.into(),
            repo_id,
            seq: 1,
            prev: None,
            time_ms: 1,
            host: "h".into(),
            epoch: KeyId([1; 32]),
            session: KeyId([2; 32]),
            services: vec![],
            definitions: ChunkId([3; 32]),
            refs: vec![ChunkId([4; 32])],
            warnings: 0,
        }
    }
}

impl ServiceRecord {
    /// The directory node of the service's root, as recorded here (restore and the mount start
    /// from it).
    pub fn root_node(&self) -> super::tree::Node {
        super::tree::Node {
            name: self.name.as_bytes().to_vec(),
            kind: super::tree::NodeKind::Dir { tree: self.root },
            mode: self.root_mode,
            uid: self.root_uid,
            gid: self.root_gid,
            mtime_s: self.root_mtime_s,
            mtime_ns: 0,
            size: 0,
        }
    }
}

impl Manifest {
    /// The object name of this manifest: `backups/<id>`.
    pub fn name(&self) -> String {
        format!(
            "{}{}",
            crate::object::ObjectKind::Manifest.prefix(),
            self.id
        )
    }

    /// Encode and sign with the repository key.
    pub fn encode(&self, key: &SigningKey) -> Vec<u8> {
        key.sign_object(
            &self.repo_id,
            &self.name(),
            super::frame(MAGIC, VERSION, self),
        )
    }

    /// The encoding of this manifest around its references, for writing one whose references
    /// are streamed: `(head, tail)` such that `head ‖ the count ids (32 bytes each, sorted) ‖
    /// tail` is the unsigned frame [`Manifest::encode`] signs (with [`Manifest::refs`] ignored).
    pub fn encode_around_refs(&self, count: u64) -> (Vec<u8>, Vec<u8>) {
        let head = Head {
            id: &self.id,
            repo_id: &self.repo_id,
            seq: self.seq,
            prev: &self.prev,
            time_ms: self.time_ms,
            host: &self.host,
            epoch: &self.epoch,
            session: &self.session,
            services: &self.services,
            definitions: &self.definitions,
        };
        let mut out = super::frame(MAGIC, VERSION, &head);
        // a sequence's length is a varint, as a u64's (postcard)
        out = postcard::to_extend(&count, out).unwrap_or_default();
        let tail = postcard::to_allocvec(&self.warnings).unwrap_or_default();
        (out, tail)
    }

    /// Decode the object `name` of repository `repo_id`: check the signature by `key`, the
    /// repository id, the name, the service names and the sums.
    pub fn decode(bytes: &[u8], name: &str, repo_id: &[u8; 16], key: &PublicKey) -> Result<Self> {
        super::retired(bytes, MAGIC, 1, name)?;
        let v2 = check_header(bytes, MAGIC, MANIFEST_V2, name).is_ok();
        if !v2 {
            check_header(bytes, MAGIC, VERSION, name)?;
        }
        let body = key.open_object(repo_id, name, bytes)?;
        let m: Manifest = if v2 {
            super::unframe::<ManifestV2>(body, MAGIC, MANIFEST_V2, name)?.into()
        } else {
            super::unframe(body, MAGIC, VERSION, name)?
        };
        m.checked(name, repo_id)
    }

    /// Decode a v3 manifest's fields other than its references from the first bytes of its
    /// body (`first`, of a body of `body_len` bytes, signature excluded), whose signature the
    /// caller checks: the manifest with [`Manifest::refs`] empty and where in the body its
    /// references lie (32 bytes each; what follows them is the tail, [`Manifest::decode_tail`],
    /// at most 10 bytes).
    /// `Ok(None)` if `first` ends before the references begin, or the manifest is not v3: read
    /// it whole ([`Manifest::decode`]).
    pub fn decode_head(
        first: &[u8],
        body_len: u64,
        name: &str,
    ) -> Result<Option<(Manifest, std::ops::Range<u64>)>> {
        super::retired(first, MAGIC, 1, name)?;
        let Ok(body) = check_header(first, MAGIC, VERSION, name) else {
            return Ok(None);
        };
        let Ok((h, rest)) = postcard::take_from_bytes::<HeadOwned>(body) else {
            return Ok(None);
        };
        let Ok((count, rest)) = postcard::take_from_bytes::<u64>(rest) else {
            return Ok(None);
        };
        let refs_at = (first.len() - rest.len()) as u64;
        let tail_at = count
            .checked_mul(32)
            .and_then(|n| n.checked_add(refs_at))
            .filter(|&t| t < body_len && body_len - t <= 10)
            .ok_or_else(|| Error::corrupt(name, "its references do not fill it"))?;
        let m = Manifest {
            id: h.id,
            repo_id: h.repo_id,
            seq: h.seq,
            prev: h.prev,
            time_ms: h.time_ms,
            host: h.host,
            epoch: h.epoch,
            session: h.session,
            services: h.services,
            definitions: h.definitions,
            refs: Vec::new(),
            warnings: 0,
        };
        Ok(Some((m, refs_at..tail_at)))
    }

    /// Complete a manifest from [`Manifest::decode_head`] with its tail (the bytes after its
    /// references up to the signature) and check it as [`Manifest::decode`] does.
    pub fn decode_tail(mut self, tail: &[u8], name: &str, repo_id: &[u8; 16]) -> Result<Self> {
        self.warnings = super::decode_whole(tail, name, "cannot decode", "trailing bytes")?;
        self.checked(name, repo_id)
    }

    fn checked(self, name: &str, repo_id: &[u8; 16]) -> Result<Self> {
        if &self.repo_id != repo_id {
            return Err(Error::corrupt(name, "belongs to another repository"));
        }
        if self.name() != name {
            return Err(Error::corrupt(name, "manifest id does not match its name"));
        }
        self.validate(name)?;
        Ok(self)
    }

    /// Checks that do not need the signature (also run by the fuzz target on unsigned input).
    pub fn validate(&self, name: &str) -> Result<()> {
        for s in &self.services {
            if !crate::service::valid_name(&s.name) {
                return Err(Error::corrupt(
                    name,
                    format!("bad service name {:?}", s.name),
                ));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        if !self.services.iter().all(|s| seen.insert(s.name.as_str())) {
            return Err(Error::corrupt(name, "a service name appears twice"));
        }
        if self.checked_sum(|s| s.bytes).is_none() || self.checked_sum(|s| s.bytes_new).is_none() {
            return Err(Error::corrupt(name, "service sizes overflow"));
        }
        match (&self.prev, self.seq) {
            (None, 1) => {}
            (Some(p), n) if n > 1 && p.id < self.id => {}
            _ => {
                return Err(Error::corrupt(
                    name,
                    "bad chain link (sequence or predecessor)",
                ))
            }
        }
        Ok(())
    }

    fn checked_sum(&self, f: impl Fn(&ServiceRecord) -> u64) -> Option<u64> {
        self.services
            .iter()
            .try_fold(0u64, |acc, s| acc.checked_add(f(s)))
    }

    /// Logical bytes over all services (a decoded manifest's sums never overflow; saturates).
    pub fn bytes(&self) -> u64 {
        self.checked_sum(|s| s.bytes).unwrap_or(u64::MAX)
    }

    /// New bytes over all services (a decoded manifest's sums never overflow; saturates).
    pub fn bytes_new(&self) -> u64 {
        self.checked_sum(|s| s.bytes_new).unwrap_or(u64::MAX)
    }
}

/// One service definition as sealed in a backup. Every field is always encoded (postcard is not
/// self-describing, so optional fields cannot be skipped).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefinitionRecord {
    /// Name.
    pub name: String,
    /// Directory, for a path service.
    pub path: Option<String>,
    /// Command, for a command service.
    pub command: Option<String>,
    /// Restore command, for a command service.
    pub restore_command: Option<String>,
    /// Prepare hook (v2).
    pub prepare: Option<String>,
    /// Release hook (v2).
    pub release: Option<String>,
    /// Capture path (v2).
    pub capture_path: Option<String>,
    /// Time limit of each hook, seconds (v2).
    pub hook_timeout_s: Option<u64>,
    /// Services restored before this one (v2).
    pub restore_after: Vec<String>,
    /// Average chunk size the service was added with (v3; `None`: the repository's).
    pub chunk_size: Option<u32>,
}

/// Service definitions sealed inside a backup (for `recover`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Definitions {
    /// The services as configured when the backup ran.
    pub services: Vec<DefinitionRecord>,
}

impl Definitions {
    /// From the configured services.
    pub fn of(services: &[crate::service::ServiceDef]) -> Self {
        Definitions {
            services: services
                .iter()
                .map(|s| DefinitionRecord {
                    name: s.name.clone(),
                    path: s.path.clone(),
                    command: s.command.clone(),
                    restore_command: s.restore_command.clone(),
                    prepare: s.prepare.clone(),
                    release: s.release.clone(),
                    capture_path: s.capture_path.clone(),
                    hook_timeout_s: s.hook_timeout_s,
                    restore_after: s.restore_after.clone(),
                    chunk_size: s.chunk_size,
                })
                .collect(),
        }
    }

    /// Back to service definitions.
    pub fn to_services(&self) -> Vec<crate::service::ServiceDef> {
        self.services
            .iter()
            .map(|d| crate::service::ServiceDef {
                name: d.name.clone(),
                path: d.path.clone(),
                command: d.command.clone(),
                restore_command: d.restore_command.clone(),
                prepare: d.prepare.clone(),
                release: d.release.clone(),
                capture_path: d.capture_path.clone(),
                hook_timeout_s: d.hook_timeout_s,
                restore_after: d.restore_after.clone(),
                chunk_size: d.chunk_size,
            })
            .collect()
    }
}

/// Magic of the definitions blob.
pub const DEFS_MAGIC: &[u8; 8] = b"CAIRNDEF";

impl Definitions {
    /// Encode (the plaintext of the Meta blob).
    pub fn encode(&self) -> Vec<u8> {
        super::frame(DEFS_MAGIC, DEFS_VERSION, self)
    }

    /// Decode (version 3, 2 without chunk sizes, or 1 without hooks).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "service definitions";
        let d: Definitions = if check_header(bytes, DEFS_MAGIC, DEFS_V1, WHAT).is_ok() {
            super::unframe::<DefinitionsV1>(bytes, DEFS_MAGIC, DEFS_V1, WHAT)?.into()
        } else if check_header(bytes, DEFS_MAGIC, DEFS_V2, WHAT).is_ok() {
            super::unframe::<DefinitionsV2>(bytes, DEFS_MAGIC, DEFS_V2, WHAT)?.into()
        } else {
            super::unframe(bytes, DEFS_MAGIC, DEFS_VERSION, WHAT)?
        };
        for r in &d.services {
            let mut names = std::iter::once(&r.name).chain(&r.restore_after);
            if let Some(bad) = names.find(|n| !crate::service::valid_name(n)) {
                return Err(Error::corrupt(WHAT, format!("bad service name {bad:?}")));
            }
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest::sample([9; 16], "20261122T053600.123Z")
    }

    fn record(name: &str, bytes: u64) -> ServiceRecord {
        ServiceRecord {
            name: name.into(),
            kind: "path".into(),
            root: ChunkId([5; 32]),
            files: 1,
            dirs: 1,
            bytes,
            bytes_new: 0,
            duration_ms: 0,
            root_mode: 0o755,
            root_uid: 0,
            root_gid: 0,
            root_mtime_s: 0,
            phases: Phases::default(),
        }
    }

    #[test]
    fn signature_catches_flips_and_binds_repo_name_and_key() {
        let k = SigningKey::generate();
        let p = k.public();
        let m = sample();
        let name = m.name();
        let b = m.encode(&k);
        assert_eq!(Manifest::decode(&b, &name, &[9; 16], &p).unwrap(), m);
        for i in 0..b.len() {
            let mut c = b.clone();
            c[i] ^= 0x10;
            assert!(
                Manifest::decode(&c, &name, &[9; 16], &p).is_err(),
                "flip at {i} not caught"
            );
        }
        let e = Manifest::decode(&b, &name, &[8; 16], &p).unwrap_err();
        assert!(e.to_string().contains("signature"), "{e}");
        // renamed to a far-future id
        let e = Manifest::decode(&b, "backups/29991122T053600.123Z", &[9; 16], &p).unwrap_err();
        assert!(e.to_string().contains("signature"), "{e}");
        let other = SigningKey::generate();
        assert!(Manifest::decode(&m.encode(&other), &name, &[9; 16], &p).is_err());
        // signed for another repository, with that repository's id inside
        let foreign = Manifest {
            repo_id: [1; 16],
            ..m.clone()
        };
        assert!(Manifest::decode(&foreign.encode(&k), &name, &[9; 16], &p).is_err());
        // unsigned (the v2 frame without a signature)
        let bare = crate::format::frame(MAGIC, VERSION, &m);
        assert!(Manifest::decode(&bare, &name, &[9; 16], &p).is_err());
    }

    /// A manifest written around streamed references is the manifest encoded whole.
    #[test]
    fn a_manifest_encoded_around_its_refs_is_the_one_encoded_whole() {
        let k = SigningKey::generate();
        for n in [0u32, 1, 127, 128, 300] {
            let m = Manifest {
                services: vec![record("a", 5), record("b", 7)],
                refs: (0..n)
                    .map(|i| {
                        let mut b = [0u8; 32];
                        b[..4].copy_from_slice(&i.to_be_bytes());
                        ChunkId(b)
                    })
                    .collect(),
                warnings: 300,
                ..sample()
            };
            let (head, tail) = m.encode_around_refs(m.refs.len() as u64);
            let mut body = head;
            m.refs.iter().for_each(|r| body.extend_from_slice(&r.0));
            body.extend_from_slice(&tail);
            assert_eq!(body, crate::format::frame(MAGIC, VERSION, &m), "{n} refs");
            let signed = k.sign_object(&m.repo_id, &m.name(), body);
            assert_eq!(signed, m.encode(&k));
        }
    }

    #[test]
    fn version_1_is_refused_as_retired() {
        let p = SigningKey::generate().public();
        let mut v1 = b"CAIRNBAK\x01\x00".to_vec();
        v1.extend_from_slice(&[0; 80]);
        let e = Manifest::decode(&v1, "backups/x", &[0; 16], &p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("version 1") && e.contains("retired"), "{e}");
    }

    #[test]
    fn bad_service_names_duplicates_and_broken_links_are_refused() {
        let k = SigningKey::generate();
        let p = k.public();
        for bad in ["../..", "/etc", "", ".hidden", "a/b", "x\0y"] {
            let m = Manifest {
                services: vec![record(bad, 1)],
                ..sample()
            };
            let e = Manifest::decode(&m.encode(&k), &m.name(), &[9; 16], &p).unwrap_err();
            assert!(e.to_string().contains("service name"), "{bad}: {e}");
        }
        let dup = Manifest {
            services: vec![record("a", 1), record("a", 1)],
            ..sample()
        };
        assert!(Manifest::decode(&dup.encode(&k), &dup.name(), &[9; 16], &p).is_err());
        for (seq, prev) in [
            (0, None),
            (2, None),
            (
                1,
                Some(Prev {
                    id: "20261122T053600.000Z".into(),
                    hash: [0; 32],
                }),
            ),
            (
                2,
                Some(Prev {
                    id: "29991122T053600.000Z".into(),
                    hash: [0; 32],
                }),
            ),
        ] {
            let m = Manifest {
                seq,
                prev,
                ..sample()
            };
            assert!(Manifest::decode(&m.encode(&k), &m.name(), &[9; 16], &p).is_err());
        }
    }

    #[test]
    fn sums_that_overflow_are_damage_not_a_panic() {
        let k = SigningKey::generate();
        let p = k.public();
        let m = Manifest {
            services: vec![record("a", u64::MAX), record("b", 1)],
            ..sample()
        };
        assert_eq!(m.bytes(), u64::MAX);
        let e = Manifest::decode(&m.encode(&k), &m.name(), &[9; 16], &p).unwrap_err();
        assert!(e.to_string().contains("overflow"), "{e}");
    }

    /// The fuzzer's input from issue 8 (v1 layout): refused without a panic.
    #[test]
    fn regression_issue_8_fuzz_input_overflowing_sizes() {
        const INPUT: &str = concat!(
            "Q0FJUk5CQUsBABQyMDI2b2wKfgoKCgoKCgoKCgo/CgoKCgoKCgoKCgoKCgoKCnJsZS0xfwAAAAAlAgUKATABAwEBAQEBAQEBAQEB",
            "AQEBAQEBAQEBAQEBAQEBAQECAgICAjAyNm9sCgoKCgoKCgoKCgoKCicKCgoKCgoKCgoKCjAKCnJsZS0xfwAAAAAlAgoBAQMBAQEB",
            "AQEBAQEBAQEBAQFMAAH///////////8BAQEBLwEBAQEBAQEBJgICAgICAwMDAwMDAwMDAwMDAwMDAwMDAwMDAAAAAAAFCgEBAwEB",
            "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQECAgICAgIDAwMDAwMDAwMDA///AQgBAQEBAQAAAAEBAQEBAQEBAQEBAQEJAQEBAQEB",
            "AYEBAQEBAQEBAAAAAQEB9QEBAQEBAQEBAQICAjcCAwMDAwMDAwMDAwMDAwMDAwMDAwMDAAAAAAAFCgEBAwEBAQEBAQEBAQEBAQEB",
            "AQEBAQEBAQEBAQEBAQECAgICAgIDAwMDAwMDAwMDA///JQgBAQEBAQAAAAEBAQEBAQEBAQEBAQEJAQEBAQEBAQEBAQEBAQEBAAAA",
            "AQEB9QEBAQEBAQEBAQEBAAAAAAAAAAAAJgAAAAAAAAAAAAAAAAAAAAAAAAMDAwMDAwMDAwMDAwMDAwMDA0JBSwFD/////wMDAwMD",
            "AwMDAwMDAwMDAwMDQkFLAUP/////Uv//FwMDCgKG3wEAAIsAAAAACgAAAAAAAAAA5QAAAAAAAAAAAAAAAAAAAAAAAAAAAAAMgAgA",
            "Mu0D3/ngLLKKkg0EAwoCIIADAwMDAwMDAAAAAAAAAAAAAAAAAAAEBAQEBAQDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA0FCSwFD////",
            "/////xcDAwoCgCAAAAAACgAAAAAAAAAAAAAAAAAAAPgAAAAAAAAAAAAAAAAAAAyACAAEBAQEAgMDAwMDAwMDYAMDgwMDAwMC+gMD",
            "AwMDAwMDAwMDBAM=",
        );
        let bytes = base64_decode(INPUT);
        assert!(bytes.starts_with(b"CAIRNBAK\x01\x00"));
        let p = SigningKey::generate().public();
        assert!(Manifest::decode(&bytes, "backups/x", &[0; 16], &p).is_err());
        // The input holds a service size of u64::MAX (the varint ff ff … 01 at offset 164) that
        // overflowed the sum in the v1 decoder's `bytes()`. Such sums in a v2 manifest signed by
        // the right key are refused as damage, never wrapped or panicked on.
        assert_eq!(
            &bytes[164..174],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]
        );
        let m = Manifest {
            services: vec![record("a", u64::MAX), record("b", 5)],
            ..sample()
        };
        let k = SigningKey::generate();
        let e = Manifest::decode(&m.encode(&k), &m.name(), &[9; 16], &k.public()).unwrap_err();
        assert!(e.to_string().contains("overflow"), "{e}");
    }

    fn base64_decode(s: &str) -> Vec<u8> {
        let val = |c: u8| match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            _ => 63,
        };
        let digits: Vec<u8> = s.bytes().filter(|&c| c != b'=').map(val).collect();
        let mut out = Vec::new();
        for q in digits.chunks(4) {
            let n = q.iter().fold(0u32, |a, &d| (a << 6) | d as u32) << (6 * (4 - q.len()));
            let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
            out.extend_from_slice(&bytes[..q.len() - 1]);
        }
        out
    }

    #[test]
    fn definitions_round_trip_with_optional_fields() {
        let defs = vec![
            crate::service::ServiceDef {
                name: "a".into(),
                path: Some("/a".into()),
                command: None,
                restore_command: None,
                ..Default::default()
            },
            crate::service::ServiceDef {
                name: "b".into(),
                path: None,
                command: Some("echo".into()),
                restore_command: Some("cat".into()),
                ..Default::default()
            },
            crate::service::ServiceDef {
                name: "c".into(),
                path: Some("/c".into()),
                prepare: Some("sync".into()),
                release: Some("true".into()),
                capture_path: Some("/snap/c".into()),
                hook_timeout_s: Some(30),
                restore_after: vec!["a".into(), "b".into()],
                ..Default::default()
            },
        ];
        let d = Definitions::of(&defs);
        assert_eq!(
            Definitions::decode(&d.encode()).unwrap().to_services(),
            defs
        );
        // a restore-after name that `service add` would refuse is damage
        let mut bad = d.clone();
        bad.services[2].restore_after.push("../x".into());
        let e = Definitions::decode(&bad.encode()).unwrap_err();
        assert!(e.to_string().contains("bad service name \"../x\""), "{e}");
    }
}
