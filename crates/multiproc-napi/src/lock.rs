//! `NativeLock`: the binding of `multiproc_core::lock::Lock` (Lock and RLock).

use multiproc_core::lock::Lock;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::{deadline, handle_from_js, handle_to_js, throw, NativeHandle};

/// A Lock or RLock opened by this JS thread.
#[napi]
pub struct NativeLock {
    pub(crate) l: Lock,
}

#[napi]
impl NativeLock {
    /// Creates a lock (`recursive`: an RLock), or opens the named one.
    #[napi(factory)]
    pub fn create(env: &Env, recursive: bool, name: Option<String>) -> Result<NativeLock> {
        Ok(NativeLock { l: Lock::create(recursive, name.as_deref()).map_err(|e| throw(env, e))? })
    }

    /// Opens the lock a handle describes.
    #[napi(factory)]
    pub fn attach(env: &Env, handle: NativeHandle) -> Result<NativeLock> {
        let h = handle_from_js(&handle).map_err(|e| throw(env, e))?;
        Ok(NativeLock { l: Lock::attach(&h).map_err(|e| throw(env, e))? })
    }

    /// The handle other processes attach with.
    #[napi]
    pub fn handle(&self) -> NativeHandle {
        handle_to_js(&self.l.segment().handle())
    }

    /// True for an RLock.
    #[napi(getter)]
    pub fn recursive(&self) -> bool {
        self.l.is_recursive()
    }

    /// Whether the last acquisition took the lock over from a dead holder.
    #[napi(getter)]
    pub fn owner_died(&self) -> bool {
        self.l.owner_died()
    }

    /// Acquires, waiting up to `timeout` ms (`null`: forever). False on timeout.
    #[napi]
    pub fn acquire(&mut self, timeout: Option<f64>) -> bool {
        self.l.acquire(deadline(timeout))
    }

    /// Releases; throws `ERR_MULTIPROC_MISUSE` if unheld (or, for an RLock, not ours).
    #[napi]
    pub fn release(&mut self, env: &Env) -> Result<()> {
        self.l.release().map_err(|e| throw(env, e))
    }

    /// Whether anyone holds it.
    #[napi]
    pub fn locked(&self) -> bool {
        self.l.locked()
    }

    /// Whether the calling thread holds it.
    #[napi]
    pub fn is_mine(&self) -> bool {
        self.l.is_mine()
    }

    /// RLock: sets the recursion depth after an async re-acquire (Condition).
    #[napi]
    pub fn restore_depth(&mut self, depth: u32) {
        if self.l.is_recursive() && self.l.is_mine() {
            self.l.state().depth.store(depth.max(1), std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Removes a named lock's name.
    #[napi]
    pub fn unlink(&self, env: &Env) -> Result<()> {
        self.l.unlink().map_err(|e| throw(env, e))
    }
}
