//! Conversions between JS and the core: handles, errors and timeouts.

use multiproc_core::segment::{Handle, Kind};
use multiproc_core::waker::Deadline;
use multiproc_core::Error as CoreError;
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// The plain-object form of a segment handle (structured-cloneable).
#[napi(object)]
#[derive(Clone)]
pub struct NativeHandle {
    /// Segment kind (1 queue, 2 pipe, 3 sync, 4 memory).
    pub kind: u32,
    /// 32 hex digits of the segment's random token.
    pub token: String,
    /// Name of a named object.
    pub name: Option<String>,
    /// Flattened `(pid, fd)` pairs of processes holding the segment.
    pub holders: Vec<u32>,
}

/// Converts a handle, rejecting malformed ones with a clear error.
pub fn handle_from_js(h: &NativeHandle) -> std::result::Result<Handle, CoreError> {
    let bad = |m: &str| CoreError::BadHandle(format!("invalid handle: {m}"));
    let kind = Kind::from_u32(h.kind).ok_or_else(|| bad("unknown kind"))?;
    if h.token.len() != 32 || !h.token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad("token must be 32 hex digits"));
    }
    let hi = u64::from_str_radix(&h.token[..16], 16).map_err(|_| bad("token"))?;
    let lo = u64::from_str_radix(&h.token[16..], 16).map_err(|_| bad("token"))?;
    if !h.holders.len().is_multiple_of(2) || h.holders.len() > 64 {
        return Err(bad("holders must be (pid, fd) pairs"));
    }
    if h.name.is_none() && h.holders.is_empty() {
        return Err(bad("an unnamed object's handle must list a holder"));
    }
    let holders = h.holders.chunks(2).map(|c| (c[0], c[1])).collect();
    Ok(Handle { kind, token: [hi, lo], name: h.name.clone(), holders })
}

/// Converts a core handle to its JS form.
pub fn handle_to_js(h: &Handle) -> NativeHandle {
    NativeHandle {
        kind: h.kind as u32,
        token: format!("{:016x}{:016x}", h.token[0], h.token[1]),
        name: h.name.clone(),
        holders: h.holders.iter().flat_map(|&(p, f)| [p, f]).collect(),
    }
}

/// A timeout in ms from JS (`None`/infinite: forever; validated by the TS layer).
pub fn deadline(ms: Option<f64>) -> Deadline {
    Deadline::after_ms(ms)
}

/// Throws a core error as the right JS error and returns the pending-exception marker.
/// Codes: `ERR_MULTIPROC_BAD_HANDLE`, `ERR_MULTIPROC_MISUSE`, `ERR_MULTIPROC_IO`,
/// `ERR_OUT_OF_RANGE` (a RangeError); the TS layer maps them to its classes.
pub fn throw(env: &Env, e: CoreError) -> Error {
    let msg = e.to_string();
    let r = match &e {
        CoreError::Range(_) => env.throw_range_error(&msg, Some("ERR_OUT_OF_RANGE")),
        CoreError::BadHandle(_) => env.throw_error(&msg, Some("ERR_MULTIPROC_BAD_HANDLE")),
        CoreError::Misuse(_) => env.throw_error(&msg, Some("ERR_MULTIPROC_MISUSE")),
        CoreError::Empty => env.throw_error(&msg, Some("ERR_MULTIPROC_EMPTY")),
        CoreError::Full => env.throw_error(&msg, Some("ERR_MULTIPROC_FULL")),
        CoreError::ShutDown => env.throw_error(&msg, Some("ERR_MULTIPROC_SHUTDOWN")),
        CoreError::Timeout => env.throw_error(&msg, Some("ERR_MULTIPROC_TIMEOUT")),
        CoreError::Eof => env.throw_error(&msg, Some("ERR_MULTIPROC_EOF")),
        CoreError::BrokenPipe => env.throw_error(&msg, Some("EPIPE")),
        CoreError::Closed => env.throw_error(&msg, Some("ERR_MULTIPROC_CLOSED")),
        CoreError::Io(_) => env.throw_error(&msg, Some("ERR_MULTIPROC_IO")),
    };
    match r {
        Ok(()) => Error::new(Status::PendingException, msg),
        Err(e) => e,
    }
}

/// True once the env of `ctx` may no longer run JS (its worker is being
/// terminated): `napi_coerce_to_bool` checks that before doing anything.
fn env_stopping(ctx: usize) -> bool {
    let env = ctx as napi::sys::napi_env;
    let mut value = std::ptr::null_mut();
    let mut result = std::ptr::null_mut();
    // SAFETY: called on the env's own thread during a native call on it; both
    // calls only write their out-pointers.
    unsafe {
        napi::sys::napi_get_boolean(env, true, &mut value) != napi::sys::Status::napi_ok
            || napi::sys::napi_coerce_to_bool(env, value, &mut result) != napi::sys::Status::napi_ok
    }
}

/// Runs a blocking wait so that terminating the calling worker thread ends it
/// (a sync wait would otherwise keep `worker.terminate()` pending forever).
pub fn blocking<R>(env: &Env, f: impl FnOnce() -> R) -> R {
    multiproc_core::waker::with_interrupt(env_stopping, env.raw() as usize, f)
}
