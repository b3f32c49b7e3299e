/**
 * Semaphore and BoundedSemaphore: exact getValue through both acquire forms,
 * block/timeout/signal, release(n) letting exactly n blocked waiters in,
 * BoundedSemaphore over-release, never more holders than the value (a shared
 * "inside" counter across processes and threads), permits of a SIGKILLed
 * holder coming back with ownerDied, named semaphores, handles, bad input.
 */
import test from 'ava';

import { Barrier, BoundedSemaphore, Event, Queue, Semaphore, SharedArray } from 'multiproc';

import { reap, shmEntries, uniqueName } from './helpers';
import { allOk, kill, removeNamesAfter, start } from './fixtures/sync-harness';
import type { SemProbeReport, SemWaiterReport } from './fixtures/sync-semaphore';

// Serial: `reap` after each test kills every live child, so tests with children must not overlap.
test.afterEach.always(reap);

const MISUSE = { instanceOf: Error, code: 'ERR_MULTIPROC_MISUSE' };

test.serial('Semaphore: getValue is exact through acquire, acquireSync and release(n)', async (t) => {
  const s = new Semaphore(3);
  t.is(s.getValue(), 3);
  t.true(s.acquireSync());
  t.is(s.getValue(), 2);
  t.true(await s.acquire());
  t.is(s.getValue(), 1);
  t.true(s.acquireSync({ block: false }));
  t.is(s.getValue(), 0);
  t.true(s.locked());
  t.false(s.acquireSync({ block: false }));
  t.false(s.acquireSync({ timeout: 20 }));
  t.false(await s.acquire({ block: false }));
  t.false(await s.acquire({ timeout: 0 }));
  t.false(await s.acquire({ timeout: 20 }));
  t.is(s.getValue(), 0, 'failed attempts take nothing');
  s.release(2);
  t.is(s.getValue(), 2);
  s.release();
  t.is(s.getValue(), 3);
  // A plain Semaphore may go past its initial value (Python semantics).
  s.release(4);
  t.is(s.getValue(), 7);
  t.false(s.locked());
  t.is(new Semaphore().getValue(), 1, 'default value 1');
  t.is(new BoundedSemaphore().getValue(), 1);
  const z = new Semaphore(0);
  t.true(z.locked());
  t.false(z.acquireSync({ timeout: 0 }));
  t.false(z.ownerDied);
});

test.serial('Semaphore: pending async acquires are served in order as permits come', async (t) => {
  const s = new Semaphore(0);
  const order: number[] = [];
  const ps = [0, 1, 2, 3].map((i) => s.acquire().then((ok) => {
    t.true(ok);
    order.push(i);
  }));
  s.release(3);
  await Promise.all(ps.slice(0, 3));
  t.deepEqual(order, [0, 1, 2]);
  t.is(s.getValue(), 0);
  s.release();
  await ps[3];
  t.deepEqual(order, [0, 1, 2, 3]);
  t.is(s.getValue(), 0);
});

test.serial('Semaphore: an aborted acquire rejects with the reason and takes no permit', async (t) => {
  const s = new Semaphore(0);
  const ac = new AbortController();
  const p = s.acquire({ signal: ac.signal });
  const reason = new Error('enough');
  ac.abort(reason);
  t.is(await t.throwsAsync(p), reason);
  s.release();
  t.is(s.getValue(), 1, 'the aborted waiter took nothing');
  const ac2 = new AbortController();
  ac2.abort(new Error('early'));
  await t.throwsAsync(s.acquire({ signal: ac2.signal }), { message: 'early' });
  t.is(s.getValue(), 1, 'a pre-aborted acquire takes nothing even when a permit is free');
});

