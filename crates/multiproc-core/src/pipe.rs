//! Pipes: two connection ends joined by one queue per direction.
//!
//! Each direction is a [`Queue`] with a byte bound (backpressure; one
//! oversized message still passes when the buffer is empty). Its segment also
//! lists the processes holding the sending and the receiving end
//! ([`HolderTable`]). A receiver that finds nothing to read and no live sender
//! gets [`Error::Eof`]; a sender with no live receiver gets
//! [`Error::BrokenPipe`]. Deaths raise no signal, so blocked calls and
//! watchers re-check every [`RECHECK`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::ends::{HolderTable, Ticket};
use crate::error::{Error, Result};
use crate::queue::{self, Queue, QueueOptions, QueueState, Record, READABLE, WRITABLE};
use crate::segment::{Handle, Segment, Signal};
use crate::waker::Deadline;
use crate::watcher::Watchable;

/// Bytes a direction buffers before `send` waits.
pub const BUFFER: u64 = 4 << 20;
/// Initial ring size of a direction (it grows up to the buffer, or past it for one big message).
pub const INITIAL_RING: u64 = 256 << 10;
/// How often waits re-check that the peer is alive.
pub const RECHECK: Duration = Duration::from_millis(100);

/// One end: the direction it reads from and the one it writes to.
pub struct Connection {
    rx: Option<(Queue, Option<Ticket>)>,
    tx: Option<(Queue, Option<Ticket>)>,
    /// When the receiving end was last seen alive (a /proc check per send would
    /// cost more than the send itself).
    readers_seen: Option<Instant>,
    /// When the sending end was last seen alive.
    writers_seen: Option<Instant>,
}

fn direction() -> Result<Queue> {
    Queue::create(&QueueOptions { capacity: INITIAL_RING, byte_limit: BUFFER, ..Default::default() })
}

fn join(q: &Queue, table: impl Fn(&QueueState) -> &HolderTable) -> Option<Ticket> {
    table(q.state()).join()
}

/// Makes a pipe. Duplex: both ends read and write. Otherwise the first end
/// only receives and the second only sends.
pub fn pipe(duplex: bool) -> Result<(Connection, Connection)> {
    let x = direction()?;
    let x2 = Queue::attach(&x.segment().handle())?;
    let (a_tx, b_rx) = if duplex {
        let y = direction()?;
        let y2 = Queue::attach(&y.segment().handle())?;
        (Some(y), Some(y2))
    } else {
        (None, None)
    };
    let a = Connection::from_queues(Some(x), a_tx);
    let b = Connection::from_queues(b_rx, Some(x2));
    Ok((a, b))
}

/// True while the other end has a holder: one that closed shows at once (its
/// entry is gone); one that died unannounced shows within [`RECHECK`], as the
/// `/proc` check behind [`HolderTable::anyone`] is done at most that often.
fn peer_alive(t: &HolderTable, seen: &mut Option<Instant>) -> bool {
    if !t.listed() {
        return false;
    }
    if seen.is_some_and(|at| at.elapsed() < RECHECK) {
        return true;
    }
    let alive = t.anyone();
    *seen = alive.then(Instant::now);
    alive
}

impl Connection {
    fn from_queues(rx: Option<Queue>, tx: Option<Queue>) -> Connection {
        let rx = rx.map(|q| {
            let t = join(&q, |s| &s.readers);
            (q, t)
        });
        let tx = tx.map(|q| {
            let t = join(&q, |s| &s.writers);
            (q, t)
        });
        Connection { rx, tx, readers_seen: None, writers_seen: None }
    }

    /// Opens an end from the handles of its directions.
    pub fn attach(rx: Option<&Handle>, tx: Option<&Handle>) -> Result<Connection> {
        if rx.is_none() && tx.is_none() {
            return Err(Error::BadHandle("a connection handle needs at least one direction".into()));
        }
        let rx = rx.map(Queue::attach).transpose()?;
        let tx = tx.map(Queue::attach).transpose()?;
        Ok(Connection::from_queues(rx, tx))
    }

    /// Handles of the receiving and sending directions.
    pub fn handles(&self) -> (Option<Handle>, Option<Handle>) {
        (
            self.rx.as_ref().map(|(q, _)| q.segment().handle()),
            self.tx.as_ref().map(|(q, _)| q.segment().handle()),
        )
    }

    /// Registers process `pid` as a holder of this end (a child about to attach it),
    /// so closing our copy before the child attached does not look like EOF.
    pub fn add_holder(&self, pid: u32) {
        if let Some((q, _)) = &self.rx {
            let _ = q.state().readers.join_as(pid, 0);
        }
        if let Some((q, _)) = &self.tx {
            let _ = q.state().writers.join_as(pid, 0);
        }
    }

    /// True if this end can receive.
    pub fn readable(&self) -> bool {
        self.rx.is_some()
    }

    /// True if this end can send.
    pub fn writable(&self) -> bool {
        self.tx.is_some()
    }

    /// True after [`Connection::close`].
    pub fn closed(&self) -> bool {
        self.rx.is_none() && self.tx.is_none()
    }

