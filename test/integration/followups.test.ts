/**
 * Follow-ups (客户回访) against real Postgres and Redis: the built-in rules and their settings, the
 * scheduling sweep (once across concurrent and repeated sweeps, the annual sample per branch and its
 * top-up, independent assignees), recording with the checklist and independence, manual scheduling,
 * cancelling, the coverage report against a hand count, and overdue escalation once.
 *
 * The suite builds its own branch (T-FU) so its numbers do not depend on the demo data.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/auth/password.ts';
import { shanghaiYear } from '../../src/service/followup-sweep.ts';
import { rows, type Db } from '../../src/store/db.ts';
import { DEMO_PASSWORD, startServicesApp, type TestApp } from '../helpers/app.ts';
import { dbOf } from '../helpers/advisory.ts';

const DAY = 86_400_000;
const FULL = { identityConfirmed: true, riskExplained: true, noReturnPromise: true, complaintChannelTold: true };

describe('follow-ups (Postgres + Redis)', () => {
  let t: TestApp;
  let db: Db;
  const tok: Record<string, string> = {};
  const ids: Record<string, string> = {};
  let branchId: string;
  let teamId: string;
  let existing: string[] = [];
  let fresh: string[] = [];
  let hnw: string[] = [];
  let pwHash: string;
  const now = new Date();
  const year = shanghaiYear(now);

  const q = <T = Record<string, unknown>>(s: ReturnType<typeof sql>) => rows<T>(db, s);
  const req = (login: string, method: string, path: string, json?: unknown) => t.request(method, path, { token: tok[login], json });

  async function mkUser(login: string, role: string, extra: Record<string, unknown> = {}): Promise<string> {
    const [firm] = await q<{ id: string }>(sql`select id::text from firms limit 1`);
    const cols = { firm_id: firm.id, login, password_hash: pwHash, display_name: `测试${login}`, role, branch_id: branchId, team_id: null as string | null, tier: null as string | null, risk_level: null as string | null, service_desk: false, created_at: now.toISOString(), ...extra };
    const [u] = await q<{ id: string }>(
      sql`insert into users (firm_id, login, password_hash, display_name, role, branch_id, team_id, tier, risk_level, service_desk, created_at)
          values (${cols.firm_id}, ${cols.login}, ${cols.password_hash}, ${cols.display_name}, ${cols.role}, ${cols.branch_id}, ${cols.team_id}, ${cols.tier}, ${cols.risk_level}, ${cols.service_desk}, ${cols.created_at}::timestamptz)
          returning id::text`,
    );
    ids[login] = u.id;
    return u.id;
  }

  async function mkClients(prefix: string, n: number, createdAt: Date, tier = 'general'): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const id = await mkUser(`${prefix}${i}`, 'client', { tier, risk_level: 'C3', created_at: createdAt.toISOString() });
      await q(sql`insert into broker_clients (broker_id, client_id, relation) values (${ids.fuBrokerA}, ${id}, 'primary')`);
      out.push(id);
    }
    return out;
  }

  const ofBranch = () =>
    q<{ id: string; client_id: string; rule_code: string | null; assignee_id: string | null; independent: boolean; dedup_key: string | null; state: string }>(
      sql`select f.id::text, f.client_id::text, r.code as rule_code, f.assignee_id::text, f.independent, f.dedup_key, f.state
            from followups f left join followup_rules r on r.id = f.rule_id where f.branch_id = ${branchId} order by f.created_at, f.id`,
    );
  const inboxKinds = (userId: string) =>
    q<{ kind: string; payload: { event: string; followupId: string } }>(sql`select kind, payload from messages where channel = ${`inbox.${userId}`} and kind = 'followup' order by "offset"`);

  beforeAll(async () => {
    t = await startServicesApp({ QIAO_SERVICE_SWEEP_MS: '3600000' });
    db = dbOf(t);
    pwHash = await hashPassword(DEMO_PASSWORD);
    const [firm] = await q<{ id: string }>(sql`select id::text from firms limit 1`);
    [{ id: branchId }] = await q<{ id: string }>(sql`insert into branches (firm_id, code, name) values (${firm.id}, 'T-FU', '测试回访营业部') returning id::text`);
    await mkUser('fuHead', 'manager');
    [{ id: teamId }] = await q<{ id: string }>(sql`insert into teams (branch_id, code, name) values (${branchId}, 'T-FU-A', '测试组') returning id::text`);
    await mkUser('fuMgr', 'manager', { team_id: teamId });
    await q(sql`update teams set manager_id = ${ids.fuMgr} where id = ${teamId}`);
    await q(sql`update branches set head_id = ${ids.fuHead} where id = ${branchId}`);
    await mkUser('fuBrokerA', 'broker', { team_id: teamId });
    await mkUser('fuBrokerB', 'broker', { team_id: teamId });
    await mkUser('fuDesk1', 'broker', { service_desk: true });
    await mkUser('fuDesk2', 'broker', { service_desk: true });
    existing = await mkClients('fuOld', 25, new Date(now.getTime() - 700 * DAY));
    hnw = await mkClients('fuRich', 2, new Date(now.getTime() - 700 * DAY), 'hnw');
    fresh = await mkClients('fuNew', 3, new Date(now.getTime() - 2 * DAY));
    for (const l of ['fuHead', 'fuMgr', 'fuBrokerA', 'fuBrokerB', 'fuDesk1', 'fuDesk2', 'compliance1', 'admin', 'manager1', 'broker1', 'client1']) {
      const lg = await t.login(l);
      tok[l] = lg.token;
      ids[l] ??= lg.user.id;
    }
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  describe('rules', () => {
    it('has the regulator floor built in, independent and active', async () => {
      const r = await req('compliance1', 'GET', '/api/followups/rules');
      expect(r.status, r.text).toBe(200);
      const byCode = Object.fromEntries(r.body.rules.map((x: { code: string }) => [x.code, x]));
      expect(byCode.new_account).toMatchObject({ kind: 'new_account', params: { withinDays: 30 }, independent: true, active: true, builtin: true });
      expect(byCode.annual_sample).toMatchObject({ kind: 'annual_sample', params: { percent: 10 }, independent: true });
      expect(byCode.periodic_hnw).toMatchObject({ kind: 'periodic', params: { tier: 'hnw', everyDays: 90 }, independent: true });
      expect(r.body.rules).toHaveLength(3);
    });

    it('refuses bad settings with QIAO_FOLLOWUP_RULE_INVALID and non-admins with QIAO_FORBIDDEN', async () => {
      const rules = (await req('admin', 'GET', '/api/followups/rules')).body.rules as Array<{ id: string; code: string }>;
      const id = (c: string) => rules.find((x) => x.code === c)!.id;
      for (const [code, params] of [
        ['new_account', { withinDays: 0 }],
        ['new_account', { withinDays: 400 }],
        ['new_account', { withinDays: 1.5 }],
        ['new_account', { withinDays: '30' }],
        ['annual_sample', { percent: 101 }],
        ['annual_sample', { percent: 10, extra: 1 }],
        ['periodic_hnw', { tier: 'vip' }],
        ['periodic_hnw', { everyDays: -1 }],
      ] as const) {
        const r = await req('admin', 'PATCH', `/api/followups/rules/${id(code)}`, { params });
        expect(r.status, `${code} ${JSON.stringify(params)}`).toBe(422);
        expect(r.body.error.code).toBe('QIAO_FOLLOWUP_RULE_INVALID');
      }
      expect((await req('admin', 'PATCH', `/api/followups/rules/${id('annual_sample')}`, {})).body.error.code).toBe('QIAO_FOLLOWUP_RULE_INVALID');
      expect((await req('admin', 'PATCH', `/api/followups/rules/${id('annual_sample')}`, { params: 'x' })).body.error.code).toBe('QIAO_BAD_REQUEST');
      expect((await req('admin', 'PATCH', `/api/followups/rules/00000000-0000-4000-8000-000000000000`, { active: true })).body.error.code).toBe('QIAO_NOT_FOUND');
      for (const l of ['fuMgr', 'fuBrokerA', 'client1']) {
        expect((await req(l, 'PATCH', `/api/followups/rules/${id('annual_sample')}`, { active: false })).body.error.code, l).toBe('QIAO_FORBIDDEN');
      }
      expect((await req('client1', 'GET', '/api/followups/rules')).body.error.code).toBe('QIAO_FORBIDDEN');
      // Nothing changed.
      const after = (await req('admin', 'GET', '/api/followups/rules')).body.rules;
      expect(after.find((x: { code: string }) => x.code === 'annual_sample').params).toEqual({ percent: 10 });
    });

    it('changes a rule (archived), adds a periodic rule per tier once', async () => {
      const rules = (await req('admin', 'GET', '/api/followups/rules')).body.rules as Array<{ id: string; code: string }>;
      const na = rules.find((x) => x.code === 'new_account')!.id;
      const r = await req('compliance1', 'PATCH', `/api/followups/rules/${na}`, { params: { withinDays: 20 } });
      expect(r.status, r.text).toBe(200);
      expect(r.body.rule.params).toEqual({ withinDays: 20 });
      const [rec] = await q<{ retention_class: string; body: { from: { params: unknown }; to: { params: unknown } } }>(
        sql`select retention_class, body from archive_records where kind = 'followup.rule' and body->>'ruleId' = ${na} order by seq desc limit 1`,
      );
      expect(rec.retention_class).toBe('client-followups');
      expect(rec.body.from.params).toEqual({ withinDays: 30 });
      expect(rec.body.to.params).toEqual({ withinDays: 20 });
      expect((await req('compliance1', 'PATCH', `/api/followups/rules/${na}`, { params: { withinDays: 30 } })).status).toBe(200);

      const dup = await req('admin', 'POST', '/api/followups/rules', { tier: 'hnw', everyDays: 30 });
      expect(dup.body.error.code).toBe('QIAO_FOLLOWUP_RULE_INVALID');
      expect((await req('admin', 'POST', '/api/followups/rules', { tier: 'gold', everyDays: 30 })).body.error.code).toBe('QIAO_FOLLOWUP_RULE_INVALID');
      const added = await req('admin', 'POST', '/api/followups/rules', { tier: 'institutional', everyDays: 180 });
      expect(added.status, added.text).toBe(201);
      expect(added.body.rule).toMatchObject({ code: 'periodic_institutional', kind: 'periodic', builtin: false, active: true });
      // Switched off again: the demo has institutional clients this suite does not count.
      expect((await req('admin', 'PATCH', `/api/followups/rules/${added.body.rule.id}`, { active: false })).body.rule.active).toBe(false);
    });
  });

  describe('scheduling', () => {
    it('makes each follow-up once across concurrent and repeated sweeps', async () => {
      await Promise.all([t.app.qiao.sweeper!.runOnce(now), t.app.qiao.sweeper!.runOnce(now)]);
      const first = await ofBranch();
      await t.app.qiao.sweeper!.runOnce(now);
      const second = await ofBranch();
      expect(second.map((f) => f.id)).toEqual(first.map((f) => f.id));
      expect(new Set(second.map((f) => f.dedup_key)).size).toBe(second.length);

      const byRule = (c: string) => second.filter((f) => f.rule_code === c);
      // New accounts: the three opened two days ago.
      expect(byRule('new_account').map((f) => f.client_id).sort()).toEqual([...fresh].sort());
      // Annual sample: ceil(10% of the 27 clients opened before this year) = 3, all existing clients.
      const sample = byRule('annual_sample');
      expect(sample).toHaveLength(3);
      expect(sample.every((f) => [...existing, ...hnw].includes(f.client_id))).toBe(true);
      // Periodic: both HNW clients, once for the current period.
      expect(byRule('periodic_hnw').map((f) => f.client_id).sort()).toEqual([...hnw].sort());
      expect(byRule('periodic_institutional')).toHaveLength(0);
    });

    it('gives independent follow-ups to the service desk, least-loaded, never the broker; tells the assignee', async () => {
      const all = await ofBranch();
      expect(all.every((f) => f.independent)).toBe(true);
      expect(all.every((f) => f.assignee_id === ids.fuDesk1 || f.assignee_id === ids.fuDesk2)).toBe(true);
      const n1 = all.filter((f) => f.assignee_id === ids.fuDesk1).length;
      const n2 = all.filter((f) => f.assignee_id === ids.fuDesk2).length;
      // Least-loaded per node: two nodes sweeping at once each count their own picks, so the split is
      // even within one or two, never all on one desk.
      expect(n1).toBeGreaterThan(0);
      expect(n2).toBeGreaterThan(0);
      expect(Math.abs(n1 - n2)).toBeLessThanOrEqual(2);
      const notices = await inboxKinds(ids.fuDesk1);
      expect(notices.filter((m) => m.payload.event === 'assigned')).toHaveLength(n1);
      expect(new Set(notices.map((m) => m.payload.followupId))).toEqual(new Set(all.filter((f) => f.assignee_id === ids.fuDesk1).map((f) => f.id)));
      // The desk sees them; the broker does not.
      const desk = await req('fuDesk1', 'GET', '/api/followups?mine=1');
      expect(desk.body.followups).toHaveLength(n1);
      expect((await req('fuBrokerA', 'GET', '/api/followups')).body.followups).toHaveLength(0);
      const mgr = await req('fuMgr', 'GET', '/api/followups?mine=team');
      expect(mgr.body.followups).toHaveLength(all.length);
      expect((await req('manager1', 'GET', '/api/followups?mine=team')).body.followups.some((f: { branchId: string }) => f.branchId === branchId)).toBe(false);
    });

    it('tops the annual sample up as clients are added, picking the same clients on every node', async () => {
      const before = (await ofBranch()).filter((f) => f.rule_code === 'annual_sample').map((f) => f.client_id);
      existing.push(...(await mkClients('fuOld2-', 8, new Date(now.getTime() - 400 * DAY))));
      await t.app.qiao.sweeper!.runOnce(now);
      const after = (await ofBranch()).filter((f) => f.rule_code === 'annual_sample').map((f) => f.client_id);
      // 35 existing → ceil(3.5) = 4: one more, the first three kept.
      expect(after).toHaveLength(4);
      expect(after).toEqual(expect.arrayContaining(before));
      // Deterministic: the first three were the lowest md5(client id ‖ year) of the branch then; the
      // fourth is the lowest of the clients not drawn yet.
      const ranked = await q<{ id: string; created_at: string }>(
        sql`select c.id::text, c.created_at from users c
             where c.branch_id = ${branchId} and c.role = 'client' and c.created_at < make_timestamptz(${year}, 1, 1, 0, 0, 0, 'Asia/Shanghai')
             order by md5(c.id::text || ${String(year)}), c.id`,
      );
      const original = ranked.filter((c) => !existing.slice(-8).includes(c.id)).map((c) => c.id);
      expect([...before].sort()).toEqual(original.slice(0, 3).sort());
      const fourth = ranked.map((c) => c.id).find((id) => !before.includes(id));
      expect([...after].sort()).toEqual([...before, fourth].sort());
    });
  });

  describe('recording', () => {
    const open = async () => (await ofBranch()).filter((f) => f.state === 'open');
    // Sample and periodic ones: the new-account numbers of the coverage report stay as opened.
    const openNotNew = async () => (await open()).filter((f) => f.rule_code !== 'new_account');
    const deskOf = (assigneeId: string | null) => (assigneeId === ids.fuDesk1 ? 'fuDesk1' : 'fuDesk2');
    const complete = (login: string, id: string, body: unknown) => req(login, 'POST', `/api/followups/${id}/complete`, body);

    it('refuses the client’s own broker, strangers, an incomplete checklist and bad input', async () => {
      const [f] = await open();
      expect((await complete('fuBrokerA', f.id, { outcome: 'reached', checklist: FULL })).body.error.code).toBe('QIAO_FOLLOWUP_NOT_INDEPENDENT');
      expect((await complete('broker1', f.id, { outcome: 'reached', checklist: FULL })).body.error.code).toBe('QIAO_FOLLOWUP_NOT_FOUND');
      expect((await complete('fuBrokerB', f.id, { outcome: 'reached', checklist: FULL })).body.error.code).toBe('QIAO_FOLLOWUP_NOT_FOUND');
      expect((await complete('compliance1', f.id, { outcome: 'reached', checklist: FULL })).body.error.code).toBe('QIAO_FORBIDDEN');
      expect((await complete('client1', f.id, { outcome: 'reached', checklist: FULL })).body.error.code).toBe('QIAO_FORBIDDEN');
      const assignee = f.assignee_id === ids.fuDesk1 ? 'fuDesk1' : 'fuDesk2';
      const r = await complete(assignee, f.id, { outcome: 'reached', notes: '已电话联系', checklist: { ...FULL, noReturnPromise: false } });
      expect(r.status).toBe(422);
      expect(r.body.error.code).toBe('QIAO_FOLLOWUP_CHECKLIST_INCOMPLETE');
      for (const bad of [{ outcome: 'maybe', checklist: FULL }, { outcome: 'reached' }, { outcome: 'reached', checklist: { ...FULL, extra: true } }, { outcome: 'reached', checklist: { ...FULL, riskExplained: 'yes' } }, { outcome: 'reached', checklist: FULL, notes: 'x'.repeat(2001) }]) {
        expect((await complete(assignee, f.id, bad)).body.error.code, JSON.stringify(bad).slice(0, 80)).toBe('QIAO_BAD_REQUEST');
      }
      expect((await complete(assignee, f.id, { outcome: 'reached', checklist: FULL, notes: 'a\u0000b' })).body.error.code).toBe('QIAO_BAD_REQUEST');
      expect((await complete(assignee, '00000000-0000-4000-8000-000000000000', { outcome: 'reached', checklist: FULL })).body.error.code).toBe('QIAO_FOLLOWUP_NOT_FOUND');
      const [row] = await q<{ state: string }>(sql`select state from followups where id = ${f.id}`);
      expect(row.state).toBe('open');
    });

    it('records the outcome with the checklist once, archived for the client-followups class; a desk colleague may take one over', async () => {
      const [f, g] = await openNotNew();
      const desk = deskOf(f.assignee_id);
      const r = await complete(desk, f.id, { outcome: 'reached', notes: '已确认身份，说明风险等级', checklist: FULL });
      expect(r.status, r.text).toBe(200);
      expect(r.body.followup).toMatchObject({ state: 'done', outcome: 'reached', checklist: FULL, doneBy: ids[desk] });
      const again = await complete(desk, f.id, { outcome: 'reached', checklist: FULL });
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('QIAO_FOLLOWUP_CLOSED');
      const [rec] = await q<{ retention_class: string; retain_until: string; recorded_at: string; body: { outcome: string } }>(
        sql`select retention_class, retain_until, recorded_at, body from archive_records where kind = 'followup.done' and body->>'followupId' = ${f.id}`,
      );
      expect(rec.retention_class).toBe('client-followups');
      expect(new Date(rec.retain_until).getTime() - new Date(rec.recorded_at).getTime()).toBeGreaterThan(3 * 365 * DAY);
      expect(rec.body.outcome).toBe('reached');
      // Take-over: the other desk member records it (unreachable: the checklist may stay open).
      const other = deskOf(g.assignee_id) === 'fuDesk1' ? 'fuDesk2' : 'fuDesk1';
      const t2 = await complete(other, g.id, { outcome: 'unreachable', notes: '电话无人接听', checklist: { identityConfirmed: false, riskExplained: false, noReturnPromise: false, complaintChannelTold: false } });
      expect(t2.status, t2.text).toBe(200);
      expect(t2.body.followup.doneBy).toBe(ids[other]);
    });

    it('schedules by hand within the manager’s scope; one assigned to the broker is not independent and the broker records it', async () => {
      const due = new Date(Date.now() + 5 * DAY).toISOString();
      const client = existing[existing.length - 1];
      const bad = [
        ['manager1', { clientId: client, dueAt: due }, 'QIAO_FORBIDDEN'],
        ['fuBrokerA', { clientId: client, dueAt: due }, 'QIAO_FORBIDDEN'],
        ['fuMgr', { clientId: client, dueAt: new Date(Date.now() - DAY).toISOString() }, 'QIAO_BAD_REQUEST'],
        ['fuMgr', { clientId: client, dueAt: new Date(Date.now() + 400 * DAY).toISOString() }, 'QIAO_BAD_REQUEST'],
        ['fuMgr', { clientId: client, dueAt: 'tomorrow' }, 'QIAO_BAD_REQUEST'],
        ['fuMgr', { clientId: '00000000-0000-4000-8000-000000000000', dueAt: due }, 'QIAO_USER_NOT_FOUND'],
        ['fuMgr', { clientId: client, dueAt: due, assigneeId: ids.broker1 }, 'QIAO_FORBIDDEN'],
        ['fuMgr', { clientId: client, dueAt: due, assigneeId: ids.client1 }, 'QIAO_USER_NOT_FOUND'],
      ] as const;
      for (const [l, body, code] of bad) expect((await req(l, 'POST', '/api/followups', body)).body.error.code, `${l} ${JSON.stringify(body)}`).toBe(code);

      const r = await req('fuMgr', 'POST', '/api/followups', { clientId: client, dueAt: due, assigneeId: ids.fuBrokerA, reason: '客户询问产品到期安排' });
      expect(r.status, r.text).toBe(201);
      expect(r.body.followup).toMatchObject({ independent: false, assigneeId: ids.fuBrokerA, state: 'open', ruleId: null });
      const notices = await inboxKinds(ids.fuBrokerA);
      expect(notices.map((m) => m.payload.followupId)).toContain(r.body.followup.id);
      expect((await req('fuBrokerA', 'GET', '/api/followups?mine=1')).body.followups.map((f: { id: string }) => f.id)).toEqual([r.body.followup.id]);
      const done = await complete('fuBrokerA', r.body.followup.id, { outcome: 'reached', notes: '已回访', checklist: FULL });
      expect(done.status, done.text).toBe(200);

      // Without an assignee: independent staff of the branch.
      const ind = await req('fuHead', 'POST', '/api/followups', { clientId: client, dueAt: due, reason: '抽查' });
      expect(ind.status, ind.text).toBe(201);
      expect(ind.body.followup.independent).toBe(true);
      expect([ids.fuDesk1, ids.fuDesk2]).toContain(ind.body.followup.assigneeId);
    });

    it('cancels with a reason (manager, branch head, admin), once', async () => {
      const f = (await open()).find((x) => x.rule_code === 'new_account')!;
      expect((await req('fuDesk1', 'POST', `/api/followups/${f.id}/cancel`, { reason: '客户销户' })).body.error.code).toBe('QIAO_FORBIDDEN');
      expect((await req('fuMgr', 'POST', `/api/followups/${f.id}/cancel`, {})).body.error.code).toBe('QIAO_BAD_REQUEST');
      const r = await req('fuMgr', 'POST', `/api/followups/${f.id}/cancel`, { reason: '客户销户' });
      expect(r.status, r.text).toBe(200);
      expect(r.body.followup.state).toBe('cancelled');
      expect((await req('fuHead', 'POST', `/api/followups/${f.id}/cancel`, { reason: 'again' })).body.error.code).toBe('QIAO_FOLLOWUP_CLOSED');
    });
  });

  describe('coverage', () => {
    it('matches a hand count of the branch', async () => {
      const r = await req('compliance1', 'GET', `/api/followups/coverage?year=${year}`);
      expect(r.status, r.text).toBe(200);
      const b = r.body.branches.find((x: { branchId: string }) => x.branchId === branchId);
      // Hand count: 3 accounts opened this year, none followed up yet (window still open).
      expect(b.newAccounts).toMatchObject({ withinDays: 30, opened: 3, inWindow: 0, late: 0, missing: 0, pending: 3 });
      // 35 existing clients → 4 required; clients with a follow-up done this year: the two recorded by the desk and the broker's.
      const doneClients = await q<{ n: number }>(
        sql`select count(distinct f.client_id)::int as n from followups f join users c on c.id = f.client_id
             where f.branch_id = ${branchId} and f.state = 'done' and c.created_at < make_timestamptz(${year}, 1, 1, 0, 0, 0, 'Asia/Shanghai')`,
      );
      expect(b.annualSample).toMatchObject({ percent: 10, existingClients: 35, required: 4, scheduled: 4, done: doneClients[0].n });
      expect(doneClients[0].n).toBeGreaterThanOrEqual(2);
      // Completed: 3 (reached with checklist, unreachable, the broker's reached) → 2 with the full checklist.
      expect(b).toMatchObject({ completed: 3, fullChecklist: 2, doneByOwnBroker: 0 });
      expect(b.checklistShare).toBeCloseTo(2 / 3, 5);
      const hnwRule = b.periodic.find((p: { code: string }) => p.code === 'periodic_hnw');
      expect(hnwRule).toMatchObject({ tier: 'hnw', everyDays: 90 });
      // Due this year only if the period ends before 1 January.
      const dueThisYear = await q<{ n: number }>(
        sql`select count(*)::int as n from followups f join followup_rules r on r.id = f.rule_id
             where f.branch_id = ${branchId} and r.code = 'periodic_hnw' and f.state <> 'cancelled' and f.due_at < make_timestamptz(${year + 1}, 1, 1, 0, 0, 0, 'Asia/Shanghai')`,
      );
      expect(hnwRule.due).toBe(dueThisYear[0].n);
      // An independent follow-up recorded by the client's broker (only possible outside the API) shows.
      const [one] = await q<{ id: string }>(sql`select id::text from followups where branch_id = ${branchId} and state = 'open' and independent and dedup_key not like 'new_account:%' limit 1`);
      await q(sql`update followups set state = 'done', done_by = broker_id, done_at = now(), checklist = ${JSON.stringify(FULL)}::jsonb, outcome = 'reached' where id = ${one.id}`);
      const again = (await req('compliance1', 'GET', `/api/followups/coverage?year=${year}`)).body.branches.find((x: { branchId: string }) => x.branchId === branchId);
      expect(again.doneByOwnBroker).toBe(1);
      expect(again.completed).toBe(4);
    });

    it('is for compliance, admin and the branch head (own branch only); CSV with a BOM', async () => {
      const head = await req('fuHead', 'GET', `/api/followups/coverage?year=${year}`);
      expect(head.status).toBe(200);
      expect(head.body.branches.map((x: { branchId: string }) => x.branchId)).toEqual([branchId]);
      const adm = await req('admin', 'GET', `/api/followups/coverage?year=${year}`);
      expect(adm.body.branches.length).toBeGreaterThan(1);
      for (const l of ['fuMgr', 'fuBrokerA', 'client1']) expect((await req(l, 'GET', '/api/followups/coverage')).body.error.code, l).toBe('QIAO_FORBIDDEN');
      expect((await req('admin', 'GET', '/api/followups/coverage?year=1999')).body.error.code).toBe('QIAO_BAD_REQUEST');
      expect((await req('admin', 'GET', '/api/followups/coverage?year=abc')).body.error.code).toBe('QIAO_BAD_REQUEST');
      const csv = await t.request('GET', `/api/followups/coverage.csv?year=${year}`, { token: tok.fuHead });
      expect(csv.status).toBe(200);
      expect(csv.headers.get('content-type')).toMatch(/text\/csv/);
      // fetch's text() drops a BOM: read the bytes.
      const bytes = new Uint8Array(await (await fetch(`${t.baseUrl}/api/followups/coverage.csv?year=${year}`, { headers: { authorization: `Bearer ${tok.fuHead}` } })).arrayBuffer());
      expect([...bytes.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
      const lines = csv.text.trim().split('\r\n');
      expect(lines[0]).toContain('营业部 Branch');
      const na = lines.find((l) => l.includes('new_account'))!.split(',');
      expect(na.slice(3, 9)).toEqual(['3', '0', '0', '0', '0', '3']);
      expect(lines.find((l) => l.includes('annual_sample'))!.split(',')[3]).toBe('4');
    });
  });

  describe('escalation', () => {
    it('escalates an overdue follow-up once to the team’s manager and the branch head', async () => {
      const later = new Date(now.getTime() + 40 * DAY);
      const overdue = await q<{ id: string }>(
        sql`select id::text from followups where branch_id = ${branchId} and state = 'open' and independent and due_at < ${later.toISOString()}::timestamptz order by due_at`,
      );
      expect(overdue.length).toBeGreaterThan(0);
      const before = { mgr: (await inboxKinds(ids.fuMgr)).length, head: (await inboxKinds(ids.fuHead)).length };
      await Promise.all([t.app.qiao.sweeper!.runOnce(later), t.app.qiao.sweeper!.runOnce(later)]);
      await t.app.qiao.sweeper!.runOnce(later);
      const esc = await q<{ id: string; escalated_at: string | null }>(sql`select id::text, escalated_at from followups where id = any(${`{${overdue.map((o) => o.id).join(',')}}`}::uuid[])`);
      expect(esc.every((e) => e.escalated_at !== null)).toBe(true);
      const mgr = (await inboxKinds(ids.fuMgr)).slice(before.mgr).filter((m) => m.payload.event === 'overdue');
      const head = (await inboxKinds(ids.fuHead)).slice(before.head).filter((m) => m.payload.event === 'overdue');
      expect(mgr.map((m) => m.payload.followupId).sort()).toEqual(overdue.map((o) => o.id).sort());
      expect(head.map((m) => m.payload.followupId).sort()).toEqual(overdue.map((o) => o.id).sort());
      const records = await q<{ n: number }>(sql`select count(*)::int as n from archive_records where kind = 'followup.escalated' and body->>'followupId' = any(${`{${overdue.map((o) => o.id).join(',')}}`}::text[])`);
      expect(records[0].n).toBe(overdue.length);
      const list = await req('fuMgr', 'GET', '/api/followups?mine=team&state=overdue');
      expect(list.status).toBe(200);
      // Overdue relative to the real clock: none of these is due yet, so the list only has past-due ones.
      expect(list.body.followups.every((f: { overdue: boolean }) => f.overdue)).toBe(true);
    });
  });
});