test.serial('BoundedSemaphore: release past the initial value throws ERR_MULTIPROC_MISUSE, here and in another process', async (t) => {
  t.timeout(30_000);
  const b = new BoundedSemaphore(2);
  t.throws(() => b.release(), MISUSE);
  t.is(b.getValue(), 2);
  b.acquireSync();
  b.acquireSync();
  t.is(b.getValue(), 0);
  t.throws(() => b.release(3), MISUSE);
  t.is(b.getValue(), 0, 'a refused release(n) adds nothing');
  b.release(2);
  t.is(b.getValue(), 2);
  b.acquireSync();
  b.release();
  t.throws(() => b.release(), MISUSE);
  const r = new Queue<SemProbeReport>();
  await allOk(t, [start('proc', 'sync-semaphore', { role: 'release', sem: b.handle, n: 1, r: r.handle })]);
  t.deepEqual(await r.get(), { kind: 'BoundedSemaphore', value: 2, release: { cls: 'Error', code: 'ERR_MULTIPROC_MISUSE' } });
  // A permit taken here may be given back by another process or thread.
  b.acquireSync();
  await allOk(t, [start('thread', 'sync-semaphore', { role: 'release', sem: b.handle, n: 1, r: r.handle })]);
  t.deepEqual(await r.get(), { kind: 'BoundedSemaphore', value: 2, release: null });
});

test.serial('release(n) lets exactly n waiters blocked in other processes and threads in', async (t) => {
  t.timeout(60_000);
  const s = new Semaphore(0);
  const r = new Queue<SemWaiterReport>();
  const going = [0, 1, 2, 3].map(() => new Event());
  const done = new Event();
  const modes = [['proc', 'sync'], ['proc', 'async'], ['thread', 'sync'], ['thread', 'async']] as const;
  const ws = modes.map(([where, mode], i) => start(where, 'sync-semaphore', {
    role: 'waiter', sem: s.handle, going: going[i].handle, r: r.handle, mode, release: false, done: done.handle,
  }));
  for (const g of going) await g.wait();
  s.release(2);
  const first = [await r.get(), await r.get()];
  t.true(first.every((x) => x.acquired && !x.ownerDied));
  t.is(s.getValue(), 0, 'the two woken took both permits');
  t.is(r.qsize(), 0);
  s.release(2);
  const second = [await r.get(), await r.get()];
  t.true(second.every((x) => x.acquired && !x.ownerDied));
  t.is(s.getValue(), 0);
  done.set();
  await allOk(t, ws);
  t.is(s.getValue(), 4, 'each gave its permit back');
  t.deepEqual([...first, ...second].map((x) => x.where).sort(), ['proc', 'proc', 'thread', 'thread']);
});

for (const [Kind, value] of [[Semaphore, 3], [BoundedSemaphore, 2]] as const) {
  test.serial(`${Kind.name}(${value}): never more holders than the value — 6 processes + 2 threads`, async (t) => {
    t.timeout(90_000);
    const s = new Kind(value);
    // [inside now, most ever inside, total entries]
    const stats = new SharedArray<number>('int32', 3);
    const k = 150;
    const startB = new Barrier(8);
    const base = { role: 'inside', sem: s.handle, stats: stats.handle, k, start: startB.handle };
    const ps = [
      ...[0, 1, 2, 3, 4, 5].map((i) => start('proc', 'sync-semaphore', { ...base, mode: i % 2 ? 'async' : 'sync' })),
      start('thread', 'sync-semaphore', { ...base, mode: 'sync' }),
      start('thread', 'sync-semaphore', { ...base, mode: 'async' }),
    ];
    await allOk(t, ps);
    const [inside, most, total] = stats.view as Int32Array;
    t.is(total, 8 * k);
    t.is(inside, 0);
    t.true(most >= 1 && most <= value, `at most ${value} inside at once, saw ${most}`);
    t.is(s.getValue(), value, 'every permit came back');
  });
}

test.serial('owner death: permits of a SIGKILLed holder come back; the acquirer sees ownerDied', async (t) => {
  t.timeout(30_000);
  const s = new Semaphore(1);
  const held = new Event();
  const p = start('proc', 'sync-semaphore', { role: 'hold', sem: s.handle, n: 1, held: held.handle, then: 'park' });
  await held.wait();
  t.is(s.getValue(), 0);
  t.false(s.acquireSync({ block: false }));
  await kill(t, p);
  t.true(await s.acquire());
  t.true(s.ownerDied);
  t.is(s.getValue(), 0);
  s.release();
  t.is(s.getValue(), 1);
  t.true(s.acquireSync());
  t.false(s.ownerDied, 'ownerDied describes the last acquisition only');
  s.release();
});

