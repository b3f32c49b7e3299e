/**
 * The error classes of the package. Every class has a stable `name` and
 * `code`, so callers can test either (`err instanceof Empty`,
 * `err.code === 'ERR_MULTIPROC_EMPTY'`).
 * @packageDocumentation
 */

/** Base class of every error this package defines. */
export class MultiprocError extends Error {
  /** A stable machine-readable code, `ERR_MULTIPROC_…`. */
  readonly code: string;
  constructor(message: string, code: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Non-blocking `get` on an empty queue, or a `get` that timed out. */
export class Empty extends MultiprocError {
  constructor(message = 'queue is empty') {
    super(message, 'ERR_MULTIPROC_EMPTY');
  }
}

/** Non-blocking `put` on a full queue, or a `put` that timed out. */
export class Full extends MultiprocError {
  constructor(message = 'queue is full') {
    super(message, 'ERR_MULTIPROC_FULL');
  }
}

/** `put` after `shutdown()`; `get` after `shutdown()` once drained (at once with `immediate`). */
export class ShutDown extends MultiprocError {
  constructor(message = 'queue is shut down') {
    super(message, 'ERR_MULTIPROC_SHUTDOWN');
  }
}

/** `recv*` on a connection whose peer closed (or died) with nothing left to read. */
export class EOFError extends MultiprocError {
  constructor(message = 'the other end of the pipe is closed') {
    super(message, 'ERR_MULTIPROC_EOF');
  }
}

/** `send` on a pipe whose receiving end is closed in every process (or whose holders died). */
export class BrokenPipeError extends MultiprocError {
  constructor(message = 'broken pipe: the receiving end is closed') {
    super(message, 'EPIPE');
  }
}

/** `recvBytesInto` with a buffer too small; the whole message is in `data`. */
export class BufferTooShort extends MultiprocError {
  /** The whole message, which is not delivered again. */
  readonly data: Buffer;
  constructor(data: Buffer, message = `buffer too short for a message of ${data.length} bytes`) {
    super(message, 'ERR_MULTIPROC_BUFFER_TOO_SHORT');
    this.data = data;
  }
}

/** A wait that is not a queue operation ran out of time (`join`, `AsyncResult.get`). */
export class TimeoutError extends MultiprocError {
  constructor(message = 'timed out') {
    super(message, 'ERR_MULTIPROC_TIMEOUT');
  }
}

/** A barrier was aborted, reset or timed out while parties waited. */
export class BrokenBarrierError extends MultiprocError {
  constructor(message = 'the barrier is broken') {
    super(message, 'ERR_MULTIPROC_BROKEN_BARRIER');
  }
}

/** A Manager client or server presented a wrong authkey. */
export class AuthenticationError extends MultiprocError {
  constructor(message = 'authentication failed') {
    super(message, 'ERR_MULTIPROC_AUTHENTICATION');
  }
}

/** Process-level misuse, e.g. a daemon starting a child. */
export class ProcessError extends MultiprocError {
  constructor(message: string) {
    super(message, 'ERR_MULTIPROC_PROCESS');
  }
}

/** A Pool worker died (exit code or signal) while running the task. */
export class WorkerExitedError extends MultiprocError {
  /** The worker's exit code, or null if a signal ended it. */
  readonly exitCode: number | null;
  /** The signal that ended the worker, if any. */
  readonly signal: string | null;
  /** The worker's pid (or thread id for thread pools). */
  readonly pid: number | undefined;
  constructor(message: string, info: { exitCode?: number | null; signal?: string | null; pid?: number } = {}) {
    super(message, 'ERR_MULTIPROC_WORKER_EXITED');
    this.exitCode = info.exitCode ?? null;
    this.signal = info.signal ?? null;
    this.pid = info.pid;
  }
}

/**
 * A value that the structured-clone algorithm cannot copy (a function, a
 * symbol, …) was given to `put`/`send`. A `TypeError`, named like the DOM's.
 */
export class DataCloneError extends TypeError {
  /** Always `ERR_MULTIPROC_DATA_CLONE`. */
  readonly code = 'ERR_MULTIPROC_DATA_CLONE';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DataCloneError';
  }
}