    /// The direction `dir` with the peer's last-seen time, or why there is none:
    /// this end only goes the `other` way (`what`), or it is closed.
    fn end<'a>(
        dir: &'a mut Option<(Queue, Option<Ticket>)>,
        other: &Option<(Queue, Option<Ticket>)>,
        seen: &'a mut Option<Instant>,
        what: &str,
    ) -> Result<(&'a mut Queue, &'a mut Option<Instant>)> {
        match dir {
            Some((q, _)) => Ok((q, seen)),
            None if other.is_some() => Err(Error::Misuse(format!("this connection is {what}"))),
            None => Err(Error::Closed),
        }
    }

    /// Sends one message, waiting for buffer space until `deadline`.
    pub fn send(&mut self, tag: u32, parts: &[&[u8]], deadline: Deadline) -> Result<()> {
        let (q, seen) = Self::end(&mut self.tx, &self.rx, &mut self.readers_seen, "receive-only")?;
        let spin = parts.iter().map(|p| p.len()).sum::<usize>() < queue::BLOB_MIN;
        queue::block_sliced(q, WRITABLE, deadline, Some(RECHECK), spin, |q| {
            // A receiver that closed shows at once (its entry is gone); one that
            // died unannounced shows within RECHECK.
            if !peer_alive(&q.state().readers, seen) {
                return Some(Err(Error::BrokenPipe));
            }
            match q.try_put_parts(tag, parts) {
                Err(Error::Full) => None,
                r => Some(r),
            }
        })
        .unwrap_or(Err(Error::Full))
    }

    /// Receives one message, waiting until `deadline`; `take` copies it out.
    pub fn recv<R>(&mut self, deadline: Deadline, mut take: impl FnMut(Record<'_>) -> R) -> Result<R> {
        let (q, seen) = Self::end(&mut self.rx, &self.tx, &mut self.writers_seen, "send-only")?;
        let spin = q.spin_for_items();
        queue::block_sliced(q, READABLE, deadline, Some(RECHECK), spin, |q| match q.try_get(&mut take) {
            Err(Error::Empty) if !peer_alive(&q.state().writers, seen) => match q.try_get(&mut take) {
                // A last message may have landed just before the sender died.
                Err(Error::Empty) => Some(Err(Error::Eof)),
                r => Some(r),
            },
            Err(Error::Empty) => None,
            r => Some(r),
        })
        .unwrap_or(Err(Error::Empty))
    }

    /// Waits until a message (or EOF) can be received; false at the deadline.
    pub fn poll(&mut self, deadline: Deadline) -> Result<bool> {
        let (q, seen) = Self::end(&mut self.rx, &self.tx, &mut self.writers_seen, "send-only")?;
        Ok(queue::block_sliced(q, READABLE, deadline, Some(RECHECK), true, |q| {
            let st = q.state();
            (st.ready(READABLE) != 0 || !peer_alive(&st.writers, seen)).then_some(true)
        })
        .unwrap_or(false))
    }

    /// Closes this end in this process: peers see EOF / EPIPE once every holder closed.
    pub fn close(&mut self) {
        if let Some((q, t)) = self.rx.take() {
            if let Some(t) = t {
                q.state().readers.leave(t);
            }
            q.state().writable.notify_all();
        }
        if let Some((q, t)) = self.tx.take() {
            if let Some(t) = t {
                q.state().writers.leave(t);
            }
            q.state().readable.notify_all();
        }
    }

    /// A watch source for async waits on this end.
    pub fn watch(&self) -> Arc<dyn Watchable> {
        Arc::new(ConnectionWatch {
            rx: self.rx.as_ref().map(|(q, _)| q.segment().clone()),
            tx: self.tx.as_ref().map(|(q, _)| q.segment().clone()),
        })
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.close();
    }
}

/// Readiness of a connection end for a watcher.
struct ConnectionWatch {
    rx: Option<Arc<Segment>>,
    tx: Option<Arc<Segment>>,
}

fn st(seg: &Segment) -> &QueueState {
    // SAFETY: connection directions are Queue segments (checked at attach).
    unsafe { seg.state::<QueueState>() }
}

impl Watchable for ConnectionWatch {
    fn ready(&self, mask: u32) -> u32 {
        let mut r = 0;
        if mask & READABLE != 0 {
            if let Some(s) = &self.rx {
                let s = st(s);
                if s.ready(READABLE) != 0 || !s.writers.anyone() {
                    r |= READABLE;
                }
            }
        }
        if mask & WRITABLE != 0 {
            if let Some(s) = &self.tx {
                let s = st(s);
                if s.ready(WRITABLE) != 0 || !s.readers.anyone() {
                    r |= WRITABLE;
                }
            }
        }
        r
    }

    fn signal(&self, bit: u32) -> &Signal {
        match (bit, &self.rx, &self.tx) {
            (READABLE, Some(s), _) => &st(s).readable,
            (_, _, Some(s)) => &st(s).writable,
            (_, Some(s), None) => &st(s).readable,
            (_, None, None) => unreachable!("a watched connection has a direction"),
        }
    }

    fn recheck(&self) -> Option<Duration> {
        Some(RECHECK)
    }
}
