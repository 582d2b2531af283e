/**
 * Team tasks: a manager (or admin) sends a task to teams and/or named brokers; each recipient moves it
 * delivered → read → accepted → done (with a note); overdue is derived (due passed, not done).
 *
 * State lives in Postgres (one assignment per task × broker, so retries never duplicate). The live side
 * is the task feed `tasks.<userId>` (channels/tasks.ts): every state change is written together with its
 * `task.progress` publication on the manager's feed and its archive record (publish path, inTx), so a
 * manager who reconnects with `since` gets exactly the changes missed, and a change is never half-made.
 *
 * Transitions (a broker on its own assignment):
 * - forward moves apply, skipping is allowed except into `done`: `accept` implies `read`, but `done`
 *   needs `accepted` first (QIAO_TASK_TRANSITION_INVALID);
 * - repeating the current state, or asking for an earlier one (a late `read` after `accept`, a retried
 *   request after a reconnect), changes nothing and answers 200 with `changed: false`.
 *
 * Idempotency-Key on create: the same key with the same request (title, detail, due instant, teams and
 * named brokers as sets) returns the first task; with a different request QIAO_IDEMPOTENCY_MISMATCH.
 */
import type { FastifyBaseLogger } from 'fastify';
import { and, desc, eq, inArray, or, sql } from 'drizzle-orm';
import type { Principal } from '../auth/principal.ts';
import { assertSameRequest } from '../domain/idempotency.ts';
import { QiaoError } from '../errors/codes.ts';
import type { DlpService } from '../compliance/dlp.ts';
import type { Publisher } from '../hub/publisher.ts';
import type { ArchiveRepo } from '../store/archive-repo.ts';
import type { Db } from '../store/db.ts';
import type { MessagesRepo } from '../store/messages-repo.ts';
import { archiveRecords, taskAssignments, tasks, teams, users } from '../store/schema/index.ts';
import { DAY_MS, StaleState, assertStorable, isUniqueViolation } from './common.ts';

export type TaskState = 'delivered' | 'read' | 'accepted' | 'done';
export type TaskAction = 'read' | 'accept' | 'done';

export const TASK_STATES: readonly TaskState[] = ['delivered', 'read', 'accepted', 'done'];
const RANK: Record<TaskState, number> = { delivered: 0, read: 1, accepted: 2, done: 3 };
const TARGET: Record<TaskAction, TaskState> = { read: 'read', accept: 'accepted', done: 'done' };
/** Latest due time accepted for a new task. */
export const MAX_DUE_DAYS = 366;
/** Most recipients one task may have. */
export const MAX_RECIPIENTS = 500;

export interface CreateTaskRequest {
  title: string;
  detail: string;
  dueAt: string;
  teamIds?: string[];
  brokerIds?: string[];
  idempotencyKey?: string;
}

export interface TaskView {
  id: string;
  managerId: string;
  managerName: string;
  title: string;
  detail: string;
  dueAt: string;
  createdAt: string;
}

export interface AssignmentView {
  taskId: string;
  brokerId: string;
  brokerName: string;
  state: TaskState;
  overdue: boolean;
  note: string | null;
  deliveredAt: string;
  readAt: string | null;
  acceptedAt: string | null;
  doneAt: string | null;
  updatedAt: string;
}

export type ProgressCounts = Record<TaskState | 'overdue' | 'total', number>;

export interface TaskProgress {
  task: TaskView;
  /** Subscribe here with `since: topOffset` to follow changes after this snapshot without a gap. */
  feed: { channel: string; topOffset: number };
  assignments: AssignmentView[];
  counts: ProgressCounts;
}

export interface CreatedTask {
  task: TaskView;
  assignments: AssignmentView[];
  duplicate: boolean;
}

export interface TransitionResult {
  changed: boolean;
  assignment: AssignmentView;
}

/** A broker's view of one of its tasks. */
export interface MyTask extends TaskView {
  assignment: AssignmentView;
}

/** A manager's task with its progress counts. */
export interface ManagedTask extends TaskView {
  counts: ProgressCounts;
}

export interface TaskRecipients {
  teams: Array<{ id: string; code: string; name: string }>;
  brokers: Array<{ id: string; displayName: string; teamId: string | null }>;
}

export interface TasksDeps {
  db: Db;
  publisher: Publisher;
  archive: ArchiveRepo;
  messages: MessagesRepo;
  logger: FastifyBaseLogger;
  /** DLP screening of title and detail before the task is stored (absent: only the publish path screens). */
  dlp?: Pick<DlpService, 'screen'>;
}

