/**
 * Market alerts through the API (embedded mode): feed ingest of ticks and events (API key, validation
 * with stable codes), the user's price-alert rules (validation, limit, own-only delete), and firing:
 * one-shot, repeat with hysteresis, notification in the owner's inbox.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_TICKS_PER_BATCH } from '../../src/routes/market-ingest.routes.ts';
import { TEST_FEED_KEY, startEmbeddedApp, type TestApp } from '../helpers/app.ts';

const FEED = { 'x-api-key': TEST_FEED_KEY };

describe('market alerts (embedded)', () => {
  let t: TestApp;
  let c1: { token: string; user: { id: string } };
  let c2: { token: string; user: { id: string } };

  beforeAll(async () => {
    t = await startEmbeddedApp({ QIAO_ALERT_RULES_PER_USER: '4', QIAO_ALERT_HYSTERESIS_BP: '20', QIAO_EMBEDDED_WORKERS: 'false' });
    c1 = await t.login('client1');
    c2 = await t.login('client2');
  });
  afterAll(async () => {
    await t?.close();
  });

  /** Posts ticks, then waits until the firings they caused are claimed and published (that happens after the answer). */
  const ticks = async (list: Array<{ symbol: string; price: number; name?: string }>) => {
    const r = await t.request('POST', '/api/ingest/ticks', { headers: FEED, json: { ticks: list } });
    await t.app.qiao.alerts.flush();
    return r;
  };
  const inboxAlerts = async (userId: string, token: string) => {
    const r = await t.request('GET', `/api/channels/inbox.${userId}/history?limit=100`, { token });
    expect(r.status).toBe(200);
    return (r.body.publications as Array<{ kind: string; payload: any; sender: string }>).filter((p) => p.kind === 'alert');
  };
  const createRule = (token: string, body: unknown) => t.request('POST', '/api/alert-rules', { token, json: body });

  describe('ingest authentication and validation', () => {
    it('refuses a missing or wrong API key with QIAO_API_KEY_INVALID', async () => {
      for (const headers of [{}, { 'x-api-key': 'wrong-key-0123456789' }] as Array<Record<string, string>>) {
        for (const path of ['/api/ingest/ticks', '/api/ingest/events']) {
          const r = await t.request('POST', path, { headers, json: { ticks: [{ symbol: '600519.SH', price: 1 }] } });
          expect(r.status).toBe(401);
          expect(r.body.error.code).toBe('QIAO_API_KEY_INVALID');
        }
      }
    });

    it('refuses malformed ticks with QIAO_BAD_REQUEST / QIAO_BAD_JSON', async () => {
      const bad: unknown[] = [
        {},
        { ticks: [] },
        { ticks: [{ symbol: '600519', price: 10 }] },
        { ticks: [{ symbol: '600519.HK', price: 10 }] },
        { ticks: [{ symbol: '600519.SH', price: 0 }] },
        { ticks: [{ symbol: '600519.SH', price: -3 }] },
        { ticks: [{ symbol: '600519.SH', price: '10.5' }] },
        { ticks: [{ symbol: '600519.SH' }] },
        { ticks: [{ symbol: '600519.SH', price: 10, time: 'yesterday' }] },
        { ticks: [{ symbol: '600519.SH', price: 10, extra: 1 }] },
        { ticks: Array.from({ length: MAX_TICKS_PER_BATCH + 1 }, () => ({ symbol: '600519.SH', price: 10 })) },
      ];
      for (const json of bad) {
        const r = await t.request('POST', '/api/ingest/ticks', { headers: FEED, json });
        expect(r.status, JSON.stringify(json).slice(0, 80)).toBe(400);
        expect(r.body.error.code).toBe('QIAO_BAD_REQUEST');
      }
      const r = await t.request('POST', '/api/ingest/ticks', { headers: FEED, raw: '{"ticks": [' });
      expect(r.body.error.code).toBe('QIAO_BAD_JSON');
    });

    it('refuses malformed events with QIAO_BAD_REQUEST', async () => {
      for (const json of [
        { events: [{ type: 'ipo' }] },
        { events: [{ id: 'e1', type: 'merger' }] },
        { events: [{ id: 'e1', type: 'dividend', symbol: 'AAPL' }] },
        { events: [{ id: 'has space', type: 'dividend' }] },
        { events: [] },
      ]) {
        const r = await t.request('POST', '/api/ingest/events', { headers: FEED, json });
        expect(r.status).toBe(400);
        expect(r.body.error.code).toBe('QIAO_BAD_REQUEST');
      }
    });
  });

  describe('alert rules', () => {
    it('validates rules with stable codes and requires a login', async () => {
      expect((await t.request('GET', '/api/alert-rules')).body.error.code).toBe('QIAO_AUTH_REQUIRED');
      for (const body of [
        { symbol: '600519', direction: 'above', price: 10 },
        { symbol: '600519.SH', direction: 'sideways', price: 10 },
        { symbol: '600519.SH', direction: 'above', price: 0 },
        { symbol: '600519.SH', direction: 'above', price: '10' },
        { symbol: '600519.SH', direction: 'above' },
        { symbol: '600519.SH', direction: 'above', price: 10, repeat: 'yes' },
      ]) {
        const r = await createRule(c2.token, body);
        expect(r.status, JSON.stringify(body)).toBe(400);
        expect(r.body.error.code).toBe('QIAO_BAD_REQUEST');
      }
    });

    it('keeps at most QIAO_ALERT_RULES_PER_USER active rules; delete is own-only', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await createRule(c2.token, { symbol: '000001.SZ', direction: 'below', price: 5 + i });
        expect(r.status).toBe(201);
        expect(r.body.rule).toMatchObject({ symbol: '000001.SZ', direction: 'below', repeat: false, active: true, armed: true, lastFiredAt: null });
        ids.push(r.body.rule.id);
      }
      const over = await createRule(c2.token, { symbol: '000001.SZ', direction: 'below', price: 1 });
      expect(over.status).toBe(429);
      expect(over.body.error.code).toBe('QIAO_ALERT_RULE_LIMIT');

      const list = await t.request('GET', '/api/alert-rules', { token: c2.token });
      expect(list.body.rules).toHaveLength(4);
      expect(list.body.limit).toBe(4);
      expect((await t.request('GET', '/api/alert-rules', { token: c1.token })).body.rules).toEqual([]);

      expect((await t.request('DELETE', `/api/alert-rules/${ids[0]}`, { token: c1.token })).status).toBe(404);
      expect((await t.request('DELETE', '/api/alert-rules/not-a-uuid', { token: c2.token })).status).toBe(404);
      expect((await t.request('DELETE', `/api/alert-rules/${ids[0]}`, { token: c2.token })).status).toBe(204);
      expect(t.app.qiao.alerts.rules.get(ids[0])).toBeUndefined();
      for (const id of ids.slice(1)) await t.request('DELETE', `/api/alert-rules/${id}`, { token: c2.token });
      expect(t.app.qiao.alerts.rules.countFor('000001.SZ')).toBe(0);
    });
  });

  describe('firing', () => {
    it('a one-shot rule fires once, notifies the owner only, and turns inactive', async () => {
      const r = await createRule(c1.token, { symbol: '600519.SH', direction: 'above', price: 1800 });
      const id = r.body.rule.id;
      expect(t.app.qiao.alerts.rules.get(id)).toBeDefined();

      const quiet = await ticks([{ symbol: '600519.SH', price: 1790, name: '贵州茅台' }]);
      expect(quiet.status).toBe(200);
      expect(quiet.body).toMatchObject({ ticks: 1, fired: 0 });

      const hit = await ticks([{ symbol: '000002.SZ', price: 9 }, { symbol: '600519.SH', price: 1800.5 }, { symbol: '600519.SH', price: 1805 }]);
      expect(hit.body).toMatchObject({ ticks: 3, fired: 1 });
      const alerts = await inboxAlerts(c1.user.id, c1.token);
      expect(alerts).toHaveLength(1);
      expect(alerts[0].payload).toMatchObject({ symbol: '600519.SH', title: '贵州茅台 600519.SH 突破 1800.00', severity: 'warning', event: 'price', price: 1800.5 });
      expect(alerts[0].payload.body).toContain('已关闭');
      expect(await inboxAlerts(c2.user.id, c2.token)).toHaveLength(0);

      const rule = (await t.request('GET', '/api/alert-rules', { token: c1.token })).body.rules.find((x: { id: string }) => x.id === id);
      expect(rule).toMatchObject({ active: false });
      expect(rule.lastFiredAt).toEqual(expect.any(String));
      expect(t.app.qiao.alerts.rules.get(id)).toBeUndefined();

      await ticks([{ symbol: '600519.SH', price: 1700 }, { symbol: '600519.SH', price: 1900 }]);
      expect(await inboxAlerts(c1.user.id, c1.token)).toHaveLength(1);
      await t.request('DELETE', `/api/alert-rules/${id}`, { token: c1.token });
    });

    it('a repeat rule re-arms only after the price moves back past the hysteresis band', async () => {
      const r = await createRule(c2.token, { symbol: '300750.SZ', direction: 'below', price: 200, repeat: true });
      const id = r.body.rule.id;
      // 20 bp band: re-arm above 200.40.
      const prices = [201, 199.9, 199, 200.3, 199.5, 200.41, 201, 198];
      let fired = 0;
      for (const price of prices) fired += (await ticks([{ symbol: '300750.SZ', price }])).body.fired;
      expect(fired).toBe(2);
      const alerts = await inboxAlerts(c2.user.id, c2.token);
      expect(alerts.map((a) => a.payload.price)).toEqual([199.9, 198]);
      expect(alerts[0].payload.title).toBe('300750.SZ 跌破 200.00');
      const rule = (await t.request('GET', '/api/alert-rules', { token: c2.token })).body.rules.find((x: { id: string }) => x.id === id);
      expect(rule).toMatchObject({ active: true, armed: false, repeat: true });
      await t.request('DELETE', `/api/alert-rules/${id}`, { token: c2.token });
    });

    it('reports rules evaluated per batch, never more than the probes of the symbols ticked', async () => {
      const ids: string[] = [];
      for (const p of [10, 11, 12]) ids.push((await createRule(c1.token, { symbol: '601318.SH', direction: 'above', price: p, repeat: true })).body.rule.id);
      const r = await ticks([{ symbol: '601318.SH', price: 9 }, { symbol: '999999.SH', price: 9 }]);
      // One symbol with 3 armed rules: four binary searches, at most 2 probes each; nothing for the other symbol.
      expect(r.body.evaluated).toBeGreaterThan(0);
      expect(r.body.evaluated).toBeLessThanOrEqual(8);
      expect(r.body.fired).toBe(0);
      const jump = await ticks([{ symbol: '601318.SH', price: 11.5 }]);
      expect(jump.body.fired).toBe(2);
      for (const id of ids) await t.request('DELETE', `/api/alert-rules/${id}`, { token: c1.token });
    });

    it('rules survive a reload from Postgres with their armed state', async () => {
      const r = await createRule(c1.token, { symbol: '002594.SZ', direction: 'above', price: 300, repeat: true });
      await ticks([{ symbol: '002594.SZ', price: 301 }]);
      await t.app.qiao.alerts.reload();
      const ix = t.app.qiao.alerts.rules.get(r.body.rule.id);
      expect(ix).toMatchObject({ armed: false, repeat: true, price: 300 });
      expect((await ticks([{ symbol: '002594.SZ', price: 305 }])).body.fired).toBe(0);
      await t.request('DELETE', `/api/alert-rules/${r.body.rule.id}`, { token: c1.token });
    });
  });

  describe('pause and resume', () => {
    it('validates PATCH with stable codes; only the owner may pause or resume', async () => {
      const id = (await createRule(c1.token, { symbol: '600000.SH', direction: 'above', price: 20 })).body.rule.id;
      expect((await t.request('PATCH', `/api/alert-rules/${id}`, { json: { active: false } })).body.error.code).toBe('QIAO_AUTH_REQUIRED');
      for (const json of [{}, { active: 'no' }, { active: false, price: 3 }, { active: null }]) {
        const r = await t.request('PATCH', `/api/alert-rules/${id}`, { token: c1.token, json });
        expect(r.status, JSON.stringify(json)).toBe(400);
        expect(r.body.error.code).toBe('QIAO_BAD_REQUEST');
      }
      // Someone else's rule, an unknown id and a malformed id all look the same: not found.
      for (const [token, rid] of [[c2.token, id], [c1.token, '00000000-0000-4000-8000-000000000000'], [c1.token, 'not-a-uuid']]) {
        const r = await t.request('PATCH', `/api/alert-rules/${rid}`, { token, json: { active: false } });
        expect(r.status).toBe(404);
        expect(r.body.error.code).toBe('QIAO_NOT_FOUND');
      }
      expect(t.app.qiao.alerts.rules.get(id)).toBeDefined();
      await t.request('DELETE', `/api/alert-rules/${id}`, { token: c1.token });
    });

    it('a paused rule never fires; resumed, it is armed again and fires on the next tick past its threshold', async () => {
      const id = (await createRule(c1.token, { symbol: '601988.SH', direction: 'above', price: 5 })).body.rule.id;
      const paused = await t.request('PATCH', `/api/alert-rules/${id}`, { token: c1.token, json: { active: false } });
      expect(paused.status).toBe(200);
      expect(paused.body.rule).toMatchObject({ id, active: false, pausedAt: expect.any(String), percent: null, basePrice: null });
      expect(t.app.qiao.alerts.rules.get(id)).toBeUndefined();
      // Pausing twice changes nothing.
      expect((await t.request('PATCH', `/api/alert-rules/${id}`, { token: c1.token, json: { active: false } })).body.rule.pausedAt).toBe(paused.body.rule.pausedAt);
      expect((await ticks([{ symbol: '601988.SH', price: 6 }])).body.fired).toBe(0);
      expect((await inboxAlerts(c1.user.id, c1.token)).filter((a) => a.payload.symbol === '601988.SH')).toHaveLength(0);

      const resumed = await t.request('PATCH', `/api/alert-rules/${id}`, { token: c1.token, json: { active: true } });
      expect(resumed.status).toBe(200);
      expect(resumed.body.rule).toMatchObject({ id, active: true, armed: true, pausedAt: null });
      expect((await ticks([{ symbol: '601988.SH', price: 6 }])).body.fired).toBe(1);
      expect((await inboxAlerts(c1.user.id, c1.token)).filter((a) => a.payload.symbol === '601988.SH')).toHaveLength(1);
      // A fired one-shot rule (inactive, not paused) can be resumed too: it re-arms.
      const list = (await t.request('GET', '/api/alert-rules', { token: c1.token })).body.rules;
      expect(list.find((x: { id: string }) => x.id === id)).toMatchObject({ active: false, pausedAt: null, lastFiredAt: expect.any(String) });
      expect((await t.request('PATCH', `/api/alert-rules/${id}`, { token: c1.token, json: { active: true } })).body.rule.armed).toBe(true);
      expect((await ticks([{ symbol: '601988.SH', price: 6.1 }])).body.fired).toBe(1);
      await t.request('DELETE', `/api/alert-rules/${id}`, { token: c1.token });
    });

    it('resuming counts against the limit of active rules', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) ids.push((await createRule(c2.token, { symbol: '600028.SH', direction: 'below', price: 1 + i })).body.rule.id);
      expect((await t.request('PATCH', `/api/alert-rules/${ids[0]}`, { token: c2.token, json: { active: false } })).status).toBe(200);
      ids.push((await createRule(c2.token, { symbol: '600028.SH', direction: 'below', price: 0.5 })).body.rule.id);
      const over = await t.request('PATCH', `/api/alert-rules/${ids[0]}`, { token: c2.token, json: { active: true } });
      expect(over.status).toBe(429);
      expect(over.body.error.code).toBe('QIAO_ALERT_RULE_LIMIT');
      expect(t.app.qiao.alerts.rules.get(ids[0])).toBeUndefined();
      for (const id of ids) await t.request('DELETE', `/api/alert-rules/${id}`, { token: c2.token });
    });
  });

  describe('percent-move rules', () => {
    it('validates move rules with QIAO_BAD_REQUEST', async () => {
      for (const body of [
        { symbol: '600519.SH', direction: 'move', percent: 5 },
        { symbol: '600519.SH', direction: 'move', basePrice: 1700 },
        { symbol: '600519.SH', direction: 'move', percent: 0, basePrice: 1700 },
        { symbol: '600519.SH', direction: 'move', percent: 50.01, basePrice: 1700 },
        { symbol: '600519.SH', direction: 'move', percent: -5, basePrice: 1700 },
        { symbol: '600519.SH', direction: 'move', percent: 5, basePrice: 0 },
        { symbol: '600519.SH', direction: 'move', percent: '5', basePrice: 1700 },
        { symbol: '600519.SH', direction: 'move', percent: 5, basePrice: 1700, price: 1700 },
        { symbol: '600519.SH', direction: 'above', price: 1700, percent: 5 },
        { symbol: '600519.SH', direction: 'above', basePrice: 1700 },
      ]) {
        const r = await createRule(c2.token, body);
        expect(r.status, JSON.stringify(body)).toBe(400);
        expect(r.body.error.code).toBe('QIAO_BAD_REQUEST');
      }
      expect((await t.request('GET', '/api/alert-rules', { token: c2.token })).body.rules).toEqual([]);
    });

    it('fires at ±percent from the base price and shows percent and basePrice', async () => {
      const r = await createRule(c1.token, { symbol: '000333.SZ', direction: 'move', percent: 5, basePrice: 60 });
      expect(r.status).toBe(201);
      expect(r.body.rule).toMatchObject({ direction: 'move', percent: 5, basePrice: 60, price: 60, active: true, armed: true, repeat: false, pausedAt: null });
      const id = r.body.rule.id;
      expect((await ticks([{ symbol: '000333.SZ', price: 62.9 }, { symbol: '000333.SZ', price: 57.1 }])).body.fired).toBe(0);
      expect((await ticks([{ symbol: '000333.SZ', price: 56.9, name: '美的集团' }])).body.fired).toBe(1);
      const alerts = (await inboxAlerts(c1.user.id, c1.token)).filter((a) => a.payload.symbol === '000333.SZ');
      expect(alerts).toHaveLength(1);
      expect(alerts[0].payload).toMatchObject({ event: 'price', price: 56.9, title: '美的集团 000333.SZ 较参考价 60.00 下跌超过 5%' });
      expect(alerts[0].payload.body).toContain('提醒价 57.00');
      expect((await ticks([{ symbol: '000333.SZ', price: 70 }])).body.fired).toBe(0);
      expect((await t.request('GET', '/api/alert-rules', { token: c1.token })).body.rules.find((x: { id: string }) => x.id === id)).toMatchObject({ active: false });
      await t.request('DELETE', `/api/alert-rules/${id}`, { token: c1.token });
    });

    it('a repeat move rule re-arms inside the band and survives a reload', async () => {
      const id = (await createRule(c2.token, { symbol: '601012.SH', direction: 'move', percent: 10, basePrice: 20, repeat: true })).body.rule.id;
      expect((await ticks([{ symbol: '601012.SH', price: 22 }])).body.fired).toBe(1);
      await t.app.qiao.alerts.reload();
      expect(t.app.qiao.alerts.rules.get(id)).toMatchObject({ armed: false, direction: 'move', percent: 10 });
      expect((await ticks([{ symbol: '601012.SH', price: 23 }])).body.fired).toBe(0);
      expect((await ticks([{ symbol: '601012.SH', price: 20 }])).body.rearmed).toBe(1);
      expect((await ticks([{ symbol: '601012.SH', price: 17.9 }])).body.fired).toBe(1);
      const alerts = (await inboxAlerts(c2.user.id, c2.token)).filter((a) => a.payload.symbol === '601012.SH');
      expect(alerts.map((a) => a.payload.title)).toEqual(['601012.SH 较参考价 20.00 上涨超过 10%', '601012.SH 较参考价 20.00 下跌超过 10%']);
      await t.request('DELETE', `/api/alert-rules/${id}`, { token: c2.token });
    });
  });

  describe('corporate events', () => {
    it('publishes IPOs to alerts.market and symbol events to alerts.<symbol>; event ids make re-sends harmless', async () => {
      const events = [
        { id: 'ev-ipo-1', type: 'ipo', symbol: '688999.SH', name: '新芯科技' },
        { id: 'ev-susp-1', type: 'suspension', symbol: '600519.SH', name: '贵州茅台', body: '重大事项停牌' },
        { id: 'ev-div-1', type: 'dividend', symbol: '600519.SH', title: '贵州茅台 2026 年度分红：每股派 30.00 元', price: 30 },
      ];
      const r = await t.request('POST', '/api/ingest/events', { headers: FEED, json: { events } });
      expect(r.status).toBe(200);
      expect(r.body.published.map((p: { channel: string; duplicate: boolean }) => [p.channel, p.duplicate])).toEqual([
        ['alerts.market', false],
        ['alerts.600519.SH', false],
        ['alerts.600519.SH', false],
      ]);
      const again = await t.request('POST', '/api/ingest/events', { headers: FEED, json: { events } });
      expect(again.body.published.every((p: { duplicate: boolean }) => p.duplicate)).toBe(true);

      const hist = await t.request('GET', '/api/channels/alerts.600519.SH/history?limit=10', { token: c1.token });
      const payloads = hist.body.publications.map((p: { payload: unknown }) => p.payload);
      expect(payloads).toContainEqual({ symbol: '600519.SH', title: '停牌：贵州茅台 600519.SH', body: '重大事项停牌', severity: 'warning', event: 'suspension' });
      expect(payloads).toContainEqual(expect.objectContaining({ event: 'dividend', price: 30, severity: 'info' }));
      const market = await t.request('GET', '/api/channels/alerts.market/history?limit=10', { token: c1.token });
      expect(market.body.publications.map((p: { payload: any }) => p.payload.title)).toContain('新股发行：新芯科技 688999.SH');
    });
  });
});
