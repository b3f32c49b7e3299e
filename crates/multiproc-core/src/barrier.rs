//! Barrier: `parties` processes or threads wait until all have arrived.
//!
//! Arrivals are counted under a robust mutex and recorded (pid, tid) so the
//! parties still waiting can tell when one of them died: a dead party breaks
//! the barrier instead of hanging the others. The last to arrive gets index
//! `parties - 1`; the caller runs the action (if any) and then calls
//! [`Barrier::complete`], which opens the barrier for this generation.
//! `reset` wakes waiters with "broken" and empties the barrier; `abort` breaks it.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::mutex::{RobustMutex, LIVENESS_CHECK};
use crate::owner;
use crate::segment::{Handle, Kind, Segment, Signal};
use crate::waker::{self, Deadline};
use crate::watcher::Watchable;

/// Most parties.
pub const MAX_PARTIES: u32 = 1024;
/// Watcher bit: the generation moved or the barrier broke.
pub const MOVED: u32 = 1;

/// The shared state.
#[repr(C)]
pub struct BarrierState {
    /// Guards arrivals.
    pub lock: RobustMutex,
    /// Parties per cycle.
    pub parties: u32,
    /// Parties waiting in this cycle.
    pub count: AtomicU32,
    /// 1 while broken.
    pub broken: AtomicU32,
    /// The current cycle.
    pub cycle: AtomicU32,
    /// One more than the last cycle that a `reset` ended (its waiters fail); 0 for none.
    pub failed: AtomicU32,
    /// Reserved.
    pub _pad: u32,
    /// Default timeout in ms (negative: none).
    pub timeout_ms: f64,
    /// Bumped on every change of cycle or break.
    pub changed: Signal,
    /// Who is waiting: `pid << 32 | tid` per arrival index.
    pub arrived: [AtomicU64; MAX_PARTIES as usize],
}

/// How an arrival went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// Arrival index in this cycle, `parties - 1` for the last.
    pub index: u32,
    /// The cycle to wait for.
    pub cycle: u32,
    /// True for the last party: it runs the action, then calls [`Barrier::complete`].
    pub last: bool,
}

/// An open barrier.
pub struct Barrier {
    seg: Arc<Segment>,
}

impl Barrier {
    /// Creates a barrier (or opens the named one, keeping its parties and timeout).
    pub fn create(parties: u32, timeout_ms: Option<f64>, name: Option<&str>) -> Result<Barrier> {
        if parties == 0 || parties > MAX_PARTIES {
            return Err(Error::Range(format!("parties must be 1 to {MAX_PARTIES}")));
        }
        let (seg, _) = Segment::create(Kind::Barrier, std::mem::size_of::<BarrierState>(), name, |seg| {
            // SAFETY: a new Barrier segment, not yet visible to anyone else.
            let st = unsafe { seg.state::<BarrierState>() } as *const BarrierState as *mut BarrierState;
            // SAFETY: as above; we are the only writer.
            unsafe {
                (*st).parties = parties;
                (*st).timeout_ms = timeout_ms.unwrap_or(-1.0);
            }
        })?;
        Ok(Barrier { seg: Arc::new(seg) })
    }

    /// Opens the barrier a handle describes.
    pub fn attach(h: &Handle) -> Result<Barrier> {
        if h.kind != Kind::Barrier {
            return Err(Error::BadHandle("handle is not a Barrier handle".into()));
        }
        Ok(Barrier { seg: Arc::new(Segment::open(h)?) })
    }

    /// The segment.
    pub fn segment(&self) -> &Arc<Segment> {
        &self.seg
    }

    fn state(&self) -> &BarrierState {
        // SAFETY: created or checked as a Barrier segment.
        unsafe { self.seg.state::<BarrierState>() }
    }

    /// Parties per cycle.
    pub fn parties(&self) -> u32 {
        self.state().parties
    }

    /// The default timeout in ms, if any.
    pub fn default_timeout(&self) -> Option<f64> {
        let t = self.state().timeout_ms;
        (t >= 0.0).then_some(t)
    }

    /// Parties waiting now (0 while broken).
    pub fn n_waiting(&self) -> u32 {
        if self.broken() {
            0
        } else {
            self.state().count.load(Ordering::SeqCst)
        }
    }

    /// True while broken.
    pub fn broken(&self) -> bool {
        self.state().broken.load(Ordering::SeqCst) != 0
    }

    /// Arrives; fails with [`Error::Misuse`] ("broken") if the barrier is broken.
    pub fn arrive(&self) -> Result<Arrival> {
        let st = self.state();
        st.lock.lock(Deadline::FOREVER);
        if st.broken.load(Ordering::SeqCst) != 0 {
            st.lock.unlock();
            return Err(Error::Misuse("broken".into()));
        }
        let cycle = st.cycle.load(Ordering::SeqCst);
        let index = st.count.fetch_add(1, Ordering::SeqCst);
        st.arrived[(index % MAX_PARTIES) as usize]
            .store((u64::from(owner::pid()) << 32) | u64::from(owner::tid()), Ordering::SeqCst);
        st.lock.unlock();
        Ok(Arrival { index, cycle, last: index + 1 >= st.parties })
    }

