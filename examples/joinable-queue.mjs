// The classic JoinableQueue scenario, across real processes (`npm run demo`):
// 3 producer processes put items into one JoinableQueue, 2 daemon-style
// consumer processes take them and call taskDone(), and the main process
// waits on `await q.join()`, then shuts the queue down so the consumers'
// `for await` loops end and they exit by themselves.
//
// There is no Process class yet, so children are started with
// child_process.fork(thisFile, [role, index, handle]) and open the queues
// with JoinableQueue.attach / Queue.attach. Coordination goes only through
// the queues and process exits: no sleeps, no timers.
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';

import { JoinableQueue, Queue } from 'multiproc';

const PRODUCERS = 3;
const CONSUMERS = 2;
const ITEMS_PER_PRODUCER = 5;
const MAXSIZE = 4; // a bounded queue: producers wait (without polling) while it is full

const [role, index, handleJson, doneJson] = process.argv.slice(2);
if (role === 'producer') await producer(Number(index), JSON.parse(handleJson));
else if (role === 'consumer') await consumer(Number(index), JSON.parse(handleJson), JSON.parse(doneJson));
else await main();

/** Puts ITEMS_PER_PRODUCER items, then exits at once: each item is already in shared memory. */
async function producer(i, handle) {
  const q = JoinableQueue.attach(handle);
  const release = exitWithParent();
  for (let k = 1; k <= ITEMS_PER_PRODUCER; k++) {
    const item = { id: `${i}-${k}`, producer: i, n: i * 100 + k };
    // Printed first, so it precedes the consumer's line; put waits while the queue is full.
    console.log(`producer ${i} (pid ${process.pid}) put  item ${item.id}`);
    await q.put(item);
  }
  release();
}

/** Takes items until the queue is shut down; reports each one on `done`, then acknowledges it. */
async function consumer(i, handle, doneHandle) {
  const q = JoinableQueue.attach(handle);
  const done = Queue.attach(doneHandle);
  const release = exitWithParent();
  for await (const item of q) {
    const digest = work(item.n);
    console.log(`consumer ${i} (pid ${process.pid}) done item ${item.id} -> ${digest}`);
    // Report before taskDone(): once join() returns, every report is in `done`.
    await done.put({ consumer: i, pid: process.pid, id: item.id, producer: item.producer });
    q.taskDone();
  }
  // The queue was shut down and drained: nothing is left to do, so the process ends by itself.
  release();
}

/**
 * Daemon-like: if the main process dies (even by SIGKILL), the IPC channel
 * closes and this child exits too. The returned function drops the listener,
 * which also unrefs the channel so the child can end on its own.
 */
function exitWithParent() {
  const orphaned = () => process.exit(1);
  process.on('disconnect', orphaned);
  return () => process.off('disconnect', orphaned);
}

/** Some CPU work (a few ms) standing in for real processing. */
function work(n) {
  let h = String(n);
  for (let r = 0; r < 10000; r++) h = createHash('sha256').update(h).digest('hex');
  return h.slice(0, 8);
}

async function main() {
  const self = fileURLToPath(import.meta.url);
  const q = new JoinableQueue(MAXSIZE);
  const done = new Queue(); // consumers' reports, for the summary
  const handle = JSON.stringify(q.handle);
  const doneHandle = JSON.stringify(done.handle);

  const children = new Set();
  const start = (role, i, ...args) => {
    const child = fork(self, [role, String(i), handle, ...args]);
    children.add(child);
    const exited = new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) => {
        children.delete(child);
        if (code === 0) resolve();
        else reject(new Error(`${role} ${i} (pid ${child.pid}) failed: ${signal ?? `exit code ${code}`}`));
      });
    });
    return { i, pid: child.pid, exited };
  };
  // Whatever happens, never leave a child behind.
  process.on('exit', () => {
    for (const c of children) c.kill('SIGKILL');
  });

  console.log(`main (pid ${process.pid}): ${PRODUCERS} producers x ${ITEMS_PER_PRODUCER} items, ` +
    `${CONSUMERS} consumers, JoinableQueue(maxsize ${MAXSIZE})`);
  const consumers = [];
  for (let i = 1; i <= CONSUMERS; i++) consumers.push(start('consumer', i, doneHandle));
  const producers = [];
  for (let i = 1; i <= PRODUCERS; i++) producers.push(start('producer', i));

  // A consumer that dies early would leave join() waiting forever: fail instead.
  const consumerDied = Promise.race(consumers.map((c) => c.exited.then(() => {
    throw new Error(`consumer ${c.i} (pid ${c.pid}) exited before the work was done`);
  })));
  consumerDied.catch(() => {}); // only ever read through the race below
  try {
    // As in Python: join the producers (every item is put), then join the queue
    // (every item is acknowledged with taskDone).
    await Promise.race([consumerDied, (async () => {
      await Promise.all(producers.map((p) => p.exited));
      console.log('main: all producers exited; waiting on q.join()');
      await q.join();
    })()]);
    console.log(`main: q.join() returned (${q.unfinishedTasks()} unfinished tasks); shutting the queue down`);
    // The consumers' `for await` loops end at ShutDown and they exit by themselves.
    q.shutdown();
    await Promise.all(consumers.map((c) => c.exited));
    console.log('main: all consumers exited by themselves');
  } catch (e) {
    // A child failed: the work cannot finish, so stop everything now (join() and
    // the surviving children would otherwise keep this process waiting).
    console.error(`main: ${e.message}; stopping`);
    process.exit(1); // the 'exit' handler kills every child still running
  }

  // Summary, from the consumers' reports.
  const reports = [];
  while (!done.empty()) reports.push(done.getNowait());
  const perProducer = new Map(producers.map((p) => [p.i, 0]));
  const perConsumer = new Map(consumers.map((c) => [c.i, 0]));
  for (const r of reports) {
    perProducer.set(r.producer, perProducer.get(r.producer) + 1);
    perConsumer.set(r.consumer, perConsumer.get(r.consumer) + 1);
  }
  const expected = [];
  for (let i = 1; i <= PRODUCERS; i++) for (let k = 1; k <= ITEMS_PER_PRODUCER; k++) expected.push(`${i}-${k}`);
  const got = reports.map((r) => r.id).sort();
  const exact = got.length === expected.length && [...expected].sort().every((id, n) => got[n] === id);

  console.log('\nsummary');
  const items = (n) => `${n} item${n === 1 ? '' : 's'}`;
  for (const p of producers) console.log(`  producer ${p.i} (pid ${p.pid}) put  ${items(perProducer.get(p.i))}`);
  for (const c of consumers) console.log(`  consumer ${c.i} (pid ${c.pid}) done ${items(perConsumer.get(c.i))}`);
  console.log(`  total: ${expected.length} put, ${reports.length} done, ` +
    `each item exactly once: ${exact ? 'yes' : 'NO'}`);
  if (!exact) process.exitCode = 1;
}
