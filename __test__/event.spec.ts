/**
 * Event: set/clear/isSet, wait/waitSync resolving true once set (from another
 * process or thread) and false on timeout, every waiter across processes and
 * threads woken by one set, abort, named events, handles, bad input.
 */
import test from 'ava';

import { Event, Queue, Semaphore } from 'multiproc';

import { reap, shmEntries, uniqueName } from './helpers';
import { allOk, removeNamesAfter, start } from './fixtures/sync-harness';
import type { EventWaiterReport } from './fixtures/sync-event';

// Serial: `reap` after each test kills every live child, so tests with children must not overlap.
test.afterEach.always(reap);

test.serial('set / clear / isSet, and waits on a set or clear flag in this thread', async (t) => {
  const e = new Event();
  t.false(e.isSet());
  t.false(e.waitSync({ timeout: 0 }));
  t.false(e.waitSync({ timeout: 20 }));
  t.false(await e.wait({ timeout: 0 }));
  t.false(await e.wait({ timeout: 20 }));
  e.set();
  t.true(e.isSet());
  t.true(e.waitSync());
  t.true(await e.wait());
  t.true(e.waitSync({ timeout: 0 }));
  t.true(await e.wait({ timeout: 0 }));
  e.set();
  t.true(e.isSet(), 'set twice is still set');
  e.clear();
  t.false(e.isSet());
  e.clear();
  t.false(e.isSet());
  t.false(await e.wait({ timeout: 10 }));
});

test.serial('pending async waits in this thread resolve when set here, false on their own timeout', async (t) => {
  const e = new Event();
  const short = e.wait({ timeout: 10 });
  const long1 = e.wait();
  const long2 = e.wait({ timeout: 60_000 });
  t.false(await short);
  e.set();
  t.deepEqual(await Promise.all([long1, long2]), [true, true]);
});

test.serial('wait resolves true when another process or a worker thread sets it', async (t) => {
  t.timeout(30_000);
  for (const where of ['proc', 'thread'] as const) {
    const e = new Event();
    const p = e.wait();
    const c = start(where, 'sync-event', { role: 'set', ev: e.handle });
    t.true(await p, where);
    t.true(e.isSet());
    await allOk(t, [c]);
    await allOk(t, [start(where, 'sync-event', { role: 'clear', ev: e.handle })]);
    t.false(e.isSet(), `cleared by a ${where}`);
  }
});

test.serial('waitSync / wait in other processes and threads: true once set here, false on timeout', async (t) => {
  t.timeout(30_000);
  const e = new Event();
  const r = new Queue<EventWaiterReport>();
  const ready = new Semaphore(0);
  // Nobody sets it: each times out.
  const timed = [
    start('proc', 'sync-event', { role: 'waiter', ev: e.handle, ready: ready.handle, r: r.handle, mode: 'sync', timeout: 30 }),
    start('thread', 'sync-event', { role: 'waiter', ev: e.handle, ready: ready.handle, r: r.handle, mode: 'async', timeout: 30 }),
  ];
  await allOk(t, timed);
  t.deepEqual([await r.get(), await r.get()].sort((x, y) => x.where.localeCompare(y.where)), [
    { result: false, isSet: false, where: 'proc' },
    { result: false, isSet: false, where: 'thread' },
  ]);
  t.is(ready.getValue(), 2);
  const ws = [
    start('proc', 'sync-event', { role: 'waiter', ev: e.handle, ready: ready.handle, r: r.handle, mode: 'sync' }),
    start('thread', 'sync-event', { role: 'waiter', ev: e.handle, ready: ready.handle, r: r.handle, mode: 'sync' }),
  ];
  for (let i = 0; i < 4; i++) await ready.acquire();
  e.set();
  await allOk(t, ws);
  t.deepEqual([await r.get(), await r.get()].sort((x, y) => x.where.localeCompare(y.where)), [
    { result: true, isSet: true, where: 'proc' },
    { result: true, isSet: true, where: 'thread' },
  ]);
});

