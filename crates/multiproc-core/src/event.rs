//! Event: a flag in shared memory that waiters sleep on until it is set.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::segment::{Handle, Kind, Segment, Signal};
use crate::waker::{self, Deadline};
use crate::watcher::Watchable;

/// Watcher bit: the flag may be set.
pub const SET: u32 = 1;

/// The shared state.
#[repr(C)]
pub struct EventState {
    /// 1 while set.
    pub flag: AtomicU32,
    /// Reserved.
    pub _pad: u32,
    /// Bumped by `set`.
    pub changed: Signal,
}

/// An open event.
pub struct Event {
    seg: Arc<Segment>,
}

impl Event {
    /// Creates an event (clear), or opens the named one.
    pub fn create(name: Option<&str>) -> Result<Event> {
        let (seg, _) = Segment::create(Kind::Event, std::mem::size_of::<EventState>(), name, |_| {})?;
        Ok(Event { seg: Arc::new(seg) })
    }

    /// Opens the event a handle describes.
    pub fn attach(h: &Handle) -> Result<Event> {
        if h.kind != Kind::Event {
            return Err(Error::BadHandle("handle is not an Event handle".into()));
        }
        Ok(Event { seg: Arc::new(Segment::open(h)?) })
    }

    /// The segment.
    pub fn segment(&self) -> &Arc<Segment> {
        &self.seg
    }

    fn state(&self) -> &EventState {
        // SAFETY: created or checked as an Event segment.
        unsafe { self.seg.state::<EventState>() }
    }

    /// Sets the flag and wakes every waiter.
    pub fn set(&self) {
        self.state().flag.store(1, Ordering::SeqCst);
        self.state().changed.notify_all();
    }

    /// Clears the flag.
    pub fn clear(&self) {
        self.state().flag.store(0, Ordering::SeqCst);
    }

    /// True while set.
    pub fn is_set(&self) -> bool {
        self.state().flag.load(Ordering::SeqCst) != 0
    }

    /// Waits until set or `deadline`; returns the flag.
    pub fn wait(&self, deadline: Deadline) -> bool {
        let st = self.state();
        loop {
            if self.is_set() {
                return true;
            }
            if deadline.expired() {
                return false;
            }
            let sig = &st.changed;
            sig.sleepers.fetch_add(1, Ordering::SeqCst);
            let seen = sig.seq.load(Ordering::SeqCst);
            if !self.is_set() {
                waker::wait(&sig.seq, seen, deadline.remaining());
            }
            sig.sleepers.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// A watch source for async waits.
    pub fn watch(&self) -> Arc<dyn Watchable> {
        Arc::new(EventWatch(self.seg.clone()))
    }

    /// Removes a named event's name.
    pub fn unlink(&self) -> Result<()> {
        self.seg.unlink()
    }
}

struct EventWatch(Arc<Segment>);

impl Watchable for EventWatch {
    fn ready(&self, mask: u32) -> u32 {
        // SAFETY: an Event segment.
        let st = unsafe { self.0.state::<EventState>() };
        if st.flag.load(Ordering::SeqCst) != 0 {
            mask & SET
        } else {
            0
        }
    }

    fn signal(&self, _bit: u32) -> &Signal {
        // SAFETY: an Event segment.
        &unsafe { self.0.state::<EventState>() }.changed
    }
}
