/**
 * Follow-ups (客户回访) and satisfaction surveys (满意度调查) in real headless Chromium against an
 * embedded app with the demo seed: the service desk records a follow-up (an incomplete checklist shows
 * the Chinese error, then the full one records it); after the sweep the seeded overdue follow-up shows
 * escalated in the manager's view and reaches the manager's inbox; compliance's coverage table shows
 * the API's numbers (which match a hand count) and downloads them as CSV with a BOM; the rules editor
 * refuses a bad value; client1 answers its survey from the inbox once (a second tab gets the error);
 * the broker marks a conversation resolved. axe-clean, no console errors, and an English pass.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { gateChromium } from '../helpers/browser.ts';
import { expectAccessible, webSuite } from '../helpers/web-page.ts';

const hasChromium = gateChromium('the follow-up browser tests');

async function until<T>(fn: () => Promise<T | undefined | null | false>, what: string, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const CJK = /[\u4e00-\u9fff]/;

describe.skipIf(!hasChromium)('follow-ups and surveys in Chromium', () => {
  const suite = webSuite({ QIAO_SERVICE_SWEEP_MS: '3600000' });
  const sweep = () => suite.web.app.qiao.sweeper!.runOnce(new Date());

  it('the service desk records a follow-up with the checklist; an incomplete one shows the Chinese error', async () => {
    const { page, problems } = await suite.open('service1', '/followups');
    const mine = page.locator('[data-testid="fu-mine"] [data-testid="fu-card"][data-state="open"]');
    await mine.first().waitFor();
    const card = mine.first();
    const id = (await card.getAttribute('data-id'))!;
    await expectAccessible(page, 'follow-ups (service desk)');
    await card.locator('[data-testid="fu-record-open"]').click();
    await card.locator('[data-testid="fu-outcome"]').selectOption('reached');
    for (const k of ['identityConfirmed', 'riskExplained', 'complaintChannelTold']) await card.locator(`[data-testid="fu-chk-${k}"]`).check();
    await card.locator('[data-testid="fu-notes"]').fill('已电话回访，核实身份并说明风险等级。');
    await card.locator('[data-testid="fu-record-submit"]').click();
    const err = card.locator('[data-testid="fu-record-error"]');
    await err.waitFor();
    expect(await err.getAttribute('data-code')).toBe('QIAO_FOLLOWUP_CHECKLIST_INCOMPLETE');
    expect(await err.textContent()).toBe('已联系上客户的回访须完成全部检查项：核实身份、说明风险等级与产品、未承诺收益、告知投诉渠道');
    await expectAccessible(page, 'follow-up record form with error');
    await card.locator('[data-testid="fu-chk-noReturnPromise"]').check();
    await card.locator('[data-testid="fu-record-submit"]').click();
    await page.locator(`[data-testid="fu-mine"] [data-testid="fu-card"][data-id="${id}"]`).waitFor({ state: 'detached' });
    const stored = (await suite.web.rest('service1', 'GET', `/api/followups/${id}`)).body.followup;
    expect(stored).toMatchObject({ state: 'done', outcome: 'reached', checklist: { identityConfirmed: true, riskExplained: true, noReturnPromise: true, complaintChannelTold: true } });
    expect(problems).toEqual([]);
  });

  it('an overdue follow-up shows escalated for the manager, who is told in the inbox; the manager schedules one', async () => {
    await sweep();
    const { page, problems } = await suite.open('manager1', '/followups');
    const overdue = page.locator('[data-testid="fu-scope"] [data-testid="fu-card"][data-overdue="true"]', { hasText: '周先生' });
    await overdue.first().waitFor();
    await overdue.first().locator('[data-testid="fu-escalated"]').waitFor();
    expect(await overdue.first().locator('[data-testid="fu-overdue"]').textContent()).toBe('已逾期');
    const followupId = await overdue.first().getAttribute('data-id');
    await until(async () => {
      const items = (await suite.web.rest('manager1', 'GET', '/api/inbox')).body.items as Array<{ publication: { kind: string; payload: { followupId: string; event: string } } }>;
      return items.some((i) => i.publication.kind === 'followup' && i.publication.payload.followupId === followupId && i.publication.payload.event === 'overdue');
    }, 'the overdue notice in manager1’s inbox');
    await expectAccessible(page, 'follow-ups (manager)');

    // Schedule one for 孙阿姨 by hand, to her broker.
    const form = page.locator('[data-testid="fu-schedule"]');
    await form.locator('[data-testid="fu-schedule-client"] option', { hasText: '孙阿姨' }).first().waitFor({ state: 'attached' });
    const value = await form.locator('[data-testid="fu-schedule-client"] option', { hasText: '孙阿姨' }).first().getAttribute('value');
    await form.locator('[data-testid="fu-schedule-client"]').selectOption(value!);
    await form.locator('[data-testid="fu-schedule-assign"]').selectOption('broker');
    await form.locator('[data-testid="fu-schedule-reason"]').fill('理财产品到期后回访');
    await form.locator('[data-testid="fu-schedule-submit"]').click();
    await page.locator('[data-testid="fu-scope"] [data-testid="fu-card"]', { hasText: '理财产品到期后回访' }).waitFor();
    expect(problems).toEqual([]);
  });

  it('compliance sees the coverage report with the API’s numbers (a hand count), downloads the CSV, and the rules editor refuses a bad value', async () => {
    const api = (await suite.web.rest('compliance1', 'GET', '/api/followups/coverage')).body;
    const sh = api.branches.find((b: { branchCode: string }) => b.branchCode === 'SH-LJZ');
    // Hand count from the API's own rows: SH-LJZ's completed follow-ups this year.
    const all = (await suite.web.rest('compliance1', 'GET', '/api/followups?state=done&limit=500')).body.followups as Array<{ branchId: string; checklist: Record<string, boolean> | null; doneAt: string }>;
    const year = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric' }).format(new Date());
    const mineDone = all.filter((f) => f.branchId === sh.branchId && new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric' }).format(new Date(f.doneAt)) === year);
    expect(sh.completed).toBe(mineDone.length);
    expect(sh.fullChecklist).toBe(mineDone.filter((f) => f.checklist && Object.values(f.checklist).every(Boolean)).length);
    expect(sh.annualSample.required).toBe(Math.ceil(sh.annualSample.existingClients / 10));
    expect(sh.doneByOwnBroker).toBe(0);

    const { page, problems } = await suite.open('compliance1', '/followups');
    const row = page.locator('[data-testid="fu-cov-branch"][data-branch="SH-LJZ"]');
    await row.waitFor();
    expect(await row.locator('[data-testid="fu-cov-na-opened"]').textContent()).toBe(String(sh.newAccounts.opened));
    expect(await row.locator('[data-testid="fu-cov-na-done"]').textContent()).toBe(`${sh.newAccounts.inWindow} / ${sh.newAccounts.late}`);
    expect(await row.locator('[data-testid="fu-cov-sample-done"]').textContent()).toBe(String(sh.annualSample.done));
    expect(await row.locator('[data-testid="fu-cov-checklist"]').textContent()).toContain(`(${sh.fullChecklist}/${sh.completed})`);
    expect(await row.locator('[data-testid="fu-cov-bybroker"]').textContent()).toBe('0');
    await expectAccessible(page, 'follow-up coverage (compliance)');

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="fu-csv"]')]);
    const bytes = readFileSync((await download.path())!);
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = bytes.toString('utf8');
    expect(text).toContain('SH-LJZ');
    expect(text).toContain('营业部 Branch');

    const rule = page.locator('[data-testid="fu-rule"][data-code="annual_sample"]');
    await rule.locator('[data-testid="fu-rule-percent"]').fill('150');
    await rule.locator('[data-testid="fu-rule-save"]').click();
    const err = rule.locator('[data-testid="fu-rule-error"]');
    await err.waitFor();
    expect(await err.getAttribute('data-code')).toBe('QIAO_FOLLOWUP_RULE_INVALID');
    expect(await err.textContent()).toBe('回访规则设置无效（天数 1–366，比例 1–100，须指定客户类别）');
    expect(problems).toEqual([]);
  });

  it('client1 answers its survey from the inbox once; a second tab gets the Chinese error', async () => {
    const a = await suite.open('client1', '/inbox');
    const b = await suite.open('client1', '/inbox');
    for (const { page } of [a, b]) {
      const row = page.locator('[data-testid="inbox-row"][data-kind="survey"]').first();
      await row.waitFor();
      await row.locator('[data-testid="inbox-open"]').click();
      await page.locator('[data-testid="survey-form"]').waitFor();
    }
    expect(await a.page.locator('[data-testid="survey-form"] h3').textContent()).toBe('请为 王经纪 的服务评分');
    await expectAccessible(a.page, 'survey form');
    // Without a score: asked for one, nothing sent.
    await a.page.click('[data-testid="survey-submit"]');
    await a.page.locator('[data-testid="survey-error"]').waitFor();
    await a.page.locator('[data-testid="survey-score-4"]').check();
    await a.page.fill('[data-testid="survey-comment"]', '回复及时，解释清楚。');
    await a.page.click('[data-testid="survey-submit"]');
    await a.page.locator('[data-testid="survey-done"]').waitFor();
    expect(await a.page.textContent('[data-testid="survey-score"]')).toBe('您的评分：4 分');
    await expectAccessible(a.page, 'survey answered');

    await b.page.locator('[data-testid="survey-score-1"]').check();
    await b.page.click('[data-testid="survey-submit"]');
    const err = b.page.locator('[data-testid="survey-error"]');
    await until(async () => (await err.getAttribute('data-code')) === 'QIAO_SURVEY_ANSWERED', 'the second answer refused');
    expect(await err.textContent()).toBe('该问卷已作答');
    const mine = (await suite.web.rest('client1', 'GET', '/api/surveys/mine')).body.surveys;
    expect(mine.filter((s: { score: number | null }) => s.score !== null).map((s: { score: number }) => s.score)).toEqual([4]);
    expect(a.problems).toEqual([]);
    expect(b.problems).toEqual([]);
  });

  it('the broker marks a conversation resolved', async () => {
    const convs = (await suite.web.rest('broker1', 'GET', '/api/conversations')).body.conversations as Array<{ id: string; type: string; clientId: string | null }>;
    const conv = convs.find((c) => c.type === 'broker_client')!;
    const { page, problems } = await suite.open('broker1', `/conversations/${conv.id}`);
    await page.locator('[data-testid="conv-resolve"]').click();
    await until(async () => (await page.locator('text=/对话已标记为已解决/').count()) > 0, 'the resolved notice');
    await expectAccessible(page, 'conversation with resolve');
    expect(problems).toEqual([]);
  });

  it('reads in English: headings, labels and table headers without Chinese', async () => {
    const { page, problems } = await suite.open('compliance1', '/followups', 'en');
    await page.locator('[data-testid="fu-cov-branch"]').first().waitFor();
    await page.locator('[data-testid="fu-rule"]').first().waitFor();
    expect(await page.textContent('#page-title')).toBe('Client follow-ups');
    const texts = await page.$$eval('h1, h2, h3.fu-rule__title, th[scope="col"], label, legend, button, nav a', (els) => els.map((e) => (e.textContent ?? '').trim()));
    // The language switch names the other language in that language.
    const chinese = texts.filter((x) => CJK.test(x) && x !== '中文');
    expect(chinese).toEqual([]);
    await expectAccessible(page, 'follow-ups in English');
    const m = await suite.open('service1', '/followups', 'en');
    await m.page.locator('[data-testid="fu-mine"]').waitFor();
    expect(await m.page.textContent('[data-testid="fu-mine"] h2')).toBe('My follow-ups');
    expect(problems).toEqual([]);
    expect(m.problems).toEqual([]);
  });
});
