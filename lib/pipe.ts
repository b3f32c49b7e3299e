/**
 * Pipe and Connection (Python's `multiprocessing.Pipe`), over the native
 * per-direction shared-memory queues (`crates/multiproc-core/src/pipe.rs`),
 * and `wait()` over connections and queues.
 *
 * Messages are whole: one `send` is one `recv`. A send waits while the
 * direction's buffer is full; one message larger than the buffer still goes
 * through. Once the peer end is closed in every process (or its processes
 * died), pending messages are delivered, then receives fail with `EOFError`;
 * sends to such a peer fail with `BrokenPipeError` (`code: 'EPIPE'`).
 * @packageDocumentation
 */
import { BrokenPipeError, BufferTooShort, EOFError, MultiprocError } from './errors';
import { native } from './native';
import { checkSignal, checkTimeout, type Wait } from './options';
import { decode, decodeScratch, encode, encodedTag, scratch, takeScratch } from './serialize';
import { kShared, registerShared, type Handle } from './shared';
import { kPoll, kPollNow, WaitSet, type Waitable } from './waiters';

type ConnectionRef = ReturnType<typeof native.connAttach>;
type NativeHandle = ReturnType<typeof native.connHandle>['rx'];

const READABLE = 1;
const WRITABLE = 2;
const OK = 0;
const PEER_CLOSED = 3;
/** `connRecv` results that are not messages: nothing yet (or timed out), EOF. */
const NONE = -1;
const EOF = -3;
const TAG_BYTES = 1;
/** What a pending receive wants: a value, the bytes, or only to know that data is there. */
const VALUE = 0;
const BYTES = 1;
const PEEK = 2;

/** Options of async connection calls. */
export interface SignalOptions {
  /** Aborts the wait: the Promise rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/** The structured-cloneable description of one connection end. */
export interface ConnectionHandle extends Handle {
  readonly type: 'Connection';
  readonly rx?: NativeHandle;
  readonly tx?: NativeHandle;
}


let attaching: { n: ConnectionRef; status: Uint32Array } | undefined;
const resolved = Promise.resolve();

class ClosedError extends MultiprocError {
  constructor() {
    super('the connection is closed', 'ERR_MULTIPROC_CLOSED');
  }
}

function signalOf(opts: unknown): AbortSignal | undefined {
  if (opts === undefined) return undefined;
  if (opts === null || typeof opts !== 'object') throw new TypeError('options must be an object');
  return checkSignal((opts as SignalOptions).signal);
}

function bytesOf(buf: unknown, offset: unknown, size: unknown): Uint8Array {
  let bytes: Uint8Array;
  if (ArrayBuffer.isView(buf)) bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  else if (buf instanceof ArrayBuffer || buf instanceof SharedArrayBuffer) bytes = new Uint8Array(buf);
  else throw new TypeError('buf must be a Buffer, TypedArray, DataView or ArrayBuffer');
  const off = offset === undefined ? 0 : offset;
  if (typeof off !== 'number') throw new TypeError('offset must be a number');
  if (!Number.isInteger(off) || off < 0) throw new RangeError(`offset must be a non-negative integer, got ${off}`);
  if (off > bytes.length) throw new RangeError('buffer length < offset');
  let n = bytes.length - off;
  if (size !== undefined && size !== null) {
    if (typeof size !== 'number') throw new TypeError('size must be a number');
    if (!Number.isInteger(size) || size < 0) throw new RangeError(`size must be a non-negative integer, got ${size}`);
    if (off + size > bytes.length) throw new RangeError('buffer length < offset + size');
    n = size;
  }
  return bytes.subarray(off, off + n);
}

function checkMaxlength(maxlength: unknown): number | undefined {
  if (maxlength === undefined || maxlength === null) return undefined;
  if (typeof maxlength !== 'number') throw new TypeError('maxlength must be a number');
  if (Number.isNaN(maxlength) || maxlength < 0) throw new RangeError(`maxlength must be >= 0, got ${maxlength}`);
  return maxlength;
}

/** One end of a pipe. Share it with another process or thread through `handle` / `Connection.attach`. */
export class Connection<T = unknown> {
  readonly #n: ConnectionRef;
  #readable: boolean;
  #writable: boolean;
  #closed = false;
  readonly #status: Uint32Array;
  readonly #waits = new WaitSet(
    (cb) => native.NativeWatch.connection(this.#n, cb),
    (mask) => this.#serve(mask),
  );

