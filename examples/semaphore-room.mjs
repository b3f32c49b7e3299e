// A Semaphore(4) guards a room that 13 processes want to enter. Each process
// counts itself in and out of a shared Value (under the Value's lock) and
// checks that never more than 4 are inside; the main process prints the
// highest count observed. Run: node examples/semaphore-room.mjs
import { Process, Semaphore, Value } from 'multiproc';

const CAPACITY = 4;
const VISITORS = 13;

const room = new Semaphore(CAPACITY);
const inside = new Value('int32', 0); // how many are inside now
const maxInside = new Value('int32', 0); // the most ever inside at once

const target = new URL('./_targets.mjs#visitRoom', import.meta.url);
const visitors = [];
for (let i = 1; i <= VISITORS; i++) {
  visitors.push(new Process({ target, args: [room, inside, maxInside, CAPACITY], name: `visitor-${String(i).padStart(2, '0')}` }));
}
for (const p of visitors) p.start();
for (const p of visitors) await p.join();

const failed = visitors.filter((p) => p.exitcode !== 0);
console.log(`main: ${VISITORS - failed.length} of ${VISITORS} visitors done; at most ${maxInside.value} were inside at once (capacity ${CAPACITY})`);
if (failed.length > 0 || maxInside.value > CAPACITY || inside.value !== 0 || room.getValue() !== CAPACITY) {
  console.error('main: FAILED');
  process.exitCode = 1;
}
