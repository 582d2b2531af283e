/** Payload validators shared by channel families (zod schemas, one per message kind). */
import { z } from 'zod';
import type { KindSpec } from './family.ts';
import { SECURITY_RE, SYMBOL_RE, UUID_RE } from './family.ts';

const text = (max: number) => z.string().min(1).max(max);

export const ResearchNotePayload = z
  .object({
    title: text(200),
    summary: z.string().max(2000).default(''),
    body: z.string().max(200_000).default(''),
    tickers: z.array(z.string().regex(SYMBOL_RE, 'A-share code like 600519.SH')).max(50).default([]),
    riskLevel: z.enum(['R1', 'R2', 'R3', 'R4', 'R5']),
    category: z.string().max(64).optional(),
  })
  .strict();

export const AlertPayload = z
  .object({
    symbol: z.string().regex(SYMBOL_RE).optional(),
    title: text(200),
    body: z.string().max(4000).default(''),
    severity: z.enum(['info', 'warning', 'critical']).default('info'),
    event: z.enum(['price', 'ipo', 'rights-issue', 'dividend', 'suspension', 'resumption', 'market', 'other']).default('other'),
    price: z.number().finite().optional(),
  })
  .strict();

/** Chat text: up to 8,000 characters and not only whitespace. */
const chatText = text(8000).refine((v) => v.trim().length > 0, 'must not be blank');
export const ChatPayload = z.object({ text: chatText }).strict();
const messageRef = z.string().regex(new RegExp(`^${UUID_RE}$`), 'message id (UUID)');
/** A correction of an earlier chat message (`ref`); the original stays in history and the archive. */
export const ChatEditPayload = z.object({ ref: messageRef, text: chatText }).strict();
/** A recall (撤回) of an earlier chat message (`ref`); the original stays in history and the archive. */
export const ChatRecallPayload = z.object({ ref: messageRef }).strict();

export const NoticePayload = z
  .object({
    title: text(200),
    body: z.string().max(20_000).default(''),
    severity: z.enum(['info', 'warning', 'critical']).default('info'),
    url: z.string().max(2000).optional(),
    /** security, margin, risk and compliance notices are critical: they bypass quiet hours, digests and mute. */
    topic: z.enum(['general', 'security', 'margin', 'risk', 'compliance']).optional(),
    /** Escalate (push, then email) while unread; defaults to true for critical topics. */
    requireAck: z.boolean().optional(),
  })
  .strict();

const uuid = z.string().regex(new RegExp(`^${UUID_RE}$`), 'UUID');
const isoTime = z.string().datetime({ offset: true });
const productRisk = z.enum(['R1', 'R2', 'R3', 'R4', 'R5']);

/** A recommendation delivered to a client's inbox after the suitability gate (src/advisory/recommendations.ts). */
export const RecommendationPayload = z
  .object({
    recommendationId: uuid,
    title: text(300),
    security: z.string().regex(SECURITY_RE),
    productName: z.string().max(200).optional(),
    riskLevel: productRisk,
    /** The broker's rationale. */
    body: text(4000),
    researchMessageId: uuid.optional(),
    researchTitle: z.string().max(200).optional(),
    basis: z.enum(['level', 'professional']),
    brokerName: z.string().max(100),
  })
  .strict();

/** A task for a broker (inbox notice and the broker's task feed). */
export const TaskPayload = z
  .object({
    taskId: uuid,
    title: text(200),
    /** The task's detail. */
    body: z.string().max(4000),
    dueAt: isoTime,
    managerId: uuid,
    managerName: z.string().max(100),
  })
  .strict();

export const TaskCreatedPayload = z
  .object({
    taskId: uuid,
    title: text(200),
    dueAt: isoTime,
    recipients: z.array(z.object({ brokerId: uuid, brokerName: z.string().max(100) }).strict()).min(1).max(500),
  })
  .strict();

/** One recipient's state change, for the task's manager. */
export const TaskProgressPayload = z
  .object({
    taskId: uuid,
    brokerId: uuid,
    brokerName: z.string().max(100),
    state: z.enum(['delivered', 'read', 'accepted', 'done']),
    note: z.string().max(2000).optional(),
    at: isoTime,
    dueAt: isoTime,
  })
  .strict();

/** A follow-up (客户回访) assigned to its assignee, or overdue and escalated to a manager (src/service/followups.ts). */
export const FollowupPayload = z
  .object({
    followupId: uuid,
    event: z.enum(['assigned', 'overdue']),
    clientName: z.string().max(100),
    dueAt: isoTime,
  })
  .strict();

/** A satisfaction survey (满意度调查) sent to a client about one conversation (src/service/surveys.ts). */
export const SurveyPayload = z
  .object({
    surveyId: uuid,
    brokerName: z.string().max(100),
    conversationId: uuid,
  })
  .strict();

/** A work reminder (工作提醒) fired into its owner's inbox by the reminder sweep (src/service/reminder-sweep.ts). */
export const ReminderPayload = z
  .object({
    reminderId: uuid,
    kind: z.enum(['manual', 'risk_expiry', 'risk_expiry_today', 'client_waiting', 'task_due', 'followup_due', 'followup_overdue', 'complaint_overdue']),
    title: text(200),
    note: z.string().max(2000),
    dueAt: isoTime,
    /** How often it was snoozed before this firing. */
    snoozeCount: z.number().int().min(0),
    clientId: uuid.optional(),
    clientName: z.string().max(100).optional(),
    conversationId: uuid.optional(),
    taskId: uuid.optional(),
    taskTitle: z.string().max(200).optional(),
    followupId: uuid.optional(),
    complaintId: uuid.optional(),
    /** risk_expiry*: the date (YYYY-MM-DD) the client's risk assessment stops being valid. */
    expiresOn: z.string().regex(/^\d{4}-\d{2}-\d{2}$/).optional(),
    /** client_waiting: when the client's wait began. */
    waitingSince: isoTime.optional(),
    /** Where the web client shows it (same-origin path). */
    url: z.string().max(200).optional(),
  })
  .strict();

/**
 * A step of a complaint (投诉), for the client who filed it or the staff who handle it
 * (src/service/complaints.ts). `title`/`body` are what the inbox and email show; the complaint's own
 * text is not repeated here.
 */
export const ComplaintPayload = z
  .object({
    complaintId: uuid,
    status: z.enum(['open', 'acknowledged', 'resolved', 'rejected']),
    event: z.enum(['filed', 'assigned', 'acknowledged', 'escalated', 'resolved', 'rejected']),
    title: text(200),
    body: z.string().max(4000).default(''),
    /** The final reply (resolved / rejected), for the client. */
    reply: z.string().max(2000).optional(),
  })
  .strict();

/** Makes a KindSpec from a zod schema; the first issue becomes the error message. */
export function kind(schema: z.ZodType, opts: { internal?: boolean } = {}): KindSpec {
  return {
    internal: opts.internal === true,
    validate(payload) {
      const r = schema.safeParse(payload);
      if (r.success) return null;
      const i = r.error.issues[0];
      return `${i.path.join('.') || 'payload'}: ${i.message}`;
    },
  };
}
