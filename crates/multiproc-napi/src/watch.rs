//! Async waits: a core [`Watcher`] thread per object, reporting to JS through
//! one weak threadsafe function. The TSFN is referenced only while the JS
//! side has waits pending, so an idle object never keeps a process alive. An
//! env cleanup hook stops the thread and releases the TSFN while the env is
//! still valid (Node 20 crashes on a TSFN released after its env is gone).

use std::sync::{Arc, Mutex};

use multiproc_core::watcher::{Watchable, Watcher};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use napi::CleanupEnvHook;

/// JS callback `(mask: number) => void`, weak (does not hold the loop open).
pub type Tsfn = ThreadsafeFunction<u32, (), u32, Status, false, true>;

struct Live {
    watcher: Watcher,
    tsfn: Arc<Tsfn>,
}

type Slot = Arc<Mutex<Option<Live>>>;

/// The async side of one JS object.
#[derive(Default)]
pub struct AsyncWaits {
    slot: Option<Slot>,
    hook: Option<CleanupEnvHook<Slot>>,
    referenced: bool,
}

fn stop(slot: &Slot) {
    let live = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(mut l) = live {
        l.watcher.stop();
        drop(l.tsfn);
    }
}

impl AsyncWaits {
    /// Starts the watcher thread with `cb` as its JS callback.
    pub fn start(&mut self, env: &Env, src: Arc<dyn Watchable>, cb: Function<u32, ()>) -> Result<()> {
        if self.slot.is_some() {
            return Ok(());
        }
        let tsfn: Arc<Tsfn> = Arc::new(cb.build_threadsafe_function::<u32>().weak::<true>().build()?);
        let t2 = tsfn.clone();
        let watcher = Watcher::spawn(
            src,
            Box::new(move |mask| {
                let _ = t2.call(mask, ThreadsafeFunctionCallMode::NonBlocking);
            }),
        )
        .map_err(|e| Error::from_reason(format!("cannot start watcher thread: {e}")))?;
        let slot: Slot = Arc::new(Mutex::new(Some(Live { watcher, tsfn })));
        // Registered after the TSFN exists, so it runs before Node finalizes the TSFN.
        self.hook = Some(env.add_env_cleanup_hook(slot.clone(), |s| stop(&s))?);
        self.slot = Some(slot);
        Ok(())
    }

    /// Asks for a callback when any condition in `mask` may hold.
    pub fn arm(&self, mask: u32) {
        if let Some(s) = &self.slot {
            if let Some(l) = &*s.lock().unwrap_or_else(|e| e.into_inner()) {
                l.watcher.arm(mask);
            }
        }
    }

    /// Cancels interest in `mask`.
    pub fn disarm(&self, mask: u32) {
        if let Some(s) = &self.slot {
            if let Some(l) = &*s.lock().unwrap_or_else(|e| e.into_inner()) {
                l.watcher.disarm(mask);
            }
        }
    }

    /// Keeps the event loop alive (`true`) while waits are pending, or lets it go.
    pub fn set_ref(&mut self, env: &Env, on: bool) -> Result<()> {
        if self.referenced == on {
            return Ok(());
        }
        let Some(s) = &self.slot else { return Ok(()) };
        let g = s.lock().unwrap_or_else(|e| e.into_inner());
        let Some(l) = &*g else { return Ok(()) };
        if l.tsfn.aborted() {
            return Ok(());
        }
        // SAFETY: a live TSFN of this env, used on the JS thread that created it.
        let status = unsafe {
            if on {
                napi::sys::napi_ref_threadsafe_function(env.raw(), l.tsfn.raw())
            } else {
                napi::sys::napi_unref_threadsafe_function(env.raw(), l.tsfn.raw())
            }
        };
        if status != napi::sys::Status::napi_ok {
            return Err(Error::new(Status::from(status), "cannot (un)ref the watcher"));
        }
        self.referenced = on;
        Ok(())
    }

