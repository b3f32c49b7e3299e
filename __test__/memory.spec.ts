/**
 * Value, SharedArray and SharedMemory: every element type (int64/uint64 as
 * bigint) with defaults, initial values and extremes; writes visible across
 * processes and worker threads at once; getLock() and lock:false; named
 * objects (opening keeps contents, unlink leaves nothing in /dev/shm);
 * SharedMemory close/unlink; handles and shared objects inside Queue items;
 * bad input.
 */
import test, { type ExecutionContext } from 'ava';

import {
  Barrier, BoundedSemaphore, Condition, Event, Lock, Queue, RLock, SharedArray, SharedMemory, Value, type NumType,
} from 'multiproc';

import { reap, shmEntries, uniqueName } from './helpers';
import { allOk, removeNamesAfter, start, type Where } from './fixtures/sync-harness';
import type { MirrorRead, SharedItem } from './fixtures/sync-memory';
import { SAMPLES, TYPES } from './fixtures/sync-samples';

// Serial: `reap` after each test kills every live child, so tests with children must not overlap.
test.afterEach.always(reap);

const MISUSE = { instanceOf: Error, code: 'ERR_MULTIPROC_MISUSE' };
const VIEWS: Record<NumType, unknown> = {
  int8: Int8Array, uint8: Uint8Array, int16: Int16Array, uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array,
  int64: BigInt64Array, uint64: BigUint64Array, float32: Float32Array, float64: Float64Array,
};
const isBig = (type: NumType): boolean => type === 'int64' || type === 'uint64';

test.serial('Value: every type starts at 0 (0n for 64-bit), takes an initial value and holds its extremes', (t) => {
  for (const type of TYPES) {
    const s = SAMPLES[type];
    const zero = new Value<number | bigint>(type);
    t.is(zero.value, isBig(type) ? 0n : 0, type);
    const v = new Value<number | bigint>(type, s.initial);
    t.is(v.value, s.initial, `${type} initial`);
    v.value = s.next;
    t.is(v.value, s.next, `${type} write`);
    t.is(typeof v.value, isBig(type) ? 'bigint' : 'number');
  }
  // 64-bit types accept integer numbers and hold them as bigints.
  t.is(new Value<bigint>('int64', 2 ** 53).value, 2n ** 53n);
  t.is(new Value<bigint>('uint64', 7).value, 7n);
  // Typed-array semantics for out-of-range numbers.
  t.is(new Value<number>('int8', 200).value, -56);
  t.is(new Value<number>('uint8', -1).value, 255);
  t.is(new Value<number>('int32', 1.9).value, 1);
  t.is(new Value<number>('float32', 0.1).value, Math.fround(0.1));
  t.true(Number.isNaN(new Value<number>('float64', NaN).value));
});

test.serial('SharedArray: every type from a length (zeros) or from values; view class and length', (t) => {
  for (const type of TYPES) {
    const s = SAMPLES[type];
    const z = new SharedArray<number | bigint>(type, 4);
    t.is(z.length, 4);
    t.true(z.view instanceof (VIEWS[type] as typeof Int8Array), `${type} view class`);
    t.deepEqual([...z.view], Array(4).fill(isBig(type) ? 0n : 0));
    const a = new SharedArray<number | bigint>(type, s.array);
    t.is(a.length, s.array.length);
    t.deepEqual([...a.view], s.array, `${type} initial values`);
    s.nextArray.forEach((x, i) => {
      a.view[i] = x;
    });
    t.deepEqual([...a.view], s.nextArray, `${type} writes`);
  }
  t.deepEqual([...new SharedArray<number>('int16', new Int16Array([1, -2, 3])).view], [1, -2, 3], 'from a typed array');
  t.deepEqual([...new SharedArray<bigint>('uint64', [1, 2n]).view], [1n, 2n], 'numbers into a 64-bit array');
  t.is(new SharedArray('uint8', 0).length, 0);
  t.is(new SharedArray('float64', []).length, 0);
});

