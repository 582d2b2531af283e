/**
 * Account events, positions and corporate actions on a hub with PostgreSQL and Redis: per-source
 * keys, idempotency by (source, event id), unknown client / symbol, date order, positions from the
 * snapshot and fills, holders-only delivery, reminders once and not after selling, broker scoping.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServicesApp, WsTestClient, type TestApp } from '../helpers/app.ts';

const TRADING_KEY = 'test-trading-key-0123456789';
const BACKOFFICE_KEY = 'test-backoffice-key-0123456789';
const T = { 'x-api-key': TRADING_KEY };
const B = { 'x-api-key': BACKOFFICE_KEY };

describe('account events (PostgreSQL + Redis)', () => {
  let h: TestApp;
  const tok: Record<string, string> = {};
  const uid: Record<string, string> = {};
  let seq = 0;
  const nextId = (p = 'e') => `${p}-${Date.now()}-${++seq}`;
  const fill = (over: Record<string, unknown> = {}) => ({
    id: nextId(),
    type: 'order.filled',
    accountNo: '310000000001',
    time: '2026-03-02T02:15:00Z',
    orderId: 'O-1',
    symbol: '600519.SH',
    side: 'buy',
    qty: 100,
    filledQty: 100,
    price: 1700.5,
    ...over,
  });
  const positionsOf = async (who: string) => (await h.request('GET', `/api/clients/${uid[who]}/positions`, { token: tok.broker1 })).body.positions;

  beforeAll(async () => {
    h = await startServicesApp({ QIAO_INGEST_SOURCES: `trading:${TRADING_KEY},backoffice:${BACKOFFICE_KEY}` });
    for (const l of ['client1', 'client2', 'client3', 'inst1', 'broker1', 'broker2', 'manager1', 'manager2', 'research1', 'compliance1']) {
      const r = await h.login(l);
      tok[l] = r.token;
      uid[l] = r.user.id;
    }
  }, 60_000);
  afterAll(() => h?.close());

  it('refuses a missing or unknown source key with QIAO_API_KEY_INVALID, and the feed key too', async () => {
    for (const headers of [{} as Record<string, string>, { 'x-api-key': 'nope-nope-nope-nope' }, { 'x-api-key': 'qiao-test-feed-key-0123456789' }]) {
      const r = await h.request('POST', '/api/ingest/account-events', { json: fill(), headers });
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('QIAO_API_KEY_INVALID');
    }
  });

  it('delivers a fill live to the client, stores it, and the same id + body answers the first result', async () => {
    const ws = await WsTestClient.connect(h.wsUrl, tok.client1);
    expect((await ws.subscribe(`account.${uid.client1}`)).ok).toBe(true);
    const ev = fill();
    const r1 = await h.request('POST', '/api/ingest/account-events', { json: ev, headers: T });
    expect(r1.status).toBe(201);
    expect(r1.body).toMatchObject({ eventId: ev.id, channel: `account.${uid.client1}`, duplicate: false });
    const push = (await ws.frames.take((f) => f.t === 'msg' && f.channel === `account.${uid.client1}`, 5000, 'account msg')) as { kind: string; payload: Record<string, unknown> };
    expect(push.kind).toBe('order');
    expect(push.payload).toMatchObject({ status: 'filled', symbol: '600519.SH', side: 'buy', filledQty: 100, source: 'trading', eventId: ev.id });
    expect(String(push.payload.title)).toContain('成交回报');
    const r2 = await h.request('POST', '/api/ingest/account-events', { json: { ...ev }, headers: T });
    expect(r2.status).toBe(200);
    expect(r2.body).toMatchObject({ id: r1.body.id, offset: r1.body.offset, duplicate: true });
    // Same id, different body: refused, nothing changes.
    const r3 = await h.request('POST', '/api/ingest/account-events', { json: { ...ev, qty: 200, filledQty: 200 }, headers: T });
    expect(r3.status).toBe(409);
    expect(r3.body.error.code).toBe('QIAO_IDEMPOTENCY_MISMATCH');
    // The same id from another source is another event.
    const r4 = await h.request('POST', '/api/ingest/account-events', { json: ev, headers: B });
    expect(r4.status).toBe(201);
    const feed = await h.request('GET', `/api/clients/${uid.client1}/account-events`, { token: tok.client1 });
    expect(feed.body.events.filter((e: { payload: { eventId: string } }) => e.payload.eventId === ev.id)).toHaveLength(2);
    ws.ws.close();
  });

  it('refuses an unknown account, an unknown or malformed symbol and a bad event with stable codes, storing nothing', async () => {
    const before = (await h.request('GET', `/api/clients/${uid.client1}/account-events`, { token: tok.client1 })).body.events.length;
    const cases: Array<[Record<string, unknown>, number, string]> = [
      [fill({ accountNo: '999999999999' }), 422, 'QIAO_ACCOUNT_UNKNOWN'],
      [fill({ symbol: '999999.SH' }), 404, 'QIAO_SECURITY_NOT_FOUND'],
      [fill({ symbol: '600519' }), 400, 'QIAO_BAD_REQUEST'],
      [fill({ filledQty: undefined }), 400, 'QIAO_BAD_REQUEST'],
      [fill({ type: 'order.exploded' }), 400, 'QIAO_BAD_REQUEST'],
      [{ id: nextId(), type: 'margin-call', accountNo: '310000000001', time: '2026-03-02T02:15:00Z', amount: -5, deadline: '2026-03-03T07:00:00Z' }, 400, 'QIAO_BAD_REQUEST'],
    ];
    for (const [ev, status, code] of cases) {
      const r = await h.request('POST', '/api/ingest/account-events', { json: ev, headers: T });
      expect(r.status, JSON.stringify(ev)).toBe(status);
      expect(r.body.error.code).toBe(code);
    }
    const after = (await h.request('GET', `/api/clients/${uid.client1}/account-events`, { token: tok.client1 })).body.events.length;
    expect(after).toBe(before);
  });

  it('answers each event of a batch on its own, in order', async () => {
    const good = fill({ accountNo: '310000000002', symbol: '000001.SZ', filledQty: 300, qty: 300 });
    const margin = { id: nextId(), type: 'margin-call', accountNo: '310000000002', time: '2026-03-02T02:15:00Z', amount: 50000, deadline: '2026-03-03T07:00:00Z' };
    const r = await h.request('POST', '/api/ingest/account-events/batch', { json: { events: [good, fill({ accountNo: 'NOPE-1' }), margin, good] }, headers: T });
    expect(r.status).toBe(200);
    expect(r.body.results.map((x: { status: number }) => x.status)).toEqual([201, 422, 201, 200]);
    expect(r.body.results[1].error.code).toBe('QIAO_ACCOUNT_UNKNOWN');
    const feed = await h.request('GET', `/api/clients/${uid.client2}/account-events`, { token: tok.client2 });
    const mc = feed.body.events.find((e: { kind: string }) => e.kind === 'margin-call');
    expect(mc.payload).toMatchObject({ severity: 'critical', topic: 'margin', amount: 50000 });
    expect(String(mc.payload.title)).toContain('追加保证金');
  });

  it('keeps positions from the snapshot and the fills; a sell to zero removes the row', async () => {
    const snap = await h.request('PUT', '/api/ingest/positions/310000000003', { json: { asOf: '2026-03-02T00:00:00Z', positions: [{ symbol: '600036.SH', qty: 1000 }, { symbol: '601318.SH', qty: 200 }] }, headers: B });
    expect(snap.status).toBe(200);
    expect(snap.body.positions).toBe(2);
    const acc = { accountNo: '310000000003' };
    expect((await h.request('POST', '/api/ingest/account-events', { json: fill({ ...acc, symbol: '600036.SH', side: 'buy', qty: 500, filledQty: 500 }), headers: T })).status).toBe(201);
    expect((await h.request('POST', '/api/ingest/account-events', { json: fill({ ...acc, symbol: '601318.SH', side: 'sell', qty: 200, filledQty: 200 }), headers: T })).status).toBe(201);
    // A rejected order changes nothing.
    expect((await h.request('POST', '/api/ingest/account-events', { json: fill({ ...acc, type: 'order.rejected', symbol: '600036.SH', filledQty: undefined, price: undefined, reason: '资金不足' }), headers: T })).status).toBe(201);
    expect((await positionsOf('client3')).map((p: { symbol: string; qty: number }) => [p.symbol, p.qty])).toEqual([['600036.SH', 1500]]);
    // A new snapshot replaces everything; an unknown symbol refuses the whole snapshot.
    const bad = await h.request('PUT', '/api/ingest/positions/310000000003', { json: { asOf: '2026-03-03T00:00:00Z', positions: [{ symbol: '600000.SH', qty: 1 }, { symbol: '999999.SZ', qty: 1 }] }, headers: B });
    expect(bad.body.error.code).toBe('QIAO_SECURITY_NOT_FOUND');
    expect((await positionsOf('client3')).map((p: { symbol: string }) => p.symbol)).toEqual(['600036.SH']);
    const unknown = await h.request('PUT', '/api/ingest/positions/000000009999', { json: { asOf: '2026-03-03T00:00:00Z', positions: [] }, headers: B });
    expect(unknown.body.error.code).toBe('QIAO_ACCOUNT_UNKNOWN');
  });

  it('commits a batch together: positions as if one by one, per-client order, repeats and mismatches in the batch answered each', async () => {
    // client3 holds 600036.SH 1500 (previous test).
    const acc = { accountNo: '310000000003' };
    const first = fill({ ...acc, symbol: '600036.SH', side: 'buy', qty: 200, filledQty: 200 });
    const events = [
      first,
      fill({ ...acc, symbol: '601318.SH', side: 'sell', qty: 100, filledQty: 100 }), // nothing held: stays absent
      fill({ ...acc, symbol: '600036.SH', side: 'sell', qty: 2000, filledQty: 2000 }), // 1700 → 0
      fill({ ...acc, symbol: '600036.SH', side: 'buy', qty: 100, filledQty: 100 }), // → 100
      fill({ ...acc, symbol: '601318.SH', side: 'buy', qty: 50, filledQty: 50 }), // new → 50
      first,
      { ...first, price: 1 },
      fill({ ...acc, symbol: '999999.SZ' }),
    ];
    const r = await h.request('POST', '/api/ingest/account-events/batch', { json: { events }, headers: T });
    expect(r.status).toBe(200);
    const res = r.body.results as Array<{ status: number; offset?: number; id?: string; error?: { code: string } }>;
    expect(res.map((x) => x.status)).toEqual([201, 201, 201, 201, 201, 200, 409, 404]);
    expect(res[5].id).toBe(res[0].id);
    expect(res[6].error!.code).toBe('QIAO_IDEMPOTENCY_MISMATCH');
    expect(res[7].error!.code).toBe('QIAO_SECURITY_NOT_FOUND');
    // One client's events keep the batch order on its channel.
    expect(res.slice(1, 5).map((x) => x.offset! - res[0].offset!)).toEqual([1, 2, 3, 4]);
    expect((await positionsOf('client3')).map((p: { symbol: string; qty: number }) => [p.symbol, p.qty])).toEqual([
      ['600036.SH', 100],
      ['601318.SH', 50],
    ]);
    // The whole batch again: every event a repeat, nothing moves.
    const again = await h.request('POST', '/api/ingest/account-events/batch', { json: { events: events.slice(0, 5) }, headers: T });
    expect(again.body.results.map((x: { status: number }) => x.status)).toEqual([200, 200, 200, 200, 200]);
    expect((await positionsOf('client3')).map((p: { qty: number }) => p.qty)).toEqual([100, 50]);
  });

  it('scopes the feed like conversations: own client, broker, primary team manager, compliance; not others', async () => {
    const url = `/api/clients/${uid.client1}/account-events`;
    for (const who of ['client1', 'broker1', 'manager1', 'compliance1']) expect((await h.request('GET', url, { token: tok[who] })).status, who).toBe(200);
    for (const who of ['client2', 'broker2', 'manager2', 'research1']) {
      const r = await h.request('GET', url, { token: tok[who] });
      expect(r.status, who).toBe(403);
      expect(r.body.error.code).toBe('QIAO_FORBIDDEN');
    }
    // Only the client subscribes to the channel; nobody publishes to it.
    const ws = await WsTestClient.connect(h.wsUrl, tok.broker1);
    const sub = await ws.subscribe(`account.${uid.client1}`);
    expect(sub.ok).toBe(false);
    const pub = await h.request('POST', `/api/channels/account.${uid.client1}/publications`, { token: tok.broker1, json: { kind: 'order', payload: {} } });
    expect(pub.body.error.code).toBe('QIAO_PUBLISH_FORBIDDEN');
    ws.ws.close();
  });

  it("counts a broker's unseen events per client, pushes the count live, and clears it when seen", async () => {
    const ws = await WsTestClient.connect(h.wsUrl, tok.broker1);
    const before = (await h.request('GET', '/api/account-events/unseen', { token: tok.broker1 })).body.clients.find((c: { clientId: string }) => c.clientId === uid.client1);
    const { offset } = (await h.request('POST', '/api/ingest/account-events', { json: fill(), headers: T })).body;
    // The push that counts this event (an earlier test's gathered push may still arrive first).
    const sig = (await ws.frames.take(
      (f) => f.t === 'signal' && f.kind === 'account-unseen' && (f.data as { clientId: string; topOffset: number }).clientId === uid.client1 && (f.data as { topOffset: number }).topOffset >= offset,
      5000,
      'badge',
    )) as { data: { unseen: number; topOffset: number } };
    expect(sig.data.unseen).toBe(before.unseen + 1);
    const seen = await h.request('POST', `/api/clients/${uid.client1}/account-events/seen`, { token: tok.broker1, json: { offset: sig.data.topOffset } });
    expect(seen.body.unseen).toBe(0);
    expect((await h.request('GET', '/api/account-events/unseen', { token: tok.client1 })).status).toBe(403);
    ws.ws.close();
  });

  it('refuses a corporate action whose dates are out of order or missing, storing nothing', async () => {
    const cases = [
      { type: 'rights-issue', dates: { recordDate: '2030-03-10', subscriptionStart: '2030-03-09', subscriptionEnd: '2030-03-15' } },
      { type: 'rights-issue', dates: { recordDate: '2030-03-10', subscriptionEnd: '2030-03-15' } },
      { type: 'dividend', dates: { recordDate: '2030-02-30', exDate: '2030-03-02' } },
      { type: 'suspension', dates: { suspensionDate: '2030-03-10', listingDate: '2030-03-11' } },
    ];
    for (const c of cases) {
      const r = await h.request('POST', '/api/ingest/corporate-actions', { json: { id: nextId('ca'), symbol: '600036.SH', ...c }, headers: B });
      expect(r.status, JSON.stringify(c)).toBe(422);
      expect(r.body.error.code).toBe('QIAO_ACTION_DATES_INVALID');
    }
    const r = await h.request('POST', '/api/ingest/corporate-actions', { json: { id: nextId('ca'), symbol: '999999.SH', type: 'ipo-listing', dates: { listingDate: '2030-03-10' } }, headers: B });
    expect(r.body.error.code).toBe('QIAO_SECURITY_NOT_FOUND');
  });

  it('delivers a rights issue to holders and watchers only, reminds holders once, and not a client who sold', async () => {
    // client1 and client2 hold 600000.SH; client3 watches it; inst1 neither.
    for (const [acct, qty] of [['310000000001', 1000], ['310000000002', 500]] as const) {
      await h.request('PUT', `/api/ingest/positions/${acct}`, { json: { asOf: '2030-03-01T00:00:00Z', positions: [{ symbol: '600000.SH', qty }] }, headers: B });
    }
    await h.request('PUT', '/api/subscriptions/alerts.600000.SH', { token: tok.client3, json: {} });
    const id = nextId('ca');
    const body = { id, type: 'rights-issue', symbol: '600000.SH', dates: { recordDate: '2030-03-11', subscriptionStart: '2030-03-12', subscriptionEnd: '2030-03-18', listingDate: '2030-03-28' } };
    const r = await h.request('POST', '/api/ingest/corporate-actions', { json: body, headers: B });
    expect(r.status).toBe(201);
    expect(r.body.action.notified).toBe(3);
    const again = await h.request('POST', '/api/ingest/corporate-actions', { json: body, headers: B });
    expect(again.status).toBe(200);
    expect(again.body.action.id).toBe(r.body.action.id);
    const changed = await h.request('POST', '/api/ingest/corporate-actions', { json: { ...body, dates: { ...body.dates, listingDate: '2030-03-29' } }, headers: B });
    expect(changed.body.error.code).toBe('QIAO_IDEMPOTENCY_MISMATCH');
    const notices = async (who: string, kind: string) =>
      (await h.request('GET', `/api/clients/${uid[who]}/account-events?limit=200`, { token: tok[who] })).body.events.filter(
        (e: { kind: string; payload: { actionId?: string } }) => e.kind === kind && e.payload.actionId === r.body.action.id,
      );
    expect((await notices('client1', 'corporate-action'))[0].payload.reason).toBe('holder');
    expect((await notices('client3', 'corporate-action'))[0].payload.reason).toBe('watcher');
    expect(await notices('inst1', 'corporate-action')).toHaveLength(0);
    // The broker sees which of their clients are affected; the other broker sees none of them.
    const aff = await h.request('GET', `/api/corporate-actions/${r.body.action.id}/affected-clients`, { token: tok.broker1 });
    expect(aff.body.clients.map((c: { id: string }) => c.id).sort()).toEqual([uid.client1, uid.client2].sort());
    expect((await h.request('GET', `/api/corporate-actions/${r.body.action.id}/affected-clients`, { token: tok.broker2 })).body.clients).toEqual([]);
    expect((await h.request('GET', `/api/corporate-actions/${r.body.action.id}/affected-clients`, { token: tok.client1 })).body.error.code).toBe('QIAO_FORBIDDEN');
    // client2 sells everything before the reminders are due.
    await h.request('POST', '/api/ingest/account-events', { json: fill({ accountNo: '310000000002', symbol: '600000.SH', side: 'sell', qty: 500, filledQty: 500, price: 8 }), headers: T });
    // T-2 (2030-03-14 09:00) due: two nodes' sweeps at once fire it once.
    const sweeps = h.app.qiao.account.actions;
    const t2 = new Date('2030-03-14T01:30:00Z');
    const fired = await Promise.all([sweeps.fireDue(t2), sweeps.fireDue(t2)]);
    expect(fired[0] + fired[1]).toBe(1);
    expect(await sweeps.fireDue(t2)).toBe(0);
    expect(await notices('client1', 'corporate-action-reminder')).toHaveLength(1);
    expect(await notices('client2', 'corporate-action-reminder')).toHaveLength(0);
    // T-1 (2030-03-15 09:00), through the node's service sweeps (QIAO_SERVICE_SWEEP_MS=0 in tests: run by hand).
    expect((await h.app.qiao.sweeper!.runOnce(new Date('2030-03-15T01:30:00Z')))['corporate-action-reminders']).toBe(1);
    const reminders = await notices('client1', 'corporate-action-reminder');
    expect(reminders.map((x: { payload: { step: string } }) => x.payload.step).sort()).toEqual(['T-1', 'T-2']);
    expect(reminders[0].payload.deadline).toBe('2030-03-18');
  });
});
