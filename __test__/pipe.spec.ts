/**
 * Pipe and Connection (API.md "Pipe and Connection"): duplex and simplex ends,
 * whole messages of every size up to 3 MiB (and 10 MiB, past the buffer),
 * value types, sendBytes/recvBytes/recvBytesInto with their argument errors,
 * poll, backpressure, EOF and EPIPE in-process and across real child
 * processes (normal exit and SIGKILL), close(), abort signals, wait() over
 * connections and queues, connections travelling by handle and inside queue
 * items to child processes and worker threads, a 5,000-round-trip ping-pong,
 * and forged or malformed handles.
 *
 * Tests that start children or workers are serial: `reap` (afterEach) kills
 * every live child, so it must not run while another test's children work.
 */
import { randomBytes } from 'node:crypto';

import test, { type ExecutionContext } from 'ava';

import {
  BrokenPipeError,
  BufferTooShort,
  Connection,
  DataCloneError,
  EOFError,
  Lock,
  Pipe,
  Queue,
  wait,
  type ConnectionHandle,
} from 'multiproc';

import type { EchoArg } from './fixtures/pipe-echo';
import { SIZES, sha, sized, unstamp, type SizedHeader } from './fixtures/pipe-lib';
import type { ScriptArg, Step } from './fixtures/pipe-script';
import { exited, forkFixture, reap, startWorker } from './helpers';

test.afterEach.always(reap);

const MiB = 1 << 20;
const ok = { code: 0, signal: null };
const closedErr = { code: 'ERR_MULTIPROC_CLOSED' };
const misuse = { code: 'ERR_MULTIPROC_MISUSE' };
const eof = { instanceOf: EOFError, code: 'ERR_MULTIPROC_EOF' };
const epipe = { instanceOf: BrokenPipeError, code: 'EPIPE' };

/** Forks the step-runner fixture on one connection end. */
function script(conn: Connection, ctl: Queue, steps: Step[], extra: { go?: Queue; q?: Queue } = {}) {
  const a: ScriptArg = { conn: conn.handle, ctl: ctl.handle, go: extra.go?.handle, q: extra.q?.handle, steps };
  return forkFixture('pipe-script', a);
}

/** Receives every value until EOF with the async iterator. */
async function drain<T>(c: Connection<T>): Promise<T[]> {
  const got: T[] = [];
  for await (const v of c) got.push(v);
  return got;
}

/** Receives one (header, bytes) pair per size and checks each against its header and size. */
async function recvSized(t: ExecutionContext, c: Connection, sizes: readonly number[]): Promise<void> {
  for (const n of sizes) {
    const h = (await c.recv()) as SizedHeader;
    const b = await c.recvBytes();
    t.is(h.len, n);
    t.is(b.length, n);
    t.is(sha(b), h.sha, `checksum of the ${n}-byte message`);
  }
}

const seq = (n: number) => Array.from({ length: n }, (_, i) => i);

// ---------------------------------------------------------------------------
// Ends, directions, flags

test('Pipe(): both ends of a duplex pipe read and write, each direction separately', (t) => {
  for (const [a, b] of [Pipe(), Pipe(true)]) {
    for (const c of [a, b]) {
      t.true(c instanceof Connection);
      t.true(c.readable);
      t.true(c.writable);
      t.false(c.closed);
    }
    a.sendSync('a1');
    b.sendSync('b1');
    a.sendSync('a2');
    t.is(b.recvSync(), 'a1');
    t.is(b.recvSync(), 'a2');
    t.is(a.recvSync(), 'b1');
    t.false(a.pollSync());
    t.false(b.pollSync());
    a.close();
    b.close();
  }
});

test('Pipe(false) gives [receiveOnly, sendOnly]; the wrong direction is a misuse Error, async forms reject', async (t) => {
  const [r, w] = Pipe(false);
  t.deepEqual([r.readable, r.writable, w.readable, w.writable], [true, false, false, true]);
  w.sendSync(1);
  await w.send(2);
  w.sendBytesSync(Buffer.from('x'));
  t.is(r.recvSync(), 1);
  t.is(await r.recv(), 2);
  t.deepEqual(r.recvBytesSync(), Buffer.from('x'));

  t.throws(() => r.sendSync(1), misuse);
  t.throws(() => r.sendBytesSync(Buffer.alloc(1)), misuse);
  await t.throwsAsync(() => r.send(1), misuse);
  await t.throwsAsync(() => r.sendBytes(Buffer.alloc(1)), misuse);
  t.throws(() => w.recvSync(), misuse);
  t.throws(() => w.recvBytesSync(), misuse);
  t.throws(() => w.recvBytesIntoSync(Buffer.alloc(4)), misuse);
  t.throws(() => w.pollSync(), misuse);
  await t.throwsAsync(() => w.recv(), misuse);
  await t.throwsAsync(() => w.recvBytes(), misuse);
  await t.throwsAsync(() => w.recvBytesInto(Buffer.alloc(4)), misuse);
  await t.throwsAsync(() => w.poll(), misuse);
  // None of that sent anything.
  t.false(r.pollSync());
  r.close();
  w.close();
});

test('Pipe() with a non-boolean duplex is a TypeError; Connection cannot be constructed directly', (t) => {
  for (const bad of [1, 0, 'yes', null, {}]) t.throws(() => Pipe(bad as never), { instanceOf: TypeError });
  t.throws(() => new (Connection as unknown as new () => Connection)(), { instanceOf: TypeError });
});

// ---------------------------------------------------------------------------
// Whole messages and values

test('whole messages of every size 0..3 MiB, sync: one sendBytes is one recvBytes, checksums equal', (t) => {
  const [a, b] = Pipe();
  for (const n of SIZES) {
    const { header, bytes } = sized(n);
    a.sendBytesSync(bytes);
    const got = b.recvBytesSync();
    t.true(Buffer.isBuffer(got));
    t.is(got.length, n);
    t.is(sha(got), header.sha);
  }
  t.false(b.pollSync());
  a.close();
  b.close();
});

