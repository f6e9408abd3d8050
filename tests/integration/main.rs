mod mount;
mod prune_crash;
mod samba;
mod smb;
