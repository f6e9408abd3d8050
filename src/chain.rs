//! The signed chain of manifests, checked by verify: rollback and deletion are visible.
//!
//! Each manifest names its predecessor (id and blake3 of its bytes) and counts up a sequence
//! number. Retention keeps a contiguous newest suffix of the chain (it forgets the oldest
//! backups), so among the valid manifests present, every one but the oldest must find its
//! predecessor present, with the same bytes and the sequence number one below its own. Anything
//! else is a gap: a backup deleted from the middle, or one replaced by another signed manifest.
//! (Deleting the newest backups leaves no gap; `recover` shows the newest backup's age for that.)

use crate::repository::Hashed;
use std::collections::HashMap;

/// The backups whose link to their predecessor is broken: `(backup id, what is wrong)`.
/// `manifests` are the valid (signed) manifests, oldest first.
pub fn gaps(manifests: &[Hashed]) -> Vec<(String, String)> {
    let by_id: HashMap<&str, &Hashed> = manifests.iter().map(|h| (h.0.id.as_str(), h)).collect();
    let mut out = Vec::new();
    for (m, _) in manifests.iter().skip(1) {
        let Some(prev) = &m.prev else {
            out.push((
                m.id.clone(),
                "chain gap: it starts a new chain although older backups are present (a replaced or rolled-back history)".into(),
            ));
            continue;
        };
        match by_id.get(prev.id.as_str()) {
            None => out.push((
                m.id.clone(),
                format!(
                    "chain gap: its predecessor {} is missing (a backup was deleted from the middle of the history)",
                    prev.id
                ),
            )),
            Some((p, hash)) if *hash != prev.hash || p.seq.checked_add(1) != Some(m.seq) => {
                out.push((
                    m.id.clone(),
                    format!(
                        "chain gap: its predecessor {} is not the one it was written after (different bytes or sequence)",
                        prev.id
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::manifest::{Manifest, Prev};

    fn chain(n: usize) -> Vec<Hashed> {
        let mut out: Vec<Hashed> = Vec::new();
        for i in 0..n {
            let prev = out.last().map(|(m, h)| Prev {
                id: m.id.clone(),
                hash: *h,
            });
            let m = Manifest {
                seq: i as u64 + 1,
                prev,
                time_ms: i as i64,
                ..Manifest::sample([0; 16], &format!("20261122T0536{i:02}.000Z"))
            };
            out.push((m, [i as u8 + 1; 32]));
        }
        out
    }

    #[test]
    fn an_intact_chain_and_a_pruned_oldest_end_have_no_gap() {
        let c = chain(5);
        assert!(gaps(&c).is_empty());
        assert!(gaps(&c[2..]).is_empty());
        assert!(gaps(&[]).is_empty());
    }

    #[test]
    fn a_missing_middle_a_changed_predecessor_and_a_restarted_chain_are_gaps() {
        let mut c = chain(5);
        c.remove(2);
        let g = gaps(&c);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].0, c[2].0.id);
        assert!(g[0].1.contains("chain gap") && g[0].1.contains("missing"));

        let mut c = chain(3);
        c[1].1 = [99; 32];
        assert_eq!(gaps(&c).len(), 1);

        let mut c = chain(3);
        c[2].0.prev = None;
        assert_eq!(gaps(&c).len(), 1);

        let mut c = chain(3);
        c[2].0.seq = 9;
        assert_eq!(gaps(&c).len(), 1);
    }
}
