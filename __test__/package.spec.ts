/**
 * The package as users load it: ESM and CommonJS entry points export every
 * name of API.md, and the published types check in a strict consumer.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const names = [
  'Queue', 'SimpleQueue', 'JoinableQueue', 'Pipe', 'Connection', 'wait',
  'Lock', 'RLock', 'Semaphore', 'BoundedSemaphore', 'Event', 'Condition', 'Barrier',
  'Value', 'SharedArray', 'SharedMemory',
  'Process', 'currentProcess', 'parentProcess', 'activeChildren', 'cpuCount',
  'Empty', 'Full', 'ShutDown', 'EOFError', 'BufferTooShort', 'TimeoutError', 'BrokenBarrierError',
  'AuthenticationError', 'ProcessError', 'WorkerExitedError',
];

test('ESM import exposes every API name', (t) => {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e',
    `import * as m from 'multiproc'; console.log(JSON.stringify(${JSON.stringify(names)}.filter((n) => typeof m[n] !== 'function')));`,
  ], { cwd: root, encoding: 'utf8' });
  t.deepEqual(JSON.parse(out), []);
});

test('CommonJS require exposes every API name', (t) => {
  const out = execFileSync(process.execPath, ['-e',
    `const m = require('multiproc'); console.log(JSON.stringify(${JSON.stringify(names)}.filter((n) => typeof m[n] !== 'function')));`,
  ], { cwd: root, encoding: 'utf8' });
  t.deepEqual(JSON.parse(out), []);
});

test('the types check in a strict consumer without skipLibCheck', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'multiproc-types-'));
  try {
    const file = path.join(root, `types-consumer-${process.pid}.ts`);
    fs.writeFileSync(file, `
import { Queue, JoinableQueue, Pipe, Lock, Event, Value, Process, Empty, type QueueHandle } from 'multiproc';
const q = new Queue<{ id: number }>({ maxsize: 2 });
const h: QueueHandle = q.handle;
const q2: Queue<{ id: number }> = Queue.attach(h);
async function f(): Promise<number> {
  await q2.put({ id: 1 }, { timeout: 10 });
  const item = await q.get({ signal: AbortSignal.timeout(100) });
  const [a, b] = Pipe<string>();
  a.sendSync('x');
  const s: string = b.recvSync();
  const l = new Lock();
  const ok: boolean = await l.acquire({ block: false });
  const v = new Value('int32', 3);
  v.value = 4;
  const e = new Event();
  const j = new JoinableQueue<number>();
  j.taskDone;
  const p = new Process({ target: './x.js#y', args: [q, l, e, v] });
  void p; void s; void ok; void Empty;
  return item.id + v.value;
}
void f;
`);
    try {
      execFileSync(path.join(root, 'node_modules', '.bin', 'tsc'), ['--noEmit', '--strict', '--module', 'node16',
        '--moduleResolution', 'node16', '--target', 'es2022', '--types', 'node', file], { cwd: root, encoding: 'utf8' });
      t.pass();
    } catch (e) {
      t.fail((e as { stdout?: string }).stdout ?? String(e));
    } finally {
      fs.rmSync(file, { force: true });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
