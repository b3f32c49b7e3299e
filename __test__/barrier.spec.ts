/**
 * Barrier: parties in other processes and threads get distinct indices
 * 0..parties-1 each cycle, the action runs exactly once per cycle in the last
 * party; timeouts (per call and default) break it for everyone with
 * BrokenBarrierError; abort and reset; broken/nWaiting; a party SIGKILLed
 * while waiting breaks it for the others; an action that throws; named
 * barriers keep parties and timeout; handles; bad input.
 */
import test, { type ExecutionContext } from 'ava';

import { Barrier, BrokenBarrierError, Queue, Semaphore, SharedArray, Value } from 'multiproc';

import { reap, shmEntries, uniqueName } from './helpers';
import { allOk, kill, removeNamesAfter, start, type Where } from './fixtures/sync-harness';
import type { ArriveReport } from './fixtures/sync-barrier';

// Serial: `reap` after each test kills every live child, so tests with children must not overlap.
test.afterEach.always(reap);

const BROKEN = { instanceOf: BrokenBarrierError, code: 'ERR_MULTIPROC_BROKEN_BARRIER' };
const brokenInfo = { cls: 'BrokenBarrierError', code: 'ERR_MULTIPROC_BROKEN_BARRIER' };

test.serial('parties, nWaiting, broken; arrival indices in one thread; a one-party barrier', async (t) => {
  const b = new Barrier(3);
  t.is(b.parties, 3);
  t.is(b.nWaiting, 0);
  t.false(b.broken);
  const p0 = b.wait();
  t.is(b.nWaiting, 1, 'the arrival is counted when wait() returns its Promise');
  const p1 = b.wait();
  t.is(b.nWaiting, 2);
  const p2 = b.wait();
  t.deepEqual(await Promise.all([p0, p1, p2]), [0, 1, 2]);
  t.is(b.nWaiting, 0);
  t.false(b.broken);
  let runs = 0;
  const one = new Barrier(1, { action: () => void runs++ });
  t.is(one.waitSync(), 0);
  t.is(await one.wait(), 0);
  t.is(one.waitSync(), 0);
  t.is(runs, 3, 'the action runs every cycle');
});

async function cycles(t: ExecutionContext, parties: [Where, 'sync' | 'async'][], n: number): Promise<void> {
  t.timeout(60_000);
  const total = parties.length + 1;
  const b = new Barrier(total);
  const idx = new SharedArray<number>('int32', n * total, { lock: false });
  const actions = new Value<number>('int32', 0, { lock: false });
  const bad = new Value<number>('int32', 0, { lock: false });
  const ps = parties.map(([where, mode], id) => start(where, 'sync-barrier', {
    role: 'party', b: b.handle, cycles: n, id, idx: idx.handle, actions: actions.handle, bad: bad.handle, mode,
  }));
  // This thread is the last party id, with its own action that counts too.
  const mine = Barrier.attach(b.handle, { action: () => void (actions.value = actions.value + 1) });
  for (let c = 0; c < n; c++) {
    idx.view[c * total + total - 1] = await mine.wait();
    t.is(actions.value, c + 1, `cycle ${c}: the action ran once before anyone went on`);
  }
  await allOk(t, ps);
  t.is(bad.value, 0, 'no action outside the last party, none missing');
  t.is(actions.value, n, 'exactly one action per cycle');
  const want = Array.from({ length: total }, (_, i) => i);
  for (let c = 0; c < n; c++) {
    const got = [...(idx.view as Int32Array).subarray(c * total, (c + 1) * total)].sort((x, y) => x - y);
    t.deepEqual(got, want, `cycle ${c}: distinct indices 0..${total - 1}`);
  }
  t.is(b.nWaiting, 0);
  t.false(b.broken);
}

test.serial('across processes: 4 parties × 6 cycles, distinct indices, one action per cycle in the last party', (t) =>
  cycles(t, [['proc', 'sync'], ['proc', 'async'], ['proc', 'sync']], 6));

test.serial('mixed: 2 processes + 2 worker threads + this thread, 5 cycles', (t) =>
  cycles(t, [['proc', 'async'], ['thread', 'sync'], ['proc', 'sync'], ['thread', 'async']], 5));

