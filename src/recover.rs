//! Cloud recovery: from the share, the identity and the repository fingerprint alone, rebuild
//! the controller and restore every service, verified, ready to keep backing up to the same share.
//!
//! The share is hostile until checked. Before anything is copied or restored, the share's config
//! must be signed by the key the fingerprint names, and the backup to restore must be a manifest
//! signed by it, whose key envelopes are signed by it too. Only then is the share copied; the
//! signing key is adopted only if its public half is the fingerprint; only signed epoch envelopes
//! are adopted; the service definitions (and so the restore commands) come from the sealed blob
//! the signed manifest names. Objects on the share that fail their signature are named and left
//! out of the new repository.

use crate::backend::{Backend, LocalBackend};
use crate::controller::Controller;
use crate::error::{Error, Result, ServiceCause};
use crate::format::envelope::EnvelopeKind;
use crate::format::manifest::{Definitions, Manifest};
use crate::keyring::KeyRing;
use crate::locator::{ChunkReader, Locator};
use crate::progress::Progress;
use crate::repository::Repository;
use crate::restore::{self, RestoreOptions, RestoreReport};
use crate::service::{ServiceList, COMMAND_OUTPUT};
use crate::signing::PublicKey;
use crate::target::TargetConfig;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What to recover.
pub struct RecoverOptions {
    /// The share (URL and credentials).
    pub from: TargetConfig,
    /// The new internal repository directory.
    pub repo: PathBuf,
    /// Where to restore the services' data.
    pub target: PathBuf,
    /// Which backup (default: the newest).
    pub backup: Option<String>,
    /// The repository fingerprint the operator kept with the identity. Required: without it,
    /// recovery only lists the fingerprints found on the share.
    pub fingerprint: Option<PublicKey>,
}

/// What to recover, as the operator gave it (`cairn recover`'s arguments, parsed but unchecked).
pub struct RecoverRequest<'a> {
    /// The share: `smb://HOST[:PORT]/SHARE[/PATH]` or a local directory.
    pub from: &'a str,
    /// The SMB username.
    pub username: Option<String>,
    /// The file holding the SMB password (else the file `CAIRN_PASSWORD_FILE` names).
    pub password_file: Option<&'a Path>,
    /// Accept an SMB server that offers no encryption.
    pub allow_unencrypted: bool,
    /// The repository fingerprint, as typed.
    pub fingerprint: Option<&'a str>,
    /// The object store's endpoint (`--endpoint`).
    pub endpoint: Option<String>,
    /// The S3 region (`--region`).
    pub region: Option<String>,
}

impl RecoverOptions {
    /// Check `req` (the fingerprint first, then the share's settings, reading its password file)
    /// and assemble the options to recover into the new repository `repo`, restoring `backup`
    /// (default: the newest) into `target`.
    pub fn new(
        req: RecoverRequest<'_>,
        repo: PathBuf,
        target: PathBuf,
        backup: Option<String>,
    ) -> Result<Self> {
        let fingerprint = req
            .fingerprint
            .map(PublicKey::parse_fingerprint)
            .transpose()?;
        let from = TargetConfig::from_args(
            req.from,
            req.username,
            req.password_file,
            req.allow_unencrypted,
        )?
        .with_store_options(req.endpoint, req.region)?;
        Ok(RecoverOptions {
            from,
            repo,
            target,
            backup,
            fingerprint,
        })
    }
}

/// What recovery did.
#[derive(Debug, serde::Serialize)]
pub struct RecoverReport {
    /// The backup restored.
    pub backup: String,
    /// Its services.
    pub services: Vec<String>,
    /// Files restored.
    pub files: u64,
    /// Bytes restored.
    pub bytes: u64,
    /// Objects copied from the share.
    pub objects_copied: u64,
    /// Bytes copied from the share.
    pub bytes_copied: u64,
    /// The services whose restore command ran (names only: a command line may carry credentials).
    pub restore_commands: Vec<String>,
    /// The newest signed backup on the share: its id and time (unix ms).
    pub newest: (String, i64),
    /// Set when the newest backup is older than two backup intervals (a rollback or stalled
    /// backups): the text to show the operator.
    pub stale: Option<String>,
    /// Objects on the share that were ignored (bad signature, damaged), with the reason.
    pub ignored: Vec<String>,
    /// Seconds taken.
    pub seconds: f64,
}

