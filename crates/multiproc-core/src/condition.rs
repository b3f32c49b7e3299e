//! Condition variables in shared memory, over a [`Lock`] or RLock.
//!
//! A waiter (holding the lock) takes a numbered slot, releases the lock and
//! sleeps until its slot is marked notified; `notify(n)` marks the n oldest
//! live waiters. A waiter that times out withdraws its slot (unless a notify
//! got there first, which then counts), so no notification is lost on it.
//! Slots of dead waiters (a dead process, or a worker thread terminated while
//! waiting) are skipped and freed.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::lock::Lock;
use crate::owner;
use crate::segment::{Handle, Kind, Segment, Signal};
use crate::waker::{self, Deadline};
use crate::watcher::Watchable;

/// Most concurrent waiters.
pub const SLOTS: usize = 256;
/// Watcher bit: a slot of this thread may be notified.
pub const NOTIFIED: u32 = 1;
const FREE: u32 = 0;
const WAITING: u32 = 1;
const DONE: u32 = 2;

/// One waiter.
#[repr(C)]
pub struct Slot {
    /// `pid << 32 | tid` of the waiter, 0 when free.
    pub id: AtomicU64,
    /// Arrival order.
    pub ticket: AtomicU64,
    /// FREE, WAITING or DONE (notified).
    pub state: AtomicU32,
    /// Reserved.
    pub _pad: u32,
}

/// The shared state.
#[repr(C)]
pub struct CondState {
    /// Bumped by every notify.
    pub notified: Signal,
    /// Next ticket.
    pub next_ticket: AtomicU64,
    /// Waiters.
    pub slots: [Slot; SLOTS],
}

/// An open condition and its lock.
pub struct Condition {
    seg: Arc<Segment>,
    lock: Lock,
}

fn my_id() -> u64 {
    (u64::from(owner::pid()) << 32) | u64::from(owner::tid())
}

impl Condition {
    /// Creates a condition over `lock` (or opens the named one).
    pub fn create(lock: Lock, name: Option<&str>) -> Result<Condition> {
        let (seg, _) = Segment::create(Kind::Condition, std::mem::size_of::<CondState>(), name, |_| {})?;
        Ok(Condition { seg: Arc::new(seg), lock })
    }

    /// Opens a condition from its handle and its lock.
    pub fn attach(h: &Handle, lock: Lock) -> Result<Condition> {
        if h.kind != Kind::Condition {
            return Err(Error::BadHandle("handle is not a Condition handle".into()));
        }
        Ok(Condition { seg: Arc::new(Segment::open(h)?), lock })
    }

    /// The segment.
    pub fn segment(&self) -> &Arc<Segment> {
        &self.seg
    }

    /// The lock.
    pub fn lock(&mut self) -> &mut Lock {
        &mut self.lock
    }

    fn state(&self) -> &CondState {
        // SAFETY: created or checked as a Condition segment.
        unsafe { self.seg.state::<CondState>() }
    }

    fn check_owned(&self) -> Result<()> {
        if !self.lock.locked() || (self.lock.is_recursive() && !self.lock.is_mine()) {
            return Err(Error::Misuse("cannot wait on or notify an un-acquired lock".into()));
        }
        Ok(())
    }

