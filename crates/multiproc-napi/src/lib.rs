//! N-API binding of `multiproc-core`. It converts JS values, handles and
//! errors to and from the core, and wires async waits to a watcher thread;
//! every algorithm lives in the core crate.

mod convert;
mod pipe;
mod queue;
mod watch;

pub use convert::NativeHandle;
pub use pipe::NativeConnection;
pub use queue::NativeQueue;
pub use watch::NativeWatch;
