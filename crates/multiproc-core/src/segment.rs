//! Segments: the shared memory every object lives in.
//!
//! A segment is a file mapped `MAP_SHARED`: a `memfd` for unnamed objects
//! (freed by the kernel when the last process holding it closes it or dies,
//! so nothing can leak) or a POSIX shm file `/dev/shm/multiproc-<name>` for
//! named objects (kept until `unlink`). Both are mode 0600.
//!
//! Layout: a [`Header`] (magic, version, kind, random token, holder table),
//! then the object's state at [`STATE_OFFSET`]. Other processes open an
//! unnamed segment through `/proc/<pid>/fd/<fd>` of any live holder listed in
//! its [`Handle`]; the token in the header proves they reached the right one.
//! The magic is written last, so a half-created segment is never used.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use rustix::fs::{FlockOperation, Mode};
use rustix::mm::{MapFlags, ProtFlags};

use crate::error::{Error, Result};
use crate::owner;

/// "MPROCSEG" in little-endian: marks an initialised segment.
pub const MAGIC: u64 = u64::from_le_bytes(*b"MPROCSEG");
/// Layout version; bumped on any incompatible change of a shared struct.
pub const VERSION: u32 = 2;
/// How many holder processes a segment remembers for `attach`.
pub const HOLDER_SLOTS: usize = 32;
/// Most `(pid, fd)` pairs a handle lists.
pub const MAX_HANDLE_HOLDERS: usize = 16;
/// Where the object's own state starts.
pub const STATE_OFFSET: usize = 512;
const PAGE: usize = 4096;

/// What kind of object a segment holds.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A message queue (Queue, SimpleQueue, JoinableQueue, one Pipe direction).
    Queue = 1,
    /// A Pipe (two queues and the end states).
    Pipe = 2,
    /// Reserved.
    Reserved = 3,
    /// Value, SharedArray, SharedMemory.
    Memory = 4,
    /// Lock and RLock.
    Lock = 5,
    /// Semaphore and BoundedSemaphore.
    Semaphore = 6,
    /// Event.
    Event = 7,
    /// Condition (its lock is a separate Lock segment).
    Condition = 8,
    /// Barrier.
    Barrier = 9,
}

impl Kind {
    /// The kind stored in a header, if known.
    pub fn from_u32(v: u32) -> Option<Kind> {
        Some(match v {
            1 => Kind::Queue,
            2 => Kind::Pipe,
            4 => Kind::Memory,
            5 => Kind::Lock,
            6 => Kind::Semaphore,
            7 => Kind::Event,
            8 => Kind::Condition,
            9 => Kind::Barrier,
            _ => return None,
        })
    }

    /// Human name for errors.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Queue => "Queue",
            Kind::Pipe => "Pipe",
            Kind::Reserved => "reserved object",
            Kind::Memory => "shared memory",
            Kind::Lock => "Lock",
            Kind::Semaphore => "Semaphore",
            Kind::Event => "Event",
            Kind::Condition => "Condition",
            Kind::Barrier => "Barrier",
        }
    }
}

/// The versioned start of every segment.
#[repr(C)]
pub struct Header {
    /// [`MAGIC`] once the segment is fully initialised (stored last, Release).
    pub magic: AtomicU64,
    /// [`VERSION`] of the layout.
    pub version: AtomicU32,
    /// A [`Kind`] as u32.
    pub kind: AtomicU32,
    /// Random token; a handle must present the same one.
    pub token: [AtomicU64; 2],
    /// Length of the control mapping (header + state), fixed at creation.
    pub ctrl_len: AtomicU64,
    /// Live holders as `pid << 32 | fd`, 0 for a free slot.
    pub holders: [AtomicU64; HOLDER_SLOTS],
}

const _: () = assert!(std::mem::size_of::<Header>() <= STATE_OFFSET);
const _: () = assert!(std::mem::size_of::<Header>() == 40 + 8 * HOLDER_SLOTS);

/// A plain description of a segment that crosses processes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handle {
    /// The object's kind.
    pub kind: Kind,
    /// The token written in the header.
    pub token: [u64; 2],
    /// Shm name for a named object.
    pub name: Option<String>,
    /// `(pid, fd)` of processes that held the segment when the handle was made.
    pub holders: Vec<(u32, u32)>,
}

