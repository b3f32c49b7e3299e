//! multiproc-core: the shared-memory half of multiproc, in plain Rust.
//!
//! Every object lives in a [`segment::Segment`] (a memfd for unnamed objects, a
//! POSIX shm file for named ones) that starts with a versioned header. Blocking
//! uses futexes in that memory ([`waker`]), locks record their owner
//! ([`owner`], [`mutex`]) so the living can take over from the dead, and async
//! callers park a [`watcher::Watcher`] thread instead of a thread-pool thread.
//! This crate knows nothing of N-API; `multiproc-napi` only converts.

pub mod ends;
pub mod barrier;
pub mod blob;
pub mod condition;
pub mod copy;
pub mod error;
pub mod event;
pub mod lock;
pub mod memory;
pub mod mutex;
pub mod owner;
pub mod pipe;
pub mod process;
pub mod queue;
pub mod segment;
pub mod semaphore;
pub mod waker;
pub mod watcher;

pub use error::{Error, Result};
