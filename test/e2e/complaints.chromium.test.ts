/**
 * Complaints (投诉处理) in real headless Chromium against an embedded app: client1 files a complaint
 * about their conversation with broker1; the service desk (service1) sees it arrive without a reload,
 * acknowledges it and resolves it with a reply; the client sees the reply; broker1, whom it is about,
 * neither sees it in the queue nor may read it; compliance downloads the yearly report as CSV and
 * xlsx. Each view passes the axe check; an English pass checks the headings; no console errors.
 */
import { readFileSync } from 'node:fs';
import ExcelJS from 'exceljs';
import { describe, expect, it } from 'vitest';
import { gateChromium } from '../helpers/browser.ts';
import { expectAccessible, webSuite } from '../helpers/web-page.ts';

const hasChromium = gateChromium('the complaints browser tests');
const year = new Intl.DateTimeFormat('en', { timeZone: 'Asia/Shanghai', year: 'numeric' }).format(new Date());

describe.skipIf(!hasChromium)('complaints in Chromium', () => {
  const suite = webSuite();

  it('client files, service desk acknowledges and resolves live, the client sees the reply, the broker concerned does not see it, compliance downloads the report', async () => {
    const convs = await suite.web.rest('client1', 'GET', '/api/conversations');
    const conv = convs.body.conversations.find((c: { type: string; brokerId: string | null }) => c.type === 'broker_client');
    expect(conv).toBeTruthy();
    const text = `经纪人承诺今天回电却没有回复 <b>${Date.now()}</b>`;

    // The service desk's queue is open before the complaint exists.
    const desk = await suite.open('service1', '/complaints/queue');
    const s = desk.page;
    await s.waitForSelector('[data-testid="complaint-queue-view"] [data-testid="complaint-list"], [data-testid="complaint-empty"]');
    await expectAccessible(s, 'complaint queue (service desk)');

    const client = await suite.open('client1', '/complaints/new');
    const c = client.page;
    await c.waitForSelector(`[data-testid="complaint-conversation"] option[value="${conv.id}"]`, { state: 'attached' });
    await expectAccessible(c, 'file a complaint');
    await c.selectOption('[data-testid="complaint-category"]', 'service');
    await c.selectOption('[data-testid="complaint-conversation"]', conv.id);
    await c.fill('[data-testid="complaint-text"]', text);
    await c.click('[data-testid="complaint-submit"]');
    await c.waitForURL(/\/complaints\/mine\/[0-9a-f-]{36}$/);
    const id = c.url().split('/').pop()!;
    const mine = c.locator(`[data-testid="complaint-item"][data-complaint-id="${id}"]`);
    await mine.waitFor();
    expect(await mine.getAttribute('data-status')).toBe('open');
    // Text stays text.
    expect(await c.locator('[data-testid="complaint-list"] b').count()).toBe(0);
    await expectAccessible(c, 'my complaints');

    // Arrives in the desk's queue without a reload (the inbox notice reloads the list).
    const row = s.locator(`[data-testid="complaint-item"][data-complaint-id="${id}"]`);
    await row.waitFor({ timeout: 10_000 });
    await row.locator('[data-testid="complaint-open"]').click();
    const detail = s.locator(`[data-testid="complaint-detail"][data-complaint-id="${id}"]`);
    await detail.locator('[data-testid="complaint-text"]', { hasText: text }).waitFor();
    expect(await detail.locator('[data-testid="complaint-broker"]').textContent()).toBe('王经纪');
    await s.fill('[data-testid="complaint-ack-note"]', '您好，已受理，我们会在两个工作日内答复。');
    await s.click('[data-testid="complaint-acknowledge"]');
    await s.waitForSelector(`[data-testid="complaint-detail"][data-complaint-id="${id}"][data-status="acknowledged"]`);
    await s.fill('[data-testid="complaint-note-text"]', '已调取通话记录');
    await s.click('[data-testid="complaint-add-note"]');
    await detail.locator('[data-testid="complaint-event"][data-action="note"]').waitFor();
    const reply = '经核实情况属实，已安排主管回访并向您致歉。';
    await s.fill('[data-testid="complaint-reply-text"]', reply);
    await s.click('[data-testid="complaint-resolve"]');
    await s.waitForSelector(`[data-testid="complaint-detail"][data-complaint-id="${id}"][data-status="resolved"]`);
    expect(await detail.locator('[data-testid="complaint-event"]').evaluateAll((els) => els.map((e) => e.getAttribute('data-action')))).toEqual(['filed', 'acknowledged', 'note', 'resolved']);
    await expectAccessible(s, 'complaint detail (service desk)');

    // The client sees the reply (live: the resolved notice reloads the list) and not the internal note.
    await c.waitForSelector(`[data-testid="complaint-item"][data-complaint-id="${id}"][data-status="resolved"]`, { timeout: 10_000 });
    expect(await mine.locator('[data-testid="complaint-reply"]').textContent()).toContain(reply);
    await mine.locator('[data-testid="complaint-event"][data-action="resolved"]').waitFor();
    expect(await mine.locator('[data-testid="complaint-event"][data-action="note"]').count()).toBe(0);

    // The notices are in the client's inbox and lead back to the complaint.
    await c.click('[data-testid="nav-inbox"]');
    const notice = c.locator('[data-testid="inbox-row"][data-kind="complaint"]').first();
    await notice.waitFor();
    await notice.locator('[data-testid="inbox-open"]').click();
    await c.click('[data-testid="inbox-to-complaint"]');
    await c.waitForURL(new RegExp(`/complaints/mine/${id}$`));
    await mine.locator('[data-testid="complaint-reply"]').waitFor();

    // The broker it is about: not in the queue, and refused by the server.
    const broker = await suite.open('broker1', '/complaints/queue');
    const b = broker.page;
    await b.waitForSelector('[data-testid="complaint-queue-view"] [data-testid="complaint-list"], [data-testid="complaint-empty"]');
    await b.click('[data-testid="complaint-filter-all"]');
    await b.waitForSelector('[data-testid="complaint-filter-all"][aria-pressed="true"]');
    await b.waitForSelector('[data-testid="complaint-list"], [data-testid="complaint-empty"]');
    expect(await b.locator(`[data-testid="complaint-item"][data-complaint-id="${id}"]`).count()).toBe(0);
    await b.goto(`${suite.web.base}/complaints/queue/${id}`);
    await b.waitForSelector('[data-testid="complaint-detail-error"][data-code="QIAO_COMPLAINT_FORBIDDEN"]');
    expect((await suite.web.rest('broker1', 'GET', `/api/complaints/${id}`)).body.error.code).toBe('QIAO_COMPLAINT_FORBIDDEN');

    // Compliance: every complaint and the yearly report.
    const comp = await suite.open('compliance1', '/complaints/all');
    const p = comp.page;
    await p.locator(`[data-testid="complaint-item"][data-complaint-id="${id}"]`).waitFor();
    const total = p.locator('[data-testid="complaint-report-row"][data-key="total"] [data-testid="complaint-report-filed"]');
    await total.waitFor();
    const filed = (await suite.web.rest('compliance1', 'GET', `/api/complaints/report?year=${year}`)).body.totals.filed;
    expect(Number(await total.textContent())).toBe(filed);
    expect(filed).toBeGreaterThanOrEqual(1);
    await expectAccessible(p, 'complaints (compliance) with the report');
    const [csv] = await Promise.all([p.waitForEvent('download'), p.click('[data-testid="complaint-report-csv"]')]);
    expect(csv.suggestedFilename()).toBe(`complaints-${year}.csv`);
    const csvBytes = readFileSync((await csv.path())!);
    expect([...csvBytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(csvBytes.toString('utf8')).toContain('投诉数');
    const [xlsx] = await Promise.all([p.waitForEvent('download'), p.click('[data-testid="complaint-report-xlsx"]')]);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile((await xlsx.path())!);
    expect(wb.worksheets.map((w) => w.name)).toEqual(['汇总', '按类别', '按营业部', '按结果']);

    for (const up of [desk, client, broker, comp]) expect(up.problems).toEqual([]);
  });

  /** The page's own words (as the English sweep reads them) with Chinese in them. */
  const chineseChrome = async (page: import('playwright-core').Page) =>
    (await page.locator('main h1, main h2, main thead th, main .field__label, main legend, [data-testid="nav"] a, .page__hint').evaluateAll((els) => els.map((e) => (e.textContent ?? '').trim()))).filter((x) =>
      /[\u3400-\u9fff\uff00-\uffef]/.test(x),
    );

  it('reads in English', async () => {
    const comp = await suite.open('compliance1', '/complaints/all', 'en');
    const p = comp.page;
    await p.waitForSelector('[data-testid="complaint-report-table"]');
    expect(await p.locator('#page-title').textContent()).toBe('All complaints');
    expect(await p.locator('[data-testid="nav-complaints"]').textContent()).toContain('Complaints');
    expect(await p.locator('[data-testid="complaint-report"] h2').textContent()).toBe('Yearly complaint report');
    await expectAccessible(p, 'complaints (compliance, English)');
    expect(await chineseChrome(p)).toEqual([]);
    const manager = await suite.open('manager1', '/complaints/queue', 'en');
    await manager.page.waitForSelector('[data-testid="complaint-list"], [data-testid="complaint-empty"]');
    expect(await manager.page.locator('#page-title').textContent()).toBe('Complaints');
    expect(await chineseChrome(manager.page)).toEqual([]);
    await expectAccessible(manager.page, 'complaint queue (manager, English)');
    const client = await suite.open('client1', '/complaints/mine', 'en');
    const c = client.page;
    await c.waitForSelector('[data-testid="complaint-mine-view"]');
    expect(await c.locator('#page-title').textContent()).toBe('My complaints');
    expect(await c.locator('[data-testid="nav-complaint-new"]').textContent()).toContain('File a complaint');
    // Category and status labels are English too (the demo seed gives client1 a complaint).
    await c.waitForSelector('[data-testid="complaint-item"]');
    expect(await c.locator('[data-testid="complaint-status"]').first().textContent()).toMatch(/^[A-Za-z ]+$/);
    expect(await chineseChrome(c)).toEqual([]);
    await c.click('[data-testid="nav-complaint-new"]');
    await c.waitForSelector('[data-testid="complaint-form"]');
    expect(await chineseChrome(c)).toEqual([]);
    await expectAccessible(c, 'file a complaint (English)');
    for (const up of [comp, manager, client]) expect(up.problems).toEqual([]);
  });
});
