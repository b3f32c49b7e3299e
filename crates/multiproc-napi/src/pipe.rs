//! `NativeConnection`: the binding of `multiproc_core::pipe::Connection`.
//! Normal outcomes (nothing yet, EOF, EPIPE) are status numbers; misuse throws.

use multiproc_core::pipe::{self, Connection};
use multiproc_core::Error as CoreError;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::{deadline, handle_from_js, handle_to_js, throw, NativeHandle};
use crate::queue::alloc_buffer;

/// Status: done.
pub const OK: u32 = 0;
/// Status: the wait ended with nothing received / no room.
pub const WOULD_BLOCK: u32 = 1;
/// Status: the peer end is closed everywhere (EOF on receive, EPIPE on send).
pub const PEER_CLOSED: u32 = 3;

/// The handles of a connection end's two directions.
#[napi(object)]
pub struct NativeConnectionHandle {
    /// The direction this end receives from.
    pub rx: Option<NativeHandle>,
    /// The direction this end sends to.
    pub tx: Option<NativeHandle>,
}

/// One end of a pipe, opened by this JS thread.
#[napi]
pub struct NativeConnection {
    c: Connection,
    status: Uint32Array,
}

/// Makes a pipe; each end reports received tags in its status array.
#[napi]
pub fn native_pipe(env: &Env, duplex: bool, status_a: Uint32Array, status_b: Uint32Array) -> Result<Vec<NativeConnection>> {
    let (a, b) = pipe::pipe(duplex).map_err(|e| throw(env, e))?;
    Ok(vec![NativeConnection { c: a, status: status_a }, NativeConnection { c: b, status: status_b }])
}

#[napi]
impl NativeConnection {
    /// Opens a connection end from its handles.
    #[napi(factory)]
    pub fn attach(env: &Env, status: Uint32Array, handle: NativeConnectionHandle) -> Result<NativeConnection> {
        let conv = |h: &Option<NativeHandle>| h.as_ref().map(handle_from_js).transpose();
        let rx = conv(&handle.rx).map_err(|e| throw(env, e))?;
        let tx = conv(&handle.tx).map_err(|e| throw(env, e))?;
        let c = Connection::attach(rx.as_ref(), tx.as_ref()).map_err(|e| throw(env, e))?;
        Ok(NativeConnection { c, status })
    }

    /// The handles other processes attach this end with.
    #[napi]
    pub fn handle(&self) -> NativeConnectionHandle {
        let (rx, tx) = self.c.handles();
        NativeConnectionHandle { rx: rx.as_ref().map(handle_to_js), tx: tx.as_ref().map(handle_to_js) }
    }

    /// Counts process `pid` as a holder of this end until it dies or closes it.
    #[napi]
    pub fn add_holder(&self, pid: u32) {
        self.c.add_holder(pid);
    }

    /// Whether this end can receive.
    #[napi(getter)]
    pub fn readable(&self) -> bool {
        self.c.readable()
    }

    /// Whether this end can send.
    #[napi(getter)]
    pub fn writable(&self) -> bool {
        self.c.writable()
    }

    /// Whether this end is closed.
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.c.closed()
    }

    /// Sends one message, waiting up to `timeout` ms for room (`null`: forever).
    /// Returns 0 (sent), 1 (no room in time) or 3 (EPIPE).
    #[napi]
    pub fn send(&mut self, env: &Env, tag: u32, data: &[u8], timeout: Option<f64>) -> Result<u32> {
        match self.c.send(tag, &[data], deadline(timeout)) {
            Ok(()) => Ok(OK),
            Err(CoreError::Full) => Ok(WOULD_BLOCK),
            Err(CoreError::BrokenPipe) => Ok(PEER_CLOSED),
            Err(e) => Err(throw(env, e)),
        }
    }

    /// Receives one message, waiting up to `timeout` ms (`null`: forever). Returns
    /// its bytes (tag in `status[0]`) or `null` with `status[1]` = 1 (nothing) or 3 (EOF).
    #[napi]
    pub fn recv<'env>(&mut self, env: &'env Env, timeout: Option<f64>) -> Result<Option<BufferSlice<'env>>> {
        let mut alloc_err = None;
        let r = self.c.recv(deadline(timeout), |r| match alloc_buffer(env, r.len()) {
            Ok(mut b) => {
                r.copy_to(&mut b);
                Some((r.tag, b))
            }
            Err(e) => {
                alloc_err = Some(e);
                None
            }
        });
        // SAFETY: the status array is owned by this object and used on the JS thread only.
        let status = unsafe { self.status.as_mut() };
        match r {
            Ok(Some((tag, b))) => {
                status[0] = tag;
                Ok(Some(b))
            }
            Ok(None) => Err(alloc_err.unwrap_or_else(|| Error::from_reason("cannot allocate a Buffer"))),
            Err(CoreError::Empty) => {
                status[1] = WOULD_BLOCK;
                Ok(None)
            }
            Err(CoreError::Eof) => {
                status[1] = PEER_CLOSED;
                Ok(None)
            }
            Err(e) => Err(throw(env, e)),
        }
    }

    /// Whether a message (or EOF) can be received, waiting up to `timeout` ms.
    #[napi]
    pub fn poll(&mut self, env: &Env, timeout: Option<f64>) -> Result<bool> {
        self.c.poll(deadline(timeout)).map_err(|e| throw(env, e))
    }

    /// Closes this end in this thread.
    #[napi]
    pub fn close(&mut self) {
        self.c.close();
    }
}

impl NativeConnection {
    /// The watch source for [`crate::watch::NativeWatch`].
    pub fn watch_source(&self) -> std::result::Result<std::sync::Arc<dyn multiproc_core::watcher::Watchable>, CoreError> {
        if self.c.closed() {
            return Err(CoreError::Closed);
        }
        Ok(self.c.watch())
    }
}
