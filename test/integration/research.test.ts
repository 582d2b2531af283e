/**
 * The research desk over REST (embedded, workers in-process): its notes with recipients/read counts
 * taken from fanout's delivery rows, channel audiences by entitlement, who may ask, bad input with
 * stable codes, and DLP on research publications (QIAO_DLP_BLOCKED naming the terms).
 */
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveries, subscriptions } from '../../src/store/schema/index.ts';
import { eventually, note, startEmbeddedApp, type TestApp } from '../helpers/app.ts';

type Login = { token: string; user: { id: string } };

describe('research desk (embedded)', () => {
  let t: TestApp;
  const u: Record<string, Login> = {};
  const CH = 'research.quant'; // hnw and institutional only

  beforeAll(async () => {
    t = await startEmbeddedApp();
    for (const l of ['client1', 'client2', 'inst1', 'research1', 'broker1', 'manager1', 'compliance1', 'admin']) u[l] = await t.login(l);
  });
  afterAll(async () => {
    await t?.close();
  });

  const get = (login: string | null, path: string) => t.request('GET', path, { token: login ? u[login].token : undefined });
  const publish = (login: string, channel: string, payload: object) =>
    t.request('POST', `/api/channels/${channel}/publications`, { token: u[login].token, json: { kind: 'note', payload } });
  const inboxRows = (messageId: string) =>
    t.app.qiao.db.db.select().from(deliveries).where(and(eq(deliveries.messageId, messageId), eq(deliveries.transport, 'inbox')));

  const ids: string[] = [];

  it('publishes notes and lists them newest first with recipients and read counts from fanout', async () => {
    for (const l of ['client2', 'inst1', 'broker1']) expect((await t.request('PUT', `/api/subscriptions/${CH}`, { token: u[l].token, json: null })).status).toBeLessThan(300);
    // A general-tier client still subscribed (e.g. after a tier downgrade): fanout's re-check skips them.
    await t.app.qiao.db.db.insert(subscriptions).values({ userId: u.client1.user.id, channel: CH });

    for (const [i, title] of ['量化择时周报', '因子表现月报'].entries()) {
      const r = await publish('research1', CH, note(title, { summary: `摘要${i}`, tickers: ['600519.SH', '300750.SZ'], riskLevel: 'R4', category: 'quant' }));
      expect(r.status, r.text).toBe(201);
      ids.push(r.body.id);
    }
    for (const id of ids) await eventually(async () => (await inboxRows(id)).length === 3, 15_000);

    const read = await t.request('POST', `/api/inbox/${ids[1]}/read`, { token: u.client2.token });
    expect(read.status).toBe(200);

    const r = await get('research1', '/api/research/notes');
    expect(r.status).toBe(200);
    const mine = r.body.notes.filter((n: { id: string }) => ids.includes(n.id));
    expect(mine.map((n: { id: string }) => n.id)).toEqual([ids[1], ids[0]]);
    expect(mine[0]).toEqual({
      id: ids[1],
      channel: CH,
      authorId: u.research1.user.id,
      authorName: expect.any(String),
      title: '因子表现月报',
      summary: '摘要1',
      tickers: ['600519.SH', '300750.SZ'],
      productRisk: 'R4',
      category: 'quant',
      publishedAt: expect.any(String),
      recipients: 3,
      read: 1,
    });
    expect(mine[1]).toMatchObject({ recipients: 3, read: 0 });
    expect(r.body.notes.every((n: { authorId: string }) => n.authorId === u.research1.user.id)).toBe(true);
  });

  it('pages with limit and nextBefore', async () => {
    const first = await get('research1', '/api/research/notes?limit=1');
    expect(first.body.notes).toHaveLength(1);
    expect(first.body.notes[0].id).toBe(ids[1]);
    expect(first.body.nextBefore).toBe(first.body.notes[0].publishedAt);
    const second = await get('research1', `/api/research/notes?limit=1&before=${encodeURIComponent(first.body.nextBefore)}`);
    expect(second.body.notes[0].id).toBe(ids[0]);
    const all = await get('research1', '/api/research/notes?limit=100');
    expect(all.body.nextBefore).toBeNull();
  });

  it('admin and compliance see every author, or one author; the research desk only its own', async () => {
    for (const l of ['admin', 'compliance1']) {
      const all = await get(l, '/api/research/notes');
      expect(all.status).toBe(200);
      expect(all.body.notes.map((n: { id: string }) => n.id)).toEqual(expect.arrayContaining(ids));
      const one = await get(l, `/api/research/notes?author=${u.research1.user.id}`);
      expect(one.body.notes.every((n: { authorId: string }) => n.authorId === u.research1.user.id)).toBe(true);
      const none = await get(l, `/api/research/notes?author=${u.admin.user.id}`);
      expect(none.body.notes).toEqual([]);
    }
    const other = await get('research1', `/api/research/notes?author=${u.admin.user.id}`);
    expect(other.status).toBe(403);
    expect(other.body.error.code).toBe('QIAO_FORBIDDEN');
    // Asking for oneself is fine.
    expect((await get('research1', `/api/research/notes?author=${u.research1.user.id}`)).status).toBe(200);
  });

  it('refuses other roles with QIAO_FORBIDDEN and anonymous callers with QIAO_AUTH_REQUIRED', async () => {
    for (const path of ['/api/research/notes', `/api/research/audience?channel=${CH}`]) {
      for (const l of ['client1', 'client2', 'broker1', 'manager1']) {
        const r = await get(l, path);
        expect(r.status, `${l} ${path}`).toBe(403);
        expect(r.body.error.code).toBe('QIAO_FORBIDDEN');
      }
      expect((await get(null, path)).body.error.code).toBe('QIAO_AUTH_REQUIRED');
    }
  });

  it('refuses bad query parameters with stable codes', async () => {
    for (const q of ['?limit=0', '?limit=101', '?author=not-a-uuid', '?before=yesterday', '?foo=1']) {
      const r = await get('admin', `/api/research/notes${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.error.code).toBe('QIAO_BAD_REQUEST');
    }
    const cases: Array<[string, number, string]> = [
      ['', 400, 'QIAO_BAD_REQUEST'],
      ['?channel=research.nope', 400, 'QIAO_CHANNEL_BAD_NAME'],
      ['?channel=alerts.market', 400, 'QIAO_CHANNEL_BAD_NAME'],
      [`?channel=${'research.'.padEnd(200, 'x')}`, 400, 'QIAO_CHANNEL_BAD_NAME'],
      ['?channel=weather.beijing', 404, 'QIAO_CHANNEL_UNKNOWN_FAMILY'],
    ];
    for (const [q, status, code] of cases) {
      const r = await get('research1', `/api/research/audience${q}`);
      expect(r.status, q).toBe(status);
      expect(r.body.error.code).toBe(code);
    }
  });

  it('reports a channel audience: entitled tiers, subscribers now, and who would receive a note', async () => {
    const r = await get('research1', `/api/research/audience?channel=${CH}`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ channel: CH, title: { zh: '量化研究', en: 'Quant' }, entitledTiers: ['hnw', 'institutional'], subscribers: 4, wouldReceive: 3 });
    expect(r.body.breakdown).toEqual(
      expect.arrayContaining([
        { role: 'client', tier: 'general', subscribers: 1, entitled: false },
        { role: 'broker', tier: null, subscribers: 1, entitled: true },
      ]),
    );
    // It matches what fanout did: the note reached exactly `wouldReceive` users.
    expect((await inboxRows(ids[0])).length).toBe(r.body.wouldReceive);

    const open = await get('compliance1', '/api/research/audience?channel=research.macro');
    expect(open.body).toMatchObject({ entitledTiers: ['general', 'hnw', 'institutional'] });
    expect(open.body.wouldReceive).toBe(open.body.subscribers);
    expect((await get('admin', '/api/research/audience?channel=research.institutional')).body.entitledTiers).toEqual(['institutional']);
    expect((await get('admin', '/api/research/audience?channel=research.sector.tech')).body.title.zh).toBe('行业研究 · 科技');
  });

  it('screens research notes with DLP: a block term is refused naming the terms, and nothing is published', async () => {
    const before = (await get('research1', '/api/research/notes?limit=100')).body.notes.length;
    const r = await publish('research1', 'research.macro', note('固收+产品点评', { summary: '本产品保本保息，稳赚不赔' }));
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('QIAO_DLP_BLOCKED');
    expect(r.body.error.details.terms).toEqual(expect.arrayContaining(['保本']));
    expect(r.body.error.message).toContain('保本');
    expect((await get('research1', '/api/research/notes?limit=100')).body.notes).toHaveLength(before);
  });

  it('validates tickers and the product risk level of a research note', async () => {
    for (const extra of [{ tickers: ['600519'] }, { tickers: ['AAPL.US'] }, { riskLevel: 'R6' }, { riskLevel: undefined }]) {
      const payload = note('测试', extra);
      if ('riskLevel' in extra && extra.riskLevel === undefined) delete payload.riskLevel;
      const r = await publish('research1', 'research.macro', payload);
      expect(r.status, JSON.stringify(extra)).toBe(400);
      expect(r.body.error.code).toBe('QIAO_BAD_PUBLICATION');
    }
  });
});
