/**
 * Recommendations, approvals and team tasks across two hub nodes sharing one real Postgres database and
 * one Redis prefix: a broker acts on one node while the client, the manager or compliance use the
 * other; concurrent requests on both nodes are decided once (suitability counting, approvals, task
 * transitions); a manager who reconnects to the other node recovers the progress it missed, once.
 *
 * Needs Postgres and Redis: skips loudly when they are unreachable, fails under QIAO_REQUIRE_SERVICES=1.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MsgPush } from '../../src/gateway/protocol.ts';
import { approvals } from '../../src/store/schema/index.ts';
import type { PublicUser } from '../../src/store/users-repo.ts';
import { addBroker, addClients, dbOf, historyOf, recsOf, setRisk, teamId, today } from '../helpers/advisory.ts';
import { SioTestClient, TEST_REDIS_URL, WsTestClient, isMsg, sleep, startServicesNodes, type TestApp } from '../helpers/app.ts';
import { TEST_DATABASE_URL } from '../helpers/pg.ts';
import { gateService, postgresAvailable, redisAvailable } from '../helpers/services.ts';

const pgUp = await gateService('Postgres', TEST_DATABASE_URL, postgresAvailable);
const redisUp = await gateService('Redis', TEST_REDIS_URL, redisAvailable);

type Login = { token: string; user: PublicUser };
const inHours = (h: number) => new Date(Date.now() + h * 3600_000).toISOString();

describe.skipIf(!(pgUp && redisUp))('recommendations and tasks on two nodes (Postgres + Redis)', () => {
  let cluster: Awaited<ReturnType<typeof startServicesNodes>>;
  let a: TestApp;
  let b: TestApp;
  const u: Record<string, Login> = {};
  const tok = (l: string) => u[l].token;
  const id = (l: string) => u[l].user.id;

  beforeAll(async () => {
    cluster = await startServicesNodes(2);
    [a, b] = cluster.nodes;
    await addBroker(dbOf(a), 'broker3', '赵经纪', 'SH-A');
    for (const l of ['broker1', 'broker3', 'client1', 'client3', 'compliance1', 'admin', 'manager1']) u[l] = await (l.length % 2 ? a : b).login(l);
  }, 60_000);
  afterAll(async () => {
    await cluster?.close();
  });

  const rec = (clientIds: string[], productRisk: string, security: string) => ({ clientIds, security, productRisk, rationale: '估值合理，分红稳定。' });

  it('a recommendation made on node A reaches the client on node B; a refusal reaches nobody and is recorded', async () => {
    const db = dbOf(b);
    await setRisk(db, id('client1'), { level: 'C3', assessedOn: today() });
    await setRisk(db, id('client3'), { level: 'C1', assessedOn: today() });
    const c1 = await SioTestClient.connect(b.baseUrl, tok('client1'));
    const c3 = await WsTestClient.connect(b.wsUrl, tok('client3'));
    try {
      expect((await c1.subscribe(`inbox.${id('client1')}`)).ok).toBe(true);
      expect((await c3.subscribe(`inbox.${id('client3')}`)).ok).toBe(true);
      const r = await a.request('POST', '/api/recommendations', { token: tok('broker1'), json: rec([id('client1'), id('client3')], 'R3', '600900.SH') });
      expect(r.status, r.text).toBe(200);
      const [m] = await c1.msgs(`inbox.${id('client1')}`, 1);
      expect(m).toMatchObject({ kind: 'recommendation', payload: { security: '600900.SH', riskLevel: 'R3' } });
      await sleep(200);
      expect(c3.frames.peek(isMsg(`inbox.${id('client3')}`))).toEqual([]);
      const [refused] = await recsOf(db, id('client3'), '600900.SH');
      expect(refused).toMatchObject({ status: 'refused', refusalCode: 'QIAO_SUITABILITY_MISMATCH', clientRiskLevel: 'C1', productRisk: 'R3', brokerId: id('broker1') });
      const single = await b.request('POST', '/api/recommendations', { token: tok('broker1'), json: rec([id('client3')], 'R2', '600900.SH') });
      expect(single.status).toBe(422);
      expect(single.body.error.code).toBe('QIAO_SUITABILITY_MISMATCH');
    } finally {
      c1.close();
      await c3.close();
    }
  });

  it('concurrent batches on both nodes count each other: 13 + 13 clients → exactly one waits for approval; approving on the other node delivers it', async () => {
    const db = dbOf(a);
    const clients = await addClients(db, id('broker1'), 26, { level: 'C4' });
    const SEC = 'QZ-FUND-888';
    const [ra, rb] = await Promise.all([
      a.request('POST', '/api/recommendations', { token: tok('broker1'), json: rec(clients.slice(0, 13), 'R3', SEC) }),
      b.request('POST', '/api/recommendations', { token: tok('broker1'), json: rec(clients.slice(13), 'R3', SEC) }),
    ]);
    expect([ra.status, rb.status].sort()).toEqual([200, 202]);
    const pending = ra.status === 202 ? ra : rb;
    expect(pending.body.counts.pending_approval).toBe(13);
    const approve = await (pending === ra ? b : a).request('POST', `/api/approvals/${pending.body.approvalId}/approve`, { token: tok('compliance1'), json: { note: 'ok' } });
    expect(approve.status, approve.text).toBe(200);
    expect(approve.body.batch.counts.delivered).toBe(13);
    for (const c of clients) expect((await recsOf(db, c, SEC))[0].status).toBe('delivered');
  });

  it('a firm broadcast approved on both nodes at once is delivered exactly once', async () => {
    const listener = await SioTestClient.connect(a.baseUrl, tok('client1'));
    try {
      expect((await listener.subscribe('firm.broadcast')).ok).toBe(true);
      const req = await a.request('POST', '/api/channels/firm.broadcast/publications', { token: tok('admin'), json: { kind: 'notice', payload: { title: '年终结算安排' } } });
      expect(req.status, req.text).toBe(202);
      const approvalId = req.body.approvalId;
      const decisions = await Promise.all(
        [a, b].map((n) => n.request('POST', `/api/approvals/${approvalId}/approve`, { token: tok('compliance1'), json: {} })),
      );
      expect(decisions.map((d) => d.status).sort()).toEqual([200, 409]);
      expect(decisions.find((d) => d.status === 409)!.body.error.code).toBe('QIAO_APPROVAL_NOT_PENDING');
      const [m] = await listener.msgs('firm.broadcast', 1);
      expect(m.payload).toMatchObject({ title: '年终结算安排' });
      await sleep(300);
      expect(listener.pushes.peek(isMsg('firm.broadcast'))).toEqual([]);
      const [row] = await dbOf(b).select().from(approvals).where(eq(approvals.id, approvalId));
      expect(row).toMatchObject({ status: 'approved', decidedBy: id('compliance1'), messageId: m.id });
      expect(await historyOf(b, 'firm.broadcast', tok('client1'))).toHaveLength(1);
    } finally {
      listener.close();
    }
  });

  it('task progress: live across nodes, concurrent transitions decided once, and recovery on the other node after a reconnect', async () => {
    const team = await teamId(dbOf(a), 'SH-A');
    // The retry is the same request: the same due time, not one computed again a moment later.
    const dueAt = inHours(24);
    const created = await a.request('POST', '/api/tasks', {
      token: tok('manager1'),
      json: { title: '两融风险排查', detail: '核对名下两融客户维持担保比例。', dueAt, teamIds: [team] },
      headers: { 'idempotency-key': 'pg-task-1' },
    });
    expect(created.status, created.text).toBe(201);
    const retried = await b.request('POST', '/api/tasks', {
      token: tok('manager1'),
      json: { title: '两融风险排查', detail: '核对名下两融客户维持担保比例。', dueAt, teamIds: [team] },
      headers: { 'idempotency-key': 'pg-task-1' },
    });
    expect(retried.body).toMatchObject({ duplicate: true, task: { id: created.body.task.id } });
    const taskId = created.body.task.id as string;
    const act = (n: TestApp, who: string, action: string, body: unknown = {}) => n.request('POST', `/api/tasks/${taskId}/${action}`, { token: tok(who), json: body });
    const prog = await b.request('GET', `/api/tasks/${taskId}/progress`, { token: tok('manager1') });
    const feed = prog.body.feed.channel as string;
    const states = (ms: MsgPush[]) => ms.map((m) => [(m.payload as { brokerId: string }).brokerId, (m.payload as { state: string }).state]);

    const m1 = await SioTestClient.connect(b.baseUrl, tok('manager1'));
    expect((await m1.subscribe(feed, prog.body.feed.topOffset)).ok).toBe(true);
    // The same accept on both nodes at once changes the state once.
    const both = await Promise.all([act(a, 'broker1', 'accept'), act(b, 'broker1', 'accept')]);
    expect(both.map((r) => r.body.changed).sort()).toEqual([false, true]);
    await act(a, 'broker3', 'read');
    const live = await m1.msgs(feed, 2);
    expect(states(live)).toEqual([
      [id('broker1'), 'accepted'],
      [id('broker3'), 'read'],
    ]);
    m1.close();

    await act(b, 'broker1', 'done', { note: '已排查 8 户' });
    await act(a, 'broker3', 'accept');
    await act(b, 'broker3', 'read');

    const m2 = await WsTestClient.connect(a.wsUrl, tok('manager1'));
    try {
      const sub = await m2.subscribe(feed, live[1].offset);
      expect(sub).toMatchObject({ ok: true, result: { recovered: true } });
      const missed = await m2.msgs(feed, 2);
      expect(states(missed)).toEqual([
        [id('broker1'), 'done'],
        [id('broker3'), 'accepted'],
      ]);
      await sleep(300);
      expect(m2.frames.peek(isMsg(feed))).toEqual([]);
    } finally {
      await m2.close();
    }
    const after = await a.request('GET', `/api/tasks/${taskId}/progress`, { token: tok('manager1') });
    expect(after.body.counts).toMatchObject({ done: 1, accepted: 1, total: 2 });
    const brokerView = await b.request('GET', '/api/tasks', { token: tok('broker1') });
    expect(brokerView.body.tasks.find((x: { id: string }) => x.id === taskId).assignment).toMatchObject({ state: 'done', note: '已排查 8 户' });
  });
});
