//! Semaphore and BoundedSemaphore in shared memory.
//!
//! The futex word holds the free permits (bit 31: someone sleeps). Each
//! instance records the permits it holds in a [`Holder`] entry (pid, start
//! time, count); when a holder process dies (or a thread's instance is
//! finalized holding permits) its permits come back, and the next acquirer is
//! told `owner_died`. A permit released by someone who does not hold one
//! (Python allows it) is simply added. Fairness as for locks: a thread that
//! releases to sleepers lets them go first for a moment.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::mutex::{COURTESY, LIVENESS_CHECK};
use crate::owner;
use crate::segment::{Handle, Kind, Segment, Signal};
use crate::waker::{self, Deadline};
use crate::watcher::Watchable;

const WAITERS: u32 = 1 << 31;
const COUNT: u32 = !WAITERS;
/// Largest value a semaphore can hold.
pub const MAX_VALUE: u32 = COUNT;
/// Holder entries tracked per semaphore.
pub const HOLDERS: usize = 128;
/// Watcher bit: a permit may be free.
pub const AVAILABLE: u32 = 1;

/// Permits held by one instance.
#[repr(C)]
pub struct Holder {
    /// `pid << 32 | serial`, 0 when free.
    pub id: AtomicU64,
    /// Start time of the holder's process.
    pub start: AtomicU64,
    /// Permits held.
    pub count: AtomicU64,
}

/// The shared state.
#[repr(C)]
pub struct SemState {
    /// Free permits | `WAITERS`.
    pub word: AtomicU32,
    /// Thread that last released to sleepers (see the module doc).
    pub courtesy: AtomicU32,
    /// Initial value (the bound of a BoundedSemaphore).
    pub initial: u32,
    /// 1 for a BoundedSemaphore.
    pub bounded: u32,
    /// Permits recovered from dead holders and not yet reported to an acquirer.
    pub died: AtomicU32,
    /// Reserved.
    pub _pad: u32,
    /// Bumped on every release, for async waiters.
    pub released: Signal,
    /// Who holds permits.
    pub holders: [Holder; HOLDERS],
}

static SERIAL: AtomicU32 = AtomicU32::new(1);

/// An open semaphore.
pub struct Semaphore {
    seg: Arc<Segment>,
    id: u64,
    slot: Option<usize>,
    owner_died: bool,
}

impl Semaphore {
    /// Creates a semaphore with `value` permits (or opens the named one, keeping its state).
    pub fn create(value: u32, bounded: bool, name: Option<&str>) -> Result<Semaphore> {
        if value > MAX_VALUE {
            return Err(Error::Range(format!("value must be at most {MAX_VALUE}")));
        }
        let (seg, _) = Segment::create(Kind::Semaphore, std::mem::size_of::<SemState>(), name, |seg| {
            // SAFETY: a new Semaphore segment, not yet visible to anyone else.
            let st = unsafe { seg.state::<SemState>() } as *const SemState as *mut SemState;
            // SAFETY: as above; we are the only writer.
            unsafe {
                (*st).initial = value;
                (*st).bounded = u32::from(bounded);
                (*st).word.store(value, Ordering::Relaxed);
            }
        })?;
        Ok(Self::wrap(seg))
    }

    /// Opens the semaphore a handle describes.
    pub fn attach(h: &Handle) -> Result<Semaphore> {
        if h.kind != Kind::Semaphore {
            return Err(Error::BadHandle("handle is not a Semaphore handle".into()));
        }
        Ok(Self::wrap(Segment::open(h)?))
    }

    fn wrap(seg: Segment) -> Semaphore {
        let serial = SERIAL.fetch_add(1, Ordering::Relaxed).max(1);
        Semaphore { seg: Arc::new(seg), id: (u64::from(owner::pid()) << 32) | u64::from(serial), slot: None, owner_died: false }
    }

    /// The segment.
    pub fn segment(&self) -> &Arc<Segment> {
        &self.seg
    }

    /// The shared state.
    pub fn state(&self) -> &SemState {
        // SAFETY: created or checked as a Semaphore segment.
        unsafe { self.seg.state::<SemState>() }
    }

