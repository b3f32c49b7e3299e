/**
 * `worker.terminate()` ends a worker thread blocked in any sync wait (the
 * native wait notices that its env is stopping), and a `kind: 'thread'`
 * Process blocked that way can be terminated and joined.
 */
import test from 'ava';

import { Barrier, Condition, Event, Lock, Pipe, Process, Queue, Semaphore } from 'multiproc';

import { exited, reap, startWorker } from './helpers';

test.afterEach.always(reap);

const cases: [string, () => { obj: unknown; keep?: unknown }][] = [
  ['getSync', () => ({ obj: new Queue().handle })],
  ['acquireSync', () => {
    const l = new Lock();
    l.acquireSync();
    return { obj: l.handle, keep: l };
  }],
  ['semaphore', () => ({ obj: new Semaphore(0).handle })],
  ['waitSync', () => ({ obj: new Event().handle })],
  ['recvSync', () => {
    const [a, b] = Pipe();
    return { obj: b.handle, keep: a };
  }],
  ['barrier', () => ({ obj: new Barrier(2).handle })],
  ['condition', () => ({ obj: new Condition().handle })],
];

for (const [kind, make] of cases) {
  test.serial(`terminate() ends a worker blocked in a sync wait: ${kind}`, async (t) => {
    const ready = new Queue();
    const { obj, keep } = make();
    const w = startWorker('term-blocked', { kind, ready: ready.handle, obj });
    const exit = exited(w);
    await ready.get();
    // The worker is about to block (or blocked): terminate must not hang either way.
    await w.terminate();
    const { code } = await exit;
    t.is(code, 1);
    void keep;
  });
}

test.serial("a kind: 'thread' Process blocked in getSync can be terminated and joined", async (t) => {
  const q = new Queue();
  const started = new Event();
  const p = new Process({
    target: (q: Queue, started: Event) => {
      started.set();
      q.getSync();
    },
    args: [q, started],
    kind: 'thread',
  });
  p.start();
  await started.wait();
  p.terminate();
  await p.join();
  t.is(p.exitcode, -15);
  t.false(p.isAlive());
});
