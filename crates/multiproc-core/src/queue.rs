//! The message queue: a growable byte ring in one segment, shared by every
//! process and thread that holds it. Queue, SimpleQueue, JoinableQueue and
//! each direction of a Pipe are this type.
//!
//! Records are `[len: u32][tag: u32][payload, padded to 8]`, written at
//! `tail` and read at `head` (byte counters that only grow). All changes
//! happen under the segment's [`RobustMutex`] and are committed by one atomic
//! store: the holder writes a complete new [`Snapshot`] into the inactive slot
//! and then flips `active`. A process killed at any instant therefore leaves
//! either the old or the new state, never a torn item; the next locker takes
//! over the mutex and carries on.
//!
//! When a record does not fit, the ring grows: a larger ring is appended to
//! the file, the live bytes are copied over, the commit switches to it, and
//! the old ring is released with `FALLOC_FL_PUNCH_HOLE`. So a `put` never
//! fails for lack of space; only `maxsize` (items) and `byte_limit` (a Pipe's
//! buffer, which still lets one oversized message through) make it wait.
//!
//! Items of [`BLOB_MIN`] bytes or more live out of the ring, in blobs of the
//! same file, and are copied in and out without the lock (see [`crate::blob`]);
//! their ring record holds only the blob's offset.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

pub use crate::blob::BLOB_MIN;
use crate::blob::{BlobTable, HOT_LIMIT, READING, WRITING};
use crate::ends::HolderTable;
use crate::error::{Error, Result};
use crate::mutex::{Acquired, RobustMutex, LIVENESS_CHECK};
use crate::segment::{Kind, Mapping, Segment, Signal};
use crate::waker::{self, Deadline};
use crate::watcher::Watchable;

/// Condition bit: an item may be available (or the queue was shut down).
pub const READABLE: u32 = 1;
/// Condition bit: there may be room for a put (or the queue was shut down).
pub const WRITABLE: u32 = 2;
/// Condition bit: the unfinished-task count may have reached zero.
pub const DRAINED: u32 = 4;

const PAGE: u64 = 4096;
const REC_HEADER: u64 = 8;
/// Largest payload of one record.
pub const MAX_ITEM: usize = u32::MAX as usize - 16;
/// Default initial ring size.
pub const DEFAULT_CAPACITY: u64 = 1 << 20;
/// Tag bit of a record whose payload is the file offset of a blob.
const BLOB_TAG: u32 = 1 << 31;
/// Largest tag a caller may give.
pub const MAX_TAG: u32 = BLOB_TAG - 1;

/// The queue's committed state; two copies alternate (see the module doc).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Snapshot {
    /// File offset of the ring.
    pub ring_off: u64,
    /// Ring size in bytes (a multiple of the page size).
    pub ring_cap: u64,
    /// Bytes consumed so far (the next record starts at `head % ring_cap`).
    pub head: u64,
    /// Bytes produced so far.
    pub tail: u64,
    /// Items in the ring.
    pub count: u64,
    /// JoinableQueue: items put and not yet `task_done`.
    pub unfinished: u64,
    /// Length of the file (rings are appended at the end).
    pub file_end: u64,
    /// 0 running, 1 shut down, 2 shut down immediately.
    pub shutdown: u64,
    /// Bytes of the blobs of queued items.
    pub blob_bytes: u64,
}

/// The shared state at the start of a queue segment.
#[repr(C)]
pub struct QueueState {
    /// Guards the snapshots and the ring.
    pub lock: RobustMutex,
    /// Item bound, 0 for unbounded.
    pub maxsize: u64,
    /// Byte bound (a Pipe's buffer), 0 for none.
    pub byte_limit: u64,
    /// Initial ring size, kept for shrinking back.
    pub initial_cap: u64,
    /// 1 if every put counts an unfinished task.
    pub joinable: u32,
    /// Bit 0: index of the committed snapshot; bit 1: of the committed blob table.
    pub active: AtomicU32,
    /// The two snapshots, written only under `lock`.
    pub snaps: [UnsafeCell<Snapshot>; 2],
    /// Copy of the committed `count`, readable without the lock.
    pub count_hint: AtomicU64,
    /// Copy of the committed `unfinished`, readable without the lock.
    pub unfinished_hint: AtomicU64,
    /// Copy of the committed `shutdown`.
    pub shutdown_hint: AtomicU32,
    /// Copy of the committed used bytes, low 32 bits saturated (Pipe readiness).
    pub used_hint: AtomicU32,
    /// Bumped after every put and at shutdown.
    pub readable: Signal,
    /// Bumped after every get and at shutdown.
    pub writable: Signal,
    /// Bumped when `unfinished` reaches zero.
    pub drained: Signal,
    /// Pipe: processes holding the sending end.
    pub writers: HolderTable,
    /// Pipe: processes holding the receiving end.
    pub readers: HolderTable,
    /// The two blob tables, written only under `lock`.
    pub blobs: [UnsafeCell<BlobTable>; 2],
    /// CLOCK_MONOTONIC (ns) of the last `get` of a blob: consumers are active.
    pub last_blob_get: AtomicU64,
}

// SAFETY: the snapshots and blob tables (the only non-atomic fields that change)
// are read and written only by the holder of `lock`; everything else is atomic
// or immutable.
unsafe impl Sync for QueueState {}

