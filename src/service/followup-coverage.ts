/**
 * Follow-up coverage report (回访覆盖情况) of one calendar year (Asia/Shanghai), per branch and rule,
 * computed in Postgres from users, broker_clients and followups (nothing stored twice):
 *
 * - new accounts: opened in the year; followed up within the rule's window (a follow-up done between
 *   opening and opening + withinDays); late (first done after the window); missing (none done and
 *   the window has passed); pending (window still open);
 * - annual sample: existing clients (opened before the year), required = ceil(percent % of them),
 *   done = existing clients with at least one follow-up done in the year (any rule, or by hand);
 * - periodic (each rule): follow-ups due in the year, done, overdue (open past due);
 * - completed follow-ups in the year, how many with the full checklist, and the share;
 * - independence: follow-ups done in the year by the client's own broker although independent (must be 0).
 *
 * A client's branch is its primary broker's (else its own); a follow-up's is the one stored with it.
 */
import { stringify } from 'csv-stringify/sync';
import { sql } from 'drizzle-orm';
import type { Principal } from '../auth/principal.ts';
import { QiaoError } from '../errors/codes.ts';
import { rows, type Db } from '../store/db.ts';
import type { AnnualSampleParams, FollowupRules, NewAccountParams, PeriodicParams } from './followup-rules.ts';
import { staffScope } from './followup-scope.ts';
import { yearStart } from './followup-sweep.ts';

export interface PeriodicCoverage {
  ruleId: string;
  code: string;
  tier: string;
  everyDays: number;
  active: boolean;
  due: number;
  done: number;
  overdue: number;
}

export interface BranchCoverage {
  branchId: string;
  branchCode: string;
  branchName: string;
  newAccounts: { withinDays: number; active: boolean; opened: number; inWindow: number; late: number; missing: number; pending: number };
  annualSample: { percent: number; active: boolean; existingClients: number; required: number; done: number; scheduled: number };
  periodic: PeriodicCoverage[];
  completed: number;
  fullChecklist: number;
  /** fullChecklist / completed, 0–1; null when nothing was completed. */
  checklistShare: number | null;
  /** Independent follow-ups done by the client's own broker (must be 0). */
  doneByOwnBroker: number;
}

export interface CoverageReport {
  year: number;
  generatedAt: string;
  branches: BranchCoverage[];
}

const n = (v: unknown) => Number(v ?? 0);

export class FollowupCoverage {
  constructor(private readonly d: { db: Db; rules: FollowupRules }) {}

