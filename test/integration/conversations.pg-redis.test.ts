/**
 * The cross-node side of conversations: two hub nodes sharing one real Postgres database and one Redis
 * prefix. A transfer or unshare made on one node revokes live subscriptions on the other at once;
 * typing, receipts, unread counts and presence cross nodes.
 *
 * Skips loudly when Postgres or Redis is unreachable; fails instead with QIAO_REQUIRE_SERVICES=1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../src/errors/codes.ts';
import type { MsgPush, Push, Reply, SignalPush } from '../../src/gateway/protocol.ts';
import type { PublicUser } from '../../src/store/users-repo.ts';
import { SioTestClient, TEST_REDIS_URL, WsTestClient, eventually, isMsg, sleep, startServicesNodes, type TestApp } from '../helpers/app.ts';
import { TEST_DATABASE_URL } from '../helpers/pg.ts';
import { gateService, postgresAvailable, redisAvailable } from '../helpers/services.ts';

const pgUp = await gateService('Postgres', TEST_DATABASE_URL, postgresAvailable);
const redisUp = await gateService('Redis', TEST_REDIS_URL, redisAvailable);

function expectError(r: Reply, code: ErrorCode): void {
  expect(r.ok, JSON.stringify(r)).toBe(false);
  if (!r.ok) expect(r.error.code).toBe(code);
}
const ok = (r: Reply) => expect(r.ok, JSON.stringify(r)).toBe(true);
const isSignal = (kind: string, channel: string) => (p: Push) => p.t === 'signal' && p.kind === kind && p.channel === channel;

describe.skipIf(!(pgUp && redisUp))('conversations across two nodes (Postgres + Redis)', () => {
  let cluster: { nodes: TestApp[]; close(): Promise<void> };
  let A: TestApp;
  let B: TestApp;
  const u: Record<string, { token: string; user: PublicUser }> = {};
  const tok = (l: string) => u[l].token;
  const id = (l: string) => u[l].user.id;
  let seeded: string;

  beforeAll(async () => {
    cluster = await startServicesNodes(2);
    [A, B] = cluster.nodes;
    for (const l of ['client1', 'client3', 'broker1', 'broker2', 'manager1', 'compliance1', 'admin']) u[l] = await A.login(l);
    const r = await B.request('GET', '/api/conversations', { token: tok('client1') });
    seeded = r.body.conversations[0].id;
  }, 60_000);
  afterAll(async () => {
    await cluster?.close();
  });

  it('a transfer on node B cuts the old broker’s and manager’s sockets on node A at once; the new broker reads the history', async () => {
    const opened = await A.request('POST', '/api/conversations', { token: tok('broker1'), json: { type: 'broker_client', clientId: id('client3') } });
    expect(opened.status, opened.text).toBe(201);
    const convId = opened.body.conversation.id;
    const ch = `conv.${convId}`;
    const first = await B.request('POST', `/api/conversations/${convId}/messages`, { token: tok('client3'), json: { payload: { text: '转户前' } } });
    expect(first.status).toBe(201);
    const oldBroker = await WsTestClient.connect(A.wsUrl, tok('broker1'));
    const oldManager = await SioTestClient.connect(A.baseUrl, tok('manager1'));
    const watcher = await SioTestClient.connect(A.baseUrl, tok('compliance1'));
    const client = await WsTestClient.connect(B.wsUrl, tok('client3'));
    try {
      ok(await oldBroker.subscribe(ch));
      ok(await oldManager.subscribe(ch));
      ok(await watcher.subscribe(ch));
      ok(await client.subscribe(ch));
      // Live on both nodes before the change.
      const warm = await B.request('POST', `/api/conversations/${convId}/messages`, { token: tok('client3'), json: { payload: { text: '在吗' } } });
      expect((await oldBroker.nextPush<MsgPush>(isMsg(ch))).id).toBe(warm.body.id);
      expect((await oldManager.nextPush<MsgPush>(isMsg(ch))).id).toBe(warm.body.id);

      const r = await B.request('POST', `/api/clients/${id('client3')}/transfer`, { token: tok('admin'), json: { toBrokerId: id('broker2') } });
      expect(r.status, r.text).toBe(200);
      // Published right after the answer, from node B: must not reach the old broker on node A.
      const after = await B.request('POST', `/api/conversations/${convId}/messages`, { token: tok('client3'), json: { payload: { text: '转户后' } } });
      expect(after.status).toBe(201);
      expect(await oldBroker.nextPush((p) => p.t === 'unsubscribed', 2000)).toMatchObject({ channel: ch, error: { code: 'QIAO_SUBSCRIBE_FORBIDDEN' } });
      expect(await oldManager.nextPush((p) => p.t === 'unsubscribed', 2000)).toMatchObject({ channel: ch, error: { code: 'QIAO_SUBSCRIBE_FORBIDDEN' } });
      expect((await watcher.nextPush<MsgPush>((p) => isMsg(ch)(p) && (p as any).id === after.body.id, 3000)).id).toBe(after.body.id);
      await sleep(100);
      expect(oldBroker.frames.peek(isMsg(ch))).toEqual([]);
      expect(oldManager.pushes.peek((p) => p.t === 'msg')).toEqual([]);
      expectError(await oldBroker.subscribe(ch), 'QIAO_SUBSCRIBE_FORBIDDEN');
      expect((await A.request('GET', `/api/conversations/${convId}`, { token: tok('broker1') })).body.error.code).toBe('QIAO_FORBIDDEN');

      const newBroker = await WsTestClient.connect(A.wsUrl, tok('broker2'));
      try {
        const hist = await A.request('GET', `/api/conversations/${convId}/messages`, { token: tok('broker2') });
        expect(hist.body.publications.map((m: any) => m.id)).toEqual([first.body.id, warm.body.id, after.body.id]);
        ok(await newBroker.subscribe(ch, after.body.offset));
        const reply = await A.request('POST', `/api/conversations/${convId}/messages`, { token: tok('broker2'), json: { payload: { text: '您好，我是您的新经纪人李经纪。' } } });
        expect(reply.status, reply.text).toBe(201);
        expect((await client.nextPush<MsgPush>((p) => isMsg(ch)(p) && (p as any).id === reply.body.id, 3000)).id).toBe(reply.body.id);
      } finally {
        await newBroker.close();
      }
    } finally {
      await oldBroker.close();
      oldManager.close();
      watcher.close();
      await client.close();
    }
  });

  it('unsharing on node A ends a shared broker’s subscription on node B', async () => {
    const share = await A.request('POST', `/api/clients/${id('client1')}/shares`, { token: tok('admin'), json: { brokerId: id('broker2'), relation: 'shared_read' } });
    expect(share.status, share.text).toBe(200);
    const shared = await SioTestClient.connect(B.baseUrl, tok('broker2'));
    try {
      ok(await shared.subscribe(`conv.${seeded}`));
      const un = await A.request('DELETE', `/api/clients/${id('client1')}/shares/${id('broker2')}`, { token: tok('admin') });
      expect(un.status, un.text).toBe(200);
      expect(await shared.nextPush((p) => p.t === 'unsubscribed', 2000)).toMatchObject({ channel: `conv.${seeded}`, error: { code: 'QIAO_SUBSCRIBE_FORBIDDEN' } });
    } finally {
      shared.close();
    }
  });

  it('presence, typing, unread counts and receipts cross nodes', async () => {
    const ch = `conv.${seeded}`;
    const peerPresence = async () =>
      (await A.request('GET', '/api/conversations', { token: tok('broker1') })).body.conversations.find((c: any) => c.id === seeded).peer.presence;
    const broker = await WsTestClient.connect(A.wsUrl, tok('broker1'));
    try {
      ok(await broker.subscribe(ch));
      const client = await SioTestClient.connect(B.baseUrl, tok('client1'));
      expect(await broker.nextPush((p) => isSignal('presence', ch)(p) && (p as any).data.state === 'online', 3000)).toMatchObject({ from: id('client1') });
      expect(await peerPresence()).toBe('online');
      ok(await client.subscribe(ch));

      ok(await client.cmd({ op: 'typing', channel: ch }));
      expect(await broker.nextPush(isSignal('typing', ch), 3000)).toEqual({ t: 'signal', channel: ch, kind: 'typing', from: id('client1') });

      const sent = await A.request('POST', `/api/conversations/${ch.slice(5)}/messages`, { token: tok('broker1'), json: { payload: { text: '跨节点消息' } } });
      expect(sent.status).toBe(201);
      expect((await client.nextPush<MsgPush>(isMsg(ch), 3000)).id).toBe(sent.body.id);
      const unread = (await client.nextPush((p) => isSignal('unread', ch)(p) && (p as any).data.topOffset === sent.body.offset, 3000)) as SignalPush;
      const listed = (await B.request('GET', '/api/conversations', { token: tok('client1') })).body.conversations.find((c: any) => c.id === seeded);
      expect((unread.data as any).unread).toBe(listed.unread);
      expect(listed.unread).toBeGreaterThan(0);

      ok(await client.cmd({ op: 'receipt', channel: ch, kind: 'read', offset: sent.body.offset }));
      expect(await broker.nextPush((p) => isSignal('receipt', ch)(p) && (p as any).data.read === sent.body.offset, 3000)).toMatchObject({ from: id('client1') });
      await eventually(async () => (await A.request('GET', '/api/conversations', { token: tok('client1') })).body.conversations.find((c: any) => c.id === seeded).unread === 0);

      client.close();
      expect(await broker.nextPush((p) => isSignal('presence', ch)(p) && (p as any).data.state === 'offline', 3000)).toBeTruthy();
      expect(await peerPresence()).toBe('offline');
    } finally {
      await broker.close();
    }
  });
});
