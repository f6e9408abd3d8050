//! Prune: forget the backups outside the retention policy and reclaim what no kept backup needs.
//!
//! It works without the identity, from plaintext only: the manifests' `refs` say which chunks a
//! kept backup needs, the pack headers say where chunks are. Sealed blobs are copied byte for byte
//! (a pack has one session key, so live blobs are regrouped by their source pack's session).
//!
//! [`plan`] decides; [`execute`] acts, in a crash-safe order:
//! 1. delete the forgotten manifests (a backup is gone once its manifest is gone);
//! 2. write the rewritten packs (atomic, fsynced) and index them;
//! 3. flush the index;
//! 4. only then delete the old packs (index first, then the file);
//! 5. delete the key envelopes nothing needs any more, last.
//!
//! A crash at any point leaves every kept backup complete: a chunk a kept backup needs is only
//! deleted after a durable copy of it exists. The next prune recomputes everything from scratch
//! and finishes the work (a pack that was rewritten but not yet deleted is then fully dead, as the
//! index names the new copy). The same code prunes the target's copy, with a temporary index.

mod live;
mod target;

pub use target::{prune_all, prune_target};

use crate::backend::Backend;
use crate::controller::Controller;
use crate::error::{Error, Result};
use crate::format::envelope::{Envelope, EnvelopeKind};
use crate::format::manifest::Manifest;
use crate::format::pack::{PackEntry, PackHeader};
use crate::id::{BackupId, KeyId, PackId};
use crate::index::{read_pack_header, Index};
use crate::object::{ObjectKind, ObjectName};
use crate::packer::{store_pack, PackBuilder};
use crate::progress::Progress;
use crate::repository::Repository;
use crate::retention::{self, Candidate, Policy};
use chrono::{DateTime, Utc};
use live::LiveSet;
use serde::Serialize;
use std::collections::{BTreeSet, HashSet};

/// A pack is rewritten when more than this share (in percent) of its blob bytes is dead...
pub const REWRITE_DEAD_PERCENT: u64 = 30;
/// ...or when it has dead bytes and is smaller than `pack_target / SMALL_PACK_DIVISOR`.
pub const SMALL_PACK_DIVISOR: u64 = 8;

/// What a pack holds, as prune sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PackUse {
    /// The pack.
    #[serde(serialize_with = "hex_pack")]
    pub id: PackId,
    /// Its size in bytes.
    pub size: u64,
    /// Sealed bytes of blobs a kept backup needs.
    pub live_bytes: u64,
    /// Sealed bytes of blobs nothing needs.
    pub dead_bytes: u64,
    /// The session key of its blobs.
    #[serde(skip)]
    pub session: KeyId,
}

fn hex_pack<S: serde::Serializer>(p: &PackId, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&p.to_hex())
}

/// Extra input for [`plan_with`].
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Forget these backups too (e.g. those the local prune forgot, when pruning the target),
    /// unless one is the newest complete backup here.
    pub also_forget: Vec<String>,
    /// Never delete these key envelopes (the current key epoch).
    pub protect_keys: Vec<KeyId>,
}

/// What a prune will do.
#[derive(Debug)]
pub struct PrunePlan {
    /// Backups to forget (ids, oldest first).
    pub forget: Vec<String>,
    /// Backups kept (ids, oldest first).
    pub keep: Vec<String>,
    /// Packs no kept backup needs.
    pub delete_packs: Vec<PackUse>,
    /// Packs partly needed, whose live blobs are copied into new packs.
    pub rewrite_packs: Vec<PackUse>,
    /// Key envelopes no kept backup or remaining pack needs.
    pub delete_envelopes: Vec<KeyId>,
    /// Bytes of all packs before pruning.
    pub pack_bytes: u64,
    /// Chunks kept backups need that no pack holds (damage found on the way; verify names it).
    pub missing_chunks: u64,
    /// Things prune left alone and why (unreadable packs or envelopes).
    pub warnings: Vec<String>,
    live: LiveSet,
    pack_target: u64,
}

impl PrunePlan {
    /// Bytes the plan frees: deleted packs, dead bytes of rewritten packs (approximately: the
    /// rewritten packs' own headers are new), forgotten manifests are not counted.
    pub fn bytes_freed_estimate(&self) -> u64 {
        self.delete_packs.iter().map(|p| p.size).sum::<u64>()
            + self
                .rewrite_packs
                .iter()
                .map(|p| p.size.saturating_sub(p.live_bytes))
                .sum::<u64>()
    }
}

