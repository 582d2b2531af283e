/**
 * BullMQ job queue on Redis for production: several API nodes enqueue, several worker processes
 * consume. Failed jobs are kept (removeOnFail: false) and are the dead-letter list.
 *
 * Redis Cluster: BullMQ's scripts touch many keys of one queue at once, so all keys of a queue must be
 * in one slot. As BullMQ's docs require, the prefix is a hash tag, one per queue
 * (`{qiao:bull:email}`), so the queues spread over the masters instead of all sitting on one
 * (`bullPrefix`). On a single Redis the layout is unchanged (`qiao:bull`), so queued jobs survive an
 * upgrade.
 */
import { MetricsTime, Queue, UnrecoverableError, Worker, type Job as BullJob } from 'bullmq';
import { closeRedis, createRedis, duplicateRedis, isCluster, type RedisClient } from '../store/redis-client.ts';
import {
  DEFAULT_ATTEMPTS,
  DEFAULT_BACKOFF_MS,
  UnrecoverableJobError,
  type BulkJob,
  type DeadLetter,
  type JobHandler,
  type JobOptions,
  type JobQueue,
  type QueueStats,
  type WorkerHandle,
} from './queue.ts';

export interface BullQueueOptions {
  url: string;
  /** Key prefix, e.g. `qiao:` → BullMQ keys under `qiao:bull:*`. */
  prefix?: string;
  /** How long a worker holds a job before another may take it over (ms); also bounds crash recovery. */
  lockDurationMs?: number;
}

/**
 * The BullMQ prefix of `queue`: `<redisPrefix>bull` on a single Redis, `{<redisPrefix>bull:<queue>}` on
 * a cluster (a hash tag per queue). Anything else that opens these queues (dashboards, metrics) must
 * use the same prefix.
 */
export function bullPrefix(redisPrefix: string, queue: string, cluster: boolean): string {
  return cluster ? `{${redisPrefix}bull:${queue}}` : `${redisPrefix}bull`;
}

/** BullMQ job ids may not contain ':' (it separates key parts). */
function safeId(id: string): string {
  return id.replaceAll(':', '_');
}

export class BullQueue implements JobQueue {
  private readonly queues = new Map<string, Queue>();
  private readonly workers = new Set<Worker>();
  private readonly workerHandles = new Set<WorkerHandle>();
  private readonly connection: RedisClient;
  private readonly redisPrefix: string;
  private readonly cluster: boolean;

  constructor(private readonly opts: BullQueueOptions) {
    // BullMQ requires maxRetriesPerRequest: null for blocking connections.
    this.connection = createRedis(opts.url, { connectionName: 'qiao-queue', maxRetriesPerRequest: null, lazyConnect: false });
    this.connection.on('error', () => {});
    this.redisPrefix = opts.prefix ?? 'qiao:';
    this.cluster = isCluster(this.connection);
  }

  /** BullMQ prefix of `queue` (see `bullPrefix`). */
  prefixOf(queue: string): string {
    return bullPrefix(this.redisPrefix, queue, this.cluster);
  }

  /** The BullMQ queue of `name` (the admin queue dashboard reads it). */
  bullQueue(name: string): Queue {
    return this.queue(name);
  }

