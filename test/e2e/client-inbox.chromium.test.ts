/**
 * The client's inbox and recommendations in real Chromium against a real embedded app: the inbox is
 * the home after login with the unread count in the nav; a notice arrives live; opening it marks it
 * read on the server; a read must-acknowledge notice is not escalated to email while an unread one
 * is (embedded workers write .eml files into a temp outbox); a deep link /inbox/<id> opened signed out
 * leads to that item after login; a broker's recommendation shows with its security name, risk,
 * broker and research note link.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { gateChromium } from '../helpers/browser.ts';
import { expectAccessible, webSuite } from '../helpers/web-page.ts';

const hasChromium = gateChromium('the client inbox browser tests');

// Escalation: push step 3 s after fanout, email 1 s after that (defaults are 10 and 20 minutes).
const ENV = { QIAO_ESCALATION_PUSH_AFTER_S: '3', QIAO_ESCALATION_EMAIL_AFTER_S: '1', QIAO_EMAIL_BACKOFF_MS: '100' };

async function until<T>(fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, what: string, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as T;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!hasChromium)('client inbox in Chromium', () => {
  const suite = webSuite(ENV, { outbox: true });
  const ids: Record<string, string> = {};

  /** Message ids of the emails in the outbox (X-Qiao-Message-Id). */
  const mailed = () =>
    readdirSync(suite.outbox)
      .filter((f) => f.endsWith('.eml'))
      .map((f) => /^X-Qiao-Message-Id:\s*(\S+)/im.exec(readFileSync(join(suite.outbox, f), 'utf8'))?.[1])
      .filter(Boolean) as string[];

  const notice = async (login: string, payload: Record<string, unknown>) => {
    const r = await suite.web.rest('admin', 'POST', `/api/channels/inbox.${ids[login]}/publications`, { kind: 'notice', payload });
    expect(r.status).toBe(201);
    return r.body.id as string;
  };

  beforeAll(async () => {
    for (const login of ['client1', 'client2']) ids[login] = (await suite.web.rest(login, 'GET', '/api/me')).body.id;
  });

  it('shows the inbox after login with the unread count; a notice arrives live; opening it reads it on the server', async () => {
    const first = await notice('client1', { title: '系统升级通知：周六 22:00–24:00 暂停服务', body: '升级期间网上交易暂停。\n请提前安排。' });
    const { page, problems, close } = await suite.open('client1');
    expect(new URL(page.url()).pathname).toBe('/inbox');
    await page.waitForSelector('[data-testid="inbox-view"]');
    await page.waitForSelector(`[data-testid="inbox-row"][data-id="${first}"][data-state="unread"]`);
    expect(await page.textContent('[data-testid="inbox-heading"]')).toBe('消息');
    const badge = page.locator('[data-testid="nav-inbox-count"]');
    await until(async () => (await badge.textContent()) === '1', 'badge 1');

    // Live: a second notice appears without reload, and the badge counts it.
    const second = await notice('client1', { title: '<b>请确认</b>：新版客户协议', body: '请阅读并确认。', severity: 'warning' });
    const row = page.locator(`[data-testid="inbox-row"][data-id="${second}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.locator('[data-testid="inbox-title"]').textContent()).toBe('<b>请确认</b>：新版客户协议');
    expect(await row.getAttribute('data-state')).toBe('unread');
    await until(async () => (await badge.textContent()) === '2', 'badge 2');
    await expectAccessible(page, 'inbox list');

    // Open it: the full text shows, and the server has it read; the count drops.
    await row.locator('[data-testid="inbox-open"]').click();
    await page.waitForSelector(`[data-testid="inbox-detail"][data-id="${second}"][data-state="read"]`);
    expect(new URL(page.url()).pathname).toBe(`/inbox/${second}`);
    expect(await page.textContent('[data-testid="inbox-detail-title"]')).toBe('<b>请确认</b>：新版客户协议');
    expect(await page.locator('b').count()).toBe(0);
    const listed = await suite.web.rest('client1', 'GET', '/api/inbox');
    expect(listed.body.items.find((i: { messageId: string }) => i.messageId === second).state).toBe('read');
    expect((await suite.web.rest('client1', 'GET', '/api/inbox/counts')).body.unread).toBe(1);
    await until(async () => (await badge.textContent()) === '1', 'badge back to 1');
    await expectAccessible(page, 'inbox item');

    // Archive: gone from "all", present under "archived".
    await page.click('[data-testid="inbox-archive"]');
    await page.waitForSelector(`[data-testid="inbox-detail"][data-state="archived"]`);
    expect((await suite.web.rest('client1', 'GET', '/api/inbox/counts')).body.archived).toBe(1);
    await page.click('[data-testid="inbox-close"]');
    await page.waitForSelector(`[data-testid="inbox-row"][data-id="${second}"]`, { state: 'detached' });
    await page.click('[data-testid="inbox-filter-archived"]');
    await page.waitForSelector(`[data-testid="inbox-row"][data-id="${second}"][data-state="archived"]`);
    expect(problems).toEqual([]);
    await close();
  }, 60_000);

  it('a deep link opened signed out leads to that item after login', async () => {
    const id = await notice('client1', { title: '您的账户已开通科创板权限' });
    const { page, problems, close } = await suite.open('client1', `/inbox/${id}`);
    await page.waitForSelector(`[data-testid="inbox-detail"][data-id="${id}"][data-state="read"]`);
    expect(new URL(page.url()).pathname).toBe(`/inbox/${id}`);
    expect(await page.textContent('[data-testid="inbox-detail-title"]')).toBe('您的账户已开通科创板权限');
    // Old email links (/?channel=..&message=..) land on the same item.
    await page.goto(`${suite.web.base}/?channel=inbox.${ids.client1}&message=${id}`);
    await page.waitForSelector(`[data-testid="inbox-detail"][data-id="${id}"]`);
    expect(new URL(page.url()).pathname).toBe(`/inbox/${id}`);
    expect(problems).toEqual([]);
    await close();
  }, 60_000);

  it('escalation: a notice read in the browser sends no email; the unread one is emailed', async () => {
    // Email and push are off for personal notices: only escalation sends them.
    expect((await suite.web.rest('client2', 'PUT', '/api/preferences', { categories: { inbox: { transports: { email: false, push: false } } } })).status).toBe(200);
    const { page, problems, close } = await suite.open('client2');
    await page.waitForSelector('[data-testid="inbox-view"]');
    const unread = await notice('client2', { title: '请确认风险揭示书（未读）', requireAck: true });
    const read = await notice('client2', { title: '请确认新版客户协议（已读）', requireAck: true });
    const row = page.locator(`[data-testid="inbox-row"][data-id="${read}"] [data-testid="inbox-open"]`);
    await row.click({ timeout: 5_000 });
    await page.waitForSelector(`[data-testid="inbox-detail"][data-id="${read}"][data-state="read"]`, { timeout: 5_000 });

    await until(() => mailed().includes(unread), 'escalation email of the unread notice', 20_000);
    // Both escalation steps of the read one would have run by now (3 s + 1 s); give them margin.
    await new Promise((r) => setTimeout(r, 2500));
    expect(mailed()).not.toContain(read);
    expect(mailed().filter((m) => m === unread)).toHaveLength(1);
    const items = (await suite.web.rest('client2', 'GET', '/api/inbox')).body.items as Array<{ messageId: string; state: string }>;
    expect(items.find((i) => i.messageId === read)?.state).toBe('read');
    expect(items.find((i) => i.messageId === unread)?.state).toBe('unread');
    expect(problems).toEqual([]);
    await close();
  }, 60_000);

  it('shows a recommendation from the broker with security name, risk, broker and research note', async () => {
    const note = await suite.web.rest('research1', 'POST', '/api/channels/research.macro/publications', {
      kind: 'note',
      payload: { title: '白酒行业深度：估值修复', summary: '维持增持', body: '正文', tickers: ['600519.SH'], riskLevel: 'R3' },
    });
    expect(note.status).toBe(201);
    const rec = await suite.web.rest('broker1', 'POST', '/api/recommendations', {
      clientIds: [ids.client1],
      security: '600519.SH',
      productRisk: 'R3',
      rationale: '估值回到历史中枢，建议分批关注。',
      researchMessageId: note.body.id,
    });
    expect(rec.status).toBe(200);
    const { page, problems, close } = await suite.open('client1', '/recommendations');
    const card = page.locator('[data-testid="rec-card"]').first();
    await card.waitFor();
    expect(await card.locator('[data-testid="rec-security"]').textContent()).toBe('600519.SH');
    await until(async () => (await card.locator('[data-testid="rec-name"]').textContent()) === '贵州茅台', 'security name');
    expect(await card.locator('[data-testid="rec-risk"]').textContent()).toBe('R3 中风险');
    expect(await card.locator('[data-testid="rec-broker"]').textContent()).toContain('客户经理：');
    expect(await card.getAttribute('data-state')).toBe('unread');
    await card.locator('[data-testid="rec-open"]').click();
    await page.waitForSelector('[data-testid="rec-card"][data-state="read"] [data-testid="rec-detail"]');
    expect(await page.textContent('[data-testid="rec-rationale"]')).toBe('估值回到历史中枢，建议分批关注。');
    expect(await page.getAttribute('[data-testid="rec-research"]', 'href')).toBe(`/inbox/${note.body.id}`);
    expect(await page.textContent('[data-testid="rec-research"]')).toContain('白酒行业深度');
    await expectAccessible(page, 'recommendations');
    expect(problems).toEqual([]);
    await close();
  }, 60_000);
});
