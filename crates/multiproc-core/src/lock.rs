//! Lock and RLock: a fair [`RobustMutex`] in its own segment.
//!
//! A `Lock` may be released by any thread or process (Python semantics); an
//! `RLock` only by its owner, which may take it again recursively. If the
//! holder dies, the next acquirer takes the lock over and is told so
//! (`owner_died`). Waits are fair: a thread that releases to sleeping
//! waiters lets the woken one go first.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::mutex::{Acquired, RobustMutex};
use crate::owner;
use crate::segment::{Handle, Kind, Segment, Signal};
use crate::waker::Deadline;
use crate::watcher::Watchable;

/// Condition bit for watchers: the lock may be free.
pub const FREE: u32 = 1;

/// The shared state of a lock.
#[repr(C)]
pub struct LockState {
    /// The mutex; its word holds the owner's tid.
    pub mutex: RobustMutex,
    /// 1 for an RLock.
    pub recursive: u32,
    /// RLock: how many times the owner holds it.
    pub depth: AtomicU32,
    /// Bumped on every release, for async waiters.
    pub released: Signal,
}

// The TS layer takes and releases an uncontended lock with Atomics on these
// fields directly (a native call costs more than the whole operation); only
// waiting, dead holders and wake-ups go through Rust. Keep in sync with lib/lock.ts.
const _: () = {
    use std::mem::offset_of;
    assert!(offset_of!(LockState, mutex) == 0);
    assert!(offset_of!(RobustMutex, word) == 0);
    assert!(offset_of!(RobustMutex, owner_pid) == 4);
    assert!(offset_of!(RobustMutex, owner_tid) == 8);
    assert!(offset_of!(RobustMutex, courtesy) == 12);
    assert!(offset_of!(RobustMutex, owner_start) == 16);
    assert!(offset_of!(LockState, recursive) == 24);
    assert!(offset_of!(LockState, depth) == 28);
    assert!(offset_of!(LockState, released) == 32);
    assert!(std::mem::size_of::<LockState>() == 40);
};

/// An open Lock or RLock.
pub struct Lock {
    seg: Arc<Segment>,
    owner_died: bool,
}

impl Lock {
    /// Creates a lock (or opens the named one; an existing one keeps its kind).
    pub fn create(recursive: bool, name: Option<&str>) -> Result<Lock> {
        let (seg, _) = Segment::create(Kind::Lock, std::mem::size_of::<LockState>(), name, |seg| {
            // SAFETY: a new Lock segment, not yet visible to anyone else.
            let st = unsafe { seg.state::<LockState>() } as *const LockState as *mut LockState;
            // SAFETY: as above; we are the only writer.
            unsafe { (*st).recursive = u32::from(recursive) };
        })?;
        Ok(Lock { seg: Arc::new(seg), owner_died: false })
    }

    /// Opens the lock a handle describes.
    pub fn attach(h: &Handle) -> Result<Lock> {
        if h.kind != Kind::Lock {
            return Err(Error::BadHandle("handle is not a Lock handle".into()));
        }
        Ok(Lock { seg: Arc::new(Segment::open(h)?), owner_died: false })
    }

    /// The segment.
    pub fn segment(&self) -> &Arc<Segment> {
        &self.seg
    }

    /// The shared state.
    pub fn state(&self) -> &LockState {
        // SAFETY: created or checked as a Lock segment.
        unsafe { self.seg.state::<LockState>() }
    }

    /// True for an RLock.
    pub fn is_recursive(&self) -> bool {
        self.state().recursive != 0
    }

    /// True if the last acquisition took the lock over from a dead holder.
    pub fn owner_died(&self) -> bool {
        self.owner_died
    }

    /// Acquires, waiting until `deadline`. False on timeout.
    pub fn acquire(&mut self, deadline: Deadline) -> bool {
        self.acquire_as(deadline, false)
    }

