// A Lock keeps each process's two lines of output together: 5 processes each
// print pairs of lines inside lock.withLockSync(), pausing between the two
// lines, yet no other process's line ever lands in between. (A child's
// console.log on a file, pipe or terminal is a synchronous write on Linux, so
// a line is out before the lock is released.) Run: node examples/lock-output.mjs
import { Lock, Process } from 'multiproc';

const WRITERS = 5;
const ROUNDS = 3;

const lock = new Lock();
const target = new URL('./_targets.mjs#printPairs', import.meta.url);
const writers = [];
for (let i = 1; i <= WRITERS; i++) writers.push(new Process({ target, args: [lock, ROUNDS], name: `writer-${i}` }));
for (const p of writers) p.start();
for (const p of writers) await p.join();

const failed = writers.filter((p) => p.exitcode !== 0);
console.log(`main: ${WRITERS - failed.length} of ${WRITERS} writers printed ${ROUNDS} pairs each`);
if (failed.length > 0 || lock.locked()) {
  console.error('main: FAILED');
  process.exitCode = 1;
}
