//! What an SMB worker process (`cairn __smb-worker`, [`super::smb_worker`]) and the process that
//! started it ([`super::smb_pool`]) say to each other over the worker's standard input, a Unix
//! socket pair: never the command line or the environment, which other users may read.
//!
//! A message is a little-endian `u32` length and that many bytes of JSON ([`Request`] or
//! [`Reply`]). [`Request::Write`] is followed by the object's bytes in frames: a `u32` length and
//! that many bytes, ended by an empty frame ([`END`]) or, when the source failed, by [`ABORT`].
//! [`Reply::Data`] is followed by exactly its `len` bytes. [`Request::Hash`] has the worker read
//! the object back from the share and hash it there: only the digest ([`Reply::Digest`]) crosses
//! the socket. [`Request::Fetch`] has the worker copy an object from the share into a local
//! file the starting process made: it answers with the digest of what it wrote, so the object's
//! bytes cross no socket.

use crate::error::{StorageError, StorageErrorKind};
use std::io::{Read, Write};

/// The frame length that ends an object's bytes.
pub const END: u32 = 0;
/// The frame length that says the source failed: the worker stores nothing.
pub const ABORT: u32 = u32::MAX;
/// The version of these messages: a worker answers only a [`Request::Hello`] of its own version
/// (a `cairn` binary replaced by another version meanwhile: cairn then transfers in-process).
pub const VERSION: u32 = 3;
/// The longest message (a request or reply header) accepted.
const MAX_MESSAGE: u32 = 64 * 1024;

/// What the starting process asks of a worker.
#[derive(serde::Serialize, serde::Deserialize)]
pub enum Request {
    /// The first message: connect to the share (the worker answers [`Reply::Ok`] or
    /// [`Reply::Failed`] once connected and the repository folder exists).
    Hello {
        /// [`VERSION`].
        version: u32,
        /// Server name or address.
        host: String,
        /// TCP port.
        port: Option<u16>,
        /// Share name.
        share: String,
        /// Folder on the share.
        path: String,
        /// Username (optionally `DOMAIN\user`).
        username: String,
        /// The password.
        password: String,
        /// Per-request timeout, milliseconds.
        timeout_ms: u64,
        /// Accept a server without encryption.
        allow_unencrypted: bool,
    },
    /// Store the `size` bytes that follow in frames under `name` (temporary name, then rename).
    Write {
        /// Object name.
        name: String,
        /// Its size.
        size: u64,
    },
    /// Read `len` bytes at `offset` (`None`: the whole object, as [`super::Backend::read`]).
    Read {
        /// Object name.
        name: String,
        /// Where to start.
        offset: u64,
        /// How many bytes at most.
        len: Option<u64>,
    },
    /// Read the whole object back from the share and hash it (as [`super::Backend::hash_object`]).
    Hash {
        /// Object name.
        name: String,
    },
    /// Copy the object's first `size` bytes from the share into the local file `into` (it
    /// exists; the worker neither creates nor renames it), from its start, and answer with the
    /// blake3 and count of the bytes written ([`Reply::Digest`]: fewer where the object ends
    /// sooner).
    Fetch {
        /// Object name.
        name: String,
        /// How many bytes at most.
        size: u64,
        /// The local file.
        into: std::path::PathBuf,
    },
}

/// A worker's answer.
#[derive(serde::Serialize, serde::Deserialize)]
pub enum Reply {
    /// Done.
    Ok,
    /// `len` bytes follow.
    Data {
        /// How many.
        len: u64,
    },
    /// The blake3 of the `len` bytes read back, for [`Request::Hash`], or written, for
    /// [`Request::Fetch`].
    Digest {
        /// 64 lowercase hex digits.
        blake3: String,
        /// How many bytes were hashed.
        len: u64,
    },
    /// The request failed, as the in-process backend would have said.
    Failed {
        /// The cause.
        kind: StorageErrorKind,
        /// Where.
        location: String,
        /// What happened.
        detail: String,
    },
}

impl Reply {
    /// The failure of `e`, to send back.
    pub fn failed(e: &StorageError) -> Reply {
        Reply::Failed {
            kind: e.kind,
            location: e.location.clone(),
            detail: e.detail.clone(),
        }
    }
}

