mod cli;
mod harness;
mod samba;
mod smb;
