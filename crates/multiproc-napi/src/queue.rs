//! `NativeQueue`: the binding of `multiproc_core::queue::Queue`.
//!
//! Results that are part of normal flow (empty, full, shut down) come back as
//! status numbers, not exceptions, so the TS layer's fast paths never pay for
//! a throw. A received item's tag is written into the caller's status array.

use multiproc_core::queue::{Queue, QueueOptions};
use multiproc_core::Error as CoreError;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::{deadline, handle_from_js, handle_to_js, throw, NativeHandle};

/// `put` result: stored.
pub const OK: u32 = 0;
/// `put`/`get` result: full (put) or empty (get) when the wait ended.
pub const WOULD_BLOCK: u32 = 1;
/// `put`/`get` result: shut down.
pub const SHUT_DOWN: u32 = 2;

/// A queue segment opened by this JS thread.
#[napi]
pub struct NativeQueue {
    q: Queue,
    status: Uint32Array,
}

pub fn alloc_buffer<'env>(env: &'env Env, len: usize) -> Result<BufferSlice<'env>> {
    let mut data = std::ptr::null_mut();
    let mut value = std::ptr::null_mut();
    // SAFETY: plain N-API call on the JS thread with valid out-pointers.
    let st = unsafe { napi::sys::napi_create_buffer(env.raw(), len, &mut data, &mut value) };
    if st != napi::sys::Status::napi_ok {
        return Err(Error::new(Status::from(st), "cannot allocate a Buffer"));
    }
    // SAFETY: `value` is the Buffer just created in this env.
    unsafe { BufferSlice::from_napi_value(env.raw(), value) }
}

#[napi]
impl NativeQueue {
    /// Creates a queue (or opens the named one). `status` receives item tags.
    #[napi(factory)]
    pub fn create(
        env: &Env,
        status: Uint32Array,
        maxsize: f64,
        capacity: f64,
        byte_limit: f64,
        joinable: bool,
        name: Option<String>,
    ) -> Result<NativeQueue> {
        let o = QueueOptions {
            maxsize: maxsize.max(0.0) as u64,
            capacity: capacity.max(0.0) as u64,
            byte_limit: byte_limit.max(0.0) as u64,
            joinable,
            name,
        };
        let q = Queue::create(&o).map_err(|e| throw(env, e))?;
        Ok(NativeQueue { q, status })
    }

    /// Opens the queue a handle describes.
    #[napi(factory)]
    pub fn attach(env: &Env, status: Uint32Array, handle: NativeHandle) -> Result<NativeQueue> {
        let h = handle_from_js(&handle).map_err(|e| throw(env, e))?;
        let q = Queue::attach(&h).map_err(|e| throw(env, e))?;
        Ok(NativeQueue { q, status })
    }

    /// The handle that other processes and threads attach with.
    #[napi]
    pub fn handle(&self) -> NativeHandle {
        handle_to_js(&self.q.segment().handle())
    }

    /// The item bound (0: unbounded).
    #[napi(getter)]
    pub fn maxsize(&self) -> f64 {
        self.q.maxsize() as f64
    }

    /// Whether the last operation took the queue's lock over from a dead process.
    #[napi(getter)]
    pub fn owner_died(&self) -> bool {
        self.q.owner_died()
    }

    /// Appends an item, waiting up to `timeout` ms for room (`null`: forever).
    /// Returns 0 (stored), 1 (full) or 2 (shut down).
    #[napi]
    pub fn put(&mut self, env: &Env, tag: u32, data: &[u8], timeout: Option<f64>) -> Result<u32> {
        let r = if timeout == Some(0.0) { self.q.try_put(tag, data) } else { self.q.put(tag, data, deadline(timeout)) };
        match r {
            Ok(()) => Ok(OK),
            Err(CoreError::Full) => Ok(WOULD_BLOCK),
            Err(CoreError::ShutDown) => Ok(SHUT_DOWN),
            Err(e) => Err(throw(env, e)),
        }
    }

    /// Takes the oldest item, waiting up to `timeout` ms (`null`: forever).
    /// Returns its bytes (tag in `status[0]`), or `null` with `status[1]` set to
    /// 1 (empty) or 2 (shut down).
    #[napi]
    pub fn get<'env>(&mut self, env: &'env Env, timeout: Option<f64>) -> Result<Option<BufferSlice<'env>>> {
        let mut alloc_err = None;
        let take = |r: multiproc_core::queue::Record<'_>| match alloc_buffer(env, r.len()) {
            Ok(mut b) => {
                r.copy_to(&mut b);
                Some((r.tag, b))
            }
            Err(e) => {
                alloc_err = Some(e);
                None
            }
        };
        let r = if timeout == Some(0.0) { self.q.try_get(take) } else { self.q.get(deadline(timeout), take) };
        // SAFETY: the status array is owned by this object and only touched on the JS thread.
        let status = unsafe { self.status.as_mut() };
        match r {
            Ok(Some((tag, b))) => {
                status[0] = tag;
                Ok(Some(b))
            }
            Ok(None) => Err(alloc_err.unwrap_or_else(|| Error::from_reason("cannot allocate a Buffer"))),
            Err(CoreError::Empty) => {
                status[1] = WOULD_BLOCK;
                Ok(None)
            }
            Err(CoreError::ShutDown) => {
                status[1] = SHUT_DOWN;
                Ok(None)
            }
            Err(e) => Err(throw(env, e)),
        }
    }

    /// Items in the queue now.
    #[napi]
    pub fn qsize(&mut self, env: &Env) -> Result<f64> {
        self.q.qsize().map(|n| n as f64).map_err(|e| throw(env, e))
    }

    /// Whether a put would wait now.
    #[napi]
    pub fn full(&mut self, env: &Env) -> Result<bool> {
        self.q.is_full().map_err(|e| throw(env, e))
    }

    /// Unfinished tasks now (JoinableQueue).
    #[napi]
    pub fn unfinished(&mut self, env: &Env) -> Result<f64> {
        self.q.unfinished().map(|n| n as f64).map_err(|e| throw(env, e))
    }

    /// Whether the queue was shut down.
    #[napi]
    pub fn is_shutdown(&self) -> bool {
        self.q.is_shutdown()
    }

    /// Marks a task done; throws `ERR_MULTIPROC_MISUSE` if none is unfinished.
    #[napi]
    pub fn task_done(&mut self, env: &Env) -> Result<()> {
        self.q.task_done().map_err(|e| throw(env, e))
    }

    /// Waits until no task is unfinished; false on timeout.
    #[napi]
    pub fn join(&mut self, env: &Env, timeout: Option<f64>) -> Result<bool> {
        match self.q.join(deadline(timeout)) {
            Ok(()) => Ok(true),
            Err(CoreError::Timeout) => Ok(false),
            Err(e) => Err(throw(env, e)),
        }
    }

    /// Shuts the queue down for every process; `immediate` discards the items.
    #[napi]
    pub fn shutdown(&mut self, env: &Env, immediate: bool) -> Result<()> {
        self.q.shutdown(immediate).map_err(|e| throw(env, e))
    }

    /// Removes a named queue's name.
    #[napi]
    pub fn unlink(&self, env: &Env) -> Result<()> {
        self.q.unlink().map_err(|e| throw(env, e))
    }
}

impl NativeQueue {
    /// The watch source for [`crate::watch::NativeWatch`].
    pub fn watch_source(&self) -> std::sync::Arc<dyn multiproc_core::watcher::Watchable> {
        self.q.watch()
    }
}
