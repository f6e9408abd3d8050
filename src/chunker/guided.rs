//! Chunking a file that changed since its last backup, guided by the chunks it had then.
//!
//! A large file that changed (a dump with scattered edits) is mostly made of its previous
//! chunks, in order. Where the input at the current cut holds the next previous chunk (its
//! length, and its id, computed to compare), FastCDC from here would cut exactly where it cut
//! before: every byte it looks at up to that point is the same, so it finds no earlier cut, and
//! whether it cuts at that point depends only on the 64 bytes before it and the one at it,
//! checked here ([`Cutter::cuts_at`]) as `fastcdc::v2020::cut_gear` would. The stretch is taken
//! as that chunk without cutting, and the id computed to compare is its id. Elsewhere the input
//! is cut as usual, until a chunk cut is one of the previous ones (by id): from there the
//! previous chunks guide again.
//!
//! Hashing a chunk costs less than cutting it (BLAKE3 5.0 GB/s against FastCDC's 2.0 GB/s on
//! the bench's dump, benches/RESULTS.md), so the reading thread hashes where it would have cut,
//! and the second thread only stores. The cuts are exactly those of [`super::chunk_reader`]
//! with the chunk bounds the previous chunks were cut with: the tests compare them over edits of
//! every kind. (A service's bounds are fixed at `service add`; one added again with other bounds
//! has other files-cache keys, so its old chunks never guide it: backup::cache_root.) The
//! previous chunks come from the files cache (local state); they only ever choose where to cut,
//! never an id: every id is computed from the bytes.

use super::piped::{piped, Found};
use super::{ChunkError, ChunkerParams};
use fastcdc::v2020::{cut, get_gear_with_seed, logarithm2, MASKS};
use std::collections::HashMap;
use std::hash::Hash;
use std::io::Read;

/// FastCDC's cut with the parameters of `fastcdc::v2020::FastCDC::new` (normalization level 1,
/// the unseeded gear table), and the check of one cut point.
pub(super) struct Cutter {
    min: usize,
    avg: usize,
    max: usize,
    mask_s: u64,
    mask_l: u64,
    gear: Box<[u64; 256]>,
    gear_ls: Box<[u64; 256]>,
}

impl Cutter {
    pub(super) fn new(p: ChunkerParams) -> Cutter {
        let bits = logarithm2(p.avg) as usize;
        let (gear, gear_ls) = get_gear_with_seed(0);
        Cutter {
            min: p.min as usize,
            avg: p.avg as usize,
            max: p.max as usize,
            // FastCDC::new's normalization level 1: one bit harder before the average, one
            // easier after; `valid()` bounds avg to 256..=4 MiB, so both indices are in MASKS
            mask_s: MASKS[(bits + 1).min(MASKS.len() - 1)],
            mask_l: MASKS[bits.saturating_sub(1)],
            gear,
            gear_ls,
        }
    }

    /// The length of the chunk FastCDC cuts at the start of `data` (all that is available).
    pub(super) fn first(&self, data: &[u8]) -> usize {
        let (m_s, m_l) = (self.mask_s, self.mask_l);
        cut(
            data,
            self.min,
            self.avg,
            self.max,
            m_s,
            m_l,
            m_s << 1,
            m_l << 1,
        )
        .1
    }

    /// Whether FastCDC, cutting at the start of `data` (all that is available), cuts at `l`,
    /// given that it finds no cut before `l`. Mirrors `cut_gear`: positions from `min` (rounded
    /// down to even) are checked two at a time, against the harder mask before the centre and
    /// the easier one after, up to the end of what is available (at most `max`, rounded down
    /// to even); with no cut found, the chunk ends where the available bytes do.
    pub(super) fn cuts_at(&self, data: &[u8], l: usize) -> bool {
        let mut remaining = data.len();
        if remaining <= self.min {
            return l == remaining;
        }
        let mut center = self.avg;
        if remaining > self.max {
            remaining = self.max;
        } else if remaining < center {
            center = remaining;
        }
        let first = 2 * (self.min / 2);
        let checked_end = 2 * (remaining / 2);
        if l < first || l > remaining {
            return false;
        }
        if l >= checked_end {
            return l == remaining;
        }
        let mask = if l < 2 * (center / 2) {
            self.mask_s
        } else {
            self.mask_l
        };
        // the hash before position l: bytes from `first` on, those more than 63 back shifted out
        let mut hash = 0u64;
        for &b in &data[first.max(l.saturating_sub(63))..l] {
            hash = (hash << 1).wrapping_add(self.gear[usize::from(b)]);
        }
        let b = usize::from(data[l]);
        if l % 2 == 0 {
            // cut_gear's first step of a pair: the hash shifted by two plus the shifted gear
            (hash << 2).wrapping_add(self.gear_ls[b]) & (mask << 1) == 0
        } else {
            (hash << 1).wrapping_add(self.gear[b]) & mask == 0
        }
    }
}

