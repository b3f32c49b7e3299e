// Producers and consumers over one Queue, Python style, with Process:
// 2 producer processes put numbered items, 3 consumer processes take them
// until each gets a sentinel (null) — one sentinel per consumer, put by the
// main process after the producers have ended. The consumers report what they
// took through a second queue, and the main process checks that every item
// was taken exactly once. Run: node examples/queue-sentinels.mjs
//
// The targets are self-contained functions (sent to the child as source):
// everything they use comes in through their arguments.
import { Process, Queue } from 'multiproc';

const PRODUCERS = 2;
const CONSUMERS = 3;
const ITEMS = 8; // per producer

function producer(q, id, count) {
  for (let n = 1; n <= count; n++) q.putSync({ from: `producer-${id}`, n }); // waits while the queue is full
  console.log(`producer-${id}: put ${count} items`);
}

function consumer(q, results, id) {
  const took = [];
  // A sentinel (null) means: no more work for this consumer.
  for (let item; (item = q.getSync()) !== null;) {
    took.push(`${item.from}#${item.n}`);
    console.log(`consumer-${id} got ${item.from} #${item.n}`);
  }
  console.log(`consumer-${id}: got the sentinel, stopping after ${took.length} items`);
  results.putSync({ id, took });
}

const q = new Queue(5); // bounded: a producer waits while 5 items are queued
const results = new Queue();

const producers = [];
for (let i = 1; i <= PRODUCERS; i++) producers.push(new Process({ target: producer, args: [q, i, ITEMS], name: `producer-${i}` }));
const consumers = [];
for (let i = 1; i <= CONSUMERS; i++) consumers.push(new Process({ target: consumer, args: [q, results, i], name: `consumer-${i}` }));

// Consumers first: they are waiting on the queue by the time items arrive.
for (const p of [...consumers, ...producers]) p.start();

// Once every producer has ended, all real items are queued ahead of the sentinels.
for (const p of producers) await p.join();
for (let i = 0; i < CONSUMERS; i++) await q.put(null);
for (const p of consumers) await p.join();

const taken = [];
for (let i = 0; i < CONSUMERS; i++) {
  const { id, took } = await results.get();
  console.log(`main: consumer-${id} took ${took.length} items`);
  taken.push(...took);
}
const expected = PRODUCERS * ITEMS;
const unique = new Set(taken).size;
const failed = [...producers, ...consumers].filter((p) => p.exitcode !== 0);
console.log(`main: ${taken.length} items taken (${unique} distinct) of ${expected} produced`);
if (taken.length !== expected || unique !== expected || failed.length > 0) {
  console.error(`main: FAILED (${failed.map((p) => `${p.name} exit ${p.exitcode}`).join(', ') || 'wrong item count'})`);
  process.exitCode = 1;
}
