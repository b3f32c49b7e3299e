/**
 * Event (Python's `multiprocessing.Event`): a flag in shared memory that
 * waiters in any process or thread sleep on until it is set.
 * @packageDocumentation
 */
import { checkNamed, checkNativeHandle, nativeHandle, type NamedOptions } from './lock';
import { native } from './native';
import { checkTimed } from './options';
import { kShared, registerShared, type Handle } from './shared';
import { WaitSet } from './waiters';

type NativeEvent = InstanceType<typeof native.NativeEvent>;

/** The structured-cloneable description of an event. */
export interface EventHandle extends Handle, ReturnType<NativeEvent['handle']> {
  readonly type: 'Event';
}

/** Options of `wait`. */
export interface EventWaitOptions {
  /** Milliseconds to wait; `undefined`/`Infinity`: forever. */
  timeout?: number;
  /** Aborts the wait: the Promise rejects with `signal.reason`. */
  signal?: AbortSignal;
}

const SET = 1;
let attaching: NativeEvent | undefined;

/** A flag shared by processes and threads. */
export class Event {
  readonly #n: NativeEvent;
  readonly #waits: WaitSet;

  /** @param opts `{ name }` to create-or-open a named event (an existing one keeps its state). */
  constructor(opts?: NamedOptions) {
    if (attaching) {
      this.#n = attaching;
      attaching = undefined;
    } else {
      this.#n = native.NativeEvent.create(checkNamed(opts));
    }
    this.#waits = new WaitSet((cb) => native.NativeWatch.event(this.#n, cb), () => this.#serve());
  }

  /** Opens the event a handle describes. */
  static attach(handle: EventHandle): Event {
    const h = checkNativeHandle(handle, ['Event']);
    attaching = native.NativeEvent.attach(nativeHandle(h));
    try {
      return new Event();
    } finally {
      attaching = undefined;
    }
  }

  /** @internal */
  get [kShared](): true {
    return true;
  }

  /** A plain, structured-cloneable description for `attach`. */
  get handle(): EventHandle {
    return { type: 'Event', ...this.#n.handle() };
  }

  /** Sets the flag; every waiter in every process wakes. */
  set(): void {
    this.#n.set();
    this.#serve();
  }

  /** Clears the flag. */
  clear(): void {
    this.#n.clear();
  }

  /** True while the flag is set. */
  isSet(): boolean {
    return this.#n.isSet();
  }

  /** Resolves true once the flag is set, or false after `timeout` ms. */
  wait(opts?: EventWaitOptions): Promise<boolean> {
    try {
      const o = checkTimed(opts);
      if (o.signal?.aborted) return Promise.reject(o.signal.reason);
      if (this.#n.isSet()) return Promise.resolve(true);
      if (o.timeout === 0) return Promise.resolve(false);
      return this.#waits.add(SET, o, () => false, undefined, true) as Promise<boolean>;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Blocks the calling thread until the flag is set (true) or `timeout` ms pass (false). */
  waitSync(opts?: { timeout?: number }): boolean {
    const o = checkTimed(opts);
    return this.#n.wait(o.timeout);
  }

  #serve(): void {
    if (!this.#n.isSet()) return;
    while (this.#waits.pending(SET)) this.#waits.shift(SET)!.resolve(true);
  }

  /** Removes a named event's name. */
  unlink(): void {
    this.#n.unlink();
  }
}

registerShared('Event', (h) => Event.attach(h as EventHandle));
