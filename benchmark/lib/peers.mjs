// The main-thread side of every benchmark pair. A peer is
//   { key, label, group: 'multiproc' | 'peer', start(), run(n) -> seconds, stop() }
// where run(n) moves n items (or n round trips) and returns only the timed
// part. The far side (child process, worker thread, Python process) is
// started once by start() and reused for every repetition.
import { fork, spawn } from 'node:child_process';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as v8 from 'node:v8';
import { Worker } from 'node:worker_threads';

import { Pipe, Queue } from 'multiproc';

import { check, isCtl, itemMaker } from './items.mjs';
import { Ring } from './ring.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const CHILD = path.join(here, '..', 'peer-child.mjs');
const WORKER = path.join(here, '..', 'peer-worker.mjs');
const PY = path.join(here, '..', 'mp_peer.py');

const now = () => process.hrtime.bigint();
const secs = (t0, t1) => Number(t1 - BigInt(t0)) / 1e9;

/** A child process or worker running lib/remote.mjs, with its control channel. */
export class Remote {
  constructor(cfg, where, serialization) {
    this.waiting = new Map(); // ctl name -> resolve of the next such message
    this.onData = null;
    if (where === 'thread') {
      this.ep = new Worker(WORKER, { workerData: cfg });
      this.post = (m) => this.ep.postMessage(m);
    } else {
      this.ep = fork(CHILD, [JSON.stringify(cfg)], { serialization, stdio: 'inherit' });
      this.post = (m) => this.ep.send(m);
    }
    this.exit = new Promise((resolve) => this.ep.once('exit', resolve));
    this.ep.on('error', (e) => {
      console.error(e);
      process.exit(1);
    });
    this.ep.on('message', (m) => {
      if (!isCtl(m)) return this.onData(m);
      const r = this.waiting.get(m.__ctl);
      if (!r) throw new Error(`unexpected control message ${m.__ctl}`);
      this.waiting.delete(m.__ctl);
      r(m);
    });
  }

  /** The next control message named `name`. */
  next(name) {
    return new Promise((resolve) => this.waiting.set(name, resolve));
  }

  ready() {
    return this.next('ready');
  }

  async close() {
    this.post({ __ctl: 'exit' });
    const code = await this.exit;
    if (code !== 0) throw new Error(`benchmark peer exited with code ${code}`);
  }
}

/**
 * 1 producer (far side) -> 1 consumer (this thread), for `kind` items.
 * `via`: 'mp-sync' | 'mp-async' (Queue) | 'pipe-sync' | 'pipe-async' (Pipe(false);
 * Buffers through sendBytes/recvBytes) | 'msg' | 'ring'; `where`: 'process' | 'thread'.
 */
export function streamPeer({ key, label, group, kind, via, where, serialization = 'json', ringBytes = 1 << 20, queueOpts }) {
  let remote;
  let q;
  let ring;
  let conns;
  return {
    key,
    label,
    group,
    async start() {
      const cfg = { kind };
      if (via === 'pipe-sync' || via === 'pipe-async') {
        // The parent keeps its copy of the sending end open until stop(): the
        // child attaches it before it reports ready.
        conns = Pipe(false);
        Object.assign(cfg, { role: via === 'pipe-sync' ? 'pipe-send-sync' : 'pipe-send-async', handle: conns[1].handle });
      } else if (via === 'mp-sync' || via === 'mp-async') {
        q = new Queue(queueOpts);
        Object.assign(cfg, { role: via === 'mp-sync' ? 'mp-put-sync' : 'mp-put-async', handle: q.handle });
      } else if (via === 'ring') {
        ring = Ring.create(ringBytes);
        Object.assign(cfg, { role: 'ring-write', sab: ring.sab });
      } else {
        cfg.role = 'msg';
      }
      remote = new Remote(cfg, where, serialization);
      await remote.ready();
    },
    async run(n) {
      const done = remote.next('done');
      let t1;
      if (via === 'msg') {
        const got = new Promise((resolve) => {
          let i = 0;
          remote.onData = (m) => {
            check(kind, m, i);
            if (++i === n) resolve(now());
          };
        });
        remote.post({ __ctl: 'run', n });
        t1 = await got;
      } else {
        remote.post({ __ctl: 'run', n });
        if (via === 'mp-sync') {
          for (let i = 0; i < n; i++) check(kind, q.getSync(), i);
        } else if (via === 'mp-async') {
          for (let i = 0; i < n; i++) check(kind, await q.get(), i);
        } else if (via === 'pipe-sync') {
          const r = conns[0];
          if (kind === 'small') for (let i = 0; i < n; i++) check(kind, r.recvSync(), i);
          else for (let i = 0; i < n; i++) check(kind, r.recvBytesSync(), i);
        } else if (via === 'pipe-async') {
          const r = conns[0];
          if (kind === 'small') for (let i = 0; i < n; i++) check(kind, await r.recv(), i);
          else for (let i = 0; i < n; i++) check(kind, await r.recvBytes(), i);
        } else if (kind === 'small') {
          for (let i = 0; i < n; i++) check(kind, v8.deserialize(ring.read()), i);
        } else {
          for (let i = 0; i < n; i++) check(kind, ring.read(), i);
        }
        t1 = now();
      }
      return secs((await done).t0, t1);
    },
    pids: () => [remote.ep.pid].filter(Boolean),
    async stop() {
      await remote?.close();
      for (const c of conns ?? []) c.close();
    },
  };
}

