/**
 * Corporate actions (配股, 新股申购/上市, 权证行权, 分红送转, 停复牌) from the back office: stored with
 * their key dates and reminder schedule in one transaction, then each holder of the symbol (positions)
 * and each watcher (a subscription to `alerts.<symbol>`) gets a notice of their own — clients on
 * `account.<id>`, staff watchers in their inbox — each published (stored before seen) under a key of
 * the action and the user, so a re-sent action finishes an interrupted delivery and sends nothing twice.
 *
 * Reminders (T-2 and T-1 trading days before the deadline that matters) are fired by a periodic sweep
 * on every node: a node claims a due reminder with a lease (FOR UPDATE SKIP LOCKED + conditional
 * update), notifies whoever holds the symbol at that moment (a client who sold is not reminded), and
 * marks it fired. Publication keys make a re-run after a crash harmless: once across nodes.
 */
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import { z } from 'zod';
import { CORPORATE_ACTION_TYPES } from '../../channels/account-payloads.ts';
import { accountChannel } from '../../channels/account.ts';
import { SYMBOL_RE } from '../../channels/family.ts';
import type { Principal } from '../auth/principal.ts';
import { sameJson } from '../domain/idempotency.ts';
import type { SecuritiesDirectory } from '../domain/securities.ts';
import type { Holidays } from '../domain/trading-sessions.ts';
import { QiaoError } from '../errors/codes.ts';
import type { Publisher } from '../hub/publisher.ts';
import { rows, type Db } from '../store/db.ts';
import { brokerClients, corporateActionReminders, corporateActions, positions, subscriptions, teams, users } from '../store/schema/index.ts';
import type { ServiceSweep } from '../service/sweeps.ts';
import { ACTION_RULES, DATE_NAMES_ZH, checkActionDates, reminderSchedule, type ActionType } from './action-dates.ts';
import { securityLabel } from './event-texts.ts';
import { sourcePrincipal } from './account-events.ts';
import type { PositionsRepo } from './positions.ts';

export const CorporateActionInput = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, '1–64 of A–Z a–z 0–9 . _ : -'),
    type: z.enum(CORPORATE_ACTION_TYPES),
    symbol: z.string().regex(SYMBOL_RE, 'must be an A-share code like 600519.SH'),
    name: z.string().min(1).max(64).optional(),
    title: z.string().min(1).max(200).optional(),
    body: z.string().max(4000).optional(),
    dates: z.record(z.string(), z.string()),
  })
  .strict();
export type CorporateActionIn = z.infer<typeof CorporateActionInput>;

export interface CorporateActionView {
  id: string;
  source: string;
  eventId: string;
  type: ActionType;
  symbol: string;
  title: string;
  dates: Record<string, string>;
  notified: number;
  createdAt: string;
}

const REMINDER_SENDER: Principal = { id: 'system:corporate-actions', role: 'feed', displayName: 'Corporate-action reminders' };
const PAGE = 500;
const PUBLISH_CONCURRENCY = 16;
/** How long a node's claim on a due reminder lasts before another node may take it over. */
const LEASE_MS = 5 * 60_000;

export interface CorporateActionsDeps {
  db: Db;
  publisher: Publisher;
  positions: PositionsRepo;
  securities: SecuritiesDirectory;
  holidays: Holidays;
  now?: () => Date;
}

async function eachLimited<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (i < items.length) await fn(items[i++]);
  }));
}

function datesText(dates: Record<string, string>, type: ActionType): string {
  return ACTION_RULES[type].order.filter((k) => dates[k]).map((k) => `${DATE_NAMES_ZH[k] ?? k}：${dates[k]}`).join('；');
}

export class CorporateActionsService {
  constructor(private readonly d: CorporateActionsDeps) {}

  private toView(r: typeof corporateActions.$inferSelect): CorporateActionView {
    return { id: r.id, source: r.source, eventId: r.eventId, type: r.type as ActionType, symbol: r.symbol, title: r.title, dates: r.dates as Record<string, string>, notified: r.notified, createdAt: r.createdAt.toISOString() };
  }

