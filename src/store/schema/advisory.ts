import { boolean, index, jsonb, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
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
    status: text('status', { enum: ['delivered', 'refused', 'pending_approval', 'rejected'] }).notNull(),
    refusalCode: text('refusal_code'),
    messageId: uuid('message_id'),
    decidedBy: uuid('decided_by').references(() => users.id),
    decidedAt: timestamp('decided_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('recommendations_client_idx').on(t.clientId, t.createdAt), index('recommendations_broker_idx').on(t.brokerId, t.createdAt), index('recommendations_status_idx').on(t.status)],
);

/** A firm-wide broadcast waiting for compliance approval (approver and time are kept). */
export const approvals = pgTable('approvals', {
  id: uuid('id').primaryKey().defaultRandom(),
  kind: text('kind', { enum: ['recommendation', 'broadcast'] }).notNull(),
  requestedBy: uuid('requested_by').notNull().references(() => users.id),
  payload: jsonb('payload').notNull(),
  status: text('status', { enum: ['pending', 'approved', 'rejected'] }).notNull().default('pending'),
  decidedBy: uuid('decided_by').references(() => users.id),
  decidedAt: timestamp('decided_at', { withTimezone: true }),
  note: text('note'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** A manager's task to brokers. */
export const tasks = pgTable('tasks', {
  id: uuid('id').primaryKey().defaultRandom(),
  managerId: uuid('manager_id').notNull().references(() => users.id),
  title: text('title').notNull(),
  detail: text('detail').notNull().default(''),
  dueAt: timestamp('due_at', { withTimezone: true }).notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

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
