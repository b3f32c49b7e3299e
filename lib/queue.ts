/**
 * Queue, SimpleQueue and JoinableQueue: Python's multiprocessing queues over
 * the native shared-memory ring (`crates/multiproc-core/src/queue.rs`).
 *
 * A put writes the item straight into shared memory before returning (no
 * feeder thread), so a producer may exit right after `put`. Async calls try
 * once on the spot; if they must wait they join this object's FIFO of
 * waiters, and one native watcher thread tells us when to retry. Sync calls
 * block the calling thread on a futex.
 * @packageDocumentation
 */
import { Empty, Full, ShutDown, TimeoutError } from './errors';
import { native } from './native';
import { checkInt, checkName, checkTimed, checkWait, type WaitOptions } from './options';
import { decode, decodeScratch, encode, encodedTag, scratch } from './serialize';
import { kShared, registerShared, type Handle } from './shared';
import { kPoll, kPollNow, WaitSet } from './waiters';

type QueueRef = ReturnType<typeof native.queueCreate>;

const READABLE = 1;
const WRITABLE = 2;
const DRAINED = 4;
const OK = 0;
const SHUT_DOWN = 2;
/** `queueGet` results that are not items: empty (or timed out), shut down. */
const NONE = -1;
const GONE = -2;
/** Marks pending gets (TAKE) and non-consuming polls for `wait()` (PEEK). */
const TAKE = 0;
const PEEK = 1;

/** Options of `new Queue(opts)`. */
export interface QueueOptions {
  /** Most items the queue holds; `<= 0` or omitted: unbounded. */
  maxsize?: number;
  /** Initial size of the shared buffer in bytes (it grows for larger items). Default 1 MiB. */
  capacityBytes?: number;
  /** Create-or-open a named queue that unrelated processes open by the same name. */
  name?: string;
}

/** The structured-cloneable description of a queue; pass it to `Queue.attach`. */
export interface QueueHandle extends Handle {
  readonly type: 'Queue' | 'SimpleQueue' | 'JoinableQueue';
  readonly kind: number;
  readonly token: string;
  readonly name?: string;
  readonly holders: number[];
}

let attaching: { n: QueueRef; status: Uint32Array } | undefined;
const kJoinable = Symbol('joinable');
const resolved = Promise.resolve();

/** A name `checkName` accepts: anything else in a handle means the handle is malformed. */
function validName(n: unknown): boolean {
  try {
    return checkName(n) !== undefined;
  } catch {
    return false;
  }
}

function checkHandle(h: unknown): QueueHandle {
  const x = h as QueueHandle;
  if (typeof h !== 'object' || h === null || typeof x.type !== 'string' || typeof x.kind !== 'number' ||
      typeof x.token !== 'string' || !Array.isArray(x.holders) || !x.holders.every((n) => Number.isInteger(n) && n >= 0) ||
      (x.name !== undefined && x.name !== null && !validName(x.name))) {
    throw new TypeError('not a queue handle');
  }
  if (x.type !== 'Queue' && x.type !== 'SimpleQueue' && x.type !== 'JoinableQueue') {
    throw new TypeError(`a ${x.type} handle is not a queue handle`);
  }
  return x;
}

/**
 * A FIFO queue shared by processes and threads (Python's `multiprocessing.Queue`).
 * Items are structured-cloned; Buffers and typed arrays travel as raw bytes.
 */
export class Queue<T = unknown> {
  /** @internal */
  static [kJoinable] = false;
  readonly #n: QueueRef;
  readonly #status: Uint32Array;
  #closed = false;
  #cancelJoin = false;
  readonly #waits = new WaitSet(
    (cb) => native.NativeWatch.queue(this.#n, cb),
    (mask) => this.#serve(mask),
  );
  #flushers: (() => void)[] = [];

  /**
   * @param opts `maxsize` as a number, or `{ maxsize, capacityBytes, name }`.
   * @throws TypeError/RangeError on bad options.
   */
  constructor(opts?: number | QueueOptions) {
    if (attaching) {
      this.#n = attaching.n;
      this.#status = attaching.status;
      attaching = undefined;
      return;
    }
    let maxsize = 0;
    let capacity = 0;
    let name: string | undefined;
    if (typeof opts === 'number') {
      if (Number.isNaN(opts)) throw new RangeError('maxsize must not be NaN');
      maxsize = opts;
    } else if (opts !== undefined) {
      if (opts === null || typeof opts !== 'object') throw new TypeError('options must be a number or an object');
      if (opts.maxsize !== undefined) {
        if (typeof opts.maxsize !== 'number') throw new TypeError('maxsize must be a number');
        if (Number.isNaN(opts.maxsize)) throw new RangeError('maxsize must not be NaN');
        maxsize = opts.maxsize;
      }
      if (opts.capacityBytes !== undefined) capacity = checkInt(opts.capacityBytes, 'capacityBytes', 1, 2 ** 40);
      name = checkName(opts.name);
    }
    if (maxsize !== Infinity && maxsize > 0) maxsize = checkInt(Math.floor(maxsize), 'maxsize', 0);
    if (maxsize === Infinity || maxsize < 0) maxsize = 0;
    const joinable = (new.target as unknown as { [kJoinable]: boolean })[kJoinable];
    this.#status = new Uint32Array(2);
    this.#n = native.queueCreate(this.#status, scratch, maxsize, capacity, joinable, name);
  }

