//! What an SMB server offers, asked with one SMB2 NEGOTIATE of our own before libsmbclient logs on.
//!
//! libsmbclient 4.17 asked for "encryption required" still completes the logon, unencrypted, with
//! a server whose encryption is off (it only prints "Encryption required and server doesn't
//! support SMB3 encryption - failing connect" on stdout). So cairn asks the server itself: a NEGOTIATE for SMB 3.0, 3.0.2 and 3.1.1
//! offering every AES cipher, and reads what comes back. A server offers encryption when it picks
//! a cipher in its 3.1.1 ENCRYPTION_CAPABILITIES context (or sets the ENCRYPTION capability for
//! 3.0/3.0.2); signing when its security mode has SIGNING_ENABLED. Nothing is authenticated and
//! no file is touched. The answer is hostile input: every offset is checked.

use crate::error::{StorageError, StorageErrorKind};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// SMB2 capability bit: the server supports encryption (SMB 3.0 / 3.0.2).
const CAP_ENCRYPTION: u32 = 0x40;
/// SMB2 security mode bit: signing enabled.
const SIGNING_ENABLED: u16 = 0x01;
/// Largest answer read (a NEGOTIATE response is a few hundred bytes; the security blob is small).
const MAX_RESPONSE: usize = 64 * 1024;

/// What the server said it offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offer {
    /// The dialect it chose (0x0300, 0x0302, 0x0311).
    pub dialect: u16,
    /// It can encrypt (and chose this cipher for 3.1.1; 0 when the dialect says it by capability).
    pub encryption: bool,
    /// The cipher it chose (3.1.1), 0 if none.
    pub cipher: u16,
    /// It can sign.
    pub signing: bool,
}

fn put16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}

fn put32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}

fn pad8(v: &mut Vec<u8>) {
    while v.len() % 8 != 0 {
        v.push(0);
    }
}

