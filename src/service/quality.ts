/**
 * Service-quality figures (服务质量, docs/service.md "Service quality"): per broker of a scope (one
 * broker, a team, a branch, the firm), with team, branch and scope roll-ups, and per day / week / month
 * of a period, all computed in Postgres from the stored rows on each request:
 *
 * | figure | from | bucketed by |
 * |---|---|---|
 * | answered, first response p50 / p90 (trading or all hours) | `response_episodes`, counted per bin (src/domain/response-bins.ts) | answer day |
 * | recommendations sent / refused by suitability / held for approval | `recommendations` (sent = delivered or being delivered; held = went to compliance approval) | created |
 * | tasks done on time / overdue | `task_assignments` × `tasks.due_at` (overdue: due passed and not done by then) | due |
 * | follow-ups done / overdue | `followups` of the broker's clients (overdue: open and due passed; cancelled ones left out) | due |
 * | complaints | `complaints.broker_id` | filed |
 * | satisfaction: answered surveys, average score | `surveys` | answered |
 * | waiting clients, oldest wait (now) | `conversations.waiting_since` | — |
 * | book, clients contacted in the last 30 days (now) | `broker_clients` (primary); of them, those whose `conversations.last_staff_chat_at` is on one of the last 30 days | — |
 *
 * The period figures are read from `service_rollups`: those rows counted per broker and Shanghai day
 * and month, kept by triggers in the transaction of every change (so they equal a recount; a firm's
 * year is then 2,000 × 12 month rows instead of millions of events). Whole months before the current
 * one come from month rows, other days from day rows. What a count cannot know ahead — which open
 * tasks and follow-ups are overdue — is the open ones of past days plus today's due before now (a
 * small read of the source rows).
 *
 * Days are Asia/Shanghai days; weeks start on Monday; a bucket is named by its first day (so a week or
 * month bucket may start before `from`, and only the days inside the period are counted in it). The
 * rollup statement groups once by broker and once by bucket (GROUPING SETS; a histogram is one exact
 * numeric sum, see src/domain/response-bins.ts); team, branch and scope rows are sums of broker rows
 * (counts and response-time histograms add up), so a roll-up always equals the sum of its brokers. The
 * statements run concurrently, each with JIT off, no parallel workers (the statements themselves share
 * the cores) and custom plans.
 */
import { sql, type SQL } from 'drizzle-orm';
import { RESPONSE_BINS, histPercentile, unpackHist } from '../domain/response-bins.ts';
import { MARKET_TZ } from '../domain/trading-sessions.ts';
import { addDays, localParts, ymd, zonedToInstant } from '../domain/zoned-time.ts';
import { QiaoError } from '../errors/codes.ts';
import { rows, type Db } from '../store/db.ts';
import type { ScopeRef } from './quality-scope.ts';

export const BUCKETS = ['day', 'week', 'month'] as const;
export type Bucket = (typeof BUCKETS)[number];
export const HOURS = ['trading', 'all'] as const;
export type Hours = (typeof HOURS)[number];

/** Longest period, in days (a year, leap day included). */
export const MAX_PERIOD_DAYS = 366;
/** Default period: the last 30 days, today included. */
export const DEFAULT_PERIOD_DAYS = 30;
/** "Contacted lately": the latest chat from the broker side on one of this many Shanghai days, today included. */
export const CONTACT_WINDOW_DAYS = 30;

export interface Period {
  /** First and last day (Asia/Shanghai, inclusive), YYYY-MM-DD. */
  from: string;
  to: string;
  bucket: Bucket;
  hours: Hours;
}

/** Period-bound figures of a broker, a roll-up or a bucket. */
export interface PeriodFigures {
  /** Waits answered (response episodes). */
  answered: number;
  /** First-response time, seconds (upper edge of its bin), in the period's hours; null without answers. */
  p50: number | null;
  p90: number | null;
  recsSent: number;
  recsRefused: number;
  recsHeld: number;
  tasksOnTime: number;
  tasksOverdue: number;
  followupsDone: number;
  followupsOverdue: number;
  complaints: number;
  surveys: number;
  /** Average score (1–5) of the answered surveys, 2 decimals; null without any. */
  surveyAvg: number | null;
}