  /**
   * Opens the queue a `handle` describes, in this process or thread.
   * @throws TypeError for a malformed handle; Error (`ERR_MULTIPROC_BAD_HANDLE`) for a stale or forged one.
   */
  static attach<T = unknown>(handle: QueueHandle): Queue<T> {
    const h = checkHandle(handle);
    const status = new Uint32Array(2);
    const n = native.queueAttach(status, scratch, {
      kind: h.kind,
      token: h.token,
      name: h.name ?? undefined,
      holders: h.holders,
    });
    const cls = h.type === 'JoinableQueue' ? JoinableQueue : h.type === 'SimpleQueue' ? SimpleQueue : Queue;
    const Ctor = this === Queue ? cls : this;
    attaching = { n, status };
    try {
      return new Ctor() as Queue<T>;
    } finally {
      attaching = undefined;
    }
  }

  /** Marks this as a shareable object. @internal */
  get [kShared](): true {
    return true;
  }

  /** A plain, structured-cloneable description for `Queue.attach` in another process or thread. */
  get handle(): QueueHandle {
    return { type: this.#type(), ...native.queueHandle(this.#n) } as QueueHandle;
  }

  #type(): QueueHandle['type'] {
    return this instanceof JoinableQueue ? 'JoinableQueue' : this instanceof SimpleQueue ? 'SimpleQueue' : 'Queue';
  }

