/**
 * Acknowledgement-driven escalation for must-acknowledge messages (margin, risk, compliance and
 * security notices, or any notice with `requireAck`): step 0 runs QIAO_ESCALATION_PUSH_AFTER_S after
 * fanout and pushes, step 1 runs QIAO_ESCALATION_EMAIL_AFTER_S later and emails — each only while the
 * recipient has not read (or archived) the inbox item. The first read receipt stops the chain.
 *
 * Escalation overrides preferences that suppressed the transport at fanout (that is its purpose for
 * notices a firm must be able to show were received), but it cannot push without a subscription or
 * mail without an address; those steps are recorded as suppressed and the chain moves on.
 */
import { QUEUES, jobIds, type EscalationJob } from '../src/queue/jobs.ts';
import { UnrecoverableJobError, type Job, type JobHandler } from '../src/queue/queue.ts';
import { UUID_RE, type WorkerContext } from './context.ts';
import { enqueueDeliveries } from './enqueue.ts';

export const ESCALATION_STEPS = ['push', 'email'] as const;

export type EscalationOutcome = 'acknowledged' | 'escalated' | 'already-covered' | 'no-subscription' | 'no-email';

export async function runEscalation(ctx: WorkerContext, j: EscalationJob): Promise<EscalationOutcome> {
  const d = ctx.config.delivery;
  if (await ctx.deliveries.acknowledged(j.messageId, j.userId)) return 'acknowledged';
  const transport = ESCALATION_STEPS[j.step];
  let outcome: EscalationOutcome;
  const absent = transport === 'push' ? !(await ctx.recipients.hasPushSubscription(j.userId)) : !(await ctx.recipients.user(j.userId))?.email;
  if (absent) {
    outcome = transport === 'push' ? 'no-subscription' : 'no-email';
    await ctx.deliveries.recordIfAbsent({ messageId: j.messageId, userId: j.userId, transport, status: 'suppressed', reason: outcome, dueAt: null });
  } else {
    const id = await ctx.deliveries.escalate(j.messageId, j.userId, transport);
    if (id) await enqueueDeliveries(ctx, [{ id, transport }]);
    outcome = id ? 'escalated' : 'already-covered';
  }
  const next = j.step + 1;
  if (next < ESCALATION_STEPS.length) {
    await ctx.queue.add<EscalationJob>(QUEUES.escalation, 'escalate', { messageId: j.messageId, userId: j.userId, step: next }, {
      jobId: jobIds.escalation(j.messageId, j.userId, next),
      delayMs: d.escalationEmailAfterS * 1000,
    });
  }
  ctx.logger.info({ messageId: j.messageId, userId: j.userId, step: j.step, transport, outcome }, 'escalation step');
  return outcome;
}

export function escalationHandler(ctx: WorkerContext): JobHandler<EscalationJob> {
  return async (job: Job<EscalationJob>) => {
    const j = job.data;
    if (!j || typeof j.messageId !== 'string' || !UUID_RE.test(j.userId ?? '') || !Number.isInteger(j.step) || j.step < 0 || j.step >= ESCALATION_STEPS.length) {
      throw new UnrecoverableJobError('escalation job needs messageId, userId and step 0 or 1');
    }
    const outcome = await runEscalation(ctx, j);
    ctx.metrics?.escalations.inc({ transport: ESCALATION_STEPS[j.step], outcome });
  };
}
