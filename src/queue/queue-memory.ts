/**
 * In-process job queue for embedded mode. Same guarantees as the BullMQ queue within one process
 * (a crashed process loses its in-memory jobs; embedded mode is one process by definition).
 */
import { randomUUID } from 'node:crypto';
import {
  DEFAULT_ATTEMPTS,
  DEFAULT_BACKOFF_MS,
  UnrecoverableJobError,
  backoffDelay,
  type BulkJob,
  type DeadLetter,
  type JobHandler,
  type JobOptions,
  type JobQueue,
  type WorkerHandle,
} from './queue.ts';

interface MemJob {
  id: string;
  queue: string;
  name: string;
  data: unknown;
  attempts: number;
  backoffMs: number;
  attempt: number;
  runAt: number;
  state: 'waiting' | 'active' | 'failed';
}

interface MemWorker {
  handler: JobHandler;
  concurrency: number;
  active: number;
  closed: boolean;
}

export class MemoryQueue implements JobQueue {
  private readonly jobs = new Map<string, MemJob>();
  private readonly dead = new Map<string, DeadLetter>();
  private readonly workers = new Map<string, MemWorker[]>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  private key(queue: string, id: string): string {
    return `${queue}\u0000${id}`;
  }

  async add<T>(queue: string, name: string, data: T, opts: JobOptions = {}): Promise<string> {
    if (this.closed) throw new Error('queue closed');
    const id = opts.jobId ?? randomUUID();
    const k = this.key(queue, id);
    if (this.jobs.has(k) || this.dead.has(k)) return id;
    const job: MemJob = {
      id,
      queue,
      name,
      // Copy, as a real queue would serialise: handlers never share objects with the producer.
      data: structuredClone(data),
      attempts: opts.attempts ?? DEFAULT_ATTEMPTS,
      backoffMs: opts.backoffMs ?? DEFAULT_BACKOFF_MS,
      attempt: 0,
      runAt: Date.now() + (opts.delayMs ?? 0),
      state: 'waiting',
    };
    this.jobs.set(k, job);
    this.schedule(job);
    return id;
  }

  async addBulk<T>(queue: string, jobs: Array<BulkJob<T>>): Promise<string[]> {
    const ids: string[] = [];
    for (const j of jobs) ids.push(await this.add(queue, j.name, j.data, j.opts));
    return ids;
  }

  private schedule(job: MemJob): void {
    const wait = Math.max(0, job.runAt - Date.now());
    const t = setTimeout(() => {
      this.timers.delete(t);
      // Timers may fire a millisecond before Date.now() reaches runAt: re-arm rather than strand the job.
      if (job.state === 'waiting' && job.runAt > Date.now()) this.schedule(job);
      else this.pump(job.queue);
    }, wait);
    this.timers.add(t);
  }

  private pump(queue: string): void {
    if (this.closed) return;
    const workers = (this.workers.get(queue) ?? []).filter((w) => !w.closed);
    if (!workers.length) return;
    const now = Date.now();
    for (const job of this.jobs.values()) {
      if (job.queue !== queue || job.state !== 'waiting' || job.runAt > now) continue;
      const w = workers.find((x) => x.active < x.concurrency);
      if (!w) return;
      void this.run(w, job);
    }
  }

  private async run(w: MemWorker, job: MemJob): Promise<void> {
    job.state = 'active';
    job.attempt++;
    w.active++;
    try {
      await w.handler({ id: job.id, name: job.name, data: job.data, attempt: job.attempt, attempts: job.attempts });
      this.jobs.delete(this.key(job.queue, job.id));
    } catch (e) {
      const err = e as Error;
      const unrecoverable = e instanceof UnrecoverableJobError || err?.name === 'UnrecoverableJobError';
      if (unrecoverable || job.attempt >= job.attempts) {
        this.jobs.delete(this.key(job.queue, job.id));
        job.state = 'failed';
        this.dead.set(this.key(job.queue, job.id), {
          id: job.id,
          queue: job.queue,
          name: job.name,
          data: job.data,
          reason: err?.message ?? String(e),
          attempts: job.attempt,
          failedAt: new Date().toISOString(),
        });
      } else {
        job.state = 'waiting';
        job.runAt = Date.now() + backoffDelay(job.backoffMs, job.attempt);
        this.schedule(job);
      }
    } finally {
      w.active--;
      this.pump(job.queue);
    }
  }

  process<T>(queue: string, handler: JobHandler<T>, opts: { concurrency?: number } = {}): WorkerHandle {
    const w: MemWorker = { handler: handler as JobHandler, concurrency: opts.concurrency ?? 1, active: 0, closed: false };
    const list = this.workers.get(queue) ?? [];
    list.push(w);
    this.workers.set(queue, list);
    setImmediate(() => this.pump(queue));
    return {
      close: async () => {
        w.closed = true;
        while (w.active > 0) await new Promise((r) => setTimeout(r, 5));
      },
    };
  }

  async deadLetters(queue: string, limit = 100): Promise<DeadLetter[]> {
    return [...this.dead.values()].filter((d) => d.queue === queue).slice(-limit).reverse();
  }

  async replay(queue: string, id: string): Promise<boolean> {
    const k = this.key(queue, id);
    const d = this.dead.get(k);
    if (!d) return false;
    this.dead.delete(k);
    await this.add(queue, d.name, { ...((d.data as object | null) ?? {}), replayed: true }, { jobId: id });
    return true;
  }

  async pendingCount(queue: string): Promise<number> {
    let n = 0;
    for (const j of this.jobs.values()) if (j.queue === queue) n++;
    return n;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const list of this.workers.values()) for (const w of list) w.closed = true;
  }
}
