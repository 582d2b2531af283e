/**
 * Login throttling and lockout, the general REST limit, security headers, and who may read /metrics
 * and /docs (docs/accounts.md, README configuration).
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog } from '../../src/store/schema/index.ts';
import { DEMO_PASSWORD, startEmbeddedApp, type TestApp } from '../helpers/app.ts';

const login = (t: TestApp, l: string, password: string, headers: Record<string, string> = {}) => t.request('POST', '/api/auth/login', { json: { login: l, password }, headers });

describe('login throttling', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startEmbeddedApp({ QIAO_LOGIN_MAX_FAILURES_PER_ACCOUNT: '3', QIAO_LOGIN_MAX_FAILURES_PER_ADDRESS: '12', QIAO_LOGIN_LOCKOUT_S: '600' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('locks an account after repeated failures (even the right password), with Retry-After; audited', async () => {
    for (let i = 0; i < 3; i++) expect((await login(t, 'client1', 'wrong-password')).body.error.code).toBe('QIAO_AUTH_BAD_CREDENTIALS');
    const locked = await login(t, 'client1', DEMO_PASSWORD);
    expect(locked.status).toBe(429);
    expect(locked.body.error.code).toBe('QIAO_LOGIN_THROTTLED');
    const retry = Number(locked.headers.get('retry-after'));
    expect(retry).toBeGreaterThan(500);
    expect(retry).toBeLessThanOrEqual(600);
    // Case does not get around it.
    expect((await login(t, 'CLIENT1', DEMO_PASSWORD)).status).toBe(429);
    // Another account from the same address still logs in.
    expect((await login(t, 'client2', DEMO_PASSWORD)).status).toBe(200);
    const events = await t.app.qiao.db.db.select().from(auditLog).where(eq(auditLog.actorId, 'client1'));
    expect(events.map((e) => e.action)).toEqual(expect.arrayContaining(['login.lockout', 'login.throttled']));
  });

  it('unknown logins get the same answers as wrong passwords (no enumeration)', async () => {
    const known: Array<[number, string, string | null]> = [];
    const unknown: Array<[number, string, string | null]> = [];
    for (let i = 0; i < 4; i++) {
      const a = await login(t, 'broker1', 'nope-nope-nope');
      const b = await login(t, 'no.such.user', 'nope-nope-nope');
      known.push([a.status, a.body.error.code, a.headers.get('retry-after') && 'set']);
      unknown.push([b.status, b.body.error.code, b.headers.get('retry-after') && 'set']);
    }
    expect(unknown).toEqual(known);
    expect(known.at(-1)).toEqual([429, 'QIAO_LOGIN_THROTTLED', 'set']);
  });

  it('limits failures per client address across accounts', async () => {
    // 9 failures from this address so far (3 + 2×3): three more on fresh accounts lock the address.
    const answers: number[] = [];
    for (let i = 0; i < 4; i++) answers.push((await login(t, `fresh.${i}`, 'nope-nope-nope')).status);
    expect(answers).toEqual([401, 401, 401, 429]);
    const r = await login(t, 'manager1', DEMO_PASSWORD);
    expect(r.status).toBe(429);
    expect(r.body.error.code).toBe('QIAO_LOGIN_THROTTLED');
    const events = await t.app.qiao.db.db.select().from(auditLog).where(eq(auditLog.action, 'login.throttled'));
    expect(events.some((e) => (e.detail as { limits?: string[] }).limits?.includes('address'))).toBe(true);
  });
});

describe('REST limits, headers and operations endpoints', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startEmbeddedApp({ QIAO_HTTP_RATE_LIMIT_MAX: '5', QIAO_LOGIN_RATE_MAX: '4', QIAO_OPS_TOKEN: 'ops-token-0123456789abcdef' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('the general limit answers 429 QIAO_RATE_LIMITED with Retry-After; health and the web page are not limited', async () => {
    const codes: number[] = [];
    let last;
    for (let i = 0; i < 7; i++) {
      last = await t.request('GET', '/api/channels');
      codes.push(last.status);
    }
    expect(codes.slice(0, 5).every((c) => c !== 429)).toBe(true);
    expect(last!.status).toBe(429);
    expect(last!.body.error.code).toBe('QIAO_RATE_LIMITED');
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    for (let i = 0; i < 10; i++) expect((await t.request('GET', '/health/live')).status).toBe(200);
  });

  it('login attempts per address per minute, whatever their outcome', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await login(t, 'client3', DEMO_PASSWORD)).status);
    expect(statuses.slice(0, 4)).toEqual([200, 200, 200, 200]);
    expect(statuses[4]).toBe(429);
    const r = await login(t, 'client3', DEMO_PASSWORD);
    expect(r.body.error.code).toBe('QIAO_LOGIN_THROTTLED');
    expect(r.headers.get('retry-after')).toBeTruthy();
  });

  it('security headers on every response', async () => {
    for (const path of ['/health/live', '/api/nope', '/metrics']) {
      const r = await t.request('GET', path);
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      expect(r.headers.get('strict-transport-security')).toMatch(/max-age=/);
      expect(r.headers.get('x-frame-options')).toBeTruthy();
      expect(r.headers.get('content-security-policy')).toBeTruthy();
      expect(r.headers.get('x-powered-by')).toBeNull();
    }
  });

  it('/metrics and /docs: loopback by default, X-Ops-Token from elsewhere', async () => {
    expect((await t.request('GET', '/metrics')).status).toBe(200);
    expect((await t.request('GET', '/docs/json')).status).toBe(200);
    for (const url of ['/metrics', '/docs', '/docs/json', '/docs/static/index.html']) {
      const far = await t.app.inject({ method: 'GET', url, remoteAddress: '10.20.30.40' });
      expect(far.statusCode).toBe(403);
      expect(far.json().error.code).toBe('QIAO_OPS_FORBIDDEN');
      const bad = await t.app.inject({ method: 'GET', url, remoteAddress: '10.20.30.40', headers: { 'x-ops-token': 'ops-token-0123456789abcdeX' } });
      expect(bad.statusCode).toBe(403);
    }
    const ok = await t.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '10.20.30.40', headers: { 'x-ops-token': 'ops-token-0123456789abcdef' } });
    expect(ok.statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '::ffff:127.0.0.1' })).statusCode).toBe(200);
    // Other paths are not affected.
    expect((await t.app.inject({ method: 'GET', url: '/health/live', remoteAddress: '10.20.30.40' })).statusCode).toBe(200);
  });
});

describe('QIAO_OPS_ALLOW=all', () => {
  it('opens /metrics and /docs to every address', async () => {
    const t = await startEmbeddedApp({ QIAO_OPS_ALLOW: 'all' });
    try {
      expect((await t.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '10.20.30.40' })).statusCode).toBe(200);
      expect((await t.app.inject({ method: 'GET', url: '/docs/json', remoteAddress: '10.20.30.40' })).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe('the general REST limit counts per signed-in user', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startEmbeddedApp({ QIAO_HTTP_RATE_LIMIT_MAX: '5' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('one user over the limit does not throttle another user on the same address', async () => {
    const a = (await t.login('client1')).token;
    const b = (await t.login('client2')).token;
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await t.request('GET', '/api/channels', { token: a })).status);
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses[5]).toBe(429);
    // Same address (127.0.0.1), another user: its own bucket.
    expect((await t.request('GET', '/api/channels', { token: b })).status).toBe(200);
    // A forged token gets a bucket of its own but is refused by authentication.
    const forged = `${Buffer.from('{"alg":"HS256"}').toString('base64url')}.${Buffer.from('{"sub":"someone"}').toString('base64url')}.x`;
    const r = await t.request('GET', '/api/channels', { token: forged });
    expect(r.status).toBe(401);
  });
});