/// What a prune did (or, with `dry_run`, would do).
#[derive(Debug, Clone, Default, Serialize)]
pub struct PruneReport {
    /// Nothing was changed.
    pub dry_run: bool,
    /// Where (the repository's description).
    pub place: String,
    /// Backups forgotten (ids).
    pub backups_forgotten: Vec<String>,
    /// Backups kept.
    pub backups_kept: usize,
    /// Packs deleted because nothing needed them.
    pub packs_deleted: usize,
    /// Packs whose live blobs were copied into new packs, then deleted.
    pub packs_rewritten: usize,
    /// New packs written by the rewrite.
    pub packs_written: usize,
    /// Key envelopes deleted.
    pub envelopes_deleted: usize,
    /// Temporary files of interrupted writes removed.
    pub temp_files_removed: usize,
    /// Bytes of packs before.
    pub bytes_before: u64,
    /// Bytes freed (packs, manifests and envelopes deleted minus packs written).
    pub bytes_freed: u64,
    /// Things left alone, damage noticed.
    pub warnings: Vec<String>,
}

/// Plan a prune of `repo` (whose `index` is synced with it) under `policy` at time `now`.
pub fn plan(
    repo: &Repository,
    index: &Index,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<PrunePlan> {
    plan_with(repo, index, policy, now, &Scope::default())
}

/// [`plan`] with extra backups to forget and keys to protect.
pub fn plan_with(
    repo: &Repository,
    index: &Index,
    policy: &Policy,
    now: DateTime<Utc>,
    scope: &Scope,
) -> Result<PrunePlan> {
    let (forget, keep) = decide(repo, policy, now, scope)?;
    let (live, mut sessions, mut epochs) = needed_by(repo, &keep)?;
    let mut p = PrunePlan {
        forget,
        keep,
        delete_packs: Vec::new(),
        rewrite_packs: Vec::new(),
        delete_envelopes: Vec::new(),
        pack_bytes: 0,
        missing_chunks: 0,
        warnings: Vec::new(),
        live,
        pack_target: repo.config.pack_target as u64,
    };
    let found = plan_packs(repo.store.as_ref(), index, &mut p, &mut sessions)?;
    p.missing_chunks = (p.live.len() as u64).saturating_sub(found);
    if p.missing_chunks > 0 {
        p.warnings.push(format!(
            "{} chunk(s) that kept backups need are in no pack: run `cairn verify` to see which backups are damaged",
            p.missing_chunks
        ));
    }
    epochs.extend(scope.protect_keys.iter().copied());
    plan_envelopes(repo, &mut p, &sessions, epochs, &scope.protect_keys)?;
    Ok(p)
}

/// Pass 1: which backups the policy (and `scope.also_forget`) forgets and which it keeps, ids
/// oldest first. Only the policy's fields are kept in memory, no refs.
fn decide(
    repo: &Repository,
    policy: &Policy,
    now: DateTime<Utc>,
    scope: &Scope,
) -> Result<(Vec<String>, Vec<String>)> {
    let names = repo.manifest_names()?;
    let mut candidates = Vec::with_capacity(names.len());
    for name in &names {
        let m = read_manifest(repo, name, &mut |_| Ok(()))?;
        candidates.push(Candidate {
            id: m.id.clone(),
            time: DateTime::from_timestamp_millis(m.time_ms).unwrap_or(DateTime::UNIX_EPOCH),
            complete: true,
        });
    }
    let (mut forget, mut keep) = (Vec::new(), Vec::new());
    for (id, v) in retention::decide(&candidates, policy, now) {
        let forced = v != retention::Verdict::KeepNewest && scope.also_forget.contains(&id);
        if v.keeps() && !forced {
            keep.push(id);
        } else {
            forget.push(id);
        }
    }
    Ok((forget, keep))
}

/// Pass 2: the live chunks, sessions and epochs of the kept backups.
fn needed_by(
    repo: &Repository,
    keep: &[String],
) -> Result<(LiveSet, BTreeSet<KeyId>, BTreeSet<KeyId>)> {
    let mut live = LiveSet::default();
    let (mut sessions, mut epochs) = (BTreeSet::new(), BTreeSet::new());
    for id in keep {
        let mut refs = Vec::new();
        let m = read_manifest(repo, &manifest_name(id), &mut |ids| {
            refs.extend_from_slice(ids);
            Ok(())
        })?;
        sessions.insert(m.session);
        epochs.insert(m.epoch);
        live.merge(refs);
    }
    Ok((live, sessions, epochs))
}

/// `backups/<id>` for an id taken from a manifest (lenient: prune reads back what it listed).
fn manifest_name(id: &str) -> String {
    format!("{}{id}", ObjectKind::Manifest.prefix())
}

/// Classify every pack; returns the number of live chunks found. Adds the sessions of the packs
/// that stay to `sessions`.
fn plan_packs(
    store: &dyn Backend,
    index: &Index,
    p: &mut PrunePlan,
    sessions: &mut BTreeSet<KeyId>,
) -> Result<u64> {
    let mut found = 0u64;
    for o in store.list(ObjectKind::Pack.prefix())? {
        let Some(pid) = ObjectName::pack(&o.name) else {
            continue;
        };
        p.pack_bytes = p.pack_bytes.saturating_add(o.size); // sizes come from a listing
        let h = match read_pack_header(store, &o.name, o.size) {
            Ok(h) => h,
            Err(e) => {
                p.warnings.push(format!(
                    "pack {} left alone: its header is unreadable ({e}); `cairn verify` names what it hurts",
                    o.name
                ));
                continue;
            }
        };
        let (mut live_bytes, mut dead_bytes) = (0u64, 0u64);
        for blob in h.blobs() {
            let mut live = 0u64;
            for e in blob {
                live += u64::from(is_live(&p.live, index, pid, e)?);
            }
            // a group is live while any member is: it is kept (or copied) whole
            let length = blob.first().map_or(0, |e| u64::from(e.length));
            match live {
                0 => dead_bytes += length,
                _ => live_bytes += length,
            }
            found += live;
        }
        let u = PackUse {
            id: pid,
            size: o.size,
            live_bytes,
            dead_bytes,
            session: h.session,
        };
        if live_bytes == 0 {
            p.delete_packs.push(u);
            continue;
        }
        sessions.insert(h.session);
        let blobs = live_bytes + dead_bytes;
        if dead_bytes > 0
            && (dead_bytes * 100 > blobs * REWRITE_DEAD_PERCENT
                || o.size < p.pack_target / SMALL_PACK_DIVISOR)
        {
            p.rewrite_packs.push(u);
        }
    }
    // Deterministic order: the same repository gives the same new packs on both copies.
    p.delete_packs.sort_by_key(|u| u.id);
    p.rewrite_packs.sort_by_key(|u| (u.session, u.id));
    Ok(found)
}

/// A blob is live when a kept backup needs its chunk and the index names this very copy (other
/// copies of the same chunk, left by an interrupted prune or backup, are dead).
fn is_live(live: &LiveSet, index: &Index, pack: PackId, e: &PackEntry) -> Result<bool> {
    if !live.contains(&e.id) {
        return Ok(false);
    }
    Ok(index
        .lookup(&e.id)?
        .is_some_and(|l| l.pack == pack && l.offset == e.offset))
}

fn plan_envelopes(
    repo: &Repository,
    p: &mut PrunePlan,
    sessions: &BTreeSet<KeyId>,
    mut epochs: BTreeSet<KeyId>,
    protect: &[KeyId],
) -> Result<()> {
    let mut found: Vec<(KeyId, Envelope)> = Vec::new();
    for (id, env) in repo.envelopes()? {
        match env {
            Ok(env) => found.push((id, env)),
            Err(e) => p.warnings.push(format!(
                "key envelope {} left alone: unreadable ({e})",
                id.object_name()
            )),
        }
    }
    for (id, env) in &found {
        if let EnvelopeKind::Session { epoch } = &env.kind {
            if sessions.contains(id) {
                epochs.insert(*epoch);
            }
        }
    }
    for (id, env) in &found {
        let needed = protect.contains(id)
            || match &env.kind {
                EnvelopeKind::Session { .. } => sessions.contains(id),
                EnvelopeKind::Epoch { .. } => epochs.contains(id),
            };
        if !needed {
            p.delete_envelopes.push(*id);
        }
    }
    p.delete_envelopes.sort();
    Ok(())
}

/// Read a manifest through [`Repository::read_manifest`] (signature checked); a damaged or
/// unsigned one stops the prune (its chunks cannot be told apart from garbage).
/// Manifest `name` without its references, each handed to `refs` as it is read (see
/// [`Repository::read_refs`]: usable once this returns `Ok`).
fn read_manifest(
    repo: &Repository,
    name: &str,
    refs: &mut dyn FnMut(&[crate::id::ChunkId]) -> Result<()>,
) -> Result<Manifest> {
    let damaged = |why: String| {
        Error::failed(
            format!("prune stopped: backup manifest {name} is unreadable ({why}), so prune cannot tell which chunks it needs"),
            "run `cairn verify`; restore the manifest from the other copy (`cairn export` / the share), or delete that backup's manifest by hand if it is beyond repair, then prune again",
        )
    };
    repo.read_refs(name, 1 << 20, refs)
        .map(|h| h.manifest)
        .map_err(|e| damaged(e.to_string()))
}

/// Carry out `plan` on `repo` (with the `index` the plan was made with). With `dry_run`, only
/// report what would be done.
pub fn execute(
    repo: &Repository,
    index: &Index,
    plan: &PrunePlan,
    dry_run: bool,
    progress: &Progress,
) -> Result<PruneReport> {
    let store = repo.store.as_ref();
    let mut r = PruneReport {
        dry_run,
        place: store.describe(),
        backups_forgotten: plan.forget.clone(),
        backups_kept: plan.keep.len(),
        bytes_before: plan.pack_bytes,
        warnings: plan.warnings.clone(),
        ..Default::default()
    };
    if dry_run {
        r.packs_deleted = plan.delete_packs.len();
        r.packs_rewritten = plan.rewrite_packs.len();
        r.envelopes_deleted = plan.delete_envelopes.len();
        r.bytes_freed = plan.bytes_freed_estimate();
        return Ok(r);
    }
    progress.total.store(
        plan.rewrite_packs.iter().map(|p| p.size).sum(),
        std::sync::atomic::Ordering::Relaxed,
    );
    r.temp_files_removed = store.clean_temp()?;
    // 1. forget the backups
    let mut freed = forget_backups(store, &plan.forget)?;
    // 2. + 3. copy the live blobs of partly-live packs into new packs, index them, flush
    let mut old: Vec<(PackId, bool)> = plan.delete_packs.iter().map(|u| (u.id, false)).collect();
    let mut w = Rewriter::new(store, index, plan.pack_target);
    for u in &plan.rewrite_packs {
        if w.copy_live(u, &plan.live)? {
            old.push((u.id, true));
        } else {
            r.warnings.push(format!(
                "pack {} left alone: its bytes no longer match its name (run `cairn verify`)",
                u.id.object_name()
            ));
        }
        progress.add(u.size);
    }
    w.flush()?;
    r.packs_written = w.written.len();
    freed -= w.bytes_written as i128;
    index.flush()?;
    // 4. delete the old packs
    freed += delete_old_packs(store, index, &old, &w.written, &mut r)?;
    index.flush()?;
    // 5. the key envelopes nothing needs
    freed += delete_envelopes(store, &plan.delete_envelopes)?;
    r.envelopes_deleted = plan.delete_envelopes.len();
    r.bytes_freed = freed.max(0) as u64;
    Ok(r)
}

/// Delete the manifests of `forget` (a backup is gone once its manifest is); returns the bytes
/// freed.
fn forget_backups(store: &dyn Backend, forget: &[String]) -> Result<i128> {
    let mut freed = 0i128;
    for id in forget {
        let Some(id) = BackupId::parse(id) else {
            continue;
        };
        let name = id.object_name();
        freed += store.stat(&name)?.unwrap_or(0) as i128;
        store.delete(&name)?;
    }
    Ok(freed)
}

/// Delete the old packs (`true`: rewritten, `false`: wholly dead): index entry first, then the
/// file. Never a pack this run wrote (a rewrite can reproduce, byte for byte, a pack an
/// interrupted prune left behind). Counts them in `r`; returns the bytes freed.
fn delete_old_packs(
    store: &dyn Backend,
    index: &Index,
    old: &[(PackId, bool)],
    written: &HashSet<PackId>,
    r: &mut PruneReport,
) -> Result<i128> {
    let mut freed = 0i128;
    for &(pid, rewritten) in old {
        if written.contains(&pid) {
            continue;
        }
        let name = pid.object_name();
        let Some(size) = store.stat(&name)? else {
            continue;
        };
        match read_pack_header(store, &name, size) {
            Ok(h) => index.remove_pack(pid, &h)?,
            Err(e) => {
                r.warnings
                    .push(format!("pack {name} not deleted: header unreadable ({e})"));
                continue;
            }
        }
        store.delete(&name)?;
        freed += size as i128;
        if rewritten {
            r.packs_rewritten += 1;
        } else {
            r.packs_deleted += 1;
        }
    }
    Ok(freed)
}

/// Delete the key envelopes nothing needs, each after its epoch's sealed signing key (never a
/// sealed key without its epoch); returns the bytes freed.
fn delete_envelopes(store: &dyn Backend, envelopes: &[KeyId]) -> Result<i128> {
    let mut freed = 0i128;
    for k in envelopes {
        store.delete(&crate::format::sealed_key::SealedKey::name(k))?;
        let name = k.object_name();
        freed += store.stat(&name)?.unwrap_or(0) as i128;
        store.delete(&name)?;
    }
    Ok(freed)
}

/// Copies live sealed blobs, grouped by session, into new packs of about `target` bytes.
struct Rewriter<'a> {
    store: &'a dyn Backend,
    index: &'a Index,
    target: u64,
    pack: Option<PackBuilder>,
    written: HashSet<PackId>,
    bytes_written: u64,
}