    fn advance(&self, st: &BarrierState, cycle: u32, failed: bool) {
        if failed {
            st.failed.store(cycle.wrapping_add(1), Ordering::SeqCst);
        }
        st.count.store(0, Ordering::SeqCst);
        st.cycle.store(cycle.wrapping_add(1), Ordering::SeqCst);
        st.changed.notify_all();
    }

    /// The last party opens the barrier for everyone waiting on `cycle`.
    pub fn complete(&self, cycle: u32) {
        let st = self.state();
        st.lock.lock(Deadline::FOREVER);
        if st.cycle.load(Ordering::SeqCst) == cycle && st.broken.load(Ordering::SeqCst) == 0 {
            self.advance(st, cycle, false);
        }
        st.lock.unlock();
    }

    /// Breaks the barrier: every waiter fails, and so does every `wait` until `reset`.
    pub fn abort(&self) {
        let st = self.state();
        st.broken.store(1, Ordering::SeqCst);
        st.changed.notify_all();
    }

    /// Empties the barrier; parties still waiting fail as broken.
    pub fn reset(&self) {
        let st = self.state();
        st.lock.lock(Deadline::FOREVER);
        let cycle = st.cycle.load(Ordering::SeqCst);
        let had_waiters = st.count.load(Ordering::SeqCst) > 0;
        st.broken.store(0, Ordering::SeqCst);
        self.advance(st, cycle, had_waiters);
        st.lock.unlock();
    }

    /// How `cycle` ended for a party waiting on it: `Some(true)` opened,
    /// `Some(false)` broken or reset, `None` still waiting.
    pub fn outcome(&self, cycle: u32) -> Option<bool> {
        let st = self.state();
        if st.cycle.load(Ordering::SeqCst) != cycle {
            return Some(st.failed.load(Ordering::SeqCst) != cycle.wrapping_add(1));
        }
        if st.broken.load(Ordering::SeqCst) != 0 {
            return Some(false);
        }
        None
    }

    /// True if a party waiting in this cycle has died.
    pub fn party_died(&self) -> bool {
        let st = self.state();
        let n = st.count.load(Ordering::SeqCst).min(MAX_PARTIES);
        (0..n as usize).any(|i| {
            let v = st.arrived[i].load(Ordering::SeqCst);
            v != 0 && !owner::thread_alive((v >> 32) as u32, v as u32, 0)
        })
    }

    /// Waits for `cycle` to open. Breaks the barrier on timeout or when a
    /// waiting party died. `Ok(())` when opened, `Err(Misuse("broken"))` otherwise.
    pub fn wait_open(&self, cycle: u32, deadline: Deadline) -> Result<()> {
        let sig = &self.state().changed;
        loop {
            if let Some(ok) = self.outcome(cycle) {
                return if ok { Ok(()) } else { Err(Error::Misuse("broken".into())) };
            }
            if deadline.expired() || self.party_died() {
                self.abort();
                continue;
            }
            sig.sleepers.fetch_add(1, Ordering::SeqCst);
            let seen = sig.seq.load(Ordering::SeqCst);
            if self.outcome(cycle).is_none() {
                waker::wait(&sig.seq, seen, Some(deadline.capped(LIVENESS_CHECK)));
            }
            sig.sleepers.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// A watch source for async waits on `cycle` (updated with [`BarrierWatch::set_cycle`]).
    pub fn watch(&self) -> Arc<BarrierWatch> {
        Arc::new(BarrierWatch { barrier: Barrier { seg: self.seg.clone() }, cycle: AtomicU32::new(u32::MAX) })
    }

    /// Removes a named barrier's name.
    pub fn unlink(&self) -> Result<()> {
        self.seg.unlink()
    }
}

/// Watches one cycle of a barrier for async waiters.
pub struct BarrierWatch {
    barrier: Barrier,
    cycle: AtomicU32,
}

impl BarrierWatch {
    /// The cycle async waiters are waiting for.
    pub fn set_cycle(&self, cycle: u32) {
        self.cycle.store(cycle, Ordering::SeqCst);
    }
}

impl Watchable for BarrierWatch {
    fn ready(&self, mask: u32) -> u32 {
        let cycle = self.cycle.load(Ordering::SeqCst);
        if self.barrier.outcome(cycle).is_some() || self.barrier.party_died() {
            mask & MOVED
        } else {
            0
        }
    }

    fn signal(&self, _bit: u32) -> &Signal {
        &self.barrier.state().changed
    }

    fn recheck(&self) -> Option<std::time::Duration> {
        Some(LIVENESS_CHECK)
    }
}
