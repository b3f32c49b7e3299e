/**
 * Condition over its default RLock and over a given Lock: wait/notify misuse
 * without the lock, wait timing out (false, lock held again, RLock depth
 * restored), notify(n) waking exactly n waiters in other processes and
 * threads and notifyAll the rest, waitFor/waitForSync with a predicate fed by
 * other processes, the lock's holder or a waiter SIGKILLed, abort, named
 * conditions, handles, bad input.
 */
import { Worker } from 'node:worker_threads';

import test, { type ExecutionContext } from 'ava';

import { Condition, Event, Lock, Queue, RLock, Semaphore, Value } from 'multiproc';

import { reap, shmEntries, uniqueName } from './helpers';
import { allOk, kill, removeNamesAfter, start, type Where } from './fixtures/sync-harness';
import type { CondWaiterReport, MisuseReport, WaitForReport } from './fixtures/sync-condition';

// Serial: `reap` after each test kills every live child, so tests with children must not overlap.
test.afterEach.always(reap);

const MISUSE = { instanceOf: Error, code: 'ERR_MULTIPROC_MISUSE' };
const misuseInfo = { cls: 'Error', code: 'ERR_MULTIPROC_MISUSE' };

const lockKinds = [['default RLock', () => new Condition()], ['a given Lock', () => new Condition(new Lock())]] as const;

test.serial('the lock: a new RLock by default, or the one given', (t) => {
  const c = new Condition();
  t.true(c.lock instanceof RLock);
  const l = new Lock();
  const c2 = new Condition(l);
  t.is(c2.lock, l);
  const rl = new RLock();
  t.is(new Condition(rl).lock, rl);
  // acquire/release/withLock go to that lock.
  t.true(c2.acquireSync());
  t.true(l.locked());
  c2.release();
  t.false(l.locked());
  t.is(c2.withLockSync(() => l.locked()), true);
  t.false(l.locked());
});

for (const [label, make] of lockKinds) {
  test.serial(`${label}: wait and notify without holding the lock throw ERR_MULTIPROC_MISUSE, here and elsewhere`, async (t) => {
    t.timeout(30_000);
    const c = make();
    t.throws(() => c.waitSync(), MISUSE);
    t.throws(() => c.waitSync({ timeout: 10 }), MISUSE);
    await t.throwsAsync(c.wait(), MISUSE);
    t.throws(() => c.notify(), MISUSE);
    t.throws(() => c.notifyAll(), MISUSE);
    await t.throwsAsync(c.waitFor(() => false, { timeout: 10 }), MISUSE);
    t.throws(() => c.waitForSync(() => false, { timeout: 10 }), MISUSE);
    t.false(c.lock.locked());
    const r = new Queue<MisuseReport>();
    await allOk(t, [start('proc', 'sync-condition', { role: 'misuse', cond: c.handle, r: r.handle })]);
    t.deepEqual(await r.get(), { waitSync: misuseInfo, wait: misuseInfo, notify: misuseInfo, notifyAll: misuseInfo });
  });
}

test.serial('RLock-based: held by another thread is not held by us — wait and notify are misuse there', async (t) => {
  t.timeout(30_000);
  const c = new Condition();
  c.acquireSync();
  const r = new Queue<MisuseReport>();
  await allOk(t, [start('thread', 'sync-condition', { role: 'misuse', cond: c.handle, r: r.handle })]);
  t.deepEqual(await r.get(), { waitSync: misuseInfo, wait: misuseInfo, notify: misuseInfo, notifyAll: misuseInfo });
  c.release();
});

for (const [label, make] of lockKinds) {
  test.serial(`${label}: a wait that times out returns false with the lock held again`, async (t) => {
    const c = make();
    c.acquireSync();
    t.false(c.waitSync({ timeout: 20 }));
    t.true(c.lock.locked());
    t.false(c.waitSync({ timeout: 0 }));
    t.true(c.lock.locked());
    t.false(await c.wait({ timeout: 20 }));
    t.true(c.lock.locked());
    t.false(await c.wait({ timeout: 0 }));
    t.true(c.lock.locked());
    c.notify();
    c.notify(3);
    c.notifyAll();
    c.notify(0);
    t.true(c.lock.locked(), 'notify without waiters is a no-op');
    c.release();
    t.false(c.lock.locked());
  });
}

