/**
 * Follow-ups (客户回访): listing by scope, scheduling by hand, recording the outcome with the content
 * checklist, cancelling. Rule-made follow-ups and overdue escalation: src/service/followup-sweep.ts.
 *
 * Every change writes its archive record (retention `client-followups`) in the same transaction; a
 * new assignment reaches the assignee's inbox (`followup`, event `assigned`) through the publish path
 * with the row written in its transaction (stored before seen). Completion is a conditional UPDATE
 * (`state = 'open'`), so two people recording at once cannot both win.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import type { Principal } from '../auth/principal.ts';
import { DAY_MS, StaleState, assertStorable } from '../advisory/common.ts';
import { QiaoError } from '../errors/codes.ts';
import type { Publisher } from '../hub/publisher.ts';
import type { ArchiveInput, ArchiveRepo, Executor } from '../store/archive-repo.ts';
import { rows, type Db } from '../store/db.ts';
import { followups } from '../store/schema/index.ts';
import { AssigneePicker, clientFacts, seesAll, staffScope, visibleSql, type StaffScope } from './followup-scope.ts';

export type Outcome = 'reached' | 'unreachable' | 'declined';
export interface Checklist {
  identityConfirmed: boolean;
  riskExplained: boolean;
  noReturnPromise: boolean;
  complaintChannelTold: boolean;
}
export const CHECKLIST_ITEMS: ReadonlyArray<keyof Checklist> = ['identityConfirmed', 'riskExplained', 'noReturnPromise', 'complaintChannelTold'];

/** Sender of the notices the sweeps publish (not a user: no token can carry it). */
export const FOLLOWUP_PRINCIPAL: Principal = { id: 'service-followups', role: 'feed', displayName: '客户回访 Follow-ups' };

export type FollowupRow = typeof followups.$inferSelect;

export interface FollowupView {
  id: string;
  clientId: string;
  clientName: string;
  brokerId: string | null;
  brokerName: string | null;
  teamId: string | null;
  branchId: string | null;
  assigneeId: string | null;
  assigneeName: string | null;
  ruleId: string | null;
  ruleCode: string | null;
  independent: boolean;
  reason: string;
  dueAt: string;
  state: 'open' | 'done' | 'cancelled';
  overdue: boolean;
  outcome: Outcome | null;
  notes: string | null;
  checklist: Checklist | null;
  doneBy: string | null;
  doneByName: string | null;
  doneAt: string | null;
  escalatedAt: string | null;
  createdAt: string;
}

export interface FollowupsDeps {
  db: Db;
  publisher: Publisher;
  archive: ArchiveRepo;
  logger: FastifyBaseLogger;
}

const iso = (v: unknown) => (v == null ? null : new Date(v as string).toISOString());
const str = (v: unknown) => (v == null ? null : String(v));

const SELECT = sql`select f.*, c.display_name as client_name, b.display_name as broker_name, a.display_name as assignee_name,
                          d.display_name as done_by_name, r.code as rule_code
                     from followups f
                     join users c on c.id = f.client_id
                     left join users b on b.id = f.broker_id
                     left join users a on a.id = f.assignee_id
                     left join users d on d.id = f.done_by
                     left join followup_rules r on r.id = f.rule_id`;

function view(r: Record<string, unknown>, now: Date): FollowupView {
  const due = new Date(r.due_at as string);
  return {
    id: String(r.id),
    clientId: String(r.client_id),
    clientName: String(r.client_name),
    brokerId: str(r.broker_id),
    brokerName: str(r.broker_name),
    teamId: str(r.team_id),
    branchId: str(r.branch_id),
    assigneeId: str(r.assignee_id),
    assigneeName: str(r.assignee_name),
    ruleId: str(r.rule_id),
    ruleCode: str(r.rule_code),
    independent: r.independent === true,
    reason: String(r.reason ?? ''),
    dueAt: due.toISOString(),
    state: r.state as FollowupView['state'],
    overdue: r.state === 'open' && due.getTime() < now.getTime(),
    outcome: (r.outcome as Outcome | null) ?? null,
    notes: str(r.notes),
    checklist: (r.checklist as Checklist | null) ?? null,
    doneBy: str(r.done_by),
    doneByName: str(r.done_by_name),
    doneAt: iso(r.done_at),
    escalatedAt: iso(r.escalated_at),
    createdAt: new Date(r.created_at as string).toISOString(),
  };
}

