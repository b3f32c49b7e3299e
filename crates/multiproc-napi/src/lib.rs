//! N-API binding of `multiproc-core`. It converts JS values, handles and
//! errors to and from the core, and wires async waits to a watcher thread;
//! every algorithm lives in the core crate.

// Under `cargo test` nothing registers the exported functions with Node.
#![cfg_attr(test, allow(dead_code))]

mod barrier;
mod condition;
mod convert;
mod event;
mod lock;
mod memory;
mod pipe;
mod process;
mod queue;
mod semaphore;
mod watch;

pub use barrier::NativeBarrier;
pub use condition::NativeCondition;
pub use convert::NativeHandle;
pub use event::NativeEvent;
pub use memory::NativeMemory;
pub use semaphore::NativeSemaphore;
pub use watch::NativeWatch;
