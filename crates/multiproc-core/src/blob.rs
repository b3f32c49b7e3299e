//! Large items out of line: the table of a queue file's blob ranges.
//!
//! An item of at least [`BLOB_MIN`] bytes does not go through the ring. The
//! producer reserves a page-aligned range of the queue's file (a blob) under
//! the queue's lock, copies into it *without* the lock, and then appends a
//! small ring record naming the range; a consumer takes that record under the
//! lock, copies the blob out without it and gives the range back. So one
//! side's copy overlaps the other's, and the ring never grows or moves for
//! big items (growing it copies every live byte).
//!
//! The table lists the free ranges (kept resident for reuse, because
//! first-touching tmpfs pages costs several times a copy; trimmed back to
//! [`HOT_LIMIT`] bytes when the queue drains) and the ranges in a copy, with the copier's pid and start time: a
//! copier killed mid-copy is found dead and its range reclaimed. The queue
//! keeps two copies of the table and commits it with the same store as its
//! snapshot, so a crash never leaves a half-updated table.

use crate::owner;

/// Items of at least this many bytes travel as blobs.
pub const BLOB_MIN: usize = 128 << 10;
/// Free ranges the table can track (adjacent ones merge).
pub const FREE_SLOTS: usize = 32;
/// Copies that can be in progress at once; more copy under the lock instead.
pub const BUSY_SLOTS: usize = 32;
/// Freed bytes kept resident once the queue has drained; the rest is punched out.
pub const HOT_LIMIT: u64 = 32 << 20;

/// A busy range being filled by a `put` that has not returned yet.
pub const WRITING: u32 = 1;
/// A busy range being copied out by a `get` that has not returned yet.
pub const READING: u32 = 2;

/// A free range of the file.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct FreeRange {
    /// File offset.
    pub off: u64,
    /// Length in bytes; 0 marks an unused slot.
    pub len: u64,
    /// 1 while its pages are resident (freed by a copy, not punched).
    pub hot: u64,
}

/// A range in a copy.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Busy {
    /// File offset.
    pub off: u64,
    /// Length in bytes.
    pub len: u64,
    /// Start time of the copier's process (see [`owner::start_time`]).
    pub start: u64,
    /// The copier's pid.
    pub pid: u32,
    /// 0 unused, [`WRITING`] or [`READING`].
    pub state: u32,
}

/// The blob ranges of one queue file.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BlobTable {
    /// Free ranges.
    pub free: [FreeRange; FREE_SLOTS],
    /// Ranges in a copy.
    pub busy: [Busy; BUSY_SLOTS],
    /// Bytes of free ranges that are resident.
    pub hot_bytes: u64,
    /// Ranges being written (puts in progress), which count against `maxsize`.
    pub writing: u64,
    /// Their bytes, which count against a Pipe's buffer size.
    pub writing_bytes: u64,
}

impl Default for BlobTable {
    fn default() -> Self {
        BlobTable {
            free: [FreeRange::default(); FREE_SLOTS],
            busy: [Busy::default(); BUSY_SLOTS],
            hot_bytes: 0,
            writing: 0,
            writing_bytes: 0,
        }
    }
}

impl BlobTable {
    /// Takes `len` bytes from a free range: the smallest resident one that
    /// fits, else the smallest punched one. `None` if nothing fits.
    pub fn take_free(&mut self, len: u64) -> Option<u64> {
        let mut best: Option<usize> = None;
        for (i, r) in self.free.iter().enumerate() {
            if r.len == 0 || r.len < len {
                continue;
            }
            let better = match best {
                None => true,
                Some(b) => {
                    let x = &self.free[b];
                    (r.hot, u64::MAX - r.len) > (x.hot, u64::MAX - x.len)
                }
            };
            if better {
                best = Some(i);
            }
        }
        let r = &mut self.free[best?];
        let off = r.off;
        r.off += len;
        r.len -= len;
        if r.hot != 0 {
            self.hot_bytes -= len;
        }
        if r.len == 0 {
            *r = FreeRange::default();
        }
        Some(off)
    }

    /// Returns a resident range for reuse; false if no slot is left (the
    /// caller then punches it out and its offsets are not used again).
    pub fn give(&mut self, off: u64, len: u64) -> bool {
        let listed = self.insert(off, len, 1);
        if listed {
            self.hot_bytes += len;
        }
        listed
    }

    /// Marks resident ranges, largest first, as punched until at most `limit`
    /// bytes stay resident; returns the ranges whose pages must be punched out.
    pub fn trim(&mut self, limit: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        while self.hot_bytes > limit {
            let Some(i) = (0..FREE_SLOTS).filter(|&i| self.free[i].len != 0 && self.free[i].hot != 0).max_by_key(|&i| self.free[i].len)
            else {
                break;
            };
            let r = self.free[i];
            self.free[i] = FreeRange::default();
            self.hot_bytes -= r.len;
            // The slot just emptied guarantees room.
            self.insert(r.off, r.len, 0);
            out.push((r.off, r.len));
        }
        out
    }

