/**
 * Queue, SimpleQueue and JoinableQueue within one process and thread: every
 * line of the Queue section of API.md in its sync and async forms, the error
 * classes, values, nested queues, bad input, forged handles and named queues.
 * Cross-thread behaviour is in queue-threads.spec.ts.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';

import test from 'ava';

import {
  DataCloneError,
  Empty,
  Full,
  JoinableQueue,
  MultiprocError,
  Queue,
  type QueueHandle,
  ShutDown,
  SimpleQueue,
  TimeoutError,
} from 'multiproc';

import { uniqueName } from './helpers';

/**
 * Whether `p` is still unsettled after the microtasks queued so far have run.
 * Used only where nothing else could settle `p` at that point, to prove that
 * it is (still) waiting; this is not a delay that lets something happen.
 */
async function isPending(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return !settled;
}

/** Drains a queue without waiting, in order. */
function drain<T>(q: Queue<T>): T[] {
  const out: T[] = [];
  while (!q.empty()) out.push(q.getNowait());
  return out;
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

// ---------------------------------------------------------------- basics

test('put/get, putSync/getSync and putNowait/getNowait keep FIFO order across forms', async (t) => {
  const q = new Queue<number>();
  await q.put(1);
  q.putSync(2);
  q.putNowait(3);
  await q.put(4, { block: false });
  q.putSync(5, { timeout: 0 });
  await q.put(6, { timeout: 100 });
  q.putSync(7, { timeout: Infinity });
  t.is(q.qsize(), 7);
  t.is(await q.get(), 1);
  t.is(q.getSync(), 2);
  t.is(q.getNowait(), 3);
  t.is(await q.get({ block: false }), 4);
  t.is(q.getSync({ timeout: 0 }), 5);
  t.is(await q.get({ timeout: 100 }), 6);
  t.is(q.getSync({ timeout: Infinity }), 7);
  t.is(q.qsize(), 0);
  t.true(q.empty());
});

test('FIFO: 1000 items leave in the order they were put', async (t) => {
  const q = new Queue<number>();
  for (let i = 0; i < 1000; i++) {
    if (i % 2) q.putSync(i);
    else await q.put(i);
  }
  const got: number[] = [];
  for (let i = 0; i < 1000; i++) got.push(i % 3 ? q.getSync() : await q.get());
  t.deepEqual(got, Array.from({ length: 1000 }, (_, i) => i));
});

test('exact qsize, empty and full on a bounded queue', async (t) => {
  const q = new Queue<string>(3);
  t.deepEqual([q.qsize(), q.empty(), q.full()], [0, true, false]);
  q.putNowait('a');
  t.deepEqual([q.qsize(), q.empty(), q.full()], [1, false, false]);
  await q.put('b');
  t.deepEqual([q.qsize(), q.empty(), q.full()], [2, false, false]);
  q.putSync('c');
  t.deepEqual([q.qsize(), q.empty(), q.full()], [3, false, true]);
  t.throws(() => q.putNowait('d'), { instanceOf: Full });
  t.deepEqual([q.qsize(), q.empty(), q.full()], [3, false, true]);
  t.is(q.getNowait(), 'a');
  t.deepEqual([q.qsize(), q.empty(), q.full()], [2, false, false]);
  t.is(await q.get(), 'b');
  t.is(q.getSync(), 'c');
  t.deepEqual([q.qsize(), q.empty(), q.full()], [0, true, false]);
});

test('maxsize <= 0, omitted or Infinity means unbounded', (t) => {
  for (const q of [new Queue(), new Queue(0), new Queue(-3), new Queue(Infinity), new Queue({ maxsize: -1 })]) {
    for (let i = 0; i < 50; i++) q.putNowait(i);
    t.false(q.full());
    t.is(q.qsize(), 50);
  }
});

// ---------------------------------------------------------------- Empty / Full and timeouts

test('Empty and Full: classes, name and code', (t) => {
  const e = new Empty();
  const f = new Full();
  const s = new ShutDown();
  const to = new TimeoutError();
  for (const [err, name, code] of [
    [e, 'Empty', 'ERR_MULTIPROC_EMPTY'],
    [f, 'Full', 'ERR_MULTIPROC_FULL'],
    [s, 'ShutDown', 'ERR_MULTIPROC_SHUTDOWN'],
    [to, 'TimeoutError', 'ERR_MULTIPROC_TIMEOUT'],
  ] as const) {
    t.true(err instanceof Error);
    t.true(err instanceof MultiprocError);
    t.is(err.name, name);
    t.is(err.code, code);
  }
  t.false(e instanceof Full);
});

test('get on an empty queue: block:false, timeout 0 and a finite timeout give Empty, sync and async', async (t) => {
  const q = new Queue<number>();
  await t.throwsAsync(q.get({ block: false }), { instanceOf: Empty, code: 'ERR_MULTIPROC_EMPTY' });
  await t.throwsAsync(q.get({ block: false, timeout: 1000 }), { instanceOf: Empty });
  await t.throwsAsync(q.get({ timeout: 0 }), { instanceOf: Empty });
  await t.throwsAsync(q.get({ timeout: 15 }), { instanceOf: Empty, name: 'Empty' });
  t.throws(() => q.getSync({ block: false }), { instanceOf: Empty });
  t.throws(() => q.getSync({ timeout: 0 }), { instanceOf: Empty });
  t.throws(() => q.getSync({ timeout: 15 }), { instanceOf: Empty });
  t.throws(() => q.getNowait(), { instanceOf: Empty });
  t.is(q.qsize(), 0);
  // The queue still works after all those failures.
  q.putNowait(9);
  t.is(await q.get({ timeout: 0 }), 9);
});

test('put on a full queue: block:false, timeout 0 and a finite timeout give Full, sync and async', async (t) => {
  const q = new Queue<number>(2);
  q.putSync(1);
  q.putSync(2);
  await t.throwsAsync(q.put(3, { block: false }), { instanceOf: Full, code: 'ERR_MULTIPROC_FULL' });
  await t.throwsAsync(q.put(3, { block: false, timeout: 1000 }), { instanceOf: Full });
  await t.throwsAsync(q.put(3, { timeout: 0 }), { instanceOf: Full });
  await t.throwsAsync(q.put(3, { timeout: 15 }), { instanceOf: Full, name: 'Full' });
  t.throws(() => q.putSync(3, { block: false }), { instanceOf: Full });
  t.throws(() => q.putSync(3, { timeout: 0 }), { instanceOf: Full });
  t.throws(() => q.putSync(3, { timeout: 15 }), { instanceOf: Full });
  t.throws(() => q.putNowait(3), { instanceOf: Full });
  t.is(q.qsize(), 2);
  t.deepEqual(drain(q), [1, 2]);
});

test('a waiting get (no timeout, Infinity, finite) gets the item a later put brings', async (t) => {
  const q = new Queue<string>();
  const forever = q.get();
  const inf = q.get({ timeout: Infinity });
  const finite = q.get({ timeout: 600_000 });
  t.true(await isPending(forever));
  q.putSync('a');
  await q.put('b');
  q.putNowait('c');
  // Waiters are served in the order they started waiting.
  t.deepEqual(await Promise.all([forever, inf, finite]), ['a', 'b', 'c']);
  t.is(q.qsize(), 0);
});

test('a waiting put on a full queue completes once a get makes room', async (t) => {
  const q = new Queue<string>(1);
  q.putSync('a');
  const p1 = q.put('b');
  const p2 = q.put('c', { timeout: Infinity });
  const p3 = q.put('d', { timeout: 600_000 });
  t.true(await isPending(p1));
  t.is(q.qsize(), 1);
  const got: string[] = [];
  got.push(q.getSync());
  await p1;
  got.push(await q.get());
  await p2;
  got.push(q.getSync());
  await p3;
  got.push(q.getNowait());
  t.deepEqual(got, ['a', 'b', 'c', 'd']);
  t.true(q.empty());
});

test('a timeout longer than setTimeout can hold (2^32 ms) does not fire early', async (t) => {
  const q = new Queue<string>();
  const long = q.get({ timeout: 2 ** 32 });
  // Node runs a too-long setTimeout after 1 ms; this 20 ms wait on another queue
  // times out after it would have fired.
  await t.throwsAsync(new Queue().get({ timeout: 20 }), { instanceOf: Empty });
  q.putSync('in time');
  t.is(await long, 'in time');

  const full = new Queue<number>(1);
  full.putSync(1);
  const put = full.put(2, { timeout: 2 ** 32 });
  await t.throwsAsync(new Queue().get({ timeout: 20 }), { instanceOf: Empty });
  t.is(full.getSync(), 1);
  await put;
  t.is(full.getSync(), 2);
});

// ---------------------------------------------------------------- AbortSignal

test('an already-aborted signal rejects get and put with its reason and leaves the queue unchanged', async (t) => {
  const q = new Queue<number>(3);
  q.putSync(1);
  q.putSync(2);
  const reason = new Error('caller gave up');
  const signal = AbortSignal.abort(reason);
  t.is(q.qsize(), 2);
  await t.throwsAsync(q.get({ signal }), { is: reason });
  t.is(q.qsize(), 2);
  await t.throwsAsync(q.put(3, { signal }), { is: reason });
  t.is(q.qsize(), 2);
  // Default reason (a DOMException AbortError) is passed through as is.
  const plain = AbortSignal.abort();
  const caught = await q.get({ signal: plain }).then(
    () => 'resolved',
    (e: unknown) => e,
  );
  t.is(caught, plain.reason);
  t.is(q.qsize(), 2);
  t.deepEqual(drain(q), [1, 2]);
});

test('aborting a waiting get rejects it with the reason; the next put goes to the next waiter', async (t) => {
  const q = new Queue<string>();
  const ac = new AbortController();
  const reason = new Error('stop waiting');
  const aborted = q.get({ signal: ac.signal });
  const next = q.get();
  t.true(await isPending(aborted));
  ac.abort(reason);
  await t.throwsAsync(aborted, { is: reason });
  q.putSync('x');
  t.is(await next, 'x');
  t.is(q.qsize(), 0);
  // No ghost waiter took anything: a fresh put stays in the queue.
  q.putSync('y');
  t.is(q.qsize(), 1);
  t.is(q.getNowait(), 'y');
});

test('aborting a waiting put rejects it with the reason and its item is never enqueued', async (t) => {
  const q = new Queue<string>(1);
  q.putSync('first');
  const ac = new AbortController();
  const reason = new Error('no room in time');
  const aborted = q.put('aborted', { signal: ac.signal });
  const next = q.put('next');
  ac.abort(reason);
  await t.throwsAsync(aborted, { is: reason });
  t.is(q.qsize(), 1);
  t.is(q.getSync(), 'first');
  await next;
  t.deepEqual(drain(q), ['next']);
});

// ---------------------------------------------------------------- shutdown

test('shutdown: put fails with ShutDown in every form; get drains, then ShutDown', async (t) => {
  const q = new Queue<number>();
  q.putSync(1);
  q.putSync(2);
  q.putSync(3);
  q.shutdown();
  await t.throwsAsync(q.put(4), { instanceOf: ShutDown, code: 'ERR_MULTIPROC_SHUTDOWN' });
  t.throws(() => q.putSync(4), { instanceOf: ShutDown });
  t.throws(() => q.putNowait(4), { instanceOf: ShutDown });
  t.is(q.qsize(), 3);
  t.is(await q.get(), 1);
  t.is(q.getSync(), 2);
  t.is(q.getNowait(), 3);
  await t.throwsAsync(q.get(), { instanceOf: ShutDown });
  await t.throwsAsync(q.get({ block: false }), { instanceOf: ShutDown });
  t.throws(() => q.getSync(), { instanceOf: ShutDown });
  t.throws(() => q.getSync({ timeout: 0 }), { instanceOf: ShutDown });
  t.throws(() => q.getNowait(), { instanceOf: ShutDown });
  q.shutdown(); // twice is fine
  t.is(q.qsize(), 0);
});

test('shutdown({ immediate: true }) discards the items at once', async (t) => {
  const q = new Queue<number>(5);
  for (let i = 0; i < 5; i++) q.putSync(i);
  q.shutdown({ immediate: true });
  t.is(q.qsize(), 0);
  t.true(q.empty());
  t.false(q.full());
  t.throws(() => q.getNowait(), { instanceOf: ShutDown });
  await t.throwsAsync(q.get(), { instanceOf: ShutDown });
  t.throws(() => q.putNowait(9), { instanceOf: ShutDown });
});

test('shutdown wakes every pending async get with ShutDown', async (t) => {
  const q = new Queue<number>();
  const other = Queue.attach<number>(q.handle);
  const gets = [q.get(), q.get({ timeout: 600_000 }), q.get({ signal: new AbortController().signal })];
  const otherGet = other.get();
  t.true(await isPending(gets[0]));
  q.shutdown();
  for (const g of [...gets, otherGet]) await t.throwsAsync(g, { instanceOf: ShutDown });
});

test('shutdown from another instance wakes pending async puts on a full queue with ShutDown', async (t) => {
  const q = new Queue<number>(1);
  q.putSync(0);
  const puts = [q.put(1), q.put(2, { timeout: 600_000 })];
  t.true(await isPending(puts[0]));
  // Through an attached instance: the wake-up must come through shared memory.
  Queue.attach(q.handle).shutdown();
  for (const p of puts) await t.throwsAsync(p, { instanceOf: ShutDown });
  t.is(q.qsize(), 1);
  t.is(q.getNowait(), 0);
  t.throws(() => q.getNowait(), { instanceOf: ShutDown });
});

test('shutdown with bad options is a TypeError', (t) => {
  const q = new Queue();
  t.throws(() => q.shutdown(null as unknown as undefined), { instanceOf: TypeError });
  t.throws(() => q.shutdown({ immediate: 'yes' as unknown as boolean }), { instanceOf: TypeError });
  t.notThrows(() => q.putNowait(1));
});

// ---------------------------------------------------------------- for await

test('for await yields the remaining items in order, then ends at shutdown', async (t) => {
  const q = new Queue<number>();
  for (let i = 0; i < 5; i++) q.putSync(i);
  q.shutdown();
  const got: number[] = [];
  for await (const x of q) got.push(x);
  t.deepEqual(got, [0, 1, 2, 3, 4]);
});

test('for await waits for items put later and ends when the queue is shut down', async (t) => {
  const q = new Queue<number>();
  const ack = new Queue<number>();
  const got: number[] = [];
  const loop = (async () => {
    for await (const x of q) {
      got.push(x);
      ack.putSync(x);
    }
  })();
  for (let i = 0; i < 20; i++) {
    await q.put(i);
    t.is(await ack.get(), i);
  }
  await q.put(20);
  await q.put(21);
  q.shutdown();
  await loop;
  t.deepEqual(got, Array.from({ length: 22 }, (_, i) => i));
});

test('breaking out of for await leaves the other items in the queue', async (t) => {
  const q = new Queue<number>();
  for (let i = 0; i < 5; i++) q.putSync(i);
  for await (const x of q) if (x === 1) break;
  t.deepEqual(drain(q), [2, 3, 4]);
});

// ---------------------------------------------------------------- close / joinThread

test('close: this handle puts no more (Error), gets still work, other handles still put', async (t) => {
  const q = new Queue<number>();
  const other = Queue.attach<number>(q.handle);
  q.putSync(1);
  q.close();
  const err = await t.throwsAsync(q.put(2));
  t.false(err instanceof ShutDown);
  t.throws(() => q.putSync(2), { instanceOf: Error, message: /closed/ });
  t.throws(() => q.putNowait(2), { instanceOf: Error, message: /closed/ });
  other.putSync(3);
  t.is(await q.get(), 1);
  t.is(q.getSync(), 3);
  t.is(q.qsize(), 0);
});

test('joinThread rejects unless the queue is closed, and resolves after close', async (t) => {
  const q = new Queue<number>();
  let p: Promise<void> | undefined;
  t.notThrows(() => {
    p = q.joinThread();
  });
  await t.throwsAsync(p!, { instanceOf: Error, message: /close/ });
  q.putSync(1);
  q.close();
  await t.notThrowsAsync(q.joinThread());
  t.is(q.getSync(), 1);
});

test('a pending put on a full queue resolves once room is made; joinThread after close waits for it', async (t) => {
  const q = new Queue<string>(1);
  q.putSync('a');
  const events: string[] = [];
  const put = q.put('b').then(() => events.push('put'));
  q.close();
  const joined = q.joinThread().then(() => events.push('joinThread'));
  t.true(await isPending(put));
  t.true(await isPending(joined));
  t.deepEqual(events, []);
  t.is(q.getSync(), 'a');
  await joined;
  t.deepEqual(events, ['put', 'joinThread']);
  t.deepEqual(drain(q), ['b']);
});

test('cancelJoinThread: joinThread no longer waits for pending puts', async (t) => {
  const q = new Queue<string>(1);
  q.putSync('a');
  const put = q.put('b');
  q.close();
  const joined = q.joinThread();
  t.true(await isPending(joined));
  q.cancelJoinThread();
  await joined;
  t.true(await isPending(put));
  await t.notThrowsAsync(q.joinThread());
  // The pending put itself still completes when room is made.
  t.is(q.getSync(), 'a');
  await put;
  t.deepEqual(drain(q), ['b']);
});

// ---------------------------------------------------------------- JoinableQueue

test('JoinableQueue: join waits until every item is marked done', async (t) => {
  const q = new JoinableQueue<number>();
  await t.notThrowsAsync(q.join());
  t.notThrows(() => q.joinSync());
  await q.put(1);
  q.putSync(2);
  q.putNowait(3);
  t.is(q.unfinishedTasks(), 3);
  const joined = q.join();
  const joinedInf = q.join({ timeout: Infinity });
  t.is(q.getSync(), 1);
  q.taskDone();
  t.is(await q.get(), 2);
  q.taskDone();
  t.is(q.unfinishedTasks(), 1);
  t.true(await isPending(joined));
  t.is(q.getNowait(), 3);
  t.is(q.unfinishedTasks(), 1); // a get alone does not finish the task
  q.taskDone();
  t.is(q.unfinishedTasks(), 0);
  await joined;
  await joinedInf;
  t.notThrows(() => q.joinSync({ timeout: 0 }));
  await t.notThrowsAsync(q.join({ timeout: 0 }));
});

test('JoinableQueue: a join whose timeout expires throws TimeoutError, sync and async', async (t) => {
  const q = new JoinableQueue<number>();
  q.putSync(1);
  await t.throwsAsync(q.join({ timeout: 0 }), { instanceOf: TimeoutError, code: 'ERR_MULTIPROC_TIMEOUT' });
  await t.throwsAsync(q.join({ timeout: 15 }), { instanceOf: TimeoutError, name: 'TimeoutError' });
  t.throws(() => q.joinSync({ timeout: 0 }), { instanceOf: TimeoutError });
  t.throws(() => q.joinSync({ timeout: 15 }), { instanceOf: TimeoutError });
  t.is(q.unfinishedTasks(), 1);
  q.getSync();
  q.taskDone();
  t.notThrows(() => q.joinSync({ timeout: 15 }));
});

test('JoinableQueue: taskDone called too many times throws Error ERR_MULTIPROC_MISUSE', (t) => {
  const q = new JoinableQueue<number>();
  const err = t.throws(() => q.taskDone(), { instanceOf: Error, code: 'ERR_MULTIPROC_MISUSE' });
  t.false(err instanceof TypeError);
  t.regex(err!.message, /taskDone/);
  q.putSync(1);
  q.getSync();
  q.taskDone();
  t.throws(() => q.taskDone(), { code: 'ERR_MULTIPROC_MISUSE' });
  t.is(q.unfinishedTasks(), 0);
});

test('JoinableQueue: shutdown({ immediate: true }) counts the discarded items as done', async (t) => {
  const q = new JoinableQueue<number>();
  for (let i = 0; i < 4; i++) q.putSync(i);
  t.is(q.getSync(), 0); // taken but not yet done
  const joined = q.join();
  q.shutdown({ immediate: true });
  t.is(q.qsize(), 0);
  t.is(q.unfinishedTasks(), 1); // three discarded, one still being processed
  t.true(await isPending(joined));
  q.taskDone();
  await joined;
  t.notThrows(() => q.joinSync({ timeout: 0 }));

  const all = new JoinableQueue<number>();
  for (let i = 0; i < 3; i++) all.putSync(i);
  const j = all.join();
  all.shutdown({ immediate: true });
  await j;
  t.is(all.unfinishedTasks(), 0);
});

test('JoinableQueue: join with a signal rejects with its reason and leaves the count', async (t) => {
  const q = new JoinableQueue<number>();
  q.putSync(1);
  const reason = new Error('no');
  await t.throwsAsync(q.join({ signal: AbortSignal.abort(reason) }), { is: reason });
  const ac = new AbortController();
  const waiting = q.join({ signal: ac.signal });
  ac.abort(reason);
  await t.throwsAsync(waiting, { is: reason });
  t.is(q.unfinishedTasks(), 1);
  q.getSync();
  q.taskDone();
  await q.join();
});

test('JoinableQueue: the count is shared by attached instances', async (t) => {
  const a = new JoinableQueue<string>();
  const b = JoinableQueue.attach<string>(a.handle);
  t.true(b instanceof JoinableQueue);
  a.putSync('x');
  b.putSync('y');
  t.is(a.unfinishedTasks(), 2);
  const joined = a.join();
  t.is(b.getSync(), 'x');
  b.taskDone();
  t.is(a.getSync(), 'y');
  a.taskDone();
  await joined;
  t.is(b.unfinishedTasks(), 0);
});

// ---------------------------------------------------------------- SimpleQueue

test('SimpleQueue: put, putSync, get, getSync, empty, close', async (t) => {
  const q = new SimpleQueue<number>();
  t.true(q instanceof Queue);
  t.true(q.empty());
  await q.put(1);
  q.putSync(2);
  t.false(q.empty());
  const waiting = q.get();
  t.is(await waiting, 1);
  t.is(q.getSync(), 2);
  const pending = q.get();
  q.putSync(3);
  t.is(await pending, 3);
  q.close();
  t.throws(() => q.putSync(4), { instanceOf: Error, message: /closed/ });
  t.true(q.empty());
  t.true(SimpleQueue.attach(q.handle) instanceof SimpleQueue);
  t.throws(() => new SimpleQueue(null as unknown as undefined), { instanceOf: TypeError });
});

// ---------------------------------------------------------------- sizes

test('an unbounded put never blocks: 100,000 puts with no consumer, then an exact drain', async (t) => {
  t.timeout(120_000);
  const q = new Queue<{ i: number }>();
  const n = 100_000;
  for (let i = 0; i < n; i++) {
    if (i % 3 === 0) q.putNowait({ i });
    else q.putSync({ i }, { block: false });
  }
  // The async form never waits either.
  for (let i = n; i < n + 5000; i++) await q.put({ i }, { timeout: 0 });
  t.is(q.qsize(), n + 5000);
  t.false(q.full());
  let bad = 0;
  for (let i = 0; i < n + 5000; i++) if (q.getNowait().i !== i) bad++;
  t.is(bad, 0);
  t.is(q.qsize(), 0);
  t.throws(() => q.getNowait(), { instanceOf: Empty });
});

test('an item larger than capacityBytes goes through (4 KiB ring, 1 MiB item)', async (t) => {
  const q = new Queue<unknown>({ capacityBytes: 4096 });
  const big = randomBytes(1 << 20);
  const sum = sha(big);
  q.putSync('before');
  q.putSync(big);
  await q.put({ text: 'x'.repeat(1 << 20), n: 7 });
  await q.put(new Float64Array(200_000).fill(Math.PI));
  q.putSync('after');
  t.is(q.qsize(), 5);
  t.is(q.getSync(), 'before');
  const got = q.getSync() as Buffer;
  t.true(Buffer.isBuffer(got));
  t.is(got.length, 1 << 20);
  t.is(sha(got), sum);
  const obj = (await q.get()) as { text: string; n: number };
  t.is(obj.text.length, 1 << 20);
  t.is(obj.n, 7);
  const f = (await q.get()) as Float64Array;
  t.is(f.constructor, Float64Array);
  t.is(f.length, 200_000);
  t.true(f.every((x) => x === Math.PI));
  t.is(q.getNowait(), 'after');
  // The grown queue keeps working in both directions.
  for (let i = 0; i < 100; i++) q.putSync(randomBytes(10_000));
  t.is(q.qsize(), 100);
  t.is(drain(q).length, 100);
});

// ---------------------------------------------------------------- values

test('structured-clone values arrive equal', async (t) => {
  const q = new Queue<unknown>();
  const values: unknown[] = [
    undefined,
    null,
    true,
    0,
    -0,
    42,
    -1.5,
    NaN,
    Infinity,
    Number.MAX_SAFE_INTEGER,
    '',
    'héllo wörld ✓ 𝄞',
    'x'.repeat(100_000),
    123n,
    -(2n ** 200n),
    new Date('2024-02-29T12:34:56.789Z'),
    /a+b*/gi,
    new Map<unknown, unknown>([
      ['a', 1],
      [2, { b: [3] }],
    ]),
    new Set([1, 'two', 3n]),
    { nested: { deep: { list: [1, [2, [3, { four: 4 }]]], when: new Date(0) } }, u: undefined },
    [1, undefined, null, 'x'],
  ];
  for (const v of values) await q.put(v);
  for (const v of values) {
    const got = q.getSync();
    if (typeof v === 'number' && Number.isNaN(v)) t.true(Number.isNaN(got));
    else if (Object.is(v, -0)) t.true(Object.is(got, -0));
    else t.deepEqual(got, v);
  }
  const d = new Date(1234);
  q.putSync(d);
  t.true(q.getSync() instanceof Date);
  q.putSync(/x/m);
  const re = q.getSync() as RegExp;
  t.true(re instanceof RegExp);
  t.is(re.flags, 'm');
});

test('plain data arrives exactly as structured clone gives it (edge cases of the fast path)', (t) => {
  const q = new Queue<unknown>();
  const values: unknown[] = [
    '\ud800 lone surrogates \udfff',
    { s: '\udc00', nul: 'a\u0000b', emoji: '𝄞' },
    JSON.parse('{"__proto__": {"a": 1}, "b": 2}'),
    { big: 1e21, tiny: 5e-324, neg: -1e308, beyondSafe: 2 ** 53 + 2 },
    { 2: 'b', 1: 'a', x: 'c' },
    [[[]], {}, [{}]],
    [1, , 3], // sparse
    { a: 1, neg0: -0 },
    { a: undefined, b: 1 },
    Object.defineProperty({ a: 1 }, 'hidden', { value: 2, enumerable: false }),
    { [Symbol('key')]: 1, a: 1 },
    Object.assign(Object.create(null) as object, { a: 1 }),
    { get computed() {
      return 5;
    } },
  ];
  for (const v of values) {
    q.putSync(v);
    const got = q.getSync();
    const ref = v8.deserialize(v8.serialize(v)) as unknown;
    t.deepEqual(got, ref);
    if (typeof ref === 'object' && ref !== null) {
      t.deepEqual(Object.keys(got as object), Object.keys(ref));
      t.is(Object.getPrototypeOf(got), Object.getPrototypeOf(ref));
    }
  }
  q.putSync({ n: -0 });
  t.true(Object.is((q.getSync() as { n: number }).n, -0));
});

test('an array with a named property keeps it, as with structured clone', (t) => {
  const q = new Queue<unknown>();
  q.putSync(Object.assign([1, 2], { label: 'x' }));
  t.is((q.getSync() as { label?: string }).label, 'x');
});

test('cycles and shared references survive', (t) => {
  type Node = { name: string; self?: Node; peer?: Node; list: Node[] };
  const a: Node = { name: 'a', list: [] };
  const b: Node = { name: 'b', peer: a, list: [a] };
  a.self = a;
  a.peer = b;
  a.list.push(b, a);
  const q = new Queue<Node>();
  q.putSync(a);
  const got = q.getSync();
  t.is(got.self, got);
  t.is(got.peer!.peer!, got);
  t.is(got.list[0], got.peer!);
  t.is(got.list[1], got);
  t.is(got.peer!.list[0], got);
  const m = new Map<string, unknown>();
  m.set('me', m);
  q.putSync(m as unknown as Node);
  const gm = q.getSync() as unknown as Map<string, unknown>;
  t.is(gm.get('me'), gm);
});

const typedCtors = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
] as const;

