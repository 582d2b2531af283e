/**
 * The admins' queue dashboard (@bull-board at /admin/queues): services mode (Postgres + Redis +
 * BullMQ) serves it to admins, by bearer token or by the cookie that POST
 * /api/admin/queue-dashboard/session sets; clients and brokers get 403 QIAO_QUEUE_DASHBOARD_FORBIDDEN,
 * no credentials 401; logout ends the cookie. Embedded mode answers 404 QIAO_QUEUE_DASHBOARD_UNAVAILABLE.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUES } from '../../src/queue/jobs.ts';
import { startEmbeddedApp, startServicesApp, TEST_REDIS_URL, type TestApp } from '../helpers/app.ts';
import { TEST_DATABASE_URL } from '../helpers/pg.ts';
import { gateService, postgresAvailable, redisAvailable } from '../helpers/services.ts';

const pgUp = await gateService('Postgres', TEST_DATABASE_URL, postgresAvailable);
const redisUp = await gateService('Redis', TEST_REDIS_URL, redisAvailable);

describe.skipIf(!(pgUp && redisUp))('queue dashboard, services mode', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startServicesApp({ QIAO_EMBEDDED_WORKERS: 'false' });
  }, 60_000);
  afterAll(async () => t?.close());

  /** The cookie pair from a Set-Cookie header. */
  const cookieOf = (setCookie: string | null) => (setCookie ?? '').split(';')[0];

  it('admin: the page and its API (every queue) by bearer token, then by the session cookie', async () => {
    const admin = (await t.login('admin')).token;
    const page = await t.request('GET', '/admin/queues/', { token: admin });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.text).toContain('<base href="/admin/queues/"');
    expect(page.text).toContain('Qiao 桥 queues');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('content-security-policy')).not.toContain('upgrade-insecure-requests');

    const api = await t.request('GET', '/admin/queues/api/queues', { token: admin });
    expect(api.status, api.text).toBe(200);
    expect((api.body.queues as Array<{ name: string }>).map((q) => q.name).sort()).toEqual(Object.values(QUEUES).sort());

    // A job added by the hub is visible there.
    await t.app.qiao.queue.add(QUEUES.escalation, 'escalate', { messageId: 'm', userId: 'u', step: 0 }, { jobId: 'dash-visible', delayMs: 60_000 });
    const delayed = await t.request('GET', `/admin/queues/api/queues?activeQueue=${QUEUES.escalation}&status=delayed&page=1&jobsPerPage=10`, { token: admin });
    const esc = (delayed.body.queues as Array<{ name: string; counts: Record<string, number> }>).find((q) => q.name === QUEUES.escalation)!;
    expect(esc.counts.delayed).toBe(1);

    // The browser way: POST with the token sets the cookie, then plain page loads carry it.
    const s = await t.request('POST', '/api/admin/queue-dashboard/session', { token: admin });
    expect(s.status, s.text).toBe(200);
    expect(s.body.url).toBe('/admin/queues/');
    const setCookie = s.headers.get('set-cookie');
    expect(setCookie).toMatch(/^qiao_queue_dashboard=[^;]+; Path=\/admin\/queues; Max-Age=900; HttpOnly; SameSite=Strict/);
    const cookie = cookieOf(setCookie);
    const byCookie = await t.request('GET', '/admin/queues/', { headers: { cookie } });
    expect(byCookie.status).toBe(200);
    expect((await t.request('GET', '/admin/queues/api/queues', { headers: { cookie } })).status).toBe(200);
    // The page's scripts load with the cookie too (relative to <base href="/admin/queues/">).
    const script = /<script defer src="(static\/js\/main\.[^"]+\.js)"/.exec(byCookie.text)?.[1];
    expect(script).toBeDefined();
    const js = await t.request('GET', `/admin/queues/${script}`, { headers: { cookie } });
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toContain('javascript');
    // The cookie is no API token.
    expect((await t.request('GET', '/api/me', { token: cookie.split('=')[1] })).status).toBe(401);

    // Logout (session version moves) ends the cookie at once.
    expect((await t.request('POST', '/api/auth/logout', { token: admin })).status).toBeLessThan(300);
    const after = await t.request('GET', '/admin/queues/', { headers: { cookie } });
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('QIAO_AUTH_REQUIRED');
  });

  it('client and broker: 403 QIAO_QUEUE_DASHBOARD_FORBIDDEN; no credentials or a forged cookie: 401', async () => {
    for (const who of ['client1', 'broker1']) {
      const token = (await t.login(who)).token;
      const page = await t.request('GET', '/admin/queues/', { token });
      expect(page.status, who).toBe(403);
      expect(page.body.error.code).toBe('QIAO_QUEUE_DASHBOARD_FORBIDDEN');
      const api = await t.request('GET', '/admin/queues/api/queues', { token });
      expect(api.status).toBe(403);
      const s = await t.request('POST', '/api/admin/queue-dashboard/session', { token });
      expect(s.status).toBe(403);
      expect(s.body.error.code).toBe('QIAO_QUEUE_DASHBOARD_FORBIDDEN');
      expect(s.headers.get('set-cookie')).toBeNull();
    }
    for (const path of ['/admin/queues/', '/admin/queues/api/queues', '/admin/queues/static/js/x.js']) {
      const r = await t.request('GET', path);
      expect(r.status, path).toBe(401);
      expect(r.body.error.code).toBe('QIAO_AUTH_REQUIRED');
    }
    const forged = await t.request('GET', '/admin/queues/', { headers: { cookie: 'qiao_queue_dashboard=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.x' } });
    expect(forged.status).toBe(401);
    expect((await t.request('POST', '/api/admin/queue-dashboard/session')).status).toBe(401);
  });
});

describe('queue dashboard, embedded mode', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startEmbeddedApp();
  }, 60_000);
  afterAll(async () => t?.close());

  it('answers 404 QIAO_QUEUE_DASHBOARD_UNAVAILABLE (the in-process queue has no dashboard)', async () => {
    const admin = (await t.login('admin')).token;
    for (const path of ['/admin/queues', '/admin/queues/', '/admin/queues/api/queues']) {
      const r = await t.request('GET', path, { token: admin });
      expect(r.status, path).toBe(404);
      expect(r.body.error.code).toBe('QIAO_QUEUE_DASHBOARD_UNAVAILABLE');
    }
    const s = await t.request('POST', '/api/admin/queue-dashboard/session', { token: admin });
    expect(s.status).toBe(404);
    expect(s.body.error.code).toBe('QIAO_QUEUE_DASHBOARD_UNAVAILABLE');
  });
});