/// Options for a new queue.
#[derive(Clone, Debug, Default)]
pub struct QueueOptions {
    /// Item bound, 0 for unbounded.
    pub maxsize: u64,
    /// Initial ring size in bytes (0: default).
    pub capacity: u64,
    /// A Pipe's byte bound (0: none).
    pub byte_limit: u64,
    /// Count unfinished tasks (JoinableQueue).
    pub joinable: bool,
    /// Create-or-open by this name.
    pub name: Option<String>,
}

/// What a `get` found: the tag and the payload, possibly in two pieces (wrap).
pub struct Record<'a> {
    /// The tag the producer gave.
    pub tag: u32,
    /// First part of the payload.
    pub a: &'a [u8],
    /// Rest of the payload (empty unless the record wraps).
    pub b: &'a [u8],
}

impl Record<'_> {
    /// Payload length.
    pub fn len(&self) -> usize {
        self.a.len() + self.b.len()
    }

    /// True for an empty payload.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies the payload into `out` (which must be `len()` long).
    pub fn copy_to(&self, out: &mut [u8]) {
        out[..self.a.len()].copy_from_slice(self.a);
        out[self.a.len()..].copy_from_slice(self.b);
    }

    /// [`Self::copy_to`] for a buffer just allocated (see [`crate::copy`]).
    pub fn copy_to_fresh(&self, out: &mut [u8]) {
        let (x, y) = out.split_at_mut(self.a.len());
        crate::copy::copy_into_fresh(x, self.a);
        crate::copy::copy_into_fresh(y, self.b);
    }
}

fn pad8(n: u64) -> u64 {
    (n + 7) & !7
}

fn round_page(n: u64) -> u64 {
    n.div_ceil(PAGE) * PAGE
}

/// An open queue. Operations take `&mut self`: an instance belongs to one JS
/// thread; other threads and processes open their own from a handle.
pub struct Queue {
    seg: Arc<Segment>,
    data: Option<Mapping>,
    owner_died: bool,
    /// The last item this instance took was a blob: the next wait for an
    /// item sleeps at once (the producer's copy takes tens of microseconds;
    /// spinning through it would only take the producer's CPU).
    large_stream: bool,
}

/// Watches a queue's conditions for a [`crate::watcher::Watcher`].
pub struct QueueWatch(Arc<Segment>);

impl Watchable for QueueWatch {
    fn ready(&self, mask: u32) -> u32 {
        // SAFETY: the segment was created or checked as a Queue segment.
        let s = unsafe { self.0.state::<QueueState>() };
        s.ready(mask)
    }

    fn signal(&self, bit: u32) -> &Signal {
        // SAFETY: as above.
        let s = unsafe { self.0.state::<QueueState>() };
        match bit {
            READABLE => &s.readable,
            WRITABLE => &s.writable,
            _ => &s.drained,
        }
    }

    /// A process killed between its commit and its `notify_all` signals
    /// nothing: look at the published state again now and then (see [`block`]).
    fn recheck(&self) -> Option<std::time::Duration> {
        Some(LIVENESS_CHECK)
    }
}

impl QueueState {
    /// Copies a committed snapshot's figures into the lock-free hints.
    fn publish(&self, s: &Snapshot) {
        self.count_hint.store(s.count, Ordering::SeqCst);
        self.unfinished_hint.store(s.unfinished, Ordering::SeqCst);
        self.shutdown_hint.store(s.shutdown as u32, Ordering::SeqCst);
        let used = s.tail - s.head + s.blob_bytes;
        self.used_hint.store(used.min(u64::from(u32::MAX)) as u32, Ordering::SeqCst);
    }

    /// Which of `mask`'s conditions may hold now, read without the lock.
    pub fn ready(&self, mask: u32) -> u32 {
        let count = self.count_hint.load(Ordering::SeqCst);
        let down = self.shutdown_hint.load(Ordering::SeqCst) != 0;
        let mut r = 0;
        if count > 0 || down {
            r |= READABLE;
        }
        let room_items = self.maxsize == 0 || count < self.maxsize;
        let room_bytes = self.byte_limit == 0 || (self.used_hint.load(Ordering::SeqCst) as u64) < self.byte_limit;
        if (room_items && room_bytes) || down {
            r |= WRITABLE;
        }
        if self.unfinished_hint.load(Ordering::SeqCst) == 0 {
            r |= DRAINED;
        }
        r & mask
    }
}

/// A locked queue: the snapshot being built and the commit.
struct Txn<'q> {
    q: &'q mut Queue,
    snap: Snapshot,
    /// A ring replaced by `grow`, released after the commit.
    old_ring: Option<(u64, u64)>,
    /// The blob table being changed (copied from the committed one on first change).
    blobs: Option<BlobTable>,
}

