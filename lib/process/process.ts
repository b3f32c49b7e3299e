/**
 * Process (Python's `multiprocessing.Process`): runs a target function in a
 * child process (`fork` of this package's bootstrap) or, with
 * `kind: 'thread'`, in a worker thread, with the same semantics. Arguments
 * are structured-cloned; shared objects among them arrive attached.
 *
 * A daemon child dies with its parent however the parent ends (an exit
 * handler for normal exits, `PR_SET_PDEATHSIG` for SIGKILL) and may not start
 * children. A non-daemon child keeps its parent alive until it ends.
 * @packageDocumentation
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

import { ProcessError } from '../errors';
import { Connection } from '../pipe';
import { checkTimeout } from '../options';
import { encode, encodedTag, visitShared } from '../serialize';
import { children, context, type ProcessInfo } from './context';
import { targetSpec, type Target, type TargetSpec } from './target';

export type { ProcessInfo } from './context';
export type { Target } from './target';

/** Options of `new Process`. */
export interface ProcessOptions {
  /** What to run: `'./mod.js#fn'`, a file: URL with `#fn`, `{ module, export }`, or a self-contained function. */
  target: Target;
  /** Arguments (structured-cloneable; shared objects arrive attached). */
  args?: unknown[];
  /** Name (default `Process-<n>`). */
  name?: string;
  /** Kill the child when this process exits; a daemon may not start children. */
  daemon?: boolean;
  /** `'process'` (default) or `'thread'` (a worker thread). */
  kind?: 'process' | 'thread';
}

/** What a child receives. @internal */
export interface Bootstrap {
  name: string;
  daemon: boolean;
  parentPid: number;
  parentName: string;
  target: TargetSpec;
  tag: number;
  args: Uint8Array;
}

const CHILD = path.join(__dirname, 'child.js');
/** What a thread child posts once it has attached its arguments. @internal */
export const ATTACHED = 'multiproc:attached';
const live = new Set<Process>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Python terminates daemonic children at exit; SIGKILL of the parent is
  // covered by the children's parent-death signal.
  process.on('exit', () => {
    for (const p of live) if (p.daemon && p.isAlive()) p.terminate();
  });
}

/** A child process or thread running a target. */
export class Process {
  readonly #spec: TargetSpec;
  readonly #args: unknown[];
  readonly #kind: 'process' | 'thread';
  #name: string;
  #daemon: boolean;
  #child: ChildProcess | undefined;
  #worker: Worker | undefined;
  #pid: number | undefined;
  #threadId: number | undefined;
  #exitcode: number | null = null;
  #forcedCode: number | undefined;
  #started = false;
  #closed = false;
  #exited: Promise<void> | undefined;

  /** @throws TypeError for a bad target or options. */
  constructor(opts: ProcessOptions) {
    if (opts === null || typeof opts !== 'object') throw new TypeError('options must be an object with a target');
    this.#spec = targetSpec(opts.target);
    if (opts.args !== undefined && !Array.isArray(opts.args)) throw new TypeError('args must be an array');
    this.#args = opts.args ?? [];
    if (opts.name !== undefined && typeof opts.name !== 'string') throw new TypeError('name must be a string');
    if (opts.daemon !== undefined && typeof opts.daemon !== 'boolean') throw new TypeError('daemon must be a boolean');
    if (opts.kind !== undefined && opts.kind !== 'process' && opts.kind !== 'thread') {
      throw new TypeError("kind must be 'process' or 'thread'");
    }
    this.#kind = opts.kind ?? 'process';
    this.#name = opts.name ?? `Process-${++context.counter}`;
    this.#daemon = opts.daemon ?? context.current.daemon;
  }

  /** The name. */
  get name(): string {
    return this.#name;
  }

  set name(v: string) {
    if (typeof v !== 'string') throw new TypeError('name must be a string');
    this.#name = v;
  }

  /** True for a daemon child. Settable before `start()`. */
  get daemon(): boolean {
    return this.#daemon;
  }

