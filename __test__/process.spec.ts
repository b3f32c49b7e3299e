/**
 * Process: every API line of the Process section, in both kinds ('process'
 * and 'thread') where it applies — target forms, arguments (cloned values and
 * shared objects, pipe ends), start/join/isAlive/kill/terminate/close, exit
 * codes, names and pids, currentProcess/parentProcess/activeChildren/cpuCount,
 * daemons (death with the parent, SIGKILL included; no grandchildren), the
 * non-daemon keep-alive, and bad input. Each test checks that no child it
 * started (directly or through a fixture parent) is still alive afterwards.
 *
 * Serial: `activeChildren()` and the orphan check are per test process.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

import test from 'ava';

import {
  Event,
  JoinableQueue,
  Lock,
  Pipe,
  Process,
  Queue,
  EOFError,
  Empty,
  Value,
  activeChildren,
  cpuCount,
  currentProcess,
  parentProcess,
} from 'multiproc';

import type { Hello, SharedReport } from './fixtures/process-targets';
import { exited, fixture, forkFixture, reap, uniqueName } from './helpers';

const KINDS = ['process', 'thread'] as const;

const TARGETS = fixture('process-targets');
const target = (name: string): string => `${TARGETS}#${name}`;

// ---- no orphans -------------------------------------------------------------

/** Pids of every child a test started or learned about (through a fixture). */
const tracked = new Set<number>();

function track(pid: number | undefined): void {
  if (pid !== undefined && pid !== process.pid) tracked.add(pid);
}

/** The state letter of /proc/<pid>/stat (field 3), or null when the pid is gone. */
function pidState(pid: number): string | null {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may hold spaces.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
}

/** Dead: gone, or a zombie nobody reaps (PID 1 here does not reap orphans). */
function isDead(pid: number): boolean {
  const s = pidState(pid);
  return s === null || s === 'Z' || s === 'X';
}

/**
 * Waits (bounded, no timing assertion) until `pid` is dead; the pauses are
 * waits on an Event nobody sets. Resolves with whether it died.
 */
async function waitDead(pid: number): Promise<boolean> {
  const never = new Event();
  for (let i = 0; i < 400 && !isDead(pid); i++) await never.wait({ timeout: 50 });
  return isDead(pid);
}

test.afterEach.always(async (t) => {
  // Anything a failed test left running is killed and reported.
  const left = activeChildren();
  for (const p of left) p.kill();
  // Bounded, so that a broken kill() fails the hook instead of hanging it.
  await Promise.all(left.map((p) => p.join(10_000)));
  await reap();
  const alive: number[] = [];
  for (const pid of tracked) {
    if (!(await waitDead(pid))) {
      alive.push(pid);
      process.kill(pid, 'SIGKILL');
    }
  }
  tracked.clear();
  t.deepEqual(left.map((p) => p.name), [], 'no Process child left running');
  t.deepEqual(alive, [], 'no orphan process');
});

// ---- helpers ----------------------------------------------------------------

/** Starts `p` and remembers its pid for the orphan check. */
function start(p: Process): Process {
  p.start();
  track(p.pid);
  return p;
}

/** Runs `p` to its end and returns its exit code. */
async function runToEnd(p: Process): Promise<number | null> {
  start(p);
  await p.join();
  return p.exitcode;
}

/** Collects a child's stderr as text. */
function stderrOf(child: ReturnType<typeof forkFixture>): () => string {
  let text = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => (text += s));
  child.stdout!.resume();
  return () => text;
}

// ---- target forms -----------------------------------------------------------