/// A `MAP_SHARED` mapping, unmapped on drop.
pub struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain shared memory; all access to it goes through
// atomics or is serialized by locks that live inside it.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps the first `len` bytes of `fd` read-write and shared.
    pub fn new(fd: BorrowedFd<'_>, len: usize) -> Result<Mapping> {
        if len == 0 {
            return Err(Error::Range("cannot map an empty segment".into()));
        }
        // SAFETY: a fresh mapping at an address the kernel picks, backed by a
        // file we hold open; it aliases no Rust object.
        let p = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                fd,
                0,
            )?
        };
        Ok(Mapping { ptr: NonNull::new(p.cast()).expect("mmap returned null"), len })
    }

    /// Start of the mapping.
    pub fn ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never true: a mapping has at least one byte.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: we created this mapping with this length and nobody uses it after drop.
        unsafe {
            let _ = rustix::mm::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

/// An open segment: its file and the mapping of its control area.
pub struct Segment {
    fd: OwnedFd,
    ctrl: Mapping,
    kind: Kind,
    token: [u64; 2],
    name: Option<String>,
    slot: Option<(usize, u64)>,
}

fn round_page(n: usize) -> usize {
    n.div_ceil(PAGE) * PAGE
}

fn shm_path(name: &str) -> String {
    format!("/multiproc-{name}")
}

/// Checks a user-given object name: 1..=200 bytes, no `/` and no NUL.
pub fn validate_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 200 {
        return Err(Error::Range(format!("name must be 1 to 200 bytes long, got {}", name.len())));
    }
    if name.contains('/') || name.contains('\0') {
        return Err(Error::Range("name must not contain '/' or NUL".into()));
    }
    Ok(())
}

fn random_token() -> [u64; 2] {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the OS random source failed");
    [
        u64::from_le_bytes(b[..8].try_into().expect("8 bytes")),
        u64::from_le_bytes(b[8..].try_into().expect("8 bytes")),
    ]
}

