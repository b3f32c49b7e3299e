/**
 * multiproc — Python's `multiprocessing` for Node.js, over shared memory.
 * This façade exports exactly the public API (see API.md).
 * @packageDocumentation
 */
export {
  AuthenticationError,
  BrokenBarrierError,
  BrokenPipeError,
  BufferTooShort,
  DataCloneError,
  Empty,
  EOFError,
  Full,
  MultiprocError,
  ProcessError,
  ShutDown,
  TimeoutError,
  WorkerExitedError,
} from './lib/errors';
export type { WaitOptions } from './lib/options';
export { Connection, Pipe, wait } from './lib/pipe';
export type { ConnectionHandle, SignalOptions } from './lib/pipe';
export { JoinableQueue, Queue, SimpleQueue } from './lib/queue';
export type { QueueHandle, QueueOptions } from './lib/queue';
export type { Handle } from './lib/shared';
