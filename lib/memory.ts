/**
 * Value, SharedArray and SharedMemory: typed views over shared memory
 * (`crates/multiproc-core/src/memory.rs`). A write through `value`, `view` or
 * `buf` in one process is visible in every other process at once. Value and
 * SharedArray come with a lock (an RLock by default, as in Python) for
 * read-modify-write sequences.
 * @packageDocumentation
 */
import { constants as bufferConstants } from 'node:buffer';

import { Lock, RLock, checkNativeHandle, nativeHandle, type LockHandle } from './lock';
import { native } from './native';
import { checkInt, checkName } from './options';
import { kShared, registerShared, type Handle } from './shared';

type NativeMemory = InstanceType<typeof native.NativeMemory>;
type NativeHandle = ReturnType<NativeMemory['handle']>;

/** The element types of Value and SharedArray. */
export type NumType = 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'float32' | 'float64';

type View = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array |
  Float32Array | Float64Array;
type ViewCtor = { new (b: ArrayBuffer, off?: number, len?: number): View; BYTES_PER_ELEMENT: number };

const TYPES: Record<NumType, ViewCtor> = {
  int8: Int8Array, uint8: Uint8Array, int16: Int16Array, uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array,
  int64: BigInt64Array, uint64: BigUint64Array, float32: Float32Array, float64: Float64Array,
};
const NAMES = Object.keys(TYPES) as NumType[];

// Largest block in bytes: what one Buffer or typed array can view (Node 20
// crashes when asked for a larger external ArrayBuffer, so refuse it here).
const MAX_BYTES = Math.min(bufferConstants.MAX_LENGTH, 2 ** 32);

/** Misuse (Python's ValueError/AttributeError cases): a plain Error with the package's misuse code. */
function misuse(message: string): Error {
  return Object.assign(new Error(message), { code: 'ERR_MULTIPROC_MISUSE' });
}

function checkType(type: unknown): NumType {
  if (typeof type !== 'string') throw new TypeError('type must be a string such as "int32" or "float64"');
  if (!Object.hasOwn(TYPES, type)) throw new TypeError(`unknown type '${type}'; use one of ${NAMES.join(', ')}`);
  return type as NumType;
}

function toElement(type: NumType, v: unknown): number | bigint {
  const big = type === 'int64' || type === 'uint64';
  if (big) {
    if (typeof v === 'bigint') return v;
    if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
    throw new TypeError(`a ${type} value must be a bigint or an integer number`);
  }
  if (typeof v !== 'number') throw new TypeError(`a ${type} value must be a number`);
  return v;
}

/** Options of Value and SharedArray. */
export interface SharedValueOptions {
  /** `true` (default): a new RLock; `false`: none; or a Lock/RLock to use. */
  lock?: boolean | Lock;
  /** Create-or-open a named object (an existing one keeps its contents). */
  name?: string;
}

/** The structured-cloneable description of a Value or SharedArray. */
export interface ValueHandle extends Handle, NativeHandle {
  readonly type: 'Value' | 'SharedArray';
  readonly numType: NumType;
  readonly lock?: LockHandle;
}

function makeLock(opt: unknown, name: string | undefined): Lock | undefined {
  if (opt === undefined || opt === true) return new RLock(name === undefined ? undefined : { name: `${name}.lock` });
  if (opt === false) return undefined;
  if (opt instanceof Lock) return opt;
  throw new TypeError('lock must be a boolean, a Lock or an RLock');
}

function checkOpts(opts: unknown): SharedValueOptions {
  if (opts === undefined) return {};
  if (opts === null || typeof opts !== 'object') throw new TypeError('options must be an object');
  return opts as SharedValueOptions;
}

let attaching: { n: NativeMemory; lock: Lock | undefined; type: NumType } | undefined;

/** Shared typed elements with an optional lock: the base of Value and SharedArray. */
abstract class Typed {
  /** @internal */
  protected readonly _n: NativeMemory;
  /** @internal */
  protected readonly _type: NumType;
  /** @internal */
  protected readonly _view: View;
  readonly #lock: Lock | undefined;

