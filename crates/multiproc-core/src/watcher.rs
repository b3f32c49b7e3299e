//! One native thread per object with async waiters.
//!
//! Promises must never block the event loop nor occupy libuv's thread pool,
//! so an object that has pending async waits parks one [`Watcher`] thread on
//! its futex words (with `futex_waitv`). When a condition the JS side asked
//! for may hold, the thread calls `notify(mask)` and disarms those bits; the
//! JS side retries its operations and re-arms what is still pending. With
//! nothing armed the thread sleeps on a condvar and costs nothing.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use crate::segment::Signal;
use crate::waker::{self, Watch};

/// An object whose conditions a watcher can wait for.
pub trait Watchable: Send + Sync + 'static {
    /// The subset of `mask` whose conditions may hold now (a hint; callers retry).
    fn ready(&self, mask: u32) -> u32;
    /// The signal bumped when condition `bit` may have become true.
    fn signal(&self, bit: u32) -> &Signal;
    /// How often to re-check conditions that nobody signals (a peer dying); `None`: never.
    fn recheck(&self) -> Option<std::time::Duration> {
        None
    }
}

struct Control {
    armed: Mutex<(u32, bool)>,
    cv: Condvar,
    kick: AtomicU32,
}

/// The thread and its control block. Dropping it stops and joins the thread.
pub struct Watcher {
    control: Arc<Control>,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    /// Starts the thread. `notify` runs on it with the bits that may be ready.
    pub fn spawn(src: Arc<dyn Watchable>, notify: Box<dyn Fn(u32) + Send>) -> std::io::Result<Watcher> {
        let control = Arc::new(Control { armed: Mutex::new((0, false)), cv: Condvar::new(), kick: AtomicU32::new(0) });
        let c = control.clone();
        let thread = std::thread::Builder::new()
            .name("multiproc-watcher".into())
            .stack_size(64 * 1024)
            .spawn(move || run(&c, &*src, &*notify))?;
        Ok(Watcher { control, thread: Some(thread) })
    }

    /// Asks to be told when any condition in `mask` may hold.
    pub fn arm(&self, mask: u32) {
        let mut g = self.control.armed.lock().unwrap_or_else(|e| e.into_inner());
        g.0 |= mask;
        drop(g);
        self.control.cv.notify_one();
        self.control.kick.fetch_add(1, Ordering::SeqCst);
        waker::wake_all(&self.control.kick);
    }

    /// Stops watching `mask` (no more notifications for it).
    pub fn disarm(&self, mask: u32) {
        let mut g = self.control.armed.lock().unwrap_or_else(|e| e.into_inner());
        g.0 &= !mask;
    }

    /// Stops and joins the thread.
    pub fn stop(&mut self) {
        {
            let mut g = self.control.armed.lock().unwrap_or_else(|e| e.into_inner());
            g.1 = true;
        }
        self.control.cv.notify_one();
        self.control.kick.fetch_add(1, Ordering::SeqCst);
        waker::wake_all(&self.control.kick);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(c: &Control, src: &dyn Watchable, notify: &dyn Fn(u32)) {
    loop {
        let mask = {
            let mut g = c.armed.lock().unwrap_or_else(|e| e.into_inner());
            while !g.1 && g.0 == 0 {
                g = c.cv.wait(g).unwrap_or_else(|e| e.into_inner());
            }
            if g.1 {
                return;
            }
            g.0
        };
        let kick_seen = c.kick.load(Ordering::SeqCst);
        let bits: Vec<u32> = (0..32).map(|i| 1u32 << i).filter(|b| mask & b != 0).collect();
        let signals: Vec<&Signal> = bits.iter().map(|&b| src.signal(b)).collect();
        for s in &signals {
            s.sleepers.fetch_add(1, Ordering::SeqCst);
        }
        let seen: Vec<u32> = signals.iter().map(|s| s.seq.load(Ordering::SeqCst)).collect();
        let ready = src.ready(mask);
        if ready == 0 && c.kick.load(Ordering::SeqCst) == kick_seen {
            let mut watches: Vec<Watch<'_>> = signals
                .iter()
                .zip(&seen)
                .map(|(s, &v)| Watch { word: &s.seq, expected: v, private: false })
                .collect();
            watches.push(Watch { word: &c.kick, expected: kick_seen, private: false });
            waker::wait_any(&watches, src.recheck());
        }
        for s in &signals {
            s.sleepers.fetch_sub(1, Ordering::SeqCst);
        }
        if ready != 0 {
            {
                let mut g = c.armed.lock().unwrap_or_else(|e| e.into_inner());
                g.0 &= !ready;
            }
            notify(ready);
        }
    }
}
