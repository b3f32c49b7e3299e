/**
 * Lock and RLock (Python's `multiprocessing.Lock`/`RLock`) over the native
 * fair, robust mutex (`crates/multiproc-core/src/lock.rs`). A Lock may be
 * released by any process or thread; an RLock only by its owner, which may
 * acquire it again. If a holder dies, the next acquirer gets the lock and
 * `ownerDied` is true after that acquisition.
 * @packageDocumentation
 */
import { Acquirer, withLock, withLockSync } from './acquire';
import { native } from './native';
import { checkName, type WaitOptions } from './options';
import { kShared, registerShared, type Handle } from './shared';

type NativeLock = InstanceType<typeof native.NativeLock>;
type NativeHandle = ReturnType<NativeLock['handle']>;

/** The structured-cloneable description of a lock. */
export interface LockHandle extends Handle, NativeHandle {
  readonly type: 'Lock' | 'RLock';
}

/** Options of lock constructors. */
export interface NamedOptions {
  /** Create-or-open a named object that unrelated processes open by the same name. */
  name?: string;
}

/** @internal Checks the `{ name }` options object of constructors. */
export function checkNamed(opts: unknown): string | undefined {
  if (opts === undefined) return undefined;
  if (opts === null || typeof opts !== 'object') throw new TypeError('options must be an object');
  return checkName((opts as NamedOptions).name);
}

/** @internal Checks the common fields of a native handle. */
export function checkNativeHandle(h: unknown, types: readonly string[]): NativeHandle & { type: string } {
  const x = h as NativeHandle & { type: string };
  if (typeof h !== 'object' || h === null || !types.includes(x.type) || typeof x.kind !== 'number' ||
      typeof x.token !== 'string' || !Array.isArray(x.holders) || !x.holders.every((n) => Number.isInteger(n) && n >= 0) ||
      (x.name != null && typeof x.name !== 'string')) {
    throw new TypeError(`not a ${types.join('/')} handle`);
  }
  return x;
}

/** @internal Strips the JS-only fields of a handle for the addon. */
export function nativeHandle(h: NativeHandle): NativeHandle {
  return { kind: h.kind, token: h.token, name: h.name ?? undefined, holders: h.holders };
}

let attaching: NativeLock | undefined;

/** A lock shared by processes and threads. */
export class Lock {
  /** @internal */
  readonly _n: NativeLock;
  readonly #acq: Acquirer;

  /** @param opts `{ name }` to create-or-open a named lock. */
  constructor(opts?: NamedOptions) {
    if (attaching) {
      this._n = attaching;
      attaching = undefined;
    } else {
      const name = checkNamed(opts);
      this._n = native.NativeLock.create(new.target === RLock, name);
    }
    this.#acq = new Acquirer(this._n, (cb) => native.NativeWatch.lock(this._n, cb));
  }

  /** Opens the lock a handle describes (a Lock or an RLock, as it was made). */
  static attach(handle: LockHandle): Lock {
    const h = checkNativeHandle(handle, ['Lock', 'RLock']);
    const n = native.NativeLock.attach(nativeHandle(h));
    attaching = n;
    try {
      return n.recursive ? new RLock() : new Lock();
    } finally {
      attaching = undefined;
    }
  }

  /** @internal */
  get [kShared](): true {
    return true;
  }

  /** A plain, structured-cloneable description for `attach`. */
  get handle(): LockHandle {
    return { type: this._n.recursive ? 'RLock' : 'Lock', ...this._n.handle() };
  }

  /** True if the last acquisition through this object took the lock over from a dead holder. */
  get ownerDied(): boolean {
    return this._n.ownerDied;
  }

  /**
   * Acquires, waiting if needed. Resolves true once acquired, false on timeout
   * or with `block: false` when held; rejects with the signal's reason on abort.
   */
  acquire(opts?: WaitOptions): Promise<boolean> {
    return this.#acq.acquire(opts);
  }

  /** Acquires, blocking the calling thread. True once acquired, false on timeout. */
  acquireSync(opts?: WaitOptions): boolean {
    return this.#acq.acquireSync(opts);
  }

  /** Releases. Throws if not held (RLock: if not held by the calling thread). */
  release(): void {
    this._n.release();
  }

  /** True while some process or thread holds it. */
  locked(): boolean {
    return this._n.locked();
  }

  /** Runs `fn` holding the lock (Python's `with lock:`), releasing it however `fn` ends. */
  withLock<R>(fn: () => R | Promise<R>): Promise<R> {
    return withLock(this, fn);
  }

  /** Blocking `withLock`. */
  withLockSync<R>(fn: () => R): R {
    return withLockSync(this, fn);
  }

  /** Removes a named lock's name. */
  unlink(): void {
    this._n.unlink();
  }
}

/** A re-entrant lock: its owner may acquire it again; only the owner may release it. */
export class RLock extends Lock {
  /** @param opts `{ name }` to create-or-open a named RLock. */
  constructor(opts?: NamedOptions) {
    super(opts);
  }

  /** @internal Restores the recursion depth after a Condition wait. */
  _restoreDepth(depth: number): void {
    this._n.restoreDepth(depth);
  }
}

registerShared('Lock', (h) => Lock.attach(h as LockHandle));
registerShared('RLock', (h) => Lock.attach(h as LockHandle));
