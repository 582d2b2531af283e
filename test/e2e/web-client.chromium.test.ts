/**
 * The web client in real headless Chromium (playwright-core, system /usr/bin/chromium) against a real
 * embedded-mode app on port 0: log in as client1, subscribe to research.macro with the switch, publish
 * a note over REST as research1 whose title carries an HTML injection and Chinese text, and check it
 * arrives live and is rendered as text (no element created, no script run); then the English switch.
 *
 * Skips with a loud warning when Chromium is absent, unless QIAO_REQUIRE_SERVICES=1 (then it fails).
 * Screenshots: /tmp/qiao-web.png (zh-CN) and /tmp/qiao-web-en.png (English).
 */
import type { FastifyInstance } from 'fastify';
import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gateChromium, launchChromium } from '../helpers/browser.ts';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { WEB_CSP } from '../../src/routes/web.ts';
import { expectAccessible, SHANGHAI } from '../helpers/web-page.ts';

const hasChromium = gateChromium('the web client browser tests');

const PASSWORD = 'qiao-demo-2026';
const XSS = '<img src=x onerror=alert(1)>';
const TITLE = `宏观周报：${XSS} 贵州茅台 600519.SH 业绩点评`;
const SUMMARY = '<b>社融</b>超预期，维持“增持”评级 & 关注消费复苏';

