/**
 * Service-quality figures (服务质量, docs/service.md "Service quality"): per broker of a scope (one
 * broker, a team, a branch, the firm), with team, branch and scope roll-ups, and per day / week / month
 * of a period, all computed in Postgres from the stored rows on each request:
 *
 * | figure | from | bucketed by |
 * |---|---|---|
 * | answered, first response p50 / p90 (trading or all hours) | `response_rollups` (counts of `response_episodes` per broker and day / month, src/domain/response-bins.ts) | answer day |
 * | recommendations sent / refused by suitability / held for approval | `recommendations` (sent = delivered or being delivered; held = went to compliance approval) | created |
 * | tasks done on time / overdue | `task_assignments` × `tasks.due_at` (overdue: due passed and not done by then) | due |
 * | follow-ups done / overdue | `followups` of the broker's clients (overdue: open and due passed; cancelled ones left out) | due |
 * | complaints | `complaints.broker_id` | filed |
 * | satisfaction: answered surveys, average score | `surveys` | answered |
 * | waiting clients, oldest wait (now) | `conversations.waiting_since` | — |
 * | book, clients contacted in the last 30 days (now) | `broker_clients` (primary) × `conversations.last_staff_chat_at` | — |
 *
 * Days are Asia/Shanghai days; weeks start on Monday; a bucket is named by its first day (so a week or
 * month bucket may start before `from`, and only the days inside the period are counted in it). Each
 * statement groups once by broker and once by bucket (GROUPING SETS); team, branch and scope rows are
 * sums of broker rows (counts and response-time histograms add up), so a roll-up always equals the
 * sum of its brokers. The statements run concurrently, each with JIT off and custom plans.
 */
import { sql, type SQL } from 'drizzle-orm';
import { RESPONSE_BINS, histPercentile } from '../domain/response-bins.ts';
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
/** "Contacted lately": a chat from the broker side in this many days. */
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
  /** Of those, clients with a chat from the broker side in the last 30 days. */
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

