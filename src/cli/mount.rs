//! `cairn mount`: every backup as a read-only filesystem, through the kernel's FUSE.
//!
//! Without `--foreground` the command starts itself again with `--foreground`, detached, waits
//! until the mount is up and returns ([`cairn::mount::detach`]); `umount MOUNTPOINT` ends it.

use super::{Global, IdentityArg};
use cairn::mount::mount_error;
use cairn::vfs::RepoTree;
use cairn::Result;
use cairn_fuse::MountOptions;
use clap::Args;
use std::path::PathBuf;

/// Mount options.
#[derive(Args, Debug)]
pub struct MountArgs {
    /// An empty directory to mount on.
    pub mountpoint: PathBuf,
    /// The identity.
    #[command(flatten)]
    pub identity: IdentityArg,
    /// Stay in the foreground until unmounted (`umount MOUNTPOINT`, Ctrl-C or SIGTERM).
    #[arg(long)]
    pub foreground: bool,
}

/// Run a mount.
pub fn run(g: &Global, a: MountArgs) -> Result<()> {
    cairn_fuse::check_mountpoint(&a.mountpoint).map_err(mount_error)?;
    if a.foreground {
        foreground(g, &a)
    } else {
        background(g, &a)
    }
}

fn foreground(g: &Global, a: &MountArgs) -> Result<()> {
    let ctl = g.controller()?;
    let keys = a.identity.require("mount")?;
    let tree = RepoTree::open(ctl.repo, keys)?;
    if !g.quiet {
        eprintln!(
            "mounted the backups of {} at {}; `umount {}` or Ctrl-C ends it",
            g.repo.display(),
            a.mountpoint.display(),
            a.mountpoint.display()
        );
    }
    cairn_fuse::mount_foreground(tree, &a.mountpoint, &MountOptions::default())
        .map_err(mount_error)?;
    cairn::mount::ended(&g.repo);
    Ok(())
}

/// The same command, detached; returns once it has mounted.
fn background(g: &Global, a: &MountArgs) -> Result<()> {
    let d = cairn::mount::detach(
        &g.repo,
        &a.mountpoint,
        std::env::args_os().skip(1).collect(),
    )?;
    if !g.quiet {
        println!(
            "mounted at {} (process {}, log {}); `umount {}` ends it",
            d.mountpoint.display(),
            d.pid,
            d.log.display(),
            d.mountpoint.display()
        );
    }
    Ok(())
}
