/**
 * Every transport a delivery worker sends, in one table: its worker (the shared claim/lease/retry/
 * settle skeleton around the transport's render and send), its concurrency and its job options. The
 * table is a Record over SentTransport (src/domain/routing.ts), so a transport added there without an
 * entry here does not compile; queues are in src/queue/jobs.ts (DELIVERY_QUEUES, same rule).
 */
import type { SentTransport } from '../src/domain/routing.ts';
import type { WorkerContext } from './context.ts';
import { deliveryWorker, type DeliveryWorker, type DeliveryWorkerDeps } from './delivery.worker.ts';
import { emailDelivery } from './email.worker.ts';
import { requeueDelivery } from './enqueue.ts';
import { smsDailyCap, smsDelivery } from './sms.worker.ts';

export interface TransportEntry {
  /** Built once per process (workers/index.ts) from the context. */
  worker(ctx: WorkerContext): DeliveryWorker;
  concurrency(ctx: WorkerContext): number;
  /** Attempts and first backoff of its jobs; absent → the queue's defaults (src/queue/queue.ts). */
  jobOptions(ctx: WorkerContext): { attempts?: number; backoffMs?: number };
  /**
   * Rows per job when a fanout enqueues this transport (1: a job per row). Batches cut the queue's
   * per-job cost; their rows still go one by one through the worker (workers/delivery.worker.ts).
   */
  batch: number;
}

/**
 * Email and push rows per fanout job: BullMQ's cost is per job (a 100,000-recipient note queues some
 * 30,000 email and push rows); 25 keeps one batch's rows within about a second of a worker's work.
 */
export const PUSH_BATCH = 25;
export const EMAIL_BATCH = 25;

function deps(ctx: WorkerContext, t: SentTransport): DeliveryWorkerDeps {
  return {
    logger: ctx.logger,
    deliveries: ctx.deliveries,
    leaseMs: ctx.config.delivery.leaseMs,
    message: ctx.message,
    displayName: ctx.displayName,
    requeue: requeueDelivery(ctx.queue, t, DELIVERY_TRANSPORTS[t].jobOptions(ctx)),
    batchRows: DELIVERY_TRANSPORTS[t].concurrency(ctx),
  };
}

export const DELIVERY_TRANSPORTS: Record<SentTransport, TransportEntry> = {
  email: {
    worker: (ctx) => deliveryWorker(emailDelivery(ctx.mail, ctx.config.delivery), deps(ctx, 'email')),
    concurrency: (ctx) => ctx.config.delivery.emailConcurrency,
    jobOptions: (ctx) => ({ attempts: ctx.config.delivery.emailAttempts, backoffMs: ctx.config.delivery.emailBackoffMs }),
    batch: EMAIL_BATCH,
  },
  push: {
    // Built with the context (ctx.push), since the push bench runs it without one.
    worker: (ctx) => ctx.push.worker,
    concurrency: (ctx) => ctx.push.concurrency,
    jobOptions: () => ({}),
    batch: PUSH_BATCH,
  },
  sms: {
    worker: (ctx) => deliveryWorker(smsDelivery(ctx.sms, ctx.config.sms), { ...deps(ctx, 'sms'), gate: smsDailyCap(ctx.deliveries, ctx.config.sms.dailyCap, ctx.now) }),
    concurrency: (ctx) => ctx.config.sms.concurrency,
    jobOptions: (ctx) => ({ attempts: ctx.config.sms.attempts, backoffMs: ctx.config.sms.backoffMs }),
    batch: 1,
  },
};
