// SPDX-License-Identifier: MPL-2.0
//! Persistent worker threads for one converter element, so that a frame split into row bands
//! costs a wake-up per helper instead of a thread spawn: measured on the 2-core test machine,
//! `std::thread::scope` with one spawned helper added 26–30 µs of CPU (and 68–80 µs of wall
//! time) per frame, against 6–9 µs for a hand-off to a parked thread; a 1080p UYVY → I420 frame
//! costs about 110 µs of CPU in all.
//!
//! [`Pool::run`] is a scoped broadcast: the task may borrow the caller's stack (the frame's
//! planes), because `run` returns only once no helper is inside the task any more, also when the
//! task panics on the calling thread. Helpers are optional: the calling thread joins in as
//! helper 0 and the task is expected to share its work out dynamically (an atomic counter of row
//! bands), so a helper that has not woken up by the time the caller ran out of work is simply
//! not waited for. On a loaded machine, where a parked thread may wait milliseconds for a core,
//! the caller then converts the whole frame alone instead of idling until the helper arrives.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use crate::sync::lock;

/// The task of the current round, its lifetime erased (see [`Pool::run`] for why that holds).
#[derive(Clone, Copy)]
struct TaskPtr(*const (dyn Fn(usize) + Sync + 'static));

// SAFETY: the pointee is `Sync`, so calling it from another thread through a shared reference
// is sound; `Pool::run` keeps it alive while any helper may call it.
unsafe impl Send for TaskPtr {}

#[derive(Default)]
struct Round {
    /// Bumped for every round, so that parked helpers know there is something new.
    generation: u64,
    /// `None` once the caller stopped taking helpers for this round.
    task: Option<TaskPtr>,
    /// Helpers the round may still take (the caller wants `threads - 1` at most).
    openings: usize,
    /// Helpers inside the task now.
    running: usize,
    /// Helpers that started and are parked (counted once, while the pool is made).
    started: usize,
    /// Indices handed out this round (the caller is 0).
    joined: usize,
    panicked: bool,
    /// The caller waits on `done` (a helper's notify is a system call: only made when needed).
    waiting: bool,
    shutdown: bool,
}

#[derive(Default)]
struct Shared {
    round: Mutex<Round>,
    /// A new round, or shutdown.
    wake: Condvar,
    /// The last running helper left a round the caller waits for, or a helper started.
    done: Condvar,
}

/// Parked helper threads, started once and reused for every frame.
pub(crate) struct Pool {
    shared: Arc<Shared>,
    helpers: Vec<JoinHandle<()>>,
}

impl Pool {
    /// A pool whose rounds can use `threads` threads: the caller and `threads - 1` helpers.
    /// Fails (with the reason) where the system refuses a thread.
    pub(crate) fn new(threads: usize, name: &str) -> std::io::Result<Pool> {
        let shared = Arc::new(Shared::default());
        let mut pool = Pool {
            shared: Arc::clone(&shared),
            helpers: Vec::new(),
        };
        for i in 1..threads.max(1) {
            let shared = Arc::clone(&shared);
            let handle = std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || helper(&shared))?;
            // Pushed one by one: on an error the ones already started are joined by Drop.
            pool.helpers.push(handle);
        }
        // Every helper named and parked before the first frame: their names are what a user
        // sees in `top -H`, and what tests count.
        let mut round = lock(&shared.round);
        while round.started < pool.helpers.len() {
            round = shared.done.wait(round).unwrap_or_else(|e| e.into_inner());
        }
        drop(round);
        Ok(pool)
    }

    /// The most threads a round can use.
    pub(crate) fn threads(&self) -> usize {
        self.helpers.len() + 1
    }

    /// Runs `task(index)` on the calling thread (index 0) and on up to `threads - 1` helpers
    /// (indices 1.., unique within the round), and returns once every helper that joined has
    /// left the task. Helpers that wake after the caller's own `task(0)` returned do not join.
    /// `Err` when a helper panicked inside the task.
    pub(crate) fn run(&self, threads: usize, task: &(dyn Fn(usize) + Sync)) -> Result<(), String> {
        let openings = threads.min(self.threads()).saturating_sub(1);
        if openings == 0 {
            task(0);
            return Ok(());
        }
        // SAFETY: only the lifetime changes (same fat pointer layout). The erased reference is
        // reachable by helpers through `Round::task` only until `Withdraw` (below, run also on
        // unwinding) has taken it out again and waited for the helpers inside it to leave, and
        // `run` does not return before that: the borrow outlives every use.
        let erased: &'static (dyn Fn(usize) + Sync) = unsafe { std::mem::transmute(task) };
        {
            let mut round = lock(&self.shared.round);
            round.generation = round.generation.wrapping_add(1);
            round.task = Some(TaskPtr(erased));
            round.openings = openings;
            round.joined = 0;
            round.panicked = false;
        }
        self.shared.wake.notify_all();
        let withdraw = Withdraw(&self.shared);
        task(0);
        let panicked = withdraw.finish();
        if panicked {
            return Err("a converter thread panicked".into());
        }
        Ok(())
    }
}

/// Takes the task out of the round and waits for the helpers inside it, also on unwinding.
struct Withdraw<'a>(&'a Shared);