type TaskRow = typeof tasks.$inferSelect;
type AssignmentRow = typeof taskAssignments.$inferSelect;
type BrokerRow = { id: string; displayName: string; teamId: string | null; branchId: string | null };

export const taskFeed = (userId: string) => `tasks.${userId}`;

/** Ids as a set: lower-cased (as Postgres prints uuids), de-duplicated, sorted. */
function idSet(ids: readonly unknown[]): string[] {
  return [...new Set(ids.map((x) => String(x).toLowerCase()))].sort();
}

export function isOverdue(a: { state: TaskState }, dueAt: Date, now: Date): boolean {
  return a.state !== 'done' && dueAt.getTime() < now.getTime();
}

function taskView(t: TaskRow, managerName: string): TaskView {
  return {
    id: t.id,
    managerId: t.managerId,
    managerName,
    title: t.title,
    detail: t.detail,
    dueAt: t.dueAt.toISOString(),
    createdAt: t.createdAt.toISOString(),
  };
}

function assignmentView(a: AssignmentRow, brokerName: string, dueAt: Date, now: Date): AssignmentView {
  return {
    taskId: a.taskId,
    brokerId: a.brokerId,
    brokerName,
    state: a.state,
    overdue: isOverdue(a, dueAt, now),
    note: a.note,
    deliveredAt: a.deliveredAt.toISOString(),
    readAt: a.readAt?.toISOString() ?? null,
    acceptedAt: a.acceptedAt?.toISOString() ?? null,
    doneAt: a.doneAt?.toISOString() ?? null,
    updatedAt: a.updatedAt.toISOString(),
  };
}

function countOf(list: Array<{ state: TaskState; overdue: boolean }>): ProgressCounts {
  const c: ProgressCounts = { delivered: 0, read: 0, accepted: 0, done: 0, overdue: 0, total: list.length };
  for (const a of list) {
    c[a.state]++;
    if (a.overdue) c.overdue++;
  }
  return c;
}

export class TasksService {
  constructor(private readonly d: TasksDeps) {}

  /** Teams and brokers a manager may send tasks to (admin: all). */
  async recipients(p: Principal): Promise<TaskRecipients> {
    this.mustManage(p);
    const allTeams = await this.d.db.select().from(teams).orderBy(teams.code);
    const allowedTeams = allTeams.filter((t) => this.mayTargetTeam(p, t));
    const brokers = await this.d.db
      .select({ id: users.id, displayName: users.displayName, teamId: users.teamId, branchId: users.branchId })
      .from(users)
      .where(and(eq(users.role, 'broker'), eq(users.active, true)))
      .orderBy(users.displayName);
    const teamIds = new Set(allowedTeams.map((t) => t.id));
    return {
      teams: allowedTeams.map((t) => ({ id: t.id, code: t.code, name: t.name })),
      brokers: brokers.filter((b) => this.mayTargetBroker(p, b, teamIds)).map((b) => ({ id: b.id, displayName: b.displayName, teamId: b.teamId })),
    };
  }

