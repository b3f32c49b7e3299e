// A pure-JS single-producer/single-consumer byte ring over a SharedArrayBuffer,
// the "do it yourself between threads" peer of the benchmark. One thread
// writes records, one thread reads them; a side that cannot go on sleeps in
// Atomics.wait and the other side wakes it with Atomics.notify.
//
// Layout: 16 bytes of Int32 control words, then `capacity` data bytes
// (a power of two). Records are [length: u32][payload, padded to 4 bytes];
// the payload may wrap around the end of the ring. The write and read
// positions are byte counters kept modulo 2^32 (so `w - r` is the used space).
// The ring carries bytes only: the caller chooses the serialization
// (the benchmark uses v8.serialize for objects and raw bytes for Buffers).

const W = 0; // bytes written so far (mod 2^32), published after the payload
const R = 1; // bytes read so far (mod 2^32), published after the copy out
const PRODUCER_WAITING = 2;
const CONSUMER_WAITING = 3;
const HEADER = 16;

export class Ring {
  /** A new ring with `capacity` data bytes (rounded up to a power of two). */
  static create(capacity) {
    let cap = 1024;
    while (cap < capacity) cap *= 2;
    return new Ring(new SharedArrayBuffer(HEADER + cap));
  }

  /** Opens the ring in another thread from its SharedArrayBuffer. */
  constructor(sab) {
    this.sab = sab;
    this.ctl = new Int32Array(sab, 0, 4);
    this.cap = sab.byteLength - HEADER;
    this.mask = this.cap - 1;
    this.bytes = new Uint8Array(sab, HEADER, this.cap);
    this.words = new Uint32Array(sab, HEADER, this.cap / 4);
    // Each side keeps its own counter locally: it is the only writer of it.
    this.w = Atomics.load(this.ctl, W);
    this.r = Atomics.load(this.ctl, R);
  }

  /** Appends one record (copies `src`, a Uint8Array), sleeping while the ring is too full. */
  write(src) {
    const len = src.length;
    const rec = 4 + ((len + 3) & ~3);
    if (rec > this.cap) throw new RangeError(`record of ${len} bytes does not fit a ${this.cap}-byte ring`);
    const ctl = this.ctl;
    const w = this.w;
    let r = Atomics.load(ctl, R);
    while (this.cap - ((w - r) >>> 0) < rec) {
      // Announce the wait, then re-check (the reader stores R before it reads the flag).
      Atomics.store(ctl, PRODUCER_WAITING, 1);
      if (this.cap - ((w - Atomics.load(ctl, R)) >>> 0) < rec) Atomics.wait(ctl, R, r);
      Atomics.store(ctl, PRODUCER_WAITING, 0);
      r = Atomics.load(ctl, R);
    }
    const pos = w & this.mask;
    this.words[pos >>> 2] = len;
    const start = (pos + 4) & this.mask;
    const first = Math.min(len, this.cap - start);
    this.bytes.set(first === len ? src : src.subarray(0, first), start);
    if (first < len) this.bytes.set(src.subarray(first), 0);
    this.w = (w + rec) | 0;
    Atomics.store(ctl, W, this.w); // publishes the payload written above
    if (Atomics.load(ctl, CONSUMER_WAITING) !== 0) Atomics.notify(ctl, W);
  }

  /** Takes the oldest record as a new Buffer, sleeping while the ring is empty. */
  read() {
    const ctl = this.ctl;
    const r = this.r;
    let w = Atomics.load(ctl, W);
    while (w === r) {
      Atomics.store(ctl, CONSUMER_WAITING, 1);
      if (Atomics.load(ctl, W) === r) Atomics.wait(ctl, W, r);
      Atomics.store(ctl, CONSUMER_WAITING, 0);
      w = Atomics.load(ctl, W);
    }
    const pos = r & this.mask;
    const len = this.words[pos >>> 2];
    const out = Buffer.allocUnsafe(len);
    const start = (pos + 4) & this.mask;
    const first = Math.min(len, this.cap - start);
    out.set(this.bytes.subarray(start, start + first), 0);
    if (first < len) out.set(this.bytes.subarray(0, len - first), first);
    this.r = (r + 4 + ((len + 3) & ~3)) | 0;
    Atomics.store(ctl, R, this.r);
    if (Atomics.load(ctl, PRODUCER_WAITING) !== 0) Atomics.notify(ctl, R);
    return out;
  }
}