function sample(ctor: (typeof typedCtors)[number], offsetElems: number): ArrayBufferView & { length: number } {
  const n = 37;
  const per = ctor.BYTES_PER_ELEMENT;
  // A view into the middle of a larger buffer: byteOffset and length must not leak.
  const ab = new ArrayBuffer((n + offsetElems + 3) * per);
  const v = new ctor(ab, offsetElems * per, n);
  for (let i = 0; i < n; i++) {
    if (v instanceof BigInt64Array) v[i] = BigInt(i * 1000 - 9999);
    else if (v instanceof BigUint64Array) v[i] = BigInt(i) * 2n ** 40n;
    else (v as Float64Array)[i] = (i * 37 - 500) / (ctor === Float32Array || ctor === Float64Array ? 4 : 1);
  }
  return v as ArrayBufferView & { length: number };
}

test('every typed array type arrives as the same constructor with the same contents, alone or nested', async (t) => {
  const q = new Queue<unknown>();
  for (const ctor of typedCtors) {
    for (const off of [0, 1, 3]) {
      const v = sample(ctor, off);
      const expected = Array.from(v as unknown as ArrayLike<unknown>);
      q.putSync(v);
      await q.put({ inside: v });
      const alone = q.getSync() as ArrayLike<unknown>;
      const nested = ((await q.get()) as { inside: ArrayLike<unknown> }).inside;
      for (const [where, got] of [
        ['alone', alone],
        ['nested', nested],
      ] as const) {
        t.is(got.constructor, ctor, `${ctor.name} ${where}`);
        t.false(Buffer.isBuffer(got), `${ctor.name} ${where}`);
        t.deepEqual(Array.from(got), expected, `${ctor.name} ${where}`);
      }
    }
  }
  // Empty ones too.
  for (const ctor of typedCtors) {
    q.putSync(new ctor(0));
    const got = q.getSync() as ArrayLike<unknown>;
    t.is(got.constructor, ctor);
    t.is(got.length, 0);
  }
});

