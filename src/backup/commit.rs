//! Writing a backup's manifest and reading the chain's newest, in bounded memory: a manifest
//! lists every chunk its backup references (32 bytes each: 32 MB for a million files), so it is
//! built in an unnamed file from the sorted runs of references and signed in two passes over
//! that file; the newest manifest, which the chain link needs (its sequence number, id and the
//! blake3 of its bytes), is read in blocks, hashed and its signature checked as they pass, and
//! only its fields other than the references decoded ([`Repository::read_head`]). The bytes
//! written and the checks made are those of [`Controller::commit_manifest`] and
//! [`Repository::read_manifest`].
//!
//! [`Repository::read_head`]: crate::repository::Repository::read_head
//! [`Repository::read_manifest`]: crate::repository::Repository::read_manifest

use super::refs::Refs;
use crate::controller::Controller;
use crate::error::{Error, Result};
use crate::format::manifest::{Manifest, Prev};
use crate::fsutil::unnamed;
use crate::signing::SIGNATURE_LEN;
use std::fs::File;
use std::io::{BufWriter, Seek, Write};
use std::os::unix::fs::FileExt;

/// Bytes hashed or read at a time.
pub(crate) const BLOCK: usize = 1 << 20;

fn local_error(e: &std::io::Error) -> Error {
    Error::failed(
        format!("cannot write the backup's manifest under the local state: {e}"),
        "free space on the file system of REPO/local and retry the backup",
    )
}

/// Sign and write manifest `m` (its [`Manifest::refs`] ignored) with the references `refs`:
/// the object [`Controller::commit_manifest`] writes for `m` with those references. Returns how
/// many references it lists.
pub(super) fn commit(ctl: &Controller, m: &Manifest, refs: &Refs) -> Result<u64> {
    if m.repo_id != ctl.repo.config.repo_id {
        return Err(Error::failed(
            format!("manifest {} is for another repository", m.id),
            "report a bug",
        ));
    }
    let n = refs.count()?;
    super::refs_fit(n)?;
    let key = ctl.signer()?;
    let mut file = match unnamed(&ctl.local()) {
        Ok(f) => f,
        Err(e) => {
            tracing::debug!("manifest built in memory: no unnamed file in the local state ({e})");
            let whole = Manifest {
                refs: refs.to_vec()?,
                ..m.clone()
            };
            return ctl.commit_manifest(&whole).map(|()| n);
        }
    };
    let (head, tail) = m.encode_around_refs(n);
    let body_len = write_body(&mut file, &head, refs, &tail)?;
    let name = m.name();
    let sig = key
        .sign_object_parts(&m.repo_id, &name, |feed| {
            blocks(body_len, |at, len| {
                let mut b = vec![0u8; len];
                file.read_exact_at(&mut b, at)?;
                feed(&b);
                Ok(())
            })
        })
        .map_err(|e| local_error(&e))?;
    file.write_all_at(&sig, body_len)
        .and_then(|()| file.rewind())
        .map_err(|e| local_error(&e))?;
    ctl.repo
        .store
        .write_from(&name, &mut file, body_len + SIGNATURE_LEN as u64)?;
    Ok(n)
}

/// `head ‖ refs ‖ tail` into `file`; its length.
fn write_body(file: &mut File, head: &[u8], refs: &Refs, tail: &[u8]) -> Result<u64> {
    let mut w = BufWriter::with_capacity(256 << 10, file);
    let mut len = head.len() as u64 + tail.len() as u64;
    w.write_all(head).map_err(|e| local_error(&e))?;
    for id in refs.iter() {
        w.write_all(&id?.0).map_err(|e| local_error(&e))?;
        len += 32;
    }
    w.write_all(tail)
        .and_then(|()| w.flush())
        .map_err(|e| local_error(&e))?;
    Ok(len)
}

/// Call `f(offset, len)` for each block of `0..total`.
fn blocks(total: u64, mut f: impl FnMut(u64, usize) -> std::io::Result<()>) -> std::io::Result<()> {
    let mut at = 0u64;
    while at < total {
        let len = (total - at).min(BLOCK as u64) as usize;
        f(at, len)?;
        at += len as u64;
    }
    Ok(())
}

