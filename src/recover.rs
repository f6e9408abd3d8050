//! Cloud recovery: from the share and the identity alone, rebuild the controller and restore
//! every service, verified, ready to keep backing up to the same share.

use crate::backend::{Backend, LocalBackend};
use crate::controller::Controller;
use crate::error::{Error, Result};
use crate::format::envelope::EnvelopeKind;
use crate::format::manifest::{Definitions, Manifest};
use crate::keyring::KeyRing;
use crate::locator::{ChunkReader, Locator};
use crate::progress::Progress;
use crate::restore::{self, RestoreOptions, RestoreReport};
use crate::service::{ServiceList, COMMAND_OUTPUT};
use crate::target::TargetConfig;
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
    /// Restore commands run.
    pub restore_commands: Vec<String>,
    /// Seconds taken.
    pub seconds: f64,
}

/// Step 1: create the new repository directory and copy the share's objects into it.
/// Separate from [`finish`] so the caller can hold the new repository's lease in between.
pub fn prepare(opts: &RecoverOptions) -> Result<()> {
    if opts.repo.join("config").exists() {
        return Err(Error::usage(
            format!("a repository already exists at {}", opts.repo.display()),
            "recover into a new --repo DIR (the old controller's state is rebuilt from the share)",
        ));
    }
    std::fs::create_dir_all(opts.repo.join("local"))
        .map_err(|e| Error::io(opts.repo.display().to_string(), e))?;
    Ok(())
}

/// Step 2: copy, adopt the keys, restore, run restore commands, verify, configure the target.
pub fn finish(opts: &RecoverOptions, keys: &KeyRing, progress: &Progress) -> Result<RecoverReport> {
    finish_into(opts, keys, progress, &LocalBackend::new(&opts.repo))
}

/// [`finish`], copying the share's objects through `local` (the backend of `opts.repo`, or a
/// wrapper of it: the crash tests inject power cuts this way).
pub fn finish_into(
    opts: &RecoverOptions,
    keys: &KeyRing,
    progress: &Progress,
    local: &dyn Backend,
) -> Result<RecoverReport> {
    let t0 = std::time::Instant::now();
    let remote: Arc<dyn Backend> = Arc::from(crate::target::open_backend(&opts.from)?);
    let copied = crate::replicate::fetch(remote.as_ref(), local, &|_| {})?;
    let ctl = Controller::open(&opts.repo)?;
    let m = ctl
        .repo
        .resolve(opts.backup.as_deref().unwrap_or("latest"))?;
    adopt_keys(&opts.repo, &ctl, keys, &m)?;
    let restored = restore_all(&ctl, keys, &m, &opts.target, progress)?;
    // the services as they were configured, so backups continue as before
    let defs = definitions(&ctl, keys, &m)?;
    let mut commands = Vec::new();
    let services = defs.to_services();
    for s in &services {
        if let (Some(cmd), Some(_)) = (&s.restore_command, &s.command) {
            run_restore_command(
                &s.name,
                cmd,
                &opts.target.join(&s.name).join(COMMAND_OUTPUT),
            )?;
            commands.push(format!("{}: {cmd}", s.name));
        }
    }
    ctl.save_services(&ServiceList { services })?;
    // rebuild the index from the pack headers and check the copy's structure
    let index = ctl.index()?;
    let report = crate::verify::verify(&ctl.repo, &index, None, &Progress::default())?;
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
    opts.from.save(&opts.repo)?;
    crate::remote::record_exported(&opts.repo, remote.as_ref())?;
    Ok(RecoverReport {
        backup: m.id.clone(),
        services: m.services.iter().map(|s| s.name.clone()).collect(),
        files: restored.files,
        bytes: restored.bytes,
        objects_copied: copied.objects_sent,
        bytes_copied: copied.bytes_sent,
        restore_commands: commands,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// Take as the controller's current key epoch the newest epoch this identity can open.
fn adopt_keys(root: &Path, ctl: &Controller, keys: &KeyRing, m: &Manifest) -> Result<()> {
    let mut epochs = Vec::new();
    for o in ctl.repo.store.list("keys/")? {
        let Some(id) = crate::id::KeyId::from_hex(o.name.trim_start_matches("keys/")) else {
            continue;
        };
        if let Ok(env) = ctl.repo.envelope(&id) {
            if matches!(env.kind, EnvelopeKind::Epoch { .. }) {
                epochs.push((env.created_ms, id));
            }
        }
    }
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
    let wanted = std::iter::once(m.definitions).collect();
    let locator = Locator::scan(&ctl.repo, Some(&wanted))?;
    let reader = ChunkReader {
        repo: &ctl.repo,
        keys,
        locator: &locator,
    };
    Definitions::decode(&reader.read(&m.definitions, &m.id)?)
}

fn run_restore_command(service: &str, cmd: &str, input: &Path) -> Result<()> {
    let fail = |cause: String| Error::Service {
        service: service.to_string(),
        cause,
        remedy: format!(
            "the data is restored at {}; fix the restore command and run it by hand: {cmd} < {}",
            input.display(),
            input.display()
        ),
    };
    let stdin = std::fs::File::open(input)
        .map_err(|e| fail(format!("cannot open {}: {e}", input.display())))?;
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(stdin)
        .output()
        .map_err(|e| fail(format!("cannot start `{cmd}`: {e}")))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(fail(format!(
            "restore command `{cmd}` exited with {}: {}",
            out.status,
            err.trim()
        )));
    }
    Ok(())
}
