/**
 * Conversations, client assignment and their live side on an embedded hub, over REST, raw WebSocket,
 * socket.io and the typed client library: access rules per role, idempotent opening, transfer
 * revoking a live socket at once, shares, edit/recall, receipts and unread counts (also after a
 * reconnect), typing and presence signals, and bad input with stable codes.
 *
 * Extra organisation made in the store for these tests: team C (branch SH) led by manager3 with
 * broker9, and clients client4/client5 of broker1.
 */
import { sql } from 'drizzle-orm';
import { io as ioConnect } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { QiaoClient, type IoFactory, type SignalPush, type WebSocketCtor } from '../../src/client/qiao-client.ts';
import type { ErrorCode } from '../../src/errors/codes.ts';
import type { MsgPush, Push, Reply } from '../../src/gateway/protocol.ts';
import { users, teams, brokerClients } from '../../src/store/schema/index.ts';
import type { PublicUser } from '../../src/store/users-repo.ts';
import { SioTestClient, WsTestClient, eventually, isMsg, sleep, startEmbeddedApp, type TestApp } from '../helpers/app.ts';

type Login = { token: string; user: PublicUser };

function expectError(r: Reply, code: ErrorCode): void {
  expect(r.ok, JSON.stringify(r)).toBe(false);
  if (!r.ok) expect(r.error.code).toBe(code);
}
function expectOk(r: Reply): any {
  expect(r.ok, JSON.stringify(r)).toBe(true);
  return r.ok ? r.result : undefined;
}
const isSignal = (kind: string, channel?: string) => (p: Push) => p.t === 'signal' && p.kind === kind && (channel === undefined || p.channel === channel);
const NIL = '00000000-0000-4000-8000-000000000000';

