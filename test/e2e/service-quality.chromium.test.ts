/**
 * 服务质量 / 我的服务 in real headless Chromium against an embedded app with the demo seed. A test team
 * (质量测试组, led by manager1, in manager1's branch) with two brokers gets rows at known times in June
 * 2026 (response episodes at bin edges, recommendations, a complaint, a survey) and a client waiting
 * now; manager1 picks the team and the period and sees figures matching a hand count (3 units of time
 * in zh, the hours shown said), switches to all hours, sees a client of the other broker start waiting
 * live (no reload), and downloads the CSV, whose numbers are the table's. broker1 opening that team by
 * URL sees the zh text of QIAO_SERVICE_SCOPE_FORBIDDEN and its own 我的服务. axe-clean, no console
 * errors, and an English pass over the branch roll-ups.
 * Screenshot: /tmp/qiao-service-quality.png.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/auth/password.ts';
import {
  branches,
  brokerClients,
  complaints,
  conversations,
  recommendations,
  responseEpisodes,
  surveys,
  teams,
  users,
} from '../../src/store/schema/index.ts';
import { gateChromium } from '../helpers/browser.ts';
import { DEMO_PASSWORD, expectAccessible, webSuite } from '../helpers/web-page.ts';

const hasChromium = gateChromium('the service-quality browser test');

/** A Shanghai wall-clock time: sh('2026-06-02 10:00'). */
const sh = (s: string) => new Date(s.replace(' ', 'T') + ':00+08:00');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const JUNE = 'from=2026-06-01&to=2026-06-30';