/** Months lying wholly inside the period (their month rollup row replaces 28–31 day rows). */
function fullMonths(p: Period): string[] {
  if (p.bucket !== 'month') return [];
  const out: string[] = [];
  for (let m = bucketOf(p.from, 'month'); m <= p.to; m = shiftDay(m, 32).slice(0, 8) + '01') {
    const last = shiftDay(shiftDay(m, 32).slice(0, 8) + '01', -1);
    if (m >= p.from && last <= p.to) out.push(m);
  }
  return out;
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
 * custom plan for its parameters (the period decides between index and scan), memory for its sorts.
 */
async function analytic<T>(db: Db, q: SQL): Promise<T[]> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select set_config('jit', 'off', true), set_config('plan_cache_mode', 'force_custom_plan', true), set_config('work_mem', '32MB', true)`);
    return rows<T>(tx, q);
  });
}

/** `(ts at Shanghai)` truncated to its bucket, as a date (the unit is one of BUCKETS). */
function bucketSql(ts: SQL, bucket: Bucket): SQL {
  return sql`date_trunc(${sql.raw(`'${bucket}'`)}, (${ts}) at time zone ${sql.raw(`'${MARKET_TZ}'`)})::date`;
}

/**
 * Groups `inner` (columns broker_id, b and the ones `aggregates` reads) once per broker and once per
 * bucket. Rows come back with `g` = 1 for the bucket rows.
 */
function grouped(inner: SQL, aggregates: SQL): SQL {
  return sql`select grouping(x.broker_id) as g, x.broker_id::text as broker_id, x.b::text as b, ${aggregates}
    from (${inner}) x group by grouping sets ((x.broker_id), (x.b))`;
}

export interface QualityOptions {
  now?: Date;
}

export class QualityService {
  constructor(private readonly db: Db) {}

  async report(scope: ScopeRef, period: Period, opts: QualityOptions = {}): Promise<QualityReport> {
    const now = opts.now ?? new Date();
    const fromTs = startOf(period.from).toISOString();
    const toTs = startOf(shiftDay(period.to, 1)).toISOString();
    const nowTs = now.toISOString();
    const brokersOf = sql`(select u.id from users u where u.role = 'broker' and ${scopeFilter(scope)})`;
    const months = fullMonths(period);
    const monthList = sql.join(months.map((m) => sql`${m}::date`), sql`, `);
    const hist = period.hours === 'trading' ? sql.raw('trading_hist') : sql.raw('all_hist');
    const histSums = sql.raw(Array.from({ length: RESPONSE_BINS }, (_, i) => `sum(x.h[${i + 1}])::int`).join(', '));

    const [people, responses, recs, tasks, followups, complaints, surveys, waiting, book] = await Promise.all([
      analytic<Record<string, unknown>>(
        this.db,
        sql`select u.id::text as id, u.display_name, u.active, u.team_id::text as team_id, t.name as team_name,
              u.branch_id::text as branch_id, b.name as branch_name
            from users u left join teams t on t.id = u.team_id left join branches b on b.id = u.branch_id
            where u.role = 'broker' and ${scopeFilter(scope)}
            order by b.code nulls last, t.code nulls last, u.display_name, u.id`,
      ),
      // Whole months from the month rows, the other days from the day rows.
      analytic<Record<string, unknown>>(
        this.db,
        grouped(
          sql`select r.broker_id, ${period.bucket === 'day' ? sql`r.day` : sql`date_trunc(${sql.raw(`'${period.bucket}'`)}, r.day)::date`} as b, r.answered, r.${hist} as h
              from response_rollups r
              where r.grain = 'day' and r.broker_id in ${brokersOf} and r.day between ${period.from}::date and ${period.to}::date
                ${months.length ? sql`and date_trunc('month', r.day)::date not in (${monthList})` : sql``}
              ${
                months.length
                  ? sql`union all select r.broker_id, r.day as b, r.answered, r.${hist} as h from response_rollups r
                        where r.grain = 'month' and r.broker_id in ${brokersOf} and r.day in (${monthList})`
                  : sql``
              }`,
          sql`sum(x.answered)::int as answered, array[${histSums}] as hist`,
        ),
      ),
      analytic<Record<string, unknown>>(
        this.db,
        grouped(
          sql`select r.broker_id, ${bucketSql(sql`r.created_at`, period.bucket)} as b, r.status, r.approval_id from recommendations r
              where r.broker_id in ${brokersOf} and r.created_at >= ${fromTs}::timestamptz and r.created_at < ${toTs}::timestamptz`,
          sql`count(*) filter (where x.status in ('sending', 'delivered'))::int as recs_sent,
              count(*) filter (where x.status = 'refused')::int as recs_refused,
              count(*) filter (where x.approval_id is not null)::int as recs_held`,
        ),
      ),
      analytic<Record<string, unknown>>(
        this.db,
        grouped(
          sql`select a.broker_id, ${bucketSql(sql`t.due_at`, period.bucket)} as b, t.due_at, a.done_at from task_assignments a join tasks t on t.id = a.task_id
              where a.broker_id in ${brokersOf} and t.due_at >= ${fromTs}::timestamptz and t.due_at < ${toTs}::timestamptz`,
          sql`count(*) filter (where x.done_at is not null and x.done_at <= x.due_at)::int as tasks_on_time,
              count(*) filter (where x.due_at < ${nowTs}::timestamptz and (x.done_at is null or x.done_at > x.due_at))::int as tasks_overdue`,
        ),
      ),
      analytic<Record<string, unknown>>(
        this.db,
        grouped(
          sql`select f.broker_id, ${bucketSql(sql`f.due_at`, period.bucket)} as b, f.state, f.due_at from followups f
              where f.broker_id in ${brokersOf} and f.due_at >= ${fromTs}::timestamptz and f.due_at < ${toTs}::timestamptz and f.state <> 'cancelled'`,
          sql`count(*) filter (where x.state = 'done')::int as followups_done,
              count(*) filter (where x.state = 'open' and x.due_at < ${nowTs}::timestamptz)::int as followups_overdue`,
        ),
      ),
      analytic<Record<string, unknown>>(
        this.db,
        grouped(
          sql`select c.broker_id, ${bucketSql(sql`c.created_at`, period.bucket)} as b from complaints c
              where c.broker_id in ${brokersOf} and c.created_at >= ${fromTs}::timestamptz and c.created_at < ${toTs}::timestamptz`,
          sql`count(*)::int as complaints`,
        ),
      ),
      analytic<Record<string, unknown>>(
        this.db,
        grouped(
          sql`select s.broker_id, ${bucketSql(sql`s.answered_at`, period.bucket)} as b, s.score from surveys s
              where s.broker_id in ${brokersOf} and s.answered_at >= ${fromTs}::timestamptz and s.answered_at < ${toTs}::timestamptz and s.score is not null`,
          sql`count(*)::int as surveys, sum(x.score)::int as survey_score`,
        ),
      ),
      // The oldest wait per broker, with how many wait.
      analytic<Record<string, unknown>>(
        this.db,
        sql`select distinct on (c.broker_id) c.broker_id::text as broker_id, c.client_id::text as client_id, cu.display_name, c.waiting_since,
              count(*) over (partition by c.broker_id)::int as waiting
            from conversations c join users cu on cu.id = c.client_id
            where c.type = 'broker_client' and c.waiting_since is not null and c.broker_id in ${brokersOf}
            order by c.broker_id, c.waiting_since, c.id`,
      ),
      analytic<Record<string, unknown>>(
        this.db,
        sql`select bc.broker_id::text as broker_id, count(*)::int as book, count(c.client_id)::int as contacted
            from broker_clients bc
            left join conversations c on c.type = 'broker_client' and c.broker_id = bc.broker_id and c.client_id = bc.client_id
              and c.last_staff_chat_at is not null and c.last_staff_chat_at >= ${nowTs}::timestamptz - ${CONTACT_WINDOW_DAYS} * interval '1 day'
            where bc.relation = 'primary' and bc.broker_id in ${brokersOf}
            group by bc.broker_id`,
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
    const take = (list: Array<Record<string, unknown>>, fields: Array<[Counter, string]>) => {
      for (const r of list) {
        const a = accOf(r);
        for (const [k, col] of fields) a[k] += num(r[col]);
      }
    };
    for (const r of responses) {
      const a = accOf(r);
      a.answered += num(r.answered);
      const h = Array.isArray(r.hist) ? (r.hist as unknown[]) : parsePgIntArray(String(r.hist ?? ''));
      for (let i = 0; i < RESPONSE_BINS; i++) a.hist[i] += num(h[i]);
    }
    take(recs, [
      ['recsSent', 'recs_sent'],
      ['recsRefused', 'recs_refused'],
      ['recsHeld', 'recs_held'],
    ]);
    take(tasks, [
      ['tasksOnTime', 'tasks_on_time'],
      ['tasksOverdue', 'tasks_overdue'],
    ]);
    take(followups, [
      ['followupsDone', 'followups_done'],
      ['followupsOverdue', 'followups_overdue'],
    ]);
    take(complaints, [['complaints', 'complaints']]);
    take(surveys, [
      ['surveys', 'surveys'],
      ['surveyScore', 'survey_score'],
    ]);
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
    for (const r of book) {
      const c = curOf(String(r.broker_id));
      c.book = num(r.book);
      c.contacted = num(r.contacted);
    }

    // Rows: every active broker of the scope, and a former one only when it has figures.
    const brokers: BrokerRow[] = [];
    const groups = { team: new Map<string, { name: string | null; acc: Acc; cur: Cur; n: number }>(), branch: new Map<string, { name: string | null; acc: Acc; cur: Cur; n: number }>() };
    const total = { acc: emptyAcc(), cur: emptyCur(), n: 0 };
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
      addAcc(total.acc, acc);
      addCur(total.cur, cc);
      total.n++;
      for (const [kind, key, name] of [
        ['team', row.teamId, row.teamName],
        ['branch', row.branchId, row.branchName],
      ] as const) {
        const m = groups[kind];
        const k = key ?? '';
        let g = m.get(k);
        if (!g) m.set(k, (g = { name, acc: emptyAcc(), cur: emptyCur(), n: 0 }));
        addAcc(g.acc, acc);
        addCur(g.cur, cc);
        g.n++;
      }
    }
    const groupRows = (m: Map<string, { name: string | null; acc: Acc; cur: Cur; n: number }>): GroupRow[] =>
      [...m].map(([id, g]) => ({ id: id || null, name: g.name, brokers: g.n, ...periodFigures(g.acc), ...currentFigures(g.cur) }));

    return {
      scope,
      period,
      generatedAt: nowTs,
      total: { id: scope.id, name: scope.name, brokers: total.n, ...periodFigures(total.acc), ...currentFigures(total.cur) },
      branches: scope.kind === 'branch' || scope.kind === 'firm' ? groupRows(groups.branch) : [],
      teams: scope.kind === 'broker' ? [] : groupRows(groups.team),
      brokers,
      series: bucketsOf(period).map((b) => ({ bucket: b, ...periodFigures(byBucket.get(b) ?? emptyAcc()) })),
    };
  }
}

/** `{1,2,3}` → [1, 2, 3] (drivers that hand an int[] back as text). */
function parsePgIntArray(s: string): number[] {
  const inner = s.replace(/^\{|\}$/g, '');
  return inner ? inner.split(',').map(Number) : [];
}
