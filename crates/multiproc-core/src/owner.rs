//! Owner ids: who holds a lock, in a form the living can check.
//!
//! A holder is a kernel thread id (unique among live threads system-wide),
//! the pid of its process and that process's start time (field 22 of
//! `/proc/<pid>/stat`), so a recycled pid or tid is never mistaken for the
//! original holder.

use std::cell::Cell;

thread_local! {
    // A plain Cell has no destructor: safe in worker threads that unload the addon.
    static TID: Cell<u32> = const { Cell::new(0) };
}

/// The calling thread's kernel thread id (cached per thread).
pub fn tid() -> u32 {
    TID.with(|c| {
        let v = c.get();
        if v != 0 {
            return v;
        }
        let t = rustix::thread::gettid().as_raw_nonzero().get() as u32;
        c.set(t);
        t
    })
}

/// The calling process's pid (cached: Node never forks without exec).
pub fn pid() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static PID: AtomicU32 = AtomicU32::new(0);
    let p = PID.load(Ordering::Relaxed);
    if p != 0 {
        return p;
    }
    let p = rustix::process::getpid().as_raw_nonzero().get() as u32;
    PID.store(p, Ordering::Relaxed);
    p
}

/// Start time (field 22) of a `/proc/.../stat` file, or `None` if the task is
/// gone or dead: a zombie (state Z or X) is dead even though it is not reaped
/// yet, which matters where nobody reaps orphans or the parent is blocked.
fn live_start(path: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) may hold spaces and parentheses: skip past the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_ascii_whitespace();
    // `rest` starts at field 3 (state); start time is field 22.
    if matches!(fields.next()?, "Z" | "X" | "x") {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

/// The start time of process `pid` in clock ticks since boot, or `None` if it is gone (or a zombie).
pub fn start_time(pid: u32) -> Option<u64> {
    live_start(&format!("/proc/{pid}/stat"))
}

/// Start time of the calling process (computed once per process).
pub fn my_start_time() -> u64 {
    use std::sync::OnceLock;
    static START: OnceLock<u64> = OnceLock::new();
    *START.get_or_init(|| start_time(pid()).unwrap_or(0))
}

/// True while thread `tid` of process `pid` (started at `start`) is alive.
/// `start == 0` means "unknown": only existence is checked.
pub fn thread_alive(pid: u32, tid: u32, start: u64) -> bool {
    if pid == 0 {
        return false;
    }
    if live_start(&format!("/proc/{pid}/task/{tid}/stat")).is_none() {
        return false;
    }
    start == 0 || start_time(pid) == Some(start)
}

/// True while process `pid` (started at `start`, 0 = unknown) is alive.
pub fn process_alive(pid: u32, start: u64) -> bool {
    if pid == 0 {
        return false;
    }
    match start_time(pid) {
        None => false,
        Some(s) => start == 0 || s == start,
    }
}
