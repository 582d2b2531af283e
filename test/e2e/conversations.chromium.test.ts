/**
 * 会话 / Conversations in real headless Chromium against an embedded app (test/helpers/web-page.ts):
 * broker1's workstation lists its clients with tier, risk level and the seeded unanswered question;
 * client1 and broker1 chat live both ways in two pages (typing, 已读, HTML rendered as text, the
 * total unread count in the navigation); manager1 reads the team conversation read-only; DLP: a
 * blocked term is named and the draft kept, the error clears on edit, a warn term is shown after
 * sending; broker2 starts the conversation with its manager and manager2 sees it arrive.
 * Skips loudly without /usr/bin/chromium unless QIAO_REQUIRE_SERVICES=1 (then it fails).
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { gateChromium } from '../helpers/browser.ts';
import { expectAccessible, webSuite } from '../helpers/web-page.ts';

const hasChromium = gateChromium('the conversations browser test');

const INJECTION = '<img src=x onerror=alert(1)> 您好 & 谢谢';

const texts = (page: Page) => page.locator('[data-testid="conv-msg-text"]').allTextContents();
const hasText = (page: Page, text: string) =>
  page.waitForFunction((x) => [...document.querySelectorAll('[data-testid="conv-msg-text"]')].some((e) => e.textContent === x), text, { timeout: 10_000 });

describe.skipIf(!hasChromium)('conversations view in Chromium', () => {
  const suite = webSuite();

  it('workstation, live chat both ways with typing, 已读 and unread counts, read-only supervision', async () => {
    const b = await suite.open('broker1', '/');
    const broker = b.page;
    // A broker's home is the conversations view, on the workstation.
    await broker.waitForURL(/\/conversations$/);
    const row = broker.locator('[data-testid="conv-ws-row"]').first();
    await row.waitFor();
    const rowText = await row.innerText();
    expect(rowText).toContain('刘女士');
    expect(rowText).toContain('C3');
    expect(rowText).toContain('风险测评');
    expect(await row.getAttribute('data-unread')).toBe('1');
    expect(await broker.locator('[data-testid="conv-wait"]').first().innerText()).toMatch(/^等待回复 \d+ 分钟$/);
    await expect(broker.locator('[data-testid="nav-conversations"]').innerText()).resolves.toContain('会话');
    await expectAccessible(broker, 'broker workstation');

    const c = await suite.open('client1', '/conversations');
    const client = c.page;
    await client.click('[data-testid="conv-item"]');
    await client.waitForSelector('[data-testid="conv-msg"]');
    expect(await client.locator('[data-testid="conv-msg"]').count()).toBe(3);
    expect(await client.textContent('[data-testid="conv-chat-name"]')).toBe('王经纪');

    await row.click();
    await broker.waitForURL(/\/conversations\/[0-9a-f-]{36}$/);
    await broker.waitForSelector('[data-testid="conv-msg"]');
    await broker.waitForFunction(() => document.querySelector('[data-testid="conv-ws-row"]')?.getAttribute('data-unread') === '0');
    // Presence: the client is online.
    await broker.waitForSelector('[data-testid="conv-chathead"] [data-state="online"]');
    await broker.waitForTimeout(300);

    // Client → broker, with "typing…" first; the text is shown as text.
    await client.type('[data-testid="conv-input"]', INJECTION, { delay: 10 });
    await broker.waitForSelector('[data-testid="conv-typing"]', { timeout: 5000 });
    await client.click('[data-testid="conv-send"]');
    await hasText(broker, INJECTION);
    expect(await broker.locator('[data-testid="conv-msgs"] img').count()).toBe(0);
    expect(await client.inputValue('[data-testid="conv-input"]')).toBe('');
    // The broker has it open and visible: the client sees 已读 on it.
    await client.waitForFunction(
      () => [...document.querySelectorAll('[data-testid="conv-msg"]')].at(-1)?.querySelector('[data-testid="conv-read-mark"]')?.textContent === '已读',
      undefined,
      { timeout: 10_000 },
    );

    // Broker → client, with Enter.
    await broker.fill('[data-testid="conv-input"]', '收到，马上为您查询');
    await broker.press('[data-testid="conv-input"]', 'Enter');
    await hasText(client, '收到，马上为您查询');
    await hasText(broker, '收到，马上为您查询');
    await expectAccessible(broker, 'broker chat');
    await expectAccessible(client, 'client chat');

    // The client leaves the thread: the next message counts as unread, in the list and the navigation.
    await client.click('[data-testid="nav-conversations"]');
    await client.waitForSelector('[data-testid="conv-pick"]');
    await broker.fill('[data-testid="conv-input"]', '风险测评下月到期，届时提醒您');
    await broker.click('[data-testid="conv-send"]');
    await client.waitForSelector('[data-testid="conv-row"][data-unread="1"]', { timeout: 10_000 });
    expect(await client.textContent('[data-testid="nav-conversations-count"]')).toBe('1');
    expect(await client.textContent('[data-testid="conv-total-unread"]')).toBe('1');
    // The last message follows from the list the push makes the view fetch.
    await client.waitForFunction(() => document.querySelector('[data-testid="conv-row"] .conv-item__preview')?.textContent === '风险测评下月到期，届时提醒您');
    await client.click('[data-testid="conv-item"]');
    await hasText(client, '风险测评下月到期，届时提醒您');
    await client.waitForSelector('[data-testid="conv-row"][data-unread="0"]');
    expect(await client.locator('[data-testid="nav-conversations-count"]').count()).toBe(0);

    // The team manager reads it, read-only.
    const m = await suite.open('manager1', '/conversations');
    const manager = m.page;
    await manager.click('[data-testid="conv-item"] >> text=刘女士');
    await manager.waitForSelector('[data-testid="conv-readonly"]');
    expect(await manager.locator('[data-testid="conv-input"]').count()).toBe(0);
    await hasText(manager, '收到，马上为您查询');
    expect(await texts(manager)).toContain(INJECTION);
    await expectAccessible(manager, 'manager read-only conversation');
    await broker.screenshot({ path: '/tmp/qiao-conversations.png', fullPage: true });

    for (const p of [b, c, m]) expect(p.problems).toEqual([]);
  }, 90_000);

  it('DLP: a blocked term is named and the draft kept, the error clears on edit, a warn term is shown after sending', async () => {
    const c = await suite.open('client1', '/conversations');
    const client = c.page;
    await client.click('[data-testid="conv-item"]');
    await client.waitForSelector('[data-testid="conv-msg"]');
    const before = (await texts(client)).length;

    const draft = '请问这个产品保本吗？';
    await client.fill('[data-testid="conv-input"]', draft);
    await client.click('[data-testid="conv-send"]');
    const err = client.locator('[data-testid="conv-composer"] [data-testid="conv-error"]');
    await err.waitFor();
    expect(await err.getAttribute('data-code')).toBe('QIAO_DLP_BLOCKED');
    expect(await err.textContent()).toBe('消息含有禁用词，未发送（已记录供合规检查）');
    expect(await client.textContent('[data-testid="conv-error-terms"]')).toBe('禁用词：保本');
    // Not sent, and the draft is still there to fix.
    expect(await client.inputValue('[data-testid="conv-input"]')).toBe(draft);
    expect((await texts(client)).length).toBe(before);
    await expectAccessible(client, 'DLP refusal');

    // Editing the draft clears the stale error.
    await client.fill('[data-testid="conv-input"]', '请问这只基金是零风险吗？');
    await client.waitForSelector('[data-testid="conv-error"]', { state: 'detached' });
    expect(await client.locator('[data-testid="conv-error-terms"]').count()).toBe(0);

    // A warn term: sent, and the sender is told.
    await client.click('[data-testid="conv-send"]');
    await hasText(client, '请问这只基金是零风险吗？');
    const warn = client.locator('[data-testid="conv-dlp-warn"]');
    await warn.waitFor();
    expect(await warn.textContent()).toBe('已发送。请注意，消息中含有需谨慎使用的用语：零风险');
    expect(await client.inputValue('[data-testid="conv-input"]')).toBe('');
    expect(c.problems).toEqual([]);
  }, 60_000);

  it('a broker starts the conversation with its manager, and the manager sees it arrive', async () => {
    const m = await suite.open('manager2', '/conversations');
    const manager = m.page;
    await manager.waitForSelector('[data-testid="conv-empty"], [data-testid="conv-list"]');
    // Named by the broker alone: manager2 also supervises 李经纪 ↔ 华夏资产 (demo history), read-only.
    const withBroker = manager.locator('[data-testid="conv-row"]').filter({ has: manager.locator('[data-testid="conv-name"]', { hasText: /^李经纪$/ }) });
    expect(await withBroker.count()).toBe(0);

    const b = await suite.open('broker2', '/conversations');
    const broker = b.page;
    await broker.click('[data-testid="conv-tab-list"]');
    await broker.click('[data-testid="conv-contact-manager"]');
    await broker.waitForURL(/\/conversations\/[0-9a-f-]{36}$/);
    await broker.waitForSelector('[data-testid="conv-composer"]');
    expect(await broker.textContent('[data-testid="conv-chat-name"]')).toBe('团队经理 · 吴经理');
    await broker.fill('[data-testid="conv-input"]', '吴经理，华夏资产的季度回访已完成。');
    await broker.press('[data-testid="conv-input"]', 'Enter');
    await hasText(broker, '吴经理，华夏资产的季度回访已完成。');
    await expectAccessible(broker, 'broker with manager');

    // The manager's list learns of it from the unread push, with the count.
    const item = withBroker;
    await item.waitFor({ timeout: 10_000 });
    expect(await item.getAttribute('data-unread')).toBe('1');
    expect(await manager.textContent('[data-testid="nav-conversations-count"]')).toBe('1');
    await item.locator('[data-testid="conv-item"]').click();
    await hasText(manager, '吴经理，华夏资产的季度回访已完成。');
    await manager.fill('[data-testid="conv-input"]', '好的，辛苦了');
    await manager.press('[data-testid="conv-input"]', 'Enter');
    await hasText(broker, '好的，辛苦了');
    await expectAccessible(manager, 'manager with broker');
    for (const p of [m, b]) expect(p.problems).toEqual([]);
  }, 60_000);
});
