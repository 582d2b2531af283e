/**
 * The API suite, run against an embedded hub (api.test.ts) and against real Postgres + Redis
 * (api.pg-redis.test.ts). Every test talks to a listening server over real HTTP, WebSocket and
 * socket.io; each suite run owns a fresh database, so offsets start at 1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MsgPush } from '../../src/gateway/protocol.ts';
import { DEMO_LOGINS } from '../../src/store/seed.ts';
import type { PublicUser } from '../../src/store/users-repo.ts';
import { SioTestClient, TEST_FEED_KEY, WsTestClient, isMsg, metricValue, note, sleep, type TestApp } from '../helpers/app.ts';

type Login = { token: string; user: PublicUser };

const PUBLICATION_KEYS = ['channel', 'id', 'offset', 'kind', 'sender', 'payload', 'time'];

function expectNoSecrets(text: string): void {
  expect(text).not.toMatch(/password/i);
  expect(text).not.toMatch(/scrypt\$/);
}

export function apiSuite(label: string, start: () => Promise<TestApp>): void {
  describe(`Qiao API (${label})`, () => {
    let t: TestApp;
    const u: Record<string, Login> = {};
    const auth = (login: string) => u[login].token;

    beforeAll(async () => {
      t = await start();
      const logins = ['client1', 'client2', 'inst1', 'research1', 'broker1'];
      const results = await Promise.all(logins.map((l) => t.login(l)));
      logins.forEach((l, i) => (u[l] = results[i]));
    });

    afterAll(async () => {
      await t?.close();
    });

    const publish = (channel: string, payload: unknown, opts: { token?: string; key?: string; kind?: string } = {}) =>
      t.request('POST', `/api/channels/${channel}/publications`, {
        token: opts.token ?? auth('research1'),
        json: { kind: opts.kind ?? 'note', payload },
        headers: opts.key ? { 'idempotency-key': opts.key } : {},
      });

    describe('auth', () => {
      it('logs every demo user in and never returns a password hash', async () => {
        for (const d of DEMO_LOGINS) {
          const r = await t.request('POST', '/api/auth/login', { json: { login: d.login, password: 'qiao-demo-2026' } });
          expect(r.status, d.login).toBe(200);
          expect(r.body.token.split('.')).toHaveLength(3);
          expect(Date.parse(r.body.expiresAt)).toBeGreaterThan(Date.now());
          expect(r.body.user).toMatchObject({ login: d.login, role: d.role });
          expect(r.body.user.id).toMatch(/^[0-9a-f-]{36}$/);
          expect(Object.keys(r.body)).toEqual(expect.arrayContaining(['token', 'expiresAt', 'user']));
          expectNoSecrets(JSON.stringify(r.body.user));
          expect(r.body.user).not.toHaveProperty('passwordHash');
        }
      });

      it('refuses a wrong password and an unknown login with the same stable code', async () => {
        const wrong = await t.request('POST', '/api/auth/login', { json: { login: 'client1', password: 'not-the-password' } });
        expect(wrong.status).toBe(401);
        expect(wrong.body.error.code).toBe('QIAO_AUTH_BAD_CREDENTIALS');
        const unknown = await t.request('POST', '/api/auth/login', { json: { login: 'nobody-here', password: 'qiao-demo-2026' } });
        expect(unknown.status).toBe(401);
        expect(unknown.body.error).toEqual(wrong.body.error);
        expect(wrong.text).not.toMatch(/scrypt\$/);
        expect(wrong.headers.get('www-authenticate')).toBeNull();
      });

      it('GET /api/me returns the caller without secrets; no token → QIAO_AUTH_REQUIRED', async () => {
        const me = await t.request('GET', '/api/me', { token: auth('client2') });
        expect(me.status).toBe(200);
        expect(me.body).toEqual(u.client2.user);
        expect(me.body).toMatchObject({ login: 'client2', role: 'client', tier: 'hnw' });
        expectNoSecrets(me.text);
        const anon = await t.request('GET', '/api/me');
        expect(anon.status).toBe(401);
        expect(anon.body.error.code).toBe('QIAO_AUTH_REQUIRED');
      });
    });

    describe('channels and subscriptions', () => {
      const entitlement = async (login: string) => {
        const r = await t.request('GET', '/api/channels', { token: auth(login) });
        expect(r.status).toBe(200);
        return new Map<string, { entitled: boolean; canPublish: boolean; subscribed: boolean }>(r.body.channels.map((c: { name: string }) => [c.name, c]));
      };

      it('lists research entitlement per client tier', async () => {
        const general = await entitlement('client1');
        expect(general.get('research.macro')?.entitled).toBe(true);
        expect(general.get('research.quant')?.entitled).toBe(false);
        expect(general.get('research.derivatives')?.entitled).toBe(false);
        expect(general.get('research.institutional')?.entitled).toBe(false);
        expect(general.get(`inbox.${u.client1.user.id}`)?.entitled).toBe(true);
        expect(general.get('research.macro')?.canPublish).toBe(false);

        const hnw = await entitlement('client2');
        expect(hnw.get('research.quant')?.entitled).toBe(true);
        expect(hnw.get('research.derivatives')?.entitled).toBe(true);
        expect(hnw.get('research.institutional')?.entitled).toBe(false);

        const inst = await entitlement('inst1');
        expect(inst.size).toBeGreaterThan(10);
        for (const [name, c] of inst) expect(c.entitled, name).toBe(true);

        const research = await entitlement('research1');
        expect(research.get('research.institutional')).toMatchObject({ entitled: true, canPublish: true });
      });

      it('PUT/GET/DELETE subscriptions are persisted and survive a new login', async () => {
        const put = await t.request('PUT', '/api/subscriptions/research.macro', {
          token: auth('client1'),
          json: { prefs: { muted: false, digest: 'daily', transports: { web: true, email: false } } },
        });
        expect(put.status).toBe(201);
        expect(put.body).toMatchObject({ channel: 'research.macro', created: true });
        const again = await t.request('PUT', '/api/subscriptions/research.macro', { token: auth('client1'), json: { prefs: { muted: true } } });
        expect(again.status).toBe(200);
        expect(again.body.created).toBe(false);
        const second = await t.request('PUT', '/api/subscriptions/alerts.600519.SH', { token: auth('client1'), json: {} });
        expect(second.status).toBe(201);

        const fresh = await t.login('client1');
        const list = await t.request('GET', '/api/subscriptions', { token: fresh.token });
        expect(list.status).toBe(200);
        const byName = new Map(list.body.subscriptions.map((s: { channel: string; prefs: unknown }) => [s.channel, s.prefs]));
        expect(byName.get('research.macro')).toEqual({ muted: true });
        expect(byName.get('alerts.600519.SH')).toEqual({});
        // The catalogue shows the subscription state too (including a non-static channel).
        const cat = await t.request('GET', '/api/channels', { token: fresh.token });
        const subscribed = cat.body.channels.filter((c: { subscribed: boolean }) => c.subscribed).map((c: { name: string }) => c.name);
        expect(subscribed.sort()).toEqual(['alerts.600519.SH', 'research.macro']);
        // Another user does not see them.
        const other = await t.request('GET', '/api/subscriptions', { token: auth('client2') });
        expect(other.body.subscriptions.map((s: { channel: string }) => s.channel)).not.toContain('research.macro');

        const del = await t.request('DELETE', '/api/subscriptions/research.macro', { token: fresh.token });
        expect(del.status).toBe(204);
        const delAgain = await t.request('DELETE', '/api/subscriptions/research.macro', { token: fresh.token });
        expect(delAgain.status).toBe(404);
        expect(delAgain.body.error.code).toBe('QIAO_NOT_FOUND');
        const after = await t.request('GET', '/api/subscriptions', { token: (await t.login('client1')).token });
        expect(after.body.subscriptions.map((s: { channel: string }) => s.channel)).toEqual(['alerts.600519.SH']);
        await t.request('DELETE', '/api/subscriptions/alerts.600519.SH', { token: fresh.token });
      });

      it('refuses a channel above the client tier and another user’s inbox, storing nothing', async () => {
        const quant = await t.request('PUT', '/api/subscriptions/research.quant', { token: auth('client1'), json: {} });
        expect(quant.status).toBe(403);
        expect(quant.body.error.code).toBe('QIAO_ENTITLEMENT_REQUIRED');
        const inbox = await t.request('PUT', `/api/subscriptions/inbox.${u.client2.user.id}`, { token: auth('client1'), json: {} });
        expect(inbox.status).toBe(403);
        expect(inbox.body.error.code).toBe('QIAO_SUBSCRIBE_FORBIDDEN');
        const list = await t.request('GET', '/api/subscriptions', { token: auth('client1') });
        expect(list.body.subscriptions).toEqual([]);
        // The HNW client may take quant, not institutional.
        expect((await t.request('PUT', '/api/subscriptions/research.quant', { token: auth('client2'), json: {} })).status).toBe(201);
        const inst = await t.request('PUT', '/api/subscriptions/research.institutional', { token: auth('client2'), json: {} });
        expect(inst.body.error.code).toBe('QIAO_ENTITLEMENT_REQUIRED');
        expect((await t.request('DELETE', '/api/subscriptions/research.quant', { token: auth('client2') })).status).toBe(204);
      });
    });

    describe('publishing and delivery', () => {
      it('delivers REST publications to a raw WS and a socket.io subscriber with offsets 1,2,3 in order', async () => {
        const ch = 'research.strategy';
        const ws = await WsTestClient.connect(t.wsUrl, auth('client1'));
        const sio = await SioTestClient.connect(t.baseUrl, auth('client2'));
        try {
          expect(ws.welcome?.user).toMatchObject({ id: u.client1.user.id, role: 'client' });
          expect(sio.welcome?.user).toMatchObject({ id: u.client2.user.id, role: 'client' });
          const wsSub = await ws.subscribe(ch);
          expect(wsSub).toMatchObject({ ok: true, result: { channel: ch, topOffset: 0 } });
          const sioSub = await sio.subscribe(ch);
          expect(sioSub).toMatchObject({ ok: true, result: { channel: ch, topOffset: 0 } });

          const sent: { id: string; offset: number; payload: Record<string, unknown> }[] = [];
          for (let i = 1; i <= 3; i++) {
            const payload = note(`策略周报 第${i}期`, { summary: `summary ${i}`, category: 'strategy' });
            const r = await publish(ch, payload);
            expect(r.status).toBe(201);
            expect(r.body).toMatchObject({ channel: ch, offset: i, duplicate: false });
            expect(r.body.id).toMatch(/^[0-9a-f-]{36}$/);
            sent.push({ id: r.body.id, offset: r.body.offset, payload });
          }

          for (const got of [await ws.msgs(ch, 3), await sio.msgs(ch, 3)]) {
            expect(got.map((m) => m.offset)).toEqual([1, 2, 3]);
            got.forEach((m, i) => {
              for (const k of PUBLICATION_KEYS) expect(m, k).toHaveProperty(k);
              expect(m).toMatchObject({ t: 'msg', channel: ch, id: sent[i].id, offset: sent[i].offset, kind: 'note', sender: u.research1.user.id });
              expect(m.payload).toEqual(sent[i].payload);
              expect(new Date(m.time).toISOString()).toBe(m.time);
            });
          }
          // Nothing else arrived for the channel (each publication exactly once per subscriber).
          await sleep(100);
          expect(ws.frames.peek(isMsg(ch))).toEqual([]);
          expect(sio.pushes.peek(isMsg(ch))).toEqual([]);

          // A late subscriber with `since` recovers what it missed, in order.
          const late = await WsTestClient.connect(t.wsUrl, auth('inst1'));
          const rec = await late.subscribe(ch, 1);
          expect(rec).toMatchObject({ ok: true, result: { channel: ch, topOffset: 3, recovered: true } });
          expect((await late.msgs(ch, 2)).map((m) => m.id)).toEqual([sent[1].id, sent[2].id]);
          await late.close();
        } finally {
          await ws.close();
          sio.close();
        }
      });

      it('pages history with before/limit and nextBefore', async () => {
        const ch = 'research.sector.tech';
        const ids: string[] = [];
        for (let i = 1; i <= 5; i++) {
          const r = await publish(ch, note(`科技 ${i}`));
          expect(r.body.offset).toBe(i);
          ids.push(r.body.id);
        }
        const page = (q: string) => t.request('GET', `/api/channels/${ch}/history${q}`, { token: auth('client1') });
        const p1 = await page('?limit=2');
        expect(p1.status).toBe(200);
        expect(p1.body.publications.map((p: MsgPush) => p.offset)).toEqual([4, 5]);
        expect(p1.body.nextBefore).toBe(4);
        for (const p of p1.body.publications) for (const k of PUBLICATION_KEYS) expect(p).toHaveProperty(k);
        const p2 = await page(`?before=${p1.body.nextBefore}&limit=2`);
        expect(p2.body.publications.map((p: MsgPush) => p.offset)).toEqual([2, 3]);
        expect(p2.body.nextBefore).toBe(2);
        const p3 = await page(`?before=${p2.body.nextBefore}&limit=2`);
        expect(p3.body.publications.map((p: MsgPush) => p.id)).toEqual([ids[0]]);
        expect(p3.body.nextBefore).toBeNull();
        const all = await page('');
        expect(all.body.publications.map((p: MsgPush) => p.offset)).toEqual([1, 2, 3, 4, 5]);
        expect(all.body.nextBefore).toBeNull();
        const empty = await t.request('GET', '/api/channels/research.sector.energy/history', { token: auth('client1') });
        expect(empty.body).toEqual({ publications: [], nextBefore: null });
        // History is authorised like a subscribe.
        const refused = await t.request('GET', '/api/channels/research.quant/history', { token: auth('client1') });
        expect(refused.status).toBe(403);
        expect(refused.body.error.code).toBe('QIAO_ENTITLEMENT_REQUIRED');
      });

      it('Idempotency-Key: a retry returns the same id/offset with 200 duplicate:true and is delivered once', async () => {
        const ch = 'research.morning-brief';
        const ws = await WsTestClient.connect(t.wsUrl, auth('client1'));
        try {
          expect((await ws.subscribe(ch)).ok).toBe(true);
          const key = `brief-${Date.now()}`;
          const first = await publish(ch, note('晨会纪要'), { key });
          expect(first.status).toBe(201);
          expect(first.body).toMatchObject({ offset: 1, duplicate: false });
          const retry = await publish(ch, note('晨会纪要'), { key });
          expect(retry.status).toBe(200);
          expect(retry.body).toEqual({ channel: ch, id: first.body.id, offset: 1, duplicate: true });
          const marker = await publish(ch, note('marker'));
          expect(marker.body.offset).toBe(2);
          const got = await ws.msgs(ch, 2);
          expect(got.map((m) => [m.id, m.offset])).toEqual([
            [first.body.id, 1],
            [marker.body.id, 2],
          ]);
          await sleep(100);
          expect(ws.frames.peek(isMsg(ch))).toEqual([]);
          const hist = await t.request('GET', `/api/channels/${ch}/history`, { token: auth('client1') });
          expect(hist.body.publications.map((p: MsgPush) => p.id)).toEqual([first.body.id, marker.body.id]);
        } finally {
          await ws.close();
        }
      });

      it('Idempotency-Key: the same key with another body or channel is refused with 409 QIAO_IDEMPOTENCY_MISMATCH, for notes and chat', async () => {
        const key = `mismatch-${Date.now()}`;
        const first = await publish('research.strategy', note('策略周报'), { key });
        expect(first.status).toBe(201);
        // The same request with its keys in another order is the same request.
        const same = await publish('research.strategy', { riskLevel: 'R2', tickers: ['600519.SH'], body: '', summary: '', title: '策略周报' }, { key });
        expect(same.status, same.text).toBe(200);
        expect(same.body).toMatchObject({ id: first.body.id, duplicate: true });
        for (const [channel, payload] of [
          ['research.strategy', note('另一份报告')],
          ['research.macro', note('策略周报')],
        ] as const) {
          const r = await publish(channel, payload, { key });
          expect(r.status, r.text).toBe(409);
          expect(r.body.error.code).toBe('QIAO_IDEMPOTENCY_MISMATCH');
        }
        const hist = await t.request('GET', '/api/channels/research.strategy/history', { token: auth('research1') });
        expect(hist.body.publications.filter((p: MsgPush) => (p.payload as { title: string }).title === '另一份报告')).toEqual([]);

        // Chat: the broker's conversation with client1.
        const convs = await t.request('GET', '/api/conversations', { token: auth('broker1') });
        expect(convs.status, convs.text).toBe(200);
        const conv = convs.body.conversations.find((c: { client: { id: string } | null }) => c.client?.id === u.client1.user.id);
        expect(conv).toBeTruthy();
        const say = (text: string) =>
          t.request('POST', `/api/conversations/${conv.id}/messages`, { token: auth('broker1'), json: { kind: 'chat', payload: { text } }, headers: { 'idempotency-key': key } });
        const c1 = await say('您好，报告已发送。');
        expect(c1.status, c1.text).toBe(201);
        const c2 = await say('您好，报告已发送。');
        expect(c2.status).toBe(200);
        expect(c2.body).toMatchObject({ id: c1.body.id, offset: c1.body.offset, duplicate: true });
        const c3 = await say('另一条消息');
        expect(c3.status).toBe(409);
        expect(c3.body.error.code).toBe('QIAO_IDEMPOTENCY_MISMATCH');
      });
    });

    describe('market-alert ingest', () => {
      const ingest = (body: unknown, key: string | null = TEST_FEED_KEY) =>
        t.request('POST', '/api/ingest/alerts', { json: body, headers: key === null ? {} : { 'x-api-key': key } });

      it('requires the feed API key', async () => {
        const missing = await ingest({ title: 'x' }, null);
        expect(missing.status).toBe(401);
        expect(missing.body.error.code).toBe('QIAO_API_KEY_INVALID');
        const wrong = await ingest({ title: 'x' }, 'wrong-key-wrong-key-wrong');
        expect(wrong.status).toBe(401);
        expect(wrong.body.error.code).toBe('QIAO_API_KEY_INVALID');
        // A user token is not an API key.
        const bearer = await t.request('POST', '/api/ingest/alerts', { token: auth('research1'), json: { title: 'x' } });
        expect(bearer.body.error.code).toBe('QIAO_API_KEY_INVALID');
        const hist = await t.request('GET', '/api/channels/alerts.market/history', { token: auth('client1') });
        expect(hist.body.publications).toEqual([]);
      });

      it('routes by symbol to alerts.<symbol>, without symbol to alerts.market, and refuses a bad symbol', async () => {
        const ws = await WsTestClient.connect(t.wsUrl, auth('client1'));
        try {
          expect((await ws.subscribe('alerts.600519.SH')).ok).toBe(true);
          expect((await ws.subscribe('alerts.market')).ok).toBe(true);
          const sym = await ingest({ symbol: '600519.SH', title: '贵州茅台 涨停', severity: 'warning', event: 'price', price: 1688.5 });
          expect(sym.status).toBe(201);
          expect(sym.body).toMatchObject({ channel: 'alerts.600519.SH', offset: 1, duplicate: false });
          const mkt = await ingest({ title: '沪指跌破 3000 点', severity: 'critical', event: 'market' });
          expect(mkt.status).toBe(201);
          expect(mkt.body).toMatchObject({ channel: 'alerts.market', offset: 1 });
          const a = await ws.nextPush<MsgPush>(isMsg('alerts.600519.SH'));
          expect(a).toMatchObject({ id: sym.body.id, kind: 'alert', sender: 'feed', payload: { symbol: '600519.SH', title: '贵州茅台 涨停', price: 1688.5 } });
          const m = await ws.nextPush<MsgPush>(isMsg('alerts.market'));
          expect(m).toMatchObject({ id: mkt.body.id, kind: 'alert', sender: 'feed' });

          const bad = await ingest({ symbol: 'AAPL', title: 'x' });
          expect(bad.status).toBe(400);
          expect(bad.body.error.code).toBe('QIAO_CHANNEL_BAD_NAME');
          const badPayload = await ingest({ title: 'x', severity: 'apocalyptic' });
          expect(badPayload.status).toBe(400);
          expect(badPayload.body.error.code).toBe('QIAO_BAD_PUBLICATION');
          const hist = await t.request('GET', '/api/channels/alerts.market/history', { token: auth('client1') });
          expect(hist.body.publications.map((p: MsgPush) => p.id)).toEqual([mkt.body.id]);
          // Clients cannot publish alerts themselves.
          const forged = await publish('alerts.market', { title: 'fake' }, { token: auth('client1'), kind: 'alert' });
          expect(forged.status).toBe(403);
          expect(forged.body.error.code).toBe('QIAO_PUBLISH_FORBIDDEN');
        } finally {
          await ws.close();
        }
      });
    });

    describe('operations', () => {
      it('/health/live and /health/ready report every check ok', async () => {
        const live = await t.request('GET', '/health/live');
        expect(live.status).toBe(200);
        expect(live.body).toMatchObject({ status: 'ok', node: t.config.nodeId });
        const ready = await t.request('GET', '/health/ready');
        expect(ready.status).toBe(200);
        expect(ready.body).toMatchObject({
          status: 'ready',
          mode: t.mode,
          checks: { postgres: { ok: true }, redis: { ok: true } },
        });
        expect(ready.body.checks.postgres.kind).toBe(t.mode === 'services' ? 'pg' : 'pglite');
        expect(ready.body.checks.redis.kind).toBe(t.mode === 'services' ? 'redis' : 'memory');
      });

      it('/metrics exposes connections, deliveries and publish latency', async () => {
        const ws = await WsTestClient.connect(t.wsUrl, auth('client1'));
        try {
          await ws.subscribe('research.sector.finance');
          await publish('research.sector.finance', note('金融'));
          await ws.nextPush(isMsg('research.sector.finance'));
          const r = await t.request('GET', '/metrics');
          expect(r.status).toBe(200);
          expect(r.headers.get('content-type')).toMatch(/text\/plain/);
          for (const name of ['qiao_connections', 'qiao_deliveries_total', 'qiao_publish_latency_seconds_bucket', 'qiao_publish_latency_seconds_count']) {
            expect(r.text).toContain(name);
          }
          expect(metricValue(r.text, 'qiao_connections', { transport: 'ws' })).toBeGreaterThanOrEqual(1);
          expect(metricValue(r.text, 'qiao_deliveries_total', { transport: 'ws' })).toBeGreaterThanOrEqual(1);
          expect(metricValue(r.text, 'qiao_publish_latency_seconds_count', { family: 'research' })).toBeGreaterThanOrEqual(1);
        } finally {
          await ws.close();
        }
      });

      it('/asyncapi.json is the AsyncAPI document of the socket protocol, with every command', async () => {
        const r = await t.request('GET', '/asyncapi.json');
        expect(r.status).toBe(200);
        expect(r.headers.get('content-type')).toContain('application/json');
        expect(r.body.asyncapi).toBe('3.0.0');
        expect(Object.values(r.body.components.messages as Record<string, { name: string }>).map((m) => m.name)).toEqual(expect.arrayContaining(['subscribe', 'publish', 'msg', 'welcome', 'reply']));
      });

      it('/docs/json is an OpenAPI document listing the routes', async () => {
        const r = await t.request('GET', '/docs/json');
        expect(r.status).toBe(200);
        expect(r.body.openapi).toMatch(/^3\./);
        expect(r.body.info.title).toContain('Qiao');
        const paths = Object.keys(r.body.paths);
        for (const p of [
          '/api/auth/login',
          '/api/me',
          '/api/channels',
          '/api/channels/{channel}/history',
          '/api/channels/{channel}/publications',
          '/api/subscriptions',
          '/api/subscriptions/{channel}',
          '/api/ingest/alerts',
          '/health/live',
          '/health/ready',
          '/metrics',
        ]) {
          expect(paths, p).toContain(p);
        }
        expect(r.body.paths['/api/channels/{channel}/publications'].post).toBeTruthy();
        expect(r.body.paths['/api/subscriptions/{channel}'].put).toBeTruthy();
        expect(r.body.paths['/api/subscriptions/{channel}'].delete).toBeTruthy();
        expect(paths).not.toContain('/ws');
        expect(r.body.components.securitySchemes).toHaveProperty('bearerAuth');
      });
    });
  });
}