  async create(p: Principal, req: CreateTaskRequest, now = new Date()): Promise<CreatedTask> {
    this.mustManage(p);
    assertStorable({ title: req.title, detail: req.detail });
    const due = new Date(req.dueAt);
    if (!Number.isFinite(due.getTime()) || due.getTime() <= now.getTime() || due.getTime() > now.getTime() + MAX_DUE_DAYS * DAY_MS) {
      throw new QiaoError('QIAO_TASK_DUE_INVALID');
    }
    if (req.idempotencyKey) {
      const prior = await this.byKey(p.id, req.idempotencyKey);
      if (prior) {
        await this.assertSameTask(prior, req, due);
        return this.finishCreate(p, prior, true, now);
      }
    }
    const brokers = await this.resolveRecipients(p, req.teamIds ?? [], req.brokerIds ?? []);
    // A prohibited term stops the task before it is stored (its notices would be blocked anyway).
    await this.d.dlp?.screen(p, {
      channel: `inbox.${brokers[0].id}`,
      family: 'inbox',
      kind: 'task',
      payload: { title: req.title, body: req.detail },
      subjects: brokers.map((b) => b.id),
    });
    let task: TaskRow;
    try {
      task = await this.d.db.transaction(async (tx) => {
        const [t] = await tx
          .insert(tasks)
          .values({ managerId: p.id, title: req.title, detail: req.detail, dueAt: due, idempotencyKey: req.idempotencyKey ?? null, createdAt: now })
          .returning();
        await tx
          .insert(taskAssignments)
          .values(brokers.map((b) => ({ taskId: t.id, brokerId: b.id, state: 'delivered' as const, deliveredAt: now, updatedAt: now })))
          .onConflictDoNothing();
        await this.d.archive.append(
          {
            kind: 'task.created',
            actorId: p.id,
            subjects: [p.id, ...brokers.map((b) => b.id)],
            retentionClass: 'tasks',
            body: {
              taskId: t.id,
              managerId: p.id,
              title: t.title,
              detail: t.detail,
              dueAt: t.dueAt.toISOString(),
              teamIds: req.teamIds ?? [],
              brokerIds: brokers.map((b) => b.id),
              // The brokers named in the request (the rest came through teams): a retry with the same
              // Idempotency-Key is compared with it (assertSameTask).
              namedBrokerIds: idSet(req.brokerIds ?? []),
            },
            text: `${t.title}\n${t.detail}`,
            recordedAt: now,
          },
          tx,
        );
        return t;
      });
    } catch (e) {
      if (req.idempotencyKey && isUniqueViolation(e)) {
        const prior = await this.byKey(p.id, req.idempotencyKey);
        if (prior) {
          await this.assertSameTask(prior, req, due);
          return this.finishCreate(p, prior, true, now);
        }
      }
      throw e;
    }
    return this.finishCreate(p, task, false, now);
  }

  /**
   * Notifies every recipient (inbox notice and task feed) and the manager's feed. Each publication has
   * an idempotency key, so a retried create (same Idempotency-Key) sends only what is missing.
   */
  private async finishCreate(p: Principal, task: TaskRow, duplicate: boolean, now: Date): Promise<CreatedTask> {
    const rows = await this.assignmentsOf(task.id);
    const manager = await this.nameOf(task.managerId);
    const base = { taskId: task.id, title: task.title, body: task.detail, dueAt: task.dueAt.toISOString(), managerId: task.managerId, managerName: manager.slice(0, 100) };
    let failed = 0;
    const send = async (channel: string, kind: string, payload: unknown, key: string) => {
      try {
        await this.d.publisher.publish(p, { channel, kind, payload, idempotencyKey: key }, { trusted: true });
      } catch (e) {
        failed++;
        this.d.logger.warn({ err: e, task: task.id, channel }, 'task notification failed');
      }
    };
    for (const { a } of rows) {
      await send(`inbox.${a.brokerId}`, 'task', base, `task:${task.id}:${a.brokerId}:inbox`);
      await send(taskFeed(a.brokerId), 'task.assigned', base, `task:${task.id}:${a.brokerId}:feed`);
    }
    await send(
      taskFeed(task.managerId),
      'task.created',
      { taskId: task.id, title: task.title, dueAt: base.dueAt, recipients: rows.map(({ a, name }) => ({ brokerId: a.brokerId, brokerName: name.slice(0, 100) })) },
      `task:${task.id}:created`,
    );
    if (failed) {
      throw new QiaoError('QIAO_UNAVAILABLE', 'The task is stored but not every recipient was notified; retry with the same Idempotency-Key', { taskId: task.id });
    }
    return {
      task: taskView(task, manager),
      assignments: rows.map(({ a, name }) => assignmentView(a, name, task.dueAt, now)),
      duplicate,
    };
  }

