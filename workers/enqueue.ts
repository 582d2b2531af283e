/** Enqueueing delivery jobs: stable job ids, so enqueueing the same row twice is harmless. */
import { SENT_TRANSPORTS, type SentTransport } from '../src/domain/routing.ts';
import { DELIVERY_QUEUES, jobIds, type DeliveryJob } from '../src/queue/jobs.ts';
import type { BulkJob } from '../src/queue/queue.ts';
import type { WorkerContext } from './context.ts';
import { DELIVERY_TRANSPORTS } from './delivery-transports.ts';

export const WORKER_TRANSPORTS = SENT_TRANSPORTS;

const isSent = (t: string): t is SentTransport => (SENT_TRANSPORTS as readonly string[]).includes(t);

export async function enqueueDeliveries(ctx: WorkerContext, rows: Array<{ id: string; transport: string }>): Promise<number> {
  // One addBulk per transport queue: BullMQ pipelines each chunk in one round trip, so a 100,000
  // recipient fanout does not pay a Redis round trip per job.
  const byTransport = new Map<SentTransport, Array<BulkJob<DeliveryJob>>>();
  for (const r of rows) {
    if (!isSent(r.transport)) continue;
    let list = byTransport.get(r.transport);
    if (!list) byTransport.set(r.transport, (list = []));
    list.push({ name: r.transport, data: { deliveryId: r.id }, opts: { jobId: jobIds.delivery(r.transport, r.id), ...DELIVERY_TRANSPORTS[r.transport].jobOptions(ctx) } });
  }
  let n = 0;
  await Promise.all(
    [...byTransport].map(async ([t, jobs]) => {
      await ctx.queue.addBulk(DELIVERY_QUEUES[t], jobs);
      n += jobs.length;
    }),
  );
  return n;
}