test('Buffer arrives as a Buffer; DataView and ArrayBuffer as themselves', async (t) => {
  const q = new Queue<unknown>();
  const buf = randomBytes(1000);
  const slice = buf.subarray(100, 300);
  q.putSync(buf);
  q.putSync(slice);
  q.putSync(Buffer.alloc(0));
  await q.put({ b: buf });
  for (const exp of [buf, slice, Buffer.alloc(0)]) {
    const got = q.getSync() as Buffer;
    t.true(Buffer.isBuffer(got));
    t.true(got.equals(exp));
  }
  const nested = (q.getSync() as { b: Buffer }).b;
  t.true(Buffer.isBuffer(nested));
  t.true(nested.equals(buf));

  const ab = new ArrayBuffer(64);
  new Uint8Array(ab).set(randomBytes(64));
  const dv = new DataView(ab, 8, 20);
  q.putSync(dv);
  await q.put({ dv });
  for (const got of [q.getSync() as DataView, (q.getSync() as { dv: DataView }).dv]) {
    t.is(got.constructor, DataView);
    t.is(got.byteLength, 20);
    t.deepEqual(
      Buffer.from(got.buffer, got.byteOffset, got.byteLength),
      Buffer.from(ab, 8, 20),
    );
  }
  q.putSync(ab);
  q.putSync({ ab });
  for (const got of [q.getSync() as ArrayBuffer, (q.getSync() as { ab: ArrayBuffer }).ab]) {
    t.true(got instanceof ArrayBuffer);
    t.is(got.byteLength, 64);
    t.true(Buffer.from(got).equals(Buffer.from(ab)));
  }
  // The caller may reuse its buffer after put: the queue kept a copy.
  const reused = Buffer.from('original');
  q.putSync(reused);
  reused.write('CHANGED!');
  t.is((q.getSync() as Buffer).toString(), 'original');
});