/// Send one message.
pub fn send<T: serde::Serialize>(w: &mut impl Write, msg: &T) -> std::io::Result<()> {
    let body = serde_json::to_vec(msg).map_err(std::io::Error::other)?;
    let len = u32::try_from(body.len()).map_err(std::io::Error::other)?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(&body)?;
    w.flush()
}

/// Receive one message (an error at the end of the stream, or for a message that is too long or
/// not what was expected).
pub fn recv<T: serde::de::DeserializeOwned>(r: &mut impl Read) -> std::io::Result<T> {
    let len = read_u32(r)?;
    if len > MAX_MESSAGE {
        return Err(std::io::Error::other(format!(
            "a message of {len} bytes (at most {MAX_MESSAGE})"
        )));
    }
    let mut body = vec![0u8; len as usize];
    r.read_exact(&mut body)?;
    serde_json::from_slice(&body).map_err(std::io::Error::other)
}

/// Send one frame of an object's bytes (a non-empty `data`), or a marker ([`END`], [`ABORT`])
/// with an empty `data`.
pub fn send_frame(w: &mut impl Write, marker_or_len: u32, data: &[u8]) -> std::io::Result<()> {
    w.write_all(&marker_or_len.to_le_bytes())?;
    w.write_all(data)?;
    if data.is_empty() {
        w.flush()?;
    }
    Ok(())
}

/// Read a little-endian `u32`.
pub fn read_u32(r: &mut impl Read) -> std::io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

/// The object's bytes after a [`Request::Write`], read frame by frame. The source's failure
/// ([`ABORT`]) is a read error, so the backend stores nothing.
pub struct Frames<'a, R: Read> {
    r: &'a mut R,
    /// Bytes left in the current frame.
    left: u32,
    /// The end (or abort) marker has been read.
    done: bool,
}

impl<'a, R: Read> Frames<'a, R> {
    /// The frames that follow on `r`.
    pub fn new(r: &'a mut R) -> Self {
        Frames {
            r,
            left: 0,
            done: false,
        }
    }

    /// Read and drop what is left up to the end marker, so the next message starts where it
    /// should (after a write that failed before the end of its bytes).
    pub fn drain(&mut self) -> std::io::Result<()> {
        let mut sink = vec![0u8; 64 * 1024];
        loop {
            match self.read(&mut sink) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) if self.done && e.kind() == std::io::ErrorKind::Other => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }
}

impl<R: Read> Read for Frames<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        if self.left == 0 {
            match read_u32(self.r)? {
                END => {
                    self.done = true;
                    return Ok(0);
                }
                ABORT => {
                    self.done = true;
                    return Err(std::io::Error::other("the source failed"));
                }
                n => self.left = n,
            }
        }
        let want = out.len().min(self.left as usize);
        let n = self.r.read(&mut out[..want])?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.left -= n as u32;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_the_bytes_and_the_source_failure() {
        let mut wire = Vec::new();
        send(
            &mut wire,
            &Request::Write {
                name: "data/ab/x".into(),
                size: 5,
            },
        )
        .unwrap();
        send_frame(&mut wire, 3, b"abc").unwrap();
        send_frame(&mut wire, 2, b"de").unwrap();
        send_frame(&mut wire, END, b"").unwrap();
        send_frame(&mut wire, 1, b"z").unwrap();
        send_frame(&mut wire, ABORT, b"").unwrap();
        send(&mut wire, &Reply::Ok).unwrap();
        let mut r = &wire[..];
        assert!(matches!(
            recv::<Request>(&mut r).unwrap(),
            Request::Write { size: 5, .. }
        ));
        let mut got = Vec::new();
        Frames::new(&mut r).read_to_end(&mut got).unwrap();
        assert_eq!(got, b"abcde");
        let mut f = Frames::new(&mut r);
        let mut one = [0u8; 1];
        assert_eq!(f.read(&mut one).unwrap(), 1);
        assert!(f.read(&mut one).is_err(), "an abort must fail the read");
        f.drain().unwrap();
        assert!(matches!(recv::<Reply>(&mut r).unwrap(), Reply::Ok));
    }

    #[test]
    fn an_oversize_message_is_refused() {
        let mut wire = (MAX_MESSAGE + 1).to_le_bytes().to_vec();
        wire.extend(vec![b' '; 10]);
        assert!(recv::<Reply>(&mut &wire[..]).is_err());
    }
}
