//! The one error type of the core. Each variant maps to a public JS error
//! class (or to `TypeError`/`RangeError`) in the binding.

use std::fmt;

/// Everything a core operation can fail with.
#[derive(Debug)]
pub enum Error {
    /// Non-blocking `get` on an empty queue, or a `get` that timed out.
    Empty,
    /// Non-blocking `put` on a full queue, or a `put` that timed out.
    Full,
    /// The queue was shut down (and, for `get`, is drained).
    ShutDown,
    /// A pipe's peer end is closed everywhere (or its holders died) and nothing is left.
    Eof,
    /// A send to a pipe whose receiving end is closed everywhere.
    BrokenPipe,
    /// This connection end was closed.
    Closed,
    /// A wait other than get/put ran out of time.
    Timeout,
    /// Misuse that Python reports as `ValueError` (e.g. too many `task_done`).
    Misuse(String),
    /// A handle or name that does not lead to a live object of the right kind.
    BadHandle(String),
    /// An argument out of range (sizes, names).
    Range(String),
    /// An operating-system failure.
    Io(std::io::Error),
}

/// Result with the core [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Empty => f.write_str("queue is empty"),
            Error::Full => f.write_str("queue is full"),
            Error::ShutDown => f.write_str("queue is shut down"),
            Error::Timeout => f.write_str("timed out"),
            Error::Eof => f.write_str("the other end of the pipe is closed"),
            Error::BrokenPipe => f.write_str("broken pipe: the receiving end is closed"),
            Error::Closed => f.write_str("the connection is closed"),
            Error::Misuse(m) | Error::BadHandle(m) | Error::Range(m) => f.write_str(m),
            Error::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<rustix::io::Errno> for Error {
    fn from(e: rustix::io::Errno) -> Self {
        Error::Io(e.into())
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}
