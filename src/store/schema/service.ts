/**
 * Broker service (issue 11): first-response episodes, work reminders, follow-ups (客户回访),
 * satisfaction surveys (满意度调查) and complaints (投诉). Every figure of the service-quality
 * dashboards is computed from these rows and the conversation, recommendation and task tables; none
 * is stored twice.
 */
import { sql } from 'drizzle-orm';
import { boolean, date, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { branches, firms, teams } from './org.ts';
import { conversations } from './conversations.ts';
import { tasks } from './advisory.ts';
import { users } from './users.ts';

/**
 * One answered wait of a broker–client conversation: the client's oldest unanswered chat
 * (`conversations.waiting_since`) until the first chat from the broker side. Written in the publish
 * transaction of that reply (ConversationsRepo.recordMessage), so it is the message log read once, not
 * a second source: it can be rebuilt from `messages`. Team and branch are the broker's at answer time
 * (a transfer later does not move history between teams). Seconds are counted in all hours and in
 * trading hours (src/domain/trading-sessions.ts).
 */
export const responseEpisodes = pgTable(
  'response_episodes',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    conversationId: uuid('conversation_id').notNull().references(() => conversations.id),
    brokerId: uuid('broker_id').notNull().references(() => users.id),
    clientId: uuid('client_id').notNull().references(() => users.id),
    answeredBy: uuid('answered_by').notNull().references(() => users.id),
    teamId: uuid('team_id').references(() => teams.id),
    branchId: uuid('branch_id').references(() => branches.id),
    waitingSince: timestamp('waiting_since', { withTimezone: true }).notNull(),
    answeredAt: timestamp('answered_at', { withTimezone: true }).notNull(),
    allSeconds: integer('all_seconds').notNull(),
    tradingSeconds: integer('trading_seconds').notNull(),
  },
  (t) => [
    index('response_episodes_broker_idx').on(t.brokerId, t.answeredAt),
    index('response_episodes_team_idx').on(t.teamId, t.answeredAt),
    index('response_episodes_branch_idx').on(t.branchId, t.answeredAt),
  ],
);

/**
 * The response episodes of one broker, counted per Shanghai day (`grain` day) and per month (`grain`
 * month, `day` = the 1st) into the fixed bins of src/domain/response-bins.ts, in trading hours and in all
 * hours: what the dashboards read p50 / p90 and answered counts from (a firm's year is millions of
 * episodes; these are 2,000 × 12 month rows). Kept in the same statement that inserts the episode
 * (ConversationsRepo.recordMessage), so it always equals a recount of `response_episodes`
 * (`rebuildResponseRollups` in src/service/quality-rollups.ts recomputes it from them).
 */
export const responseRollups = pgTable(
  'response_rollups',
  {
    grain: text('grain', { enum: ['day', 'month'] }).notNull(),
    day: date('day').notNull(),
    brokerId: uuid('broker_id').notNull().references(() => users.id),
    answered: integer('answered').notNull(),
    /** Episodes per bin of their trading-hours seconds (index = bin + 1). */
    tradingHist: integer('trading_hist').array().notNull(),
    /** Episodes per bin of their all-hours seconds. */
    allHist: integer('all_hist').array().notNull(),
  },
  (t) => [primaryKey({ columns: [t.grain, t.brokerId, t.day] }), index('response_rollups_day_idx').on(t.grain, t.day)],
);

/**
 * A work reminder (工作提醒) of one staff member. `manual`: set by its owner; the others are made by
 * the reminder sweep, and `dedupKey` (unique) makes each happen once across nodes and restarts.
 * pending → fired (published to the owner's inbox, with `messageId`) → done / dismissed; snooze moves
 * a reminder back to pending with a later `dueAt`.
 */