test.serial('one set wakes every waiter: 4 processes, 2 threads and 2 pending awaits here', async (t) => {
  t.timeout(60_000);
  const e = new Event();
  const r = new Queue<EventWaiterReport>();
  const ready = new Semaphore(0);
  const kinds = [['proc', 'sync'], ['proc', 'sync'], ['proc', 'async'], ['proc', 'async'], ['thread', 'sync'], ['thread', 'async']] as const;
  const ws = kinds.map(([where, mode]) => start(where, 'sync-event', { role: 'waiter', ev: e.handle, ready: ready.handle, r: r.handle, mode }));
  const here = [e.wait(), e.wait()];
  for (let i = 0; i < kinds.length; i++) await ready.acquire();
  t.is(r.qsize(), 0, 'nobody got through before the set');
  e.set();
  t.deepEqual(await Promise.all(here), [true, true]);
  await allOk(t, ws);
  const reports: EventWaiterReport[] = [];
  for (let i = 0; i < kinds.length; i++) reports.push(await r.get());
  t.true(reports.every((x) => x.result && x.isSet));
  t.deepEqual(reports.map((x) => x.where).sort(), ['proc', 'proc', 'proc', 'proc', 'thread', 'thread']);
});

test.serial('an aborted wait rejects with the reason and leaves the flag alone', async (t) => {
  const e = new Event();
  const ac = new AbortController();
  const p = e.wait({ signal: ac.signal });
  const reason = new Error('no more');
  ac.abort(reason);
  t.is(await t.throwsAsync(p), reason);
  t.false(e.isSet());
  const ac2 = new AbortController();
  ac2.abort(new Error('early'));
  e.set();
  await t.throwsAsync(e.wait({ signal: ac2.signal }), { message: 'early' }, 'a pre-aborted signal wins even if set');
  t.true(e.isSet());
});

test.serial('named Event: opening an existing name keeps its state; unlink removes it', async (t) => {
  t.timeout(30_000);
  const name = uniqueName('event');
  removeNamesAfter(t, name);
  const r = new Queue<{ isSet: boolean }>();
  const e = new Event({ name });
  t.true(shmEntries().includes(`multiproc-${name}`));
  t.false(e.isSet());
  await allOk(t, [start('proc', 'sync-event', { role: 'probe', name, r: r.handle, set: true })]);
  t.deepEqual(await r.get(), { isSet: false });
  t.true(e.isSet(), 'set by an unrelated process that opened the name');
  t.true(new Event({ name }).isSet(), 'opening again keeps the state');
  await allOk(t, [start('thread', 'sync-event', { role: 'probe', name, r: r.handle })]);
  t.deepEqual(await r.get(), { isSet: true });
  e.unlink();
  t.false(shmEntries().includes(`multiproc-${name}`));
  t.throws(() => e.unlink(), { code: 'ERR_MULTIPROC_MISUSE' });
  t.false(new Event({ name }).isSet(), 'a new event after unlink');
  new Event({ name }).unlink();
  t.throws(() => new Event().unlink(), { code: 'ERR_MULTIPROC_MISUSE' });
});

test.serial('handles: attach shares the flag; forged and malformed handles fail', (t) => {
  const e = new Event();
  t.is(e.handle.type, 'Event');
  const e2 = Event.attach(structuredClone(e.handle));
  e2.set();
  t.true(e.isSet());
  t.throws(() => Event.attach({ ...e.handle, token: '1'.repeat(32) } as never), { code: 'ERR_MULTIPROC_BAD_HANDLE' });
  t.throws(() => Event.attach({ ...e.handle, type: 'Lock' } as never), { instanceOf: TypeError });
  t.throws(() => Event.attach(undefined as never), { instanceOf: TypeError });
});

test.serial('bad input: TypeError / RangeError at the call, wait rejects', async (t) => {
  const e = new Event();
  const table: [unknown, typeof TypeError | typeof RangeError][] = [
    [null, TypeError],
    [3, TypeError],
    [{ timeout: -1 }, RangeError],
    [{ timeout: NaN }, RangeError],
    [{ timeout: '1' }, TypeError],
    [{ signal: {} }, TypeError],
  ];
  for (const [opts, cls] of table) {
    t.throws(() => e.waitSync(opts as never), { instanceOf: cls });
    let p: Promise<boolean> | undefined;
    t.notThrows(() => {
      p = e.wait(opts as never);
    });
    await t.throwsAsync(p!, { instanceOf: cls });
  }
  t.throws(() => new Event(1 as never), { instanceOf: TypeError });
  t.throws(() => new Event({ name: 1 } as never), { instanceOf: TypeError });
  t.throws(() => new Event({ name: '' }), { instanceOf: RangeError });
  t.throws(() => new Event({ name: 'x/y' }), { instanceOf: TypeError });
  t.false(e.isSet());
});
