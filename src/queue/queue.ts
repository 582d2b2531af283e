/**
 * The job queue: the API enqueues, workers process. Queue names and payload types live in jobs.ts.
 *
 * Guarantees every implementation gives (checked by test/contract/queue.contract.ts):
 * 1. At-least-once: a job added is processed until its handler resolves, the handler throws an
 *    `UnrecoverableJobError`, or its attempts are used up. A worker killed mid-job leaves the job to be
 *    processed again (BullMQ: after its lock expires), so handlers must be idempotent — deliveries are,
 *    through the unique delivery row.
 * 2. Deduplication: adding a job whose `jobId` is already known (waiting, active, delayed or failed)
 *    is a no-op that returns the existing id.
 * 3. Retries: a handler that throws any other error is retried after an exponential backoff
 *    (`backoffMs · 2^(attempt-1)`, with up to 50% jitter) until `attempts` are used up.
 * 4. Dead letters: a job that failed for good (unrecoverable, or out of attempts) is kept with its
 *    reason; `deadLetters` lists them and `replay` runs one again with a fresh set of attempts and
 *    `replayed: true` added to its data (an object), so a handler can tell an operator's replay from a
 *    retry or a duplicate (the delivery worker re-sends rows that failed for good only on a replay).
 * 5. Delay: a job with `delayMs` is not processed before that time has passed.
 */

/** Thrown by a handler for bad input: no retry, straight to the dead-letter list. */
export class UnrecoverableJobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnrecoverableJobError';
  }
}

export interface JobOptions {
  jobId?: string;
  delayMs?: number;
  /** Total tries (default 5). */
  attempts?: number;
  /** First retry delay, ms (default 1000). */
  backoffMs?: number;
}

export interface Job<T = unknown> {
  id: string;
  name: string;
  data: T;
  /** 1 on the first try. */
  attempt: number;
  /** Tries this job is allowed in all (retry vs dead letter, for metrics); absent → unknown. */
  attempts?: number;
}

/** A queue's depth (docs/operations.md, worker metrics): jobs by state and the oldest waiting one's age. */
export interface QueueStats {
  counts: { waiting: number; active: number; delayed: number; failed: number };
  /** Seconds since the oldest waiting job was added (0 when none waits). */
  oldestWaitingAgeS: number;
  /** Jobs finished per the queue's own metrics (BullMQ Worker `metrics`), all workers together. */
  finished?: { completed: number; failed: number };
}

export type JobHandler<T = unknown> = (job: Job<T>) => Promise<void>;

export interface DeadLetter {
  id: string;
  queue: string;
  name: string;
  data: unknown;
  reason: string;
  attempts: number;
  failedAt: string;
}

export interface WorkerHandle {
  close(): Promise<void>;
}

/** One job of an `addBulk`. */
export interface BulkJob<T = unknown> {
  name: string;
  data: T;
  opts?: JobOptions;
}

export interface JobQueue {
  add<T>(queue: string, name: string, data: T, opts?: JobOptions): Promise<string>;
  /**
   * Many `add`s in one go (BullMQ: one pipelined round trip per chunk instead of one per job), with
   * the same guarantees per job, deduplication by jobId included. Returns the ids in order.
   */
  addBulk<T>(queue: string, jobs: Array<BulkJob<T>>): Promise<string[]>;
  process<T>(queue: string, handler: JobHandler<T>, opts?: { concurrency?: number }): WorkerHandle;
  deadLetters(queue: string, limit?: number): Promise<DeadLetter[]>;
  replay(queue: string, id: string): Promise<boolean>;
  /** Jobs waiting, delayed or active (for drains and tests). */
  pendingCount(queue: string): Promise<number>;
  /** Depth and age for metrics; optional (the in-process queue of embedded mode has none). */
  stats?(queue: string): Promise<QueueStats>;
  close(): Promise<void>;
}

export const DEFAULT_ATTEMPTS = 5;
export const DEFAULT_BACKOFF_MS = 1000;

/** Exponential backoff with up to 50% jitter; shared by implementations so they agree. */
export function backoffDelay(baseMs: number, attempt: number, random: () => number = Math.random): number {
  const exp = baseMs * 2 ** Math.max(0, attempt - 1);
  return Math.round(exp * (0.5 + random() * 0.5));
}
