/**
 * Barrier (Python's `multiprocessing.Barrier`): `parties` processes or
 * threads wait until all have arrived. A party that times out, a party that
 * dies while waiting, `abort()` or `reset()` break the barrier for the
 * others (`BrokenBarrierError`). `parties` and `timeout` travel with the
 * handle; the `action` runs in the last party to arrive, if that instance has one.
 * @packageDocumentation
 */
import { BrokenBarrierError } from './errors';
import { checkNativeHandle, nativeHandle } from './lock';
import { native } from './native';
import { checkInt, checkName, checkTimed, checkTimeout } from './options';
import { kShared, registerShared, type Handle } from './shared';
import { WaitSet } from './waiters';

type NativeBarrier = InstanceType<typeof native.NativeBarrier>;

/** The structured-cloneable description of a barrier. */
export interface BarrierHandle extends Handle, ReturnType<NativeBarrier['handle']> {
  readonly type: 'Barrier';
}

/** Options of `new Barrier`. */
export interface BarrierOptions {
  /** Runs once per cycle in the last party to arrive, before the others go on. */
  action?: () => unknown;
  /** Default timeout of `wait` in ms. */
  timeout?: number;
  /** Create-or-open a named barrier. */
  name?: string;
}

const MOVED = 1;
let attaching: NativeBarrier | undefined;

/** A barrier shared by processes and threads. */
export class Barrier {
  readonly #n: NativeBarrier;
  readonly #action: (() => unknown) | undefined;
  readonly #waits: WaitSet;

  /** @param parties how many must arrive; `opts`: `{ action, timeout, name }`. */
  constructor(parties: number, opts?: BarrierOptions) {
    if (opts !== undefined && (opts === null || typeof opts !== 'object')) throw new TypeError('options must be an object');
    const action = opts?.action;
    if (action !== undefined && typeof action !== 'function') throw new TypeError('action must be a function');
    this.#action = action;
    if (attaching) {
      this.#n = attaching;
      attaching = undefined;
    } else {
      const p = checkInt(parties, 'parties', 1, 1024);
      const timeout = checkTimeout(opts?.timeout);
      this.#n = native.NativeBarrier.create(p, timeout ?? -1, checkName(opts?.name));
    }
    this.#waits = new WaitSet((cb) => native.NativeWatch.barrier(this.#n, cb), () => this.#serve());
  }

  /** Opens the barrier a handle describes; `action` runs here if this party arrives last. */
  static attach(handle: BarrierHandle, opts?: { action?: () => unknown }): Barrier {
    const h = checkNativeHandle(handle, ['Barrier']);
    attaching = native.NativeBarrier.attach(nativeHandle(h));
    try {
      return new Barrier(0, opts);
    } finally {
      attaching = undefined;
    }
  }

  /** @internal */
  get [kShared](): true {
    return true;
  }

  /** A plain, structured-cloneable description for `attach`. */
  get handle(): BarrierHandle {
    return { type: 'Barrier', ...this.#n.handle() };
  }

  /** Parties per cycle. */
  get parties(): number {
    return this.#n.parties;
  }

  /** Parties waiting now. */
  get nWaiting(): number {
    return this.#n.nWaiting();
  }

  /** True while broken. */
  get broken(): boolean {
    return this.#n.broken();
  }

  #timeout(t: number | undefined): number | undefined {
    if (t !== undefined) return t;
    const d = this.#n.defaultTimeout;
    return d >= 0 ? d : undefined;
  }

  /**
   * Arrives and waits for the others. Resolves with this party's arrival index
   * (`parties - 1` for the last). Rejects with `BrokenBarrierError`.
   */
  async wait(opts?: { timeout?: number; signal?: AbortSignal }): Promise<number> {
    const o = checkTimed(opts);
    if (o.signal?.aborted) throw o.signal.reason;
    const a = this.#n.arrive();
    if (a === null) throw new BrokenBarrierError();
    if (a.last) {
      await this.#runAction();
      this.#n.complete(a.cycle);
      return a.index;
    }
    const outcome = this.#n.outcome(a.cycle);
    if (outcome === 1) return a.index;
    if (outcome === 0) throw new BrokenBarrierError();
    this.#n.watchCycle(a.cycle);
    const timeout = this.#timeout(o.timeout);
    let timedOut = false;
    const timeoutError = (): BrokenBarrierError => {
      timedOut = true;
      return new BrokenBarrierError();
    };
    try {
      await this.#waits.add(MOVED, { block: true, timeout, signal: o.signal }, timeoutError, a.cycle);
    } catch (e) {
      // A timeout or an abort breaks the barrier for every party, as in Python.
      // A wait failed by reset() or by a break elsewhere must not break it
      // again: reset leaves the barrier usable.
      if (timedOut || (o.signal?.aborted && e === o.signal.reason)) this.#n.abort();
      throw e;
    }
    return a.index;
  }

  /** Blocking `wait`. @throws BrokenBarrierError */
  waitSync(opts?: { timeout?: number }): number {
    const o = checkTimed(opts);
    const a = this.#n.arrive();
    if (a === null) throw new BrokenBarrierError();
    if (a.last) {
      this.#runActionSync();
      this.#n.complete(a.cycle);
      return a.index;
    }
    if (!this.#n.waitOpen(a.cycle, this.#timeout(o.timeout))) throw new BrokenBarrierError();
    return a.index;
  }

  async #runAction(): Promise<void> {
    if (!this.#action) return;
    try {
      await this.#action();
    } catch (e) {
      this.#n.abort();
      throw e;
    }
  }

  #runActionSync(): void {
    if (!this.#action) return;
    try {
      this.#action();
    } catch (e) {
      this.#n.abort();
      throw e;
    }
  }

  /** Empties the barrier; parties still waiting fail with `BrokenBarrierError`. */
  reset(): void {
    this.#n.reset();
    this.#serve();
  }

  /** Breaks the barrier: waiting and later parties fail until `reset()`. */
  abort(): void {
    this.#n.abort();
    this.#serve();
  }

  #serve(): void {
    const list = this.#waits.list(MOVED);
    for (const w of [...list]) {
      const outcome = this.#n.outcome(w.data as number);
      if (outcome === -1) continue;
      if (!this.#waits.remove(MOVED, w)) continue;
      if (outcome === 1) w.resolve(undefined);
      else w.reject(new BrokenBarrierError());
    }
    const next = this.#waits.list(MOVED)[0];
    if (next) this.#n.watchCycle(next.data as number);
  }

  /** Removes a named barrier's name. */
  unlink(): void {
    this.#n.unlink();
  }
}

registerShared('Barrier', (h) => Barrier.attach(h as BarrierHandle));
