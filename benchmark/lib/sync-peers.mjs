// The main-thread side of the synchronization and start-up cases (`lock`,
// `counter`, `event`, `semaphore`, `startup`), with the same peer shape as
// lib/peers.mjs: { key, label, group, start(), run(n) -> seconds, pids(), stop() }.
import { fork } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

import { Event, Lock, Process, RLock, Semaphore, Value } from 'multiproc';

import { AtomicsMutex } from './amutex.mjs';
import { Remote } from './peers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const STARTUP_CHILD = path.join(here, '..', 'startup-child.mjs');
const TARGETS = new URL('./targets.mjs', import.meta.url);

const now = () => process.hrtime.bigint();
const secs = (t0, t1) => Number(BigInt(t1) - BigInt(t0)) / 1e9;

/**
 * Uncontended lock, in this thread: n x (acquire; release).
 * `via`: 'mp-lock' | 'mp-lock-with' | 'mp-lock-async' | 'mp-rlock' | 'atomics'.
 */
export function lockPeer({ key, label, group, via }) {
  let lock;
  let run;
  return {
    key,
    label,
    group,
    async start() {
      if (via === 'atomics') {
        const m = new AtomicsMutex(new SharedArrayBuffer(4));
        run = (n) => {
          for (let i = 0; i < n; i++) {
            m.acquire();
            m.release();
          }
        };
        return;
      }
      lock = via === 'mp-rlock' ? new RLock() : new Lock();
      const nothing = () => {};
      if (via === 'mp-lock-with') {
        run = (n) => {
          for (let i = 0; i < n; i++) lock.withLockSync(nothing);
        };
      } else if (via === 'mp-lock-async') {
        run = async (n) => {
          for (let i = 0; i < n; i++) {
            await lock.acquire();
            lock.release();
          }
        };
      } else {
        run = (n) => {
          for (let i = 0; i < n; i++) {
            lock.acquireSync();
            lock.release();
          }
        };
      }
    },
    async run(n) {
      const t0 = now();
      await run(n);
      const t1 = now();
      if (lock?.locked()) throw new Error(`${label}: lock still held`);
      return secs(t0, t1);
    },
    pids: () => [],
    async stop() {},
  };
}

/**
 * Two far sides (processes or threads) each increment a shared int32 n times
 * under a lock; run(n) returns the time from the first one's start to the
 * last one's end and checks that the counter is exactly 2n.
 * `via`: 'mp-counter-acquire' | 'mp-counter-with' | 'atomics-counter'.
 */
export function counterPeer({ key, label, group, via, where }) {
  let remotes = [];
  let v;
  let sab;
  return {
    key,
    label,
    group,
    async start() {
      const cfg = { role: via, kind: 'small' };
      if (via === 'atomics-counter') {
        sab = new SharedArrayBuffer(8);
        cfg.sab = sab;
      } else {
        v = new Value('int32', 0);
        cfg.value = v.handle;
      }
      remotes = [new Remote(cfg, where, 'json'), new Remote(cfg, where, 'json')];
      await Promise.all(remotes.map((r) => r.ready()));
    },
    async run(n) {
      const counter = v ? { get: () => v.value, set: (x) => (v.value = x) } : { get: () => Atomics.load(new Int32Array(sab), 1), set: (x) => Atomics.store(new Int32Array(sab), 1, x) };
      counter.set(0);
      const dones = remotes.map((r) => r.next('done'));
      for (const r of remotes) r.post({ __ctl: 'run', n });
      const ds = await Promise.all(dones);
      const got = counter.get();
      if (got !== 2 * n) throw new Error(`${label}: counter is ${got}, expected ${2 * n}`);
      const t0 = ds.map((d) => BigInt(d.t0)).reduce((a, b) => (a < b ? a : b));
      const t1 = ds.map((d) => BigInt(d.t1)).reduce((a, b) => (a > b ? a : b));
      return secs(t0, t1);
    },
    pids: () => remotes.map((r) => r.ep.pid).filter(Boolean),
    async stop() {
      for (const r of remotes) await r.close();
    },
  };
}

/**
 * Ping-pong through two Events (set / waitSync / clear) or two Semaphore(0)s
 * (release / acquireSync) with a far side: n round trips after one untimed one.
 * `via`: 'event' | 'semaphore'.
 */
export function signalPingPongPeer({ key, label, group, via, where }) {
  let remote;
  let a;
  let b;
  let there;
  let back;
  return {
    key,
    label,
    group,
    async start() {
      if (via === 'event') {
        a = new Event();
        b = new Event();
        there = () => a.set();
        back = () => {
          b.waitSync();
          b.clear();
        };
      } else {
        a = new Semaphore(0);
        b = new Semaphore(0);
        there = () => a.release();
        back = () => b.acquireSync();
      }
      remote = new Remote({ role: via === 'event' ? 'mp-event-echo' : 'mp-sem-echo', kind: 'small', a: a.handle, b: b.handle }, where, 'json');
      await remote.ready();
    },
    async run(n) {
      const done = remote.next('done');
      remote.post({ __ctl: 'run', n: n + 1 });
      there();
      back();
      const t0 = now();
      for (let i = 0; i < n; i++) {
        there();
        back();
      }
      const t1 = now();
      await done;
      return secs(t0, t1);
    },
    pids: () => [remote.ep.pid].filter(Boolean),
    async stop() {
      await remote?.close();
    },
  };
}

/**
 * Start-up: n times, the time from start to the first sign of life of the
 * new process or thread (summed). `via`: 'process' | 'thread' (multiproc
 * Process; its target sets an Event the parent awaits) | 'fork' | 'worker'
 * (a minimal script that sends one message).
 */
export function startupPeer({ key, label, group, via }) {
  let ev;
  let current = null;
  const once = {
    async process(kind) {
      const p = new Process({ target: new URL('#started', TARGETS), args: [ev], kind });
      const t0 = now();
      p.start();
      current = p;
      await ev.wait();
      const t1 = now();
      await p.join();
      if (p.exitcode !== 0) throw new Error(`${label}: exit code ${p.exitcode}`);
      ev.clear();
      return secs(t0, t1);
    },
    async fork() {
      const t0 = now();
      const c = fork(STARTUP_CHILD, [], { stdio: 'inherit' });
      current = c;
      const exit = new Promise((resolve) => c.once('exit', resolve));
      await new Promise((resolve) => c.once('message', resolve));
      const t1 = now();
      const code = await exit;
      if (code !== 0) throw new Error(`${label}: exit code ${code}`);
      return secs(t0, t1);
    },
    async worker() {
      const t0 = now();
      const w = new Worker(STARTUP_CHILD);
      current = w;
      const exit = new Promise((resolve) => w.once('exit', resolve));
      await new Promise((resolve) => w.once('message', resolve));
      const t1 = now();
      const code = await exit;
      if (code !== 0) throw new Error(`${label}: exit code ${code}`);
      return secs(t0, t1);
    },
  };
  return {
    key,
    label,
    group,
    async start() {
      ev = new Event();
    },
    async run(n) {
      let s = 0;
      for (let i = 0; i < n; i++) {
        s += via === 'process' || via === 'thread' ? await once.process(via) : await once[via]();
      }
      current = null;
      return s;
    },
    pids: () => (current?.pid ? [current.pid] : []),
    async stop() {},
  };
}