  /** The item bound (0: unbounded). */
  get maxsize(): number {
    return native.queueMaxsize(this.#n);
  }

  #checkPut(): void {
    if (this.#closed) throw new Error('Queue is closed: this handle can put no more');
  }

  /**
   * Puts an item, waiting for room if the queue is full (unless `block: false`).
   * Rejects with `Full` on timeout or when not blocking, `ShutDown` after `shutdown()`,
   * `DataCloneError` for a value that cannot be cloned (nothing is enqueued).
   */
  put(item: T, opts?: WaitOptions): Promise<void> {
    try {
      const o = checkWait(opts);
      this.#checkPut();
      if (o.signal?.aborted) return Promise.reject(o.signal.reason);
      const bytes = encode(item);
      const tag = encodedTag;
      if (!this.#waits.pending(WRITABLE)) {
        const r = native.queuePut(this.#n, tag, bytes, 0);
        if (r === OK) return resolved;
        if (r === SHUT_DOWN) throw new ShutDown();
        if (o.timeout === 0) throw new Full();
      }
      // The caller may change its buffer while we wait: keep a copy.
      return this.#waits.add(WRITABLE, o, () => new Full(), { tag, bytes: Buffer.from(bytes) }) as Promise<void>;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Puts an item, blocking the calling thread while the queue is full.
   * @throws Full on timeout / `block: false`; ShutDown; DataCloneError.
   */
  putSync(item: T, opts?: WaitOptions): void {
    const o = checkWait(opts);
    this.#checkPut();
    const bytes = encode(item);
    const r = native.queuePut(this.#n, encodedTag, bytes, o.timeout);
    if (r === OK) return;
    throw r === SHUT_DOWN ? new ShutDown() : new Full();
  }

  /** `putSync(item, { block: false })`. */
  putNowait(item: T): void {
    this.#checkPut();
    const bytes = encode(item);
    const r = native.queuePut(this.#n, encodedTag, bytes, 0);
    if (r === OK) return;
    throw r === SHUT_DOWN ? new ShutDown() : new Full();
  }

  /**
   * Takes the oldest item, waiting for one if the queue is empty (unless `block: false`).
   * Rejects with `Empty` on timeout or when not blocking, `ShutDown` once shut down and drained.
   */
  get(opts?: WaitOptions): Promise<T> {
    try {
      const o = checkWait(opts);
      if (o.signal?.aborted) return Promise.reject(o.signal.reason);
      if (!this.#waits.pending(READABLE)) {
        const r = native.queueGet(this.#n, 0);
        if (r === GONE) throw new ShutDown();
        if (r !== NONE) return Promise.resolve(this.#decode(r));
        if (o.timeout === 0) throw new Empty();
      }
      return this.#waits.add(READABLE, o, () => new Empty(), TAKE) as Promise<T>;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Takes the oldest item, blocking the calling thread while the queue is empty.
   * @throws Empty on timeout / `block: false`; ShutDown once shut down and drained.
   */
  getSync(opts?: WaitOptions): T {
    const o = checkWait(opts);
    const r = native.queueGet(this.#n, o.timeout);
    if (r === NONE) throw new Empty();
    if (r === GONE) throw new ShutDown();
    return this.#decode(r);
  }

  /** `getSync({ block: false })`. */
  getNowait(): T {
    const r = native.queueGet(this.#n, 0);
    if (r === NONE) throw new Empty();
    if (r === GONE) throw new ShutDown();
    return this.#decode(r);
  }

  /** Decodes what `queueGet` returned: a length in the scratch buffer, or a Buffer. */
  #decode(r: number | Buffer): T {
    return (typeof r === 'number' ? decodeScratch(this.#status[0], r) : decode(this.#status[0], r)) as T;
  }

  /** Items in the queue at the instant of the call (all processes). */
  qsize(): number {
    return native.queueQsize(this.#n);
  }

  /** True if the queue holds no item at the instant of the call. */
  empty(): boolean {
    return native.queueQsize(this.#n) === 0;
  }

  /** True if a put would wait at the instant of the call. */
  full(): boolean {
    return native.queueFull(this.#n);
  }

  /** This handle will put no more; items already put stay in the queue. */
  close(): void {
    this.#closed = true;
  }

  /**
   * Resolves once this handle's pending puts are all in shared memory
   * (at once if none are pending). Call `close()` first, as in Python.
   */
  joinThread(): Promise<void> {
    if (!this.#closed) return Promise.reject(new Error('Queue is not closed: call close() before joinThread()'));
    if (!this.#waits.pending(WRITABLE) || this.#cancelJoin) return resolved;
    return new Promise((resolve) => this.#flushers.push(resolve));
  }

  /** `joinThread()` no longer waits, and pending puts no longer keep the process alive. */
  cancelJoinThread(): void {
    this.#cancelJoin = true;
    this.#flush();
    this.#waits.setWeak(WRITABLE, true);
  }

  /**
   * Shuts the queue down in every process: later puts fail with `ShutDown`;
   * gets drain what is left, then fail. `immediate` discards the items (counted as done).
   */
  shutdown(opts?: { immediate?: boolean }): void {
    if (opts !== undefined && (opts === null || typeof opts !== 'object')) throw new TypeError('options must be an object');
    const immediate = opts?.immediate ?? false;
    if (typeof immediate !== 'boolean') throw new TypeError('immediate must be a boolean');
    native.queueShutdown(this.#n, immediate);
    this.#waits.poke(READABLE | WRITABLE | DRAINED);
  }

  /** Removes a named queue's name; its memory goes when no process holds it. */
  unlink(): void {
    native.queueUnlink(this.#n);
  }

  /** Yields items as they arrive until the queue is shut down and drained. */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for (;;) {
      let item: T;
      try {
        item = await this.get();
      } catch (e) {
        if (e instanceof ShutDown) return;
        throw e;
      }
      yield item;
    }
  }

  /** @internal */
  [kPollNow](): boolean {
    return native.queueQsize(this.#n) > 0 || native.queueIsShutdown(this.#n);
  }

  /** @internal */
  [kPoll](timeout: number | undefined, signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this[kPollNow]()) return Promise.resolve(true);
    return this.#waits.add(READABLE, { block: true, timeout, signal }, () => false, PEEK, true) as Promise<boolean>;
  }

  /** Unfinished tasks (JoinableQueue). @internal */
  protected _unfinished(): number {
    return native.queueUnfinished(this.#n);
  }

  /** @internal */
  protected _taskDone(): void {
    native.queueTaskDone(this.#n);
  }

  /** @internal */
  protected _join(opts: unknown): Promise<void> {
    try {
      const o = checkTimed(opts);
      if (o.signal?.aborted) return Promise.reject(o.signal.reason);
      if (native.queueUnfinished(this.#n) === 0) return resolved;
      if (o.timeout === 0) throw new TimeoutError('join() timed out');
      return this.#waits.add(DRAINED, o, () => new TimeoutError('join() timed out')) as Promise<void>;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** @internal */
  protected _joinSync(opts: unknown): void {
    const o = checkTimed(opts);
    if (!native.queueJoin(this.#n, o.timeout)) throw new TimeoutError('joinSync() timed out');
  }

  #serve(mask: number): void {
    if (mask & READABLE) this.#serveGetters();
    if (mask & WRITABLE) this.#servePutters();
    if (mask & DRAINED) this.#serveJoiners();
    this.#flush();
  }

  #serveGetters(): void {
    const waits = this.#waits;
    while (waits.pending(READABLE)) {
      if (waits.list(READABLE)[0].data === PEEK) {
        if (!this[kPollNow]()) return;
        waits.shift(READABLE)!.resolve(true);
        continue;
      }
      let r: number | Buffer;
      try {
        r = native.queueGet(this.#n, 0);
      } catch (e) {
        waits.failAll(READABLE, e);
        return;
      }
      if (r === NONE || r === GONE) {
        if (r === GONE) {
          // Pollers see a shut-down queue as ready; getters fail.
          for (const w of waits.list(READABLE).splice(0)) {
            waits.settle(w);
            if (w.data === PEEK) w.resolve(true);
            else w.reject(new ShutDown());
          }
        }
        return;
      }
      const w = waits.shift(READABLE)!;
      try {
        w.resolve(this.#decode(r));
      } catch (e) {
        w.reject(e);
      }
    }
  }

  #servePutters(): void {
    const waits = this.#waits;
    while (waits.pending(WRITABLE)) {
      const { tag, bytes } = waits.list(WRITABLE)[0].data as { tag: number; bytes: Uint8Array };
      let r: number;
      try {
        r = native.queuePut(this.#n, tag, bytes, 0);
      } catch (e) {
        waits.shift(WRITABLE)!.reject(e);
        continue;
      }
      if (r === OK) waits.shift(WRITABLE)!.resolve(undefined);
      else if (r === SHUT_DOWN) waits.failAll(WRITABLE, new ShutDown());
      else break;
    }
  }

  #serveJoiners(): void {
    if (!this.#waits.pending(DRAINED) || native.queueUnfinished(this.#n) !== 0) return;
    while (this.#waits.pending(DRAINED)) this.#waits.shift(DRAINED)!.resolve(undefined);
  }

  #flush(): void {
    if (this.#flushers.length > 0 && (!this.#waits.pending(WRITABLE) || this.#cancelJoin)) {
      for (const f of this.#flushers.splice(0)) f();
    }
  }
}

/** A simpler queue (Python's `SimpleQueue`): `put`, `get`, `empty`, `close`, sync and async. */
export class SimpleQueue<T = unknown> extends Queue<T> {
  /** @param opts `{ name }` to create-or-open a named queue. */
  constructor(opts?: { name?: string; capacityBytes?: number }) {
    if (opts !== undefined && (opts === null || typeof opts !== 'object')) throw new TypeError('options must be an object');
    super(opts === undefined ? undefined : { name: opts.name, capacityBytes: opts.capacityBytes });
  }

  /** Opens a SimpleQueue from its handle. */
  static override attach<T = unknown>(handle: QueueHandle): SimpleQueue<T> {
    return Queue.attach.call(SimpleQueue, handle) as SimpleQueue<T>;
  }
}

/**
 * A Queue whose consumers acknowledge items with `taskDone()`; `join()` waits
 * until every item put has been acknowledged. The count is shared by every
 * process and changes in the same native operation as the `put`.
 */
export class JoinableQueue<T = unknown> extends Queue<T> {
  /** @internal */
  static override [kJoinable] = true;

  /** Opens a JoinableQueue from its handle. */
  static override attach<T = unknown>(handle: QueueHandle): JoinableQueue<T> {
    if (checkHandle(handle).type !== 'JoinableQueue') throw new TypeError(`a ${handle.type} handle is not a JoinableQueue handle`);
    return Queue.attach.call(JoinableQueue, handle) as JoinableQueue<T>;
  }

  /** Marks one item taken with `get` as processed. Throws if called more times than items were put. */
  taskDone(): void {
    this._taskDone();
  }

  /** Resolves once every item put has been marked done. Rejects with `TimeoutError` on timeout. */
  join(opts?: { timeout?: number; signal?: AbortSignal }): Promise<void> {
    return this._join(opts);
  }

  /** Blocks until every item put has been marked done. @throws TimeoutError */
  joinSync(opts?: { timeout?: number }): void {
    this._joinSync(opts);
  }

  /** Unfinished tasks at the instant of the call. */
  unfinishedTasks(): number {
    return this._unfinished();
  }
}

registerShared('Queue', (h) => Queue.attach(h as QueueHandle));
registerShared('SimpleQueue', (h) => SimpleQueue.attach(h as QueueHandle));
registerShared('JoinableQueue', (h) => JoinableQueue.attach(h as QueueHandle));
