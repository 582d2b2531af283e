import { boolean, index, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { users } from './users.ts';

/**
 * A recommendation a broker pushed (or tried to push) to one client. Refusals are rows too
 * (status `refused`, with the levels that decided it), as the suitability rules require.
 */
export const recommendations = pgTable(
  'recommendations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    batchId: uuid('batch_id').notNull(),
    brokerId: uuid('broker_id').notNull().references(() => users.id),
    clientId: uuid('client_id').notNull().references(() => users.id),
    security: text('security').notNull(),
    productName: text('product_name'),
    productRisk: text('product_risk', { enum: ['R1', 'R2', 'R3', 'R4', 'R5'] }).notNull(),
    rationale: text('rationale').notNull(),
    researchMessageId: uuid('research_message_id'),
    clientRiskLevel: text('client_risk_level'),
    clientRiskAssessedOn: text('client_risk_assessed_on'),
    professionalInvestor: boolean('professional_investor').notNull().default(false),
    /** `sending`: cleared for delivery (directly or by approval), inbox publication not yet committed. */
    status: text('status', { enum: ['sending', 'delivered', 'refused', 'pending_approval', 'rejected'] }).notNull(),
    refusalCode: text('refusal_code'),
    /** Why it was suitable: the levels matched, or the client is a professional investor. */
    basis: text('basis', { enum: ['level', 'professional'] }),
    approvalId: uuid('approval_id').references(() => approvals.id),
    /** The broker's Idempotency-Key: a retried request returns (and finishes) the same batch. */
    requestKey: text('request_key'),
    messageId: uuid('message_id'),
    decidedBy: uuid('decided_by').references(() => users.id),
    decidedAt: timestamp('decided_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('recommendations_client_idx').on(t.clientId, t.createdAt),
    index('recommendations_broker_idx').on(t.brokerId, t.createdAt),
    index('recommendations_status_idx').on(t.status),
    // The 25-clients-in-30-days rule counts by broker and security.
    index('recommendations_broker_security_idx').on(t.brokerId, t.security, t.createdAt),
    index('recommendations_approval_idx').on(t.approvalId),
    uniqueIndex('recommendations_request_key_uq').on(t.brokerId, t.requestKey, t.clientId),
  ],
);

/**
 * Something waiting for compliance approval: a recommendation batch over the 25-clients/30-days limit,
 * or a firm-wide broadcast (approver and time are kept).
 */
export const approvals = pgTable(
  'approvals',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    kind: text('kind', { enum: ['recommendation', 'broadcast'] }).notNull(),
    requestedBy: uuid('requested_by').notNull().references(() => users.id),
    payload: jsonb('payload').notNull(),
    status: text('status', { enum: ['pending', 'approved', 'rejected'] }).notNull().default('pending'),
    decidedBy: uuid('decided_by').references(() => users.id),
    decidedAt: timestamp('decided_at', { withTimezone: true }),
    note: text('note'),
    /** Requester's Idempotency-Key (broadcasts): a retried publish returns the same approval. */
    idempotencyKey: text('idempotency_key'),
    /** The broadcast publication, once approved and delivered. */
    messageId: uuid('message_id'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('approvals_status_idx').on(t.status, t.createdAt), uniqueIndex('approvals_idempotency_uq').on(t.requestedBy, t.idempotencyKey)],
);

/** A manager's task to brokers. */
export const tasks = pgTable(
  'tasks',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    managerId: uuid('manager_id').notNull().references(() => users.id),
    title: text('title').notNull(),
    detail: text('detail').notNull().default(''),
    dueAt: timestamp('due_at', { withTimezone: true }).notNull(),
    /** Manager's Idempotency-Key: a retried create returns the same task instead of a second one. */
    idempotencyKey: text('idempotency_key'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('tasks_manager_idx').on(t.managerId, t.createdAt),
    uniqueIndex('tasks_idempotency_uq').on(t.managerId, t.idempotencyKey),
    // Tasks due today and already past due (service dashboards).
    index('tasks_due_idx').on(t.dueAt),
  ],
);

/** One recipient's progress on a task; `overdue` is derived (due passed, not done). */
export const taskAssignments = pgTable(
  'task_assignments',
  {
    taskId: uuid('task_id').notNull().references(() => tasks.id),
    brokerId: uuid('broker_id').notNull().references(() => users.id),
    state: text('state', { enum: ['delivered', 'read', 'accepted', 'done'] }).notNull().default('delivered'),
    note: text('note'),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }).notNull().defaultNow(),
    readAt: timestamp('read_at', { withTimezone: true }),
    acceptedAt: timestamp('accepted_at', { withTimezone: true }),
    doneAt: timestamp('done_at', { withTimezone: true }),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.taskId, t.brokerId] }), index('task_assignments_broker_idx').on(t.brokerId)],
);
