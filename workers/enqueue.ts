/** Enqueueing delivery jobs: stable job ids, so enqueueing the same row twice is harmless. */
import { QUEUES, jobIds, type EmailJob, type PushJob } from '../src/queue/jobs.ts';
import type { WorkerContext } from './context.ts';

export async function enqueueDeliveries(ctx: WorkerContext, rows: Array<{ id: string; transport: string }>): Promise<number> {
  const d = ctx.config.delivery;
  let n = 0;
  // Bounded parallelism: one round trip each on Redis, pipelined on the queue's connection.
  for (let i = 0; i < rows.length; i += 500) {
    await Promise.all(
      rows.slice(i, i + 500).map((r) => {
        if (r.transport === 'email') {
          n++;
          return ctx.queue.add<EmailJob>(QUEUES.email, 'email', { deliveryId: r.id }, { jobId: jobIds.email(r.id), attempts: d.emailAttempts, backoffMs: d.emailBackoffMs });
        }
        if (r.transport === 'push') {
          n++;
          // Retry policy of push jobs is the push worker's default (src/queue/queue.ts).
          return ctx.queue.add<PushJob>(QUEUES.push, 'push', { deliveryId: r.id }, { jobId: jobIds.push(r.id) });
        }
        return undefined;
      }),
    );
  }
  return n;
}