    /// Acquires; `waited`: the caller already waited for it (an async waiter
    /// retrying), so it may take a lock handed over to sleepers.
    pub fn acquire_as(&mut self, deadline: Deadline, waited: bool) -> bool {
        let st = self.state();
        if st.recursive != 0 && st.mutex.owner() == owner::tid() {
            st.depth.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        match st.mutex.lock_fair(deadline, waited) {
            None => false,
            Some(a) => {
                st.depth.store(1, Ordering::Relaxed);
                self.owner_died = a == Acquired::OwnerDied;
                true
            }
        }
    }

    /// One attempt, without waiting.
    pub fn try_acquire(&mut self) -> bool {
        self.acquire(Deadline::after_ms(Some(0.0)))
    }

    /// Releases. A Lock may be released by anyone while held; an RLock only by its owner.
    pub fn release(&mut self) -> Result<()> {
        let st = self.state();
        let held_by = st.mutex.owner();
        if held_by == 0 {
            return Err(Error::Misuse("release unlocked lock".into()));
        }
        if st.recursive != 0 {
            if held_by != owner::tid() {
                return Err(Error::Misuse("cannot release un-acquired lock".into()));
            }
            if st.depth.fetch_sub(1, Ordering::Relaxed) > 1 {
                return Ok(());
            }
        }
        st.mutex.unlock_fair();
        st.released.notify_all();
        Ok(())
    }

    /// True while held by anyone.
    pub fn locked(&self) -> bool {
        self.state().mutex.is_locked()
    }

    /// True if the calling thread holds it.
    pub fn is_mine(&self) -> bool {
        self.state().mutex.owner() == owner::tid()
    }

    /// RLock: releases every level the calling thread holds; returns the depth (for Condition).
    pub fn release_all(&mut self) -> Result<u32> {
        let st = self.state();
        if st.mutex.owner() != owner::tid() && st.recursive != 0 {
            return Err(Error::Misuse("cannot release un-acquired lock".into()));
        }
        if !self.locked() {
            return Err(Error::Misuse("release unlocked lock".into()));
        }
        let depth = if st.recursive != 0 { st.depth.swap(1, Ordering::Relaxed) } else { 1 };
        st.mutex.unlock_fair();
        st.released.notify_all();
        Ok(depth.max(1))
    }

    /// Takes the lock again after [`Lock::release_all`], restoring `depth`.
    pub fn reacquire(&mut self, depth: u32, deadline: Deadline) -> bool {
        if !self.acquire(deadline) {
            return false;
        }
        if self.state().recursive != 0 {
            self.state().depth.store(depth.max(1), Ordering::Relaxed);
        }
        true
    }

    /// The rest of a release begun outside Rust (by the TS fast path), which
    /// found sleepers (`contended`: the word is still ours, to hand over) or
    /// async watchers to wake.
    pub fn finish_release(&self, contended: bool) {
        let st = self.state();
        if contended {
            st.mutex.owner_tid.store(0, Ordering::Relaxed);
            st.mutex.hand_off();
        }
        if st.released.sleepers.load(Ordering::SeqCst) != 0 {
            crate::waker::wake_all(&st.released.seq);
        }
    }

    /// A watch source for async acquires.
    pub fn watch(&self) -> Arc<dyn Watchable> {
        Arc::new(LockWatch(self.seg.clone()))
    }

    /// Removes a named lock's name.
    pub fn unlink(&self) -> Result<()> {
        self.seg.unlink()
    }
}

struct LockWatch(Arc<Segment>);

impl Watchable for LockWatch {
    fn ready(&self, mask: u32) -> u32 {
        // SAFETY: a Lock segment.
        let st = unsafe { self.0.state::<LockState>() };
        if st.mutex.is_locked() && !st.mutex.owner_dead() {
            0
        } else {
            mask & FREE
        }
    }

    fn signal(&self, _bit: u32) -> &Signal {
        // SAFETY: a Lock segment.
        &unsafe { self.0.state::<LockState>() }.released
    }

    fn recheck(&self) -> Option<std::time::Duration> {
        // A holder that dies releases nothing: look again now and then.
        Some(crate::mutex::LIVENESS_CHECK)
    }
}
