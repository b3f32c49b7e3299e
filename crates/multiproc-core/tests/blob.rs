//! Large items (blobs, copied outside the queue's lock): order and contents
//! mixed with small items, reuse of freed ranges, immediate shutdown, bounds
//! that count puts still copying, several producer and consumer threads, and
//! the room of a writer that died mid-copy.

mod common;
use common::get;

use multiproc_core::blob::{Busy, FreeRange, BLOB_MIN, WRITING};
use multiproc_core::queue::{Queue, QueueOptions};
use multiproc_core::waker::Deadline;
use multiproc_core::Error;
use std::sync::atomic::Ordering;

const MIB: usize = 1 << 20;

/// Item `i` of producer `p`: its length varies across the blob threshold and
/// every byte depends on (p, i, position).
fn item(p: u32, i: u32) -> Vec<u8> {
    let len = match i % 4 {
        0 => 100,
        1 => BLOB_MIN,
        2 => MIB + 13,
        _ => BLOB_MIN - 1,
    };
    (0..len).map(|k| (k as u32).wrapping_mul(31).wrapping_add(p * 7 + i) as u8).collect()
}


#[test]
fn large_and_small_items_keep_order_and_contents() {
    let mut q = Queue::create(&QueueOptions { capacity: 4096, ..Default::default() }).unwrap();
    for i in 0..40 {
        q.try_put(i, &item(0, i)).unwrap();
    }
    assert_eq!(q.qsize().unwrap(), 40);
    for i in 0..40 {
        let (tag, v) = get(&mut q).unwrap();
        assert_eq!(tag, i);
        assert_eq!(v, item(0, i));
    }
    assert!(matches!(get(&mut q), Err(Error::Empty)));
}

#[test]
fn freed_ranges_are_reused() {
    let mut q = Queue::create(&QueueOptions::default()).unwrap();
    let big = vec![7u8; MIB];
    for _ in 0..3 {
        q.try_put(0, &big).unwrap();
    }
    let end = q.snapshot().unwrap().file_end;
    for _ in 0..200 {
        get(&mut q).unwrap();
        q.try_put(0, &big).unwrap();
    }
    assert_eq!(q.snapshot().unwrap().file_end, end, "a steady stream grows the file no further");
}

#[test]
fn immediate_shutdown_frees_queued_blobs() {
    let mut q = Queue::create(&QueueOptions { joinable: true, ..Default::default() }).unwrap();
    for i in 0..4 {
        q.try_put(i, &item(1, 2)).unwrap();
    }
    let s = q.snapshot().unwrap();
    assert_eq!((s.count, s.unfinished), (4, 4));
    assert!(s.blob_bytes >= 4 * MIB as u64);
    q.shutdown(true).unwrap();
    let s = q.snapshot().unwrap();
    assert_eq!((s.count, s.unfinished, s.blob_bytes), (0, 0, 0));
    assert!(matches!(get(&mut q), Err(Error::ShutDown)));
    assert!(matches!(q.try_put(0, &item(1, 2)), Err(Error::ShutDown)));
}

#[test]
fn bounds_hold_for_large_items() {
    let mut q = Queue::create(&QueueOptions { maxsize: 2, ..Default::default() }).unwrap();
    q.try_put(0, &item(0, 1)).unwrap();
    q.try_put(1, &item(0, 0)).unwrap();
    assert!(matches!(q.try_put(2, &item(0, 2)), Err(Error::Full)));
    assert!(q.is_full().unwrap());
    assert_eq!(get(&mut q).unwrap(), (0, item(0, 1)));
    q.try_put(2, &item(0, 2)).unwrap();
    assert!(matches!(q.try_put(3, &item(0, 0)), Err(Error::Full)));
}

#[test]
fn producer_and_consumer_threads_overlap() {
    let mut q = Queue::create(&QueueOptions { maxsize: 4, ..Default::default() }).unwrap();
    let h = q.segment().handle();
    let producers: Vec<_> = (0..3u32)
        .map(|p| {
            let h = h.clone();
            std::thread::spawn(move || {
                let mut q = Queue::attach(&h).unwrap();
                for i in 0..60u32 {
                    q.put(p, &item(p, i), Deadline::FOREVER).unwrap();
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            let h = h.clone();
            std::thread::spawn(move || {
                let mut q = Queue::attach(&h).unwrap();
                let mut got = Vec::new();
                for _ in 0..90 {
                    let (p, v) = q
                        .get(Deadline::FOREVER, |r| {
                            let mut v = vec![0; r.len()];
                            r.copy_to(&mut v);
                            (r.tag, v)
                        })
                        .unwrap();
                    // Which item this is: the one of producer p that matches.
                    let i = (0..60).find(|&i| item(p, i) == v).expect("an intact item");
                    got.push((p, i));
                }
                got
            })
        })
        .collect();
    for t in producers {
        t.join().unwrap();
    }
    let mut all: Vec<(u32, u32)> = Vec::new();
    for t in consumers {
        let got = t.join().unwrap();
        // Per producer, each consumer sees increasing numbers (FIFO).
        for p in 0..3 {
            let seq: Vec<u32> = got.iter().filter(|g| g.0 == p).map(|g| g.1).collect();
            assert!(seq.windows(2).all(|w| w[0] < w[1]), "FIFO for producer {p}");
        }
        all.extend(got);
    }
    all.sort_unstable();
    let want: Vec<(u32, u32)> = (0..3).flat_map(|p| (0..60).map(move |i| (p, i))).collect();
    assert_eq!(all, want, "every item exactly once");
    assert_eq!(q.qsize().unwrap(), 0);
}

#[test]
fn room_held_by_a_dead_writer_comes_back() {
    let mut q = Queue::create(&QueueOptions { maxsize: 1, ..Default::default() }).unwrap();
    q.try_put(0, &item(0, 2)).unwrap();
    get(&mut q).unwrap();
    let end = q.snapshot().unwrap().file_end;
    // Turn the blob range just freed into a put whose process died mid-copy
    // (a pid that does not exist).
    {
        let st = q.state();
        let i = (st.active.load(Ordering::SeqCst) >> 1) as usize & 1;
        // SAFETY: test only; nobody else uses this queue and no lock is held.
        let t = unsafe { &mut *st.blobs[i].get() };
        let slot = t.free.iter_mut().find(|r| r.len != 0).expect("the freed range");
        let (off, len) = (slot.off, slot.len);
        *slot = FreeRange::default();
        t.hot_bytes -= len;
        t.busy[0] = Busy { off, len, start: 1, pid: u32::MAX - 1, state: WRITING };
        t.writing = 1;
        t.writing_bytes = len;
    }
    // The dead put is reaped, so the queue has room for one item, then none.
    q.try_put(0, b"small").unwrap();
    assert!(matches!(q.try_put(1, b"again"), Err(Error::Full)));
    assert_eq!(get(&mut q).unwrap(), (0, b"small".to_vec()));
    // Its range was given back and is used again.
    q.try_put(2, &item(0, 2)).unwrap();
    assert_eq!(get(&mut q).unwrap(), (2, item(0, 2)));
    assert_eq!(q.snapshot().unwrap().file_end, end);
}
