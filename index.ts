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
export { Barrier } from './lib/barrier';
export type { BarrierHandle, BarrierOptions } from './lib/barrier';
export { Condition } from './lib/condition';
export type { ConditionHandle, ConditionWaitOptions } from './lib/condition';
export { Event } from './lib/event';
export type { EventHandle, EventWaitOptions } from './lib/event';
export { Lock, RLock } from './lib/lock';
export type { LockHandle, NamedOptions } from './lib/lock';
export { SharedArray, SharedMemory, Value } from './lib/memory';
export type { NumType, SharedMemoryHandle, SharedValueOptions, ValueHandle } from './lib/memory';
export type { WaitOptions } from './lib/options';
export { Connection, Pipe, wait } from './lib/pipe';
export type { ConnectionHandle, SignalOptions } from './lib/pipe';
export { Process, activeChildren, cpuCount, currentProcess, parentProcess } from './lib/process/process';
export type { ProcessInfo, ProcessOptions, Target } from './lib/process/process';
export { JoinableQueue, Queue, SimpleQueue } from './lib/queue';
export { BoundedSemaphore, Semaphore } from './lib/semaphore';
export type { SemaphoreHandle } from './lib/semaphore';
export type { QueueHandle, QueueOptions } from './lib/queue';
export type { Handle } from './lib/shared';
