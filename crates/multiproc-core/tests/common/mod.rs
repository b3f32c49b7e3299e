//! Helpers shared by the core's integration tests.

use multiproc_core::queue::Queue;
use multiproc_core::waker::Deadline;
use multiproc_core::Error;

/// One `get` that does not wait: the item's tag and a copy of its bytes.
pub fn get(q: &mut Queue) -> Result<(u32, Vec<u8>), Error> {
    q.get(Deadline::after_ms(Some(0.0)), |r| {
        let mut v = vec![0; r.len()];
        r.copy_to(&mut v);
        (r.tag, v)
    })
}