/// Where the previous chunks stand against the input.
struct Guide<'a, Id> {
    cutter: Cutter,
    /// The previous chunks: (id, length), in order.
    old: &'a [(Id, u32)],
    /// The first place of each previous id.
    at: HashMap<Id, usize>,
    /// The previous chunk expected at the current cut, while in step with them.
    next: Option<usize>,
    /// Chunks taken from the previous ones without cutting.
    taken: u64,
}

impl<Id: Copy + Eq + Hash> Guide<'_, Id> {
    /// The chunks of `data` (the window from the current cut; `eof`: the input ends with it),
    /// each with its id, into `out`; the bytes they cover. As `super::cut`, a chunk that reaches
    /// the end of `data` before the input ends is left for the next window.
    fn cut(
        &mut self,
        data: &[u8],
        eof: bool,
        hash: &impl Fn(&[u8]) -> Id,
        out: &mut Vec<Found<Id>>,
    ) -> usize {
        let mut pos = 0;
        while pos < data.len() {
            let rest = &data[pos..];
            if let Some(k) = self.next {
                let (id, len) = self.old[k];
                let l = len as usize;
                if l >= rest.len() && !eof {
                    break; // more input decides whether it is the chunk
                }
                if l <= rest.len() {
                    let got = hash(&rest[..l]);
                    if got == id && self.cutter.cuts_at(rest, l) {
                        out.push((pos..pos + l, got));
                        pos += l;
                        self.taken += 1;
                        self.next = (k + 1 < self.old.len()).then_some(k + 1);
                        continue;
                    }
                }
                self.next = None;
            }
            let l = self.cutter.first(rest);
            if l == 0 || (l == rest.len() && !eof) {
                break;
            }
            let got = hash(&rest[..l]);
            out.push((pos..pos + l, got));
            pos += l;
            self.next = self
                .at
                .get(&got)
                .map(|k| k + 1)
                .filter(|k| *k < self.old.len());
        }
        pos
    }
}

/// What [`chunk_reader_guided`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guided {
    /// The total length read.
    pub len: u64,
    /// The chunks taken from the previous ones without cutting.
    pub taken: u64,
}

/// Cut `reader` as [`super::chunk_reader`] does, guided by `old`, the (id, length) of the
/// chunks the same file had, and call `each(chunk, id)` on a second thread, in order. Every id
/// is `hash` of its chunk, computed on this thread.
pub fn chunk_reader_guided<R, Id, E>(
    reader: &mut R,
    p: ChunkerParams,
    buf: &mut Vec<u8>,
    old: &[(Id, u32)],
    hash: impl Fn(&[u8]) -> Id,
    each: impl FnMut(&[u8], Id) -> Result<(), E> + Send,
) -> Result<Guided, ChunkError<E>>
where
    R: Read + ?Sized,
    Id: Copy + Eq + Hash + Send,
    E: Send,
{
    let mut at = HashMap::with_capacity(old.len());
    for (k, (id, _)) in old.iter().enumerate() {
        at.entry(*id).or_insert(k);
    }
    let mut guide = Guide {
        cutter: Cutter::new(p),
        old,
        at,
        next: (!old.is_empty()).then_some(0),
        taken: 0,
    };
    let len = piped(
        reader,
        p,
        buf,
        |data, eof, out| guide.cut(data, eof, &hash, out),
        each,
    )?;
    Ok(Guided {
        len,
        taken: guide.taken,
    })
}

#[cfg(test)]
mod tests {
    use super::super::chunk_reader;
    use super::*;

    /// Small bounds: many chunks per test window.
    const SMALL: ChunkerParams = ChunkerParams {
        min: 4 << 10,
        avg: 16 << 10,
        max: 64 << 10,
    };

    fn data(len: usize, seed: u32) -> Vec<u8> {
        (0..len as u32)
            .map(|i| (i.wrapping_add(seed).wrapping_mul(2654435761) >> 9) as u8)
            .collect()
    }

    fn id(c: &[u8]) -> [u8; 32] {
        *blake3::hash(c).as_bytes()
    }

    fn plain(d: &[u8], p: ChunkerParams) -> Vec<([u8; 32], u32)> {
        let mut out = Vec::new();
        chunk_reader::<_, ()>(&mut &d[..], p, &mut Vec::new(), |c| {
            out.push((id(c), c.len() as u32));
            Ok(())
        })
        .unwrap();
        out
    }

    /// The chunks of `d` guided by `old`, and how many were hashed more than once.
    fn guided(d: &[u8], p: ChunkerParams, old: &[([u8; 32], u32)]) -> (Vec<([u8; 32], u32)>, u64) {
        let hashed = std::sync::atomic::AtomicU64::new(0);
        let mut out = Vec::new();
        let hash = |c: &[u8]| {
            hashed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            id(c)
        };
        let g =
            chunk_reader_guided::<_, _, ()>(&mut &d[..], p, &mut Vec::new(), old, hash, |c, i| {
                assert_eq!(i, id(c), "an id that is not its chunk's");
                out.push((i, c.len() as u32));
                Ok(())
            })
            .unwrap();
        assert_eq!(g.len, d.len() as u64);
        assert!(g.taken <= out.len() as u64);
        let extra = hashed.into_inner() - out.len() as u64;
        (out, extra)
    }

