//! Pipe ends within one process: messages, EOF after close, EPIPE, backpressure.

use multiproc_core::pipe::{pipe, Connection, BUFFER};
use multiproc_core::waker::Deadline;
use multiproc_core::Error;

fn recv(c: &mut Connection, ms: f64) -> Result<Vec<u8>, Error> {
    c.recv(Deadline::after_ms(Some(ms)), |r| {
        let mut v = vec![0; r.len()];
        r.copy_to(&mut v);
        v
    })
}

#[test]
fn duplex_messages_then_eof() {
    let (mut a, mut b) = pipe(true).unwrap();
    a.send(0, &[b"to b"], Deadline::FOREVER).unwrap();
    b.send(0, &[b"to a"], Deadline::FOREVER).unwrap();
    assert_eq!(recv(&mut b, 0.0).unwrap(), b"to b");
    assert_eq!(recv(&mut a, 0.0).unwrap(), b"to a");
    assert!(matches!(recv(&mut a, 0.0), Err(Error::Empty)));
    b.send(0, &[b"last"], Deadline::FOREVER).unwrap();
    b.close();
    assert!(b.closed());
    assert_eq!(recv(&mut a, 1000.0).unwrap(), b"last", "pending data is delivered first");
    assert!(matches!(recv(&mut a, 1000.0), Err(Error::Eof)));
    assert!(matches!(a.send(0, &[b"x"], Deadline::FOREVER), Err(Error::BrokenPipe)));
    assert!(a.poll(Deadline::after_ms(Some(0.0))).unwrap(), "EOF counts as readable");
}

#[test]
fn simplex_directions_are_enforced() {
    let (mut r, mut s) = pipe(false).unwrap();
    assert!(r.readable() && !r.writable());
    assert!(s.writable() && !s.readable());
    assert!(matches!(r.send(0, &[b"x"], Deadline::FOREVER), Err(Error::Misuse(_))));
    assert!(matches!(recv(&mut s, 0.0), Err(Error::Misuse(_))));
}

#[test]
fn backpressure_and_oversized_message() {
    let (mut a, mut b) = pipe(false).unwrap();
    let chunk = vec![7u8; 1 << 20];
    let mut sent = 0;
    while b.send(0, &[&chunk], Deadline::after_ms(Some(0.0))).is_ok() {
        sent += 1;
    }
    // Each record is 1 MiB plus an 8-byte header, so three fit in the 4 MiB buffer.
    assert_eq!(sent, 3, "the buffer bounds the bytes in flight");
    let big = vec![9u8; 3 * BUFFER as usize];
    for _ in 0..sent {
        assert_eq!(recv(&mut a, 0.0).unwrap().len(), 1 << 20);
    }
    b.send(1, &[&big], Deadline::after_ms(Some(0.0))).unwrap();
    assert_eq!(recv(&mut a, 0.0).unwrap(), big);
}

#[test]
fn poll_times_out_without_data() {
    let (mut a, _b) = pipe(true).unwrap();
    assert!(!a.poll(Deadline::after_ms(Some(20.0))).unwrap());
}