impl Segment {
    /// Creates an object of `kind` whose state takes `state_len` bytes, or, for a
    /// `name` that exists, opens it. `init` fills the zeroed state of a new object.
    /// Returns the segment and whether this call created it.
    pub fn create(
        kind: Kind,
        state_len: usize,
        name: Option<&str>,
        init: impl FnOnce(&Segment),
    ) -> Result<(Segment, bool)> {
        let ctrl_len = round_page(STATE_OFFSET + state_len);
        match name {
            None => {
                let fd = rustix::fs::memfd_create(
                    format!("multiproc-{}", kind.name()),
                    rustix::fs::MemfdFlags::CLOEXEC,
                )?;
                rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o600))?;
                rustix::fs::ftruncate(&fd, ctrl_len as u64)?;
                let seg = Self::initialise(fd, kind, ctrl_len, None, init)?;
                Ok((seg, true))
            }
            Some(n) => {
                validate_name(n)?;
                let fd = rustix::shm::open(
                    shm_path(n).as_str(),
                    rustix::shm::OFlags::CREATE | rustix::shm::OFlags::RDWR,
                    Mode::from_raw_mode(0o600),
                )?;
                // The flock makes create-or-open atomic between processes and dies with
                // its holder, so a creator killed half-way never blocks the next one.
                rustix::fs::flock(&fd, FlockOperation::LockExclusive)?;
                let result = Self::open_or_init_named(fd.as_fd(), kind, ctrl_len, n, init);
                let _ = rustix::fs::flock(&fd, FlockOperation::Unlock);
                let (created, ctrl_len) = result?;
                if created {
                    let seg = Self::initialised(fd, kind, ctrl_len, Some(n.to_string()))?;
                    Ok((seg, true))
                } else {
                    Ok((Self::initialised(fd, kind, ctrl_len, Some(n.to_string()))?, false))
                }
            }
        }
    }

    fn open_or_init_named(
        fd: BorrowedFd<'_>,
        kind: Kind,
        ctrl_len: usize,
        name: &str,
        init: impl FnOnce(&Segment),
    ) -> Result<(bool, usize)> {
        let size = rustix::fs::fstat(fd)?.st_size as usize;
        if size >= STATE_OFFSET {
            let m = Mapping::new(fd, STATE_OFFSET)?;
            // SAFETY: the mapping is at least STATE_OFFSET long and Header fits in it.
            let h = unsafe { &*(m.ptr() as *const Header) };
            if h.magic.load(Ordering::Acquire) == MAGIC {
                let k = h.kind.load(Ordering::Relaxed);
                if k != kind as u32 || h.version.load(Ordering::Relaxed) != VERSION {
                    return Err(Error::BadHandle(format!(
                        "the object named '{name}' is a {}, not a {}",
                        Kind::from_u32(k).map_or("object of another version", Kind::name),
                        kind.name()
                    )));
                }
                return Ok((false, h.ctrl_len.load(Ordering::Relaxed) as usize));
            }
        }
        // New, or left half-made by a creator that died: (re)build it from zero.
        rustix::fs::ftruncate(fd, 0)?;
        rustix::fs::ftruncate(fd, ctrl_len as u64)?;
        let dup = rustix::io::fcntl_dupfd_cloexec(fd, 0)?;
        let seg = Self::initialise(dup, kind, ctrl_len, Some(name.to_string()), init)?;
        drop(seg);
        Ok((true, ctrl_len))
    }

    /// Writes the header of a zero-filled file of `ctrl_len` bytes and runs `init`.
    fn initialise(
        fd: OwnedFd,
        kind: Kind,
        ctrl_len: usize,
        name: Option<String>,
        init: impl FnOnce(&Segment),
    ) -> Result<Segment> {
        let ctrl = Mapping::new(fd.as_fd(), ctrl_len)?;
        let token = random_token();
        let mut seg = Segment { fd, ctrl, kind, token, name, slot: None };
        {
            let h = seg.header();
            h.version.store(VERSION, Ordering::Relaxed);
            h.kind.store(kind as u32, Ordering::Relaxed);
            h.token[0].store(token[0], Ordering::Relaxed);
            h.token[1].store(token[1], Ordering::Relaxed);
            h.ctrl_len.store(ctrl_len as u64, Ordering::Relaxed);
        }
        init(&seg);
        seg.header().magic.store(MAGIC, Ordering::Release);
        seg.register();
        Ok(seg)
    }

    /// Wraps an already initialised segment file.
    fn initialised(fd: OwnedFd, kind: Kind, ctrl_len: usize, name: Option<String>) -> Result<Segment> {
        let size = rustix::fs::fstat(&fd)?.st_size as usize;
        if ctrl_len < STATE_OFFSET || size < ctrl_len {
            return Err(Error::BadHandle("segment is truncated or corrupt".into()));
        }
        let ctrl = Mapping::new(fd.as_fd(), ctrl_len)?;
        // SAFETY: ctrl_len >= STATE_OFFSET >= size_of::<Header>().
        let h = unsafe { &*(ctrl.ptr() as *const Header) };
        if h.magic.load(Ordering::Acquire) != MAGIC
            || h.version.load(Ordering::Relaxed) != VERSION
            || h.kind.load(Ordering::Relaxed) != kind as u32
            || h.ctrl_len.load(Ordering::Relaxed) as usize != ctrl_len
        {
            return Err(Error::BadHandle(format!("not a multiproc {} segment", kind.name())));
        }
        let token = [h.token[0].load(Ordering::Relaxed), h.token[1].load(Ordering::Relaxed)];
        let mut seg = Segment { fd, ctrl, kind, token, name, slot: None };
        seg.register();
        Ok(seg)
    }

    /// Opens the object a handle describes. Fails with [`Error::BadHandle`] if no
    /// listed holder is alive or the token does not match.
    pub fn open(h: &Handle) -> Result<Segment> {
        if let Some(n) = &h.name {
            validate_name(n)?;
            let fd = rustix::shm::open(shm_path(n).as_str(), rustix::shm::OFlags::RDWR, Mode::empty())
                .map_err(|_| Error::BadHandle(format!("no object named '{n}' exists (unlinked?)")))?;
            let seg = Self::from_fd(fd, h.kind)?;
            if seg.token != h.token {
                return Err(Error::BadHandle(format!(
                    "the object named '{n}' was unlinked and created again; this handle is stale"
                )));
            }
            return Ok(seg);
        }
        let me = owner::pid();
        for &(pid, fd) in &h.holders {
            let path = if pid == me { format!("/proc/self/fd/{fd}") } else { format!("/proc/{pid}/fd/{fd}") };
            let Ok(file) = rustix::fs::open(
                path.as_str(),
                rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CLOEXEC,
                Mode::empty(),
            ) else {
                continue;
            };
            if let Ok(seg) = Self::from_fd(file, h.kind) {
                if seg.token == h.token {
                    return Ok(seg);
                }
            }
        }
        Err(Error::BadHandle(format!(
            "cannot attach {}: no process holding it is alive, or the handle is forged or stale",
            h.kind.name()
        )))
    }

    fn from_fd(fd: OwnedFd, kind: Kind) -> Result<Segment> {
        let size = rustix::fs::fstat(&fd)?.st_size as usize;
        if size < STATE_OFFSET {
            return Err(Error::BadHandle("segment is truncated or corrupt".into()));
        }
        let ctrl_len = {
            let m = Mapping::new(fd.as_fd(), STATE_OFFSET)?;
            // SAFETY: the mapping is STATE_OFFSET bytes, enough for a Header.
            let h = unsafe { &*(m.ptr() as *const Header) };
            if h.magic.load(Ordering::Acquire) != MAGIC {
                return Err(Error::BadHandle("not a multiproc segment".into()));
            }
            h.ctrl_len.load(Ordering::Relaxed) as usize
        };
        Self::initialised(fd, kind, ctrl_len, None)
    }

    fn register(&mut self) {
        let me = owner::pid();
        let fd = {
            use std::os::fd::AsRawFd;
            self.fd.as_raw_fd() as u32
        };
        let val = (u64::from(me) << 32) | u64::from(fd);
        let h = self.header();
        for pass in 0..2 {
            for (i, s) in h.holders.iter().enumerate() {
                let cur = s.load(Ordering::Relaxed);
                let free = cur == 0 || (pass == 1 && !owner::process_alive((cur >> 32) as u32, 0));
                if free && s.compare_exchange(cur, val, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                    self.slot = Some((i, val));
                    return;
                }
            }
        }
    }

    /// The header.
    pub fn header(&self) -> &Header {
        // SAFETY: the control mapping is at least STATE_OFFSET bytes and page aligned.
        unsafe { &*(self.ctrl.ptr() as *const Header) }
    }

    /// The object's state, of type `T`.
    ///
    /// # Safety
    /// `T` must be the `#[repr(C)]` state type this segment's kind was created with,
    /// valid for any bit pattern another process may have written (atomics and integers).
    pub unsafe fn state<T>(&self) -> &T {
        debug_assert!(STATE_OFFSET + std::mem::size_of::<T>() <= self.ctrl.len());
        // SAFETY: the caller guarantees T matches; the offset is inside the mapping
        // and STATE_OFFSET keeps 8-byte alignment.
        unsafe { &*(self.ctrl.ptr().add(STATE_OFFSET) as *const T) }
    }

    /// The segment's file.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The object's kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The shm name of a named object.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// A handle naming this process's descriptor first, then the other live
    /// holders: other processes before more descriptors of ones already listed.
    pub fn handle(&self) -> Handle {
        let mine = match self.slot {
            Some((_, v)) => ((v >> 32) as u32, v as u32),
            None => {
                use std::os::fd::AsRawFd;
                (owner::pid(), self.fd.as_raw_fd() as u32)
            }
        };
        let mut holders = vec![mine];
        let others: Vec<(u32, u32)> = self
            .header()
            .holders
            .iter()
            .map(|s| s.load(Ordering::Relaxed))
            .filter(|&v| v != 0)
            .map(|v| ((v >> 32) as u32, v as u32))
            .filter(|&h| h != mine)
            .collect();
        let (new_pids, same_pids): (Vec<_>, Vec<_>) = others.iter().partition(|&&(p, _)| p != mine.0);
        for h in new_pids.into_iter().chain(same_pids) {
            if holders.len() >= MAX_HANDLE_HOLDERS {
                break;
            }
            if !holders.contains(&h) {
                holders.push(h);
            }
        }
        Handle { kind: self.kind, token: self.token, name: self.name.clone(), holders }
    }

    /// Removes a named object's name; the memory goes once every holder closes it.
    pub fn unlink(&self) -> Result<()> {
        match &self.name {
            Some(n) => rustix::shm::unlink(shm_path(n).as_str()).map_err(|e| match e {
                rustix::io::Errno::NOENT => Error::Misuse(format!("the object named '{n}' is already unlinked")),
                e => e.into(),
            }),
            None => Err(Error::Misuse("only named objects can be unlinked".into())),
        }
    }

    /// Removes the shm file of `name`, whatever it holds (for tests and cleanup).
    pub fn unlink_name(name: &str) -> Result<()> {
        validate_name(name)?;
        Ok(rustix::shm::unlink(shm_path(name).as_str())?)
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        if let Some((i, v)) = self.slot {
            let _ = self.header().holders[i].compare_exchange(v, 0, Ordering::AcqRel, Ordering::Relaxed);
        }
    }
}

/// A futex word and a count of its sleepers, side by side in shared memory.
#[repr(C)]
pub struct Signal {
    /// Bumped on every event; sleepers wait for it to change.
    pub seq: AtomicU32,
    /// How many are asleep (or about to sleep) on `seq`.
    pub sleepers: AtomicU32,
}

impl Signal {
    /// Bumps the sequence and wakes every sleeper, if any.
    pub fn notify_all(&self) {
        self.seq.fetch_add(1, Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) != 0 {
            crate::waker::wake_all(&self.seq);
        }
    }
}

impl Signal {
    /// Runs `f` as a registered sleeper: `f` gets the sequence value seen before
    /// its own re-check, to pass to [`crate::waker::wait`].
    pub fn sleep_with<R>(&self, f: impl FnOnce(u32) -> R) -> R {
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        let seen = self.seq.load(Ordering::SeqCst);
        let r = f(seen);
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
        r
    }
}
