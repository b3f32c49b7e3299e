//! Process-level helpers for `Process`: a daemon child asks the kernel to
//! kill it when its parent dies (`PR_SET_PDEATHSIG`), which covers a parent
//! killed with SIGKILL, where no exit handler runs.

/// Arranges SIGKILL for the calling process when its parent exits. Returns
/// false if the parent is already gone (not `expected_parent` any more).
pub fn die_with_parent(expected_parent: u32) -> std::io::Result<bool> {
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
    // The parent may have died before the call: then we were re-parented already.
    let ppid = rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get() as u32);
    Ok(ppid == expected_parent)
}