async function login(base: string, who: string): Promise<string> {
  const r = await fetch(`${base}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ login: who, password: PASSWORD }),
  });
  expect(r.status).toBe(200);
  return ((await r.json()) as { token: string }).token;
}

describe.skipIf(!hasChromium)('web client in Chromium', () => {
  let app: FastifyInstance;
  let browser: Browser;
  let base: string;
  const dialogs: string[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    const config = loadConfig({ NODE_ENV: 'test', QIAO_LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: '0', QIAO_TOTP_REQUIRED_ROLES: '' });
    app = await buildApp(config, { inMemoryDb: true, logger: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    if (!addr || typeof addr === 'string') throw new Error('no port');
    base = `http://127.0.0.1:${addr.port}`;
    browser = await launchChromium();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  }, 30_000);

  function watch(page: Page): void {
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));
  }

  it('serves the page with a CSP, shows errors from codes, and renders a live note as escaped text', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'zh-CN', timezoneId: 'Europe/London' });
    const page = await ctx.newPage();
    watch(page);

    const res = await page.goto(base + '/channels');
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toBe(WEB_CSP);
    // helmet's headers are there too, without replacing the page's own CSP.
    expect(res?.headers()['strict-transport-security']).toMatch(/max-age=/);
    expect(res?.headers()['x-content-type-options']).toBe('nosniff');
    await page.waitForSelector('[data-testid="login-form"]');
    expect(await page.getAttribute('html', 'lang')).toBe('zh-CN');
    await expectAccessible(page, 'login page');

    // Wrong password: the message comes from the error code, in Chinese.
    await page.fill('[data-testid="login-input"]', 'client1');
    await page.fill('[data-testid="password-input"]', 'wrong-password');
    await page.click('[data-testid="login-submit"]');
    const loginError = page.locator('[data-testid="login-error"]');
    await loginError.waitFor({ state: 'visible' });
    expect(await loginError.textContent()).toBe('用户名或密码错误');

    await page.fill('[data-testid="password-input"]', PASSWORD);
    await page.click('[data-testid="login-submit"]');
    await page.waitForSelector('[data-testid="channel-list"]');
    await page.waitForSelector('[data-testid="conn-state"][data-state="connected"]');
    expect(await page.textContent('[data-testid="conn-state"]')).toContain('已连接');
    expect(await page.textContent('[data-testid="channels-title"]')).toBe('频道');
    expect(await page.textContent('[data-testid="user-name"]')).toBe('刘女士');
    // A general-tier client sees the HNW-only channels locked.
    expect(await page.locator('[data-channel="research.quant"] [data-testid="channel-locked"]').count()).toBe(1);
    expect(await page.isDisabled('[data-testid="sub-toggle-research.quant"]')).toBe(true);

    // Subscribe with the switch: stored over REST, then live over socket.io.
    await page.check('[data-testid="sub-toggle-research.macro"]');
    await page.waitForSelector('[data-channel="research.macro"][data-live="true"]');
    const research = await login(base, 'research1');
    const client1 = await login(base, 'client1');
    const subs = (await (await fetch(`${base}/api/subscriptions`, { headers: { authorization: `Bearer ${client1}` } })).json()) as {
      subscriptions: { channel: string }[];
    };
    expect(subs.subscriptions.map((s) => s.channel)).toContain('research.macro');

    const pub = await fetch(`${base}/api/channels/research.macro/publications`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${research}` },
      body: JSON.stringify({
        kind: 'note',
        payload: {
          title: TITLE,
          summary: SUMMARY,
          body: '正文<script>alert(2)</script>\n第二段：白酒板块估值修复。',
          tickers: ['600519.SH', '000858.SZ'],
          riskLevel: 'R3',
          category: 'macro',
        },
      }),
    });
    expect(pub.status).toBe(201);
    const published = (await pub.json()) as { id: string; offset: number };

    const item = page.locator(`[data-testid="feed-item"][data-id="${published.id}"]`);
    await item.waitFor({ timeout: 10_000 });
    expect(await item.getAttribute('data-channel')).toBe('research.macro');
    expect(await item.locator('[data-testid="feed-title"]').textContent()).toBe(TITLE);
    expect(await item.locator('[data-testid="feed-summary"]').textContent()).toBe(SUMMARY);
    expect(await item.locator('[data-testid="feed-channel"]').textContent()).toBe('宏观研究');
    expect(await item.locator('[data-testid="feed-kind"]').textContent()).toBe('研报');
    expect(await item.locator('[data-testid="feed-risk"]').textContent()).toBe('R3 中风险');
    expect(await item.locator('.ticker').allTextContents()).toEqual(['600519.SH', '000858.SZ']);
    // Time in Asia/Shanghai whatever the browser's own zone (Europe/London here).
    const time = await item.locator('[data-testid="feed-time"]').getAttribute('datetime');
    expect(await item.locator('[data-testid="feed-time"]').textContent()).toBe(SHANGHAI.format(new Date(time!)));

    // Escaped: no element came out of the payload, nothing ran.
    expect(await page.locator('img').count()).toBe(0);
    expect(await item.locator('script, b').count()).toBe(0);
    expect(await item.locator('[data-testid="feed-title"]').innerHTML()).toContain('&lt;img src=x onerror=alert(1)&gt;');
    await page.waitForTimeout(200);
    expect(dialogs).toEqual([]);

    await item.locator('details summary').click();
    expect(await item.locator('[data-testid="feed-body"]').textContent()).toContain('<script>alert(2)</script>');
    await expectAccessible(page, 'channels and feed');
    await page.waitForTimeout(2500); // let the arrival highlight fade for the screenshot
    await page.screenshot({ path: '/tmp/qiao-web.png', fullPage: false });

    // English switch: labels change, data stays; the choice survives a reload (session kept in sessionStorage).
    await page.click('[data-testid="lang-toggle"]');
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    expect(await page.textContent('[data-testid="channels-title"]')).toBe('Channels');
    expect(await page.textContent('[data-testid="logout"]')).toBe('Log out');
    expect(await page.textContent('[data-testid="lang-toggle"]')).toBe('中文');
    expect(await page.textContent('[data-testid="conn-state"]')).toContain('Connected');
    expect(await page.locator('[data-testid="feed-risk"]').first().textContent()).toBe('R3 Medium');
    expect(await page.locator('[data-testid="feed-channel"]').first().textContent()).toBe('Macro');
    expect(await page.locator('[data-testid="feed-title"]').first().textContent()).toBe(TITLE);
    expect(await page.evaluate(() => localStorage.getItem('qiao.lang'))).toBe('en');

    await page.reload();
    await page.waitForSelector('[data-testid="conn-state"][data-state="connected"]');
    expect(await page.textContent('[data-testid="channels-title"]')).toBe('Channels');
    // History of the subscribed channel is shown after the reload.
    await page.locator(`[data-testid="feed-item"][data-id="${published.id}"]`).waitFor();
    expect(await page.locator('img').count()).toBe(0);
    await page.screenshot({ path: '/tmp/qiao-web-en.png', fullPage: false });

    // Unsubscribe: DELETE over REST, and back to Chinese.
    await page.uncheck('[data-testid="sub-toggle-research.macro"]');
    await page.waitForSelector('[data-channel="research.macro"][data-subscribed="false"]');
    await page.click('[data-testid="lang-toggle"]');
    expect(await page.textContent('[data-testid="channels-title"]')).toBe('频道');
    const after = (await (await fetch(`${base}/api/subscriptions`, { headers: { authorization: `Bearer ${client1}` } })).json()) as {
      subscriptions: { channel: string }[];
    };
    expect(after.subscriptions.map((s) => s.channel)).not.toContain('research.macro');

    // Logout clears the session.
    await page.click('[data-testid="logout"]');
    await page.waitForSelector('[data-testid="login-form"]');
    expect(await page.evaluate(() => sessionStorage.getItem('qiao.token'))).toBeNull();

    expect(dialogs).toEqual([]);
    expect(pageErrors).toEqual([]);
    await ctx.close();
  }, 90_000);
});