/// Step 0: check the share against the fingerprint before anything is written. Without a
/// fingerprint, list the ones found on the share and stop (exit 2); with the wrong one, or with an
/// unsigned or forged config, stop (exit 1). Returns the share's repository, opened expecting the
/// fingerprint's key.
pub fn check_share(opts: &RecoverOptions) -> Result<Repository> {
    let remote: Arc<dyn Backend> = Arc::from(crate::target::open_backend(&opts.from)?);
    let Some(fp) = &opts.fingerprint else {
        return Err(Error::usage(
            format!(
                "recover needs the repository fingerprint (--fingerprint); found on {}: {}",
                remote.describe(),
                fingerprints_found(&remote)
            ),
            "pass --fingerprint FP with the fingerprint kept with the identity (printed by `cairn init` and `cairn key list`), e.g. --fingerprint cairn-fp1:3b6a…; do not take it from this list on trust: anyone who can write the share can add one",
        ));
    };
    Repository::open_expecting(remote, fp)
}

/// The fingerprints named on a share: its config's key and those of the sealed signing keys.
pub fn fingerprints_found(store: &Arc<dyn Backend>) -> String {
    let mut found: Vec<String> = Vec::new();
    let repo = match Repository::open(store.clone()) {
        Ok(r) => r,
        Err(e) => return format!("none (the config is unreadable: {e})"),
    };
    found.push(format!("{} (config)", repo.fingerprint()));
    let sealed = crate::keys::sealed::list(store.as_ref(), &repo.config.repo_id);
    for (name, k) in sealed.unwrap_or_default() {
        if let Some(p) = k.and_then(|k| k.public_key(&name).ok()) {
            let text = format!("{} (sealed key {name})", p.fingerprint());
            if p != *repo.key() && !found.contains(&text) {
                found.push(text);
            }
        }
    }
    found.join(", ")
}

/// Step 1: create the new repository directory and copy the share's objects into it.
/// Separate from [`finish`] so the caller can hold the new repository's lease in between.
pub fn prepare(opts: &RecoverOptions) -> Result<()> {
    if opts.repo.join(crate::object::CONFIG_NAME).exists() {
        return Err(Error::usage(
            format!("a repository already exists at {}", opts.repo.display()),
            "recover into a new --repo DIR (the old controller's state is rebuilt from the share)",
        ));
    }
    std::fs::create_dir_all(opts.repo.join("local"))
        .map_err(|e| Error::io(opts.repo.display().to_string(), e))?;
    crate::controller::make_private(&opts.repo.join("local"))
}

/// Step 2: from the share [`check_share`] opened, copy, adopt the keys, restore, run restore
/// commands, verify, configure the target.
pub fn finish(
    opts: &RecoverOptions,
    share: &Repository,
    keys: &KeyRing,
    progress: &Progress,
) -> Result<RecoverReport> {
    finish_into(opts, share, keys, progress, &LocalBackend::new(&opts.repo))
}