for (const kind of KINDS) {
  test.serial(`${kind}: every target form runs its target with the arguments`, async (t) => {
    t.timeout(60_000);
    const rel = path.relative(process.cwd(), TARGETS);
    const url = pathToFileURL(TARGETS).href;
    const forms: [string, ConstructorParameters<typeof Process>[0]['target']][] = [
      ["'./rel.js#fn' (relative to cwd)", `./${rel}#hello`],
      ["'rel.js#fn' (relative to cwd)", `${rel}#hello`],
      ["'/abs.js#fn'", target('hello')],
      ['file URL with #fn', new URL(`${url}#hello`)],
      ["'file:///…#fn' string", `${url}#hello`],
      ['{ module: path, export }', { module: TARGETS, export: 'hello' }],
      ['{ module: URL, export }', { module: new URL(url), export: 'hello' }],
      [
        'a self-contained function',
        (q: Queue<unknown>, ...rest: unknown[]) => {
          q.putSync({ name: 'from-source', args: rest });
        },
      ],
    ];
    for (const [i, [label, tgt]] of forms.entries()) {
      const q = new Queue<Partial<Hello>>();
      const p = new Process({ target: tgt, args: [q, label, i], kind });
      t.is(await runToEnd(p), 0, label);
      const r = q.getNowait();
      t.deepEqual(r.args, [label, i], label);
      if (label === 'a self-contained function') t.is(r.name, 'from-source');
      else t.is(r.name, p.name, label);
    }
  });

  test.serial(`${kind}: structured-clone arguments arrive equal and of the same types`, async (t) => {
    t.timeout(30_000);
    const cyclic: { self?: unknown; n: number } = { n: 1 };
    cyclic.self = cyclic;
    const values: unknown[] = [
      'text',
      42,
      -0,
      NaN,
      10n ** 20n,
      null,
      undefined,
      true,
      new Date(86_400_000),
      /x+y/gi,
      new Map<unknown, unknown>([[1, 'one'], ['k', [1, 2]]]),
      new Set(['a', 'b']),
      Buffer.from('buf'),
      new Float64Array([1.5, -2]),
      { nested: { deep: [1, { two: 2 }] } },
      cyclic,
    ];
    const q = new Queue<unknown[]>();
    t.is(await runToEnd(new Process({ target: target('echo'), args: [q, ...values], kind })), 0);
    const got = q.getNowait();
    t.is(got.length, values.length);
    t.deepEqual(got.slice(0, 12), values.slice(0, 12));
    t.true(Object.is(got[2], -0));
    t.true(Buffer.isBuffer(got[12]));
    t.deepEqual(got[12], Buffer.from('buf'));
    t.true(got[13] instanceof Float64Array);
    t.deepEqual([...(got[13] as Float64Array)], [1.5, -2]);
    t.deepEqual(got[14], values[14]);
    const c = got[15] as typeof cyclic;
    t.is(c.self, c);
    t.is(c.n, 1);
  });

  test.serial(`${kind}: shared objects as arguments arrive attached and working`, async (t) => {
    t.timeout(30_000);
    const q = new Queue<SharedReport>();
    const jq = new JoinableQueue<number>();
    const lock = new Lock();
    const ev = new Event();
    const val = new Value<number>('int32', 1);
    const [r, w] = Pipe<number>(false);
    t.true(lock.acquireSync());
    const p = start(new Process({ target: target('useShared'), args: [q, jq, lock, ev, val, w], kind }));
    // The child holds its own copy of the send end from start() on.
    w.close();
    t.deepEqual(await q.get(), { step: 'started', tryLock: false }, 'the lock we hold is held in the child too');
    lock.release();
    await jq.put(21);
    ev.set();
    t.is(await r.recv(), 42);
    await jq.join({ timeout: 20_000 });
    t.deepEqual(await q.get(), { step: 'done' });
    await p.join();
    t.is(p.exitcode, 0);
    t.is(val.value, 42);
    t.false(lock.locked());
    await t.throwsAsync(r.recv(), { instanceOf: EOFError });
    r.close();
  });

  test.serial(`${kind}: a pipe end passed as argument: EOF only after the child ends, though the parent closed its copy at start()`, async (t) => {
    t.timeout(30_000);
    const [r, w] = Pipe<string>(false);
    const go = new Event();
    const p = start(new Process({ target: target('pipeWriter'), args: [w, go], kind }));
    w.close();
    t.is(await r.recv(), 'a');
    // Nothing more yet, and no EOF: the child still holds its end.
    t.false(await r.poll(0));
    go.set();
    t.is(await r.recv(), 'b');
    await t.throwsAsync(r.recv(), { instanceOf: EOFError });
    await p.join();
    t.is(p.exitcode, 0);
    r.close();
  });

  // ---- lifecycle ------------------------------------------------------------

  test.serial(`${kind}: start() twice throws Error`, async (t) => {
    const p = start(new Process({ target: () => undefined, kind }));
    t.throws(() => p.start(), { instanceOf: Error, message: /twice/ });
    await p.join();
    t.is(p.exitcode, 0);
    t.throws(() => p.start(), { instanceOf: Error });
  });

  test.serial(`${kind}: join(timeout) resolves after the timeout while the child waits, join() after it ends`, async (t) => {
    t.timeout(30_000);
    const ev = new Event();
    const ready = new Queue<number>();
    const p = new Process({ target: target('waitEvent'), args: [ev, ready], kind });
    await t.throwsAsync(p.join(), { instanceOf: Error }, 'join before start');
    start(p);
    await ready.get();
    await p.join(100);
    t.is(p.exitcode, null);
    t.true(p.isAlive());
    await p.join(0);
    t.is(p.exitcode, null);
    await t.throwsAsync(p.join(-1), { instanceOf: RangeError });
    await t.throwsAsync(p.join(NaN), { instanceOf: RangeError });
    ev.set();
    await p.join();
    t.is(p.exitcode, 0);
    t.false(p.isAlive());
    // Joining an ended child resolves at once, again and again.
    await p.join();
    await p.join(0);
    t.is(p.exitcode, 0);
  });

  test.serial(`${kind}: exitcode is null before and while running, 0 on return and on a resolved Promise`, async (t) => {
    t.timeout(30_000);
    const q = new Queue<string>();
    const p = new Process({ target: target('helloAsync'), args: [q], kind });
    t.is(p.exitcode, null);
    t.is(await runToEnd(p), 0);
    t.deepEqual([q.getNowait(), q.getNowait()], ['async-1', 'async-2']);
    t.is(await runToEnd(new Process({ target: () => 'a value', kind })), 0);
    t.is(await runToEnd(new Process({ target: async () => await Promise.resolve(7), kind })), 0);
    // An async function target that waits on an Event: still running until set.
    const ev = new Event();
    const ready = new Queue<number>();
    const a = start(new Process({ target: target('waitEventAsync'), args: [ev, ready], kind }));
    await ready.get();
    t.is(a.exitcode, null);
    ev.set();
    await a.join();
    t.is(a.exitcode, 0);
  });

  test.serial(`${kind}: exitcode 1 when the target throws or rejects; error and stack on the child's stderr`, async (t) => {
    t.timeout(30_000);
    const out = new Queue<{ codes: number[] }>();
    const parent = forkFixture('process-parent', { scenario: 'throw', kind, out: out.handle }, { silent: true });
    track(parent.pid);
    const stderr = stderrOf(parent);
    t.deepEqual(await exited(parent), { code: 0, signal: null });
    t.deepEqual(out.getNowait(), { codes: [1, 1] });
    const err = stderr();
    t.regex(err, new RegExp(`Error: boom-sync-${kind}`));
    t.regex(err, new RegExp(`Error: boom-async-${kind}`));
    t.regex(err, /^\s+at \S+.*process-targets\.js:\d+/m, 'a stack line pointing into the target module');
  });

  for (const [how, code] of [
    ['kill', -9],
    ['terminate', -15],
  ] as const) {
    test.serial(`${kind}: ${how}() gives exitcode ${code}, whether the child blocks in a …Sync wait or awaits`, async (t) => {
      t.timeout(30_000);
      for (const waiter of ['waitEvent', 'waitEventAsync']) {
        const ev = new Event();
        const ready = new Queue<number>();
        const p = start(new Process({ target: target(waiter), args: [ev, ready], kind }));
        await ready.get();
        t.true(p.isAlive());
        p[how]();
        await p.join();
        t.is(p.exitcode, code, waiter);
        t.false(p.isAlive());
        t.false(ev.isSet());
        // Signalling an ended child does nothing.
        p.kill();
        p.terminate();
        t.is(p.exitcode, code);
      }
    });
  }

  test.serial(`${kind}: isAlive() and close()`, async (t) => {
    t.timeout(30_000);
    const ev = new Event();
    const ready = new Queue<number>();
    const p = new Process({ target: target('waitEvent'), args: [ev, ready], kind });
    t.false(p.isAlive(), 'not started');
    start(p);
    t.true(p.isAlive(), 'just started');
    await ready.get();
    t.true(p.isAlive(), 'running');
    t.throws(() => p.close(), { instanceOf: Error, message: /running/ });
    t.true(p.isAlive(), 'a refused close changes nothing');
    ev.set();
    await p.join();
    t.false(p.isAlive());
    t.notThrows(() => p.close());
    t.notThrows(() => p.close(), 'close twice is fine');
    t.throws(() => p.isAlive(), { instanceOf: Error });
    t.throws(() => p.start(), { instanceOf: Error });
    await t.throwsAsync(p.join(), { instanceOf: Error });
    // A never-started Process may be closed too.
    const idle = new Process({ target: () => undefined, kind });
    t.notThrows(() => idle.close());
    t.throws(() => idle.start(), { instanceOf: Error });
  });

  // ---- identity -------------------------------------------------------------

  test.serial(`${kind}: pid, name, daemon; currentProcess() and parentProcess() in the child`, async (t) => {
    t.timeout(30_000);
    const q = new Queue<Hello>();
    const a = new Process({ target: target('hello'), args: [q], kind });
    const b = new Process({ target: target('hello'), args: [q], kind });
    const ma = /^Process-(\d+)$/.exec(a.name);
    const mb = /^Process-(\d+)$/.exec(b.name);
    t.truthy(ma, a.name);
    t.truthy(mb, b.name);
    t.is(Number(mb![1]), Number(ma![1]) + 1, 'default names count up');
    t.is(a.pid, undefined, 'no pid before start');
    t.false(a.daemon);
    t.is(a.kind, kind);
    const c = new Process({ target: target('hello'), args: [q], kind, name: 'custom name ü', daemon: true });
    t.is(c.name, 'custom name ü');
    t.true(c.daemon);
    // Both settable before start.
    b.name = 'renamed';
    b.daemon = true;
    t.throws(() => (b.name = 5 as unknown as string), { instanceOf: TypeError });

    for (const p of [a, b, c]) {
      start(p);
      const threadId = p.threadId;
      await p.join();
      t.is(p.exitcode, 0);
      t.is(p.threadId, threadId, 'threadId is kept after the end');
      const r = q.getNowait();
      t.is(r.name, p.name);
      t.is(r.daemon, p.daemon);
      t.is(r.parentPid, process.pid);
      t.is(r.parentName, 'MainProcess');
      if (kind === 'process') {
        t.is(p.pid, r.pid);
        t.not(r.pid, process.pid);
        t.is(r.threadId, undefined);
      } else {
        t.is(p.pid, process.pid);
        t.is(r.pid, process.pid);
        t.is(r.threadId, p.threadId);
        t.true(typeof r.threadId === 'number' && r.threadId > 0);
      }
    }
    t.throws(() => (a.daemon = true), { instanceOf: Error }, 'daemon cannot change after start');
    const me = currentProcess();
    t.is(me.name, 'MainProcess');
    t.is(me.pid, process.pid);
    t.false(me.daemon);
    t.is(parentProcess(), null);
  });

  test.serial(`${kind}: activeChildren() lists the running children`, async (t) => {
    t.timeout(30_000);
    t.deepEqual(activeChildren(), []);
    const ev = new Event();
    const ready = new Queue<number>();
    const ps = [0, 1].map(() => start(new Process({ target: target('waitEvent'), args: [ev, ready], kind })));
    await ready.get();
    await ready.get();
    const names = (): string[] => activeChildren().map((p) => p.name).sort();
    t.deepEqual(names(), ps.map((p) => p.name).sort());
    t.true(activeChildren().every((p) => ps.includes(p)), 'the very Process objects');
    ev.set();
    await Promise.all(ps.map((p) => p.join()));
    t.deepEqual(activeChildren(), []);
  });

  // ---- daemons --------------------------------------------------------------

  test.serial(`${kind}: a daemon that starts a child fails with ProcessError (exit 1, message on stderr)`, async (t) => {
    t.timeout(30_000);
    const out = new Queue<{ code: number }>();
    const parent = forkFixture('process-parent', { scenario: 'daemon-grandchild', kind, out: out.handle }, { silent: true });
    track(parent.pid);
    const stderr = stderrOf(parent);
    t.deepEqual(await exited(parent), { code: 0, signal: null });
    t.deepEqual(out.getNowait(), { code: 1 });
    t.regex(stderr(), /ProcessError.*daemonic processes are not allowed to have children/);
    t.regex(stderr(), /^\s+at .*startGrandchild/m);
  });

  test.serial(`${kind}: a running non-daemon child keeps its parent alive until it ends`, async (t) => {
    t.timeout(30_000);
    const name = uniqueName('keepalive');
    const ev = new Event({ name });
    try {
      const out = new Queue<{ step: string; childPid?: number; code?: number; childExitcode?: number; childAlive?: boolean }>();
      const parent = forkFixture('process-parent', { scenario: 'keepalive', kind, out: out.handle, ev: ev.handle });
      track(parent.pid);
      const returned = await out.get({ timeout: 20_000 });
      t.is(returned.step, 'returned', 'the parent’s main code has returned');
      track(returned.childPid);
      // The parent must not exit while its child waits (a bounded negative wait, not a timing check).
      await t.throwsAsync(out.get({ timeout: 300 }), { instanceOf: Empty });
      t.is(parent.exitCode, null);
      t.false(isDead(parent.pid!));
      t.false(isDead(returned.childPid!));
      ev.set();
      t.deepEqual(await exited(parent), { code: 0, signal: null });
      t.deepEqual(out.getNowait(), { step: 'exit', code: 0, childExitcode: 0, childAlive: false });
    } finally {
      ev.unlink();
    }
  });

  test.serial(`${kind}: a daemon child does not keep its parent alive`, async (t) => {
    t.timeout(30_000);
    const out = new Queue<{ daemonPid: number; parentPid: number; alive: boolean }>();
    const parent = forkFixture('process-parent', { scenario: 'daemon', kind, mode: 'return', out: out.handle });
    track(parent.pid);
    t.deepEqual(await exited(parent), { code: 0, signal: null });
    const r = out.getNowait();
    t.true(r.alive, 'the daemon was running when the parent returned');
    if (kind === 'thread') t.is(r.daemonPid, r.parentPid);
    else track(r.daemonPid);
  });
}