  async transition(p: Principal, taskId: string, action: TaskAction, note: string | undefined, now = new Date()): Promise<TransitionResult> {
    if (p.role !== 'broker') throw new QiaoError('QIAO_FORBIDDEN', 'Only the brokers a task was sent to update it');
    if (note !== undefined) assertStorable({ note });
    const task = await this.task(taskId);
    if (!task) throw new QiaoError('QIAO_NOT_FOUND', 'No such task');
    const target = TARGET[action];
    const brokerName = p.displayName;
    for (let attempt = 0; attempt < 5; attempt++) {
      const cur = await this.assignment(task.id, p.id);
      if (!cur) throw new QiaoError('QIAO_FORBIDDEN', 'This task was not sent to you');
      if (RANK[target] <= RANK[cur.state]) return { changed: false, assignment: assignmentView(cur, brokerName, task.dueAt, now) };
      if (target === 'done' && cur.state !== 'accepted') throw new QiaoError('QIAO_TASK_TRANSITION_INVALID');
      let updated: AssignmentRow | undefined;
      try {
        const out = await this.d.publisher.publish(
          p,
          {
            channel: taskFeed(task.managerId),
            kind: 'task.progress',
            payload: {
              taskId: task.id,
              brokerId: p.id,
              brokerName: brokerName.slice(0, 100),
              state: target,
              ...(target === 'done' && note !== undefined ? { note } : {}),
              at: now.toISOString(),
              dueAt: task.dueAt.toISOString(),
            },
            idempotencyKey: `taskstate:${task.id}:${p.id}:${target}`,
            inTx: async (tx) => {
              const [u] = await tx
                .update(taskAssignments)
                .set({
                  state: target,
                  readAt: sql`coalesce(${taskAssignments.readAt}, ${now.toISOString()}::timestamptz)`,
                  ...(RANK[target] >= RANK.accepted ? { acceptedAt: sql`coalesce(${taskAssignments.acceptedAt}, ${now.toISOString()}::timestamptz)` } : {}),
                  ...(target === 'done' ? { doneAt: now, note: note ?? null } : {}),
                  updatedAt: now,
                })
                .where(and(eq(taskAssignments.taskId, task.id), eq(taskAssignments.brokerId, p.id), eq(taskAssignments.state, cur.state)))
                .returning();
              if (!u) throw new StaleState();
              updated = u;
              return [
                {
                  kind: 'task.state',
                  actorId: p.id,
                  subjects: [p.id, task.managerId],
                  retentionClass: 'tasks',
                  body: { taskId: task.id, brokerId: p.id, managerId: task.managerId, from: cur.state, to: target, note: target === 'done' ? (note ?? null) : null, at: now.toISOString(), overdue: isOverdue({ state: target }, task.dueAt, now) },
                  text: target === 'done' ? (note ?? '') : '',
                  recordedAt: now,
                },
              ];
            },
          },
          { trusted: true },
        );
        if (out.duplicate || !updated) continue; // someone else recorded it: re-read
        return { changed: true, assignment: assignmentView(updated, brokerName, task.dueAt, now) };
      } catch (e) {
        if (e instanceof StaleState) continue;
        throw e;
      }
    }
    throw new QiaoError('QIAO_CONFLICT', 'The task kept changing; retry');
  }

  /** Progress of one task: its manager, compliance and admin. */
  async progress(p: Principal, taskId: string, now = new Date()): Promise<TaskProgress> {
    const task = await this.task(taskId);
    if (!task) throw new QiaoError('QIAO_NOT_FOUND', 'No such task');
    if (p.id !== task.managerId && p.role !== 'admin' && p.role !== 'compliance') throw new QiaoError('QIAO_FORBIDDEN', 'Only the task\'s manager follows its progress');
    const channel = taskFeed(task.managerId);
    // Offset first: changes after it are replayed by a subscribe with `since`, none is missed.
    const topOffset = await this.d.messages.topOffset(channel);
    const rows = await this.assignmentsOf(task.id);
    const assignments = rows.map(({ a, name }) => assignmentView(a, name, task.dueAt, now));
    return { task: taskView(task, await this.nameOf(task.managerId)), feed: { channel, topOffset }, assignments, counts: countOf(assignments) };
  }

