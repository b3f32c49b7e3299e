//! Process helpers for the TS `Process` class.

use napi::bindgen_prelude::*;
use napi_derive::napi;

/// Kills the calling process (SIGKILL) when its parent dies. False if the
/// parent is already gone.
#[napi]
pub fn die_with_parent(expected_parent: u32) -> Result<bool> {
    multiproc_core::process::die_with_parent(expected_parent).map_err(|e| Error::from_reason(e.to_string()))
}
