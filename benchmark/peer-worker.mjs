// Worker-thread side of a benchmark pair: `new Worker(peer-worker.mjs, { workerData: cfg })`.
// See lib/remote.mjs for the roles and the control protocol.
import { parentPort, workerData } from 'node:worker_threads';

import { serve } from './lib/remote.mjs';

serve(workerData, {
  send: (m) => parentPort.postMessage(m),
  onMessage: (fn) => parentPort.on('message', fn),
  close: () => parentPort.close(), // no handle left: the thread exits by itself
});
