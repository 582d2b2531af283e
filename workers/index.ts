/**
 * Starts the delivery workers on a job queue: BullMQ in `npm run worker` (services mode, any number of
 * processes), the in-process MemoryQueue inside the hub in embedded mode. Same handlers either way.
 *
 *   fanout      qiao-fanout      one job per publication → inbox items, delivery rows, email/push jobs
 *   email       qiao-email       one job per email delivery row
 *   digest      qiao-digest      periodic sweep: held items now due, digests, repair
 *   escalation  qiao-escalation  unread must-acknowledge messages → push, then email
 *   push        qiao-push        one job per web-push delivery row (workers/push.worker.ts)
 *   sms         qiao-sms         one job per SMS delivery row (workers/sms.worker.ts)
 *
 * email, push and sms are the delivery transports of workers/delivery-transports.ts, all on the one
 * delivery worker (workers/delivery.worker.ts).
 */
import { join } from 'node:path';
import { DELIVERY_QUEUES, QUEUES, type DigestJob } from '../src/queue/jobs.ts';
import type { SentTransport } from '../src/domain/routing.ts';
import type { JobHandler, WorkerHandle } from '../src/queue/queue.ts';
import { createContext, type WorkerContext, type WorkerDeps } from './context.ts';
import { digestHandler, runSweep, type SweepStats } from './digest.worker.ts';
import { DELIVERY_TRANSPORTS } from './delivery-transports.ts';
import type { DeliveryWorker } from './delivery.worker.ts';
import { recordReceipts } from './sms.worker.ts';
import { escalationHandler } from './escalation.worker.ts';
import { fanoutHandler } from './fanout.worker.ts';
import { createMailTransport } from './transports/email-transport.ts';
import { countedHandler } from './worker-metrics.ts';
import { createSmsTransport } from './transports/sms-transport.ts';

export type { WorkerDeps } from './context.ts';

interface WorkerSpec {
  queue: string;
  handler: (ctx: WorkerContext) => JobHandler<never>;
  concurrency: (ctx: WorkerContext) => number;
}

/** One worker spec per delivery transport, from the transport table. */
const deliverySpec = (t: SentTransport): WorkerSpec => ({
  queue: DELIVERY_QUEUES[t],
  handler: (ctx) => ctx.transports[t].handler,
  concurrency: (ctx) => DELIVERY_TRANSPORTS[t].concurrency(ctx),
});

const HANDLERS = {
  fanout: { queue: QUEUES.fanout, handler: fanoutHandler, concurrency: () => 2 },
  email: deliverySpec('email'),
  digest: { queue: QUEUES.digest, handler: digestHandler, concurrency: () => 1 },
  escalation: { queue: QUEUES.escalation, handler: escalationHandler, concurrency: () => 8 },
  push: deliverySpec('push'),
  sms: deliverySpec('sms'),
} satisfies Record<string, WorkerSpec> & Record<SentTransport, WorkerSpec>;

export type WorkerName = keyof typeof HANDLERS;
export const WORKER_NAMES = Object.keys(HANDLERS) as WorkerName[];

export interface StartOptions {
  /** Which workers to run (default: all). */
  queues?: WorkerName[];
  /** Enqueue a sweep every QIAO_SWEEP_INTERVAL_MS (default: when the digest worker runs). */
  sweep?: boolean;
}

export interface Workers {
  readonly ctx: WorkerContext;
  readonly queues: WorkerName[];
  /** Runs one sweep now, in this process (tests, catch-up). */
  sweepNow(at?: Date): Promise<SweepStats>;
  /** Stops taking jobs, waits for the ones in flight, closes the mail transport if it made it. */
  close(): Promise<void>;
}

export function startWorkers(deps: WorkerDeps, opts: StartOptions = {}): Workers {
  const d = deps.config.delivery;
  const ownMail = !deps.mail;
  const mail = deps.mail ?? createMailTransport({ ...d, outboxDir: deps.outboxDir ?? join(deps.config.dataDir, 'outbox') });
  if (ownMail && mail.kind === 'outbox') deps.logger.info({ dir: deps.outboxDir ?? join(deps.config.dataDir, 'outbox') }, 'no QIAO_SMTP_URL: email is written as .eml files');
  const ownSms = !deps.sms;
  const smsOutboxDir = deps.smsOutboxDir ?? join(deps.config.dataDir, 'sms-outbox');
  const sms = deps.sms ?? createSmsTransport({ ...deps.config.sms, outboxDir: smsOutboxDir }, deps.logger);
  if (ownSms && sms.kind === 'outbox') deps.logger.info({ dir: smsOutboxDir }, 'no QIAO_SMPP_URL: SMS is written as .json files');
  const base = createContext(deps, mail, sms);
  const ctx: WorkerContext = Object.assign(base, {
    transports: Object.fromEntries(Object.entries(DELIVERY_TRANSPORTS).map(([t, e]) => [t, e.worker(base)])) as Record<SentTransport, DeliveryWorker>,
  });
  recordReceipts(sms, ctx.deliveries, deps.logger);
  const queues = opts.queues ?? WORKER_NAMES;
  const m = deps.metrics;
  const transportOf = (name: WorkerName) => (name in DELIVERY_TRANSPORTS ? (name as SentTransport) : undefined);
  const handles: WorkerHandle[] = queues.map((name) => {
    const spec: WorkerSpec = HANDLERS[name];
    const handler = spec.handler(ctx) as JobHandler<unknown>;
    return deps.queue.process(spec.queue, m ? countedHandler(spec.queue, handler, m, transportOf(name)) : handler, { concurrency: spec.concurrency(ctx) });
  });
  if (m) {
    m.watchDeliveries(Object.fromEntries(queues.flatMap((n) => (transportOf(n) ? [[n, ctx.transports[transportOf(n)!]]] : []))));
    // Every queue, not only those this process takes: any worker's /metrics shows the whole backlog.
    m.watchQueues(deps.queue, Object.values(QUEUES));
  }

  let timer: NodeJS.Timeout | undefined;
  if (opts.sweep ?? queues.includes('digest')) {
    const tick = () => {
      // One job id per interval: processes ticking together mostly collapse into one sweep.
      const bucket = Math.floor(Date.now() / d.sweepIntervalMs);
      deps.queue
        .add<DigestJob>(QUEUES.digest, 'sweep', {}, { jobId: `sweep-${bucket}`, attempts: 1 })
        .catch((err) => deps.logger.warn({ err }, 'could not enqueue the delivery sweep'));
    };
    tick();
    timer = setInterval(tick, d.sweepIntervalMs);
    timer.unref();
  }

  let closing: Promise<void> | null = null;
  return {
    ctx,
    queues,
    sweepNow: (at) => runSweep(ctx, at),
    close() {
      closing ??= (async () => {
        if (timer) clearInterval(timer);
        await Promise.all(handles.map((h) => h.close()));
        if (ownMail) await mail.close();
        await ctx.push.close();
        if (ownSms) await sms.close();
      })();
      return closing;
    },
  };
}