test('whole messages of every size 0..3 MiB, async, all in flight at once (past the 4 MiB buffer)', async (t) => {
  const [r, w] = Pipe(false);
  const msgs = SIZES.map((n) => sized(n));
  // ~10.6 MiB in total: later sends wait for the receiver.
  const sends = Promise.all(msgs.map((m) => w.sendBytes(m.bytes)));
  for (const m of msgs) {
    const got = await r.recvBytes();
    t.is(got.length, m.header.len);
    t.is(sha(got), m.header.sha);
  }
  await sends;
  // The same through send/recv of Buffers.
  const sends2 = Promise.all(msgs.map((m) => w.send(m.bytes)));
  for (const m of msgs) {
    const got = (await r.recv()) as Buffer;
    t.true(Buffer.isBuffer(got));
    t.is(sha(got), m.header.sha);
  }
  await sends2;
  t.false(await r.poll());
  r.close();
  w.close();
});

test('a 10 MiB message (bigger than the buffer) goes through, sync and async', async (t) => {
  const [a, b] = Pipe();
  const big = sized(10 * MiB);
  a.sendBytesSync(big.bytes);
  t.is(sha(b.recvBytesSync()), big.header.sha);
  const p = a.sendBytes(big.bytes);
  t.is(sha(await b.recvBytes()), big.header.sha);
  await p;
  await a.send(big.bytes);
  t.is(sha((await b.recv()) as Buffer), big.header.sha);
  a.close();
  b.close();
});

/** Values of every supported kind; typed arrays must arrive as the same type. */
function sampleValues(): unknown[] {
  const cyclic: { self?: unknown; n: number } = { n: 1 };
  cyclic.self = cyclic;
  const backing = new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  return [
    undefined, null, true, false, 0, -0, NaN, Infinity, 1.5, -(2 ** 53), 'text', '', 'ünïcødé ✓ 😀',
    12345678901234567890123456789n, -5n,
    new Date(1_700_000_000_123), /ab+c/gi, new Map<unknown, unknown>([[1, { a: 1 }], ['k', [1, 2]], [{ o: 1 }, new Set([3])]]),
    new Set([1, 'a', null]), { a: [1, { b: new Map([['x', new Date(0)]]) }], c: undefined }, [1, [2, [3, [4]]]], cyclic,
    Buffer.from('a buffer'), Buffer.alloc(0),
    new Uint8Array([1, 2, 255]), new Int8Array([-1, 2, -128]), new Uint8ClampedArray([0, 128, 255]),
    new Int16Array([-300, 300]), new Uint16Array([65535, 1]), new Int32Array([-(2 ** 31), 7]), new Uint32Array([2 ** 32 - 1]),
    new Float32Array([1.5, -0.25]), new Float64Array([Math.PI, -1e300]), new BigInt64Array([-(2n ** 63n), 5n]),
    new BigUint64Array([2n ** 64n - 1n]), new DataView(new Uint8Array([9, 8, 7]).buffer), new Uint8Array([4, 5, 6]).buffer,
    new Float64Array(0),
    // A view into the middle of a larger buffer: only its own bytes travel.
    backing.subarray(4, 9), new Uint16Array(backing.buffer, 2, 3),
    { buf: Buffer.from('nested'), f: new Float32Array([2]), when: new Date(5) },
  ];
}

function sameValue(t: ExecutionContext, got: unknown, want: unknown): void {
  if (typeof want === 'number' && Number.isNaN(want)) t.true(Number.isNaN(got));
  else if (Object.is(want, -0)) t.true(Object.is(got, -0));
  else t.deepEqual(got, want);
  if (typeof want === 'object' && want !== null) {
    t.is(Object.getPrototypeOf(got), Object.getPrototypeOf(want), `arrives as ${want.constructor.name}`);
    t.is(Buffer.isBuffer(got), Buffer.isBuffer(want));
  }
}

test('values keep their types: Map, Set, Date, RegExp, BigInt, cycles, Buffer, every typed array, DataView, ArrayBuffer (sync)', (t) => {
  const [a, b] = Pipe();
  for (const v of sampleValues()) {
    a.sendSync(v);
    const got = b.recvSync();
    sameValue(t, got, v);
    if (v !== null && typeof v === 'object' && 'self' in v) t.is((got as { self: unknown }).self, got);
  }
  t.false(b.pollSync());
  a.close();
  b.close();
});

test('values keep their types (async, all sent before any is received)', async (t) => {
  const [a, b] = Pipe();
  const values = sampleValues();
  await Promise.all(values.map((v) => a.send(v)));
  for (const v of values) sameValue(t, await b.recv(), v);
  t.false(await b.poll());
  a.close();
  b.close();
});

test('a value that cannot be cloned is a DataCloneError (TypeError) and nothing is sent', async (t) => {
  const [a, b] = Pipe();
  const bad: unknown[] = [() => 1, Symbol('s'), { f() {} }, new Map([[1, () => 2]]), [1, Symbol.iterator]];
  for (const v of bad) {
    const e1 = t.throws(() => a.sendSync(v), { instanceOf: DataCloneError });
    t.true(e1 instanceof TypeError);
    t.is(e1.name, 'DataCloneError');
    await t.throwsAsync(() => a.send(v), { instanceOf: DataCloneError });
  }
  t.false(b.pollSync());
  a.sendSync('after');
  t.is(b.recvSync(), 'after');
  t.false(b.pollSync());
  a.close();
  b.close();
});

test('messages keep FIFO order across send forms, and pending recvs are served in call order', async (t) => {
  const [a, b] = Pipe();
  const pending = [b.recv(), b.recvBytes(), b.recv(), b.recv()];
  a.sendSync(1);
  await a.sendBytes(Buffer.from('two'));
  a.sendBytesSync(Buffer.from('three'));
  await a.send(4);
  t.deepEqual(await Promise.all(pending), [1, Buffer.from('two'), Buffer.from('three'), 4]);
  for (let i = 0; i < 1000; i++) {
    if (i % 2) a.sendSync(i);
    else await a.send(i);
  }
  const got: number[] = [];
  for (let i = 0; i < 1000; i++) got.push((i % 3 ? b.recvSync() : await b.recv()) as number);
  t.deepEqual(got, seq(1000));
  a.close();
  b.close();
});

// ---------------------------------------------------------------------------
// Bytes: sendBytes offsets, recvBytes maxlength, recvBytesInto

