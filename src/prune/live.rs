//! The set of live chunk ids: one sorted, deduplicated `Vec` of 32-byte ids (no per-chunk heap
//! objects), built by merging each kept manifest's refs in turn.

use crate::id::ChunkId;

/// Sorted, deduplicated chunk ids.
#[derive(Debug, Default)]
pub(crate) struct LiveSet {
    ids: Vec<ChunkId>,
}

impl LiveSet {
    /// Add `refs` (in any order, with repeats) to the set.
    pub fn merge(&mut self, mut refs: Vec<ChunkId>) {
        refs.sort_unstable();
        refs.dedup();
        if self.ids.is_empty() {
            self.ids = refs;
            return;
        }
        let old = std::mem::take(&mut self.ids);
        let mut out = Vec::with_capacity(old.len() + refs.len());
        let (mut a, mut b) = (old.into_iter().peekable(), refs.into_iter().peekable());
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x < y => a.next(),
                (Some(x), Some(y)) if x > y => b.next(),
                (Some(_), Some(_)) => {
                    b.next();
                    a.next()
                }
                (Some(_), None) => a.next(),
                (None, Some(_)) => b.next(),
                (None, None) => break,
            };
            out.extend(next);
        }
        out.shrink_to_fit();
        self.ids = out;
    }

    /// Whether a kept backup needs `id`.
    pub fn contains(&self, id: &ChunkId) -> bool {
        self.ids.binary_search(id).is_ok()
    }

    /// Number of live chunks.
    pub fn len(&self) -> usize {
        self.ids.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_is_a_sorted_union() {
        let c = |b: u8| ChunkId([b; 32]);
        let mut s = LiveSet::default();
        s.merge(vec![c(5), c(1), c(5), c(3)]);
        s.merge(vec![c(2), c(3), c(9)]);
        s.merge(vec![]);
        assert_eq!(s.ids, vec![c(1), c(2), c(3), c(5), c(9)]);
        assert_eq!(s.len(), 5);
        assert!(s.contains(&c(9)) && !s.contains(&c(4)));
    }
}