impl Queue {
    /// Creates a queue, or opens the named one.
    pub fn create(o: &QueueOptions) -> Result<Queue> {
        let cap = round_page(if o.capacity == 0 { DEFAULT_CAPACITY } else { o.capacity }.max(PAGE));
        if cap > (1u64 << 40) {
            return Err(Error::Range("capacityBytes is too large".into()));
        }
        let mut failure: Option<Error> = None;
        let (seg, _created) = Segment::create(Kind::Queue, std::mem::size_of::<QueueState>(), o.name.as_deref(), |seg| {
            let ctrl_len = seg.header().ctrl_len.load(Ordering::Relaxed);
            let ring_off = round_page(ctrl_len);
            if let Err(e) = rustix::fs::ftruncate(seg.fd(), ring_off + cap) {
                failure = Some(e.into());
                return;
            }
            // SAFETY: a new Queue segment: its state is a QueueState.
            let st = unsafe { seg.state::<QueueState>() } as *const QueueState as *mut QueueState;
            // SAFETY: the segment is new and not yet visible to anyone (its magic is
            // unset), so we are the only writer of its zero-filled state.
            unsafe {
                (*st).maxsize = o.maxsize;
                (*st).byte_limit = o.byte_limit;
                (*st).initial_cap = cap;
                (*st).joinable = u32::from(o.joinable);
                *(*st).snaps[0].get() = Snapshot { ring_off, ring_cap: cap, file_end: ring_off + cap, ..Default::default() };
            }
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        Ok(Queue { seg: Arc::new(seg), data: None, owner_died: false, large_stream: false })
    }

    /// Opens the queue a handle describes.
    pub fn attach(h: &crate::segment::Handle) -> Result<Queue> {
        if h.kind != Kind::Queue {
            return Err(Error::BadHandle("handle is not a Queue handle".into()));
        }
        Ok(Queue { seg: Arc::new(Segment::open(h)?), data: None, owner_died: false, large_stream: false })
    }

    /// The segment (for handles, names, watchers).
    pub fn segment(&self) -> &Arc<Segment> {
        &self.seg
    }

    /// A watch source for a [`crate::watcher::Watcher`].
    pub fn watch(&self) -> Arc<dyn Watchable> {
        Arc::new(QueueWatch(self.seg.clone()))
    }

    /// The shared state.
    pub fn state(&self) -> &QueueState {
        // SAFETY: the segment was created or checked as a Queue segment.
        unsafe { self.seg.state::<QueueState>() }
    }

    /// The item bound (0: unbounded).
    pub fn maxsize(&self) -> u64 {
        self.state().maxsize
    }

    /// Whether a wait for an item should spin first (not after a large item).
    pub fn spin_for_items(&self) -> bool {
        !self.large_stream
    }

    /// True if the last lock taken was recovered from a dead holder.
    pub fn owner_died(&self) -> bool {
        self.owner_died
    }

    /// The shared state, not tied to a borrow of `self`.
    fn shared<'a>(&self) -> &'a QueueState {
        // SAFETY: the state lives in the segment that `self.seg` keeps mapped; every
        // caller uses the reference only while `self` (and so the Arc) is alive.
        unsafe { &*(self.state() as *const QueueState) }
    }

    fn begin(&mut self, deadline: Deadline) -> Result<Txn<'_>> {
        let st = self.shared();
        match st.lock.lock(deadline) {
            None => Err(Error::Timeout),
            Some(a) => {
                let idx = st.active.load(Ordering::Acquire) as usize & 1;
                // SAFETY: we hold the lock, so nobody writes the snapshots.
                let snap = unsafe { *st.snaps[idx].get() };
                self.owner_died = a == Acquired::OwnerDied;
                if self.owner_died {
                    // The dead holder may have committed without publishing hints
                    // or waking anyone: do both for it.
                    st.publish(&snap);
                    st.readable.notify_all();
                    st.writable.notify_all();
                    st.drained.notify_all();
                }
                Ok(Txn { q: self, snap, old_ring: None, blobs: None })
            }
        }
    }

    /// Reads the committed snapshot under the lock.
    pub fn snapshot(&mut self) -> Result<Snapshot> {
        let t = self.begin(Deadline::FOREVER)?;
        let s = t.snap;
        t.abort();
        Ok(s)
    }

    /// Items in the queue at this instant.
    pub fn qsize(&mut self) -> Result<u64> {
        Ok(self.snapshot()?.count)
    }

    /// Unfinished tasks (JoinableQueue) at this instant.
    pub fn unfinished(&mut self) -> Result<u64> {
        Ok(self.snapshot()?.unfinished)
    }

    /// True if a put would wait now.
    pub fn is_full(&mut self) -> Result<bool> {
        let s = self.snapshot()?;
        Ok(self.maxsize() != 0 && s.count >= self.maxsize())
    }

    /// True once shut down.
    pub fn is_shutdown(&self) -> bool {
        self.state().shutdown_hint.load(Ordering::SeqCst) != 0
    }

    /// One attempt to append a record.
    pub fn try_put(&mut self, tag: u32, data: &[u8]) -> Result<()> {
        self.try_put_parts(tag, &[data])
    }

    /// One attempt to append a record made of several parts.
    pub fn try_put_parts(&mut self, tag: u32, parts: &[&[u8]]) -> Result<()> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if len > MAX_ITEM {
            return Err(Error::Range(format!("an item of {len} bytes is larger than the 4 GiB limit")));
        }
        if tag > MAX_TAG {
            return Err(Error::Range(format!("tag {tag} is out of range")));
        }
        if len >= BLOB_MIN {
            return self.put_blob(tag, parts, len);
        }
        let st = self.shared();
        let mut t = self.begin(Deadline::FOREVER)?;
        if t.snap.shutdown != 0 {
            t.abort();
            return Err(Error::ShutDown);
        }
        let need = REC_HEADER + pad8(len as u64);
        if t.no_room_after_reap(need) {
            t.abort();
            return Err(Error::Full);
        }
        let used = t.snap.tail - t.snap.head;
        if used + need > t.snap.ring_cap {
            if let Err(e) = t.grow(used + need) {
                t.abort();
                return Err(e);
            }
        }
        let mut hdr = [0u8; 8];
        hdr[..4].copy_from_slice(&(len as u32).to_le_bytes());
        hdr[4..].copy_from_slice(&tag.to_le_bytes());
        let mut pos = t.snap.tail;
        t.write_at(pos, &hdr);
        pos += REC_HEADER;
        for p in parts {
            t.write_at(pos, p);
            pos += p.len() as u64;
        }
        t.snap.tail += need;
        t.snap.count += 1;
        if st.joinable != 0 {
            t.snap.unfinished += 1;
        }
        t.commit();
        let st = self.state();
        st.readable.notify_all();
        Ok(())
    }

