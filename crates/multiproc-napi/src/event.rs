//! `NativeEvent`: the binding of `multiproc_core::event::Event`.

use multiproc_core::event::Event;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::{blocking, deadline, handle_from_js, handle_to_js, throw, NativeHandle};

/// An Event opened by this JS thread.
#[napi]
pub struct NativeEvent {
    pub(crate) e: Event,
}

#[napi]
impl NativeEvent {
    /// Creates an event (clear), or opens the named one.
    #[napi(factory)]
    pub fn create(env: &Env, name: Option<String>) -> Result<NativeEvent> {
        Ok(NativeEvent { e: Event::create(name.as_deref()).map_err(|e| throw(env, e))? })
    }

    /// Opens the event a handle describes.
    #[napi(factory)]
    pub fn attach(env: &Env, handle: NativeHandle) -> Result<NativeEvent> {
        let h = handle_from_js(&handle).map_err(|e| throw(env, e))?;
        Ok(NativeEvent { e: Event::attach(&h).map_err(|e| throw(env, e))? })
    }

    /// The handle other processes attach with.
    #[napi]
    pub fn handle(&self) -> NativeHandle {
        handle_to_js(&self.e.segment().handle())
    }

    /// Sets the flag and wakes every waiter.
    #[napi]
    pub fn set(&self) {
        self.e.set();
    }

    /// Clears the flag.
    #[napi]
    pub fn clear(&self) {
        self.e.clear();
    }

    /// Whether the flag is set.
    #[napi]
    pub fn is_set(&self) -> bool {
        self.e.is_set()
    }

    /// Waits up to `timeout` ms (`null`: forever); returns the flag.
    #[napi]
    pub fn wait(&self, env: &Env, timeout: Option<f64>) -> bool {
        blocking(env, || self.e.wait(deadline(timeout)))
    }

    /// Removes a named event's name.
    #[napi]
    pub fn unlink(&self, env: &Env) -> Result<()> {
        self.e.unlink().map_err(|e| throw(env, e))
    }
}

