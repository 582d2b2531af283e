/**
 * The advisory views of the web client in real headless Chromium (playwright-core, system
 * /usr/bin/chromium) against an embedded-mode app on port 0:
 * - broker1 sends a recommendation to client1 (C3) and client3 (C1) for an R3 product: client1 gets it,
 *   client3's is refused — shown with its reason and code QIAO_SUITABILITY_MISMATCH, in Chinese and
 *   after the language switch in English — and nothing reaches client3;
 * - manager1 sends a task to team A and watches the progress table; broker1, in a second browser
 *   context, accepts it and marks it done with a note; the manager's table turns to done live;
 * - compliance1 approves a pending firm-wide broadcast from the approvals tab.
 * Server strings (task title with an HTML injection) are rendered as text.
 *
 * Skips with a loud warning when Chromium is absent, unless QIAO_REQUIRE_SERVICES=1 (then it fails).
 * Screenshots: /tmp/qiao-advisory-broker.png, /tmp/qiao-advisory-manager.png.
 */
import type { FastifyInstance } from 'fastify';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gateChromium, launchChromium } from '../helpers/browser.ts';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';

const hasChromium = gateChromium('the advisory browser tests');

const PASSWORD = 'qiao-demo-2026';
const XSS = '<img src=x onerror=alert(1)>';

interface Who {
  token: string;
  id: string;
}

