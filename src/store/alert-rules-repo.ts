/**
 * Price-alert rules (table alert_rules). The state changes that matter for "fire once per crossing"
 * are conditional UPDATEs, so when several hub nodes evaluate ticks, exactly one of them wins each
 * transition (see src/domain/alert-engine.ts).
 */
import { and, asc, eq, gt, inArray, sql } from 'drizzle-orm';
import type { AlertRuleState, Direction } from '../domain/alert-index.ts';
import type { Db } from './db.ts';
import { alertRules } from './schema/index.ts';

export type AlertRuleRow = typeof alertRules.$inferSelect;

export interface NewAlertRule {
  userId: string;
  symbol: string;
  direction: Direction;
  /** Threshold; for a move rule its reference (base) price. */
  price: number;
  /** Move rules only. */
  percent?: number | null;
  repeat: boolean;
}

/** A rule as the REST API shows it. */
export interface AlertRuleView {
  id: string;
  symbol: string;
  direction: Direction;
  /** Threshold of an above/below rule; for a move rule, its reference price (= basePrice). */
  price: number;
  /** Move rules: percent and reference price; null for above/below rules. */
  percent: number | null;
  basePrice: number | null;
  repeat: boolean;
  active: boolean;
  armed: boolean;
  /** Set while paused by the owner (an inactive rule without it has fired, one-shot). */
  pausedAt: string | null;
  lastFiredAt: string | null;
  createdAt: string;
}

export function ruleView(r: AlertRuleRow): AlertRuleView {
  return {
    id: r.id,
    symbol: r.symbol,
    direction: r.direction,
    price: r.price,
    percent: r.direction === 'move' ? r.percent : null,
    basePrice: r.direction === 'move' ? r.price : null,
    repeat: r.repeat,
    active: r.active,
    armed: r.armed,
    pausedAt: r.pausedAt ? r.pausedAt.toISOString() : null,
    lastFiredAt: r.lastFiredAt ? r.lastFiredAt.toISOString() : null,
    createdAt: r.createdAt.toISOString(),
  };
}

