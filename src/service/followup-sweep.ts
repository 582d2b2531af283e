/**
 * The follow-up sweep (runs on every hub node, src/service/sweeps.ts):
 *
 * 1. Scheduling from each firm's active rules. Each follow-up has `dedup_key` = rule + client + period
 *    (unique; ON CONFLICT DO NOTHING), so nodes sweeping at once, or a restart, make it once:
 *    - new_account `new_account:<rule>:<client>`: accounts opened in the last withinDays + 60 days,
 *      due at opening + withinDays (a late one is made already overdue, and escalates);
 *    - annual_sample `annual_sample:<rule>:<client>:<year>`: per branch, enough existing clients
 *      (opened before the year, Asia/Shanghai) to reach ceil(percent % of them), picked in the
 *      order of md5(client id ‖ year) — deterministic, so every node picks the same ones — topped up
 *      as clients are added or sample follow-ups cancelled; due dates spread over the year by the
 *      same hash (never sooner than two weeks ahead);
 *    - periodic `periodic:<rule>:<client>:<n>`: period n counted from the client's opening, due at
 *      opening + (n+1)·everyDays.
 *    At most BATCH per rule per run, so one sweep stays short; the rest follow in the next runs.
 * 2. Overdue escalation: an open follow-up past due is escalated once (`escalated_at`, a conditional
 *    UPDATE in the transaction of the last notice) to the manager of the broker's team, and to the
 *    branch head when it is independent.
 */
import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import { DAY_MS, StaleState } from '../advisory/common.ts';
import type { Publisher } from '../hub/publisher.ts';
import type { ArchiveRepo } from '../store/archive-repo.ts';
import { rows, type Db } from '../store/db.ts';
import { AssigneePicker } from './followup-scope.ts';
import type { AnnualSampleParams, FollowupRules, NewAccountParams, PeriodicParams, RuleRow } from './followup-rules.ts';
import { FOLLOWUP_PRINCIPAL, followupRecord, type FollowupsService } from './followups.ts';
import type { ServiceSweep } from './sweeps.ts';

const BATCH = 500;
const SH_OFFSET_MS = 8 * 3600_000;

/** Calendar year of an instant in Asia/Shanghai (UTC+8, no daylight saving). */
export const shanghaiYear = (d: Date) => new Date(d.getTime() + SH_OFFSET_MS).getUTCFullYear();
/** 1 January 00:00 Asia/Shanghai of a year. */
export const yearStart = (y: number) => new Date(Date.UTC(y, 0, 1) - SH_OFFSET_MS);

interface Candidate {
  client_id: string;
  client_name: string;
  created_at: string;
  broker_id: string | null;
  team_id: string | null;
  branch_id: string | null;
  team_manager_id: string | null;
  branch_head_id: string | null;
  period?: number;
}

/** Clients of a firm with their primary broker's team and branch (the branch falls back to the client's). */
const CLIENTS = (firmId: string) => sql`
  select c.id::text as client_id, c.display_name as client_name, c.created_at, c.tier, b.id::text as broker_id, b.team_id::text as team_id,
         coalesce(b.branch_id, c.branch_id)::text as branch_id, t.manager_id::text as team_manager_id, br.head_id::text as branch_head_id
    from users c
    left join broker_clients bc on bc.client_id = c.id and bc.relation = 'primary'
    left join users b on b.id = bc.broker_id
    left join teams t on t.id = b.team_id
    left join branches br on br.id = coalesce(b.branch_id, c.branch_id)
   where c.firm_id = ${firmId} and c.role = 'client' and c.active`;

/** A fraction in [0, 1) from md5(client id ‖ year): the sample's order and due-date spread. */
function hashFraction(clientId: string, year: number): number {
  return createHash('md5').update(`${clientId}${year}`).digest().readUInt32BE(0) / 2 ** 32;
}

export class FollowupSweep implements ServiceSweep {
  readonly name = 'followups';

  constructor(
    private readonly d: { db: Db; publisher: Publisher; archive: ArchiveRepo; logger: FastifyBaseLogger; rules: FollowupRules; followups: FollowupsService },
  ) {}