    /// Lists a free range, merging it with free neighbours of the same kind.
    fn insert(&mut self, off: u64, len: u64, hot: u64) -> bool {
        let (mut off, mut len) = (off, len);
        for r in self.free.iter_mut() {
            if r.len != 0 && r.hot == hot && (r.off + r.len == off || off + len == r.off) {
                off = off.min(r.off);
                len += r.len;
                *r = FreeRange::default();
            }
        }
        match self.free.iter_mut().find(|r| r.len == 0) {
            Some(slot) => {
                *slot = FreeRange { off, len, hot };
                true
            }
            None => false,
        }
    }

    /// Records a copy in progress by this process; false if the table is full.
    pub fn add_busy(&mut self, off: u64, len: u64, state: u32) -> bool {
        let Some(slot) = self.busy.iter_mut().find(|b| b.state == 0) else {
            return false;
        };
        *slot = Busy { off, len, start: owner::my_start_time(), pid: owner::pid(), state };
        if state == WRITING {
            self.writing += 1;
            self.writing_bytes += len;
        }
        true
    }

    /// Ends the copy of the range at `off`; its entry, if it was still listed.
    pub fn remove_busy(&mut self, off: u64) -> Option<Busy> {
        let slot = self.busy.iter_mut().find(|b| b.state != 0 && b.off == off)?;
        let b = *slot;
        *slot = Busy::default();
        if b.state == WRITING {
            self.writing -= 1;
            self.writing_bytes -= b.len;
        }
        Some(b)
    }

    /// Removes the copies whose process died and returns their ranges (an
    /// unfinished put's item never existed; an unfinished get's item went with
    /// its consumer). Reads `/proc` once per other process listed.
    pub fn reap_dead(&mut self) -> Vec<(u64, u64)> {
        let me = owner::pid();
        let mut dead = Vec::new();
        for i in 0..BUSY_SLOTS {
            let b = self.busy[i];
            if b.state == 0 || b.pid == me || owner::process_alive(b.pid, b.start) {
                continue;
            }
            self.remove_busy(b.off);
            dead.push((b.off, b.len));
        }
        dead
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn take_prefers_small_resident_ranges_and_merges_neighbours() {
        let mut t = BlobTable::default();
        assert_eq!(t.take_free(MIB), None);
        assert!(t.give(0, 4 * MIB));
        assert!(t.give(10 * MIB, MIB));
        assert_eq!(t.hot_bytes, 5 * MIB);
        // The 1 MiB range fits best.
        assert_eq!(t.take_free(MIB), Some(10 * MIB));
        assert_eq!(t.take_free(MIB), Some(0));
        assert_eq!(t.hot_bytes, 3 * MIB);
        // Giving back [0, 1 MiB) merges with [1 MiB, 4 MiB).
        assert!(t.give(0, MIB));
        assert_eq!(t.free.iter().filter(|r| r.len != 0).count(), 1);
        assert_eq!(t.take_free(4 * MIB), Some(0));
        assert_eq!(t.hot_bytes, 0);
    }

    #[test]
    fn trim_punches_the_largest_ranges_and_resident_ones_are_used_first() {
        let mut t = BlobTable::default();
        // Not adjacent to each other: each takes a slot.
        assert!(t.give(0, 8 * MIB));
        assert!(t.give(20 * MIB, 12 * MIB));
        assert!(t.give(40 * MIB, 2 * MIB));
        assert_eq!(t.trim(10 * MIB), vec![(20 * MIB, 12 * MIB)]);
        assert_eq!(t.hot_bytes, 10 * MIB);
        assert_eq!(t.trim(10 * MIB), vec![]);
        // A resident range that fits wins over a larger punched one.
        assert_eq!(t.take_free(2 * MIB), Some(40 * MIB));
        assert_eq!(t.take_free(9 * MIB), Some(20 * MIB));
        assert_eq!(t.hot_bytes, 8 * MIB);
        // Slots run out: the range is not listed.
        for i in 0..FREE_SLOTS as u64 {
            t.give((100 + 2 * i) * MIB, MIB);
        }
        assert!(!t.give(1000 * MIB, MIB));
    }

    #[test]
    fn busy_entries_count_writes_and_dead_copiers_are_reaped() {
        let mut t = BlobTable::default();
        assert!(t.add_busy(0, MIB, WRITING));
        assert!(t.add_busy(MIB, MIB, READING));
        assert_eq!((t.writing, t.writing_bytes), (1, MIB));
        // A copier whose process is gone (no such pid).
        t.busy[2] = Busy { off: 2 * MIB, len: MIB, start: 1, pid: u32::MAX - 1, state: WRITING };
        t.writing += 1;
        t.writing_bytes += MIB;
        assert_eq!(t.reap_dead(), vec![(2 * MIB, MIB)]);
        assert_eq!((t.writing, t.writing_bytes), (1, MIB));
        assert_eq!(t.remove_busy(0).map(|b| b.state), Some(WRITING));
        assert_eq!(t.remove_busy(0).map(|b| b.state), None);
        assert_eq!((t.writing, t.writing_bytes), (0, 0));
        for i in 0..BUSY_SLOTS as u64 - 1 {
            assert!(t.add_busy(10 * MIB + i * MIB, MIB, READING));
        }
        assert!(!t.add_busy(0, MIB, READING));
    }
}
