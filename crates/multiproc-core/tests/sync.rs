//! Locks, semaphores, events, conditions and barriers across threads of one
//! process (cross-process behaviour is tested from JS with real children).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use multiproc_core::barrier::Barrier;
use multiproc_core::condition::Condition;
use multiproc_core::event::Event;
use multiproc_core::lock::Lock;
use multiproc_core::semaphore::Semaphore;
use multiproc_core::waker::Deadline;
use multiproc_core::Error;

fn now() -> Deadline {
    Deadline::after_ms(Some(0.0))
}

#[test]
fn lock_counts_exactly_under_contention() {
    let lock = Lock::create(false, None).unwrap();
    let h = lock.segment().handle();
    let counter = Arc::new(AtomicU32::new(0));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (h, counter) = (h.clone(), counter.clone());
            std::thread::spawn(move || {
                let mut l = Lock::attach(&h).unwrap();
                for _ in 0..2000 {
                    assert!(l.acquire(Deadline::FOREVER));
                    // A non-atomic read-modify-write: only correct under the lock.
                    let v = counter.load(Ordering::Relaxed);
                    counter.store(v + 1, Ordering::Relaxed);
                    l.release().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(counter.load(Ordering::Relaxed), 8000);
}

#[test]
fn lock_semantics_and_dead_owner() {
    let mut l = Lock::create(false, None).unwrap();
    assert!(matches!(l.release(), Err(Error::Misuse(_))));
    let h = l.segment().handle();
    std::thread::spawn(move || {
        let mut other = Lock::attach(&h).unwrap();
        assert!(other.acquire(Deadline::FOREVER));
        // Exits holding it.
    })
    .join()
    .unwrap();
    assert!(l.locked());
    assert!(l.acquire(Deadline::after_ms(Some(5000.0))));
    assert!(l.owner_died());
    // Another thread may release a Lock.
    let h = l.segment().handle();
    std::thread::spawn(move || Lock::attach(&h).unwrap().release().unwrap()).join().unwrap();
    assert!(!l.locked());
    assert!(l.acquire(now()));
    assert!(!l.owner_died());
}

#[test]
fn rlock_recursion_and_ownership() {
    let mut r = Lock::create(true, None).unwrap();
    assert!(r.acquire(now()) && r.acquire(now()));
    let h = r.segment().handle();
    std::thread::spawn(move || {
        let mut o = Lock::attach(&h).unwrap();
        assert!(!o.acquire(Deadline::after_ms(Some(20.0))));
        assert!(matches!(o.release(), Err(Error::Misuse(_))));
    })
    .join()
    .unwrap();
    r.release().unwrap();
    assert!(r.locked());
    r.release().unwrap();
    assert!(!r.locked());
}

#[test]
fn semaphore_bounds_and_values() {
    let mut s = Semaphore::create(2, true, None).unwrap();
    assert!(s.acquire(now()) && s.acquire(now()));
    assert!(!s.acquire(now()));
    assert_eq!(s.value(), 0);
    s.release(2).unwrap();
    assert!(matches!(s.release(1), Err(Error::Misuse(_))));
    assert_eq!(s.value(), 2);
    // A thread holding a permit and exiting without release gives it back when abandoned.
    let h = s.segment().handle();
    std::thread::spawn(move || {
        let mut t = Semaphore::attach(&h).unwrap();
        assert!(t.acquire(now()));
        t.abandon();
    })
    .join()
    .unwrap();
    assert_eq!(s.value(), 2);
    assert!(s.acquire(now()));
    assert!(s.owner_died());
}

#[test]
fn event_wakes_waiters() {
    let e = Event::create(None).unwrap();
    let h = e.segment().handle();
    let t = std::thread::spawn(move || Event::attach(&h).unwrap().wait(Deadline::FOREVER));
    e.set();
    assert!(t.join().unwrap());
    e.clear();
    assert!(!e.wait(Deadline::after_ms(Some(5.0))));
}

#[test]
fn condition_notify_wakes_in_order() {
    let lock = Lock::create(false, None).unwrap();
    let lh = lock.segment().handle();
    let mut c = Condition::create(lock, None).unwrap();
    let ch = c.segment().handle();
    let ready = Arc::new(AtomicU32::new(0));
    let woken = Arc::new(AtomicU32::new(0));
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let (lh, ch, ready, woken) = (lh.clone(), ch.clone(), ready.clone(), woken.clone());
            std::thread::spawn(move || {
                let mut c = Condition::attach(&ch, Lock::attach(&lh).unwrap()).unwrap();
                assert!(c.lock().acquire(Deadline::FOREVER));
                ready.fetch_add(1, Ordering::SeqCst);
                let ok = c.wait(Deadline::FOREVER).unwrap();
                woken.fetch_add(1, Ordering::SeqCst);
                c.lock().release().unwrap();
                ok
            })
        })
        .collect();
    // Once every waiter holds a slot, the lock is free again with 3 waiting.
    loop {
        assert!(c.lock().acquire(Deadline::FOREVER));
        if ready.load(Ordering::SeqCst) == 3 {
            break;
        }
        c.lock().release().unwrap();
        std::thread::yield_now();
    }
    assert_eq!(c.notify(1).unwrap(), 1);
    assert_eq!(c.notify(10).unwrap(), 2);
    c.lock().release().unwrap();
    for w in waiters {
        assert!(w.join().unwrap());
    }
    assert_eq!(woken.load(Ordering::SeqCst), 3);
    assert!(matches!(c.notify(1), Err(Error::Misuse(_))), "notify needs the lock");
}

#[test]
fn barrier_cycles_reset_and_abort() {
    let b = Barrier::create(3, None, None).unwrap();
    let h = b.segment().handle();
    for _ in 0..3 {
        let parties: Vec<_> = (0..3)
            .map(|_| {
                let h = h.clone();
                std::thread::spawn(move || {
                    let b = Barrier::attach(&h).unwrap();
                    let a = b.arrive().unwrap();
                    if a.last {
                        b.complete(a.cycle);
                    }
                    b.wait_open(a.cycle, Deadline::FOREVER).map(|_| a.index)
                })
            })
            .collect();
        let mut idx: Vec<u32> = parties.into_iter().map(|t| t.join().unwrap().unwrap()).collect();
        idx.sort_unstable();
        assert_eq!(idx, vec![0, 1, 2]);
    }
    // A timeout breaks it for everyone until reset.
    let a = b.arrive().unwrap();
    assert!(b.wait_open(a.cycle, Deadline::after_ms(Some(10.0))).is_err());
    assert!(b.broken());
    assert!(b.arrive().is_err());
    b.reset();
    assert!(!b.broken());
    assert_eq!(b.n_waiting(), 0);
}