export const reminders = pgTable(
  'reminders',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    ownerId: uuid('owner_id').notNull().references(() => users.id),
    kind: text('kind', {
      enum: ['manual', 'risk_expiry', 'risk_expiry_today', 'client_waiting', 'task_due', 'followup_due', 'followup_overdue', 'complaint_overdue'],
    }).notNull(),
    title: text('title').notNull(),
    note: text('note').notNull().default(''),
    clientId: uuid('client_id').references(() => users.id),
    conversationId: uuid('conversation_id').references(() => conversations.id),
    taskId: uuid('task_id').references(() => tasks.id),
    followupId: uuid('followup_id'),
    complaintId: uuid('complaint_id'),
    dueAt: timestamp('due_at', { withTimezone: true }).notNull(),
    state: text('state', { enum: ['pending', 'fired', 'done', 'dismissed'] }).notNull().default('pending'),
    snoozeCount: integer('snooze_count').notNull().default(0),
    firedAt: timestamp('fired_at', { withTimezone: true }),
    doneAt: timestamp('done_at', { withTimezone: true }),
    messageId: uuid('message_id'),
    dedupKey: text('dedup_key'),
    idempotencyKey: text('idempotency_key'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('reminders_dedup_uq').on(t.dedupKey),
    uniqueIndex('reminders_idempotency_uq').on(t.ownerId, t.idempotencyKey),
    index('reminders_due_idx').on(t.dueAt).where(sql`${t.state} = 'pending'`),
    index('reminders_owner_idx').on(t.ownerId, t.state, t.dueAt),
  ],
);

/**
 * Follow-up rules (回访规则) of a firm. Built-in rules carry the regulator's floor and can be tuned
 * but not deleted: `new_account` (every new account within `withinDays` of opening),
 * `annual_sample` (at least `percent`% of existing clients each calendar year), `periodic` (every
 * client of `tier` once every `everyDays`). `independent`: done by staff other than the client's broker.
 */
