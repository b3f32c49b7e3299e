/**
 * Queues across real child processes (and threads inside them): N producers ×
 * M consumers with exact multisets and per-producer order, sync and async
 * forms, producers that exit the instant a put returns, named queues opened
 * by unrelated processes, queues sent inside items, JoinableQueue across
 * processes, shutdown waking blocked children, and a maxsize-1 ping-pong.
 */
import test, { type ExecutionContext } from 'ava';

import { JoinableQueue, Queue, ShutDown } from 'multiproc';

import type { Item, Report } from './fixtures/proc-lib';
import { exited, forkFixture, reap, shmEntries, uniqueName } from './helpers';

// Serial: `reap` kills every live child, including those of a test still running.
test.afterEach.always(reap);

const ok = { code: 0, signal: null };

/**
 * Checks consumer reports against `producers × n` items: every (p, i) exactly
 * once, and each consumer saw each producer's items in increasing order (FIFO).
 */
function checkReports(t: ExecutionContext, reports: Report[], producers: number, n: number): void {
  const seen = new Map<string, string>();
  let dup = 0;
  let disorder = 0;
  for (const r of reports) {
    const last = new Map<number, number>();
    for (const [p, i] of r.items) {
      const key = `${p}:${i}`;
      if (seen.has(key)) dup++;
      seen.set(key, r.id);
      if ((last.get(p) ?? -1) >= i) disorder++;
      last.set(p, i);
    }
  }
  t.is(dup, 0, 'no item received twice');
  t.is(disorder, 0, 'per consumer, each producer’s items arrive in increasing order');
  t.is(seen.size, producers * n, 'every item received');
  for (let p = 0; p < producers; p++) for (let i = 0; i < n; i++) if (!seen.has(`${p}:${i}`)) t.fail(`missing ${p}:${i}`);
}

/** Takes exactly `count` items that are already in `q` (no waiting). */
function drainNow<T>(q: Queue<T>, count: number): T[] {
  const out: T[] = [];
  for (let k = 0; k < count; k++) out.push(q.getNowait());
  return out;
}

async function producersAndConsumers(t: ExecutionContext, mode: 'sync' | 'async'): Promise<void> {
  t.timeout(60_000);
  const N = 3000;
  // Small bound: producers really block on a full queue.
  const q = new Queue<Item>(16);
  const r = new Queue<Report>();
  const producers = [0, 1, 2].map((id) => forkFixture('proc-producer', { q: q.handle, id, n: N, mode }));
  const consumers = [0, 1].map((k) => forkFixture('proc-consumer', { q: q.handle, r: r.handle, id: `c${k}`, mode }));
  for (const p of producers) t.deepEqual(await exited(p), ok);
  // Consumers drain what is left, then get ShutDown and report.
  q.shutdown();
  for (const c of consumers) t.deepEqual(await exited(c), ok);
  // Each consumer's report was in shared memory before it exited.
  t.is(r.qsize(), 2);
  checkReports(t, drainNow(r, 2), 3, N);
  t.is(q.qsize(), 0);
}

test.serial('3 producer × 2 consumer processes, sync forms: exact multiset, per-producer FIFO', (t) =>
  producersAndConsumers(t, 'sync'));

test.serial('3 producer × 2 consumer processes, async forms: exact multiset, per-producer FIFO', (t) =>
  producersAndConsumers(t, 'async'));

test.serial('mixed: producer processes; consumers are threads in a child process and the main thread', async (t) => {
  t.timeout(60_000);
  const N = 2000;
  const q = new Queue<Item>(32);
  const r = new Queue<Report>();
  const producers = [
    forkFixture('proc-producer', { q: q.handle, id: 0, n: N, mode: 'sync' }),
    forkFixture('proc-producer', { q: q.handle, id: 1, n: N, mode: 'async' }),
    forkFixture('proc-producer', { q: q.handle, id: 2, n: N, mode: 'sync' }),
  ];
  const host = forkFixture('proc-thread-host', {
    q: q.handle,
    r: r.handle,
    workers: [
      { id: 'thread-sync', mode: 'sync' },
      { id: 'thread-async', mode: 'async' },
    ],
  });
  const mine: [number, number][] = [];
  const mainDone = (async () => {
    for await (const x of q) mine.push([x.p, x.i]);
  })();
  for (const p of producers) t.deepEqual(await exited(p), ok);
  q.shutdown();
  await mainDone;
  t.deepEqual(await exited(host), ok);
  t.is(r.qsize(), 2);
  const reports = drainNow(r, 2);
  t.deepEqual(reports.map((x) => x.id).sort(), ['thread-async', 'thread-sync']);
  checkReports(t, [...reports, { id: 'main', items: mine }], 3, N);
});