/**
 * Ping-pong: this thread sends item i, the far side returns it, n times
 * (after one untimed round trip). `via`: 'mp-sync' | 'mp-async' | 'msg'.
 * Multiproc uses two queues of maxsize 1 (ping and pong).
 */
export function pingPongPeer({ key, label, group, via, where, serialization = 'json' }) {
  const kind = 'small';
  const make = itemMaker(kind);
  let remote;
  let ping;
  let pong;
  return {
    key,
    label,
    group,
    async start() {
      const cfg = { kind };
      if (via === 'msg') {
        cfg.role = 'msg-echo';
      } else {
        ping = new Queue(1);
        pong = new Queue(1);
        Object.assign(cfg, { role: via === 'mp-sync' ? 'mp-echo-sync' : 'mp-echo-async', ping: ping.handle, pong: pong.handle });
      }
      remote = new Remote(cfg, where, serialization);
      await remote.ready();
    },
    async run(n) {
      let done;
      if (via !== 'msg') {
        done = remote.next('done');
        remote.post({ __ctl: 'run', n: n + 1 });
      }
      let t0;
      let t1;
      if (via === 'msg') {
        await new Promise((resolve) => {
          let i = -1;
          remote.onData = (m) => {
            check(kind, m, i);
            if (i === -1) t0 = now();
            if (++i === n) {
              t1 = now();
              resolve();
            } else {
              remote.post(make(i));
            }
          };
          remote.post(make(-1));
        });
      } else if (via === 'mp-sync') {
        ping.putSync(make(-1));
        check(kind, pong.getSync(), -1);
        t0 = now();
        for (let i = 0; i < n; i++) {
          ping.putSync(make(i));
          check(kind, pong.getSync(), i);
        }
        t1 = now();
      } else {
        await ping.put(make(-1));
        check(kind, await pong.get(), -1);
        t0 = now();
        for (let i = 0; i < n; i++) {
          await ping.put(make(i));
          check(kind, await pong.get(), i);
        }
        t1 = now();
      }
      await done;
      return Number(t1 - t0) / 1e9;
    },
    pids: () => [remote.ep.pid].filter(Boolean),
    async stop() {
      await remote?.close();
    },
  };
}

/** Python's multiprocessing.Queue (benchmark/mp_peer.py) for the 'small' or 'pingpong' case. */
export function pythonPeer({ key, label, pyCase }) {
  let py;
  let lines;
  const nextLine = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error('python peer exited');
    return JSON.parse(value);
  };
  return {
    key,
    label,
    group: 'peer',
    info: undefined,
    async start() {
      py = spawn('python3', [PY], { stdio: ['pipe', 'pipe', 'inherit'] });
      lines = createInterface({ input: py.stdout })[Symbol.asyncIterator]();
      this.info = await nextLine();
    },
    async run(n) {
      py.stdin.write(JSON.stringify({ case: pyCase, n }) + '\n');
      return (await nextLine()).seconds;
    },
    pids: () => [py.pid],
    async stop() {
      if (!py) return;
      const exit = new Promise((resolve) => py.once('exit', resolve));
      py.stdin.end();
      const code = await exit;
      if (code !== 0) throw new Error(`python peer exited with code ${code}`);
    },
  };
}
