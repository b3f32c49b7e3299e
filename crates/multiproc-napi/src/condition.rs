//! `NativeCondition`: the binding of `multiproc_core::condition::Condition`.
//! Async waits use `beginWait` / `isNotified` / `endWait` and re-acquire the
//! lock through the JS lock object.

use multiproc_core::condition::Condition;
use multiproc_core::lock::Lock;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::{blocking, deadline, handle_from_js, handle_to_js, throw, NativeHandle};
use crate::lock::LockBox;

/// A Condition opened by this JS thread, with its own view of the lock.
#[napi]
pub struct NativeCondition {
    pub(crate) c: Condition,
}

fn lock_of(env: &Env, lock: &External<LockBox>) -> Result<Lock> {
    Lock::attach(&lock.l.segment().handle()).map_err(|e| throw(env, e))
}

#[napi]
impl NativeCondition {
    /// Creates a condition over `lock`, or opens the named one.
    #[napi(factory)]
    pub fn create(env: &Env, lock: &External<LockBox>, name: Option<String>) -> Result<NativeCondition> {
        let c = Condition::create(lock_of(env, lock)?, name.as_deref()).map_err(|e| throw(env, e))?;
        Ok(NativeCondition { c })
    }

    /// Opens a condition from its handle, over `lock`.
    #[napi(factory)]
    pub fn attach(env: &Env, handle: NativeHandle, lock: &External<LockBox>) -> Result<NativeCondition> {
        let h = handle_from_js(&handle).map_err(|e| throw(env, e))?;
        let c = Condition::attach(&h, lock_of(env, lock)?).map_err(|e| throw(env, e))?;
        Ok(NativeCondition { c })
    }

    /// The handle of the condition itself (its lock has its own).
    #[napi]
    pub fn handle(&self) -> NativeHandle {
        handle_to_js(&self.c.segment().handle())
    }

    /// Blocking wait up to `timeout` ms (`null`: forever); the lock is held again
    /// on return. False on timeout.
    #[napi]
    pub fn wait(&mut self, env: &Env, timeout: Option<f64>) -> Result<bool> {
        blocking(env, || self.c.wait(deadline(timeout))).map_err(|e| throw(env, e))
    }

    /// Takes a waiter slot and releases the lock: `[slot, depth]`.
    #[napi]
    pub fn begin_wait(&mut self, env: &Env) -> Result<Vec<u32>> {
        let (slot, depth) = self.c.begin_wait().map_err(|e| throw(env, e))?;
        Ok(vec![slot as u32, depth])
    }

    /// Whether slot `slot` was notified.
    #[napi]
    pub fn is_notified(&self, slot: u32) -> bool {
        self.c.is_notified(slot as usize)
    }

    /// Leaves slot `slot`; true if it was notified.
    #[napi]
    pub fn end_wait(&self, slot: u32) -> bool {
        self.c.end_wait(slot as usize)
    }

    /// Wakes up to `n` waiters (the lock must be held); returns how many.
    #[napi]
    pub fn notify(&self, env: &Env, n: u32) -> Result<u32> {
        self.c.notify(n).map_err(|e| throw(env, e))
    }

    /// Removes a named condition's name.
    #[napi]
    pub fn unlink(&self, env: &Env) -> Result<()> {
        self.c.unlink().map_err(|e| throw(env, e))
    }
}