test.serial('owner death: a BoundedSemaphore holder of 2 permits is SIGKILLed — both come back, the bound still holds', async (t) => {
  t.timeout(30_000);
  const b = new BoundedSemaphore(2);
  const held = new Event();
  const p = start('proc', 'sync-semaphore', { role: 'hold', sem: b.handle, n: 2, held: held.handle, then: 'park' });
  await held.wait();
  t.is(b.getValue(), 0);
  await kill(t, p);
  t.true(b.acquireSync());
  t.true(b.ownerDied);
  t.true(b.acquireSync());
  t.true(b.ownerDied);
  t.is(b.getValue(), 0);
  b.release(2);
  t.is(b.getValue(), 2);
  t.throws(() => b.release(), MISUSE);
});

for (const how of ['exits', 'is terminated'] as const) {
test.serial(`owner death: a worker thread that ${how} holding a permit gives it back`, async (t) => {
  t.timeout(30_000);
  const s = new Semaphore(1);
  const held = new Event();
  const w = start('thread', 'sync-semaphore', { role: 'hold', sem: s.handle, n: 1, held: held.handle, then: how === 'exits' ? 'exit' : 'park' });
  await held.wait();
  if (how === 'exits') await allOk(t, [w]);
  else await w.terminate();
  t.true(await s.acquire());
  t.true(s.ownerDied);
  s.release();
  t.is(s.getValue(), 1);
});
}

test.serial('owner death: a process that exits normally holding a permit gives it back', async (t) => {
  t.timeout(30_000);
  const s = new Semaphore(1);
  const held = new Event();
  await allOk(t, [start('proc', 'sync-semaphore', { role: 'hold', sem: s.handle, n: 1, held: held.handle, then: 'exit' })]);
  t.true(held.isSet());
  t.true(s.acquireSync());
  t.true(s.ownerDied);
  s.release();
  t.is(s.getValue(), 1);
});

test.serial('owner death: a waiter blocked in another process gets the dead holder’s permit', async (t) => {
  t.timeout(30_000);
  const s = new Semaphore(1);
  const r = new Queue<SemWaiterReport>();
  const held = new Event();
  const going = new Event();
  const holder = start('proc', 'sync-semaphore', { role: 'hold', sem: s.handle, n: 1, held: held.handle, then: 'park' });
  await held.wait();
  const w = start('proc', 'sync-semaphore', { role: 'waiter', sem: s.handle, going: going.handle, r: r.handle, mode: 'sync', release: true });
  await going.wait();
  await kill(t, holder);
  await allOk(t, [w]);
  t.deepEqual(await r.get(), { acquired: true, ownerDied: true, where: 'proc' });
  t.is(s.getValue(), 1);
});

test.serial('named Semaphore: opening an existing name keeps its value; unlink removes it', async (t) => {
  t.timeout(30_000);
  const name = uniqueName('sem');
  removeNamesAfter(t, name);
  const r = new Queue<SemProbeReport>();
  const s = new Semaphore(1, { name });
  t.true(shmEntries().includes(`multiproc-${name}`));
  s.acquireSync();
  const again = new Semaphore(5, { name });
  t.is(again.getValue(), 0, 'the initial value of an existing name is ignored');
  await allOk(t, [start('proc', 'sync-semaphore', { role: 'probe', name, r: r.handle })]);
  t.deepEqual(await r.get(), { kind: 'Semaphore', value: 0 });
  again.release();
  t.is(s.getValue(), 1);
  await allOk(t, [start('proc', 'sync-semaphore', { role: 'probe', name, r: r.handle })]);
  t.deepEqual(await r.get(), { kind: 'Semaphore', value: 1 });
  s.unlink();
  t.false(shmEntries().includes(`multiproc-${name}`));
  t.throws(() => again.unlink(), MISUSE);
  const fresh = new BoundedSemaphore(4, { name });
  t.is(fresh.getValue(), 4, 'after unlink the name makes a new one');
  t.throws(() => fresh.release(), MISUSE);
  fresh.unlink();
  t.throws(() => new Semaphore().unlink(), MISUSE);
});