impl<'a> Rewriter<'a> {
    fn new(store: &'a dyn Backend, index: &'a Index, target: u64) -> Self {
        Rewriter {
            store,
            index,
            target: target.max(1),
            pack: None,
            written: HashSet::new(),
            bytes_written: 0,
        }
    }

    /// Copy the live blobs of one pack; false if its bytes do not match its name (left alone).
    fn copy_live(&mut self, u: &PackUse, live: &LiveSet) -> Result<bool> {
        let name = u.id.object_name();
        let bytes = self.store.read(&name)?;
        if blake3::hash(&bytes).as_bytes() != &u.id.0 {
            return Ok(false);
        }
        let h = PackHeader::from_pack(&bytes, &name)?;
        if self.pack.as_ref().map(PackBuilder::session) != Some(h.session) {
            self.flush()?;
            self.pack = Some(PackBuilder::new(h.session));
        }
        for blob in h.blobs() {
            let mut kept = Vec::with_capacity(blob.len());
            for e in blob {
                if is_live(live, self.index, u.id, e)? {
                    kept.push(*e);
                }
            }
            let Some(e) = kept.first() else {
                continue;
            };
            // a group with a live member is copied whole; only live members keep an entry
            let (start, end) = (e.offset as usize, e.offset as usize + e.length as usize);
            let sealed = bytes
                .get(start..end)
                .ok_or_else(|| Error::corrupt(&name, "pack entry out of bounds"))?;
            let Some(pack) = self.pack.as_mut() else {
                continue; // set above
            };
            pack.push(&kept, sealed)?;
            if pack.len() as u64 >= self.target {
                self.flush()?;
            }
        }
        Ok(true)
    }

