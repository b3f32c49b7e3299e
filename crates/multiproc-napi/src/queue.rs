//! Queue functions: the binding of `multiproc_core::queue::Queue`.
//!
//! Hot calls are free functions on an `External` (not class methods): a
//! class method pays two private-property lookups in Node (unwrap and type
//! tag) on every call, which we measured at several times the cost of the
//! operation itself. Normal outcomes (empty, full, shut down) are status
//! numbers, never exceptions; a received item's tag goes to the caller's
//! status array.

use multiproc_core::queue::{Queue, QueueOptions, Record};
use multiproc_core::Error as CoreError;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::{blocking, deadline, handle_from_js, handle_to_js, throw, NativeHandle};

/// `put` result: stored.
pub const OK: u32 = 0;
/// `put`/`get` result: full (put) or empty (get) when the wait ended.
pub const WOULD_BLOCK: u32 = 1;
/// `put`/`get` result: shut down.
pub const SHUT_DOWN: u32 = 2;

/// A queue opened by one JS thread, with the array its `get` reports tags in
/// and the scratch buffer small items are copied into (no allocation per get:
/// a Node Buffer made from native code costs more than the whole operation).
pub struct QueueBox {
    pub(crate) q: Queue,
    status: Uint32Array,
    scratch: Uint8Array,
}


/// Allocates a JS-owned Buffer of `len` bytes (no external finalizer).
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

/// Copies a record into a new Buffer; `Err` keeps the allocation failure.
pub fn record_to_buffer<'env>(env: &'env Env, r: Record<'_>) -> Result<(u32, BufferSlice<'env>)> {
    let mut b = alloc_buffer(env, r.len())?;
    r.copy_to_fresh(&mut b);
    Ok((r.tag, b))
}

/// Creates a queue (or opens the named one). `status` receives item tags.
#[napi]
pub fn queue_create(
    env: &Env,
    status: Uint32Array,
    scratch: Uint8Array,
    maxsize: f64,
    capacity: f64,
    joinable: bool,
    name: Option<String>,
) -> Result<External<QueueBox>> {
    let o = QueueOptions {
        maxsize: maxsize.max(0.0) as u64,
        capacity: capacity.max(0.0) as u64,
        byte_limit: 0,
        joinable,
        name,
    };
    let q = Queue::create(&o).map_err(|e| throw(env, e))?;
    Ok(External::new(QueueBox { q, status, scratch }))
}

/// Opens the queue a handle describes.
#[napi]
pub fn queue_attach(env: &Env, status: Uint32Array, scratch: Uint8Array, handle: NativeHandle) -> Result<External<QueueBox>> {
    let h = handle_from_js(&handle).map_err(|e| throw(env, e))?;
    let q = Queue::attach(&h).map_err(|e| throw(env, e))?;
    Ok(External::new(QueueBox { q, status, scratch }))
}

/// The handle other processes and threads attach with.
#[napi]
pub fn queue_handle(q: &External<QueueBox>) -> NativeHandle {
    handle_to_js(&q.q.segment().handle())
}

/// The item bound (0: unbounded).
#[napi]
pub fn queue_maxsize(q: &External<QueueBox>) -> f64 {
    q.q.maxsize() as f64
}

/// Whether it counts unfinished tasks (a JoinableQueue).
#[napi]
pub fn queue_joinable(q: &External<QueueBox>) -> bool {
    q.q.state().joinable != 0
}

/// Appends an item, waiting up to `timeout` ms for room (`null`: forever).
/// Returns 0 (stored), 1 (full) or 2 (shut down).
#[napi]
pub fn queue_put(env: &Env, q: &mut External<QueueBox>, tag: u32, data: &[u8], timeout: Option<f64>) -> Result<u32> {
    let r = if timeout == Some(0.0) { q.q.try_put(tag, data) } else { blocking(env, || q.q.put(tag, data, deadline(timeout))) };
    match r {
        Ok(()) => Ok(OK),
        Err(CoreError::Full) => Ok(WOULD_BLOCK),
        Err(CoreError::ShutDown) => Ok(SHUT_DOWN),
        Err(e) => Err(throw(env, e)),
    }
}

/// Where a received record went.
pub enum Received<'env> {
    /// Copied into the scratch buffer: its length.
    Scratch(usize),
    /// Too big for the scratch buffer: a new Buffer.
    Buffer(BufferSlice<'env>),
}