for (const mode of ['sync', 'async'] as const) {
  test.serial(`a producer that exits the instant ${mode === 'sync' ? 'putSync' : 'await put'} returns: every item arrives (unbounded)`, async (t) => {
    // 40 items of 100 KiB: more than the initial 1 MiB ring, so the ring grows on the way.
    const n = 40;
    const pad = 100 * 1024;
    const q = new Queue<Item>();
    const child = forkFixture('proc-producer', { q: q.handle, id: 5, n, mode, pad, exitAtOnce: true });
    t.deepEqual(await exited(child), ok);
    t.is(q.qsize(), n);
    const items = drainNow(q, n);
    t.deepEqual(items.map((x) => x.i), [...Array(n).keys()]);
    t.true(items.every((x) => x.p === 5 && Buffer.isBuffer(x.pad) && x.pad.length === pad && x.pad.every((b) => b === ((5 * 31 + x.i) & 0xff))));
    t.true(q.empty());
  });

  test.serial(`a producer that exits the instant ${mode === 'sync' ? 'putSync' : 'await put'} returns: every item arrives (maxsize 2, puts wait)`, async (t) => {
    const n = 300;
    const q = new Queue<Item>(2);
    const child = forkFixture('proc-producer', { q: q.handle, id: 6, n, mode, exitAtOnce: true });
    // Read all but the last two: the producer's last puts may complete only as we read.
    const got: number[] = [];
    for (let k = 0; k < n - 2; k++) got.push((await q.get()).i);
    t.deepEqual(await exited(child), ok);
    t.is(q.qsize(), 2);
    got.push(...drainNow(q, 2).map((x) => x.i));
    t.deepEqual(got, [...Array(n).keys()]);
  });
}

test.serial('named queues opened by name in an unrelated process, then unlinked', async (t) => {
  const up = uniqueName('proc-up');
  const down = uniqueName('proc-down');
  const n = 100;
  // The child opens both by name only; whichever side comes first creates them.
  const child = forkFixture('proc-named', { up, down, n });
  const qu = new Queue<string>({ name: up, maxsize: 8 });
  const qd = new Queue<string>({ name: down, maxsize: 8 });
  // Should the test fail or time out half-way, still leave nothing in /dev/shm.
  t.teardown(() => {
    if (shmEntries().includes(`multiproc-${up}`)) qu.unlink();
    if (shmEntries().includes(`multiproc-${down}`)) qd.unlink();
  });
  try {
    const got: string[] = [];
    for (let i = 0; i < n; i++) got.push(await qu.get());
    t.deepEqual(got, [...Array(n).keys()].map((i) => `child:${i}`));
    await qd.put('hello');
    t.is(await qu.get(), 'echo:hello');
    t.deepEqual(await exited(child), ok);
    t.true(shmEntries().includes(`multiproc-${up}`));
    t.true(shmEntries().includes(`multiproc-${down}`));
  } finally {
    const stale = qu.handle;
    qu.unlink();
    qd.unlink();
    t.false(shmEntries().includes(`multiproc-${up}`));
    t.false(shmEntries().includes(`multiproc-${down}`));
    // The name is gone: its handle no longer opens anything …
    t.throws(() => Queue.attach(stale), { code: 'ERR_MULTIPROC_BAD_HANDLE' });
    // … but holders keep a working queue until they drop it.
    qu.putSync('still here');
    t.is(qu.getSync(), 'still here');
  }
});

test.serial('queues sent inside an item reach a child attached, and a child’s queue comes back working', async (t) => {
  const inbox = new Queue<unknown>();
  const reply = new Queue<unknown>();
  const jq = new JoinableQueue<number>();
  const child = forkFixture('proc-item-queue', { inbox: inbox.handle });
  const n = 25;
  await inbox.put({ reply, nested: { list: [jq], map: new Map([['reply', reply]]) }, n });
  t.deepEqual(await reply.get(), { replyIsQueue: true, jqIsJoinable: true, mapIsQueue: true });
  t.is(await reply.get(), 'via map');
  const { mine } = (await reply.get()) as { mine: Queue<string> };
  t.true(mine instanceof Queue);
  await mine.put('ping');
  t.is(await reply.get(), 'pong:ping');
  t.deepEqual(await exited(child), ok);
  // The child's items, and the shared unfinished count of the JoinableQueue.
  t.is(jq.unfinishedTasks(), n);
  t.deepEqual(drainNow(jq, n), [...Array(n).keys()]);
  for (let i = 0; i < n; i++) jq.taskDone();
  await jq.join();
  // The child's own queue outlives the child in this process.
  mine.putSync('after exit');
  t.is(mine.getSync(), 'after exit');
});