/** The archive record of a follow-up step (kept with the client's other business records). */
export function followupRecord(kind: string, actorId: string, f: { id: string; clientId: string; brokerId: string | null; assigneeId: string | null }, body: Record<string, unknown>, text: string, at: Date): ArchiveInput {
  return {
    kind,
    actorId,
    subjects: [...new Set([f.clientId, f.brokerId, f.assigneeId, actorId].filter((x): x is string => !!x && x !== 'service-followups'))],
    retentionClass: 'client-followups',
    body: { followupId: f.id, clientId: f.clientId, brokerId: f.brokerId, ...body },
    text,
    recordedAt: at,
  };
}

export class FollowupsService {
  constructor(private readonly d: FollowupsDeps) {}

  async list(p: Principal, q: { mine?: 'mine' | 'team' | 'branch'; state?: 'open' | 'overdue' | 'done' | 'cancelled'; limit: number }, now = new Date()): Promise<FollowupView[]> {
    const s = await this.scopeOf(p);
    const state =
      q.state === 'open'
        ? sql`f.state = 'open'`
        : q.state === 'overdue'
          ? sql`f.state = 'open' and f.due_at < ${now.toISOString()}::timestamptz`
          : q.state
            ? sql`f.state = ${q.state}`
            : sql`true`;
    const r = await rows<Record<string, unknown>>(
      this.d.db,
      sql`${SELECT} where ${visibleSql(s, q.mine)} and ${state}
          order by (f.state = 'open') desc, case when f.state = 'open' then f.due_at end asc, f.done_at desc nulls last, f.id limit ${q.limit}`,
    );
    return r.map((x) => view(x, now));
  }

  async get(p: Principal, id: string, now = new Date()): Promise<FollowupView> {
    const s = await this.scopeOf(p);
    const [r] = await rows<Record<string, unknown>>(this.d.db, sql`${SELECT} where f.id = ${id.toLowerCase()} and ${visibleSql(s)}`);
    if (!r) throw new QiaoError('QIAO_FOLLOWUP_NOT_FOUND');
    return view(r, now);
  }

  /**
   * A manager (of the client's broker's team), the branch head or admin schedules one by hand. Without
   * `assigneeId` it goes to independent staff (as rule-made ones); assigned to the broker it is not
   * independent (the broker records the outcome).
   */
  async schedule(p: Principal, req: { clientId: string; dueAt: string; assigneeId?: string; reason: string }, now = new Date()): Promise<FollowupView> {
    if (p.role !== 'manager' && p.role !== 'admin') throw new QiaoError('QIAO_FORBIDDEN', 'Follow-ups are scheduled by managers, branch heads and admin');
    assertStorable({ reason: req.reason });
    const due = new Date(req.dueAt);
    if (!Number.isFinite(due.getTime()) || due.getTime() <= now.getTime() || due.getTime() > now.getTime() + 366 * DAY_MS) {
      throw new QiaoError('QIAO_BAD_REQUEST', 'dueAt must be in the future, at most 366 days ahead');
    }
    const s = await this.scopeOf(p);
    const c = await clientFacts(this.d.db, req.clientId);
    if (!c || c.firmId !== s.firmId || !c.active) throw new QiaoError('QIAO_USER_NOT_FOUND', 'No such client');
    const inScope = s.role === 'admin' || (!!c.teamId && s.ledTeamIds.includes(c.teamId)) || (!!c.branchId && s.headOfBranchIds.includes(c.branchId));
    if (!inScope) throw new QiaoError('QIAO_FORBIDDEN', 'Only the manager of the client’s broker’s team, the branch head or admin schedule its follow-ups');
    let assigneeId: string | null;
    if (req.assigneeId) {
      const [a] = await rows<{ id: string; role: string; active: boolean; branch_id: string | null; firm_id: string }>(
        this.d.db,
        sql`select id::text, role, active, branch_id::text, firm_id::text from users where id = ${req.assigneeId.toLowerCase()}`,
      );
      if (!a || !a.active || a.firm_id !== s.firmId || (a.role !== 'broker' && a.role !== 'manager')) throw new QiaoError('QIAO_USER_NOT_FOUND', 'The assignee must be an active broker or manager');
      if (a.branch_id !== c.branchId && a.id !== c.brokerId) throw new QiaoError('QIAO_FORBIDDEN', 'The assignee must work in the client’s branch');
      assigneeId = a.id;
    } else {
      assigneeId = await new AssigneePicker(this.d.db).pick(c);
    }
    const row = {
      firmId: c.firmId,
      clientId: c.clientId,
      brokerId: c.brokerId,
      teamId: c.teamId,
      branchId: c.branchId,
      assigneeId,
      ruleId: null,
      independent: assigneeId !== null && assigneeId !== c.brokerId,
      scheduledBy: p.id,
      reason: req.reason,
      dueAt: due,
      createdAt: now,
      updatedAt: now,
    };
    const id = await this.create(p, row, c.clientName, null, now);
    return this.get(p, id!, now);
  }

