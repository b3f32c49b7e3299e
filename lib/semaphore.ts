/**
 * Semaphore and BoundedSemaphore over the native counting semaphore
 * (`crates/multiproc-core/src/semaphore.rs`). Permits held by a process that
 * dies come back; the acquirer that gets one sees `ownerDied === true`.
 * @packageDocumentation
 */
import { Acquirer, withLock, withLockSync } from './acquire';
import { checkNamed, checkNativeHandle, nativeHandle, type NamedOptions } from './lock';
import { native } from './native';
import { checkInt, type WaitOptions } from './options';
import { kShared, registerShared, type Handle } from './shared';

type NativeSemaphore = InstanceType<typeof native.NativeSemaphore>;

/** The structured-cloneable description of a semaphore. */
export interface SemaphoreHandle extends Handle, ReturnType<NativeSemaphore['handle']> {
  readonly type: 'Semaphore' | 'BoundedSemaphore';
}

let attaching: NativeSemaphore | undefined;

/** A counting semaphore shared by processes and threads. */
export class Semaphore {
  readonly #n: NativeSemaphore;
  readonly #acq: Acquirer;

  /**
   * @param value initial permits (default 1).
   * @param opts `{ name }` to create-or-open a named semaphore (an existing one keeps its value).
   */
  constructor(value: number = 1, opts?: NamedOptions) {
    if (attaching) {
      this.#n = attaching;
      attaching = undefined;
    } else {
      const v = checkInt(value, 'value', 0, 0x7fffffff);
      const name = checkNamed(opts);
      this.#n = native.NativeSemaphore.create(v, new.target === BoundedSemaphore, name);
    }
    this.#acq = new Acquirer(this.#n, (cb) => native.NativeWatch.semaphore(this.#n, cb));
  }

  /** Opens the semaphore a handle describes. */
  static attach(handle: SemaphoreHandle): Semaphore {
    const h = checkNativeHandle(handle, ['Semaphore', 'BoundedSemaphore']);
    const n = native.NativeSemaphore.attach(nativeHandle(h));
    attaching = n;
    try {
      return n.bounded ? new BoundedSemaphore() : new Semaphore();
    } finally {
      attaching = undefined;
    }
  }

  /** @internal */
  get [kShared](): true {
    return true;
  }

  /** A plain, structured-cloneable description for `attach`. */
  get handle(): SemaphoreHandle {
    return { type: this.#n.bounded ? 'BoundedSemaphore' : 'Semaphore', ...this.#n.handle() };
  }

  /** True if the last acquisition through this object got a permit back from a dead holder. */
  get ownerDied(): boolean {
    return this.#n.ownerDied;
  }

  /** Takes a permit, waiting if none is free. Resolves false on timeout / `block: false`. */
  acquire(opts?: WaitOptions): Promise<boolean> {
    return this.#acq.acquire(opts);
  }

  /** Takes a permit, blocking the calling thread. False on timeout. */
  acquireSync(opts?: WaitOptions): boolean {
    return this.#acq.acquireSync(opts);
  }

  /** Gives back `n` permits (default 1). A BoundedSemaphore throws past its initial value. */
  release(n: number = 1): void {
    this.#n.release(checkInt(n, 'n', 1, 0x7fffffff));
  }

  /** Free permits at the instant of the call. */
  getValue(): number {
    return this.#n.value();
  }

  /** True when no permit is free. */
  locked(): boolean {
    return this.#n.value() === 0;
  }

  /** Runs `fn` holding a permit, releasing it however `fn` ends. */
  withLock<R>(fn: () => R | Promise<R>): Promise<R> {
    return withLock(this, fn);
  }

  /** Blocking `withLock`. */
  withLockSync<R>(fn: () => R): R {
    return withLockSync(this, fn);
  }

  /** Removes a named semaphore's name. */
  unlink(): void {
    this.#n.unlink();
  }
}

/** A semaphore whose `release` may not raise the value past its initial value. */
export class BoundedSemaphore extends Semaphore {
  /** @param value initial (and largest) value, default 1. */
  constructor(value: number = 1, opts?: NamedOptions) {
    super(value, opts);
  }
}

registerShared('Semaphore', (h) => Semaphore.attach(h as SemaphoreHandle));
registerShared('BoundedSemaphore', (h) => Semaphore.attach(h as SemaphoreHandle));