test.serial('RLock-based: the recursion depth is restored after a wait', async (t) => {
  const c = new Condition();
  c.acquireSync();
  await c.acquire();
  c.acquireSync();
  t.false(c.waitSync({ timeout: 10 }));
  t.false(await c.wait({ timeout: 10 }));
  c.release();
  c.release();
  t.true(c.lock.locked(), 'depth 3 came back: two releases leave it held');
  c.release();
  t.false(c.lock.locked());
  t.throws(() => c.release(), MISUSE);
});

async function notifyExactly(t: ExecutionContext, make: () => Condition): Promise<void> {
  t.timeout(60_000);
  const c = make();
  const r = new Queue<CondWaiterReport>();
  const ready = new Semaphore(0);
  const woken = new Value<number>('int32', 0, { lock: false });
  const kinds: [Where, 'sync' | 'async'][] = [['proc', 'sync'], ['proc', 'async'], ['proc', 'sync'], ['thread', 'sync'], ['thread', 'async']];
  const ws = kinds.map(([where, mode]) =>
    start(where, 'sync-condition', { role: 'waiter', cond: c.handle, ready: ready.handle, woken: woken.handle, r: r.handle, mode }));
  // Each waiter released `ready` while holding the lock, so once we hold it they are all inside wait().
  for (let i = 0; i < kinds.length; i++) await ready.acquire();
  await c.acquire();
  t.is(woken.value, 0);
  c.notify(2);
  c.release();
  const first = [await r.get(), await r.get()];
  t.deepEqual(first.map((x) => [x.result, x.heldAfter]), [[true, true], [true, true]]);
  await c.acquire();
  t.is(woken.value, 2, 'notify(2) woke exactly two');
  t.is(r.qsize(), 0);
  c.notify();
  c.release();
  t.deepEqual((await r.get()).result, true);
  await c.acquire();
  t.is(woken.value, 3, 'notify() woke exactly one');
  c.notifyAll();
  c.release();
  const rest = [await r.get(), await r.get()];
  t.true(rest.every((x) => x.result && x.heldAfter));
  await allOk(t, ws);
  t.is(woken.value, 5, 'notifyAll woke the rest');
  t.false(c.lock.locked());
}

for (const [label, make] of lockKinds) {
  test.serial(`${label}: notify(n) wakes exactly n waiters in other processes and threads, notifyAll the rest`, (t) =>
    notifyExactly(t, make));
}

test.serial('a waiter elsewhere that times out returns false, holding the lock again', async (t) => {
  t.timeout(30_000);
  const c = new Condition(new Lock());
  const r = new Queue<CondWaiterReport>();
  const ready = new Semaphore(0);
  const woken = new Value<number>('int32', 0, { lock: false });
  const base = { role: 'waiter', cond: c.handle, ready: ready.handle, woken: woken.handle, r: r.handle, timeout: 30 };
  await allOk(t, [start('proc', 'sync-condition', { ...base, mode: 'sync' }), start('thread', 'sync-condition', { ...base, mode: 'async' })]);
  t.deepEqual([await r.get(), await r.get()].map((x) => [x.result, x.heldAfter]), [[false, true], [false, true]]);
  t.is(woken.value, 2);
  t.false(c.lock.locked());
});

