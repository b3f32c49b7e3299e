/**
 * Crash consistency: producer and consumer processes share one bounded Queue
 * while the test SIGKILLs random children at random moments (hundreds of
 * times) and starts replacements. Then it proves what can be proved:
 *
 * - no torn item (each payload's checksum holds) and no (producer, seq) twice;
 * - each consumer saw each producer's items in increasing order (FIFO);
 * - every item whose put returned (its ack is in the acks queue) was received,
 *   except at most one per killed consumer (killed between its get and its
 *   forward); with the main process as the only consumer, none is missing;
 * - an item received without ack is the last put of a killed producer;
 * - afterwards the queue is fully usable (exact qsize, full/Full, FIFO round
 *   trips), every child waiting on it leaves when it is shut down, and
 *   /dev/shm is as it was.
 *
 * The kill moments come from the children's own progress (a random number of
 * acks between kills), never from timers.
 */
import type { ChildProcess } from 'node:child_process';

import test, { type ExecutionContext } from 'ava';

import { Empty, Full, Queue } from 'multiproc';

import { checksum, type Control, type CrashItem, type Forward } from './fixtures/crash-lib';
import { exited, forkFixture, reap, shmEntries } from './helpers';

// Serial: `reap` kills every live child, including those of a test still running.
test.afterEach.always(reap);

interface Options {
  producers: number;
  /** Consumer processes; 0: the main process is the only consumer. */
  consumers: number;
  /** Payload sizes in bytes. */
  min: number;
  max: number;
  maxsize: number;
  capacityBytes?: number;
  /** SIGKILLs to deliver during the run (producers killed at the end come on top). */
  kills: number;
}

interface Kid {
  proc: ChildProcess;
  kind: 'producer' | 'consumer';
  id: number;
  killed: boolean;
  /** It has shown progress since it started (so a kill hits its loop, not its start-up). */
  active: boolean;
}

const MAIN = -1;

function rand(n: number): number {
  return Math.floor(Math.random() * n);
}

/** /dev/shm entries of this package, minus named objects of other test processes running meanwhile. */
function ownShm(): string[] {
  return shmEntries().filter((n) => !/^multiproc-test-.*-\d+-[a-z0-9]+$/.test(n) || n.includes(`-${process.pid}-`));
}

/** Takes whatever is in `q` now, without waiting. */
function drainNow<T>(q: Queue<T>, each: (x: T) => void): void {
  for (;;) {
    let x: T;
    try {
      x = q.getNowait();
    } catch (e) {
      if (e instanceof Empty) return;
      throw e;
    }
    each(x);
  }
}

