mod cli;
mod crash;
mod harness;
mod index;
mod mount;
mod prune_crash;
mod samba;
mod smb;
