/**
 * Prometheus metrics of the delivery workers, on a registry the caller owns (no module-level
 * singletons): a worker process's own registry (workers/worker-server.ts), or the hub's registry when
 * the workers run inside the hub (embedded mode). Names and meanings: docs/operations.md, "Worker
 * health and metrics".
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { SentTransport } from '../src/domain/routing.ts';
import { UnrecoverableJobError, type JobHandler, type JobQueue, type QueueStats } from '../src/queue/queue.ts';
import type { DeliveryWorker, OutcomeName } from './delivery.worker.ts';

export interface WorkerMetrics {
  readonly registry: Registry;
  jobsProcessed: Counter<'queue'>;
  jobsFailed: Counter<'queue'>;
  jobsRetried: Counter<'queue'>;
  deadLetters: Counter<'queue'>;
  escalations: Counter<'transport' | 'outcome'>;
  notificationsFailed: Counter<'transport'>;
  /** Reads the delivery workers' outcome counts at each scrape (set by startWorkers). */
  watchDeliveries(transports: Partial<Record<SentTransport, DeliveryWorker>>): void;
  /** Reads queue depth from the queue at each scrape (BullMQ only; the memory queue has no `stats`). */
  watchQueues(queue: JobQueue, names: string[]): void;
}

export function createWorkerMetrics(registry: Registry): WorkerMetrics {
  const registers = [registry];
  let transports: Partial<Record<SentTransport, DeliveryWorker>> = {};
  let watched: { queue: JobQueue; names: string[] } | null = null;
  // The delivery worker already counts its outcomes (DeliveryWorker.counts); these counters follow
  // those counts at scrape time, so the shared claim/settle skeleton needs no metrics code of its own.
  const seen = new Map<string, number>();
  const following = (name: string, help: string, outcome: OutcomeName): Counter<'transport'> => {
    const c: Counter<'transport'> = new Counter({
      name,
      help,
      labelNames: ['transport'],
      registers,
      collect: () => {
        for (const [t, w] of Object.entries(transports)) {
          const now = w!.counts[outcome];
          const delta = now - (seen.get(`${t}:${outcome}`) ?? 0);
          if (delta > 0) c.inc({ transport: t }, delta);
          seen.set(`${t}:${outcome}`, now);
        }
      },
    });
    return c;
  };
  const followed = [
    following('qiao_notifications_sent_total', 'Email, web push and SMS accepted by the far end (SMTP server, push service, SMSC) in this process', 'sent'),
    following('qiao_notifications_retried_total', 'Sends that failed with a retryable error in this process (the last attempt too, which is also in qiao_notifications_failed_total)', 'retried'),
    following('qiao_notifications_suppressed_total', 'Deliveries claimed but not sent on purpose (SMS daily cap…)', 'suppressed'),
  ];
  const notificationsFailed = new Counter({
    name: 'qiao_notifications_failed_total',
    help: 'Email, web push and SMS whose job failed for good in this process (permanent error, or out of attempts): dead letters of the delivery queues',
    labelNames: ['transport'],
    registers,
  });

  // One read of the queues per scrape, shared by the three gauges (each collects on its own, in parallel).
  let snapshot: { at: number; stats: Promise<Array<readonly [string, QueueStats | null]>> } | null = null;
  const queueStats = () => {
    if (!watched?.queue.stats) return Promise.resolve([]);
    if (!snapshot || Date.now() - snapshot.at > 500) {
      const { queue, names } = watched;
      snapshot = { at: Date.now(), stats: Promise.all(names.map(async (n) => [n, await queue.stats!(n).catch(() => null)] as const)) };
    }
    return snapshot.stats;
  };
  const depth: Gauge<'queue' | 'state'> = new Gauge({
    name: 'qiao_queue_jobs',
    help: 'Jobs in a queue by state (waiting, active, delayed, failed = dead letters kept), all processes together',
    labelNames: ['queue', 'state'],
    registers,
    collect: async () => {
      for (const [n, s] of await queueStats()) if (s) for (const [state, v] of Object.entries(s.counts)) depth.set({ queue: n, state }, v);
    },
  });
  const oldest: Gauge<'queue'> = new Gauge({
    name: 'qiao_queue_oldest_waiting_age_seconds',
    help: 'Seconds since the oldest waiting job of a queue was added (0: none waiting)',
    labelNames: ['queue'],
    registers,
    collect: async () => {
      for (const [n, s] of await queueStats()) if (s) oldest.set({ queue: n }, s.oldestWaitingAgeS);
    },
  });
  const finished: Gauge<'queue' | 'state'> = new Gauge({
    name: 'qiao_queue_finished_jobs',
    help: "Jobs finished (completed, failed) in a queue by all workers, from BullMQ's own metrics (Queue.getMetrics)",
    labelNames: ['queue', 'state'],
    registers,
    collect: async () => {
      for (const [n, s] of await queueStats()) if (s?.finished) for (const [state, v] of Object.entries(s.finished)) finished.set({ queue: n, state }, v);
    },
  });

  return {
    registry,
    jobsProcessed: new Counter({ name: 'qiao_jobs_processed_total', help: 'Jobs this process finished successfully', labelNames: ['queue'], registers }),
    jobsFailed: new Counter({ name: 'qiao_jobs_failed_total', help: 'Jobs that failed in this process for good (unrecoverable or out of attempts)', labelNames: ['queue'], registers }),
    jobsRetried: new Counter({ name: 'qiao_jobs_retried_total', help: 'Jobs that failed in this process and will be retried', labelNames: ['queue'], registers }),
    deadLetters: new Counter({ name: 'qiao_dead_letters_total', help: 'Jobs this process moved to the dead-letter list (same events as qiao_jobs_failed_total)', labelNames: ['queue'], registers }),
    escalations: new Counter({
      name: 'qiao_escalations_total',
      help: 'Escalation steps of must-acknowledge messages by transport and outcome (escalated, acknowledged, already-covered, no-subscription, no-email)',
      labelNames: ['transport', 'outcome'],
      registers,
    }),
    notificationsFailed,
    watchDeliveries(t) {
      transports = t;
      // Every series from the first scrape, at 0 (a rate over a series that appears late misses its start).
      for (const name of Object.keys(t)) for (const c of [...followed, notificationsFailed]) c.inc({ transport: name }, 0);
    },
    watchQueues(queue, names) {
      watched = { queue, names };
    },
  };
}

/** Wraps a job handler to count its outcome per queue: processed, retried, or failed + dead letter. */
export function countedHandler<T>(queue: string, handler: JobHandler<T>, m: WorkerMetrics, transport?: SentTransport): JobHandler<T> {
  for (const c of [m.jobsProcessed, m.jobsFailed, m.jobsRetried, m.deadLetters]) c.inc({ queue }, 0);
  return async (job) => {
    try {
      await handler(job);
      m.jobsProcessed.inc({ queue });
    } catch (e) {
      const unrecoverable = e instanceof UnrecoverableJobError || (e as Error)?.name === 'UnrecoverableJobError';
      if (unrecoverable || (job.attempts !== undefined && job.attempt >= job.attempts)) {
        m.jobsFailed.inc({ queue });
        m.deadLetters.inc({ queue });
        if (transport) m.notificationsFailed.inc({ transport });
      } else m.jobsRetried.inc({ queue });
      throw e;
    }
  };
}
