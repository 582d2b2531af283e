/**
 * Broker recommendations in real headless Chromium against an embedded app on port 0:
 * - broker1 sees its clients with their risk levels, sends client1 (C3) an R3 recommendation of
 *   600519.SH (named from the directory) linked to a research note: delivered, and client1's inbox
 *   item carries the note;
 * - the same to client3 (C1) is refused by suitability: shown with the reason in words and
 *   QIAO_SUITABILITY_MISMATCH, in Chinese and English, and nothing reaches client3;
 * - the sent list shows both outcomes; compliance1 sees the list read-only (no form).
 * Each view passes the axe check; no console errors.
 */
import { describe, expect, it } from 'vitest';
import { gateChromium } from '../helpers/browser.ts';
import { expectAccessible, webSuite } from '../helpers/web-page.ts';

const hasChromium = gateChromium('the recommendations browser tests');

describe.skipIf(!hasChromium)('broker recommendations in Chromium', () => {
  const suite = webSuite();

  it('sends one that passes (with its research note) and one refused by suitability; compliance reads the list', async () => {
    const noteTitle = `贵州茅台深度报告 ${Date.now()}`;
    const pub = await suite.web.rest('research1', 'POST', '/api/channels/research.sector.consumer/publications', {
      kind: 'note',
      payload: { title: noteTitle, summary: '高端白酒龙头', tickers: ['600519.SH'], riskLevel: 'R3' },
    });
    expect(pub.status).toBe(201);
    const noteId = pub.body.id as string;
    const client1 = (await suite.web.rest('client1', 'GET', '/api/me')).body.id as string;
    const client3 = (await suite.web.rest('client3', 'GET', '/api/me')).body.id as string;

    const broker = await suite.open('broker1', '/recommendations/sent');
    const { page } = broker;
    await page.waitForSelector('[data-testid="rec-form"]');
    const level = (id: string) => page.locator(`[data-testid="rec-client"][data-client-id="${id}"] ~ [data-testid="rec-client-level"]`);
    await level(client1).waitFor();
    expect(await level(client1).textContent()).toBe('C3');
    expect(await level(client3).textContent()).toBe('C1');

    // The research note is offered from the channels' history.
    await page.waitForSelector(`[data-testid="rec-note"] option[value="${noteId}"]`, { state: 'attached' });
    await page.check(`[data-testid="rec-client"][data-client-id="${client1}"]`);
    await page.fill('[data-testid="rec-security"]', '600519.SH');
    await page.getByText('贵州茅台', { exact: true }).first().waitFor();
    await page.selectOption('[data-testid="rec-risk"]', 'R3');
    await page.fill('[data-testid="rec-rationale"]', '估值回落至历史中枢，建议分批配置');
    await page.selectOption('[data-testid="rec-note"]', noteId);
    await expectAccessible(page, 'recommendation form');
    await page.click('[data-testid="rec-submit"]');

    const ok = page.locator(`[data-testid="rec-result"][data-client-id="${client1}"]`);
    await ok.waitFor();
    expect(await ok.getAttribute('data-outcome')).toBe('delivered');
    expect(await ok.locator('[data-testid="rec-result-outcome"]').textContent()).toBe('已送达');
    expect(await page.textContent('[data-testid="rec-result-note"]')).toBe(`依据研报：${noteTitle}`);

    // client1's inbox item carries the linked note.
    const inbox = await suite.web.rest('client1', 'GET', `/api/channels/inbox.${client1}/history?limit=20`);
    const rec = (inbox.body.publications as Array<{ kind: string; payload: Record<string, unknown> }>).find((p) => p.kind === 'recommendation');
    expect(rec?.payload.researchMessageId).toBe(noteId);
    expect(rec?.payload.researchTitle).toBe(noteTitle);

    // client3 (C1) refuses R3: the reason in words and its code.
    await page.uncheck(`[data-testid="rec-client"][data-client-id="${client1}"]`);
    await page.check(`[data-testid="rec-client"][data-client-id="${client3}"]`);
    await page.click('[data-testid="rec-submit"]');
    const refused = page.locator(`[data-testid="rec-result"][data-client-id="${client3}"]`);
    await refused.waitFor();
    expect(await refused.getAttribute('data-outcome')).toBe('refused');
    expect(await refused.getAttribute('data-code')).toBe('QIAO_SUITABILITY_MISMATCH');
    expect(await refused.locator('[data-testid="rec-result-outcome"]').textContent()).toBe('已拒绝');
    expect(await refused.locator('[data-testid="rec-result-reason"]').textContent()).toBe('产品风险 R3 高于客户承受能力 C1 — 产品风险等级高于客户风险承受能力，已拒绝并记录');
    const inbox3 = await suite.web.rest('client3', 'GET', `/api/channels/inbox.${client3}/history?limit=20`);
    expect((inbox3.body.publications as Array<{ kind: string }>).filter((p) => p.kind === 'recommendation')).toEqual([]);

    // The sent list: both, with their outcomes.
    const row = (id: string) => page.locator(`[data-testid="rec-sent-row"][data-client-id="${id}"]`).first();
    await row(client3).waitFor();
    expect(await row(client1).getAttribute('data-status')).toBe('delivered');
    expect(await row(client3).getAttribute('data-status')).toBe('refused');
    expect(await row(client3).locator('[data-testid="rec-sent-reason"]').textContent()).toContain('产品风险 R3 高于客户承受能力 C1');
    await expectAccessible(page, 'recommendations with outcomes');

    await page.click('[data-testid="lang-toggle"]');
    expect(await refused.locator('[data-testid="rec-result-reason"]').textContent()).toBe(
      'Product risk R3 exceeds the client level C1 — Product risk level exceeds the client risk level; recommendation refused and recorded',
    );
    expect(await row(client3).locator('[data-testid="rec-sent-outcome"]').textContent()).toBe('Refused');
    await page.screenshot({ path: '/tmp/qiao-desk-recommendations.png', fullPage: true });

    // Compliance: every broker's, read-only.
    const compliance = await suite.open('compliance1', '/recommendations/sent');
    await compliance.page.waitForSelector('[data-testid="rec-sent-table"]');
    expect(await compliance.page.locator('[data-testid="rec-form"]').count()).toBe(0);
    expect(await compliance.page.locator('[data-testid="rec-sent-row"]').count()).toBeGreaterThanOrEqual(2);
    await expectAccessible(compliance.page, 'recommendations (compliance)');

    expect(broker.problems).toEqual([]);
    expect(compliance.problems).toEqual([]);
  }, 120_000);
});