    /// A large item: reserve a blob under the lock, fill it without the lock,
    /// then publish its record under the lock.
    fn put_blob(&mut self, tag: u32, parts: &[&[u8]], len: usize) -> Result<()> {
        let size = round_page(len as u64);
        let mut patience: Option<Deadline> = None;
        let (mut t, off) = loop {
            let mut t = self.begin(Deadline::FOREVER)?;
            if t.snap.shutdown != 0 {
                t.abort();
                return Err(Error::ShutDown);
            }
            if t.no_room_after_reap(size) {
                t.abort();
                return Err(Error::Full);
            }
            if let Some(off) = t.reuse_blob(size) {
                break (t, off);
            }
            // Nothing free. New pages cost several times a copy (first touch of
            // tmpfs memory), so while consumers are at work, wait a little for a
            // blob to come back rather than grow the file; but only while
            // enough items are queued that consumers do not run dry meanwhile.
            // (This is not waiting for room: no consumer, no wait.)
            let queued = t.snap.count;
            let wait = patience.get_or_insert_with(|| recycle_patience(size, queued));
            let st = t.q.shared();
            let consumers_active = now_ns().saturating_sub(st.last_blob_get.load(Ordering::Relaxed)) < CONSUMERS_ACTIVE_NS
                || t.blobs_ref().busy.iter().any(|b| b.state == READING);
            if !wait.expired() && t.snap.count >= RECYCLE_AHEAD && consumers_active {
                let sig = &t.q.shared().writable;
                let seen = sig.seq.load(Ordering::SeqCst);
                let wait = *wait;
                t.abort();
                spin_then_wait(sig, seen, wait);
                continue;
            }
            match t.grow_file(size) {
                Ok(off) => break (t, off),
                Err(e) => {
                    t.abort();
                    return Err(e);
                }
            }
        };
        let base = match t.base_ptr() {
            Ok(b) => b,
            Err(e) => {
                t.abort();
                return Err(e);
            }
        };
        // SAFETY: [off, off + len) lies in the file and in `self.data`'s mapping
        // (base_ptr maps all of file_end), and no one else writes it: it is
        // neither free nor published.
        let fill = move || unsafe { copy_parts(base.add(off as usize), parts) };
        if !t.blobs().add_busy(off, size, WRITING) {
            // Too many copies in progress to track this one: fill it under the lock.
            fill();
            return t.publish_blob(tag, off, len, size);
        }
        t.commit();
        fill();
        let mut t = self.begin(Deadline::FOREVER)?;
        t.blobs().remove_busy(off);
        if t.snap.shutdown == 2 {
            // Shut down immediately while we copied: the item goes with the rest.
            t.free_blob(off, size);
            t.commit();
            return Err(Error::ShutDown);
        }
        t.publish_blob(tag, off, len, size)
    }

    /// The second half of a `get` of a blob: gives the range back (and wakes
    /// a producer that waits for it, see `put_blob`).
    fn release_blob(&mut self, off: u64, size: u64) {
        // A FOREVER lock attempt always succeeds.
        let st = self.shared();
        if let Ok(mut t) = self.begin(Deadline::FOREVER) {
            t.blobs().remove_busy(off);
            t.free_blob(off, size);
            t.trim_if_drained();
            t.commit();
            st.writable.notify_all();
        }
    }

