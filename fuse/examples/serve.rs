//! Mounts a small in-memory tree in the foreground until `umount` or Ctrl-C, like
//! `cairn mount --foreground` would: `cargo run -p cairn-fuse --example serve -- /mnt/x`
#![allow(clippy::unwrap_used)] // a test or bench: a panic is the failure report

#[path = "../tests/common/mod.rs"]
mod common;

use cairn_fuse::{MountOptions, ROOT_INO};
use common::{pseudo_random, MemTree};

fn main() {
    let Some(mp) = std::env::args_os().nth(1) else {
        eprintln!("usage: serve MOUNTPOINT");
        std::process::exit(2);
    };
    let mut t = MemTree::new();
    let b = t.dir(ROOT_INO, "backup-1");
    let svc = t.dir(b, "svc");
    t.file(svc, "large.img", pseudo_random(48 << 20, 3));
    t.file(svc, "zero-length", Vec::new());
    t.broken_file(svc, "damaged.bin", 4096);
    t.symlink(ROOT_INO, "latest", "backup-1");
    match cairn_fuse::mount_foreground(t, mp.as_ref(), &MountOptions::default()) {
        Ok(()) => eprintln!("unmounted"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
