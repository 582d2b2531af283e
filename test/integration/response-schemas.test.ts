/**
 * Every REST operation declares its success response (so the OpenAPI document, and the web client's
 * generated types, type every answer), and the schemas added for that keep every field the handlers
 * return (fast-json-stringify drops properties a response schema does not name).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAMILY_DEFAULTS, TRACKED_TRANSPORTS } from '../../src/domain/routing.ts';
import { ERRORS } from '../../src/errors/codes.ts';
import { eventually, note, startEmbeddedApp, type TestApp } from '../helpers/app.ts';

describe('response schemas (embedded)', () => {
  let t: TestApp;
  const tok: Record<string, string> = {};

  beforeAll(async () => {
    t = await startEmbeddedApp();
    for (const l of ['client1', 'research1', 'compliance1']) tok[l] = (await t.login(l)).token;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('every operation of the OpenAPI document has a 2xx response with a schema', async () => {
    const doc = (await t.request('GET', '/docs/json')).body as { paths: Record<string, Record<string, { responses?: Record<string, { content?: Record<string, { schema?: unknown }> }> }>> };
    const untyped: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const ok = Object.entries(op.responses ?? {}).filter(([code]) => code.startsWith('2'));
        if (!ok.length) untyped.push(`${method} ${path}: no 2xx response`);
        for (const [code, r] of ok) {
          if (code === '204') continue;
          if (!Object.values(r.content ?? {}).some((c) => c.schema)) untyped.push(`${method} ${path} ${code}: no schema`);
        }
      }
    }
    expect(untyped).toEqual([]);
    expect(Object.keys(doc.paths).length).toBeGreaterThan(50);
  });

  describe('the OpenAPI document (app.swagger())', () => {
    type Media = Record<string, { schema?: { $ref?: string; properties?: Record<string, unknown> } }>;
    type Op = { tags?: string[]; summary?: string; security?: unknown[]; parameters?: unknown[]; requestBody?: unknown; responses?: Record<string, { content?: Media }> };
    type Doc = { paths: Record<string, Record<string, Op>>; components: { schemas: Record<string, { properties?: Record<string, { $ref?: string; enum?: string[] }> }> } };
    const doc = () => t.app.swagger() as unknown as Doc;
    const ops = () => Object.entries(doc().paths).flatMap(([path, byMethod]) => Object.entries(byMethod).map(([method, op]) => ({ name: `${method} ${path}`, op })));
    /** Error answers whose body is not an error (readiness answers 503 with its probe results). */
    const NOT_ERRORS = new Set(['get /health/ready 503']);

    it('every error answer is the shared QiaoError component', () => {
      const wrong: string[] = [];
      for (const { name, op } of ops()) {
        for (const [status, r] of Object.entries(op.responses ?? {})) {
          if (!/^[45]/.test(status) || NOT_ERRORS.has(`${name} ${status}`)) continue;
          if (r.content?.['application/json']?.schema?.$ref !== '#/components/schemas/QiaoError') wrong.push(`${name} ${status}`);
        }
      }
      expect(wrong).toEqual([]);
    });

    it("the error code is an enum of exactly the catalogue's codes", () => {
      const { schemas } = doc().components;
      expect(schemas.QiaoError.properties?.error.$ref).toBe('#/components/schemas/QiaoErrorBody');
      expect([...(schemas.QiaoErrorBody.properties?.code.enum ?? [])].sort()).toEqual(Object.keys(ERRORS).sort());
    });

    it('every operation has a tag, a summary, and the errors it can give: 401 when secured, 400 when it validates input', () => {
      const missing: string[] = [];
      for (const { name, op } of ops()) {
        const statuses = Object.keys(op.responses ?? {});
        if (!op.tags?.length) missing.push(`${name}: tag`);
        if (!op.summary) missing.push(`${name}: summary`);
        if (op.security?.length && !statuses.includes('401')) missing.push(`${name}: 401`);
        if ((op.parameters?.length || op.requestBody) && !statuses.includes('400')) missing.push(`${name}: 400`);
        if (!statuses.includes('500')) missing.push(`${name}: 500`);
      }
      expect(missing).toEqual([]);
    });

    it('shared shapes are components, not inlined copies', () => {
      const d = doc();
      for (const name of ['Publication', 'PublicationPage', 'Published', 'PendingPublish', 'PublicUser', 'Title']) expect(Object.keys(d.components.schemas)).toContain(name);
      const ok = (path: string, method: string, status: string) => d.paths[path][method].responses?.[status]?.content?.['application/json']?.schema;
      expect(ok('/api/channels/{channel}/history', 'get', '200')).toEqual({ $ref: '#/components/schemas/PublicationPage' });
      expect(ok('/api/conversations/{id}/messages', 'get', '200')).toEqual({ $ref: '#/components/schemas/PublicationPage' });
      expect(ok('/api/channels/{channel}/publications', 'post', '201')).toEqual({ $ref: '#/components/schemas/Published' });
      // No operation restates the Publication shape inline.
      const text = JSON.stringify(d.paths);
      expect(text).not.toContain('"required":["channel","id","offset","kind","sender","payload","time"]');
    });
  });

  it('subscribe answers keep channel, prefs and created; unsubscribe is 204', async () => {
    const put = await t.request('PUT', '/api/subscriptions/research.macro', { token: tok.client1, json: { prefs: { muted: true, transports: { email: false } } } });
    expect(put.status).toBe(201);
    expect(put.body).toEqual({ channel: 'research.macro', prefs: { muted: true, transports: { email: false } }, created: true });
    const again = await t.request('POST', '/api/subscriptions', { token: tok.client1, json: { channel: 'research.macro' } });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ channel: 'research.macro', prefs: {}, created: false });
    const del = await t.request('DELETE', '/api/subscriptions/research.macro', { token: tok.client1 });
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
  });

  it('preferences keep stored rows, every effective field per category and the defaults', async () => {
    const put = await t.request('PUT', '/api/preferences', {
      token: tok.client1,
      json: { categories: { research: { transports: { email: true }, quietStart: '22:00', quietEnd: '07:00', digest: 'daily', digestAt: '09:00', tradingHoursOnly: true } } },
    });
    expect(put.status, put.text).toBe(200);
    const get = await t.request('GET', '/api/preferences', { token: tok.client1 });
    expect(get.body).toEqual(put.body);
    const b = get.body;
    expect(b.timeZone).toBe('Asia/Shanghai');
    expect(b.categories).toEqual([
      {
        category: 'research',
        transports: { email: true },
        quietStart: '22:00',
        quietEnd: '07:00',
        timeZone: 'Asia/Shanghai',
        digest: 'daily',
        digestAt: '09:00',
        muted: false,
        tradingHoursOnly: true,
        updatedAt: expect.any(String),
      },
    ]);
    expect(Object.keys(b.effective).sort()).toEqual(Object.keys(FAMILY_DEFAULTS).sort());
    expect(b.effective.research).toEqual({
      transports: { web: true, inbox: true, email: true, push: false, sms: false },
      muted: false,
      quietStart: '22:00',
      quietEnd: '07:00',
      timeZone: 'Asia/Shanghai',
      digest: 'daily',
      digestAt: '09:00',
      tradingHoursOnly: true,
    });
    expect(b.defaults).toEqual(FAMILY_DEFAULTS);
  });

  it('deliveries keep the summary by transport and status and every row field', async () => {
    expect((await t.request('PUT', '/api/subscriptions/research.strategy', { token: tok.client1, json: null })).status).toBe(201);
    const pub = await t.request('POST', '/api/channels/research.strategy/publications', { token: tok.research1, json: { kind: 'note', payload: note('策略周报') } });
    expect(pub.status, pub.text).toBe(201);
    const deliveriesOf = () => t.request('GET', `/api/deliveries?messageId=${pub.body.id}`, { token: tok.compliance1 });
    await eventually(async () => (await deliveriesOf()).body.deliveries?.some((x: { transport: string }) => x.transport === 'inbox'), 15_000);
    const r = await deliveriesOf();
    expect(r.body).toMatchObject({ messageId: pub.body.id, channel: 'research.strategy', nextAfter: null });
    expect(r.body.summary.inbox).toEqual({ delivered: 1 });
    // The summary counts exactly the rows listed: one per transport client1 chose (none for the others).
    const rowsListed = r.body.deliveries.length;
    expect(rowsListed).toBeGreaterThanOrEqual(1);
    expect(rowsListed).toBeLessThanOrEqual(TRACKED_TRANSPORTS.length);
    expect(Object.values(r.body.summary).reduce((n: number, s) => n + Object.values(s as Record<string, number>).reduce((a, c) => a + c, 0), 0)).toBe(rowsListed);
    expect(r.body.deliveries.some((x: { reason: string | null }) => x.reason === 'preference')).toBe(false);
    const inbox = r.body.deliveries.find((x: { transport: string }) => x.transport === 'inbox');
    expect(inbox).toEqual({
      id: expect.any(String),
      userId: expect.any(String),
      login: 'client1',
      transport: 'inbox',
      status: 'delivered',
      reason: null,
      attempts: 0,
      dueAt: null,
      lastError: null,
      updatedAt: expect.any(String),
    });
  });

  it('health answers keep their checks, and metrics stay Prometheus text', async () => {
    expect((await t.request('GET', '/health/live')).body).toEqual({ status: 'ok', node: t.config.nodeId });
    const ready = await t.request('GET', '/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ready', node: t.config.nodeId, mode: 'embedded' });
    expect(ready.body.checks.postgres).toEqual({ ok: true, ms: expect.any(Number), kind: 'pglite' });
    expect(ready.body.checks.redis).toEqual({ ok: true, ms: expect.any(Number), kind: 'memory' });
    const metrics = await t.request('GET', '/metrics');
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(metrics.text.startsWith('#')).toBe(true);
    expect(metrics.text).toContain('\n');
  });
});
