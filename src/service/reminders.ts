/**
 * Work reminders (工作提醒, issue 11; docs/service.md): a staff member's own reminders ("call 刘女士
 * tomorrow 10:00", optionally linked to one of their clients or a conversation they may write in) and
 * the automatic ones the reminder sweep makes (src/service/reminder-sweep.ts). Always the owner's own:
 * someone else's reminder answers QIAO_REMINDER_NOT_FOUND, like one that does not exist.
 *
 * States: pending → fired (the sweep published it to `inbox.<ownerId>`) → done / dismissed; snooze moves
 * a pending or fired reminder back to pending with a later due time (`snoozeCount` + 1, so its next
 * firing has a new publication key). Repeating the action a closed reminder was closed with (`done`
 * on a done one, `dismiss` on a dismissed one) answers 200 with `changed: false`, so a retried request
 * is harmless; any other change of a closed reminder is QIAO_REMINDER_CLOSED.
 *
 * Every change is a conditional UPDATE on the state read (another request or the sweep may have moved
 * it: re-read and decide again) committed with its archive record (retention `service-reminders`).
 */
import type { FastifyBaseLogger } from 'fastify';
import { and, asc, desc, eq, inArray, sql } from 'drizzle-orm';
import type { Principal } from '../auth/principal.ts';
import { assertSameRequest } from '../domain/idempotency.ts';
import { QiaoError } from '../errors/codes.ts';
import { DAY_MS, assertStorable, isUniqueViolation } from '../advisory/common.ts';
import type { ArchiveRepo } from '../store/archive-repo.ts';
import { isUuid, type ConversationsRepo } from '../store/conversations-repo.ts';
import type { Db } from '../store/db.ts';
import { archiveRecords, brokerClients, reminders, tasks, teams, users } from '../store/schema/index.ts';

export type ReminderRow = typeof reminders.$inferSelect;
export type ReminderKind = ReminderRow['kind'];
export type ReminderState = ReminderRow['state'];
export type ReminderFilter = 'open' | 'done' | 'all';

/** Latest due time accepted for a new or snoozed reminder. */
export const MAX_REMINDER_DAYS = 366;
/** Most reminders one list answers with. */
export const LIST_LIMIT = 200;
/** Roles that keep work reminders (clients and the feed do not). */
const STAFF = new Set(['broker', 'manager', 'research', 'compliance', 'admin']);

export interface CreateReminderRequest {
  title: string;
  note?: string;
  dueAt: string;
  clientId?: string;
  conversationId?: string;
  idempotencyKey?: string;
}

export interface ReminderView {
  id: string;
  kind: ReminderKind;
  title: string;
  note: string;
  dueAt: string;
  state: ReminderState;
  snoozeCount: number;
  firedAt: string | null;
  doneAt: string | null;
  createdAt: string;
  updatedAt: string;
  client: { id: string; displayName: string } | null;
  conversationId: string | null;
  task: { id: string; title: string } | null;
  followupId: string | null;
  complaintId: string | null;
  messageId: string | null;
  /** risk_expiry*: the day the client's risk assessment stops being valid. */
  expiresOn: string | null;
}

export interface ReminderCounts {
  pending: number;
  /** Fired and not yet done or dismissed: the navigation badge. */
  fired: number;
}

export interface RemindersDeps {
  db: Db;
  archive: ArchiveRepo;
  conversations: Pick<ConversationsRepo, 'access' | 'get'>;
  logger: FastifyBaseLogger;
}

const iso = (d: Date | null): string | null => d?.toISOString() ?? null;

/** risk_expiry*: the expiry date the sweep put in the reminder's dedup key (`<kind>:<clientId>:<YYYY-MM-DD>`). */
export function expiresOnOf(r: Pick<ReminderRow, 'kind' | 'dedupKey'>): string | null {
  if (r.kind !== 'risk_expiry' && r.kind !== 'risk_expiry_today') return null;
  const key = r.dedupKey ?? '';
  const date = key.slice(key.lastIndexOf(':') + 1);
  return /^\d{4}-\d{2}-\d{2}$/.test(date) ? date : null;
}

