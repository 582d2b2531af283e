import { bigserial, index, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/** Who did what, when: logins, subscription changes, publications, refusals. Append-only. */
export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    actorId: text('actor_id').notNull(),
    action: text('action').notNull(),
    target: text('target'),
    outcome: text('outcome', { enum: ['ok', 'refused', 'error'] }).notNull(),
    detail: jsonb('detail').notNull().default({}),
    ip: text('ip'),
  },
  (t) => [index('audit_actor_idx').on(t.actorId, t.at), index('audit_action_idx').on(t.action, t.at)],
);
