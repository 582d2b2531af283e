/**
 * Approvals of firm-wide broadcasts in real headless Chromium against an embedded app on port 0
 * (recommendations and tasks are tested in desk-*.chromium.test.ts):
 * - admin composes a broadcast on /admin/broadcast: it is not delivered but shown awaiting approval,
 *   and listed among the admin's broadcasts as pending;
 * - compliance1 approves it with a note on /compliance/approvals (home): the history shows who, when
 *   (Asia/Shanghai) and the note; client1 receives it (the channel's history); the admin's list turns
 *   to approved and links to its deliveries (/admin/deliveries), per recipient and transport;
 * - a second broadcast is rejected with a note: never delivered, history and the admin's list say so;
 * - the admin reads approvals without the approve/reject controls.
 * Server text (a title with an HTML injection) is rendered as text. Each view passes the axe check;
 * no console errors.
 */
import { describe, expect, it } from 'vitest';
import { gateChromium } from '../helpers/browser.ts';
import { expectAccessible, SHANGHAI, webSuite } from '../helpers/web-page.ts';

const hasChromium = gateChromium('the approvals browser tests');

describe.skipIf(!hasChromium)('approvals of broadcasts in Chromium', () => {
  const suite = webSuite();

  it('admin composes, it awaits approval, compliance approves with a note, the client receives it; another is rejected', async () => {
    const stamp = Date.now();
    const TITLE = `系统维护通知 <img src=x onerror=alert(1)> ${stamp}`;
    const REJECTED = `未经审核的促销公告 ${stamp}`;

    // ---- admin composes (home: /admin/broadcast) ----
    const admin = await suite.open('admin');
    const a = admin.page;
    await a.waitForURL(/\/admin\/broadcast$/);
    await a.waitForSelector('[data-testid="broadcast-form"]');
    await expectAccessible(a, 'broadcast compose');
    await a.fill('[data-testid="broadcast-title"]', TITLE);
    await a.fill('[data-testid="broadcast-body"]', '本周六 22:00–24:00 系统升级，期间暂停交易提醒。');
    await a.selectOption('[data-testid="broadcast-severity"]', 'warning');
    await a.click('[data-testid="broadcast-submit"]');
    const pending = a.locator('[data-testid="broadcast-pending"]');
    await pending.waitFor();
    expect(await pending.textContent()).toContain('等待合规审批');
    const approvalId = (await pending.getAttribute('data-approval-id'))!;
    const mine = a.locator(`[data-testid="broadcast-row"][data-approval-id="${approvalId}"]`);
    await mine.waitFor();
    expect(await mine.getAttribute('data-status')).toBe('pending');
    expect(await mine.locator('[data-testid="broadcast-status"]').textContent()).toBe('待合规审批');
    expect(await mine.locator('[data-testid="broadcast-row-title"]').textContent()).toBe(TITLE);
    expect(await a.locator('img').count()).toBe(0);
    // Not delivered yet.
    const before = await suite.web.rest('client1', 'GET', '/api/channels/firm.broadcast/history');
    expect(before.body.publications.some((p: { payload: { title: string } }) => p.payload.title === TITLE)).toBe(false);

    // A second one, to be rejected.
    await a.fill('[data-testid="broadcast-title"]', REJECTED);
    await a.click('[data-testid="broadcast-submit"]');
    await a.waitForSelector(`[data-testid="broadcast-pending"]:not([data-approval-id="${approvalId}"])`);
    const rejectedId = (await a.getAttribute('[data-testid="broadcast-pending"]', 'data-approval-id'))!;
    await a.locator(`[data-testid="broadcast-row"][data-approval-id="${rejectedId}"]`).waitFor();
    await expectAccessible(a, 'broadcast awaiting approval');

    // ---- compliance approves (home: /compliance/approvals) ----
    const cmp = await suite.open('compliance1');
    const c = cmp.page;
    await c.waitForURL(/\/compliance\/approvals$/);
    const card = c.locator(`[data-testid="approval-row"][data-approval-id="${approvalId}"]`);
    await card.waitFor();
    expect(await card.getAttribute('data-kind')).toBe('broadcast');
    expect(await card.locator('[data-testid="approval-title"]').textContent()).toBe(TITLE);
    expect(await card.locator('[data-testid="approval-requester"]').textContent()).toBe('系统管理员');
    expect(await c.locator('img').count()).toBe(0);
    await expectAccessible(c, 'approvals pending');

    await card.locator('[data-testid="approval-note"]').fill('内容已核实，同意发布');
    await card.locator('[data-testid="approval-approve"]').click();
    await card.waitFor({ state: 'detached' });
    const done = c.locator(`[data-testid="history-row"][data-approval-id="${approvalId}"]`);
    await done.waitFor();
    expect(await done.getAttribute('data-status')).toBe('approved');
    expect(await done.locator('[data-testid="history-status"]').textContent()).toBe('已批准');
    expect(await done.locator('[data-testid="history-decider"]').textContent()).toBe('赵合规');
    expect(await done.locator('[data-testid="history-note"]').textContent()).toBe('内容已核实，同意发布');
    const when = await done.locator('[data-testid="history-time"]').getAttribute('datetime');
    expect(await done.locator('[data-testid="history-time"]').textContent()).toBe(SHANGHAI.format(new Date(when!)));
    expect(Math.abs(Date.parse(when!) - Date.now())).toBeLessThan(60_000);

    // The client receives it.
    const after = await suite.web.rest('client1', 'GET', '/api/channels/firm.broadcast/history');
    const pub = after.body.publications.find((p: { payload: { title: string } }) => p.payload.title === TITLE);
    expect(pub).toBeTruthy();

    // ---- compliance rejects the other with a note ----
    const other = c.locator(`[data-testid="approval-row"][data-approval-id="${rejectedId}"]`);
    await other.locator('[data-testid="approval-note"]').fill('促销内容须经营销合规复核');
    await other.locator('[data-testid="approval-reject"]').click();
    await other.waitFor({ state: 'detached' });
    const no = c.locator(`[data-testid="history-row"][data-approval-id="${rejectedId}"]`);
    await no.waitFor();
    expect(await no.getAttribute('data-status')).toBe('rejected');
    expect(await no.locator('[data-testid="history-note"]').textContent()).toBe('促销内容须经营销合规复核');
    expect(await no.locator('[data-testid="history-decider"]').textContent()).toBe('赵合规');
    // No broadcast is left pending (the demo's held recommendation batch stays in the list).
    await expect.poll(() => c.locator('[data-testid="approval-row"][data-kind="broadcast"]').count()).toBe(0);
    await expectAccessible(c, 'approvals history');
    const never = await suite.web.rest('client1', 'GET', '/api/channels/firm.broadcast/history');
    expect(never.body.publications.some((p: { payload: { title: string } }) => p.payload.title === REJECTED)).toBe(false);

    // ---- the admin's list follows; deliveries of the approved one ----
    await a.click('[data-testid="broadcasts-refresh"]');
    await a.waitForSelector(`[data-testid="broadcast-row"][data-approval-id="${approvalId}"][data-status="approved"]`);
    expect(await a.locator(`[data-testid="broadcast-row"][data-approval-id="${rejectedId}"] [data-testid="broadcast-status"]`).textContent()).toBe('已驳回');
    await a.click(`[data-testid="broadcast-row"][data-approval-id="${approvalId}"] [data-testid="broadcast-deliveries"]`);
    await a.waitForURL(/\/admin\/deliveries\?messageId=/);
    const table = a.locator(`[data-testid="deliveries"][data-message-id="${pub.id}"]`);
    await table.waitFor();
    await a.waitForSelector('[data-testid="delivery-row"], [data-testid="deliveries-empty"]');
    const rows = a.locator('[data-testid="delivery-row"]');
    expect(await rows.count()).toBeGreaterThan(0);
    expect(await a.locator('[data-testid="delivery-row"][data-login="client1"]').count()).toBeGreaterThan(0);
    // Picked from the recent broadcasts too.
    expect(await a.locator(`[data-testid="recent-broadcast"][data-message-id="${pub.id}"]`).getAttribute('aria-pressed')).toBe('true');
    await expectAccessible(a, 'deliveries');

    // ---- the admin reads approvals, without deciding ----
    await a.click('[data-testid="nav-approvals"]');
    await a.waitForSelector(`[data-testid="history-row"][data-approval-id="${approvalId}"]`);
    expect(await a.locator('[data-testid="approval-approve"]').count()).toBe(0);
    await expectAccessible(a, 'approvals read by admin');

    expect(admin.problems).toEqual([]);
    expect(cmp.problems).toEqual([]);
  }, 120_000);
});
