/**
 * The registry of shareable classes. Every shared object exposes a plain,
 * structured-cloneable `handle` with a `type`; `revive(handle)` turns a
 * handle back into a working, attached object of that type in any process
 * or thread. Serialization uses it so shared objects can travel inside items.
 * @packageDocumentation
 */

/** Marks instances of shareable classes. */
export const kShared: unique symbol = Symbol.for('multiproc.shared');

/** The fields every handle carries. */
export interface Handle {
  /** The class, e.g. `'Queue'` or `'JoinableQueue'`. */
  readonly type: string;
}

/** An object that can be shared with other processes and threads. */
export interface Shareable {
  readonly handle: Handle;
  readonly [kShared]: true;
}

const attachers = new Map<string, (h: Handle) => unknown>();

/** Registers how to attach handles of `type`. @internal */
export function registerShared(type: string, attach: (h: Handle) => unknown): void {
  attachers.set(type, attach);
}

/** True for instances of shareable classes. @internal */
export function isShared(v: unknown): v is Shareable {
  return typeof v === 'object' && v !== null && (v as Partial<Shareable>)[kShared] === true;
}

/** Attaches a handle of any registered type. @internal */
export function revive(h: Handle): unknown {
  const attach = typeof h?.type === 'string' ? attachers.get(h.type) : undefined;
  if (!attach) throw new TypeError(`not a multiproc handle (type ${String(h?.type)})`);
  return attach(h);
}
