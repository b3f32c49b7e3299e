/**
 * Test helpers: start real child processes and worker threads from compiled
 * fixtures, wait for their exit, and make sure none outlives its test.
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

const live = new Set<ChildProcess>();
const workers = new Set<Worker>();
// Exit of each worker, watched from its start: a worker that already exited
// emits no more 'exit' events.
const workerExits = new WeakMap<Worker, Promise<{ code: number | null; signal: NodeJS.Signals | null }>>();

/** Path of a compiled fixture (`__test__/fixtures/<name>.ts`). */
export function fixture(name: string): string {
  return path.join(__dirname, 'fixtures', `${name}.js`);
}

/** Forks a fixture with JSON-encoded arguments; the child gets them as `process.argv[2]`. */
export function forkFixture(name: string, arg: unknown, opts: { silent?: boolean } = {}): ChildProcess {
  const child = fork(fixture(name), [JSON.stringify(arg)], { stdio: opts.silent ? 'pipe' : 'inherit', serialization: 'advanced' });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** Starts a fixture in a worker thread; it gets `arg` as `workerData`. */
export function startWorker(name: string, arg: unknown): Worker {
  const w = new Worker(fixture(name), { workerData: arg });
  workers.add(w);
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    w.once('error', reject);
    w.once('exit', (code) => {
      workers.delete(w);
      resolve({ code, signal: null });
    });
  });
  // Handled here so an error nobody waits for is not an unhandled rejection.
  exit.catch(() => undefined);
  workerExits.set(w, exit);
  return w;
}

/** Resolves with the exit code and signal of a child or worker. */
export function exited(p: ChildProcess | Worker): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (p instanceof Worker) {
    const known = workerExits.get(p);
    if (known) return known;
    return new Promise((resolve, reject) => {
      p.once('error', reject);
      p.once('exit', (code) => resolve({ code, signal: null }));
    });
  }
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve({ code: p.exitCode, signal: p.signalCode });
  return new Promise((resolve) => p.once('exit', (code, signal) => resolve({ code, signal })));
}

/**
 * Kills every child and worker still running (call from `test.afterEach.always`).
 * It kills those of every test of the file, so tests that start children must
 * be `test.serial`.
 */
export async function reap(): Promise<void> {
  const waits: Promise<unknown>[] = [];
  for (const c of live) {
    waits.push(exited(c));
    c.kill('SIGKILL');
  }
  for (const w of workers) waits.push(w.terminate());
  await Promise.all(waits);
}

/** Names of this package's entries in /dev/shm. */
export function shmEntries(): string[] {
  return fs.readdirSync('/dev/shm').filter((n) => n.startsWith('multiproc-')).sort();
}

/** A name unique to this test run, for named objects. */
export function uniqueName(tag: string): string {
  return `test-${tag}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
}
