//! Futex waiting and waking on words in shared memory, with deadlines.
//!
//! Words live in segments mapped by several processes, so no call here uses
//! `FUTEX_PRIVATE_FLAG`. Every blocking operation in the crate follows one
//! sequence: fast path → register as waiter → re-check → [`wait`] until the
//! deadline → deregister.

use std::sync::atomic::AtomicU32;
use std::time::{Duration, Instant};

use rustix::thread::futex;

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

    /// Time left, `None` if unbounded; `Some(ZERO)` once expired.
    pub fn remaining(&self) -> Option<Duration> {
        self.0.map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// True once the deadline has passed.
    pub fn expired(&self) -> bool {
        matches!(self.remaining(), Some(d) if d.is_zero())
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