  async report(p: Principal, year: number, now = new Date()): Promise<CoverageReport> {
    if (!Number.isInteger(year) || year < 2000 || year > 2100) throw new QiaoError('QIAO_BAD_REQUEST', 'year: 2000–2100');
    if (p.role === 'client' || p.role === 'feed' || !p.firmId) throw new QiaoError('QIAO_FORBIDDEN');
    const s = await staffScope(this.d.db, p);
    const all = p.role === 'admin' || p.role === 'compliance';
    if (!all && !s.headOfBranchIds.length) throw new QiaoError('QIAO_FORBIDDEN', 'The coverage report is for compliance, admin and branch heads');
    const db = this.d.db;
    const firm = p.firmId;
    const branchFilter = all ? sql`true` : sql`br.id = any(${`{${s.headOfBranchIds.join(',')}}`}::uuid[])`;
    const from = yearStart(year).toISOString();
    const to = yearStart(year + 1).toISOString();
    const at = now.toISOString();
    const rules = await this.d.rules.ensureDefaults(firm);
    const na = rules.find((r) => r.kind === 'new_account');
    const sample = rules.find((r) => r.kind === 'annual_sample');
    const periodic = rules.filter((r) => r.kind === 'periodic');
    const withinDays = (na?.params as NewAccountParams | undefined)?.withinDays ?? 30;
    const percent = (sample?.params as AnnualSampleParams | undefined)?.percent ?? 10;

    const branches = await rows<{ id: string; code: string; name: string }>(
      db,
      sql`select br.id::text, br.code, br.name from branches br where br.firm_id = ${firm} and ${branchFilter} order by br.code`,
    );
    const clients = sql`select c.id, c.created_at, coalesce(b.branch_id, c.branch_id) as branch_id
                          from users c
                          left join broker_clients bc on bc.client_id = c.id and bc.relation = 'primary'
                          left join users b on b.id = bc.broker_id
                         where c.firm_id = ${firm} and c.role = 'client'`;
    const newAcc = await rows<Record<string, unknown>>(
      db,
      sql`with cl as (${clients}),
               opened as (
                 select cl.branch_id, cl.created_at,
                        (select min(f.done_at) from followups f where f.client_id = cl.id and f.state = 'done' and f.done_at >= cl.created_at) as first_done
                   from cl where cl.created_at >= ${from}::timestamptz and cl.created_at < ${to}::timestamptz)
          select branch_id::text,
                 count(*)::int as opened,
                 count(*) filter (where first_done <= created_at + make_interval(days => ${withinDays}))::int as in_window,
                 count(*) filter (where first_done > created_at + make_interval(days => ${withinDays}))::int as late,
                 count(*) filter (where first_done is null and created_at + make_interval(days => ${withinDays}) < ${at}::timestamptz)::int as missing,
                 count(*) filter (where first_done is null and created_at + make_interval(days => ${withinDays}) >= ${at}::timestamptz)::int as pending
            from opened group by branch_id`,
    );
    const samp = await rows<Record<string, unknown>>(
      db,
      sql`with cl as (${clients})
          select cl.branch_id::text, count(*)::int as existing,
                 count(*) filter (where exists (select 1 from followups f where f.client_id = cl.id and f.state = 'done'
                                                  and f.done_at >= ${from}::timestamptz and f.done_at < ${to}::timestamptz))::int as done
            from cl join users u on u.id = cl.id
           where cl.created_at < ${from}::timestamptz and u.active
           group by cl.branch_id`,
    );
    const scheduled = sample
      ? await rows<Record<string, unknown>>(
          db,
          sql`select f.branch_id::text, count(*)::int as n from followups f
               where f.rule_id = ${sample.id} and f.state <> 'cancelled' and f.dedup_key like ${`annual_sample:${sample.id}:%:${year}`}
               group by f.branch_id`,
        )
      : [];
    const per = await rows<Record<string, unknown>>(
      db,
      sql`select f.branch_id::text, f.rule_id::text, count(*) filter (where f.state <> 'cancelled')::int as due,
                 count(*) filter (where f.state = 'done')::int as done,
                 count(*) filter (where f.state = 'open' and f.due_at < ${at}::timestamptz)::int as overdue
            from followups f join followup_rules r on r.id = f.rule_id
           where f.firm_id = ${firm} and r.kind = 'periodic' and f.due_at >= ${from}::timestamptz and f.due_at < ${to}::timestamptz
           group by f.branch_id, f.rule_id`,
    );
    const done = await rows<Record<string, unknown>>(
      db,
      sql`select f.branch_id::text, count(*)::int as completed,
                 count(*) filter (where (f.checklist->>'identityConfirmed')::boolean and (f.checklist->>'riskExplained')::boolean
                                    and (f.checklist->>'noReturnPromise')::boolean and (f.checklist->>'complaintChannelTold')::boolean)::int as full,
                 count(*) filter (where f.independent and f.done_by = f.broker_id)::int as by_broker
            from followups f
           where f.firm_id = ${firm} and f.state = 'done' and f.done_at >= ${from}::timestamptz and f.done_at < ${to}::timestamptz
           group by f.branch_id`,
    );
    const by = (list: Array<Record<string, unknown>>, id: string) => list.find((x) => x.branch_id === id) ?? {};
    return {
      year,
      generatedAt: at,
      branches: branches.map((br) => {
        const a = by(newAcc, br.id);
        const sm = by(samp, br.id);
        const dn = by(done, br.id);
        const completed = n(dn.completed);
        const full = n(dn.full);
        return {
          branchId: br.id,
          branchCode: br.code,
          branchName: br.name,
          newAccounts: { withinDays, active: na?.active ?? false, opened: n(a.opened), inWindow: n(a.in_window), late: n(a.late), missing: n(a.missing), pending: n(a.pending) },
          annualSample: {
            percent,
            active: sample?.active ?? false,
            existingClients: n(sm.existing),
            required: Math.ceil((n(sm.existing) * percent) / 100),
            done: n(sm.done),
            scheduled: n(by(scheduled, br.id).n),
          },
          periodic: periodic.map((r) => {
            const x = per.find((y) => y.branch_id === br.id && y.rule_id === r.id) ?? {};
            const pp = r.params as PeriodicParams;
            return { ruleId: r.id, code: r.code, tier: pp.tier, everyDays: pp.everyDays, active: r.active, due: n(x.due), done: n(x.done), overdue: n(x.overdue) };
          }),
          completed,
          fullChecklist: full,
          checklistShare: completed ? full / completed : null,
          doneByOwnBroker: n(dn.by_broker),
        };
      }),
    };
  }
}

/** The report as CSV (UTF-8 with BOM, so spreadsheet programs read the Chinese headers), one row per branch and rule. */
export function coverageCsv(r: CoverageReport): string {
  const header = ['年度 Year', '营业部 Branch', '规则 Rule', '应回访 Required/due', '已完成 Done', '窗口内 In window', '逾期完成 Late', '缺失 Missing', '待完成 Pending', '逾期未完成 Overdue', '完整清单占比 Full checklist share', '非独立完成 Done by own broker'];
  const out: unknown[][] = [];
  for (const b of r.branches) {
    const share = b.checklistShare === null ? '' : b.checklistShare.toFixed(4);
    const branch = `${b.branchCode} ${b.branchName}`;
    const a = b.newAccounts;
    out.push([r.year, branch, `new_account (${a.withinDays} d)`, a.opened, a.inWindow + a.late, a.inWindow, a.late, a.missing, a.pending, '', share, b.doneByOwnBroker]);
    const s = b.annualSample;
    out.push([r.year, branch, `annual_sample (${s.percent}%)`, s.required, s.done, '', '', Math.max(0, s.required - s.done), '', '', share, b.doneByOwnBroker]);
    for (const p of b.periodic) out.push([r.year, branch, `${p.code} (${p.tier}, ${p.everyDays} d)`, p.due, p.done, '', '', '', '', p.overdue, share, b.doneByOwnBroker]);
  }
  return '\ufeff' + stringify([header, ...out], { record_delimiter: '\r\n' });
}
