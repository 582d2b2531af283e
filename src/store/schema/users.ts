import { sql } from 'drizzle-orm';
import { boolean, check, date, index, integer, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { branches, firms, teams } from './org.ts';

/**
 * Every person who logs in. Client-only columns (tier, risk level, assessment date, professional flag)
 * are null for staff; a check constraint keeps that honest.
 */
export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    firmId: uuid('firm_id').notNull().references(() => firms.id),
    login: text('login').notNull().unique(),
    passwordHash: text('password_hash').notNull(),
    displayName: text('display_name').notNull(),
    email: text('email'),
    role: text('role', { enum: ['client', 'broker', 'manager', 'research', 'compliance', 'admin'] }).notNull(),
    branchId: uuid('branch_id').references(() => branches.id),
    teamId: uuid('team_id').references(() => teams.id),
    tier: text('tier', { enum: ['general', 'hnw', 'institutional'] }),
    riskLevel: text('risk_level', { enum: ['C1', 'C2', 'C3', 'C4', 'C5'] }),
    riskAssessedOn: date('risk_assessed_on'),
    /** When the risk assessment stops being valid; null: ASSESSMENT_VALID_DAYS after `riskAssessedOn`. */
    riskExpiresOn: date('risk_expires_on'),
    professionalInvestor: boolean('professional_investor').notNull().default(false),
    locale: text('locale').notNull().default('zh-CN'),
    timeZone: text('time_zone').notNull().default('Asia/Shanghai'),
    active: boolean('active').notNull().default(true),
    phone: text('phone'),
    /** The client's account number (资金账号) at the trading and back-office systems: how their events name the client. */
    accountNo: text('account_no').unique(),
    /** Staff of the branch's client service desk (客服): complaints and independent follow-ups go to them. */
    serviceDesk: boolean('service_desk').notNull().default(false),
    /**
     * Session version: every token carries it (`sv`); bumping it (logout, password change, disable,
     * sign-out everywhere, role/team change) makes every earlier token of the user invalid on every
     * node (docs/accounts.md).
     */
    sessionVersion: integer('session_version').notNull().default(1),
    passwordChangedAt: timestamp('password_changed_at', { withTimezone: true }),
    disabledAt: timestamp('disabled_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    check('users_client_fields', sql`(${t.role} = 'client') = (${t.tier} IS NOT NULL)`),
    index('users_team_idx').on(t.teamId),
    // The brokers of a branch or firm (service dashboards): a few thousand rows out of every client.
    index('users_brokers_idx').on(t.branchId, t.teamId).where(sql`${t.role} = 'broker'`),
  ],
);

/** Broker–client assignment: exactly one primary broker per client, optionally shared with others. */
export const brokerClients = pgTable(
  'broker_clients',
  {
    brokerId: uuid('broker_id').notNull().references(() => users.id),
    clientId: uuid('client_id').notNull().references(() => users.id),
    relation: text('relation', { enum: ['primary', 'shared_read', 'shared_full'] }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.brokerId, t.clientId] }),
    index('broker_clients_client_idx').on(t.clientId),
    // A broker's book (its primary clients), read index-only by the service dashboards.
    index('broker_clients_primary_idx').on(t.brokerId, t.clientId).where(sql`${t.relation} = 'primary'`),
    // At most one primary broker per client, whatever races between assignment changes.
    uniqueIndex('broker_clients_one_primary_uq').on(t.clientId).where(sql`${t.relation} = 'primary'`),
  ],
);