test('a buffer changed while its async put waits for room is sent as it was at put', async (t) => {
  const q = new Queue<unknown>(1);
  q.putSync('block');
  const b = Buffer.from('before');
  const p = q.put(b);
  b.write('after!');
  t.is(q.getSync(), 'block');
  await p;
  t.is((q.getSync() as Buffer).toString(), 'before');
});

test('a value that cannot be cloned throws DataCloneError and nothing is enqueued', async (t) => {
  const q = new Queue<unknown>(5);
  q.putSync('kept');
  const bad: unknown[] = [() => 1, Symbol('s'), { f() {} }, [1, Symbol.iterator], new Map([['k', () => 2]]), new WeakMap()];
  for (const v of bad) {
    const e1 = t.throws(() => q.putSync(v), { instanceOf: DataCloneError });
    t.true(e1 instanceof TypeError);
    t.is(e1!.name, 'DataCloneError');
    t.throws(() => q.putNowait(v), { instanceOf: DataCloneError });
    let p: Promise<void> | undefined;
    t.notThrows(() => {
      p = q.put(v);
    });
    await t.throwsAsync(p!, { instanceOf: TypeError, name: 'DataCloneError' });
    t.is(q.qsize(), 1);
  }
  // Also when the bad value sits next to a shared object.
  t.throws(() => q.putSync({ q: new Queue(), f: () => 0 }), { instanceOf: DataCloneError });
  t.is(q.qsize(), 1);
  t.is(q.getNowait(), 'kept');
  t.throws(() => q.getNowait(), { instanceOf: Empty });
});

