//! Pipe functions: the binding of `multiproc_core::pipe::Connection`, as free
//! functions on an `External` (see queue.rs for why). Normal outcomes
//! (nothing yet, EOF, EPIPE) are status numbers; misuse throws.

use multiproc_core::pipe::{self, Connection};
use multiproc_core::queue::Record;
use multiproc_core::Error as CoreError;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::{blocking, deadline, handle_from_js, handle_to_js, throw, NativeHandle};
use crate::queue::{receive, received};

/// Status: done.
pub const OK: u32 = 0;
/// Status: the wait ended with no room.
pub const WOULD_BLOCK: u32 = 1;
/// Status: the peer end is closed everywhere (EPIPE).
pub const PEER_CLOSED: u32 = 3;

/// The handles of a connection end's two directions.
#[napi(object)]
pub struct NativeConnectionHandle {
    /// The direction this end receives from.
    pub rx: Option<NativeHandle>,
    /// The direction this end sends to.
    pub tx: Option<NativeHandle>,
}

/// One end of a pipe opened by one JS thread, with its status and scratch arrays.
pub struct ConnectionBox {
    pub(crate) c: Connection,
    status: Uint32Array,
    scratch: Uint8Array,
}


/// Makes a pipe; each end gets its status array and the (shared) scratch buffer.
#[napi]
pub fn pipe_create(
    env: &Env,
    duplex: bool,
    status_a: Uint32Array,
    scratch_a: Uint8Array,
    status_b: Uint32Array,
    scratch_b: Uint8Array,
) -> Result<Vec<External<ConnectionBox>>> {
    let (a, b) = pipe::pipe(duplex).map_err(|e| throw(env, e))?;
    Ok(vec![
        External::new(ConnectionBox { c: a, status: status_a, scratch: scratch_a }),
        External::new(ConnectionBox { c: b, status: status_b, scratch: scratch_b }),
    ])
}

/// Opens a connection end from its handles.
#[napi]
pub fn conn_attach(env: &Env, status: Uint32Array, scratch: Uint8Array, handle: NativeConnectionHandle) -> Result<External<ConnectionBox>> {
    let conv = |h: &Option<NativeHandle>| h.as_ref().map(handle_from_js).transpose();
    let rx = conv(&handle.rx).map_err(|e| throw(env, e))?;
    let tx = conv(&handle.tx).map_err(|e| throw(env, e))?;
    let c = Connection::attach(rx.as_ref(), tx.as_ref()).map_err(|e| throw(env, e))?;
    Ok(External::new(ConnectionBox { c, status, scratch }))
}

/// The handles other processes attach this end with.
#[napi]
pub fn conn_handle(c: &External<ConnectionBox>) -> NativeConnectionHandle {
    let (rx, tx) = c.c.handles();
    NativeConnectionHandle { rx: rx.as_ref().map(handle_to_js), tx: tx.as_ref().map(handle_to_js) }
}

/// Counts process `pid` as a holder of this end until it dies or closes it.
#[napi]
pub fn conn_add_holder(c: &External<ConnectionBox>, pid: u32) {
    c.c.add_holder(pid);
}

/// `[readable, writable, closed]`.
#[napi]
pub fn conn_state(c: &External<ConnectionBox>) -> Vec<bool> {
    vec![c.c.readable(), c.c.writable(), c.c.closed()]
}

/// Sends one message, waiting up to `timeout` ms for room (`null`: forever).
/// Returns 0 (sent), 1 (no room in time) or 3 (EPIPE).
#[napi]
pub fn conn_send(env: &Env, c: &mut External<ConnectionBox>, tag: u32, data: &[u8], timeout: Option<f64>) -> Result<u32> {
    match blocking(env, || c.c.send(tag, &[data], deadline(timeout))) {
        Ok(()) => Ok(OK),
        Err(CoreError::Full) => Ok(WOULD_BLOCK),
        Err(CoreError::BrokenPipe) => Ok(PEER_CLOSED),
        Err(e) => Err(throw(env, e)),
    }
}

/// Receives one message, waiting up to `timeout` ms (`null`: forever): its
/// length in the scratch buffer, a Buffer if larger, -1 nothing yet, -3 EOF.
/// The tag goes to `status[0]`.
#[napi]
pub fn conn_recv<'env>(env: &'env Env, c: &mut External<ConnectionBox>, timeout: Option<f64>) -> Result<Either<f64, BufferSlice<'env>>> {
    let cb: &mut ConnectionBox = c;
    // SAFETY: the arrays belong to this object and are used on the JS thread only.
    let (scratch, status) = unsafe { (cb.scratch.as_mut(), cb.status.as_mut()) };
    let r = blocking(env, || cb.c.recv(deadline(timeout), |r: Record<'_>| receive(env, scratch, r)));
    match r {
        Ok(got) => received(status, got),
        Err(CoreError::Empty) => Ok(Either::A(-1.0)),
        Err(CoreError::Eof) => Ok(Either::A(-3.0)),
        Err(e) => Err(throw(env, e)),
    }
}

/// Whether a message (or EOF) can be received, waiting up to `timeout` ms.
#[napi]
pub fn conn_poll(env: &Env, c: &mut External<ConnectionBox>, timeout: Option<f64>) -> Result<bool> {
    blocking(env, || c.c.poll(deadline(timeout))).map_err(|e| throw(env, e))
}

/// Closes this end in this thread.
#[napi]
pub fn conn_close(c: &mut External<ConnectionBox>) {
    c.c.close();
}
