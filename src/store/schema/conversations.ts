import { sql } from 'drizzle-orm';
import { bigint, boolean, index, integer, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { teams } from './org.ts';
import { users } from './users.ts';

/**
 * A conversation; its messages live on channel `conv.<id>`.
 * broker_client: one per (broker, client) pair; access follows the broker–client assignment, so a
 * transferred client's new broker reads the history and the old broker loses access at once.
 * broker_manager: one per (broker, manager) pair. group: a small group inside a team (members table).
 *
 * `waitingSince` (broker_client): time of the client's oldest chat message not yet followed by a chat
 * from the broker side (the workstation's first-response wait), kept by each chat message in its
 * publish transaction (ConversationsRepo.recordMessage). `waitingKnown` false: not computed yet (a
 * conversation from before the column); the first reader computes it once from the log.
 */
export const conversations = pgTable(
  'conversations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    type: text('type', { enum: ['broker_client', 'broker_manager', 'group'] }).notNull(),
    title: text('title'),
    brokerId: uuid('broker_id').references(() => users.id),
    clientId: uuid('client_id').references(() => users.id),
    managerId: uuid('manager_id').references(() => users.id),
    teamId: uuid('team_id').references(() => teams.id),
    createdBy: uuid('created_by').references(() => users.id),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    waitingSince: timestamp('waiting_since', { withTimezone: true }),
    waitingKnown: boolean('waiting_known').notNull().default(false),
    /** Last chat from the broker side (broker_client): the "contacted in the last 30 days" coverage. */
    lastStaffChatAt: timestamp('last_staff_chat_at', { withTimezone: true }),
    /** Last chat from anyone: a conversation quiet since then may get a satisfaction survey. */
    lastChatAt: timestamp('last_chat_at', { withTimezone: true }),
    /** The broker marked the conversation resolved (cleared by the client's next chat). */
    resolvedAt: timestamp('resolved_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('conversations_broker_client_uq').on(t.brokerId, t.clientId).where(sql`${t.type} = 'broker_client'`),
    uniqueIndex('conversations_broker_manager_uq').on(t.brokerId, t.managerId).where(sql`${t.type} = 'broker_manager'`),
    index('conversations_client_idx').on(t.clientId),
    // Service dashboards (src/service/quality.ts): each broker's waiting clients, and its clients contacted lately.
    index('conversations_waiting_idx').on(t.brokerId, t.waitingSince).where(sql`${t.type} = 'broker_client' and ${t.waitingSince} is not null`),
    index('conversations_staff_chat_idx').on(t.brokerId, t.clientId, t.lastStaffChatAt).where(sql`${t.type} = 'broker_client' and ${t.lastStaffChatAt} is not null`),
  ],
);

export const conversationMembers = pgTable(
  'conversation_members',
  {
    conversationId: uuid('conversation_id').notNull().references(() => conversations.id),
    userId: uuid('user_id').notNull().references(() => users.id),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.conversationId, t.userId] }), index('conversation_members_user_idx').on(t.userId)],
);

/**
 * Per user and conversation: how far they have received and read, and `unread`, the number of chat
 * messages from others after `readOffset` that are not recalled. `unread` is kept in the transaction
 * of every message and read (ConversationsRepo.recordMessage / advance), so it costs O(1) whatever the
 * length of the conversation; null means not computed yet (a row or conversation from before the
 * column, or a reset): the first reader computes it once from the log.
 */
export const conversationReads = pgTable(
  'conversation_reads',
  {
    conversationId: uuid('conversation_id').notNull().references(() => conversations.id),
    userId: uuid('user_id').notNull().references(() => users.id),
    deliveredOffset: bigint('delivered_offset', { mode: 'number' }).notNull().default(0),
    readOffset: bigint('read_offset', { mode: 'number' }).notNull().default(0),
    unread: integer('unread'),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.conversationId, t.userId] })],
);
