/**
 * The research desk in real headless Chromium against an embedded app on port 0:
 * - research1 composes a note on research.macro: the audience (entitled tiers, would-receive count)
 *   is shown before publishing, a ticker gets its name from the directory, the preview shows the note
 *   as clients will see it; publishing opens the notes list, where the note shows its recipients;
 * - client1, subscribed, sees it arrive in a second browser context;
 * - a term compliance blocks (POST /api/compliance/dlp-terms) refuses the publish: the term is named
 *   (QIAO_DLP_BLOCKED) and the draft is kept.
 * Each view passes the axe check; no console errors.
 */
import { describe, expect, it } from 'vitest';
import { gateChromium } from '../helpers/browser.ts';
import { expectAccessible, webSuite } from '../helpers/web-page.ts';

const hasChromium = gateChromium('the research desk browser tests');

describe.skipIf(!hasChromium)('research desk in Chromium', () => {
  const suite = webSuite();

  it('composes with audience and preview, publishes, the client receives it, the notes list counts it; DLP names the term and keeps the draft', async () => {
    expect((await suite.web.rest('client1', 'PUT', '/api/subscriptions/research.macro', {})).status).toBeLessThan(300);
    const client = await suite.open('client1', '/channels');
    await client.page.waitForSelector('[data-channel="research.macro"][data-live="true"]');

    const desk = await suite.open('research1');
    const { page } = desk;
    // Home of the research role.
    await page.waitForURL(/\/research\/compose$/);
    await page.waitForSelector('[data-testid="note-form"]');
    await page.selectOption('[data-testid="note-channel"]', 'research.macro');

    // Audience before publishing: every client tier is entitled to macro, client1 is subscribed.
    await page.waitForSelector('[data-testid="audience-would-receive"]');
    expect(await page.locator('[data-testid="audience-tier"]').allTextContents()).toEqual(['普通投资者', '高净值客户', '机构客户']);
    const wouldReceive = Number(await page.getAttribute('[data-testid="audience-would-receive"]', 'data-n'));
    expect(wouldReceive).toBeGreaterThanOrEqual(1);
    expect(await page.textContent('[data-testid="audience-would-receive"]')).toBe(`发布后将送达 ${wouldReceive} 人`);
    expect(await page.locator('[data-testid="audience-row"][data-role="client"][data-tier="general"]').getAttribute('data-entitled')).toBe('true');

    const title = `宏观周报：社融超预期 <b>${Date.now()}</b>`;
    await page.fill('[data-testid="note-title"]', title);
    await page.fill('[data-testid="note-summary"]', '维持“增持”评级，关注消费复苏');
    await page.fill('[data-testid="note-body"]', '第一段：社融数据超预期。\n第二段：白酒板块估值修复。');
    // An invalid code is refused by its code; a valid one gets its name.
    await page.fill('[data-testid="note-ticker-input"]', '600519');
    await page.click('[data-testid="note-ticker-add"]');
    expect(await page.getAttribute('[data-testid="note-ticker-error"]', 'data-code')).toBe('QIAO_SYMBOL_INVALID');
    await page.fill('[data-testid="note-ticker-input"]', '600519.sh');
    await page.press('[data-testid="note-ticker-input"]', 'Enter');
    await page.waitForSelector('[data-testid="note-ticker"][data-code="600519.SH"][data-known="true"]');
    expect(await page.textContent('[data-testid="note-ticker-name"]')).toBe('贵州茅台');
    await page.selectOption('[data-testid="note-risk"]', 'R2');

    // The preview is the feed item clients see, text only.
    const preview = page.locator('[data-testid="note-preview"] [data-testid="feed-item"]');
    expect(await preview.locator('[data-testid="feed-title"]').textContent()).toBe(title);
    expect(await preview.locator('[data-testid="feed-channel"]').textContent()).toBe('宏观研究');
    expect(await preview.locator('[data-testid="feed-risk"]').textContent()).toBe('R2 中低风险');
    expect(await preview.locator('b').count()).toBe(0);
    expect(await page.textContent('[data-testid="note-publish"]')).toBe(`发布（送达 ${wouldReceive} 人）`);
    await expectAccessible(page, 'research compose');

    await page.click('[data-testid="note-publish"]');
    await page.waitForURL(/\/research\/notes$/);
    const row = page.locator('[data-testid="note-row"]', { hasText: title }).first();
    await row.waitFor();
    expect(await row.getAttribute('data-channel')).toBe('research.macro');

    // client1 receives it live.
    await client.page.locator('[data-testid="feed-item"]', { hasText: title }).waitFor({ timeout: 10_000 });

    // Recipients are counted from fanout's deliveries: refresh until they are in.
    let recipients = 0;
    for (let i = 0; i < 40 && recipients < 1; i++) {
      await page.click('[data-testid="notes-refresh"]');
      await page.waitForTimeout(250);
      recipients = Number(await page.locator('[data-testid="note-row"]', { hasText: title }).first().locator('[data-testid="note-recipients"]').getAttribute('data-n'));
    }
    expect(recipients).toBeGreaterThanOrEqual(1);
    await expectAccessible(page, 'research notes');

    // DLP: compliance blocks a term; a note containing it is refused with the term named, draft kept.
    const term = '内部绝密名单';
    expect((await suite.web.rest('compliance1', 'POST', '/api/compliance/dlp-terms', { term, action: 'block' })).status).toBeLessThan(300);
    await page.click('[data-testid="nav-research-compose"]');
    await page.waitForSelector('[data-testid="note-form"]');
    // The published draft was cleared.
    expect(await page.inputValue('[data-testid="note-title"]')).toBe('');
    const blockedTitle = '策略快评：附内部绝密名单';
    await page.fill('[data-testid="note-title"]', blockedTitle);
    await page.fill('[data-testid="note-body"]', '正文');
    await page.waitForSelector('[data-testid="note-publish"]:not([disabled])');
    await page.click('[data-testid="note-publish"]');
    await page.waitForSelector('[data-testid="publish-error"]');
    expect(await page.getAttribute('[data-testid="publish-error"]', 'data-code')).toBe('QIAO_DLP_BLOCKED');
    expect(await page.locator('[data-testid="dlp-term"]').allTextContents()).toEqual([term]);
    expect(await page.inputValue('[data-testid="note-title"]')).toBe(blockedTitle);
    expect(await page.inputValue('[data-testid="note-body"]')).toBe('正文');
    expect(page.url()).toMatch(/\/research\/compose$/);
    await expectAccessible(page, 'research compose with DLP refusal');

    // English: the same view, translated.
    await page.click('[data-testid="lang-toggle"]');
    expect(await page.textContent('#page-title')).toBe('Compose a research note');
    expect(await page.textContent('[data-testid="dlp-terms"]')).toContain('Prohibited terms:');
    expect(await page.inputValue('[data-testid="note-title"]')).toBe(blockedTitle);

    await page.screenshot({ path: '/tmp/qiao-desk-research.png', fullPage: true });
    expect(client.problems).toEqual([]);
    expect(desk.problems).toEqual([]);
  }, 120_000);
});