for (const [label, make] of lockKinds) {
  test.serial(`${label}: waitFor / waitForSync return once other processes make the predicate true`, async (t) => {
    t.timeout(60_000);
    const c = make();
    const v = new Value<number>('int32', 0, { lock: false });
    const r = new Queue<WaitForReport>();
    const ready = new Semaphore(0);
    // Waiters elsewhere (sync in a thread, async in a process), and one here.
    const ws = [
      start('thread', 'sync-condition', { role: 'waitFor', cond: c.handle, value: v.handle, target: 6, r: r.handle, mode: 'sync', ready: ready.handle }),
      start('proc', 'sync-condition', { role: 'waitFor', cond: c.handle, value: v.handle, target: 6, r: r.handle, mode: 'async', ready: ready.handle }),
    ];
    await ready.acquire();
    await ready.acquire();
    const bumpers = [0, 1].map(() => start('proc', 'sync-condition', { role: 'bump', cond: c.handle, value: v.handle, times: 3 }));
    await c.acquire();
    const here = await c.waitFor(() => v.value >= 6);
    t.true(here);
    t.is(v.value, 6);
    t.true(c.lock.locked());
    c.release();
    await allOk(t, [...bumpers, ...ws]);
    t.deepEqual([await r.get(), await r.get()], [{ result: true, value: 6 }, { result: true, value: 6 }]);
  });
}

for (const [label, make] of lockKinds) {
  test.serial(`${label}: a process SIGKILLed holding the lock — the next acquirer gets it with ownerDied`, async (t) => {
    t.timeout(30_000);
    const c = make();
    const held = new Event();
    const p = start('proc', 'sync-lock', { role: 'hold', lock: c.lock.handle, held: held.handle, then: 'park', mode: 'sync' });
    await held.wait();
    t.false(c.acquireSync({ block: false }));
    await kill(t, p);
    t.true(await c.acquire());
    t.true(c.lock.ownerDied);
    // The condition works on: wait times out holding the lock, notify is allowed.
    t.false(await c.wait({ timeout: 10 }));
    c.notifyAll();
    c.release();
    t.false(c.lock.locked());
  });
}

for (const victimKind of ['a SIGKILLed process', 'a terminated worker thread'] as const) {
test.serial(`a waiter inside wait() in ${victimKind} does not swallow a notify: the next live waiter wakes`, async (t) => {
  t.timeout(30_000);
  const c = new Condition(new Lock());
  const r = new Queue<CondWaiterReport>();
  const ready = new Semaphore(0);
  const woken = new Value<number>('int32', 0, { lock: false });
  const base = { role: 'waiter', cond: c.handle, ready: ready.handle, woken: woken.handle, r: r.handle, mode: 'sync' };
  // A worker blocked in a sync wait cannot be terminated: it waits async.
  const victim = victimKind === 'a SIGKILLed process' ? start('proc', 'sync-condition', base) : start('thread', 'sync-condition', { ...base, mode: 'async' });
  await ready.acquire();
  // Once we hold the lock, the victim is inside wait() (the oldest waiter).
  await c.acquire();
  c.release();
  if (victim instanceof Worker) await victim.terminate();
  else await kill(t, victim);
  const live = start(victimKind === 'a SIGKILLed process' ? 'thread' : 'proc', 'sync-condition', { ...base, mode: 'async' });
  await ready.acquire();
  await c.acquire();
  c.notify(1);
  c.release();
  await allOk(t, [live]);
  t.deepEqual(await r.get(), { result: true, heldAfter: true, where: victimKind === 'a SIGKILLed process' ? 'thread' : 'proc' });
  t.is(woken.value, 1);
  t.false(c.lock.locked());
});
}

test.serial('waitFor / waitForSync: true at once if the predicate holds; the last value on timeout', async (t) => {
  const c = new Condition();
  await c.acquire();
  let calls = 0;
  t.is(await c.waitFor(() => {
    calls++;
    return 'yes';
  }), 'yes');
  t.is(calls, 1, 'checked first, no wait');
  t.is(c.waitForSync(() => 42), 42);
  t.is(await c.waitFor(() => 0, { timeout: 20 }), 0);
  t.is(c.waitForSync(() => '', { timeout: 20 }), '');
  t.is(await c.waitFor(() => null, { timeout: 0 }), null);
  t.true(c.lock.locked(), 'held again after each timeout');
  c.release();
  t.false(c.lock.locked());
});

