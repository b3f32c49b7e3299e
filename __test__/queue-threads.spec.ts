/**
 * Queues between worker threads: handles passed via workerData, N producers
 * x M consumers (sync and async forms) with exact multisets and per-producer
 * FIFO order, queues that arrive inside items, JoinableQueue with taskDone in
 * workers, and shutdown waking workers blocked in the queue. Workers report
 * through queues, never through postMessage.
 */
import test, { type ExecutionContext } from 'ava';

import { JoinableQueue, Queue, SimpleQueue, type QueueHandle } from 'multiproc';

import type { Report } from './fixtures/thread-blocked';
import type { Forwarded, Item } from './fixtures/thread-lib';
import { exited, reap, startWorker } from './helpers';

// reap() ends every worker still running, including other tests' ones: run serially.
test.afterEach.always(reap);

/**
 * Starts a fixture worker and starts watching for its exit at once: `exited()`
 * only sees an 'exit' event emitted after it is called.
 */
function spawn(name: string, arg: unknown): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return exited(startWorker(name, arg));
}

async function producersConsumers(t: ExecutionContext, mode: 'sync' | 'async'): Promise<void> {
  t.timeout(120_000);
  const producers = 3;
  const consumers = 2;
  const n = 2000;
  // Bounded, so producers really wait for room and consumers for items.
  const q = new Queue<Item | null>(8);
  const out = new Queue<Forwarded>();
  const cs = Array.from({ length: consumers }, (_, id) =>
    spawn('thread-consumer', { q: q.handle, out: out.handle, id, mode }),
  );
  const ps = Array.from({ length: producers }, (_, id) => spawn('thread-producer', { q: q.handle, id, n, mode }));
  for (const p of ps) t.deepEqual(await p, { code: 0, signal: null });
  for (let i = 0; i < consumers; i++) await q.put(null);

  const seen = new Map<string, number>();
  const perConsumer = Array.from({ length: consumers }, () => Array.from({ length: producers }, () => [] as number[]));
  let done = 0;
  while (done < consumers) {
    const f = await out.get();
    if ('done' in f) {
      done++;
      continue;
    }
    const key = `${f.p}:${f.i}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
    perConsumer[f.c][f.p].push(f.i);
  }
  for (const c of cs) t.deepEqual(await c, { code: 0, signal: null });

  // Exact multiset: every (producer, i) exactly once, nothing else.
  t.is(seen.size, producers * n);
  const dup = [...seen].filter(([, k]) => k !== 1);
  t.deepEqual(dup, []);
  for (let p = 0; p < producers; p++) for (let i = 0; i < n; i++) if (!seen.has(`${p}:${i}`)) t.fail(`lost ${p}:${i}`);
  // Per-producer FIFO: each consumer saw each producer's items in increasing order.
  for (const [c, byProducer] of perConsumer.entries()) {
    for (const [p, seq] of byProducer.entries()) {
      const firstBad = seq.findIndex((x, k) => k > 0 && x <= seq[k - 1]);
      t.is(firstBad, -1, `consumer ${c}, producer ${p}: out of order at ${firstBad}`);
    }
  }
  t.is(q.qsize(), 0);
  t.is(out.qsize(), 0);
}

test.serial('3 producer x 2 consumer workers, sync forms: exact multiset and per-producer FIFO', producersConsumers, 'sync');
test.serial('3 producer x 2 consumer workers, async forms: exact multiset and per-producer FIFO', producersConsumers, 'async');

test.serial('a worker works with queues it received inside an item read from another queue', async (t) => {
  t.timeout(60_000);
  const carrier = new Queue<unknown>();
  const reply = new Queue<unknown>();
  const jq = new JoinableQueue<string>();
  const sq = new SimpleQueue<string>();
  jq.putSync('job-1');
  const w = spawn('thread-nested', { carrier: carrier.handle });
  await carrier.put({ reply, jobs: new Map<string, unknown>([['jq', jq]]), list: [sq] });

  // The worker calls taskDone on the JoinableQueue it found in the Map.
  await jq.join();
  t.is(jq.unfinishedTasks(), 0);
  const r = (await reply.get()) as { job: string; kinds: boolean[]; mine: Queue<string> };
  t.is(r.job, 'job-1');
  t.deepEqual(r.kinds, [true, true, true]);
  t.true(r.mine instanceof Queue);
  t.is(await sq.get(), 'from the worker');

  await carrier.put('ack');
  const loneHandle = (await reply.get()) as QueueHandle;
  t.deepEqual(await w, { code: 0, signal: null });

  // The queue the worker made lives on: this thread holds it now.
  t.is(r.mine.getSync(), 'made in the worker');
  r.mine.putSync('still works');
  t.is(await r.mine.get(), 'still works');
  // A queue nobody holds any more is gone: its handle is stale.
  t.throws(() => Queue.attach(loneHandle), { instanceOf: Error, code: 'ERR_MULTIPROC_BAD_HANDLE' });
});

test.serial('JoinableQueue: workers call taskDone while the main thread waits in join() and joinSync()', async (t) => {
  t.timeout(120_000);
  const workers = 2;
  const jq = new JoinableQueue<number>(16);
  const out = new Queue<{ c: number; item?: number; shutDown?: true }>();
  const ws = Array.from({ length: workers }, (_, id) =>
    spawn('thread-joinable-consumer', { jq: jq.handle, out: out.handle, id }),
  );

  // Round 1: async puts, async join.
  for (let i = 0; i < 300; i++) await jq.put(i);
  await jq.join();
  // Every result was forwarded before its taskDone, so all are in `out` now.
  t.is(out.qsize(), 300);
  t.is(jq.unfinishedTasks(), 0);

  // Round 2: the main thread blocks in putSync and joinSync while the workers run.
  for (let i = 300; i < 600; i++) jq.putSync(i);
  jq.joinSync({ timeout: 100_000 });
  t.is(out.qsize(), 600);
  t.is(jq.unfinishedTasks(), 0);

  jq.shutdown();
  const items: number[] = [];
  const ended = new Set<number>();
  while (ended.size < workers) {
    const r = await out.get();
    if (r.shutDown) ended.add(r.c);
    else items.push(r.item!);
  }
  for (const w of ws) t.deepEqual(await w, { code: 0, signal: null });
  t.deepEqual(
    items.sort((x, y) => x - y),
    Array.from({ length: 600 }, (_, i) => i),
  );
  t.is(out.qsize(), 0);
});

test.serial('shutdown from the main thread wakes workers blocked in getSync, get, putSync, put and for await', async (t) => {
  t.timeout(60_000);
  const empty = new Queue<unknown>();
  const full = new Queue<unknown>(1);
  full.putSync('occupant');
  const iter = new Queue<unknown>();
  for (let i = 0; i < 3; i++) iter.putSync(i);
  const results = new Queue<Report>();
  const plan: [Report['mode'], Queue<unknown>][] = [
    ['getSync', empty],
    ['getSync', empty],
    ['getSync', empty],
    ['get', empty],
    ['putSync', full],
    ['put', full],
    ['forAwait', iter],
  ];
  const ws = plan.map(([mode, q], id) => spawn('thread-blocked', { q: q.handle, results: results.handle, id, mode }));

  // Each worker says it is about to block. Whether it is already asleep when
  // shutdown comes or not, it must observe ShutDown.
  for (let ready = 0; ready < plan.length; ) {
    const r = await results.get();
    t.is(r.phase, 'ready');
    ready++;
  }
  empty.shutdown();
  full.shutdown();
  iter.shutdown();

  const reports = new Map<number, Report>();
  while (reports.size < plan.length) {
    const r = await results.get();
    t.is(r.phase, 'done');
    reports.set(r.id, r);
  }
  for (const w of ws) t.deepEqual(await w, { code: 0, signal: null });
  for (const [id, [mode]] of plan.entries()) {
    const r = reports.get(id)!;
    t.is(r.mode, mode);
    if (mode === 'forAwait') {
      // The loop yields what was left, then ends without an error.
      t.deepEqual(r.items, [0, 1, 2]);
      t.is(r.error, undefined);
    } else {
      t.is(r.error, 'ShutDown', `${mode} (worker ${id})`);
      t.true(r.shutDown, `${mode} (worker ${id})`);
    }
  }
  // The blocked puts never went in; the occupant is still there to drain.
  t.is(full.qsize(), 1);
  t.is(full.getSync(), 'occupant');
});