async function crashRun(t: ExecutionContext, o: Options): Promise<void> {
  t.timeout(120_000);
  const shmBefore = ownShm();
  const q = new Queue<CrashItem | Control>({ maxsize: o.maxsize, capacityBytes: o.capacityBytes });
  const acks = new Queue<[number, number]>();
  const received = new Queue<Forward>();
  const gate = new Queue<string>();

  // --- bookkeeping -------------------------------------------------------
  const lastAck = new Map<number, number>();
  const got = new Map<number, Set<number>>();
  const lastSeen = new Map<string, number>();
  let ackGaps = 0;
  let torn = 0;
  let dup = 0;
  let disorder = 0;
  let items = 0;
  const markers = new Set<number>();
  const unexpected: string[] = [];
  const byId = new Map<number, Kid>();
  const kids = new Set<Kid>();
  const killedProducers = new Set<number>();
  let ending = false;

  let ackCount = 0;
  let ackWaiter: { at: number; resolve: () => void } | undefined;
  let markerWaiter: { count: number; resolve: () => void } | undefined;

  function onAck([p, s]: [number, number]): void {
    if (s !== (lastAck.get(p) ?? -1) + 1) ackGaps++;
    lastAck.set(p, s);
    const k = byId.get(p);
    if (k) k.active = true;
    ackCount++;
    if (ackWaiter && ackCount >= ackWaiter.at) {
      const w = ackWaiter;
      ackWaiter = undefined;
      w.resolve();
    }
  }
  function onItem(c: number, p: number, s: number, ok: boolean): void {
    items++;
    if (!ok) torn++;
    let set = got.get(p);
    if (!set) got.set(p, (set = new Set()));
    if (set.has(s)) dup++;
    set.add(s);
    const key = `${c}:${p}`;
    if ((lastSeen.get(key) ?? -1) >= s) disorder++;
    lastSeen.set(key, s);
  }
  function onForward(f: Forward): void {
    const k = byId.get(f.c);
    if (k) k.active = true;
    if ('marker' in f) {
      markers.add(f.marker);
      if (markerWaiter && markers.size >= markerWaiter.count) markerWaiter.resolve();
    } else if ('p' in f) {
      onItem(f.c, f.p, f.s, f.ok);
    }
  }
  function onMainItem(x: CrashItem | Control): void {
    if ('p' in x) onItem(MAIN, x.p, x.s, Buffer.isBuffer(x.payload) && checksum(x.payload) === x.sum);
  }
  /** Resolves after `n` more acks. */
  function progress(n: number): Promise<void> {
    return new Promise((resolve) => (ackWaiter = { at: ackCount + n, resolve }));
  }

  // --- children ------------------------------------------------------------
  let nextId = 0;
  function spawn(kind: Kid['kind']): Kid {
    const id = nextId++;
    const mode = id % 2 === 0 ? 'sync' : 'async';
    const proc =
      kind === 'producer'
        ? forkFixture('crash-producer', { q: q.handle, acks: acks.handle, id, min: o.min, max: o.max, mode })
        : forkFixture('crash-consumer', { q: q.handle, received: received.handle, gate: gate.handle, id, mode });
    const kid: Kid = { proc, kind, id, killed: false, active: false };
    kids.add(kid);
    byId.set(id, kid);
    proc.once('exit', (code, signal) => {
      kids.delete(kid);
      if (!kid.killed && !(ending && code === 0)) unexpected.push(`${kind} ${id} exited: code ${code}, signal ${signal}`);
    });
    return kid;
  }
  let kills = 0;
  let consumerKills = 0;
  async function kill(k: Kid): Promise<void> {
    k.killed = true;
    k.proc.kill('SIGKILL');
    await exited(k.proc);
    kills++;
    if (k.kind === 'consumer') consumerKills++;
    else killedProducers.add(k.id);
  }

  // --- the main process drains acks and forwards (and consumes, if alone) ---
  const stopDrains = new AbortController();
  const drainLoop = async <T>(queue: Queue<T>, each: (x: T) => void, signal: AbortSignal): Promise<void> => {
    try {
      for (;;) each(await queue.get({ signal }));
    } catch (e) {
      if (!signal.aborted) throw e;
    }
  };
  const drains = [drainLoop(acks, onAck, stopDrains.signal), drainLoop(received, onForward, stopDrains.signal)];
  const stopMain = new AbortController();
  const mainConsumer = o.consumers === 0 ? drainLoop(q, onMainItem, stopMain.signal) : Promise.resolve();

  // --- kill loop ---------------------------------------------------------------
  const started = Date.now();
  for (let i = 0; i < o.producers; i++) spawn('producer');
  for (let i = 0; i < o.consumers; i++) spawn('consumer');
  while (kills < o.kills) {
    await progress(1 + rand(25));
    const candidates = [...kids].filter((k) => k.active);
    if (candidates.length === 0) continue;
    const victim = candidates[rand(candidates.length)];
    await kill(victim);
    spawn(victim.kind);
  }

  // --- stop: kill the producers, then flush the consumers with markers ---------
  ending = true;
  for (const k of [...kids].filter((x) => x.kind === 'producer')) await kill(k);
  const consumers = [...kids].filter((x) => x.kind === 'consumer');
  if (o.consumers > 0) {
    const allMarkers = new Promise<void>((resolve) => (markerWaiter = { count: consumers.length, resolve }));
    // A consumer that takes a marker forwards it and parks on the gate, so each
    // takes exactly one; once all are back, everything before them was forwarded.
    for (let m = 0; m < consumers.length; m++) await q.put({ marker: m });
    await allMarkers;
  } else {
    stopMain.abort();
    await mainConsumer;
    drainNow(q, onMainItem);
  }

  // --- the queue is fully usable: exact sizes, full/Full, FIFO, growth and wrap ---
  const uq = q as unknown as Queue<unknown>;
  t.is(uq.qsize(), 0);
  t.true(uq.empty());
  for (const size of [0, 1, 13, 4096, 70_000, 300_000]) {
    for (let j = 0; j < o.maxsize; j++) {
      uq.putNowait(j % 2 === 0 ? Buffer.alloc(size, j & 0xff) : { filler: j, pad: Buffer.alloc(size, j & 0xff) });
      t.is(uq.qsize(), j + 1);
    }
    t.true(uq.full());
    t.throws(() => uq.putNowait('one too many'), { instanceOf: Full });
    let fifo = true;
    for (let j = 0; j < o.maxsize; j++) {
      const x = uq.getNowait() as Buffer | { filler: number; pad: Buffer };
      const b = Buffer.isBuffer(x) ? x : x.pad;
      if ((!Buffer.isBuffer(x) && x.filler !== j) || b.length !== size || (size > 0 && b[size - 1] !== (j & 0xff))) fifo = false;
      if (uq.qsize() !== o.maxsize - j - 1) fifo = false;
    }
    t.true(fifo, `FIFO round trip of ${o.maxsize} items of ${size} bytes`);
    t.throws(() => uq.getNowait(), { instanceOf: Empty });
  }
  const pending = uq.get();
  await uq.put('async round trip');
  t.is(await pending, 'async round trip');

  // --- every waiter leaves at shutdown: fresh producers, released consumers ----
  for (let i = 0; i < 2; i++) spawn('producer');
  let lateConsumer: Promise<void> = Promise.resolve();
  if (o.consumers === 0) {
    lateConsumer = (async () => {
      for await (const x of q) onMainItem(x);
    })();
  }
  for (let i = 0; i < consumers.length; i++) await gate.put('go');
  await progress(200);
  const leaving = [...kids].map((k) => exited(k.proc));
  q.shutdown();
  const codes = await Promise.all(leaving);
  t.deepEqual(codes.filter((c) => c.code !== 0), [], 'every remaining child exits 0 at shutdown');
  await lateConsumer;

  // --- collect the rest and check ------------------------------------------------
  stopDrains.abort();
  await Promise.all(drains);
  drainNow(acks, onAck);
  drainNow(received, onForward);
  t.deepEqual(unexpected, []);
  t.is(torn, 0, 'no torn item');
  t.is(dup, 0, 'no item received twice');
  t.is(disorder, 0, 'each consumer saw each producer’s items in increasing order');
  t.is(ackGaps, 0, 'each producer’s acks are contiguous');
  let missing = 0;
  for (const [p, last] of lastAck) {
    const set = got.get(p);
    for (let s = 0; s <= last; s++) if (!set?.has(s)) missing++;
  }
  t.true(missing <= consumerKills, `${missing} acked items missing, at most one per killed consumer (${consumerKills})`);
  if (o.consumers === 0) t.is(missing, 0, 'with the main process as the only consumer, every acked item is received');
  let strays = 0;
  for (const [p, set] of got) {
    const last = lastAck.get(p) ?? -1;
    for (const s of set) if (s > last && !(s === last + 1 && killedProducers.has(p))) strays++;
  }
  t.is(strays, 0, 'an item received without ack is the last put of a killed producer');
  t.is(markers.size, consumers.length);
  // The side queues, also hit by kills mid-operation, still work exactly.
  for (const side of [acks, received, gate] as Queue<unknown>[]) {
    t.is(side.qsize(), 0);
    side.putNowait('x');
    t.is(side.qsize(), 1);
    t.is(side.getNowait(), 'x');
  }
  t.deepEqual(ownShm(), shmBefore);
  t.log(`${kills} SIGKILLs (${consumerKills} consumers) in ${((Date.now() - started) / 1000).toFixed(1)} s, ${items} items received, ${missing} acked items lost with killed consumers`);
}

test.serial('SIGKILL storm: 3 producer × 2 consumer processes, small items, maxsize 64', (t) =>
  crashRun(t, { producers: 3, consumers: 2, min: 16, max: 512, maxsize: 64, kills: 200 }));

test.serial('SIGKILL storm: items of 0..64 KiB in a 64 KiB ring that wraps and grows', (t) =>
  crashRun(t, { producers: 3, consumers: 2, min: 0, max: 64 * 1024, maxsize: 64, capacityBytes: 64 * 1024, kills: 50 }));

test.serial('SIGKILL storm: large items (0.1-1.5 MiB) copied in and out of shared memory outside the lock', (t) =>
  crashRun(t, { producers: 3, consumers: 2, min: 100 * 1024, max: 1536 * 1024, maxsize: 16, kills: 60 }));

test.serial('SIGKILL storm on producers with the main process as the only consumer: no acked item lost', (t) =>
  crashRun(t, { producers: 3, consumers: 0, min: 0, max: 4096, maxsize: 64, kills: 30 }));