export function reminderView(r: ReminderRow, names: { client?: string | null; task?: string | null }): ReminderView {
  return {
    id: r.id,
    kind: r.kind,
    title: r.title,
    note: r.note,
    dueAt: r.dueAt.toISOString(),
    state: r.state,
    snoozeCount: r.snoozeCount,
    firedAt: iso(r.firedAt),
    doneAt: iso(r.doneAt),
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
    client: r.clientId ? { id: r.clientId, displayName: names.client ?? '' } : null,
    conversationId: r.conversationId,
    task: r.taskId ? { id: r.taskId, title: names.task ?? '' } : null,
    followupId: r.followupId,
    complaintId: r.complaintId,
    messageId: r.messageId,
    expiresOn: expiresOnOf(r),
  };
}

/** A due time a reminder may take: after `now`, at most MAX_REMINDER_DAYS ahead. */
export function assertDue(due: Date, now: Date): void {
  if (!Number.isFinite(due.getTime()) || due.getTime() <= now.getTime() || due.getTime() > now.getTime() + MAX_REMINDER_DAYS * DAY_MS) {
    throw new QiaoError('QIAO_REMINDER_IN_PAST');
  }
}

const lower = (id: string | undefined | null) => (id ? id.toLowerCase() : null);

export class RemindersService {
  constructor(private readonly d: RemindersDeps) {}

  async create(p: Principal, req: CreateReminderRequest, now = new Date()): Promise<{ reminder: ReminderView; duplicate: boolean }> {
    this.mustBeStaff(p);
    const note = req.note ?? '';
    assertStorable({ title: req.title, note });
    const due = new Date(req.dueAt);
    const asked = { title: req.title, note, dueAt: Number.isFinite(due.getTime()) ? due.toISOString() : req.dueAt, clientId: lower(req.clientId), conversationId: lower(req.conversationId) };
    if (req.idempotencyKey) {
      const prior = await this.byKey(p.id, req.idempotencyKey);
      // A retry is compared before the due time is checked again: "now" moved on since the first try.
      if (prior) return { reminder: await this.sameRequest(prior, asked), duplicate: true };
    }
    assertDue(due, now);
    await this.assertTargets(p, asked.clientId, asked.conversationId);
    try {
      const row = await this.d.db.transaction(async (tx) => {
        const [r] = await tx
          .insert(reminders)
          .values({
            ownerId: p.id,
            kind: 'manual',
            title: req.title,
            note,
            dueAt: due,
            clientId: asked.clientId,
            conversationId: asked.conversationId,
            idempotencyKey: req.idempotencyKey ?? null,
            createdAt: now,
            updatedAt: now,
          })
          .returning();
        await this.d.archive.append(
          {
            kind: 'reminder.created',
            actorId: p.id,
            subjects: [p.id, ...(r.clientId ? [r.clientId] : [])],
            conversationId: r.conversationId,
            retentionClass: 'service-reminders',
            body: { reminderId: r.id, ownerId: p.id, ...asked, at: now.toISOString() },
            text: [r.title, r.note].filter(Boolean).join('\n'),
            recordedAt: now,
          },
          tx,
        );
        return r;
      });
      return { reminder: await this.view(row), duplicate: false };
    } catch (e) {
      if (req.idempotencyKey && isUniqueViolation(e)) {
        // The same key raced us (a double click, a retry on another node) and won.
        const prior = await this.byKey(p.id, req.idempotencyKey);
        if (prior) return { reminder: await this.sameRequest(prior, asked), duplicate: true };
      }
      throw e;
    }
  }

  /** The owner's reminders: `open` (pending and fired, soonest first), `done` (done and dismissed, latest first) or `all`. */
  async list(p: Principal, filter: ReminderFilter): Promise<{ reminders: ReminderView[]; counts: ReminderCounts }> {
    this.mustBeStaff(p);
    const states: ReminderState[] = filter === 'open' ? ['pending', 'fired'] : filter === 'done' ? ['done', 'dismissed'] : ['pending', 'fired', 'done', 'dismissed'];
    const order = filter === 'done' ? [desc(reminders.updatedAt), reminders.id] : [asc(reminders.dueAt), reminders.id];
    const found = await this.d.db
      .select({ r: reminders, client: users.displayName, task: tasks.title })
      .from(reminders)
      .leftJoin(users, eq(users.id, reminders.clientId))
      .leftJoin(tasks, eq(tasks.id, reminders.taskId))
      .where(and(eq(reminders.ownerId, p.id), inArray(reminders.state, states)))
      .orderBy(...order)
      .limit(LIST_LIMIT);
    return { reminders: found.map(({ r, client, task }) => reminderView(r, { client, task })), counts: await this.counts(p.id) };
  }

