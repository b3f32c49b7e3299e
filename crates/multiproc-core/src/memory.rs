//! Plain shared memory for Value, SharedArray and SharedMemory: a segment
//! whose data area (after the control page) is mapped once and handed to JS
//! as an external ArrayBuffer. Writes are visible in every process at once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::segment::{Handle, Kind, Mapping, Segment, STATE_OFFSET};

/// Largest size accepted.
pub const MAX_SIZE: u64 = 1 << 40;
const PAGE: u64 = 4096;

/// The shared state.
#[repr(C)]
pub struct MemoryState {
    /// Bytes of data.
    pub size: AtomicU64,
    /// Free for the TS layer: the element type code of a Value/SharedArray.
    pub elem: AtomicU64,
}

/// An open memory segment with its data mapped.
pub struct Memory {
    seg: Arc<Segment>,
    map: Arc<Mapping>,
    offset: usize,
    size: usize,
    created: bool,
}

fn data_offset() -> u64 {
    // The control area is one page (header + MemoryState are far smaller).
    (STATE_OFFSET as u64 + std::mem::size_of::<MemoryState>() as u64).div_ceil(PAGE) * PAGE
}

impl Memory {
    /// Creates `size` zeroed bytes (or opens the named segment, keeping its size).
    pub fn create(size: u64, elem: u64, name: Option<&str>) -> Result<Memory> {
        if size > MAX_SIZE {
            return Err(Error::Range(format!("size must be at most {MAX_SIZE}")));
        }
        let mut failure = None;
        let (seg, created) = Segment::create(Kind::Memory, std::mem::size_of::<MemoryState>(), name, |seg| {
            if let Err(e) = rustix::fs::ftruncate(seg.fd(), data_offset() + size.max(1)) {
                failure = Some(e);
                return;
            }
            // SAFETY: a new Memory segment.
            let st = unsafe { seg.state::<MemoryState>() };
            st.size.store(size, Ordering::Relaxed);
            st.elem.store(elem, Ordering::Relaxed);
        })?;
        if let Some(e) = failure {
            return Err(e.into());
        }
        let mut m = Self::map(seg)?;
        m.created = created;
        Ok(m)
    }

    /// True if `create` made the segment (false: opened an existing named one).
    pub fn created(&self) -> bool {
        self.created
    }

    /// Opens the segment a handle describes.
    pub fn attach(h: &Handle) -> Result<Memory> {
        if h.kind != Kind::Memory {
            return Err(Error::BadHandle("handle is not a shared memory handle".into()));
        }
        Self::map(Segment::open(h)?)
    }

    fn map(seg: Segment) -> Result<Memory> {
        // SAFETY: created or checked as a Memory segment.
        let size = unsafe { seg.state::<MemoryState>() }.size.load(Ordering::Relaxed);
        let off = data_offset();
        let file = rustix::fs::fstat(seg.fd())?.st_size as u64;
        if file < off + size {
            return Err(Error::BadHandle("shared memory segment is truncated".into()));
        }
        let map = Mapping::new(seg.fd(), (off + size.max(1)) as usize)?;
        Ok(Memory { seg: Arc::new(seg), map: Arc::new(map), offset: off as usize, size: size as usize, created: false })
    }

    /// The segment.
    pub fn segment(&self) -> &Arc<Segment> {
        &self.seg
    }

    /// The element type code given at creation.
    pub fn elem(&self) -> u64 {
        // SAFETY: a Memory segment.
        unsafe { self.seg.state::<MemoryState>() }.elem.load(Ordering::Relaxed)
    }

    /// Data size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Start of the data (valid while the mapping lives).
    pub fn data(&self) -> *mut u8 {
        // SAFETY: offset is inside the mapping, which covers offset + size.
        unsafe { self.map.ptr().add(self.offset) }
    }

    /// Keeps the mapping (and the segment) alive, e.g. for an external ArrayBuffer.
    pub fn keep_alive(&self) -> Box<dyn Send> {
        Box::new((self.map.clone(), self.seg.clone()))
    }

    /// Removes a named segment's name.
    pub fn unlink(&self) -> Result<()> {
        self.seg.unlink()
    }
}
