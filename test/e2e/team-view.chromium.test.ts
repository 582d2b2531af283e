/**
 * 团队 / Team in real headless Chromium against an embedded app (test/helpers/web-page.ts): after
 * client2 writes to broker1, manager1's team view (its home) lists broker1 with the numbers worked
 * out by hand from the demo seed, and the longest-waiting client opens that conversation read-only;
 * a team notice composed with a preview (a DLP refusal first, naming the term and keeping the text)
 * is published and seen live by broker1 on its channels page.
 * Screenshots: /tmp/qiao-team.png and /tmp/qiao-team-notices.png.
 * Skips loudly without /usr/bin/chromium unless QIAO_REQUIRE_SERVICES=1 (then it fails).
 */
import { describe, expect, it } from 'vitest';
import { gateChromium } from '../helpers/browser.ts';
import { expectAccessible, webSuite } from '../helpers/web-page.ts';

const hasChromium = gateChromium('the team view browser test');

describe.skipIf(!hasChromium)('team view in Chromium', () => {
  const suite = webSuite();

  it('lists each broker with the longest-waiting client, which opens the conversation', async () => {
    // client2 (its conversation with broker1 is demo history, all answered) writes to its broker.
    const opened = await suite.web.rest('client2', 'POST', '/api/conversations', { type: 'broker_client' });
    expect(opened.status).toBeLessThan(300);
    const sent = await suite.web.rest('client2', 'POST', `/api/conversations/${opened.body.conversation.id}/messages`, { kind: 'chat', payload: { text: '请帮我看看账户的两融额度' } });
    expect(sent.status).toBe(201);

    const m = await suite.open('manager1', '/');
    const page = m.page;
    await page.waitForURL(/\/team$/);
    const rows = page.locator('[data-testid="team-row"]');
    await rows.first().waitFor();
    // Team A has two brokers: broker3 (赵经纪, the demo history's) and broker1 (王经纪), with client1,
    // client2 and client3 as primary clients. Conversations: client1 (seeded), client2 (history) and
    // client3 (opened for its survey) → 3. Waiting: client1's seeded question and client2's message → 2; unread by broker1:
    // one each → 2. Longest wait: client1 (刘女士).
    expect(await rows.count()).toBe(2);
    const row = rows.filter({ has: page.locator('[data-testid="team-broker"]', { hasText: '王经纪' }) });
    expect(await row.locator('[data-testid="team-broker"]').textContent()).toBe('王经纪');
    expect(await row.locator('[data-testid="team-clients"]').textContent()).toBe('3');
    expect(await row.locator('[data-testid="team-open"]').textContent()).toBe('2');
    expect(await row.locator('[data-testid="team-waiting"]').textContent()).toBe('2');
    expect(await row.locator('[data-testid="team-backlog"]').textContent()).toBe('2');
    const link = row.locator('[data-testid="team-oldest-link"]');
    await link.waitFor();
    expect(await link.textContent()).toBe('刘女士');
    expect(await row.locator('[data-testid="team-oldest-wait"]').textContent()).toMatch(/^已等待 \d+ 分钟$/);
    expect(await page.textContent('[data-testid="nav-team"]')).toContain('团队');
    await expectAccessible(page, 'team overview');
    await page.screenshot({ path: '/tmp/qiao-team.png' });

    await link.click();
    await page.waitForURL(/\/conversations\/[0-9a-f-]{36}$/);
    await page.waitForSelector('[data-testid="conv-readonly"]');
    expect(await page.textContent('[data-testid="conv-chat-name"]')).toBe('王经纪 ↔ 刘女士');
    const texts = await page.locator('[data-testid="conv-msg-text"]').allTextContents();
    expect(texts.at(-1)).toBe('好的，谢谢。另外我的风险测评是不是快到期了？');
    expect(m.problems).toEqual([]);
  }, 60_000);

  it('a team notice is previewed, refused for a DLP term, published, and seen live by a broker of the team', async () => {
    const me = await suite.web.rest('broker1', 'GET', '/api/me');
    const channel = `team.${me.body.teamId}`;
    const b = await suite.open('broker1', '/channels');
    const broker = b.page;
    await broker.check(`[data-testid="sub-toggle-${channel}"]`);
    await broker.waitForSelector(`[data-channel="${channel}"][data-live="true"]`);

    const m = await suite.open('manager1', '/team');
    const page = m.page;
    await page.click('[data-testid="team-notices-link"]');
    await page.waitForURL(/\/team\/notices$/);
    await page.waitForSelector('[data-testid="team-no-notices"]');
    expect(await page.isDisabled('[data-testid="team-notice-publish"]')).toBe(true);

    const title = '本周五 17:00 团队例会：两融客户风险回顾';
    await page.fill('[data-testid="team-notice-title"]', title);
    await page.fill('[data-testid="team-notice-body"]', '请各位准备本周保本承诺相关的客户沟通记录。');
    await page.selectOption('[data-testid="team-notice-severity"]', 'warning');
    const preview = page.locator('[data-testid="team-notice-preview"] [data-testid="feed-item"]');
    expect(await preview.locator('[data-testid="feed-title"]').textContent()).toBe(title);
    expect(await preview.locator('[data-testid="feed-severity"]').textContent()).toBe('警告');
    await expectAccessible(page, 'team notice compose');

    // 保本 is a blocked term: refused by code, the term named, nothing lost.
    await page.click('[data-testid="team-notice-publish"]');
    const err = page.locator('[data-testid="team-notice-error"]');
    await err.waitFor();
    expect(await err.getAttribute('data-code')).toBe('QIAO_DLP_BLOCKED');
    expect(await page.textContent('[data-testid="team-notice-error-terms"]')).toBe('禁用词：保本');
    expect(await page.inputValue('[data-testid="team-notice-title"]')).toBe(title);
    await page.fill('[data-testid="team-notice-body"]', '请各位准备本周两融客户的沟通记录。');
    await page.waitForSelector('[data-testid="team-notice-error"]', { state: 'detached' });

    await page.click('[data-testid="team-notice-publish"]');
    const mine = page.locator('[data-testid="team-recent"] [data-testid="feed-item"]');
    await mine.first().waitFor({ timeout: 10_000 });
    expect(await mine.first().locator('[data-testid="feed-title"]').textContent()).toBe(title);
    expect(await page.inputValue('[data-testid="team-notice-title"]')).toBe('');
    expect(await page.textContent('[data-testid="info-text"]')).toBe('团队通知已发布');

    const seen = broker.locator(`[data-testid="feed-item"][data-channel="${channel}"]`);
    await seen.waitFor({ timeout: 10_000 });
    expect(await seen.locator('[data-testid="feed-title"]').textContent()).toBe(title);
    expect(await seen.locator('[data-testid="feed-summary"]').textContent()).toBe('请各位准备本周两融客户的沟通记录。');
    await expectAccessible(page, 'team notices after publishing');
    await page.screenshot({ path: '/tmp/qiao-team-notices.png', fullPage: true });
    for (const p of [m, b]) expect(p.problems).toEqual([]);
  }, 60_000);
});