test.serial('a per-call timeout breaks the barrier for everyone; later waits fail at once until reset', async (t) => {
  t.timeout(30_000);
  const b = new Barrier(3);
  const r = new Queue<ArriveReport>();
  const ready = new Semaphore(0);
  const c = start('proc', 'sync-barrier', { role: 'arrive', b: b.handle, ready: ready.handle, r: r.handle, mode: 'async' });
  await ready.acquire();
  await t.throwsAsync(b.wait({ timeout: 30 }), BROKEN);
  t.true(b.broken);
  t.is(b.nWaiting, 0);
  await allOk(t, [c]);
  t.deepEqual(await r.get(), { index: null, error: brokenInfo, broken: true, where: 'proc' });
  t.throws(() => b.waitSync(), BROKEN);
  await t.throwsAsync(b.wait(), BROKEN);
  b.reset();
  t.false(b.broken);
  t.is(b.nWaiting, 0);
  // Usable again.
  const ps = [b.wait(), b.wait(), b.wait()];
  t.deepEqual((await Promise.all(ps)).sort(), [0, 1, 2]);
});

test.serial('the default timeout (in the handle) breaks the barrier for parties in other processes and threads', async (t) => {
  t.timeout(30_000);
  const b = new Barrier(4, { timeout: 40 });
  const r = new Queue<ArriveReport>();
  const ready = new Semaphore(0);
  const ws = [
    start('proc', 'sync-barrier', { role: 'arrive', b: b.handle, ready: ready.handle, r: r.handle, mode: 'sync' }),
    start('thread', 'sync-barrier', { role: 'arrive', b: b.handle, ready: ready.handle, r: r.handle, mode: 'async' }),
  ];
  await ready.acquire();
  await ready.acquire();
  t.throws(() => b.waitSync(), BROKEN);
  await allOk(t, ws);
  const reports = [await r.get(), await r.get()].sort((x, y) => x.where.localeCompare(y.where));
  t.deepEqual(reports, [
    { index: null, error: brokenInfo, broken: true, where: 'proc' },
    { index: null, error: brokenInfo, broken: true, where: 'thread' },
  ]);
  t.true(b.broken);
});

test.serial('abort from another process breaks the barrier for waiters here and there', async (t) => {
  t.timeout(30_000);
  const b = new Barrier(4);
  const r = new Queue<ArriveReport>();
  const ready = new Semaphore(0);
  const here = b.wait();
  const w = start('thread', 'sync-barrier', { role: 'arrive', b: b.handle, ready: ready.handle, r: r.handle, mode: 'async' });
  await ready.acquire();
  t.is(b.nWaiting, 2);
  await allOk(t, [start('proc', 'sync-barrier', { role: 'abort', b: b.handle })]);
  await t.throwsAsync(here, BROKEN);
  await allOk(t, [w]);
  t.deepEqual(await r.get(), { index: null, error: brokenInfo, broken: true, where: 'thread' });
  t.true(b.broken);
  t.is(b.nWaiting, 0);
  t.throws(() => b.waitSync(), BROKEN);
  b.abort();
  t.true(b.broken, 'abort twice is still broken');
  b.reset();
  t.false(b.broken);
});

test.serial('reset from another process fails the current waiters but leaves the barrier usable', async (t) => {
  t.timeout(30_000);
  const b = new Barrier(3);
  const p1 = b.wait();
  const p2 = b.wait();
  t.is(b.nWaiting, 2);
  await allOk(t, [start('proc', 'sync-barrier', { role: 'reset', b: b.handle })]);
  await t.throwsAsync(p1, BROKEN);
  await t.throwsAsync(p2, BROKEN);
  t.false(b.broken, 'reset leaves it whole');
  t.is(b.nWaiting, 0);
  // A full cycle with a party in a worker thread.
  const r = new Queue<ArriveReport>();
  const ready = new Semaphore(0);
  const w = start('thread', 'sync-barrier', { role: 'arrive', b: b.handle, ready: ready.handle, r: r.handle, mode: 'async' });
  await ready.acquire();
  const mine = await Promise.all([b.wait(), b.wait()]);
  await allOk(t, [w]);
  const theirs = await r.get();
  t.deepEqual([...mine, theirs.index].sort(), [0, 1, 2]);
  t.is(theirs.error, null);
  // reset with nobody waiting changes nothing.
  b.reset();
  t.false(b.broken);
  t.deepEqual((await Promise.all([b.wait(), b.wait(), b.wait()])).sort(), [0, 1, 2]);
});

