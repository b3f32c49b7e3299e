// The Atomics mutex peer of the `lock` and `counter` cases: a mutex in one
// Int32 of a SharedArrayBuffer, states 0 (free), 1 (held), 2 (held, maybe
// waiters). Uncontended acquire is one compareExchange and release one
// Atomics.sub; a contended acquirer marks the word 2 and sleeps in
// Atomics.wait, and a release that finds 2 wakes one sleeper.

export class AtomicsMutex {
  /** @param sab a SharedArrayBuffer; @param index the Int32 slot holding the lock word */
  constructor(sab, index = 0) {
    this.a = new Int32Array(sab);
    this.i = index;
  }

  acquire() {
    const { a, i } = this;
    let c = Atomics.compareExchange(a, i, 0, 1);
    if (c === 0) return;
    if (c !== 2) c = Atomics.exchange(a, i, 2);
    while (c !== 0) {
      Atomics.wait(a, i, 2);
      c = Atomics.exchange(a, i, 2);
    }
  }

  release() {
    const { a, i } = this;
    if (Atomics.sub(a, i, 1) !== 1) {
      Atomics.store(a, i, 0);
      Atomics.notify(a, i, 1);
    }
  }
}