test.serial('process: a daemon child is killed when its parent exits normally', async (t) => {
  t.timeout(30_000);
  const out = new Queue<{ daemonPid: number; parentPid: number; alive: boolean }>();
  const [r, w] = Pipe<string>(false);
  const parent = forkFixture('process-parent', { scenario: 'daemon', kind: 'process', mode: 'return', out: out.handle, w: w.handle });
  track(parent.pid);
  const info = await out.get({ timeout: 20_000 });
  track(info.daemonPid);
  // The fixture and the daemon hold the send end by now.
  w.close();
  t.true(info.alive);
  t.not(info.daemonPid, info.parentPid);
  t.deepEqual(await exited(parent), { code: 0, signal: null });
  // EOF arrives once the last holder of the send end, the daemon, is dead.
  await t.throwsAsync(r.recv(), { instanceOf: EOFError });
  t.true(await waitDead(info.daemonPid), `daemon ${info.daemonPid} is dead`);
  r.close();
});

test.serial('process: a daemon child is killed when its parent is SIGKILLed', async (t) => {
  t.timeout(30_000);
  const out = new Queue<{ daemonPid: number; parentPid: number; alive: boolean }>();
  const [r, w] = Pipe<string>(false);
  const parent = forkFixture('process-parent', { scenario: 'daemon', kind: 'process', mode: 'block', out: out.handle, w: w.handle });
  track(parent.pid);
  const info = await out.get({ timeout: 20_000 });
  track(info.daemonPid);
  w.close();
  t.true(info.alive);
  t.false(isDead(info.daemonPid), 'the daemon runs while its parent is blocked');
  parent.kill('SIGKILL');
  t.deepEqual(await exited(parent), { code: null, signal: 'SIGKILL' });
  await t.throwsAsync(r.recv(), { instanceOf: EOFError });
  t.true(await waitDead(info.daemonPid), `daemon ${info.daemonPid} is dead`);
  r.close();
});