    /// First half of `wait`: takes a slot and releases the lock.
    /// Returns the slot and the lock depth to restore.
    pub fn begin_wait(&mut self) -> Result<(usize, u32)> {
        self.check_owned()?;
        let st = self.state();
        let id = my_id();
        let mut chosen = None;
        // First a free slot; only if none, one left by a dead process.
        'passes: for pass in 0..2 {
            for (i, s) in st.slots.iter().enumerate() {
                let cur = s.id.load(Ordering::Acquire);
                let free = cur == 0 || (pass == 1 && !owner::thread_alive((cur >> 32) as u32, cur as u32, 0));
                if free && s.id.compare_exchange(cur, id, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                    chosen = Some(i);
                    break 'passes;
                }
            }
        }
        let Some(i) = chosen else {
            return Err(Error::Range(format!("more than {SLOTS} waiters on one Condition")));
        };
        let s = &st.slots[i];
        s.ticket.store(st.next_ticket.fetch_add(1, Ordering::AcqRel), Ordering::Relaxed);
        s.state.store(WAITING, Ordering::Release);
        let depth = self.lock.release_all()?;
        Ok((i, depth))
    }

    /// True once slot `i` was notified.
    pub fn is_notified(&self, i: usize) -> bool {
        self.state().slots[i].state.load(Ordering::Acquire) == DONE
    }

    /// Sleeps until slot `i` is notified or `deadline`. True if notified.
    pub fn sleep(&self, i: usize, deadline: Deadline) -> bool {
        let sig = &self.state().notified;
        loop {
            if self.is_notified(i) {
                return true;
            }
            if deadline.expired() {
                return false;
            }
            sig.sleepers.fetch_add(1, Ordering::SeqCst);
            let seen = sig.seq.load(Ordering::SeqCst);
            if !self.is_notified(i) {
                waker::wait(&sig.seq, seen, deadline.remaining());
            }
            sig.sleepers.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Leaves slot `i`; true if it had been notified (a late notify still counts).
    pub fn end_wait(&self, i: usize) -> bool {
        let s = &self.state().slots[i];
        let notified = s.state.compare_exchange(WAITING, FREE, Ordering::AcqRel, Ordering::Acquire).is_err();
        s.state.store(FREE, Ordering::Release);
        s.id.store(0, Ordering::Release);
        notified
    }

    /// Whole blocking wait: returns false on timeout. The lock is held again on return.
    pub fn wait(&mut self, deadline: Deadline) -> Result<bool> {
        let (i, depth) = self.begin_wait()?;
        self.sleep(i, deadline);
        let notified = self.end_wait(i);
        self.lock.reacquire(depth, Deadline::FOREVER);
        Ok(notified)
    }

    /// Wakes up to `n` of the oldest live waiters. The lock must be held.
    pub fn notify(&self, n: u32) -> Result<u32> {
        self.check_owned()?;
        let st = self.state();
        let mut waiting: Vec<(u64, usize)> = st
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.state.load(Ordering::Acquire) == WAITING)
            .map(|(i, s)| (s.ticket.load(Ordering::Relaxed), i))
            .collect();
        waiting.sort_unstable();
        let mut woken = 0;
        for (_, i) in waiting {
            if woken >= n {
                break;
            }
            let s = &st.slots[i];
            let id = s.id.load(Ordering::Acquire);
            // A waiter whose thread is gone (its process died, or it was a worker
            // thread that was terminated inside wait) would swallow the wake-up.
            if id == 0 {
                continue; // left between our scan and now
            }
            if !owner::thread_alive((id >> 32) as u32, id as u32, 0) {
                if s.state.compare_exchange(WAITING, FREE, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                    let _ = s.id.compare_exchange(id, 0, Ordering::AcqRel, Ordering::Relaxed);
                }
                continue;
            }
            if s.state.compare_exchange(WAITING, DONE, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                woken += 1;
            }
        }
        if woken > 0 {
            st.notified.notify_all();
        }
        Ok(woken)
    }

    /// A watch source for this thread's async waits.
    pub fn watch(&self) -> Arc<dyn Watchable> {
        Arc::new(CondWatch { seg: self.seg.clone(), id: my_id() })
    }

    /// Removes a named condition's name (its lock has its own).
    pub fn unlink(&self) -> Result<()> {
        self.seg.unlink()
    }
}

struct CondWatch {
    seg: Arc<Segment>,
    id: u64,
}

impl Watchable for CondWatch {
    fn ready(&self, mask: u32) -> u32 {
        // SAFETY: a Condition segment.
        let st = unsafe { self.seg.state::<CondState>() };
        let mine = st
            .slots
            .iter()
            .any(|s| s.id.load(Ordering::Acquire) == self.id && s.state.load(Ordering::Acquire) == DONE);
        if mine {
            mask & NOTIFIED
        } else {
            0
        }
    }

    fn signal(&self, _bit: u32) -> &Signal {
        // SAFETY: a Condition segment.
        &unsafe { self.seg.state::<CondState>() }.notified
    }
}
