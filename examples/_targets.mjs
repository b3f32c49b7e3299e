// Target functions of the examples that name their targets by module URL,
// e.g. new Process({ target: new URL('./_targets.mjs#visitRoom', import.meta.url) }).
// A target module is imported by the child itself, so it can import the
// package; it must have no top-level side effects.
import { currentProcess } from 'multiproc';

/** Blocks the calling thread for `ms` (simulated work; nothing is coordinated by it). */
function busy(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * semaphore-room.mjs: enters the room guarded by `room` (a Semaphore), counts
 * itself in and out of `inside` under the Value's own lock, keeps the highest
 * count ever seen in `maxInside`, and fails if more than `capacity` are inside.
 */
export function visitRoom(room, inside, maxInside, capacity) {
  const me = currentProcess().name;
  room.acquireSync();
  try {
    const now = inside.getLock().withLockSync(() => {
      inside.value += 1;
      if (inside.value > maxInside.value) maxInside.value = inside.value;
      return inside.value;
    });
    console.log(`${me} enters the room (${now} inside)`);
    if (now > capacity) throw new Error(`${now} processes inside a room for ${capacity}`);
    busy(40 + Math.floor(Math.random() * 40));
    const left = inside.getLock().withLockSync(() => (inside.value -= 1));
    console.log(`${me} leaves the room (${left} inside)`);
  } finally {
    room.release();
  }
}

/**
 * lock-output.mjs: prints `rounds` times a pair of lines, each pair inside
 * `lock.withLockSync`, so another process's lines never come in between.
 */
export function printPairs(lock, rounds) {
  const me = currentProcess().name;
  for (let r = 1; r <= rounds; r++) {
    lock.withLockSync(() => {
      console.log(`${me} (pid ${process.pid}), round ${r}: first line`);
      // Without the lock, other processes would print here.
      busy(5);
      console.log(`${me} (pid ${process.pid}), round ${r}: second line`);
    });
  }
}