  set daemon(v: boolean) {
    if (this.#started) throw new Error('process has already started');
    if (typeof v !== 'boolean') throw new TypeError('daemon must be a boolean');
    this.#daemon = v;
  }

  /** `'process'` or `'thread'`. */
  get kind(): 'process' | 'thread' {
    return this.#kind;
  }

  /** The child's pid once started (for a thread: this process's pid). */
  get pid(): number | undefined {
    return this.#pid;
  }

  /** For `kind: 'thread'`: the worker's thread id (kept after it ends). */
  get threadId(): number | undefined {
    return this.#threadId;
  }

  /** `null` while running (or not started); the exit code; `-signal` when killed by a signal. */
  get exitcode(): number | null {
    return this.#exitcode;
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error('process object is closed');
  }

  /** Starts the child. @throws ProcessError in a daemon; Error if started twice. */
  start(): void {
    this.#checkOpen();
    if (this.#started) throw new Error('cannot start a process twice');
    if (context.current.daemon) throw new ProcessError('daemonic processes are not allowed to have children');
    const bytes = encode(this.#args);
    const boot: Bootstrap = {
      name: this.#name,
      daemon: this.#daemon,
      parentPid: process.pid,
      parentName: context.current.name,
      target: this.#spec,
      tag: encodedTag,
      args: Buffer.from(bytes),
    };
    this.#started = true;
    if (this.#kind === 'thread') this.#startThread(boot);
    else this.#startProcess(boot);
    live.add(this);
    children.add(this);
    if (this.#daemon) installExitHook();
  }

  #startProcess(boot: Bootstrap): void {
    const child = fork(CHILD, [], { stdio: 'inherit', serialization: 'advanced', execArgv: process.execArgv });
    this.#child = child;
    this.#pid = child.pid;
    // Ends of pipes handed over count the child as a holder from now on, so the
    // parent may close its copy at once (as in Python after start()).
    if (child.pid !== undefined) {
      visitShared(this.#args, (o) => (o as { _addHolder?: (pid: number) => void })._addHolder?.(child.pid!));
    }
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exitcode = signal ? -(os.constants.signals[signal] ?? 0) : code;
        this.#ended();
        resolve();
      });
    });
    child.once('error', () => {
      // A failed spawn also emits 'exit' (or never started): record it.
      if (this.#exitcode === null && child.pid === undefined) {
        this.#exitcode = 1;
        this.#ended();
      }
    });
    child.send(boot);
    if (this.#daemon) {
      child.unref();
      child.channel?.unref();
    }
  }

  #startThread(boot: Bootstrap): void {
    // A thread shares our pid, so it cannot be pre-registered as the holder of
    // the pipe ends it gets: hold an extra copy of each here until the thread
    // says it has attached them (or ends), so that the caller may close its own
    // copy right after start() without the peer seeing EOF.
    const held: Connection[] = [];
    visitShared(this.#args, (o) => {
      if (o instanceof Connection && !o.closed) held.push(Connection.attach(o.handle));
    });
    const release = (): void => {
      for (const c of held.splice(0)) c.close();
    };
    const w = new Worker(CHILD, { workerData: boot });
    this.#worker = w;
    this.#pid = process.pid;
    this.#threadId = w.threadId;
    if (held.length > 0) {
      const onAttached = (m: unknown): void => {
        if (m !== ATTACHED) return;
        w.off('message', onAttached);
        release();
      };
      w.on('message', onAttached);
    }
    this.#exited = new Promise((resolve) => {
      w.once('exit', (code) => {
        release();
        this.#exitcode = this.#forcedCode ?? code;
        this.#ended();
        resolve();
      });
    });
    w.on('error', (e) => {
      process.stderr.write(`Process ${this.#name}:\n`);
      console.error(e);
    });
    if (this.#daemon) w.unref();
  }

  #holders = 0;

  #hold(d: number): void {
    this.#holders += d;
    if (!this.#daemon) return;
    const on = this.#holders > 0;
    if (this.#child) {
      if (on) this.#child.ref();
      else this.#child.unref();
    } else if (this.#worker) {
      if (on) this.#worker.ref();
      else this.#worker.unref();
    }
  }

  #ended(): void {
    live.delete(this);
    children.delete(this);
  }

  /** Resolves once the child has exited, or after `timeout` ms (check `exitcode`). */
  join(timeout?: number): Promise<void> {
    try {
      this.#checkOpen();
      const t = checkTimeout(timeout);
      if (!this.#started || !this.#exited) throw new Error('can only join a started process');
      if (this.#exitcode !== null) return Promise.resolve();
      // A daemon does not hold the event loop open, except while someone joins it.
      this.#hold(1);
      return new Promise<void>((resolve) => {
        const timer = t === undefined ? undefined : setTimeout(resolve, t);
        void this.#exited!.then(() => {
          clearTimeout(timer);
          resolve();
        });
      }).finally(() => this.#hold(-1));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** True between `start()` and the child's exit. */
  isAlive(): boolean {
    this.#checkOpen();
    return this.#started && this.#exitcode === null;
  }

  /** Sends SIGTERM (a thread is terminated; its exitcode is then -15). */
  terminate(): void {
    this.#signal('SIGTERM');
  }

  /** Sends SIGKILL (a thread is terminated; its exitcode is then -9). */
  kill(): void {
    this.#signal('SIGKILL');
  }

  #signal(sig: 'SIGTERM' | 'SIGKILL'): void {
    this.#checkOpen();
    if (!this.isAlive()) return;
    if (this.#worker) {
      this.#forcedCode = -os.constants.signals[sig];
      void this.#worker.terminate();
    } else {
      this.#child!.kill(sig);
    }
  }

  /** Frees the object. @throws Error while the child is still running. */
  close(): void {
    if (this.#started && this.#exitcode === null) throw new Error('cannot close a process while it is still running');
    this.#closed = true;
    this.#child = undefined;
    this.#worker = undefined;
  }
}

/** The current process (or `kind: 'thread'` child): name, pid, daemon. */
export function currentProcess(): ProcessInfo {
  return context.current;
}

/** The parent of this child, or `null` in the main process. */
export function parentProcess(): ProcessInfo | null {
  return context.parent;
}

/** The children of this process still running. */
export function activeChildren(): Process[] {
  return [...live].filter((p) => p.isAlive());
}

/** Number of CPUs this process may use. */
export function cpuCount(): number {
  return os.availableParallelism();
}
