//! A mutex in shared memory that survives the death of its holder.
//!
//! The futex word holds the owner's kernel thread id (bit 31 set when someone
//! sleeps on it); `owner_pid`/`owner_start` say which process that thread
//! belongs to. A sleeper wakes at least every [`LIVENESS_CHECK`] to check the
//! owner is still alive; if it is not, the sleeper swaps itself in with one
//! compare-and-swap on the word (so exactly one waiter takes over) and is told
//! the owner died. Data guarded by the mutex must be committed in one atomic
//! store (see `queue.rs`) so a dead owner never leaves it half-changed.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use crate::owner;
use crate::waker::{self, Deadline};

/// How often a sleeper checks that the holder is still alive.
pub const LIVENESS_CHECK: Duration = Duration::from_millis(50);
const WAITERS: u32 = 1 << 31;

/// The shared mutex.
#[repr(C)]
pub struct RobustMutex {
    /// 0 when free, else the owner's tid, | `WAITERS` if anyone sleeps here.
    pub word: AtomicU32,
    /// The owner's process id.
    pub owner_pid: AtomicU32,
    /// The owner's tid as recorded with `owner_pid` (equals `word` once recorded).
    pub owner_tid: AtomicU32,
    /// Fair mode: the thread that last released while others slept; it lets a
    /// woken waiter take the lock before it may take it again.
    pub courtesy: AtomicU32,
    /// Start time of the owner's process.
    pub owner_start: AtomicU64,
}

const _: () = assert!(std::mem::size_of::<RobustMutex>() == 24);
/// Longest a releaser in fair mode defers to the waiter it woke.
pub const COURTESY: Duration = Duration::from_millis(2);

/// How a lock was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquired {
    /// Normally.
    Clean,
    /// From a holder that died: the protected data may need repair.
    OwnerDied,
}

impl RobustMutex {
    fn record(&self, tid: u32) {
        self.owner_pid.store(owner::pid(), Ordering::Relaxed);
        self.owner_start.store(owner::my_start_time(), Ordering::Relaxed);
        self.owner_tid.store(tid, Ordering::Release);
    }

    /// Tries once, without waiting.
    pub fn try_lock(&self) -> Option<Acquired> {
        let me = owner::tid();
        if self.word.compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed).is_ok() {
            self.record(me);
            return Some(Acquired::Clean);
        }
        None
    }

    /// Locks, waiting until `deadline`. `None` on timeout.
    pub fn lock(&self, deadline: Deadline) -> Option<Acquired> {
        if let Some(a) = self.try_lock() {
            return Some(a);
        }
        let me = owner::tid();
        for _ in 0..64 {
            std::hint::spin_loop();
            if self.word.load(Ordering::Relaxed) == 0
                && self.word.compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed).is_ok()
            {
                self.record(me);
                return Some(Acquired::Clean);
            }
        }
        loop {
            let cur = self.word.load(Ordering::Relaxed);
            if cur == 0 {
                // Others may still sleep: keep the WAITERS bit so our unlock wakes them.
                if self.word.compare_exchange(0, me | WAITERS, Ordering::Acquire, Ordering::Relaxed).is_ok() {
                    self.record(me);
                    return Some(Acquired::Clean);
                }
                continue;
            }
            if cur & WAITERS == 0
                && self.word.compare_exchange(cur, cur | WAITERS, Ordering::Relaxed, Ordering::Relaxed).is_err()
            {
                continue;
            }
            if deadline.expired() {
                // Even a try-once takes over from a dead holder.
                return self.take_from_dead(cur | WAITERS, me);
            }
            waker::wait(&self.word, cur | WAITERS, Some(deadline.capped(LIVENESS_CHECK)));
            if let Some(a) = self.take_from_dead(cur | WAITERS, me) {
                return Some(a);
            }
        }
    }

    /// True if held by a thread that no longer exists.
    pub fn owner_dead(&self) -> bool {
        let cur = self.word.load(Ordering::Relaxed);
        let tid = cur & !WAITERS;
        if tid == 0 {
            return false;
        }
        if self.owner_tid.load(Ordering::Acquire) == tid {
            let pid = self.owner_pid.load(Ordering::Relaxed);
            !owner::thread_alive(pid, tid, self.owner_start.load(Ordering::Relaxed))
        } else {
            owner::start_time(tid).is_none()
        }
    }

    /// If the word still names a dead owner, swaps us in.
    fn take_from_dead(&self, seen: u32, me: u32) -> Option<Acquired> {
        if self.word.load(Ordering::Relaxed) != seen {
            return None;
        }
        let tid = seen & !WAITERS;
        let recorded = self.owner_tid.load(Ordering::Acquire) == tid;
        let (pid, start) = if recorded {
            (self.owner_pid.load(Ordering::Relaxed), self.owner_start.load(Ordering::Relaxed))
        } else {
            // The owner died between taking the word and recording itself, or is
            // recording right now: only a vanished tid proves death.
            if owner::start_time(tid).is_some() {
                return None;
            }
            (0, 0)
        };
        if recorded && owner::thread_alive(pid, tid, start) {
            return None;
        }
        if self.word.compare_exchange(seen, me | WAITERS, Ordering::Acquire, Ordering::Relaxed).is_ok() {
            self.record(me);
            return Some(Acquired::OwnerDied);
        }
        None
    }

    /// Locks fairly: a thread that just released the lock to sleeping waiters
    /// lets the one it woke go first (for up to [`COURTESY`]), so a thread
    /// looping on lock/unlock cannot starve the others.
    pub fn lock_fair(&self, deadline: Deadline) -> Option<Acquired> {
        let me = owner::tid();
        if self.courtesy.load(Ordering::Relaxed) == me {
            let until = std::time::Instant::now() + COURTESY;
            while self.word.load(Ordering::Relaxed) == 0 && std::time::Instant::now() < until && !deadline.expired() {
                std::thread::yield_now();
            }
            let _ = self.courtesy.compare_exchange(me, 0, Ordering::Relaxed, Ordering::Relaxed);
        }
        self.lock(deadline)
    }

    /// Unlocks in fair mode (see [`RobustMutex::lock_fair`]).
    pub fn unlock_fair(&self) {
        self.owner_tid.store(0, Ordering::Relaxed);
        if self.word.swap(0, Ordering::Release) & WAITERS != 0 {
            self.courtesy.store(owner::tid(), Ordering::Relaxed);
            if rustix::thread::futex::wake(&self.word, rustix::thread::futex::Flags::empty(), 1).unwrap_or(0) == 0 {
                self.courtesy.store(0, Ordering::Relaxed);
            }
        }
    }

    /// The owner's thread id, or 0 when free.
    pub fn owner(&self) -> u32 {
        self.word.load(Ordering::Relaxed) & !WAITERS
    }

    /// Unlocks. The caller must hold the lock.
    pub fn unlock(&self) {
        self.owner_tid.store(0, Ordering::Relaxed);
        if self.word.swap(0, Ordering::Release) & WAITERS != 0 {
            waker::wake(&self.word, 1);
        }
    }

    /// True if some thread holds it.
    pub fn is_locked(&self) -> bool {
        self.word.load(Ordering::Relaxed) != 0
    }
}
