//! Lock functions: the binding of `multiproc_core::lock::Lock` (Lock and RLock).
//!
//! The TS layer takes and releases an uncontended lock itself with Atomics on
//! the shared words (`lock_view`); these functions are the slow path:
//! waiting, taking over from a dead holder, misuse errors and wake-ups.

use multiproc_core::lock::Lock;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::{blocking, deadline, handle_from_js, handle_to_js, throw, NativeHandle};
use crate::memory::external_array_buffer;

/// An open Lock or RLock.
pub struct LockBox {
    pub(crate) l: Lock,
}


/// Creates a lock (`recursive`: an RLock), or opens the named one.
#[napi]
pub fn lock_create(env: &Env, recursive: bool, name: Option<String>) -> Result<External<LockBox>> {
    Ok(External::new(LockBox { l: Lock::create(recursive, name.as_deref()).map_err(|e| throw(env, e))? }))
}

/// Opens the lock a handle describes.
#[napi]
pub fn lock_attach(env: &Env, handle: NativeHandle) -> Result<External<LockBox>> {
    let h = handle_from_js(&handle).map_err(|e| throw(env, e))?;
    Ok(External::new(LockBox { l: Lock::attach(&h).map_err(|e| throw(env, e))? }))
}

/// The handle other processes attach with.
#[napi]
pub fn lock_handle(l: &External<LockBox>) -> NativeHandle {
    handle_to_js(&l.l.segment().handle())
}

/// True for an RLock.
#[napi]
pub fn lock_recursive(l: &External<LockBox>) -> bool {
    l.l.is_recursive()
}

/// An ArrayBuffer over the lock's shared words (layout asserted in the core's lock.rs).
#[napi]
pub fn lock_view<'env>(env: &'env Env, l: &External<LockBox>) -> Result<Unknown<'env>> {
    let seg = l.l.segment().clone();
    let ptr = l.l.state() as *const _ as *mut u8;
    let len = std::mem::size_of::<multiproc_core::lock::LockState>();
    external_array_buffer(env, ptr, len, Box::new(seg))
}

/// Acquires, waiting up to `timeout` ms (`null`: forever): 0 timed out,
/// 1 acquired, 2 acquired from a holder that died. `waited`: an async waiter
/// retrying, which may take a lock handed over to waiters.
#[napi]
pub fn lock_acquire(env: &Env, l: &mut External<LockBox>, timeout: Option<f64>, waited: bool) -> u32 {
    if !blocking(env, || l.l.acquire_as(deadline(timeout), waited)) {
        0
    } else if l.l.owner_died() {
        2
    } else {
        1
    }
}

/// Releases; throws `ERR_MULTIPROC_MISUSE` if unheld (or, for an RLock, not ours).
#[napi]
pub fn lock_release(env: &Env, l: &mut External<LockBox>) -> Result<()> {
    l.l.release().map_err(|e| throw(env, e))
}

/// The rest of a release begun by the TS fast path: hand the lock over to a
/// sleeper (`contended`) and wake async watchers.
#[napi]
pub fn lock_finish_release(l: &External<LockBox>, contended: bool) {
    l.l.finish_release(contended);
}

/// RLock: sets the recursion depth after an async re-acquire (Condition).
#[napi]
pub fn lock_restore_depth(l: &mut External<LockBox>, depth: u32) {
    if l.l.is_recursive() && l.l.is_mine() {
        l.l.state().depth.store(depth.max(1), std::sync::atomic::Ordering::Relaxed);
    }
}

/// Removes a named lock's name.
#[napi]
pub fn lock_unlink(env: &Env, l: &External<LockBox>) -> Result<()> {
    l.l.unlink().map_err(|e| throw(env, e))
}

/// The calling thread's kernel thread id (the owner id the lock words hold).
#[napi]
pub fn current_tid() -> u32 {
    multiproc_core::owner::tid()
}

/// This process's start time as `[low 32 bits, high 32 bits]`.
#[napi]
pub fn process_start_time() -> Vec<u32> {
    let s = multiproc_core::owner::my_start_time();
    vec![s as u32, (s >> 32) as u32]
}
