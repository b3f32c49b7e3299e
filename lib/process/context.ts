/**
 * Who "we" are: the current process (or thread) and its parent, as
 * `currentProcess()` and `parentProcess()` report them, and the list of live
 * children. Filled in by the child bootstrap.
 * @packageDocumentation
 */

/** What `currentProcess()` and `parentProcess()` return. */
export interface ProcessInfo {
  /** The process name (`'MainProcess'` in the main process). */
  readonly name: string;
  /** The process id. */
  readonly pid: number;
  /** True in a daemon child. */
  readonly daemon: boolean;
  /** For a `kind: 'thread'` child: its worker thread id. */
  readonly threadId?: number;
  /** True while the process is alive. */
  isAlive(): boolean;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The running context; the child bootstrap replaces it. */
export const context: { current: ProcessInfo; parent: ProcessInfo | null; counter: number } = {
  current: { name: 'MainProcess', pid: process.pid, daemon: false, isAlive: () => true },
  parent: null,
  counter: 0,
};

/** Makes the info of a process known by pid. */
export function infoOf(name: string, pid: number, daemon: boolean, threadId?: number): ProcessInfo {
  return { name, pid, daemon, ...(threadId === undefined ? {} : { threadId }), isAlive: () => alive(pid) };
}

/** Children started here and not yet known to have exited. */
export const children = new Set<{ isAlive(): boolean }>();
