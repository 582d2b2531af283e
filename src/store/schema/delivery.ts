import { sql } from 'drizzle-orm';
import { boolean, doublePrecision, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { users } from './users.ts';

/**
 * Delivery preferences per user and channel category (a channel family, or `*` for the default).
 * transports: { web, inbox, email, push } on/off; quiet hours in the user's time zone; digest mode.
 */
export const notificationPrefs = pgTable(
  'notification_prefs',
  {
    userId: uuid('user_id').notNull().references(() => users.id),
    category: text('category').notNull(),
    transports: jsonb('transports').notNull().default({}),
    quietStart: text('quiet_start'),
    quietEnd: text('quiet_end'),
    timeZone: text('time_zone').notNull().default('Asia/Shanghai'),
    digest: text('digest', { enum: ['immediate', 'hourly', 'daily'] }).notNull().default('immediate'),
    digestAt: text('digest_at'),
    muted: boolean('muted').notNull().default(false),
    tradingHoursOnly: boolean('trading_hours_only').notNull().default(false),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.category] })],
);

/**
 * One row per message × recipient × transport the recipient's preferences choose (a transport not
 * chosen gets no row; every other outcome, suppressions included, does). The unique key makes a
 * retried job find its row and never send twice.
 *
 * The fanout writes these by the hundred thousand (four per recipient), so each row is kept cheap:
 * its id is time-ordered (UUIDv7, made by the writer) so the primary key grows at its right edge, and
 * `user_id` carries no foreign key — like `message_id`, it is always taken from a row just read
 * (recipients, the sender), and users are deactivated, never deleted. The per-row key check cost more
 * than a third of the fanout's biggest write (bench/README.md, "Fanout to 100,000").
 */
export const deliveries = pgTable(
  'deliveries',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    messageId: uuid('message_id').notNull(),
    userId: uuid('user_id').notNull(),
    transport: text('transport', { enum: ['web', 'inbox', 'email', 'push', 'sms'] }).notNull(),
    status: text('status', { enum: ['queued', 'held', 'sending', 'sent', 'delivered', 'read', 'failed', 'suppressed'] }).notNull(),
    reason: text('reason'),
    attempts: integer('attempts').notNull().default(0),
    dueAt: timestamp('due_at', { withTimezone: true }),
    lastError: text('last_error'),
    /** The far end's ids for what was sent (SMSC message ids, one per SMS segment): receipts find the row by them. */
    providerIds: text('provider_ids').array(),
    /** When the far end accepted it (the SMS daily cap counts these per Asia/Shanghai day). */
    sentAt: timestamp('sent_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('deliveries_uq').on(t.messageId, t.userId, t.transport),
    index('deliveries_provider_ids_idx').using('gin', t.providerIds).where(sql`${t.providerIds} is not null`),
    // The SMS daily cap's index: rows that were or are being sent, not the fanout's suppressed ones.
    index('deliveries_sms_user_idx').on(t.userId, t.sentAt).where(sql`${t.transport} = 'sms' and ${t.status} <> 'suppressed'`),
    index('deliveries_held_idx').on(t.status, t.dueAt).where(sql`${t.status} = 'held'`),
    // Only rows with work left (account disable stops them, digests claim them): most rows a fanout
    // writes are born settled (suppressed, delivered), and skipping this index for them makes the
    // fanout's biggest write cheaper.
    index('deliveries_user_open_idx')
      .on(t.userId, t.createdAt)
      .where(sql`${t.status} in ('queued', 'held', 'sending', 'failed')`),
  ],
);

/** A browser's web-push subscription (per user and device). */
export const pushSubscriptions = pgTable(
  'push_subscriptions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id').notNull().references(() => users.id),
    endpoint: text('endpoint').notNull().unique(),
    p256dh: text('p256dh').notNull(),
    auth: text('auth').notNull(),
    userAgent: text('user_agent'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    lastSuccessAt: timestamp('last_success_at', { withTimezone: true }),
  },
  (t) => [index('push_subscriptions_user_idx').on(t.userId)],
);

/** In-app inbox items with read state; counts are kept on the server. */
export const inboxItems = pgTable(
  'inbox_items',
  {
    // No foreign key, for the reason given at `deliveries`: written by the fanout in bulk, from users just read.
    userId: uuid('user_id').notNull(),
    messageId: uuid('message_id').notNull(),
    channel: text('channel').notNull(),
    state: text('state', { enum: ['unread', 'read', 'archived'] }).notNull().default('unread'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.messageId] }), index('inbox_items_state_idx').on(t.userId, t.state)],
);

/** Price alert rules set by users. */
export const alertRules = pgTable(
  'alert_rules',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id').notNull().references(() => users.id),
    symbol: text('symbol').notNull(),
    direction: text('direction', { enum: ['above', 'below', 'move'] }).notNull(),
    /** Threshold of an above/below rule; reference (base) price of a move rule. */
    price: doublePrecision('price').notNull(),
    /** Move rules: fires at a move of this many percent from `price`, either way (0 < percent ≤ 50). */
    percent: doublePrecision('percent'),
    repeat: boolean('repeat').notNull().default(false),
    active: boolean('active').notNull().default(true),
    /**
     * Repeat rules: false after firing until the price has moved back across the threshold by the
     * hysteresis band (src/domain/alert-index.ts). The conditional UPDATE on this flag is what makes a
     * crossing fire once even when several hub nodes evaluate ticks.
     */
    armed: boolean('armed').notNull().default(true),
    lastFiredAt: timestamp('last_fired_at', { withTimezone: true }),
    /** Set while the owner has paused the rule (active = false); a fired one-shot rule has none. */
    pausedAt: timestamp('paused_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('alert_rules_symbol_idx').on(t.symbol).where(sql`${t.active}`), index('alert_rules_user_idx').on(t.userId)],
);

/** Small persistent settings (e.g. the VAPID key pair, generated once). */
export const settings = pgTable('settings', {
  key: text('key').primaryKey(),
  value: jsonb('value').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});
