//! Content-defined chunking (FastCDC, 2020 variant).

use serde::{Deserialize, Serialize};
use std::io::Read;

mod guided;
mod piped;

pub use guided::{chunk_reader_guided, Guided};
pub use piped::{chunk_reader_piped, PIPED_MIN};

/// Chunk size bounds, recorded in the repository's config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkerParams {
    /// Minimum chunk size in bytes.
    pub min: u32,
    /// Average (target) chunk size in bytes.
    pub avg: u32,
    /// Maximum chunk size in bytes.
    pub max: u32,
}

impl Default for ChunkerParams {
    /// 64 KiB / 256 KiB / 1 MiB: see docs/FORMAT.md for the measurement behind the choice.
    fn default() -> Self {
        ChunkerParams {
            min: 64 * 1024,
            avg: 256 * 1024,
            max: 1024 * 1024,
        }
    }
}

/// Smallest average a service may choose (`service add --chunk-size`).
pub const MIN_SERVICE_AVG: u32 = 1 << 10;
/// Largest average a service may choose.
pub const MAX_SERVICE_AVG: u32 = 4 << 20;
/// The average chunk a `command` service gets when `service add` is given no `--chunk-size`:
/// dumps change in scattered small edits, which a small average keeps small (measured in
/// docs/FORMAT.md section 16).
pub const COMMAND_DEFAULT_AVG: u32 = 8 << 10;

impl ChunkerParams {
    /// The bounds of a service's `--chunk-size AVG`: min AVG/4, max 4 × AVG (the ratio of the
    /// repository default). `None` if AVG is outside [`MIN_SERVICE_AVG`]..=[`MAX_SERVICE_AVG`].
    pub fn from_avg(avg: u32) -> Option<Self> {
        let p = ChunkerParams {
            min: avg / 4,
            avg,
            max: avg.checked_mul(4)?,
        };
        ((MIN_SERVICE_AVG..=MAX_SERVICE_AVG).contains(&avg) && p.valid()).then_some(p)
    }

    /// Whether the bounds are usable (and within what fastcdc accepts).
    pub fn valid(&self) -> bool {
        (64..=1 << 20).contains(&self.min)
            && (256..=4 << 20).contains(&self.avg)
            && (1024..=16 << 20).contains(&self.max)
            && self.min <= self.avg
            && self.avg <= self.max
    }
}

/// Why chunking stopped early.
#[derive(Debug)]
pub enum ChunkError<E> {
    /// Reading the input failed.
    Read(std::io::Error),
    /// The callback refused a chunk.
    Callback(E),
}

/// Cut `reader` into chunks, calling `each(chunk)` in order; returns the total length read.
///
/// `buf` is a reusable window (kept between calls, so small files cost no allocation). Chunk
/// boundaries are exactly those of FastCDC over the whole stream: a chunk that reaches the end
/// of the window before the end of input is carried over and cut again with more data.
/// [`chunk_reader_piped`] makes the same cuts with `each` on a second thread.
pub fn chunk_reader<R: Read + ?Sized, E>(
    reader: &mut R,
    p: ChunkerParams,
    buf: &mut Vec<u8>,
    mut each: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<u64, ChunkError<E>> {
    let window = window_len(p);
    if buf.len() < window {
        *buf = new_window(window);
    }
    let (mut filled, mut eof, mut total) = (0usize, false, 0u64);
    loop {
        fill(reader, &mut buf[..window], &mut filled, &mut eof).map_err(ChunkError::Read)?;
        if filled == 0 {
            return Ok(total);
        }
        let consumed =
            cut(&buf[..filled], eof, p, |r| each(&buf[r])).map_err(ChunkError::Callback)?;
        total += consumed as u64;
        if eof && consumed == filled {
            return Ok(total);
        }
        buf.copy_within(consumed..filled, 0);
        filled -= consumed;
    }
}

/// The bytes a window holds: at least four maximum chunks, so that every refill cuts some.
fn window_len(p: ChunkerParams) -> usize {
    (p.max as usize * 4).max(4 << 20)
}

/// A fresh zeroed window (calloc: no byte-by-byte fill, which costs a debug build milliseconds
/// per call); its old bytes are never read.
fn new_window(len: usize) -> Vec<u8> {
    vec![0u8; len]
}

/// Read into `buf[*filled..]` until it is full or the input ends (`*eof`).
fn fill<R: Read + ?Sized>(
    reader: &mut R,
    buf: &mut [u8],
    filled: &mut usize,
    eof: &mut bool,
) -> std::io::Result<()> {
    while !*eof && *filled < buf.len() {
        match reader.read(&mut buf[*filled..]) {
            Ok(0) => *eof = true,
            Ok(n) => *filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Call `each` with the range of every chunk FastCDC cuts from `data`, in order, and return the
/// bytes they cover. Unless the input ended (`eof`), a chunk reaching the end of `data` is not
/// cut: more input may move its end.
fn cut<E>(
    data: &[u8],
    eof: bool,
    p: ChunkerParams,
    mut each: impl FnMut(std::ops::Range<usize>) -> Result<(), E>,
) -> Result<usize, E> {
    let mut consumed = 0;
    for c in fastcdc::v2020::FastCDC::new(data, p.min, p.avg, p.max) {
        let end = c.offset + c.length;
        if end == data.len() && !eof {
            break;
        }
        each(c.offset..end)?;
        consumed = end;
    }
    Ok(consumed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_input_and_resynchronise_after_an_edit() {
        let p = ChunkerParams {
            min: 1024,
            avg: 4096,
            max: 16384,
        };
        let mut data: Vec<u8> = (0..400_000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 7) as u8)
            .collect();
        let mut buf = Vec::new();
        let mut a: Vec<Vec<u8>> = Vec::new();
        let n = chunk_reader::<_, ()>(&mut &data[..], p, &mut buf, |c| {
            a.push(c.to_vec());
            Ok(())
        })
        .unwrap();
        assert_eq!(n, data.len() as u64);
        assert_eq!(a.concat(), data);
        assert!(a.iter().all(|c| c.len() <= 16384));
        data[200_000] ^= 0xff;
        let mut b: Vec<Vec<u8>> = Vec::new();
        chunk_reader::<_, ()>(&mut &data[..], p, &mut buf, |c| {
            b.push(c.to_vec());
            Ok(())
        })
        .unwrap();
        let same = b.iter().filter(|c| a.contains(c)).count();
        assert!(
            same + 3 >= a.len(),
            "an edit changes only nearby chunks ({same} of {} kept)",
            a.len()
        );
    }

    #[test]
    fn window_carry_over_matches_one_pass() {
        // a small reader forces many refills; boundaries must equal the in-memory cut
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let n = out.len().min(self.0.len()).min(7777);
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let p = ChunkerParams {
            min: 1024,
            avg: 4096,
            max: 8192,
        };
        let data: Vec<u8> = (0..3_000_000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 9) as u8)
            .collect();
        let want: Vec<usize> = fastcdc::v2020::FastCDC::new(&data, p.min, p.avg, p.max)
            .map(|c| c.length)
            .collect();
        let mut got = Vec::new();
        let mut buf = Vec::new();
        chunk_reader::<_, ()>(&mut Trickle(&data), p, &mut buf, |c| {
            got.push(c.len());
            Ok(())
        })
        .unwrap();
        assert_eq!(got, want);
    }

    #[test]
    fn default_params_are_valid() {
        assert!(ChunkerParams::default().valid());
        assert!(!ChunkerParams {
            min: 10,
            avg: 5,
            max: 1
        }
        .valid());
    }
}
