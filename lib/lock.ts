/**
 * Lock and RLock (Python's `multiprocessing.Lock`/`RLock`) over the native
 * fair, robust mutex (`crates/multiproc-core/src/lock.rs`). A Lock may be
 * released by any process or thread; an RLock only by its owner, which may
 * acquire it again. If a holder dies, the next acquirer gets the lock and
 * `ownerDied` is true after that acquisition.
 * @packageDocumentation
 */
import { withLock, withLockSync } from './acquire';
import { native } from './native';
import { checkName, checkWait, type WaitOptions } from './options';
import { kShared, registerShared, type Handle } from './shared';
import { WaitSet } from './waiters';

type LockRef = ReturnType<typeof native.lockCreate>;
type NativeHandle = ReturnType<typeof native.lockHandle>;

// Int32 indexes of the shared lock words (asserted in crates/multiproc-core/src/lock.rs).
const WORD = 0;
const OWNER_PID = 1;
const OWNER_TID = 2;
const START_LO = 4;
const START_HI = 5;
const DEPTH = 7;
const SEQ = 8;
const SLEEPERS = 9;
const WAITERS = 0x80000000 | 0;
const OWNER = 0x7fffffff;
/** Owner value of a lock released to a sleeper, not yet taken (free, but not for newcomers). */
const HANDOFF = 0x40000000;
const FREE = 1;

// Who we are, as the lock words record it: this thread's kernel tid and this
// process's pid and start time (each worker thread loads its own copy).
const TID = native.currentTid();
const PID = process.pid;
const [START_LOW, START_HIGH] = native.processStartTime();

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

let attaching: LockRef | undefined;

/** Python's ValueError/RuntimeError cases: a plain Error with a code, like the addon's. */
function misuse(message: string): Error {
  return Object.assign(new Error(message), { code: 'ERR_MULTIPROC_MISUSE' });
}

/**
 * A lock shared by processes and threads. An uncontended acquire or release
 * is a compare-and-swap on shared memory done right here; waiting, taking
 * over from a dead holder and wake-ups are native.
 */
export class Lock {
  /** @internal */
  readonly _n: LockRef;
  readonly #w: Int32Array;
  readonly #recursive: boolean;
  #ownerDied = false;
  readonly #waits: WaitSet;

  /** @param opts `{ name }` to create-or-open a named lock. */
  constructor(opts?: NamedOptions) {
    if (attaching) {
      this._n = attaching;
      attaching = undefined;
    } else {
      const name = checkNamed(opts);
      this._n = native.lockCreate(new.target === RLock, name);
    }
    this.#recursive = native.lockRecursive(this._n);
    this.#w = new Int32Array(native.lockView(this._n) as ArrayBuffer);
    this.#waits = new WaitSet((cb) => native.NativeWatch.lock(this._n, cb), () => this.#serve());
  }

  /** Opens the lock a handle describes (a Lock or an RLock, as it was made). */
  static attach(handle: LockHandle): Lock {
    const h = checkNativeHandle(handle, ['Lock', 'RLock']);
    const n = native.lockAttach(nativeHandle(h));
    attaching = n;
    try {
      return native.lockRecursive(n) ? new RLock() : new Lock();
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
    return { type: this.#recursive ? 'RLock' : 'Lock', ...native.lockHandle(this._n) };
  }

  /** True if the last acquisition through this object took the lock over from a dead holder. */
  get ownerDied(): boolean {
    return this.#ownerDied;
  }

  /** One attempt without waiting, in shared memory only. */
  #tryFast(): boolean {
    const w = this.#w;
    if (this.#recursive && (Atomics.load(w, WORD) & OWNER) === TID) {
      w[DEPTH]++;
      return true;
    }
    if (Atomics.compareExchange(w, WORD, 0, TID) !== 0) return false;
    if (w[OWNER_PID] === PID && w[START_LO] === START_LOW && w[START_HI] === START_HIGH) {
      // Same process as the last owner: its record needs only the thread.
      w[OWNER_TID] = TID;
    } else {
      w[OWNER_PID] = PID;
      w[START_LO] = START_LOW;
      w[START_HI] = START_HIGH;
      // Publishes the record: readers check the tid first, then pid and start.
      Atomics.store(w, OWNER_TID, TID);
    }
    if (this.#recursive) w[DEPTH] = 1;
    this.#ownerDied = false;
    return true;
  }

  /**
   * Native acquire (waits up to `timeout`; takes over from dead holders).
   * `waited`: an async waiter retrying, which may take a lock handed over to waiters.
   */
  #acquireNative(timeout: number | undefined, waited = false): boolean {
    const r = native.lockAcquire(this._n, timeout, waited);
    if (r !== 0) this.#ownerDied = r === 2;
    return r !== 0;
  }

  /**
   * Acquires, waiting if needed. Resolves true once acquired, false on timeout
   * or with `block: false` when held; rejects with the signal's reason on abort.
   */
  acquire(opts?: WaitOptions): Promise<boolean> {
    try {
      const o = checkWait(opts);
      if (o.signal?.aborted) return Promise.reject(o.signal.reason);
      if (!this.#waits.pending(FREE) && (this.#tryFast() || this.#acquireNative(0))) return Promise.resolve(true);
      if (o.timeout === 0) return Promise.resolve(false);
      return this.#waits.add(FREE, o, () => false, undefined, true) as Promise<boolean>;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Acquires, blocking the calling thread. True once acquired, false on timeout. */
  acquireSync(opts?: WaitOptions): boolean {
    if (opts === undefined && this.#tryFast()) return true;
    const o = checkWait(opts);
    return this.#tryFast() || this.#acquireNative(o.timeout);
  }

  #serve(): void {
    while (this.#waits.pending(FREE) && (this.#tryFast() || this.#acquireNative(0, true))) {
      this.#waits.shift(FREE)!.resolve(true);
    }
  }

  /** Releases. Throws if not held (RLock: if not held by the calling thread). */
  release(): void {
    const w = this.#w;
    const cur = Atomics.load(w, WORD);
    if ((cur & OWNER) === 0 || (cur & OWNER) === HANDOFF) throw misuse('release unlocked lock');
    if (this.#recursive) {
      if ((cur & OWNER) !== TID) throw misuse('cannot release un-acquired lock');
      if (w[DEPTH] > 1) {
        w[DEPTH]--;
        return;
      }
    }
    w[OWNER_TID] = 0;
    // Uncontended: free the word here. With sleepers the addon hands it over to
    // one of them (fairness), so the word is left as it is for it.
    const contended = (cur & WAITERS) !== 0 || Atomics.compareExchange(w, WORD, cur, 0) !== cur;
    // Async waiters sleep on SEQ; with none registered there is nobody to tell
    // (one registering now sees the lock free before it sleeps).
    const watchers = Atomics.load(w, SLEEPERS) !== 0;
    if (watchers) Atomics.add(w, SEQ, 1);
    if (contended || watchers) native.lockFinishRelease(this._n, contended);
    if (this.#waits.pending(FREE)) this.#serve();
  }

  /** True while some process or thread holds it. */
  locked(): boolean {
    const owner = Atomics.load(this.#w, WORD) & OWNER;
    return owner !== 0 && owner !== HANDOFF;
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
    native.lockUnlink(this._n);
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
    native.lockRestoreDepth(this._n, depth);
  }
}

registerShared('Lock', (h) => Lock.attach(h as LockHandle));
registerShared('RLock', (h) => Lock.attach(h as LockHandle));