  /** @internal Use `Pipe()` or `Connection.attach()`. */
  constructor() {
    if (!attaching) throw new TypeError('use Pipe() or Connection.attach() to get a Connection');
    this.#n = attaching.n;
    this.#status = attaching.status;
    attaching = undefined;
    [this.#readable, this.#writable] = native.connState(this.#n);
  }

  /** @internal */
  static _wrap(n: ConnectionRef, status: Uint32Array): Connection {
    attaching = { n, status };
    return new Connection();
  }

  /**
   * Opens the connection end a `handle` describes.
   * @throws TypeError for a malformed handle; Error (`ERR_MULTIPROC_BAD_HANDLE`) for a stale or forged one.
   */
  static attach<T = unknown>(handle: ConnectionHandle): Connection<T> {
    const h = handle as ConnectionHandle;
    if (typeof h !== 'object' || h === null || h.type !== 'Connection' || (h.rx == null && h.tx == null)) {
      throw new TypeError('not a Connection handle');
    }
    for (const d of [h.rx, h.tx]) {
      if (d != null && (typeof d !== 'object' || typeof d.kind !== 'number' || typeof d.token !== 'string' || !Array.isArray(d.holders) ||
          !d.holders.every((x) => Number.isInteger(x) && x >= 0))) {
        throw new TypeError('not a Connection handle');
      }
    }
    const status = new Uint32Array(2);
    const n = native.connAttach(status, scratch, { rx: h.rx ?? undefined, tx: h.tx ?? undefined });
    return Connection._wrap(n, status) as Connection<T>;
  }

  /** @internal */
  get [kShared](): true {
    return true;
  }

  /** A plain, structured-cloneable description for `Connection.attach`. */
  get handle(): ConnectionHandle {
    if (this.#closed) throw new ClosedError();
    const { rx, tx } = native.connHandle(this.#n);
    return { type: 'Connection', ...(rx ? { rx } : {}), ...(tx ? { tx } : {}) };
  }

  /** True after `close()`. */
  get closed(): boolean {
    return this.#closed;
  }

  /** True if this end can receive (and is open). */
  get readable(): boolean {
    return !this.#closed && this.#readable;
  }

  /** True if this end can send (and is open). */
  get writable(): boolean {
    return !this.#closed && this.#writable;
  }

  /** @internal Counts process `pid` as a holder of this end (a child about to attach it). */
  _addHolder(pid: number): void {
    native.connAddHolder(this.#n, pid);
  }

  #checkSend(): void {
    if (this.#closed) throw new ClosedError();
    if (!this.#writable) throw new MultiprocError('this connection is receive-only', 'ERR_MULTIPROC_MISUSE');
  }

  #checkRecv(): void {
    if (this.#closed) throw new ClosedError();
    if (!this.#readable) throw new MultiprocError('this connection is send-only', 'ERR_MULTIPROC_MISUSE');
  }

  #sendRaw(tag: number, bytes: Uint8Array, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (!this.#waits.pending(WRITABLE)) {
      const r = native.connSend(this.#n, tag, bytes, 0);
      if (r === OK) return resolved;
      if (r === PEER_CLOSED) return Promise.reject(new BrokenPipeError());
    }
    const o: Wait = { block: true, timeout: undefined, signal };
    return this.#waits.add(WRITABLE, o, () => undefined, { tag, bytes: Buffer.from(bytes) }) as Promise<void>;
  }

  #sendRawSync(tag: number, bytes: Uint8Array): void {
    if (native.connSend(this.#n, tag, bytes, undefined) === PEER_CLOSED) throw new BrokenPipeError();
  }

  /** Sends a structured-cloneable value. Waits while the pipe's buffer is full. Rejects with `BrokenPipeError` (EPIPE). */
  send(obj: T, opts?: SignalOptions): Promise<void> {
    try {
      const signal = signalOf(opts);
      this.#checkSend();
      const bytes = encode(obj);
      return this.#sendRaw(encodedTag, bytes, signal);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Sends a value, blocking the calling thread while the buffer is full. @throws BrokenPipeError, DataCloneError */
  sendSync(obj: T): void {
    this.#checkSend();
    const bytes = encode(obj);
    this.#sendRawSync(encodedTag, bytes);
  }

  /** Sends `size` bytes of `buf` from `offset` (bytes) as one message. */
  sendBytes(buf: ArrayBufferView | ArrayBuffer, offset?: number, size?: number, opts?: SignalOptions): Promise<void> {
    try {
      const signal = signalOf(opts);
      this.#checkSend();
      return this.#sendRaw(TAG_BYTES, bytesOf(buf, offset, size), signal);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Blocking `sendBytes`. */
  sendBytesSync(buf: ArrayBufferView | ArrayBuffer, offset?: number, size?: number): void {
    this.#checkSend();
    this.#sendRawSync(TAG_BYTES, bytesOf(buf, offset, size));
  }

  /** Receives a message; `decoded` turns it into a value, else its bytes. */
  #recvRaw(signal: AbortSignal | undefined, decoded: boolean): Promise<unknown> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (!this.#waits.pending(READABLE)) {
      const r = native.connRecv(this.#n, 0);
      if (r === EOF) return Promise.reject(new EOFError());
      if (r !== NONE) return Promise.resolve(this.#take(r, decoded));
    }
    const o: Wait = { block: true, timeout: undefined, signal };
    return this.#waits.add(READABLE, o, () => undefined, { mode: decoded ? VALUE : BYTES });
  }

  #recvRawSync(decoded: boolean): unknown {
    const r = native.connRecv(this.#n, undefined);
    if (r === EOF || r === NONE) throw new EOFError();
    return this.#take(r, decoded);
  }

  /** What `connRecv` returned (a length in the scratch buffer, or a Buffer) as a value or as bytes. */
  #take(r: number | Buffer, decoded: boolean): unknown {
    const tag = this.#status[0];
    if (typeof r === 'number') return decoded ? decodeScratch(tag, r) : takeScratch(r);
    return decoded ? decode(tag, r) : r;
  }

  /** Receives the next value sent with `send` (or a Buffer sent with `sendBytes`). Rejects with `EOFError`. */
  recv(opts?: SignalOptions): Promise<T> {
    try {
      const signal = signalOf(opts);
      this.#checkRecv();
      return this.#recvRaw(signal, true) as Promise<T>;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Blocking `recv`. @throws EOFError */
  recvSync(): T {
    this.#checkRecv();
    return this.#recvRawSync(true) as T;
  }

  /**
   * Receives the next message's bytes. With `maxlength`, a longer message is
   * discarded and the call fails; the connection stays usable.
   */
  recvBytes(maxlength?: number, opts?: SignalOptions): Promise<Buffer> {
    try {
      const max = checkMaxlength(maxlength);
      const signal = signalOf(opts);
      this.#checkRecv();
      return this.#recvRaw(signal, false).then((b) => checkLength(b as Buffer, max));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Blocking `recvBytes`. */
  recvBytesSync(maxlength?: number): Buffer {
    const max = checkMaxlength(maxlength);
    this.#checkRecv();
    return checkLength(this.#recvRawSync(false) as Buffer, max);
  }

  /**
   * Receives the next message into `buf` at byte `offset`; resolves with its length.
   * Rejects with `BufferTooShort` (the whole message in `err.data`) if it does not fit.
   */
  recvBytesInto(buf: ArrayBufferView | ArrayBuffer, offset?: number, opts?: SignalOptions): Promise<number> {
    try {
      const target = bytesOf(buf, offset, undefined);
      const signal = signalOf(opts);
      this.#checkRecv();
      return this.#recvRaw(signal, false).then((b) => copyInto(b as Buffer, target));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Blocking `recvBytesInto`. @throws BufferTooShort, EOFError */
  recvBytesIntoSync(buf: ArrayBufferView | ArrayBuffer, offset?: number): number {
    const target = bytesOf(buf, offset, undefined);
    this.#checkRecv();
    return copyInto(this.#recvRawSync(false) as Buffer, target);
  }

  /**
   * Resolves true once a message (or EOF) can be received, false after `timeout`
   * ms (default 0: check once; `Infinity`: wait for data).
   */
  poll(timeout: number = 0, opts?: SignalOptions): Promise<boolean> {
    try {
      const t = checkTimeout(timeout);
      const signal = signalOf(opts);
      this.#checkRecv();
      return this.#pollAsync(t, signal);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #pollAsync(timeout: number | undefined, signal: AbortSignal | undefined): Promise<boolean> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (native.connPoll(this.#n, 0)) return Promise.resolve(true);
    if (timeout === 0) return Promise.resolve(false);
    const o: Wait = { block: true, timeout, signal };
    return this.#waits.add(READABLE, o, () => false, { mode: PEEK }, true) as Promise<boolean>;
  }

  /** Blocking `poll`. */
  pollSync(timeout: number = 0): boolean {
    const t = checkTimeout(timeout);
    this.#checkRecv();
    return native.connPoll(this.#n, t);
  }

  /** @internal */
  [kPollNow](): boolean {
    return !this.#closed && this.#readable && native.connPoll(this.#n, 0);
  }

  /** @internal */
  [kPoll](timeout: number | undefined, signal: AbortSignal): Promise<boolean> {
    return this.#pollAsync(timeout, signal);
  }

  /** Closes this end here. The peer sees EOF once every process holding this end closed it or died. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    native.connClose(this.#n);
    this.#waits.failAll(READABLE, new ClosedError());
    this.#waits.failAll(WRITABLE, new ClosedError());
    this.#waits.rearm();
  }

  /** Yields received values until EOF. */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for (;;) {
      let v: T;
      try {
        v = await this.recv();
      } catch (e) {
        if (e instanceof EOFError) return;
        throw e;
      }
      yield v;
    }
  }

  #serve(mask: number): void {
    if (mask & READABLE) this.#serveReaders();
    if (mask & WRITABLE) this.#serveSenders();
  }

  #serveReaders(): void {
    const waits = this.#waits;
    while (waits.pending(READABLE) && !this.#closed) {
      const mode = (waits.list(READABLE)[0].data as { mode: number }).mode;
      if (mode === PEEK) {
        if (!native.connPoll(this.#n, 0)) return;
        waits.shift(READABLE)!.resolve(true);
        continue;
      }
      const r = native.connRecv(this.#n, 0);
      if (r === EOF) {
        waits.shift(READABLE)!.reject(new EOFError());
      } else if (r === NONE) {
        return;
      } else {
        const w = waits.shift(READABLE)!;
        try {
          w.resolve(this.#take(r, mode === VALUE));
        } catch (e) {
          w.reject(e);
        }
      }
    }
  }

  #serveSenders(): void {
    const waits = this.#waits;
    while (waits.pending(WRITABLE) && !this.#closed) {
      const { tag, bytes } = waits.list(WRITABLE)[0].data as { tag: number; bytes: Uint8Array };
      const r = native.connSend(this.#n, tag, bytes, 0);
      if (r === OK) waits.shift(WRITABLE)!.resolve(undefined);
      else if (r === PEER_CLOSED) waits.failAll(WRITABLE, new BrokenPipeError());
      else return;
    }
  }
}

function checkLength(b: Buffer, max: number | undefined): Buffer {
  if (max !== undefined && b.length > max) {
    throw Object.assign(new Error(`bad message length: ${b.length} bytes is more than maxlength ${max} (message discarded)`), {
      code: 'ERR_MULTIPROC_MESSAGE_TOO_LONG',
    });
  }
  return b;
}

function copyInto(b: Buffer, target: Uint8Array): number {
  if (b.length > target.length) throw new BufferTooShort(b);
  target.set(b);
  return b.length;
}

/**
 * Makes a pipe: two connected ends. `duplex` (default): both ends send and
 * receive. Otherwise `[receiveOnly, sendOnly]`.
 */
export function Pipe<T = unknown>(duplex: boolean = true): [Connection<T>, Connection<T>] {
  if (typeof duplex !== 'boolean') throw new TypeError('duplex must be a boolean');
  const sa = new Uint32Array(2);
  const sb = new Uint32Array(2);
  const [a, b] = native.pipeCreate(duplex, sa, scratch, sb, scratch);
  return [Connection._wrap(a, sa) as Connection<T>, Connection._wrap(b, sb) as Connection<T>];
}

/**
 * Waits until at least one of `objects` (connections, queues) is ready — a
 * connection with a message or EOF, a queue with an item or shut down — or
 * `timeout` ms pass (`undefined`: no limit); resolves with the ready ones
 * (possibly none, after a timeout).
 */
export async function wait<O extends object>(objects: readonly O[], timeout?: number, opts?: SignalOptions): Promise<O[]> {
  if (!Array.isArray(objects)) throw new TypeError('objects must be an array');
  for (const o of objects) {
    if (typeof o !== 'object' || o === null || typeof (o as unknown as Waitable)[kPollNow] !== 'function') {
      throw new TypeError('wait() takes Connections and Queues');
    }
  }
  const t = checkTimeout(timeout);
  const signal = signalOf(opts);
  if (signal?.aborted) throw signal.reason;
  const list = objects as unknown as (O & Waitable)[];
  const ready = () => list.filter((o) => o[kPollNow]());
  const now = ready();
  if (now.length > 0 || t === 0 || list.length === 0) return now;
  // One non-consuming poll per object; the first to finish ends them all.
  const ac = new AbortController();
  const onAbort = () => ac.abort(signal!.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await Promise.race(list.map((o) => o[kPoll](t, ac.signal)));
  } finally {
    signal?.removeEventListener('abort', onAbort);
    ac.abort();
  }
  return ready();
}

registerShared('Connection', (h) => Connection.attach(h as ConnectionHandle));