  async run(now: Date): Promise<number> {
    let n = 0;
    const firms = await rows<{ id: string }>(this.d.db, sql`select id::text from firms`);
    for (const f of firms) {
      const rules = (await this.d.rules.ensureDefaults(f.id)).filter((r) => r.active);
      for (const r of rules) n += await this.schedule(f.id, r, now);
    }
    n += await this.escalate(now);
    return n;
  }

  private async schedule(firmId: string, rule: RuleRow, now: Date): Promise<number> {
    const nowIso = now.toISOString();
    let list: Array<Candidate & { dueAt: Date; dedupKey: string; reason: string }>;
    if (rule.kind === 'new_account') {
      const { withinDays } = rule.params as NewAccountParams;
      const found = await rows<Candidate>(
        this.d.db,
        sql`select * from (${CLIENTS(firmId)}) cl
             where cl.created_at <= ${nowIso}::timestamptz and cl.created_at > ${nowIso}::timestamptz - make_interval(days => ${withinDays + 60})
               and not exists (select 1 from followups f where f.dedup_key = 'new_account:' || ${rule.id} || ':' || cl.client_id)
             order by cl.created_at, cl.client_id limit ${BATCH}`,
      );
      list = found.map((c) => ({
        ...c,
        dueAt: new Date(new Date(c.created_at).getTime() + withinDays * DAY_MS),
        dedupKey: `new_account:${rule.id}:${c.client_id}`,
        reason: `新开户回访 New account follow-up (${withinDays} d)`,
      }));
    } else if (rule.kind === 'annual_sample') {
      const { percent } = rule.params as AnnualSampleParams;
      const year = shanghaiYear(now);
      const start = yearStart(year);
      const end = yearStart(year + 1);
      const prefix = `annual_sample:${rule.id}:`;
      const found = await rows<Candidate>(
        this.d.db,
        sql`with cl as (select * from (${CLIENTS(firmId)}) x where x.branch_id is not null and x.created_at < ${start.toISOString()}::timestamptz),
                 need as (
                   select cl.branch_id, ceil(count(*) * ${percent}::numeric / 100)::int
                          - (select count(*)::int from followups f
                              where f.rule_id = ${rule.id} and f.branch_id = cl.branch_id::uuid and f.state <> 'cancelled'
                                and f.dedup_key like ${prefix} || '%:' || ${String(year)}) as n
                     from cl group by cl.branch_id),
                 ranked as (
                   select cl.*, row_number() over (partition by cl.branch_id order by md5(cl.client_id || ${String(year)}), cl.client_id) as rk
                     from cl
                    where not exists (select 1 from followups f where f.dedup_key = ${prefix} || cl.client_id || ':' || ${String(year)}))
            select ranked.* from ranked join need on need.branch_id = ranked.branch_id
             where ranked.rk <= need.n order by ranked.branch_id, ranked.rk limit ${BATCH}`,
      );
      const soonest = now.getTime() + 14 * DAY_MS;
      list = found.map((c) => {
        let due = start.getTime() + Math.floor(hashFraction(c.client_id, year) * (end.getTime() - start.getTime()));
        // Never due sooner than two weeks ahead: a sample drawn late in the year is not born overdue.
        if (due < soonest) due = Math.max(Math.min(now.getTime() + 30 * DAY_MS, end.getTime() - 1), soonest);
        return { ...c, dueAt: new Date(due), dedupKey: `${prefix}${c.client_id}:${year}`, reason: `${year} 年度抽样回访 Annual sample follow-up (${percent}%)` };
      });
    } else {
      const { tier, everyDays } = rule.params as PeriodicParams;
      const found = await rows<Candidate>(
        this.d.db,
        sql`select * from (
              select cl.*, floor(extract(epoch from (${nowIso}::timestamptz - cl.created_at)) / ${everyDays * 86400})::int as period
                from (${CLIENTS(firmId)}) cl where cl.tier = ${tier} and cl.created_at <= ${nowIso}::timestamptz) p
             where not exists (select 1 from followups f where f.dedup_key = 'periodic:' || ${rule.id} || ':' || p.client_id || ':' || p.period)
             order by p.created_at, p.client_id limit ${BATCH}`,
      );
      list = found.map((c) => ({
        ...c,
        dueAt: new Date(new Date(c.created_at).getTime() + (Number(c.period) + 1) * everyDays * DAY_MS),
        dedupKey: `periodic:${rule.id}:${c.client_id}:${c.period}`,
        reason: `定期回访 Periodic follow-up (${tier}, ${everyDays} d)`,
      }));
    }
    const picker = new AssigneePicker(this.d.db);
    let made = 0;
    for (const c of list) {
      const facts = { branchId: c.branch_id, brokerId: c.broker_id, teamManagerId: c.team_manager_id, branchHeadId: c.branch_head_id };
      const assigneeId = rule.independent ? await picker.pick(facts) : c.broker_id;
      try {
        const id = await this.d.followups.create(
          FOLLOWUP_PRINCIPAL,
          {
            firmId,
            clientId: c.client_id,
            brokerId: c.broker_id,
            teamId: c.team_id,
            branchId: c.branch_id,
            assigneeId,
            ruleId: rule.id,
            independent: rule.independent,
            reason: c.reason,
            dueAt: c.dueAt,
            createdAt: now,
            updatedAt: now,
          },
          c.client_name,
          c.dedupKey,
          now,
        );
        if (id) made++;
      } catch (err) {
        this.d.logger.warn({ err, dedupKey: c.dedupKey }, 'scheduling a follow-up failed (retried next sweep)');
      }
    }
    return made;
  }

