/**
 * The periodic sweep (queue `qiao-digest`, one job per interval from every worker process; sweeps
 * are idempotent, so two in the same interval are harmless):
 * 1. release items held for quiet hours or trading hours whose time has come → queued + job;
 * 2. send due digests: one email per user listing their held digest items;
 * 3. repair: re-enqueue rows whose job may have been lost (enqueue failed after the rows were written,
 *    or a worker died mid-send and its lease ran out). Job ids are stable, so this is a no-op for rows
 *    whose job still exists.
 * `DigestJob.at` sets the sweep's clock (tests and manual catch-up runs).
 */
import { createHash } from 'node:crypto';
import type { DigestJob } from '../src/queue/jobs.ts';
import type { Job, JobHandler } from '../src/queue/queue.ts';
import type { WorkerContext } from './context.ts';
import { EMAIL_RE } from './email.worker.ts';
import { enqueueDeliveries } from './enqueue.ts';
import { renderDigestEmail, type MessageForMail } from './templates/render.ts';
import { langOf } from './templates/strings.ts';
import { MailSendError } from './transports/email-transport.ts';

export interface SweepStats {
  released: number;
  digests: number;
  digestItems: number;
  repaired: number;
}

async function sendDigest(ctx: WorkerContext, userId: string, now: Date): Promise<number> {
  const items = await ctx.deliveries.claimDigest(userId, now);
  if (!items.length) return 0;
  const ids = items.map((i) => i.id);
  const user = await ctx.recipients.user(userId);
  if (!user?.email || !EMAIL_RE.test(user.email)) {
    for (const id of ids) await ctx.deliveries.markFailed(id, 'no-email', 'recipient has no valid email address');
    return 0;
  }
  const msgs = new Map((await ctx.recipients.messages(items.map((i) => i.messageId))).map((m) => [m.id, m]));
  const names = await ctx.recipients.displayNames([...msgs.values()].map((m) => m.senderId));
  const list: MessageForMail[] = [];
  for (const i of items) {
    const m = msgs.get(i.messageId);
    if (m) list.push({ id: m.id, channel: m.channel, kind: m.kind, payload: m.payload, senderName: names.get(m.senderId), publishedAt: m.createdAt });
  }
  const lang = langOf(user.locale);
  const mail = renderDigestEmail(list, { lang, recipientName: user.displayName, timeZone: user.timeZone, publicUrl: ctx.config.delivery.publicUrl });
  // Same rows → same Message-ID, so a digest resent after a crash is recognisably the same mail.
  const digestId = createHash('sha256').update(ids.join(',')).digest('hex').slice(0, 24);
  try {
    await ctx.mail.send({ to: user.email, ...mail, messageId: `<digest-${digestId}@qiao.mail>`, lang, headers: { 'X-Qiao-Delivery-Id': ids.join(' '), 'X-Qiao-Digest': String(ids.length) } });
  } catch (e) {
    const err = e instanceof MailSendError ? e : new MailSendError(String(e), false);
    if (err.permanent) for (const id of ids) await ctx.deliveries.markFailed(id, 'rejected', err.message);
    else await ctx.deliveries.releaseDigest(ids, err.message);
    ctx.logger.warn({ userId, items: ids.length, err: err.message }, 'digest send failed');
    return 0;
  }
  await ctx.deliveries.markSent(ids);
  return ids.length;
}

export async function runSweep(ctx: WorkerContext, now: Date = ctx.now()): Promise<SweepStats> {
  const d = ctx.config.delivery;
  const stats: SweepStats = { released: 0, digests: 0, digestItems: 0, repaired: 0 };
  for (;;) {
    const due = await ctx.deliveries.releaseDue(now, 1000);
    stats.released += due.length;
    await enqueueDeliveries(ctx, due);
    if (due.length < 1000) break;
  }
  // Users whose digest failed are back in the due set: stop when a round makes no progress (the next
  // sweep retries them) rather than spinning on a mail server that is down.
  for (let round = 0; round < 50; round++) {
    const users = await ctx.deliveries.digestUsersDue(now, 200);
    let progress = 0;
    for (let i = 0; i < users.length; i += 8) {
      const sent = await Promise.all(users.slice(i, i + 8).map((u) => sendDigest(ctx, u, now)));
      for (const n of sent) if (n > 0) (stats.digests++, (stats.digestItems += n), progress++);
    }
    if (users.length < 200 || progress === 0) break;
  }
  const stale = await ctx.deliveries.stale(Math.max(d.leaseMs, 2 * d.sweepIntervalMs), d.leaseMs, 1000);
  stats.repaired = stale.length;
  await enqueueDeliveries(ctx, stale);
  if (stats.released || stats.digests || stats.repaired) ctx.logger.info({ at: now.toISOString(), ...stats }, 'delivery sweep');
  return stats;
}

export function digestHandler(ctx: WorkerContext): JobHandler<DigestJob> {
  return async (job: Job<DigestJob>) => {
    const at = job.data?.at ? new Date(job.data.at) : undefined;
    await runSweep(ctx, at && !Number.isNaN(at.getTime()) ? at : undefined);
  };
}