/** Figures of now (not bucketed). */
export interface CurrentFigures {
  /** Clients waiting for a first answer in the broker's conversations. */
  waiting: number;
  oldestWaiting: { clientId: string; displayName: string; since: string } | null;
  /** Clients whose primary broker it is. */
  book: number;
  /** Of those, clients whose latest chat from the broker side fell on one of the last 30 days (today included). */
  contacted: number;
  /** contacted / book in percent, 1 decimal; null for an empty book. */
  coverage: number | null;
}

export type QualityFigures = PeriodFigures & CurrentFigures;

export interface BrokerRow extends QualityFigures {
  id: string;
  name: string;
  active: boolean;
  teamId: string | null;
  teamName: string | null;
  branchId: string | null;
  branchName: string | null;
}

export interface GroupRow extends QualityFigures {
  id: string | null;
  name: string | null;
  /** Brokers summed into this row. */
  brokers: number;
}

export interface SeriesPoint extends PeriodFigures {
  /** First day of the bucket, YYYY-MM-DD. */
  bucket: string;
}

export interface QualityReport {
  scope: ScopeRef;
  period: Period;
  /** The 30-day window of `contacted` ends here; waits are as of this time. */
  generatedAt: string;
  total: GroupRow;
  branches: GroupRow[];
  teams: GroupRow[];
  brokers: BrokerRow[];
  series: SeriesPoint[];
}

// ---------------------------------------------------------------------------------------------
// Period

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const invalid = (why: string) => new QiaoError('QIAO_SERVICE_RANGE_INVALID', why);

/** Days since 1970-01-01 of a calendar date (no time zone involved). */
const dayNumber = (d: string) => Date.UTC(Number(d.slice(0, 4)), Number(d.slice(5, 7)) - 1, Number(d.slice(8, 10))) / 86_400_000;
const shiftDay = (d: string, n: number) => {
  const x = addDays(Number(d.slice(0, 4)), Number(d.slice(5, 7)), Number(d.slice(8, 10)), n);
  return ymd(x.year, x.month, x.day);
};

function validDate(d: string | undefined, what: string): string | undefined {
  if (d === undefined || d === '') return undefined;
  if (!DATE_RE.test(d)) throw invalid(`${what} must be a date YYYY-MM-DD`);
  const x = new Date(`${d}T00:00:00Z`);
  if (Number.isNaN(x.getTime()) || x.toISOString().slice(0, 10) !== d) throw invalid(`${what} is not a calendar date`);
  return d;
}

/** Today in Shanghai, YYYY-MM-DD. */
export function shanghaiToday(now: Date): string {
  const p = localParts(now, MARKET_TZ);
  return ymd(p.year, p.month, p.day);
}

/**
 * The period asked for, checked (QIAO_SERVICE_RANGE_INVALID): dates YYYY-MM-DD, from ≤ to, at most
 * 366 days, bucket day / week / month, hours trading / all. Defaults: the 30 days up to today, by day,
 * trading hours.
 */
export function parsePeriod(q: { from?: string; to?: string; bucket?: string; hours?: string }, now: Date): Period {
  const bucket = q.bucket ?? 'day';
  if (!(BUCKETS as readonly string[]).includes(bucket)) throw invalid('bucket must be day, week or month');
  const hours = q.hours ?? 'trading';
  if (!(HOURS as readonly string[]).includes(hours)) throw invalid('hours must be trading or all');
  let from = validDate(q.from, 'from');
  let to = validDate(q.to, 'to');
  if (!to) to = from ? shiftDay(from, DEFAULT_PERIOD_DAYS - 1) : shanghaiToday(now);
  if (!from) from = shiftDay(to, -(DEFAULT_PERIOD_DAYS - 1));
  if (from > to) throw invalid('from must not be after to');
  if (dayNumber(to) - dayNumber(from) + 1 > MAX_PERIOD_DAYS) throw invalid(`a period is at most ${MAX_PERIOD_DAYS} days`);
  return { from, to, bucket: bucket as Bucket, hours: hours as Hours };
}

/** Shanghai midnight at the start of a date. */
const startOf = (d: string) => zonedToInstant(Number(d.slice(0, 4)), Number(d.slice(5, 7)), Number(d.slice(8, 10)), 0, 0, MARKET_TZ);

/** First day of the bucket holding date `d`. */
export function bucketOf(d: string, bucket: Bucket): string {
  if (bucket === 'day') return d;
  if (bucket === 'month') return `${d.slice(0, 8)}01`;
  const wd = new Date(`${d}T00:00:00Z`).getUTCDay();
  return shiftDay(d, -((wd + 6) % 7));
}

