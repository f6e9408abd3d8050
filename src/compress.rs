//! Compression of chunk payloads: zstd, or raw when compression does not pay.
//!
//! Payload layout: one flag byte (0 = raw, 1 = zstd) followed by the body.

use std::cell::RefCell;

use crate::error::{Error, Result};

const RAW: u8 = 0;
const ZSTD: u8 = 1;

thread_local! {
    /// One compression context per worker thread, kept across chunks: creating a zstd context
    /// allocates and initialises its tables, which costs more than compressing a small chunk.
    static COMPRESSOR: RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
        const { RefCell::new(None) };
    /// The same for decompression (restore, verify, the mount).
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { RefCell::new(None) };
}

/// Compress `data` at zstd `level`, keeping it raw if that is not at least 1/32 smaller.
pub fn compress(data: &[u8], level: i32) -> Vec<u8> {
    if data.len() >= 64 {
        if let Some(out) = compress_zstd(data, level) {
            return out;
        }
    }
    let mut out = Vec::with_capacity(data.len() + 1);
    out.push(RAW);
    out.extend_from_slice(data);
    out
}

/// The zstd payload of `data` (flag byte included) written straight into its final buffer with
/// this thread's context, or `None` when it does not save at least 1/32.
fn compress_zstd(data: &[u8], level: i32) -> Option<Vec<u8>> {
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().map(|(l, _)| *l) != Some(level) {
            *slot = Some((level, zstd::bulk::Compressor::new(level).ok()?));
        }
        let (_, ctx) = slot.as_mut()?;
        let mut out = vec![0u8; 1 + zstd::zstd_safe::compress_bound(data.len())];
        out[0] = ZSTD;
        let n = ctx.compress_to_buffer(data, &mut out[1..]).ok()?;
        if n + n / 32 >= data.len() {
            return None;
        }
        out.truncate(1 + n);
        Some(out)
    })
}

/// Bulk zstd decompression with this thread's context, into a buffer of at most `max_len`
/// (of the frame's recorded size, when it records a smaller one: a group's bound is 1 MiB, its
/// plaintext a tenth of that).
fn decompress_bulk(body: &[u8], max_len: usize) -> std::io::Result<Vec<u8>> {
    let max_len = match zstd::zstd_safe::get_frame_content_size(body) {
        Ok(Some(n)) => usize::try_from(n).map_or(max_len, |n| n.min(max_len)),
        _ => max_len,
    };
    DECOMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(zstd::bulk::Decompressor::new()?);
        }
        match slot.as_mut() {
            Some(ctx) => ctx.decompress(body, max_len),
            None => zstd::bulk::decompress(body, max_len),
        }
    })
}

/// Largest output decompressed with a buffer reserved up front.
const BULK_LIMIT: usize = 4 << 20;

/// Undo [`compress`]; `max_len` bounds the output (a hostile payload cannot claim more).
pub fn decompress(payload: &[u8], max_len: usize, what: &dyn std::fmt::Display) -> Result<Vec<u8>> {
    match payload.split_first() {
        Some((&RAW, body)) if body.len() <= max_len => Ok(body.to_vec()),
        // Chunks (≤ 1 MiB) take the fast bulk path, which reserves `max_len` up front; a larger
        // claim (a huge tree, or a header that lies) streams, so memory follows the real output.
        Some((&ZSTD, body)) if max_len <= BULK_LIMIT => decompress_bulk(body, max_len)
            .map_err(|e| Error::corrupt(what.to_string(), format!("zstd: {e}"))),
        Some((&ZSTD, body)) => {
            use std::io::Read;
            let zerr = |e: std::io::Error| Error::corrupt(what.to_string(), format!("zstd: {e}"));
            let mut out = Vec::new();
            zstd::stream::read::Decoder::new(body)
                .map_err(zerr)?
                .take(max_len as u64 + 1)
                .read_to_end(&mut out)
                .map_err(zerr)?;
            if out.len() > max_len {
                return Err(Error::corrupt(
                    what.to_string(),
                    "payload larger than its recorded size",
                ));
            }
            Ok(out)
        }
        Some((&RAW, _)) => Err(Error::corrupt(
            what.to_string(),
            "payload larger than its recorded size",
        )),
        _ => Err(Error::corrupt(what.to_string(), "unknown compression flag")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_keeps_incompressible_raw() {
        let text = b"tenant subscription quota ".repeat(1000);
        let c = compress(&text, 3);
        assert_eq!(c[0], ZSTD);
        assert!(c.len() < text.len() / 10);
        assert_eq!(decompress(&c, text.len(), &"t").unwrap(), text);
        let noise = crate::testutil::bytes(1, 10000);
        let c = compress(&noise, 3);
        assert_eq!(c[0], RAW);
        assert_eq!(decompress(&c, noise.len(), &"n").unwrap(), noise);
    }

    #[test]
    fn a_reused_context_gives_the_same_bytes_as_a_fresh_one_at_every_level() {
        let text = b"certificate authority serial 0042 ".repeat(3000);
        for level in [3, 19, 3, 1] {
            let c = compress(&text, level);
            let fresh = zstd::bulk::compress(&text, level).unwrap();
            assert_eq!(&c[1..], &fresh[..], "level {level}");
            assert_eq!(decompress(&c, text.len(), &"t").unwrap(), text);
        }
    }

    #[test]
    fn hostile_payloads_are_rejected() {
        assert!(decompress(&[], 10, &"x").is_err());
        assert!(decompress(&[9, 1, 2], 10, &"x").is_err());
        assert!(decompress(&[RAW, 1, 2, 3], 2, &"x").is_err());
        let big = compress(&vec![0u8; 100_000], 3);
        assert!(decompress(&big, 1000, &"x").is_err(), "output bounded");
        // the streaming path (claims above the bulk limit) checks the bound too
        let huge = compress(&vec![7u8; 6 << 20], 3);
        assert_eq!(decompress(&huge, 6 << 20, &"x").unwrap().len(), 6 << 20);
        assert!(decompress(&huge, (6 << 20) - 1, &"x").is_err());
    }
}
