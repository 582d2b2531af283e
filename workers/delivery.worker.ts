/**
 * The one delivery worker every transport (email, web push, SMS) runs on: one job per delivery row
 * (`{deliveryId}`, job id `<transport>-<deliveryId>`), or per batch of rows (below). The transport (workers/transports/
 * delivery-transport.ts) renders and sends; this file owns the row:
 *
 * 1. Claim (queued → sending, attempts + 1; failed → sending only on an operator's replay of the dead
 *    letter, `replayed` in the job data) with a conditional UPDATE, so a retried, duplicated or
 *    stalled-and-rerun job never sends twice, nor sends a row that failed for good. Concurrent jobs
 *    share one claim statement per event-loop turn (Coalescer + DeliveriesRepo.claimManyWithContext):
 *    that is what lets one process send hundreds a second. Rows the batch could not take go the single-row way: a settled row
 *    (sent, suppressed, held…) is left alone; one under another worker's live lease is waited for;
 *    one whose lease ran out is a takeover, and the transport's `onTakeover` decides ('resend', or
 *    'dead-letter': failed 'unknown-outcome' for an admin; QIAO_EMAIL_ON_CRASH for email).
 * 2. An optional gate (SMS: the per-user daily cap) may suppress the claimed row.
 * 3. Render (a QiaoError from render fails the row with its code; nothing is sent) and send.
 * 4. Settle by outcome: sent (with the far end's ids, for receipts) | suppressed | permanent → failed
 *    + UnrecoverableJobError (dead letter at once) | retryable → back to queued and rethrow (the
 *    queue retries with backoff), failed 'retries-exhausted' on the last attempt.
 *
 * Batch jobs (`{deliveryIds}`, a fanout's email and push rows): each row goes through the same steps as a job of
 * its own would, at most `batchRows` rows of the process at once. A row that needs another try (a
 * retryable outcome, another worker's lease, a failing statement) is handed to a single-row job
 * (`requeue`, with the first backoff); rows that failed for good are marked failed and named by the
 * batch job's own failure (UnrecoverableJobError: one dead letter; replaying it re-sends just those,
 * since sent rows cannot be claimed again). If a hand-over itself fails, the batch job fails retryably
 * and the queue runs it again: rows already sent are skipped by their claim.
 *
 * Exactly-once vs at-least-once (docs/operations.md): a second send can only happen if a worker dies
 * after the far end accepted and before `sent` is committed; hence `sent` is written with retries.
 */
import type { FastifyBaseLogger } from 'fastify';
import { isQiaoError } from '../src/errors/codes.ts';
import type { DeliveryBatchJob, DeliveryJob } from '../src/queue/jobs.ts';
import { UnrecoverableJobError, type Job, type JobHandler } from '../src/queue/queue.ts';
import { TERMINAL, type ClaimedContext, type DeliveriesRepo, type DeliveryRow } from '../src/store/deliveries-repo.ts';
import type { MessageRow } from '../src/store/recipients-repo.ts';
import { Coalescer } from './coalesce.ts';
import type { DeliveryTransport, Recipient, SendOutcome } from './transports/delivery-transport.ts';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Batched claim / `sent` statements outstanding at once (workers/coalesce.ts). */
const STATEMENTS_IN_FLIGHT = 2;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Nothing left to do for this row (sent, suppressed, …) or the sweep owns it (held). */
function settled(row: DeliveryRow | undefined): boolean {
  return Boolean(row && (TERMINAL.has(row.status) || row.status === 'held'));
}

async function retrying<T>(what: () => Promise<T>, tries = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await what();
    } catch (e) {
      if (i >= tries) throw e;
      await sleep(200 * 4 ** (i - 1));
    }
  }
}

/** A check between claim and send; a reason suppresses the row (SMS daily cap). Batched by the worker. */
export type DeliveryGate = (rows: Array<{ id: string; userId: string }>) => Promise<Map<string, { reason: string; detail: string }>>;

export interface DeliveryWorkerDeps {
  logger: FastifyBaseLogger;
  deliveries: DeliveriesRepo;
  /** QIAO_DELIVERY_LEASE_MS. */
  leaseMs: number;
  message(id: string): Promise<MessageRow | undefined>;
  displayName(userId: string): Promise<string | undefined>;
  gate?: DeliveryGate;
  /** Hands a row of a batch job to a single-row job, run after `delayMs`. Without it, batch jobs are refused. */
  requeue?: (deliveryId: string, delayMs: number) => Promise<void>;
  /** Rows of batch jobs in progress at once in this process (default 128). */
  batchRows?: number;
}

export type OutcomeName = 'sent' | 'suppressed' | 'failed' | 'retried' | 'skipped';

/** What a delivery job carries: one row, or a batch of rows. */
export type DeliveryJobData = DeliveryJob | DeliveryBatchJob;

