/**
 * Recommendations through the suitability gate, the 25-clients/30-days approval rule, compliance
 * approvals and firm-wide broadcast approval, through the real API of an embedded hub. Each suitability
 * case sets the client's risk data directly in the database, then recommends over REST and checks what
 * the client received (inbox history), what was recorded (row) and archived (record).
 */
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { approvals, archiveRecords, recommendations } from '../../src/store/schema/index.ts';
import type { PublicUser } from '../../src/store/users-repo.ts';
import {
  CLIENT_LEVELS,
  PRODUCT_LEVELS,
  addClients,
  archived,
  assign,
  daysAgo,
  dbOf,
  historyOf,
  recRow,
  recsOf,
  setRisk,
  today,
} from '../helpers/advisory.ts';
import { SioTestClient, WsTestClient, isMsg, note, sleep, startEmbeddedApp, type TestApp } from '../helpers/app.ts';

type Login = { token: string; user: PublicUser };
const rank = (l: string) => Number(l.slice(1));

describe('recommendations and approvals (embedded hub)', () => {
  let t: TestApp;
  const u: Record<string, Login> = {};
  const tok = (l: string) => u[l].token;
  const id = (l: string) => u[l].user.id;

  beforeAll(async () => {
    t = await startEmbeddedApp();
    for (const l of ['broker1', 'broker2', 'client1', 'client2', 'client3', 'inst1', 'compliance1', 'admin', 'manager1', 'research1']) u[l] = await t.login(l);
  });
  afterAll(async () => {
    await t?.close();
  });

  const recommend = (token: string, body: unknown, headers: Record<string, string> = {}) => t.request('POST', '/api/recommendations', { token, json: body, headers });
  const inbox = (login: string) => historyOf(t, `inbox.${id(login)}`, tok(login));
  const rec = (clientIds: string[], productRisk: string, security = '600519.SH', extra: Record<string, unknown> = {}) => ({
    clientIds,
    security,
    productName: '贵州茅台',
    productRisk,
    rationale: '白酒龙头，业绩稳健，估值处于历史中枢。',
    ...extra,
  });

  describe('the suitability gate, one client at a time', () => {
    const pairs = CLIENT_LEVELS.flatMap((c) => PRODUCT_LEVELS.map((r) => [c, r] as const));
    it.each(pairs)('ordinary investor %s, product %s', async (c, r) => {
      const db = dbOf(t);
      await setRisk(db, id('client3'), { level: c, assessedOn: today() });
      const before = await inbox('client3');
      const res = await recommend(tok('broker1'), rec([id('client3')], r, `GATE-${c}-${r}`));
      const rows = await recsOf(db, id('client3'), `GATE-${c}-${r}`);
      expect(rows).toHaveLength(1);
      const row = rows[0];
      expect(row).toMatchObject({ brokerId: id('broker1'), clientRiskLevel: c, productRisk: r, professionalInvestor: false });
      const after = await inbox('client3');
      if (rank(r) <= rank(c)) {
        expect(res.status, res.text).toBe(200);
        expect(res.body.results).toEqual([expect.objectContaining({ clientId: id('client3'), outcome: 'delivered', basis: 'level', clientRisk: c, productRisk: r })]);
        expect(row).toMatchObject({ status: 'delivered', basis: 'level', refusalCode: null });
        expect(after).toHaveLength(before.length + 1);
        const m = after.at(-1)!;
        expect(m).toMatchObject({ id: row.messageId, kind: 'recommendation', sender: id('broker1') });
        expect(m.payload).toMatchObject({ recommendationId: row.id, security: `GATE-${c}-${r}`, riskLevel: r, basis: 'level', body: expect.stringContaining('白酒龙头') });
        const [record] = await archived(db, 'suitability.delivered', 'recommendationId', row.id);
        expect(record).toMatchObject({ retentionClass: 'suitability', actorId: id('broker1') });
        expect(record.subjects).toEqual(expect.arrayContaining([id('broker1'), id('client3')]));
      } else {
        expect(res.status, res.text).toBe(422);
        expect(res.body.error.code).toBe('QIAO_SUITABILITY_MISMATCH');
        expect(res.body.error.details).toMatchObject({ clientId: id('client3'), outcome: 'refused', clientRisk: c, productRisk: r, recommendationId: row.id });
        expect(row).toMatchObject({ status: 'refused', refusalCode: 'QIAO_SUITABILITY_MISMATCH', messageId: null });
        expect(after).toEqual(before);
        const [record] = await archived(db, 'suitability.refusal', 'recommendationId', row.id);
        expect(record).toMatchObject({ retentionClass: 'suitability', actorId: id('broker1') });
        expect(record.body).toMatchObject({ clientId: id('client3'), brokerId: id('broker1'), clientRisk: c, productRisk: r, code: 'QIAO_SUITABILITY_MISMATCH', stage: 'send' });
        expect(Date.parse((record.body as { at: string }).at)).toBeGreaterThan(Date.now() - 60_000);
      }
    });

    it.each([
      ['no risk level', { level: null, assessedOn: null }, 'QIAO_RISK_ASSESSMENT_MISSING'],
      ['a level without an assessment date', { level: 'C5', assessedOn: null }, 'QIAO_RISK_ASSESSMENT_MISSING'],
      ['an assessment older than two years', { level: 'C5', assessedOn: daysAgo(365 * 2 + 2) }, 'QIAO_RISK_ASSESSMENT_EXPIRED'],
    ] as const)('%s → refused with %s, recorded, not delivered', async (_label, risk, code) => {
      const db = dbOf(t);
      await setRisk(db, id('client3'), risk);
      const before = await inbox('client3');
      const security = `NOASSESS-${code.slice(-7)}-${risk.level ?? 'X'}-${risk.assessedOn ? 'D' : 'N'}`;
      const res = await recommend(tok('broker1'), rec([id('client3')], 'R1', security));
      expect(res.status, res.text).toBe(422);
      expect(res.body.error.code).toBe(code);
      const [row] = await recsOf(db, id('client3'), security);
      expect(row).toMatchObject({ status: 'refused', refusalCode: code, clientRiskLevel: risk.level, clientRiskAssessedOn: risk.assessedOn });
      expect(await archived(db, 'suitability.refusal', 'recommendationId', row.id)).toHaveLength(1);
      expect(await inbox('client3')).toEqual(before);
    });

    it('a professional investor passes whatever the levels, and is recorded with the basis', async () => {
      const db = dbOf(t);
      await setRisk(db, id('client3'), { level: 'C1', assessedOn: daysAgo(3000), professional: true });
      const res = await recommend(tok('broker1'), rec([id('client3')], 'R5', 'PRO-R5'));
      expect(res.status, res.text).toBe(200);
      expect(res.body.results[0]).toMatchObject({ outcome: 'delivered', basis: 'professional', professionalInvestor: true });
      const [row] = await recsOf(db, id('client3'), 'PRO-R5');
      expect(row).toMatchObject({ status: 'delivered', basis: 'professional', professionalInvestor: true });
      const [record] = await archived(db, 'suitability.delivered', 'recommendationId', row.id);
      expect(record.body).toMatchObject({ basis: 'professional', professionalInvestor: true, productRisk: 'R5' });
      await setRisk(db, id('client3'), { level: 'C1', assessedOn: today() });
    });
  });

  describe('batches', () => {
    it('reports per-client outcomes with codes (200), delivering only to the suitable clients', async () => {
      const db = dbOf(t);
      await setRisk(db, id('client1'), { level: 'C3', assessedOn: today() });
      await setRisk(db, id('client2'), { level: 'C4', assessedOn: today() });
      await setRisk(db, id('client3'), { level: 'C1', assessedOn: today() });
      const before = { c1: await inbox('client1'), c2: await inbox('client2'), c3: await inbox('client3') };
      const res = await recommend(tok('broker1'), rec([id('client1'), id('client2'), id('client3')], 'R3', '000858.SZ'));
      expect(res.status, res.text).toBe(200);
      const by = new Map(res.body.results.map((r: { clientId: string }) => [r.clientId, r]));
      expect(by.get(id('client1'))).toMatchObject({ outcome: 'delivered', basis: 'level', clientRisk: 'C3' });
      expect(by.get(id('client2'))).toMatchObject({ outcome: 'delivered', clientRisk: 'C4' });
      expect(by.get(id('client3'))).toMatchObject({ outcome: 'refused', code: 'QIAO_SUITABILITY_MISMATCH', clientRisk: 'C1', productRisk: 'R3' });
      expect(res.body.counts).toEqual({ delivered: 2, refused: 1, pending_approval: 0, rejected: 0, failed: 0 });
      expect(res.body.approvalId).toBeNull();
      expect((await inbox('client1')).length).toBe(before.c1.length + 1);
      expect((await inbox('client2')).length).toBe(before.c2.length + 1);
      expect(await inbox('client3')).toEqual(before.c3);
      const batchRows = await db.select().from(recommendations).where(eq(recommendations.batchId, res.body.batchId));
      expect(batchRows).toHaveLength(3);
    });

    it('delivers live to a connected client (socket.io and raw WebSocket)', async () => {
      const s = await SioTestClient.connect(t.baseUrl, tok('client1'));
      const ws = await WsTestClient.connect(t.wsUrl, tok('client2'));
      try {
        expect((await s.subscribe(`inbox.${id('client1')}`)).ok).toBe(true);
        expect((await ws.subscribe(`inbox.${id('client2')}`)).ok).toBe(true);
        const res = await recommend(tok('broker1'), rec([id('client1'), id('client2')], 'R2', '601318.SH'));
        expect(res.status).toBe(200);
        const [a] = await s.msgs(`inbox.${id('client1')}`, 1);
        const [b] = await ws.msgs(`inbox.${id('client2')}`, 1);
        for (const m of [a, b]) expect(m).toMatchObject({ kind: 'recommendation', sender: id('broker1'), payload: { security: '601318.SH', riskLevel: 'R2' } });
      } finally {
        s.close();
        await ws.close();
      }
    });

    it('an Idempotency-Key makes a retry return the same batch without a second delivery', async () => {
      const before = await inbox('client1');
      const body = rec([id('client1')], 'R1', '510300.OF');
      const first = await recommend(tok('broker1'), body, { 'idempotency-key': 'rec-retry-1' });
      const again = await recommend(tok('broker1'), body, { 'idempotency-key': 'rec-retry-1' });
      expect(first.status).toBe(200);
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ batchId: first.body.batchId, duplicate: true });
      expect(again.body.results[0].recommendationId).toBe(first.body.results[0].recommendationId);
      expect((await inbox('client1')).length).toBe(before.length + 1);
    });

    describe('Idempotency-Key: one key, one request', () => {
      const key = (name: string) => ({ 'idempotency-key': `${name}-${Math.random().toString(36).slice(2)}` });
      const count = async () => (await dbOf(t).select().from(recommendations)).length;
      const inboxes = async () => Promise.all(['client1', 'client2', 'client3'].map(async (l) => (await inbox(l)).length));
      let researchId: string;

      beforeAll(async () => {
        const db = dbOf(t);
        await setRisk(db, id('client1'), { level: 'C3', assessedOn: today() });
        await setRisk(db, id('client2'), { level: 'C4', assessedOn: today() });
        await setRisk(db, id('client3'), { level: 'C3', assessedOn: today() });
        const pub = await t.request('POST', '/api/channels/research.strategy/publications', { token: tok('research1'), json: { kind: 'note', payload: note('同键研报') } });
        expect(pub.status, pub.text).toBe(201);
        researchId = pub.body.id;
      });

      it('the same body (clients in another order, keys in another order, ids in upper case) returns the first batch; nothing new is stored or delivered', async () => {
        const h = key('rec-same');
        const body = rec([id('client1'), id('client2')], 'R2', '600900.SH', { researchMessageId: researchId });
        const first = await recommend(tok('broker1'), body, h);
        expect(first.status, first.text).toBe(200);
        expect(first.body.counts.delivered).toBe(2);
        const before = { rows: await count(), inboxes: await inboxes() };
        const again = await recommend(
          tok('broker1'),
          { researchMessageId: researchId.toUpperCase(), rationale: body.rationale, productRisk: 'R2', productName: body.productName, security: '600900.SH', clientIds: [id('client2').toUpperCase(), id('client1')] },
          h,
        );
        expect(again.status, again.text).toBe(200);
        expect(again.body).toMatchObject({ batchId: first.body.batchId, duplicate: true });
        const ids = (b: { results: Array<{ recommendationId: string }> }) => b.results.map((r) => r.recommendationId).sort();
        expect(ids(again.body)).toEqual(ids(first.body));
        expect({ rows: await count(), inboxes: await inboxes() }).toEqual(before);
      });

      it.each<[string, (b: ReturnType<typeof rec>) => Record<string, unknown>]>([
        ['another rationale', (b) => ({ ...b, rationale: `${b.rationale}补充。` })],
        ['a rationale with a trailing space', (b) => ({ ...b, rationale: `${b.rationale} ` })],
        ['another product risk', (b) => ({ ...b, productRisk: 'R1' })],
        ['another security', (b) => ({ ...b, security: '600901.SH' })],
        ['another product name', (b) => ({ ...b, productName: '长江电力' })],
        ['no product name', ({ productName: _p, ...b }) => b],
        ['a research note', (b) => ({ ...b, researchMessageId: researchId })],
        ['one client fewer', (b) => ({ ...b, clientIds: [id('client1')] })],
        ['one client more', (b) => ({ ...b, clientIds: [id('client1'), id('client2'), id('client3')] })],
        ['other clients', (b) => ({ ...b, clientIds: [id('client3')] })],
      ])('the same key with %s → 409 QIAO_IDEMPOTENCY_MISMATCH; nothing stored or delivered', async (_label, change) => {
        const h = key('rec-diff');
        const body = rec([id('client1'), id('client2')], 'R2', '600900.SH');
        const first = await recommend(tok('broker1'), body, h);
        expect(first.status, first.text).toBe(200);
        const before = { rows: await count(), inboxes: await inboxes() };
        const r = await recommend(tok('broker1'), change(body), h);
        expect(r.status, r.text).toBe(409);
        expect(r.body.error.code).toBe('QIAO_IDEMPOTENCY_MISMATCH');
        expect({ rows: await count(), inboxes: await inboxes() }).toEqual(before);
        // The first request, retried with its key, still answers with the first batch.
        const same = await recommend(tok('broker1'), body, h);
        expect(same.status, same.text).toBe(200);
        expect(same.body).toMatchObject({ batchId: first.body.batchId, duplicate: true });
      });

      it('concurrent requests with one key and disjoint clients (and securities): one batch is stored, the other request is refused', async () => {
        const h = key('rec-race');
        const before = { rows: await count(), inboxes: await inboxes() };
        const bodies = [rec([id('client1')], 'R2', '601088.SH'), rec([id('client2')], 'R2', '601899.SH'), rec([id('client1')], 'R2', '601088.SH')];
        const rs = await Promise.all(bodies.map((b) => recommend(tok('broker1'), b, h)));
        const winners = rs.filter((r) => r.status === 200 && r.body.duplicate === false);
        expect(winners, rs.map((r) => r.text).join('\n')).toHaveLength(1);
        const won = bodies[rs.indexOf(winners[0])];
        rs.forEach((r, i) => {
          if (r === winners[0]) return;
          if (bodies[i].security === won.security) expect(r.body, r.text).toMatchObject({ duplicate: true, batchId: winners[0].body.batchId });
          else expect(r.body.error?.code, r.text).toBe('QIAO_IDEMPOTENCY_MISMATCH');
        });
        const keyed = await dbOf(t).select().from(recommendations).where(eq(recommendations.requestKey, h['idempotency-key']));
        expect(keyed.map((r) => [r.clientId, r.security])).toEqual([[won.clientIds[0], won.security]]);
        expect(await count()).toBe(before.rows + 1);
        const after = await inboxes();
        expect(after.reduce((a, b) => a + b, 0)).toBe(before.inboxes.reduce((a, b) => a + b, 0) + 1);
      });

      it('the race path: a batch committed after the first look is found under the key lock and compared too', async () => {
        const svc = t.app.qiao.advisory.recommendations;
        const h = key('rec-race-path');
        const first = await recommend(tok('broker1'), rec([id('client1')], 'R2', '601088.SH'), h);
        expect(first.status, first.text).toBe(200);
        const before = { rows: await count(), inboxes: await inboxes() };
        // The first look misses the batch, as when the two requests run at the same time on two nodes.
        const spy = vi.spyOn(svc as unknown as { batchByKey: () => Promise<unknown[]> }, 'batchByKey');
        try {
          spy.mockResolvedValueOnce([]);
          const other = await recommend(tok('broker1'), rec([id('client2')], 'R2', '601899.SH'), h);
          expect(other.status, other.text).toBe(409);
          expect(other.body.error.code).toBe('QIAO_IDEMPOTENCY_MISMATCH');
          spy.mockResolvedValueOnce([]);
          const same = await recommend(tok('broker1'), rec([id('client1')], 'R2', '601088.SH'), h);
          expect(same.status, same.text).toBe(200);
          expect(same.body).toMatchObject({ batchId: first.body.batchId, duplicate: true });
          expect(spy).toHaveBeenCalledTimes(4);
        } finally {
          spy.mockRestore();
        }
        expect({ rows: await count(), inboxes: await inboxes() }).toEqual(before);
      });
    });

    it('cites a research note the broker may read', async () => {
      const pub = await t.request('POST', '/api/channels/research.strategy/publications', { token: tok('research1'), json: { kind: 'note', payload: note('A股策略周报') } });
      expect(pub.status).toBe(201);
      const res = await recommend(tok('broker1'), rec([id('client1')], 'R2', '600036.SH', { researchMessageId: pub.body.id }));
      expect(res.status, res.text).toBe(200);
      const m = (await inbox('client1')).at(-1)!;
      expect(m.payload).toMatchObject({ researchMessageId: pub.body.id, researchTitle: 'A股策略周报' });
      // Not a research note (a recommendation message), or no such message → QIAO_RESEARCH_NOTE_INVALID.
      for (const bad of [m.id, '00000000-0000-4000-8000-000000000000']) {
        const r = await recommend(tok('broker1'), rec([id('client1')], 'R2', '600036.SH', { researchMessageId: bad }));
        expect(r.status).toBe(422);
        expect(r.body.error.code).toBe('QIAO_RESEARCH_NOTE_INVALID');
      }
    });
  });

  describe('authorisation', () => {
    it("a broker cannot recommend to a client that is not its own (QIAO_FORBIDDEN), not even inside a batch; nothing is recorded or delivered", async () => {
      const db = dbOf(t);
      const before = { inst: await inbox('inst1'), c1: await inbox('client1') };
      for (const ids of [[id('inst1')], [id('client1'), id('inst1')]]) {
        const res = await recommend(tok('broker1'), rec(ids, 'R1', 'FORBID-1'));
        expect(res.status).toBe(403);
        expect(res.body.error.code).toBe('QIAO_FORBIDDEN');
        expect(res.body.error.details).toEqual({ clientIds: [id('inst1')] });
      }
      // A client id that is not a client at all, or does not exist, is refused the same way.
      for (const other of [id('broker2'), '00000000-0000-4000-8000-000000000000']) {
        const res = await recommend(tok('broker1'), rec([other], 'R1', 'FORBID-1'));
        expect(res.body.error.code).toBe('QIAO_FORBIDDEN');
      }
      expect(await recsOf(db, id('client1'), 'FORBID-1')).toEqual([]);
      expect(await recsOf(db, id('inst1'), 'FORBID-1')).toEqual([]);
      expect(await inbox('inst1')).toEqual(before.inst);
      expect(await inbox('client1')).toEqual(before.c1);
    });

    it('shared_read does not allow recommending; shared_full does', async () => {
      const db = dbOf(t);
      await assign(db, id('broker2'), id('client2'), 'shared_read');
      const read = await recommend(tok('broker2'), rec([id('client2')], 'R1', 'SHARED-1'));
      expect(read.body.error.code).toBe('QIAO_FORBIDDEN');
      await assign(db, id('broker2'), id('client2'), 'shared_full');
      const full = await recommend(tok('broker2'), rec([id('client2')], 'R1', 'SHARED-1'));
      expect(full.status, full.text).toBe(200);
      const clients = await t.request('GET', '/api/recommendations/clients', { token: tok('broker2') });
      expect(clients.body.clients.map((c: { id: string }) => c.id).sort()).toEqual([id('client2'), id('inst1')].sort());
    });

    it('only brokers recommend; clients, managers, research, compliance and admin get QIAO_FORBIDDEN', async () => {
      for (const l of ['client1', 'manager1', 'research1', 'compliance1', 'admin']) {
        const res = await recommend(tok(l), rec([id('client1')], 'R1', 'ROLE-1'));
        expect(res.status, l).toBe(403);
        expect(res.body.error.code).toBe('QIAO_FORBIDDEN');
        const clients = await t.request('GET', '/api/recommendations/clients', { token: tok(l) });
        expect(clients.body.error.code).toBe('QIAO_FORBIDDEN');
      }
      expect((await recommend('', rec([id('client1')], 'R1'))).body.error.code).toBe('QIAO_AUTH_REQUIRED');
      expect(await recsOf(dbOf(t), id('client1'), 'ROLE-1')).toEqual([]);
    });

    it('nobody publishes a recommendation directly: the publish path refuses the kind (REST and sockets)', async () => {
      const before = await inbox('client1');
      const payload = {
        recommendationId: '00000000-0000-4000-8000-000000000000',
        title: '绕过适当性',
        security: '600519.SH',
        riskLevel: 'R5',
        body: 'x',
        basis: 'level',
        brokerName: '王经纪',
      };
      for (const who of ['broker1', 'admin']) {
        const r = await t.request('POST', `/api/channels/inbox.${id('client1')}/publications`, { token: tok(who), json: { kind: 'recommendation', payload } });
        expect(r.status, who).toBe(403);
        expect(r.body.error.code).toBe('QIAO_PUBLISH_FORBIDDEN');
      }
      const ws = await WsTestClient.connect(t.wsUrl, tok('broker1'));
      const s = await SioTestClient.connect(t.baseUrl, tok('broker1'));
      try {
        for (const c of [ws, s]) {
          const r = await c.cmd({ op: 'publish', channel: `inbox.${id('client1')}`, kind: 'recommendation', payload });
          expect(r.ok).toBe(false);
          if (!r.ok) expect(r.error.code).toBe('QIAO_PUBLISH_FORBIDDEN');
          const task = await c.cmd({ op: 'publish', channel: `tasks.${id('manager1')}`, kind: 'task.progress', payload: {} });
          if (!task.ok) expect(task.error.code).toBe('QIAO_PUBLISH_FORBIDDEN');
          expect(task.ok).toBe(false);
        }
      } finally {
        await ws.close();
        s.close();
      }
      expect(await inbox('client1')).toEqual(before);
    });
  });

  describe('bad input', () => {
    const ok = () => rec([id('client1')], 'R1', 'BAD-1');
    it.each([
      ['no clients', { clientIds: [] }],
      ['201 clients', { clientIds: Array.from({ length: 201 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`) }],
      ['a duplicate client', { clientIds: ['00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000001'] }],
      ['a client id that is not a UUID', { clientIds: ['client1'] }],
      ['clientIds not an array', { clientIds: 'x' }],
      ['risk R6', { productRisk: 'R6' }],
      ['risk as a number', { productRisk: 3 }],
      ['an empty rationale', { rationale: '' }],
      ['a rationale over 4000 characters', { rationale: '理'.repeat(4001) }],
      ['a rationale with NUL', { rationale: 'a\u0000b' }],
      ['an unknown field', { extra: 1 }],
      ['a research id that is not a UUID', { researchMessageId: 'abc' }],
      ['an empty security', { security: '' }],
      ['an over-long product name', { productName: 'x'.repeat(201) }],
    ])('%s → 400 QIAO_BAD_REQUEST', async (_label, patch) => {
      const body = { ...ok(), ...patch };
      const res = await recommend(tok('broker1'), body);
      expect(res.status, res.text).toBe(400);
      expect(res.body.error.code).toBe('QIAO_BAD_REQUEST');
    });

    it.each(['600519', '60051.SH', '600519.HK', 'aapl', 'A', '600519.SH;DROP', '贵州茅台', 'QZ_WM_1'])('security %j out of the grammar → QIAO_SECURITY_INVALID', async (security) => {
      const res = await recommend(tok('broker1'), { ...ok(), security });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('QIAO_SECURITY_INVALID');
    });

    it('missing required fields, malformed JSON, a wrong content type and an oversized body get stable codes', async () => {
      for (const drop of ['clientIds', 'security', 'productRisk', 'rationale']) {
        const body: Record<string, unknown> = { ...ok() };
        delete body[drop];
        const res = await recommend(tok('broker1'), body);
        expect(res.body.error.code, drop).toBe('QIAO_BAD_REQUEST');
      }
      const bad = await t.request('POST', '/api/recommendations', { token: tok('broker1'), raw: '{"clientIds": [' });
      expect(bad.status).toBe(400);
      expect(bad.body.error.code).toBe('QIAO_BAD_JSON');
      const text = await t.request('POST', '/api/recommendations', { token: tok('broker1'), raw: 'x', headers: { 'content-type': 'text/plain' } });
      expect(text.body.error.code).toBe('QIAO_BAD_REQUEST');
      const huge = await recommend(tok('broker1'), { ...ok(), rationale: 'x'.repeat(200_000) });
      expect(huge.status).toBe(413);
      expect(huge.body.error.code).toBe('QIAO_PAYLOAD_TOO_LARGE');
      const q = await t.request('GET', '/api/recommendations?status=lost', { token: tok('broker1') });
      expect(q.body.error.code).toBe('QIAO_BAD_REQUEST');
      expect(await recsOf(dbOf(t), id('client1'), 'BAD-1')).toEqual([]);
    });

    it('a prohibited term (DLP) in the rationale refuses the whole request before anything is recorded', async () => {
      const res = await recommend(tok('broker1'), { ...ok(), rationale: '本产品保本保息，稳赚不赔' });
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe('QIAO_DLP_BLOCKED');
      expect(await recsOf(dbOf(t), id('client1'), 'BAD-1')).toEqual([]);
    });
  });

  describe('more than 25 ordinary clients within 30 days waits for compliance approval', () => {
    const SEC = 'QZ-WM-2026-001';
    let first: string[];
    let pros: string[];
    let pendingApproval: string;
    let waiting: string[];

    it('up to 25 distinct ordinary clients is delivered at once; professional investors do not count', async () => {
      const db = dbOf(t);
      first = await addClients(db, id('broker1'), 25, { level: 'C5' });
      pros = await addClients(db, id('broker1'), 3, { level: 'C1', professional: true });
      const a = await recommend(tok('broker1'), rec(first.slice(0, 20), 'R4', SEC));
      expect(a.status, a.text).toBe(200);
      expect(a.body.counts.delivered).toBe(20);
      const b = await recommend(tok('broker1'), rec([...first.slice(20), ...pros], 'R4', SEC));
      expect(b.status, b.text).toBe(200);
      expect(b.body.counts.delivered).toBe(8);
      // Recommending again to clients already reached does not add to the count.
      const c = await recommend(tok('broker1'), rec(first.slice(0, 2), 'R4', SEC));
      expect(c.status).toBe(200);
      expect(c.body.counts.delivered).toBe(2);
    });

    it('the 26th client makes the whole batch pending (202); nothing is delivered; a refusal is still a refusal', async () => {
      const db = dbOf(t);
      waiting = await addClients(db, id('broker1'), 2, { level: 'C5' });
      const [low] = await addClients(db, id('broker1'), 1, { level: 'C1' });
      const res = await recommend(tok('broker1'), rec([...waiting, low, first[0]], 'R4', SEC));
      expect(res.status, res.text).toBe(202);
      expect(res.body.approvalId).toMatch(/^[0-9a-f-]{36}$/);
      pendingApproval = res.body.approvalId;
      expect(res.body.counts).toMatchObject({ pending_approval: 3, refused: 1, delivered: 0 });
      const by = new Map(res.body.results.map((r: { clientId: string }) => [r.clientId, r]));
      expect(by.get(low)).toMatchObject({ outcome: 'refused', code: 'QIAO_SUITABILITY_MISMATCH' });
      for (const c of waiting) expect(by.get(c)).toMatchObject({ outcome: 'pending_approval' });
      for (const c of waiting) expect((await recsOf(db, c, SEC))[0]).toMatchObject({ status: 'pending_approval', approvalId: pendingApproval, messageId: null });
      const [a] = await db.select().from(approvals).where(eq(approvals.id, pendingApproval));
      expect(a).toMatchObject({ kind: 'recommendation', status: 'pending', requestedBy: id('broker1'), decidedBy: null });
      // 25 reached before + the 2 suitable new ones (first[0] was reached already; the refusal reaches nobody).
      expect(a.payload).toMatchObject({ security: SEC, reach: 27 });
      expect(await archived(db, 'approval.requested', 'approvalId', pendingApproval)).toHaveLength(1);
    });

    it('compliance lists it; the broker sees only its own requests; a client may not look', async () => {
      const list = await t.request('GET', '/api/approvals?status=pending', { token: tok('compliance1') });
      expect(list.status).toBe(200);
      expect(list.body.approvals.map((a: { id: string }) => a.id)).toContain(pendingApproval);
      const mine = await t.request('GET', '/api/approvals', { token: tok('broker1') });
      expect(mine.body.approvals.every((a: { requestedBy: { id: string } }) => a.requestedBy.id === id('broker1'))).toBe(true);
      const other = await t.request('GET', '/api/approvals', { token: tok('broker2') });
      expect(other.body.approvals.map((a: { id: string }) => a.id)).not.toContain(pendingApproval);
      expect((await t.request('GET', `/api/approvals/${pendingApproval}`, { token: tok('broker2') })).body.error.code).toBe('QIAO_FORBIDDEN');
      expect((await t.request('GET', '/api/approvals', { token: tok('client1') })).body.error.code).toBe('QIAO_FORBIDDEN');
      expect((await t.request('GET', '/api/approvals?status=maybe', { token: tok('compliance1') })).body.error.code).toBe('QIAO_BAD_REQUEST');
    });

    it('only a compliance user approves or rejects (QIAO_FORBIDDEN otherwise)', async () => {
      for (const l of ['broker1', 'admin', 'manager1', 'client1', 'research1']) {
        for (const action of ['approve', 'reject']) {
          const r = await t.request('POST', `/api/approvals/${pendingApproval}/${action}`, { token: tok(l), json: {} });
          expect(r.status, `${l} ${action}`).toBe(403);
          expect(r.body.error.code).toBe('QIAO_FORBIDDEN');
        }
      }
      const [a] = await dbOf(t).select().from(approvals).where(eq(approvals.id, pendingApproval));
      expect(a.status).toBe('pending');
    });

    it('approval re-checks suitability now, delivers the rest, and keeps approver and time', async () => {
      const db = dbOf(t);
      // One of the waiting clients was reassessed as C1 meanwhile.
      await setRisk(db, waiting[1], { level: 'C1', assessedOn: today() });
      const before = Date.now();
      const r = await t.request('POST', `/api/approvals/${pendingApproval}/approve`, { token: tok('compliance1'), json: { note: '已复核，同意发送' } });
      expect(r.status, r.text).toBe(200);
      expect(r.body.approval).toMatchObject({ id: pendingApproval, status: 'approved', decidedBy: id('compliance1'), note: '已复核，同意发送' });
      expect(Date.parse(r.body.approval.decidedAt)).toBeGreaterThanOrEqual(before - 1000);
      const by = new Map(r.body.batch.results.map((x: { clientId: string }) => [x.clientId, x]));
      expect(by.get(waiting[0])).toMatchObject({ outcome: 'delivered', basis: 'level' });
      expect(by.get(waiting[1])).toMatchObject({ outcome: 'refused', code: 'QIAO_SUITABILITY_MISMATCH', clientRisk: 'C1' });
      const [ok] = await recsOf(db, waiting[0], SEC);
      expect(ok).toMatchObject({ status: 'delivered', decidedBy: id('compliance1') });
      expect(ok.messageId).toBeTruthy();
      const [delivered] = await archived(db, 'suitability.delivered', 'recommendationId', ok.id);
      expect(delivered.body).toMatchObject({ approvalId: pendingApproval, approvedBy: id('compliance1') });
      const [refused] = await recsOf(db, waiting[1], SEC);
      expect(refused).toMatchObject({ status: 'refused', refusalCode: 'QIAO_SUITABILITY_MISMATCH', clientRiskLevel: 'C1' });
      expect((await archived(db, 'suitability.refusal', 'recommendationId', refused.id))[0].body).toMatchObject({ stage: 'approval' });
      const [decision] = await archived(db, 'approval.approved', 'approvalId', pendingApproval);
      expect(decision).toMatchObject({ actorId: id('compliance1'), retentionClass: 'compliance-activity' });
      // Decided: no second approval, no rejection after the fact.
      for (const action of ['approve', 'reject']) {
        const again = await t.request('POST', `/api/approvals/${pendingApproval}/${action}`, { token: tok('compliance1'), json: {} });
        expect(again.status).toBe(409);
        expect(again.body.error.code).toBe('QIAO_APPROVAL_NOT_PENDING');
      }
      expect((await db.select().from(recommendations).where(and(eq(recommendations.clientId, waiting[0]), eq(recommendations.status, 'delivered')))).length).toBe(1);
    });

    it('a rejected batch is never delivered; the rejecter and the note are kept', async () => {
      const db = dbOf(t);
      const [x] = await addClients(db, id('broker1'), 1, { level: 'C5' });
      const res = await recommend(tok('broker1'), rec([x], 'R4', SEC));
      expect(res.status).toBe(202);
      const r = await t.request('POST', `/api/approvals/${res.body.approvalId}/reject`, { token: tok('compliance1'), json: { note: '集中度过高' } });
      expect(r.status, r.text).toBe(200);
      expect(r.body.approval).toMatchObject({ status: 'rejected', decidedBy: id('compliance1'), note: '集中度过高' });
      expect(r.body.batch.results[0]).toMatchObject({ clientId: x, outcome: 'rejected' });
      const [row] = await recsOf(db, x, SEC);
      expect(row).toMatchObject({ status: 'rejected', decidedBy: id('compliance1'), messageId: null });
      expect(await archived(db, 'approval.rejected', 'approvalId', res.body.approvalId)).toHaveLength(1);
      const again = await t.request('POST', `/api/approvals/${res.body.approvalId}/approve`, { token: tok('compliance1'), json: {} });
      expect(again.body.error.code).toBe('QIAO_APPROVAL_NOT_PENDING');
    });

    it('unknown or malformed approval ids and bad notes get stable codes', async () => {
      const none = await t.request('POST', '/api/approvals/00000000-0000-4000-8000-000000000000/approve', { token: tok('compliance1'), json: {} });
      expect(none.status).toBe(404);
      expect(none.body.error.code).toBe('QIAO_NOT_FOUND');
      const bad = await t.request('POST', '/api/approvals/not-a-uuid/approve', { token: tok('compliance1'), json: {} });
      expect(bad.body.error.code).toBe('QIAO_BAD_REQUEST');
      for (const body of [{ note: '' }, { note: 'x'.repeat(2001) }, { note: 5 }, { verdict: 'yes' }]) {
        const r = await t.request('POST', `/api/approvals/${pendingApproval}/reject`, { token: tok('compliance1'), json: body });
        expect(r.body.error.code, JSON.stringify(body)).toBe('QIAO_BAD_REQUEST');
      }
    });
  });

  describe('firm-wide broadcast waits for approval', () => {
    const notice = (title: string) => ({ kind: 'notice', payload: { title, body: '请全体员工知悉。', severity: 'info' } });

    it('REST: 202 with the approval id; nothing delivered or stored until a compliance user approves; then delivered once', async () => {
      const db = dbOf(t);
      const listener = await SioTestClient.connect(t.baseUrl, tok('client1'));
      try {
        expect((await listener.subscribe('firm.broadcast')).ok).toBe(true);
        const r = await t.request('POST', '/api/channels/firm.broadcast/publications', { token: tok('admin'), json: notice('国庆假期安排'), headers: { 'idempotency-key': 'fb-1' } });
        expect(r.status, r.text).toBe(202);
        expect(r.body).toMatchObject({ channel: 'firm.broadcast', pending: true, duplicate: false });
        const again = await t.request('POST', '/api/channels/firm.broadcast/publications', { token: tok('admin'), json: notice('国庆假期安排'), headers: { 'idempotency-key': 'fb-1' } });
        expect(again.body).toMatchObject({ pending: true, approvalId: r.body.approvalId, duplicate: true });
        await sleep(100);
        expect(listener.pushes.peek(isMsg('firm.broadcast'))).toEqual([]);
        expect(await historyOf(t, 'firm.broadcast', tok('client1'))).toEqual([]);

        const decided = await t.request('POST', `/api/approvals/${r.body.approvalId}/approve`, { token: tok('compliance1'), json: { note: '同意' } });
        expect(decided.status, decided.text).toBe(200);
        expect(decided.body.publication).toMatchObject({ channel: 'firm.broadcast', offset: 1 });
        const [m] = await listener.msgs('firm.broadcast', 1);
        expect(m).toMatchObject({ id: decided.body.publication.id, kind: 'notice', sender: id('admin'), payload: { title: '国庆假期安排' } });
        const [row] = await db.select().from(approvals).where(eq(approvals.id, r.body.approvalId));
        expect(row).toMatchObject({ status: 'approved', decidedBy: id('compliance1'), messageId: m.id, note: '同意' });
        expect(row.decidedAt).toBeInstanceOf(Date);
        const [rec] = await archived(db, 'approval.approved', 'approvalId', r.body.approvalId);
        expect(rec.body).toMatchObject({ messageId: m.id, decidedBy: id('compliance1'), requestedBy: id('admin') });
        const again2 = await t.request('POST', `/api/approvals/${r.body.approvalId}/approve`, { token: tok('compliance1'), json: {} });
        expect(again2.body.error.code).toBe('QIAO_APPROVAL_NOT_PENDING');
        await sleep(100);
        expect(listener.pushes.peek(isMsg('firm.broadcast'))).toEqual([]);
        expect(await historyOf(t, 'firm.broadcast', tok('client1'))).toHaveLength(1);
      } finally {
        listener.close();
      }
    });

    it('sockets: the publish reply says pending with the approval id; a rejected broadcast is never delivered', async () => {
      const ws = await WsTestClient.connect(t.wsUrl, tok('admin'));
      const s = await SioTestClient.connect(t.baseUrl, tok('admin'));
      try {
        const a = await ws.cmd({ op: 'publish', channel: 'firm.broadcast', kind: 'notice', payload: notice('系统升级通知').payload });
        const b = await s.cmd({ op: 'publish', channel: 'firm.broadcast', kind: 'notice', payload: notice('合规培训').payload });
        for (const r of [a, b]) {
          expect(r.ok, JSON.stringify(r)).toBe(true);
          if (r.ok) expect(r.result).toMatchObject({ channel: 'firm.broadcast', pending: true, approvalId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
        }
        const approvalId = (b as { result: { approvalId: string } }).result.approvalId;
        const rej = await t.request('POST', `/api/approvals/${approvalId}/reject`, { token: tok('compliance1'), json: { note: '内容待修改' } });
        expect(rej.body.approval).toMatchObject({ status: 'rejected', decidedBy: id('compliance1') });
        const pending = await t.request('GET', '/api/approvals?status=pending&kind=broadcast', { token: tok('compliance1') });
        expect(pending.body.approvals.map((x: { id: string }) => x.id)).toContain((a as { result: { approvalId: string } }).result.approvalId);
        // Still only the one approved broadcast on the channel.
        expect(await historyOf(t, 'firm.broadcast', tok('client1'))).toHaveLength(1);
        // A bad payload or a non-admin is refused before anything waits for approval.
        const bad = await ws.cmd({ op: 'publish', channel: 'firm.broadcast', kind: 'notice', payload: { body: 'no title' } });
        expect(bad.ok).toBe(false);
        if (!bad.ok) expect(bad.error.code).toBe('QIAO_BAD_PUBLICATION');
        const byBroker = await t.request('POST', '/api/channels/firm.broadcast/publications', { token: tok('broker1'), json: notice('x') });
        expect(byBroker.body.error.code).toBe('QIAO_PUBLISH_FORBIDDEN');
        const n = await dbOf(t).select().from(approvals).where(eq(approvals.kind, 'broadcast'));
        expect(n).toHaveLength(3);
      } finally {
        await ws.close();
        s.close();
      }
    });
  });

  describe('firm-wide broadcast: one Idempotency-Key, one request', () => {
    const notice = (title: string) => ({ kind: 'notice', payload: { title, body: '请全体员工知悉。', severity: 'info' } });
    const broadcast = (json: unknown, k: string) => t.request('POST', '/api/channels/firm.broadcast/publications', { token: tok('admin'), json, headers: { 'idempotency-key': k } });
    const stored = async () => (await dbOf(t).select().from(approvals).where(eq(approvals.kind, 'broadcast'))).length;

    it('the same payload (keys in another order) returns the same approval; another payload or kind is refused with 409; nothing new waits', async () => {
      const k = `fb-same-${Math.random().toString(36).slice(2)}`;
      const first = await broadcast(notice('年终结算安排'), k);
      expect(first.status, first.text).toBe(202);
      const before = await stored();
      const again = await broadcast({ payload: { severity: 'info', body: '请全体员工知悉。', title: '年终结算安排' }, kind: 'notice' }, k);
      expect(again.status, again.text).toBe(202);
      expect(again.body).toMatchObject({ pending: true, approvalId: first.body.approvalId, duplicate: true });
      for (const changed of [notice('年终结算安排（修订）'), { kind: 'notice', payload: { ...notice('年终结算安排').payload, severity: 'warning' } }, { kind: 'notice', payload: { ...notice('年终结算安排').payload, url: 'https://intranet.example/notice/1' } }]) {
        const r = await broadcast(changed, k);
        expect(r.status, r.text).toBe(409);
        expect(r.body.error.code).toBe('QIAO_IDEMPOTENCY_MISMATCH');
      }
      expect(await stored()).toBe(before);
      const [row] = await dbOf(t).select().from(approvals).where(eq(approvals.id, first.body.approvalId));
      expect((row.payload as { payload: { title: string } }).payload.title).toBe('年终结算安排');
    });

    it('a key already used for a publication on another channel is refused for a broadcast', async () => {
      const k = `fb-cross-${Math.random().toString(36).slice(2)}`;
      const pub = await t.request('POST', '/api/channels/research.macro/publications', { token: tok('admin'), json: { kind: 'note', payload: note('宏观周报') }, headers: { 'idempotency-key': k } });
      expect(pub.status, pub.text).toBe(201);
      const before = await stored();
      const r = await broadcast(notice('宏观周报'), k);
      expect(r.status, r.text).toBe(409);
      expect(r.body.error.code).toBe('QIAO_IDEMPOTENCY_MISMATCH');
      expect(await stored()).toBe(before);
    });

    it('the race path: an approval committed after the first look (unique key) is compared too', async () => {
      const svc = t.app.qiao.advisory.approvals;
      const k = `fb-race-${Math.random().toString(36).slice(2)}`;
      const first = await broadcast(notice('机房迁移'), k);
      expect(first.status, first.text).toBe(202);
      const before = await stored();
      const spy = vi.spyOn(svc as unknown as { byKey: () => Promise<unknown> }, 'byKey');
      try {
        spy.mockResolvedValueOnce(undefined);
        const other = await broadcast(notice('机房迁移（改期）'), k);
        expect(other.status, other.text).toBe(409);
        expect(other.body.error.code).toBe('QIAO_IDEMPOTENCY_MISMATCH');
        spy.mockResolvedValueOnce(undefined);
        const same = await broadcast(notice('机房迁移'), k);
        expect(same.status, same.text).toBe(202);
        expect(same.body).toMatchObject({ approvalId: first.body.approvalId, duplicate: true });
        expect(spy).toHaveBeenCalledTimes(4);
      } finally {
        spy.mockRestore();
      }
      expect(await stored()).toBe(before);
    });
  });

  it('every suitability decision left one archive record, chained', async () => {
    const db = dbOf(t);
    const recs = await db.select().from(recommendations);
    const refused = recs.filter((r) => r.status === 'refused');
    const refusalRecords = await db.select().from(archiveRecords).where(eq(archiveRecords.kind, 'suitability.refusal'));
    expect(refusalRecords.length).toBe(refused.length);
    const one = await recRow(db, refused[0].id);
    expect(one.status).toBe('refused');
  });
});
