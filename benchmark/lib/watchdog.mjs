// A watchdog thread for the benchmark: if one measured run takes far longer
// than it should (a hang in a peer or in the library), it reports which run
// and kills the benchmark and its child processes, so that a hang becomes a
// clear failure instead of a silent stall. It lives in its own thread because
// the main thread may be blocked in a sync call (getSync, Atomics.wait).
import { Worker } from 'node:worker_threads';

const code = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
let armed = null;
parentPort.on('message', (m) => { armed = m.label ? m : null; });
setInterval(() => {
  if (!armed || Date.now() < armed.deadline) return;
  fs.writeSync(2, '\\nbenchmark watchdog: ' + armed.label + ' did not finish within ' + armed.ms / 1000 + ' s; killing the run\\n');
  for (const pid of armed.pids) { try { process.kill(pid, 'SIGKILL'); } catch {} }
  process.kill(process.pid, 'SIGKILL');
}, 250);
`;

export function watchdog() {
  const w = new Worker(code, { eval: true });
  w.unref();
  return {
    /** Starts the clock for one run; `pids` are killed with the benchmark if it expires. */
    arm(label, ms, pids) {
      w.postMessage({ label, ms, deadline: Date.now() + ms, pids });
    },
    disarm() {
      w.postMessage({});
    },
  };
}