// ---- misc -------------------------------------------------------------------

test.serial('cpuCount() is a positive integer', (t) => {
  const n = cpuCount();
  t.true(Number.isInteger(n) && n > 0, String(n));
});

test.serial('bad input throws TypeError at new Process', (t) => {
  const bad: [string, unknown][] = [
    ['no options', undefined],
    ['target missing', {}],
    ['target 123', { target: 123 }],
    ["target 'nohash'", { target: 'nohash' }],
    ["target 'x#'", { target: 'x#' }],
    ["target '#fn'", { target: '#fn' }],
    ['target URL without hash', { target: pathToFileURL(TARGETS) }],
    ['target http URL', { target: new URL('http://example.com/x.js#fn') }],
    ['target { module } without export', { target: { module: TARGETS } }],
    ['target { export } without module', { target: { export: 'hello' } }],
    ['a native function', { target: Math.max }],
    ['a bound (native-looking) function', { target: ((x: number) => x).bind(null) }],
    ['a class', { target: class {} }],
    ["kind 'x'", { target: target('hello'), kind: 'x' }],
    ['args not an array', { target: target('hello'), args: 'abc' }],
    ['args an object', { target: target('hello'), args: { 0: 1, length: 1 } }],
    ['name not a string', { target: target('hello'), name: 7 }],
    ['daemon not a boolean', { target: target('hello'), daemon: 'yes' }],
  ];
  for (const [label, opts] of bad) {
    t.throws(() => new Process(opts as ConstructorParameters<typeof Process>[0]), { instanceOf: TypeError }, label);
  }
  t.deepEqual(activeChildren(), []);
});