test.serial('handles: attach keeps the class and the state', async (t) => {
  const s = new Semaphore(2);
  const b = new BoundedSemaphore(2);
  t.is(s.handle.type, 'Semaphore');
  t.is(b.handle.type, 'BoundedSemaphore');
  const s2 = Semaphore.attach(s.handle);
  const b2 = BoundedSemaphore.attach(b.handle);
  t.true(s2 instanceof Semaphore && !(s2 instanceof BoundedSemaphore));
  t.true(b2 instanceof BoundedSemaphore);
  s2.acquireSync();
  t.is(s.getValue(), 1);
  b.acquireSync();
  b2.release();
  t.throws(() => b2.release(), MISUSE);
  t.throws(() => Semaphore.attach({ ...s.handle, token: 'f'.repeat(32) } as never), { code: 'ERR_MULTIPROC_BAD_HANDLE' });
  t.throws(() => Semaphore.attach({ type: 'Semaphore' } as never), { instanceOf: TypeError });
  t.throws(() => Semaphore.attach(new Event().handle as never), { instanceOf: TypeError });
});

test.serial('withLock / withLockSync hold one permit and give it back however fn ends', async (t) => {
  const s = new BoundedSemaphore(2);
  t.is(s.withLockSync(() => s.getValue()), 1);
  t.is(s.getValue(), 2);
  t.is(await s.withLock(async () => s.getValue()), 1);
  const boom = new Error('boom');
  t.is(t.throws(() => s.withLockSync(() => {
    throw boom;
  })), boom);
  t.is(await t.throwsAsync(s.withLock(async () => {
    throw boom;
  })), boom);
  t.is(s.getValue(), 2);
});

test.serial('bad input: TypeError / RangeError at the call, async forms reject', async (t) => {
  for (const Kind of [Semaphore, BoundedSemaphore]) {
    t.throws(() => new Kind(-1), { instanceOf: RangeError });
    t.throws(() => new Kind(1.5), { instanceOf: RangeError });
    t.throws(() => new Kind(NaN), { instanceOf: RangeError });
    t.throws(() => new Kind(Infinity), { instanceOf: RangeError });
    t.throws(() => new Kind(2 ** 31), { instanceOf: RangeError });
    t.throws(() => new Kind('2' as never), { instanceOf: TypeError });
    t.throws(() => new Kind(null as never), { instanceOf: TypeError });
    t.throws(() => new Kind(1, 5 as never), { instanceOf: TypeError });
    t.throws(() => new Kind(1, { name: '' }), { instanceOf: RangeError });
    t.throws(() => new Kind(1, { name: 'a/b' }), { instanceOf: TypeError });
  }
  const s = new Semaphore(1);
  for (const n of [0, -1, 1.5, NaN]) t.throws(() => s.release(n), { instanceOf: RangeError }, `release(${n})`);
  t.throws(() => s.release('1' as never), { instanceOf: TypeError });
  t.throws(() => s.release(null as never), { instanceOf: TypeError });
  t.is(s.getValue(), 1, 'bad releases add nothing');
  const table: [unknown, typeof TypeError | typeof RangeError][] = [
    [null, TypeError],
    [{ timeout: -5 }, RangeError],
    [{ timeout: NaN }, RangeError],
    [{ timeout: '5' }, TypeError],
    [{ block: 0 }, TypeError],
    [{ signal: 1 }, TypeError],
  ];
  for (const [opts, cls] of table) {
    t.throws(() => s.acquireSync(opts as never), { instanceOf: cls });
    let p: Promise<boolean> | undefined;
    t.notThrows(() => {
      p = s.acquire(opts as never);
    });
    await t.throwsAsync(p!, { instanceOf: cls });
  }
  t.is(s.getValue(), 1, 'bad acquires take nothing');
  t.throws(() => s.withLockSync(1 as never), { instanceOf: TypeError });
  await t.throwsAsync(s.withLock(1 as never), { instanceOf: TypeError });
  t.is(s.getValue(), 1);
});
