/**
 * What Lock, RLock, Semaphore and BoundedSemaphore share: acquiring in both
 * forms (`acquire` resolves false on timeout, as in Python), the async FIFO of
 * pending acquires, and `withLock`.
 * @packageDocumentation
 */
import { checkWait, type WaitOptions } from './options';
import { WaitSet, type Watch } from './waiters';

const FREE = 1;
const resolvedTrue = Promise.resolve(true);
const resolvedFalse = Promise.resolve(false);

/** The native side of something acquirable. */
export interface NativeAcquirable {
  acquire(timeout?: number | null): boolean;
}

/** Async and sync acquiring over a native object. */
export class Acquirer {
  readonly #n: NativeAcquirable;
  readonly #waits: WaitSet;

  constructor(n: NativeAcquirable, watch: (cb: (mask: number) => void) => Watch) {
    this.#n = n;
    this.#waits = new WaitSet(watch, () => this.#serve());
  }

  /** `acquire(opts)`: resolves true once acquired, false on timeout / `block: false`. */
  acquire(opts: unknown): Promise<boolean> {
    try {
      const o = checkWait(opts);
      if (o.signal?.aborted) return Promise.reject(o.signal.reason);
      if (!this.#waits.pending(FREE) && this.#n.acquire(0)) return resolvedTrue;
      if (o.timeout === 0) return resolvedFalse;
      return this.#waits.add(FREE, o, () => false, undefined, true) as Promise<boolean>;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** `acquireSync(opts)`: blocks the thread; true once acquired, false on timeout. */
  acquireSync(opts: unknown): boolean {
    const o = checkWait(opts);
    return this.#n.acquire(o.timeout);
  }

  #serve(): void {
    while (this.#waits.pending(FREE) && this.#n.acquire(0)) this.#waits.shift(FREE)!.resolve(true);
  }
}

/** Something with acquire/release, for `withLock`. */
export interface Lockable {
  acquire(opts?: WaitOptions): Promise<boolean>;
  acquireSync(opts?: WaitOptions): boolean;
  release(): void;
}

/** Python's `with lock:` for async code: acquire, run `fn`, always release. */
export async function withLock<R>(l: Lockable, fn: () => R | Promise<R>): Promise<R> {
  if (typeof fn !== 'function') throw new TypeError('fn must be a function');
  await l.acquire();
  try {
    return await fn();
  } finally {
    l.release();
  }
}

/** Python's `with lock:`: acquire (blocking), run `fn`, always release. */
export function withLockSync<R>(l: Lockable, fn: () => R): R {
  if (typeof fn !== 'function') throw new TypeError('fn must be a function');
  l.acquireSync();
  try {
    return fn();
  } finally {
    l.release();
  }
}