test('sendBytes(buf, offset, size): byte offsets on Buffers, typed arrays, views, DataView and ArrayBuffer', async (t) => {
  const [a, b] = Pipe();
  const hello = Buffer.from('hello world');
  const u16 = new Uint16Array([0x0101, 0x0202, 0x0303, 0x0404]);
  const f64 = new Float64Array([1.5, 2.5]);
  const backing = new Uint8Array(seq(16));
  const view = backing.subarray(4, 12); // bytes 4..11
  const dv = new DataView(backing.buffer, 2, 6); // bytes 2..7
  const cases: [ArrayBufferView | ArrayBuffer, number | undefined, number | undefined, Buffer][] = [
    [hello, undefined, undefined, hello],
    [hello, 6, undefined, Buffer.from('world')],
    [hello, 6, 3, Buffer.from('wor')],
    [hello, 0, 0, Buffer.alloc(0)],
    [hello, 11, undefined, Buffer.alloc(0)],
    [u16, 2, 4, Buffer.from([2, 2, 3, 3])], // bytes, not elements
    [f64, 8, undefined, Buffer.from(new Float64Array([2.5]).buffer)],
    [view, 2, 3, Buffer.from([6, 7, 8])], // relative to the view
    [dv, 1, 2, Buffer.from([3, 4])],
    [backing.buffer, 14, undefined, Buffer.from([14, 15])],
  ];
  for (const [buf, off, size, want] of cases) {
    a.sendBytesSync(buf, off, size);
    t.deepEqual(b.recvBytesSync(), want);
    await a.sendBytes(buf, off, size);
    t.deepEqual(await b.recvBytes(), want);
  }
  t.false(b.pollSync());
  a.close();
  b.close();
});

test('sendBytes: bad offset/size is a RangeError, wrong types a TypeError (async forms reject); nothing is sent', async (t) => {
  const [a, b] = Pipe();
  const buf = Buffer.alloc(8);
  const range: [number, number | undefined][] = [
    [-1, undefined], [1.5, undefined], [NaN, undefined], [9, undefined], [0, -1], [0, 2.5], [0, 9], [4, 5], [8, 1],
  ];
  for (const [off, size] of range) {
    t.throws(() => a.sendBytesSync(buf, off, size), { instanceOf: RangeError }, `offset ${off} size ${size}`);
    await t.throwsAsync(() => a.sendBytes(buf, off, size), { instanceOf: RangeError });
  }
  // Byte offsets on a typed array: 4 Float64 elements are 32 bytes.
  t.throws(() => a.sendBytesSync(new Float64Array(4), 8, 32), { instanceOf: RangeError });
  const types: [unknown, unknown, unknown][] = [
    ['text', undefined, undefined], [123, undefined, undefined], [[1, 2, 3], undefined, undefined], [null, undefined, undefined],
    [undefined, undefined, undefined], [{ length: 3 }, undefined, undefined], [buf, '1', undefined], [buf, 0, '2'], [buf, 1n, undefined],
  ];
  for (const [x, off, size] of types) {
    t.throws(() => a.sendBytesSync(x as Buffer, off as number, size as number), { instanceOf: TypeError });
    await t.throwsAsync(() => a.sendBytes(x as Buffer, off as number, size as number), { instanceOf: TypeError });
  }
  t.false(b.pollSync());
  a.close();
  b.close();
});

test('recvBytes(maxlength) on a longer message throws/rejects and the connection stays usable', async (t) => {
  const [a, b] = Pipe();
  const tooLong = { instanceOf: Error, code: 'ERR_MULTIPROC_MESSAGE_TOO_LONG' };
  a.sendBytesSync(Buffer.alloc(10, 1));
  a.sendBytesSync(Buffer.from('next'));
  t.throws(() => b.recvBytesSync(9), tooLong);
  t.deepEqual(b.recvBytesSync(4), Buffer.from('next'));

  a.sendBytesSync(Buffer.alloc(10, 2));
  a.sendSync('value after');
  await t.throwsAsync(() => b.recvBytes(0), tooLong);
  t.is(await b.recv(), 'value after');

  // A waiting recvBytes that gets a long message rejects; the next message goes to the next call.
  const waiting = b.recvBytes(3);
  await a.sendBytes(Buffer.alloc(4));
  await t.throwsAsync(waiting, tooLong);
  await a.sendBytes(Buffer.from('abc'));
  t.deepEqual(await b.recvBytes(3), Buffer.from('abc'));

  // maxlength equal to the length, and 0 for an empty message, are fine.
  a.sendBytesSync(Buffer.from('12345'));
  t.deepEqual(b.recvBytesSync(5), Buffer.from('12345'));
  a.sendBytesSync(Buffer.alloc(0));
  t.deepEqual(await b.recvBytes(0), Buffer.alloc(0));

  // Bad maxlength: RangeError / TypeError before anything is taken.
  a.sendBytesSync(Buffer.from('kept'));
  for (const bad of [-1, NaN]) {
    t.throws(() => b.recvBytesSync(bad), { instanceOf: RangeError });
    await t.throwsAsync(() => b.recvBytes(bad), { instanceOf: RangeError });
  }
  t.throws(() => b.recvBytesSync('5' as never), { instanceOf: TypeError });
  await t.throwsAsync(() => b.recvBytes('5' as never), { instanceOf: TypeError });
  t.deepEqual(b.recvBytesSync(), Buffer.from('kept'));
  t.false(b.pollSync());
  a.close();
  b.close();
});

test('recvBytesInto(buf, offset) fills Buffer, Uint8Array, Float64Array and ArrayBuffer at a byte offset and returns the byte count', async (t) => {
  const [a, b] = Pipe();
  a.sendBytesSync(Buffer.from('abcdef'));
  const buf = Buffer.alloc(10, '.');
  t.is(b.recvBytesIntoSync(buf, 2), 6);
  t.is(buf.toString(), '..abcdef..');

  await a.sendBytes(new Uint8Array([7, 8, 9]));
  const u8 = new Uint8Array(3);
  t.is(await b.recvBytesInto(u8), 3);
  t.deepEqual(u8, new Uint8Array([7, 8, 9]));

  a.sendBytesSync(new Float64Array([1.5]));
  const f64 = new Float64Array(2);
  t.is(b.recvBytesIntoSync(f64, 8), 8); // byte offset 8 = element 1
  t.deepEqual(f64, new Float64Array([0, 1.5]));

  a.sendBytesSync(new Float64Array([-2.25, 3]));
  const f64b = new Float64Array(3);
  t.is(await b.recvBytesInto(f64b, 8), 16);
  t.deepEqual(f64b, new Float64Array([0, -2.25, 3]));

  a.sendBytesSync(Buffer.from([1, 2]));
  const ab = new ArrayBuffer(4);
  t.is(b.recvBytesIntoSync(ab, 2), 2);
  t.deepEqual(new Uint8Array(ab), new Uint8Array([0, 0, 1, 2]));

  // Exact fit at the offset, and an empty message.
  a.sendBytesSync(Buffer.from('xyz'));
  const fit = Buffer.alloc(5);
  t.is(await b.recvBytesInto(fit, 2), 3);
  t.is(fit.subarray(2).toString(), 'xyz');
  a.sendBytesSync(Buffer.alloc(0));
  t.is(b.recvBytesIntoSync(Buffer.alloc(0)), 0);
  t.false(b.pollSync());
  a.close();
  b.close();
});

