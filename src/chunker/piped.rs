//! Chunking a large input on two threads: this one reads and cuts, a second one takes each
//! window's chunks (hashing and storing them, in the backup) while the next window is read.
//!
//! A large file's chunks are cut, hashed and looked up one after the other on the thread that
//! reads the file. With small chunks, which dumps use (FORMAT.md section 16), few chunks are new,
//! so there is little compression to keep the other core busy: `perf` of a backup of the bench's
//! 570 MB dump at 16K chunks put 40 % of the samples in the cut, 27 % in the chunk id hash and 11
//! % in the read, all on the reading thread (benches/RESULTS.md). Handing the hash to another
//! thread a window at a time splits that work over two cores without moving a cut: the cuts are
//! made exactly as by [`super::chunk_reader`], and `each` sees the chunks in the same order.

use super::{cut, fill, new_window, window_len, ChunkError, ChunkerParams};
use std::io::Read;
use std::ops::Range;

/// Files at least this large are chunked with [`chunk_reader_piped`]: several windows, so the
/// two threads overlap for most of the file, against one thread started per file.
pub const PIPED_MIN: u64 = 16 << 20;

/// Windows in use: one being cut, and up to two handed on (one at the other thread, one waiting
/// for it), so that a window slow to hash and store (new chunks) and one quick (known chunks)
/// even out instead of each stalling one thread.
const WINDOWS: usize = 3;

/// A chunk found in a window: its range, and what the cutting computed about it (its id, when
/// guided; nothing, `()`, when cut plainly).
pub(super) type Found<Id> = (Range<usize>, Id);

/// A window handed to the second thread: its bytes and the chunks cut from them.
struct Cut<Id> {
    window: Vec<u8>,
    chunks: Vec<Found<Id>>,
}

/// Cut `reader` as [`super::chunk_reader`] does, calling `each(chunk)` on a second thread, in
/// order, while this thread reads and cuts the next window. Returns the total length read.
///
/// Up to [`WINDOWS`] windows are in use; `buf` is the first and is left holding one of them. A
/// failure of `each` stops the reading at the next window; a read failure lets the chunks
/// already cut be handed on, then is returned.
pub fn chunk_reader_piped<R: Read + ?Sized, E: Send>(
    reader: &mut R,
    p: ChunkerParams,
    buf: &mut Vec<u8>,
    mut each: impl FnMut(&[u8]) -> Result<(), E> + Send,
) -> Result<u64, ChunkError<E>> {
    let cutting = |data: &[u8], eof: bool, out: &mut Vec<Found<()>>| {
        let Ok(consumed) = cut(data, eof, p, |r| {
            out.push((r, ()));
            Ok::<(), std::convert::Infallible>(())
        });
        consumed
    };
    piped(reader, p, buf, cutting, move |c, ()| each(c))
}

/// Read `reader` window by window; `cutting(data, eof, found)` finds the chunks of each (as
/// [`cut`] does: a chunk reaching the end of `data` before the input ends is left for the next
/// window) and says how many bytes they cover; `each(chunk, id)` takes them on a second
/// thread, in order. Returns the total length read.
pub(super) fn piped<R: Read + ?Sized, Id: Send, E: Send>(
    reader: &mut R,
    p: ChunkerParams,
    buf: &mut Vec<u8>,
    mut cutting: impl FnMut(&[u8], bool, &mut Vec<Found<Id>>) -> usize,
    each: impl FnMut(&[u8], Id) -> Result<(), E> + Send,
) -> Result<u64, ChunkError<E>> {
    let window = window_len(p);
    let mut cur = std::mem::take(buf);
    if cur.len() < window {
        cur = new_window(window);
    }
    std::thread::scope(|s| {
        // one window being cut, the rest waiting for or at the other thread
        let (hand, work) = crossbeam_channel::bounded::<Cut<Id>>(WINDOWS - 2);
        let (give_back, returned) = crossbeam_channel::bounded::<Vec<u8>>(WINDOWS - 1);
        let worker = s.spawn(move || take_chunks(work, give_back, each));
        let mut made = 1;
        let (mut filled, mut eof, mut total) = (0usize, false, 0u64);
        let read = loop {
            if let Err(e) = fill(reader, &mut cur[..window], &mut filled, &mut eof) {
                break Err(e);
            }
            if filled == 0 {
                break Ok(());
            }
            let mut chunks = Vec::new();
            let consumed = cutting(&cur[..filled], eof, &mut chunks);
            let mut next = match returned.try_recv() {
                Ok(w) => w,
                Err(_) if made < WINDOWS => {
                    made += 1;
                    new_window(window)
                }
                // the other thread gives a window back once it is done with it, or has stopped
                Err(_) => match returned.recv() {
                    Ok(w) => w,
                    Err(_) => break Ok(()),
                },
            };
            next[..filled - consumed].copy_from_slice(&cur[consumed..filled]);
            let done = std::mem::replace(&mut cur, next);
            if hand
                .send(Cut {
                    window: done,
                    chunks,
                })
                .is_err()
            {
                break Ok(()); // `each` failed: its error is the one to return
            }
            total += consumed as u64;
            filled -= consumed;
            if eof && filled == 0 {
                break Ok(());
            }
        };
        drop(hand);
        let taken = match worker.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        *buf = cur;
        taken.map_err(ChunkError::Callback)?;
        read.map_err(ChunkError::Read)?;
        Ok(total)
    })
}

