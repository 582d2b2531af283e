import { bigint, index, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { users } from './users.ts';

/**
 * A user's TOTP second factor (docs/accounts.md#totp). `secret_enc` is the base32 secret encrypted with
 * AES-256-GCM (src/auth/totp.ts); `enabled_at` null while an enrolment waits for its first code.
 * `last_step` is the last accepted 30-second time step: a code is accepted only for a later step
 * (one atomic UPDATE), so a code cannot be used twice within its window.
 */
export const userTotp = pgTable('user_totp', {
  userId: uuid('user_id')
    .primaryKey()
    .references(() => users.id),
  secretEnc: text('secret_enc').notNull(),
  enabledAt: timestamp('enabled_at', { withTimezone: true }),
  lastStep: bigint('last_step', { mode: 'number' }),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** One-time recovery codes, stored as keyed hashes; a used code keeps its row with `used_at`. */
export const totpRecoveryCodes = pgTable(
  'totp_recovery_codes',
  {
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    codeHash: text('code_hash').notNull(),
    usedAt: timestamp('used_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.codeHash] }), index('totp_recovery_user_idx').on(t.userId)],
);
