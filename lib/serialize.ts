/**
 * Items to bytes and back. General values use V8's structured clone
 * (`v8.serialize`); a Buffer, typed array, DataView or ArrayBuffer skips the
 * serializer and travels as raw bytes with a tag saying what to rebuild.
 * Shared objects inside an item are replaced by their handles and attached
 * again on arrival.
 * @packageDocumentation
 */
import * as v8 from 'node:v8';

import { DataCloneError } from './errors';
import { isShared, revive, type Handle } from './shared';

const TAG_V8 = 0;
const TAG_BUFFER = 1;
const TAG_V8_SHARED = 2;
const TAG_ARRAYBUFFER = 3;
const TAG_SHARED = 4;
const TAG_JSON = 5;
const TAG_VIEW = 16;

type ViewCtor = { new (b: ArrayBufferLike, off: number, len: number): ArrayBufferView; BYTES_PER_ELEMENT?: number };
const views: ViewCtor[] = [
  Uint8Array, Int8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array, DataView,
] as unknown as ViewCtor[];

/** Key that marks a handle standing in for a shared object inside an item. */
const MARK = '\u0000multiproc.shared';

/** The tag of the last `encode`. */
export let encodedTag = 0;

function clone(v: unknown): Buffer {
  try {
    return v8.serialize(v);
  } catch (e) {
    throw new DataCloneError((e as Error).message, { cause: e });
  }
}

/** Encodes an item; the tag is left in `encodedTag`. */
export function encode(v: unknown): Uint8Array {
  if (typeof v === 'object' && v !== null) {
    if (ArrayBuffer.isView(v)) {
      if (Buffer.isBuffer(v)) {
        encodedTag = TAG_BUFFER;
        return v;
      }
      const i = views.indexOf(v.constructor as ViewCtor);
      if (i >= 0) {
        encodedTag = TAG_VIEW + i;
        return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      }
    } else if (v instanceof ArrayBuffer) {
      encodedTag = TAG_ARRAYBUFFER;
      return new Uint8Array(v);
    } else if (isShared(v)) {
      encodedTag = TAG_SHARED;
      return clone(v.handle);
    } else if (jsonSafe(v)) {
      encodedTag = TAG_JSON;
      return Buffer.from(JSON.stringify(v));
    } else if (containsShared(v)) {
      encodedTag = TAG_V8_SHARED;
      return clone(replaceShared(v, new Map()));
    }
  } else if (typeof v === 'string' && v.length < 4096) {
    encodedTag = TAG_JSON;
    return Buffer.from(JSON.stringify(v));
  }
  encodedTag = TAG_V8;
  return clone(v);
}

let jsonBudget = 0;

/**
 * True if JSON carries `v` exactly as structured clone would: plain objects
 * and dense arrays of strings, booleans, null and finite numbers (not -0),
 * small and acyclic. JSON is several times faster than `v8.serialize` for
 * such data, which is what most messages are.
 */
function jsonSafe(v: object): boolean {
  jsonBudget = 1024;
  return jsonWalk(v, 0);
}

function jsonWalk(v: object, depth: number): boolean {
  if (--jsonBudget < 0 || depth > 32) return false;
  if (Array.isArray(v)) {
    // JSON drops named properties of arrays; structured clone keeps them.
    if (Object.keys(v).length !== v.length) return false;
    for (let i = 0; i < v.length; i++) {
      if (!jsonValue(v[i], depth)) return false;
    }
    return true;
  }
  if (Object.getPrototypeOf(v) !== Object.prototype) return false;
  for (const k in v) {
    if (!jsonValue((v as Record<string, unknown>)[k], depth)) return false;
  }
  return true;
}

function jsonValue(x: unknown, depth: number): boolean {
  switch (typeof x) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(x) && !Object.is(x, -0);
    case 'object':
      return x === null || jsonWalk(x, depth + 1);
    default:
      return false;
  }
}

/**
 * The per-thread buffer that small received items are copied into by the
 * addon (cheaper than a new Buffer per item). Its contents are decoded at
 * once, before the next receive.
 */
export const scratch: Buffer = Buffer.allocUnsafeSlow(64 * 1024);

/** A copy of the `n` bytes the addon left in `scratch`. */
export function takeScratch(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  scratch.copy(b, 0, 0, n);
  return b;
}

/** Decodes an item of `n` bytes that the addon left in `scratch`. */
export function decodeScratch(tag: number, n: number): unknown {
  switch (tag) {
    case TAG_JSON:
      return JSON.parse(scratch.toString('utf8', 0, n));
    case TAG_BUFFER:
      return takeScratch(n);
    case TAG_ARRAYBUFFER:
      return scratch.buffer.slice(0, n);
    default:
      if (tag >= TAG_VIEW) {
        const ctor = views[tag - TAG_VIEW];
        if (!ctor) throw new TypeError(`unknown item tag ${tag}`);
        const ab = scratch.buffer.slice(0, n);
        return new ctor(ab, 0, n / (ctor.BYTES_PER_ELEMENT ?? 1));
      }
      // The V8 deserializer may keep views into its input: give it its own copy.
      return decode(tag, Buffer.from(scratch.subarray(0, n)));
  }
}

