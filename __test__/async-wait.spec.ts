/**
 * Async waits cost no thread of libuv's pool and keep a process alive only
 * while something is pending: 10,000 pending gets beside working fs/crypto,
 * children that exit by themselves once idle, and 200 worker threads that
 * load, wait on and unload the addon in a loop (terminated or ending).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { promisify } from 'node:util';
import type { Worker } from 'node:worker_threads';

import test from 'ava';

import { Queue } from 'multiproc';

import { exited, forkFixture, reap, startWorker } from './helpers';

// Serial: `reap` kills every live child, including those of a test still running.
test.afterEach.always(reap);

const ok = { code: 0, signal: null };
const pbkdf2 = promisify(crypto.pbkdf2);

test.serial('10,000 pending get()s: fs.promises.readFile and crypto.pbkdf2 still complete; a child then fills every get', async (t) => {
  t.timeout(60_000);
  const N = 10_000;
  const q = new Queue<number>();
  let settled = 0;
  const gets = Array.from({ length: N }, () =>
    q.get().then((v) => {
      settled++;
      return v;
    }),
  );
  // More pbkdf2 jobs than libuv has pool threads (4): all must run while the gets wait.
  const salts = Array.from({ length: 8 }, (_, i) => `salt-${i}`);
  const [file, ...keys] = await Promise.all([
    fs.promises.readFile(__filename),
    ...salts.map((s) => pbkdf2('secret', s, 1000, 32, 'sha256')),
  ]);
  t.is(settled, 0, 'every get is still pending');
  t.deepEqual(file, fs.readFileSync(__filename));
  t.deepEqual(keys, salts.map((s) => crypto.pbkdf2Sync('secret', s, 1000, 32, 'sha256')));

  const child = forkFixture('wait-putter', { q: q.handle, n: N });
  const values = await Promise.all(gets);
  t.deepEqual(await exited(child), ok);
  t.is(new Set(values).size, N, 'each get resolved with a distinct item');
  t.deepEqual([...values].sort((a, b) => a - b), [...Array(N).keys()]);
  // One process's waiters are served first come, first served.
  t.deepEqual(values, [...Array(N).keys()]);
  t.is(q.qsize(), 0);
});

test.serial('a child whose gets and puts failed (non-blocking, timed) and has nothing pending exits by itself with 0', async (t) => {
  const r = new Queue<Record<string, string>>();
  const child = forkFixture('wait-idle', { r: r.handle });
  t.deepEqual(await exited(child), ok);
  t.deepEqual(r.getNowait(), { getNowait: 'Empty', getNonBlocking: 'Empty', getTimed: 'Empty', putTimed: 'Full' });
});

test.serial('a child with a pending get stays until the parent puts, then exits by itself', async (t) => {
  const q = new Queue<string>();
  const r = new Queue<unknown>();
  const child = forkFixture('wait-pending', { q: q.handle, r: r.handle, mode: 'get' });
  t.is(await r.get(), 'pending');
  await q.put('for you');
  t.deepEqual(await exited(child), ok);
  // The child ended only after its get was served and it reported so.
  t.deepEqual(r.getNowait(), { done: 'get', v: 'for you' });
  t.is(q.qsize(), 0);
});

test.serial('a child with a pending put on a full queue stays until the parent gets, then exits by itself', async (t) => {
  const q = new Queue<string>(1);
  q.putSync('first');
  const r = new Queue<unknown>();
  const child = forkFixture('wait-pending', { q: q.handle, r: r.handle, mode: 'put' });
  t.is(await r.get(), 'pending');
  t.is(await q.get(), 'first');
  t.deepEqual(await exited(child), ok);
  t.deepEqual(r.getNowait(), { done: 'put', v: undefined });
  t.is(q.getNowait(), 'from child');
});

test.serial('200 worker threads load, wait and unload in a loop; half terminated with a get pending', async (t) => {
  t.timeout(120_000);
  const TOTAL = 200;
  const AT_ONCE = 8;
  const qe = new Queue<unknown>(); // never filled: pending gets wait on it
  const qp = new Queue<{ id: number }>();
  const ready = new Queue<{ id: number; state: string }>();
  const putters: number[] = [];
  let terminatedCodes = 0;
  for (let base = 0; base < TOTAL; base += AT_ONCE) {
    const getters = new Map<number, Worker>();
    const ending: Promise<{ code: number | null }>[] = [];
    for (let id = base; id < base + AT_ONCE; id++) {
      const mode = id % 2 === 0 ? 'get' : id % 4 === 1 ? 'putSync' : 'put';
      const w = startWorker('wait-worker', { mode, id, qe: qe.handle, qp: qp.handle, ready: ready.handle });
      if (mode === 'get') getters.set(id, w);
      else {
        putters.push(id);
        ending.push(exited(w));
      }
    }
    // Terminate each getter once its get is pending.
    const stops: Promise<number>[] = [];
    for (let k = 0; k < getters.size; k++) {
      const m = await ready.get();
      t.is(m.state, 'pending');
      const w = getters.get(m.id);
      if (!w) t.fail(`unexpected ready message ${JSON.stringify(m)}`);
      else stops.push(w.terminate());
    }
    for (const code of await Promise.all(stops)) if (code === 1) terminatedCodes++;
    // The putters end by themselves.
    t.deepEqual((await Promise.all(ending)).map((e) => e.code), ending.map(() => 0));
  }
  t.is(terminatedCodes, TOTAL / 2);
  // Every putter's item is there, once; no terminated get took anything.
  t.is(qp.qsize(), TOTAL / 2);
  const ids: number[] = [];
  for (let k = 0; k < TOTAL / 2; k++) ids.push(qp.getNowait().id);
  t.deepEqual(ids.sort((a, b) => a - b), putters.sort((a, b) => a - b));
  t.is(ready.qsize(), 0, 'no terminated worker reported a stolen item');
  // The main thread still works, sync and async, on the queue the dead workers waited on.
  for (let i = 0; i < 100; i++) qe.putNowait(i);
  t.is(qe.qsize(), 100);
  const back: unknown[] = [];
  for (let i = 0; i < 100; i++) back.push(qe.getNowait());
  t.deepEqual(back, [...Array(100).keys()]);
  const pending = qe.get();
  await qe.put('main');
  t.is(await pending, 'main');
});