/// The chain link of the next backup, as [`super::chain_link`] defines it: after the newest
/// manifest that decodes and whose signature holds.
pub(super) fn chain_link(ctl: &Controller) -> Result<(u64, Option<Prev>)> {
    for name in ctl.repo.manifest_names()?.iter().rev() {
        match ctl.repo.read_head(name, BLOCK) {
            Ok(crate::repository::ManifestHead {
                manifest: m, hash, ..
            }) => {
                let seq = m
                    .seq
                    .checked_add(1)
                    .ok_or_else(|| Error::corrupt(m.name(), "sequence number at its maximum"))?;
                return Ok((seq, Some(Prev { id: m.id, hash })));
            }
            Err(e) => tracing::debug!("{name} is not the chain's head: {e}"),
        }
    }
    Ok((1, None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::refs::RefLog;
    use crate::id::ChunkId;
    use crate::testutil::TestRepo;

    fn ids(n: u32) -> Vec<ChunkId> {
        (0..n)
            .map(|i| ChunkId(*blake3::hash(&i.to_le_bytes()).as_bytes()))
            .collect()
    }

    /// A manifest written streamed from spilled runs of references is byte for byte the one
    /// [`Controller::commit_manifest`] writes with them whole; read back in small blocks, its
    /// head, hash and chain link are those of the whole read.
    #[test]
    fn a_streamed_manifest_is_the_whole_one_and_its_head_reads_back_in_blocks() {
        let t = TestRepo::with_service("svc");
        let repo_id = t.ctl.repo.config.repo_id;
        let mut log = RefLog::new(100);
        log.spill_to(t.ctl.local());
        let all = ids(1000);
        log.extend(&all).unwrap();
        log.extend(&all[..300]).unwrap();
        let refs = log.finish().unwrap();
        let mut sorted = all.clone();
        sorted.sort_unstable();
        let m = Manifest {
            warnings: 3,
            refs: vec![],
            ..Manifest::sample(repo_id, "20261122T053600.123Z")
        };
        commit(&t.ctl, &m, &refs).unwrap();
        let streamed = t.ctl.repo.store.read(&m.name()).unwrap();
        let whole = Manifest {
            refs: sorted.clone(),
            ..m.clone()
        };
        assert_eq!(streamed, whole.encode(&t.ctl.signer().unwrap()));
        let back = t.ctl.repo.read_manifest(&m.name()).unwrap();
        assert_eq!(back, whole);
        for block in [1000, 4096, BLOCK] {
            let h = t.ctl.repo.read_head(&m.name(), block).unwrap();
            assert_eq!(h.manifest, m, "block {block}");
            assert_eq!(h.hash, *blake3::hash(&streamed).as_bytes());
            assert_eq!(h.refs, sorted.len() as u64);
            // the references come whole and in order, however the blocks cut them
            let mut seen = Vec::new();
            let h = (t.ctl.repo)
                .read_refs(&m.name(), block, &mut |ids| {
                    seen.extend_from_slice(ids);
                    Ok(())
                })
                .unwrap();
            assert_eq!((seen, h.refs), (sorted.clone(), sorted.len() as u64));
        }
        let (seq, prev) = chain_link(&t.ctl).unwrap();
        assert_eq!((seq, prev.unwrap().id), (2, m.id.clone()));
    }

    /// A changed byte among the references, where only the streamed check sees it, is refused,
    /// and the chain links to the manifest before.
    #[test]
    fn a_changed_reference_is_caught_by_the_streamed_check() {
        let t = TestRepo::with_service("svc");
        let repo_id = t.ctl.repo.config.repo_id;
        let first = Manifest::sample(repo_id, "20261122T053600.123Z");
        t.ctl.commit_manifest(&first).unwrap();
        let (seq, prev) = chain_link(&t.ctl).unwrap();
        let second = Manifest {
            seq,
            prev,
            refs: ids(500),
            ..Manifest::sample(repo_id, "20261122T053700.123Z")
        };
        let mut bytes = second.encode(&t.ctl.signer().unwrap());
        let at = bytes.len() - 64 - 32 * 250;
        bytes[at] ^= 1;
        t.ctl.repo.store.write(&second.name(), &bytes).unwrap();
        let e = t.ctl.repo.read_head(&second.name(), 1000).unwrap_err();
        assert!(e.to_string().contains("signature"), "{e}");
        let (seq, prev) = chain_link(&t.ctl).unwrap();
        assert_eq!((seq, prev.unwrap().id), (2, first.id));
    }
}