describe.skipIf(!hasChromium)('service quality in Chromium', () => {
  const suite = webSuite();
  const id: Record<string, string> = {};
  let teamQ = '';
  let branchSh = '';

  beforeAll(async () => {
    const db = suite.web.app.qiao.db.db;
    const hash = await hashPassword(DEMO_PASSWORD);
    const [m1] = await db.select().from(users).where(sql`login = 'manager1'`);
    branchSh = (await db.select().from(branches)).find((b) => b.code === 'SH-LJZ')!.id;
    const [team] = await db.insert(teams).values({ branchId: branchSh, code: 'SH-Q', name: '质量测试组', managerId: m1.id }).returning();
    teamQ = team.id;
    const base = { firmId: m1.firmId, passwordHash: hash, branchId: branchSh };
    const made = await db
      .insert(users)
      .values([
        { ...base, login: 'q-x', displayName: '甲经纪', role: 'broker', teamId: teamQ },
        { ...base, login: 'q-y', displayName: '乙经纪', role: 'broker', teamId: teamQ },
        ...['c1', 'c2', 'c3'].map((c) => ({ ...base, login: `q-${c}`, displayName: `客户${c}`, role: 'client' as const, tier: 'general' as const, riskLevel: 'C3' as const })),
      ])
      .returning();
    for (const u of made) id[u.login.slice(2)] = u.id;
    // q-x has c1 and c2, q-y has c3.
    await db.insert(brokerClients).values([
      { brokerId: id.x, clientId: id.c1, relation: 'primary' },
      { brokerId: id.x, clientId: id.c2, relation: 'primary' },
      { brokerId: id.y, clientId: id.c3, relation: 'primary' },
    ]);
    // c1 has waited 2 hours now and was answered yesterday (contacted in 30 days); c2 never contacted.
    const [conv] = await db
      .insert(conversations)
      .values({ type: 'broker_client', brokerId: id.x, clientId: id.c1, waitingKnown: true, waitingSince: new Date(Date.now() - 2 * HOUR), lastStaffChatAt: new Date(Date.now() - DAY) })
      .returning();
    const ep = (broker: 'x' | 'y', at: string, trading: number, all: number) => ({
      conversationId: conv.id,
      brokerId: id[broker],
      clientId: id.c1,
      answeredBy: id[broker],
      teamId: teamQ,
      branchId: branchSh,
      waitingSince: new Date(sh(at).getTime() - all * 1000),
      answeredAt: sh(at),
      allSeconds: all,
      tradingSeconds: trading,
    });
    // Waits at bin edges, so p50/p90 are the waits themselves.
    await db.insert(responseEpisodes).values([
      ep('x', '2026-06-02 10:00', 30, 30),
      ep('x', '2026-06-02 14:00', 90, 90),
      ep('x', '2026-06-03 10:00', 5400, 5400),
      ep('x', '2026-06-09 10:00', 600, 7200), // waited over lunch and the night: 10 min of trading time
      ep('y', '2026-06-15 10:00', 45, 45),
      ep('x', '2026-07-01 10:00', 10, 10), // after the period
    ]);
    const rec = (broker: 'x' | 'y', at: string, status: 'delivered' | 'refused') => ({
      batchId: randomUUID(),
      brokerId: id[broker],
      clientId: id.c1,
      security: '600519.SH',
      productRisk: 'R2' as const,
      rationale: '测试',
      status,
      createdAt: sh(at),
    });
    await db.insert(recommendations).values([rec('x', '2026-06-04 10:00', 'delivered'), rec('x', '2026-06-04 10:01', 'delivered'), rec('x', '2026-06-05 10:00', 'refused'), rec('y', '2026-06-16 10:00', 'refused')]);
    await db.insert(complaints).values({ firmId: m1.firmId, branchId: branchSh, clientId: id.c1, brokerId: id.x, category: 'service', text: '回复太慢', ackDueAt: sh('2026-06-08 10:00'), resolveDueAt: sh('2026-06-08 10:00'), createdAt: sh('2026-06-08 10:00') });
    await db.insert(surveys).values({ conversationId: conv.id, clientId: id.c1, brokerId: id.x, trigger: 'quiet', atOffset: 1, sentAt: sh('2026-06-01 09:00'), score: 4, answeredAt: sh('2026-06-06 10:00') });
  }, 60_000);

  it('manager1 sees the hand count, a client starting to wait live, and a CSV with the table’s numbers', async () => {
    const { page, problems } = await suite.open('manager1', '/service');
    expect(await page.textContent('[data-testid="nav-service"]')).toContain('服务质量');
    // Opens on manager1's first team (SH-A); pick the test team, then June.
    await page.locator('[data-testid="sq-status"][data-scope="team"]').waitFor();
    const scopeValue = `team:${teamQ}`;
    await page.locator(`[data-testid="sq-scope"] option[value="${scopeValue}"]`).waitFor({ state: 'attached' });
    expect(await page.locator(`[data-testid="sq-scope"] option[value="${scopeValue}"]`).textContent()).toBe('团队：质量测试组');
    await page.selectOption('[data-testid="sq-scope"]', scopeValue);
    await page.locator(`[data-testid="sq-status"][data-id="${teamQ}"]`).waitFor();
    await page.fill('[data-testid="sq-from"]', '2026-06-01');
    await page.fill('[data-testid="sq-to"]', '2026-06-30');
    await page.waitForURL((u) => u.search.includes('from=2026-06-01') && u.search.includes('to=2026-06-30'));
    await page.locator('[data-testid="sq-status"]', { hasText: '2026-06-01 至 2026-06-30' }).waitFor();
    expect(await page.textContent('[data-testid="sq-hours-shown"]')).toBe('首次响应时间只计交易时段（交易日 9:30–11:30、13:00–15:00）');
    expect(await page.textContent('[data-testid="sq-scope-name"]')).toBe('质量测试组');

    const row = (b: string) => page.locator(`[data-testid="sq-broker-row"][data-broker="${id[b]}"]`);
    const cell = (b: string, k: string) => row(b).locator(`[data-testid="sq-${k}"]`);
    expect(await page.locator('[data-testid="sq-broker-row"]').count()).toBe(2);
    // 甲经纪: trading waits 30, 90, 600, 5400 in June → p50 = 2nd = 90 s, p90 = 4th = 5400 s.
    expect(await cell('x', 'answered').textContent()).toBe('4');
    expect(await cell('x', 'p50').textContent()).toBe('1分30秒');
    expect(await cell('x', 'p90').textContent()).toBe('1小时30分');
    expect(await cell('x', 'waiting').textContent()).toBe('1');
    expect(await cell('x', 'oldest-name').textContent()).toBe('客户c1');
    expect(await cell('x', 'oldest-wait').textContent()).toMatch(/^已等待 (1小时5\d分|2小时(\d分)?)$/);
    expect(await cell('x', 'coverage').getAttribute('data-value')).toBe('50');
    expect(await cell('x', 'coverage').textContent()).toBe('50% 1/2');
    expect(await cell('x', 'recsSent').textContent()).toBe('2');
    expect(await cell('x', 'recsRefused').textContent()).toBe('1');
    expect(await cell('x', 'complaints').textContent()).toBe('1');
    expect(await cell('x', 'surveyAvg').textContent()).toBe('4');
    expect(await cell('x', 'surveys').textContent()).toBe('1');
    // 乙经纪: one wait of 45 s; nobody waiting; one refusal; c3 never contacted.
    expect(await cell('y', 'answered').textContent()).toBe('1');
    expect(await cell('y', 'p50').textContent()).toBe('45秒');
    expect(await cell('y', 'p90').textContent()).toBe('45秒');
    expect(await cell('y', 'waiting').textContent()).toBe('0');
    expect(await cell('y', 'oldest').textContent()).toBe('无');
    expect(await cell('y', 'coverage').textContent()).toBe('0% 0/1');
    expect(await cell('y', 'recsRefused').textContent()).toBe('1');
    // The team: waits 30 45 90 600 5400 → p50 = 3rd = 90 s, p90 = 5th = 5400 s.
    const total = page.locator('[data-testid="sq-total-row"]');
    expect(await total.locator('[data-testid="sq-answered"]').textContent()).toBe('5');
    expect(await total.locator('[data-testid="sq-p50"]').textContent()).toBe('1分30秒');
    expect(await total.locator('[data-testid="sq-p90"]').textContent()).toBe('1小时30分');
    expect(await total.locator('[data-testid="sq-recsRefused"]').textContent()).toBe('2');
    // The trend's table: the day of 2 June had two answers, 30 s and 90 s.
    const june2 = page.locator('[data-testid="sq-trend-row"][data-bucket="2026-06-02"]');
    expect(await june2.locator('[data-testid="sq-answered"]').textContent()).toBe('2');
    expect(await june2.locator('[data-testid="sq-p90"]').textContent()).toBe('1分30秒');
    expect(await page.locator('[data-testid="sq-trend-row"]').count()).toBe(30);
    expect(await page.getAttribute('[data-testid="sq-trend-chart"] canvas', 'aria-label')).toContain('折线图');
    expect(await page.locator(`[data-testid="sq-bars-row"][data-broker="${id.y}"] [data-testid="sq-recsRefused"]`).textContent()).toBe('1');
    await expectAccessible(page, 'service quality (manager, team)');

    // All hours: 甲经纪's wait over lunch and the night counts 2 hours.
    await page.selectOption('[data-testid="sq-hours"]', 'all');
    await page.locator('[data-testid="sq-status"][data-hours="all"]').waitFor();
    expect(await page.textContent('[data-testid="sq-hours-shown"]')).toBe('首次响应时间按全部时段（全天）计算');
    await page.locator('[data-testid="sq-broker-row"] [data-testid="sq-p90"]', { hasText: '2小时' }).waitFor();
    expect(await cell('x', 'p90').getAttribute('data-value')).toBe('7200');
    expect(page.url()).toContain('hours=all');

    // c3 writes to 乙经纪: the view updates live, without a reload.
    await page.evaluate(() => ((window as unknown as { __kept: number }).__kept = 42));
    const before = await page.getAttribute('[data-testid="sq-report"]', 'data-generated');
    const opened = await suite.web.rest('q-c3', 'POST', '/api/conversations', { type: 'broker_client' });
    expect(opened.status).toBe(201);
    const sent = await suite.web.rest('q-c3', 'POST', `/api/conversations/${opened.body.conversation.id}/messages`, { kind: 'chat', payload: { text: '请问新股申购的额度怎么算？' } });
    expect(sent.status).toBe(201);
    await cell('y', 'oldest-name').waitFor({ timeout: 10_000 });
    expect(await cell('y', 'oldest-name').textContent()).toBe('客户c3');
    expect(await cell('y', 'waiting').textContent()).toBe('1');
    expect(await cell('y', 'oldest-wait').textContent()).toMatch(/^已等待 \d+秒$/);
    expect(await total.locator('[data-testid="sq-waiting"]').textContent()).toBe('2');
    expect(await page.getAttribute('[data-testid="sq-report"]', 'data-generated')).not.toBe(before);
    expect(await page.evaluate(() => (window as unknown as { __kept?: number }).__kept)).toBe(42);

    // The CSV: BOM, and each broker's and the total's numbers are the table's.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="sq-csv"]')]);
    expect(download.suggestedFilename()).toBe('service-quality-team-2026-06-01-2026-06-30.csv');
    const bytes = readFileSync((await download.path())!);
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const lines = parse(bytes.toString('utf8').replace(/^\uFEFF/, '')) as string[][];
    const head = lines[0];
    const col = (name: string) => head.findIndex((h) => h.endsWith(name));
    const KEYS: Array<[string, string]> = [
      ['Answered', 'answered'],
      ['First response p50 (s)', 'p50'],
      ['First response p90 (s)', 'p90'],
      ['Recommendations sent', 'recsSent'],
      ['Refused by suitability', 'recsRefused'],
      ['Held for approval', 'recsHeld'],
      ['Tasks on time', 'tasksOnTime'],
      ['Tasks overdue', 'tasksOverdue'],
      ['Follow-ups done', 'followupsDone'],
      ['Follow-ups overdue', 'followupsOverdue'],
      ['Complaints', 'complaints'],
      ['Surveys answered', 'surveys'],
      ['Average score', 'surveyAvg'],
      ['Waiting clients', 'waiting'],
      ['Coverage %', 'coverage'],
    ];
    for (const [, k] of KEYS) expect(head.some((h) => h.endsWith(KEYS.find((x) => x[1] === k)![0])), k).toBe(true);
    const brokerLines = lines.filter((l) => l[0] === '经纪人 broker');
    expect(brokerLines.map((l) => l[1]).sort()).toEqual(['乙经纪', '甲经纪']);
    for (const l of brokerLines) {
      const b = l[1] === '甲经纪' ? 'x' : 'y';
      for (const [h, k] of KEYS) expect(l[col(h)], `${l[1]} ${k}`).toBe(await cell(b, k).getAttribute('data-value'));
      expect(l[col('Hours')]).toBe('全天 all');
    }
    expect(brokerLines.find((l) => l[1] === '乙经纪')![col('Oldest waiting client')]).toBe('客户c3');
    const totalLine = lines.find((l) => l[0] === '合计 total')!;
    for (const [h, k] of KEYS) expect(totalLine[col(h)], `total ${k}`).toBe(await total.locator(`[data-testid="sq-${k}"]`).getAttribute('data-value'));
    await page.screenshot({ path: '/tmp/qiao-service-quality.png', fullPage: true });
    expect(problems).toEqual([]);
  }, 90_000);

  it('broker1 may not open another team by URL (the zh error), and sees its own figures', async () => {
    const { page, problems } = await suite.open('broker1', `/service?scope=team&id=${teamQ}&${JUNE}`);
    const err = page.locator('[data-testid="sq-error"]');
    await err.waitFor();
    expect(await err.getAttribute('data-code')).toBe('QIAO_SERVICE_SCOPE_FORBIDDEN');
    expect(await err.textContent()).toBe('您无权查看该经纪人、团队或营业部的服务数据');
    expect(await page.locator('[data-testid="sq-broker-row"]').count()).toBe(0);
    expect(await page.textContent('h1')).toBe('我的服务');
    await expectAccessible(page, 'service quality (forbidden)');

    await page.click('[data-testid="nav-service"]');
    await page.locator('[data-testid="sq-status"][data-scope="broker"]').waitFor();
    const me = (await suite.web.rest('broker1', 'GET', '/api/me')).body;
    expect(await page.locator('[data-testid="sq-broker-row"]').count()).toBe(1);
    expect(await page.getAttribute('[data-testid="sq-broker-row"]', 'data-broker')).toBe(me.id);
    // Its own figures are the API's.
    const api = (await suite.web.rest('broker1', 'GET', '/api/service/quality')).body;
    expect(await page.textContent('[data-testid="sq-broker-row"] [data-testid="sq-waiting"]')).toBe(String(api.brokers[0].waiting));
    expect(await page.textContent('[data-testid="sq-broker-row"] [data-testid="sq-answered"]')).toBe(String(api.brokers[0].answered));
    expect(await page.locator('[data-testid="sq-scope"]').count()).toBe(0);
    await expectAccessible(page, 'my service (broker)');
    expect(problems).toEqual([]);
  }, 60_000);

  it('in English: the branch with its team roll-ups, durations and hours in English', async () => {
    const { page, problems } = await suite.open('manager1', `/service?scope=branch&id=${branchSh}&${JUNE}&bucket=week`, 'en');
    await page.locator(`[data-testid="sq-status"][data-id="${branchSh}"]`).waitFor();
    expect(await page.textContent('h1')).toBe('Service quality');
    expect(await page.textContent('[data-testid="sq-hours-shown"]')).toBe('First-response times count trading hours only (trading days 9:30–11:30, 13:00–15:00)');
    const teamRow = page.locator(`[data-testid="sq-rollup-row"][data-kind="team"][data-id="${teamQ}"]`);
    expect(await teamRow.locator('[data-testid="sq-answered"]').textContent()).toBe('5');
    expect(await teamRow.locator('[data-testid="sq-p50"]').textContent()).toBe('1 min 30 s');
    expect(await teamRow.locator('[data-testid="sq-p90"]').textContent()).toBe('1 h 30 min');
    // Weekly buckets start on Mondays: 2026-06-01 is one.
    expect(await page.locator('[data-testid="sq-trend-row"]').first().getAttribute('data-bucket')).toBe('2026-06-01');
    expect(await page.locator('[data-testid="sq-trend-row"]').count()).toBe(5);
    const x = page.locator(`[data-testid="sq-broker-row"][data-broker="${id.x}"]`);
    expect(await x.locator('[data-testid="sq-p90"]').textContent()).toBe('1 h 30 min');
    expect(await x.locator('[data-testid="sq-oldest-wait"]').textContent()).toMatch(/^waiting (1 h 5\d min|2 h( \d+ min)?)$/);
    await expectAccessible(page, 'service quality (en, branch)');

    // A broker's name opens that broker's own figures, keeping the period and bucket.
    await x.locator('[data-testid="sq-broker-name"] a').click();
    await page.locator(`[data-testid="sq-status"][data-scope="broker"][data-id="${id.x}"]`).waitFor();
    expect(page.url()).toContain('bucket=week');
    expect(await page.locator('[data-testid="sq-broker-row"]').count()).toBe(1);
    expect(await page.locator('[data-testid="sq-broker-row"] [data-testid="sq-answered"]').textContent()).toBe('4');
    expect(await page.locator('[data-testid="sq-scope"] option:checked').textContent()).toBe('Broker: 甲经纪');
    expect(problems).toEqual([]);
  }, 60_000);
});