    /// One attempt to take the oldest record; `take` copies it out.
    pub fn try_get<R>(&mut self, take: impl FnOnce(Record<'_>) -> R) -> Result<R> {
        let mut t = self.begin(Deadline::FOREVER)?;
        if t.snap.count == 0 || t.snap.shutdown == 2 {
            let down = t.snap.shutdown != 0;
            t.abort();
            return Err(if down { Error::ShutDown } else { Error::Empty });
        }
        let ring = t.ring_ptr();
        let cap = t.snap.ring_cap;
        let h = t.snap.head % cap;
        // SAFETY: the record header never wraps (records are 8-aligned and cap is
        // a multiple of 8) and lies inside the mapped ring.
        let hdr = unsafe { std::slice::from_raw_parts(ring.add(h as usize), 8) };
        let len = u64::from(u32::from_le_bytes(hdr[..4].try_into().expect("4 bytes")));
        let tag = u32::from_le_bytes(hdr[4..].try_into().expect("4 bytes"));
        let start = (h + REC_HEADER) % cap;
        t.q.large_stream = tag & BLOB_TAG != 0;
        if tag & BLOB_TAG != 0 {
            // SAFETY: the 8-byte offset follows the header; 8-aligned, so it never wraps.
            let off = u64::from_le_bytes(unsafe { *(ring.add(start as usize) as *const [u8; 8]) });
            return Self::get_blob(t, tag & !BLOB_TAG, off, len, take);
        }
        let first = len.min(cap - start);
        // SAFETY: both pieces lie inside the ring, which we hold locked; producers
        // only write past `tail`.
        let (a, b) = unsafe {
            (
                std::slice::from_raw_parts(ring.add(start as usize), first as usize),
                std::slice::from_raw_parts(ring, (len - first) as usize),
            )
        };
        let r = take(Record { tag, a, b });
        t.snap.head += REC_HEADER + pad8(len);
        t.snap.count -= 1;
        if t.snap.count == 0 {
            // Empty: restart at the ring's start so small items stay in warm pages.
            t.snap.head = 0;
            t.snap.tail = 0;
        }
        t.commit();
        self.state().writable.notify_all();
        Ok(r)
    }

    /// Takes the blob record at the head (read by `try_get` in `t`): removes it
    /// under the lock, copies the blob out without the lock, then frees it.
    fn get_blob<R>(mut t: Txn<'_>, tag: u32, off: u64, len: u64, take: impl FnOnce(Record<'_>) -> R) -> Result<R> {
        let st = t.q.shared();
        let size = round_page(len);
        st.last_blob_get.store(now_ns(), Ordering::Relaxed);
        t.snap.head += REC_HEADER + 8;
        t.snap.count -= 1;
        t.snap.blob_bytes -= size;
        if t.snap.count == 0 {
            t.snap.head = 0;
            t.snap.tail = 0;
        }
        let base = t.base_ptr()?;
        // SAFETY: the blob lies in the file and the mapping; once taken, no one
        // but us touches it until we free it.
        let a = unsafe { std::slice::from_raw_parts(base.add(off as usize), len as usize) };
        let rec = Record { tag, a, b: &[] };
        if !t.blobs().add_busy(off, size, READING) {
            // Too many copies in progress to track this one: copy under the lock.
            let r = take(rec);
            t.free_blob(off, size);
            t.commit();
            st.writable.notify_all();
            return Ok(r);
        }
        let q = t.finish();
        st.writable.notify_all();
        /// Frees the blob even if `take` unwinds.
        struct Release<'a>(&'a mut Queue, u64, u64);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                self.0.release_blob(self.1, self.2);
            }
        }
        let _release = Release(q, off, size);
        Ok(take(rec))
    }

    /// Puts, waiting for room until `deadline`.
    pub fn put(&mut self, tag: u32, data: &[u8], deadline: Deadline) -> Result<()> {
        self.put_parts(tag, &[data], deadline)
    }

    /// Puts a record made of parts, waiting for room until `deadline`.
    pub fn put_parts(&mut self, tag: u32, parts: &[&[u8]], deadline: Deadline) -> Result<()> {
        let spin = parts.iter().map(|p| p.len()).sum::<usize>() < BLOB_MIN;
        block_sliced(self, WRITABLE, deadline, Some(LIVENESS_CHECK), spin, |q| match q.try_put_parts(tag, parts) {
            Err(Error::Full) => None,
            r => Some(r),
        })
        .unwrap_or(Err(Error::Full))
    }

    /// Gets, waiting for an item until `deadline`.
    pub fn get<R>(&mut self, deadline: Deadline, mut take: impl FnMut(Record<'_>) -> R) -> Result<R> {
        let spin = self.spin_for_items();
        block_sliced(self, READABLE, deadline, Some(LIVENESS_CHECK), spin, |q| match q.try_get(&mut take) {
            Err(Error::Empty) => None,
            r => Some(r),
        })
        .unwrap_or(Err(Error::Empty))
    }

    /// Marks one task done (JoinableQueue).
    pub fn task_done(&mut self) -> Result<()> {
        let mut t = self.begin(Deadline::FOREVER)?;
        if t.snap.unfinished == 0 {
            t.abort();
            return Err(Error::Misuse("taskDone() called too many times".into()));
        }
        t.snap.unfinished -= 1;
        let zero = t.snap.unfinished == 0;
        t.commit();
        if zero {
            self.state().drained.notify_all();
        }
        Ok(())
    }

    /// Waits until every task is done (JoinableQueue).
    pub fn join(&mut self, deadline: Deadline) -> Result<()> {
        block(self, DRAINED, deadline, |q| {
            (q.state().unfinished_hint.load(Ordering::SeqCst) == 0).then_some(Ok(()))
        })
        .unwrap_or(Err(Error::Timeout))
    }

    /// Shuts the queue down; with `immediate`, discards its items (counted as done).
    pub fn shutdown(&mut self, immediate: bool) -> Result<()> {
        let mut t = self.begin(Deadline::FOREVER)?;
        t.snap.shutdown = t.snap.shutdown.max(if immediate { 2 } else { 1 });
        if immediate {
            t.free_queued_blobs();
            t.snap.unfinished = t.snap.unfinished.saturating_sub(t.snap.count);
            t.snap.count = 0;
            t.snap.head = 0;
            t.snap.tail = 0;
            t.trim_if_drained();
        }
        t.commit();
        let st = self.state();
        st.readable.notify_all();
        st.writable.notify_all();
        st.drained.notify_all();
        Ok(())
    }

    /// Removes a named queue's name.
    pub fn unlink(&self) -> Result<()> {
        self.seg.unlink()
    }
}