/// [`finish`], copying the share's objects through `local` (the backend of `opts.repo`, or a
/// wrapper of it: the crash tests inject power cuts this way).
pub fn finish_into(
    opts: &RecoverOptions,
    share: &Repository,
    keys: &KeyRing,
    progress: &Progress,
    local: &dyn Backend,
) -> Result<RecoverReport> {
    let t0 = std::time::Instant::now();
    // the backup to restore and its keys, all signed, before anything is copied
    let (m, newest) = choose_backup(opts, share)?;
    let stale = staleness(newest.1, chrono::Utc::now().timestamp_millis());
    let (ctl, copied, mut ignored) = copy_share(opts, share, keys, local, &m)?;
    tracing::info!(
        "recover: {} objects ({} bytes) copied from the share in {:.1} s",
        copied.objects_sent,
        copied.bytes_sent,
        t0.elapsed().as_secs_f64()
    );
    adopt_keys(&opts.repo, &ctl, keys, &m)?;
    // definitions before restore: a blob that does not open stops recovery before any write
    let defs = definitions(&ctl, keys, &m)?;
    let t1 = std::time::Instant::now();
    let restored = restore_all(&ctl, keys, &m, &opts.target, progress)?;
    tracing::info!(
        "recover: {} files ({} bytes) restored in {:.1} s",
        restored.files,
        restored.bytes,
        t1.elapsed().as_secs_f64()
    );
    // The whole copy is checked before any restore command loads restored data into a service.
    // Not on a thread beside the restore: its index beside the restore's chunk places raised the
    // peak RSS by 13-17 MB on 3 GiB (benches/RESULTS.md).
    let t2 = std::time::Instant::now();
    check_copy(&ctl, &mut ignored)?;
    tracing::info!(
        "recover: the new copy verified in {:.1} s",
        t2.elapsed().as_secs_f64()
    );
    let commands = restore_services(&ctl, &defs, &opts.target)?;
    opts.from.save(&opts.repo)?;
    crate::remote::record_exported(&opts.repo, share.store.as_ref())?;
    Ok(RecoverReport {
        backup: m.id.clone(),
        services: m.services.iter().map(|s| s.name.clone()).collect(),
        files: restored.files,
        bytes: restored.bytes,
        objects_copied: copied.objects_sent,
        bytes_copied: copied.bytes_sent,
        restore_commands: commands,
        newest,
        stale,
        ignored,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// The backup to restore (`opts.backup`, or the newest), with its keys' envelopes checked, and
/// the id and time of the newest signed backup on the share.
fn choose_backup(opts: &RecoverOptions, share: &Repository) -> Result<(Manifest, (String, i64))> {
    let (all, bad) = share.manifests()?;
    let Some(newest) = all.last() else {
        return Err(no_signed_backup(share, &bad));
    };
    // the list holds the manifests without their references: the one restored is read whole
    let m = match opts.backup.as_deref() {
        None | Some("latest") => share.read_manifest(&newest.name())?,
        // `resolve` words the errors
        Some(spec) => share.resolve(spec)?,
    };
    share.envelope(&m.session)?;
    share.epoch_recipients(&m.epoch)?;
    Ok((m, (newest.id.clone(), newest.time_ms)))
}

/// Copy the share's objects through `local`, adopt the signing key, open the new repository and
/// drop from it what fails its signature; check that the share did not change meanwhile (its key,
/// its id, the manifest `m`). Returns the controller, what was copied, and what was left out.
fn copy_share(
    opts: &RecoverOptions,
    share: &Repository,
    keys: &KeyRing,
    local: &dyn Backend,
    m: &Manifest,
) -> Result<(Controller, crate::replicate::ExportReport, Vec<String>)> {
    let fp = *share.key();
    // packs are not read back here: check_copy hashes every pack of the copy once restored
    let copied = crate::replicate::fetch_packs_checked_later(share.store.as_ref(), local, &|_| {})?;
    adopt_signing_key(&opts.repo, share, keys, &fp)?;
    let ctl = Controller::open(&opts.repo)?;
    if ctl.repo.key() != &fp || ctl.repo.config.repo_id != share.config.repo_id {
        return Err(Error::failed(
            "the share changed while it was copied",
            "run `cairn recover` again into a new --repo DIR",
        ));
    }
    let ignored = drop_unsigned(&ctl)?;
    // the same signed manifest, read again from the copy
    if ctl.repo.read_manifest(&m.name())? != *m {
        return Err(Error::failed(
            format!("backup {} changed on the share while it was copied", m.id),
            "run `cairn recover` again into a new --repo DIR",
        ));
    }
    Ok((ctl, copied, ignored))
}

/// Save the services as they were configured, so backups continue as before, after feeding
/// each command service's restored file to its restore command, in the restore order
/// (`--restore-after`, [`ServiceList::restore_order`]). Returns those services, in that order.
fn restore_services(ctl: &Controller, defs: &Definitions, target: &Path) -> Result<Vec<String>> {
    let mut commands = Vec::new();
    let list = ServiceList {
        services: defs.to_services(),
    };
    for s in list.restore_order() {
        if let (Some(cmd), Some(_)) = (&s.restore_command, &s.command) {
            run_restore_command(&s.name, cmd, &target.join(&s.name).join(COMMAND_OUTPUT))?;
            commands.push(s.name.clone());
        }
    }
    ctl.save_services(&list)?;
    Ok(commands)
}

/// Rebuild the index from the pack headers and check the copy's structure. A gap in the chain is
/// the share's history, not damage to the copy: added to `ignored`, not fatal.
fn check_copy(ctl: &Controller, ignored: &mut Vec<String>) -> Result<()> {
    let index = ctl.index()?;
    let mut report = crate::verify::verify(&ctl.repo, &index, None, &Progress::default())?;
    // A backup whose only hurt is the gap the chain reports for it is hurt by nothing else.
    let gaps: BTreeMap<String, String> = crate::chain::gaps(&ctl.repo.manifests_hashed()?.0)
        .into_iter()
        .collect();
    report.damaged_backups.retain(|id, what| {
        let gap = matches!(&what[..], [only] if gaps.get(id) == Some(only));
        if gap {
            ignored.push(format!("backup {id}: {}", what.join("; ")));
        }
        !gap
    });
    if !report.clean() {
        return Err(Error::corrupt(
            "the copy recovered from the share",
            format!(
                "damaged: {}",
                report
                    .damaged_objects
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(())
}

fn no_signed_backup(share: &Repository, bad: &[crate::repository::Damaged]) -> Error {
    let why = if bad.is_empty() {
        "there is no backup on it".to_string()
    } else {
        format!(
            "no backup on it is signed by this repository's key; ignored: {}",
            bad.iter()
                .map(|(n, e)| format!("{n} ({e})"))
                .collect::<Vec<_>>()
                .join("; ")
        )
    };
    Error::failed(
        format!("nothing to recover from {}: {why}", share.store.describe()),
        "check the location and the fingerprint; nothing was restored and no command was run",
    )
}

/// A warning when the newest backup is older than two backup intervals (the schedule default
/// when the old controller's schedule is unknown): a share rolled back, or backups that stopped.
pub fn staleness(newest_ms: i64, now_ms: i64) -> Option<String> {
    let every = crate::schedule::ScheduleConfig::default().backup_every;
    let age_ms = now_ms.saturating_sub(newest_ms);
    let limit = (every.as_millis() as i64).saturating_mul(2);
    (age_ms > limit).then(|| {
        format!(
            "the newest backup on the share is {} old, older than two backup intervals ({} each): the share may have been rolled back, or backups stopped; check that this is the backup you expect",
            crate::retention::format_duration(std::time::Duration::from_millis(age_ms.max(0) as u64)),
            crate::retention::format_duration(every)
        )
    })
}

/// Adopt the sealed signing key whose public half is the fingerprint and which this identity
/// can open ([`keys::sealed::unseal`]).
fn adopt_signing_key(
    root: &Path,
    share: &Repository,
    keys: &KeyRing,
    fp: &PublicKey,
) -> Result<()> {
    let local = LocalBackend::new(root);
    if let Some(key) = crate::keys::sealed::unseal(&local, &share.config.repo_id, keys, fp)? {
        return key.save(&root.join("local").join(crate::controller::SIGNING_KEY_FILE));
    }
    Err(Error::failed(
        format!(
            "the share holds no signing key with fingerprint {} that this identity can open",
            fp.fingerprint()
        ),
        "pass an identity of the repository's current recipients (`cairn key list` on the old controller shows them); nothing was restored",
    ))
}

/// Remove from the new repository the signed objects that fail their signature (they stay on
/// the share): manifests, key envelopes, and sealed signing keys of another key. Returns what was
/// left out and why.
fn drop_unsigned(ctl: &Controller) -> Result<Vec<String>> {
    let (_, bad) = ctl.repo.manifests()?;
    let mut out = Vec::new();
    for (name, e) in bad {
        ctl.repo.store.delete(&name)?;
        out.push(format!("{name}: {e}"));
    }
    for (id, env) in ctl.repo.envelopes()? {
        if let Err(e) = env {
            let name = id.object_name();
            ctl.repo.store.delete(&name)?;
            out.push(format!("{name}: {e}"));
        }
    }
    let sealed = crate::keys::sealed::list(ctl.repo.store.as_ref(), &ctl.repo.config.repo_id)?;
    for (name, key) in sealed {
        if key.is_none_or(|k| k.public != ctl.repo.key().to_bytes()) {
            ctl.repo.store.delete(&name)?;
            out.push(format!("{name}: not this repository's signing key"));
        }
    }
    Ok(out)
}

/// Take as the controller's current key epoch the newest epoch this identity can open.
fn adopt_keys(root: &Path, ctl: &Controller, keys: &KeyRing, m: &Manifest) -> Result<()> {
    let mut epochs: Vec<_> = ctl
        .repo
        .envelopes()?
        .into_iter()
        .filter_map(|(id, env)| match env {
            Ok(env) if matches!(env.kind, EnvelopeKind::Epoch { .. }) => Some((env.created_ms, id)),
            _ => None,
        })
        .collect();
    epochs.sort();
    for (_, epoch) in epochs.iter().rev() {
        if let Ok(k) = keys.epoch_key(&ctl.repo, epoch, &m.id) {
            Controller::adopt(root, *epoch, &k)?;
            return Ok(());
        }
    }
    Err(Error::WrongIdentity {
        backup: m.id.clone(),
        recipients: ctl.repo.epoch_recipients(&m.epoch)?,
    })
}

fn restore_all(
    ctl: &Controller,
    keys: &KeyRing,
    m: &Manifest,
    target: &Path,
    progress: &Progress,
) -> Result<RestoreReport> {
    let opts = RestoreOptions {
        target: target.to_path_buf(),
        service: None,
        path: None,
        overwrite: false,
    };
    restore::restore(&ctl.repo, keys, m, &opts, progress)
}

fn definitions(ctl: &Controller, keys: &KeyRing, m: &Manifest) -> Result<Definitions> {
    let locator = Locator::scan(&ctl.repo, Some(&[m.definitions]))?;
    let reader = ChunkReader::new(&ctl.repo, keys, &locator);
    Definitions::decode(&reader.read(&m.definitions, &m.id)?)
}

/// Feed a restored command-service file to its restore command. Errors name the service and the
/// exit status, never the command line (it may carry credentials); the command's own error
/// output goes to the operator's terminal (escaped, bounded), not into the job record or alerts.
fn run_restore_command(service: &str, cmd: &str, input: &Path) -> Result<()> {
    let cause = || ServiceCause::RestoreCommandFailed {
        restored_at: input.to_path_buf(),
    };
    let fail_io = |what: String, e: std::io::Error| {
        Error::service_io(service, cause(), format!("{what}: {e}"), e)
    };
    let stdin = std::fs::File::open(input)
        .map_err(|e| fail_io(format!("cannot open {}", input.display()), e))?;
    let out = crate::sys::shell(cmd)
        .stdin(stdin)
        .output()
        .map_err(|e| fail_io("its restore command could not be started".into(), e))?;
    if !out.status.success() {
        tracing::warn!(
            "service {service}'s restore command said: {}",
            crate::service::stderr_excerpt(&out.stderr)
        );
        return Err(Error::service(
            service,
            cause(),
            format!("restore: {}", crate::service::exit_cause(&out.status)),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::StorageError;

    /// The new repository's disk: stores every pack (or those `only` names) with one byte
    /// flipped in its middle (after the copy checked the share's bytes on their way).
    struct FlipsPacks {
        inner: LocalBackend,
        only: Option<Vec<String>>,
    }

    impl FlipsPacks {
        fn pass(&self, _: &str) -> std::result::Result<(), StorageError> {
            Ok(())
        }
    }

    impl Backend for FlipsPacks {
        fn describe(&self) -> String {
            self.inner.describe()
        }
        crate::backend::guarded_calls!(pass);
        fn write(&self, n: &str, d: &[u8]) -> std::result::Result<(), StorageError> {
            let mut d = d.to_vec();
            if n.starts_with("data/") && self.only.as_ref().is_none_or(|o| o.iter().any(|p| p == n))
            {
                let mid = d.len() / 2;
                d[mid] ^= 1;
            }
            self.inner.write(n, &d)
        }
        fn delete(&self, n: &str) -> std::result::Result<(), StorageError> {
            self.inner.delete(n)
        }
    }

    /// Export `t`'s repository to a share directory and recover from it onto a disk that flips a
    /// byte of every pack (or of those `only` names); the options and the recovery's error.
    fn recover_onto_a_disk_that_flips(
        t: &crate::testutil::TestRepo,
        only: Option<Vec<String>>,
    ) -> (RecoverOptions, Error) {
        let share = t.dir.path().join("share");
        std::fs::create_dir_all(&share).unwrap();
        let store = t.ctl.repo.store.as_ref();
        crate::replicate::export(store, &LocalBackend::new(&share), &|_| {}).unwrap();
        let opts = RecoverOptions {
            from: TargetConfig::new(&share.display().to_string(), None, None).unwrap(),
            repo: t.dir.path().join("new"),
            target: t.dir.path().join("restored"),
            backup: None,
            fingerprint: Some(*t.ctl.repo.key()),
        };
        let from = check_share(&opts).unwrap();
        prepare(&opts).unwrap();
        let disk = FlipsPacks {
            inner: LocalBackend::new(&opts.repo),
            only,
        };
        let e = finish_into(&opts, &from, &t.keys(), &Progress::default(), &disk).unwrap_err();
        (opts, e)
    }

    #[test]
    fn a_pack_stored_damaged_in_the_new_repository_stops_the_recovery_before_a_bad_byte_is_restored(
    ) {
        let t = crate::testutil::TestRepo::with_service("svc");
        let data = crate::testutil::bytes(5, 3 << 20);
        std::fs::write(t.src.join("f.bin"), &data).unwrap();
        crate::backup::run(&t.ctl, &Progress::default()).unwrap();
        let (opts, e) = recover_onto_a_disk_that_flips(&t, None);
        assert_eq!(e.kind(), crate::error::ErrorKind::Damage, "{e}");
        assert!(
            !opts.target.join("svc/f.bin").exists(),
            "a file was restored from a damaged pack"
        );
    }

    /// The copy is checked before any restore command runs: a damaged pack that no restored
    /// file needs (it holds only an older backup's data) still stops the recovery, and the
    /// restore commands, which would load the restored data into the services, never run.
    #[test]
    fn a_damaged_pack_no_restored_file_needs_stops_the_recovery_before_any_restore_command() {
        let t = crate::testutil::TestRepo::with_service("svc");
        let marker = t.dir.path().join("restore-command-ran");
        let mut services = t.ctl.services().unwrap();
        services
            .add(crate::service::ServiceDef {
                name: "db".into(),
                command: Some("printf dump".into()),
                restore_command: Some(format!("cat >/dev/null; touch '{}'", marker.display())),
                ..Default::default()
            })
            .unwrap();
        t.ctl.save_services(&services).unwrap();
        // the first backup's own data: 3 MiB that the second backup no longer has
        std::fs::write(t.src.join("old.bin"), crate::testutil::bytes(7, 3 << 20)).unwrap();
        crate::backup::run(&t.ctl, &Progress::default()).unwrap();
        let store = t.ctl.repo.store.as_ref();
        let old_data: Vec<String> = store
            .list("data/")
            .unwrap()
            .into_iter()
            .filter(|o| o.size > 1 << 20)
            .map(|o| o.name)
            .collect();
        assert!(!old_data.is_empty());
        std::fs::remove_file(t.src.join("old.bin")).unwrap();
        std::fs::write(t.src.join("new.txt"), b"the newest state").unwrap();
        crate::backup::run(&t.ctl, &Progress::default()).unwrap();
        let (opts, e) = recover_onto_a_disk_that_flips(&t, Some(old_data.clone()));
        assert_eq!(e.kind(), crate::error::ErrorKind::Damage, "{e}");
        assert!(e.to_string().contains(&old_data[0]), "{e}");
        // the newest backup's files were restored whole; its restore command never ran
        assert_eq!(
            std::fs::read(opts.target.join("svc/new.txt")).unwrap(),
            b"the newest state"
        );
        assert!(
            !marker.exists(),
            "a restore command ran on an unchecked copy"
        );
    }

    #[test]
    fn options_check_the_fingerprint_first_then_read_the_share_settings() {
        let fp = crate::signing::SigningKey::generate().public();
        let text = fp.fingerprint();
        let d = tempfile::tempdir().unwrap();
        let pw = d.path().join("pass");
        let req = |fingerprint| RecoverRequest {
            from: "smb://nas/backups",
            username: Some("cairn".into()),
            password_file: Some(&pw),
            allow_unencrypted: true,
            fingerprint,
            endpoint: None,
            region: None,
        };
        let new = |r| RecoverOptions::new(r, "/repo".into(), "/restore".into(), None);
        // the password file is missing too: the fingerprint is named first
        let e = new(req(Some("cairn-fp1:00"))).err().unwrap();
        assert!(
            e.to_string().contains("is not a repository fingerprint"),
            "{e}"
        );
        let e = new(req(Some(&text))).err().unwrap();
        assert!(e.to_string().contains("pass"), "{e}");
        std::fs::write(&pw, "s3cret\n").unwrap();
        let o = new(req(Some(&text))).unwrap();
        assert_eq!(o.fingerprint, Some(fp));
        assert_eq!(o.from.password.as_deref(), Some("s3cret"));
        assert!(o.from.allow_unencrypted);
        assert_eq!((o.repo, o.target), ("/repo".into(), "/restore".into()));
        assert_eq!(new(req(None)).unwrap().fingerprint, None);
    }
}