describe.skipIf(!hasChromium)('advisory views in Chromium', () => {
  let app: FastifyInstance;
  let browser: Browser;
  let base: string;
  const dialogs: string[] = [];
  const pageErrors: string[] = [];
  const who: Record<string, Who> = {};

  const api = async (method: string, path: string, token: string, body?: unknown) => {
    const r = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: r.status, body: (await r.json()) as any };
  };

  beforeAll(async () => {
    const config = loadConfig({ NODE_ENV: 'test', QIAO_LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: '0' });
    app = await buildApp(config, { inMemoryDb: true, logger: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    if (!addr || typeof addr === 'string') throw new Error('no port');
    base = `http://127.0.0.1:${addr.port}`;
    for (const l of ['broker1', 'client1', 'client3', 'manager1', 'admin', 'compliance1']) {
      const r = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ login: l, password: PASSWORD }) });
      const b = (await r.json()) as { token: string; user: { id: string } };
      who[l] = { token: b.token, id: b.user.id };
    }
    browser = await launchChromium();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  }, 30_000);

  async function open(login: string): Promise<{ ctx: BrowserContext; page: Page }> {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 1000 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    const page = await ctx.newPage();
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(base + '/');
    await page.fill('[data-testid="login-input"]', login);
    await page.fill('[data-testid="password-input"]', PASSWORD);
    await page.click('[data-testid="login-submit"]');
    await page.waitForSelector('[data-testid="conn-state"][data-state="connected"]');
    if (!login.startsWith('client')) await page.waitForSelector('[data-testid="advisory"]');
    return { ctx, page };
  }

  const inboxKinds = async (login: string) =>
    (await api('GET', `/api/channels/inbox.${who[login].id}/history?limit=200`, who[login].token)).body.publications.map((p: { kind: string }) => p.kind);

  it('broker sends a recommendation and sees the suitability refusal (zh-CN, then English)', async () => {
    const { ctx, page } = await open('broker1');
    await page.click('[data-testid="adv-tab-recommend"]');
    await page.waitForSelector('[data-testid="rec-client"]');
    // client3 is listed with its level C1.
    const c3 = page.locator(`[data-testid="rec-client"][data-client-id="${who.client3.id}"]`);
    expect(await c3.locator('xpath=..').textContent()).toContain('C1');
    await page.check(`[data-testid="rec-client"][data-client-id="${who.client1.id}"]`);
    await c3.check();
    await page.fill('[data-testid="rec-security"]', '600519.SH');
    await page.fill('[data-testid="rec-product"]', '贵州茅台');
    await page.selectOption('[data-testid="rec-risk"]', 'R3');
    await page.fill('[data-testid="rec-rationale"]', '白酒龙头，三季报营收稳健增长，估值处于历史中枢。');
    await page.click('[data-testid="rec-submit"]');

    const refused = page.locator(`[data-testid="rec-result"][data-client-id="${who.client3.id}"]`);
    await refused.waitFor({ timeout: 10_000 });
    expect(await refused.getAttribute('data-outcome')).toBe('refused');
    expect(await refused.getAttribute('data-code')).toBe('QIAO_SUITABILITY_MISMATCH');
    expect(await refused.getAttribute('role')).toBe('alert');
    expect(await refused.locator('[data-testid="rec-result-outcome"]').textContent()).toBe('已拒绝，未送达');
    const reason = await refused.locator('[data-testid="rec-result-reason"]').textContent();
    expect(reason).toContain('产品风险等级 R3 高于客户风险等级 C1');
    expect(reason).toContain('适当性不匹配');
    expect(await refused.locator('[data-testid="rec-result-code"]').textContent()).toBe('QIAO_SUITABILITY_MISMATCH');
    const delivered = page.locator(`[data-testid="rec-result"][data-client-id="${who.client1.id}"]`);
    expect(await delivered.getAttribute('data-outcome')).toBe('delivered');
    expect(await delivered.locator('[data-testid="rec-result-outcome"]').textContent()).toBe('已送达');
    await page.screenshot({ path: '/tmp/qiao-advisory-broker.png' });

    // English: the same outcome, in English, with the same code.
    await page.click('[data-testid="lang-toggle"]');
    const refusedEn = page.locator(`[data-testid="rec-result"][data-client-id="${who.client3.id}"]`);
    expect(await refusedEn.locator('[data-testid="rec-result-outcome"]').textContent()).toBe('Refused, not delivered');
    expect(await refusedEn.locator('[data-testid="rec-result-reason"]').textContent()).toContain('Product risk R3 exceeds the client’s risk level C1');
    expect(await refusedEn.locator('[data-testid="rec-result-code"]').textContent()).toBe('QIAO_SUITABILITY_MISMATCH');
    expect(await page.textContent('[data-testid="adv-tab-recommend"]')).toBe('Recommend');
    await page.click('[data-testid="lang-toggle"]');

    // A single refused client (422) is shown the same way.
    await page.uncheck(`[data-testid="rec-client"][data-client-id="${who.client1.id}"]`);
    await page.selectOption('[data-testid="rec-risk"]', 'R5');
    await page.click('[data-testid="rec-submit"]');
    await page.waitForSelector(`[data-testid="rec-results"] [data-testid="rec-result"]:only-child[data-client-id="${who.client3.id}"][data-outcome="refused"]`);
    expect(await page.locator('[data-testid="rec-result-reason"]').textContent()).toContain('R5');

    // What the clients got: client1 the recommendation, client3 nothing.
    expect(await inboxKinds('client1')).toEqual(['recommendation']);
    expect(await inboxKinds('client3')).toEqual([]);
    // Out-of-grammar input: the error comes from the code.
    await page.check(`[data-testid="rec-client"][data-client-id="${who.client1.id}"]`);
    await page.fill('[data-testid="rec-security"]', 'not a code');
    await page.click('[data-testid="rec-submit"]');
    const err = page.locator('[data-testid="rec-error"]');
    await err.waitFor({ state: 'visible' });
    expect(await err.getAttribute('data-code')).toBe('QIAO_SECURITY_INVALID');
    expect(await err.textContent()).toBe('证券或产品代码格式不正确');

    // The client sees the recommendation in its inbox, as text, with its risk level.
    const client = await open('client1');
    await client.page.check(`[data-testid="sub-toggle-inbox.${who.client1.id}"]`);
    const item = client.page.locator(`[data-testid="feed-item"][data-channel="inbox.${who.client1.id}"]`);
    await item.waitFor({ timeout: 10_000 });
    expect(await item.locator('[data-testid="feed-kind"]').textContent()).toBe('投资建议');
    expect(await item.locator('[data-testid="feed-risk"]').textContent()).toBe('R3 中风险');
    expect(await item.locator('[data-testid="feed-title"]').textContent()).toBe('投资建议 · 600519.SH 贵州茅台');
    expect(await item.locator('[data-testid="feed-summary"]').textContent()).toContain('白酒龙头');
    // Clients have no advisory panel.
    expect(await client.page.locator('[data-testid="advisory"]').count()).toBe(0);
    await client.ctx.close();
    expect(pageErrors).toEqual([]);
    await ctx.close();
  }, 90_000);

  it('manager broadcasts a task and sees the broker mark it done, live', async () => {
    const manager = await open('manager1');
    const mp = manager.page;
    await mp.waitForSelector('[data-testid="task-form"]');
    const title = `季度回访 ${XSS}`;
    await mp.fill('[data-testid="task-title"]', title);
    await mp.fill('[data-testid="task-detail"]', '请完成名下客户电话回访并记录要点。');
    await mp.check('[data-testid="task-team"]');
    await mp.click('[data-testid="task-submit"]');
    const row = mp.locator(`[data-testid="progress-row"][data-broker-id="${who.broker1.id}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.getAttribute('data-state')).toBe('delivered');
    await mp.waitForSelector('[data-testid="task-live"]');
    expect(await mp.locator('[data-testid="task-row"] .adv-task__title').first().textContent()).toBe(title);
    expect(await mp.locator('[data-testid="task-progress"] h3').textContent()).toContain(XSS);
    const taskId = await mp.locator('[data-testid="task-progress"]').getAttribute('data-task-id');

    const broker = await open('broker1');
    const bp = broker.page;
    await bp.click('[data-testid="adv-tab-tasks"]');
    const card = bp.locator(`[data-testid="my-task"][data-task-id="${taskId}"]`);
    await card.waitFor({ timeout: 10_000 });
    expect(await card.locator('[data-testid="my-task-title"]').textContent()).toBe(title);
    expect(await card.getAttribute('data-state')).toBe('delivered');
    await card.locator('[data-testid="task-accept"]').click();
    await bp.waitForSelector(`[data-testid="my-task"][data-task-id="${taskId}"][data-state="accepted"]`);
    await mp.waitForSelector(`[data-testid="progress-row"][data-broker-id="${who.broker1.id}"][data-state="accepted"]`, { timeout: 10_000 });

    // Done needs a note: without one the view says so and nothing is sent.
    await bp.locator(`[data-testid="my-task"][data-task-id="${taskId}"] [data-testid="task-done"]`).click();
    await bp.locator('[data-testid="tasks-error"]').waitFor({ state: 'visible' });
    expect(await bp.textContent('[data-testid="tasks-error"]')).toBe('请填写完成备注');
    await bp.locator(`[data-testid="my-task"][data-task-id="${taskId}"] [data-testid="task-note"]`).fill('已回访 12 位客户，2 位需跟进');
    await bp.locator(`[data-testid="my-task"][data-task-id="${taskId}"] [data-testid="task-done"]`).click();
    await bp.waitForSelector(`[data-testid="my-task"][data-task-id="${taskId}"][data-state="done"]`);

    // The manager's table turns to done without a reload, with the note.
    const doneRow = mp.locator(`[data-testid="progress-row"][data-broker-id="${who.broker1.id}"][data-state="done"]`);
    await doneRow.waitFor({ timeout: 10_000 });
    expect(await doneRow.locator('[data-testid="progress-state"]').textContent()).toBe('已完成');
    expect(await doneRow.locator('[data-testid="progress-note"]').textContent()).toBe('已回访 12 位客户，2 位需跟进');
    expect(await mp.textContent('[data-testid="progress-counts"]')).toContain('已完成 1');
    expect(await mp.locator('[data-testid="task-row"] [data-testid="task-counts"]').first().textContent()).toContain('1/1');
    await mp.screenshot({ path: '/tmp/qiao-advisory-manager.png' });

    // Escaped everywhere, nothing ran.
    for (const p of [mp, bp]) expect(await p.locator('img').count()).toBe(0);
    expect(dialogs).toEqual([]);
    expect(pageErrors).toEqual([]);
    await broker.ctx.close();
    await manager.ctx.close();
  }, 90_000);

  it('compliance approves a pending firm-wide broadcast from the approvals tab', async () => {
    const req = await api('POST', '/api/channels/firm.broadcast/publications', who.admin.token, { kind: 'notice', payload: { title: `春节休市安排 ${XSS}` } });
    expect(req.status).toBe(202);
    const { ctx, page } = await open('compliance1');
    const row = page.locator(`[data-testid="approval-row"][data-approval-id="${req.body.approvalId}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.locator('[data-testid="approval-summary"]').textContent()).toBe(`春节休市安排 ${XSS}`);
    await row.locator('[data-testid="approval-note"]').fill('同意发布');
    await row.locator('[data-testid="approval-approve"]').click();
    await page.waitForSelector('[data-testid="approval-msg"]');
    await row.waitFor({ state: 'detached' });
    const history = await api('GET', '/api/channels/firm.broadcast/history', who.client1.token);
    expect(history.body.publications.map((p: { payload: { title: string } }) => p.payload.title)).toEqual([`春节休市安排 ${XSS}`]);
    expect(await page.locator('img').count()).toBe(0);
    expect(pageErrors).toEqual([]);
    await ctx.close();
  }, 60_000);
});
