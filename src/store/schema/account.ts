import { sql } from 'drizzle-orm';
import { bigint, check, date, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { users } from './users.ts';

/**
 * One row per event a source system sent (trading, back office), keyed by the source's own event id:
 * the idempotency record. `body` is the event as received, so a re-sent id with a different body is
 * refused (QIAO_IDEMPOTENCY_MISMATCH) instead of answered with the first result. Written in the same
 * transaction as the account message it produced (src/account/account-events.ts).
 */
export const accountIngestEvents = pgTable(
  'account_ingest_events',
  {
    source: text('source').notNull(),
    eventId: text('event_id').notNull(),
    body: jsonb('body').notNull(),
    clientId: uuid('client_id').notNull().references(() => users.id),
    messageId: uuid('message_id').notNull(),
    channel: text('channel').notNull(),
    offset: bigint('offset', { mode: 'number' }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.source, t.eventId] })],
);

/**
 * Holdings: which client holds how many of which symbol. A daily snapshot replaces a client's rows;
 * fills adjust them during the day; a quantity of 0 deletes the row. `positions_symbol_idx` answers
 * "who holds X" (corporate-action delivery and reminders) without a scan.
 */
export const positions = pgTable(
  'positions',
  {
    clientId: uuid('client_id').notNull().references(() => users.id),
    symbol: text('symbol').notNull(),
    qty: bigint('qty', { mode: 'number' }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.clientId, t.symbol] }), index('positions_symbol_idx').on(t.symbol), check('positions_qty_positive', sql`${t.qty} > 0`)],
);

/** A corporate action (配股, 新股申购/上市, 权证行权, 分红送转, 停复牌) as the back office sent it, with its key dates. */
export const corporateActions = pgTable(
  'corporate_actions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    source: text('source').notNull(),
    eventId: text('event_id').notNull(),
    type: text('type').notNull(),
    symbol: text('symbol').notNull(),
    title: text('title').notNull(),
    /** Key dates by name (YYYY-MM-DD, Shanghai calendar), e.g. { recordDate, subscriptionStart, subscriptionEnd }. */
    dates: jsonb('dates').notNull(),
    /** The request as received (idempotency comparison). */
    body: jsonb('body').notNull(),
    /** How many users were notified at ingest (holders and watchers). */
    notified: integer('notified').notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('corporate_actions_source_event_uq').on(t.source, t.eventId), index('corporate_actions_symbol_idx').on(t.symbol)],
);

/**
 * Reminders of a corporate action's deadline (e.g. T-2 and T-1 trading days before the last day to
 * subscribe). One row per action and step; a sweep on any node claims a due row (lease), notifies the
 * holders of that moment, then marks it fired: once across nodes, and a client who sold in between
 * is not reminded.
 */
export const corporateActionReminders = pgTable(
  'corporate_action_reminders',
  {
    actionId: uuid('action_id').notNull().references(() => corporateActions.id),
    step: text('step').notNull(),
    /** The deadline date the reminder is about (YYYY-MM-DD). */
    deadline: date('deadline').notNull(),
    dueAt: timestamp('due_at', { withTimezone: true }).notNull(),
    claimedUntil: timestamp('claimed_until', { withTimezone: true }),
    firedAt: timestamp('fired_at', { withTimezone: true }),
    sent: integer('sent').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.actionId, t.step] }), index('corporate_action_reminders_due_idx').on(t.dueAt).where(sql`${t.firedAt} is null`)],
);

/** How far a broker has looked at a client's account events (badge = channel's last offset − seen). */
export const accountEventReads = pgTable(
  'account_event_reads',
  {
    userId: uuid('user_id').notNull().references(() => users.id),
    clientId: uuid('client_id').notNull().references(() => users.id),
    seenOffset: bigint('seen_offset', { mode: 'number' }).notNull().default(0),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.clientId] })],
);
