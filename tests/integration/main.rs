mod cli;
mod harness;
mod index;
mod samba;
mod smb;