async function mirror(t: ExecutionContext, where: Where, mode: 'sync' | 'async'): Promise<void> {
  t.timeout(30_000);
  const values = TYPES.map((type) => new Value<number | bigint>(type, SAMPLES[type].initial));
  const arrays = TYPES.map((type) => new SharedArray<number | bigint>(type, SAMPLES[type].array));
  const mem = new SharedMemory({ size: 64 });
  mem.buf.write('parent', 0, 'latin1');
  const wrote = new Event();
  const go = new Event();
  const r = new Queue<MirrorRead>();
  const c = start(where, 'sync-memory', {
    role: 'mirror', values: values.map((v) => v.handle), arrays: arrays.map((a) => a.handle), mem: mem.handle,
    wrote: wrote.handle, go: go.handle, r: r.handle, mode,
  });
  const expected = (pick: 'initial' | 'next', pickArr: 'array' | 'nextArray', bytes: number[]): MirrorRead => ({
    values: Object.fromEntries(TYPES.map((type) => [type, SAMPLES[type][pick]])),
    arrays: Object.fromEntries(TYPES.map((type) => [type, SAMPLES[type][pickArr]])),
    bytes,
  });
  // The other side saw what we wrote before it started.
  t.deepEqual(await r.get(), expected('initial', 'array', [...Buffer.from('parent\0\0', 'latin1')]));
  // Its writes are here as soon as it says so.
  await wrote.wait();
  TYPES.forEach((type, i) => {
    t.is(values[i].value, SAMPLES[type].next, `${type} value written there`);
    t.deepEqual([...arrays[i].view], SAMPLES[type].nextArray, `${type} array written there`);
  });
  t.is(mem.buf.toString('latin1', 0, 6), 'child!');
  t.is(mem.buf[63], 0xab);
  // And ours are there as soon as we say so.
  TYPES.forEach((type, i) => {
    values[i].value = SAMPLES[type].initial;
    SAMPLES[type].array.forEach((x, k) => {
      arrays[i].view[k] = x;
    });
  });
  mem.buf.write('again!', 0, 'latin1');
  go.set();
  t.deepEqual(await r.get(), expected('initial', 'array', [...Buffer.from('again!\0\0', 'latin1')]));
  await allOk(t, [c]);
}

test.serial('writes are visible across processes at once (sync waits there)', (t) => mirror(t, 'proc', 'sync'));
test.serial('writes are visible across worker threads at once (async waits there)', (t) => mirror(t, 'thread', 'async'));

test.serial('getLock(): an RLock by default, the lock given, and none with lock:false — here and after attach', async (t) => {
  t.timeout(30_000);
  const dflt = new Value('int32');
  const given = new Lock();
  const withLock = new SharedArray('uint8', 3, { lock: given });
  const withRLock = new Value('float64', 0, { lock: new RLock() });
  const none = new Value('int32', 0, { lock: false });
  const noneArr = new SharedArray('int64', 2, { lock: false });
  t.true(dflt.getLock() instanceof RLock);
  t.is(withLock.getLock(), given);
  t.true(withRLock.getLock() instanceof RLock);
  t.throws(() => none.getLock(), MISUSE);
  t.throws(() => noneArr.getLock(), MISUSE);
  t.is(new Value('int32', 0, { lock: true }).getLock() instanceof RLock, true);
  // The lock guards read-modify-write in this thread too.
  dflt.getLock().withLockSync(() => {
    dflt.value = (dflt.value as number) + 1;
  });
  t.is(dflt.value, 1);
  const r = new Queue<unknown[]>();
  const handles = [dflt.handle, withLock.handle, withRLock.handle, none.handle, noneArr.handle];
  await allOk(t, [start('proc', 'sync-memory', { role: 'locks', handles, r: r.handle })]);
  const misuse = { cls: 'Error', code: 'ERR_MULTIPROC_MISUSE' };
  t.deepEqual(await r.get(), ['RLock', 'Lock', 'RLock', misuse, misuse]);
  // The same lock object state: held here, seen held there.
  given.acquireSync();
  t.true(SharedArray.attach(withLock.handle).getLock().locked());
  given.release();
});