test.serial('a worker thread terminated while waiting breaks the barrier for the others', async (t) => {
  t.timeout(30_000);
  const b = new Barrier(3);
  const r = new Queue<ArriveReport>();
  const ready = new Semaphore(0);
  const here = b.wait();
  const victim = start('thread', 'sync-barrier', { role: 'arrive', b: b.handle, ready: ready.handle, r: r.handle, mode: 'async' });
  await ready.acquire();
  await victim.terminate();
  await t.throwsAsync(here, BROKEN);
  t.true(b.broken);
  t.is(r.qsize(), 0, 'the victim never reported');
});

test.serial('a party SIGKILLed while waiting breaks the barrier for the others', async (t) => {
  t.timeout(30_000);
  const b = new Barrier(4);
  const r = new Queue<ArriveReport>();
  const ready = new Semaphore(0);
  const here = b.wait();
  const victim = start('proc', 'sync-barrier', { role: 'arrive', b: b.handle, ready: ready.handle, r: r.handle, mode: 'async' });
  await ready.acquire();
  const other = start('proc', 'sync-barrier', { role: 'arrive', b: b.handle, ready: ready.handle, r: r.handle, mode: 'sync' });
  await ready.acquire();
  // Three of four have arrived (or will): nobody can complete the cycle now.
  await kill(t, victim);
  await t.throwsAsync(here, BROKEN);
  await allOk(t, [other]);
  t.deepEqual(await r.get(), { index: null, error: brokenInfo, broken: true, where: 'proc' });
  t.true(b.broken);
  b.reset();
  t.false(b.broken);
});

test.serial('an action that throws: the last party gets its error, the others BrokenBarrierError', async (t) => {
  t.timeout(30_000);
  const boom = new Error('action failed');
  for (const form of ['async', 'sync'] as const) {
    const b = new Barrier(2, { action: () => {
      throw boom;
    } });
    const r = new Queue<ArriveReport>();
    const ready = new Semaphore(0);
    // The other party arrives first, so we are the last and run the action.
    const w = start('proc', 'sync-barrier', { role: 'arrive', b: b.handle, ready: ready.handle, r: r.handle, mode: 'async' });
    await ready.acquire();
    if (form === 'async') t.is(await t.throwsAsync(b.wait()), boom);
    else t.is(t.throws(() => b.waitSync()), boom);
    t.true(b.broken);
    await allOk(t, [w]);
    t.deepEqual(await r.get(), { index: null, error: brokenInfo, broken: true, where: 'proc' });
  }
});

test.serial('abort signal: a pre-aborted wait changes nothing; aborting a waiting party rejects with the reason', async (t) => {
  const b = new Barrier(2);
  const ac = new AbortController();
  ac.abort(new Error('early'));
  await t.throwsAsync(b.wait({ signal: ac.signal }), { message: 'early' });
  t.is(b.nWaiting, 0);
  t.false(b.broken);
  const ac2 = new AbortController();
  const p = b.wait({ signal: ac2.signal });
  t.is(b.nWaiting, 1);
  const reason = new Error('leave');
  ac2.abort(reason);
  t.is(await t.throwsAsync(p), reason);
  // An arrived party cannot take its arrival back: like a timeout, the abort breaks the barrier.
  t.true(b.broken);
  b.reset();
  t.deepEqual((await Promise.all([b.wait(), b.wait()])).sort(), [0, 1]);
});

