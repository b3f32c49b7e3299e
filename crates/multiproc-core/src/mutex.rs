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
/// Word value (with `WAITERS`) of a fair lock released to a sleeper: free for
/// a thread that already waited, closed to newcomers. Thread ids stay far below.
pub const HANDOFF: u32 = 1 << 30;

/// The shared mutex.
#[repr(C)]
pub struct RobustMutex {
    /// 0 when free, else the owner's tid, | `WAITERS` if anyone sleeps here.
    pub word: AtomicU32,
    /// The owner's process id.
    pub owner_pid: AtomicU32,
    /// The owner's tid as recorded with `owner_pid` (equals `word` once recorded).
    pub owner_tid: AtomicU32,
    /// Reserved (keeps the layout the TS fast path relies on).
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
        let tid = self.owner();
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
        if tid == HANDOFF || tid == 0 {
            return None;
        }
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

    /// Locks fairly (Lock and RLock). A release while others sleep does not
    /// free the word: it hands it over ([`RobustMutex::hand_off`]) to a thread
    /// that already waited, so a thread looping on lock/unlock cannot starve
    /// the others. `waited` says the caller already waited (an async waiter
    /// retrying); a newcomer must sleep once before it may take a hand-over.
    pub fn lock_fair(&self, deadline: Deadline, waited: bool) -> Option<Acquired> {
        let me = owner::tid();
        let mut eligible = waited;
        let mut spins = 0;
        loop {
            let cur = self.word.load(Ordering::Relaxed);
            if cur == 0 {
                // After a sleep others may still sleep: keep WAITERS so we hand over too.
                let v = if eligible { me | WAITERS } else { me };
                if self.word.compare_exchange(0, v, Ordering::Acquire, Ordering::Relaxed).is_ok() {
                    self.record(me);
                    return Some(Acquired::Clean);
                }
                continue;
            }
            let handed = cur & !WAITERS == HANDOFF;
            if handed && eligible {
                if self.word.compare_exchange(cur, me | WAITERS, Ordering::Acquire, Ordering::Relaxed).is_ok() {
                    self.record(me);
                    return Some(Acquired::Clean);
                }
                continue;
            }
            if !handed && spins < 64 {
                spins += 1;
                std::hint::spin_loop();
                continue;
            }
            if cur & WAITERS == 0
                && self.word.compare_exchange(cur, cur | WAITERS, Ordering::Relaxed, Ordering::Relaxed).is_err()
            {
                continue;
            }
            if deadline.expired() {
                return if handed { None } else { self.take_from_dead(cur | WAITERS, me) };
            }
            waker::wait(&self.word, cur | WAITERS, Some(deadline.capped(LIVENESS_CHECK)));
            eligible = true;
            if !handed {
                if let Some(a) = self.take_from_dead(cur | WAITERS, me) {
                    return Some(a);
                }
            }
        }
    }

    /// Unlocks in fair mode (see [`RobustMutex::lock_fair`]).
    pub fn unlock_fair(&self) {
        self.owner_tid.store(0, Ordering::Relaxed);
        let cur = self.word.load(Ordering::Relaxed);
        if cur & WAITERS == 0 && self.word.compare_exchange(cur, 0, Ordering::Release, Ordering::Relaxed).is_ok() {
            return;
        }
        self.hand_off();
    }

    /// Releases a held word that has sleepers to one of them: the word becomes
    /// "handed over", which only a thread that already waited may take. If no
    /// sleeper was woken, it is simply freed.
    pub fn hand_off(&self) {
        self.word.store(HANDOFF | WAITERS, Ordering::Release);
        if rustix::thread::futex::wake(&self.word, rustix::thread::futex::Flags::empty(), 1).unwrap_or(0) == 0 {
            let _ = self.word.compare_exchange(HANDOFF | WAITERS, 0, Ordering::Release, Ordering::Relaxed);
        }
    }

    /// The owner's thread id, or 0 when free (or handed over, not yet taken).
    pub fn owner(&self) -> u32 {
        let t = self.word.load(Ordering::Relaxed) & !WAITERS;
        if t == HANDOFF {
            0
        } else {
            t
        }
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
        self.owner() != 0
    }
}
