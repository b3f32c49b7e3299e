//! Who holds each end of a pipe, so the other end can tell when it is gone.
//!
//! A [`HolderTable`] in shared memory lists the processes holding one end
//! (pid, start time). `close()` and object finalization remove an entry; a
//! killed process leaves its entry behind, so "is anyone left?" also checks
//! that each listed process is still alive. This gives EOF after the peer
//! closed in every process or died, and EPIPE for a send with no reader.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::owner;

/// Slots per end; more holders than this still work but are not tracked.
pub const SLOTS: usize = 64;

/// One holder: `pid << 32 | serial` and the process start time.
#[repr(C)]
pub struct Slot {
    /// `pid << 32 | serial`, 0 when free.
    pub id: AtomicU64,
    /// Start time of `pid` (0 while being written).
    pub start: AtomicU64,
}

/// The holders of one end.
#[repr(C)]
pub struct HolderTable {
    /// Set once the end has ever had a holder (a table that never had one is not "closed").
    pub used: AtomicU64,
    /// Entries.
    pub slots: [Slot; SLOTS],
}

const _: () = assert!(std::mem::size_of::<HolderTable>() == 8 + 16 * SLOTS);

static SERIAL: AtomicU64 = AtomicU64::new(1);

/// A registration, to pass back to [`HolderTable::leave`].
#[derive(Clone, Copy, Debug)]
pub struct Ticket {
    index: usize,
    id: u64,
}

impl HolderTable {
    /// Registers this process as a holder (`None` if the table is full). A
    /// placeholder that a parent made for us at start (see `join_as` with start
    /// time 0) is taken over, so that our own `close()` is the last word.
    pub fn join(&self) -> Option<Ticket> {
        let me = owner::pid();
        let start = owner::my_start_time();
        for (i, s) in self.slots.iter().enumerate() {
            let id = s.id.load(Ordering::SeqCst);
            if id != 0 && (id >> 32) as u32 == me && s.start.load(Ordering::SeqCst) == 0 {
                let serial = SERIAL.fetch_add(1, Ordering::Relaxed) as u32;
                let new_id = (u64::from(me) << 32) | u64::from(serial.max(1));
                if s.id.compare_exchange(id, new_id, Ordering::SeqCst, Ordering::Relaxed).is_ok() {
                    s.start.store(start, Ordering::SeqCst);
                    return Some(Ticket { index: i, id: new_id });
                }
            }
        }
        self.join_as(me, start)
    }

    /// Registers process `pid` (start time `start`, 0 if unknown) as a holder.
    pub fn join_as(&self, pid: u32, start: u64) -> Option<Ticket> {
        self.used.store(1, Ordering::SeqCst);
        let serial = SERIAL.fetch_add(1, Ordering::Relaxed) as u32;
        let id = (u64::from(pid) << 32) | u64::from(serial.max(1));
        for pass in 0..2 {
            for (i, s) in self.slots.iter().enumerate() {
                let cur = s.id.load(Ordering::Relaxed);
                let free = cur == 0 || (pass == 1 && !Self::alive(cur, s.start.load(Ordering::Relaxed)));
                if free && s.id.compare_exchange(cur, id, Ordering::SeqCst, Ordering::Relaxed).is_ok() {
                    s.start.store(start, Ordering::SeqCst);
                    return Some(Ticket { index: i, id });
                }
            }
        }
        None
    }

    /// Removes a registration.
    pub fn leave(&self, t: Ticket) {
        let s = &self.slots[t.index];
        if s.id.compare_exchange(t.id, 0, Ordering::SeqCst, Ordering::Relaxed).is_ok() {
            s.start.store(0, Ordering::SeqCst);
        }
    }

    fn alive(id: u64, start: u64) -> bool {
        let pid = (id >> 32) as u32;
        pid == owner::pid() || owner::process_alive(pid, start)
    }

    /// True while some holder is listed (or the end never had one): no liveness
    /// check, so a holder that died unannounced still counts.
    pub fn listed(&self) -> bool {
        self.used.load(Ordering::SeqCst) == 0 || self.slots.iter().any(|s| s.id.load(Ordering::SeqCst) != 0)
    }

    /// True while some live process holds this end (or it never had a holder).
    pub fn anyone(&self) -> bool {
        if self.used.load(Ordering::SeqCst) == 0 {
            return true;
        }
        self.slots.iter().any(|s| {
            let id = s.id.load(Ordering::SeqCst);
            id != 0 && Self::alive(id, s.start.load(Ordering::SeqCst))
        })
    }
}
