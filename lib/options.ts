/**
 * Argument checking shared by every class: wait options (`block`,
 * `timeout` in ms, `signal`), names and sizes. Bad input is a `TypeError` or
 * `RangeError` thrown before anything happens.
 * @packageDocumentation
 */

/** Options of every call that can wait. */
export interface WaitOptions {
  /** `false`: try once and fail at once instead of waiting. Default `true`. */
  block?: boolean;
  /** Milliseconds to wait; `undefined`/`Infinity` waits forever, `0` tries once. */
  timeout?: number;
  /** Aborts an async wait: the Promise rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/** Checked wait options: `timeout` undefined means forever. */
export interface Wait {
  block: boolean;
  timeout: number | undefined;
  signal: AbortSignal | undefined;
}

/** Checks a timeout in ms: undefined/Infinity → undefined (forever). */
export function checkTimeout(timeout: unknown, what = 'timeout'): number | undefined {
  if (timeout === undefined || timeout === null) return undefined;
  if (typeof timeout !== 'number') throw new TypeError(`${what} must be a number of milliseconds, got ${typeof timeout}`);
  if (Number.isNaN(timeout) || timeout < 0) throw new RangeError(`${what} must be >= 0 (milliseconds), got ${timeout}`);
  return timeout === Infinity ? undefined : timeout;
}

/** Checks an AbortSignal argument. */
export function checkSignal(signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (signal === null || typeof signal !== 'object' || typeof (signal as AbortSignal).aborted !== 'boolean' ||
      typeof (signal as AbortSignal).addEventListener !== 'function') {
    throw new TypeError('signal must be an AbortSignal');
  }
  return signal as AbortSignal;
}

/** Checks `{ block, timeout, signal }`. */
export function checkWait(opts: unknown): Wait {
  if (opts === undefined) return { block: true, timeout: undefined, signal: undefined };
  if (opts === null || typeof opts !== 'object') throw new TypeError('options must be an object');
  const o = opts as WaitOptions;
  if (o.block !== undefined && typeof o.block !== 'boolean') throw new TypeError('block must be a boolean');
  const timeout = checkTimeout(o.timeout);
  const signal = checkSignal(o.signal);
  const block = o.block ?? true;
  return { block, timeout: block ? timeout : 0, signal };
}

/** Checks `{ timeout, signal }` (no `block`). */
export function checkTimed(opts: unknown): Wait {
  if (opts !== undefined && (opts === null || typeof opts !== 'object')) throw new TypeError('options must be an object');
  if (opts !== undefined && (opts as WaitOptions).block !== undefined) {
    return checkWait({ ...(opts as WaitOptions) });
  }
  return checkWait(opts);
}

/** Checks a user-given object name. */
export function checkName(name: unknown): string | undefined {
  if (name === undefined) return undefined;
  if (typeof name !== 'string') throw new TypeError(`name must be a string, got ${typeof name}`);
  if (name.length === 0 || Buffer.byteLength(name) > 200) throw new RangeError('name must be 1 to 200 bytes long');
  if (name.includes('/') || name.includes('\0')) throw new TypeError("name must not contain '/' or NUL");
  return name;
}

/** Checks an integer-valued size (`maxsize`, `capacityBytes`, …). */
export function checkInt(v: unknown, what: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number') throw new TypeError(`${what} must be a number, got ${typeof v}`);
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${what} must be an integer from ${min} to ${max}, got ${v}`);
  return v;
}
