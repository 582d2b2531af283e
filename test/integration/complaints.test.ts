/**
 * Complaints (投诉处理) on two hub nodes sharing one Postgres and Redis: the admin settings they rest
 * on (service desk flag, branch head), filing and routing, who sees what, the status machine and its
 * codes, two concurrent steps, the overdue escalation happening once across nodes, the archive chain,
 * and the yearly report's numbers (JSON, CSV, xlsx) against a hand count.
 */
import ExcelJS from 'exceljs';
import { parse } from 'csv-parse/sync';
import { and, eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/principal.ts';
import { verifyArchive } from '../../src/compliance/verify.ts';
import { archiveRecords, branches, complaintEvents, complaints, conversations, messages } from '../../src/store/schema/index.ts';
import type { PublicUser } from '../../src/store/users-repo.ts';
import { addBroker, archived, dbOf, historyOf } from '../helpers/advisory.ts';
import { startServicesNodes, type TestApp } from '../helpers/app.ts';

type Login = { token: string; user: PublicUser };
const HOUR = 3_600_000;
const LOGINS = ['client1', 'client2', 'client3', 'inst1', 'broker1', 'broker2', 'broker3', 'manager1', 'manager2', 'service1', 'research1', 'compliance1', 'admin'];

describe('complaints (two nodes, Postgres)', () => {
  let nodes: { nodes: TestApp[]; close(): Promise<void> };
  let a: TestApp;
  let b: TestApp;
  const u: Record<string, Login> = {};
  const tok = (l: string) => u[l].token;
  const id = (l: string) => u[l].user.id;
  const principal = (l: string): Principal => ({ id: id(l), role: u[l].user.role, displayName: u[l].user.displayName });
  let shBranch: string;
  let conv1: string;

  beforeAll(async () => {
    // Sweeps only when the test runs them (a timer would escalate the back-dated complaints on its own).
    nodes = await startServicesNodes(2, { QIAO_SERVICE_SWEEP_MS: '86400000' });
    [a, b] = nodes.nodes;
    const db = dbOf(a);
    await addBroker(db, 'broker3', '赵经纪', 'SH-A');
    for (const l of LOGINS) u[l] = await a.login(l);
    [{ id: shBranch }] = await db.select({ id: branches.id }).from(branches).where(eq(branches.code, 'SH-LJZ'));
    [{ id: conv1 }] = await db
      .select({ id: conversations.id })
      .from(conversations)
      .where(and(eq(conversations.clientId, id('client1')), eq(conversations.brokerId, id('broker1')), eq(conversations.type, 'broker_client')));
  }, 120_000);
  afterAll(async () => {
    await nodes?.close();
  });

  const file = (login: string, body: unknown, headers: Record<string, string> = {}, node = a) => node.request('POST', '/api/complaints', { token: tok(login), json: body, headers });
  const get = (login: string, cid: string, node = a) => node.request('GET', `/api/complaints/${cid}`, { token: tok(login) });
  const list = async (login: string, q = '') => {
    const r = await a.request('GET', `/api/complaints${q}`, { token: tok(login) });
    expect(r.status, r.text).toBe(200);
    return r.body.complaints as Array<{ id: string; status: string; overdue: string | null }>;
  };
  const step = (login: string, cid: string, action: string, body: unknown = {}, node = a) => node.request('POST', `/api/complaints/${cid}/${action}`, { token: tok(login), json: body });
  const newComplaint = async (login = 'client1', body: Record<string, unknown> = { category: 'service', text: '经纪人多次未回复我的问题。' }) => {
    const r = await file(login, body);
    expect(r.status, r.text).toBe(201);
    return r.body.id as string;
  };
  const complaintNotices = async (login: string, cid: string) => (await historyOf(a, `inbox.${id(login)}`, tok(login))).filter((m) => m.kind === 'complaint' && m.payload.complaintId === cid);

  describe('admin settings', () => {
    it('sets a staff user’s service-desk flag (archived), refuses it for a client', async () => {
      const on = await a.request('PATCH', `/api/admin/users/${id('manager2')}`, { token: tok('admin'), json: { serviceDesk: true } });
      expect(on.status, on.text).toBe(200);
      expect(on.body.serviceDesk).toBe(true);
      const off = await a.request('PATCH', `/api/admin/users/${id('manager2')}`, { token: tok('admin'), json: { serviceDesk: false } });
      expect(off.body.serviceDesk).toBe(false);
      const recs = await archived(dbOf(a), 'user.service-desk', 'target', id('manager2'));
      expect(recs.map((r) => (r.body as { after: { serviceDesk: boolean } }).after.serviceDesk)).toEqual([true, false]);
      const client = await a.request('PATCH', `/api/admin/users/${id('client1')}`, { token: tok('admin'), json: { serviceDesk: true } });
      expect(client.body.error.code).toBe('QIAO_USER_INVALID');
      const byManager = await a.request('PATCH', `/api/admin/users/${id('manager2')}`, { token: tok('manager1'), json: { serviceDesk: true } });
      expect(byManager.body.error.code).toBe('QIAO_FORBIDDEN');
      expect((await a.request('GET', `/api/admin/users/${id('service1')}`, { token: tok('admin') })).body.serviceDesk).toBe(true);
    });

    it('names a branch head: a manager of that branch only', async () => {
      const patch = (headId: unknown) => a.request('PATCH', `/api/admin/branches/${shBranch}`, { token: tok('admin'), json: { headId } });
      expect((await patch(id('broker1'))).body.error.code).toBe('QIAO_USER_INVALID');
      expect((await patch(id('manager2'))).body.error.code).toBe('QIAO_USER_INVALID');
      expect((await patch(id('client1'))).body.error.code).toBe('QIAO_USER_INVALID');
      expect((await patch('00000000-0000-4000-8000-000000000000')).body.error.code).toBe('QIAO_USER_NOT_FOUND');
      // The demo seed names manager1; clear it, then name them again (both changes are archived).
      expect((await patch(null)).body.headId).toBeNull();
      const ok = await patch(id('manager1'));
      expect(ok.status, ok.text).toBe(200);
      expect(ok.body.headId).toBe(id('manager1'));
      const org = await a.request('GET', '/api/admin/org', { token: tok('compliance1') });
      expect(org.body.branches.find((x: { id: string }) => x.id === shBranch).headId).toBe(id('manager1'));
      const recs = await archived(dbOf(a), 'org.branch.head', 'target', shBranch);
      expect(recs.map((r) => (r.body as { after: { headId: string | null } }).after.headId)).toEqual([null, id('manager1')]);
    });
  });

  describe('filing', () => {
    it('routes a complaint about a conversation to the branch service desk, with deadlines, an event, an archive record and notices', async () => {
      const before = Date.now();
      const r = await file('client1', { category: 'service', text: '王经纪答应回电但一直没有回复。', conversationId: conv1 });
      expect(r.status, r.text).toBe(201);
      const c = r.body;
      expect(c).toMatchObject({ status: 'open', category: 'service', branchId: shBranch, conversationId: conv1, brokerId: null, escalationLevel: 0, overdue: null });
      const created = Date.parse(c.createdAt);
      expect(created).toBeGreaterThanOrEqual(before - 1000);
      expect(Date.parse(c.ackDueAt) - created).toBe(24 * HOUR);
      expect(Date.parse(c.resolveDueAt) - created).toBe(15 * 24 * HOUR);
      expect(c.events.map((e: { action: string }) => e.action)).toEqual(['filed']);
      const [row] = await dbOf(a).select().from(complaints).where(eq(complaints.id, c.id));
      expect(row.brokerId).toBe(id('broker1'));
      const [rec] = await archived(dbOf(a), 'complaint.filed', 'complaintId', c.id);
      expect(rec).toMatchObject({ retentionClass: 'complaints', actorId: id('client1') });
      expect(rec.subjects).toContain(id('broker1'));
      expect(await complaintNotices('client1', c.id)).toHaveLength(1);
      expect(await complaintNotices('service1', c.id)).toHaveLength(1);
      // Not the broker it is about, nor staff of another branch.
      expect(await complaintNotices('broker1', c.id)).toHaveLength(0);
      expect(await complaintNotices('manager2', c.id)).toHaveLength(0);
    });

    it('without a conversation it is about the primary broker; the client’s branch decides the routing', async () => {
      const cid = await newComplaint('inst1', { category: 'fees', text: '佣金收取与合同不符。' });
      const [row] = await dbOf(a).select().from(complaints).where(eq(complaints.id, cid));
      expect(row.brokerId).toBe(id('broker2'));
      const [bj] = await dbOf(a).select({ id: branches.id }).from(branches).where(eq(branches.code, 'BJ-JRJ'));
      expect(row.branchId).toBe(bj.id);
      // BJ-JRJ has no service desk and no head: its managers are told.
      expect(await complaintNotices('manager2', cid)).toHaveLength(1);
    });

    it('an Idempotency-Key returns the first complaint for the same body and refuses another body', async () => {
      const body = { category: 'trading', text: '委托单长时间未成交。' };
      const first = await file('client2', body, { 'idempotency-key': 'cmp-1' });
      expect(first.status, first.text).toBe(201);
      const again = await file('client2', body, { 'idempotency-key': 'cmp-1' }, b);
      expect(again.status).toBe(200);
      expect(again.body.id).toBe(first.body.id);
      expect(await dbOf(a).select().from(complaints).where(and(eq(complaints.clientId, id('client2')), eq(complaints.idempotencyKey, 'cmp-1')))).toHaveLength(1);
      expect(await complaintNotices('service1', first.body.id)).toHaveLength(1);
      const other = await file('client2', { ...body, text: '另一件事' }, { 'idempotency-key': 'cmp-1' });
      expect(other.status).toBe(409);
      expect(other.body.error.code).toBe('QIAO_IDEMPOTENCY_MISMATCH');
    });

    it('refuses bad input with stable codes and writes nothing', async () => {
      const db = dbOf(a);
      const count = async () => (await db.select({ id: complaints.id }).from(complaints)).length;
      const n = await count();
      const cases: Array<[string, string, unknown, number, string]> = [
        ['another client’s conversation', 'client2', { category: 'service', text: 'x', conversationId: conv1 }, 422, 'QIAO_COMPLAINT_CONVERSATION_INVALID'],
        ['an unknown conversation', 'client1', { category: 'service', text: 'x', conversationId: '00000000-0000-4000-8000-000000000000' }, 422, 'QIAO_COMPLAINT_CONVERSATION_INVALID'],
        ['a malformed conversation id', 'client1', { category: 'service', text: 'x', conversationId: 'abc' }, 422, 'QIAO_COMPLAINT_CONVERSATION_INVALID'],
        ['an unknown category', 'client1', { category: 'weather', text: 'x' }, 400, 'QIAO_BAD_REQUEST'],
        ['an empty text', 'client1', { category: 'service', text: '' }, 400, 'QIAO_BAD_REQUEST'],
        ['a blank text', 'client1', { category: 'service', text: '   ' }, 400, 'QIAO_BAD_REQUEST'],
        ['a text over 2000 characters', 'client1', { category: 'service', text: '长'.repeat(2001) }, 400, 'QIAO_BAD_REQUEST'],
        ['a NUL character', 'client1', { category: 'service', text: 'a\u0000b' }, 400, 'QIAO_BAD_REQUEST'],
        ['an extra field', 'client1', { category: 'service', text: 'x', brokerId: id('broker1') }, 400, 'QIAO_BAD_REQUEST'],
        ['a staff member', 'broker1', { category: 'service', text: 'x' }, 403, 'QIAO_COMPLAINT_FORBIDDEN'],
        ['compliance', 'compliance1', { category: 'service', text: 'x' }, 403, 'QIAO_COMPLAINT_FORBIDDEN'],
      ];
      for (const [what, login, body, status, code] of cases) {
        const r = await file(login, body);
        expect([r.status, r.body?.error?.code], what).toEqual([status, code]);
      }
      expect((await a.request('POST', '/api/complaints', { json: { category: 'service', text: 'x' } })).status).toBe(401);
      expect(await count()).toBe(n);
    });
  });

  describe('visibility', () => {
    let cid: string;
    beforeAll(async () => {
      const r = await file('client1', { category: 'advice', text: '推荐的产品风险与我的等级不符。', conversationId: conv1 });
      cid = r.body.id;
    });

    it('the client, the branch’s service desk, head and managers, compliance and admin see it; the broker it is about and others do not', async () => {
      const sees = ['client1', 'service1', 'manager1', 'compliance1', 'admin'];
      const refused = ['client2', 'broker1', 'broker3', 'broker2', 'manager2', 'research1'];
      for (const l of sees) expect((await get(l, cid)).status, l).toBe(200);
      for (const l of refused) expect((await get(l, cid)).body.error.code, l).toBe('QIAO_COMPLAINT_FORBIDDEN');
      for (const l of sees) expect((await list(l)).map((c) => c.id), l).toContain(cid);
      for (const l of refused) expect((await list(l)).map((c) => c.id), l).not.toContain(cid);
      // The client's view names no broker.
      const mine = await get('client1', cid);
      expect(mine.body.brokerId).toBeNull();
      expect((await get('service1', cid)).body.brokerId).toBe(id('broker1'));
      expect((await get('client1', '00000000-0000-4000-8000-000000000000')).body.error.code).toBe('QIAO_COMPLAINT_NOT_FOUND');
      expect((await get('client1', 'not-a-uuid')).body.error.code).toBe('QIAO_BAD_REQUEST');
    });

    it('the broker it is about sees it once a manager assigns it, and not before; another branch’s staff cannot be assigned', async () => {
      expect((await step('broker1', cid, 'assign', { assigneeId: id('broker1') })).body.error.code).toBe('QIAO_COMPLAINT_FORBIDDEN');
      expect((await step('manager1', cid, 'assign', { assigneeId: id('manager2') })).body.error.code).toBe('QIAO_USER_INVALID');
      expect((await step('manager1', cid, 'assign', { assigneeId: id('client1') })).body.error.code).toBe('QIAO_USER_INVALID');
      expect((await step('compliance1', cid, 'assign', { assigneeId: id('broker1') })).body.error.code).toBe('QIAO_COMPLAINT_FORBIDDEN');
      const staff = await a.request('GET', `/api/complaints/${cid}/assignable`, { token: tok('manager1') });
      expect(staff.body.staff.map((s: { id: string }) => s.id)).toEqual(expect.arrayContaining([id('broker1'), id('broker3'), id('manager1'), id('service1')]));
      expect(staff.body.staff.map((s: { id: string }) => s.id)).not.toContain(id('broker2'));
      const r = await step('manager1', cid, 'assign', { assigneeId: id('broker1') });
      expect(r.status, r.text).toBe(200);
      expect(r.body.assigneeId).toBe(id('broker1'));
      expect((await get('broker1', cid)).status).toBe(200);
      expect((await list('broker1')).map((c) => c.id)).toContain(cid);
      expect(await complaintNotices('broker1', cid)).toHaveLength(1);
      // The assignee handles it but does not hand it on.
      expect((await step('broker1', cid, 'assign', { assigneeId: id('broker3') })).body.error.code).toBe('QIAO_COMPLAINT_FORBIDDEN');
      const ack = await step('broker1', cid, 'acknowledge', { note: '已联系客户核实。' });
      expect(ack.status, ack.text).toBe(200);
    });
  });

  describe('steps', () => {
    it('open → acknowledged → resolved with a reply the client sees; internal notes stay internal; wrong steps get stable codes', async () => {
      const cid = await newComplaint('client3');
      expect((await step('service1', cid, 'resolve', { reply: '已处理' })).body.error.code).toBe('QIAO_COMPLAINT_TRANSITION_INVALID');
      expect((await step('service1', cid, 'reject', { reply: '不予支持' })).body.error.code).toBe('QIAO_COMPLAINT_TRANSITION_INVALID');
      expect((await step('compliance1', cid, 'acknowledge')).body.error.code).toBe('QIAO_COMPLAINT_FORBIDDEN');
      expect((await step('client3', cid, 'acknowledge')).body.error.code).toBe('QIAO_COMPLAINT_FORBIDDEN');
      expect((await step('client3', cid, 'note', { text: 'x' })).body.error.code).toBe('QIAO_COMPLAINT_FORBIDDEN');
      const ack = await step('service1', cid, 'acknowledge', { note: '您好，已受理，我们会尽快核实。' });
      expect(ack.status, ack.text).toBe(200);
      expect(ack.body.status).toBe('acknowledged');
      expect((await step('manager1', cid, 'acknowledge')).body.error.code).toBe('QIAO_COMPLAINT_TRANSITION_INVALID');
      expect((await step('service1', cid, 'note', { text: '' })).body.error.code).toBe('QIAO_BAD_REQUEST');
      expect((await step('service1', cid, 'resolve', {})).body.error.code).toBe('QIAO_BAD_REQUEST');
      const note = await step('compliance1', cid, 'note', { text: '合规关注：请留存通话记录。' });
      expect(note.status, note.text).toBe(200);
      const done = await step('service1', cid, 'resolve', { reply: '经核实，已为您调整服务经纪人，并致歉。' });
      expect(done.status, done.text).toBe(200);
      expect(done.body).toMatchObject({ status: 'resolved', reply: '经核实，已为您调整服务经纪人，并致歉。' });
      for (const [action, body] of [
        ['acknowledge', {}],
        ['resolve', { reply: 'x' }],
        ['reject', { reply: 'x' }],
        ['assign', { assigneeId: id('broker3') }],
      ] as const) {
        expect((await step('service1', cid, action, body)).body.error.code, action).toBe('QIAO_COMPLAINT_TRANSITION_INVALID');
      }
      const client = await get('client3', cid);
      expect(client.body.reply).toBe('经核实，已为您调整服务经纪人，并致歉。');
      expect(client.body.events.map((e: { action: string }) => e.action)).toEqual(['filed', 'acknowledged', 'resolved']);
      expect(client.body.events[1].note).toBe('您好，已受理，我们会尽快核实。');
      const staff = await get('service1', cid);
      expect(staff.body.events.map((e: { action: string }) => e.action)).toEqual(['filed', 'acknowledged', 'note', 'resolved']);
      const notices = await complaintNotices('client3', cid);
      expect(notices.map((m) => m.payload.event)).toEqual(['filed', 'acknowledged', 'resolved']);
      expect(notices[2].payload.reply).toBe('经核实，已为您调整服务经纪人，并致歉。');
      const recs = await dbOf(a).select().from(archiveRecords).where(inArray(archiveRecords.kind, ['complaint.filed', 'complaint.acknowledged', 'complaint.note', 'complaint.resolved'])).orderBy(archiveRecords.seq);
      expect(recs.filter((r) => (r.body as { complaintId?: string }).complaintId === cid).map((r) => r.kind)).toEqual(['complaint.filed', 'complaint.acknowledged', 'complaint.note', 'complaint.resolved']);
      expect(recs.every((r) => r.retentionClass === 'complaints')).toBe(true);
    });

    it('two concurrent steps on two nodes: exactly one wins', async () => {
      const cid = await newComplaint('client3', { category: 'system', text: 'App 登录后闪退。' });
      const acks = await Promise.all([step('service1', cid, 'acknowledge', {}, a), step('manager1', cid, 'acknowledge', {}, b)]);
      expect(acks.map((r) => r.status).sort()).toEqual([200, 409]);
      expect(acks.find((r) => r.status === 409)!.body.error.code).toBe('QIAO_COMPLAINT_TRANSITION_INVALID');
      const ends = await Promise.all([step('service1', cid, 'resolve', { reply: '已修复' }, a), step('manager1', cid, 'reject', { reply: '无法复现' }, b)]);
      expect(ends.map((r) => r.status).sort()).toEqual([200, 409]);
      const winner = ends.find((r) => r.status === 200)!.body.status;
      const events = await dbOf(a).select().from(complaintEvents).where(eq(complaintEvents.complaintId, cid));
      expect(events.filter((e) => e.action === 'acknowledged')).toHaveLength(1);
      expect(events.filter((e) => e.action === 'resolved' || e.action === 'rejected').map((e) => e.action)).toEqual([winner]);
      const notices = await complaintNotices('client3', cid);
      expect(notices.map((m) => m.payload.event)).toEqual(['filed', 'acknowledged', winner]);
    });
  });

  describe('escalation', () => {
    it('escalates an overdue complaint once per deadline across two nodes, to the branch head and compliance', async () => {
      const cid = await newComplaint('client1', { category: 'service', text: '无人受理。' });
      const acked = await newComplaint('client2', { category: 'fees', text: '费用不明。' });
      expect((await step('service1', acked, 'acknowledge')).status).toBe(200);
      const [row] = await dbOf(a).select().from(complaints).where(eq(complaints.id, cid));
      const afterAck = new Date(row.ackDueAt.getTime() + 60_000);
      // Not yet due: nothing happens.
      await Promise.all([a.app.qiao.sweeper!.runOnce(new Date(row.ackDueAt.getTime() - 60_000)), b.app.qiao.sweeper!.runOnce(new Date(row.ackDueAt.getTime() - 60_000))]);
      expect((await dbOf(a).select().from(complaints).where(eq(complaints.id, cid)))[0].escalationLevel).toBe(0);
      await Promise.all([a.app.qiao.sweeper!.runOnce(afterAck), b.app.qiao.sweeper!.runOnce(afterAck)]);
      await a.app.qiao.sweeper!.runOnce(afterAck);
      const level = async (x: string) => (await dbOf(a).select().from(complaints).where(eq(complaints.id, x)))[0].escalationLevel;
      expect(await level(cid)).toBe(1);
      // Acknowledged in time: the acknowledgement deadline does not apply.
      expect(await level(acked)).toBe(0);
      const escalations = async (x: string) => (await dbOf(a).select().from(complaintEvents).where(and(eq(complaintEvents.complaintId, x), eq(complaintEvents.action, 'escalated')))).map((e) => e.note);
      expect(await escalations(cid)).toEqual(['ack_overdue']);
      expect((await archived(dbOf(a), 'complaint.escalated', 'complaintId', cid)).map((r) => (r.body as { level: number }).level)).toEqual([1]);
      for (const l of ['manager1', 'compliance1']) {
        expect((await complaintNotices(l, cid)).filter((m) => m.payload.event === 'escalated'), l).toHaveLength(1);
      }
      expect((await complaintNotices('broker1', cid)).filter((m) => m.payload.event === 'escalated')).toHaveLength(0);
      expect((await get('service1', cid)).body.escalationLevel).toBe(1);
      // Escalation is the firm's business: the client's view does not show it.
      expect((await get('client1', cid)).body.escalationLevel).toBe(0);

      const afterResolve = new Date(row.resolveDueAt.getTime() + 60_000);
      await Promise.all([a.app.qiao.sweeper!.runOnce(afterResolve), b.app.qiao.sweeper!.runOnce(afterResolve)]);
      await b.app.qiao.sweeper!.runOnce(afterResolve);
      expect(await level(cid)).toBe(2);
      expect(await level(acked)).toBe(2);
      expect(await escalations(cid)).toEqual(['ack_overdue', 'resolve_overdue']);
      expect(await escalations(acked)).toEqual(['resolve_overdue']);
      expect((await complaintNotices('compliance1', cid)).filter((m) => m.payload.event === 'escalated')).toHaveLength(2);
      // Each notice stored once (no duplicate messages under the same key).
      const keys = (await dbOf(a).select({ k: messages.idempotencyKey }).from(messages).where(eq(messages.senderId, 'complaint-desk'))).map((m) => m.k);
      expect(new Set(keys).size).toBe(keys.length);
    });

    it('the archive chain verifies after every step', async () => {
      const report = await verifyArchive(dbOf(a));
      expect(report.problems).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.checked).toBeGreaterThan(10);
    });
  });

  describe('yearly report', () => {
    const Y = 2024;
    const at = (iso: string, plusH = 0) => new Date(Date.parse(iso) + plusH * HOUR);
    beforeAll(async () => {
      const svc = a.app.qiao.complaints!;
      const desk = principal('service1');
      const mk = async (login: string, category: 'service' | 'fees' | 'trading' | 'privacy' | 'other', filedAt: Date) => (await svc.file(principal(login), { category, text: `${Y} ${category}` }, filedAt)).complaint.id;
      // K1: acknowledged after 2 h, resolved after 50 h.
      const k1 = await mk('client1', 'service', at('2024-03-01T02:00:00Z'));
      await svc.acknowledge(desk, k1, undefined, at('2024-03-01T02:00:00Z', 2));
      await svc.resolve(desk, k1, '已解决', at('2024-03-01T02:00:00Z', 50));
      // K2: acknowledged after 30 h (late), rejected after 240 h.
      const k2 = await mk('client2', 'fees', at('2024-05-10T00:00:00Z'));
      await svc.acknowledge(desk, k2, undefined, at('2024-05-10T00:00:00Z', 30));
      await svc.reject(desk, k2, '不予支持', at('2024-05-10T00:00:00Z', 240));
      // K3: filed at the year's end, resolved in the next year (open at year end).
      const k3 = await mk('client3', 'service', at('2024-12-30T00:00:00Z'));
      await svc.acknowledge(desk, k3, undefined, at('2024-12-30T00:00:00Z', 4));
      await svc.resolve(desk, k3, '已解决', at('2024-12-30T00:00:00Z', 144));
      // K4: BJ-JRJ, never acknowledged (both deadlines missed, still open).
      await mk('inst1', 'trading', at('2024-07-01T00:00:00Z'));
      // K5: 2024-01-01 00:30 in Shanghai (still 2023 in UTC): counted; resolved after 480 h (late).
      const k5 = await mk('client1', 'privacy', at('2023-12-31T16:30:00Z'));
      await svc.acknowledge(desk, k5, undefined, at('2023-12-31T16:30:00Z', 1));
      await svc.resolve(desk, k5, '已解决', at('2023-12-31T16:30:00Z', 480));
      // 2023-12-31 23:00 in Shanghai: not counted.
      await mk('client2', 'other', at('2023-12-31T15:00:00Z'));
    });

    const expectedTotals = { filed: 5, resolved: 3, rejected: 1, stillOpen: 1, openAtYearEnd: 2, ackAvgH: 9.3, ackMedianH: 3, handleAvgH: 228.5, handleMedianH: 192, ackOverdue: 2, resolveOverdue: 2 };

    it('counts by category, branch and outcome with handling times, computed in Postgres (JSON)', async () => {
      const r = await a.request('GET', `/api/complaints/report?year=${Y}`, { token: tok('compliance1') });
      expect(r.status, r.text).toBe(200);
      expect(r.body.totals).toEqual(expectedTotals);
      const cat = (c: string) => r.body.byCategory.find((x: { category: string }) => x.category === c);
      expect(r.body.byCategory).toHaveLength(7);
      expect(cat('service')).toMatchObject({ filed: 2, resolved: 2, openAtYearEnd: 1, ackAvgH: 3, ackMedianH: 3, handleAvgH: 97, handleMedianH: 97, ackOverdue: 0 });
      expect(cat('fees')).toMatchObject({ filed: 1, rejected: 1, ackOverdue: 1, resolveOverdue: 0, handleAvgH: 240 });
      expect(cat('trading')).toMatchObject({ filed: 1, stillOpen: 1, openAtYearEnd: 1, ackAvgH: null, ackOverdue: 1, resolveOverdue: 1 });
      expect(cat('privacy')).toMatchObject({ filed: 1, resolved: 1, resolveOverdue: 1 });
      expect(cat('advice')).toMatchObject({ filed: 0, ackAvgH: null });
      expect(cat('other').filed).toBe(0);
      const br = (code: string) => r.body.byBranch.find((x: { branchCode: string }) => x.branchCode === code);
      expect(br('SH-LJZ')).toMatchObject({ filed: 4, resolved: 3, rejected: 1, stillOpen: 0, openAtYearEnd: 1 });
      expect(br('BJ-JRJ')).toMatchObject({ filed: 1, stillOpen: 1, openAtYearEnd: 1 });
      expect(r.body.byOutcome).toEqual([
        { outcome: 'resolved', outcomeName: '已解决', count: 3 },
        { outcome: 'rejected', outcomeName: '已驳回', count: 1 },
        { outcome: 'open', outcomeName: '未结', count: 1 },
      ]);
      const empty = await a.request('GET', '/api/complaints/report?year=2019', { token: tok('admin') });
      expect(empty.body.totals).toMatchObject({ filed: 0, ackAvgH: null });
    });

    it('the CSV (UTF-8 with BOM) has the same numbers', async () => {
      const r = await a.request('GET', `/api/complaints/report?year=${Y}&format=csv`, { token: tok('compliance1') });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toContain('text/csv');
      expect(r.headers.get('content-disposition')).toContain(`complaints-${Y}.csv`);
      const raw = Buffer.from(await (await fetch(`${a.baseUrl}/api/complaints/report?year=${Y}&format=csv`, { headers: { authorization: `Bearer ${tok('compliance1')}` } })).arrayBuffer());
      expect([...raw.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
      const rows: string[][] = parse(raw, { bom: true, relax_column_count: true, skip_empty_lines: true });
      const after = (title: string) => rows.slice(rows.findIndex((x) => x[0] === `【${title}】`) + 2);
      const summary = new Map(after('汇总').map((x) => [x[0], x[1]]));
      expect(summary.get('投诉数')).toBe('5');
      expect(summary.get('平均受理时长（小时）')).toBe('9.3');
      expect(summary.get('办结时长中位数（小时）')).toBe('192');
      expect(summary.get('年末未结')).toBe('2');
      const header = rows[rows.findIndex((x) => x[0] === '【按类别】') + 1];
      expect(header.slice(0, 3)).toEqual(['类别代码', '类别', '投诉数']);
      const service = after('按类别').find((x) => x[0] === 'service')!;
      expect(Number(service[header.indexOf('投诉数')])).toBe(2);
      expect(Number(service[header.indexOf('平均办结时长（小时）')])).toBe(97);
      const bj = after('按营业部').find((x) => x[0] === 'BJ-JRJ')!;
      expect(Number(bj[2])).toBe(1);
      expect(after('按结果').slice(0, 3).map((x) => [x[0], x[2]])).toEqual([
        ['resolved', '3'],
        ['rejected', '1'],
        ['open', '1'],
      ]);
    });

    it('the xlsx has one sheet per table with Chinese headers and the same numbers', async () => {
      const res = await fetch(`${a.baseUrl}/api/complaints/report?year=${Y}&format=xlsx`, { headers: { authorization: `Bearer ${tok('admin')}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('spreadsheetml');
      const wb = new ExcelJS.Workbook();
      await wb.xlsx.load(await res.arrayBuffer());
      expect(wb.worksheets.map((w) => w.name)).toEqual(['汇总', '按类别', '按营业部', '按结果']);
      const values = (name: string) => {
        const out: unknown[][] = [];
        wb.getWorksheet(name)!.eachRow((row) => out.push((row.values as unknown[]).slice(1)));
        return out;
      };
      const summary = new Map(values('汇总').map((x) => [x[0], x[1]]));
      expect(summary.get('年度')).toBe(Y);
      expect(summary.get('投诉数')).toBe(5);
      expect(summary.get('受理时长中位数（小时）')).toBe(3);
      expect(summary.get('平均办结时长（小时）')).toBe(228.5);
      expect(summary.get('受理逾期数')).toBe(2);
      const byCat = values('按类别');
      expect(byCat[0].slice(0, 3)).toEqual(['类别代码', '类别', '投诉数']);
      expect(byCat.find((x) => x[0] === 'fees')!.slice(0, 5)).toEqual(['fees', '收费', 1, 0, 1]);
      const byBranch = values('按营业部');
      expect(byBranch.find((x) => x[0] === 'SH-LJZ')![2]).toBe(4);
      expect(values('按结果').slice(1).map((x) => x[2])).toEqual([3, 1, 1]);
    });

    it('refuses a bad year and anyone but compliance and admin', async () => {
      for (const y of ['1999', String(new Date().getUTCFullYear() + 2), 'abcd', '20245', '']) {
        const r = await a.request('GET', `/api/complaints/report?year=${y}&format=csv`, { token: tok('compliance1') });
        expect([r.status, r.body?.error?.code], y).toEqual([400, 'QIAO_COMPLAINT_REPORT_YEAR_INVALID']);
      }
      expect((await a.request('GET', `/api/complaints/report?year=${Y}&format=pdf`, { token: tok('compliance1') })).body.error.code).toBe('QIAO_BAD_REQUEST');
      for (const l of ['manager1', 'service1', 'broker1', 'client1']) {
        expect((await a.request('GET', `/api/complaints/report?year=${Y}`, { token: tok(l) })).body.error.code, l).toBe('QIAO_COMPLAINT_FORBIDDEN');
      }
    });
  });
});