// ---------------------------------------------------------------- shared objects inside items

test('a queue inside an item (itself, object, array, Map, Set) arrives attached and works', async (t) => {
  const carrier = new Queue<unknown>();
  const inner = new Queue<string>();
  const joinable = new JoinableQueue<string>();
  const simple = new SimpleQueue<string>();
  carrier.putSync(inner);
  await carrier.put({ q: inner, label: 'obj' });
  carrier.putSync([1, inner, 'x']);
  carrier.putSync(new Map<string, unknown>([['jq', joinable], ['n', 1]]));
  carrier.putSync(new Set([simple]));
  carrier.putSync({ deep: { deeper: [{ again: inner }] }, same: inner });

  const direct = carrier.getSync() as Queue<string>;
  const obj = (await carrier.get()) as { q: Queue<string>; label: string };
  const arr = carrier.getSync() as [number, Queue<string>, string];
  const map = carrier.getSync() as Map<string, unknown>;
  const set = carrier.getSync() as Set<SimpleQueue<string>>;
  const deep = carrier.getSync() as { deep: { deeper: [{ again: Queue<string> }] }; same: Queue<string> };

  t.is(obj.label, 'obj');
  t.is(arr[0], 1);
  t.is(arr[2], 'x');
  t.is(map.get('n'), 1);
  const copies = [direct, obj.q, arr[1], deep.deep.deeper[0].again, deep.same];
  for (const [i, c] of copies.entries()) {
    t.true(c instanceof Queue);
    t.not(c, inner);
    c.putSync(`via copy ${i}`);
  }
  t.deepEqual(drain(inner), copies.map((_, i) => `via copy ${i}`));
  inner.putSync('to copy');
  t.is(await obj.q.get(), 'to copy');
  // One revived object per shared reference within an item.
  t.is(deep.same, deep.deep.deeper[0].again);

  const jq = map.get('jq') as JoinableQueue<string>;
  t.true(jq instanceof JoinableQueue);
  jq.putSync('job');
  t.is(joinable.unfinishedTasks(), 1);
  t.is(joinable.getSync(), 'job');
  jq.taskDone();
  await joinable.join();

  const sq = [...set][0];
  t.true(sq instanceof SimpleQueue);
  sq.putSync('simple');
  t.is(simple.getSync(), 'simple');
});