describe('conversations and assignment (embedded hub)', () => {
  let t: TestApp;
  const u: Record<string, Login> = {};
  const tok = (l: string) => u[l].token;
  const id = (l: string) => u[l].user.id;
  let seeded: string; // broker1 ↔ client1, from the demo seed

  const list = async (login: string) => {
    const r = await t.request('GET', '/api/conversations', { token: tok(login) });
    expect(r.status, r.text).toBe(200);
    return r.body.conversations as any[];
  };
  const get = (login: string, convId: string) => t.request('GET', `/api/conversations/${convId}`, { token: tok(login) });
  const open = (login: string, body: object) => t.request('POST', '/api/conversations', { token: tok(login), json: body });
  const send = (login: string, convId: string, payload: object, kind = 'chat', headers: Record<string, string> = {}) =>
    t.request('POST', `/api/conversations/${convId}/messages`, { token: tok(login), json: { kind, payload }, headers });
  const messages = async (login: string, convId: string) => {
    const r = await t.request('GET', `/api/conversations/${convId}/messages?limit=200`, { token: tok(login) });
    expect(r.status, r.text).toBe(200);
    return r.body.publications as any[];
  };
  const read = (login: string, convId: string, offset: unknown) => t.request('POST', `/api/conversations/${convId}/read`, { token: tok(login), json: { offset } });
  const transfer = (login: string, clientLogin: string, to: string) =>
    t.request('POST', `/api/clients/${id(clientLogin)}/transfer`, { token: tok(login), json: { toBrokerId: to } });
  const unreadOf = async (login: string, convId: string) => (await list(login)).find((c) => c.id === convId)?.unread;

  beforeAll(async () => {
    t = await startEmbeddedApp();
    const db = t.app.qiao.db.db;
    const [b1] = await db.select().from(users).where(sql`login = 'broker1'`);
    const [c1] = await db.select().from(users).where(sql`login = 'client1'`);
    const [teamA] = await db.select().from(teams).where(sql`id = ${b1.teamId}`);
    const base = { firmId: b1.firmId, passwordHash: b1.passwordHash };
    const [teamC] = await db.insert(teams).values({ branchId: teamA.branchId, code: 'SH-C', name: '陆家嘴财富三组' }).returning();
    const [m3] = await db.insert(users).values({ ...base, login: 'manager3', displayName: '钱经理', role: 'manager', branchId: teamA.branchId, teamId: teamC.id }).returning();
    await db.update(teams).set({ managerId: m3.id }).where(sql`id = ${teamC.id}`);
    await db.insert(users).values({ ...base, login: 'broker9', displayName: '孙经纪', role: 'broker', branchId: teamA.branchId, teamId: teamC.id });
    const clients = await db
      .insert(users)
      .values(
        ['client4', 'client5'].map((login) => ({ ...base, login, displayName: login, role: 'client' as const, branchId: c1.branchId, tier: 'general' as const, riskLevel: 'C3' as const })),
      )
      .returning();
    await db.insert(brokerClients).values(clients.map((c) => ({ brokerId: b1.id, clientId: c.id, relation: 'primary' as const })));
    const logins = ['client1', 'client2', 'client3', 'client4', 'client5', 'client28', 'broker1', 'broker3', 'broker2', 'broker9', 'manager1', 'manager2', 'manager3', 'compliance1', 'admin', 'research1'];
    for (const l of logins) u[l] = await t.login(l);
    seeded = (await list('client1')).find((c) => c.type === 'broker_client')!.id;
  });
  afterAll(async () => {
    await t?.close();
  });

  describe('the demo seed', () => {
    it('has broker1 ↔ client1 with messages and broker1 ↔ manager1', async () => {
      const c = (await list('client1'))[0];
      expect(c).toMatchObject({ type: 'broker_client', access: 'write', participant: true, unread: 0, broker: { id: id('broker1') }, peer: { id: id('broker1'), role: 'broker' } });
      expect(c.lastMessage.text).toContain('风险测评');
      const b = await list('broker1');
      expect(b.find((x) => x.id === seeded)?.unread).toBe(1);
      expect(b.find((x) => x.type === 'broker_manager')).toMatchObject({ manager: { id: id('manager1') }, access: 'write' });
      expect((await messages('client1', seeded)).map((m) => m.sender)).toEqual([id('client1'), id('broker1'), id('client1')]);
    });

    it('the workstation shows unread, last message, first-response wait, tier and risk level', async () => {
      const r = await t.request('GET', '/api/workstation/clients', { token: tok('broker1') });
      expect(r.status, r.text).toBe(200);
      const row = r.body.clients.find((x: any) => x.client.id === id('client1'));
      expect(row).toMatchObject({ relation: 'primary', conversationId: seeded, unread: 1, client: { tier: 'general', riskLevel: 'C3' } });
      expect(row.lastMessage.text).toContain('风险测评');
      expect(Date.parse(row.waitingSince)).toBeLessThanOrEqual(Date.now());
      expect(row.waitingMs).toBeGreaterThanOrEqual(0);
      // A client nobody has written to is listed too, without a conversation.
      expect(r.body.clients.find((x: any) => x.client.id === id('client4'))).toMatchObject({ conversationId: null, unread: 0, lastMessage: null, waitingSince: null });
      for (const who of ['client1', 'manager1', 'admin']) {
        const refused = await t.request('GET', '/api/workstation/clients', { token: tok(who) });
        expect(refused.status).toBe(403);
        expect(refused.body.error.code).toBe('QIAO_FORBIDDEN');
      }
    });

    it('first-response wait clears when the broker answers, and starts at the oldest unanswered message', async () => {
      const { conversation } = (await open('broker1', { type: 'broker_client', clientId: id('client5') })).body;
      const ws = async () => (await t.request('GET', '/api/workstation/clients', { token: tok('broker1') })).body.clients.find((x: any) => x.client.id === id('client5'));
      expect((await send('client5', conversation.id, { text: '第一个问题' })).status).toBe(201);
      const first = await ws();
      expect(first.waitingSince).not.toBeNull();
      await sleep(5);
      expect((await send('client5', conversation.id, { text: '第二个问题' })).status).toBe(201);
      expect((await ws()).waitingSince).toBe(first.waitingSince);
      expect((await send('broker1', conversation.id, { text: '您好，已收到' })).status).toBe(201);
      expect(await ws()).toMatchObject({ waitingSince: null, waitingMs: null, unread: 0 });
    });
  });

  describe('opening conversations', () => {
    it('is idempotent per pair, also when opened concurrently and from either side', async () => {
      // client28 (broker3's newest demo client) has no conversation yet; the demo seed opens client2's.
      const results = await Promise.all(Array.from({ length: 5 }, () => open('broker3', { type: 'broker_client', clientId: id('client28') })));
      const ids = new Set(results.map((r) => r.body.conversation.id));
      expect(ids.size).toBe(1);
      expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 201]);
      expect(results.filter((r) => r.body.created)).toHaveLength(1);
      const fromClient = await open('client28', { type: 'broker_client' });
      expect(fromClient.status).toBe(200);
      expect(fromClient.body.conversation.id).toBe([...ids][0]);
      expect(fromClient.body.conversation.peer).toMatchObject({ id: id('broker3'), role: 'broker' });
      const seed = await open('client1', { type: 'broker_client' });
      expect(seed.status).toBe(200);
      expect(seed.body.conversation.id).toBe(seeded);
    });

    it('broker_manager: the seeded one, from the broker or its manager; not across teams', async () => {
      const fromBroker = await open('broker1', { type: 'broker_manager' });
      expect(fromBroker.status).toBe(200);
      const fromManager = await open('manager1', { type: 'broker_manager', brokerId: id('broker1') });
      expect(fromManager.status).toBe(200);
      expect(fromManager.body.conversation.id).toBe(fromBroker.body.conversation.id);
      const other = await open('manager2', { type: 'broker_manager', brokerId: id('broker1') });
      expect(other.status).toBe(422);
      expect(other.body.error.code).toBe('QIAO_CONVERSATION_INVALID');
      const wrongManager = await open('broker1', { type: 'broker_manager', managerId: id('manager2') });
      expect(wrongManager.body.error.code).toBe('QIAO_CONVERSATION_INVALID');
    });

    it('group: staff of one team only; members read and write, nobody else', async () => {
      const g = await open('broker1', { type: 'group', title: '晨会讨论', memberIds: [id('manager1')] });
      expect(g.status, g.text).toBe(201);
      expect(g.body.conversation.members.map((m: any) => m.id).sort()).toEqual([id('broker1'), id('manager1')].sort());
      expect((await send('manager1', g.body.conversation.id, { text: '九点开会' })).status).toBe(201);
      for (const who of ['broker2', 'client1', 'admin']) expect((await get(who, g.body.conversation.id)).body.error.code).toBe('QIAO_FORBIDDEN');
      expect((await get('compliance1', g.body.conversation.id)).body.conversation.access).toBe('read');
      const cross = await open('broker1', { type: 'group', title: '跨组', memberIds: [id('broker9')] });
      expect(cross.status).toBe(422);
      expect(cross.body.error.code).toBe('QIAO_CONVERSATION_INVALID');
      const unknown = await open('broker1', { type: 'group', title: '未知', memberIds: [NIL] });
      expect(unknown.body.error.code).toBe('QIAO_CONVERSATION_INVALID');
      const byClient = await open('client1', { type: 'group', title: '客户群', memberIds: [id('client2')] });
      expect(byClient.status).toBe(403);
      expect(byClient.body.error.code).toBe('QIAO_FORBIDDEN');
    });

    it('refuses who may not open what', async () => {
      const notAssigned = await open('broker2', { type: 'broker_client', clientId: id('client1') });
      expect([notAssigned.status, notAssigned.body.error.code]).toEqual([403, 'QIAO_FORBIDDEN']);
      const unknownClient = await open('broker2', { type: 'broker_client', clientId: NIL });
      expect(unknownClient.body.error.code).toBe('QIAO_FORBIDDEN');
      for (const who of ['manager1', 'compliance1', 'admin']) {
        expect((await open(who, { type: 'broker_client', clientId: id('client1') })).body.error.code).toBe('QIAO_FORBIDDEN');
      }
      const otherBroker = await open('client1', { type: 'broker_client', brokerId: id('broker2') });
      expect([otherBroker.status, otherBroker.body.error.code]).toEqual([422, 'QIAO_CONVERSATION_INVALID']);
    });
  });

  describe('who sees what', () => {
    it('a client sees only its own conversations', async () => {
      expect((await list('client2')).some((c) => c.id === seeded)).toBe(false);
      for (const path of [`/api/conversations/${seeded}`, `/api/conversations/${seeded}/messages`]) {
        const r = await t.request('GET', path, { token: tok('client2') });
        expect([r.status, r.body.error.code]).toEqual([403, 'QIAO_FORBIDDEN']);
      }
      const post = await send('client2', seeded, { text: '我能发吗' });
      expect([post.status, post.body.error.code]).toEqual([403, 'QIAO_PUBLISH_FORBIDDEN']);
      const ws = await WsTestClient.connect(t.wsUrl, tok('client2'));
      const sio = await SioTestClient.connect(t.baseUrl, tok('client2'));
      try {
        expectError(await ws.subscribe(`conv.${seeded}`), 'QIAO_SUBSCRIBE_FORBIDDEN');
        expectError(await sio.subscribe(`conv.${seeded}`), 'QIAO_SUBSCRIBE_FORBIDDEN');
        expectError(await ws.cmd({ op: 'publish', channel: `conv.${seeded}`, kind: 'chat', payload: { text: 'x' } }), 'QIAO_PUBLISH_FORBIDDEN');
        expectError(await ws.cmd({ op: 'typing', channel: `conv.${seeded}` }), 'QIAO_PUBLISH_FORBIDDEN');
        expectError(await ws.cmd({ op: 'receipt', channel: `conv.${seeded}`, kind: 'read', offset: 1 }), 'QIAO_FORBIDDEN');
        // The internal control channels are not subscribable by anyone.
        expectError(await ws.subscribe('sys.access'), 'QIAO_CHANNEL_UNKNOWN_FAMILY');
        expectError(await sio.subscribe('sys.user'), 'QIAO_CHANNEL_UNKNOWN_FAMILY');
      } finally {
        await ws.close();
        sio.close();
      }
    });

    it('a broker sees only assigned or shared clients; a manager its team read-only; compliance reads; admin nothing', async () => {
      expect((await list('broker2')).some((c) => c.id === seeded)).toBe(false);
      expect((await get('broker2', seeded)).body.error.code).toBe('QIAO_FORBIDDEN');
      const m1 = await get('manager1', seeded);
      expect(m1.body.conversation).toMatchObject({ access: 'read', participant: false });
      expect((await list('manager1')).some((c) => c.id === seeded)).toBe(true);
      expect((await send('manager1', seeded, { text: '经理插话' })).body.error.code).toBe('QIAO_PUBLISH_FORBIDDEN');
      expect((await get('manager2', seeded)).body.error.code).toBe('QIAO_FORBIDDEN');
      expect((await get('manager3', seeded)).body.error.code).toBe('QIAO_FORBIDDEN');
      expect((await get('compliance1', seeded)).body.conversation.access).toBe('read');
      expect((await send('compliance1', seeded, { text: '合规' })).body.error.code).toBe('QIAO_PUBLISH_FORBIDDEN');
      expect((await get('admin', seeded)).body.error.code).toBe('QIAO_FORBIDDEN');
      expect(await list('admin')).toEqual([]);
      expect((await get('research1', seeded)).body.error.code).toBe('QIAO_FORBIDDEN');
    });

    it('the list and single reads agree for every user and conversation (one rule book)', async () => {
      const all = (await list('compliance1')).map((c) => c.id);
      expect(all.length).toBeGreaterThan(2);
      for (const login of Object.keys(u)) {
        const mine = new Set((await list(login)).map((c) => c.id));
        for (const convId of all) {
          const r = await get(login, convId);
          expect(r.status === 200, `${login} ${convId}: list ${mine.has(convId)}, get ${r.status}`).toBe(mine.has(convId));
        }
      }
    });
  });

  describe('sharing', () => {
    it('shared_read reads but cannot post; shared_full posts; unsharing ends the live subscription', async () => {
      const share = (relation: string) =>
        t.request('POST', `/api/clients/${id('client1')}/shares`, { token: tok('admin'), json: { brokerId: id('broker2'), relation } });
      const r = await share('shared_read');
      expect(r.status, r.text).toBe(200);
      expect(r.body).toMatchObject({ op: 'share', before: null, after: 'shared_read' });
      expect((await get('broker2', seeded)).body.conversation).toMatchObject({ access: 'read', participant: true });
      const ws = await WsTestClient.connect(t.wsUrl, tok('broker2'));
      try {
        expectOk(await ws.subscribe(`conv.${seeded}`));
        expectError(await ws.cmd({ op: 'publish', channel: `conv.${seeded}`, kind: 'chat', payload: { text: '只读' } }), 'QIAO_PUBLISH_FORBIDDEN');
        expectError(await ws.cmd({ op: 'typing', channel: `conv.${seeded}` }), 'QIAO_PUBLISH_FORBIDDEN');
        expect((await send('broker2', seeded, { text: '只读' })).body.error.code).toBe('QIAO_PUBLISH_FORBIDDEN');
        expect((await open('broker2', { type: 'broker_client', clientId: id('client1') })).body.error.code).toBe('QIAO_FORBIDDEN');
        const ws2 = (await t.request('GET', '/api/workstation/clients', { token: tok('broker2') })).body.clients;
        expect(ws2.find((x: any) => x.client.id === id('client1'))).toMatchObject({ relation: 'shared_read', conversationId: seeded });

        expect((await share('shared_full')).body).toMatchObject({ before: 'shared_read', after: 'shared_full' });
        const posted = await send('broker2', seeded, { text: '您好，我是李经纪，协助王经纪为您服务。' });
        expect(posted.status, posted.text).toBe(201);
        expect((await ws.nextPush<MsgPush>(isMsg(`conv.${seeded}`))).id).toBe(posted.body.id);

        const un = await t.request('DELETE', `/api/clients/${id('client1')}/shares/${id('broker2')}`, { token: tok('admin') });
        expect(un.status, un.text).toBe(200);
        const gone = await ws.nextPush((p) => p.t === 'unsubscribed', 1000);
        expect(gone).toMatchObject({ channel: `conv.${seeded}`, error: { code: 'QIAO_SUBSCRIBE_FORBIDDEN' } });
        expect((await get('broker2', seeded)).body.error.code).toBe('QIAO_FORBIDDEN');
        const again = await t.request('DELETE', `/api/clients/${id('client1')}/shares/${id('broker2')}`, { token: tok('admin') });
        expect([again.status, again.body.error.code]).toEqual([422, 'QIAO_ASSIGNMENT_INVALID']);
        expect((await share('primary')).status).toBe(400);
      } finally {
        await ws.close();
      }
    });
  });

  describe('transfer', () => {
    it('revokes the old broker’s live sockets at once; the new broker reads the history; audited and archived', async () => {
      const opened = await open('broker1', { type: 'broker_client', clientId: id('client3') });
      const convId = opened.body.conversation.id;
      const ch = `conv.${convId}`;
      const before = await send('client3', convId, { text: '转户前的消息' });
      expect(before.status).toBe(201);
      const oldBroker = await WsTestClient.connect(t.wsUrl, tok('broker1'));
      const oldManager = await SioTestClient.connect(t.baseUrl, tok('manager1'));
      const client = await WsTestClient.connect(t.wsUrl, tok('client3'));
      const watcher = await SioTestClient.connect(t.baseUrl, tok('compliance1'));
      try {
        for (const c of [oldBroker, client]) expectOk(await c.subscribe(ch));
        for (const c of [oldManager, watcher]) expectOk(await c.subscribe(ch));

        const r = await transfer('admin', 'client3', id('broker2'));
        expect(r.status, r.text).toBe(200);
        expect(r.body).toMatchObject({ op: 'transfer', previousPrimary: id('broker1'), after: 'primary' });
        // The hub stopped delivering before the transfer answered; the notice follows on the socket.
        expect(await oldBroker.nextPush((p) => p.t === 'unsubscribed', 1000)).toMatchObject({ channel: ch, error: { code: 'QIAO_SUBSCRIBE_FORBIDDEN' } });
        expect(await oldManager.nextPush((p) => p.t === 'unsubscribed', 1000)).toMatchObject({ channel: ch, error: { code: 'QIAO_SUBSCRIBE_FORBIDDEN' } });

        const after = await send('client3', convId, { text: '转户后的消息' });
        expect(after.status).toBe(201);
        expect((await watcher.nextPush<MsgPush>(isMsg(ch))).id).toBe(after.body.id);
        expect((await client.nextPush<MsgPush>(isMsg(ch))).id).toBe(after.body.id);
        await sleep(50);
        expect(oldBroker.frames.peek(isMsg(ch))).toEqual([]);
        expect(oldManager.pushes.peek((p) => p.t === 'msg')).toEqual([]);
        expectError(await oldBroker.subscribe(ch), 'QIAO_SUBSCRIBE_FORBIDDEN');
        expectError(await oldBroker.cmd({ op: 'publish', channel: ch, kind: 'chat', payload: { text: '还在吗' } }), 'QIAO_PUBLISH_FORBIDDEN');
        expect((await get('broker1', convId)).body.error.code).toBe('QIAO_FORBIDDEN');
        expect((await list('broker1')).some((c) => c.id === convId)).toBe(false);

        // The new broker continues the same conversation, with its history.
        const nb = (await list('broker2')).find((c) => c.id === convId);
        expect(nb).toMatchObject({ access: 'write', broker: { id: id('broker2') }, client: { id: id('client3') } });
        expect((await messages('broker2', convId)).map((m) => m.id)).toEqual([before.body.id, after.body.id]);
        expect((await open('client3', { type: 'broker_client' })).body.conversation.id).toBe(convId);
        expect((await get('manager2', convId)).body.conversation.access).toBe('read');

        const db = t.app.qiao.db.db;
        const audit = await db.execute(sql`select actor_id, outcome, detail from audit_log where action = 'assignment.transfer' and target = ${id('client3')}`);
        expect((audit as any).rows).toEqual([expect.objectContaining({ actor_id: id('admin'), outcome: 'ok' })]);
        const archived = await db.execute(sql`select kind, retention_class, subjects from archive_records where kind = 'assignment.transfer'`);
        expect((archived as any).rows).toEqual([
          expect.objectContaining({ retention_class: 'client-communications', subjects: expect.arrayContaining([id('client3'), id('broker1'), id('broker2')]) }),
        ]);
      } finally {
        await oldBroker.close();
        oldManager.close();
        await client.close();
        watcher.close();
      }
    });

    it('managers transfer within their own team and branch only; refusals are stable and audited', async () => {
      const cases: Array<[string, string, string, number, string]> = [
        ['manager1', 'client4', 'broker2', 403, 'QIAO_FORBIDDEN'], // other branch
        ['manager2', 'client4', 'broker2', 403, 'QIAO_FORBIDDEN'], // client of another team
        ['manager3', 'client4', 'broker9', 403, 'QIAO_FORBIDDEN'],
        ['broker1', 'client4', 'broker9', 403, 'QIAO_FORBIDDEN'],
        ['client4', 'client4', 'broker9', 403, 'QIAO_FORBIDDEN'],
        ['manager1', 'client4', 'broker1', 422, 'QIAO_ASSIGNMENT_INVALID'], // already primary
      ];
      for (const [who, client, to, status, code] of cases) {
        const r = await transfer(who, client, id(to));
        expect([who, r.status, r.body.error?.code]).toEqual([who, status, code]);
      }
      const toClient = await transfer('admin', 'client4', id('client5'));
      expect([toClient.status, toClient.body.error.code]).toEqual([422, 'QIAO_ASSIGNMENT_INVALID']);
      const unknownBroker = await transfer('admin', 'client4', NIL);
      expect([unknownBroker.status, unknownBroker.body.error.code]).toEqual([404, 'QIAO_USER_NOT_FOUND']);
      const unknownClient = await t.request('POST', `/api/clients/${NIL}/transfer`, { token: tok('admin'), json: { toBrokerId: id('broker2') } });
      expect([unknownClient.status, unknownClient.body.error.code]).toEqual([404, 'QIAO_USER_NOT_FOUND']);
      const notClient = await t.request('POST', `/api/clients/${id('broker1')}/transfer`, { token: tok('admin'), json: { toBrokerId: id('broker2') } });
      expect(notClient.body.error.code).toBe('QIAO_USER_NOT_FOUND');
      for (const bad of [
        t.request('POST', '/api/clients/not-a-uuid/transfer', { token: tok('admin'), json: { toBrokerId: id('broker2') } }),
        t.request('POST', `/api/clients/${id('client4')}/transfer`, { token: tok('admin'), json: { toBrokerId: 'x' } }),
        t.request('POST', `/api/clients/${id('client4')}/transfer`, { token: tok('admin'), json: {} }),
        t.request('POST', `/api/clients/${id('client4')}/transfer`, { token: tok('admin'), json: { toBrokerId: id('broker2'), extra: 1 } }),
      ]) {
        const r = await bad;
        expect([r.status, r.body.error.code]).toEqual([400, 'QIAO_BAD_REQUEST']);
      }
      // Within its branch a manager hands its team's client to another team.
      const ok = await transfer('manager1', 'client4', id('broker9'));
      expect(ok.status, ok.text).toBe(200);
      const brokers = await t.request('GET', `/api/clients/${id('client4')}/brokers`, { token: tok('manager3') });
      expect(brokers.body.brokers).toEqual([expect.objectContaining({ brokerId: id('broker9'), relation: 'primary' })]);
      expect((await t.request('GET', `/api/clients/${id('client4')}/brokers`, { token: tok('manager1') })).body.error.code).toBe('QIAO_FORBIDDEN');
      const refused = await t.app.qiao.db.db.execute(sql`select count(*)::int as n from audit_log where action = 'assignment.transfer' and outcome = 'refused'`);
      expect((refused as any).rows[0].n).toBeGreaterThanOrEqual(cases.length);
    });

    it('assign gives an unassigned client its primary broker, once', async () => {
      const db = t.app.qiao.db.db;
      await db.execute(sql`delete from broker_clients where client_id = ${id('client5')}`);
      const r = await t.request('POST', `/api/clients/${id('client5')}/assign`, { token: tok('manager1'), json: { brokerId: id('broker1') } });
      expect(r.status, r.text).toBe(200);
      const again = await t.request('POST', `/api/clients/${id('client5')}/assign`, { token: tok('admin'), json: { brokerId: id('broker9') } });
      expect([again.status, again.body.error.code]).toEqual([422, 'QIAO_ASSIGNMENT_INVALID']);
      // Concurrent transfers of one client are serialised: exactly one primary afterwards.
      await Promise.all([transfer('admin', 'client5', id('broker2')), transfer('admin', 'client5', id('broker9'))]);
      const rows = await db.execute(sql`select count(*)::int as n from broker_clients where client_id = ${id('client5')} and relation = 'primary'`);
      expect((rows as any).rows[0].n).toBe(1);
    });
  });

  describe('edit and recall', () => {
    it('only the sender, within the limit; the original stays in history and the archive', async () => {
      const original = await send('client1', seeded, { text: '我想买入 600519' });
      expect(original.status).toBe(201);
      const ref = original.body.id;
      const edit = await send('client1', seeded, { ref, text: '我想了解 600519' }, 'chat.edit');
      expect(edit.status, edit.text).toBe(201);
      expect((await list('client1')).find((c) => c.id === seeded).lastMessage).toMatchObject({ id: ref, text: '我想了解 600519', edited: true, recalled: false });
      const notOwn = await send('broker1', seeded, { ref, text: '改你的' }, 'chat.edit');
      expect([notOwn.status, notOwn.body.error.code]).toEqual([403, 'QIAO_MESSAGE_NOT_OWN']);
      const ofEdit = await send('client1', seeded, { ref: edit.body.id }, 'chat.recall');
      expect([ofEdit.status, ofEdit.body.error.code]).toEqual([404, 'QIAO_MESSAGE_REF_NOT_FOUND']);
      const unknown = await send('client1', seeded, { ref: NIL }, 'chat.recall');
      expect(unknown.body.error.code).toBe('QIAO_MESSAGE_REF_NOT_FOUND');
      const otherConv = (await list('client1')).length; // sanity: still one conversation
      expect(otherConv).toBe(1);
      const badRef = await send('client1', seeded, { ref: 'nope' }, 'chat.recall');
      expect([badRef.status, badRef.body.error.code]).toEqual([400, 'QIAO_BAD_PUBLICATION']);

      const recall = await send('client1', seeded, { ref }, 'chat.recall');
      expect(recall.status, recall.text).toBe(201);
      expect((await list('client1')).find((c) => c.id === seeded).lastMessage).toMatchObject({ id: ref, text: null, recalled: true });
      expect((await send('client1', seeded, { ref, text: '再改' }, 'chat.edit')).body.error.code).toBe('QIAO_MESSAGE_RECALLED');
      expect((await send('client1', seeded, { ref }, 'chat.recall')).body.error.code).toBe('QIAO_MESSAGE_RECALLED');

      const history = await messages('client1', seeded);
      expect(history.slice(-3).map((m) => [m.kind, m.payload])).toEqual([
        ['chat', { text: '我想买入 600519' }],
        ['chat.edit', { ref, text: '我想了解 600519' }],
        ['chat.recall', { ref }],
      ]);
      const archived = await t.app.qiao.db.db.execute(sql`select body->'payload' as payload from archive_records where channel = ${`conv.${seeded}`} and body->>'id' = ${ref}`);
      expect((archived as any).rows).toEqual([{ payload: { text: '我想买入 600519' } }]);
    });

    it('refuses an edit or recall after the time limit', async () => {
      const m = await send('broker1', seeded, { text: '稍后给您回电' });
      const real = Date.now();
      const spy = vi.spyOn(Date, 'now').mockReturnValue(real + 3 * 60_000);
      try {
        const late = await send('broker1', seeded, { ref: m.body.id }, 'chat.recall');
        expect([late.status, late.body.error.code]).toEqual([409, 'QIAO_MESSAGE_EDIT_EXPIRED']);
        expect((await send('broker1', seeded, { ref: m.body.id, text: '改为明天回电' }, 'chat.edit')).status).toBe(201);
      } finally {
        spy.mockRestore();
      }
    });
  });

  describe('receipts and unread counts', () => {
    it('counts chat from others after the read offset; read receipts reach the other side as 已读 and clear my other connections', async () => {
      const ch = `conv.${seeded}`;
      const brokerSock = await WsTestClient.connect(t.wsUrl, tok('broker1'));
      const clientTab1 = await WsTestClient.connect(t.wsUrl, tok('client1'));
      const clientTab2 = await SioTestClient.connect(t.baseUrl, tok('client1'));
      try {
        expectOk(await brokerSock.subscribe(ch));
        expectOk(await clientTab1.subscribe(ch));
        // Start from zero: the client reads everything.
        const top0 = (await get('client1', seeded)).body.conversation.topOffset;
        expect((await read('client1', seeded, top0)).body.unread).toBe(0);
        const a = await send('broker1', seeded, { text: '第一条' });
        const b = await send('broker1', seeded, { text: '第二条' });
        // Pushed to the client's connections, subscribed to the conversation or not.
        const pushed = await clientTab2.nextPush((p) => isSignal('unread', ch)(p) && (p as any).data?.unread === 2, 2000);
        expect(pushed).toMatchObject({ from: id('broker1'), data: { conversationId: seeded, unread: 2, topOffset: b.body.offset } });
        expect(await unreadOf('client1', seeded)).toBe(2);
        // The sender's own count does not grow (sending implies reading).
        expect(await unreadOf('broker1', seeded)).toBe(0);
        // Recalled messages stop counting.
        expect((await send('broker1', seeded, { ref: a.body.id }, 'chat.recall')).status).toBe(201);
        expect(await unreadOf('client1', seeded)).toBe(1);

        const delivered = await clientTab1.cmd({ op: 'receipt', channel: ch, kind: 'delivered', offset: b.body.offset });
        expect(expectOk(delivered)).toMatchObject({ deliveredOffset: b.body.offset, unread: 1 });
        const receipt = (p: Push) => isSignal('receipt', ch)(p) && (p as SignalPush).from === id('client1');
        expect(await brokerSock.nextPush((p) => receipt(p) && (p as any).data.delivered === b.body.offset)).toBeTruthy();

        const top = (await get('client1', seeded)).body.conversation.topOffset;
        const r = await read('client1', seeded, top + 1000);
        expect(r.status, r.text).toBe(200);
        expect(r.body).toEqual({ conversationId: seeded, readOffset: top, deliveredOffset: top, unread: 0 });
        expect(await brokerSock.nextPush((p) => receipt(p) && (p as any).data.read === top)).toMatchObject({ data: { delivered: top } });
        expect(await clientTab2.nextPush((p) => isSignal('unread', ch)(p) && (p as any).data.readOffset === top, 2000)).toMatchObject({ data: { unread: 0 } });
        const reads = (await get('broker1', seeded)).body.reads;
        expect(reads.find((x: any) => x.userId === id('client1'))).toEqual({ userId: id('client1'), deliveredOffset: top, readOffset: top });
        // Never moves back.
        expect((await read('client1', seeded, 1)).body.readOffset).toBe(top);
        // A supervisor reading does not send 已读 to anyone, and is not listed among the reads.
        expect((await read('manager1', seeded, top)).status).toBe(200);
        expect((await read('compliance1', seeded, top)).status).toBe(200);
        await sleep(50);
        expect(brokerSock.frames.peek((f) => f.t === 'signal' && f.kind === 'receipt' && f.from !== id('client1'))).toEqual([]);
        expect((await get('client1', seeded)).body.reads.map((x: any) => x.userId)).not.toContain(id('manager1'));
      } finally {
        await brokerSock.close();
        await clientTab1.close();
        clientTab2.close();
      }
    });

    it('after a reconnect the client’s badge equals the server’s count', async () => {
      const ch = `conv.${seeded}`;
      const top = (await get('client1', seeded)).body.conversation.topOffset;
      await read('client1', seeded, top);
      const badge = new Map<string, number>();
      const client = new QiaoClient({
        url: t.baseUrl,
        token: tok('client1'),
        transport: 'socketio',
        io: ioConnect as unknown as IoFactory,
        WebSocket: WebSocket as unknown as WebSocketCtor,
        reconnect: { minDelayMs: 20, maxDelayMs: 50 },
      });
      client.on('error', () => {});
      // What the web client does: the list on every (re)connect, then the pushed counts.
      client.on('connected', () => void list('client1').then((l) => l.forEach((c) => badge.set(c.id, c.unread))));
      client.on('signal', (s) => {
        if (s.kind === 'unread') badge.set((s.data as any).conversationId, (s.data as any).unread);
      });
      try {
        await client.connect();
        await client.subscribe(ch, () => {});
        await eventually(() => badge.get(seeded) === 0);
        await client.close();
        for (const text of ['离线一', '离线二', '离线三']) expect((await send('broker1', seeded, { text })).status).toBe(201);
        await client.connect();
        await eventually(async () => badge.get(seeded) === 3 && (await unreadOf('client1', seeded)) === 3);
        expect((await send('broker1', seeded, { text: '在线' })).status).toBe(201);
        await eventually(() => badge.get(seeded) === 4);
        expect(await unreadOf('client1', seeded)).toBe(4);
        const r = await client.receipt(ch, 'read', client.lastOffset(ch)!);
        expect(r.unread).toBe(0);
        await eventually(() => badge.get(seeded) === 0);
        expect(await unreadOf('client1', seeded)).toBe(0);
      } finally {
        await client.close();
      }
    });
  });

  describe('typing and presence', () => {
    it('typing reaches the other live subscribers only, is throttled, and is never stored', async () => {
      const ch = `conv.${seeded}`;
      const broker = await SioTestClient.connect(t.baseUrl, tok('broker1'));
      const client = await WsTestClient.connect(t.wsUrl, tok('client1'));
      try {
        expectOk(await broker.subscribe(ch));
        expectOk(await client.subscribe(ch));
        const topBefore = (await get('client1', seeded)).body.conversation.topOffset;
        const archiveBefore = ((await t.app.qiao.db.db.execute(sql`select count(*)::int as n from archive_records`)) as any).rows[0].n;
        expect(expectOk(await client.cmd({ op: 'typing', channel: ch }))).toEqual({ sent: true });
        expect(await broker.nextPush(isSignal('typing', ch))).toEqual({ t: 'signal', channel: ch, kind: 'typing', from: id('client1') });
        expect(expectOk(await client.cmd({ op: 'typing', channel: ch }))).toEqual({ sent: false });
        await sleep(50);
        expect(client.frames.peek((f) => f.t === 'signal')).toEqual([]);
        expect(broker.pushes.peek(isSignal('typing'))).toEqual([]);
        expect((await get('client1', seeded)).body.conversation.topOffset).toBe(topBefore);
        expect(((await t.app.qiao.db.db.execute(sql`select count(*)::int as n from archive_records`)) as any).rows[0].n).toBe(archiveBefore);
        const lib = await sleep(1000).then(() => broker.cmd({ op: 'typing', channel: ch }));
        expect(expectOk(lib)).toEqual({ sent: true });
        expect(await client.nextPush(isSignal('typing', ch))).toMatchObject({ from: id('broker1') });

        // A subscriber still catching up (recovered seeded messages the bus never carried) gets signals too.
        const bmConv = (await list('manager1')).find((c) => c.type === 'broker_manager' && c.broker.id === id('broker1'));
        const bm = bmConv.channel;
        const catching = await WsTestClient.connect(t.wsUrl, tok('broker1'));
        const manager = await SioTestClient.connect(t.baseUrl, tok('manager1'));
        try {
          // From 0: the seeded messages come from the store (the bus never carried them) …
          expectOk(await catching.subscribe(bm, 0));
          expect((await catching.msgs(bm, bmConv.topOffset)).map((m) => m.offset)).toEqual(Array.from({ length: bmConv.topOffset }, (_, i) => i + 1));
          expect(expectOk(await manager.cmd({ op: 'typing', channel: bm }))).toEqual({ sent: true });
          expect(await catching.nextPush(isSignal('typing', bm))).toMatchObject({ from: id('manager1') });
          // … and one that resumes at the top while the bus is behind the store gets signals too.
          const resumed = await WsTestClient.connect(t.wsUrl, tok('broker1'));
          try {
            expectOk(await resumed.subscribe(bm, bmConv.topOffset));
            await sleep(1000);
            expect(expectOk(await manager.cmd({ op: 'typing', channel: bm }))).toEqual({ sent: true });
            expect(await resumed.nextPush(isSignal('typing', bm))).toMatchObject({ from: id('manager1') });
          } finally {
            await resumed.close();
          }
        } finally {
          await catching.close();
          manager.close();
        }

        expectError(await client.cmd({ op: 'typing', channel: 'research.macro' }), 'QIAO_BAD_REQUEST');
        expectError(await client.cmd({ op: 'typing', channel: 'conv.nope' }), 'QIAO_CHANNEL_BAD_NAME');
        expectError(await client.cmd({ op: 'typing', channel: `conv.${NIL}` }), 'QIAO_PUBLISH_FORBIDDEN');
        expectError(await client.cmd({ op: 'typing' }), 'QIAO_CHANNEL_BAD_NAME');
      } finally {
        broker.close();
        await client.close();
      }
    });

    it('the other side sees online, away and offline, in the list and as signals', async () => {
      const ch = `conv.${seeded}`;
      const peerPresence = async () => (await list('broker1')).find((c) => c.id === seeded).peer.presence;
      await eventually(async () => (await peerPresence()) === 'offline');
      const broker = await WsTestClient.connect(t.wsUrl, tok('broker1'));
      try {
        const client = await SioTestClient.connect(t.baseUrl, tok('client1'));
        expect(await broker.nextPush((p) => isSignal('presence', ch)(p) && (p as any).data.state === 'online')).toMatchObject({ from: id('client1') });
        expect(await peerPresence()).toBe('online');
        expect((await list('client1')).find((c) => c.id === seeded).peer).toMatchObject({ id: id('broker1'), presence: 'online' });
        expect(expectOk(await client.cmd({ op: 'presence', state: 'away' }))).toEqual({ state: 'away' });
        expect(await broker.nextPush((p) => isSignal('presence', ch)(p) && (p as any).data.state === 'away')).toBeTruthy();
        expect(await peerPresence()).toBe('away');
        expectError(await client.cmd({ op: 'presence', state: 'busy' }), 'QIAO_BAD_REQUEST');
        client.close();
        expect(await broker.nextPush((p) => isSignal('presence', ch)(p) && (p as any).data.state === 'offline')).toBeTruthy();
        expect(await peerPresence()).toBe('offline');
      } finally {
        await broker.close();
      }
    });
  });

  describe('bad input', () => {
    it('message bodies: empty, blank, oversized text, wrong kind or shape → stable codes; nothing stored', async () => {
      const topBefore = (await get('client1', seeded)).body.conversation.topOffset;
      const cases: Array<[unknown, number, ErrorCode]> = [
        [{ kind: 'chat', payload: { text: '' } }, 400, 'QIAO_BAD_PUBLICATION'],
        [{ kind: 'chat', payload: { text: '   \n ' } }, 400, 'QIAO_BAD_PUBLICATION'],
        [{ kind: 'chat', payload: { text: 'x'.repeat(8001) } }, 400, 'QIAO_BAD_PUBLICATION'],
        [{ kind: 'chat', payload: { text: '好', extra: 1 } }, 400, 'QIAO_BAD_PUBLICATION'],
        [{ kind: 'chat', payload: {} }, 400, 'QIAO_BAD_PUBLICATION'],
        [{ kind: 'chat', payload: { text: 5 } }, 400, 'QIAO_BAD_PUBLICATION'],
        [{ kind: 'note', payload: { text: '好' } }, 400, 'QIAO_BAD_REQUEST'],
        [{ kind: 'chat', payload: 'hi' }, 400, 'QIAO_BAD_REQUEST'],
        [{ kind: 'chat' }, 400, 'QIAO_BAD_REQUEST'],
        [{ kind: 'chat', payload: { text: 'x'.repeat(70_000) } }, 413, 'QIAO_PAYLOAD_TOO_LARGE'],
      ];
      for (const [body, status, code] of cases) {
        const r = await t.request('POST', `/api/conversations/${seeded}/messages`, { token: tok('client1'), json: body });
        expect([JSON.stringify(body).slice(0, 60), r.status, r.body?.error?.code]).toEqual([JSON.stringify(body).slice(0, 60), status, code]);
      }
      const ws = await WsTestClient.connect(t.wsUrl, tok('client1'));
      try {
        expectError(await ws.cmd({ op: 'publish', channel: `conv.${seeded}`, kind: 'chat', payload: { text: '' } }), 'QIAO_BAD_PUBLICATION');
        expectError(await ws.cmd({ op: 'publish', channel: `conv.${seeded}`, kind: 'chat.recall', payload: { ref: NIL } }), 'QIAO_MESSAGE_REF_NOT_FOUND');
      } finally {
        await ws.close();
      }
      expect((await get('client1', seeded)).body.conversation.topOffset).toBe(topBefore);
    });

    it('unknown and malformed conversation ids', async () => {
      for (const [method, path, json] of [
        ['GET', `/api/conversations/${NIL}`, undefined],
        ['GET', `/api/conversations/${NIL}/messages`, undefined],
        ['POST', `/api/conversations/${NIL}/messages`, { kind: 'chat', payload: { text: '在吗' } }],
        ['POST', `/api/conversations/${NIL}/read`, { offset: 1 }],
        ['POST', `/api/conversations/${NIL}/delivered`, { offset: 1 }],
      ] as const) {
        const r = await t.request(method, path, { token: tok('client1'), json });
        expect([path, r.status, r.body.error.code]).toEqual([path, 404, 'QIAO_CONVERSATION_NOT_FOUND']);
        const bad = await t.request(method, path.replace(NIL, 'not-a-uuid'), { token: tok('client1'), json });
        expect([path, bad.status, bad.body.error.code]).toEqual([path, 400, 'QIAO_BAD_REQUEST']);
      }
      const ws = await WsTestClient.connect(t.wsUrl, tok('client1'));
      try {
        expectError(await ws.subscribe(`conv.${NIL}`), 'QIAO_SUBSCRIBE_FORBIDDEN');
        expectError(await ws.subscribe('conv.123'), 'QIAO_CHANNEL_BAD_NAME');
        expectError(await ws.cmd({ op: 'receipt', channel: `conv.${NIL}`, kind: 'read', offset: 1 }), 'QIAO_CONVERSATION_NOT_FOUND');
      } finally {
        await ws.close();
      }
    });

    it('receipts, opening and sharing with bad bodies', async () => {
      for (const offset of [-1, 1.5, '3', null, 2 ** 60]) {
        const r = await read('client1', seeded, offset);
        expect([offset, r.status, r.body.error.code]).toEqual([offset, 400, 'QIAO_BAD_REQUEST']);
      }
      const ws = await WsTestClient.connect(t.wsUrl, tok('client1'));
      try {
        const ch = `conv.${seeded}`;
        expectError(await ws.cmd({ op: 'receipt', channel: ch, kind: 'seen', offset: 1 }), 'QIAO_BAD_REQUEST');
        expectError(await ws.cmd({ op: 'receipt', channel: ch, kind: 'read', offset: -1 }), 'QIAO_BAD_REQUEST');
        expectError(await ws.cmd({ op: 'receipt', channel: ch, kind: 'read' }), 'QIAO_BAD_REQUEST');
        expectError(await ws.cmd({ op: 'receipt', channel: 'research.macro', kind: 'read', offset: 1 }), 'QIAO_BAD_REQUEST');
        expectError(await ws.cmd({ op: 'receipt', channel: 'nope.x', kind: 'read', offset: 1 }), 'QIAO_CHANNEL_UNKNOWN_FAMILY');
        expect(await ws.pingOk()).toBe(true);
      } finally {
        await ws.close();
      }
      for (const body of [{}, { type: 'dm' }, { type: 'broker_client', clientId: 'x' }, { type: 'group', memberIds: [] , title: 'x'}, { type: 'group', memberIds: ['x'], title: 'x' }, { type: 'group', memberIds: [id('manager1')], title: '' }, { type: 'broker_client', junk: 1 }]) {
        const r = await open('broker1', body);
        expect([JSON.stringify(body), r.status, r.body.error.code]).toEqual([JSON.stringify(body), 400, 'QIAO_BAD_REQUEST']);
      }
      expect((await open('broker1', { type: 'broker_client' })).body.error.code).toBe('QIAO_BAD_REQUEST');
      expect((await open('broker1', { type: 'group', memberIds: [id('manager1')] })).body.error.code).toBe('QIAO_BAD_REQUEST');
      const badShare = await t.request('POST', `/api/clients/${id('client1')}/shares`, { token: tok('admin'), json: { brokerId: id('broker2'), relation: 'owner' } });
      expect([badShare.status, badShare.body.error.code]).toEqual([400, 'QIAO_BAD_REQUEST']);
      const shareWithPrimary = await t.request('POST', `/api/clients/${id('client1')}/shares`, { token: tok('admin'), json: { brokerId: id('broker1') } });
      expect([shareWithPrimary.status, shareWithPrimary.body.error.code]).toEqual([422, 'QIAO_ASSIGNMENT_INVALID']);
      const anon = await t.request('GET', '/api/conversations');
      expect([anon.status, anon.body.error.code]).toEqual([401, 'QIAO_AUTH_REQUIRED']);
    });
  });
});
