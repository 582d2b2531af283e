/**
 * Complaints (投诉处理, issue 11; docs/service.md). A client files a complaint (category, text,
 * optionally the conversation it concerns); it is routed to the client's branch, where the service
 * desk (客服), the branch head and the managers handle it: open → acknowledged → resolved / rejected
 * with a reply the client sees. Deadlines are fixed at filing (config.service.complaintAckH /
 * complaintResolveD); overdue complaints escalate (complaint-escalation.ts).
 *
 * Every step is one conditional UPDATE on the status it expects (two concurrent steps cannot both win:
 * the loser gets QIAO_COMPLAINT_TRANSITION_INVALID), a `complaint_events` row and an archive record in
 * the hash chain (retention class `complaints`), committed together with the step's first notice
 * (complaint-notices.ts). Who sees what: complaint-access.ts.
 */
import { randomUUID } from 'node:crypto';
import { and, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { Principal } from '../auth/principal.ts';
import { StaleState, assertStorable, isUniqueViolation } from '../advisory/common.ts';
import { assertSameRequest } from '../domain/idempotency.ts';
import { QiaoError, isQiaoError } from '../errors/codes.ts';
import type { ArchiveInput } from '../store/archive-repo.ts';
import { isUuid } from '../store/conversations-repo.ts';
import type { Tx } from '../store/messages-repo.ts';
import { branches, brokerClients, complaintEvents, complaints, conversations, users } from '../store/schema/index.ts';
import { handles, loadActor, mayAssign, sightOf, visibleWhere, type ComplaintActor, type ComplaintRow, type Sight } from './complaint-access.ts';
import { commitWithNotices, sendNotices, type ComplaintNotice, type NoticeDeps } from './complaint-notices.ts';
import {
  COMPLAINT_CATEGORIES,
  complaintView,
  eventsOf,
  overdueWhere,
  selectComplaints,
  type ComplaintCategory,
  type ComplaintDetail,
  type ComplaintStatus,
  type ComplaintView,
} from './complaint-views.ts';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export const CATEGORY_ZH: Record<ComplaintCategory, string> = {
  service: '服务质量',
  advice: '投资建议',
  trading: '交易执行',
  fees: '收费',
  system: '系统故障',
  privacy: '个人信息',
  other: '其他',
};

export interface ComplaintsDeps extends NoticeDeps {
  ackHours: number;
  resolveDays: number;
}

export interface FileRequest {
  category: ComplaintCategory;
  text: string;
  conversationId?: string;
  idempotencyKey?: string;
}

export interface ListFilter {
  status?: ComplaintStatus;
  branchId?: string;
  overdue?: boolean;
  limit: number;
}

type StepAction = 'acknowledge' | 'assign' | 'note' | 'resolve' | 'reject';

const shortId = (id: string) => id.slice(0, 8);

export class ComplaintsService {
  constructor(private readonly d: ComplaintsDeps) {}

  // ---------------------------------------------------------------------------------------------
  // Filing

  async file(p: Principal, req: FileRequest, now = new Date()): Promise<{ complaint: ComplaintDetail; duplicate: boolean }> {
    if (p.role !== 'client') throw new QiaoError('QIAO_COMPLAINT_FORBIDDEN', 'Only clients file complaints');
    if (!(COMPLAINT_CATEGORIES as readonly string[]).includes(req.category)) throw new QiaoError('QIAO_BAD_REQUEST', 'Unknown category');
    assertStorable({ text: req.text });
    if (!req.text.trim()) throw new QiaoError('QIAO_BAD_REQUEST', 'text must not be blank');
    const asked = { category: req.category, text: req.text, conversationId: req.conversationId?.toLowerCase() ?? null };
    if (req.idempotencyKey) {
      const prior = await this.byKey(p.id, req.idempotencyKey);
      if (prior) return this.fileAgain(p, prior, asked, now);
    }
    const db = this.d.db;
    const [me] = await db.select({ firmId: users.firmId, branchId: users.branchId }).from(users).where(eq(users.id, p.id));
    if (!me) throw new QiaoError('QIAO_COMPLAINT_FORBIDDEN');
    let brokerId: string | null = null;
    if (req.conversationId !== undefined) {
      const [conv] = isUuid(req.conversationId) ? await db.select().from(conversations).where(eq(conversations.id, req.conversationId)) : [];
      if (!conv || conv.type !== 'broker_client' || conv.clientId !== p.id) throw new QiaoError('QIAO_COMPLAINT_CONVERSATION_INVALID');
      brokerId = conv.brokerId;
    } else {
      const [primary] = await db
        .select({ id: brokerClients.brokerId })
        .from(brokerClients)
        .where(and(eq(brokerClients.clientId, p.id), eq(brokerClients.relation, 'primary')));
      brokerId = primary?.id ?? null;
    }
    let branchId = me.branchId;
    if (!branchId && brokerId) [{ branchId }] = await db.select({ branchId: users.branchId }).from(users).where(eq(users.id, brokerId));
    const id = randomUUID();
    const ackDueAt = new Date(now.getTime() + this.d.ackHours * HOUR_MS);
    const resolveDueAt = new Date(now.getTime() + this.d.resolveDays * DAY_MS);
    const row = {
      id,
      firmId: me.firmId,
      branchId,
      clientId: p.id,
      brokerId,
      conversationId: req.conversationId?.toLowerCase() ?? null,
      category: req.category,
      text: req.text,
      ackDueAt,
      resolveDueAt,
      idempotencyKey: req.idempotencyKey ?? null,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await commitWithNotices(this.d, `filed:${id}`, await this.filedRecipients(row), async (tx) => {
        await tx.insert(complaints).values(row);
        await tx.insert(complaintEvents).values({ complaintId: id, actorId: p.id, action: 'filed', clientVisible: true, at: now });
        return [this.record('complaint.filed', p.id, { ...row, assigneeId: null }, { complaintId: id, ...asked, branchId, brokerId, ackDueAt: ackDueAt.toISOString(), resolveDueAt: resolveDueAt.toISOString() }, now, req.text)];
      });
    } catch (e) {
      if (req.idempotencyKey && isUniqueViolation(e)) {
        const prior = await this.byKey(p.id, req.idempotencyKey);
        if (prior) return this.fileAgain(p, prior, asked, now);
      }
      throw e;
    }
    return { complaint: await this.get(p, id, now), duplicate: false };
  }

  /** A retried filing (same Idempotency-Key): the same request gets the first complaint and any notice still missing. */
  private async fileAgain(p: Principal, prior: ComplaintRow, asked: unknown, now: Date) {
    assertSameRequest({ category: prior.category, text: prior.text, conversationId: prior.conversationId }, asked);
    await sendNotices(this.d, `filed:${prior.id}`, await this.filedRecipients(prior));
    return { complaint: await this.get(p, prior.id, now), duplicate: true };
  }

  private async byKey(clientId: string, key: string): Promise<ComplaintRow | undefined> {
    const [c] = await this.d.db.select().from(complaints).where(and(eq(complaints.clientId, clientId), eq(complaints.idempotencyKey, key)));
    return c;
  }

  /** The client's confirmation first (it carries the filing), then the branch's service desk (else its head, else its managers). */
  private async filedRecipients(c: Pick<ComplaintRow, 'id' | 'clientId' | 'branchId' | 'brokerId' | 'category'>) {
    const title = `投诉 #${shortId(c.id)}（${CATEGORY_ZH[c.category]}）`;
    const toClient: ComplaintNotice = {
      complaintId: c.id,
      status: 'open',
      event: 'filed',
      title: `您的投诉已提交 ${title} · Your complaint was received`,
      body: `我们将在 ${this.d.ackHours} 小时内受理、${this.d.resolveDays} 天内答复。We will acknowledge it within ${this.d.ackHours} hours and reply within ${this.d.resolveDays} days.`,
    };
    const toStaff: ComplaintNotice = { complaintId: c.id, status: 'open', event: 'filed', title: `新投诉 ${title} · New complaint`, body: '请在期限内受理。Please acknowledge it within the deadline.' };
    const staff = (await this.branchHandlers(c.branchId)).filter((id) => id !== c.brokerId);
    return [{ userId: c.clientId, notice: toClient }, ...staff.map((userId) => ({ userId, notice: toStaff }))];
  }

  /** Who receives a branch's new complaints: its service desk, else its head, else its managers. */
  private async branchHandlers(branchId: string | null): Promise<string[]> {
    if (!branchId) return [];
    const db = this.d.db;
    const staff = await db
      .select({ id: users.id, serviceDesk: users.serviceDesk, role: users.role })
      .from(users)
      .where(and(eq(users.branchId, branchId), eq(users.active, true), sql`${users.role} <> 'client'`));
    const desk = staff.filter((u) => u.serviceDesk).map((u) => u.id);
    if (desk.length) return desk;
    const [b] = await db.select({ headId: branches.headId }).from(branches).where(eq(branches.id, branchId));
    if (b?.headId) return [b.headId];
    return staff.filter((u) => u.role === 'manager').map((u) => u.id);
  }

  // ---------------------------------------------------------------------------------------------
  // Reading

  async list(p: Principal, f: ListFilter, now = new Date()): Promise<ComplaintView[]> {
    const a = await loadActor(this.d.db, p);
    const conds: SQL[] = [visibleWhere(a)];
    if (f.status) conds.push(eq(complaints.status, f.status));
    if (f.branchId) conds.push(eq(complaints.branchId, f.branchId));
    if (f.overdue) conds.push(overdueWhere(now));
    const rows = await selectComplaints(this.d.db, and(...conds), f.limit);
    return rows.map((r) => complaintView(r, sightOf(a, r.c), now));
  }

  async get(p: Principal, id: string, now = new Date()): Promise<ComplaintDetail> {
    const a = await loadActor(this.d.db, p);
    const c = await this.load(id);
    const sight = sightOf(a, c);
    return this.detail(a, c, sight, now);
  }

  private async detail(a: ComplaintActor, c: ComplaintRow, sight: Sight, now: Date): Promise<ComplaintDetail> {
    const [r] = await selectComplaints(this.d.db, eq(complaints.id, c.id), 1);
    const handler = sight === 'handler';
    const open = r.c.status === 'open' || r.c.status === 'acknowledged';
    return {
      ...complaintView(r, sight, now),
      events: await eventsOf(this.d.db, c.id, sight),
      can: {
        acknowledge: handler && r.c.status === 'open',
        assign: open && mayAssign(a, r.c),
        note: sight !== 'client',
        resolve: handler && r.c.status === 'acknowledged',
      },
    };
  }

  private async load(id: string): Promise<ComplaintRow> {
    if (!isUuid(id)) throw new QiaoError('QIAO_COMPLAINT_NOT_FOUND');
    const [c] = await this.d.db.select().from(complaints).where(eq(complaints.id, id));
    if (!c) throw new QiaoError('QIAO_COMPLAINT_NOT_FOUND');
    return c;
  }

  /** Staff of the complaint's branch it may be assigned to (handlers: for the assign picker). */
  async assignable(p: Principal, id: string): Promise<Array<{ id: string; displayName: string; role: string }>> {
    const a = await loadActor(this.d.db, p);
    const c = await this.load(id);
    sightOf(a, c);
    if (!mayAssign(a, c) || !c.branchId) return [];
    return this.d.db
      .select({ id: users.id, displayName: users.displayName, role: users.role })
      .from(users)
      .where(and(eq(users.branchId, c.branchId), eq(users.active, true), inArray(users.role, ['broker', 'manager'])))
      .orderBy(users.displayName);
  }

  // ---------------------------------------------------------------------------------------------
  // Steps

  acknowledge(p: Principal, id: string, note: string | undefined, now = new Date()) {
    return this.step(p, id, 'acknowledge', { note: note?.trim() ? note : undefined }, now);
  }
  assign(p: Principal, id: string, assigneeId: string, now = new Date()) {
    return this.step(p, id, 'assign', { assigneeId }, now);
  }
  note(p: Principal, id: string, text: string, now = new Date()) {
    return this.step(p, id, 'note', { note: text }, now);
  }
  resolve(p: Principal, id: string, reply: string, now = new Date()) {
    return this.step(p, id, 'resolve', { reply }, now);
  }
  reject(p: Principal, id: string, reply: string, now = new Date()) {
    return this.step(p, id, 'reject', { reply }, now);
  }

  private async step(p: Principal, id: string, action: StepAction, input: { note?: string; reply?: string; assigneeId?: string }, now: Date): Promise<ComplaintDetail> {
    assertStorable({ note: input.note, reply: input.reply });
    if (input.reply !== undefined && !input.reply.trim()) throw new QiaoError('QIAO_BAD_REQUEST', 'reply must not be blank');
    if (action === 'note' && !input.note?.trim()) throw new QiaoError('QIAO_BAD_REQUEST', 'text must not be blank');
    const a = await loadActor(this.d.db, p);
    const c = await this.load(id);
    const sight = sightOf(a, c);
    const closed = c.status === 'resolved' || c.status === 'rejected';
    // Who may take the step.
    if (action === 'assign' ? !mayAssign(a, c) : action === 'note' ? sight === 'client' : !handles(a, c)) {
      throw new QiaoError('QIAO_COMPLAINT_FORBIDDEN', 'You may read this complaint but not handle it');
    }
    // Whether the status allows it.
    const from: Record<StepAction, ComplaintStatus[]> = {
      acknowledge: ['open'],
      assign: ['open', 'acknowledged'],
      note: ['open', 'acknowledged', 'resolved', 'rejected'],
      resolve: ['acknowledged'],
      reject: ['acknowledged'],
    };
    if (!from[action].includes(c.status)) {
      throw new QiaoError('QIAO_COMPLAINT_TRANSITION_INVALID', closed ? 'The complaint is closed' : `Not possible while the complaint is ${c.status}`, { status: c.status });
    }
    let assignee: { id: string; displayName: string } | undefined;
    if (action === 'assign') assignee = await this.assigneeFor(c, input.assigneeId!);

    const eventId = randomUUID();
    const set: Partial<ComplaintRow> = { updatedAt: now };
    let eventAction: (typeof complaintEvents.$inferInsert)['action'];
    let clientVisible = false;
    let note: string | null = input.note ?? null;
    let notices: Array<{ userId: string; notice: ComplaintNotice }> = [];
    const title = `投诉 #${shortId(c.id)}（${CATEGORY_ZH[c.category]}）`;
    switch (action) {
      case 'acknowledge':
        Object.assign(set, { status: 'acknowledged', acknowledgedAt: now });
        eventAction = 'acknowledged';
        clientVisible = true;
        notices = [
          {
            userId: c.clientId,
            notice: { complaintId: c.id, status: 'acknowledged', event: 'acknowledged', title: `您的投诉已受理 ${title} · Your complaint was acknowledged`, body: note ?? '' },
          },
        ];
        break;
      case 'assign':
        set.assigneeId = assignee!.id;
        eventAction = 'assigned';
        note = assignee!.displayName;
        notices = [{ userId: assignee!.id, notice: { complaintId: c.id, status: c.status, event: 'assigned', title: `投诉已分派给您 ${title} · A complaint was assigned to you` } }];
        break;
      case 'note':
        eventAction = 'note';
        break;
      case 'resolve':
      case 'reject': {
        const status = action === 'resolve' ? 'resolved' : 'rejected';
        Object.assign(set, { status, closedAt: now, reply: input.reply });
        eventAction = status;
        note = input.reply!;
        clientVisible = true;
        const what = action === 'resolve' ? '已处理完毕 · was resolved' : '未予支持 · was not upheld';
        notices = [{ userId: c.clientId, notice: { complaintId: c.id, status, event: status, title: `您的投诉${what} ${title}`, body: input.reply!, reply: input.reply! } }];
        break;
      }
    }
    const inTx = async (tx: Tx): Promise<ArchiveInput[]> => {
      const [u] = await tx
        .update(complaints)
        .set(set)
        .where(and(eq(complaints.id, c.id), eq(complaints.status, c.status), sql`${complaints.assigneeId} is not distinct from ${c.assigneeId}`))
        .returning({ id: complaints.id });
      if (!u) throw new StaleState();
      await tx.insert(complaintEvents).values({ id: eventId, complaintId: c.id, actorId: p.id, action: eventAction, note, clientVisible, at: now });
      return [
        this.record(`complaint.${eventAction}`, p.id, c, { complaintId: c.id, eventId, from: c.status, to: set.status ?? c.status, note, ...(assignee ? { assigneeId: assignee.id } : {}) }, now, note ?? ''),
      ];
    };
    try {
      await commitWithNotices(this.d, `${eventAction}:${eventId}`, notices, inTx);
    } catch (e) {
      if (e instanceof StaleState || (isQiaoError(e) && e.code === 'QIAO_CONFLICT')) {
        throw new QiaoError('QIAO_COMPLAINT_TRANSITION_INVALID', 'The complaint was changed at the same time by someone else; reload it');
      }
      throw e;
    }
    return this.detail(a, await this.load(c.id), sight, now);
  }

  /** An active broker or manager of the complaint's branch. */
  private async assigneeFor(c: ComplaintRow, assigneeId: string): Promise<{ id: string; displayName: string }> {
    const [u] = isUuid(assigneeId) ? await this.d.db.select().from(users).where(eq(users.id, assigneeId)) : [];
    if (!u || u.firmId !== c.firmId) throw new QiaoError('QIAO_USER_NOT_FOUND');
    if (!u.active || (u.role !== 'broker' && u.role !== 'manager') || u.branchId !== c.branchId) {
      throw new QiaoError('QIAO_USER_INVALID', 'A complaint is assigned to an active broker or manager of its branch');
    }
    return { id: u.id, displayName: u.displayName };
  }

  /** The archive record of a step: subjects are the client, the broker it is about and the assignee. */
  record(kind: string, actorId: string, c: Pick<ComplaintRow, 'clientId' | 'brokerId' | 'assigneeId' | 'conversationId'>, body: Record<string, unknown>, at: Date, text: string): ArchiveInput {
    return {
      kind,
      actorId,
      subjects: [c.clientId, ...(c.brokerId ? [c.brokerId] : []), ...(c.assigneeId ? [c.assigneeId] : [])],
      conversationId: c.conversationId,
      retentionClass: 'complaints',
      body,
      text,
      recordedAt: at,
    };
  }
}