test.serial('named Barrier: opening the name keeps parties and timeout; unlink removes it', async (t) => {
  t.timeout(30_000);
  const name = uniqueName('barrier');
  removeNamesAfter(t, name);
  const b = new Barrier(3, { name, timeout: 40 });
  t.true(shmEntries().includes(`multiproc-${name}`));
  const again = new Barrier(5, { name });
  t.is(again.parties, 3, 'parties of the existing barrier');
  const r = new Queue<{ parties: number; broken: boolean; nWaiting: number }>();
  await allOk(t, [start('proc', 'sync-barrier', { role: 'probe', name, r: r.handle })]);
  t.deepEqual(await r.get(), { parties: 3, broken: false, nWaiting: 0 });
  // The default timeout came with the name.
  await t.throwsAsync(again.wait(), BROKEN);
  t.true(b.broken);
  await allOk(t, [start('proc', 'sync-barrier', { role: 'probe', name, r: r.handle })]);
  t.deepEqual(await r.get(), { parties: 3, broken: true, nWaiting: 0 });
  b.unlink();
  t.false(shmEntries().includes(`multiproc-${name}`));
  t.throws(() => b.unlink(), { code: 'ERR_MULTIPROC_MISUSE' });
  const fresh = new Barrier(2, { name });
  t.is(fresh.parties, 2);
  t.false(fresh.broken);
  fresh.unlink();
});

test.serial('handles: attach shares the barrier; the action stays with its instance', async (t) => {
  let runs = 0;
  const b = new Barrier(2, { action: () => void runs++ });
  const h = structuredClone(b.handle);
  t.is(h.type, 'Barrier');
  const plain = Barrier.attach(h);
  t.is(plain.parties, 2);
  // `plain` arrives last: it has no action, so none runs.
  const p = b.wait();
  t.is(await plain.wait(), 1);
  t.is(await p, 0);
  t.is(runs, 0);
  // `b` arrives last: its action runs.
  const q = plain.wait();
  t.is(await b.wait(), 1);
  await q;
  t.is(runs, 1);
  let other = 0;
  const withAction = Barrier.attach(h, { action: () => void other++ });
  const r2 = b.wait();
  await withAction.wait();
  await r2;
  t.is(other, 1);
  t.throws(() => Barrier.attach({ ...h, token: 'b'.repeat(32) } as never), { code: 'ERR_MULTIPROC_BAD_HANDLE' });
  t.throws(() => Barrier.attach({ type: 'Barrier' } as never), { instanceOf: TypeError });
  t.throws(() => Barrier.attach(h, { action: 1 } as never), { instanceOf: TypeError });
});

test.serial('bad input: TypeError / RangeError at the call, wait rejects', async (t) => {
  for (const n of [0, -1, 1.5, NaN, Infinity, 100_000]) t.throws(() => new Barrier(n), { instanceOf: RangeError }, `parties ${n}`);
  t.throws(() => new Barrier('2' as never), { instanceOf: TypeError });
  t.throws(() => new Barrier(undefined as never), { instanceOf: TypeError });
  t.throws(() => new Barrier(2, 5 as never), { instanceOf: TypeError });
  t.throws(() => new Barrier(2, { action: 'x' } as never), { instanceOf: TypeError });
  t.throws(() => new Barrier(2, { timeout: -1 }), { instanceOf: RangeError });
  t.throws(() => new Barrier(2, { timeout: NaN }), { instanceOf: RangeError });
  t.throws(() => new Barrier(2, { timeout: '1' } as never), { instanceOf: TypeError });
  t.throws(() => new Barrier(2, { name: '' }), { instanceOf: RangeError });
  t.throws(() => new Barrier(2, { name: 'a/b' }), { instanceOf: TypeError });
  const b = new Barrier(2);
  const table: [unknown, typeof TypeError | typeof RangeError][] = [
    [null, TypeError],
    [{ timeout: -1 }, RangeError],
    [{ timeout: NaN }, RangeError],
    [{ timeout: 'x' }, TypeError],
    [{ signal: {} }, TypeError],
  ];
  for (const [opts, cls] of table) {
    t.throws(() => b.waitSync(opts as never), { instanceOf: cls });
    let p: Promise<number> | undefined;
    t.notThrows(() => {
      p = b.wait(opts as never);
    });
    await t.throwsAsync(p!, { instanceOf: cls });
  }
  t.is(b.nWaiting, 0, 'bad calls did not arrive');
  t.false(b.broken);
});
