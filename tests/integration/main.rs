mod cli;
mod crash;
mod harness;
mod index;
mod samba;
mod smb;
