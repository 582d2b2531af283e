/**
 * Client import in real headless Chromium against an embedded app on port 0: the admin opens
 * /admin/import from the navigation, downloads the template (UTF-8 with BOM, Chinese headers), uploads a
 * GB18030 file with a bad row and sees the report (row, login, column, reason in Chinese), a file with
 * wrong columns and sees which, then checks and imports a good GB18030 file and sees the count and the
 * clients whose password is still to be set. Nothing of the bad files is written. The view passes the
 * axe check; no console errors.
 */
import { readFileSync } from 'node:fs';
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { gateChromium } from '../helpers/browser.ts';
import { expectAccessible, webSuite } from '../helpers/web-page.ts';

const hasChromium = gateChromium('the client import browser test');

const HEADER = '登录名,姓名,客户等级,风险等级,测评日期,测评到期,专业投资者,经纪人,邮箱,手机,初始密码';
const gbk = (...rows: string[]) => iconv.encode([HEADER, ...rows].join('\r\n') + '\r\n', 'gb18030');

describe.skipIf(!hasChromium)('client import in Chromium', () => {
  const suite = webSuite();

  it('reports the rejected rows of a GB18030 file, then imports a good one', async () => {
    const up = await suite.open('admin');
    const { page, problems } = up;
    await page.click('[data-testid="nav-admin-import"]');
    await page.waitForURL(/\/admin\/import$/);
    await page.waitForSelector('[data-testid="import-view"]');
    expect(await page.isDisabled('[data-testid="import-check"]')).toBe(true);
    await expectAccessible(page, 'import (empty)');

    // The template: made in the page, UTF-8 with BOM and the Chinese header.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="import-template-download"]')]);
    const template = readFileSync((await download.path())!);
    expect([...template.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(template.subarray(3).toString('utf8').split('\r\n')[0]).toBe(HEADER);

    // A GB18030 file with a bad row: the report, nothing written.
    await page.setInputFiles('[data-testid="import-file-input"]', {
      name: '客户-旧系统.csv',
      mimeType: 'text/csv',
      buffer: gbk(`web.ok,王小明,普通,C3,2025-03-01,,否,broker1,,13812345678,`, `web.bad,李四,超级VIP,C3,2025-03-01,,否,nobody9,,,`),
    });
    await page.click('[data-testid="import-check"]');
    await page.waitForSelector('[data-testid="import-rejected"]');
    const rows = page.locator('[data-testid="import-report-row"]');
    expect(await rows.count()).toBe(2);
    const cells = async (i: number) => (await rows.nth(i).locator('td').allTextContents()).map((s) => s.trim());
    expect(await rows.nth(0).getAttribute('data-code')).toBe('QIAO_CSV_VALUE_INVALID');
    expect((await cells(0)).slice(0, 3)).toEqual(['3', 'web.bad', '客户等级']);
    expect((await cells(0))[3]).toContain('取值格式不正确');
    expect(await rows.nth(1).getAttribute('data-code')).toBe('QIAO_CSV_BROKER_INVALID');
    expect((await cells(1)).slice(0, 3)).toEqual(['3', 'web.bad', '经纪人']);
    expect((await cells(1))[3]).toContain('nobody9');
    expect(await page.textContent('[data-testid="import-rejected"] [role="alert"]')).toContain('1 行有误（共 2 行）');
    expect(await page.isDisabled('[data-testid="import-submit"]')).toBe(true);
    await expectAccessible(page, 'import report');
    expect((await suite.web.rest('admin', 'GET', '/api/clients?q=web.')).body.clients).toEqual([]);

    // Wrong columns: which ones.
    await page.setInputFiles('[data-testid="import-file-input"]', { name: 'wrong.csv', mimeType: 'text/csv', buffer: Buffer.from('登录名,姓名,传真\r\na.b.c,x,1\r\n') });
    await page.click('[data-testid="import-check"]');
    await page.waitForSelector('[data-testid="import-error"][data-code="QIAO_CSV_COLUMNS"]');
    const columns = await page.textContent('[data-testid="import-columns-problem"]');
    expect(columns).toContain('传真');
    expect(columns).toContain('客户等级');

    // The corrected GB18030 file: checked, then imported.
    await page.setInputFiles('[data-testid="import-file-input"]', {
      name: '客户-修正.csv',
      mimeType: 'text/csv',
      buffer: gbk(`web.ok,王小明,普通,C3,2025-03-01,,否,broker1,,13812345678,`, `web.inst,"华夏资产,上海",机构,C5,2025-01-05,,是,broker1,,,Granite-Harbor-7731`),
    });
    await page.click('[data-testid="import-check"]');
    const checked = page.locator('[data-testid="import-checked"]');
    await checked.waitFor();
    expect(await checked.getAttribute('data-total')).toBe('2');
    expect(await checked.getAttribute('data-encoding')).toBe('gb18030');
    await page.click('[data-testid="import-submit"]');
    const created = page.locator('[data-testid="import-created"]');
    await created.waitFor();
    expect(await created.getAttribute('data-created')).toBe('2');
    expect(await created.textContent()).toContain('已导入 2 位客户');
    expect((await page.locator('[data-testid="import-passwords-to-set"] li').allTextContents()).map((s) => s.trim())).toEqual(['web.ok']);
    await expectAccessible(page, 'import done');

    const list = (await suite.web.rest('admin', 'GET', '/api/clients?q=web.')).body.clients;
    expect(list.map((c: { login: string; displayName: string; primaryBroker: { displayName: string } }) => [c.login, c.displayName, c.primaryBroker.displayName])).toEqual([
      ['web.inst', '华夏资产,上海', '王经纪'],
      ['web.ok', '王小明', '王经纪'],
    ]);
    expect(problems).toEqual([]);
  });
});
