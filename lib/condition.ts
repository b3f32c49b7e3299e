/**
 * Condition (Python's `multiprocessing.Condition`) over a Lock or RLock, with
 * the waiter slots in shared memory (`crates/multiproc-core/src/condition.rs`).
 * `wait` releases the lock, sleeps until notified (or the timeout), and holds
 * the lock again when it returns.
 * @packageDocumentation
 */
import { Lock, RLock, checkNamed, checkNativeHandle, nativeHandle, type LockHandle, type NamedOptions } from './lock';
import { native } from './native';
import { checkInt, checkTimed, type WaitOptions } from './options';
import { kShared, registerShared, type Handle } from './shared';
import { WaitSet } from './waiters';

type NativeCondition = InstanceType<typeof native.NativeCondition>;

/** The structured-cloneable description of a condition and its lock. */
export interface ConditionHandle extends Handle, ReturnType<NativeCondition['handle']> {
  readonly type: 'Condition';
  readonly lock: LockHandle;
}

/** Options of `wait` and `waitFor`. */
export interface ConditionWaitOptions {
  /** Milliseconds to wait; `undefined`/`Infinity`: forever. */
  timeout?: number;
  /** Aborts the wait (the lock is held again before the Promise rejects). */
  signal?: AbortSignal;
}

const NOTIFIED = 1;

/** Milliseconds left until `end` (`undefined`: no limit), or `null` once it has passed. */
function left(end: number | undefined): number | undefined | null {
  if (end === undefined) return undefined;
  const t = end - performance.now();
  return t > 0 ? t : null;
}
let attaching: { n: NativeCondition; lock: Lock } | undefined;

/** A condition variable shared by processes and threads. */
export class Condition {
  readonly #n: NativeCondition;
  readonly #lock: Lock;
  readonly #waits: WaitSet;

  /**
   * @param lock the Lock or RLock to use (default: a new RLock, as in Python).
   * @param opts `{ name }` to create-or-open a named condition (its lock is named `<name>.lock` if not given).
   */
  constructor(lock?: Lock, opts?: NamedOptions) {
    if (attaching) {
      this.#n = attaching.n;
      this.#lock = attaching.lock;
      attaching = undefined;
    } else {
      if (lock !== undefined && !(lock instanceof Lock)) throw new TypeError('lock must be a Lock or RLock');
      const name = checkNamed(opts);
      this.#lock = lock ?? new RLock(name === undefined ? undefined : { name: `${name}.lock` });
      this.#n = native.NativeCondition.create(this.#lock._n, name);
    }
    this.#waits = new WaitSet((cb) => native.NativeWatch.condition(this.#n, cb), () => this.#serve());
  }

  /** Opens the condition a handle describes (with its lock). */
  static attach(handle: ConditionHandle): Condition {
    const h = checkNativeHandle(handle, ['Condition']) as ConditionHandle;
    const lock = Lock.attach(h.lock);
    attaching = { n: native.NativeCondition.attach(nativeHandle(h), lock._n), lock };
    try {
      return new Condition();
    } finally {
      attaching = undefined;
    }
  }

  /** @internal */
  get [kShared](): true {
    return true;
  }

  /** A plain, structured-cloneable description for `attach`. */
  get handle(): ConditionHandle {
    return { type: 'Condition', ...this.#n.handle(), lock: this.#lock.handle };
  }

  /** The underlying lock. */
  get lock(): Lock {
    return this.#lock;
  }

  /** Acquires the underlying lock. */
  acquire(opts?: WaitOptions): Promise<boolean> {
    return this.#lock.acquire(opts);
  }

  /** Acquires the underlying lock, blocking the thread. */
  acquireSync(opts?: WaitOptions): boolean {
    return this.#lock.acquireSync(opts);
  }

  /** Releases the underlying lock. */
  release(): void {
    this.#lock.release();
  }

  /** Runs `fn` holding the lock. */
  withLock<R>(fn: () => R | Promise<R>): Promise<R> {
    return this.#lock.withLock(fn);
  }

  /** Blocking `withLock`. */
  withLockSync<R>(fn: () => R): R {
    return this.#lock.withLockSync(fn);
  }

  /**
   * Releases the lock, waits until notified or `timeout` ms, then takes the lock
   * again. Resolves false on timeout. The lock must be held.
   */
  async wait(opts?: ConditionWaitOptions): Promise<boolean> {
    const o = checkTimed(opts);
    const [slot, depth] = this.#n.beginWait();
    let err: unknown;
    let notified = false;
    try {
      if (!this.#n.isNotified(slot) && o.timeout !== 0) {
        if (o.signal?.aborted) throw o.signal.reason;
        await this.#waits.add(NOTIFIED, o, () => false, slot, true);
      }
    } catch (e) {
      err = e;
    } finally {
      notified = this.#n.endWait(slot);
      await this.#lock.acquire();
      if (this.#lock instanceof RLock) this.#lock._restoreDepth(depth);
    }
    if (err !== undefined && !notified) throw err;
    return notified;
  }

  /** Blocking `wait`. */
  waitSync(opts?: { timeout?: number }): boolean {
    const o = checkTimed(opts);
    return this.#n.wait(o.timeout);
  }

  /**
   * Waits until `predicate()` is truthy (checked first, and after each wake-up),
   * or `timeout` ms pass; resolves with the last value of the predicate.
   */
  async waitFor<R>(predicate: () => R, opts?: ConditionWaitOptions): Promise<R> {
    if (typeof predicate !== 'function') throw new TypeError('predicate must be a function');
    const o = checkTimed(opts);
    const end = o.timeout === undefined ? undefined : performance.now() + o.timeout;
    let result = predicate();
    for (let timeout = left(end); !result && timeout !== null; timeout = left(end)) {
      await this.wait({ timeout, signal: o.signal });
      result = predicate();
    }
    return result;
  }

  /** Blocking `waitFor`. */
  waitForSync<R>(predicate: () => R, opts?: { timeout?: number }): R {
    if (typeof predicate !== 'function') throw new TypeError('predicate must be a function');
    const o = checkTimed(opts);
    const end = o.timeout === undefined ? undefined : performance.now() + o.timeout;
    let result = predicate();
    for (let timeout = left(end); !result && timeout !== null; timeout = left(end)) {
      this.waitSync({ timeout });
      result = predicate();
    }
    return result;
  }

  /** Wakes up to `n` waiters (default 1). The lock must be held. */
  notify(n: number = 1): void {
    this.#n.notify(checkInt(n, 'n', 0, 0x7fffffff));
  }

  /** Wakes every waiter. The lock must be held. */
  notifyAll(): void {
    this.#n.notify(0x7fffffff);
  }

  #serve(): void {
    const list = this.#waits.list(NOTIFIED);
    for (const w of [...list]) {
      if (this.#n.isNotified(w.data as number) && this.#waits.remove(NOTIFIED, w)) w.resolve(true);
    }
  }

  /** Removes a named condition's name, and that of the lock it made for itself (`<name>.lock`). */
  unlink(): void {
    const name = this.#n.handle().name;
    this.#n.unlink();
    const lockName = (this.#lock.handle as { name?: string | null }).name;
    if (name != null && lockName === `${name}.lock`) {
      try {
        this.#lock.unlink();
      } catch {
        // Already unlinked by another process.
      }
    }
  }
}

registerShared('Condition', (h) => Condition.attach(h as ConditionHandle));
