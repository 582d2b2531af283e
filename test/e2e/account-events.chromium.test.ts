/**
 * 账户动态 / Account events in real headless Chromium against an embedded app: a fill ingested by the
 * trading system (REST, source key from the suite's env) appears live in client1's feed (¥ amounts,
 * A-share code and name, Beijing time) and as a badge on client1's row of broker1's workstation;
 * opening the feed clears the badge; a margin call is highlighted as urgent; broker2 (another team)
 * is refused client1's feed with the Chinese error text; accessible; an English pass.
 * Skips loudly without /usr/bin/chromium unless QIAO_REQUIRE_SERVICES=1 (then it fails).
 */
import { describe, expect, it } from 'vitest';
import { gateChromium } from '../helpers/browser.ts';
import { SHANGHAI, expectAccessible, webSuite } from '../helpers/web-page.ts';

const hasChromium = gateChromium('the account events browser test');
const KEY = 'e2e-trading-key-0123456789abcdef';
const FILL_TIME = '2026-03-02T02:15:07Z';

describe.skipIf(!hasChromium)('account events in Chromium', () => {
  const suite = webSuite({ QIAO_INGEST_SOURCES: `trading:${KEY}` });
  let seq = 0;
  const ingest = async (ev: Record<string, unknown>) => {
    const r = await suite.web.rest(null, 'POST', '/api/ingest/account-events', { id: `e2e-${++seq}`, accountNo: '310000000001', time: FILL_TIME, ...ev }, { 'x-api-key': KEY });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body as { offset: number };
  };
  const client1Id = async () => (await suite.web.rest('client1', 'GET', '/api/me')).body.id as string;

  it('a fill arrives live for the client and as a badge for the broker; opening the feed clears it; a margin call is urgent', async () => {
    const cid = await client1Id();
    const c = await suite.open('client1', '/inbox');
    const client = c.page;
    await client.click('[data-testid="nav-account-events"]');
    await client.waitForSelector('[data-testid="acct-empty"]');
    const b = await suite.open('broker1', '/conversations');
    const broker = b.page;
    const link = broker.locator(`[data-testid="acct-ws-link"][data-client="${cid}"]`);
    await link.waitFor();
    expect(await link.getAttribute('data-unseen')).toBe('0');

    await ingest({ type: 'order.filled', orderId: 'O-77', symbol: '600519.SH', side: 'buy', qty: 1200, filledQty: 1200, price: 1700.5 });
    // Live for the client (their own account.<id> channel).
    const ev = client.locator('[data-testid="acct-event"][data-kind="order"]');
    await ev.waitFor({ timeout: 10_000 });
    expect(await ev.getAttribute('data-kind')).toBe('order');
    expect(await ev.locator('[data-testid="acct-kind"]').innerText()).toBe('成交回报');
    await client.waitForFunction(() => document.querySelector('[data-testid="acct-security"]')?.textContent === '600519.SH 贵州茅台');
    expect(await ev.locator('[data-testid="acct-facts"]').innerText()).toContain('买入 1,200 股，成交价 ¥1,700.50');
    expect(await ev.locator('[data-testid="acct-time"]').innerText()).toBe(SHANGHAI.format(new Date(FILL_TIME)));
    expect(await ev.getAttribute('data-critical')).toBe('false');

    // The broker's badge on client1's row, from the account-unseen signal.
    await broker.waitForFunction((id) => document.querySelector(`[data-testid="acct-ws-link"][data-client="${id}"]`)?.getAttribute('data-unseen') === '1', cid, { timeout: 10_000 });
    expect(await link.locator('[data-testid="acct-unseen"]').innerText()).toBe('1');
    await expectAccessible(broker, 'broker workstation with an account badge');

    // Opening the feed shows the event and clears the badge (here and on the server).
    await link.click();
    await broker.waitForURL(new RegExp(`/clients/${cid}/account-events$`));
    await broker.waitForSelector('[data-testid="acct-event"][data-kind="order"]');
    expect(await broker.locator('h1').innerText()).toBe('刘女士 的账户动态');
    await expect
      .poll(async () => (await suite.web.rest('broker1', 'GET', '/api/account-events/unseen')).body.clients.find((x: { clientId: string }) => x.clientId === cid).unseen, { timeout: 5000 })
      .toBe(0);
    await expectAccessible(broker, 'broker: a client account feed');
    await broker.click('text=返回客户工作台');
    await link.waitFor();
    expect(await link.getAttribute('data-unseen')).toBe('0');

    // A margin call: highlighted as urgent for the client, with its amount and deadline in Beijing time.
    await ingest({ type: 'margin-call', amount: 1234567.8, deadline: '2026-03-03T07:00:00Z' });
    const mc = client.locator('[data-testid="acct-event"][data-kind="margin-call"]');
    await mc.waitFor({ timeout: 10_000 });
    expect(await mc.getAttribute('data-critical')).toBe('true');
    expect(await mc.locator('[data-testid="acct-critical"]').innerText()).toBe('紧急');
    expect(await mc.evaluate((el) => getComputedStyle(el).borderLeftColor)).not.toBe(await ev.evaluate((el) => getComputedStyle(el).borderLeftColor));
    const facts = await mc.locator('[data-testid="acct-facts"]').innerText();
    expect(facts).toContain('金额 ¥1,234,567.80');
    expect(facts).toContain(`截止 ${SHANGHAI.format(new Date('2026-03-03T07:00:00Z'))}`);
    // Newest first.
    expect(await client.locator('[data-testid="acct-event"]').first().getAttribute('data-kind')).toBe('margin-call');
    await broker.waitForFunction((id) => document.querySelector(`[data-testid="acct-ws-link"][data-client="${id}"]`)?.getAttribute('data-unseen') === '1', cid, { timeout: 10_000 });
    await expectAccessible(client, 'client account feed with a margin call');
    expect(c.problems).toEqual([]);
    expect(b.problems).toEqual([]);
  });

  it("refuses a broker of another team the client's feed, in Chinese", async () => {
    const cid = await client1Id();
    const o = await suite.open('broker2', `/clients/${cid}/account-events`);
    const err = o.page.locator('[data-testid="acct-error"]');
    await err.waitFor();
    expect(await err.getAttribute('data-code')).toBe('QIAO_FORBIDDEN');
    expect(await err.innerText()).toBe('无权执行该操作');
    expect(await o.page.locator('[data-testid="acct-event"]').count()).toBe(0);
    await expectAccessible(o.page, 'refused account feed');
  });

  it('English: labels, sides and amounts', async () => {
    const c = await suite.open('client1', '/account-events', 'en');
    const page = c.page;
    await page.waitForSelector('[data-testid="acct-event"][data-kind="order"]');
    expect(await page.locator('h1').innerText()).toBe('Account activity');
    expect(await page.locator('[data-testid="nav-account-events"]').innerText()).toContain('Account');
    const order = page.locator('[data-testid="acct-event"][data-kind="order"]');
    expect(await order.locator('[data-testid="acct-kind"]').innerText()).toBe('Order filled');
    expect(await order.locator('[data-testid="acct-facts"]').innerText()).toContain('Buy 1,200 shares at ¥1,700.50');
    await page.waitForFunction(() => document.querySelector('[data-kind="order"] [data-testid="acct-security"]')?.textContent === '600519.SH Kweichow Moutai');
    const mc = page.locator('[data-testid="acct-event"][data-kind="margin-call"]');
    expect(await mc.locator('[data-testid="acct-kind"]').innerText()).toBe('Margin call');
    expect(await mc.locator('[data-testid="acct-critical"]').innerText()).toBe('Urgent');
    // The page's own text is English (names of people are not translated; the feed has none).
    expect(await page.locator('[data-testid="acct-view"]').innerText()).not.toMatch(/[\u4e00-\u9fff]/);
    await expectAccessible(page, 'client account feed (English)');
    expect(c.problems).toEqual([]);
  });
});
