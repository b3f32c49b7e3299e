//! Core queue behaviour within one process: order, growth, wrap-around,
//! bounds, shutdown, task counting, handles and names, dead lock holders.

mod common;
use common::get;

use multiproc_core::queue::{Queue, QueueOptions};
use multiproc_core::waker::Deadline;
use multiproc_core::Error;


#[test]
fn fifo_with_growth_and_wrap() {
    let mut q = Queue::create(&QueueOptions { capacity: 4096, ..Default::default() }).unwrap();
    // Interleave puts and gets so records wrap, then burst past the capacity so the ring grows.
    let mut next_get = 0u32;
    for i in 0..5000u32 {
        let item = vec![(i % 251) as u8; (i as usize * 7) % 300];
        q.try_put(i, &item).unwrap();
        if i % 3 == 0 {
            let (tag, v) = get(&mut q).unwrap();
            assert_eq!(tag, next_get);
            assert_eq!(v, vec![(next_get % 251) as u8; (next_get as usize * 7) % 300]);
            next_get += 1;
        }
    }
    assert_eq!(q.qsize().unwrap(), u64::from(5000 - next_get));
    while let Ok((tag, v)) = get(&mut q) {
        assert_eq!(tag, next_get);
        assert_eq!(v.len(), (next_get as usize * 7) % 300);
        next_get += 1;
    }
    assert_eq!(next_get, 5000);
}

#[test]
fn item_larger_than_capacity_goes_through() {
    let mut q = Queue::create(&QueueOptions { capacity: 4096, maxsize: 1, ..Default::default() }).unwrap();
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i * 31) as u8).collect();
    q.try_put(7, &big).unwrap();
    assert!(matches!(q.try_put(1, b"x"), Err(Error::Full)));
    assert!(q.is_full().unwrap());
    let (tag, v) = get(&mut q).unwrap();
    assert_eq!((tag, v), (7, big));
    assert!(matches!(get(&mut q), Err(Error::Empty)));
}

#[test]
fn shutdown_drains_then_fails() {
    let mut q = Queue::create(&QueueOptions::default()).unwrap();
    q.try_put(0, b"a").unwrap();
    q.shutdown(false).unwrap();
    assert!(matches!(q.try_put(0, b"b"), Err(Error::ShutDown)));
    assert_eq!(get(&mut q).unwrap().1, b"a");
    assert!(matches!(get(&mut q), Err(Error::ShutDown)));
}

#[test]
fn joinable_counts_and_immediate_shutdown() {
    let mut q = Queue::create(&QueueOptions { joinable: true, ..Default::default() }).unwrap();
    for _ in 0..3 {
        q.try_put(0, b"t").unwrap();
    }
    assert!(matches!(q.join(Deadline::after_ms(Some(1.0))), Err(Error::Timeout)));
    get(&mut q).unwrap();
    q.task_done().unwrap();
    assert_eq!(q.unfinished().unwrap(), 2);
    q.shutdown(true).unwrap();
    assert_eq!(q.qsize().unwrap(), 0);
    q.join(Deadline::after_ms(Some(0.0))).unwrap();
    assert!(matches!(q.task_done(), Err(Error::Misuse(_))));
}

#[test]
fn attach_by_handle_and_threads() {
    let mut q = Queue::create(&QueueOptions { maxsize: 8, ..Default::default() }).unwrap();
    let h = q.segment().handle();
    let producers: Vec<_> = (0..3u32)
        .map(|p| {
            let h = h.clone();
            std::thread::spawn(move || {
                let mut q = Queue::attach(&h).unwrap();
                for i in 0..2000u32 {
                    q.put(p, &i.to_le_bytes(), Deadline::FOREVER).unwrap();
                }
            })
        })
        .collect();
    let mut last = [None::<u32>; 3];
    for _ in 0..6000 {
        let (p, v) = q
            .get(Deadline::FOREVER, |r| {
                let mut v = [0u8; 4];
                r.copy_to(&mut v);
                (r.tag, u32::from_le_bytes(v))
            })
            .unwrap();
        let slot = &mut last[p as usize];
        assert_eq!(*slot, v.checked_sub(1), "per-producer FIFO");
        *slot = Some(v);
    }
    for t in producers {
        t.join().unwrap();
    }
    assert_eq!(last, [Some(1999); 3]);
}

#[test]
fn forged_handle_is_an_error() {
    let q = Queue::create(&QueueOptions::default()).unwrap();
    let mut h = q.segment().handle();
    h.token[0] ^= 1;
    assert!(matches!(Queue::attach(&h), Err(Error::BadHandle(_))));
    h.holders = vec![(u32::MAX - 1, 3)];
    assert!(matches!(Queue::attach(&h), Err(Error::BadHandle(_))));
}

#[test]
fn named_create_open_unlink() {
    let name = format!("core-test-{}", std::process::id());
    let mut a = Queue::create(&QueueOptions { name: Some(name.clone()), maxsize: 5, ..Default::default() }).unwrap();
    let mut b = Queue::create(&QueueOptions { name: Some(name.clone()), maxsize: 99, ..Default::default() }).unwrap();
    assert_eq!(b.maxsize(), 5, "opening keeps the existing state");
    a.try_put(1, b"hello").unwrap();
    assert_eq!(get(&mut b).unwrap().1, b"hello");
    a.unlink().unwrap();
    assert!(matches!(a.unlink(), Err(Error::Misuse(_))));
    assert!(!std::path::Path::new(&format!("/dev/shm/multiproc-{name}")).exists());
}

#[test]
fn lock_of_a_dead_thread_is_taken_over() {
    let mut q = Queue::create(&QueueOptions::default()).unwrap();
    let h = q.segment().handle();
    // A thread takes the queue's lock and exits without releasing it.
    std::thread::spawn(move || {
        let q2 = Queue::attach(&h).unwrap();
        assert!(q2.state().lock.try_lock().is_some());
        std::mem::forget(q2);
    })
    .join()
    .unwrap();
    assert!(q.state().lock.is_locked());
    q.try_put(0, b"after").unwrap();
    assert!(q.owner_died());
    assert_eq!(get(&mut q).unwrap().1, b"after");
}
