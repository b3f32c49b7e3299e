//! `NativeBarrier`: the binding of `multiproc_core::barrier::Barrier`.

use std::sync::Arc;

use multiproc_core::barrier::{Barrier, BarrierWatch};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::{blocking, deadline, handle_from_js, handle_to_js, throw, NativeHandle};

/// What `arrive` returns.
#[napi(object)]
pub struct NativeArrival {
    /// Arrival index (`parties - 1` for the last).
    pub index: u32,
    /// The cycle to wait for.
    pub cycle: u32,
    /// True for the last party.
    pub last: bool,
}

/// A Barrier opened by this JS thread.
#[napi]
pub struct NativeBarrier {
    pub(crate) b: Barrier,
    pub(crate) watch: Option<Arc<BarrierWatch>>,
}

#[napi]
impl NativeBarrier {
    /// Creates a barrier (timeout < 0: none), or opens the named one.
    #[napi(factory)]
    pub fn create(env: &Env, parties: u32, timeout: f64, name: Option<String>) -> Result<NativeBarrier> {
        let t = (timeout >= 0.0 && timeout.is_finite()).then_some(timeout);
        Ok(NativeBarrier { b: Barrier::create(parties, t, name.as_deref()).map_err(|e| throw(env, e))?, watch: None })
    }

    /// Opens the barrier a handle describes.
    #[napi(factory)]
    pub fn attach(env: &Env, handle: NativeHandle) -> Result<NativeBarrier> {
        let h = handle_from_js(&handle).map_err(|e| throw(env, e))?;
        Ok(NativeBarrier { b: Barrier::attach(&h).map_err(|e| throw(env, e))?, watch: None })
    }

    /// The handle other processes attach with.
    #[napi]
    pub fn handle(&self) -> NativeHandle {
        handle_to_js(&self.b.segment().handle())
    }

    /// Parties per cycle.
    #[napi(getter)]
    pub fn parties(&self) -> u32 {
        self.b.parties()
    }

    /// Default timeout in ms, or -1.
    #[napi(getter)]
    pub fn default_timeout(&self) -> f64 {
        self.b.default_timeout().unwrap_or(-1.0)
    }

    /// Parties waiting now.
    #[napi]
    pub fn n_waiting(&self) -> u32 {
        self.b.n_waiting()
    }

    /// Whether the barrier is broken.
    #[napi]
    pub fn broken(&self) -> bool {
        self.b.broken()
    }

    /// Arrives; `null` if the barrier is broken.
    #[napi]
    pub fn arrive(&self) -> Option<NativeArrival> {
        self.b.arrive().ok().map(|a| NativeArrival { index: a.index, cycle: a.cycle, last: a.last })
    }

    /// Opens `cycle` (the last party, after its action).
    #[napi]
    pub fn complete(&self, cycle: u32) {
        self.b.complete(cycle);
    }

    /// Breaks the barrier.
    #[napi]
    pub fn abort(&self) {
        self.b.abort();
    }

    /// Empties the barrier; waiting parties fail as broken.
    #[napi]
    pub fn reset(&self) {
        self.b.reset();
    }

    /// Blocking wait for `cycle`, up to `timeout` ms: true opened, false broken.
    #[napi]
    pub fn wait_open(&self, env: &Env, cycle: u32, timeout: Option<f64>) -> bool {
        blocking(env, || self.b.wait_open(cycle, deadline(timeout))).is_ok()
    }

    /// 1 opened, 0 broken, -1 still waiting. Breaks the barrier if a waiting party died.
    #[napi]
    pub fn outcome(&self, cycle: u32) -> i32 {
        match self.b.outcome(cycle) {
            Some(true) => 1,
            Some(false) => 0,
            None if self.b.party_died() => {
                self.b.abort();
                0
            }
            None => -1,
        }
    }

    /// Tells the async watcher which cycle to wait for.
    #[napi]
    pub fn watch_cycle(&mut self, cycle: u32) {
        self.watcher().set_cycle(cycle);
    }

    /// Removes a named barrier's name.
    #[napi]
    pub fn unlink(&self, env: &Env) -> Result<()> {
        self.b.unlink().map_err(|e| throw(env, e))
    }
}

impl NativeBarrier {
    /// The watch source (one per object).
    pub fn watcher(&mut self) -> Arc<BarrierWatch> {
        self.watch.get_or_insert_with(|| self.b.watch()).clone()
    }
}
