/**
 * Price alerts on two hub nodes sharing PostgreSQL and Redis: rule changes and state transitions reach
 * the other node's index (Redis pub/sub), and a crossing seen by both nodes at once fires exactly once
 * (conditional UPDATE in Postgres).
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { DEMO_PASSWORD, TEST_FEED_KEY, TEST_JWT_SECRET, TEST_REDIS_URL, deleteRedisPrefix, eventually } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.ts';

describe('price alerts across two nodes (PostgreSQL + Redis)', () => {
  let db: TestDatabase;
  const prefix = `qiao_t_${randomBytes(6).toString('hex')}:`;
  let a: FastifyInstance;
  let b: FastifyInstance;
  let token: string;
  let userId: string;

  const node = async (id: string) => {
    const config = loadConfig({
      QIAO_LOG_LEVEL: 'silent',
      QIAO_JWT_SECRET: TEST_JWT_SECRET,
      QIAO_FEED_API_KEY: TEST_FEED_KEY,
      DATABASE_URL: db.url,
      REDIS_URL: TEST_REDIS_URL,
      QIAO_REDIS_PREFIX: prefix,
      QIAO_PG_POOL_SIZE: '4',
      QIAO_NODE_ID: id,
      QIAO_EMBEDDED_WORKERS: 'false',
    });
    const app = await buildApp(config);
    await app.ready();
    return app;
  };
  const post = async (app: FastifyInstance, url: string, body: unknown, headers: Record<string, string> = {}) => {
    const r = await app.inject({ method: 'POST', url, headers, payload: body as object });
    return { status: r.statusCode, body: r.body ? JSON.parse(r.body) : undefined };
  };
  /** Posts a tick and waits until what it fired is claimed and published (that happens after the answer). */
  const tick = async (app: FastifyInstance, symbol: string, price: number) => {
    const r = await post(app, '/api/ingest/ticks', { ticks: [{ symbol, price }] }, { 'x-api-key': TEST_FEED_KEY });
    await app.qiao.alerts.flush();
    return r;
  };
  const rule = async (app: FastifyInstance, body: unknown) => {
    const r = await post(app, '/api/alert-rules', body, { authorization: `Bearer ${token}` });
    expect(r.status).toBe(201);
    return r.body.rule.id as string;
  };
  const alertsIn = async (app: FastifyInstance) => {
    const r = await app.inject({ method: 'GET', url: `/api/channels/inbox.${userId}/history?limit=200`, headers: { authorization: `Bearer ${token}` } });
    return (JSON.parse(r.body).publications as Array<{ kind: string; payload: { symbol: string } }>).filter((p) => p.kind === 'alert');
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    a = await node('alerts-a');
    b = await node('alerts-b');
    const login = await post(a, '/api/auth/login', { login: 'client1', password: DEMO_PASSWORD });
    token = login.body.token;
    userId = login.body.user.id;
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await Promise.allSettled([db?.drop(), deleteRedisPrefix(TEST_REDIS_URL, prefix)]);
  });

  it('a rule created on one node is indexed on the other; deleting it on the other removes it everywhere', async () => {
    const id = await rule(a, { symbol: '600036.SH', direction: 'below', price: 30 });
    await eventually(() => b.qiao.alerts.rules.get(id));
    const del = await b.inject({ method: 'DELETE', url: `/api/alert-rules/${id}`, headers: { authorization: `Bearer ${token}` } });
    expect(del.statusCode).toBe(204);
    await eventually(() => !a.qiao.alerts.rules.get(id));
  });

  it('the same crossing posted to both nodes at once fires exactly once per rule', async () => {
    const symbols = Array.from({ length: 10 }, (_, i) => `6010${String(i).padStart(2, '0')}.SH`);
    const ids: string[] = [];
    for (const s of symbols) ids.push(await rule(a, { symbol: s, direction: 'above', price: 10 }));
    await eventually(() => ids.every((id) => b.qiao.alerts.rules.get(id)));
    const results = await Promise.all(symbols.flatMap((s) => [tick(a, s, 10.5), tick(b, s, 10.5)]));
    await Promise.all([a.qiao.alerts.flush(), b.qiao.alerts.flush()]);
    // Both nodes saw the crossing in their index; Postgres let one of them fire each rule.
    const fired = results.reduce((n, r) => n + r.body.fired, 0);
    expect(fired).toBe(20);
    const alerts = (await alertsIn(a)).filter((p) => symbols.includes(p.payload.symbol));
    expect(alerts).toHaveLength(10);
    expect(new Set(alerts.map((p) => p.payload.symbol)).size).toBe(10);
    expect(a.qiao.alerts.stats.notified + b.qiao.alerts.stats.notified).toBe(10);
    expect(a.qiao.alerts.stats.lostClaims + b.qiao.alerts.stats.lostClaims).toBe(10);
  });

  it('repeat rules: a firing on one node disarms the rule on the other, a re-arm there re-arms it here', async () => {
    const id = await rule(a, { symbol: '000858.SZ', direction: 'above', price: 100, repeat: true });
    await eventually(() => b.qiao.alerts.rules.get(id));
    expect((await tick(a, '000858.SZ', 101)).body.fired).toBe(1);
    await eventually(() => b.qiao.alerts.rules.get(id)?.armed === false);
    // B knows: no claim attempt for a price still above.
    const lost = b.qiao.alerts.stats.lostClaims;
    expect((await tick(b, '000858.SZ', 102)).body.fired).toBe(0);
    expect(b.qiao.alerts.stats.lostClaims).toBe(lost);
    // Re-armed through B (price well below), fired through A.
    expect((await tick(b, '000858.SZ', 95)).body.rearmed).toBe(1);
    await eventually(() => a.qiao.alerts.rules.get(id)?.armed === true);
    expect((await tick(a, '000858.SZ', 100.5)).body.fired).toBe(1);
    const alerts = (await alertsIn(b)).filter((p) => p.payload.symbol === '000858.SZ');
    expect(alerts).toHaveLength(2);
  });
  it('pausing on one node stops the rule everywhere; resuming on the other re-arms it everywhere (move rule)', async () => {
    const id = await rule(a, { symbol: '600900.SH', direction: 'move', percent: 5, basePrice: 25 });
    await eventually(() => b.qiao.alerts.rules.get(id));
    const patch = (app: FastifyInstance, active: boolean) =>
      app.inject({ method: 'PATCH', url: `/api/alert-rules/${id}`, headers: { authorization: `Bearer ${token}` }, payload: { active } });
    expect((await patch(b, false)).statusCode).toBe(200);
    await eventually(() => !a.qiao.alerts.rules.get(id));
    expect((await tick(a, '600900.SH', 27)).body.fired).toBe(0);
    expect((await patch(a, true)).statusCode).toBe(200);
    await eventually(() => b.qiao.alerts.rules.get(id)?.armed === true);
    expect((await tick(b, '600900.SH', 23.7)).body.fired).toBe(1);
    expect((await alertsIn(a)).filter((p) => p.payload.symbol === '600900.SH')).toHaveLength(1);
  });
});
