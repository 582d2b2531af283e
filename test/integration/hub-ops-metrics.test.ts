/**
 * The hub's /metrics carries what happens in the hub itself (issue 13): price-alert firings
 * (qiao_alert_firings_total) and DLP blocks (qiao_dlp_blocks_total); and, in embedded mode, the
 * in-process workers' series on the same registry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_FEED_KEY, eventually, metricValue, startEmbeddedApp, type TestApp } from '../helpers/app.ts';

describe('hub metrics: alert firings, DLP blocks, embedded workers', () => {
  let t: TestApp;
  beforeAll(async () => {
    // Escalation steps at once, so the must-acknowledge notice below escalates during the test.
    t = await startEmbeddedApp({ QIAO_ESCALATION_PUSH_AFTER_S: '0', QIAO_ESCALATION_EMAIL_AFTER_S: '0' });
  }, 60_000);
  afterAll(async () => t?.close());

  const scrape = async () => {
    const r = await t.request('GET', '/metrics');
    expect(r.status).toBe(200);
    return r.text;
  };

  it('counts a price alert that fires and a publication DLP blocks', async () => {
    const before = await scrape();
    expect(metricValue(before, 'qiao_alert_firings_total')).toBe(0);
    expect(metricValue(before, 'qiao_dlp_blocks_total')).toBe(0);

    const c1 = await t.login('client1');
    const rule = await t.request('POST', '/api/alert-rules', { token: c1.token, json: { symbol: '600519.SH', direction: 'above', price: 1800 } });
    expect(rule.status).toBe(201);
    const tick = await t.request('POST', '/api/ingest/ticks', { headers: { 'x-api-key': TEST_FEED_KEY }, json: { ticks: [{ symbol: '600519.SH', price: 1801 }] } });
    expect(tick.status).toBe(200);
    await t.app.qiao.alerts.flush();

    const broker = await t.login('broker1');
    const blocked = await t.request('POST', `/api/channels/inbox.${c1.user.id}/publications`, {
      token: broker.token,
      json: { kind: 'notice', payload: { title: '新品推荐', body: '本产品保本，年化 8%' } },
    });
    expect(blocked.status).toBe(422);
    expect(blocked.body.error.code).toBe('QIAO_DLP_BLOCKED');

    const after = await scrape();
    expect(metricValue(after, 'qiao_alert_firings_total')).toBe(1);
    expect(metricValue(after, 'qiao_dlp_blocks_total')).toBe(1);
    // The embedded workers report on the hub's registry: the alert's fanout job was processed here.
    expect(metricValue(after, 'qiao_jobs_processed_total', { queue: 'qiao-fanout' })).toBeGreaterThanOrEqual(1);
  });

  it('counts the escalation steps of an unread must-acknowledge notice (embedded workers)', async () => {
    const admin = await t.login('admin');
    const c3 = await t.login('client3');
    const before = metricValue(await scrape(), 'qiao_escalations_total');
    const r = await t.request('POST', `/api/channels/inbox.${c3.user.id}/publications`, { token: admin.token, json: { kind: 'notice', payload: { title: '请确认新版客户协议', requireAck: true } } });
    expect(r.status, r.text).toBe(201);
    const text = await eventually(async () => {
      const m = await scrape();
      return metricValue(m, 'qiao_escalations_total') - before >= 2 ? m : '';
    }, 15_000);
    // Step 0 is push, step 1 email: one each, whatever their outcome for this client.
    expect(metricValue(text, 'qiao_escalations_total', { transport: 'push' })).toBe(1);
    expect(metricValue(text, 'qiao_escalations_total', { transport: 'email' })).toBe(1);
    expect(text).toMatch(/^qiao_escalations_total\{transport="push",outcome="(escalated|no-subscription|already-covered)"/m);
  });
});