test.serial('an aborted wait rejects with the reason, holding the lock again', async (t) => {
  const c = new Condition(new Lock());
  await c.acquire();
  const ac = new AbortController();
  const p = c.wait({ signal: ac.signal });
  const reason = new Error('cancelled');
  ac.abort(reason);
  t.is(await t.throwsAsync(p), reason);
  t.true(c.lock.locked());
  const ac2 = new AbortController();
  ac2.abort(new Error('early'));
  await t.throwsAsync(c.wait({ signal: ac2.signal }), { message: 'early' });
  t.true(c.lock.locked());
  await t.throwsAsync(c.waitFor(() => false, { signal: ac2.signal }), { message: 'early' });
  t.true(c.lock.locked());
  c.release();
  t.false(c.lock.locked());
});

test.serial('named Condition: opened by name, unlink removes it and its lock', (t) => {
  const name = uniqueName('cond');
  removeNamesAfter(t, name);
  const before = shmEntries();
  const c = new Condition(undefined, { name });
  const c2 = new Condition(undefined, { name });
  c.acquireSync();
  t.true(c2.lock.locked(), 'one lock behind both');
  c.release();
  t.false(c2.lock.locked());
  c.unlink();
  t.deepEqual(shmEntries().filter((n) => !before.includes(n)), [], 'no /dev/shm entry left');
});

test.serial('handles: attach brings the lock along; bad handles fail', async (t) => {
  const l = new Lock();
  const c = new Condition(l);
  const h = structuredClone(c.handle);
  t.is(h.type, 'Condition');
  const c2 = Condition.attach(h);
  t.true(c2.lock instanceof Lock && !(c2.lock instanceof RLock));
  l.acquireSync();
  t.true(c2.lock.locked());
  l.release();
  t.true(Condition.attach(new Condition().handle).lock instanceof RLock);
  t.throws(() => Condition.attach({ ...c.handle, token: 'a'.repeat(32) } as never), { code: 'ERR_MULTIPROC_BAD_HANDLE' });
  t.throws(() => Condition.attach({ type: 'Condition' } as never), { instanceOf: TypeError });
  t.throws(() => Condition.attach(l.handle as never), { instanceOf: TypeError });
});

test.serial('bad input: TypeError / RangeError at the call, async forms reject', async (t) => {
  t.throws(() => new Condition(5 as never), { instanceOf: TypeError });
  t.throws(() => new Condition({} as never), { instanceOf: TypeError });
  t.throws(() => new Condition(undefined, 5 as never), { instanceOf: TypeError });
  t.throws(() => new Condition(undefined, { name: '' }), { instanceOf: RangeError });
  const c = new Condition();
  c.acquireSync();
  for (const n of [-1, 1.5, NaN]) t.throws(() => c.notify(n), { instanceOf: RangeError }, `notify(${n})`);
  t.throws(() => c.notify('1' as never), { instanceOf: TypeError });
  const table: [unknown, typeof TypeError | typeof RangeError][] = [
    [null, TypeError],
    [{ timeout: -1 }, RangeError],
    [{ timeout: NaN }, RangeError],
    [{ timeout: 'x' }, TypeError],
    [{ signal: 5 }, TypeError],
  ];
  for (const [opts, cls] of table) {
    t.throws(() => c.waitSync(opts as never), { instanceOf: cls });
    let p: Promise<boolean> | undefined;
    t.notThrows(() => {
      p = c.wait(opts as never);
    });
    await t.throwsAsync(p!, { instanceOf: cls });
    t.throws(() => c.waitForSync(() => false, opts as never), { instanceOf: cls });
    await t.throwsAsync(c.waitFor(() => false, opts as never), { instanceOf: cls });
  }
  t.throws(() => c.waitForSync(5 as never), { instanceOf: TypeError });
  let p: Promise<unknown> | undefined;
  t.notThrows(() => {
    p = c.waitFor(5 as never);
  });
  await t.throwsAsync(p!, { instanceOf: TypeError });
  t.true(c.lock.locked(), 'bad calls left the lock as it was');
  c.release();
  t.false(c.lock.locked());
});
