mod samba;
mod smb;
