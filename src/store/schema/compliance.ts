import { bigserial, boolean, index, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/**
 * The compliance archive: every message, recommendation, refusal, task and state change, appended and
 * chained by hash (hash = sha256(prev_hash ‖ canonical record)). Database triggers (migration
 * 0002_archive_guard) refuse every UPDATE, and every DELETE of a record under retention or legal hold,
 * whoever issues it.
 */
export const archiveRecords = pgTable(
  'archive_records',
  {
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    recordedAt: timestamp('recorded_at', { withTimezone: true }).notNull(),
    kind: text('kind').notNull(),
    actorId: text('actor_id').notNull(),
    /** People the record concerns (sender, recipients, client), for search by person. */
    subjects: text('subjects').array().notNull(),
    conversationId: uuid('conversation_id'),
    channel: text('channel'),
    retentionClass: text('retention_class').notNull(),
    retainUntil: timestamp('retain_until', { withTimezone: true }).notNull(),
    body: jsonb('body').notNull(),
    /** Searchable text of the body (keywords). */
    text: text('text').notNull().default(''),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
  },
  (t) => [
    index('archive_recorded_idx').on(t.recordedAt),
    index('archive_conversation_idx').on(t.conversationId, t.recordedAt),
    index('archive_subjects_idx').using('gin', t.subjects),
    // The purge run looks for records past their retention.
    index('archive_retain_idx').on(t.retainUntil),
  ],
);

/** A legal hold on a person or a conversation: their archive records cannot be purged while active. */
export const legalHolds = pgTable('legal_holds', {
  id: uuid('id').primaryKey().defaultRandom(),
  subjectId: text('subject_id'),
  conversationId: uuid('conversation_id'),
  reason: text('reason').notNull(),
  placedBy: text('placed_by').notNull(),
  placedAt: timestamp('placed_at', { withTimezone: true }).notNull().defaultNow(),
  releasedAt: timestamp('released_at', { withTimezone: true }),
});

/** DLP dictionary: a term (zh or en) and what to do when a message contains it. */
export const dlpTerms = pgTable('dlp_terms', {
  id: uuid('id').primaryKey().defaultRandom(),
  term: text('term').notNull().unique(),
  lang: text('lang', { enum: ['zh', 'en'] }).notNull(),
  action: text('action', { enum: ['block', 'warn', 'log'] }).notNull(),
  active: boolean('active').notNull().default(true),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  detail: jsonb('detail').notNull().default({}),
});
