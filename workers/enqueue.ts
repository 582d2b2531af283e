/** Enqueueing delivery jobs: stable job ids, so enqueueing the same row twice is harmless. */
import { SENT_TRANSPORTS, type SentTransport } from '../src/domain/routing.ts';
import { DELIVERY_QUEUES, jobIds, type DeliveryJob } from '../src/queue/jobs.ts';
import type { WorkerContext } from './context.ts';
import { DELIVERY_TRANSPORTS } from './delivery-transports.ts';

export const WORKER_TRANSPORTS = SENT_TRANSPORTS;

const isSent = (t: string): t is SentTransport => (SENT_TRANSPORTS as readonly string[]).includes(t);

export async function enqueueDeliveries(ctx: WorkerContext, rows: Array<{ id: string; transport: string }>): Promise<number> {
  let n = 0;
  // Bounded parallelism: one round trip each on Redis, pipelined on the queue's connection.
  for (let i = 0; i < rows.length; i += 500) {
    await Promise.all(
      rows.slice(i, i + 500).map((r) => {
        if (!isSent(r.transport)) return undefined;
        n++;
        const opts = DELIVERY_TRANSPORTS[r.transport].jobOptions(ctx);
        return ctx.queue.add<DeliveryJob>(DELIVERY_QUEUES[r.transport], r.transport, { deliveryId: r.id }, { jobId: jobIds.delivery(r.transport, r.id), ...opts });
      }),
    );
  }
  return n;
}
