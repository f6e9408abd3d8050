//! The one integration test binary: the CLI, the operations layer, Samba, FUSE, crashes and hostile input, each in its module.
#![allow(clippy::unwrap_used)] // a test or bench: a panic is the failure report

mod api;
mod capture;
mod cli;
mod console_browser;
mod crash;
mod crash_points;
mod doctor;
mod emulators;
mod fixtures;
mod harness;
mod hostile;
mod index;
mod logs;
mod mount;
mod objstore;
mod objstore_sigpipe;
mod objstore_writers;
mod ops;
mod prune_crash;
mod samba;
mod segments;
mod serve;
mod smb;
mod smb_workers;
mod webdriver;