test('recvBytesInto with a buffer too small: BufferTooShort with the whole message in err.data, not delivered again', async (t) => {
  const [a, b] = Pipe();
  const msg = randomBytes(20);
  a.sendBytesSync(msg);
  a.sendSync('second');
  const e = t.throws(() => b.recvBytesIntoSync(Buffer.alloc(10)), { instanceOf: BufferTooShort });
  t.is(e.code, 'ERR_MULTIPROC_BUFFER_TOO_SHORT');
  t.true(Buffer.isBuffer(e.data));
  t.deepEqual(e.data, msg);
  t.is(b.recvSync(), 'second');
  t.false(b.pollSync());

  // Too small because of the offset; async form.
  const msg2 = randomBytes(6);
  await a.sendBytes(msg2);
  await a.sendBytes(Buffer.from('third'));
  const e2 = await t.throwsAsync(() => b.recvBytesInto(new Float64Array(1), 3), { instanceOf: BufferTooShort });
  t.deepEqual(e2.data, msg2);
  t.deepEqual(await b.recvBytes(), Buffer.from('third'));

  // A waiting recvBytesInto that gets a large message.
  const waiting = b.recvBytesInto(Buffer.alloc(4));
  const big = randomBytes(2 * MiB);
  await a.sendBytes(big);
  const e3 = await t.throwsAsync(waiting, { instanceOf: BufferTooShort });
  t.is(sha(e3.data), sha(big));
  t.false(await b.poll());

  // Bad offset / buffer: RangeError / TypeError, nothing taken.
  a.sendBytesSync(Buffer.from('kept'));
  t.throws(() => b.recvBytesIntoSync(Buffer.alloc(4), 5), { instanceOf: RangeError });
  t.throws(() => b.recvBytesIntoSync(Buffer.alloc(4), -1), { instanceOf: RangeError });
  await t.throwsAsync(() => b.recvBytesInto(Buffer.alloc(4), 5), { instanceOf: RangeError });
  t.throws(() => b.recvBytesIntoSync('abcd' as never), { instanceOf: TypeError });
  t.throws(() => b.recvBytesIntoSync(Buffer.alloc(4), '1' as never), { instanceOf: TypeError });
  await t.throwsAsync(() => b.recvBytesInto([0, 0, 0, 0] as never), { instanceOf: TypeError });
  t.deepEqual(b.recvBytesSync(), Buffer.from('kept'));
  a.close();
  b.close();
});

// ---------------------------------------------------------------------------
// poll

test('poll(0), poll(timeout), pollSync: false when empty, true with a message, and never consume it', async (t) => {
  const [a, b] = Pipe();
  t.false(await b.poll());
  t.false(await b.poll(0));
  t.false(await b.poll(5));
  t.false(b.pollSync());
  t.false(b.pollSync(0));
  t.false(b.pollSync(5));
  a.sendSync('m');
  t.true(await b.poll());
  t.true(await b.poll(0));
  t.true(await b.poll(5));
  t.true(await b.poll(Infinity));
  t.true(b.pollSync());
  t.true(b.pollSync(Infinity));
  t.is(b.recvSync(), 'm');
  t.false(b.pollSync());
  // A poll that is waiting resolves true once a message arrives (with a long timeout and with Infinity).
  const p1 = b.poll(600_000);
  const p2 = b.poll(Infinity);
  await a.send('n');
  t.deepEqual(await Promise.all([p1, p2]), [true, true]);
  t.is(await b.recv(), 'n');
  // Bad timeouts.
  for (const bad of [-1, NaN]) {
    await t.throwsAsync(() => b.poll(bad), { instanceOf: RangeError });
    t.throws(() => b.pollSync(bad), { instanceOf: RangeError });
  }
  await t.throwsAsync(() => b.poll('5' as never), { instanceOf: TypeError });
  t.throws(() => b.pollSync('5' as never), { instanceOf: TypeError });
  // At EOF poll is true (a recv would not block: it throws EOFError).
  a.close();
  t.true(await b.poll());
  t.true(b.pollSync(Infinity));
  await t.throwsAsync(() => b.recv(), eof);
  b.close();
});

test('poll(Infinity, { signal }): abort rejects with the reason; the message still goes to the next recv', async (t) => {
  const [a, b] = Pipe();
  const ac = new AbortController();
  const reason = new Error('stop polling');
  const p = b.poll(Infinity, { signal: ac.signal });
  ac.abort(reason);
  t.is(await t.throwsAsync(p), reason);
  const pre = new Error('pre');
  await t.throwsAsync(() => b.poll(Infinity, { signal: AbortSignal.abort(pre) }), { is: pre });
  await t.throwsAsync(() => b.poll(Infinity, { signal: 'no' as never }), { instanceOf: TypeError });
  a.sendSync('x');
  t.is(await b.recv(), 'x');
  a.close();
  b.close();
});

// ---------------------------------------------------------------------------
// EOF, EPIPE, close

test('EOF in-process: pending messages are delivered after the peer closes, then every recv form fails with EOFError', async (t) => {
  const [a, b] = Pipe();
  a.sendSync(1);
  a.sendBytesSync(Buffer.from('two'));
  await a.send({ three: 3 });
  a.sendSync(4);
  a.close();
  t.is(await b.recv(), 1);
  t.deepEqual(b.recvBytesSync(), Buffer.from('two'));
  t.deepEqual(b.recvSync(), { three: 3 });
  t.deepEqual(await drain(b), [4]);
  t.is(EOFError.name, 'EOFError');
  await t.throwsAsync(() => b.recv(), eof);
  t.throws(() => b.recvSync(), eof);
  await t.throwsAsync(() => b.recvBytes(), eof);
  t.throws(() => b.recvBytesSync(), eof);
  await t.throwsAsync(() => b.recvBytesInto(Buffer.alloc(8)), eof);
  t.throws(() => b.recvBytesIntoSync(Buffer.alloc(8)), eof);
  t.deepEqual(await drain(b), []);
  // The other direction of the duplex pipe: a's receiving side is closed too.
  t.throws(() => b.sendSync('x'), epipe);
  b.close();
});