test.serial('JoinableQueue across processes: join() resolves exactly when every task is done', async (t) => {
  t.timeout(60_000);
  const N = 1500;
  const jq = new JoinableQueue<Item>();
  const done = new Queue<[number, number, number]>();
  const gate = new Queue<string>();
  const producers = [0, 1].map((id) => forkFixture('proc-producer', { q: jq.handle, id, n: N, mode: id === 0 ? 'sync' : 'async' }));
  const consumers = [0, 1].map((id) =>
    forkFixture('proc-joinable-consumer', { jq: jq.handle, done: done.handle, gate: gate.handle, id }),
  );
  // Consumers wait at the gate, so once the producers are gone every item is unfinished.
  for (const p of producers) t.deepEqual(await exited(p), ok);
  t.is(jq.unfinishedTasks(), 2 * N);
  const joined = jq.join().then(() =>
    // Every taskDone was preceded by its `done` record: nothing may be missing now.
    ({ unfinished: jq.unfinishedTasks(), doneCount: done.qsize(), left: jq.qsize() }),
  );
  await t.throwsAsync(jq.join({ timeout: 0 }), { name: 'TimeoutError' });
  await gate.put('go');
  await gate.put('go');
  t.deepEqual(await joined, { unfinished: 0, doneCount: 2 * N, left: 0 });
  jq.shutdown();
  for (const c of consumers) t.deepEqual(await exited(c), ok);
  const records = drainNow(done, 2 * N);
  t.is(new Set(records.map(([, p, i]) => `${p}:${i}`)).size, 2 * N);
  t.is(jq.unfinishedTasks(), 0);
  await jq.join();
});

test.serial('JoinableQueue: join() does not resolve while items put by a child are unfinished', async (t) => {
  const N = 200;
  const jq = new JoinableQueue<Item>();
  const p = forkFixture('proc-producer', { q: jq.handle, id: 0, n: N, mode: 'sync' });
  t.deepEqual(await exited(p), ok);
  t.is(jq.unfinishedTasks(), N);
  const joined = jq.join();
  let resolvedEarly = false;
  void joined.then(() => (resolvedEarly = true));
  for (let i = 0; i < N; i++) {
    t.is(jq.getNowait().i, i);
    // Yield to the event loop so a wrongly early resolution would have run.
    await new Promise(setImmediate);
    t.false(resolvedEarly);
    jq.taskDone();
  }
  await joined;
  t.is(jq.unfinishedTasks(), 0);
  t.throws(() => jq.taskDone(), { code: 'ERR_MULTIPROC_MISUSE' });
});

test.serial('shutdown() in the parent wakes a child blocked in getSync() and one blocked in await get()', async (t) => {
  const q = new Queue<unknown>();
  const r = new Queue<Record<string, unknown>>();
  const children = (['sync', 'async'] as const).map((mode) => forkFixture('proc-blocked-get', { q: q.handle, r: r.handle, mode }));
  const ready = [await r.get(), await r.get()];
  t.deepEqual(ready.map((x) => x.state), ['ready', 'ready']);
  q.shutdown();
  const reports = [await r.get(), await r.get()].sort((a, b) => String(a.mode).localeCompare(String(b.mode)));
  t.deepEqual(reports, [
    { mode: 'async', state: 'threw', name: 'ShutDown', isShutDown: true },
    { mode: 'sync', state: 'threw', name: 'ShutDown', isShutDown: true },
  ]);
  for (const c of children) t.deepEqual(await exited(c), ok);
  await t.throwsAsync(q.get(), { instanceOf: ShutDown });
});

for (const [parent, child] of [
  ['async', 'sync'],
  ['sync', 'async'],
] as const) {
  test.serial(`maxsize-1 ping-pong between processes, 10,000 round trips (parent ${parent}, child ${child})`, async (t) => {
    t.timeout(60_000);
    const n = 10_000;
    const ping = new Queue<number>(1);
    const pong = new Queue<number | { wrong: number }>(1);
    const c = forkFixture('proc-pingpong', { ping: ping.handle, pong: pong.handle, n, mode: child });
    let wrong = 0;
    for (let i = 0; i < n; i++) {
      if (parent === 'sync') ping.putSync(i);
      else await ping.put(i);
      const v = parent === 'sync' ? pong.getSync() : await pong.get();
      if (v !== -i) wrong++;
    }
    t.is(wrong, 0, 'answers in sequence');
    t.deepEqual(await pong.get(), { wrong: 0 });
    t.deepEqual(await exited(c), ok);
    t.is(ping.qsize() + pong.qsize(), 0);
  });
}