// ---------------------------------------------------------------- bad input

const badWaits: [string, unknown, new (...a: never[]) => Error][] = [
  ['timeout -1', { timeout: -1 }, RangeError],
  ['timeout NaN', { timeout: NaN }, RangeError],
  ['timeout -Infinity', { timeout: -Infinity }, RangeError],
  ["timeout '5'", { timeout: '5' }, TypeError],
  ['timeout 5n', { timeout: 5n }, TypeError],
  ["block 'yes'", { block: 'yes' }, TypeError],
  ['block 1', { block: 1 }, TypeError],
  ['opts null', null, TypeError],
  ['opts 5', 5, TypeError],
  ["opts 'x'", 'x', TypeError],
  ['signal {}', { signal: {} }, TypeError],
  ["signal 'x'", { signal: 'x' }, TypeError],
  ['signal null', { signal: null }, TypeError],
];

test('bad wait options: async forms reject (never throw), sync forms throw, the queue is unchanged', async (t) => {
  const q = new Queue<number>(2);
  q.putSync(1);
  const j = new JoinableQueue<number>();
  j.putSync(1);
  type Call = [string, (o: never) => unknown, boolean];
  const calls: Call[] = [
    ['put', (o) => q.put(2, o), true],
    ['get', (o) => q.get(o), true],
    ['join', (o) => j.join(o), true],
    ['putSync', (o) => q.putSync(2, o), false],
    ['getSync', (o) => q.getSync(o), false],
    ['joinSync', (o) => j.joinSync(o), false],
  ];
  for (const [what, opts, cls] of badWaits) {
    for (const [name, call, isAsync] of calls) {
      // `block` is not an option of join; everything else applies to every call.
      if (name.startsWith('join') && what.startsWith('block')) continue;
      const msg = `${name}(${what})`;
      if (isAsync) {
        let p: unknown;
        t.notThrows(() => {
          p = call(opts as never);
        }, msg);
        t.true(p instanceof Promise, msg);
        const err = await t.throwsAsync(p as Promise<unknown>, { instanceOf: cls }, msg);
        if (cls === TypeError) t.false(err instanceof RangeError, msg);
      } else {
        t.throws(() => call(opts as never), { instanceOf: cls }, msg);
      }
    }
  }
  t.is(q.qsize(), 1);
  t.is(j.unfinishedTasks(), 1);
});