    /// Stops the thread and releases the TSFN (idempotent).
    pub fn close(&mut self, env: Option<&Env>) {
        if let Some(s) = self.slot.take() {
            stop(&s);
        }
        if let (Some(env), Some(h)) = (env, self.hook.take()) {
            let _ = env.remove_env_cleanup_hook(h);
        }
        self.referenced = false;
    }
}

/// The async-wait handle of one JS object: `arm(mask)` asks for `cb(mask)`
/// when a condition may hold (1 readable, 2 writable, 4 drained / other).
#[napi(custom_finalize)]
pub struct NativeWatch {
    waits: AsyncWaits,
}

impl NativeWatch {
    /// Starts watching `src`, reporting to `cb`.
    pub fn start(env: &Env, src: Arc<dyn Watchable>, cb: Function<u32, ()>) -> Result<NativeWatch> {
        let mut waits = AsyncWaits::default();
        waits.start(env, src, cb)?;
        Ok(NativeWatch { waits })
    }
}

#[napi]
impl NativeWatch {
    /// Watches a queue.
    #[napi(factory)]
    pub fn queue(env: &Env, q: &External<crate::queue::QueueBox>, cb: Function<u32, ()>) -> Result<NativeWatch> {
        Self::start(env, q.q.watch(), cb)
    }

    /// Watches a pipe connection.
    #[napi(factory)]
    pub fn connection(env: &Env, c: &External<crate::pipe::ConnectionBox>, cb: Function<u32, ()>) -> Result<NativeWatch> {
        if c.c.closed() {
            return Err(crate::convert::throw(env, multiproc_core::Error::Closed));
        }
        Self::start(env, c.c.watch(), cb)
    }

    /// Watches a Lock or RLock (bit 1: may be free).
    #[napi(factory)]
    pub fn lock(env: &Env, l: &External<crate::lock::LockBox>, cb: Function<u32, ()>) -> Result<NativeWatch> {
        Self::start(env, l.l.watch(), cb)
    }

    /// Watches a semaphore (bit 1: a permit may be free).
    #[napi(factory)]
    pub fn semaphore(env: &Env, s: &crate::semaphore::NativeSemaphore, cb: Function<u32, ()>) -> Result<NativeWatch> {
        Self::start(env, s.s.watch(), cb)
    }

    /// Watches an event (bit 1: may be set).
    #[napi(factory)]
    pub fn event(env: &Env, e: &crate::event::NativeEvent, cb: Function<u32, ()>) -> Result<NativeWatch> {
        Self::start(env, e.e.watch(), cb)
    }

    /// Watches this thread's waiter slots of a condition (bit 1: one may be notified).
    #[napi(factory)]
    pub fn condition(env: &Env, c: &crate::condition::NativeCondition, cb: Function<u32, ()>) -> Result<NativeWatch> {
        Self::start(env, c.c.watch(), cb)
    }

    /// Watches a barrier's awaited cycle (bit 1: it ended or a party died).
    #[napi(factory)]
    pub fn barrier(env: &Env, b: &mut crate::barrier::NativeBarrier, cb: Function<u32, ()>) -> Result<NativeWatch> {
        let w = b.watcher();
        Self::start(env, w, cb)
    }

    /// Asks for a callback when a condition of `mask` may hold.
    #[napi]
    pub fn arm(&self, mask: u32) {
        self.waits.arm(mask);
    }

    /// Cancels interest in `mask`.
    #[napi]
    pub fn disarm(&self, mask: u32) {
        self.waits.disarm(mask);
    }

    /// Holds the event loop open (true) while async waits are pending.
    #[napi]
    pub fn set_ref(&mut self, env: &Env, on: bool) -> Result<()> {
        self.waits.set_ref(env, on)
    }

    /// Stops the watcher thread.
    #[napi]
    pub fn close(&mut self, env: &Env) {
        self.waits.close(Some(env));
    }
}

impl ObjectFinalize for NativeWatch {
    fn finalize(mut self, env: Env) -> Result<()> {
        self.waits.close(Some(&env));
        Ok(())
    }
}