export function ruleState(r: Pick<AlertRuleRow, 'id' | 'userId' | 'symbol' | 'direction' | 'price' | 'percent' | 'repeat' | 'armed'>): AlertRuleState {
  return { id: r.id, userId: r.userId, symbol: r.symbol, direction: r.direction, price: r.price, percent: r.percent, repeat: r.repeat, armed: r.armed };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class AlertRulesRepo {
  constructor(private readonly db: Db) {}

  /**
   * Inserts a rule unless the user already has `max` active rules. The count and the insert run in one
   * transaction holding a per-user advisory lock, so parallel requests cannot overshoot the limit.
   */
  async create(rule: NewAlertRule, max: number): Promise<AlertRuleRow | null> {
    return this.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${'alert_rules:' + rule.userId}))`);
      const [c] = await tx
        .select({ n: sql<number>`count(*)::int` })
        .from(alertRules)
        .where(and(eq(alertRules.userId, rule.userId), eq(alertRules.active, true)));
      if (Number(c?.n ?? 0) >= max) return null;
      const [row] = await tx.insert(alertRules).values(rule).returning();
      return row;
    });
  }

  /** A user's rules, active first, newest first. */
  async listByUser(userId: string): Promise<AlertRuleRow[]> {
    return this.db
      .select()
      .from(alertRules)
      .where(eq(alertRules.userId, userId))
      .orderBy(sql`${alertRules.active} desc`, sql`${alertRules.createdAt} desc`)
      .limit(1000);
  }

  /** Deletes one of the user's own rules; false when there is no such rule (or it is someone else's). */
  async delete(userId: string, id: string): Promise<boolean> {
    if (!UUID.test(id)) return false;
    const rows = await this.db
      .delete(alertRules)
      .where(and(eq(alertRules.id, id), eq(alertRules.userId, userId)))
      .returning({ id: alertRules.id });
    return rows.length > 0;
  }

  /**
   * Pauses (active = false) or resumes (active and armed again) one of the user's own rules. Resuming
   * counts against `max` active rules like a create, under the same per-user lock. Returns the row,
   * 'limit' when resuming would exceed `max`, or null when there is no such rule of the user's.
   * Setting the state a rule already has changes nothing (and returns it).
   */
  async setActive(userId: string, id: string, active: boolean, max: number): Promise<AlertRuleRow | 'limit' | null> {
    if (!UUID.test(id)) return null;
    return this.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${'alert_rules:' + userId}))`);
      const [cur] = await tx
        .select()
        .from(alertRules)
        .where(and(eq(alertRules.id, id), eq(alertRules.userId, userId)))
        .for('update');
      if (!cur) return null;
      if (cur.active === active) return cur;
      if (active) {
        const [c] = await tx
          .select({ n: sql<number>`count(*)::int` })
          .from(alertRules)
          .where(and(eq(alertRules.userId, userId), eq(alertRules.active, true)));
        if (Number(c?.n ?? 0) >= max) return 'limit';
      }
      const [row] = await tx
        .update(alertRules)
        .set(active ? { active: true, armed: true, pausedAt: null } : { active: false, pausedAt: new Date() })
        .where(eq(alertRules.id, id))
        .returning();
      return row;
    });
  }

  /** Every active rule, in pages by id (index load at start and periodic resync). */
  async *allActive(pageSize = 10_000): AsyncGenerator<AlertRuleState[]> {
    let after: string | undefined;
    for (;;) {
      const rows = await this.db
        .select({
          id: alertRules.id,
          userId: alertRules.userId,
          symbol: alertRules.symbol,
          direction: alertRules.direction,
          price: alertRules.price,
          percent: alertRules.percent,
          repeat: alertRules.repeat,
          armed: alertRules.armed,
        })
        .from(alertRules)
        .where(and(eq(alertRules.active, true), after ? gt(alertRules.id, after) : undefined))
        .orderBy(asc(alertRules.id))
        .limit(pageSize);
      if (!rows.length) return;
      yield rows.map(ruleState);
      if (rows.length < pageSize) return;
      after = rows[rows.length - 1].id;
    }
  }

  /**
   * Claims a firing. One-shot: active → inactive. Repeat: armed → disarmed. Returns the fired time,
   * or null when the rule is gone, inactive or already disarmed (another node fired it first).
   * `tx`: run in that transaction (the notification's publish), so claim and notification commit together.
   */
  async claimFire(id: string, repeat: boolean, at: Date, tx?: unknown): Promise<Date | null> {
    const [r] = await ((tx as Db | undefined) ?? this.db)
      .update(alertRules)
      .set(repeat ? { armed: false, lastFiredAt: at } : { active: false, armed: false, lastFiredAt: at })
      .where(and(eq(alertRules.id, id), eq(alertRules.active, true), eq(alertRules.armed, true)))
      .returning({ lastFiredAt: alertRules.lastFiredAt });
    return r ? (r.lastFiredAt ?? at) : null;
  }

  /** Re-arms repeat rules that are active and disarmed; returns the ids that changed. */
  async rearm(ids: string[]): Promise<string[]> {
    if (!ids.length) return [];
    const rows = await this.db
      .update(alertRules)
      .set({ armed: true })
      .where(and(inArray(alertRules.id, ids), eq(alertRules.active, true), eq(alertRules.armed, false)))
      .returning({ id: alertRules.id });
    return rows.map((r) => r.id);
  }

  /** Current state of a rule (after a lost claim), or undefined when it no longer exists. */
  async state(id: string): Promise<{ active: boolean; armed: boolean } | undefined> {
    const [r] = await this.db.select({ active: alertRules.active, armed: alertRules.armed }).from(alertRules).where(eq(alertRules.id, id)).limit(1);
    return r;
  }

  /** Bulk insert for benchmarks and tests (no limit check). */
  async insertMany(rules: NewAlertRule[]): Promise<void> {
    for (let i = 0; i < rules.length; i += 5000) await this.db.insert(alertRules).values(rules.slice(i, i + 5000));
  }
}