  /** Escalates each open follow-up past due once: notices to the team's manager (and the branch head when independent). */
  async escalate(now: Date): Promise<number> {
    const due = await rows<{ id: string; client_id: string; client_name: string; broker_id: string | null; assignee_id: string | null; due_at: string; independent: boolean; manager_id: string | null; head_id: string | null }>(
      this.d.db,
      sql`select f.id::text, f.client_id::text, c.display_name as client_name, f.broker_id::text, f.assignee_id::text, f.due_at, f.independent,
                 t.manager_id::text as manager_id, br.head_id::text as head_id
            from followups f join users c on c.id = f.client_id
            left join teams t on t.id = f.team_id left join branches br on br.id = f.branch_id
           where f.state = 'open' and f.escalated_at is null and f.due_at < ${now.toISOString()}::timestamptz
           order by f.due_at limit ${BATCH}`,
    );
    let n = 0;
    for (const f of due) {
      const to = [...new Set([f.manager_id, f.independent || !f.manager_id ? f.head_id : null].filter((x): x is string => !!x))];
      const dueAt = new Date(f.due_at).toISOString();
      const claim = async (tx: Parameters<Parameters<Db['transaction']>[0]>[0]) => {
        const r = await rows(tx, sql`update followups set escalated_at = ${now.toISOString()}::timestamptz, updated_at = ${now.toISOString()}::timestamptz where id = ${f.id} and state = 'open' and escalated_at is null returning id`);
        if (!r.length) throw new StaleState();
        return [followupRecord('followup.escalated', FOLLOWUP_PRINCIPAL.id, { id: f.id, clientId: f.client_id, brokerId: f.broker_id, assigneeId: f.assignee_id }, { to, dueAt }, '', now)];
      };
      try {
        if (!to.length) {
          await this.d.db.transaction(async (tx) => this.d.archive.appendMany(await claim(tx), tx));
        }
        for (let i = 0; i < to.length; i++) {
          const last = i === to.length - 1;
          // Earlier recipients first, each once by its key; the claim rides with the last notice.
          await this.d.publisher.publish(
            FOLLOWUP_PRINCIPAL,
            {
              channel: `inbox.${to[i]}`,
              kind: 'followup',
              payload: { followupId: f.id, event: 'overdue', clientName: f.client_name.slice(0, 100), dueAt },
              idempotencyKey: `followup:${f.id}:overdue:${to[i]}`,
              ...(last ? { inTx: claim } : {}),
            },
            { trusted: true },
          );
        }
        n++;
      } catch (err) {
        if (err instanceof StaleState) continue;
        this.d.logger.warn({ err, followup: f.id }, 'escalating a follow-up failed (retried next sweep)');
      }
    }
    return n;
  }
}