    /// Edits of every kind to `d`, at scattered places.
    fn edits(d: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
        let n = d.len();
        let mut replaced = d.to_vec();
        for i in (n / 7..n).step_by(n / 5 + 1) {
            replaced[i..(i + 300).min(n)].fill(0xa5);
        }
        let mut inserted = d.to_vec();
        for (k, i) in [n / 3, n / 2, 4 * n / 5].into_iter().enumerate() {
            let at = i + k * 1000;
            inserted.splice(at..at, data(1000 + k, 99));
        }
        let mut deleted = d.to_vec();
        deleted.drain(n / 4..n / 4 + 5000);
        deleted.drain(n / 2..n / 2 + 17);
        let mut byte = d.to_vec();
        byte[n / 2] ^= 1;
        let mut grown = d.to_vec();
        grown.extend(data(200_000, 7));
        vec![
            ("unchanged", d.to_vec()),
            ("replaced", replaced),
            ("inserted", inserted),
            ("deleted", deleted),
            ("one byte", byte),
            ("grown", grown),
            ("truncated", d[..n - 123_457].to_vec()),
            ("cut in the middle", d[n / 2..].to_vec()),
            ("empty", Vec::new()),
            ("other", data(n, 12345)),
        ]
    }

    #[test]
    fn guided_cuts_are_those_of_plain_chunking_after_any_edit() {
        let params = [
            SMALL,
            // odd bounds: the rounding of cut_gear's positions
            ChunkerParams {
                min: 1001,
                avg: 4099,
                max: 16411,
            },
            ChunkerParams::default(),
        ];
        for p in params {
            let before = data(9 << 20, 1);
            let old = plain(&before, p);
            for (what, after) in edits(&before) {
                let want = plain(&after, p);
                let (got, _) = guided(&after, p, &old);
                assert!(got == want, "{what}, {p:?}: cuts differ");
            }
        }
    }

    #[test]
    fn guided_cuts_of_repetitive_input_are_those_of_plain_chunking() {
        // cuts forced at the maximum (all zero), and short repeating patterns
        let p = ChunkerParams {
            min: 1 << 10,
            avg: 4 << 10,
            max: 16 << 10,
        };
        let mut d = vec![0u8; 3 << 20];
        d.extend((0..3u32 << 20).map(|i| (i % 251) as u8));
        let old = plain(&d, p);
        for (what, after) in edits(&d) {
            let (got, _) = guided(&after, p, &old);
            assert!(got == plain(&after, p), "{what}: cuts differ");
        }
    }

    #[test]
    fn unchanged_stretches_are_hashed_once_and_not_cut() {
        let p = SMALL;
        let before = data(8 << 20, 3);
        let old = plain(&before, p);
        let (_, extra) = guided(&before, p, &old);
        assert_eq!(extra, 0, "an unchanged file is hashed once per chunk");
        // one edit costs a hash of the chunk it changed, and a few at window ends
        let mut after = before.clone();
        after[4 << 20] ^= 0xff;
        let (got, extra) = guided(&after, p, &old);
        assert!(extra <= 3, "{extra} chunks hashed twice");
        let kept = got.iter().filter(|c| old.contains(c)).count();
        assert!(kept + 2 >= old.len(), "{kept} of {} chunks kept", old.len());
    }

    #[test]
    fn previous_chunks_that_lie_are_only_hints() {
        // a previous list with wrong ids and lengths (a stale or damaged cache) changes nothing
        let p = SMALL;
        let d = data(3 << 20, 5);
        let want = plain(&d, p);
        let lies: Vec<([u8; 32], u32)> = want
            .iter()
            .enumerate()
            .map(|(k, (i, l))| match k % 3 {
                0 => ([k as u8; 32], *l),
                1 => (*i, l + 1),
                _ => (*i, u32::MAX),
            })
            .collect();
        let (got, _) = guided(&d, p, &lies);
        assert!(got == want, "cuts differ");
    }

    #[test]
    fn the_cut_check_agrees_with_fastcdc_at_every_position() {
        for p in [
            ChunkerParams {
                min: 64,
                avg: 256,
                max: 1024,
            },
            ChunkerParams {
                min: 333,
                avg: 1111,
                max: 3001,
            },
        ] {
            let c = Cutter::new(p);
            for seed in 0..200 {
                for len in [50usize, 400, 1500, 5000] {
                    let d = data(len, seed);
                    let l = c.first(&d);
                    let plain = fastcdc::v2020::FastCDC::new(&d, p.min, p.avg, p.max)
                        .next()
                        .map_or(0, |ch| ch.length);
                    assert_eq!(l, plain, "seed {seed} len {len}");
                    assert!(c.cuts_at(&d, l), "seed {seed} len {len}: the cut at {l}");
                    // no position before the cut is one
                    assert!(
                        (0..l).all(|q| !c.cuts_at(&d, q)),
                        "seed {seed} len {len}: a cut before {l}"
                    );
                }
            }
        }
    }
}
