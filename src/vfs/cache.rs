//! A byte-budgeted LRU of decrypted chunks (file data and trees), with at most one load of a
//! chunk in flight: a reader asking for a chunk a prefetch thread is loading waits for it.

use crate::id::ChunkId;
use cairn_fuse::Errno;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// What a load gives: the plaintext, shared, or the errno to report.
pub(crate) type Loaded = Result<Arc<Vec<u8>>, Errno>;

/// One load in flight; waiters block on `cv` until `done` is set.
#[derive(Default)]
struct Slot {
    done: Mutex<Option<Loaded>>,
    cv: Condvar,
}

#[derive(Default)]
struct Inner {
    map: HashMap<ChunkId, (Arc<Vec<u8>>, u64)>,
    order: BTreeMap<u64, ChunkId>,
    tick: u64,
    bytes: usize,
    loading: HashMap<ChunkId, Arc<Slot>>,
}

/// The cache. Entries larger than the budget are never kept.
pub(crate) struct ChunkCache {
    inner: Mutex<Inner>,
    budget: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl ChunkCache {
    /// A cache holding at most `budget` bytes of plaintext.
    pub(crate) fn new(budget: usize) -> Self {
        ChunkCache {
            inner: Mutex::default(),
            budget,
        }
    }

    /// Whether `id` is cached or being loaded.
    pub(crate) fn has(&self, id: &ChunkId) -> bool {
        let g = lock(&self.inner);
        g.map.contains_key(id) || g.loading.contains_key(id)
    }

    /// Whether `id` is cached (loaded, not in flight).
    #[cfg(test)]
    pub(crate) fn holds(&self, id: &ChunkId) -> bool {
        lock(&self.inner).map.contains_key(id)
    }

    /// Bytes currently cached.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        lock(&self.inner).bytes
    }

    /// The chunk from the cache, or loaded by `load` (once, however many threads ask).
    /// Failures are not cached: the next call loads again.
    pub(crate) fn get_or_load(
        &self,
        id: &ChunkId,
        load: impl FnOnce() -> Result<Vec<u8>, Errno>,
    ) -> Loaded {
        let slot = {
            let mut g = lock(&self.inner);
            g.tick += 1;
            let tick = g.tick;
            if let Some((data, old)) = g.map.get_mut(id) {
                let data = data.clone();
                let old = std::mem::replace(old, tick);
                g.order.remove(&old);
                g.order.insert(tick, *id);
                return Ok(data);
            }
            if let Some(slot) = g.loading.get(id) {
                let slot = slot.clone();
                drop(g);
                return wait(&slot);
            }
            let slot = Arc::new(Slot::default());
            g.loading.insert(*id, slot.clone());
            slot
        };
        let mut guard = LoadGuard {
            cache: self,
            id: *id,
            slot,
            result: None,
        };
        let r = load().map(Arc::new);
        guard.result = Some(r.clone());
        drop(guard);
        r
    }

    fn insert(&self, g: &mut Inner, id: ChunkId, data: Arc<Vec<u8>>) {
        if data.len() > self.budget || g.map.contains_key(&id) {
            return;
        }
        g.tick += 1;
        let tick = g.tick;
        g.bytes += data.len();
        g.map.insert(id, (data, tick));
        g.order.insert(tick, id);
        while g.bytes > self.budget {
            let Some((_, old)) = g.order.pop_first() else {
                break;
            };
            if let Some((d, _)) = g.map.remove(&old) {
                g.bytes -= d.len();
            }
        }
    }
}

fn wait(slot: &Slot) -> Loaded {
    let mut done = lock(&slot.done);
    loop {
        if let Some(r) = done.as_ref() {
            return r.clone();
        }
        done = slot.cv.wait(done).unwrap_or_else(|p| p.into_inner());
    }
}

/// Publishes a load's outcome (EIO if the loader panicked) and wakes the waiters.
struct LoadGuard<'a> {
    cache: &'a ChunkCache,
    id: ChunkId,
    slot: Arc<Slot>,
    result: Option<Loaded>,
}

impl Drop for LoadGuard<'_> {
    fn drop(&mut self) {
        let r = self.result.take().unwrap_or(Err(Errno::EIO));
        {
            let mut g = lock(&self.cache.inner);
            g.loading.remove(&self.id);
            if let Ok(data) = &r {
                self.cache.insert(&mut g, self.id, data.clone());
            }
        }
        *lock(&self.slot.done) = Some(r);
        self.slot.cv.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ChunkId {
        ChunkId([n; 32])
    }

    #[test]
    fn evicts_least_recently_used_within_budget() {
        let c = ChunkCache::new(300);
        for n in 0..3 {
            c.get_or_load(&id(n), || Ok(vec![n; 100])).unwrap();
        }
        // touch 0, then add 3: 1 goes
        c.get_or_load(&id(0), || panic!("cached")).unwrap();
        c.get_or_load(&id(3), || Ok(vec![3; 100])).unwrap();
        assert!(c.has(&id(0)) && !c.has(&id(1)) && c.has(&id(2)) && c.has(&id(3)));
        assert_eq!(c.bytes(), 300);
        // too large: returned, not kept
        assert_eq!(
            c.get_or_load(&id(9), || Ok(vec![0; 301])).unwrap().len(),
            301
        );
        assert!(!c.has(&id(9)));
    }

    #[test]
    fn failures_are_not_cached_and_panics_become_eio() {
        let c = ChunkCache::new(1000);
        assert_eq!(c.get_or_load(&id(1), || Err(Errno::EIO)), Err(Errno::EIO));
        assert_eq!(*c.get_or_load(&id(1), || Ok(vec![7])).unwrap(), vec![7]);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            c.get_or_load(&id(2), || panic!("loader"))
        }));
        assert!(r.is_err());
        assert!(!c.has(&id(2)));
    }

    #[test]
    fn concurrent_askers_share_one_load() {
        let c = ChunkCache::new(1000);
        let loads = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    let d = c
                        .get_or_load(&id(5), || {
                            loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(50));
                            Ok(vec![5; 10])
                        })
                        .unwrap();
                    assert_eq!(d.len(), 10);
                });
            }
        });
        assert_eq!(loads.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