test('bad constructor arguments throw the right class', (t) => {
  const cases: [string, () => unknown, new (...a: never[]) => Error][] = [
    ['maxsize NaN', () => new Queue(NaN), RangeError],
    ['{ maxsize: NaN }', () => new Queue({ maxsize: NaN }), RangeError],
    ["maxsize 'x'", () => new Queue('x' as unknown as number), TypeError],
    ["{ maxsize: 'x' }", () => new Queue({ maxsize: 'x' as unknown as number }), TypeError],
    ['opts null', () => new Queue(null as unknown as number), TypeError],
    ['opts true', () => new Queue(true as unknown as number), TypeError],
    ['capacityBytes 0', () => new Queue({ capacityBytes: 0 }), RangeError],
    ['capacityBytes -1', () => new Queue({ capacityBytes: -1 }), RangeError],
    ['capacityBytes 1.5', () => new Queue({ capacityBytes: 1.5 }), RangeError],
    ['capacityBytes NaN', () => new Queue({ capacityBytes: NaN }), RangeError],
    ["capacityBytes '4096'", () => new Queue({ capacityBytes: '4096' as unknown as number }), TypeError],
    ["name ''", () => new Queue({ name: '' }), RangeError],
    ["name 'a/b'", () => new Queue({ name: 'a/b' }), TypeError],
    ['name 123', () => new Queue({ name: 123 as unknown as string }), TypeError],
    ['name too long', () => new Queue({ name: 'n'.repeat(201) }), RangeError],
    ["JoinableQueue maxsize 'x'", () => new JoinableQueue('x' as unknown as number), TypeError],
    ["SimpleQueue name ''", () => new SimpleQueue({ name: '' }), RangeError],
  ];
  for (const [what, make, cls] of cases) {
    const err = t.throws(make, { instanceOf: cls }, what);
    if (cls === TypeError) t.false(err instanceof RangeError, what);
  }
});

// ---------------------------------------------------------------- handles

test('handle is a plain structured-cloneable object; attach returns the right class, bound to the same queue', (t) => {
  const q = new Queue<string>(2);
  const h = q.handle;
  t.is(Object.getPrototypeOf(h), Object.prototype);
  t.deepEqual(structuredClone(h), h);
  t.deepEqual(JSON.parse(JSON.stringify(h)), h);
  t.is(h.type, 'Queue');
  const a = Queue.attach<string>(structuredClone(h));
  t.true(a instanceof Queue);
  t.false(a instanceof JoinableQueue);
  a.putSync('x');
  t.is(q.qsize(), 1);
  t.is(q.getSync(), 'x');
  q.putSync('y');
  q.putSync('z');
  t.true(a.full()); // the bound travels with the queue
  t.deepEqual(drain(a), ['y', 'z']);

  const jq = new JoinableQueue();
  t.is(jq.handle.type, 'JoinableQueue');
  t.true(Queue.attach(jq.handle) instanceof JoinableQueue);
  const sq = new SimpleQueue();
  t.is(sq.handle.type, 'SimpleQueue');
  t.true(Queue.attach(sq.handle) instanceof SimpleQueue);
  t.throws(() => JoinableQueue.attach(h), { instanceOf: TypeError });
});

test('malformed handles are a TypeError', (t) => {
  const h = new Queue().handle;
  const cases: [string, unknown][] = [
    ['null', null],
    ['undefined', undefined],
    ['a string', 'handle'],
    ['a number', 42],
    ['{}', {}],
    ['no type', { ...h, type: undefined }],
    ['type Lock', { ...h, type: 'Lock' }],
    ['type 5', { ...h, type: 5 }],
    ['kind string', { ...h, kind: '1' }],
    ['no kind', { ...h, kind: undefined }],
    ['token number', { ...h, token: 5 }],
    ['no token', { ...h, token: undefined }],
    ['holders string', { ...h, holders: '1,2' }],
    ['no holders', { ...h, holders: undefined }],
    ['negative holder', { ...h, holders: [-1, 3] }],
    ['fractional holder', { ...h, holders: [1.5, 3] }],
    ['NaN holder', { ...h, holders: [NaN, 3] }],
    ['string holder', { ...h, holders: ['1', '3'] }],
    ['name number', { ...h, name: 5 }],
    ["name 'a/b'", { ...h, name: 'a/b' }],
    ["name ''", { ...h, name: '' }],
  ];
  for (const [what, bad] of cases) {
    t.throws(() => Queue.attach(bad as QueueHandle), { instanceOf: TypeError }, what);
  }
});

