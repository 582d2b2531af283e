/**
 * Securities directory (embedded): search by code prefix and by Chinese/English name, lookup by code,
 * login required, bad input with stable codes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECURITIES } from '../../src/domain/securities.ts';
import { SECURITIES_MAX_LIMIT } from '../../src/routes/securities.routes.ts';
import { startEmbeddedApp, type TestApp } from '../helpers/app.ts';

describe('securities directory (embedded)', () => {
  let t: TestApp;
  let token: string;

  beforeAll(async () => {
    t = await startEmbeddedApp({ QIAO_EMBEDDED_WORKERS: 'false' });
    token = (await t.login('client1')).token;
  });
  afterAll(async () => {
    await t?.close();
  });

  const search = (query: string, tk: string | undefined = token) => t.request('GET', `/api/securities${query}`, { token: tk });
  const symbols = (r: { body: { items: Array<{ symbol: string }> } }) => r.body.items.map((x) => x.symbol);

  it('holds about 80 well-known securities on all three exchanges', () => {
    expect(SECURITIES.size).toBeGreaterThanOrEqual(75);
    const all = SECURITIES.search('', 1000);
    expect(new Set(all.map((s) => s.exchange))).toEqual(new Set(['SH', 'SZ', 'BJ']));
    expect(all.some((s) => s.kind === 'etf')).toBe(true);
  });

  it('requires a login', async () => {
    for (const path of ['/api/securities?q=600', '/api/securities/600519.SH']) {
      const r = await t.request('GET', path);
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('QIAO_AUTH_REQUIRED');
    }
  });

  it('finds by code prefix, exact code first', async () => {
    const r = await search('?q=600519');
    expect(r.status).toBe(200);
    expect(r.body.items[0]).toEqual({ symbol: '600519.SH', name: { zh: '贵州茅台', en: 'Kweichow Moutai' }, exchange: 'SH', kind: 'stock' });
    const prefix = await search('?q=6000&limit=50');
    expect(symbols(prefix).length).toBeGreaterThan(1);
    expect(symbols(prefix).every((s) => s.startsWith('6000'))).toBe(true);
    expect(symbols(await search('?q=600519.sh'))).toEqual(['600519.SH']);
  });

  it('finds by Chinese and English name substring, case-insensitively', async () => {
    expect(symbols(await search(`?q=${encodeURIComponent('茅台')}`))).toEqual(['600519.SH']);
    expect(symbols(await search(`?q=${encodeURIComponent('银行')}&limit=50`))).toEqual(expect.arrayContaining(['600036.SH', '601398.SH', '000001.SZ']));
    expect(symbols(await search('?q=MOUTAI'))).toEqual(['600519.SH']);
    expect(symbols(await search('?q=catl'))).toEqual(['300750.SZ']);
    expect(symbols(await search(`?q=${encodeURIComponent('沪深300')}`))).toEqual(expect.arrayContaining(['510300.SH', '159919.SZ']));
    expect((await search('?q=nosuchcompanyxyz')).body.items).toEqual([]);
  });

  it('honours limit and refuses bad query parameters with QIAO_BAD_REQUEST', async () => {
    expect((await search('?q=6&limit=3')).body.items).toHaveLength(3);
    expect((await search('')).body.items).toHaveLength(20);
    for (const q of ['?limit=0', `?limit=${SECURITIES_MAX_LIMIT + 1}`, '?limit=abc', `?q=${'x'.repeat(65)}`, '?q=1&extra=2']) {
      const r = await search(q);
      expect(r.status, q).toBe(400);
      expect(r.body.error.code).toBe('QIAO_BAD_REQUEST');
    }
  });

  it('looks a code up; unknown and malformed codes get their own stable codes', async () => {
    const r = await t.request('GET', '/api/securities/300750.SZ', { token });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ symbol: '300750.SZ', name: { zh: '宁德时代', en: 'Contemporary Amperex Technology (CATL)' }, exchange: 'SZ', kind: 'stock' });
    expect((await t.request('GET', '/api/securities/835185.BJ', { token })).body.name.zh).toBe('贝特瑞');

    const unknown = await t.request('GET', '/api/securities/600001.SH', { token });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('QIAO_SECURITY_NOT_FOUND');
    for (const bad of ['600519', '600519.HK', 'AAPL', '60051.SH', '%E8%8C%85%E5%8F%B0']) {
      const b = await t.request('GET', `/api/securities/${bad}`, { token });
      expect(b.status, bad).toBe(400);
      expect(b.body.error.code).toBe('QIAO_SYMBOL_INVALID');
    }
  });
});