/** Every bucket of the period, in order (the series has a point for each, empty ones too). */
export function bucketsOf(p: Period): string[] {
  const out: string[] = [];
  for (let d = p.from; d <= p.to; d = shiftDay(d, 1)) {
    const b = bucketOf(d, p.bucket);
    if (out[out.length - 1] !== b) out.push(b);
  }
  return out;
}

/**
 * How the period is read from the rollups: months lying wholly inside it and ended before `today` from
 * their month rows (the current month's open tasks are not all overdue yet, so it is read by day), the
 * other days as ranges of day rows (index ranges, not a scan testing each row's month).
 */
export function rollupPlan(p: Period, today: string): { months: string[]; dayRanges: Array<[string, string]> } {
  const months: string[] = [];
  const dayRanges: Array<[string, string]> = [];
  let next = p.from;
  for (let m = bucketOf(p.from, 'month'); m <= p.to; m = shiftDay(m, 32).slice(0, 8) + '01') {
    const last = shiftDay(shiftDay(m, 32).slice(0, 8) + '01', -1);
    if (p.bucket !== 'month' || m < p.from || last > p.to || last >= today) continue;
    if (next < m) dayRanges.push([next, shiftDay(m, -1)]);
    months.push(m);
    next = shiftDay(last, 1);
  }
  if (next <= p.to) dayRanges.push([next, p.to]);
  return { months, dayRanges };
}

// ---------------------------------------------------------------------------------------------
// Accumulation

interface Acc {
  hist: number[];
  answered: number;
  recsSent: number;
  recsRefused: number;
  recsHeld: number;
  tasksOnTime: number;
  tasksOverdue: number;
  followupsDone: number;
  followupsOverdue: number;
  complaints: number;
  surveys: number;
  surveyScore: number;
}

type Counter = Exclude<keyof Acc, 'hist'>;

/** Counters of the rollup statement, by column. */
const ROLLUP_COUNTERS: Array<[Counter, string]> = [
  ['recsSent', 'recs_sent'],
  ['recsRefused', 'recs_refused'],
  ['recsHeld', 'recs_held'],
  ['tasksOnTime', 'tasks_on_time'],
  ['tasksOverdue', 'tasks_overdue'],
  ['followupsDone', 'followups_done'],
  ['followupsOverdue', 'followups_overdue'],
  ['complaints', 'complaints'],
  ['surveys', 'surveys'],
  ['surveyScore', 'survey_score'],
];

const emptyAcc = (): Acc => ({
  hist: new Array<number>(RESPONSE_BINS).fill(0),
  answered: 0,
  recsSent: 0,
  recsRefused: 0,
  recsHeld: 0,
  tasksOnTime: 0,
  tasksOverdue: 0,
  followupsDone: 0,
  followupsOverdue: 0,
  complaints: 0,
  surveys: 0,
  surveyScore: 0,
});

function addAcc(into: Acc, a: Acc): void {
  for (let i = 0; i < RESPONSE_BINS; i++) into.hist[i] += a.hist[i];
  for (const k of Object.keys(a) as Array<keyof Acc>) if (k !== 'hist') into[k] += a[k];
}

function periodFigures(a: Acc): PeriodFigures {
  return {
    answered: a.answered,
    p50: histPercentile(a.hist, 0.5),
    p90: histPercentile(a.hist, 0.9),
    recsSent: a.recsSent,
    recsRefused: a.recsRefused,
    recsHeld: a.recsHeld,
    tasksOnTime: a.tasksOnTime,
    tasksOverdue: a.tasksOverdue,
    followupsDone: a.followupsDone,
    followupsOverdue: a.followupsOverdue,
    complaints: a.complaints,
    surveys: a.surveys,
    surveyAvg: a.surveys ? Math.round((a.surveyScore / a.surveys) * 100) / 100 : null,
  };
}

interface Cur {
  waiting: number;
  oldestWaiting: CurrentFigures['oldestWaiting'];
  book: number;
  contacted: number;
}

const emptyCur = (): Cur => ({ waiting: 0, oldestWaiting: null, book: 0, contacted: 0 });