  /**
   * Writes one follow-up (with its archive record) and, when it has an assignee, its `assigned` notice
   * in the same transaction. With a `dedupKey` an existing row wins (ON CONFLICT DO NOTHING): nothing
   * is published and null is returned.
   */
  async create(
    sender: Principal,
    row: Omit<typeof followups.$inferInsert, 'dedupKey'>,
    clientName: string,
    dedupKey: string | null,
    now: Date,
  ): Promise<string | null> {
    // The id is chosen here so the notice can name the row written in its own transaction.
    const newId = randomUUID();
    const insert = async (tx: Executor): Promise<{ id: string; records: ArchiveInput[] } | null> => {
      const [f] = await tx
        .insert(followups)
        .values({ ...row, id: newId, dedupKey })
        .onConflictDoNothing()
        .returning({ id: followups.id });
      if (!f) return null;
      const rec = followupRecord(
        'followup.scheduled',
        sender.id,
        { id: f.id, clientId: row.clientId, brokerId: row.brokerId ?? null, assigneeId: row.assigneeId ?? null },
        { assigneeId: row.assigneeId ?? null, ruleId: row.ruleId ?? null, independent: row.independent ?? false, dueAt: row.dueAt.toISOString(), reason: row.reason ?? '', scheduledBy: row.scheduledBy ?? null },
        row.reason ?? '',
        now,
      );
      return { id: f.id, records: [rec] };
    };
    if (!row.assigneeId) {
      return this.d.db.transaction(async (tx) => {
        const out = await insert(tx);
        if (out) await this.d.archive.appendMany(out.records, tx);
        return out?.id ?? null;
      });
    }
    let id: string | null = null;
    try {
      await this.d.publisher.publish(
        sender,
        {
          channel: `inbox.${row.assigneeId}`,
          kind: 'followup',
          payload: { followupId: newId, event: 'assigned', clientName: clientName.slice(0, 100), dueAt: row.dueAt.toISOString() },
          idempotencyKey: dedupKey ? `followup:${dedupKey}:assigned` : undefined,
          inTx: async (tx) => {
            const out = await insert(tx);
            if (!out) throw new StaleState();
            id = out.id;
            return out.records;
          },
        },
        { trusted: true },
      );
    } catch (e) {
      if (e instanceof StaleState) return null;
      throw e;
    }
    return id;
  }

