// The classic JoinableQueue scenario (`npm run demo`), Python's way:
// 3 producer processes put items into one JoinableQueue, 2 *daemon* consumer
// processes take them and call taskDone(), and the main process joins the
// producers, then waits on `await q.join()` and exits. The daemons are killed
// when main exits, as in Python; nothing else is needed to clean up.
// Coordination goes only through the queues and process exits: no sleeps.
import { createHash } from 'node:crypto';

import { currentProcess, JoinableQueue, Process, Queue } from 'multiproc';

const PRODUCERS = 3;
const CONSUMERS = 2;
const ITEMS_PER_PRODUCER = 5;
const MAXSIZE = 4; // a bounded queue: producers wait (without polling) while it is full

/** Puts ITEMS_PER_PRODUCER items; the process may end right after: each item is already in shared memory. */
export async function producer(q, i) {
  const me = `${currentProcess().name} (pid ${process.pid})`;
  for (let k = 1; k <= ITEMS_PER_PRODUCER; k++) {
    const item = { id: `${i}-${k}`, producer: i, n: i * 100 + k };
    console.log(`${me} put  item ${item.id}`);
    await q.put(item);
  }
}

/** Takes items forever (a daemon: it dies with main); reports each on `done`, then acknowledges it. */
export async function consumer(q, done, i) {
  const me = `${currentProcess().name} (pid ${process.pid})`;
  for (;;) {
    const item = await q.get();
    console.log(`${me} done item ${item.id} -> ${work(item.n)}`);
    // Report before taskDone(): once join() returns, every report is in `done`.
    await done.put({ consumer: i, id: item.id, producer: item.producer });
    q.taskDone();
  }
}

/** Some CPU work (a few ms) standing in for real processing. */
function work(n) {
  let h = String(n);
  for (let r = 0; r < 10000; r++) h = createHash('sha256').update(h).digest('hex');
  return h.slice(0, 8);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const q = new JoinableQueue(MAXSIZE);
  const done = new Queue(); // consumers' reports, for the summary
  const here = (fn) => new URL(`#${fn}`, import.meta.url);

  console.log(`main (pid ${process.pid}): ${PRODUCERS} producers x ${ITEMS_PER_PRODUCER} items, ` +
    `${CONSUMERS} daemon consumers, JoinableQueue(maxsize ${MAXSIZE})`);
  const consumers = [];
  for (let i = 1; i <= CONSUMERS; i++) {
    consumers.push(new Process({ target: here('consumer'), args: [q, done, i], name: `consumer-${i}`, daemon: true }));
  }
  const producers = [];
  for (let i = 1; i <= PRODUCERS; i++) {
    producers.push(new Process({ target: here('producer'), args: [q, i], name: `producer-${i}` }));
  }
  for (const p of [...consumers, ...producers]) p.start();

  for (const p of producers) await p.join();
  const failed = producers.filter((p) => p.exitcode !== 0);
  if (failed.length > 0) {
    console.error(`main: ${failed.map((p) => `${p.name} exited ${p.exitcode}`).join(', ')}`);
    process.exit(1);
  }
  console.log('main: all producers exited; waiting on q.join()');
  await q.join();
  console.log(`main: q.join() returned (${q.unfinishedTasks()} unfinished tasks)`);

  // Summary, from the consumers' reports.
  const reports = [];
  while (!done.empty()) reports.push(done.getNowait());
  const count = (key, n) => reports.filter((r) => r[key] === n).length;
  const expected = PRODUCERS * ITEMS_PER_PRODUCER;
  const ids = new Set(reports.map((r) => r.id));
  console.log('\nsummary');
  for (let i = 1; i <= PRODUCERS; i++) console.log(`  producer-${i} put  ${count('producer', i)} items`);
  for (let i = 1; i <= CONSUMERS; i++) console.log(`  consumer-${i} done ${count('consumer', i)} items`);
  const exact = reports.length === expected && ids.size === expected;
  console.log(`  total: ${expected} put, ${reports.length} done, each item exactly once: ${exact ? 'yes' : 'NO'}`);
  console.log('main: exiting; the daemon consumers go with it');
  process.exitCode = exact ? 0 : 1;
}
