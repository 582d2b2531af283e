/**
 * Legal holds and the DLP dictionary in real headless Chromium against an embedded app on port 0:
 * - compliance1 places a hold on a person (user id) with a reason, sees it listed as active, places one
 *   on a conversation from the conversation viewer's link (prefilled), releases the first;
 * - compliance1 adds a DLP term as block: client1's chat message with it is refused over REST
 *   (QIAO_DLP_BLOCKED); the term's action is changed to warn: the same message is sent, with the warning;
 *   the term is removed: it is gone from the list, and the dictionary says so.
 * Each view passes the axe check; no console errors.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { gateChromium } from '../helpers/browser.ts';
import { brokerClientConversation } from '../helpers/conversations.ts';
import { expectAccessible, webSuite } from '../helpers/web-page.ts';

const hasChromium = gateChromium('the legal hold and DLP browser tests');

describe.skipIf(!hasChromium)('legal holds and DLP dictionary in Chromium', () => {
  const suite = webSuite();
  let convId: string;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    for (const l of ['client1', 'client2', 'broker1']) ids[l] = (await suite.web.rest(l, 'GET', '/api/me')).body.id;
    convId = await brokerClientConversation(suite.web.app.qiao.db.db, ids.broker1, ids.client1);
  });

  it('places a hold on a person and on a conversation, lists them, releases one', async () => {
    const up = await suite.open('compliance1', '/compliance/holds');
    const { page } = up;
    await page.waitForSelector('[data-testid="hold-form"]');
    await expectAccessible(page, 'legal holds');

    // A bad id is answered by its code.
    await page.check('[data-testid="hold-target-person"]');
    await page.fill('[data-testid="hold-id"]', 'not-an-id');
    await page.fill('[data-testid="hold-reason"]', '测试');
    await page.click('[data-testid="hold-submit"]');
    const err = page.locator('[data-testid="hold-error"]');
    await err.waitFor();
    expect(await err.getAttribute('data-code')).toBe('QIAO_BAD_REQUEST');

    await page.fill('[data-testid="hold-id"]', ids.client2);
    await page.fill('[data-testid="hold-reason"]', '监管问询（2026）第 17 号：保留全部往来记录');
    await page.click('[data-testid="hold-submit"]');
    const held = page.locator('[data-testid="hold-row"]', { has: page.locator(`[data-testid="hold-subject"]:text-is("${ids.client2}")`) });
    await held.waitFor();
    expect(await held.getAttribute('data-active')).toBe('true');
    expect(await held.locator('[data-testid="hold-reason-text"]').textContent()).toBe('监管问询（2026）第 17 号：保留全部往来记录');
    expect(await held.locator('[data-testid="hold-state"]').textContent()).toBe('保全中');
    const holdId = (await held.getAttribute('data-hold-id'))!;
    const listed = await suite.web.rest('compliance1', 'GET', '/api/compliance/legal-holds?active=true');
    expect(listed.body.holds.map((h: { id: string }) => h.id)).toContain(holdId);

    // A conversation, from the viewer's link: the form comes prefilled.
    await page.goto(`${suite.web.base}/compliance/conversations/${convId}`);
    await page.click('[data-testid="conv-hold"]');
    await page.waitForURL(/\/compliance\/holds\?conversationId=/);
    expect(await page.isChecked('[data-testid="hold-target-conversation"]')).toBe(true);
    expect(await page.inputValue('[data-testid="hold-id"]')).toBe(convId);
    await page.fill('[data-testid="hold-reason"]', '客户投诉调查');
    await page.click('[data-testid="hold-submit"]');
    await page.locator('[data-testid="hold-row"]').nth(1).waitFor();
    expect(await page.locator('[data-testid="hold-row"][data-active="true"]').count()).toBe(2);

    // Release the first.
    const row = page.locator(`[data-testid="hold-row"][data-hold-id="${holdId}"]`);
    await row.locator('[data-testid="hold-release"]').click();
    await page.waitForSelector(`[data-testid="hold-row"][data-hold-id="${holdId}"][data-active="false"]`);
    expect(await row.locator('[data-testid="hold-state"]').textContent()).toBe('已解除');
    expect(await row.locator('[data-testid="hold-release"]').count()).toBe(0);
    const active = await suite.web.rest('compliance1', 'GET', '/api/compliance/legal-holds?active=true');
    expect(active.body.holds.map((h: { id: string }) => h.id)).not.toContain(holdId);
    await expectAccessible(page, 'legal holds listed');
    expect(up.problems).toEqual([]);
  }, 90_000);

  it('adds a blocking DLP term that refuses a client chat, changes it to warn, removes it', async () => {
    const TERM = `代客理财${Date.now() % 10000}`;
    const send = () => suite.web.rest('client1', 'POST', `/api/conversations/${convId}/messages`, { kind: 'chat', payload: { text: `可以${TERM}吗？` } });

    const up = await suite.open('compliance1', '/compliance/dlp');
    const { page } = up;
    await page.waitForSelector('[data-testid="dlp-form"]');
    await expectAccessible(page, 'DLP dictionary');

    await page.fill('[data-testid="dlp-term"]', TERM);
    await page.selectOption('[data-testid="dlp-action"]', 'block');
    await page.click('[data-testid="dlp-add"]');
    const row = page.locator(`[data-testid="dlp-row"][data-term="${TERM}"]`);
    await row.waitFor();
    expect(await row.getAttribute('data-action')).toBe('block');
    expect(await row.locator('[data-testid="dlp-row-action"]').inputValue()).toBe('block');

    const refused = await send();
    expect(refused.status).toBe(422);
    expect(refused.body.error.code).toBe('QIAO_DLP_BLOCKED');

    // Change to warn: sent, the warning comes back.
    await row.locator('[data-testid="dlp-row-action"]').selectOption('warn');
    await page.waitForSelector(`[data-testid="dlp-row"][data-term="${TERM}"][data-action="warn"]`);
    expect(await page.locator(`[data-testid="dlp-row"][data-term="${TERM}"]`).count()).toBe(1);
    const warned = await send();
    expect(warned.status, JSON.stringify(warned.body)).toBe(201);
    expect(JSON.stringify(warned.body.dlp)).toContain(TERM);
    await expectAccessible(page, 'DLP term changed');

    // Remove.
    await row.locator('[data-testid="dlp-remove"]').click();
    await row.waitFor({ state: 'detached' });
    const terms = await suite.web.rest('compliance1', 'GET', '/api/compliance/dlp-terms');
    expect(terms.body.terms.filter((x: { term: string; active: boolean }) => x.term === TERM && x.active !== false)).toEqual([]);
    const clean = await send();
    expect(clean.status).toBe(201);
    expect(clean.body.dlp).toBeUndefined();
    expect(up.problems).toEqual([]);
  }, 90_000);
});
