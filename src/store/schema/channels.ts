import { sql } from 'drizzle-orm';
import { bigint, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { users } from './users.ts';

/**
 * A channel that has been used (published to or subscribed). `lastOffset` is the per-channel
 * offset counter: publishing locks this row, so offsets are gap-free and strictly increasing.
 */
export const channels = pgTable('channels', {
  name: text('name').primaryKey(),
  family: text('family').notNull(),
  lastOffset: bigint('last_offset', { mode: 'number' }).notNull().default(0),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** What a user chose to receive, with per-subscription delivery preferences. */
export const subscriptions = pgTable(
  'subscriptions',
  {
    userId: uuid('user_id').notNull().references(() => users.id),
    channel: text('channel').notNull(),
    prefs: jsonb('prefs').notNull().default({}),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  // (channel, user_id): a fanout pages through a channel's subscribers in user-id order straight off
  // this index, without sorting every subscriber of the channel for each page.
  (t) => [primaryKey({ columns: [t.userId, t.channel] }), index('subscriptions_channel_user_idx').on(t.channel, t.userId)],
);

/**
 * Append-only message log. (channel, offset) is unique; the application never updates or deletes rows
 * (retention purges are a later, audited job).
 */
export const messages = pgTable(
  'messages',
  {
    id: uuid('id').primaryKey(),
    channel: text('channel').notNull(),
    offset: bigint('offset', { mode: 'number' }).notNull(),
    kind: text('kind').notNull(),
    senderId: text('sender_id').notNull(),
    payload: jsonb('payload').notNull(),
    sizeBytes: integer('size_bytes').notNull(),
    idempotencyKey: text('idempotency_key'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('messages_channel_offset_uq').on(t.channel, t.offset),
    index('messages_created_idx').on(t.createdAt),
    uniqueIndex('messages_idempotency_uq').on(t.senderId, t.idempotencyKey),
    // Edits and recalls by the message they reference (`payload.ref`): "is it recalled", "its latest
    // edit" and the unread counters look a message's amendments up here instead of scanning the
    // conversation. Partial: only these (few) rows are indexed.
    // The research desk's notes, newest first (GET /api/research/notes): research is a small share of
    // the log, so this partial index stays small while chat grows.
    index('messages_research_idx')
      .on(t.createdAt)
      .where(sql`${t.channel} like 'research.%'`),
    index('messages_ref_idx')
      .on(t.channel, sql`(${t.payload}->>'ref')`, t.offset)
      .where(sql`${t.kind} in ('chat.edit', 'chat.recall')`),
  ],
);

/**
 * The relay outbox: one row per committed publication not yet handed to the bus and the fanout queue.
 * Inserted in the publication's own transaction (so a commit always leaves its relay work behind) and
 * deleted once the bus and the queue have it. Rows older than a few seconds belong to a relay that
 * failed or a node that died; every node's sweeper relays them (src/hub/relay.ts). Near-empty in
 * steady state.
 */
export const publishOutbox = pgTable(
  'publish_outbox',
  {
    channel: text('channel').notNull(),
    offset: bigint('offset', { mode: 'number' }).notNull(),
    messageId: uuid('message_id').notNull(),
    family: text('family').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.channel, t.offset] }), index('publish_outbox_created_idx').on(t.createdAt)],
);
