//! Concurrent requests for the same document share one computation of it, and never get one
//! older than themselves: a request that arrives while a computation runs waits for the next,
//! which starts after that one ends and answers every request that waited for it. However many
//! clients poll the dashboard at once, the repository and the state database are read by one
//! computation at a time, and each answer is at most two computations late.

use std::sync::{Condvar, Mutex, MutexGuard};

/// One document's computations.
pub struct Coalesce<T> {
    slot: Mutex<Slot<T>>,
    done: Condvar,
}

struct Slot<T> {
    /// A computation is under way.
    running: bool,
    /// How many computations have finished.
    finished: u64,
    /// The result of the last one.
    last: Option<T>,
}

impl<T: Clone> Default for Coalesce<T> {
    fn default() -> Self {
        Coalesce {
            slot: Mutex::new(Slot {
                running: false,
                finished: 0,
                last: None,
            }),
            done: Condvar::new(),
        }
    }
}

/// Ends the computation even if it panicked, so the waiters go on (one of them computes).
struct Running<'a, T>(&'a Coalesce<T>);

impl<T> Drop for Running<'_, T> {
    fn drop(&mut self) {
        let mut s = self.0.slot.lock().unwrap_or_else(|p| p.into_inner());
        s.running = false;
        self.0.done.notify_all();
    }
}

impl<T: Clone> Coalesce<T> {
    fn lock(&self) -> MutexGuard<'_, Slot<T>> {
        self.slot.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The result of a computation that started after this call: this thread's `compute`, or
    /// another caller's that started later than this call.
    pub fn get(&self, compute: impl FnOnce() -> T) -> T {
        let mut s = self.lock();
        // the one running now started before us: its result is too old
        let want = s.finished + if s.running { 2 } else { 1 };
        let mut compute = Some(compute);
        loop {
            if s.finished >= want {
                if let Some(v) = &s.last {
                    return v.clone();
                }
            }
            if !s.running {
                if let Some(f) = compute.take() {
                    s.running = true;
                    drop(s);
                    let guard = Running(self);
                    let v = f();
                    let mut done = self.lock();
                    done.finished += 1;
                    done.last = Some(v.clone());
                    drop(done);
                    drop(guard);
                    return v;
                }
            }
            s = self.done.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Barrier};
    use std::time::Duration;

    #[test]
    fn concurrent_callers_share_computations_and_none_gets_one_older_than_itself() {
        let c = Arc::new(Coalesce::<u64>::default());
        let clock = Arc::new(AtomicU64::new(0)); // bumped by each computation as it starts
        let runs = Arc::new(AtomicU64::new(0));
        let n = 64;
        let start = Arc::new(Barrier::new(n));
        let threads: Vec<_> = (0..n)
            .map(|_| {
                let (c, clock, runs, start) =
                    (c.clone(), clock.clone(), runs.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    let asked = clock.load(Ordering::SeqCst);
                    let got = c.get(|| {
                        runs.fetch_add(1, Ordering::SeqCst);
                        let t = clock.fetch_add(1, Ordering::SeqCst) + 1;
                        std::thread::sleep(Duration::from_millis(20));
                        t
                    });
                    (asked, got)
                })
            })
            .collect();
        for t in threads {
            let (asked, got) = t.join().unwrap();
            assert!(
                got > asked,
                "answered by a computation that started before the call"
            );
        }
        let runs = runs.load(Ordering::SeqCst);
        assert!(runs < n as u64 / 2, "{runs} computations for {n} callers");
    }

    #[test]
    fn a_panicking_computation_does_not_stop_the_others() {
        let c = Arc::new(Coalesce::<u32>::default());
        let c2 = c.clone();
        let r = std::thread::spawn(move || c2.get(|| panic!("boom"))).join();
        assert!(r.is_err());
        assert_eq!(c.get(|| 5), 5);
    }
}