  async complete(
    p: Principal,
    id: string,
    req: { outcome: Outcome; notes: string; checklist: Checklist },
    now = new Date(),
  ): Promise<FollowupView> {
    assertStorable({ notes: req.notes });
    const f = await this.row(id);
    if (!f) throw new QiaoError('QIAO_FOLLOWUP_NOT_FOUND');
    // The client's own broker may not record an independent follow-up, whatever else it may see.
    if (f.independent && p.id === f.brokerId) throw new QiaoError('QIAO_FOLLOWUP_NOT_INDEPENDENT');
    const s = await this.scopeOf(p);
    if (!(await this.visible(s, f.id))) throw new QiaoError('QIAO_FOLLOWUP_NOT_FOUND');
    if (!this.mayRecord(s, f)) throw new QiaoError('QIAO_FORBIDDEN', 'Only the assignee, or independent staff of the branch taking it over, records a follow-up');
    if (f.state !== 'open') throw new QiaoError('QIAO_FOLLOWUP_CLOSED');
    if (req.outcome === 'reached' && !CHECKLIST_ITEMS.every((k) => req.checklist[k] === true)) {
      throw new QiaoError('QIAO_FOLLOWUP_CHECKLIST_INCOMPLETE', undefined, { missing: CHECKLIST_ITEMS.filter((k) => req.checklist[k] !== true) });
    }
    const checklist = Object.fromEntries(CHECKLIST_ITEMS.map((k) => [k, req.checklist[k] === true])) as unknown as Checklist;
    await this.d.db.transaction(async (tx) => {
      const [u] = await tx
        .update(followups)
        .set({ state: 'done', outcome: req.outcome, notes: req.notes, checklist, doneBy: p.id, doneAt: now, assigneeId: sql`coalesce(${followups.assigneeId}, ${p.id}::uuid)`, updatedAt: now })
        .where(sql`${followups.id} = ${f.id} and ${followups.state} = 'open'`)
        .returning({ id: followups.id });
      if (!u) throw new QiaoError('QIAO_FOLLOWUP_CLOSED');
      await this.d.archive.append(
        followupRecord(
          'followup.done',
          p.id,
          { id: f.id, clientId: f.clientId, brokerId: f.brokerId, assigneeId: f.assigneeId },
          { outcome: req.outcome, checklist, notes: req.notes, doneBy: p.id, takenOver: f.assigneeId !== p.id, dueAt: f.dueAt.toISOString(), late: f.dueAt.getTime() < now.getTime(), independent: f.independent },
          req.notes,
          now,
        ),
        tx,
      );
    });
    return this.get(p, f.id, now);
  }

  async cancel(p: Principal, id: string, reason: string, now = new Date()): Promise<FollowupView> {
    assertStorable({ reason });
    const f = await this.row(id);
    const s = await this.scopeOf(p);
    if (!f || !(await this.visible(s, f.id))) throw new QiaoError('QIAO_FOLLOWUP_NOT_FOUND');
    const may = s.role === 'admin' || (!!f.teamId && s.ledTeamIds.includes(f.teamId)) || (!!f.branchId && s.headOfBranchIds.includes(f.branchId));
    if (!may) throw new QiaoError('QIAO_FORBIDDEN', 'Follow-ups are cancelled by the team’s manager, the branch head or admin');
    await this.d.db.transaction(async (tx) => {
      const [u] = await tx
        .update(followups)
        .set({ state: 'cancelled', notes: reason, doneBy: p.id, doneAt: now, updatedAt: now })
        .where(sql`${followups.id} = ${f.id} and ${followups.state} = 'open'`)
        .returning({ id: followups.id });
      if (!u) throw new QiaoError('QIAO_FOLLOWUP_CLOSED');
      await this.d.archive.append(followupRecord('followup.cancelled', p.id, f, { reason }, reason, now), tx);
    });
    return this.get(p, f.id, now);
  }

  scopeOf(p: Principal): Promise<StaffScope> {
    if (p.role === 'client' || p.role === 'feed' || p.role === 'research') throw new QiaoError('QIAO_FORBIDDEN', 'Follow-ups are for staff');
    return staffScope(this.d.db, p);
  }

  /** Assignee; or, for an independent (or unassigned) one, independent staff of its branch or team. */
  private mayRecord(s: StaffScope, f: FollowupRow): boolean {
    if (f.assigneeId === s.id) return true;
    if (seesAll(s) || s.id === f.brokerId) return false;
    if (!f.independent && f.assigneeId) return false;
    return (!!f.branchId && (s.deskBranchId === f.branchId || s.headOfBranchIds.includes(f.branchId))) || (!!f.teamId && s.ledTeamIds.includes(f.teamId));
  }

  private async visible(s: StaffScope, id: string): Promise<boolean> {
    const r = await rows(this.d.db, sql`select 1 from followups f where f.id = ${id} and ${visibleSql(s)}`);
    return r.length > 0;
  }

  private async row(id: string): Promise<FollowupRow | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
    const [r] = await this.d.db.select().from(followups).where(sql`${followups.id} = ${id.toLowerCase()}`).limit(1);
    return r;
  }
}