test('well-formed but forged or stale handles are Error ERR_MULTIPROC_BAD_HANDLE, never a crash', (t) => {
  const q = new Queue<number>();
  const h = q.handle;
  const [pid, fd] = h.holders;
  const other = new Queue();
  const otherFd = other.handle.holders[1];

  // Files that are not segments, held open by this process.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-forge-'));
  const zeros = path.join(dir, 'zeros');
  fs.writeFileSync(zeros, Buffer.alloc(8192));
  const fake = path.join(dir, 'fake');
  const hdr = Buffer.alloc(8192);
  hdr.write('MPROCSEG', 0, 'latin1'); // magic
  hdr.writeUInt32LE(1, 8); // version
  hdr.writeUInt32LE(1, 12); // kind: Queue
  hdr.writeBigUInt64LE(2n ** 50n, 32); // ctrl_len far past the end
  fs.writeFileSync(fake, hdr);
  const fake2 = path.join(dir, 'fake2');
  hdr.writeBigUInt64LE(100n, 32); // ctrl_len too small for a header
  fs.writeFileSync(fake2, hdr);
  const fds = [zeros, fake, fake2].map((f) => fs.openSync(f, 'r+'));
  t.teardown(() => {
    for (const f of fds) fs.closeSync(f);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const cases: [string, unknown][] = [
    ['wrong token', { ...h, token: '0123456789abcdef0123456789abcdef' }],
    ['token of another queue', { ...h, token: other.handle.token }],
    ['right token, fd of another queue', { ...h, holders: [pid, otherFd] }],
    ['token not hex', { ...h, token: 'z'.repeat(32) }],
    ['token too short', { ...h, token: 'abc' }],
    ['made-up holder pid 1', { ...h, holders: [1, 3] }],
    ['made-up holder fd', { ...h, holders: [pid, 987_654] }],
    ['no such pid', { ...h, holders: [2 ** 31 - 2, fd] }],
    ['holder pid 0', { ...h, holders: [0, 0] }],
    ['huge holder numbers', { ...h, holders: [2 ** 40, 2 ** 40] }],
    ['stdin of this process', { ...h, holders: [pid, 0] }],
    ['a plain file', { ...h, holders: [pid, fds[0]] }],
    ['a file with a forged header (huge ctrl_len)', { ...h, holders: [pid, fds[1]] }],
    ['a file with a forged header (tiny ctrl_len)', { ...h, holders: [pid, fds[2]] }],
    ['no holders', { ...h, holders: [] }],
    ['odd holder list', { ...h, holders: [pid] }],
    ['too many holders', { ...h, holders: Array.from({ length: 66 }, () => 1) }],
    ['unknown kind', { ...h, kind: 99 }],
    ['kind 0', { ...h, kind: 0 }],
    ['kind of a pipe', { ...h, kind: 2 }],
    ['kind of a lock', { ...h, kind: 3 }],
    ['name that does not exist', { ...h, name: uniqueName('missing') }],
  ];
  for (const [what, bad] of cases) {
    t.throws(() => Queue.attach(bad as QueueHandle), { instanceOf: Error, code: 'ERR_MULTIPROC_BAD_HANDLE' }, what);
  }
  // Nothing was disturbed.
  q.putSync(1);
  t.is(Queue.attach<number>(h).getSync(), 1);
  t.is(q.qsize(), 0);
});

// ---------------------------------------------------------------- named queues

test('named queues: two constructors see the same items; unlink removes the file; a second unlink throws', async (t) => {
  const name = uniqueName('q');
  const file = `/dev/shm/multiproc-${name}`;
  const a = new Queue<string>({ name });
  let unlinked = false;
  t.teardown(() => {
    if (!unlinked) a.unlink();
  });
  const b = new Queue<string>({ name });
  t.true(fs.existsSync(file));
  t.is((fs.statSync(file).mode & 0o777).toString(8), '600');
  a.putSync('from a');
  await b.put('from b');
  t.is(a.qsize(), 2);
  t.is(b.getSync(), 'from a');
  t.is(await a.get(), 'from b');
  t.is(b.handle.name, name);
  const viaHandle = Queue.attach<string>(structuredClone(a.handle));
  viaHandle.putSync('via handle');
  t.is(b.getSync(), 'via handle');

  a.unlink();
  unlinked = true;
  t.false(fs.existsSync(file));
  t.throws(() => b.unlink(), { instanceOf: Error, code: 'ERR_MULTIPROC_MISUSE' });
  t.throws(() => a.unlink(), { instanceOf: Error, code: 'ERR_MULTIPROC_MISUSE' });
  // Open instances keep working after unlink.
  a.putSync('still');
  t.is(b.getSync(), 'still');
  // The handle is now stale: the name is gone.
  t.throws(() => Queue.attach(a.handle), { code: 'ERR_MULTIPROC_BAD_HANDLE' });
});

test('named queues: opening an existing name keeps its maxsize and its items', (t) => {
  const name = uniqueName('bounded');
  const a = new Queue<number>({ name, maxsize: 1 });
  t.teardown(() => a.unlink());
  a.putSync(1);
  const b = new Queue<number>({ name, maxsize: 5 });
  t.is(b.qsize(), 1);
  t.true(b.full());
  t.throws(() => b.putNowait(2), { instanceOf: Full });
  t.is(b.getSync(), 1);
  b.putSync(2);
  t.true(a.full());
});

test('named queues: a name unlinked and created again is a new queue; old handles are stale', (t) => {
  const name = uniqueName('again');
  const first = new Queue<string>({ name });
  first.putSync('old');
  const oldHandle = first.handle;
  first.unlink();
  const second = new Queue<string>({ name });
  t.teardown(() => second.unlink());
  t.is(second.qsize(), 0);
  t.throws(() => Queue.attach(oldHandle), { instanceOf: Error, code: 'ERR_MULTIPROC_BAD_HANDLE' });
  t.is(first.getSync(), 'old');
  second.putSync('new');
  t.is(Queue.attach<string>(second.handle).getSync(), 'new');
});

test('unnamed queues cannot be unlinked', (t) => {
  t.throws(() => new Queue().unlink(), { instanceOf: Error, code: 'ERR_MULTIPROC_MISUSE' });
});
