/**
 * The compliance view in real headless Chromium (playwright-core, system /usr/bin/chromium) against an
 * embedded app: broker1 sends a notice (with an HTML injection in it) to client1; compliance1 logs in,
 * opens 合规, searches a keyword of that message and sees it rendered as text, exports, downloads
 * records.jsonl and checks its sha256 against the manifest, and verifies the chain.
 *
 * Skips with a loud warning when Chromium is absent, unless QIAO_REQUIRE_SERVICES=1 (then it fails).
 * Screenshot: /tmp/qiao-compliance.png
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gateChromium, launchChromium } from '../helpers/browser.ts';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';

const hasChromium = gateChromium('the compliance view browser test');

const PASSWORD = 'qiao-demo-2026';
const KEYWORD = '季度回访确认';
const TEXT = `${KEYWORD}：请于周五前完成风险测评 <img src=x onerror=alert(1)>`;

async function api(base: string, method: string, path: string, token?: string, body?: unknown): Promise<any> {
  const r = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await r.json();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(data)}`);
  return data;
}

describe.skipIf(!hasChromium)('compliance view in Chromium', () => {
  let app: FastifyInstance;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    const config = loadConfig({ NODE_ENV: 'test', QIAO_LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: '0' });
    app = await buildApp(config, { inMemoryDb: true, logger: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    if (!addr || typeof addr === 'string') throw new Error('no port');
    base = `http://127.0.0.1:${addr.port}`;
    const broker = await api(base, 'POST', '/api/auth/login', undefined, { login: 'broker1', password: PASSWORD });
    const client = await api(base, 'POST', '/api/auth/login', undefined, { login: 'client1', password: PASSWORD });
    await api(base, 'POST', `/api/channels/inbox.${client.user.id}/publications`, broker.token, { kind: 'notice', payload: { title: '回访提醒', body: TEXT } });
    browser = await launchChromium();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  }, 30_000);

  it('searches, exports with matching hashes, and verifies', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 }, locale: 'zh-CN', acceptDownloads: true });
    const page = await ctx.newPage();
    const dialogs: string[] = [];
    const errors: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on('pageerror', (e) => errors.push(e.message));

    await page.goto(base + '/');
    await page.fill('[data-testid="login-input"]', 'compliance1');
    await page.fill('[data-testid="password-input"]', PASSWORD);
    await page.click('[data-testid="login-submit"]');
    const toggle = page.locator('[data-testid="compliance-toggle"]');
    await toggle.waitFor();
    expect(await toggle.textContent()).toBe('合规');
    await toggle.click();
    await page.waitForSelector('[data-testid="compliance-view"]');
    expect(await page.textContent('[data-testid="cmp-title"]')).toBe('合规存档');

    await page.fill('[data-testid="cmp-q"]', KEYWORD);
    await page.click('[data-testid="cmp-search"]');
    const row = page.locator('[data-testid="cmp-row"]');
    await row.first().waitFor();
    expect(await row.count()).toBe(1);
    expect(await row.first().getAttribute('data-kind')).toBe('message');
    expect(await row.first().locator('[data-testid="cmp-text"]').textContent()).toContain(TEXT);
    // Rendered as text: the injected tag is not an element, and no script ran.
    expect(await page.locator('[data-testid="compliance-view"] img').count()).toBe(0);
    expect(await row.first().textContent()).toContain('王经纪（broker1）');

    await page.click('[data-testid="cmp-export-btn"]');
    await page.waitForSelector('[data-testid="cmp-export"]');
    const manifest = JSON.parse((await page.textContent('[data-testid="cmp-manifest"]')) ?? '{}');
    expect(manifest.recordCount).toBe(1);
    expect(manifest.filter).toEqual({ q: KEYWORD });
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="cmp-download-records.jsonl"]')]);
    const file = readFileSync((await download.path())!, 'utf8');
    const listed = manifest.files.find((f: { name: string }) => f.name === 'records.jsonl');
    expect(createHash('sha256').update(file, 'utf8').digest('hex')).toBe(listed.sha256);
    expect(JSON.parse(file.trim()).text).toContain(KEYWORD);

    await page.click('[data-testid="cmp-verify"]');
    const verified = page.locator('[data-testid="cmp-verify-result"]');
    await verified.waitFor();
    expect(await verified.getAttribute('data-ok')).toBe('true');
    expect(await verified.textContent()).toContain('存档完整');

    await page.screenshot({ path: '/tmp/qiao-compliance.png', fullPage: true });

    // Closing returns to the messages view.
    await toggle.click();
    await page.waitForSelector('[data-testid="compliance-view"]', { state: 'detached' });
    expect(dialogs).toEqual([]);
    expect(errors).toEqual([]);
    await ctx.close();
  }, 60_000);

  it('does not offer the view to other roles, and the server refuses them anyway', async () => {
    const ctx = await browser.newContext({ locale: 'zh-CN' });
    const page = await ctx.newPage();
    await page.goto(base + '/');
    await page.fill('[data-testid="login-input"]', 'broker1');
    await page.fill('[data-testid="password-input"]', PASSWORD);
    await page.click('[data-testid="login-submit"]');
    await page.waitForSelector('[data-testid="user-name"]');
    expect(await page.locator('[data-testid="compliance-toggle"]').count()).toBe(0);
    const status = await page.evaluate(async () => {
      const token = sessionStorage.getItem('qiao.token');
      const r = await fetch('/api/compliance/archive?q=x', { headers: { authorization: `Bearer ${token}` } });
      return { status: r.status, code: ((await r.json()) as { error: { code: string } }).error.code };
    });
    expect(status).toEqual({ status: 403, code: 'QIAO_FORBIDDEN' });
    await ctx.close();
  }, 60_000);
});