/** Decodes the bytes of an item with its tag. */
export function decode(tag: number, b: Buffer): unknown {
  switch (tag) {
    case TAG_V8:
      return v8.deserialize(b);
    case TAG_JSON:
      return JSON.parse(b.toString());
    case TAG_BUFFER:
      return b;
    case TAG_ARRAYBUFFER:
      return b.buffer.byteLength === b.length ? b.buffer : b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
    case TAG_SHARED:
      return revive(v8.deserialize(b) as Handle);
    case TAG_V8_SHARED:
      return reviveShared(v8.deserialize(b), new Map());
    default: {
      const ctor = views[tag - TAG_VIEW];
      if (!ctor) throw new TypeError(`unknown item tag ${tag}`);
      const size = ctor.BYTES_PER_ELEMENT ?? 1;
      // Buffers from the addon start at offset 0; copy if ever misaligned.
      const src = b.byteOffset % size === 0 ? b : Buffer.from(b);
      return new ctor(src.buffer, src.byteOffset, src.length / size);
    }
  }
}

function isPlain(v: object): boolean {
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

let budget = 0;

/** True if plain data holds a shared object. Walks without a visited set (no
 * allocation on the hot path) for up to 4096 nodes and depth 64; past that
 * (large, deep or cyclic data) walks again with one. */
function containsShared(root: object): boolean {
  budget = 4096;
  const fast = walk(root, 0, undefined);
  return fast ?? walk(root, 0, new Set()) === true;
}

/** true/false, or undefined when the fast walk ran out of budget. */
function walk(v: object, depth: number, seen: Set<object> | undefined): boolean | undefined {
  if (seen) {
    if (seen.has(v)) return false;
    seen.add(v);
  } else if (--budget < 0 || depth > 64) {
    return undefined;
  }
  if (isShared(v)) return true;
  const d = depth + 1;
  let r: boolean | undefined = false;
  const visit = (x: unknown): boolean => {
    if (typeof x === 'object' && x !== null) {
      const y = walk(x, d, seen);
      if (y !== false) {
        r = y;
        return true;
      }
    }
    return false;
  };
  if (Array.isArray(v)) {
    for (const x of v) if (visit(x)) break;
  } else if (v instanceof Map) {
    for (const [k, x] of v) if (visit(k) || visit(x)) break;
  } else if (v instanceof Set) {
    for (const x of v) if (visit(x)) break;
  } else if (isPlain(v)) {
    for (const k in v) if (visit((v as Record<string, unknown>)[k])) break;
  }
  return r;
}

function replaceShared(v: unknown, done: Map<object, unknown>): unknown {
  if (typeof v !== 'object' || v === null) return v;
  if (done.has(v)) return done.get(v);
  if (isShared(v)) {
    const m = { [MARK]: v.handle };
    done.set(v, m);
    return m;
  }
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    done.set(v, out);
    for (const x of v) out.push(replaceShared(x, done));
    return out;
  }
  if (v instanceof Map) {
    const out = new Map();
    done.set(v, out);
    for (const [k, x] of v) out.set(replaceShared(k, done), replaceShared(x, done));
    return out;
  }
  if (v instanceof Set) {
    const out = new Set();
    done.set(v, out);
    for (const x of v) out.add(replaceShared(x, done));
    return out;
  }
  if (isPlain(v)) {
    const out: Record<string, unknown> = Object.create(Object.getPrototypeOf(v));
    done.set(v, out);
    for (const k in v) out[k] = replaceShared((v as Record<string, unknown>)[k], done);
    return out;
  }
  return v;
}

function reviveShared(v: unknown, seen: Map<object, unknown>): unknown {
  if (typeof v !== 'object' || v === null) return v;
  if (seen.has(v)) return seen.get(v);
  seen.set(v, v);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = reviveShared(v[i], seen);
  } else if (v instanceof Map) {
    const entries = [...v];
    v.clear();
    for (const [k, x] of entries) v.set(reviveShared(k, seen), reviveShared(x, seen));
  } else if (v instanceof Set) {
    const items = [...v];
    v.clear();
    for (const x of items) v.add(reviveShared(x, seen));
  } else if (isPlain(v)) {
    const o = v as Record<string, unknown>;
    if (MARK in o) {
      const obj = revive(o[MARK] as Handle);
      seen.set(v, obj);
      return obj;
    }
    for (const k in o) o[k] = reviveShared(o[k], seen);
  }
  return v;
}

/** Calls `fn` on every shared object inside plain data (arrays, plain objects, Maps, Sets). @internal */
export function visitShared(v: unknown, fn: (o: object) => void, seen = new Set<object>()): void {
  if (typeof v !== 'object' || v === null || seen.has(v)) return;
  seen.add(v);
  if (isShared(v)) {
    fn(v);
    return;
  }
  if (Array.isArray(v) || v instanceof Set) {
    for (const x of v) visitShared(x, fn, seen);
  } else if (v instanceof Map) {
    for (const [k, x] of v) {
      visitShared(k, fn, seen);
      visitShared(x, fn, seen);
    }
  } else if (isPlain(v)) {
    for (const k in v) visitShared((v as Record<string, unknown>)[k], fn, seen);
  }
}