/// Copies a record into `scratch` if it fits, else into a new Buffer.
pub fn receive<'env>(env: &'env Env, scratch: &mut [u8], r: Record<'_>) -> Result<(u32, Received<'env>)> {
    let n = r.len();
    if n <= scratch.len() {
        r.copy_to(&mut scratch[..n]);
        Ok((r.tag, Received::Scratch(n)))
    } else {
        let (tag, b) = record_to_buffer(env, r)?;
        Ok((tag, Received::Buffer(b)))
    }
}

/// Turns a receive into the JS result: the length in scratch (>= 0), a Buffer,
/// or a negative status (-1 nothing / timeout, -2 shut down, -3 EOF).
pub fn received<'env>(status: &mut [u32], r: Result<(u32, Received<'env>)>) -> Result<Either<f64, BufferSlice<'env>>> {
    let (tag, got) = r?;
    status[0] = tag;
    Ok(match got {
        Received::Scratch(n) => Either::A(n as f64),
        Received::Buffer(b) => Either::B(b),
    })
}

/// Takes the oldest item, waiting up to `timeout` ms (`null`: forever). Small
/// items land in the scratch buffer and the result is their length; larger
/// ones come back as a Buffer; -1 means empty, -2 shut down. The tag goes to
/// `status[0]`.
#[napi]
pub fn queue_get<'env>(env: &'env Env, q: &mut External<QueueBox>, timeout: Option<f64>) -> Result<Either<f64, BufferSlice<'env>>> {
    let qb: &mut QueueBox = q;
    // SAFETY: the scratch and status arrays belong to this queue object and are
    // used on the JS thread only, never while JS holds a view being written.
    let (scratch, status) = unsafe { (qb.scratch.as_mut(), qb.status.as_mut()) };
    let take = |r: Record<'_>| receive(env, scratch, r);
    let r = if timeout == Some(0.0) { qb.q.try_get(take) } else { blocking(env, || qb.q.get(deadline(timeout), take)) };
    match r {
        Ok(got) => received(status, got),
        Err(CoreError::Empty) => Ok(Either::A(-1.0)),
        Err(CoreError::ShutDown) => Ok(Either::A(-2.0)),
        Err(e) => Err(throw(env, e)),
    }
}

/// Items in the queue now.
#[napi]
pub fn queue_qsize(env: &Env, q: &mut External<QueueBox>) -> Result<f64> {
    q.q.qsize().map(|n| n as f64).map_err(|e| throw(env, e))
}

/// Whether a put would wait now.
#[napi]
pub fn queue_full(env: &Env, q: &mut External<QueueBox>) -> Result<bool> {
    q.q.is_full().map_err(|e| throw(env, e))
}

/// Unfinished tasks now (JoinableQueue).
#[napi]
pub fn queue_unfinished(env: &Env, q: &mut External<QueueBox>) -> Result<f64> {
    q.q.unfinished().map(|n| n as f64).map_err(|e| throw(env, e))
}

/// Whether the queue was shut down.
#[napi]
pub fn queue_is_shutdown(q: &External<QueueBox>) -> bool {
    q.q.is_shutdown()
}

/// Marks a task done; throws `ERR_MULTIPROC_MISUSE` if none is unfinished.
#[napi]
pub fn queue_task_done(env: &Env, q: &mut External<QueueBox>) -> Result<()> {
    q.q.task_done().map_err(|e| throw(env, e))
}

/// Waits until no task is unfinished; false on timeout.
#[napi]
pub fn queue_join(env: &Env, q: &mut External<QueueBox>, timeout: Option<f64>) -> Result<bool> {
    match blocking(env, || q.q.join(deadline(timeout))) {
        Ok(()) => Ok(true),
        Err(CoreError::Timeout) => Ok(false),
        Err(e) => Err(throw(env, e)),
    }
}

/// Shuts the queue down for every process; `immediate` discards the items.
#[napi]
pub fn queue_shutdown(env: &Env, q: &mut External<QueueBox>, immediate: bool) -> Result<()> {
    q.q.shutdown(immediate).map_err(|e| throw(env, e))
}

/// Removes a named queue's name.
#[napi]
pub fn queue_unlink(env: &Env, q: &External<QueueBox>) -> Result<()> {
    q.q.unlink().map_err(|e| throw(env, e))
}