    /// Write the pack being built (atomic and durable), then index it.
    fn flush(&mut self) -> Result<()> {
        let Some((bytes, header)) = self.pack.as_mut().and_then(PackBuilder::finish) else {
            return Ok(());
        };
        let id = store_pack(self.store, self.index, &bytes, &header)?;
        self.written.insert(id);
        self.bytes_written += bytes.len() as u64;
        Ok(())
    }
}

/// Prune the controller's internal repository: its index, its current key epoch protected.
pub fn prune_local(
    ctl: &Controller,
    policy: &Policy,
    now: DateTime<Utc>,
    dry_run: bool,
    progress: &Progress,
) -> Result<PruneReport> {
    let index = ctl.index()?;
    let (epoch, _) = ctl.keys()?;
    let scope = Scope {
        also_forget: Vec::new(),
        protect_keys: vec![epoch],
    };
    let p = plan_with(&ctl.repo, &index, policy, now, &scope)?;
    let report = execute(&ctl.repo, &index, &p, dry_run, progress)?;
    index.compact_or_warn();
    Ok(report)
}

/// Prune a copy without local state (the target's) that is already open (the caller chose
/// which key it must be signed by, e.g. with [`Repository::open_expecting`]): a temporary index
/// built from its pack headers; `scope.also_forget` carries the backups the local prune forgot.
pub fn prune_repo(
    repo: &Repository,
    policy: &Policy,
    now: DateTime<Utc>,
    scope: &Scope,
    dry_run: bool,
    progress: &Progress,
) -> Result<PruneReport> {
    let index = Index::temporary()?;
    index.sync(repo.store.as_ref())?;
    let p = plan_with(repo, &index, policy, now, scope)?;
    execute(repo, &index, &p, dry_run, progress)
}

#[cfg(test)]
mod tests;
