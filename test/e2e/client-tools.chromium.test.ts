/**
 * The client's watchlist, price alerts and notification settings in real Chromium against a real
 * embedded app: a bad code is refused by its error code and 600519.SH is added with its name (search
 * as you type, subscribed to alerts.600519.SH on the server), an alert on a watched code arrives live;
 * price alerts are created, paused and deleted (server state checked over REST); notification
 * settings survive a reload, and the English switch shows complete English.
 */
import { describe, expect, it } from 'vitest';
import { gateChromium } from '../helpers/browser.ts';
import { expectAccessible, webSuite } from '../helpers/web-page.ts';

const hasChromium = gateChromium('the client tools browser tests');

/** Any CJK character: English pages must have none outside data (names, titles) the test excludes. */
const CJK = /[\u3400-\u9fff]/;

describe.skipIf(!hasChromium)('client watchlist, price alerts and settings in Chromium', () => {
  const suite = webSuite();

  it('watchlist: validates the code, adds 600519.SH with its name, shows its alerts live, removes it', async () => {
    const { page, problems, close } = await suite.open('client1', '/watchlist');
    await page.waitForSelector('[data-testid="watch-empty"]');

    await page.fill('[data-testid="watch-input"]', '60051');
    await page.click('[data-testid="watch-add"]');
    expect(await page.getAttribute('[data-testid="watch-error"]', 'data-code')).toBe('QIAO_SYMBOL_INVALID');
    expect(await page.textContent('[data-testid="watch-error"]')).toContain('六位数字');

    // Search as you type: the suggestion shows names in Chinese and English; picking fills the code.
    await page.fill('[data-testid="watch-input"]', '茅台');
    const opt = page.locator('[data-testid="symbol-suggestion"][data-symbol="600519.SH"]');
    await opt.waitFor();
    expect(await opt.textContent()).toContain('贵州茅台');
    expect(await opt.textContent()).toMatch(/Moutai/i);
    await expectAccessible(page, 'watchlist with suggestions');
    await opt.click();
    expect(await page.inputValue('[data-testid="watch-input"]')).toBe('600519.SH');
    await page.click('[data-testid="watch-add"]');
    const row = page.locator('[data-testid="watch-row"][data-symbol="600519.SH"]');
    await row.waitFor();
    await page.waitForFunction(() => document.querySelector('[data-symbol="600519.SH"] [data-testid="watch-name"]')?.textContent === '贵州茅台');
    const subs = (await suite.web.rest('client1', 'GET', '/api/subscriptions')).body.subscriptions.map((s: { channel: string }) => s.channel);
    expect(subs).toContain('alerts.600519.SH');

    // An alert on the watched code arrives live.
    await page.waitForTimeout(300);
    const pub = await suite.web.rest('admin', 'POST', '/api/channels/alerts.600519.SH/publications', { kind: 'alert', payload: { symbol: '600519.SH', title: '贵州茅台 盘中涨幅超 5%', severity: 'warning', event: 'price' } });
    expect(pub.status).toBe(201);
    const alert = page.locator(`[data-testid="watch-alert"][data-id="${pub.body.id}"]`);
    await alert.waitFor({ timeout: 10_000 });
    expect(await alert.locator('[data-testid="watch-alert-title"]').textContent()).toBe('贵州茅台 盘中涨幅超 5%');
    await expectAccessible(page, 'watchlist');

    await row.locator('[data-testid="watch-remove"]').click();
    await page.waitForSelector('[data-testid="watch-empty"]');
    const after = (await suite.web.rest('client1', 'GET', '/api/subscriptions')).body.subscriptions.map((s: { channel: string }) => s.channel);
    expect(after).not.toContain('alerts.600519.SH');
    expect(problems).toEqual([]);
    await close();
  }, 60_000);

  it('price alerts: create (price and percent move), refuse a bad code, pause, resume, delete', async () => {
    const { page, problems, close } = await suite.open('client1', '/alerts');
    await page.waitForSelector('[data-testid="alert-rules-empty"]');

    await page.fill('[data-testid="alert-symbol"]', '600519');
    await page.fill('[data-testid="alert-price"]', '1800');
    await page.click('[data-testid="alert-create"]');
    expect(await page.getAttribute('[data-testid="alert-error"]', 'data-code')).toBe('QIAO_SYMBOL_INVALID');

    await page.fill('[data-testid="alert-symbol"]', '600519.SH');
    await page.click('[data-testid="alert-create"]');
    const above = page.locator('[data-testid="alert-row"][data-symbol="600519.SH"]');
    await above.waitFor();
    expect(await above.locator('[data-testid="alert-condition"]').textContent()).toBe('高于 1800.00');
    expect(await above.getAttribute('data-state')).toBe('active');

    await page.fill('[data-testid="alert-symbol"]', '000858.SZ');
    await page.selectOption('[data-testid="alert-direction"]', 'move');
    await page.fill('[data-testid="alert-percent"]', '5');
    await page.fill('[data-testid="alert-base"]', '150');
    await page.check('[data-testid="alert-repeat"]');
    await page.click('[data-testid="alert-create"]');
    const move = page.locator('[data-testid="alert-row"][data-symbol="000858.SZ"]');
    await move.waitFor();
    expect(await move.locator('[data-testid="alert-condition"]').textContent()).toBe('涨跌 5%（基准 150.00）');
    const rules = (await suite.web.rest('client1', 'GET', '/api/alert-rules')).body.rules as Array<{ symbol: string; direction: string; percent: number | null; repeat: boolean; active: boolean }>;
    expect(rules.find((r) => r.symbol === '000858.SZ')).toMatchObject({ direction: 'move', percent: 5, repeat: true, active: true });
    await expectAccessible(page, 'price alerts');

    // Pause, then resume: the server's state follows.
    await above.locator('[data-testid="alert-toggle"]').click();
    await page.waitForSelector('[data-testid="alert-row"][data-symbol="600519.SH"][data-state="paused"]');
    const paused = (await suite.web.rest('client1', 'GET', '/api/alert-rules')).body.rules.find((r: { symbol: string }) => r.symbol === '600519.SH');
    expect(paused.active).toBe(false);
    expect(paused.pausedAt).not.toBeNull();
    expect(await above.locator('[data-testid="alert-state"]').textContent()).toBe('已暂停');
    await above.locator('[data-testid="alert-toggle"]').click();
    await page.waitForSelector('[data-testid="alert-row"][data-symbol="600519.SH"][data-state="active"]');

    await above.locator('[data-testid="alert-delete"]').click();
    await above.waitFor({ state: 'detached' });
    const left = (await suite.web.rest('client1', 'GET', '/api/alert-rules')).body.rules.map((r: { symbol: string }) => r.symbol);
    expect(left).toEqual(['000858.SZ']);
    expect(problems).toEqual([]);
    await close();
  }, 60_000);

  it('notification settings: email for a category and quiet hours survive a reload; English is complete', async () => {
    const { page, problems, close } = await suite.open('client27', '/settings/notifications');
    await page.waitForSelector('[data-testid="prefs-form"]');
    expect(await page.textContent('[data-testid="nav-settings"]')).toBe('通知设置');
    expect(await page.isChecked('[data-testid="pref-research-email"]')).toBe(false);
    expect(await page.locator('[data-testid="pref-research-digest"] option[value="immediate"]').textContent()).toBe('关闭');
    await page.waitForSelector('[data-testid="push-toggle"]');

    // Quiet hours must have both ends: refused here by the server's code.
    await page.fill('[data-testid="quiet-start"]', '22:00');
    await page.click('[data-testid="prefs-save"]');
    expect(await page.getAttribute('[data-testid="prefs-error"]', 'data-code')).toBe('QIAO_BAD_REQUEST');

    await page.fill('[data-testid="quiet-end"]', '07:30');
    await page.check('[data-testid="pref-research-email"]');
    await page.selectOption('[data-testid="pref-research-digest"]', 'daily');
    await page.click('[data-testid="prefs-save"]');
    await page.waitForSelector('[data-testid="prefs-saved"]');
    expect(await page.textContent('[data-testid="prefs-saved"]')).toBe('通知设置已保存');
    const got = (await suite.web.rest('client27', 'GET', '/api/preferences')).body;
    expect(got.effective.research).toMatchObject({ transports: { email: true }, digest: 'daily', quietStart: '22:00', quietEnd: '07:30' });
    expect(got.effective.alerts).toMatchObject({ quietStart: '22:00', quietEnd: '07:30' });
    await expectAccessible(page, 'notification settings');

    await page.reload();
    await page.waitForSelector('[data-testid="prefs-form"]');
    expect(await page.isChecked('[data-testid="pref-research-email"]')).toBe(true);
    expect(await page.inputValue('[data-testid="pref-research-digest"]')).toBe('daily');
    expect(await page.inputValue('[data-testid="quiet-start"]')).toBe('22:00');
    expect(await page.inputValue('[data-testid="quiet-end"]')).toBe('07:30');

    // English: every label of the client's pages, no Chinese left outside user data.
    await page.click('[data-testid="lang-toggle"]');
    expect(await page.textContent('[data-testid="nav-settings"]')).toBe('Notification settings');
    expect(await page.locator('[data-testid="pref-research-digest"] option[value="immediate"]').textContent()).toBe('Off');
    const text = async () => (await page.locator('main').innerText()) + (await page.locator('[data-testid="nav"]').innerText());
    expect(await text()).not.toMatch(CJK);
    for (const [nav, ready] of [
      ['nav-inbox', 'inbox-view'],
      ['nav-recommendations', 'recs-view'],
      ['nav-watchlist', 'watchlist-view'],
      ['nav-alerts', 'alerts-view'],
    ]) {
      await page.click(`[data-testid="${nav}"]`);
      await page.waitForSelector(`[data-testid="${ready}"]`);
      await page.waitForSelector('.loading', { state: 'detached' });
      expect(await text(), nav).not.toMatch(CJK);
    }
    await expectAccessible(page, 'price alerts in English');
    expect(problems).toEqual([]);
    await close();
  }, 60_000);
});
