mod mount;
mod samba;
mod smb;