function addCur(into: Cur, c: Cur): void {
  into.waiting += c.waiting;
  into.book += c.book;
  into.contacted += c.contacted;
  if (c.oldestWaiting && (!into.oldestWaiting || c.oldestWaiting.since < into.oldestWaiting.since)) into.oldestWaiting = c.oldestWaiting;
}

function currentFigures(c: Cur): CurrentFigures {
  return { ...c, coverage: c.book ? Math.round((c.contacted / c.book) * 1000) / 10 : null };
}

// ---------------------------------------------------------------------------------------------
// SQL

const num = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));
const iso = (v: unknown) => (v instanceof Date ? v : new Date(String(v))).toISOString();

/** Brokers of the scope (users `u`), as a condition. */
function scopeFilter(scope: ScopeRef): SQL {
  switch (scope.kind) {
    case 'broker':
      return sql`u.id = ${scope.id}::uuid`;
    case 'team':
      return sql`u.team_id = ${scope.id}::uuid`;
    case 'branch':
      return sql`u.branch_id = ${scope.id}::uuid`;
    case 'firm':
      return sql`u.firm_id = ${scope.id}::uuid`;
  }
}

/**
 * Runs an analytic statement: JIT off (compiling a plan costs more than these statements run), a
 * custom plan for its parameters (the period decides between index and scan), memory for its sorts,
 * no parallel workers (a report's statements run side by side and share the cores already).
 */
async function analytic<T>(db: Db, q: SQL): Promise<T[]> {
  return db.transaction(async (tx) => {
    await tx.execute(
      sql`select set_config('jit', 'off', true), set_config('plan_cache_mode', 'force_custom_plan', true), set_config('work_mem', '32MB', true),
            set_config('max_parallel_workers_per_gather', '0', true)`,
    );
    return rows<T>(tx, q);
  });
}

/** The first day of the bucket holding date column `d` (the unit is one of BUCKETS). */
function bucketSql(d: SQL, bucket: Bucket): SQL {
  return bucket === 'day' ? d : sql`date_trunc(${sql.raw(`'${bucket}'`)}, ${d})::date`;
}

/** Columns of a rollup row `r` the report adds up; open tasks and follow-ups count as overdue for days before today. */
function rollupColumns(hist: SQL, today: string | null): SQL {
  const pastOnly = (col: string) => (today === null ? sql.raw(`r.${col}`) : sql`case when r.day < ${today}::date then r.${sql.raw(col)} else 0 end`);
  return sql`r.answered, r.${hist} as h, r.recs_sent, r.recs_refused, r.recs_held, r.tasks_on_time,
    r.tasks_late + ${pastOnly('tasks_open')} as tasks_overdue, r.followups_done, ${pastOnly('followups_open')} as followups_overdue,
    r.complaints, r.surveys, r.survey_score`;
}

export interface QualityOptions {
  now?: Date;
  /** When given, each statement's wall time (ms) is recorded here by name (the bench prints them). */
  timings?: Record<string, number>;
}

export class QualityService {
  constructor(private readonly db: Db) {}