  async counts(ownerId: string): Promise<ReminderCounts> {
    const got = await this.d.db
      .select({ state: reminders.state, n: sql<number>`count(*)::int` })
      .from(reminders)
      .where(and(eq(reminders.ownerId, ownerId), inArray(reminders.state, ['pending', 'fired'])))
      .groupBy(reminders.state);
    const c: ReminderCounts = { pending: 0, fired: 0 };
    for (const g of got) c[g.state as keyof ReminderCounts] = Number(g.n);
    return c;
  }

  /** Moves a pending or fired reminder to `until` (or `minutes` from now); it fires again then. */
  async snooze(p: Principal, id: string, to: { until?: string; minutes?: number }, now = new Date()): Promise<{ changed: boolean; reminder: ReminderView }> {
    const due = to.until !== undefined ? new Date(to.until) : new Date(now.getTime() + (to.minutes ?? 0) * 60_000);
    return this.transition(p, id, 'snooze', now, (cur) => {
      if (cur.state === 'done' || cur.state === 'dismissed') throw new QiaoError('QIAO_REMINDER_CLOSED');
      assertDue(due, now);
      return { state: 'pending', dueAt: due, snoozeCount: cur.snoozeCount + 1 };
    });
  }

  async done(p: Principal, id: string, now = new Date()): Promise<{ changed: boolean; reminder: ReminderView }> {
    return this.close(p, id, 'done', now);
  }

  async dismiss(p: Principal, id: string, now = new Date()): Promise<{ changed: boolean; reminder: ReminderView }> {
    return this.close(p, id, 'dismissed', now);
  }

  // ---------------------------------------------------------------------------------------------

  private close(p: Principal, id: string, target: 'done' | 'dismissed', now: Date) {
    return this.transition(p, id, target === 'done' ? 'done' : 'dismiss', now, (cur) => {
      if (cur.state === target) return null;
      if (cur.state === 'done' || cur.state === 'dismissed') throw new QiaoError('QIAO_REMINDER_CLOSED');
      return { state: target, doneAt: now };
    });
  }

  /**
   * Reads the owner's reminder, lets `decide` pick the change (null: none, answer unchanged), and
   * applies it only if the reminder is still as read; a sweep or request that moved it meanwhile
   * makes it read and decide again.
   */
  private async transition(
    p: Principal,
    id: string,
    action: 'snooze' | 'done' | 'dismiss',
    now: Date,
    decide: (cur: ReminderRow) => Partial<Pick<ReminderRow, 'state' | 'dueAt' | 'snoozeCount' | 'doneAt'>> | null,
  ): Promise<{ changed: boolean; reminder: ReminderView }> {
    this.mustBeStaff(p);
    for (let attempt = 0; attempt < 5; attempt++) {
      const cur = await this.own(p.id, id);
      const change = decide(cur);
      if (!change) return { changed: false, reminder: await this.view(cur) };
      const updated = await this.d.db.transaction(async (tx) => {
        const [u] = await tx
          .update(reminders)
          .set({ ...change, updatedAt: now })
          .where(and(eq(reminders.id, cur.id), eq(reminders.state, cur.state), eq(reminders.snoozeCount, cur.snoozeCount)))
          .returning();
        if (!u) return undefined;
        await this.d.archive.append(
          {
            kind: 'reminder.state',
            actorId: p.id,
            subjects: [p.id, ...(u.clientId ? [u.clientId] : [])],
            conversationId: u.conversationId,
            retentionClass: 'service-reminders',
            body: { reminderId: u.id, ownerId: u.ownerId, action, from: cur.state, to: u.state, dueAt: u.dueAt.toISOString(), snoozeCount: u.snoozeCount, at: now.toISOString() },
            recordedAt: now,
          },
          tx,
        );
        return u;
      });
      if (updated) return { changed: true, reminder: await this.view(updated) };
    }
    throw new QiaoError('QIAO_CONFLICT', 'The reminder kept changing; retry');
  }