test.serial('named Value / SharedArray / SharedMemory: opening keeps contents; unlink leaves nothing in /dev/shm', async (t) => {
  t.timeout(30_000);
  const name = uniqueName('mem');
  removeNamesAfter(t, `${name}-v`, `${name}-a`, `${name}-m`);
  const mine = (): string[] => shmEntries().filter((n) => n.includes(name));
  const v = new Value<number>('int32', 41, { name: `${name}-v` });
  const arr = new SharedArray<number>('float64', [0.5, 1.5, 2.5], { name: `${name}-a` });
  const mem = new SharedMemory({ size: 16, name: `${name}-m` });
  mem.buf.write('abcd', 'latin1');
  t.is(mem.name, `${name}-m`);
  t.deepEqual(mine().sort(), [
    `multiproc-${name}-a`, `multiproc-${name}-a.lock`, `multiproc-${name}-m`, `multiproc-${name}-v`, `multiproc-${name}-v.lock`,
  ]);
  // Opening again here ignores the initial values given.
  t.is(new Value<number>('int32', 0, { name: `${name}-v` }).value, 41);
  t.deepEqual([...new SharedArray<number>('float64', 3, { name: `${name}-a` }).view], [0.5, 1.5, 2.5]);
  t.is(new SharedMemory({ size: 1000, name: `${name}-m` }).size, 16, 'an existing block keeps its size');
  const r = new Queue<{ value: number; array: number[]; size: number; bytes: number[] }>();
  await allOk(t, [start('proc', 'sync-memory', { role: 'named', name, r: r.handle })]);
  t.deepEqual(await r.get(), { value: 41, array: [0.5, 1.5, 2.5], size: 16, bytes: [...Buffer.from('abcd', 'latin1')] });
  t.is(v.value, 42, 'written there under the named lock');
  t.is(arr.view[0], -1);
  t.is(mem.buf[0], 42);
  v.unlink();
  arr.unlink();
  mem.unlink();
  t.deepEqual(mine(), [], 'no /dev/shm entry left, locks included');
  t.throws(() => mem.unlink(), MISUSE);
  // Still readable by whoever has them open.
  t.is(v.value, 42);
  t.is(mem.buf[0], 42);
  // Unnamed objects never appear in /dev/shm.
  const before = shmEntries();
  const tmp = [new Value('int8'), new SharedArray('uint16', 10), new SharedMemory({ size: 100 })];
  t.is(tmp.length, 3);
  t.deepEqual(shmEntries().filter((n) => !before.includes(n) && n.includes(String(process.pid))), []);
  t.throws(() => new Value('int32').unlink(), MISUSE);
});

test.serial('SharedMemory: zeroed bytes, shared between attached copies, close and unlink', (t) => {
  const m = new SharedMemory({ size: 10 });
  t.is(m.size, 10);
  t.is(m.buf.length, 10);
  t.true(Buffer.isBuffer(m.buf));
  t.deepEqual([...m.buf], Array(10).fill(0));
  const h = structuredClone(m.handle);
  t.is(h.type, 'SharedMemory');
  const m2 = SharedMemory.attach(h);
  m2.buf.fill(7, 2, 5);
  t.deepEqual([...m.buf], [0, 0, 7, 7, 7, 0, 0, 0, 0, 0]);
  m2.close();
  t.throws(() => m2.buf, MISUSE);
  t.throws(() => m2.size, MISUSE);
  t.throws(() => m2.handle, MISUSE);
  t.is(m.buf[2], 7, 'closing one copy leaves the other working');
  t.is(new SharedMemory({ size: 0 }).size, 0);
  t.is(m.name, undefined);
  m.close();
  m.close();
  t.throws(() => m.unlink(), MISUSE);
});

test.serial('handles: attach keeps the type, the contents and the lock; bad handles fail', (t) => {
  const v = new Value<bigint>('uint64', 5n);
  const h = structuredClone(v.handle);
  t.is(h.type, 'Value');
  t.is(h.numType, 'uint64');
  const v2 = Value.attach<bigint>(h);
  v2.value = 6n;
  t.is(v.value, 6n);
  t.true(v2.getLock() instanceof RLock);
  const a = new SharedArray<number>('float32', [1, 2]);
  const a2 = SharedArray.attach<number>(a.handle);
  t.true(a2.view instanceof Float32Array);
  t.is(a2.length, 2);
  a2.view[1] = 8;
  t.is(a.view[1], 8);
  t.throws(() => Value.attach({ ...v.handle, token: 'c'.repeat(32) } as never), { code: 'ERR_MULTIPROC_BAD_HANDLE' });
  t.throws(() => Value.attach(a.handle), { instanceOf: TypeError }, 'a SharedArray handle is not a Value handle');
  t.throws(() => SharedArray.attach(v.handle), { instanceOf: TypeError });
  t.throws(() => Value.attach({ ...v.handle, numType: 'int128' } as never), { instanceOf: TypeError });
  t.throws(() => SharedMemory.attach(v.handle as never), { instanceOf: TypeError });
  t.throws(() => SharedMemory.attach({ type: 'SharedMemory' } as never), { instanceOf: TypeError });
});

