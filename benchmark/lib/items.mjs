// The items each benchmark case sends, and how a receiver reads back an
// item's sequence number to check that every item arrived, in order.

/** Payload kinds: small objects, 64-byte Buffers, 1 MiB Buffers. */
export const KINDS = {
  small: { bytes: 0 },
  buf64: { bytes: 64 },
  buf1m: { bytes: 1 << 20 },
};

/**
 * Returns `i => item`. Objects are fresh each time; a Buffer is one buffer
 * reused with its first 4 bytes set to `i` (every transport measured here
 * copies or serializes the bytes before its send call returns).
 */
export function itemMaker(kind) {
  if (kind === 'small') return (i) => ({ id: i, name: 'alpha-widget' });
  const size = KINDS[kind].bytes;
  if (!size) throw new Error(`unknown item kind ${kind}`);
  const b = Buffer.alloc(size, 0x5a);
  return (i) => {
    b.writeUInt32LE(i, 0);
    return b;
  };
}

/**
 * The sequence number of a received item. Buffers may arrive as a Buffer,
 * a Uint8Array (postMessage) or, through `process.send` with JSON
 * serialization, as `{ type: 'Buffer', data: [...] }` (read as is: the
 * receiver does not convert it back, which favours that peer).
 */
export function idOf(kind, x) {
  if (kind === 'small') return x.id;
  const b = x.type === 'Buffer' && Array.isArray(x.data) ? x.data : x;
  return (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
}

/** Throws unless `x` is item number `i` of its kind (and, for Buffers, of the right size). */
export function check(kind, x, i) {
  const id = idOf(kind, x);
  if (id !== i) throw new Error(`${kind}: expected item ${i}, got ${id}`);
  if (kind !== 'small') {
    const len = x.type === 'Buffer' && Array.isArray(x.data) ? x.data.length : x.length;
    if (len !== KINDS[kind].bytes) throw new Error(`${kind}: item ${i} has ${len} bytes`);
  }
}

/** A message on a transport's control path (never counted as an item). */
export function isCtl(m) {
  return m !== null && typeof m === 'object' && typeof m.__ctl === 'string';
}