  private mustBeStaff(p: Principal): void {
    if (!STAFF.has(p.role)) throw new QiaoError('QIAO_FORBIDDEN', 'Work reminders are for staff');
  }

  /** The caller's reminder; anyone else's (or a malformed id) is not found, so ids cannot be probed. */
  private async own(ownerId: string, id: string): Promise<ReminderRow> {
    if (!isUuid(id)) throw new QiaoError('QIAO_REMINDER_NOT_FOUND');
    const [r] = await this.d.db
      .select()
      .from(reminders)
      .where(and(eq(reminders.id, id.toLowerCase()), eq(reminders.ownerId, ownerId)))
      .limit(1);
    if (!r) throw new QiaoError('QIAO_REMINDER_NOT_FOUND');
    return r;
  }

  /**
   * A client the caller serves (any broker_clients relation; a manager: a client whose primary broker
   * is in a team the manager leads) and a conversation the caller may write in; both given: the
   * conversation must be with that client.
   */
  private async assertTargets(p: Principal, clientId: string | null, conversationId: string | null): Promise<void> {
    if (clientId) {
      const [mine] = await this.d.db
        .select({ n: sql<number>`1` })
        .from(brokerClients)
        .leftJoin(users, eq(users.id, brokerClients.brokerId))
        .leftJoin(teams, eq(teams.id, users.teamId))
        .where(
          and(
            eq(brokerClients.clientId, clientId),
            sql`(${brokerClients.brokerId} = ${p.id} or (${brokerClients.relation} = 'primary' and ${teams.managerId} = ${p.id}))`,
          ),
        )
        .limit(1);
      if (!mine) throw new QiaoError('QIAO_REMINDER_TARGET_INVALID', 'Not one of your clients');
    }
    if (conversationId) {
      if ((await this.d.conversations.access(conversationId, p)) !== 'write') throw new QiaoError('QIAO_REMINDER_TARGET_INVALID', 'Not a conversation you take part in');
      if (clientId) {
        const c = await this.d.conversations.get(conversationId);
        if (c?.clientId !== clientId) throw new QiaoError('QIAO_REMINDER_TARGET_INVALID', 'The conversation is not with that client');
      }
    }
  }

  private async byKey(ownerId: string, key: string): Promise<ReminderRow | undefined> {
    const [r] = await this.d.db
      .select()
      .from(reminders)
      .where(and(eq(reminders.ownerId, ownerId), eq(reminders.idempotencyKey, key)))
      .limit(1);
    return r;
  }

  /**
   * A create retried under a used key must be the same request as the one archived with the reminder
   * (its due time may have been snoozed since, so the row alone cannot tell), else
   * QIAO_IDEMPOTENCY_MISMATCH.
   */
  private async sameRequest(prior: ReminderRow, asked: Record<string, string | null>): Promise<ReminderView> {
    const [rec] = await this.d.db
      .select({ body: archiveRecords.body })
      .from(archiveRecords)
      .where(and(eq(archiveRecords.kind, 'reminder.created'), eq(archiveRecords.recordedAt, prior.createdAt), sql`${archiveRecords.body} ->> 'reminderId' = ${prior.id}`))
      .limit(1);
    const b = (rec?.body ?? {}) as Record<string, unknown>;
    const stored = rec
      ? { title: b.title, note: b.note, dueAt: b.dueAt, clientId: b.clientId ?? null, conversationId: b.conversationId ?? null }
      : { title: prior.title, note: prior.note, dueAt: prior.dueAt.toISOString(), clientId: prior.clientId, conversationId: prior.conversationId };
    assertSameRequest(stored, asked);
    return this.view(prior);
  }

  private async view(r: ReminderRow): Promise<ReminderView> {
    const [client] = r.clientId ? await this.d.db.select({ n: users.displayName }).from(users).where(eq(users.id, r.clientId)).limit(1) : [];
    const [task] = r.taskId ? await this.d.db.select({ n: tasks.title }).from(tasks).where(eq(tasks.id, r.taskId)).limit(1) : [];
    return reminderView(r, { client: client?.n, task: task?.n });
  }
}