  async report(scope: ScopeRef, period: Period, opts: QualityOptions = {}): Promise<QualityReport> {
    const now = opts.now ?? new Date();
    const nowTs = now.toISOString();
    const today = shanghaiToday(now);
    const { months, dayRanges } = rollupPlan(period, today);
    const monthList = sql.join(months.map((m) => sql`${m}::date`), sql`, `);
    const dayList = sql.join(dayRanges.map(([a, b]) => sql`r.day between ${a}::date and ${b}::date`), sql` or `);
    const hist = sql.raw(period.hours === 'trading' ? 'trading_hist' : 'all_hist');
    const todayIn = period.from <= today && today <= period.to;
    const todayStart = startOf(today).toISOString();

    const timed = <T>(name: string, q: SQL): Promise<T[]> => {
      if (!opts.timings) return analytic<T>(this.db, q);
      const t0 = performance.now();
      return analytic<T>(this.db, q).finally(() => (opts.timings![name] = performance.now() - t0));
    };
    const people = await timed<Record<string, unknown>>(
      'brokers',
      sql`select u.id::text as id, u.display_name, u.active, u.team_id::text as team_id, t.name as team_name,
            u.branch_id::text as branch_id, b.name as branch_name
          from users u left join teams t on t.id = u.team_id left join branches b on b.id = u.branch_id
          where u.role = 'broker' and ${scopeFilter(scope)}
          order by b.code nulls last, t.code nulls last, u.display_name, u.id`,
    );
    // The scope's brokers as a list of ids: the planner then knows how many rows each statement reads
    // (a subquery on users would look like a few rows out of 500,000 users and lead to nested loops).
    const brokersOf = sql`any(${`{${people.map((u) => String(u.id)).join(',')}}`}::uuid[])`;
    // Whole months from the month rows, the other days from the day rows; summed per broker and per bucket.
    const rollupRows = sql`${
      dayRanges.length
        ? sql`select r.broker_id, ${bucketSql(sql`r.day`, period.bucket)} as b, ${rollupColumns(hist, today)}
              from service_rollups r where r.grain = 'day' and r.broker_id = ${brokersOf} and (${dayList})`
        : sql``
    }
    ${dayRanges.length && months.length ? sql`union all` : sql``}
    ${
      months.length
        ? sql`select r.broker_id, r.day as b, ${rollupColumns(hist, null)}
              from service_rollups r where r.grain = 'month' and r.broker_id = ${brokersOf} and r.day in (${monthList})`
        : sql``
    }`;
    const [rollups, dueToday, waiting, book, contacted] = await Promise.all([
      timed<Record<string, unknown>>(
        'rollups',
        sql`select grouping(x.broker_id) as g, x.broker_id::text as broker_id, x.b::text as b,
              sum(x.answered)::int as answered, sum(x.h)::text as hist,
              sum(x.recs_sent)::int as recs_sent, sum(x.recs_refused)::int as recs_refused, sum(x.recs_held)::int as recs_held,
              sum(x.tasks_on_time)::int as tasks_on_time, sum(x.tasks_overdue)::int as tasks_overdue,
              sum(x.followups_done)::int as followups_done, sum(x.followups_overdue)::int as followups_overdue,
              sum(x.complaints)::int as complaints, sum(x.surveys)::int as surveys, sum(x.survey_score)::int as survey_score
            from (${rollupRows}) x group by grouping sets ((x.broker_id), (x.b))`,
      ),
      // Today's tasks and follow-ups due before now and not done: overdue already, though their day has not ended.
      todayIn
        ? timed<Record<string, unknown>>(
            'today',
            sql`select a.broker_id::text as broker_id, count(*)::int as tasks, 0 as followups from task_assignments a join tasks t on t.id = a.task_id
                where t.due_at >= ${todayStart}::timestamptz and t.due_at < ${nowTs}::timestamptz and a.done_at is null and a.broker_id = ${brokersOf}
                group by a.broker_id
                union all
                select f.broker_id::text, 0, count(*)::int from followups f
                where f.state = 'open' and f.due_at >= ${todayStart}::timestamptz and f.due_at < ${nowTs}::timestamptz and f.broker_id = ${brokersOf}
                group by f.broker_id`,
          )
        : Promise.resolve([] as Array<Record<string, unknown>>),
      // The oldest wait per broker (in index order), with how many wait; names for those only.
      timed<Record<string, unknown>>(
        'waiting',
        sql`select o.broker_id::text as broker_id, o.client_id::text as client_id, cu.display_name, o.waiting_since, o.waiting
            from (select distinct on (c.broker_id) c.broker_id, c.client_id, c.waiting_since, count(*) over (partition by c.broker_id)::int as waiting
                  from conversations c where c.type = 'broker_client' and c.waiting_since is not null and c.broker_id = ${brokersOf}
                  order by c.broker_id, c.waiting_since, c.id) o
            join users cu on cu.id = o.client_id`,
      ),
      // The book: the broker's primary clients now (kept in its `all` rollup row).
      timed<Record<string, unknown>>(
        'book',
        sql`select r.broker_id::text as broker_id, r.book from service_rollups r where r.grain = 'all' and r.broker_id = ${brokersOf}`,
      ),
      // Of those, the ones whose latest staff chat fell on one of the last 30 days (counted per day in the rollups).
      timed<Record<string, unknown>>(
        'contacted',
        sql`select r.broker_id::text as broker_id, sum(r.contacted)::int as contacted from service_rollups r
            where r.grain = 'day' and r.broker_id = ${brokersOf} and r.day between ${shiftDay(today, -(CONTACT_WINDOW_DAYS - 1))}::date and ${today}::date
            group by r.broker_id`,
      ),
    ]);

    // Per broker and per bucket.
    const byBroker = new Map<string, Acc>();
    const byBucket = new Map<string, Acc>();
    const accOf = (r: Record<string, unknown>): Acc => {
      const bucketRow = num(r.g) === 1;
      const map = bucketRow ? byBucket : byBroker;
      const key = String(bucketRow ? r.b : r.broker_id);
      let a = map.get(key);
      if (!a) map.set(key, (a = emptyAcc()));
      return a;
    };
    for (const r of rollups) {
      const a = accOf(r);
      a.answered += num(r.answered);
      const h = unpackHist(String(r.hist ?? '0'));
      for (let i = 0; i < RESPONSE_BINS; i++) a.hist[i] += h[i];
      for (const [k, col] of ROLLUP_COUNTERS) a[k] += num(r[col]);
    }
    // Today's overdue ones, into their broker's and today's bucket.
    const todayBucket = bucketOf(today, period.bucket);
    for (const r of dueToday) {
      for (const row of [{ g: 0, broker_id: r.broker_id }, { g: 1, b: todayBucket }]) {
        const a = accOf(row);
        a.tasksOverdue += num(r.tasks);
        a.followupsOverdue += num(r.followups);
      }
    }
    const cur = new Map<string, Cur>();
    const curOf = (id: string) => {
      let c = cur.get(id);
      if (!c) cur.set(id, (c = emptyCur()));
      return c;
    };
    for (const r of waiting) {
      const c = curOf(String(r.broker_id));
      c.waiting = num(r.waiting);
      c.oldestWaiting = { clientId: String(r.client_id), displayName: String(r.display_name), since: iso(r.waiting_since) };
    }
    for (const r of book) curOf(String(r.broker_id)).book = num(r.book);
    for (const r of contacted) curOf(String(r.broker_id)).contacted = num(r.contacted);

    // Rows: every active broker of the scope, and a former one only when it has figures; roll-ups are their sums.
    interface Group {
      name: string | null;
      acc: Acc;
      cur: Cur;
      n: number;
    }
    const group = (name: string | null): Group => ({ name, acc: emptyAcc(), cur: emptyCur(), n: 0 });
    const add = (g: Group, acc: Acc, cc: Cur) => {
      addAcc(g.acc, acc);
      addCur(g.cur, cc);
      g.n++;
    };
    const brokers: BrokerRow[] = [];
    const groups = { team: new Map<string, Group>(), branch: new Map<string, Group>() };
    const total = group(scope.name);
    for (const u of people) {
      const id = String(u.id);
      const a = byBroker.get(id);
      const c = cur.get(id);
      const active = u.active === true || u.active === 't';
      if (!active && !a && !(c && (c.waiting || c.book))) continue;
      const acc = a ?? emptyAcc();
      const cc = c ?? emptyCur();
      const row: BrokerRow = {
        id,
        name: String(u.display_name),
        active,
        teamId: (u.team_id as string | null) ?? null,
        teamName: (u.team_name as string | null) ?? null,
        branchId: (u.branch_id as string | null) ?? null,
        branchName: (u.branch_name as string | null) ?? null,
        ...periodFigures(acc),
        ...currentFigures(cc),
      };
      brokers.push(row);
      add(total, acc, cc);
      for (const [kind, key, name] of [
        ['team', row.teamId, row.teamName],
        ['branch', row.branchId, row.branchName],
      ] as const) {
        const m = groups[kind];
        let g = m.get(key ?? '');
        if (!g) m.set(key ?? '', (g = group(name)));
        add(g, acc, cc);
      }
    }
    const groupRow = (id: string | null, g: Group): GroupRow => ({ id, name: g.name, brokers: g.n, ...periodFigures(g.acc), ...currentFigures(g.cur) });
    const groupRows = (m: Map<string, Group>): GroupRow[] => [...m].map(([id, g]) => groupRow(id || null, g));

    return {
      scope,
      period,
      generatedAt: nowTs,
      total: groupRow(scope.id, total),
      branches: scope.kind === 'branch' || scope.kind === 'firm' ? groupRows(groups.branch) : [],
      teams: scope.kind === 'broker' ? [] : groupRows(groups.team),
      brokers,
      series: bucketsOf(period).map((b) => ({ bucket: b, ...periodFigures(byBucket.get(b) ?? emptyAcc()) })),
    };
  }
}
