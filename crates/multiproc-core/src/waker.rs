//! Futex waiting and waking on words in shared memory, with deadlines.
//!
//! Words live in segments mapped by several processes, so no call here uses
//! `FUTEX_PRIVATE_FLAG`. Every blocking operation in the crate follows one
//! sequence: fast path → register as waiter → re-check → [`wait`] until the
//! deadline → deregister.

use std::cell::Cell;
use std::sync::atomic::AtomicU32;
use std::time::{Duration, Instant};

use rustix::thread::futex;

/// How often a blocking call re-checks its interrupt test.
pub const INTERRUPT_CHECK: Duration = Duration::from_millis(20);

/// An interrupt test: `(check, context)`, with `check(context)` true to stop waiting.
type Interrupt = (fn(usize) -> bool, usize);

thread_local! {
    // Plain Cells: no destructor runs when a worker thread unloads the addon.
    static INTERRUPT: Cell<Option<Interrupt>> = const { Cell::new(None) };
    static LAST_CHECK: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Runs `f` with `check(ctx)` as the interrupt test of this thread's waits: while
/// it is installed every wait wakes at least every [`INTERRUPT_CHECK`], and once
/// `check` says so every deadline counts as expired. The binding uses it so that
/// `worker.terminate()` can end a worker blocked in a sync call.
pub fn with_interrupt<R>(check: fn(usize) -> bool, ctx: usize, f: impl FnOnce() -> R) -> R {
    let before = INTERRUPT.with(|c| c.replace(Some((check, ctx))));
    LAST_CHECK.with(|c| c.set(None));
    let r = f();
    INTERRUPT.with(|c| c.set(before));
    r
}

/// True if the installed interrupt test says stop (asked at most every few ms).
pub fn interrupted() -> bool {
    let Some((check, ctx)) = INTERRUPT.with(|c| c.get()) else { return false };
    let now = Instant::now();
    let due = LAST_CHECK.with(|c| c.get().is_none_or(|t| now.duration_since(t) >= INTERRUPT_CHECK / 2));
    if !due {
        return false;
    }
    LAST_CHECK.with(|c| c.set(Some(now)));
    check(ctx)
}

fn interruptible() -> bool {
    INTERRUPT.with(|c| c.get().is_some())
}

/// When a wait gives up: `None` waits forever.
#[derive(Clone, Copy, Debug)]
pub struct Deadline(pub Option<Instant>);

impl Deadline {
    /// Never expires.
    pub const FOREVER: Deadline = Deadline(None);

    /// From a timeout in milliseconds: `None` (or infinite) waits forever, 0 expires at once.
    pub fn after_ms(ms: Option<f64>) -> Deadline {
        match ms {
            None => Deadline(None),
            Some(m) if !m.is_finite() => Deadline(None),
            Some(m) => Deadline(Instant::now().checked_add(Duration::from_secs_f64(m.max(0.0) / 1000.0))),
        }
    }

    /// Time to sleep at most: what is left (`None` if unbounded), cut to
    /// [`INTERRUPT_CHECK`] while an interrupt test is installed.
    pub fn remaining(&self) -> Option<Duration> {
        let left = self.0.map(|d| d.saturating_duration_since(Instant::now()));
        if interruptible() {
            Some(left.map_or(INTERRUPT_CHECK, |l| l.min(INTERRUPT_CHECK)))
        } else {
            left
        }
    }

    /// True once the deadline has passed (or the interrupt test says stop).
    pub fn expired(&self) -> bool {
        matches!(self.0, Some(d) if d <= Instant::now()) || interrupted()
    }

    /// The earlier of the deadline and `now + cap`.
    pub fn capped(&self, cap: Duration) -> Duration {
        match self.remaining() {
            Some(d) => d.min(cap),
            None => cap,
        }
    }
}

fn timespec(d: Duration) -> rustix::time::Timespec {
    rustix::time::Timespec { tv_sec: d.as_secs() as i64, tv_nsec: d.subsec_nanos() as i64 }
}

/// Sleeps while `*word == expected`, at most `limit` (`None`: no limit).
/// Returns early on a wake, a spurious wake-up or a changed value; callers re-check.
pub fn wait(word: &AtomicU32, expected: u32, limit: Option<Duration>) {
    let ts = limit.map(timespec);
    // EAGAIN (value changed), ETIMEDOUT and EINTR all mean "look again".
    let _ = futex::wait(word, futex::Flags::empty(), expected, ts.as_ref());
}

/// Wakes up to `n` waiters on `word`.
pub fn wake(word: &AtomicU32, n: u32) {
    let _ = futex::wake(word, futex::Flags::empty(), n);
}

/// Wakes every waiter on `word`.
pub fn wake_all(word: &AtomicU32) {
    wake(word, i32::MAX as u32);
}

/// One word to watch in [`wait_any`], and whether it is process-private.
pub struct Watch<'a> {
    /// The futex word.
    pub word: &'a AtomicU32,
    /// The value seen before deciding to sleep.
    pub expected: u32,
    /// True for a word in private (non-shared) memory.
    pub private: bool,
}

/// Sleeps until any watched word changes or is woken (`futex_waitv`, Linux ≥ 5.16),
/// at most `limit`.
pub fn wait_any(watches: &[Watch<'_>], limit: Option<Duration>) {
    let waits: Vec<futex::Wait> = watches
        .iter()
        .map(|w| {
            let mut x = futex::Wait::new();
            x.val = u64::from(w.expected);
            x.uaddr = futex::WaitPtr::new(w.word.as_ptr().cast());
            x.flags = if w.private {
                futex::WaitFlags::SIZE_U32 | futex::WaitFlags::PRIVATE
            } else {
                futex::WaitFlags::SIZE_U32
            };
            x
        })
        .collect();
    // futex_waitv takes an absolute deadline on the given clock.
    let abs = limit.map(|d| {
        let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        let total = Duration::new(now.tv_sec as u64, now.tv_nsec as u32) + d;
        timespec(total)
    });
    let _ = futex::waitv(&waits, futex::WaitvFlags::empty(), abs.as_ref(), rustix::thread::ClockId::Monotonic);
}