export const followupRules = pgTable('followup_rules', {
  id: uuid('id').primaryKey().defaultRandom(),
  firmId: uuid('firm_id').notNull().references(() => firms.id),
  code: text('code').notNull(),
  kind: text('kind', { enum: ['new_account', 'annual_sample', 'periodic'] }).notNull(),
  params: jsonb('params').notNull().default({}),
  independent: boolean('independent').notNull().default(true),
  active: boolean('active').notNull().default(true),
  builtin: boolean('builtin').notNull().default(false),
  updatedBy: uuid('updated_by').references(() => users.id),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * One follow-up (客户回访) of a client: scheduled by a rule (`dedupKey` = rule + client + period, so
 * a sweep on several nodes makes it once) or by a manager. open → done (outcome, notes, the content
 * checklist) or cancelled; overdue is derived (due passed, not done) and escalates once to the
 * broker's manager (`escalatedAt`).
 */
export const followups = pgTable(
  'followups',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    firmId: uuid('firm_id').notNull().references(() => firms.id),
    clientId: uuid('client_id').notNull().references(() => users.id),
    /** The client's primary broker when scheduled (whose service is followed up). */
    brokerId: uuid('broker_id').references(() => users.id),
    branchId: uuid('branch_id').references(() => branches.id),
    teamId: uuid('team_id').references(() => teams.id),
    assigneeId: uuid('assignee_id').references(() => users.id),
    ruleId: uuid('rule_id').references(() => followupRules.id),
    /** Must be done by staff other than the client's broker (the rule's setting when scheduled; manual: assigned to someone else). */
    independent: boolean('independent').notNull().default(false),
    scheduledBy: uuid('scheduled_by').references(() => users.id),
    reason: text('reason').notNull().default(''),
    dueAt: timestamp('due_at', { withTimezone: true }).notNull(),
    state: text('state', { enum: ['open', 'done', 'cancelled'] }).notNull().default('open'),
    outcome: text('outcome', { enum: ['reached', 'unreachable', 'declined'] }),
    notes: text('notes'),
    checklist: jsonb('checklist'),
    doneBy: uuid('done_by').references(() => users.id),
    doneAt: timestamp('done_at', { withTimezone: true }),
    escalatedAt: timestamp('escalated_at', { withTimezone: true }),
    dedupKey: text('dedup_key'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('followups_dedup_uq').on(t.dedupKey),
    index('followups_broker_idx').on(t.brokerId, t.dueAt),
    index('followups_branch_idx').on(t.branchId, t.dueAt),
    index('followups_assignee_idx').on(t.assigneeId, t.state, t.dueAt),
    index('followups_client_idx').on(t.clientId, t.createdAt),
    index('followups_open_due_idx').on(t.dueAt).where(sql`${t.state} = 'open'`),
  ],
);

/**
 * A satisfaction survey (满意度调查) sent to a client about one conversation, after it went quiet or
 * the broker marked it resolved. Answered once, by that client (1–5 and a comment).
 */
export const surveys = pgTable(
  'surveys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    conversationId: uuid('conversation_id').notNull().references(() => conversations.id),
    clientId: uuid('client_id').notNull().references(() => users.id),
    brokerId: uuid('broker_id').notNull().references(() => users.id),
    teamId: uuid('team_id').references(() => teams.id),
    branchId: uuid('branch_id').references(() => branches.id),
    trigger: text('trigger', { enum: ['quiet', 'resolved'] }).notNull(),
    /** The conversation offset the survey is about: one survey per conversation and offset. */
    atOffset: integer('at_offset').notNull(),
    sentAt: timestamp('sent_at', { withTimezone: true }).notNull().defaultNow(),
    messageId: uuid('message_id'),
    score: integer('score'),
    comment: text('comment'),
    answeredAt: timestamp('answered_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('surveys_conversation_offset_uq').on(t.conversationId, t.atOffset),
    index('surveys_broker_idx').on(t.brokerId, t.answeredAt),
    index('surveys_client_idx').on(t.clientId, t.sentAt),
  ],
);

/**
 * A client's complaint (投诉). Routed to the branch's service staff; compliance sees all; the broker
 * it is about sees it only when a manager assigns it to them. open → acknowledged → resolved /
 * rejected (with a reply the client sees). Deadlines are fixed at filing from the firm's settings;
 * overdue complaints escalate to the branch head and compliance (`escalationLevel`). Every step is a
 * `complaint_events` row and an archive record.
 */
export const complaints = pgTable(
  'complaints',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    firmId: uuid('firm_id').notNull().references(() => firms.id),
    branchId: uuid('branch_id').references(() => branches.id),
    clientId: uuid('client_id').notNull().references(() => users.id),
    /** The broker the complaint is about (the conversation's broker, else the client's primary broker). */
    brokerId: uuid('broker_id').references(() => users.id),
    conversationId: uuid('conversation_id').references(() => conversations.id),
    category: text('category', { enum: ['service', 'advice', 'trading', 'fees', 'system', 'privacy', 'other'] }).notNull(),
    text: text('text').notNull(),
    status: text('status', { enum: ['open', 'acknowledged', 'resolved', 'rejected'] }).notNull().default('open'),
    assigneeId: uuid('assignee_id').references(() => users.id),
    ackDueAt: timestamp('ack_due_at', { withTimezone: true }).notNull(),
    resolveDueAt: timestamp('resolve_due_at', { withTimezone: true }).notNull(),
    acknowledgedAt: timestamp('acknowledged_at', { withTimezone: true }),
    closedAt: timestamp('closed_at', { withTimezone: true }),
    reply: text('reply'),
    escalationLevel: integer('escalation_level').notNull().default(0),
    escalatedAt: timestamp('escalated_at', { withTimezone: true }),
    idempotencyKey: text('idempotency_key'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('complaints_idempotency_uq').on(t.clientId, t.idempotencyKey),
    index('complaints_branch_idx').on(t.branchId, t.createdAt),
    index('complaints_broker_idx').on(t.brokerId, t.createdAt),
    index('complaints_client_idx').on(t.clientId, t.createdAt),
    index('complaints_open_idx').on(t.status, t.ackDueAt).where(sql`${t.status} in ('open', 'acknowledged')`),
  ],
);

/** Every step of a complaint, in order (filed, assigned, acknowledged, note, escalated, resolved, rejected). */
export const complaintEvents = pgTable(
  'complaint_events',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    complaintId: uuid('complaint_id').notNull().references(() => complaints.id),
    actorId: uuid('actor_id').references(() => users.id),
    action: text('action', { enum: ['filed', 'assigned', 'acknowledged', 'note', 'escalated', 'resolved', 'rejected'] }).notNull(),
    note: text('note'),
    /** Visible to the client (the filing, the acknowledgement and the final reply). */
    clientVisible: boolean('client_visible').notNull().default(false),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('complaint_events_complaint_idx').on(t.complaintId, t.at)],
);