  /** Brokers: tasks sent to me. Managers and admin: tasks I sent (`mine=false`: compliance and admin see all). */
  async list(p: Principal, q: { mine: boolean; limit: number }, now = new Date()): Promise<{ role: 'broker' | 'manager'; tasks: Array<MyTask | ManagedTask> }> {
    if (p.role === 'broker') {
      const rows = await this.d.db
        .select({ t: tasks, a: taskAssignments, manager: users.displayName })
        .from(taskAssignments)
        .innerJoin(tasks, eq(tasks.id, taskAssignments.taskId))
        .innerJoin(users, eq(users.id, tasks.managerId))
        .where(eq(taskAssignments.brokerId, p.id))
        .orderBy(desc(tasks.createdAt), tasks.id)
        .limit(q.limit);
      return {
        role: 'broker',
        tasks: rows.map(({ t, a, manager }) => ({ ...taskView(t, manager), assignment: assignmentView(a, p.displayName, t.dueAt, now) })),
      };
    }
    const everything = !q.mine && (p.role === 'compliance' || p.role === 'admin');
    if (!everything) this.mustManage(p);
    const rows = await this.d.db
      .select({ t: tasks, manager: users.displayName })
      .from(tasks)
      .innerJoin(users, eq(users.id, tasks.managerId))
      .where(everything ? undefined : eq(tasks.managerId, p.id))
      .orderBy(desc(tasks.createdAt), tasks.id)
      .limit(q.limit);
    const ids = rows.map((r) => r.t.id);
    const states = ids.length
      ? await this.d.db.select({ taskId: taskAssignments.taskId, state: taskAssignments.state }).from(taskAssignments).where(inArray(taskAssignments.taskId, ids))
      : [];
    const byTask = new Map<string, Array<{ state: TaskState; overdue: boolean }>>();
    const due = new Map(rows.map((r) => [r.t.id, r.t.dueAt]));
    for (const s of states) {
      const l = byTask.get(s.taskId) ?? [];
      l.push({ state: s.state, overdue: isOverdue(s, due.get(s.taskId)!, now) });
      byTask.set(s.taskId, l);
    }
    return { role: 'manager', tasks: rows.map(({ t, manager }) => ({ ...taskView(t, manager), counts: countOf(byTask.get(t.id) ?? []) })) };
  }

  // ---------------------------------------------------------------------------------------------

  private mustManage(p: Principal): void {
    if (p.role !== 'manager' && p.role !== 'admin') throw new QiaoError('QIAO_FORBIDDEN', 'Only managers send tasks');
  }

  /** A manager may target the teams it manages or belongs to, and the teams of its branch. */
  private mayTargetTeam(p: Principal, t: typeof teams.$inferSelect): boolean {
    if (p.role === 'admin') return true;
    return t.managerId === p.id || t.id === p.teamId || (!!p.branchId && t.branchId === p.branchId);
  }

  private mayTargetBroker(p: Principal, b: BrokerRow, allowedTeams: Set<string>): boolean {
    if (p.role === 'admin') return true;
    return (!!b.teamId && allowedTeams.has(b.teamId)) || (!!p.branchId && b.branchId === p.branchId);
  }

  private async resolveRecipients(p: Principal, teamIds: string[], brokerIds: string[]): Promise<BrokerRow[]> {
    const tIds = [...new Set(teamIds.map((x) => x.toLowerCase()))];
    const bIds = [...new Set(brokerIds.map((x) => x.toLowerCase()))];
    const found = tIds.length ? await this.d.db.select().from(teams).where(inArray(teams.id, tIds)) : [];
    if (found.length !== tIds.length) throw new QiaoError('QIAO_TASK_RECIPIENT_INVALID', 'Unknown team', { teamIds: tIds.filter((id) => !found.some((t) => t.id === id)) });
    const refusedTeams = found.filter((t) => !this.mayTargetTeam(p, t));
    if (refusedTeams.length) throw new QiaoError('QIAO_FORBIDDEN', 'You may send tasks only to your own teams and branch', { teamIds: refusedTeams.map((t) => t.id) });
    const cols = { id: users.id, displayName: users.displayName, teamId: users.teamId, branchId: users.branchId };
    const fromTeams = tIds.length
      ? await this.d.db.select(cols).from(users).where(and(inArray(users.teamId, tIds), eq(users.role, 'broker'), eq(users.active, true)))
      : [];
    const named = bIds.length
      ? await this.d.db.select(cols).from(users).where(and(inArray(users.id, bIds), eq(users.role, 'broker'), eq(users.active, true)))
      : [];
    if (named.length !== bIds.length) {
      throw new QiaoError('QIAO_TASK_RECIPIENT_INVALID', 'Not an active broker', { brokerIds: bIds.filter((id) => !named.some((b) => b.id === id)) });
    }
    if (p.role !== 'admin' && named.length) {
      const mine = await this.d.db
        .select({ id: teams.id })
        .from(teams)
        .where(or(eq(teams.managerId, p.id), p.teamId ? eq(teams.id, p.teamId) : undefined, p.branchId ? eq(teams.branchId, p.branchId) : undefined));
      const allowed = new Set(mine.map((t) => t.id));
      const refused = named.filter((b) => !this.mayTargetBroker(p, b, allowed));
      if (refused.length) throw new QiaoError('QIAO_FORBIDDEN', 'You may send tasks only to brokers of your own teams and branch', { brokerIds: refused.map((b) => b.id) });
    }
    const all = new Map([...fromTeams, ...named].map((b) => [b.id, b]));
    if (all.size === 0) throw new QiaoError('QIAO_TASK_RECIPIENT_INVALID', 'The task has no recipient: the teams have no active brokers');
    if (all.size > MAX_RECIPIENTS) throw new QiaoError('QIAO_TASK_RECIPIENT_INVALID', `At most ${MAX_RECIPIENTS} recipients per task`);
    return [...all.values()];
  }

