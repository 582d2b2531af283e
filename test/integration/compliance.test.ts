/**
 * Compliance over REST and sockets on an embedded app: DLP (block / warn / log, normalised matching,
 * dictionary management), archive search (person, conversation, dates, keyword, paging) and export
 * (manifest hashes, re-hashable records, Chinese readable file), chain verification, legal holds;
 * every search and export audited and archived; every bad input answered with a stable code.
 */
import { createHash, randomUUID } from 'node:crypto';
import { and, desc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordHash } from '../../src/store/archive-repo.ts';
import { archiveRecords, auditLog } from '../../src/store/schema/index.ts';
import { TEST_FEED_KEY, WsTestClient, startEmbeddedApp, type TestApp } from '../helpers/app.ts';
import { brokerClientConversation } from '../helpers/conversations.ts';

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

describe('compliance (embedded)', () => {
  let t: TestApp;
  const tokens: Record<string, string> = {};
  const ids: Record<string, string> = {};
  let convId: string;

  const as = (who: string) => ({ token: tokens[who] });
  const publish = (who: string, channel: string, kind: string, payload: unknown) =>
    t.request('POST', `/api/channels/${channel}/publications`, { ...as(who), json: { kind, payload } });
  const search = (query: Record<string, string | number>, who = 'compliance1') =>
    t.request('GET', `/api/compliance/archive?${new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]))}`, as(who));
  const db = () => t.app.qiao.db.db;

  beforeAll(async () => {
    t = await startEmbeddedApp();
    for (const who of ['client1', 'client2', 'broker1', 'broker2', 'manager1', 'research1', 'compliance1', 'admin']) {
      const r = await t.login(who);
      tokens[who] = r.token;
      ids[who] = r.user.id;
    }
    // The broker–client conversation between broker1 and client1 (the demo seed may have opened it).
    convId = await brokerClientConversation(db(), ids.broker1, ids.client1);
  });
  afterAll(async () => t?.close());

  describe('DLP', () => {
    it('blocks a prohibited term: not stored, not delivered, the sender is told which term, compliance sees the attempt', async () => {
      const inbox = `inbox.${ids.client1}`;
      const before = await t.request('GET', `/api/channels/${inbox}/history`, as('client1'));
      const r = await publish('broker1', inbox, 'notice', { title: '新品推荐', body: '本产品保本，年化 8%' });
      expect(r.status).toBe(422);
      expect(r.body.error.code).toBe('QIAO_DLP_BLOCKED');
      expect(r.body.error.message).toContain('保本');
      expect(r.body.error.details).toEqual({ terms: ['保本'] });
      const after = await t.request('GET', `/api/channels/${inbox}/history`, as('client1'));
      expect(after.body.publications).toEqual(before.body.publications);
      const [rec] = await db().select().from(archiveRecords).where(eq(archiveRecords.kind, 'dlp.blocked')).orderBy(desc(archiveRecords.seq)).limit(1);
      expect(rec).toMatchObject({ actorId: ids.broker1, channel: inbox, retentionClass: 'client-communications' });
      expect(rec.subjects).toEqual([ids.broker1, ids.client1].sort());
      expect(rec.body).toMatchObject({ messageKind: 'notice', payload: { title: '新品推荐' }, dlp: { block: ['保本'] } });
    });

    it('matches spaced, full-width and mixed-case variants, in chat too', async () => {
      const cases: Array<[string, string]> = [
        ['保 本 保 息', '保本'],
        ['稳　赚不赔', '稳赚'],
        ['ＧＵＡＲＡＮＴＥＥＤ　ＲＥＴＵＲＮ of 8%', 'guaranteed return'],
        ['承诺保证 收益', '保证收益'],
      ];
      // The seeded conversation already has messages: nothing may be added to them.
      const before = await t.request('GET', `/api/channels/conv.${convId}/history`, as('client1'));
      for (const [text, term] of cases) {
        const r = await publish('broker1', `conv.${convId}`, 'chat', { text });
        expect(r.status, text).toBe(422);
        expect(r.body.error.code).toBe('QIAO_DLP_BLOCKED');
        expect(r.body.error.details.terms).toContain(term);
      }
      const history = await t.request('GET', `/api/channels/conv.${convId}/history`, as('client1'));
      expect(history.body.publications).toEqual(before.body.publications);
    });

    it('warns: delivered, the sender is told, the archive notes the term', async () => {
      const r = await publish('broker1', `conv.${convId}`, 'chat', { text: '这只债基几乎零风险，可以关注' });
      expect(r.status).toBe(201);
      expect(r.body.dlp).toEqual({ warn: ['零风险'] });
      const [rec] = await db().select().from(archiveRecords).where(and(eq(archiveRecords.kind, 'message'), eq(archiveRecords.channel, `conv.${convId}`))).orderBy(desc(archiveRecords.seq)).limit(1);
      expect(rec.body).toMatchObject({ id: r.body.id, dlp: { warn: ['零风险'], log: [] } });
      expect(rec.conversationId).toBe(convId);
      const history = await t.request('GET', `/api/channels/conv.${convId}/history`, as('client1'));
      expect(history.body.publications.map((p: { id: string }) => p.id)).toContain(r.body.id);
    });

    it('logs: delivered without telling the sender, the archive notes the term', async () => {
      const r = await publish('broker1', `conv.${convId}`, 'chat', { text: '去年这只票翻倍了' });
      expect(r.status).toBe(201);
      expect(r.body.dlp).toBeUndefined();
      const [rec] = await db().select().from(archiveRecords).where(eq(archiveRecords.kind, 'message')).orderBy(desc(archiveRecords.seq)).limit(1);
      expect(rec.body).toMatchObject({ id: r.body.id, dlp: { warn: [], log: ['翻倍'] } });
    });

    it('answers a socket publish the same way', async () => {
      const ws = await WsTestClient.connect(t.wsUrl, tokens.broker1);
      try {
        const blocked = await ws.cmd({ op: 'publish', channel: `conv.${convId}`, kind: 'chat', payload: { text: '内幕消息：明天涨停' } });
        expect(blocked).toMatchObject({ ok: false, error: { code: 'QIAO_DLP_BLOCKED', details: { terms: ['内幕消息'] } } });
        const warned = await ws.cmd({ op: 'publish', channel: `conv.${convId}`, kind: 'chat', payload: { text: 'risk-free 的说法不准确' } });
        expect(warned).toMatchObject({ ok: true, result: { dlp: { warn: ['risk-free'] } } });
      } finally {
        await ws.close();
      }
    });

    it('does not screen the market-data feed', async () => {
      const r = await t.request('POST', '/api/ingest/alerts', { headers: { 'x-api-key': TEST_FEED_KEY }, json: { title: '保本理财产品发行公告', event: 'other' } });
      expect(r.status).toBe(201);
    });

    it('lets compliance and admin manage terms, effective at once', async () => {
      const list = await t.request('GET', '/api/compliance/dlp-terms', as('admin'));
      expect(list.status).toBe(200);
      expect(list.body.terms).toEqual(expect.arrayContaining([expect.objectContaining({ term: '保本', action: 'block', lang: 'zh' }), expect.objectContaining({ term: 'guaranteed return', action: 'block', lang: 'en' })]));

      const added = await t.request('POST', '/api/compliance/dlp-terms', { ...as('compliance1'), json: { term: '　稳收益　', action: 'block' } });
      expect(added.status).toBe(201);
      expect(added.body).toMatchObject({ term: '稳收益', action: 'block', lang: 'zh', active: true });
      expect((await publish('broker1', `conv.${convId}`, 'chat', { text: '稳 收 益的产品' })).body.error.code).toBe('QIAO_DLP_BLOCKED');

      const changed = await t.request('POST', '/api/compliance/dlp-terms', { ...as('admin'), json: { term: '稳收益', action: 'warn' } });
      expect(changed.status).toBe(200);
      expect(changed.body).toMatchObject({ id: added.body.id, action: 'warn' });
      expect((await publish('broker1', `conv.${convId}`, 'chat', { text: '稳收益的产品' })).body.dlp).toEqual({ warn: ['稳收益'] });

      const del = await t.request('DELETE', `/api/compliance/dlp-terms/${added.body.id}`, as('compliance1'));
      expect(del.status).toBe(204);
      const plain = await publish('broker1', `conv.${convId}`, 'chat', { text: '稳收益的产品' });
      expect(plain.status).toBe(201);
      expect(plain.body.dlp).toBeUndefined();
      const kinds = (await db().select({ kind: archiveRecords.kind }).from(archiveRecords).where(eq(archiveRecords.actorId, ids.compliance1))).map((r) => r.kind);
      expect(kinds).toEqual(expect.arrayContaining(['dlp.term.set', 'dlp.term.removed']));
    });

    it('refuses bad term input with stable codes', async () => {
      const post = (json: unknown, who = 'compliance1') => t.request('POST', '/api/compliance/dlp-terms', { ...as(who), json });
      for (const body of [{}, { term: '保本' }, { term: '', action: 'block' }, { term: 'x', action: 'ban' }, { term: 'x'.repeat(65), action: 'block' }, { term: 'a\u0001b', action: 'block' }, { term: 'x', action: 'block', extra: 1 }, { term: 5, action: 'block' }]) {
        const r = await post(body);
        expect(r.status, JSON.stringify(body)).toBe(400);
        expect(r.body.error.code).toBe('QIAO_BAD_REQUEST');
      }
      const blank = await post({ term: ' \u200b ', action: 'block' });
      expect(blank.body.error.code).toBe('QIAO_BAD_REQUEST');
      const badJson = await t.request('POST', '/api/compliance/dlp-terms', { ...as('compliance1'), raw: '{"term":' });
      expect(badJson.body.error.code).toBe('QIAO_BAD_JSON');
      expect((await t.request('DELETE', `/api/compliance/dlp-terms/${randomUUID()}`, as('compliance1'))).body.error.code).toBe('QIAO_NOT_FOUND');
      expect((await t.request('DELETE', '/api/compliance/dlp-terms/not-a-uuid', as('compliance1'))).body.error.code).toBe('QIAO_BAD_REQUEST');
      expect((await t.request('GET', '/api/compliance/dlp-terms')).body.error.code).toBe('QIAO_AUTH_REQUIRED');
    });
  });

  describe('search and export', () => {
    let noticeId: string;

    beforeAll(async () => {
      const r = await publish('broker1', `inbox.${ids.client2}`, 'notice', { title: '季度回访提醒', body: '请关注 50%_折扣 条款与沪深300走势' });
      expect(r.status).toBe(201);
      noticeId = r.body.id;
    });

    it('finds records by person (login or id), keyword, conversation and dates, newest first, with names', async () => {
      const byLogin = await search({ person: 'client2', q: '季度回访' });
      expect(byLogin.status).toBe(200);
      expect(byLogin.body.records).toHaveLength(1);
      const rec = byLogin.body.records[0];
      expect(rec).toMatchObject({ kind: 'message', channel: `inbox.${ids.client2}`, body: { id: noticeId }, retentionClass: 'client-communications' });
      expect(rec.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(byLogin.body.people[ids.broker1]).toEqual({ id: ids.broker1, login: 'broker1', displayName: '王经纪', role: 'broker' });

      const byId = await search({ person: ids.client2, q: '季度回访' });
      expect(byId.body.records.map((x: { seq: number }) => x.seq)).toEqual([rec.seq]);

      // The client of a conversation finds the broker's messages in it (their subjects name only the sender).
      const conv = await search({ person: 'client1', conversationId: convId });
      expect(conv.body.records.length).toBeGreaterThanOrEqual(3);
      for (const x of conv.body.records) expect(x.conversationId).toBe(convId);
      const seqs = conv.body.records.map((x: { seq: number }) => x.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => b - a));

      const today = new Date().toISOString().slice(0, 10);
      expect((await search({ q: '季度回访', from: today })).body.records).toHaveLength(1);
      expect((await search({ q: '季度回访', to: '2020-01-01' })).body.records).toHaveLength(0);
      expect((await search({ q: '季度回访', from: '2020-01-01T00:00:00+08:00', to: '2099-12-31' })).body.records).toHaveLength(1);
      expect((await search({ person: 'client1', q: '季度回访' })).body.records).toHaveLength(0);
    });

    it('treats % and _ in the keyword literally', async () => {
      expect((await search({ q: '50%_折扣' })).body.records).toHaveLength(1);
      expect((await search({ q: '5_%' })).body.records).toHaveLength(0);
      expect((await search({ q: '%' })).body.records.every((x: { text: string }) => x.text.includes('%'))).toBe(true);
    });

    it('pages with a cursor', async () => {
      const p1 = await search({ person: 'broker1', limit: 2 });
      expect(p1.body.records).toHaveLength(2);
      expect(p1.body.nextCursor).toBe(p1.body.records[1].seq);
      const p2 = await search({ person: 'broker1', limit: 2, cursor: p1.body.nextCursor });
      expect(p2.body.records[0].seq).toBeLessThan(p1.body.records[1].seq);
    });

    it('audits and archives every search, with the filter', async () => {
      await search({ person: 'client2', q: '审计检查' });
      const [a] = await db().select().from(auditLog).where(eq(auditLog.action, 'compliance.search')).orderBy(desc(auditLog.id)).limit(1);
      expect(a).toMatchObject({ actorId: ids.compliance1, outcome: 'ok' });
      expect(a.detail).toMatchObject({ filter: { q: '审计检查', person: { login: 'client2' } }, count: 0 });
      const [r] = await db().select().from(archiveRecords).where(eq(archiveRecords.kind, 'compliance.search')).orderBy(desc(archiveRecords.seq)).limit(1);
      expect(r).toMatchObject({ actorId: ids.compliance1, retentionClass: 'compliance-activity', text: '' });
      expect(r.body).toMatchObject({ filter: { q: '审计检查' } });
    });

    it('exports JSON Lines, a readable Chinese file and a manifest whose hashes match', async () => {
      const r = await t.request('POST', '/api/compliance/exports', { ...as('compliance1'), json: { person: 'client2', q: '季度回访' } });
      expect(r.status).toBe(201);
      const files = Object.fromEntries(r.body.files.map((f: { name: string }) => [f.name, f])) as Record<string, { content: string; sha256: string; bytes: number }>;
      expect(Object.keys(files).sort()).toEqual(['manifest.json', 'records.jsonl', 'records.txt']);
      const manifest = JSON.parse(files['manifest.json'].content);
      expect(manifest).toEqual(r.body.manifest);
      expect(manifest).toMatchObject({ format: 'qiao-archive-export/1', recordCount: 1, exportedBy: { login: 'compliance1' }, filter: { q: '季度回访' }, timeZone: 'Asia/Shanghai' });
      for (const f of manifest.files) {
        expect(sha256(files[f.name].content), f.name).toBe(f.sha256);
        expect(Buffer.byteLength(files[f.name].content), f.name).toBe(f.bytes);
      }
      for (const f of Object.values(files)) expect(sha256(f.content)).toBe(f.sha256);
      const lines = files['records.jsonl'].content.trimEnd().split('\n').map((l) => JSON.parse(l));
      expect(lines).toHaveLength(1);
      const line = lines[0];
      expect(line.body.id).toBe(noticeId);
      expect(manifest).toMatchObject({ firstSeq: line.seq, lastSeq: line.seq, firstHash: line.hash, lastHash: line.hash });
      // Each exported record re-hashes to its hash.
      expect(recordHash(line.prevHash, { ...line, recordedAt: new Date(line.recordedAt), retainUntil: new Date(line.retainUntil) })).toBe(line.hash);
      const txt = files['records.txt'].content;
      expect(txt).toContain('合规存档导出');
      expect(txt).toContain('赵合规（compliance1，合规）');
      expect(txt).toContain('季度回访提醒');
      expect(txt).toContain('客户沟通记录');
      expect(txt).toContain('北京时间');
      const shanghai = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Shanghai', dateStyle: 'short', timeStyle: 'medium' }).format(new Date(line.recordedAt));
      expect(txt).toContain(`[#${line.seq}] ${shanghai}`);

      const [a] = await db().select().from(auditLog).where(eq(auditLog.action, 'compliance.export')).orderBy(desc(auditLog.id)).limit(1);
      expect(a).toMatchObject({ actorId: ids.compliance1, target: r.body.exportId });
      const [rec] = await db().select().from(archiveRecords).where(eq(archiveRecords.kind, 'compliance.export')).orderBy(desc(archiveRecords.seq)).limit(1);
      expect(rec.body).toMatchObject({ exportId: r.body.exportId, count: 1, files: { 'manifest.json': files['manifest.json'].sha256, 'records.jsonl': files['records.jsonl'].sha256 } });
    });

    it('refuses bad search and export input with stable codes', async () => {
      const bad: Array<[Record<string, string | number>, string]> = [
        [{ conversationId: 'nope' }, 'QIAO_BAD_REQUEST'],
        [{ from: '2026-02-30' }, 'QIAO_BAD_REQUEST'],
        [{ from: 'yesterday' }, 'QIAO_BAD_REQUEST'],
        [{ to: '2026-01-01T25:00:00Z' }, 'QIAO_BAD_REQUEST'],
        [{ from: '2026-03-02', to: '2026-03-01' }, 'QIAO_BAD_REQUEST'],
        [{ limit: 0 }, 'QIAO_BAD_REQUEST'],
        [{ limit: 201 }, 'QIAO_BAD_REQUEST'],
        [{ cursor: -1 }, 'QIAO_BAD_REQUEST'],
        [{ q: 'x'.repeat(201) }, 'QIAO_BAD_REQUEST'],
        [{ unknown: 1 }, 'QIAO_BAD_REQUEST'],
        [{ person: 'nobody-here' }, 'QIAO_NOT_FOUND'],
      ];
      for (const [q, code] of bad) {
        const r = await search(q);
        expect(r.body?.error?.code, JSON.stringify(q)).toBe(code);
      }
      const exp = (json: unknown) => t.request('POST', '/api/compliance/exports', { ...as('compliance1'), json });
      expect((await exp({ person: 'nobody-here' })).body.error.code).toBe('QIAO_NOT_FOUND');
      expect((await exp({ from: '2026-13-01' })).body.error.code).toBe('QIAO_BAD_REQUEST');
      expect((await exp({ extra: true })).body.error.code).toBe('QIAO_BAD_REQUEST');
      expect((await exp([])).body.error.code).toBe('QIAO_BAD_REQUEST');
      expect((await t.request('GET', '/api/compliance/archive')).body.error.code).toBe('QIAO_AUTH_REQUIRED');
      expect((await t.request('GET', '/api/compliance/archive', { token: 'garbage' })).body.error.code).toBe('QIAO_TOKEN_MALFORMED');
    });

    it('refuses an export larger than the limit rather than truncating it', async () => {
      const small = await startEmbeddedApp({ QIAO_EXPORT_MAX_RECORDS: '2' });
      try {
        const { token } = await small.login('broker1');
        const { user } = await small.login('client1');
        for (let i = 0; i < 3; i++) {
          expect((await small.request('POST', `/api/channels/inbox.${user.id}/publications`, { token, json: { kind: 'notice', payload: { title: `回访 ${i}` } } })).status).toBe(201);
        }
        const c = await small.login('compliance1');
        const r = await small.request('POST', '/api/compliance/exports', { token: c.token, json: { q: '回访' } });
        expect(r.status).toBe(422);
        expect(r.body.error).toMatchObject({ code: 'QIAO_EXPORT_TOO_LARGE', details: { maxRecords: 2 } });
      } finally {
        await small.close();
      }
    });
  });

  describe('verify and legal holds', () => {
    it('verifies the chain for compliance and admin', async () => {
      for (const who of ['compliance1', 'admin']) {
        const r = await t.request('GET', '/api/compliance/archive/verify', as(who));
        expect(r.status).toBe(200);
        expect(r.body).toMatchObject({ ok: true, problemCount: 0, firstBrokenSeq: null });
        expect(r.body.checked).toBeGreaterThan(5);
      }
    });

    it('places, lists and releases holds, each archived', async () => {
      const placed = await t.request('POST', '/api/compliance/legal-holds', { ...as('compliance1'), json: { subjectId: ids.client1, reason: '证监会问询函 2026-17' } });
      expect(placed.status).toBe(201);
      expect(placed.body).toMatchObject({ subjectId: ids.client1, conversationId: null, active: true, placedBy: ids.compliance1 });
      const onConv = await t.request('POST', '/api/compliance/legal-holds', { ...as('compliance1'), json: { conversationId: convId.toUpperCase(), reason: '诉讼保全' } });
      expect(onConv.status).toBe(201);
      expect(onConv.body.conversationId).toBe(convId);
      const list = await t.request('GET', '/api/compliance/legal-holds?active=true', as('compliance1'));
      expect(list.body.holds.map((h: { id: string }) => h.id)).toEqual(expect.arrayContaining([placed.body.id, onConv.body.id]));
      const released = await t.request('POST', `/api/compliance/legal-holds/${placed.body.id}/release`, { ...as('compliance1'), json: { note: '问询结束' } });
      expect(released.status).toBe(200);
      expect(released.body.active).toBe(false);
      const again = await t.request('POST', `/api/compliance/legal-holds/${placed.body.id}/release`, { ...as('compliance1'), json: {} });
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('QIAO_CONFLICT');
      const recs = await db().select({ kind: archiveRecords.kind }).from(archiveRecords).where(eq(archiveRecords.actorId, ids.compliance1));
      expect(recs.map((r) => r.kind)).toEqual(expect.arrayContaining(['legal-hold.placed', 'legal-hold.released']));
    });

    it('refuses bad hold input with stable codes', async () => {
      const post = (json: unknown) => t.request('POST', '/api/compliance/legal-holds', { ...as('compliance1'), json });
      const cases: Array<[unknown, string]> = [
        [{ reason: 'x' }, 'QIAO_BAD_REQUEST'],
        [{ subjectId: ids.client1, conversationId: convId, reason: 'x' }, 'QIAO_BAD_REQUEST'],
        [{ subjectId: ids.client1 }, 'QIAO_BAD_REQUEST'],
        [{ subjectId: ids.client1, reason: '' }, 'QIAO_BAD_REQUEST'],
        [{ subjectId: ids.client1, reason: '   ' }, 'QIAO_BAD_REQUEST'],
        [{ subjectId: 'client1', reason: 'x' }, 'QIAO_BAD_REQUEST'],
        [{ subjectId: randomUUID(), reason: 'x' }, 'QIAO_NOT_FOUND'],
        [{ conversationId: randomUUID(), reason: 'x' }, 'QIAO_NOT_FOUND'],
      ];
      for (const [body, code] of cases) expect((await post(body)).body?.error?.code, JSON.stringify(body)).toBe(code);
      expect((await t.request('POST', `/api/compliance/legal-holds/${randomUUID()}/release`, { ...as('compliance1'), json: {} })).body.error.code).toBe('QIAO_NOT_FOUND');
      expect((await t.request('POST', '/api/compliance/legal-holds/x/release', { ...as('compliance1'), json: {} })).body.error.code).toBe('QIAO_BAD_REQUEST');
      expect((await t.request('GET', '/api/compliance/legal-holds?active=maybe', as('compliance1'))).body.error.code).toBe('QIAO_BAD_REQUEST');
    });
  });
});
