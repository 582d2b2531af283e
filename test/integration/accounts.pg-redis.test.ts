/**
 * Account security across two hub nodes sharing one Postgres database and one Redis prefix: a
 * sign-out, logout or disable made on one node ends the user's tokens and sockets on the other at
 * once (the cache there had already accepted the token); a re-grade on one node ends entitlements on
 * the other; login failure counters are shared (Redis rate-limit store).
 *
 * Skips loudly when Postgres or Redis is unreachable; fails instead with QIAO_REQUIRE_SERVICES=1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PASSWORD, SioTestClient, TEST_REDIS_URL, WsTestClient, eventually, startServicesNodes, type TestApp } from '../helpers/app.ts';
import { TEST_DATABASE_URL } from '../helpers/pg.ts';
import { gateService, postgresAvailable, redisAvailable } from '../helpers/services.ts';

const pgUp = await gateService('Postgres', TEST_DATABASE_URL, postgresAvailable);
const redisUp = await gateService('Redis', TEST_REDIS_URL, redisAvailable);

describe.skipIf(!(pgUp && redisUp))('account security across two nodes (Postgres + Redis)', () => {
  let cluster: { nodes: TestApp[]; close(): Promise<void> };
  let A: TestApp;
  let B: TestApp;
  let admin = '';

  beforeAll(async () => {
    // A long cache TTL: only the bus signal can make node B notice in time.
    cluster = await startServicesNodes(2, { QIAO_SESSION_CACHE_TTL_MS: '600000', QIAO_LOGIN_MAX_FAILURES_PER_ACCOUNT: '3' });
    [A, B] = cluster.nodes;
    admin = (await A.login('admin')).token;
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it('sign-out everywhere on node A ends REST and both sockets on node B', async () => {
    const r = await B.login('broker2');
    expect((await B.request('GET', '/api/me', { token: r.token })).status).toBe(200); // cached on B
    const ws = await WsTestClient.connect(B.wsUrl, r.token);
    const sio = await SioTestClient.connect(B.baseUrl, r.token);
    expect((await A.request('POST', `/api/admin/users/${r.user.id}/sign-out`, { token: admin })).status).toBe(204);
    expect(await ws.closed).toEqual({ code: 4606, reason: 'QIAO_SESSION_REVOKED' });
    await eventually(() => sio.closing.length > 0);
    expect(sio.closing[0].code).toBe(4606);
    const me = await eventually(async () => {
      const x = await B.request('GET', '/api/me', { token: r.token });
      return x.status === 401 ? x : null;
    }, 2000);
    expect(me!.body.error.code).toBe('QIAO_SESSION_REVOKED');
  });

  it('disable on node B closes sockets on node A (4607) and refuses the token there', async () => {
    const r = await A.login('research1');
    expect((await A.request('GET', '/api/me', { token: r.token })).status).toBe(200);
    const ws = await WsTestClient.connect(A.wsUrl, r.token);
    expect((await B.request('POST', `/api/admin/users/${r.user.id}/disable`, { token: admin })).status).toBe(200);
    expect((await ws.closed).code).toBe(4607);
    const me = await eventually(async () => {
      const x = await A.request('GET', '/api/me', { token: r.token });
      return x.status === 401 ? x : null;
    }, 2000);
    expect(me!.body.error.code).toBe('QIAO_ACCOUNT_DISABLED');
    await B.request('POST', `/api/admin/users/${r.user.id}/enable`, { token: admin });
  });

  it('a tier re-grade on node A ends the entitlement on node B', async () => {
    const c = await B.login('client2');
    const ws = await WsTestClient.connect(B.wsUrl, c.token);
    expect((await ws.subscribe('research.derivatives')).ok).toBe(true);
    expect((await A.request('PATCH', `/api/admin/clients/${c.user.id}/profile`, { token: admin, json: { tier: 'general' } })).status).toBe(200);
    const p = await ws.nextPush((x) => x.t === 'unsubscribed');
    expect(p).toMatchObject({ channel: 'research.derivatives', error: { code: 'QIAO_ENTITLEMENT_REQUIRED' } });
    await ws.close();
  });

  it('login failures counted on one node lock the account on the other', async () => {
    for (let i = 0; i < 3; i++) expect((await (i % 2 ? A : B).request('POST', '/api/auth/login', { json: { login: 'client3', password: 'wrong-wrong' } })).status).toBe(401);
    const r = await A.request('POST', '/api/auth/login', { json: { login: 'client3', password: DEMO_PASSWORD } });
    expect(r.status).toBe(429);
    expect(r.body.error.code).toBe('QIAO_LOGIN_THROTTLED');
  });
});
