/**
 * Pending async calls of one shared object, and the native watcher that
 * tells us when to retry them.
 *
 * Each condition bit (1 readable, 2 writable, 4 other) has a FIFO of waiters.
 * An async call that cannot finish at once joins its FIFO; the watcher thread
 * calls back when the condition may hold, the owner serves waiters in order,
 * and whatever is still pending is re-armed. The event loop is held open only
 * while some waiter that should keep it alive is pending.
 * @packageDocumentation
 */
import type { Wait } from './options';

/** One pending async call. */
export interface Waiter {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  timer: NodeJS.Timeout | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  /** Call-specific data, e.g. the encoded item of a pending put. */
  data: unknown;
}

/** The native watcher's interface (`NativeWatch`). */
export interface Watch {
  arm(mask: number): void;
  disarm(mask: number): void;
  setRef(on: boolean): void;
  close(): void;
}

/** Non-consuming readiness now, for `wait()`. */
export const kPollNow = Symbol('pollNow');
/** Resolves true when ready, false after `timeout` ms, rejects on abort; for `wait()`. */
export const kPoll = Symbol('poll');

/** What `wait()` accepts. */
export interface Waitable {
  [kPollNow](): boolean;
  [kPoll](timeout: number | undefined, signal: AbortSignal): Promise<boolean>;
}

/** Longest delay `setTimeout` honours; Node turns longer ones into 1 ms. */
const MAX_DELAY = 2 ** 31 - 1;

function startTimer(w: Waiter, ms: number, fire: () => void): void {
  w.timer = ms <= MAX_DELAY ? setTimeout(fire, ms) : setTimeout(() => startTimer(w, ms - MAX_DELAY, fire), MAX_DELAY);
}

const BITS = [1, 2, 4] as const;

/** The waiters of one object, by condition bit. */
export class WaitSet {
  readonly #lists: Waiter[][] = [[], [], [], [], []];
  readonly #open: (cb: (mask: number) => void) => Watch;
  readonly #serve: (mask: number) => void;
  #watch: Watch | undefined;
  #weak = 0;

  /**
   * @param open starts the native watcher with a callback.
   * @param serve retries the pending calls of the bits in `mask`.
   */
  constructor(open: (cb: (mask: number) => void) => Watch, serve: (mask: number) => void) {
    this.#open = open;
    this.#serve = serve;
  }

  /** The FIFO of `bit`. */
  list(bit: number): Waiter[] {
    return this.#lists[bit];
  }

  /** True if `bit` has pending waiters. */
  pending(bit: number): boolean {
    return this.#lists[bit].length > 0;
  }

  /** Waiters of `bit` stop (or start again) keeping the process alive. */
  setWeak(bit: number, weak: boolean): void {
    this.#weak = weak ? this.#weak | bit : this.#weak & ~bit;
    this.rearm();
  }

  /**
   * Queues a pending call on `bit`: it settles when the owner resolves it,
   * rejects with `timeoutError()` after `o.timeout` ms (or resolves with it, if
   * `timeoutResolves`), or rejects with the signal's reason.
   */
  add(bit: number, o: Wait, timeoutError: () => unknown, data?: unknown, timeoutResolves = false): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const w: Waiter = { resolve, reject, timer: undefined, signal: o.signal, onAbort: undefined, data };
      if (o.timeout !== undefined) {
        startTimer(w, o.timeout, () => this.drop(bit, w, timeoutError(), timeoutResolves));
      }
      if (o.signal) {
        const signal = o.signal;
        w.onAbort = () => this.drop(bit, w, signal.reason);
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.list(bit).push(w);
      this.#watch ??= this.#open((mask) => this.#notify(mask));
      this.rearm();
    });
  }

  /** Clears a waiter's timer and abort listener. */
  settle(w: Waiter): void {
    if (w.timer) clearTimeout(w.timer);
    if (w.onAbort) w.signal!.removeEventListener('abort', w.onAbort);
  }

  /** Removes and settles the first waiter of `bit`. */
  shift(bit: number): Waiter | undefined {
    const w = this.list(bit).shift();
    if (w) this.settle(w);
    return w;
  }

  /** Removes one waiter and rejects it (timeout, abort), or resolves it with `err` if `resolve`. */
  drop(bit: number, w: Waiter, err: unknown, resolve = false): void {
    const list = this.list(bit);
    const i = list.indexOf(w);
    if (i < 0) return;
    list.splice(i, 1);
    this.settle(w);
    if (resolve) w.resolve(err);
    else w.reject(err);
    this.#serve(0);
    this.rearm();
  }

  /** Removes a waiter without settling it (the caller settles it). */
  remove(bit: number, w: Waiter): boolean {
    const list = this.list(bit);
    const i = list.indexOf(w);
    if (i < 0) return false;
    list.splice(i, 1);
    this.settle(w);
    this.rearm();
    return true;
  }

  /** Rejects every waiter of `bit`. */
  failAll(bit: number, err: unknown): void {
    for (const w of this.list(bit).splice(0)) {
      this.settle(w);
      w.reject(err);
    }
  }

  /** Serves the bits of `mask` now (e.g. after a local shutdown). */
  poke(mask: number): void {
    this.#notify(mask);
  }

  #notify(mask: number): void {
    this.#serve(mask);
    this.rearm();
  }

  /** Arms the watcher for what is pending and holds the loop open only while needed. */
  rearm(): void {
    const watch = this.#watch;
    if (!watch) return;
    let mask = 0;
    for (const b of BITS) if (this.pending(b)) mask |= b;
    watch.disarm(~mask & 7);
    if (mask) watch.arm(mask);
    watch.setRef((mask & ~this.#weak) !== 0);
  }
}