test.serial('shared objects inside a Queue item arrive attached in another process', async (t) => {
  t.timeout(30_000);
  const item: SharedItem = {
    v: new Value<bigint>('int64', -5n),
    a: new SharedArray<number>('uint16', [1, 2, 3]),
    m: new SharedMemory({ size: 3 }),
    e: new Event(),
    s: new BoundedSemaphore(2),
    b: new Barrier(3),
    c: new Condition(),
    nested: { deep: [new Lock()] },
  };
  item.m.buf.set([7, 8, 9]);
  const q = new Queue<SharedItem>();
  const r = new Queue<unknown>();
  await q.put(item);
  const c = start('proc', 'sync-memory', { role: 'item', q: q.handle, r: r.handle });
  t.deepEqual(await r.get(), {
    classes: [true, true, true, true, true, true, true, true],
    value: -5n,
    array: [1, 2, 3],
    bytes: [7, 8, 9],
    semaphore: 2,
    parties: 3,
  });
  t.true(await item.e.wait());
  await allOk(t, [c]);
  t.is(item.v.value, 100n);
  t.is(item.a.view[0], 9);
  t.is(item.m.buf[0], 0xee);
  t.false(item.c.lock.locked());
});

test.serial('bad input: TypeError / RangeError at the call, nothing made', (t) => {
  const TE = { instanceOf: TypeError };
  const RE = { instanceOf: RangeError };
  for (const type of ['int128', 'float16', 'Int32', '', 'constructor', 'toString', 5, undefined, null]) {
    t.throws(() => new Value(type as never), TE, `Value(${String(type)})`);
    t.throws(() => new SharedArray(type as never, 2), TE, `SharedArray(${String(type)})`);
  }
  t.throws(() => new Value('int32', '1' as never), TE);
  t.throws(() => new Value('int32', 1n as never), TE);
  t.throws(() => new Value('int64', 1.5), TE);
  t.throws(() => new Value('uint64', '1' as never), TE);
  t.throws(() => new Value('int32', 0, 5 as never), TE);
  t.throws(() => new Value('int32', 0, { lock: 'yes' } as never), TE);
  t.throws(() => new Value('int32', 0, { lock: {} } as never), TE);
  t.throws(() => new Value('int32', 0, { name: '' }), RE);
  t.throws(() => new Value('int32', 0, { name: 'a/b' }), TE);
  const v = new Value<number>('int32');
  t.throws(() => {
    v.value = 'x' as never;
  }, TE);
  t.throws(() => {
    v.value = 1n as never;
  }, TE);
  t.is(v.value, 0, 'a refused write changes nothing');
  const big = new Value<bigint>('int64');
  t.throws(() => {
    big.value = 0.5 as never;
  }, TE);
  for (const n of [-1, 1.5, NaN, Infinity, 2 ** 32 + 1]) t.throws(() => new SharedArray('uint8', n), RE, `length ${n}`);
  t.throws(() => new SharedArray('int32', 2 ** 30 + 1), RE, 'more bytes than one typed array can view');
  t.throws(() => new SharedArray('int32', 'abc' as never), TE);
  t.throws(() => new SharedArray('int32', null as never), TE);
  t.throws(() => new SharedArray('int32', [1, 'a'] as never), TE);
  t.throws(() => new SharedArray('int64', [1.5]), TE);
  t.throws(() => new SharedArray('int8', [1n] as never), TE);
  t.throws(() => new SharedMemory(undefined as never), TE);
  t.throws(() => new SharedMemory(5 as never), TE);
  t.throws(() => new SharedMemory({} as never), TE);
  t.throws(() => new SharedMemory({ size: '8' } as never), TE);
  for (const size of [-1, 1.5, NaN, 2 ** 32 + 1, 2 ** 40]) t.throws(() => new SharedMemory({ size }), RE, `size ${size}`);
  t.throws(() => new SharedMemory({ size: 8, name: '' }), RE);
  t.throws(() => new SharedMemory({ size: 8, name: 7 } as never), TE);
});