test('EOF in-process: a waiting recv and a for-await loop end when the peer closes; simplex too', async (t) => {
  const [r, w] = Pipe(false);
  const pending = r.recv();
  const iter = drain(r);
  w.sendSync('only');
  w.close();
  // The first waiter gets the message, the loop sees EOF.
  t.is(await pending, 'only');
  t.deepEqual(await iter, []);
  await t.throwsAsync(() => r.recv(), eof);
  r.close();
});

test('send to a closed peer fails with BrokenPipeError (code EPIPE), sync and async, also a send waiting for room', async (t) => {
  const [r, w] = Pipe(false);
  w.sendBytesSync(Buffer.alloc(3 * MiB));
  // 3 + 2 MiB do not fit in the 4 MiB buffer: this send waits.
  const waiting = w.sendBytes(Buffer.alloc(2 * MiB));
  r.close();
  const e = await t.throwsAsync(waiting, epipe);
  t.is(e.name, 'BrokenPipeError');
  t.throws(() => w.sendSync(1), epipe);
  t.throws(() => w.sendBytesSync(Buffer.alloc(1)), epipe);
  await t.throwsAsync(() => w.send(1), epipe);
  await t.throwsAsync(() => w.sendBytes(Buffer.alloc(1)), epipe);
  // The writer's own end is still open.
  t.false(w.closed);
  w.close();
});

test('after close(): closed, neither readable nor writable, every operation throws (async forms reject), close() again is a no-op', async (t) => {
  const [r, w] = Pipe(false);
  for (const [c, peer] of [Pipe(), Pipe(false), [w, r]]) {
    c.close();
    t.true(c.closed);
    t.false(c.readable);
    t.false(c.writable);
    t.notThrows(() => c.close());
    t.throws(() => c.sendSync(1), closedErr);
    t.throws(() => c.sendBytesSync(Buffer.alloc(1)), closedErr);
    t.throws(() => c.recvSync(), closedErr);
    t.throws(() => c.recvBytesSync(), closedErr);
    t.throws(() => c.recvBytesIntoSync(Buffer.alloc(1)), closedErr);
    t.throws(() => c.pollSync(), closedErr);
    t.throws(() => c.handle, closedErr);
    await t.throwsAsync(() => c.send(1), closedErr);
    await t.throwsAsync(() => c.sendBytes(Buffer.alloc(1)), closedErr);
    await t.throwsAsync(() => c.recv(), closedErr);
    await t.throwsAsync(() => c.recvBytes(), closedErr);
    await t.throwsAsync(() => c.recvBytesInto(Buffer.alloc(1)), closedErr);
    await t.throwsAsync(() => c.poll(), closedErr);
    t.false(peer.closed);
    peer.close();
  }
});

test('close() rejects this end’s own waiting recv, poll and send', async (t) => {
  const [a, b] = Pipe();
  const r = b.recv();
  const p = b.poll(Infinity);
  b.close();
  await t.throwsAsync(r, closedErr);
  await t.throwsAsync(p, closedErr);
  a.close();
  const [c, d] = Pipe();
  c.sendBytesSync(Buffer.alloc(3 * MiB));
  const s = c.sendBytes(Buffer.alloc(2 * MiB));
  c.close();
  await t.throwsAsync(s, closedErr);
  d.close();
});

// ---------------------------------------------------------------------------
// Abort signals

test('aborting a waiting recv rejects with the reason; a later message goes to the next recv', async (t) => {
  const [a, b] = Pipe();
  const ac = new AbortController();
  const reason = new Error('gave up');
  const first = b.recv({ signal: ac.signal });
  const second = b.recv();
  ac.abort(reason);
  t.is(await t.throwsAsync(first), reason);
  a.sendSync('m1');
  t.is(await second, 'm1');
  // recvBytes / recvBytesInto likewise.
  const ac2 = new AbortController();
  const rb = b.recvBytes(undefined, { signal: ac2.signal });
  const ri = b.recvBytesInto(Buffer.alloc(8), 0, { signal: ac2.signal });
  const why = new Error('why');
  ac2.abort(why);
  await t.throwsAsync(rb, { is: why });
  await t.throwsAsync(ri, { is: why });
  a.sendSync('m2');
  t.is(await b.recv(), 'm2');
  // An already-aborted signal: rejects at once, a waiting message stays.
  a.sendSync('m3');
  const pre = AbortSignal.abort(reason);
  t.is(await t.throwsAsync(() => b.recv({ signal: pre })), reason);
  t.is(await t.throwsAsync(() => b.recvBytes(undefined, { signal: pre })), reason);
  t.is(await t.throwsAsync(() => b.send('never', { signal: pre })), reason);
  t.is(b.recvSync(), 'm3');
  t.false(a.pollSync());
  // Bad options.
  await t.throwsAsync(() => b.recv({ signal: {} as never }), { instanceOf: TypeError });
  await t.throwsAsync(() => b.recv('x' as never), { instanceOf: TypeError });
  a.close();
  b.close();
});

test('aborting a send that waits for room rejects with the reason and its message is never delivered', async (t) => {
  const [r, w] = Pipe(false);
  w.sendBytesSync(Buffer.alloc(3 * MiB, 1));
  const ac = new AbortController();
  const s = w.sendBytes(Buffer.alloc(2 * MiB, 2), undefined, undefined, { signal: ac.signal });
  const reason = new Error('no room');
  ac.abort(reason);
  await t.throwsAsync(s, { is: reason });
  const first = r.recvBytesSync();
  t.is(first.length, 3 * MiB);
  t.false(r.pollSync());
  w.sendSync('then');
  t.is(r.recvSync(), 'then');
  t.false(r.pollSync());
  r.close();
  w.close();
});

// ---------------------------------------------------------------------------
// wait()