/// The NEGOTIATE request (SMB2 header and body, without the 4-byte transport header).
fn request() -> Vec<u8> {
    let mut m = Vec::with_capacity(256);
    m.extend_from_slice(b"\xfeSMB");
    put16(&mut m, 64); // structure size
    put16(&mut m, 0); // credit charge
    put32(&mut m, 0); // status
    put16(&mut m, 0); // command: NEGOTIATE
    put16(&mut m, 1); // credits requested
    put32(&mut m, 0); // flags
    put32(&mut m, 0); // next command
    m.extend_from_slice(&0u64.to_le_bytes()); // message id
    put32(&mut m, 0); // process id
    put32(&mut m, 0); // tree id
    m.extend_from_slice(&0u64.to_le_bytes()); // session id
    m.extend_from_slice(&[0u8; 16]); // signature
    let dialects = [0x0300u16, 0x0302, 0x0311];
    put16(&mut m, 36); // structure size
    put16(&mut m, dialects.len() as u16);
    put16(&mut m, SIGNING_ENABLED);
    put16(&mut m, 0);
    put32(&mut m, CAP_ENCRYPTION);
    m.extend_from_slice(&rand::random::<[u8; 16]>()); // client guid
    let ctx_offset_at = m.len();
    put32(&mut m, 0); // negotiate context offset, set below
    put16(&mut m, 2); // context count
    put16(&mut m, 0);
    for d in dialects {
        put16(&mut m, d);
    }
    pad8(&mut m);
    let ctx_offset = m.len() as u32;
    m[ctx_offset_at..ctx_offset_at + 4].copy_from_slice(&ctx_offset.to_le_bytes());
    // PREAUTH_INTEGRITY_CAPABILITIES: SHA-512 with a 32-byte salt.
    put16(&mut m, 1);
    put16(&mut m, 38);
    put32(&mut m, 0);
    put16(&mut m, 1);
    put16(&mut m, 32);
    put16(&mut m, 1);
    m.extend_from_slice(&rand::random::<[u8; 32]>());
    pad8(&mut m);
    // ENCRYPTION_CAPABILITIES: AES-128-GCM, AES-128-CCM, AES-256-GCM, AES-256-CCM.
    let ciphers = [2u16, 1, 4, 3];
    put16(&mut m, 2);
    put16(&mut m, 2 + 2 * ciphers.len() as u16);
    put32(&mut m, 0);
    put16(&mut m, ciphers.len() as u16);
    for c in ciphers {
        put16(&mut m, c);
    }
    m
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Parse a NEGOTIATE response (SMB2 header and body). `None` if it is not one.
pub fn parse(msg: &[u8]) -> Option<Offer> {
    if msg.get(..4)? != b"\xfeSMB" || u16_at(msg, 12)? != 0 || u32_at(msg, 8)? != 0 {
        return None;
    }
    let body = 64;
    if u16_at(msg, body)? != 65 {
        return None;
    }
    let security_mode = u16_at(msg, body + 2)?;
    let dialect = u16_at(msg, body + 4)?;
    let ctx_count = u16_at(msg, body + 6)?;
    let caps = u32_at(msg, body + 24)?;
    let mut cipher = 0;
    if dialect == 0x0311 {
        let mut at = u32_at(msg, body + 60)? as usize;
        for _ in 0..ctx_count {
            let kind = u16_at(msg, at)?;
            let len = u16_at(msg, at + 2)? as usize;
            let data = msg.get(at.checked_add(8)?..at.checked_add(8)?.checked_add(len)?)?;
            if kind == 2 && u16_at(data, 0)? >= 1 {
                cipher = u16_at(data, 2)?;
            }
            at = at.checked_add(8 + len)?.checked_add(7)? & !7;
        }
    }
    Some(Offer {
        dialect,
        encryption: cipher != 0 || (dialect != 0x0311 && caps & CAP_ENCRYPTION != 0),
        cipher,
        signing: security_mode & SIGNING_ENABLED != 0,
    })
}

/// A NEGOTIATE response as a server sends it (SMB2 header and body), for the tests and the fuzz
/// seeds: `dialect`, `caps`, signing enabled, and for 3.1.1 an ENCRYPTION_CAPABILITIES context
/// choosing `cipher` (after a PREAUTH_INTEGRITY context) when given.
#[doc(hidden)]
pub fn response(dialect: u16, caps: u32, cipher: Option<u16>) -> Vec<u8> {
    let mut m = b"\xfeSMB".to_vec();
    m.resize(64, 0);
    m[4] = 64;
    put16(&mut m, 65);
    put16(&mut m, SIGNING_ENABLED);
    put16(&mut m, dialect);
    put16(&mut m, cipher.map_or(0, |_| 2));
    m.extend_from_slice(&[0u8; 16]);
    put32(&mut m, caps);
    m.resize(64 + 60, 0);
    let off_at = m.len();
    put32(&mut m, 0);
    pad8(&mut m);
    let off = m.len() as u32;
    m[off_at..off_at + 4].copy_from_slice(&off.to_le_bytes());
    if let Some(c) = cipher {
        put16(&mut m, 1);
        put16(&mut m, 38);
        put32(&mut m, 0);
        m.extend_from_slice(&[0u8; 38]);
        pad8(&mut m);
        put16(&mut m, 2);
        put16(&mut m, 4);
        put32(&mut m, 0);
        put16(&mut m, 1);
        put16(&mut m, c);
    }
    m
}

/// Ask `host:port` what it offers. `place` names the server in errors.
pub fn ask(host: &str, port: u16, timeout: Duration, place: &str) -> Result<Offer, StorageError> {
    let unreachable =
        |detail: String| StorageError::new(StorageErrorKind::Unreachable, place, detail);
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| unreachable(format!("cannot resolve {host}: {e}")))?
        .collect();
    let mut last = format!("{host} has no address");
    let mut stream = None;
    for a in &addrs {
        // a refusal for a moment (a busy server) is not yet an unreachable one
        match super::refused::retry(
            || TcpStream::connect_timeout(a, timeout),
            std::io::Error::raw_os_error,
        ) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = e.to_string(),
        }
    }
    let mut s = stream.ok_or_else(|| unreachable(last))?;
    let io = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => unreachable(format!(
            "the server did not answer an SMB 3 NEGOTIATE within {timeout:?}"
        )),
        std::io::ErrorKind::UnexpectedEof => unreachable(
            "the server closed the connection at the SMB 3 NEGOTIATE (does it speak SMB 3?)".into(),
        ),
        _ => StorageError::from_io(place.to_string(), &e),
    };
    s.set_read_timeout(Some(timeout)).map_err(io)?;
    s.set_write_timeout(Some(timeout)).map_err(io)?;
    let req = request();
    let mut framed = (req.len() as u32).to_be_bytes().to_vec();
    framed.extend_from_slice(&req);
    s.write_all(&framed).map_err(io)?;
    let mut head = [0u8; 4];
    s.read_exact(&mut head).map_err(io)?;
    let len = u32::from_be_bytes(head) as usize;
    let not_smb = || {
        StorageError::new(
            StorageErrorKind::Io,
            place,
            "the server's answer to an SMB 3 NEGOTIATE is not one (is this an SMB 3 server?)",
        )
    };
    if head[0] != 0 || len > MAX_RESPONSE {
        return Err(not_smb());
    }
    let mut msg = vec![0u8; len];
    s.read_exact(&mut msg).map_err(io)?;
    parse(&msg).ok_or_else(not_smb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_are_read_from_the_answer() {
        let o = parse(&response(0x0311, 0, Some(2))).unwrap();
        assert!(o.encryption && o.signing && o.cipher == 2);
        assert!(!parse(&response(0x0311, 0, Some(0))).unwrap().encryption);
        assert!(
            !parse(&response(0x0311, CAP_ENCRYPTION, None))
                .unwrap()
                .encryption
        );
        assert!(
            parse(&response(0x0300, CAP_ENCRYPTION, None))
                .unwrap()
                .encryption
        );
        assert!(!parse(&response(0x0302, 0, None)).unwrap().encryption);
    }

    #[test]
    fn a_server_that_refuses_connections_at_first_is_asked_again() {
        use std::net::TcpListener;
        // a port nobody listens on (yet): connections to it are refused
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let server = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(120));
            let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
            let (mut s, _) = l.accept().unwrap();
            let mut head = [0u8; 4];
            s.read_exact(&mut head).unwrap();
            let mut req = vec![0; u32::from_be_bytes(head) as usize];
            s.read_exact(&mut req).unwrap();
            let answer = response(0x0311, 0, Some(2));
            let mut framed = (answer.len() as u32).to_be_bytes().to_vec();
            framed.extend_from_slice(&answer);
            s.write_all(&framed).unwrap();
        });
        let offer = ask("127.0.0.1", port, Duration::from_secs(5), "the test server").unwrap();
        assert!(offer.encryption && offer.signing);
        server.join().unwrap();
    }

    #[test]
    fn hostile_answers_are_refused_not_panicked_on() {
        let good = response(0x0311, 0, Some(2));
        for cut in 0..good.len() {
            let _ = parse(&good[..cut]);
        }
        let mut lie = good.clone();
        lie[64 + 60..64 + 64].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse(&lie).is_none());
        let mut lie = good.clone();
        lie[64 + 6] = 0xff;
        lie[64 + 7] = 0xff;
        let _ = parse(&lie);
        assert!(parse(b"\xffSMB").is_none());
        assert!(request().len() < 256);
    }
}
