import test from 'ava';

import { Queue } from 'multiproc';

test('a queue carries an item within one thread', async (t) => {
  const q = new Queue<{ id: number }>();
  await q.put({ id: 1 });
  t.deepEqual(await q.get(), { id: 1 });
});
