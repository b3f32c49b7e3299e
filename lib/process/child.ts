/**
 * The entry point of every `Process` child, as a process (`fork`) or a
 * worker thread. It receives the bootstrap (name, daemon flag, target,
 * encoded arguments), arranges for a daemon to die with its parent, runs the
 * target, waits for its own non-daemon children, and exits: 0 when the
 * target returns or resolves, 1 when it throws (the error and stack go to
 * stderr).
 * @packageDocumentation
 */
import { isMainThread, parentPort, threadId, workerData } from 'node:worker_threads';

// Loading the package registers every shared class, so arguments can be attached.
import '../../index';
import { native } from '../native';
import { decode } from '../serialize';
import { context, infoOf } from './context';
import { activeChildren, ATTACHED, type Bootstrap } from './process';
import { resolveTarget } from './target';

async function run(b: Bootstrap): Promise<void> {
  context.current = infoOf(b.name, process.pid, b.daemon, isMainThread ? undefined : threadId);
  context.parent = infoOf(b.parentName, b.parentPid, false);
  if (b.daemon && isMainThread && !native.dieWithParent(b.parentPid)) {
    // The parent died before we could tie ourselves to it: a daemon goes with it.
    process.kill(process.pid, 'SIGKILL');
  }
  let code = 0;
  try {
    const fn = await resolveTarget(b.target);
    const args = decode(b.tag, Buffer.from(b.args)) as unknown[];
    // The parent holds extra copies of our pipe ends until we have our own.
    parentPort?.postMessage(ATTACHED);
    await fn(...args);
  } catch (e) {
    process.stderr.write(`Process ${b.name}:\n`);
    console.error(e);
    code = 1;
  }
  // As in Python, a child waits for its own non-daemon children before exiting.
  await Promise.all(activeChildren().filter((c) => !c.daemon).map((c) => c.join()));
  process.exit(code);
}

if (isMainThread) {
  process.once('message', (m) => {
    process.disconnect?.();
    void run(m as Bootstrap);
  });
} else {
  void run(workerData as Bootstrap);
}
