// The raw peers of the `startup` case: the smallest script that tells its
// parent it runs, as a forked child (one IPC message, then it lets go of the
// channel and exits) or as a worker thread (one postMessage).
import { isMainThread, parentPort } from 'node:worker_threads';

if (isMainThread) {
  process.send('up', () => process.disconnect());
} else {
  parentPort.postMessage('up');
}