/** Most rows a batch job may carry (the fanout makes batches of DELIVERY_TRANSPORTS[t].batch). */
export const MAX_BATCH_ROWS = 1000;
/** Delay before a row handed over from a batch job is tried again (the queue's first backoff). */
const REQUEUE_DELAY_MS = 1000;

/** A counting semaphore: at most `n` holders; the rest wait in arrival order. */
class Slots {
  private free: number;
  private readonly waiting: Array<() => void> = [];
  constructor(n: number) {
    this.free = Math.max(1, n);
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((r) => this.waiting.push(r));
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}

export interface DeliveryWorker {
  readonly transport: DeliveryTransport;
  handler: JobHandler<DeliveryJobData>;
  /** Jobs by how they ended in this process (tests, benches, logs). */
  readonly counts: Record<OutcomeName, number>;
  close(): Promise<void>;
}

export function deliveryWorker(t: DeliveryTransport, deps: DeliveryWorkerDeps): DeliveryWorker {
  const { deliveries, leaseMs, logger: log } = deps;
  const counts: Record<OutcomeName, number> = { sent: 0, suppressed: 0, failed: 0, retried: 0, skipped: 0 };
  // Two statements in flight at most per kind: under load the rest gather into the next batch.
  const claims = new Coalescer((ids: string[]) => deliveries.claimManyWithContext(ids, t.name), 256, STATEMENTS_IN_FLIGHT);
  const sent = new Coalescer(
    async (ids: string[]) => {
      await deliveries.markSent(ids);
    },
    256,
    STATEMENTS_IN_FLIGHT,
  );
  const sentWithIds = new Coalescer(async (rows: Array<{ id: string; providerIds: string[] }>) => {
    await deliveries.markSentWithProviderIds(rows);
  });
  const gate =
    deps.gate &&
    new Coalescer(async (rows: Array<{ id: string; userId: string }>) => {
      const shut = await deps.gate!(rows);
      return new Map(rows.filter((r) => shut.has(r.id)).map((r) => [r, shut.get(r.id)!]));
    });

  /**
   * The single-row path: rows the batched claim could not take (settled, failed, another worker's, a
   * takeover). A failed row is taken only when `replayed` (an operator replayed its dead letter).
   */
  async function claimSlow(id: string, replayed: boolean): Promise<{ takeover: boolean } | null> {
    const done = (row: DeliveryRow | undefined) => settled(row) || (!replayed && row?.status === 'failed');
    let claim = await deliveries.claim(id, leaseMs, replayed);
    if (!claim.claimed) {
      if (!claim.row) throw new UnrecoverableJobError(`delivery ${id} does not exist`);
      if (claim.row.transport !== t.name) throw new UnrecoverableJobError(`delivery ${id} is a ${claim.row.transport} delivery, not ${t.name}`);
      if (done(claim.row)) return null;
      // 'sending' under someone else's live lease (a job re-run after its worker stalled): wait it
      // out — we hold the job meanwhile — then try once more.
      await sleep((await deliveries.leaseRemainingMs(id, leaseMs)) + 50);
      claim = await deliveries.claim(id, leaseMs, replayed);
      if (!claim.claimed) {
        if (done(claim.row)) return null;
        throw new Error(`delivery ${id} is being sent by another worker`);
      }
    }
    if (claim.row.transport !== t.name) {
      await deliveries.release(id, `claimed by the ${t.name} worker by mistake`);
      throw new UnrecoverableJobError(`delivery ${id} is a ${claim.row.transport} delivery, not ${t.name}`);
    }
    return { takeover: claim.takeover };
  }

  async function fail(id: string, reason: string, detail: string, what: string): Promise<never> {
    await deliveries.markFailed(id, reason, detail);
    counts.failed++;
    throw new UnrecoverableJobError(what);
  }

  async function settle(job: Job<{ deliveryId: string }>, id: string, o: SendOutcome): Promise<void> {
    switch (o.result) {
      case 'sent':
        // The message is out: insist on recording it, since a lost 'sent' is what could cause a resend.
        await retrying(() => (o.providerIds?.length ? sentWithIds.get({ id, providerIds: o.providerIds }) : sent.get(id)));
        counts.sent++;
        return;
      case 'suppressed':
        await deliveries.markSuppressed(id, o.reason, o.detail);
        counts.suppressed++;
        return;
      case 'permanent':
        return fail(id, o.reason, o.detail, o.deadLetter ?? o.detail);
      case 'retryable':
        if (job.attempt >= t.attempts) await deliveries.markFailed(id, 'retries-exhausted', o.detail);
        else await deliveries.release(id, o.detail);
        counts.retried++;
        log.warn({ deliveryId: id, transport: t.name, attempt: job.attempt, err: o.detail }, 'send failed; will retry');
        throw new Error(`${t.name} send failed: ${o.detail}`);
    }
  }

  const one = async (job: Job<{ deliveryId: string }>, id: string, replayed: boolean): Promise<void> => {
    let cx: ClaimedContext | undefined = await claims.get(id);
    if (!cx) {
      const slow = await claimSlow(id, replayed);
      if (!slow) {
        counts.skipped++;
        return;
      }
      if (slow.takeover) {
        // The previous worker died mid-send: the far end may already have this message.
        log.warn({ deliveryId: id, transport: t.name, policy: t.onTakeover }, 'taking over a delivery whose worker died mid-send');
        if (t.onTakeover === 'dead-letter') {
          const why = 'outcome unknown: the worker sending it died; replay to send it (it may arrive twice)';
          return fail(id, 'unknown-outcome', why, why);
        }
      }
      cx = await deliveries.context(id);
    }
    const msg = cx && (await deps.message(cx.messageId));
    if (!cx || !msg) return fail(id, 'missing', 'message or recipient no longer exists', `delivery ${id}: message or recipient no longer exists`);

    if (gate) {
      const shut = await gate.get({ id, userId: cx.userId });
      if (shut) {
        await deliveries.markSuppressed(id, shut.reason, shut.detail);
        counts.suppressed++;
        return;
      }
    }

    const r: Recipient = { userId: cx.userId, locale: cx.locale, displayName: cx.displayName, timeZone: cx.timeZone, email: cx.email, phone: cx.phone };
    const senderName = t.wantsSenderName(msg) ? await deps.displayName(msg.senderId) : undefined;
    let content: unknown;
    try {
      content = t.render({ id: msg.id, channel: msg.channel, kind: msg.kind, payload: msg.payload, senderId: msg.senderId, senderName, publishedAt: msg.createdAt }, r);
    } catch (e) {
      if (!isQiaoError(e)) throw e;
      return fail(id, e.code, e.message, `${e.code}: ${e.message}`);
    }
    await settle(job, id, await t.send(id, r, content));
  };

  const slots = new Slots(deps.batchRows ?? 128);
  const isUnrecoverable = (e: unknown) => e instanceof UnrecoverableJobError || (e as Error)?.name === 'UnrecoverableJobError';

  async function batch(job: Job<DeliveryJobData>, ids: unknown[], replayed: boolean): Promise<void> {
    if (!deps.requeue) throw new UnrecoverableJobError(`${t.name} worker takes no batch jobs here`);
    if (ids.length === 0 || ids.length > MAX_BATCH_ROWS || !ids.every((id) => typeof id === 'string' && UUID_RE.test(id))) {
      throw new UnrecoverableJobError(`${t.name} batch job needs 1–${MAX_BATCH_ROWS} valid deliveryIds`);
    }
    const dead: Array<{ id: string; why: string }> = [];
    const handOver: string[] = [];
    // Each row as the first attempt of its own job: a retryable outcome releases the row (queued) and
    // the row's next try is a single-row job with the queue's full attempts.
    const attempts = Math.max(2, t.attempts);
    await Promise.all(
      (ids as string[]).map((id) =>
        slots.run(async () => {
          try {
            await one({ ...job, data: { deliveryId: id }, attempt: 1, attempts }, id, replayed);
          } catch (e) {
            if (isUnrecoverable(e)) dead.push({ id, why: (e as Error).message });
            else handOver.push(id);
          }
        }),
      ),
    );
    const requeue = deps.requeue;
    const lost = (await Promise.allSettled(handOver.map((id) => requeue(id, REQUEUE_DELAY_MS)))).filter((r) => r.status === 'rejected').length;
    if (lost) throw new Error(`${t.name} batch: ${lost} of ${handOver.length} rows could not be handed to retry jobs; the batch runs again`);
    if (dead.length) {
      // Every failed id first (an admin finds the rows by them), then the distinct reasons.
      const reasons = [...new Set(dead.map((d) => d.why))].join('; ');
      throw new UnrecoverableJobError(`${dead.length} of ${ids.length} ${t.name} deliveries failed for good (${dead.map((d) => d.id).join(', ')}): ${reasons}`.slice(0, 4000));
    }
  }

  const handler = async (job: Job<DeliveryJobData>): Promise<void> => {
    const data = job.data as Partial<{ deliveryId: unknown; deliveryIds: unknown; replayed: unknown }> | undefined;
    const replayed = data?.replayed === true;
    if (Array.isArray(data?.deliveryIds)) return batch(job, data.deliveryIds, replayed);
    const id = data?.deliveryId;
    if (typeof id !== 'string' || !UUID_RE.test(id)) throw new UnrecoverableJobError(`${t.name} job has no valid deliveryId`);
    return one(job as Job<{ deliveryId: string }>, id, replayed);
  };

  return {
    transport: t,
    handler,
    counts,
    close: () => t.close(),
  };
}
