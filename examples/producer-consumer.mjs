// The simplest Queue across processes, Python style: the main process
// produces, forked consumers take items until they get a sentinel (null).
// One sentinel per consumer, so each one stops. Run: node examples/producer-consumer.mjs
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { Queue } from 'multiproc';

const CONSUMERS = 2;

if (process.argv[2] === 'consumer') {
  // The child opens the same queue from the handle its parent passed.
  const q = Queue.attach(JSON.parse(process.argv[3]));
  for (let item; (item = await q.get()) !== null;) {
    console.log(`consumer (pid ${process.pid}) got ${JSON.stringify(item)}`);
  }
} else {
  const q = new Queue(10); // bounded: put waits while 10 items are queued
  const handle = JSON.stringify(q.handle);
  const children = [];
  for (let i = 0; i < CONSUMERS; i++) children.push(fork(fileURLToPath(import.meta.url), ['consumer', handle]));
  for (let n = 1; n <= 20; n++) await q.put({ n, square: n * n });
  for (let i = 0; i < CONSUMERS; i++) await q.put(null); // one sentinel per consumer
  // Like Python's p.join(): wait for every consumer to exit.
  await Promise.all(children.map((c) => new Promise((resolve) => c.once('exit', resolve))));
  console.log('main: all consumers done');
}
