//! The SMB worker process: `cairn __smb-worker`, started by [`super::smb_pool`]. It opens one SMB
//! connection of its own (libsmbclient, through pavao, serialises every call in a process behind
//! one lock: one process per connection is how transfers run in parallel) and serves the
//! requests of [`super::smb_wire`] that arrive on its standard input, a Unix socket whose other
//! end the starting process holds; the password arrives there too. It ends at the end of that
//! stream (the starting process closed it, or died).

use super::smb_wire::{self, Frames, Reply, Request};
use super::{Backend, SmbBackend, SmbLocation, Transport};
use std::io::{BufReader, BufWriter, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// Serve requests until the end of standard input; the process's exit code.
pub fn main() -> i32 {
    let Ok(fd) = std::io::stdin().as_fd().try_clone_to_owned() else {
        return 2;
    };
    let sock = UnixStream::from(fd);
    let Ok(w) = sock.try_clone() else { return 2 };
    let mut r = BufReader::with_capacity(super::smb::BLOCK + 64, sock);
    let mut w = BufWriter::with_capacity(64 * 1024, w);
    let backend = match hello(&mut r, &mut w) {
        Some(b) => b,
        None => return 1,
    };
    loop {
        let req: Request = match smb_wire::recv(&mut r) {
            Ok(q) => q,
            // the starting process closed the stream (or died): done
            Err(_) => return 0,
        };
        let served = match req {
            Request::Write { name, size } => write(&backend, &mut r, &mut w, &name, size),
            Request::Read { name, offset, len } => read(&backend, &mut w, &name, offset, len),
            // the object read back from the share and hashed here: only the digest is sent
            Request::Hash { name } => digest(&mut w, backend.hash_object(&name)),
            // the object copied into the local file the starting process made: only the digest
            Request::Fetch { name, size, into } => {
                digest(&mut w, backend.fetch_here(&name, size, &into))
            }
            Request::Hello { .. } => return 2,
        };
        if served.is_err() {
            return 1;
        }
    }
}

/// Read the first message and connect; the backend, or `None` once the failure has been sent.
fn hello(r: &mut impl std::io::Read, w: &mut impl Write) -> Option<SmbBackend> {
    let Ok(Request::Hello {
        version: smb_wire::VERSION,
        host,
        port,
        share,
        path,
        username,
        password,
        timeout_ms,
        allow_unencrypted,
    }) = smb_wire::recv(r)
    else {
        return None;
    };
    let loc = SmbLocation {
        host,
        port,
        share,
        path,
    };
    let transport = if allow_unencrypted {
        Transport::AllowUnencrypted
    } else {
        Transport::Encrypted
    };
    let timeout = Duration::from_millis(timeout_ms);
    match SmbBackend::in_process(&loc, &username, &password, timeout, transport) {
        Ok(b) => smb_wire::send(w, &Reply::Ok).ok().map(|()| b),
        Err(e) => {
            let _ = smb_wire::send(w, &Reply::failed(&e));
            None
        }
    }
}

/// Store the frames that follow under `name`, then answer.
fn write(
    backend: &SmbBackend,
    r: &mut impl std::io::Read,
    w: &mut impl Write,
    name: &str,
    size: u64,
) -> std::io::Result<()> {
    let mut frames = Frames::new(r);
    let res = backend.write_from(name, &mut frames, size);
    // a write that failed early leaves frames behind: read them, the next request follows them
    frames.drain()?;
    match res {
        Ok(()) => smb_wire::send(w, &Reply::Ok),
        Err(e) => smb_wire::send(w, &Reply::failed(&e)),
    }
}

/// Read what is asked and send it back.
fn read(
    backend: &SmbBackend,
    w: &mut impl Write,
    name: &str,
    offset: u64,
    len: Option<u64>,
) -> std::io::Result<()> {
    let res = match len {
        None => backend.read(name),
        Some(l) => backend.read_range(name, offset, usize::try_from(l).unwrap_or(usize::MAX)),
    };
    match res {
        Ok(bytes) => {
            smb_wire::send(
                w,
                &Reply::Data {
                    len: bytes.len() as u64,
                },
            )?;
            w.write_all(&bytes)?;
            w.flush()
        }
        Err(e) => smb_wire::send(w, &Reply::failed(&e)),
    }
}

/// Send a digest and the length it covers, or the failure.
fn digest(
    w: &mut impl Write,
    res: Result<(blake3::Hash, u64), crate::error::StorageError>,
) -> std::io::Result<()> {
    match res {
        Ok((h, len)) => smb_wire::send(
            w,
            &Reply::Digest {
                blake3: h.to_hex().to_string(),
                len,
            },
        ),
        Err(e) => smb_wire::send(w, &Reply::failed(&e)),
    }
}
