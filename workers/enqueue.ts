/** Enqueueing delivery jobs: stable job ids, so enqueueing the same row twice is harmless. */
import { SENT_TRANSPORTS, type SentTransport } from '../src/domain/routing.ts';
import { DELIVERY_QUEUES, jobIds, type DeliveryBatchJob, type DeliveryJob } from '../src/queue/jobs.ts';
import type { BulkJob, JobOptions, JobQueue } from '../src/queue/queue.ts';
import type { WorkerContext } from './context.ts';
import { DELIVERY_TRANSPORTS } from './delivery-transports.ts';

export const WORKER_TRANSPORTS = SENT_TRANSPORTS;

const isSent = (t: string): t is SentTransport => (SENT_TRANSPORTS as readonly string[]).includes(t);

/** The jobs for `ids` of transport `t`, `batch` rows to a job (a lone row gets its single-row job). */
export function deliveryJobs(t: SentTransport, ids: string[], batch: number, opts: JobOptions = {}): Array<BulkJob<DeliveryJob | DeliveryBatchJob>> {
  const jobs: Array<BulkJob<DeliveryJob | DeliveryBatchJob>> = [];
  for (let i = 0; i < ids.length; i += Math.max(1, batch)) {
    const part = ids.slice(i, i + Math.max(1, batch));
    jobs.push(
      part.length === 1
        ? { name: t, data: { deliveryId: part[0] }, opts: { jobId: jobIds.delivery(t, part[0]), ...opts } }
        : { name: `${t}-batch`, data: { deliveryIds: part }, opts: { jobId: jobIds.deliveryBatch(t, part), ...opts } },
    );
  }
  return jobs;
}

/**
 * Jobs for queued delivery rows: a job per row, or per batch of up to the transport's `batch` rows
 * (push). Returns the number of jobs added.
 */
export async function enqueueDeliveries(ctx: WorkerContext, rows: Array<{ id: string; transport: string }>): Promise<number> {
  // One addBulk per transport queue: BullMQ pipelines each chunk in one round trip, so a 100,000
  // recipient fanout does not pay a Redis round trip per job.
  const idsByTransport = new Map<SentTransport, string[]>();
  for (const r of rows) {
    if (!isSent(r.transport)) continue;
    let list = idsByTransport.get(r.transport);
    if (!list) idsByTransport.set(r.transport, (list = []));
    list.push(r.id);
  }
  let n = 0;
  await Promise.all(
    [...idsByTransport].map(([t, ids]) => {
      const jobs = deliveryJobs(t, ids, DELIVERY_TRANSPORTS[t].batch, DELIVERY_TRANSPORTS[t].jobOptions(ctx));
      n += jobs.length;
      return ctx.queue.addBulk(DELIVERY_QUEUES[t], jobs);
    }),
  );
  return n;
}

/** A delivery worker's `requeue`: the row's single-row job (same id as enqueueDeliveries gives it), delayed. */
export function requeueDelivery(queue: JobQueue, transport: SentTransport, jobOptions: { attempts?: number; backoffMs?: number }) {
  return async (deliveryId: string, delayMs: number): Promise<void> => {
    await queue.add<DeliveryJob>(DELIVERY_QUEUES[transport], transport, { deliveryId }, { jobId: jobIds.delivery(transport, deliveryId), ...jobOptions, delayMs });
  };
}