test('wait([conn, queue], timeout) in-process: [] after a timeout, the ready ones otherwise, without consuming', async (t) => {
  const [a, b] = Pipe();
  const q = new Queue<string>();
  t.deepEqual(await wait([b, q], 0), []);
  t.deepEqual(await wait([b, q], 20), []);
  t.deepEqual(await wait([], 0), []);
  q.putSync('item');
  t.deepEqual(await wait([b, q]), [q]);
  a.sendSync('msg');
  const both = await wait([b, q], 1000);
  t.is(both.length, 2);
  t.is(both[0], b);
  t.is(both[1], q);
  t.is(b.recvSync(), 'msg');
  t.is(q.getSync(), 'item');
  // A waiting wait() resolves with the one that became ready.
  const w1 = wait([b, q]);
  a.sendSync('later');
  t.deepEqual(await w1, [b]);
  b.recvSync();
  const w2 = wait([b, q], 600_000);
  await q.put('later');
  t.deepEqual(await w2, [q]);
  q.getSync();
  // Abort.
  const ac = new AbortController();
  const w3 = wait([b, q], undefined, { signal: ac.signal });
  const enough = new Error('enough');
  ac.abort(enough);
  await t.throwsAsync(w3, { is: enough });
  // Bad arguments.
  await t.throwsAsync(() => wait('x' as never), { instanceOf: TypeError });
  await t.throwsAsync(() => wait([{}]), { instanceOf: TypeError });
  await t.throwsAsync(() => wait([b], -1), { instanceOf: RangeError });
  await t.throwsAsync(() => wait([b], NaN), { instanceOf: RangeError });
  // EOF and shutdown count as ready.
  a.close();
  q.shutdown();
  t.deepEqual(await wait([b, q], 0), [b, q]);
  b.close();
});

// ---------------------------------------------------------------------------
// Sharing in-process: handles, connections inside messages

test('a Connection inside a Pipe message or a Queue item arrives attached and working', async (t) => {
  const [a, b] = Pipe();
  const [c, d] = Pipe();
  const q = new Queue<{ end: Connection; list: Connection[] }>();
  a.sendSync(d);
  const d1 = b.recvSync() as Connection;
  t.true(d1 instanceof Connection);
  await a.send({ nested: new Map([['end', d]]) });
  const d2 = ((await b.recv()) as { nested: Map<string, Connection> }).nested.get('end')!;
  t.true(d2 instanceof Connection);
  q.putSync({ end: d, list: [c] });
  const item = q.getSync();
  t.true(item.end instanceof Connection);
  c.sendSync('to d1');
  t.is(d1.recvSync(), 'to d1');
  c.sendSync('to d2');
  t.is(await d2.recv(), 'to d2');
  item.end.sendSync('from item');
  t.is(await item.list[0].recv(), 'from item');
  for (const x of [a, b, c, d, d1, d2, item.end, item.list[0]]) x.close();
});

test('Connection.attach(handle): the handle is plain JSON and attaches a working end', (t) => {
  const [r, w] = Pipe(false);
  const h = JSON.parse(JSON.stringify(w.handle)) as ConnectionHandle;
  t.is(h.type, 'Connection');
  const w2 = Connection.attach(h);
  t.deepEqual([w2.readable, w2.writable], [false, true]);
  w2.sendSync('via attach');
  t.is(r.recvSync(), 'via attach');
  // The original end stays open after the attached copy closes.
  w2.close();
  w.sendSync('still');
  t.is(r.recvSync(), 'still');
  r.close();
  w.close();
});

test('malformed handles are a TypeError; forged and stale handles an Error with code ERR_MULTIPROC_BAD_HANDLE', (t) => {
  const [a, b] = Pipe();
  const h = b.handle;
  const bad = { code: 'ERR_MULTIPROC_BAD_HANDLE' };
  const malformed: unknown[] = [
    undefined, null, 'x', 42, {}, { type: 'Connection' }, { type: 'Queue', rx: h.rx }, new Queue().handle,
    { type: 'Connection', rx: 'x' }, { type: 'Connection', rx: { kind: '1', token: h.rx!.token, holders: h.rx!.holders } },
    { type: 'Connection', rx: { kind: h.rx!.kind, token: 5, holders: h.rx!.holders } },
    { type: 'Connection', rx: { kind: h.rx!.kind, token: h.rx!.token } },
    { type: 'Connection', rx: { kind: h.rx!.kind, token: h.rx!.token, holders: ['a', 'b'] } },
    { type: 'Connection', rx: { kind: h.rx!.kind, token: h.rx!.token, holders: [-1, 2] } },
  ];
  for (const m of malformed) t.throws(() => Connection.attach(m as ConnectionHandle), { instanceOf: TypeError }, JSON.stringify(m));
  const forged: ConnectionHandle[] = [
    { ...h, rx: { ...h.rx!, token: '0123456789abcdef0123456789abcdef' } },
    { ...h, tx: { ...h.tx!, token: 'not hex' } },
    { ...h, rx: { ...h.rx!, kind: 99 } },
    { type: 'Connection', rx: { ...h.rx!, kind: (new Lock().handle as unknown as { kind: number }).kind } },
  ];
  for (const f of forged) {
    const e = t.throws(() => Connection.attach(f), bad, JSON.stringify(f));
    t.false(e instanceof TypeError);
  }
  // Stale: every end of the pipe is closed, its memory freed.
  const [c, d] = Pipe();
  const stale = d.handle;
  c.close();
  d.close();
  t.throws(() => Connection.attach(stale), bad);
  a.close();
  b.close();
});

// ---------------------------------------------------------------------------
// Across processes and threads (serial: `reap` must not kill another test's children)

test.serial('whole messages of every size 0..3 MiB between processes, both directions, checksummed', async (t) => {
  t.timeout(60_000);
  const [a, b] = Pipe();
  const ctl = new Queue();
  const child = script(b, ctl, [
    { op: 'ack', v: 'attached' },
    { op: 'sendSized', sizes: [...SIZES] },
    { op: 'recvSized', n: SIZES.length },
  ]);
  t.is(await ctl.get(), 'attached');
  b.close();
  await recvSized(t, a, SIZES);
  const msgs = SIZES.map((n) => sized(n));
  await Promise.all(msgs.flatMap((m) => [a.send(m.header), a.sendBytes(m.bytes)]));
  t.deepEqual(await ctl.get(), SIZES.map((len) => ({ len, ok: true })));
  t.deepEqual(await exited(child), ok);
  await t.throwsAsync(() => a.recv(), eof);
  a.close();
});

