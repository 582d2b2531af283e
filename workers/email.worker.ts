/**
 * Email: one job per email delivery row (`{deliveryId}`, job id `email-<deliveryId>`).
 *
 * 1. Claim the row (queued|failed → sending, attempts + 1) with a conditional UPDATE. A row already
 *    sent, suppressed or held is left alone (the job is a duplicate or the sweep owns it); a row
 *    another worker is sending is waited for until its lease runs out.
 * 2. Render (recipient's language) and hand to the transport with a Message-ID derived from the row.
 * 3. sent; or, on failure: permanent (5xx, no address) → failed + UnrecoverableJobError (dead letter at
 *    once); transient → back to queued and rethrow (queue retries with backoff), failed on the last try.
 *
 * Exactly-once vs at-least-once: a second send can only happen if a worker dies (or loses the
 * database) after the server accepted the message and before `sent` is committed. The row is then
 * 'sending'; once its lease expires the next claim is a takeover and QIAO_EMAIL_ON_CRASH decides:
 * 'resend' (default; at-least-once for such rows, exactly-once for all others; the copy carries the
 * same Message-ID and X-Qiao-Delivery-Id) or 'dead-letter' (never twice: the row is failed
 * 'unknown-outcome' and an admin decides whether to replay). SMTP has no way to ask a server whether
 * it already has a message, so no setting gives exactly-once across a crash. docs/operations.md.
 */
import { classify } from '../src/domain/routing.ts';
import type { EmailJob } from '../src/queue/jobs.ts';
import { UnrecoverableJobError, type Job, type JobHandler } from '../src/queue/queue.ts';
import { TERMINAL, type DeliveryRow } from '../src/store/deliveries-repo.ts';
import { Coalescer } from './coalesce.ts';
import { UUID_RE, sleep, type WorkerContext } from './context.ts';
import { renderMessageEmail } from './templates/render.ts';
import { langOf } from './templates/strings.ts';
import { MailSendError } from './transports/email-transport.ts';

/** Deliberately loose (RFC 5322 is not a regex): one @, no spaces, a dot in the domain. */
export const EMAIL_RE = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;

export function messageIdFor(deliveryId: string): string {
  return `<delivery-${deliveryId}@qiao.mail>`;
}

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

export function emailHandler(ctx: WorkerContext): JobHandler<EmailJob> {
  const d = ctx.config.delivery;
  // Concurrent jobs share one claim statement and one "sent" statement per event-loop turn.
  const claims = new Coalescer((ids: string[]) => ctx.deliveries.claimManyWithContext(ids, 'email'));
  const sent = new Coalescer(async (ids: string[]) => {
    await ctx.deliveries.markSent(ids);
  });

  /** The single-row path: rows the batch could not claim (settled, another worker's, a takeover). */
  async function claimSlow(id: string): Promise<{ takeover: boolean } | null> {
    let claim = await ctx.deliveries.claim(id, d.leaseMs);
    if (!claim.claimed) {
      if (!claim.row) throw new UnrecoverableJobError(`delivery ${id} does not exist`);
      if (claim.row.transport !== 'email') throw new UnrecoverableJobError(`delivery ${id} is a ${claim.row.transport} delivery, not email`);
      if (settled(claim.row)) return null;
      // 'sending' under someone else's live lease (a job re-run after its worker stalled): wait it
      // out — we hold the job meanwhile — then try once more.
      await sleep((await ctx.deliveries.leaseRemainingMs(id, d.leaseMs)) + 50);
      claim = await ctx.deliveries.claim(id, d.leaseMs);
      if (!claim.claimed) {
        if (settled(claim.row)) return null;
        throw new Error(`delivery ${id} is being sent by another worker`);
      }
    }
    return { takeover: claim.takeover };
  }

  return async (job: Job<EmailJob>) => {
    const id = job.data?.deliveryId;
    if (typeof id !== 'string' || !UUID_RE.test(id)) throw new UnrecoverableJobError('email job has no valid deliveryId');

    let cx: { messageId: string; email: string | null; locale: string; displayName: string; timeZone: string } | undefined = await claims.get(id);
    if (!cx) {
      const slow = await claimSlow(id);
      if (!slow) return;
      if (slow.takeover) {
        // The previous worker died mid-send: the server may already have this message.
        ctx.logger.warn({ deliveryId: id, policy: d.emailOnCrash }, 'taking over an email whose worker died mid-send');
        if (d.emailOnCrash === 'dead-letter') {
          const why = 'outcome unknown: the worker sending it died; replay to send it (it may arrive twice)';
          await ctx.deliveries.markFailed(id, 'unknown-outcome', why);
          throw new UnrecoverableJobError(why);
        }
      }
      cx = await ctx.deliveries.context(id);
    }
    const msg = cx && (await ctx.message(cx.messageId));
    if (!cx || !msg) {
      await ctx.deliveries.markFailed(id, 'missing', 'message or recipient no longer exists');
      throw new UnrecoverableJobError(`delivery ${id}: message or recipient no longer exists`);
    }
    if (!cx.email || !EMAIL_RE.test(cx.email)) {
      const why = cx.email ? 'recipient email address is not valid' : 'recipient has no email address';
      await ctx.deliveries.markFailed(id, 'no-email', why);
      throw new UnrecoverableJobError(why);
    }

    const lang = langOf(cx.locale);
    const { critical, requireAck } = classify(msg.payload);
    const senderName = await ctx.displayName(msg.senderId);
    const mail = renderMessageEmail(
      { id: msg.id, channel: msg.channel, kind: msg.kind, payload: msg.payload, senderName, publishedAt: msg.createdAt },
      { lang, recipientName: cx.displayName, timeZone: cx.timeZone, publicUrl: d.publicUrl, critical, requireAck },
    );
    try {
      await ctx.mail.send({
        to: cx.email,
        ...mail,
        messageId: messageIdFor(id),
        lang,
        headers: { 'X-Qiao-Delivery-Id': id, 'X-Qiao-Message-Id': msg.id, 'X-Qiao-Channel': msg.channel },
      });
    } catch (e) {
      const err = e instanceof MailSendError ? e : new MailSendError((e as Error)?.message ?? String(e), false);
      if (err.permanent) {
        await ctx.deliveries.markFailed(id, 'rejected', err.message);
        throw new UnrecoverableJobError(`mail server refused: ${err.message}`);
      }
      if (job.attempt >= d.emailAttempts) await ctx.deliveries.markFailed(id, 'retries-exhausted', err.message);
      else await ctx.deliveries.release(id, err.message);
      ctx.logger.warn({ deliveryId: id, attempt: job.attempt, err: err.message }, 'email send failed; will retry');
      throw err;
    }
    // The message is out: insist on recording it, since a lost 'sent' is what could cause a resend.
    await retrying(() => sent.get(id));
  };
}