  /** @internal */
  protected constructor(type: unknown, length: number, opts: unknown) {
    if (attaching) {
      ({ n: this._n, lock: this.#lock, type: this._type } = attaching);
      attaching = undefined;
    } else {
      this._type = checkType(type);
      const o = checkOpts(opts);
      const name = checkName(o.name);
      this.#lock = makeLock(o.lock, name);
      this._n = native.NativeMemory.create(length * TYPES[this._type].BYTES_PER_ELEMENT, NAMES.indexOf(this._type), name);
    }
    const ab = this._n.buffer() as ArrayBuffer;
    const ctor = TYPES[this._type];
    this._view = new ctor(ab, 0, ab.byteLength / ctor.BYTES_PER_ELEMENT);
  }

  /** @internal */
  static _attach<T>(this: new (...a: never[]) => T, handle: ValueHandle, type: 'Value' | 'SharedArray'): T {
    const h = checkNativeHandle(handle, [type]) as ValueHandle;
    const numType = checkType(h.numType);
    const lock = h.lock ? Lock.attach(h.lock) : undefined;
    attaching = { n: native.NativeMemory.attach(nativeHandle(h)), lock, type: numType };
    try {
      return new (this as unknown as new () => T)();
    } finally {
      attaching = undefined;
    }
  }

  /** True if `new` made the memory (false: it opened an existing named object). */
  protected get _created(): boolean {
    return this._n.created;
  }

  /** @internal */
  get [kShared](): true {
    return true;
  }

  /** @internal */
  protected _handle(type: 'Value' | 'SharedArray'): ValueHandle {
    return { type, ...this._n.handle(), numType: this._type, ...(this.#lock ? { lock: this.#lock.handle } : {}) };
  }

  /** The lock that guards read-modify-write sequences. Throws if made with `lock: false`. */
  getLock(): Lock {
    if (!this.#lock) throw misuse('this object was made with lock: false and has no lock');
    return this.#lock;
  }

  /** Removes a named object's name (and its lock's). */
  unlink(): void {
    this._n.unlink();
    const l = this.#lock;
    if (l && (l.handle as { name?: string }).name) {
      try {
        l.unlink();
      } catch {
        // Already unlinked by another process.
      }
    }
  }
}

/** One shared number (Python's `multiprocessing.Value`). */
export class Value<V extends number | bigint = number> extends Typed {
  /**
   * @param type element type, e.g. `'int32'`, `'float64'` (`'int64'`/`'uint64'` hold
   *   bigints: write `new Value<bigint>('int64', 5n)` to type `value` as a bigint).
   * @param initial initial value (ignored when opening an existing named Value).
   */
  constructor(type: NumType, initial: NoInfer<V> | number | bigint = 0, opts?: SharedValueOptions) {
    // Check the value before anything is made.
    const init = attaching ? undefined : toElement(checkType(type), initial);
    super(type, 1, opts);
    if (init !== undefined && this._created) this._view[0] = init as never;
  }

  /** Opens the Value a handle describes. */
  static attach<V extends number | bigint = number>(handle: ValueHandle): Value<V> {
    return Typed._attach.call(Value as never, handle, 'Value') as Value<V>;
  }

  /** A plain, structured-cloneable description for `attach`. */
  get handle(): ValueHandle {
    return this._handle('Value');
  }

  /** The current value, read from shared memory. */
  get value(): V {
    return this._view[0] as V;
  }

  /** Writes the value to shared memory. */
  set value(v: V) {
    this._view[0] = toElement(this._type, v) as never;
  }
}

/** A shared array of numbers (Python's `multiprocessing.Array`). */
export class SharedArray<V extends number | bigint = number> extends Typed {
  /**
   * @param type element type.
   * @param lengthOrValues a length (zero-filled) or the initial values.
   */
  constructor(type: NumType, lengthOrValues: number | ArrayLike<V | number>, opts?: SharedValueOptions) {
    const values = typeof lengthOrValues === 'number' ? undefined : lengthOrValues;
    if (values !== undefined && (values === null || typeof values !== 'object' || typeof values.length !== 'number')) {
      throw new TypeError('lengthOrValues must be a length or an array of values');
    }
    const length = attaching ? 0 : values === undefined
      ? checkInt(lengthOrValues, 'length', 0, Math.floor(MAX_BYTES / TYPES[checkType(type)].BYTES_PER_ELEMENT))
      : values.length;
    // Check every value before anything is made.
    const init = attaching || values === undefined ? undefined : Array.from(values, (v) => toElement(checkType(type), v));
    super(type, length, opts);
    if (init !== undefined && this._created) {
      for (let i = 0; i < length; i++) this._view[i] = init[i] as never;
    }
  }

  /** Opens the SharedArray a handle describes. */
  static attach<V extends number | bigint = number>(handle: ValueHandle): SharedArray<V> {
    return Typed._attach.call(SharedArray as never, handle, 'SharedArray') as SharedArray<V>;
  }

  /** A plain, structured-cloneable description for `attach`. */
  get handle(): ValueHandle {
    return this._handle('SharedArray');
  }

  /** A typed array over the shared elements. */
  get view(): View {
    return this._view;
  }

  /** Number of elements. */
  get length(): number {
    return this._view.length;
  }
}

/** The structured-cloneable description of a SharedMemory block. */
export interface SharedMemoryHandle extends Handle, NativeHandle {
  readonly type: 'SharedMemory';
}

let attachingMem: NativeMemory | undefined;

/** A block of shared bytes (Python's `multiprocessing.shared_memory.SharedMemory`). */
export class SharedMemory {
  #n: NativeMemory | undefined;
  #buf: Buffer | undefined;

  /** @param opts `{ size }` in bytes, and `name` to create-or-open a named block (an existing one keeps its size). */
  constructor(opts: { size: number; name?: string }) {
    if (attachingMem) {
      this.#n = attachingMem;
      attachingMem = undefined;
    } else {
      if (opts === null || typeof opts !== 'object') throw new TypeError('options must be an object with a size');
      const size = checkInt(opts.size, 'size', 0, MAX_BYTES);
      this.#n = native.NativeMemory.create(size, 255, checkName(opts.name));
    }
    this.#buf = Buffer.from(this.#n.buffer() as ArrayBuffer);
  }

  /** Opens the block a handle describes. */
  static attach(handle: SharedMemoryHandle): SharedMemory {
    const h = checkNativeHandle(handle, ['SharedMemory']);
    attachingMem = native.NativeMemory.attach(nativeHandle(h));
    try {
      return new SharedMemory({ size: 0 });
    } finally {
      attachingMem = undefined;
    }
  }

  /** @internal */
  get [kShared](): true {
    return true;
  }

  #open(): NativeMemory {
    if (!this.#n) throw misuse('SharedMemory is closed');
    return this.#n;
  }

  /** A plain, structured-cloneable description for `attach`. */
  get handle(): SharedMemoryHandle {
    return { type: 'SharedMemory', ...this.#open().handle() };
  }

  /** A Buffer over the shared bytes. */
  get buf(): Buffer {
    this.#open();
    return this.#buf!;
  }

  /** Size in bytes. */
  get size(): number {
    return this.#open().size;
  }

  /** The name of a named block. */
  get name(): string | undefined {
    return this.#open().handle().name ?? undefined;
  }

  /** Stops using the block here; the memory goes when no process or Buffer uses it. */
  close(): void {
    this.#n = undefined;
    this.#buf = undefined;
  }

  /** Removes a named block's name. */
  unlink(): void {
    this.#open().unlink();
  }
}

registerShared('Value', (h) => Value.attach(h as ValueHandle));
registerShared('SharedArray', (h) => SharedArray.attach(h as ValueHandle));
registerShared('SharedMemory', (h) => SharedMemory.attach(h as SharedMemoryHandle));
