// The far side of every benchmark pair (a forked child process or a worker
// thread): a producer that sends n items, or an echo that returns each ping.
// The main side drives it over a control channel (the IPC channel or the
// worker's parentPort) with { __ctl: 'run', n } and { __ctl: 'exit' }.
//
// Timing: a producer reads the monotonic clock just before its first item
// and reports it with { __ctl: 'done', t0 }; the consumer reads the same
// clock (CLOCK_MONOTONIC, shared by all processes) after its last item.
import * as v8 from 'node:v8';

import { Connection, Event, Queue, Semaphore, Value } from 'multiproc';

import { AtomicsMutex } from './amutex.mjs';
import { itemMaker, isCtl } from './items.mjs';
import { Ring } from './ring.mjs';

/**
 * Serves one role until told to exit.
 * @param cfg { role, kind, handle?, ping?, pong?, sab?, value?, a?, b? }
 * @param port { send(msg), onMessage(fn) }
 */
export function serve(cfg, port) {
  const make = itemMaker(cfg.kind);
  const done = (t0) => port.send({ __ctl: 'done', t0: String(t0) });
  let run;
  switch (cfg.role) {
    case 'mp-put-sync': {
      const q = Queue.attach(cfg.handle);
      run = (n) => {
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < n; i++) q.putSync(make(i));
        done(t0);
      };
      break;
    }
    case 'mp-put-async': {
      const q = Queue.attach(cfg.handle);
      run = async (n) => {
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < n; i++) await q.put(make(i));
        done(t0);
      };
      break;
    }
    case 'msg': {
      // process.send (child) or parentPort.postMessage (worker): the data goes
      // over the same channel as the control messages, in order.
      run = (n) => {
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < n; i++) port.send(make(i));
        done(t0);
      };
      break;
    }
    case 'ring-write': {
      const ring = new Ring(cfg.sab);
      const small = cfg.kind === 'small';
      run = (n) => {
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < n; i++) ring.write(small ? v8.serialize(make(i)) : make(i));
        done(t0);
      };
      break;
    }
    case 'mp-echo-sync': {
      const ping = Queue.attach(cfg.ping);
      const pong = Queue.attach(cfg.pong);
      run = (n) => {
        for (let i = 0; i < n; i++) pong.putSync(ping.getSync());
        done(0);
      };
      break;
    }
    case 'mp-echo-async': {
      const ping = Queue.attach(cfg.ping);
      const pong = Queue.attach(cfg.pong);
      run = async (n) => {
        for (let i = 0; i < n; i++) await pong.put(await ping.get());
        done(0);
      };
      break;
    }
    case 'pipe-send-sync':
    case 'pipe-send-async': {
      // The sending end of a Pipe(false); Buffers go as raw bytes (sendBytes).
      const w = Connection.attach(cfg.handle);
      const bytes = cfg.kind !== 'small';
      run =
        cfg.role === 'pipe-send-sync'
          ? (n) => {
              const t0 = process.hrtime.bigint();
              if (bytes) for (let i = 0; i < n; i++) w.sendBytesSync(make(i));
              else for (let i = 0; i < n; i++) w.sendSync(make(i));
              done(t0);
            }
          : async (n) => {
              const t0 = process.hrtime.bigint();
              if (bytes) for (let i = 0; i < n; i++) await w.sendBytes(make(i));
              else for (let i = 0; i < n; i++) await w.send(make(i));
              done(t0);
            };
      break;
    }
    case 'mp-counter-acquire':
    case 'mp-counter-with': {
      // n increments of a shared Value('int32') under its own lock.
      const v = Value.attach(cfg.value);
      const lock = v.getLock();
      const inc = () => {
        v.value++;
      };
      run = (n) => {
        const t0 = process.hrtime.bigint();
        if (cfg.role === 'mp-counter-with') {
          for (let i = 0; i < n; i++) lock.withLockSync(inc);
        } else {
          for (let i = 0; i < n; i++) {
            lock.acquireSync();
            v.value++;
            lock.release();
          }
        }
        port.send({ __ctl: 'done', t0: String(t0), t1: String(process.hrtime.bigint()) });
      };
      break;
    }
    case 'atomics-counter': {
      // The same with an Atomics mutex (Int32 0) guarding a plain Int32 (1) of a SharedArrayBuffer.
      const m = new AtomicsMutex(cfg.sab, 0);
      const a = new Int32Array(cfg.sab);
      run = (n) => {
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < n; i++) {
          m.acquire();
          a[1]++;
          m.release();
        }
        port.send({ __ctl: 'done', t0: String(t0), t1: String(process.hrtime.bigint()) });
      };
      break;
    }
    case 'mp-event-echo': {
      // Waits for a, clears it, sets b: the main side sets a, waits for b and clears it.
      const a = Event.attach(cfg.a);
      const b = Event.attach(cfg.b);
      run = (n) => {
        for (let i = 0; i < n; i++) {
          a.waitSync();
          a.clear();
          b.set();
        }
        done(0);
      };
      break;
    }
    case 'mp-sem-echo': {
      // Two Semaphore(0): takes from a, gives to b.
      const a = Semaphore.attach(cfg.a);
      const b = Semaphore.attach(cfg.b);
      run = (n) => {
        for (let i = 0; i < n; i++) {
          a.acquireSync();
          b.release();
        }
        done(0);
      };
      break;
    }
    case 'msg-echo':
      run = () => {};
      break;
    default:
      throw new Error(`unknown role ${cfg.role}`);
  }
  port.onMessage((m) => {
    if (!isCtl(m)) {
      port.send(m); // msg-echo: return the ping as it came
    } else if (m.__ctl === 'run') {
      Promise.resolve(run(m.n)).catch((e) => {
        console.error(e);
        process.exit(1);
      });
    } else if (m.__ctl === 'exit') {
      port.close();
    }
  });
  port.send({ __ctl: 'ready' });
}