test.serial('whole messages from 2 processes and a worker thread sharing one send end: none torn, each sender in order', async (t) => {
  t.timeout(60_000);
  const [r, w] = Pipe(false);
  const ctl = new Queue();
  const N = 300;
  const sizesOf = (id: number) => seq(N).map((i) => ((i * 7919 + id * 104729) % 65536) * (i % 5 === 0 ? 1 : 0.25) | 0);
  const steps = (id: number): Step[] => [
    { op: 'ack', v: 'attached' },
    { op: 'sendStamped', id, sizes: sizesOf(id) },
    { op: 'close' },
  ];
  const p0 = script(w, ctl, steps(0));
  const p1 = script(w, ctl, steps(1));
  const wa: ScriptArg = { conn: w.handle, ctl: ctl.handle, steps: steps(2) };
  const wk = startWorker('pipe-script', wa);
  // Listen for exits now: a worker that already exited emits nothing later.
  const exits = [exited(p0), exited(p1), exited(wk)];
  for (let i = 0; i < 3; i++) t.is(await ctl.get(), 'attached');
  w.close();
  const next = [0, 0, 0];
  let torn = 0;
  let disorder = 0;
  for await (const m of r) {
    const s = unstamp(m as Buffer);
    if (!s) {
      torn++;
      continue;
    }
    if (s.seq !== next[s.id]) disorder++;
    if (s.len !== sizesOf(s.id)[s.seq]) torn++;
    next[s.id] = s.seq + 1;
  }
  t.is(torn, 0);
  t.is(disorder, 0);
  t.deepEqual(next, [N, N, N]);
  t.deepEqual(await Promise.all(exits), [ok, ok, ok]);
  r.close();
});

test.serial('backpressure: pending 1 MiB sends stay pending while the reading process does not read, then all arrive; a 10 MiB message goes through both ways', async (t) => {
  t.timeout(60_000);
  const [a, b] = Pipe();
  const ctl = new Queue();
  const go = new Queue();
  const child = script(
    b,
    ctl,
    [
      { op: 'ack', v: 'attached' },
      { op: 'go' },
      { op: 'ack', v: 'pong' },
      { op: 'go' },
      { op: 'recvSized', n: 8 },
      { op: 'recvSized', n: 1 },
      { op: 'sendSized', sizes: [10 * MiB] },
    ],
    { go },
  );
  t.is(await ctl.get(), 'attached');
  b.close();
  const msgs = seq(8).map(() => sized(MiB));
  let settled = 0;
  let allSent = false;
  const sends = Promise.all(
    msgs.map((m) => Promise.all([a.send(m.header), a.sendBytes(m.bytes)]).then(() => void settled++)),
  ).then(() => {
    allSent = true;
  });
  // A round trip with the child (which is not reading the pipe) through queues.
  await go.put('ping');
  t.is(await ctl.get(), 'pong');
  t.false(allSent, '8 MiB cannot all be in a 4 MiB buffer while nobody reads');
  t.true(settled < 8);
  await go.put('read');
  await sends;
  t.true(allSent);
  t.deepEqual(await ctl.get(), seq(8).map(() => ({ len: MiB, ok: true })));
  const big = sized(10 * MiB);
  await a.send(big.header);
  await a.sendBytes(big.bytes);
  t.deepEqual(await ctl.get(), [{ len: 10 * MiB, ok: true }]);
  await recvSized(t, a, [10 * MiB]);
  t.deepEqual(await exited(child), ok);
  a.close();
});

for (const how of ['close', 'exit'] as const) {
  test.serial(`EOF after the sending child process ${how === 'close' ? 'closes its end' : 'exits without closing'}: pending messages first, then EOFError`, async (t) => {
    t.timeout(60_000);
    const [r, w] = Pipe(false);
    const ctl = new Queue();
    const steps: Step[] = [
      { op: 'ack', v: 'attached' },
      { op: 'sendSeq', n: 100 },
      { op: 'sendSized', sizes: [MiB] },
      ...(how === 'close' ? ([{ op: 'close' }, { op: 'ack', v: 'closed' }] as Step[]) : ([{ op: 'exit' }] as Step[])),
    ];
    const child = script(w, ctl, steps);
    t.is(await ctl.get(), 'attached');
    w.close(); // only after the child attached its copy
    if (how === 'close') t.is(await ctl.get(), 'closed');
    else t.deepEqual(await exited(child), ok);
    for (let i = 0; i < 100; i++) t.is(i % 2 ? r.recvSync() : await r.recv(), i);
    await recvSized(t, r, [MiB]);
    await t.throwsAsync(() => r.recv(), eof);
    t.throws(() => r.recvSync(), eof);
    t.deepEqual(await drain(r), []);
    t.deepEqual(await exited(child), ok);
    r.close();
  });
}

test.serial('EOF after the sending child is SIGKILLed: pending messages delivered, then EOFError; a waiting recv and for-await end', async (t) => {
  t.timeout(60_000);
  const ctl = new Queue();
  const go = new Queue();
  const [r, w] = Pipe(false);
  const child = script(w, ctl, [{ op: 'ack', v: 'attached' }, { op: 'sendSeq', n: 50 }, { op: 'sendSized', sizes: [2 * MiB] }, { op: 'ack', v: 'sent' }, { op: 'hang' }], { go });
  // A second child that never sends: our waiting recv and loop must end when it dies.
  const [r2, w2] = Pipe(false);
  const ctl2 = new Queue();
  const idle = script(w2, ctl2, [{ op: 'ack', v: 'attached' }, { op: 'hang' }], { go });
  t.is(await ctl.get(), 'attached');
  t.is(await ctl2.get(), 'attached');
  w.close();
  w2.close();
  t.is(await ctl.get(), 'sent');
  t.true(r.pollSync());
  const waiting = r2.recv();
  const loop = drain(r2);
  child.kill('SIGKILL');
  idle.kill('SIGKILL');
  t.deepEqual(await exited(child), { code: null, signal: 'SIGKILL' });
  t.deepEqual(await exited(idle), { code: null, signal: 'SIGKILL' });
  t.deepEqual(await Promise.all(seq(50).map(() => r.recv())), seq(50));
  await recvSized(t, r, [2 * MiB]);
  await t.throwsAsync(() => r.recv(), eof);
  t.throws(() => r.recvSync(), eof);
  t.true(await r.poll());
  await t.throwsAsync(waiting, eof);
  t.deepEqual(await loop, []);
  r.close();
  r2.close();
});

test.serial('a worker thread that ends without closing its end no longer holds it: its messages, then EOF', async (t) => {
  t.timeout(60_000);
  const ctl = new Queue();
  const [r, w] = Pipe(false);
  const natural: ScriptArg = { conn: w.handle, ctl: ctl.handle, steps: [{ op: 'ack', v: 'attached' }, { op: 'sendSeq', n: 10 }] };
  const wk = startWorker('pipe-script', natural);
  const done = exited(wk);
  t.is(await ctl.get(), 'attached');
  w.close();
  t.deepEqual(await done, ok);
  t.deepEqual(await drain(r), seq(10));
  await t.throwsAsync(() => r.recv(), eof);
  r.close();
});

