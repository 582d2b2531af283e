import { pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/** The firm (one row in a normal deployment; the table allows several for tests and demos). */
export const firms = pgTable('firms', {
  id: uuid('id').primaryKey().defaultRandom(),
  code: text('code').notNull().unique(),
  name: text('name').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** 营业部 — a branch office. */
export const branches = pgTable('branches', {
  id: uuid('id').primaryKey().defaultRandom(),
  firmId: uuid('firm_id').notNull().references(() => firms.id),
  code: text('code').notNull().unique(),
  name: text('name').notNull(),
  /** 营业部负责人: sees the branch's service figures and receives its escalations (a manager). */
  headId: uuid('head_id'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  /** Closed branches keep their rows (history refers to them) but accept no teams or users. */
  closedAt: timestamp('closed_at', { withTimezone: true }),
});

/** A team of brokers inside a branch, led by a manager (users.team_id points here). */
export const teams = pgTable('teams', {
  id: uuid('id').primaryKey().defaultRandom(),
  branchId: uuid('branch_id').notNull().references(() => branches.id),
  code: text('code').notNull().unique(),
  name: text('name').notNull(),
  managerId: uuid('manager_id'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  /** Closed teams keep their rows but accept no members. */
  closedAt: timestamp('closed_at', { withTimezone: true }),
});
