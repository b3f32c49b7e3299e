//! `NativeMemory`: the binding of `multiproc_core::memory::Memory`. Its data
//! reaches JS as an external ArrayBuffer over the shared mapping; the buffer
//! keeps the mapping alive until it is collected.

use multiproc_core::memory::Memory;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::{handle_from_js, handle_to_js, throw, NativeHandle};

/// A shared memory segment opened by this JS thread.
#[napi]
pub struct NativeMemory {
    m: Memory,
}

/// An ArrayBuffer over `len` bytes at `ptr`, which `keep` keeps valid until
/// the buffer is collected.
pub fn external_array_buffer<'env>(env: &'env Env, ptr: *mut u8, len: usize, keep: Box<dyn Send>) -> Result<Unknown<'env>> {
    let hint = Box::into_raw(Box::new(keep));
    let mut value = std::ptr::null_mut();
    // SAFETY: `ptr..ptr+len` is live shared memory kept alive by `hint` until
    // the finalizer runs.
    let st = unsafe {
        napi::sys::napi_create_external_arraybuffer(env.raw(), ptr.cast(), len, Some(release_mapping), hint.cast(), &mut value)
    };
    if st != napi::sys::Status::napi_ok {
        // SAFETY: N-API did not take the hint: release it here, once.
        drop(unsafe { Box::from_raw(hint) });
        return Err(Error::new(Status::from(st), "cannot create an external ArrayBuffer"));
    }
    // SAFETY: `value` is a live ArrayBuffer of this env.
    unsafe { Unknown::from_napi_value(env.raw(), value) }
}

unsafe extern "C" fn release_mapping(_env: napi::sys::napi_env, _data: *mut std::ffi::c_void, hint: *mut std::ffi::c_void) {
    // SAFETY: `hint` is the Box made in `buffer` and is released exactly once, here.
    drop(unsafe { Box::from_raw(hint as *mut Box<dyn Send>) });
}

#[napi]
impl NativeMemory {
    /// Creates `size` zeroed bytes (`elem`: a type code kept for attachers), or opens the named segment.
    #[napi(factory)]
    pub fn create(env: &Env, size: f64, elem: u32, name: Option<String>) -> Result<NativeMemory> {
        Ok(NativeMemory { m: Memory::create(size as u64, u64::from(elem), name.as_deref()).map_err(|e| throw(env, e))? })
    }

    /// Opens the segment a handle describes.
    #[napi(factory)]
    pub fn attach(env: &Env, handle: NativeHandle) -> Result<NativeMemory> {
        let h = handle_from_js(&handle).map_err(|e| throw(env, e))?;
        Ok(NativeMemory { m: Memory::attach(&h).map_err(|e| throw(env, e))? })
    }

    /// The handle other processes attach with.
    #[napi]
    pub fn handle(&self) -> NativeHandle {
        handle_to_js(&self.m.segment().handle())
    }

    /// Size in bytes.
    #[napi(getter)]
    pub fn size(&self) -> f64 {
        self.m.size() as f64
    }

    /// Whether `create` made the segment (false: opened an existing named one).
    #[napi(getter)]
    pub fn created(&self) -> bool {
        self.m.created()
    }

    /// The type code given at creation.
    #[napi(getter)]
    pub fn elem(&self) -> u32 {
        self.m.elem() as u32
    }

    /// An ArrayBuffer over the shared bytes.
    #[napi]
    pub fn buffer<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
        external_array_buffer(env, self.m.data(), self.m.size(), self.m.keep_alive())
    }

    /// Removes a named segment's name.
    #[napi]
    pub fn unlink(&self, env: &Env) -> Result<()> {
        self.m.unlink().map_err(|e| throw(env, e))
    }
}