test.serial('EPIPE across processes: after the reading child closes its end, and when it is SIGKILLed during a waiting send', async (t) => {
  t.timeout(60_000);
  const ctl = new Queue();
  const go = new Queue();
  const [r, w] = Pipe(false);
  const closer = script(r, ctl, [{ op: 'ack', v: 'attached' }, { op: 'close' }, { op: 'ack', v: 'closed' }, { op: 'go' }], { go });
  t.is(await ctl.get(), 'attached');
  r.close();
  t.is(await ctl.get(), 'closed');
  t.throws(() => w.sendSync('x'), epipe);
  await t.throwsAsync(() => w.send('x'), epipe);
  await go.put('done');
  t.deepEqual(await exited(closer), ok);
  w.close();

  const [r2, w2] = Pipe(false);
  const victim = script(r2, ctl, [{ op: 'ack', v: 'attached' }, { op: 'hang' }], { go });
  t.is(await ctl.get(), 'attached');
  r2.close();
  w2.sendBytesSync(Buffer.alloc(3 * MiB));
  const waiting = w2.sendBytes(Buffer.alloc(2 * MiB));
  victim.kill('SIGKILL');
  await t.throwsAsync(waiting, epipe);
  t.throws(() => w2.sendSync('x'), epipe);
  t.deepEqual(await exited(victim), { code: null, signal: 'SIGKILL' });
  w2.close();
});

test.serial('pollSync in a child: false after a timeout, true (Infinity) once the parent sends; its recv loop ends at the parent’s close', async (t) => {
  t.timeout(60_000);
  const [a, b] = Pipe();
  const ctl = new Queue();
  const child = script(b, ctl, [
    { op: 'ack', v: 'attached' },
    { op: 'pollSync', timeout: 10 },
    { op: 'pollSync', timeout: null },
    { op: 'recvAll' },
  ]);
  t.is(await ctl.get(), 'attached');
  b.close();
  t.is(await ctl.get(), false);
  a.sendSync('x');
  t.is(await ctl.get(), true);
  a.sendSync(new Map([[1, 2n]]));
  a.close();
  t.deepEqual(await ctl.get(), ['x', new Map([[1, 2n]])]);
  t.deepEqual(await exited(child), ok);
});

test.serial('wait([conn, queue]) across processes: [] after a timeout, then exactly the one a child made ready, then EOF', async (t) => {
  t.timeout(60_000);
  const [a, b] = Pipe();
  const ctl = new Queue();
  const go = new Queue();
  const q = new Queue<string>();
  const child = script(
    b,
    ctl,
    [
      { op: 'ack', v: 'attached' },
      { op: 'go' },
      { op: 'send', v: 'hello' },
      { op: 'go' },
      { op: 'put', v: 'item' },
      { op: 'go' },
      { op: 'close' },
    ],
    { go, q },
  );
  t.is(await ctl.get(), 'attached');
  b.close();
  t.deepEqual(await wait([a, q], 0), []);
  t.deepEqual(await wait([a, q], 20), []);
  let w = wait([a, q]);
  await go.put('send');
  t.deepEqual(await w, [a]);
  t.is(await a.recv(), 'hello');
  w = wait([a, q], 600_000);
  await go.put('put');
  t.deepEqual(await w, [q]);
  t.is(q.getSync(), 'item');
  w = wait([q, a]);
  await go.put('close');
  t.deepEqual(await w, [a]);
  await t.throwsAsync(() => a.recv(), eof);
  t.deepEqual(await exited(child), ok);
  a.close();
});

/** A mix of values for the echo round trips. */
function echoValue(i: number): unknown {
  switch (i % 6) {
    case 0:
      return i;
    case 1:
      return `s${i}`;
    case 2:
      return new Map([[i, new Date(i)]]);
    case 3:
      return Buffer.from(`b${i}`);
    case 4:
      return new Float64Array([i, i / 2]);
    default:
      return { i, big: BigInt(i) * 10n ** 20n, set: new Set([i]) };
  }
}

for (const host of ['process', 'worker'] as const) {
  for (const via of ['handle', 'queue item'] as const) {
    for (const mode of ['sync', 'async'] as const) {
      test.serial(`a ${host} gets a duplex end by ${via} and uses both directions (${mode} forms)`, async (t) => {
        t.timeout(60_000);
        const [a, b] = Pipe();
        const ctl = new Queue();
        const connQ = new Queue<{ conn: Connection }>();
        const arg: EchoArg = via === 'handle' ? { conn: b.handle, ctl: ctl.handle, mode } : { connQ: connQ.handle, ctl: ctl.handle, mode };
        if (via === 'queue item') connQ.putSync({ conn: b });
        const p = host === 'process' ? forkFixture('pipe-echo', arg) : startWorker('pipe-echo', arg);
        const done = exited(p); // now: a worker that already exited emits nothing later
        t.is(await ctl.get(), 'attached');
        b.close();
        for (let i = 0; i < 200; i++) {
          const v = echoValue(i);
          if (i % 2) a.sendSync(v);
          else await a.send(v);
          sameValue(t, i % 3 ? await a.recv() : a.recvSync(), v);
        }
        a.close();
        t.deepEqual(await ctl.get(), { echoed: 200 });
        t.deepEqual(await done, ok);
      });
    }
  }
}

for (const [parent, child] of [['async', 'sync'], ['sync', 'async']] as const) {
  test.serial(`ping-pong: 5,000 round trips with a child process, exact sequence (parent ${parent}, child ${child})`, async (t) => {
    t.timeout(60_000);
    const [a, b] = Pipe();
    const ctl = new Queue();
    const p = forkFixture('pipe-echo', { conn: b.handle, ctl: ctl.handle, mode: child } satisfies EchoArg);
    t.is(await ctl.get(), 'attached');
    b.close();
    const N = 5000;
    let wrong = 0;
    for (let i = 0; i < N; i++) {
      let v: unknown;
      if (parent === 'async') {
        await a.send(i);
        v = await a.recv();
      } else {
        a.sendSync(i);
        v = a.recvSync();
      }
      if (v !== i) wrong++;
    }
    t.is(wrong, 0);
    t.false(a.pollSync());
    a.close();
    t.deepEqual(await ctl.get(), { echoed: N });
    t.deepEqual(await exited(p), ok);
  });
}
