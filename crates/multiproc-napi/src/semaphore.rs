//! `NativeSemaphore`: the binding of `multiproc_core::semaphore::Semaphore`.

use multiproc_core::semaphore::Semaphore;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::{blocking, deadline, handle_from_js, handle_to_js, throw, NativeHandle};

/// A Semaphore or BoundedSemaphore opened by this JS thread. When it is
/// finalized (garbage or its thread exiting) holding permits, they come back.
#[napi(custom_finalize)]
pub struct NativeSemaphore {
    pub(crate) s: Semaphore,
}

#[napi]
impl NativeSemaphore {
    /// Creates a semaphore with `value` permits, or opens the named one.
    #[napi(factory)]
    pub fn create(env: &Env, value: u32, bounded: bool, name: Option<String>) -> Result<NativeSemaphore> {
        Ok(NativeSemaphore { s: Semaphore::create(value, bounded, name.as_deref()).map_err(|e| throw(env, e))? })
    }

    /// Opens the semaphore a handle describes.
    #[napi(factory)]
    pub fn attach(env: &Env, handle: NativeHandle) -> Result<NativeSemaphore> {
        let h = handle_from_js(&handle).map_err(|e| throw(env, e))?;
        Ok(NativeSemaphore { s: Semaphore::attach(&h).map_err(|e| throw(env, e))? })
    }

    /// The handle other processes attach with.
    #[napi]
    pub fn handle(&self) -> NativeHandle {
        handle_to_js(&self.s.segment().handle())
    }

    /// True for a BoundedSemaphore.
    #[napi(getter)]
    pub fn bounded(&self) -> bool {
        self.s.is_bounded()
    }

    /// Whether the last acquisition got a permit back from a dead holder.
    #[napi(getter)]
    pub fn owner_died(&self) -> bool {
        self.s.owner_died()
    }

    /// Acquires a permit, waiting up to `timeout` ms (`null`: forever). False on timeout.
    #[napi]
    pub fn acquire(&mut self, env: &Env, timeout: Option<f64>) -> bool {
        blocking(env, || self.s.acquire(deadline(timeout)))
    }

    /// Releases `n` permits; a BoundedSemaphore throws `ERR_MULTIPROC_MISUSE` past its initial value.
    #[napi]
    pub fn release(&mut self, env: &Env, n: u32) -> Result<()> {
        self.s.release(n).map_err(|e| throw(env, e))
    }

    /// Free permits now.
    #[napi]
    pub fn value(&self) -> u32 {
        self.s.value()
    }

    /// Removes a named semaphore's name.
    #[napi]
    pub fn unlink(&self, env: &Env) -> Result<()> {
        self.s.unlink().map_err(|e| throw(env, e))
    }
}

impl ObjectFinalize for NativeSemaphore {
    fn finalize(mut self, _env: Env) -> Result<()> {
        self.s.abandon();
        Ok(())
    }
}
