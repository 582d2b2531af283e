/**
 * Team overview (embedded): per broker, open conversations, unread backlog and waiting clients from
 * the counters conversations keep; managers see the teams they lead, admin and compliance the firm;
 * everyone else QIAO_FORBIDDEN; bad input with stable codes.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { teams, users } from '../../src/store/schema/index.ts';
import { startEmbeddedApp, type TestApp } from '../helpers/app.ts';

type Login = { token: string; user: { id: string; displayName: string } };
const NIL = '00000000-0000-4000-8000-000000000000';

describe('team overview (embedded)', () => {
  let t: TestApp;
  const u: Record<string, Login> = {};
  let teamA: string;
  let teamB: string;

  beforeAll(async () => {
    t = await startEmbeddedApp({ QIAO_EMBEDDED_WORKERS: 'false' });
    for (const l of ['client1', 'client2', 'broker1', 'broker2', 'manager1', 'manager2', 'research1', 'compliance1', 'admin']) u[l] = await t.login(l);
    const all = await t.app.qiao.db.db.select().from(teams);
    teamA = all.find((x) => x.managerId === u.manager1.user.id)!.id;
    teamB = all.find((x) => x.managerId === u.manager2.user.id)!.id;
  });
  afterAll(async () => {
    await t?.close();
  });

  const overview = async (login: string | null, query = '') => t.request('GET', `/api/team/overview${query}`, { token: login ? u[login].token : undefined });
  const brokerLine = async (login: string, brokerLogin: string) => {
    const r = await overview(login);
    expect(r.status, r.text).toBe(200);
    return r.body.brokers.find((b: { brokerId: string }) => b.brokerId === u[brokerLogin].user.id);
  };
  const say = async (login: string, convId: string, text: string) => {
    const r = await t.request('POST', `/api/conversations/${convId}/messages`, { token: u[login].token, json: { kind: 'chat', payload: { text } } });
    expect(r.status, r.text).toBe(201);
    return r.body as { offset: number };
  };

  it('a manager sees the brokers of the team they lead, with the seeded conversation waiting', async () => {
    const r = await overview('manager1');
    expect(r.status).toBe(200);
    expect(r.body.generatedAt).toEqual(expect.any(String));
    // Team A: broker1 and broker3 (the demo's service history). broker1 has a conversation with each
    // client (client2's is history, all answered; client3's was opened for its survey); client1's question waits.
    const [b3] = await t.app.qiao.db.db.select({ id: users.id }).from(users).where(eq(users.login, 'broker3'));
    expect(r.body.brokers.map((b: { brokerId: string }) => b.brokerId).sort()).toEqual([u.broker1.user.id, b3.id].sort());
    const b1 = r.body.brokers.find((b: { brokerId: string }) => b.brokerId === u.broker1.user.id);
    expect(b1).toMatchObject({ displayName: u.broker1.user.displayName, teamId: teamA, teamName: expect.any(String), clients: 3, openConversations: 2, unreadBacklog: 1, waitingClients: 1 });
    expect(b1.oldestWaiting).toEqual({ clientId: u.client1.user.id, displayName: u.client1.user.displayName, since: expect.any(String) });
  });

  it('follows new client messages, answers and reads', async () => {
    const opened = await t.request('POST', '/api/conversations', { token: u.client2.token, json: { type: 'broker_client' } });
    expect(opened.status, opened.text).toBeLessThan(300);
    const conv2 = opened.body.conversation.id as string;
    await say('client2', conv2, '请问可转债怎么申购？');
    await say('client2', conv2, '在线等，谢谢');
    let b1 = await brokerLine('manager1', 'broker1');
    expect(b1).toMatchObject({ openConversations: 2, unreadBacklog: 3, waitingClients: 2 });
    // client1's question (seed) has waited longer.
    expect(b1.oldestWaiting.clientId).toBe(u.client1.user.id);

    const seeded = (await t.request('GET', '/api/conversations', { token: u.client1.token })).body.conversations.find((c: { type: string }) => c.type === 'broker_client').id;
    const answer = await say('broker1', seeded, '刘女士，您的风险测评下月到期，我稍后发您链接。');
    b1 = await brokerLine('admin', 'broker1');
    // Answering counts as reading up to the answer, and ends client1's wait.
    expect(b1).toMatchObject({ unreadBacklog: 2, waitingClients: 1 });
    expect(b1.oldestWaiting.clientId).toBe(u.client2.user.id);
    expect(answer.offset).toBeGreaterThan(0);

    const top = (await t.request('GET', `/api/conversations/${conv2}/messages?limit=10`, { token: u.broker1.token })).body.publications.at(-1).offset;
    expect((await t.request('POST', `/api/conversations/${conv2}/read`, { token: u.broker1.token, json: { offset: top } })).status).toBe(200);
    b1 = await brokerLine('compliance1', 'broker1');
    // Read but not answered: no backlog, still waiting.
    expect(b1).toMatchObject({ unreadBacklog: 0, waitingClients: 1 });
  });

  it('admin and compliance see every team of the firm, or one with teamId', async () => {
    for (const l of ['admin', 'compliance1']) {
      const all = await overview(l);
      expect(all.body.brokers.map((b: { brokerId: string }) => b.brokerId)).toEqual(expect.arrayContaining([u.broker1.user.id, u.broker2.user.id]));
      const b2 = all.body.brokers.find((b: { brokerId: string }) => b.brokerId === u.broker2.user.id);
      // inst1's conversation with broker2 is demo history, all answered.
      expect(b2).toMatchObject({ teamId: teamB, clients: 1, openConversations: 1, unreadBacklog: 0, waitingClients: 0, oldestWaiting: null });
      const one = await overview(l, `?teamId=${teamB}`);
      expect(one.body.brokers.map((b: { brokerId: string }) => b.brokerId)).toEqual([u.broker2.user.id]);
      const unknown = await overview(l, `?teamId=${NIL}`);
      expect(unknown.status).toBe(404);
      expect(unknown.body.error.code).toBe('QIAO_NOT_FOUND');
    }
  });

  it('a manager may filter to a team they lead, and is refused another team', async () => {
    expect((await overview('manager1', `?teamId=${teamA}`)).body.brokers).toHaveLength(2);
    for (const teamId of [teamB, NIL]) {
      const r = await overview('manager1', `?teamId=${teamId}`);
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe('QIAO_FORBIDDEN');
    }
    expect((await overview('manager2')).body.brokers.map((b: { brokerId: string }) => b.brokerId)).toEqual([u.broker2.user.id]);
  });

  it('refuses brokers, clients and the research desk with QIAO_FORBIDDEN, bad input with QIAO_BAD_REQUEST', async () => {
    for (const l of ['broker1', 'client1', 'research1']) {
      const r = await overview(l);
      expect(r.status, l).toBe(403);
      expect(r.body.error.code).toBe('QIAO_FORBIDDEN');
    }
    expect((await overview(null)).body.error.code).toBe('QIAO_AUTH_REQUIRED');
    for (const q of ['?teamId=team-a', '?teamId=', '?other=1']) {
      const r = await overview('admin', q);
      expect(r.status, q).toBe(400);
      expect(r.body.error.code).toBe('QIAO_BAD_REQUEST');
    }
  });

  it('an inactive broker is left out', async () => {
    await t.app.qiao.db.db.update(users).set({ active: false }).where(eq(users.id, u.broker2.user.id));
    expect((await overview('admin', `?teamId=${teamB}`)).body.brokers).toEqual([]);
    await t.app.qiao.db.db.update(users).set({ active: true }).where(eq(users.id, u.broker2.user.id));
  });
});
