/**
 * Work reminders (工作提醒) in real headless Chromium against an embedded app on port 0 (browsers in
 * Europe/London): broker1 sets a reminder about 刘女士 with a time typed in Asia/Shanghai; the test runs
 * the reminder sweep at a later `now`, and the reminder arrives live (no reload) among the due ones
 * with the navigation badge; snooze moves it back to upcoming (badge gone), and after it fires again
 * it is marked done. A time in the past shows the Chinese error text. The page passes the axe check,
 * in Chinese and in English (automatic reminders titled in English); no console errors.
 */
import { describe, expect, it } from 'vitest';
import { gateChromium } from '../helpers/browser.ts';
import { expectAccessible, SHANGHAI, webSuite } from '../helpers/web-page.ts';

const hasChromium = gateChromium('the reminders browser tests');

const shanghaiInput = (t: number) => new Date(t + 8 * 3_600_000).toISOString().slice(0, 16);

describe.skipIf(!hasChromium)('work reminders in Chromium', () => {
  const suite = webSuite({ QIAO_SERVICE_SWEEP_MS: '3600000' });
  const sweep = (at: number) => suite.web.app.qiao.sweeper!.runOnce(new Date(at));

  it('broker sets a reminder, it fires live with the badge, snooze and done; a past time is refused in Chinese', async () => {
    const client1 = (await suite.web.rest('client1', 'GET', '/api/me')).body.id as string;
    const broker = await suite.open('broker1', '/reminders');
    const b = broker.page;
    await b.waitForSelector('[data-testid="reminders-view"]');
    await b.waitForSelector(`[data-testid="reminder-client"] option[value="${client1}"]`, { state: 'attached' });
    // The seeded demo: 刘女士's assessment warning is due, two of broker1's own reminders are upcoming.
    await b.locator('[data-testid="reminders-fired"] [data-testid="reminder"][data-kind="risk_expiry"]').first().waitFor();
    await expectAccessible(b, 'reminders (broker)');

    // A time in the past: refused by the server with its stable code, shown in Chinese.
    await b.fill('[data-testid="reminder-title"]', '过去的提醒');
    await b.fill('[data-testid="reminder-due"]', shanghaiInput(Date.now() - 3_600_000));
    await b.click('[data-testid="reminder-submit"]');
    const err = b.locator('[data-testid="reminder-form-error"]');
    await err.waitFor();
    expect(await err.getAttribute('data-code')).toBe('QIAO_REMINDER_IN_PAST');
    expect(await err.textContent()).toBe('提醒时间须在将来（最多 366 天内）');

    // A real one, about 刘女士 and her conversation, due in two hours (Shanghai wall clock).
    const title = `致电刘女士 <b>${Date.now()}</b>`;
    const dueInput = shanghaiInput(Date.now() + 2 * 3_600_000);
    const dueIso = new Date(`${dueInput}:00+08:00`).toISOString();
    await b.fill('[data-testid="reminder-title"]', title);
    await b.fill('[data-testid="reminder-due"]', dueInput);
    await b.selectOption('[data-testid="reminder-client"]', client1);
    const convOption = b.locator('[data-testid="reminder-conversation"] option').nth(1);
    const conversationId = (await convOption.getAttribute('value'))!;
    await b.selectOption('[data-testid="reminder-conversation"]', conversationId);
    await b.fill('[data-testid="reminder-note"]', '确认风险测评预约');
    await b.click('[data-testid="reminder-submit"]');
    const card = b.locator('[data-testid="reminders-pending"] [data-testid="reminder"]', { hasText: title });
    await card.waitFor();
    expect(await b.inputValue('[data-testid="reminder-title"]')).toBe('');
    expect(await b.locator('b', { hasText: '致电' }).count()).toBe(0);
    expect(await card.locator('[data-testid="reminder-due-at"]').textContent()).toBe(SHANGHAI.format(new Date(dueIso)));
    expect(await card.locator('[data-testid="reminder-conversation-link"]').getAttribute('href')).toBe(`/conversations/${conversationId}`);
    expect(await card.locator('[data-testid="reminder-client-link"]').textContent()).toBe('客户：刘女士');
    const id = (await card.getAttribute('data-reminder-id'))!;

    const badge = () => b.evaluate(() => Number(document.querySelector('[data-testid="nav-reminders-count"]')?.textContent ?? 0));
    const firedNow = async () => (await suite.web.rest('broker1', 'GET', '/api/reminders?state=open')).body.counts.fired as number;
    expect(await badge()).toBe(await firedNow());

    // The sweep at a later time fires it: it moves to the due list live, and the badge counts it.
    await sweep(Date.now() + 3 * 3_600_000);
    const fired = b.locator(`[data-testid="reminders-fired"] [data-reminder-id="${id}"]`);
    await fired.waitFor();
    expect(await fired.getAttribute('data-state')).toBe('fired');
    // The badge follows (the same sweep also reminded of 刘女士's seeded unanswered question).
    const firedAfter = await firedNow();
    expect(firedAfter).toBeGreaterThanOrEqual(2);
    await b.waitForFunction((n) => Number(document.querySelector('[data-testid="nav-reminders-count"]')?.textContent ?? 0) === n, firedAfter);
    expect(await b.locator('[data-testid="reminders-fired"] [data-kind="client_waiting"]').count()).toBe(1);
    await expectAccessible(b, 'reminders (fired)');

    // Snooze 1 h: upcoming again, and the badge drops.
    await fired.locator('[data-testid="reminder-snooze-60"]').click();
    const again = b.locator(`[data-testid="reminders-pending"] [data-reminder-id="${id}"]`);
    await again.waitFor();
    expect(await again.textContent()).toContain('已推迟 1 次');
    await b.waitForFunction((n) => Number(document.querySelector('[data-testid="nav-reminders-count"]')?.textContent ?? 0) === n, firedAfter - 1);
    const row = (await suite.web.rest('broker1', 'GET', '/api/reminders?state=open')).body.reminders.find((r: { id: string }) => r.id === id);
    expect(row).toMatchObject({ state: 'pending', snoozeCount: 1 });

    // Fires again later, then done.
    await sweep(Date.now() + 5 * 3_600_000);
    await b.locator(`[data-testid="reminders-fired"] [data-reminder-id="${id}"]`).waitFor();
    await b.locator(`[data-testid="reminders-fired"] [data-reminder-id="${id}"] [data-testid="reminder-done"]`).click();
    await b.locator(`[data-testid="reminders-done"] [data-reminder-id="${id}"][data-state="done"]`).waitFor();
    expect(await b.locator(`[data-testid="reminders-done"] [data-reminder-id="${id}"] [data-testid="reminder-state"]`).textContent()).toBe('已完成');
    expect(await b.locator(`[data-testid="reminders-done"] [data-reminder-id="${id}"] [data-testid="reminder-done"]`).count()).toBe(0);
    await expectAccessible(b, 'reminders (done)');
    await b.screenshot({ path: '/tmp/qiao-reminders.png', fullPage: true });
    expect(broker.problems).toEqual([]);
  }, 120_000);

  it('in English: headings, actions and automatic reminders are English; accessible', async () => {
    const en = await suite.open('broker1', '/reminders', 'en');
    const p = en.page;
    await p.waitForSelector('[data-testid="reminders-view"]');
    expect(await p.locator('#page-title').textContent()).toBe('Work reminders');
    const auto = p.locator('[data-testid="reminder"][data-kind="risk_expiry"]').first();
    await auto.waitFor();
    expect(await auto.locator('[data-testid="reminder-title-text"]').textContent()).toMatch(/^刘女士’s risk assessment expires on \d{4}-\d{2}-\d{2}: ask them to reassess$/);
    expect(await p.locator('[data-testid="reminder-submit"]').textContent()).toBe('Set reminder');
    expect(await p.locator('[data-testid="nav-reminders"]').textContent()).toContain('Reminders');
    // No Chinese in headings, labels and buttons (but the language switch, which names 中文).
    const labels = await p.locator('h1, h2, label .field__label, button').allTextContents();
    expect(labels.filter((s) => /[\u4e00-\u9fff]/.test(s) && s.trim() !== '中文')).toEqual([]);
    await expectAccessible(p, 'reminders (English)');
    expect(en.problems).toEqual([]);
  }, 60_000);

  it('a manager has the view too; a client has no reminders entry and the API refuses', async () => {
    const m = await suite.open('manager1', '/reminders');
    await m.page.waitForSelector('[data-testid="reminders-view"]');
    await m.page.waitForSelector('[data-testid="nav-reminders"]');
    await expectAccessible(m.page, 'reminders (manager)');
    const c = await suite.open('client1', '/inbox');
    expect(await c.page.locator('[data-testid="nav-reminders"]').count()).toBe(0);
    expect((await suite.web.rest('client1', 'GET', '/api/reminders')).status).toBe(403);
    expect(m.problems).toEqual([]);
    expect(c.problems).toEqual([]);
  }, 60_000);
});