  private async task(id: string): Promise<TaskRow | undefined> {
    const [t] = await this.d.db.select().from(tasks).where(eq(tasks.id, id.toLowerCase())).limit(1);
    return t;
  }

  private async assignment(taskId: string, brokerId: string): Promise<AssignmentRow | undefined> {
    const [a] = await this.d.db
      .select()
      .from(taskAssignments)
      .where(and(eq(taskAssignments.taskId, taskId), eq(taskAssignments.brokerId, brokerId)))
      .limit(1);
    return a;
  }

  private async assignmentsOf(taskId: string): Promise<Array<{ a: AssignmentRow; name: string }>> {
    return this.d.db
      .select({ a: taskAssignments, name: users.displayName })
      .from(taskAssignments)
      .innerJoin(users, eq(users.id, taskAssignments.brokerId))
      .where(eq(taskAssignments.taskId, taskId))
      .orderBy(users.displayName, taskAssignments.brokerId);
  }

  private async byKey(managerId: string, key: string): Promise<TaskRow | undefined> {
    const [t] = await this.d.db
      .select()
      .from(tasks)
      .where(and(eq(tasks.managerId, managerId), eq(tasks.idempotencyKey, key)))
      .limit(1);
    return t;
  }

  /**
   * A create retried with an Idempotency-Key already used: the stored task must be the same request,
   * else QIAO_IDEMPOTENCY_MISMATCH. Title and detail as stored (not trimmed), the due time as an instant
   * (any offset), teams and named brokers as sets. Teams and named brokers are the request as archived
   * with the task (`task.created`), not the recipients resolved now: a team that gained or lost a broker
   * since does not make an identical retry different.
   */
  private async assertSameTask(prior: TaskRow, req: CreateTaskRequest, due: Date): Promise<void> {
    const asked = {
      title: req.title,
      detail: req.detail ?? '',
      dueAt: due.toISOString(),
      teamIds: idSet(req.teamIds ?? []),
      brokerIds: idSet(req.brokerIds ?? []),
    };
    // The archive record is written in the task's transaction with recordedAt = the task's createdAt.
    const [rec] = await this.d.db
      .select({ body: archiveRecords.body })
      .from(archiveRecords)
      .where(and(eq(archiveRecords.kind, 'task.created'), eq(archiveRecords.recordedAt, prior.createdAt), sql`${archiveRecords.body} ->> 'taskId' = ${prior.id}`))
      .limit(1);
    const body = (rec?.body ?? {}) as { teamIds?: unknown; namedBrokerIds?: unknown };
    const storedTeams = Array.isArray(body.teamIds) ? idSet(body.teamIds) : undefined;
    let storedNamed = Array.isArray(body.namedBrokerIds) ? idSet(body.namedBrokerIds) : undefined;
    if (!storedNamed) {
      // Recorded before named brokers were archived (or purged): each named broker must be a recipient,
      // and without teams the named brokers are exactly the recipients.
      const recipients = idSet((await this.d.db.select({ b: taskAssignments.brokerId }).from(taskAssignments).where(eq(taskAssignments.taskId, prior.id))).map((r) => r.b));
      const teamsNow = storedTeams ?? asked.teamIds;
      const fits = asked.brokerIds.every((b) => recipients.includes(b)) && (teamsNow.length > 0 || asked.brokerIds.length === recipients.length);
      storedNamed = fits ? asked.brokerIds : recipients;
    }
    assertSameRequest(
      { title: prior.title, detail: prior.detail, dueAt: prior.dueAt.toISOString(), teamIds: storedTeams ?? asked.teamIds, brokerIds: storedNamed },
      asked,
    );
  }

  private async nameOf(userId: string): Promise<string> {
    const [u] = await this.d.db.select({ n: users.displayName }).from(users).where(eq(users.id, userId)).limit(1);
    return u?.n ?? '';
  }
}
