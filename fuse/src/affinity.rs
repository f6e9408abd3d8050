//! Serving threads pinned one to a CPU.
//!
//! A reader such as `ls -lR` sends one request at a time and sleeps until its answer. When the
//! thread that serves it wakes on another CPU, each round trip pays two cross-CPU wake-ups; on a
//! virtual machine each is a halted virtual CPU brought back (a pipe round trip on the 2-core
//! VM of `benches/RESULTS.md`: 56 µs across CPUs, 6 µs on one). With one serving thread pinned
//! to each CPU the process may use, every CPU has a server that sleeps there, and the wake-ups
//! are cheaper: a cold `ls -lR` of 53,000 files took 1.7–2.0 s against 2.5–3.0 s with one
//! unpinned thread (alternated pairs, `benches/RESULTS.md`).

use std::cell::Cell;
use std::io;

use rustix::thread::{sched_getaffinity, sched_setaffinity, CpuSet};

/// Serving threads made by default: one per CPU, at most this many.
pub(crate) const MAX_DEFAULT_THREADS: usize = 4;

/// The CPUs the calling thread may run on, in increasing order (empty if unknown).
pub(crate) fn allowed_cpus() -> Vec<usize> {
    match sched_getaffinity(None) {
        Ok(set) => (0..CpuSet::MAX_CPU).filter(|&c| set.is_set(c)).collect(),
        Err(_) => Vec::new(),
    }
}

/// Restricts the calling thread to `cpu`.
fn pin_current(cpu: usize) -> io::Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu);
    sched_setaffinity(None, &set).map_err(io::Error::from)
}

/// Which CPU each serving thread goes to: fuser names its threads `fuser-N`, and thread `N` is
/// pinned to the `N`-th allowed CPU (modulo their number) on its first request.
#[derive(Debug)]
pub(crate) struct Pins {
    cpus: Vec<usize>,
}

thread_local! {
    /// Whether this thread has been through [`Pins::here`] (pinned or not).
    static SEEN: Cell<bool> = const { Cell::new(false) };
}

impl Pins {
    /// Pins for `threads` serving threads over `cpus`, or `None` when pinning would not spread
    /// them (one thread, or one CPU).
    pub(crate) fn new(pin: bool, threads: usize, cpus: Vec<usize>) -> Option<Pins> {
        (pin && threads > 1 && cpus.len() > 1).then_some(Pins { cpus })
    }

    /// The CPU for the serving thread named `name`, if it is one of fuser's.
    pub(crate) fn cpu_for(&self, name: &str) -> Option<usize> {
        let n: usize = name.strip_prefix("fuser-")?.parse().ok()?;
        Some(self.cpus[n % self.cpus.len()])
    }

    /// Pins the calling thread the first time it gets here; afterwards costs one thread-local
    /// read. A failure (a CPU taken away meanwhile) leaves the thread where it was.
    pub(crate) fn here(&self) {
        if SEEN.with(|s| s.replace(true)) {
            return;
        }
        let Some(cpu) = std::thread::current().name().and_then(|n| self.cpu_for(n)) else {
            return;
        };
        if let Err(e) = pin_current(cpu) {
            tracing::debug!("serving thread not pinned to CPU {cpu}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serving_threads_go_round_the_allowed_cpus() {
        let p = Pins::new(true, 4, vec![1, 3, 6]).unwrap();
        let cpus: Vec<_> = (0..5)
            .map(|n| p.cpu_for(&format!("fuser-{n}")).unwrap())
            .collect();
        assert_eq!(cpus, [1, 3, 6, 1, 3]);
        assert_eq!(p.cpu_for("cairn-prefetch-0"), None);
        assert_eq!(p.cpu_for("fuser-x"), None);
    }

    #[test]
    fn nothing_is_pinned_when_it_would_not_spread_the_threads() {
        assert!(Pins::new(false, 4, vec![0, 1]).is_none());
        assert!(Pins::new(true, 1, vec![0, 1]).is_none());
        assert!(Pins::new(true, 4, vec![5]).is_none());
        assert!(Pins::new(true, 2, vec![0, 1]).is_some());
    }

    #[test]
    fn a_thread_is_pinned_once_and_only_if_fuser_named_it() {
        let cpus = allowed_cpus();
        if cpus.len() < 2 {
            eprintln!("skipped: fewer than 2 CPUs allowed");
            return;
        }
        let p = Pins::new(true, 2, cpus.clone()).unwrap();
        let want = cpus[1];
        let (got, other) = std::thread::scope(|s| {
            let named = std::thread::Builder::new()
                .name("fuser-1".into())
                .spawn_scoped(s, || {
                    p.here();
                    let first = allowed_cpus();
                    // a second call changes nothing, even with the affinity widened meanwhile
                    let mut all = CpuSet::new();
                    cpus.iter().for_each(|&c| all.set(c));
                    sched_setaffinity(None, &all).unwrap();
                    p.here();
                    (first, allowed_cpus())
                })
                .unwrap();
            let unnamed = std::thread::Builder::new()
                .name("reader".into())
                .spawn_scoped(s, || {
                    p.here();
                    allowed_cpus()
                })
                .unwrap();
            (named.join().unwrap(), unnamed.join().unwrap())
        });
        assert_eq!(got.0, [want]);
        assert_eq!(got.1, cpus);
        assert_eq!(other, cpus, "a thread fuser did not name is left alone");
    }
}