  async get(id: string): Promise<CorporateActionView | null> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
    const [r] = await this.d.db.select().from(corporateActions).where(eq(corporateActions.id, id)).limit(1);
    return r ? this.toView(r) : null;
  }

  /** Stores the action (or finds the earlier one with this id) and notifies holders and watchers. */
  async ingest(source: string, raw: unknown): Promise<{ action: CorporateActionView; duplicate: boolean }> {
    const parsed = CorporateActionInput.safeParse(raw);
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new QiaoError('QIAO_BAD_REQUEST', `${i.path.join('.') || 'action'}: ${i.message}`);
    }
    const a = parsed.data;
    const body = JSON.parse(JSON.stringify(raw));
    const [prior] = await this.d.db.select().from(corporateActions).where(and(eq(corporateActions.source, source), eq(corporateActions.eventId, a.id))).limit(1);
    if (prior) {
      if (!sameJson(prior.body, body)) throw new QiaoError('QIAO_IDEMPOTENCY_MISMATCH', `Corporate action id ${a.id} of source ${source} was already used for a different action`);
      // A retry finishes a delivery an earlier attempt may have left half done (keys dedupe the rest).
      await this.notify(this.toView(prior));
      return { action: this.toView((await this.d.db.select().from(corporateActions).where(eq(corporateActions.id, prior.id)))[0]), duplicate: true };
    }
    checkActionDates(a.type, a.dates);
    if (!this.d.securities.get(a.symbol)) throw new QiaoError('QIAO_SECURITY_NOT_FOUND', `${a.symbol} is not in the securities directory`);
    const label = ACTION_RULES[a.type].label.zh;
    const title = a.title ?? `${label}：${a.name ? `${a.name} ${a.symbol}` : securityLabel(this.d.securities, a.symbol)}`;
    const now = this.d.now?.() ?? new Date();
    const schedule = reminderSchedule(a.type, a.dates, now, this.d.holidays);
    const row = await this.d.db.transaction(async (tx) => {
      const [r] = await tx
        .insert(corporateActions)
        .values({ source, eventId: a.id, type: a.type, symbol: a.symbol, title, dates: a.dates, body })
        .onConflictDoNothing()
        .returning();
      if (!r) return null;
      if (schedule.length) await tx.insert(corporateActionReminders).values(schedule.map((s) => ({ actionId: r.id, step: s.step, deadline: s.deadline, dueAt: s.dueAt })));
      return r;
    });
    // Lost a race with the same id: answer as the retry it is.
    if (!row) return this.ingest(source, raw);
    const view = this.toView(row);
    await this.notify(view, a.body, a.name);
    const [after] = await this.d.db.select().from(corporateActions).where(eq(corporateActions.id, row.id));
    return { action: this.toView(after), duplicate: false };
  }

  /** Holders (clients) and watchers of the symbol, each once: clients on account.<id>, staff in their inbox. */
  private async notify(a: CorporateActionView, body?: string, name?: string): Promise<void> {
    const sender = sourcePrincipal(a.source);
    const text = `${body ? body + '\n' : ''}${datesText(a.dates, a.type)}`;
    let sent = 0;
    const publishTo = async (userId: string, role: string, reason: 'holder' | 'watcher') => {
      const key = `ca:${a.id}:${userId}`;
      if (role === 'client') {
        await this.d.publisher.publish(
          sender,
          {
            channel: accountChannel(userId),
            kind: 'corporate-action',
            payload: { actionId: a.id, type: a.type, symbol: a.symbol, ...(name ? { name } : {}), dates: a.dates, reason, title: a.title, body: text, severity: 'warning' },
            idempotencyKey: key,
          },
          { trusted: true },
        );
      } else {
        await this.d.publisher.publish(sender, { channel: `inbox.${userId}`, kind: 'notice', payload: { title: a.title, body: text, severity: 'info', topic: 'general' }, idempotencyKey: key }, { trusted: true });
      }
      sent++;
    };
    const holders = new Set<string>();
    for (let after: string | undefined; ; ) {
      const page = await this.d.positions.holders(a.symbol, { after, limit: PAGE });
      if (!page.length) break;
      after = page[page.length - 1];
      for (const id of page) holders.add(id);
      await eachLimited(page, PUBLISH_CONCURRENCY, (id) => publishTo(id, 'client', 'holder'));
      if (page.length < PAGE) break;
    }
    const watchers = await this.d.db
      .select({ id: users.id, role: users.role })
      .from(subscriptions)
      .innerJoin(users, eq(users.id, subscriptions.userId))
      .where(and(eq(subscriptions.channel, `alerts.${a.symbol}`), eq(users.active, true)));
    await eachLimited(
      watchers.filter((w) => !holders.has(w.id)),
      PUBLISH_CONCURRENCY,
      (w) => publishTo(w.id, w.role, 'watcher'),
    );
    await this.d.db.update(corporateActions).set({ notified: sent }).where(eq(corporateActions.id, a.id));
  }

  /** Fires the reminders due at `now` (see the file comment); returns how many reminders were fired. */
  async fireDue(now: Date): Promise<number> {
    const claimed = await rows<{ action_id: string; step: string; deadline: string }>(
      this.d.db,
      sql`update ${corporateActionReminders} r set claimed_until = ${new Date(now.getTime() + LEASE_MS).toISOString()}::timestamptz
          from (select action_id, step from ${corporateActionReminders}
                where fired_at is null and due_at <= ${now.toISOString()}::timestamptz
                  and (claimed_until is null or claimed_until < ${now.toISOString()}::timestamptz)
                order by due_at limit 20 for update skip locked) due
          where r.action_id = due.action_id and r.step = due.step
          returning r.action_id, r.step, r.deadline::text as deadline`,
    );
    let fired = 0;
    for (const c of claimed) {
      const a = await this.get(c.action_id);
      if (!a) continue;
      const deadlineName = ACTION_RULES[a.type].deadline ?? 'deadline';
      const title = `${c.step === 'T-1' ? '明日截止' : '即将截止'}：${a.title}，${DATE_NAMES_ZH[deadlineName] ?? deadlineName} ${c.deadline}`;
      let sent = 0;
      // Holders now, at fire time: whoever sold since the notice is not in positions any more.
      for (let after: string | undefined; ; ) {
        const page = await this.d.positions.holders(a.symbol, { after, limit: PAGE });
        if (!page.length) break;
        after = page[page.length - 1];
        await eachLimited(page, PUBLISH_CONCURRENCY, async (userId) => {
          const { duplicate } = await this.d.publisher.publish(
            REMINDER_SENDER,
            {
              channel: accountChannel(userId),
              kind: 'corporate-action-reminder',
              payload: { actionId: a.id, type: a.type, symbol: a.symbol, step: c.step, deadline: c.deadline, deadlineName, title, body: datesText(a.dates, a.type), severity: 'warning' },
              idempotencyKey: `car:${a.id}:${c.step}:${userId}`,
            },
            { trusted: true },
          );
          if (!duplicate) sent++;
        });
        if (page.length < PAGE) break;
      }
      const done = await this.d.db
        .update(corporateActionReminders)
        .set({ firedAt: now, sent })
        .where(and(eq(corporateActionReminders.actionId, c.action_id), eq(corporateActionReminders.step, c.step), sql`${corporateActionReminders.firedAt} is null`))
        .returning({ step: corporateActionReminders.step });
      fired += done.length;
    }
    return fired;
  }

  /** The sweep the node's runner calls. */
  sweep(): ServiceSweep {
    return { name: 'corporate-action-reminders', run: (now) => this.fireDue(now) };
  }

  /**
   * Clients affected by an action (holding its symbol now) that the viewer may see, with what they
   * hold: a broker its own clients (any broker_clients relation), a manager the clients whose primary
   * broker is in their team, compliance everyone; anyone else QIAO_FORBIDDEN.
   */
  async affectedClients(p: Principal, actionId: string): Promise<{ action: CorporateActionView; clients: Array<{ id: string; displayName: string; accountNo: string | null; qty: number }> }> {
    if (p.role !== 'broker' && p.role !== 'manager' && p.role !== 'compliance') throw new QiaoError('QIAO_FORBIDDEN', 'Only brokers, managers and compliance see affected clients');
    const action = await this.get(actionId);
    if (!action) throw new QiaoError('QIAO_CORPORATE_ACTION_NOT_FOUND');
    const cols = { id: users.id, displayName: users.displayName, accountNo: users.accountNo, qty: positions.qty };
    const held = and(eq(positions.symbol, action.symbol), eq(users.active, true));
    let list;
    if (p.role === 'broker') {
      list = await this.d.db.select(cols).from(positions).innerJoin(users, eq(users.id, positions.clientId)).innerJoin(brokerClients, and(eq(brokerClients.clientId, positions.clientId), eq(brokerClients.brokerId, p.id))).where(held).orderBy(asc(users.displayName));
    } else if (p.role === 'manager') {
      const led = this.d.db.select({ id: teams.id }).from(teams).where(eq(teams.managerId, p.id));
      const brokers = this.d.db.select({ id: users.id }).from(users).where(inArray(users.teamId, led));
      list = await this.d.db
        .select(cols)
        .from(positions)
        .innerJoin(users, eq(users.id, positions.clientId))
        .innerJoin(brokerClients, and(eq(brokerClients.clientId, positions.clientId), eq(brokerClients.relation, 'primary'), inArray(brokerClients.brokerId, brokers)))
        .where(held)
        .orderBy(asc(users.displayName));
    } else {
      list = await this.d.db.select(cols).from(positions).innerJoin(users, eq(users.id, positions.clientId)).where(held).orderBy(asc(users.displayName));
    }
    return { action, clients: list.map((c) => ({ ...c, qty: Number(c.qty) })) };
  }
}
