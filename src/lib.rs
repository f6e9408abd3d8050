//! cairn: the backup controller for a private cloud's infrastructure services.
//!
//! It takes coordinated full backups of every configured service, deduplicates them
//! (FastCDC chunks named by keyed blake3), compresses (zstd) and encrypts them (XChaCha20-Poly1305
//! under per-backup session keys wrapped to age X25519 recipients) into packs, keeps an internal
//! repository and exports it to an SMB 3 share. Only the private identity can read a backup.
//!
//! The main flow:
//!
//! ```no_run
//! use cairn::{controller::Controller, crypto, progress::Progress, service::ServiceDef};
//! # fn main() -> cairn::Result<()> {
//! let (identity_text, recipient) = crypto::generate_identity();
//! let repo = std::path::Path::new("/tmp/demo-repo");
//! let ctl = Controller::init(repo, &[crypto::parse_recipient(&recipient)?])?;
//! let mut services = ctl.services()?;
//! services.add(ServiceDef { name: "identity".into(), path: Some("/etc".into()), command: None, ..Default::default() })?;
//! ctl.save_services(&services)?;
//! let committed = cairn::backup::run(&ctl, &Progress::default())?;
//! let backup = ctl.repo.read_manifest(&committed.name())?; // with its references
//! let keys = cairn::keys::KeyRing::new(crypto::Identity::parse(&identity_text, "demo")?);
//! let opts = cairn::restore::RestoreOptions { target: "/tmp/demo-restore".into(), ..Default::default() };
//! cairn::restore::restore(&ctl.repo, &keys, &backup, &opts, &Progress::default())?;
//! # Ok(()) }
//! ```
//!
//! Every object that is not named by the hash of its bytes (config, key envelopes, manifests, the
//! sealed signing key) is signed with the repository's Ed25519 key (`signing`), whose public half
//! is the repository fingerprint; `repository` returns nothing whose signature does not hold.
//!
//! Layers (each uses only those below it): `ops` (one function per operation, each a recorded
//! job with a typed report: what the CLI, `cairn serve` and any other front end call) →
//! operations (`backup`, `restore`, `verify`,
//! `replicate`, `prune`, `recover`, `jobs`, `vfs`) → `controller`, `repository`, `locator`,
//! `keys` (every key operation), `packer` (the one pack writer), `chain` → `index`, `backend`
//! → `format` → `crypto`, `signing`, `compress`, `chunker` → `object` (object kinds and names),
//! `id`, `prefix_index`, `error`.
#![warn(missing_docs)]
// Unsafe code lives in one audited module, `sys`.
#![deny(unsafe_code)]

pub mod api;
pub mod backend;
pub mod backup;
pub mod capture;
pub mod chain;
pub mod child;
pub mod chunker;
pub mod compress;
pub mod controller;
pub mod crypto;
pub mod doctor;
pub mod error;
pub mod format;
pub mod fsutil;
pub mod id;
pub mod index;
pub mod jobs;
pub mod keys;
pub mod locator;
pub mod mount;
pub mod object;
pub mod ops;
pub mod packer;
pub mod prefix_index;
pub mod progress;
pub mod prune;
pub mod recover;
pub mod remedy;
pub mod remote;
pub mod replicate;
pub mod repository;
pub mod restore;
pub mod retention;
pub mod schedule;
pub mod service;
pub mod signing;
mod sled_open;
#[allow(unsafe_code)]
pub mod sys;
pub mod target;
#[cfg(test)]
pub(crate) mod testutil;
pub mod text;
pub mod verify;
pub mod vfs;

pub use error::{Error, Result};
/// The key ring (unwrapped keys), at its old path; it lives in [`keys::ring`].
pub use keys::ring as keyring;
