/**
 * Service-quality dashboards (embedded hub; src/service/quality.ts, docs/service.md): rows inserted at
 * known times for a test team, and every figure — first-response p50/p90 in trading and all hours,
 * answers, recommendations, tasks, follow-ups, complaints, surveys, waiting clients and coverage —
 * asserted against a hand count, per broker, for the team and per bucket (day, week, month, a partial
 * month); the CSV carries the same numbers as the JSON. A chat through the API records its response
 * episode and rollups (equal to a rebuild from the episodes) and signals the manager live.
 * Authorisation by role and scope, and bad input, with their stable codes.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/auth/password.ts';
import { tradingSecondsBetween } from '../../src/domain/trading-sessions.ts';
import { rebuildResponseRollups } from '../../src/service/quality-rollups.ts';
import { rows } from '../../src/store/db.ts';
import {
  approvals,
  branches,
  brokerClients,
  complaints,
  conversations,
  followups,
  recommendations,
  responseEpisodes,
  surveys,
  taskAssignments,
  tasks,
  teams,
  users,
} from '../../src/store/schema/index.ts';
import { DEMO_PASSWORD, WsTestClient, eventually, startEmbeddedApp, type TestApp } from '../helpers/app.ts';

/** A Shanghai wall-clock time: sh('2026-06-02 10:00'). */
const sh = (s: string) => new Date(s.replace(' ', 'T') + (s.length === 16 ? ':00' : '') + '+08:00');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const isWaiting = (f: { t: string }) => f.t === 'signal' && (f as { kind?: string }).kind === 'waiting';