  private queue(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.connection, prefix: this.prefixOf(name) });
      q.on('error', () => {});
      this.queues.set(name, q);
    }
    return q;
  }

  private static jobOpts(opts: JobOptions) {
    return {
      jobId: opts.jobId ? safeId(opts.jobId) : undefined,
      delay: opts.delayMs,
      attempts: opts.attempts ?? DEFAULT_ATTEMPTS,
      backoff: { type: 'exponential', delay: opts.backoffMs ?? DEFAULT_BACKOFF_MS, jitter: 0.5 },
      removeOnComplete: true,
      removeOnFail: false,
    };
  }

  async add<T>(queue: string, name: string, data: T, opts: JobOptions = {}): Promise<string> {
    const job = await this.queue(queue).add(name, data as object, BullQueue.jobOpts(opts));
    return job.id ?? '';
  }

  async addBulk<T>(queue: string, jobs: Array<BulkJob<T>>): Promise<string[]> {
    const ids: string[] = [];
    // Chunks bound the size of one MULTI (and of Redis's reply buffer) on a 100,000-job fanout.
    for (let i = 0; i < jobs.length; i += 1000) {
      const added = await this.queue(queue).addBulk(jobs.slice(i, i + 1000).map((j) => ({ name: j.name, data: j.data as object, opts: BullQueue.jobOpts(j.opts ?? {}) })));
      for (const j of added) ids.push(j.id ?? '');
    }
    return ids;
  }

  process<T>(queue: string, handler: JobHandler<T>, opts: { concurrency?: number } = {}): WorkerHandle {
    // A worker blocks on its own connection; it is closed with the worker.
    const conn = duplicateRedis(this.connection);
    conn.on('error', () => {});
    const w = new Worker(
      queue,
      async (job: BullJob) => {
        try {
          await handler({ id: job.id ?? '', name: job.name, data: job.data as T, attempt: job.attemptsMade + 1, attempts: job.opts.attempts ?? 1 });
        } catch (e) {
          if (e instanceof UnrecoverableJobError || (e as Error)?.name === 'UnrecoverableJobError') {
            throw new UnrecoverableError((e as Error).message);
          }
          throw e;
        }
      },
      {
        connection: conn,
        prefix: this.prefixOf(queue),
        concurrency: opts.concurrency ?? 1,
        lockDuration: this.opts.lockDurationMs ?? 30_000,
        stalledInterval: Math.max(1000, Math.floor((this.opts.lockDurationMs ?? 30_000) / 2)),
        maxStalledCount: 5,
        // BullMQ's own per-minute counts of finished jobs (Queue.getMetrics), read by `stats`.
        metrics: { maxDataPoints: MetricsTime.ONE_WEEK },
      },
    );
    w.on('error', () => {});
    this.workers.add(w);
    const handle: WorkerHandle = {
      close: async () => {
        this.workers.delete(w);
        this.workerHandles.delete(handle);
        await w.close();
        await conn.quit().catch(() => {});
      },
    };
    this.workerHandles.add(handle);
    return handle;
  }

  async deadLetters(queue: string, limit = 100): Promise<DeadLetter[]> {
    const jobs = await this.queue(queue).getFailed(0, limit - 1);
    return jobs.map((j) => ({
      id: j.id ?? '',
      queue,
      name: j.name,
      data: j.data,
      reason: j.failedReason ?? '',
      attempts: j.attemptsMade,
      failedAt: new Date(j.finishedOn ?? j.timestamp).toISOString(),
    }));
  }

  async replay(queue: string, id: string): Promise<boolean> {
    const job = await this.queue(queue).getJob(safeId(id));
    if (!job || !(await job.isFailed())) return false;
    await job.updateData({ ...((job.data as object | null) ?? {}), replayed: true });
    await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    return true;
  }

  async pendingCount(queue: string): Promise<number> {
    const c = await this.queue(queue).getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    return Object.values(c).reduce((a, b) => a + b, 0);
  }

  async stats(queue: string): Promise<QueueStats> {
    const q = this.queue(queue);
    // getWaiting is oldest-first: the first is the one that has waited longest.
    const [c, oldest, completed, failed] = await Promise.all([
      q.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed'),
      q.getWaiting(0, 0),
      q.getMetrics('completed', 0, 0),
      q.getMetrics('failed', 0, 0),
    ]);
    const first = oldest[0];
    return {
      counts: { waiting: (c.waiting ?? 0) + (c.prioritized ?? 0), active: c.active ?? 0, delayed: c.delayed ?? 0, failed: c.failed ?? 0 },
      oldestWaitingAgeS: first ? Math.max(0, (Date.now() - first.timestamp) / 1000) : 0,
      finished: { completed: completed.meta.count, failed: failed.meta.count },
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.workerHandles].map((h) => h.close()));
    this.workerHandles.clear();
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
    await closeRedis(this.connection);
  }
}