/// The second thread: `each` on every chunk of every window handed on, then the window back.
fn take_chunks<Id, E>(
    work: crossbeam_channel::Receiver<Cut<Id>>,
    give_back: crossbeam_channel::Sender<Vec<u8>>,
    mut each: impl FnMut(&[u8], Id) -> Result<(), E>,
) -> Result<(), E> {
    for Cut { window, chunks } in work {
        for (r, id) in chunks {
            each(&window[r], id)?;
        }
        // the reader may have finished and not want it back
        let _ = give_back.try_send(window);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::chunk_reader;
    use super::*;

    /// A reader that hands out at most `step` bytes per read and can fail after `fail_at`.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
        fail_at: Option<usize>,
        given: usize,
    }

    impl<'a> Trickle<'a> {
        fn new(data: &'a [u8], step: usize, fail_at: Option<usize>) -> Self {
            Trickle {
                data,
                step,
                fail_at,
                given: 0,
            }
        }
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            if self.fail_at.is_some_and(|f| self.given >= f) {
                return Err(std::io::Error::other("disk gone"));
            }
            let n = out.len().min(self.data.len()).min(self.step);
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            self.given += n;
            Ok(n)
        }
    }

    fn data(len: u32) -> Vec<u8> {
        (0..len)
            .map(|i| (i.wrapping_mul(2654435761) >> 9) as u8)
            .collect()
    }

    fn serial(data: &[u8], p: ChunkerParams) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        chunk_reader::<_, ()>(&mut &data[..], p, &mut Vec::new(), |c| {
            out.push(c.to_vec());
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn cuts_and_order_are_those_of_one_thread_for_every_window_boundary() {
        let p = ChunkerParams {
            min: 4 << 10,
            avg: 16 << 10,
            max: 64 << 10,
        };
        // several windows (4 MiB each), one ending exactly at a window's end, and the empty input
        for len in [0u32, 1, 100_000, 4 << 20, (4 << 20) + 1, 13_000_017] {
            let d = data(len);
            let want = serial(&d, p);
            for step in [7777, 1 << 20, usize::MAX] {
                let mut got = Vec::new();
                let mut buf = Vec::new();
                let mut r = Trickle::new(&d, step, None);
                let n = chunk_reader_piped::<_, ()>(&mut r, p, &mut buf, |c| {
                    got.push(c.to_vec());
                    Ok(())
                })
                .unwrap();
                assert_eq!(n, u64::from(len));
                assert!(got == want, "len {len} step {step}: cuts differ");
                assert!(buf.len() >= 4 << 20, "the window is kept for the next file");
            }
        }
    }

    #[test]
    fn a_failing_callback_stops_the_read_and_its_error_is_returned() {
        let p = ChunkerParams {
            min: 1 << 10,
            avg: 4 << 10,
            max: 16 << 10,
        };
        let d = data(40 << 20);
        let mut r = Trickle::new(&d, 1 << 20, None);
        let mut seen = 0;
        let e = chunk_reader_piped(&mut r, p, &mut Vec::new(), |_| {
            seen += 1;
            if seen == 10 {
                Err("store full")
            } else {
                Ok(())
            }
        });
        assert!(matches!(e, Err(ChunkError::Callback("store full"))));
        assert_eq!(seen, 10, "no chunk after the failure");
        assert!(
            r.given < d.len(),
            "reading stopped early ({} of {} bytes read)",
            r.given,
            d.len()
        );
    }

    #[test]
    fn a_read_error_is_returned_after_the_chunks_cut_before_it() {
        let p = ChunkerParams {
            min: 1 << 10,
            avg: 4 << 10,
            max: 16 << 10,
        };
        let d = data(20 << 20);
        let mut r = Trickle::new(&d, 1 << 20, Some(9 << 20));
        let mut bytes = 0;
        let e = chunk_reader_piped::<_, ()>(&mut r, p, &mut Vec::new(), |c| {
            bytes += c.len();
            Ok(())
        });
        match e {
            Err(ChunkError::Read(io)) => assert_eq!(io.to_string(), "disk gone"),
            other => panic!("{:?}", other.map_err(|_| ())),
        }
        assert!(bytes > 0 && bytes < 9 << 20, "{bytes} bytes handed on");
        assert_eq!(
            bytes,
            serial(&d, p)
                .iter()
                .map(Vec::len)
                .scan(0, |s, l| {
                    *s += l;
                    Some(*s)
                })
                .take_while(|&s| s <= bytes)
                .last()
                .unwrap_or(0),
            "whole chunks, in order, up to a cut"
        );
    }
}