describe('service quality (embedded)', () => {
  let t: TestApp;
  const tok: Record<string, string> = {};
  const id: Record<string, string> = {};
  let firmId: string;
  let teamT: string;
  let teamA: string;
  let teamB: string;
  let branchSh: string;
  let branchBj: string;
  const db = () => t.app.qiao.db.db;

  const get = (login: string | null, query: string, path = '/api/service/quality') =>
    t.request('GET', `${path}${query}`, { token: login ? tok[login] : undefined });
  const ok = async (login: string, query: string) => {
    const r = await get(login, query);
    expect(r.status, r.text).toBe(200);
    return r.body;
  };
  const row = (body: any, brokerLogin: string) => body.brokers.find((b: { id: string }) => b.id === id[brokerLogin]);

  beforeAll(async () => {
    t = await startEmbeddedApp({ QIAO_EMBEDDED_WORKERS: 'false' });
    const hash = await hashPassword(DEMO_PASSWORD);
    const [firm] = await db().select().from(users).where(sql`login = 'broker1'`);
    firmId = firm.firmId;
    const allBranches = await db().select().from(branches);
    branchSh = allBranches.find((b) => b.code === 'SH-LJZ')!.id;
    branchBj = allBranches.find((b) => b.code === 'BJ-JRJ')!.id;
    const allTeams = await db().select().from(teams);
    teamA = allTeams.find((x) => x.code === 'SH-A')!.id;
    teamB = allTeams.find((x) => x.code === 'BJ-B')!.id;

    // A test team in SH-LJZ: manager svc-m, brokers svc-x and svc-y, svc-w (left, with a complaint) and
    // svc-z (left, nothing); clients c1–c3 of svc-x, c4 of svc-y (shared with svc-x), c9 of broker1.
    const [team] = await db().insert(teams).values({ branchId: branchSh, code: 'SH-T', name: '测试组' }).returning();
    teamT = team.id;
    const base = { firmId, passwordHash: hash, branchId: branchSh };
    const staff = await db()
      .insert(users)
      .values([
        { ...base, login: 'svc-m', displayName: '测试经理', role: 'manager', teamId: teamT },
        { ...base, login: 'svc-x', displayName: '甲经纪', role: 'broker', teamId: teamT },
        { ...base, login: 'svc-y', displayName: '乙经纪', role: 'broker', teamId: teamT },
        { ...base, login: 'svc-w', displayName: '丙经纪', role: 'broker', teamId: teamT, active: false },
        { ...base, login: 'svc-z', displayName: '丁经纪', role: 'broker', teamId: teamT, active: false },
        ...['c1', 'c2', 'c3', 'c4', 'c9'].map((c) => ({ ...base, login: `svc-${c}`, displayName: `客户${c}`, role: 'client' as const, tier: 'general' as const, riskLevel: 'C3' as const })),
      ])
      .returning();
    for (const s of staff) id[s.login.replace(/^svc-/, '')] = s.id;
    await db().update(teams).set({ managerId: id.m }).where(sql`id = ${teamT}`);
    await db()
      .insert(brokerClients)
      .values([
        { brokerId: id.x, clientId: id.c1, relation: 'primary' },
        { brokerId: id.x, clientId: id.c2, relation: 'primary' },
        { brokerId: id.x, clientId: id.c3, relation: 'primary' },
        { brokerId: id.y, clientId: id.c4, relation: 'primary' },
        { brokerId: id.x, clientId: id.c4, relation: 'shared_read' },
      ]);
    for (const l of ['broker1', 'broker2', 'manager1', 'manager2', 'client1', 'research1', 'compliance1', 'admin', 'svc-m', 'svc-x']) {
      const r = await t.login(l);
      tok[l] = r.token;
      id[l] = r.user.id;
    }
    const [b1] = await db().select().from(users).where(sql`login = 'broker1'`);
    await db().insert(brokerClients).values({ brokerId: b1.id, clientId: id.c9, relation: 'primary' });

    // Response episodes (June 2026), seconds at bin edges so p50/p90 are the values themselves.
    const ep = (broker: string, at: string, trading: number, all: number) => ({
      conversationId: convOf(broker),
      brokerId: id[broker],
      clientId: id.c1,
      answeredBy: id[broker],
      teamId: teamT,
      branchId: branchSh,
      waitingSince: new Date(sh(at).getTime() - all * 1000),
      answeredAt: sh(at),
      allSeconds: all,
      tradingSeconds: trading,
    });
    const convs = await db()
      .insert(conversations)
      .values([
        // svc-x: c1 waits 2 h (oldest) and was contacted yesterday; c2 waits 10 min, never contacted; c3 last contacted 40 days ago.
        { type: 'broker_client', brokerId: id.x, clientId: id.c1, waitingKnown: true, waitingSince: new Date(Date.now() - 2 * HOUR), lastStaffChatAt: new Date(Date.now() - DAY) },
        { type: 'broker_client', brokerId: id.x, clientId: id.c2, waitingKnown: true, waitingSince: new Date(Date.now() - 10 * 60_000) },
        { type: 'broker_client', brokerId: id.x, clientId: id.c3, waitingKnown: true, lastStaffChatAt: new Date(Date.now() - 40 * DAY) },
        // svc-y: c4 contacted 5 days ago, not waiting.
        { type: 'broker_client', brokerId: id.y, clientId: id.c4, waitingKnown: true, lastStaffChatAt: new Date(Date.now() - 5 * DAY) },
      ])
      .returning();
    const convByBroker = new Map(convs.map((c) => [c.brokerId === id.x ? 'x' : 'y', c.id]));
    const convOf = (b: string) => convByBroker.get(b === 'y' ? 'y' : 'x')!;
    await db()
      .insert(responseEpisodes)
      .values([
        ep('x', '2026-05-31 23:59:59', 9, 9), // before the period
        ep('x', '2026-06-02 10:00', 0, 20),
        ep('x', '2026-06-02 11:00', 10, 10),
        ep('x', '2026-06-02 14:00', 30, 30),
        ep('x', '2026-06-02 14:30', 60, 60),
        ep('x', '2026-06-09 10:00', 60, 90),
        ep('x', '2026-06-09 10:30', 300, 300),
        ep('x', '2026-06-09 11:00', 600, 600),
        ep('x', '2026-06-09 13:30', 1800, 1800),
        ep('x', '2026-06-09 14:30', 3600, 3600),
        ep('x', '2026-06-30 23:59', 7200, 86_400), // the last minute of the period
        ep('y', '2026-06-15 10:00', 45, 45),
        ep('y', '2026-06-15 13:00', 120, 120),
      ]);
    await rebuildResponseRollups(db());

    // Recommendations: svc-x 3 delivered (one after approval), 1 sending, 2 refused, 1 pending and 1
    // rejected approval; one in July; svc-y 1 delivered.
    const [ap] = await db().insert(approvals).values({ kind: 'recommendation', requestedBy: id.x, payload: {} }).returning();
    const rec = (broker: string, at: string, status: 'sending' | 'delivered' | 'refused' | 'pending_approval' | 'rejected', held = false) => ({
      batchId: randomUUID(),
      brokerId: id[broker],
      clientId: id.c1,
      security: '600519.SH',
      productRisk: 'R2' as const,
      rationale: '测试',
      status,
      approvalId: held ? ap.id : null,
      createdAt: sh(at),
    });
    await db()
      .insert(recommendations)
      .values([
        rec('x', '2026-06-03 10:00', 'delivered'),
        rec('x', '2026-06-03 10:01', 'delivered'),
        rec('x', '2026-06-03 10:02', 'delivered', true),
        rec('x', '2026-06-03 10:03', 'sending'),
        rec('x', '2026-06-04 10:00', 'refused'),
        rec('x', '2026-06-04 10:01', 'refused'),
        rec('x', '2026-06-10 10:00', 'pending_approval', true),
        rec('x', '2026-06-10 10:01', 'rejected', true),
        rec('x', '2026-07-01 00:00', 'delivered'),
        rec('y', '2026-06-16 09:00', 'delivered'),
      ]);

    // Tasks: due 06-10 (svc-x done before, svc-y done after), due 06-20 (neither done), due 07-05
    // (outside), due in two days (svc-x, open: neither on time nor overdue yet).
    const [mgr] = await db().select().from(users).where(sql`login = 'svc-m'`);
    const task = async (title: string, due: Date) => (await db().insert(tasks).values({ managerId: mgr.id, title, dueAt: due }).returning())[0].id;
    const t1 = await task('六月客户回访', sh('2026-06-10 10:00'));
    const t2 = await task('两融风险排查', sh('2026-06-20 17:00'));
    const t3 = await task('七月计划', sh('2026-07-05 17:00'));
    const t4 = await task('下周例会准备', new Date(Date.now() + 2 * DAY));
    await db()
      .insert(taskAssignments)
      .values([
        { taskId: t1, brokerId: id.x, state: 'done', doneAt: sh('2026-06-10 09:00') },
        { taskId: t1, brokerId: id.y, state: 'done', doneAt: sh('2026-06-11 09:00') },
        { taskId: t2, brokerId: id.x, state: 'read' },
        { taskId: t2, brokerId: id.y, state: 'accepted' },
        { taskId: t3, brokerId: id.x },
        { taskId: t4, brokerId: id.x },
      ]);

    // Follow-ups of their clients: svc-x 2 done, 1 open past due, 1 cancelled; svc-y 1 done, 1 open past due.
    const fu = (broker: string, due: string, state: 'open' | 'done' | 'cancelled') => ({ firmId, clientId: id.c1, brokerId: id[broker], branchId: branchSh, teamId: teamT, dueAt: sh(due), state });
    await db()
      .insert(followups)
      .values([fu('x', '2026-06-05 17:00', 'done'), fu('x', '2026-06-12 17:00', 'done'), fu('x', '2026-06-19 17:00', 'open'), fu('x', '2026-06-19 17:00', 'cancelled'), fu('y', '2026-06-05 17:00', 'done'), fu('y', '2026-06-26 17:00', 'open')]);

    // Complaints: svc-x 2 in June and 1 in July; svc-w (left) 1 in June.
    const cp = (broker: string, at: string) => ({ firmId, branchId: branchSh, clientId: id.c1, brokerId: id[broker], category: 'service' as const, text: '回复太慢', ackDueAt: sh(at), resolveDueAt: sh(at), createdAt: sh(at) });
    await db().insert(complaints).values([cp('x', '2026-06-08 10:00'), cp('x', '2026-06-22 10:00'), cp('x', '2026-07-02 10:00'), cp('w', '2026-06-15 10:00')]);

    // Surveys: svc-x answered 5, 4, 3 and one unanswered; svc-y answered 2.
    const sv = (broker: string, offset: number, score: number | null, answered: string | null) => ({
      conversationId: convOf(broker),
      clientId: id.c1,
      brokerId: id[broker],
      trigger: 'quiet' as const,
      atOffset: offset,
      sentAt: sh('2026-06-01 09:00'),
      score,
      answeredAt: answered ? sh(answered) : null,
    });
    await db().insert(surveys).values([sv('x', 1, 5, '2026-06-06 10:00'), sv('x', 2, 4, '2026-06-13 10:00'), sv('x', 3, 3, '2026-06-20 10:00'), sv('x', 4, null, null), sv('y', 1, 2, '2026-06-27 10:00')]);
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  const JUNE = '?scope=team&from=2026-06-01&to=2026-06-30';

  it('a manager sees each broker of its team with every figure matching a hand count', async () => {
    const r = await ok('svc-m', `${JUNE}&id=${teamT}`);
    expect(r.scope).toEqual({ kind: 'team', id: teamT, name: '测试组' });
    expect(r.period).toEqual({ from: '2026-06-01', to: '2026-06-30', bucket: 'day', hours: 'trading' });
    // svc-z left and has nothing: not listed; svc-w left but has a complaint.
    expect(r.brokers.map((b: { name: string }) => b.name).sort()).toEqual(['丙经纪', '乙经纪', '甲经纪']);
    // svc-x trading seconds sorted: 0 10 30 60 60 300 600 1800 3600 7200 → p50 = 5th = 60, p90 = 9th = 3600.
    expect(row(r, 'x')).toMatchObject({
      name: '甲经纪',
      active: true,
      teamId: teamT,
      teamName: '测试组',
      branchId: branchSh,
      answered: 10,
      p50: 60,
      p90: 3600,
      recsSent: 4,
      recsRefused: 2,
      recsHeld: 3,
      tasksOnTime: 1,
      tasksOverdue: 1,
      followupsDone: 2,
      followupsOverdue: 1,
      complaints: 2,
      surveys: 3,
      surveyAvg: 4,
      waiting: 2,
      book: 3,
      contacted: 1,
      coverage: 33.3,
    });
    expect(row(r, 'x').oldestWaiting).toEqual({ clientId: id.c1, displayName: '客户c1', since: expect.any(String) });
    // svc-y: 45 and 120 → p50 = 1st = 45, p90 = 2nd = 120.
    expect(row(r, 'y')).toMatchObject({
      answered: 2,
      p50: 45,
      p90: 120,
      recsSent: 1,
      recsRefused: 0,
      recsHeld: 0,
      tasksOnTime: 0,
      tasksOverdue: 2,
      followupsDone: 1,
      followupsOverdue: 1,
      complaints: 0,
      surveys: 1,
      surveyAvg: 2,
      waiting: 0,
      oldestWaiting: null,
      book: 1,
      contacted: 1,
      coverage: 100,
    });
    expect(row(r, 'w')).toMatchObject({ active: false, complaints: 1, answered: 0, p50: null, p90: null, book: 0, coverage: null, surveyAvg: null });
    // The team: 12 answers 0 10 30 45 60 60 120 300 600 1800 3600 7200 → p50 = 6th = 60, p90 = 11th = 3600.
    const team = {
      brokers: 3,
      answered: 12,
      p50: 60,
      p90: 3600,
      recsSent: 5,
      recsRefused: 2,
      recsHeld: 3,
      tasksOnTime: 1,
      tasksOverdue: 3,
      followupsDone: 3,
      followupsOverdue: 2,
      complaints: 3,
      surveys: 4,
      surveyAvg: 3.5,
      waiting: 2,
      book: 4,
      contacted: 2,
      coverage: 50,
    };
    expect(r.total).toMatchObject({ id: teamT, name: '测试组', ...team });
    expect(r.teams).toEqual([expect.objectContaining({ id: teamT, name: '测试组', ...team })]);
    expect(r.branches).toEqual([]);
  });

  it('counts waits in all hours when asked, and says so', async () => {
    const r = await ok('svc-m', `${JUNE}&id=${teamT}&hours=all`);
    expect(r.period.hours).toBe('all');
    // svc-x all-hours seconds: 10 20 30 60 90 300 600 1800 3600 86400 → 90 and 3600.
    expect(row(r, 'x')).toMatchObject({ answered: 10, p50: 90, p90: 3600 });
    // The team: 10 20 30 45 60 90 120 300 600 1800 3600 86400 → 6th = 90, 11th = 3600.
    expect(r.total).toMatchObject({ answered: 12, p50: 90, p90: 3600 });
  });

  it('buckets by day, week and month (whole months from the month rows, part months from the days)', async () => {
    const byDay = await ok('svc-m', `${JUNE}&id=${teamT}`);
    expect(byDay.series).toHaveLength(30);
    expect(byDay.series[0].bucket).toBe('2026-06-01');
    const day = (d: string) => byDay.series.find((p: { bucket: string }) => p.bucket === d);
    // 06-02: svc-x 0 10 30 60 → p50 = 2nd = 10, p90 = 4th = 60.
    expect(day('2026-06-02')).toMatchObject({ answered: 4, p50: 10, p90: 60 });
    // 06-09: 60 300 600 1800 3600 → 3rd = 600, 5th = 3600.
    expect(day('2026-06-09')).toMatchObject({ answered: 5, p50: 600, p90: 3600 });
    expect(day('2026-06-30')).toMatchObject({ answered: 1, p50: 7200 });
    expect(day('2026-06-03')).toMatchObject({ answered: 0, p50: null, recsSent: 4, recsHeld: 1 });
    expect(day('2026-06-10')).toMatchObject({ recsHeld: 2, tasksOnTime: 1, tasksOverdue: 1 });
    // Every period figure of the series adds up to the team's.
    for (const k of ['answered', 'recsSent', 'recsRefused', 'recsHeld', 'tasksOnTime', 'tasksOverdue', 'followupsDone', 'followupsOverdue', 'complaints', 'surveys']) {
      expect(byDay.series.reduce((s: number, p: Record<string, number>) => s + p[k], 0), k).toBe(byDay.total[k]);
    }

    const byWeek = await ok('svc-m', `${JUNE}&id=${teamT}&bucket=week`);
    expect(byWeek.series.map((p: { bucket: string; answered: number }) => [p.bucket, p.answered])).toEqual([
      ['2026-06-01', 4],
      ['2026-06-08', 5],
      ['2026-06-15', 2],
      ['2026-06-22', 0],
      ['2026-06-29', 1],
    ]);

    const byMonth = await ok('svc-m', `${JUNE}&id=${teamT}&bucket=month`);
    expect(byMonth.series).toEqual([expect.objectContaining({ bucket: '2026-06-01', answered: 12, p50: 60, p90: 3600, recsSent: 5, complaints: 3, surveys: 4, surveyAvg: 3.5 })]);
    expect(byMonth.total).toMatchObject({ answered: 12, p50: 60, p90: 3600 });

    // May 25 – June 9 by month: May's last week (the 23:59:59 answer of 05-31) and part of June, both from day rows.
    const part = await ok('svc-m', `?scope=team&id=${teamT}&from=2026-05-25&to=2026-06-09&bucket=month`);
    expect(part.series.map((p: { bucket: string; answered: number }) => [p.bucket, p.answered])).toEqual([
      ['2026-05-01', 1],
      ['2026-06-01', 9],
    ]);
    // svc-x: 9 (bin 10) 0 10 30 60 60 300 600 1800 3600 → 5th = 60, 9th = 1800.
    expect(row(part, 'x')).toMatchObject({ answered: 10, p50: 60, p90: 1800 });
  });

  it('tasks due later are neither on time nor overdue yet', async () => {
    const today = new Date(Date.now() + 8 * HOUR).toISOString().slice(0, 10);
    const inFive = new Date(Date.now() + 8 * HOUR + 5 * DAY).toISOString().slice(0, 10);
    const r = await ok('svc-x', `?scope=broker&from=${today}&to=${inFive}`);
    expect(row(r, 'x')).toMatchObject({ tasksOnTime: 0, tasksOverdue: 0 });
  });

  it('the CSV has the same numbers as the JSON, with a BOM', async () => {
    for (const q of [`${JUNE}&id=${teamT}`, `${JUNE}&id=${teamT}&bucket=week&hours=all`]) {
      const json = await ok('svc-m', q);
      const csv = await get('svc-m', q, '/api/service/quality.csv');
      expect(csv.status).toBe(200);
      expect(csv.headers.get('content-type')).toMatch(/^text\/csv; charset=utf-8/);
      expect(csv.headers.get('content-disposition')).toMatch(/attachment; filename="service-quality-team-2026-06-01-2026-06-30\.csv"/);
      // fetch's text() drops a BOM: read the bytes.
      const bytes = new Uint8Array(await (await fetch(`${t.baseUrl}/api/service/quality.csv${q}`, { headers: { authorization: `Bearer ${tok['svc-m']}` } })).arrayBuffer());
      expect([...bytes.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
      const table: string[][] = parse(csv.text);
      const [header, ...lines] = table;
      const col = (name: string) => header.findIndex((h) => h.endsWith(name));
      const numbers = (l: string[]) =>
        ['Answered', 'p50 (s)', 'p90 (s)', 'Recommendations sent', 'Refused by suitability', 'Held for approval', 'Tasks on time', 'Tasks overdue', 'Follow-ups done', 'Follow-ups overdue', 'Complaints', 'Surveys answered', 'Average score'].map((h) => l[col(h)]);
      const figures = (f: Record<string, number | null>) =>
        ['answered', 'p50', 'p90', 'recsSent', 'recsRefused', 'recsHeld', 'tasksOnTime', 'tasksOverdue', 'followupsDone', 'followupsOverdue', 'complaints', 'surveys', 'surveyAvg'].map((k) => (f[k] === null ? '' : String(f[k])));
      expect(lines[0][0]).toBe('合计 total');
      expect(numbers(lines[0])).toEqual(figures(json.total));
      expect(lines[0][col('Coverage %')]).toBe(String(json.total.coverage));
      const brokerLines = lines.filter((l) => l[0] === '经纪人 broker');
      expect(brokerLines.map((l) => l[1])).toEqual(json.brokers.map((b: { name: string }) => b.name));
      brokerLines.forEach((l, i) => {
        expect(numbers(l)).toEqual(figures(json.brokers[i]));
        expect(l[col('Waiting clients')]).toBe(String(json.brokers[i].waiting));
        expect(l[col('Book')]).toBe(String(json.brokers[i].book));
      });
      const bucketLines = lines.filter((l) => l[0] === '时段 bucket');
      expect(bucketLines.map((l) => l[1])).toEqual(json.series.map((p: { bucket: string }) => p.bucket));
      bucketLines.forEach((l, i) => expect(numbers(l)).toEqual(figures(json.series[i])));
    }
  });

  it('authorises by role and scope with QIAO_SERVICE_SCOPE_FORBIDDEN', async () => {
    const forbidden = async (login: string | null, query: string) => {
      const r = await get(login, query);
      expect(r.status, `${login} ${query}: ${r.text}`).toBe(login ? 403 : 401);
      if (login) expect(r.body.error.code).toBe('QIAO_SERVICE_SCOPE_FORBIDDEN');
      const csv = await get(login, query, '/api/service/quality.csv');
      expect(csv.status).toBe(r.status);
    };
    // A broker: its own figures only (default scope), never a colleague's or a team.
    const own = await ok('broker1', '');
    expect(own.scope).toMatchObject({ kind: 'broker', id: id.broker1 });
    expect(own.brokers.map((b: { id: string }) => b.id)).toEqual([id.broker1]);
    await ok('broker1', `?scope=broker&id=${id.broker1}`);
    await forbidden('broker1', `?scope=broker&id=${id.broker2}`);
    await forbidden('broker1', `?scope=team&id=${teamA}`);
    await forbidden('broker1', `?scope=team&id=${teamB}`);
    await forbidden('broker1', `?scope=branch&id=${branchSh}`);
    await forbidden('broker1', '?scope=firm');
    // A manager: the teams it leads and their brokers; as branch head (manager1 of SH-LJZ in the demo)
    // its branch and every team and broker in it; nothing else.
    expect((await ok('manager1', '')).scope).toMatchObject({ kind: 'team', id: teamA });
    await ok('manager1', `?scope=broker&id=${id.broker1}`);
    await ok('manager1', `?scope=branch&id=${branchSh}`);
    await ok('manager1', `?scope=team&id=${teamT}`);
    await forbidden('manager1', `?scope=team&id=${teamB}`);
    await forbidden('manager1', `?scope=broker&id=${id.broker2}`);
    await forbidden('manager1', `?scope=branch&id=${branchBj}`);
    await forbidden('manager1', '?scope=firm');
    await ok('manager2', `?scope=team&id=${teamB}`);
    await forbidden('manager2', `?scope=team&id=${teamA}`);
    await forbidden('manager2', `?scope=team&id=${teamT}`);
    await forbidden('manager2', `?scope=branch&id=${branchSh}`);
    await forbidden('manager2', `?scope=broker&id=${id.broker1}`);
    await forbidden('svc-m', `?scope=broker&id=${id.broker1}`);
    await forbidden('svc-m', `?scope=branch&id=${branchSh}`);
    await ok('svc-m', `?scope=broker&id=${id.x}`);
    // Unknown ids say nothing more than forbidden.
    await forbidden('manager1', `?scope=team&id=${randomUUID()}`);
    await forbidden('admin', `?scope=broker&id=${randomUUID()}`);
    // Admin and compliance: the firm and anything in it.
    for (const l of ['admin', 'compliance1']) {
      const firm = await ok(l, '');
      expect(firm.scope).toMatchObject({ kind: 'firm', id: firmId });
      expect(firm.branches.map((b: { id: string }) => b.id).sort()).toEqual([branchBj, branchSh].sort());
      expect(firm.teams.map((x: { id: string }) => x.id)).toEqual(expect.arrayContaining([teamA, teamB, teamT]));
      await ok(l, `?scope=branch&id=${branchBj}`);
      await ok(l, `?scope=team&id=${teamT}`);
      await ok(l, `?scope=broker&id=${id.x}`);
    }
    await forbidden('client1', '');
    await forbidden('client1', `?scope=broker&id=${id.broker1}`);
    await forbidden('research1', '?scope=firm');
    await forbidden(null, '');
  });

  it('a branch head sees its branch, every team of it, with team and branch roll-ups', async () => {
    const [{ headId }] = await db().select().from(branches).where(sql`id = ${branchSh}`);
    await db().update(branches).set({ headId: id.manager2 }).where(sql`id = ${branchSh}`);
    try {
      const scopes = await get('manager2', '', '/api/service/scopes');
      expect(scopes.status).toBe(200);
      expect(scopes.body.branches.map((b: { id: string }) => b.id)).toEqual([branchSh]);
      expect(scopes.body.teams.map((x: { id: string }) => x.id)).toEqual(expect.arrayContaining([teamA, teamB, teamT]));
      expect(scopes.body.default).toEqual({ scope: 'team', id: teamB });
      const r = await ok('manager2', `?scope=branch&id=${branchSh}&from=2026-06-01&to=2026-06-30`);
      expect(r.branches).toEqual([expect.objectContaining({ id: branchSh, answered: 12, complaints: 3 })]);
      const tt = r.teams.find((x: { id: string }) => x.id === teamT);
      expect(tt).toMatchObject({ answered: 12, p50: 60, p90: 3600, brokers: 3 });
      // Roll-ups are sums of their brokers.
      for (const k of ['answered', 'complaints', 'book', 'waiting', 'recsSent']) {
        expect(r.teams.reduce((s: number, x: Record<string, number>) => s + x[k], 0), k).toBe(r.total[k]);
        expect(r.brokers.reduce((s: number, x: Record<string, number>) => s + x[k], 0), k).toBe(r.total[k]);
      }
      await ok('manager2', `?scope=team&id=${teamT}`);
      await ok('manager2', `?scope=broker&id=${id.x}`);
      expect((await get('manager1', `?scope=branch&id=${branchSh}`)).body.error.code).toBe('QIAO_SERVICE_SCOPE_FORBIDDEN');
    } finally {
      await db().update(branches).set({ headId }).where(sql`id = ${branchSh}`);
    }
  });

  it('the scopes a caller may view', async () => {
    const b = await get('broker1', '', '/api/service/scopes');
    expect(b.body).toEqual({ self: { id: id.broker1, displayName: '王经纪' }, firm: null, branches: [], teams: [], default: { scope: 'broker', id: id.broker1 } });
    const m = await get('svc-m', '', '/api/service/scopes');
    expect(m.body).toMatchObject({ self: null, firm: null, branches: [], teams: [{ id: teamT, code: 'SH-T', name: '测试组', branchId: branchSh }], default: { scope: 'team', id: teamT } });
    const a = await get('admin', '', '/api/service/scopes');
    expect(a.body.firm).toEqual({ id: firmId, name: expect.any(String) });
    expect(a.body.default).toEqual({ scope: 'firm', id: firmId });
    const c = await get('client1', '', '/api/service/scopes');
    expect(c.body).toEqual({ self: null, firm: null, branches: [], teams: [], default: null });
    expect((await get(null, '', '/api/service/scopes')).status).toBe(401);
  });

  it('refuses a bad period, bucket or hours with QIAO_SERVICE_RANGE_INVALID, other bad input with QIAO_BAD_REQUEST', async () => {
    for (const q of [
      '?from=2026-13-01&to=2026-12-31',
      '?from=2026-02-30&to=2026-03-31',
      '?from=20260101&to=2026-01-31',
      '?from=2026-06-30&to=2026-06-01',
      '?from=2025-01-01&to=2026-01-02',
      '?bucket=year',
      '?bucket=',
      '?hours=night',
    ]) {
      for (const path of ['/api/service/quality', '/api/service/quality.csv']) {
        const r = await get('broker1', q, path);
        expect(r.status, `${path}${q}`).toBe(400);
        expect(r.body.error.code, `${path}${q}`).toBe('QIAO_SERVICE_RANGE_INVALID');
      }
    }
    // 366 days is the longest period.
    await ok('broker1', '?from=2025-01-01&to=2026-01-01&bucket=month');
    for (const q of ['?scope=galaxy', '?scope=broker&id=not-a-uuid', '?foo=1']) {
      const r = await get('broker1', q);
      expect(r.status, q).toBe(400);
      expect(r.body.error.code, q).toBe('QIAO_BAD_REQUEST');
    }
  });

  it('a chat through the API records the episode and its rollups, and tells the manager live', async () => {
    const c9 = await t.login('svc-c9');
    const m = await WsTestClient.connect(t.wsUrl, tok.manager1);
    try {
      const opened = await t.request('POST', '/api/conversations', { token: c9.token, json: { type: 'broker_client' } });
      expect(opened.status, opened.text).toBe(201);
      const convId = opened.body.conversation.id as string;
      await db().update(conversations).set({ resolvedAt: new Date() }).where(sql`id = ${convId}`);
      const before = await ok('manager1', `?scope=broker&id=${id.broker1}`);

      const asked = await t.request('POST', `/api/conversations/${convId}/messages`, { token: c9.token, json: { kind: 'chat', payload: { text: '请问科创板开户条件？' } } });
      expect(asked.status, asked.text).toBe(201);
      const started = await m.nextPush(isWaiting);
      expect(started).toMatchObject({ channel: `conv.${convId}`, from: c9.user.id, data: { conversationId: convId, brokerId: id.broker1, clientId: c9.user.id, waitingSince: expect.any(String) } });
      let conv = (await db().select().from(conversations).where(sql`id = ${convId}`))[0];
      expect(conv.resolvedAt).toBeNull();
      expect(conv.lastChatAt).not.toBeNull();
      expect(conv.lastStaffChatAt).toBeNull();
      const during = await ok('manager1', `?scope=broker&id=${id.broker1}`);
      expect(during.total.waiting).toBe(before.total.waiting + 1);

      // A second question while waiting changes nothing of the wait: no signal.
      await t.request('POST', `/api/conversations/${convId}/messages`, { token: c9.token, json: { kind: 'chat', payload: { text: '在吗？' } } });
      const answered = await t.request('POST', `/api/conversations/${convId}/messages`, { token: tok.broker1, json: { kind: 'chat', payload: { text: '您好，需要 50 万资产和两年经验。' } } });
      expect(answered.status, answered.text).toBe(201);
      const ended = await m.nextPush(isWaiting);
      expect(ended).toMatchObject({ from: id.broker1, data: { conversationId: convId, waitingSince: null } });
      expect(m.frames.peek(isWaiting)).toEqual([]);

      conv = (await db().select().from(conversations).where(sql`id = ${convId}`))[0];
      expect(conv.waitingSince).toBeNull();
      expect(conv.lastStaffChatAt?.toISOString()).toBe(conv.lastChatAt?.toISOString());
      const [e] = await db().select().from(responseEpisodes).where(sql`conversation_id = ${convId}`);
      expect(e).toMatchObject({ brokerId: id.broker1, clientId: c9.user.id, answeredBy: id.broker1, teamId: teamA, branchId: branchSh });
      expect(e.waitingSince.toISOString()).toBe((started as { data: { waitingSince: string } }).data.waitingSince);
      expect(e.allSeconds).toBe(Math.floor((e.answeredAt.getTime() - e.waitingSince.getTime()) / 1000));
      expect(e.tradingSeconds).toBe(tradingSecondsBetween(e.waitingSince, e.answeredAt, new Set(t.config.delivery.marketHolidays)));

      const after = await ok('manager1', `?scope=broker&id=${id.broker1}`);
      expect(after.total.answered).toBe(before.total.answered + 1);
      expect(after.total.waiting).toBe(before.total.waiting);
      // The rollups kept one episode at a time equal a rebuild from every episode.
      const snapshot = () => rows<Record<string, unknown>>(db(), sql`select grain, day::text, broker_id::text, answered, trading_hist::text, all_hist::text from response_rollups order by 1, 2, 3`);
      const kept = await snapshot();
      await rebuildResponseRollups(db());
      expect(await snapshot()).toEqual(kept);
    } finally {
      await m.close();
    }
  });

  it('the broker itself is told too, and another team’s manager is not', async () => {
    const m2 = await WsTestClient.connect(t.wsUrl, tok.manager2);
    const b1 = await WsTestClient.connect(t.wsUrl, tok.broker1);
    try {
      const c9 = await t.login('svc-c9');
      const [conv] = await db().select().from(conversations).where(sql`client_id = ${c9.user.id}`);
      await t.request('POST', `/api/conversations/${conv.id}/messages`, { token: c9.token, json: { kind: 'chat', payload: { text: '再问一下' } } });
      await b1.nextPush(isWaiting);
      await eventually(async () => (await db().select().from(conversations).where(sql`id = ${conv.id}`))[0].waitingSince !== null);
      expect(m2.frames.peek(isWaiting)).toEqual([]);
    } finally {
      await m2.close();
      await b1.close();
    }
  });
});