/// The blocking sequence: try → spin briefly → register as sleeper → re-try →
/// sleep until the signal moves or the deadline passes → deregister.
/// `None` if the deadline passed.
///
/// Sleeps are cut every [`LIVENESS_CHECK`]: a process killed after committing
/// a change but before its `notify_all` leaves a change nobody signals (an
/// item nobody is woken for), so sleepers look again now and then.
pub(crate) fn block<Q, R>(q: &mut Q, bit: u32, deadline: Deadline, attempt: impl FnMut(&mut Q) -> Option<R>) -> Option<R>
where
    Q: SignalSource,
{
    block_sliced(q, bit, deadline, Some(LIVENESS_CHECK), true, attempt)
}

/// [`block`], waking at least every `slice` to re-run `attempt` (for
/// conditions no one signals, such as a peer process dying). Without `spin`
/// it sleeps at once: right for a put of a large item, whose room comes back
/// only after a consumer's copy of tens of microseconds (spinning would take
/// that consumer's CPU).
pub(crate) fn block_sliced<Q, R>(
    q: &mut Q,
    bit: u32,
    deadline: Deadline,
    slice: Option<std::time::Duration>,
    spin: bool,
    mut attempt: impl FnMut(&mut Q) -> Option<R>,
) -> Option<R>
where
    Q: SignalSource,
{
    loop {
        let s0 = q.signal(bit).seq.load(Ordering::SeqCst);
        if let Some(r) = attempt(q) {
            return Some(r);
        }
        if deadline.expired() {
            return None;
        }
        // A short spin catches a partner that answers within microseconds
        // without paying two futex syscalls and a reschedule.
        let mut moved = false;
        for i in 0..if spin { 200 } else { 0 } {
            if q.signal(bit).seq.load(Ordering::Relaxed) != s0 {
                moved = true;
                break;
            }
            if i < 150 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        if moved {
            continue;
        }
        let sig = q.signal(bit) as *const Signal;
        // SAFETY: the signal lives in the segment, which `q` keeps mapped for
        // the whole call; the reference does not outlive this iteration.
        let sig = unsafe { &*sig };
        sig.sleepers.fetch_add(1, Ordering::SeqCst);
        let seen = sig.seq.load(Ordering::SeqCst);
        let r = attempt(q);
        if r.is_none() && !deadline.expired() {
            let limit = match slice {
                Some(c) => Some(deadline.capped(c)),
                None => deadline.remaining(),
            };
            waker::wait(&sig.seq, seen, limit);
        }
        sig.sleepers.fetch_sub(1, Ordering::SeqCst);
        if r.is_some() {
            return r;
        }
    }
}

/// Something with condition signals to block on.
pub(crate) trait SignalSource {
    fn signal(&self, bit: u32) -> &Signal;
}

impl SignalSource for Queue {
    fn signal(&self, bit: u32) -> &Signal {
        let s = self.state();
        match bit {
            READABLE => &s.readable,
            WRITABLE => &s.writable,
            _ => &s.drained,
        }
    }
}

/// Items that must be queued already before a large put waits for a blob to
/// be recycled instead of taking new memory (see `put_blob`).
const RECYCLE_AHEAD: u64 = 4;

/// A blob taken this recently (ns) means consumers are at work (see `put_blob`).
const CONSUMERS_ACTIVE_NS: u64 = 20_000_000;

/// CLOCK_MONOTONIC in ns (one clock for every process).
fn now_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// How long a large put may wait for a blob to be freed before it takes new
/// memory: 1 ms per MiB (a consumer's copy took 0.1-0.3 ms per MiB in our
/// measurements) times the queue's depth in units of [`RECYCLE_AHEAD`], at
/// least 0.5 ms, at most 50 ms. The wait ends as soon as a blob comes back;
/// it only happens while consumers are at work, and paces a producer that
/// runs far ahead of them instead of letting it first-touch new shared
/// memory (which costs more than the copy, and so only slows everyone).
fn recycle_patience(size: u64, queued: u64) -> Deadline {
    let depth = (queued / RECYCLE_AHEAD).max(1);
    let us = (size >> 20).max(1).saturating_mul(1000).saturating_mul(depth).clamp(500, 50_000);
    Deadline(Some(std::time::Instant::now() + std::time::Duration::from_micros(us)))
}

/// Waits until `sig` moves past `seen` or `until` passes: a short spin, then
/// the futex (the producer is not the bottleneck here; its spinning would
/// take a CPU from the consumer).
fn spin_then_wait(sig: &Signal, seen: u32, until: Deadline) {
    for _ in 0..100 {
        if sig.seq.load(Ordering::Relaxed) != seen {
            return;
        }
        std::hint::spin_loop();
    }
    sig.sleep_with(|_| waker::wait(&sig.seq, seen, until.remaining()));
}

/// Copies `parts` one after another to `dst`.
///
/// # Safety
/// `dst` must be valid for writes of the parts' total length and overlap none of them.
unsafe fn copy_parts(dst: *mut u8, parts: &[&[u8]]) {
    let mut at = 0;
    for p in parts {
        // SAFETY: within the destination, per the contract.
        unsafe { std::ptr::copy_nonoverlapping(p.as_ptr(), dst.add(at), p.len()) };
        at += p.len();
    }
}

impl<'q> Txn<'q> {
    /// Start of the file's mapping, which covers `file_end` (remapped, with
    /// headroom so a growing file is not remapped on every blob).
    fn base_ptr(&mut self) -> Result<*mut u8> {
        let need = self.snap.file_end as usize;
        let ok = self.q.data.as_ref().is_some_and(|m| m.len() >= need);
        if !ok {
            self.q.data = None;
            self.q.data = Some(Mapping::new(self.q.seg.fd(), need.next_power_of_two())?);
        }
        Ok(self.q.data.as_ref().expect("mapped").ptr())
    }

    fn ring_ptr(&mut self) -> *mut u8 {
        let base = self.base_ptr().expect("cannot map queue ring");
        // SAFETY: ring_off + ring_cap <= file_end <= mapping length.
        unsafe { base.add(self.snap.ring_off as usize) }
    }

    /// The blob table as this transaction sees it, without copying it.
    fn blobs_ref(&self) -> &BlobTable {
        match &self.blobs {
            Some(b) => b,
            None => {
                let st = self.q.state();
                let i = (st.active.load(Ordering::Relaxed) >> 1) as usize & 1;
                // SAFETY: we hold the lock; the committed table is not written.
                unsafe { &*st.blobs[i].get() }
            }
        }
    }

    /// The blob table, to change (committed with the snapshot).
    fn blobs(&mut self) -> &mut BlobTable {
        if self.blobs.is_none() {
            self.blobs = Some(*self.blobs_ref());
        }
        self.blobs.as_mut().expect("copied")
    }

    /// True if a put of `need` more bytes must wait: `maxsize` items, or a
    /// Pipe's byte bound (which an empty pipe waives), counting puts still copying.
    fn no_room(&self, need: u64) -> bool {
        let st = self.q.state();
        let b = self.blobs_ref();
        let count = self.snap.count + b.writing;
        let used = self.snap.tail - self.snap.head + self.snap.blob_bytes + b.writing_bytes;
        (st.maxsize != 0 && count >= st.maxsize) || (st.byte_limit != 0 && used > 0 && used + need > st.byte_limit)
    }

    /// [`Self::no_room`], looking again after reaping if puts still copying
    /// hold room (one whose process died mid-copy holds it until reaped).
    fn no_room_after_reap(&mut self, need: u64) -> bool {
        self.no_room(need) && (self.blobs_ref().writing == 0 || self.reap_dead() == 0 || self.no_room(need))
    }

    /// Frees the blobs of copiers that died; how many there were.
    fn reap_dead(&mut self) -> usize {
        let dead = self.blobs().reap_dead();
        for &(off, len) in &dead {
            self.free_blob(off, len);
        }
        dead.len()
    }

    /// A free range of `size` bytes for a blob (reaping dead copiers' if need be).
    fn reuse_blob(&mut self, size: u64) -> Option<u64> {
        if let Some(off) = self.blobs().take_free(size) {
            return Some(off);
        }
        if self.reap_dead() > 0 {
            return self.blobs().take_free(size);
        }
        None
    }

    /// A new range of `size` bytes for a blob, past the file's end.
    fn grow_file(&mut self, size: u64) -> Result<u64> {
        let off = round_page(self.snap.file_end);
        rustix::fs::ftruncate(self.q.seg.fd(), off + size)?;
        self.snap.file_end = off + size;
        Ok(off)
    }

    /// Gives a blob's range back for reuse, or punches it out if the table
    /// has no slot for it.
    fn free_blob(&mut self, off: u64, size: u64) {
        if !self.blobs().give(off, size) {
            self.punch(off, size);
        }
    }

    /// Releases the pages of a range. Runs before the commit: once a range is
    /// committed free, someone may fill it.
    fn punch(&self, off: u64, len: u64) {
        let _ = rustix::fs::fallocate(
            self.q.seg.fd(),
            rustix::fs::FallocateFlags::PUNCH_HOLE | rustix::fs::FallocateFlags::KEEP_SIZE,
            off,
            len,
        );
    }

    /// Once the queue is empty, gives back what a burst left resident beyond
    /// [`HOT_LIMIT`] (not earlier: punching costs about two copies).
    fn trim_if_drained(&mut self) {
        if self.snap.count == 0 && self.blobs_ref().hot_bytes > HOT_LIMIT {
            for (off, len) in self.blobs().trim(HOT_LIMIT) {
                self.punch(off, len);
            }
        }
    }

    /// Frees the blobs of every queued item (an immediate shutdown drops them).
    fn free_queued_blobs(&mut self) {
        if self.snap.blob_bytes == 0 {
            return;
        }
        let ring = self.ring_ptr();
        let cap = self.snap.ring_cap;
        let mut pos = self.snap.head;
        while pos < self.snap.tail {
            let h = pos % cap;
            // SAFETY: record headers and blob offsets are 8-aligned and never wrap;
            // every record between head and tail is complete.
            let (len, tag, off) = unsafe {
                let hdr = *(ring.add(h as usize) as *const [u8; 8]);
                let off = *(ring.add(((h + REC_HEADER) % cap) as usize) as *const [u8; 8]);
                (
                    u64::from(u32::from_le_bytes(hdr[..4].try_into().expect("4 bytes"))),
                    u32::from_le_bytes(hdr[4..].try_into().expect("4 bytes")),
                    u64::from_le_bytes(off),
                )
            };
            if tag & BLOB_TAG != 0 {
                self.free_blob(off, round_page(len));
                pos += REC_HEADER + 8;
            } else {
                pos += REC_HEADER + pad8(len);
            }
        }
        self.snap.blob_bytes = 0;
    }

    /// Appends the record of a filled blob, commits and wakes getters (or,
    /// if the ring cannot grow, frees the blob and fails).
    fn publish_blob(mut self, tag: u32, off: u64, len: usize, size: u64) -> Result<()> {
        let need = REC_HEADER + 8;
        let used = self.snap.tail - self.snap.head;
        if used + need > self.snap.ring_cap {
            if let Err(e) = self.grow(used + need) {
                self.free_blob(off, size);
                self.commit();
                return Err(e);
            }
        }
        let mut rec = [0u8; 16];
        rec[..4].copy_from_slice(&(len as u32).to_le_bytes());
        rec[4..8].copy_from_slice(&(tag | BLOB_TAG).to_le_bytes());
        rec[8..].copy_from_slice(&off.to_le_bytes());
        let pos = self.snap.tail;
        self.write_at(pos, &rec);
        self.snap.tail += need;
        self.snap.count += 1;
        self.snap.blob_bytes += size;
        let st = self.q.shared();
        if st.joinable != 0 {
            self.snap.unfinished += 1;
        }
        self.commit();
        st.readable.notify_all();
        Ok(())
    }

    fn write_at(&mut self, pos: u64, bytes: &[u8]) {
        let cap = self.snap.ring_cap;
        let ring = self.ring_ptr();
        let off = pos % cap;
        let first = (bytes.len() as u64).min(cap - off) as usize;
        // SAFETY: both pieces lie in the ring's free space (checked by the caller),
        // which only the lock holder touches.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), ring.add(off as usize), first);
            std::ptr::copy_nonoverlapping(bytes.as_ptr().add(first), ring, bytes.len() - first);
        }
    }

    /// Moves the live bytes into a new ring of at least `min` bytes at the file's end.
    fn grow(&mut self, min: u64) -> Result<()> {
        let old = self.snap;
        let new_cap = round_page(min.max(old.ring_cap * 2));
        let new_off = round_page(old.file_end);
        rustix::fs::ftruncate(self.q.seg.fd(), new_off + new_cap)?;
        let used = old.tail - old.head;
        let mut next = old;
        next.ring_off = new_off;
        next.ring_cap = new_cap;
        next.file_end = new_off + new_cap;
        next.head = 0;
        next.tail = used;
        self.q.data = None;
        let m = Mapping::new(self.q.seg.fd(), next.file_end as usize)?;
        let base = m.ptr();
        let h = old.head % old.ring_cap;
        let first = used.min(old.ring_cap - h);
        // SAFETY: old and new rings are disjoint ranges of the mapping; we hold the lock.
        unsafe {
            let src = base.add(old.ring_off as usize);
            let dst = base.add(new_off as usize);
            std::ptr::copy_nonoverlapping(src.add(h as usize), dst, first as usize);
            std::ptr::copy_nonoverlapping(src, dst.add(first as usize), (used - first) as usize);
        }
        self.q.data = Some(m);
        self.snap = next;
        self.old_ring = Some((old.ring_off, old.ring_cap));
        Ok(())
    }

    fn commit(self) {
        self.finish();
    }

    /// Commits and unlocks, handing back the queue.
    fn finish(mut self) -> &'q mut Queue {
        let st = self.q.shared();
        let cur = st.active.load(Ordering::Relaxed);
        let snap = (cur & 1) as usize;
        // SAFETY: we hold the lock; the inactive slots are ours to write.
        unsafe { *st.snaps[1 - snap].get() = self.snap };
        let mut next = (1 - snap as u32) | (cur & 2);
        if let Some(b) = &self.blobs {
            let bi = (cur >> 1) as usize & 1;
            // SAFETY: as above.
            unsafe { *st.blobs[1 - bi].get() = *b };
            next = (1 - snap as u32) | (((1 - bi) as u32) << 1);
        }
        // One store commits both the snapshot and the blob table.
        st.active.store(next, Ordering::Release);
        st.publish(&self.snap);
        if let Some((off, len)) = self.old_ring.take() {
            // Give the old ring's pages back; a crash before this only wastes them.
            let _ = rustix::fs::fallocate(
                self.q.seg.fd(),
                rustix::fs::FallocateFlags::PUNCH_HOLE | rustix::fs::FallocateFlags::KEEP_SIZE,
                off,
                len,
            );
        }
        st.lock.unlock();
        // SAFETY: `self` is forgotten at once, so the reference is not duplicated.
        let q = unsafe { std::ptr::read(&self.q) };
        std::mem::forget(self);
        q
    }

    fn abort(self) {
        self.q.state().lock.unlock();
        std::mem::forget(self);
    }
}

impl Drop for Txn<'_> {
    fn drop(&mut self) {
        // Unwinding out of a transaction: leave the committed state as it was.
        self.q.state().lock.unlock();
    }
}

