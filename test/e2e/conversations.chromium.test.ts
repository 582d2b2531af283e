/**
 * The 会话 view in real headless Chromium against an embedded app: broker1's workstation lists its
 * clients with tier, risk level and the seeded unanswered question; client1 and broker1 chat live
 * (typing indicator, 已读, text with HTML rendered as text); manager1 reads the team conversation
 * read-only. Skips loudly without /usr/bin/chromium unless QIAO_REQUIRE_SERVICES=1 (then it fails).
 */
import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gateChromium, launchChromium } from '../helpers/browser.ts';
import { startEmbeddedApp, type TestApp } from '../helpers/app.ts';

const hasChromium = gateChromium('the conversations browser test');

const INJECTION = '<img src=x onerror=alert(1)> 您好 & 谢谢';

describe.skipIf(!hasChromium)('conversations view in Chromium', () => {
  let t: TestApp;
  let browser: Browser;
  const problems: string[] = [];

  beforeAll(async () => {
    t = await startEmbeddedApp();
    browser = await launchChromium();
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  async function open(who: string): Promise<Page> {
    const page = await (await browser.newContext()).newPage();
    page.on('pageerror', (e) => problems.push(`${who}: ${e.message}`));
    page.on('dialog', (d) => {
      problems.push(`${who}: dialog ${d.message()}`);
      void d.dismiss();
    });
    await page.goto(`${t.baseUrl}/`);
    await page.fill('[data-testid="login-input"]', who);
    await page.fill('[data-testid="password-input"]', 'qiao-demo-2026');
    await page.click('[data-testid="login-submit"]');
    await page.waitForSelector('[data-testid="conversations"]');
    return page;
  }

  it('workstation, live chat with typing and 已读, read-only supervision', async () => {
    const broker = await open('broker1');
    const row = broker.locator('[data-testid="conv-ws-row"]').first();
    await row.waitFor();
    const rowText = await row.innerText();
    expect(rowText).toContain('刘女士');
    expect(rowText).toContain('C3');
    expect(rowText).toContain('风险测评');
    expect(await row.getAttribute('data-unread')).toBe('1');
    await expect(broker.locator('[data-testid="conv-wait"]').first().innerText()).resolves.toContain('等待回复');

    const client = await open('client1');
    await client.click('[data-testid="conv-item"]');
    await client.waitForSelector('[data-testid="conv-msg"]');
    expect(await client.locator('[data-testid="conv-msg"]').count()).toBe(3);
    await row.click();
    await broker.waitForSelector('[data-testid="conv-msg"]');
    await broker.waitForFunction(() => document.querySelector('[data-testid="conv-ws-row"]')?.getAttribute('data-unread') === '0');
    // Presence: the client is online.
    await broker.waitForSelector('[data-testid="conv-chathead"] [data-state="online"]');
    await broker.waitForTimeout(300);

    await client.type('[data-testid="conv-input"]', INJECTION, { delay: 10 });
    await broker.waitForSelector('[data-testid="conv-typing"]', { timeout: 3000 });
    await client.click('[data-testid="conv-send"]');
    await broker.waitForFunction((text) => [...document.querySelectorAll('[data-testid="conv-msg-text"]')].some((e) => e.textContent === text), INJECTION);
    expect(await broker.locator('[data-testid="conv-msgs"] img').count()).toBe(0);
    // The broker has it open and visible: the client sees 已读 on it.
    await client.waitForFunction(() => [...document.querySelectorAll('[data-testid="conv-msg"]')].at(-1)?.querySelector('[data-testid="conv-read-mark"]')?.textContent === '已读');

    await broker.fill('[data-testid="conv-input"]', '收到，马上为您查询');
    await broker.press('[data-testid="conv-input"]', 'Enter');
    await client.waitForFunction(() => [...document.querySelectorAll('[data-testid="conv-msg-text"]')].some((e) => e.textContent === '收到，马上为您查询'));

    const manager = await open('manager1');
    await manager.click('[data-testid="conv-item"] >> text=刘女士');
    await manager.waitForSelector('[data-testid="conv-readonly"]');
    expect(await manager.locator('[data-testid="conv-input"]').count()).toBe(0);
    await manager.waitForFunction(() => [...document.querySelectorAll('[data-testid="conv-msg-text"]')].some((e) => e.textContent === '收到，马上为您查询'));
    await broker.screenshot({ path: '/tmp/qiao-conversations.png', fullPage: true });
    expect(problems).toEqual([]);
  }, 60_000);
});
