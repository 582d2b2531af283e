/**
 * Team tasks through the real API of an embedded hub: who may send them to whom, the recipients' state
 * machine (idempotent, out-of-order requests), overdue, the archive, and the manager's live progress
 * feed over a socket — including a reconnect with `since` that recovers what was missed, once.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { MsgPush } from '../../src/gateway/protocol.ts';
import { archiveRecords, taskAssignments, tasks } from '../../src/store/schema/index.ts';
import type { PublicUser } from '../../src/store/users-repo.ts';
import { addBroker, archived, assignmentOf, dbOf, historyOf, teamId } from '../helpers/advisory.ts';
import { SioTestClient, WsTestClient, isMsg, sleep, startEmbeddedApp, type TestApp } from '../helpers/app.ts';

type Login = { token: string; user: PublicUser };
const inHours = (h: number) => new Date(Date.now() + h * 3600_000).toISOString();

describe('team tasks (embedded hub)', () => {
  let t: TestApp;
  const u: Record<string, Login> = {};
  const tok = (l: string) => u[l].token;
  const id = (l: string) => u[l].user.id;
  let teamA: string;
  let teamB: string;

  beforeAll(async () => {
    t = await startEmbeddedApp();
    const db = dbOf(t);
    await addBroker(db, 'broker3', '赵经纪', 'SH-A');
    teamA = await teamId(db, 'SH-A');
    teamB = await teamId(db, 'BJ-B');
    for (const l of ['broker1', 'broker2', 'broker3', 'manager1', 'client1', 'research1', 'compliance1', 'admin']) u[l] = await t.login(l);
  });
  afterAll(async () => {
    await t?.close();
  });

  const create = (token: string, body: unknown, headers: Record<string, string> = {}) => t.request('POST', '/api/tasks', { token, json: body, headers });
  const act = (login: string, taskId: string, action: string, body: unknown = {}) => t.request('POST', `/api/tasks/${taskId}/${action}`, { token: tok(login), json: body });
  const progress = (login: string, taskId: string) => t.request('GET', `/api/tasks/${taskId}/progress`, { token: tok(login) });
  const task = (extra: Record<string, unknown> = {}) => ({ title: '季度客户回访', detail: '请在周五前完成名下客户的电话回访并记录。', dueAt: inHours(48), teamIds: [teamA], ...extra });
  const newTask = async (extra: Record<string, unknown> = {}) => {
    const r = await create(tok('manager1'), task(extra));
    expect(r.status, r.text).toBe(201);
    return r.body.task.id as string;
  };

  describe('sending', () => {
    it('lists the teams and brokers a manager may send to', async () => {
      const r = await t.request('GET', '/api/tasks/recipients', { token: tok('manager1') });
      expect(r.status).toBe(200);
      // Their own team and the other teams of their branch (the demo's service desk team SH-SVC).
      const svcTeam = await teamId(dbOf(t), 'SH-SVC');
      expect(r.body.teams.map((x: { id: string }) => x.id).sort()).toEqual([teamA, svcTeam].sort());
      expect(r.body.brokers.map((b: { id: string }) => b.id).sort()).toEqual([id('broker1'), id('broker3')].sort());
      const admin = await t.request('GET', '/api/tasks/recipients', { token: tok('admin') });
      expect(admin.body.teams.map((x: { id: string }) => x.id).sort()).toEqual([teamA, teamB, svcTeam].sort());
      for (const l of ['broker1', 'client1', 'research1', 'compliance1']) {
        expect((await t.request('GET', '/api/tasks/recipients', { token: tok(l) })).body.error.code, l).toBe('QIAO_FORBIDDEN');
      }
    });

    it('creates one assignment per broker (team and named broker overlap), notifies each broker and the manager, archives it', async () => {
      const db = dbOf(t);
      const r = await create(tok('manager1'), task({ brokerIds: [id('broker1')] }));
      expect(r.status, r.text).toBe(201);
      const taskId = r.body.task.id;
      expect(r.body.task).toMatchObject({ managerId: id('manager1'), managerName: '张经理', title: '季度客户回访' });
      expect(r.body.assignments.map((a: { brokerId: string; state: string }) => [a.brokerId, a.state]).sort()).toEqual(
        [
          [id('broker1'), 'delivered'],
          [id('broker3'), 'delivered'],
        ].sort(),
      );
      for (const b of ['broker1', 'broker3']) {
        const inbox = await historyOf(t, `inbox.${id(b)}`, tok(b));
        expect(inbox.filter((m) => m.kind === 'task' && m.payload.taskId === taskId)).toHaveLength(1);
        const feed = await historyOf(t, `tasks.${id(b)}`, tok(b));
        expect(feed.filter((m) => m.kind === 'task.assigned' && m.payload.taskId === taskId)).toHaveLength(1);
      }
      const managerFeed = await historyOf(t, `tasks.${id('manager1')}`, tok('manager1'));
      expect(managerFeed.filter((m) => m.kind === 'task.created' && m.payload.taskId === taskId)).toHaveLength(1);
      const [rec] = await archived(db, 'task.created', 'taskId', taskId);
      expect(rec).toMatchObject({ retentionClass: 'tasks', actorId: id('manager1') });
      expect(rec.subjects).toEqual(expect.arrayContaining([id('manager1'), id('broker1'), id('broker3')]));
    });

    it('a retried create with the same Idempotency-Key returns the same task, with no second notice', async () => {
      const db = dbOf(t);
      const body = task({ title: '重试任务' });
      const a = await create(tok('manager1'), body, { 'idempotency-key': 'task-retry-1' });
      const b = await create(tok('manager1'), body, { 'idempotency-key': 'task-retry-1' });
      expect(a.status).toBe(201);
      expect(b.status).toBe(200);
      expect(b.body).toMatchObject({ duplicate: true, task: { id: a.body.task.id } });
      expect((await db.select().from(tasks).where(eq(tasks.title, '重试任务'))).length).toBe(1);
      const inbox = await historyOf(t, `inbox.${id('broker1')}`, tok('broker1'));
      expect(inbox.filter((m) => m.payload.taskId === a.body.task.id)).toHaveLength(1);
    });

    it('authorisation: only managers (own teams and branch) and admin send tasks', async () => {
      for (const l of ['broker1', 'client1', 'research1', 'compliance1']) {
        const r = await create(tok(l), task());
        expect(r.status, l).toBe(403);
        expect(r.body.error.code).toBe('QIAO_FORBIDDEN');
      }
      const otherTeam = await create(tok('manager1'), task({ teamIds: [teamB] }));
      expect(otherTeam.body.error).toMatchObject({ code: 'QIAO_FORBIDDEN', details: { teamIds: [teamB] } });
      const otherBroker = await create(tok('manager1'), task({ teamIds: undefined, brokerIds: [id('broker2')] }));
      expect(otherBroker.body.error).toMatchObject({ code: 'QIAO_FORBIDDEN', details: { brokerIds: [id('broker2')] } });
      for (const notBroker of [id('client1'), id('research1'), '00000000-0000-4000-8000-000000000000']) {
        const r = await create(tok('manager1'), task({ teamIds: undefined, brokerIds: [notBroker] }));
        expect(r.status).toBe(422);
        expect(r.body.error.code).toBe('QIAO_TASK_RECIPIENT_INVALID');
      }
      const unknownTeam = await create(tok('manager1'), task({ teamIds: ['00000000-0000-4000-8000-000000000000'] }));
      expect(unknownTeam.body.error.code).toBe('QIAO_TASK_RECIPIENT_INVALID');
      const admin = await create(tok('admin'), task({ teamIds: [teamB] }));
      expect(admin.status, admin.text).toBe(201);
      expect(admin.body.assignments.map((a: { brokerId: string }) => a.brokerId)).toEqual([id('broker2')]);
    });

    it.each([
      ['an empty title', { title: '' }, 'QIAO_BAD_REQUEST'],
      ['a 201-character title', { title: 'x'.repeat(201) }, 'QIAO_BAD_REQUEST'],
      ['a 4001-character detail', { detail: 'x'.repeat(4001) }, 'QIAO_BAD_REQUEST'],
      ['a title with NUL', { title: 'a\u0000b' }, 'QIAO_BAD_REQUEST'],
      ['a due time that is not ISO', { dueAt: '明天下午' }, 'QIAO_BAD_REQUEST'],
      ['a due time as a number', { dueAt: Date.now() + 3600_000 }, 'QIAO_BAD_REQUEST'],
      ['a due time in the past', { dueAt: new Date(Date.now() - 60_000).toISOString() }, 'QIAO_TASK_DUE_INVALID'],
      ['a due time two years ahead', { dueAt: inHours(24 * 730) }, 'QIAO_TASK_DUE_INVALID'],
      ['no recipients', { teamIds: undefined }, 'QIAO_BAD_REQUEST'],
      ['an empty team list', { teamIds: [] }, 'QIAO_BAD_REQUEST'],
      ['a team id that is not a UUID', { teamIds: ['SH-A'] }, 'QIAO_BAD_REQUEST'],
      ['a duplicated broker', { brokerIds: ['00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000001'] }, 'QIAO_BAD_REQUEST'],
      ['an unknown field', { priority: 'high' }, 'QIAO_BAD_REQUEST'],
      ['a prohibited term', { detail: '告诉客户本产品保本' }, 'QIAO_DLP_BLOCKED'],
    ])('%s → %s, nothing stored', async (_label, patch, code) => {
      const db = dbOf(t);
      const before = (await db.select().from(tasks)).length;
      const r = await create(tok('manager1'), task(patch));
      expect(r.body.error?.code, r.text).toBe(code);
      expect((await db.select().from(tasks)).length).toBe(before);
    });

    it('malformed JSON and a missing token get stable codes', async () => {
      expect((await t.request('POST', '/api/tasks', { token: tok('manager1'), raw: '{"title":' })).body.error.code).toBe('QIAO_BAD_JSON');
      expect((await t.request('POST', '/api/tasks', { json: task() })).body.error.code).toBe('QIAO_AUTH_REQUIRED');
    });
  });

  describe('the recipient state machine', () => {
    it('delivered → read → accepted → done (with a note), each change persisted, archived and on the manager feed', async () => {
      const db = dbOf(t);
      const taskId = await newTask();
      const early = await act('broker1', taskId, 'done', { note: '已完成' });
      expect(early.status).toBe(409);
      expect(early.body.error.code).toBe('QIAO_TASK_TRANSITION_INVALID');

      const read = await act('broker1', taskId, 'read');
      expect(read.status, read.text).toBe(200);
      expect(read.body).toMatchObject({ changed: true, assignment: { state: 'read', overdue: false } });
      expect(read.body.assignment.readAt).toBeTruthy();
      const readAgain = await act('broker1', taskId, 'read');
      expect(readAgain.body).toMatchObject({ changed: false, assignment: { state: 'read' } });

      const accept = await act('broker1', taskId, 'accept');
      expect(accept.body).toMatchObject({ changed: true, assignment: { state: 'accepted' } });
      // A late `read` (e.g. a retry queued before the accept) changes nothing.
      const late = await act('broker1', taskId, 'read');
      expect(late.body).toMatchObject({ changed: false, assignment: { state: 'accepted' } });

      const noNote = await act('broker1', taskId, 'done', {});
      expect(noNote.body.error.code).toBe('QIAO_BAD_REQUEST');
      const done = await act('broker1', taskId, 'done', { note: '已回访 12 位客户' });
      expect(done.body).toMatchObject({ changed: true, assignment: { state: 'done', note: '已回访 12 位客户' } });
      const doneAgain = await act('broker1', taskId, 'done', { note: '另一个备注' });
      expect(doneAgain.body).toMatchObject({ changed: false, assignment: { state: 'done', note: '已回访 12 位客户' } });
      expect((await act('broker1', taskId, 'accept')).body).toMatchObject({ changed: false, assignment: { state: 'done' } });

      const a = await assignmentOf(db, taskId, id('broker1'));
      expect(a).toMatchObject({ state: 'done', note: '已回访 12 位客户' });
      expect(a.readAt!.getTime()).toBeLessThanOrEqual(a.acceptedAt!.getTime());
      expect(a.acceptedAt!.getTime()).toBeLessThanOrEqual(a.doneAt!.getTime());
      const states = (await archived(db, 'task.state', 'taskId', taskId)).map((r) => (r.body as { to: string }).to);
      expect(states).toEqual(['read', 'accepted', 'done']);
      const feed = (await historyOf(t, `tasks.${id('manager1')}`, tok('manager1'))).filter((m) => m.kind === 'task.progress' && m.payload.taskId === taskId);
      expect(feed.map((m) => [m.payload.brokerId, m.payload.state])).toEqual([
        [id('broker1'), 'read'],
        [id('broker1'), 'accepted'],
        [id('broker1'), 'done'],
      ]);
      expect(feed[2].payload.note).toBe('已回访 12 位客户');
    });

    it('a POST without a body is an empty body', async () => {
      const taskId = await newTask();
      const r = await t.request('POST', `/api/tasks/${taskId}/read`, { token: tok('broker3') });
      expect(r.status, r.text).toBe(200);
      expect(r.body).toMatchObject({ changed: true, assignment: { state: 'read' } });
    });

    it('accept implies read', async () => {
      const taskId = await newTask();
      const r = await act('broker3', taskId, 'accept');
      expect(r.body).toMatchObject({ changed: true, assignment: { state: 'accepted' } });
      expect(r.body.assignment.readAt).toBe(r.body.assignment.acceptedAt);
    });

    it('concurrent identical requests (a reconnecting client retrying) change the state once', async () => {
      const db = dbOf(t);
      const taskId = await newTask();
      const results = await Promise.all(Array.from({ length: 6 }, () => act('broker1', taskId, 'accept')));
      expect(results.every((r) => r.status === 200)).toBe(true);
      expect(results.filter((r) => r.body.changed)).toHaveLength(1);
      expect((await assignmentOf(db, taskId, id('broker1'))).state).toBe('accepted');
      const feed = (await historyOf(t, `tasks.${id('manager1')}`, tok('manager1'))).filter((m) => m.kind === 'task.progress' && m.payload.taskId === taskId);
      expect(feed).toHaveLength(1);
      expect((await archived(db, 'task.state', 'taskId', taskId)).length).toBe(1);
    });

    it('only the brokers it was sent to update a task', async () => {
      const taskId = await newTask();
      for (const l of ['broker2', 'client1', 'research1', 'manager1', 'compliance1', 'admin']) {
        const r = await act(l, taskId, 'read');
        expect(r.status, l).toBe(403);
        expect(r.body.error.code).toBe('QIAO_FORBIDDEN');
      }
      expect((await act('broker1', '00000000-0000-4000-8000-000000000000', 'read')).body.error.code).toBe('QIAO_NOT_FOUND');
      expect((await act('broker1', 'not-a-task', 'read')).body.error.code).toBe('QIAO_BAD_REQUEST');
      expect((await act('broker1', taskId, 'read', { note: 'x' })).body.error.code).toBe('QIAO_BAD_REQUEST');
      expect((await act('broker1', taskId, 'done', { note: '' })).body.error.code).toBe('QIAO_BAD_REQUEST');
      expect((await act('broker1', taskId, 'finish')).body.error.code).toBe('QIAO_NOT_FOUND');
      expect((await assignmentOf(dbOf(t), taskId, id('broker1'))).state).toBe('delivered');
    });
  });

  describe('progress and overdue', () => {
    it("the manager (and compliance, admin) see each recipient's state; others may not", async () => {
      const taskId = await newTask();
      await act('broker1', taskId, 'read');
      const p = await progress('manager1', taskId);
      expect(p.status, p.text).toBe(200);
      expect(p.body.feed).toMatchObject({ channel: `tasks.${id('manager1')}` });
      expect(p.body.counts).toMatchObject({ delivered: 1, read: 1, accepted: 0, done: 0, overdue: 0, total: 2 });
      for (const l of ['compliance1', 'admin']) expect((await progress(l, taskId)).status, l).toBe(200);
      for (const l of ['broker1', 'broker2', 'client1', 'research1']) expect((await progress(l, taskId)).body.error.code, l).toBe('QIAO_FORBIDDEN');
      const adminTask = await create(tok('admin'), task({ teamIds: [teamB] }));
      expect((await progress('manager1', adminTask.body.task.id)).body.error.code).toBe('QIAO_FORBIDDEN');
    });

    it('overdue is derived: due passed and not done', async () => {
      const db = dbOf(t);
      const taskId = await newTask({ title: '逾期任务' });
      await act('broker1', taskId, 'accept');
      await act('broker1', taskId, 'done', { note: '按时完成' });
      await db.update(tasks).set({ dueAt: new Date(Date.now() - 3600_000) }).where(eq(tasks.id, taskId));
      const p = await progress('manager1', taskId);
      const by = new Map(p.body.assignments.map((a: { brokerId: string }) => [a.brokerId, a]));
      expect(by.get(id('broker1'))).toMatchObject({ state: 'done', overdue: false });
      expect(by.get(id('broker3'))).toMatchObject({ state: 'delivered', overdue: true });
      expect(p.body.counts).toMatchObject({ overdue: 1, done: 1 });
      const mine = await t.request('GET', '/api/tasks?mine=1', { token: tok('broker3') });
      expect(mine.body.role).toBe('broker');
      expect(mine.body.tasks.find((x: { id: string }) => x.id === taskId).assignment).toMatchObject({ state: 'delivered', overdue: true });
      const managed = await t.request('GET', '/api/tasks', { token: tok('manager1') });
      expect(managed.body.role).toBe('manager');
      expect(managed.body.tasks.find((x: { id: string }) => x.id === taskId).counts).toMatchObject({ overdue: 1, done: 1, total: 2 });
      // Still allowed to finish late; then no longer overdue.
      await act('broker3', taskId, 'accept');
      const late = await act('broker3', taskId, 'done', { note: '延迟完成' });
      expect(late.body.assignment).toMatchObject({ state: 'done', overdue: false });
    });

    it('task lists: brokers see theirs, managers theirs, compliance all; clients none', async () => {
      const b2 = await t.request('GET', '/api/tasks', { token: tok('broker2') });
      expect(b2.body.tasks.every((x: { assignment: { brokerId: string } }) => x.assignment.brokerId === id('broker2'))).toBe(true);
      const m = await t.request('GET', '/api/tasks', { token: tok('manager1') });
      expect(m.body.tasks.every((x: { managerId: string }) => x.managerId === id('manager1'))).toBe(true);
      const all = await t.request('GET', '/api/tasks?mine=false', { token: tok('compliance1') });
      expect(new Set(all.body.tasks.map((x: { managerId: string }) => x.managerId))).toEqual(new Set([id('manager1'), id('admin')]));
      expect((await t.request('GET', '/api/tasks', { token: tok('client1') })).body.error.code).toBe('QIAO_FORBIDDEN');
      expect((await t.request('GET', '/api/tasks?mine=maybe', { token: tok('manager1') })).body.error.code).toBe('QIAO_BAD_REQUEST');
    });
  });

  describe('live progress', () => {
    it('only the feed owner (and compliance, admin) may subscribe to a task feed', async () => {
      const feed = `tasks.${id('manager1')}`;
      for (const l of ['broker1', 'client1', 'research1']) {
        const ws = await WsTestClient.connect(t.wsUrl, tok(l));
        const r = await ws.subscribe(feed);
        expect(r.ok, l).toBe(false);
        if (!r.ok) expect(r.error.code).toBe('QIAO_SUBSCRIBE_FORBIDDEN');
        await ws.close();
      }
      const c = await WsTestClient.connect(t.wsUrl, tok('compliance1'));
      expect((await c.subscribe(feed)).ok).toBe(true);
      await c.close();
      expect((await t.request('GET', `/api/channels/${feed}/history`, { token: tok('broker1') })).body.error.code).toBe('QIAO_SUBSCRIBE_FORBIDDEN');
    });

    it('the manager sees changes live, and after a reconnect gets exactly what it missed, once', async () => {
      const taskId = await newTask({ title: '实时进度' });
      const p = await progress('manager1', taskId);
      const feed = p.body.feed.channel as string;
      const forTask = (m: MsgPush) => m.kind === 'task.progress' && (m.payload as { taskId: string }).taskId === taskId;

      const s1 = await SioTestClient.connect(t.baseUrl, tok('manager1'));
      expect((await s1.subscribe(feed, p.body.feed.topOffset)).ok).toBe(true);
      await act('broker1', taskId, 'read');
      await act('broker3', taskId, 'read');
      const live = (await s1.msgs(feed, 2)).filter(forTask);
      expect(live.map((m) => [(m.payload as { brokerId: string }).brokerId, (m.payload as { state: string }).state])).toEqual([
        [id('broker1'), 'read'],
        [id('broker3'), 'read'],
      ]);
      const lastSeen = live[1].offset;
      s1.close();

      // While the manager is away: two changes, and retries that change nothing.
      await act('broker1', taskId, 'accept');
      await act('broker1', taskId, 'accept');
      await act('broker3', taskId, 'accept');
      await act('broker1', taskId, 'read');

      const s2 = await SioTestClient.connect(t.baseUrl, tok('manager1'));
      const sub = await s2.subscribe(feed, lastSeen);
      expect(sub).toMatchObject({ ok: true, result: { recovered: true } });
      const missed = await s2.msgs(feed, 2);
      expect(missed.map((m) => [(m.payload as { brokerId: string }).brokerId, (m.payload as { state: string }).state])).toEqual([
        [id('broker1'), 'accepted'],
        [id('broker3'), 'accepted'],
      ]);
      expect(missed.map((m) => m.offset)).toEqual([lastSeen + 1, lastSeen + 2]);
      await act('broker1', taskId, 'done', { note: '完成' });
      const [done] = await s2.msgs(feed, 1);
      expect(done.payload).toMatchObject({ brokerId: id('broker1'), state: 'done', note: '完成' });
      await sleep(100);
      expect(s2.pushes.peek(isMsg(feed))).toEqual([]);
      s2.close();

      // The stored state agrees with the feed.
      const after = await progress('manager1', taskId);
      expect(after.body.counts).toMatchObject({ accepted: 1, done: 1 });
      const db = dbOf(t);
      expect((await db.select().from(taskAssignments).where(eq(taskAssignments.taskId, taskId))).length).toBe(2);
      expect((await db.select().from(archiveRecords).where(eq(archiveRecords.kind, 'task.state'))).length).toBeGreaterThan(0);
    });
  });

  describe('Idempotency-Key: one key, one request', () => {
    const key = (name: string) => ({ 'idempotency-key': `${name}-${Math.random().toString(36).slice(2)}` });
    const stored = async () => {
      const db = dbOf(t);
      return { tasks: (await db.select().from(tasks)).length, assignments: (await db.select().from(taskAssignments)).length };
    };
    const noticesOf = async (login: string) => (await historyOf(t, `inbox.${id(login)}`, tok(login))).filter((m) => m.kind === 'task').length;
    /** The same instant written with a +08:00 offset. */
    const inShanghai = (iso: string) => {
      const d = new Date(Date.parse(iso) + 8 * 3600_000);
      return `${d.toISOString().slice(0, 23)}+08:00`;
    };

    it('the same body (ids in another order, the due time with another offset) returns the first task; nothing new is stored or sent', async () => {
      const h = key('same');
      const dueAt = inHours(30);
      const body = task({ title: '同键同体', dueAt, teamIds: [teamA], brokerIds: [id('broker3'), id('broker1')] });
      const first = await create(tok('manager1'), body, h);
      expect(first.status, first.text).toBe(201);
      const before = { ...(await stored()), b1: await noticesOf('broker1') };
      const again = await create(
        tok('manager1'),
        { brokerIds: [id('broker1').toUpperCase(), id('broker3')], dueAt: inShanghai(dueAt), teamIds: [teamA], detail: body.detail, title: body.title },
        h,
      );
      expect(again.status, again.text).toBe(200);
      expect(again.body).toMatchObject({ duplicate: true, task: { id: first.body.task.id, dueAt: first.body.task.dueAt } });
      expect(again.body.assignments.map((a: { brokerId: string }) => a.brokerId).sort()).toEqual(first.body.assignments.map((a: { brokerId: string }) => a.brokerId).sort());
      expect(await stored()).toEqual({ tasks: before.tasks, assignments: before.assignments });
      expect(await noticesOf('broker1')).toBe(before.b1);
    });

    type Body = Record<string, unknown> & { dueAt: string };
    it.each<[string, (b: Body) => Record<string, unknown>]>([
      ['another title', (b) => ({ ...b, title: '另一个标题' })],
      ['another detail', (b) => ({ ...b, detail: '另一段说明' })],
      ['a detail with a trailing space', (b) => ({ ...b, detail: `${b.detail} ` })],
      ['another due time (one minute later)', (b) => ({ ...b, dueAt: new Date(Date.parse(b.dueAt) + 60_000).toISOString() })],
      ['another team', (b) => ({ ...b, teamIds: [teamB] })],
      ['the team and another one', (b) => ({ ...b, teamIds: [teamA, teamB] })],
      ['named brokers instead of the team (the same recipients)', ({ teamIds: _t, ...b }) => ({ ...b, brokerIds: [id('broker1'), id('broker3')] })],
      ['the team plus a named broker already in it', (b) => ({ ...b, brokerIds: [id('broker1')] })],
    ])('the same key with %s → 409 QIAO_IDEMPOTENCY_MISMATCH; nothing stored or sent', async (_label, change) => {
      const h = key('diff');
      const body = task({ title: '同键异体', dueAt: inHours(40) }) as Body;
      const first = await create(tok('manager1'), body, h);
      expect(first.status, first.text).toBe(201);
      const before = { ...(await stored()), b1: await noticesOf('broker1'), b3: await noticesOf('broker3') };
      const r = await create(tok('manager1'), change(body), h);
      expect(r.status, r.text).toBe(409);
      expect(r.body.error.code).toBe('QIAO_IDEMPOTENCY_MISMATCH');
      expect(await stored()).toEqual({ tasks: before.tasks, assignments: before.assignments });
      expect([await noticesOf('broker1'), await noticesOf('broker3')]).toEqual([before.b1, before.b3]);
      // The first request, retried with its key, still answers with the first task.
      const same = await create(tok('manager1'), body, h);
      expect(same.status, same.text).toBe(200);
      expect(same.body).toMatchObject({ duplicate: true, task: { id: first.body.task.id } });
    });

    it('named brokers are compared as named: the same key without one of them is refused', async () => {
      const h = key('named');
      const body = task({ title: '点名', teamIds: undefined, brokerIds: [id('broker1'), id('broker3')] });
      expect((await create(tok('manager1'), body, h)).status).toBe(201);
      const before = await stored();
      const r = await create(tok('manager1'), { ...body, brokerIds: [id('broker1')] }, h);
      expect(r.status, r.text).toBe(409);
      expect(r.body.error.code).toBe('QIAO_IDEMPOTENCY_MISMATCH');
      expect(await stored()).toEqual(before);
    });

    it('concurrent requests with one key and different bodies: one task is created, the other request is refused', async () => {
      const h = key('race');
      const before = await stored();
      const bodies = [task({ title: '并发甲' }), task({ title: '并发乙' }), task({ title: '并发甲' })];
      const rs = await Promise.all(bodies.map((b) => create(tok('manager1'), b, h)));
      const created = rs.filter((r) => r.status === 201);
      expect(created, rs.map((r) => r.text).join('\n')).toHaveLength(1);
      const title = created[0].body.task.title as string;
      rs.forEach((r, i) => {
        if (r.status === 201) return;
        if (bodies[i].title === title) expect(r.body, r.text).toMatchObject({ duplicate: true, task: { id: created[0].body.task.id } });
        else expect(r.body.error?.code, r.text).toBe('QIAO_IDEMPOTENCY_MISMATCH');
      });
      expect((await stored()).tasks).toBe(before.tasks + 1);
      expect((await dbOf(t).select().from(tasks).where(eq(tasks.title, title === '并发甲' ? '并发乙' : '并发甲'))).length).toBe(0);
    });

    it('the race path: a task committed after the first look (unique key) is compared too', async () => {
      const svc = t.app.qiao.advisory.tasks;
      const h = key('race-path');
      const body = task({ title: '竞态路径' });
      const first = await create(tok('manager1'), body, h);
      expect(first.status, first.text).toBe(201);
      const before = { ...(await stored()), b1: await noticesOf('broker1') };
      // The first look misses the task, as when the two requests run at the same time on two nodes.
      const spy = vi.spyOn(svc as unknown as { byKey: () => Promise<unknown> }, 'byKey');
      try {
        spy.mockResolvedValueOnce(undefined);
        const other = await create(tok('manager1'), { ...body, title: '竞态路径（改）' }, h);
        expect(other.status, other.text).toBe(409);
        expect(other.body.error.code).toBe('QIAO_IDEMPOTENCY_MISMATCH');
        spy.mockResolvedValueOnce(undefined);
        const same = await create(tok('manager1'), body, h);
        expect(same.status, same.text).toBe(200);
        expect(same.body).toMatchObject({ duplicate: true, task: { id: first.body.task.id } });
        expect(spy).toHaveBeenCalledTimes(4);
      } finally {
        spy.mockRestore();
      }
      expect({ ...(await stored()), b1: await noticesOf('broker1') }).toEqual(before);
    });

    it('a task recorded before named brokers were archived: a retry is still compared with its recipients', async () => {
      const db = dbOf(t);
      const createdAt = new Date(Date.now() - 60_000);
      const dueAt = new Date(Date.now() + 48 * 3600_000);
      const [legacy] = await db
        .insert(tasks)
        .values({ managerId: id('manager1'), title: '旧任务', detail: '旧说明', dueAt, idempotencyKey: 'legacy-task-1', createdAt })
        .returning();
      await db.insert(taskAssignments).values({ taskId: legacy.id, brokerId: id('broker1'), state: 'delivered', deliveredAt: createdAt, updatedAt: createdAt });
      await t.app.qiao.archive.append({
        kind: 'task.created',
        actorId: id('manager1'),
        subjects: [id('manager1'), id('broker1')],
        retentionClass: 'tasks',
        body: { taskId: legacy.id, managerId: id('manager1'), title: '旧任务', detail: '旧说明', dueAt: dueAt.toISOString(), teamIds: [], brokerIds: [id('broker1')] },
        recordedAt: createdAt,
      });
      const h = { 'idempotency-key': 'legacy-task-1' };
      const body = { title: '旧任务', detail: '旧说明', dueAt: dueAt.toISOString(), brokerIds: [id('broker1')] };
      const before = await stored();
      for (const changed of [{ ...body, brokerIds: [id('broker1'), id('broker3')] }, { ...body, brokerIds: [id('broker3')] }, { ...body, brokerIds: undefined, teamIds: [teamA] }]) {
        const r = await create(tok('manager1'), changed, h);
        expect(r.body.error?.code, JSON.stringify(changed)).toBe('QIAO_IDEMPOTENCY_MISMATCH');
      }
      expect(await stored()).toEqual(before);
      const same = await create(tok('manager1'), body, h);
      expect(same.status, same.text).toBe(200);
      expect(same.body).toMatchObject({ duplicate: true, task: { id: legacy.id } });
      expect(await stored()).toEqual(before);
    });

    // Last: it adds a broker to team SH-A.
    it('a team that gained a broker since does not make an identical retry different', async () => {
      const h = key('team-change');
      const body = task({ title: '团队变动' });
      const first = await create(tok('manager1'), body, h);
      expect(first.status, first.text).toBe(201);
      expect(first.body.assignments).toHaveLength(2);
      const newcomer = await addBroker(dbOf(t), 'broker4', '钱经纪', 'SH-A');
      const before = await stored();
      const again = await create(tok('manager1'), body, h);
      expect(again.status, again.text).toBe(200);
      expect(again.body).toMatchObject({ duplicate: true, task: { id: first.body.task.id } });
      expect(again.body.assignments.map((a: { brokerId: string }) => a.brokerId)).not.toContain(newcomer);
      expect(await stored()).toEqual(before);
    });
  });
});