    /// Free permits now.
    pub fn value(&self) -> u32 {
        self.state().word.load(Ordering::SeqCst) & COUNT
    }

    /// True for a BoundedSemaphore.
    pub fn is_bounded(&self) -> bool {
        self.state().bounded != 0
    }

    /// True if the last acquisition got a permit recovered from a dead holder.
    pub fn owner_died(&self) -> bool {
        self.owner_died
    }

    fn try_take(&self) -> bool {
        let w = &self.state().word;
        let mut cur = w.load(Ordering::Relaxed);
        while cur & COUNT > 0 {
            match w.compare_exchange_weak(cur, cur - 1, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(v) => cur = v,
            }
        }
        false
    }

    fn took(&mut self) {
        let died = &self.state().died;
        let mut d = died.load(Ordering::Relaxed);
        let mut recovered = false;
        while d > 0 {
            match died.compare_exchange(d, d - 1, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => {
                    recovered = true;
                    break;
                }
                Err(v) => d = v,
            }
        }
        self.owner_died = recovered;
        if let Some(e) = self.entry() {
            self.state().holders[e].count.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Our holder entry, made on first use (`None` if the table is full).
    fn entry(&mut self) -> Option<usize> {
        let st = self.state();
        if let Some(i) = self.slot {
            if st.holders[i].id.load(Ordering::Relaxed) == self.id {
                return Some(i);
            }
        }
        for (i, h) in st.holders.iter().enumerate() {
            if h.id.load(Ordering::Relaxed) == 0
                && h.id.compare_exchange(0, self.id, Ordering::AcqRel, Ordering::Relaxed).is_ok()
            {
                h.count.store(0, Ordering::Relaxed);
                h.start.store(owner::my_start_time(), Ordering::Release);
                self.slot = Some(i);
                return Some(i);
            }
        }
        None
    }

    /// Acquires one permit, waiting until `deadline`. False on timeout.
    pub fn acquire(&mut self, deadline: Deadline) -> bool {
        let st = self.state();
        let me = owner::tid();
        if st.courtesy.load(Ordering::Relaxed) == me {
            let until = std::time::Instant::now() + COURTESY;
            while st.word.load(Ordering::Relaxed) & COUNT > 0 && std::time::Instant::now() < until && !deadline.expired() {
                std::thread::yield_now();
            }
            let _ = st.courtesy.compare_exchange(me, 0, Ordering::Relaxed, Ordering::Relaxed);
        }
        if self.try_take() {
            self.took();
            return true;
        }
        loop {
            let st = self.state();
            let cur = st.word.load(Ordering::Relaxed);
            if cur & COUNT > 0 {
                if self.try_take() {
                    self.took();
                    return true;
                }
                continue;
            }
            if cur & WAITERS == 0
                && st.word.compare_exchange(cur, cur | WAITERS, Ordering::Relaxed, Ordering::Relaxed).is_err()
            {
                continue;
            }
            if deadline.expired() {
                if self.reclaim_dead() > 0 && self.try_take() {
                    self.took();
                    return true;
                }
                return false;
            }
            waker::wait(&st.word, cur | WAITERS, Some(deadline.capped(LIVENESS_CHECK)));
            if st.word.load(Ordering::Relaxed) == cur | WAITERS {
                // Nothing moved for a while: maybe a holder died.
                self.reclaim_dead();
            }
        }
    }

    /// Returns the permits of dead holders; how many came back.
    pub fn reclaim_dead(&self) -> u32 {
        let st = self.state();
        let me = owner::pid();
        let mut back = 0u64;
        for h in &st.holders {
            let id = h.id.load(Ordering::Acquire);
            if id == 0 || h.count.load(Ordering::Acquire) == 0 {
                continue;
            }
            let pid = (id >> 32) as u32;
            if pid == me || owner::process_alive(pid, h.start.load(Ordering::Relaxed)) {
                continue;
            }
            if h.id.compare_exchange(id, 0, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                back += h.count.swap(0, Ordering::AcqRel);
            }
        }
        let back = back.min(u64::from(MAX_VALUE)) as u32;
        if back > 0 {
            st.died.fetch_add(back, Ordering::AcqRel);
            self.add(back);
        }
        back
    }

    fn add(&self, n: u32) -> bool {
        let st = self.state();
        let prev = st.word.fetch_add(n, Ordering::Release);
        let woke = if prev & WAITERS != 0 {
            st.word.fetch_and(COUNT, Ordering::Relaxed);
            rustix::thread::futex::wake(&st.word, rustix::thread::futex::Flags::empty(), i32::MAX as u32).unwrap_or(0) > 0
        } else {
            false
        };
        st.released.notify_all();
        woke
    }

    /// Releases `n` permits. A BoundedSemaphore refuses to go past its initial value.
    pub fn release(&mut self, n: u32) -> Result<()> {
        let st = self.state();
        if st.bounded != 0 {
            let mut cur = st.word.load(Ordering::Relaxed);
            loop {
                let c = cur & COUNT;
                if u64::from(c) + u64::from(n) > u64::from(st.initial) {
                    return Err(Error::Misuse("Semaphore released too many times".into()));
                }
                match st.word.compare_exchange_weak(cur, (c + n) | (cur & WAITERS), Ordering::Release, Ordering::Relaxed) {
                    Ok(_) => break,
                    Err(v) => cur = v,
                }
            }
            if cur & WAITERS != 0 {
                st.word.fetch_and(COUNT, Ordering::Relaxed);
                waker::wake_all(&st.word);
            }
            st.released.notify_all();
        } else {
            let c = st.word.load(Ordering::Relaxed) & COUNT;
            if u64::from(c) + u64::from(n) > u64::from(MAX_VALUE) {
                return Err(Error::Range("semaphore value would overflow".into()));
            }
            if self.add(n) {
                st.courtesy.store(owner::tid(), Ordering::Relaxed);
            }
        }
        self.forget(n);
        Ok(())
    }

    /// Drops up to `n` permits from our holder entry.
    fn forget(&mut self, n: u32) {
        if let Some(i) = self.slot {
            let h = &self.state().holders[i];
            if h.id.load(Ordering::Relaxed) == self.id {
                let mut cur = h.count.load(Ordering::Relaxed);
                loop {
                    let next = cur.saturating_sub(u64::from(n));
                    match h.count.compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Relaxed) {
                        Ok(_) => break,
                        Err(v) => cur = v,
                    }
                }
            }
        }
    }

    /// Gives back the permits this instance still holds, as if its owner died
    /// (a worker thread's instance finalized while holding permits).
    pub fn abandon(&mut self) {
        if let Some(i) = self.slot.take() {
            let st = self.state();
            let h = &st.holders[i];
            if h.id.compare_exchange(self.id, 0, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                let k = h.count.swap(0, Ordering::AcqRel).min(u64::from(MAX_VALUE)) as u32;
                if k > 0 {
                    st.died.fetch_add(k, Ordering::AcqRel);
                    self.add(k);
                }
            }
        }
    }

    /// A watch source for async acquires.
    pub fn watch(&self) -> Arc<dyn Watchable> {
        Arc::new(SemWatch(self.seg.clone()))
    }

    /// Removes a named semaphore's name.
    pub fn unlink(&self) -> Result<()> {
        self.seg.unlink()
    }
}

struct SemWatch(Arc<Segment>);

impl Watchable for SemWatch {
    fn ready(&self, mask: u32) -> u32 {
        // SAFETY: a Semaphore segment.
        let st = unsafe { self.0.state::<SemState>() };
        if st.word.load(Ordering::SeqCst) & COUNT > 0 || st.holders.iter().any(|h| {
            let id = h.id.load(Ordering::Relaxed);
            id != 0
                && h.count.load(Ordering::Relaxed) > 0
                && (id >> 32) as u32 != owner::pid()
                && !owner::process_alive((id >> 32) as u32, h.start.load(Ordering::Relaxed))
        }) {
            mask & AVAILABLE
        } else {
            0
        }
    }

    fn signal(&self, _bit: u32) -> &Signal {
        // SAFETY: a Semaphore segment.
        &unsafe { self.0.state::<SemState>() }.released
    }

    fn recheck(&self) -> Option<Duration> {
        Some(LIVENESS_CHECK)
    }
}
