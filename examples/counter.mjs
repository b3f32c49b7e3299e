// Four child processes add to one shared number under its lock.
// Run: node examples/counter.mjs
import { Process, Value } from 'multiproc';

export function add(v, n) {
  for (let i = 0; i < n; i++) v.getLock().withLockSync(() => { v.value += 1; });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const v = new Value('int32', 0);
  const ps = [1, 2, 3, 4].map(() => new Process({ target: new URL('#add', import.meta.url), args: [v, 10_000] }));
  ps.forEach((p) => p.start());
  await Promise.all(ps.map((p) => p.join()));
  console.log(v.value, ps.map((p) => p.exitcode)); // 40000 [ 0, 0, 0, 0 ]
}