impl Withdraw<'_> {
    fn wait(&self) -> bool {
        let mut round = lock(&self.0.round);
        round.task = None;
        while round.running > 0 {
            round.waiting = true;
            round = self.0.done.wait(round).unwrap_or_else(|e| e.into_inner());
        }
        round.waiting = false;
        round.panicked
    }

    fn finish(self) -> bool {
        let panicked = self.wait();
        std::mem::forget(self);
        panicked
    }
}

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        self.wait();
    }
}

/// A helper's life: park until a round opens, join it if it still takes helpers, repeat.
fn helper(shared: &Shared) {
    let mut seen = {
        let mut round = lock(&shared.round);
        round.started += 1;
        shared.done.notify_all();
        round.generation
    };
    loop {
        let (task, index) = {
            let mut round = lock(&shared.round);
            while round.generation == seen && !round.shutdown {
                round = shared.wake.wait(round).unwrap_or_else(|e| e.into_inner());
            }
            if round.shutdown {
                return;
            }
            seen = round.generation;
            match round.task {
                Some(task) if round.openings > 0 => {
                    round.openings -= 1;
                    round.running += 1;
                    round.joined += 1;
                    (task, round.joined)
                }
                _ => continue,
            }
        };
        // SAFETY: `Pool::run` keeps the task alive until `running` is back to 0 (see there).
        let ok = catch_unwind(AssertUnwindSafe(|| unsafe { (*task.0)(index) })).is_ok();
        let mut round = lock(&shared.round);
        round.panicked |= !ok;
        round.running -= 1;
        if round.running == 0 && round.waiting {
            shared.done.notify_all();
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        lock(&self.shared.round).shutdown = true;
        self.shared.wake.notify_all();
        for helper in self.helpers.drain(..) {
            let _ = helper.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn every_band_is_done_once_and_indices_are_unique() {
        let pool = Pool::new(3, "test-pool").unwrap();
        assert_eq!(pool.threads(), 3);
        for round in 0..200 {
            let bands: Vec<AtomicUsize> = (0..17).map(|_| AtomicUsize::new(0)).collect();
            let next = AtomicUsize::new(0);
            let seen: Vec<AtomicUsize> = (0..3).map(|_| AtomicUsize::new(0)).collect();
            pool.run(3, &|index| {
                assert_eq!(
                    seen[index].fetch_add(1, Ordering::Relaxed),
                    0,
                    "index {index}"
                );
                loop {
                    let band = next.fetch_add(1, Ordering::Relaxed);
                    let Some(count) = bands.get(band) else { break };
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
            .unwrap();
            assert!(
                bands.iter().all(|b| b.load(Ordering::Relaxed) == 1),
                "round {round}"
            );
            assert_eq!(
                seen[0].load(Ordering::Relaxed),
                1,
                "the caller always joins"
            );
        }
    }

    #[test]
    fn fewer_threads_than_the_pool_has_and_a_one_thread_pool() {
        let pool = Pool::new(4, "test-pool").unwrap();
        let max = AtomicUsize::new(0);
        for _ in 0..50 {
            pool.run(2, &|index| {
                max.fetch_max(index, Ordering::Relaxed);
            })
            .unwrap();
        }
        assert!(max.load(Ordering::Relaxed) <= 1);
        let single = Pool::new(1, "test-pool").unwrap();
        assert_eq!(single.threads(), 1);
        let calls = AtomicUsize::new(0);
        single
            .run(8, &|index| {
                assert_eq!(index, 0);
                calls.fetch_add(1, Ordering::Relaxed);
            })
            .unwrap();
        assert_eq!(calls.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_helper_panic_is_an_error_and_the_pool_keeps_working() {
        let pool = Pool::new(2, "test-pool").unwrap();
        let mut errors = 0;
        // The helper may or may not join a round; keep the caller busy until one did.
        for _ in 0..1000 {
            let result = pool.run(2, &|index| {
                if index == 1 {
                    panic!("helper panics");
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            });
            if result.is_err() {
                errors += 1;
                break;
            }
        }
        assert_eq!(errors, 1, "a helper joined within 1000 rounds");
        pool.run(2, &|_| {}).unwrap();
    }
}
