/**
 * Service-quality dashboard benchmark (issue 11: "each dashboard query ≤ 200 ms with a year of data for
 * 2,000 brokers and 500,000 clients").
 *
 *   npm run bench:service
 *   npx tsx bench/service-quality.bench.ts [--runs 7] [--scale 1] [--keep-db]
 *
 * 1. Creates the database `qiao_bench_service` (dropped first if left over) on the benches' PostgreSQL
 *    (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres) and runs the migrations.
 * 2. Seeds with set-based SQL (generate_series; foreign-key triggers off for the load, as a restore does):
 *    20 branches, 100 teams (5 per branch, each with a manager; a branch head per branch), 2,000 brokers
 *    (20 per team), 500,000 clients (250 per broker, primary), 400,000 broker–client conversations (85 % of
 *    them with a staff chat in the last 90 days, 1 % of them waiting now), and a year of events:
 *    ~3,000,000 response episodes (1–14 per conversation; waits log-uniform 1 s – 28 h), 1,000,000
 *    recommendations (8 % refused, 5 % held for approval), 10,400 team tasks with 208,000 assignments,
 *    150,000 follow-ups, 5,000 complaints, 600,000 surveys (40 % answered); then the per-broker day and
 *    month rollups recounted from all of them (qiao_service_rollups_rebuild: the load bypasses the
 *    triggers that keep them in production). `--scale 0.1` seeds a tenth of every client-side volume.
 *    Then VACUUM (ANALYZE). Every step is timed.
 * 3. Times QualityService.report (src/service/quality.ts: every statement of GET /api/service/quality,
 *    run concurrently on a pool of 10 as the route runs them, plus the JavaScript roll-ups; not HTTP)
 *    for a broker, a team, a branch and the firm, over the last 30 days by day, the last 12 months by
 *    month (this month so far and the 11 before it) and a rolling 365 days by month (its first month
 *    partial, so read by day), trading hours: one warm-up and `--runs` timed runs each; median and max
 *    against 200 ms. The slowest statement of each query is printed beside it.
 * 4. Drops the database (unless --keep-db).
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { QualityService, parsePeriod, shanghaiToday, type Period } from '../src/service/quality.ts';
import type { ScopeRef } from '../src/service/quality-scope.ts';
import { rebuildServiceRollups } from '../src/service/quality-rollups.ts';
import { openPostgres } from '../src/store/db.ts';
import { ADMIN_DB, admin } from './lib/pg-admin.ts';

const DB_NAME = 'qiao_bench_service';
const TARGET_MS = 200;

function args() {
  const a = process.argv.slice(2);
  const opt = (name: string, d: string) => {
    const i = a.indexOf(`--${name}`);
    return i >= 0 && a[i + 1] ? a[i + 1] : d;
  };
  if (a.includes('--help')) {
    console.log('npx tsx bench/service-quality.bench.ts [--runs 7] [--scale 1] [--keep-db]');
    process.exit(0);
  }
  const runs = Number(opt('runs', '7'));
  const scale = Number(opt('scale', '1'));
  if (!(runs >= 1) || !(scale > 0 && scale <= 1)) {
    console.error('--runs must be ≥ 1 and --scale in (0, 1]');
    process.exit(2);
  }
  return { runs, scale, keep: a.includes('--keep-db') };
}

const log = (s: string) => process.stderr.write(`${s}\n`);

async function main(): Promise<void> {
  const o = args();
  const url = new URL(ADMIN_DB);
  url.pathname = `/${DB_NAME}`;
  await admin(async (c) => {
    await c.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [DB_NAME]);
    await c.query(`drop database if exists ${DB_NAME}`);
    await c.query(`create database ${DB_NAME}`);
  });
  const handle = await openPostgres(url.toString(), 10);
  try {
    await handle.migrate();
    const counts = await seed(url.toString(), o.scale, handle.db);
    const c = new pg.Client({ connectionString: url.toString() });
    await c.connect();
    const pick = async (q: string) => String((await c.query(q)).rows[0].id);
    const [firmId, branchId, teamId, brokerId] = [
      await pick(`select id from firms limit 1`),
      await pick(`select id from branches where code = 'B0'`),
      await pick(`select id from teams where code = 'T0'`),
      await pick(`select id from users where login = 'bb1'`),
    ];
    const server = (await c.query(`select version() as v, current_setting('shared_buffers') as sb, pg_size_pretty(pg_database_size(current_database())) as size`)).rows[0];
    await c.end();

    const quality = new QualityService(handle.db);
    const now = new Date();
    const today = shanghaiToday(now);
    const daysBack = (n: number) => new Date(Date.parse(`${today}T00:00:00Z`) - n * 86_400_000).toISOString().slice(0, 10);
    const monthsBack = (n: number) => {
      const d = new Date(`${today.slice(0, 8)}01T00:00:00Z`);
      d.setUTCMonth(d.getUTCMonth() - n);
      return d.toISOString().slice(0, 10);
    };
    // The web client's presets: the last 30 days by day, the last 12 months by month (this month so far
    // and the 11 before it); and a rolling 365 days by month, whose first month is partial.
    const periods: Array<[string, Period]> = [
      ['30 days by day', parsePeriod({ from: daysBack(29), to: today, bucket: 'day', hours: 'trading' }, now)],
      ['12 months by month', parsePeriod({ from: monthsBack(11), to: today, bucket: 'month', hours: 'trading' }, now)],
      ['365 days by month', parsePeriod({ from: daysBack(364), to: today, bucket: 'month', hours: 'trading' }, now)],
    ];
    const scopes: ScopeRef[] = [
      { kind: 'broker', id: brokerId, name: 'bb1' },
      { kind: 'team', id: teamId, name: 'T0' },
      { kind: 'branch', id: branchId, name: 'B0' },
      { kind: 'firm', id: firmId, name: 'firm' },
    ];
    const results: Array<{ scope: string; period: string; brokers: number; answered: number; median: number; max: number; runs: number[]; slowest: string }> = [];
    for (const [label, period] of periods) {
      for (const scope of scopes) {
        const first = await quality.report(scope, period, { now });
        const runs: number[] = [];
        const slowest: Record<string, number[]> = {};
        for (let i = 0; i < o.runs; i++) {
          const timings: Record<string, number> = {};
          const t0 = performance.now();
          await quality.report(scope, period, { now, timings });
          runs.push(performance.now() - t0);
          for (const [k, v] of Object.entries(timings)) (slowest[k] ??= []).push(v);
        }
        const statements = Object.entries(slowest)
          .map(([k, v]) => [k, [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)]] as const)
          .sort((a, b) => b[1] - a[1]);
        const sorted = [...runs].sort((a, b) => a - b);
        const r = {
          scope: scope.kind,
          period: label,
          brokers: first.brokers.length,
          answered: first.total.answered,
          median: sorted[Math.floor((sorted.length - 1) / 2)],
          max: sorted[sorted.length - 1],
          runs,
          slowest: statements.slice(0, 2).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', '),
        };
        results.push(r);
        log(`  ${scope.kind.padEnd(6)} ${label.padEnd(18)} median ${r.median.toFixed(0)} ms, max ${r.max.toFixed(0)} ms (${runs.map((x) => x.toFixed(0)).join(' ')})`);
      }
    }

    console.log(`\nService-quality dashboard bench — ${server.v.split(' ').slice(0, 2).join(' ')}, shared_buffers ${server.sb}, database ${server.size}`);
    console.log(`Seeded: ${Object.entries(counts).map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`).join(', ')}`);
    console.log(`Runs per query: 1 warm-up + ${o.runs} timed; QualityService.report in-process (all statements of GET /api/service/quality + roll-ups), hours = trading.\n`);
    console.log('| scope  | period             | brokers | answered  | median ms | max ms | ≤ 200 ms | slowest statements (median ms, concurrent) |');
    console.log('|--------|--------------------|---------|-----------|-----------|--------|----------|--------------------------------------------|');
    for (const r of results) {
      const ok = r.median <= TARGET_MS ? (r.max <= TARGET_MS ? 'yes' : 'yes (max over)') : 'NO';
      console.log(
        `| ${r.scope.padEnd(6)} | ${r.period.padEnd(18)} | ${String(r.brokers).padStart(7)} | ${r.answered.toLocaleString('en-US').padStart(9)} | ${r.median.toFixed(0).padStart(9)} | ${r.max.toFixed(0).padStart(6)} | ${ok.padEnd(8)} | ${r.slowest} |`,
      );
    }
    const load = (await import('node:os')).loadavg();
    console.log(`\nLoad average at the end (1/5/15 min): ${load.map((x) => x.toFixed(2)).join(' / ')} on ${(await import('node:os')).cpus().length} CPUs.`);
  } finally {
    await handle.close();
    if (!o.keep) {
      await admin(async (c) => {
        await c.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [DB_NAME]);
        await c.query(`drop database if exists ${DB_NAME}`);
      });
    } else log(`kept ${url.toString()}`);
  }
}

/** Set-based seeding; returns the row counts. */
async function seed(url: string, scale: number, db: Parameters<typeof rebuildServiceRollups>[0]): Promise<Record<string, number>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const n = (x: number) => Math.max(1, Math.round(x * scale));
  const BROKERS = 2000;
  const CLIENTS = n(500_000);
  const step = async (what: string, q: string) => {
    const t0 = performance.now();
    const r = await c.query(q);
    log(`  seed ${what}: ${r.rowCount ?? ''} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  };
  const started = performance.now();
  try {
    // Bulk load: no fsync wait per statement, no foreign-key triggers (the ids are generated consistent).
    await c.query(`set synchronous_commit = off; set session_replication_role = replica; set work_mem = '256MB'; set maintenance_work_mem = '512MB'`);
    await step('firm', `insert into firms (code, name) values ('BENCH', '基准证券')`);
    await step('branches', `insert into branches (firm_id, code, name) select (select id from firms), 'B' || i, '营业部' || i from generate_series(0, 19) i`);
    await step('teams', `insert into teams (branch_id, code, name) select b.id, 'T' || i, '团队' || i from generate_series(0, 99) i join branches b on b.code = 'B' || (i / 5)`);
    const hash = 'scrypt$bench$not-a-login';
    await step(
      'managers',
      `insert into users (firm_id, login, password_hash, display_name, role, branch_id, team_id)
       select (select id from firms), 'bm' || i, '${hash}', '经理' || i, 'manager', t.branch_id, t.id from generate_series(0, 99) i join teams t on t.code = 'T' || i`,
    );
    await c.query(`update teams t set manager_id = u.id from users u where u.login = 'bm' || substr(t.code, 2)`);
    await c.query(`update branches b set head_id = t.manager_id from teams t where t.branch_id = b.id and (substr(t.code, 2)::int % 5) = 0`);
    await step(
      'brokers',
      `insert into users (firm_id, login, password_hash, display_name, role, branch_id, team_id)
       select (select id from firms), 'bb' || i, '${hash}', '经纪' || i, 'broker', t.branch_id, t.id from generate_series(0, ${BROKERS - 1}) i join teams t on t.code = 'T' || (i / 20)`,
    );
    await c.query(`create temp table bk as select substr(login, 3)::int as n, id, team_id, branch_id from users where role = 'broker'; create unique index on bk (n); analyze bk`);
    await step(
      'clients',
      `insert into users (firm_id, login, password_hash, display_name, role, branch_id, tier, risk_level)
       select (select id from firms), 'bc' || i, '${hash}', '客户' || i, 'client', bk.branch_id, 'general', 'C3'
       from generate_series(0, ${CLIENTS - 1}) i join bk on bk.n = i % ${BROKERS}`,
    );
    await c.query(`create temp table cl as select substr(u.login, 3)::int as n, u.id, bk.id as broker_id, bk.n as broker_n from users u join bk on bk.n = substr(u.login, 3)::int % ${BROKERS} where u.role = 'client'; create unique index on cl (n); analyze cl`);
    await step('broker_clients', `insert into broker_clients (broker_id, client_id, relation) select broker_id, id, 'primary' from cl`);
    await step(
      'conversations',
      `insert into conversations (type, broker_id, client_id, created_by, created_at, waiting_known, waiting_since, last_staff_chat_at, last_chat_at)
       select 'broker_client', cl.broker_id, cl.id, cl.broker_id, now() - interval '400 days', true,
         case when cl.n % 100 = 1 then now() - random() * interval '3 days' end,
         s.staff, greatest(s.staff, case when cl.n % 100 = 1 then now() - interval '1 hour' end)
       from cl cross join lateral (select case when random() < 0.85 + cl.n * 0 then now() - random() * interval '90 days' end as staff) s
       where (cl.n / ${BROKERS}) % 5 <> 0`,
    );
    await c.query(`create temp table cv as select row_number() over (order by c.id) as n, c.id, c.broker_id, c.client_id from conversations c; create unique index on cv (n); analyze cv`);
    const convs = Number((await c.query(`select count(*) from cv`)).rows[0].count);
    // Waits log-uniform between 1 s and ~28 h; the part in trading hours a random share of it.
    await step(
      'response_episodes',
      `insert into response_episodes (conversation_id, broker_id, client_id, answered_by, team_id, branch_id, waiting_since, answered_at, all_seconds, trading_seconds)
       select cv.id, cv.broker_id, cv.client_id, cv.broker_id, bk.team_id, bk.branch_id, e.at - e.secs * interval '1 second', e.at, e.secs, (e.secs * random())::int
       from cv join bk on bk.id = cv.broker_id
       cross join lateral generate_series(1, 1 + ((random() + cv.n * 0) * 13)::int) g
       cross join lateral (select now() - random() * interval '365 days' + g * interval '0 s' as at, floor(exp(random() * 11.5 + g * 0))::int as secs) e`,
    );
    await step(
      'approvals',
      `insert into approvals (kind, requested_by, payload, status, created_at) select 'recommendation', bk.id, '{}', 'approved', now() - random() * interval '365 days' from generate_series(0, ${n(5000) - 1}) i join bk on bk.n = i % ${BROKERS}`,
    );
    await c.query(`create temp table ap as select row_number() over (order by id) - 1 as n, id from approvals; create unique index on ap (n); analyze ap`);
    await step(
      'recommendations',
      `insert into recommendations (batch_id, broker_id, client_id, security, product_risk, rationale, status, approval_id, created_at)
       select gen_random_uuid(), cl.broker_id, cl.id, '600519.SH', 'R3', '基准', x.status, case when x.held then ap.id end, now() - random() * interval '365 days'
       from generate_series(0, ${n(1_000_000) - 1}) i
       cross join lateral (select random() + i * 0 as r) rr
       cross join lateral (select case when rr.r < 0.08 then 'refused' when rr.r < 0.10 then 'pending_approval' when rr.r < 0.11 then 'rejected' else 'delivered' end as status, rr.r >= 0.08 and rr.r < 0.13 as held) x
       join cl on cl.n = (i::bigint * 7919) % ${CLIENTS}
       join ap on ap.n = i % ${n(5000)}`,
    );
    await step(
      'tasks',
      `insert into tasks (manager_id, title, due_at, created_at) select t.manager_id, '任务' || k, now() - interval '365 days' + k * interval '3.5 days', now() - interval '365 days' + k * interval '3.5 days' - interval '5 days'
       from teams t cross join generate_series(0, 103) k`,
    );
    await step(
      'task_assignments',
      `insert into task_assignments (task_id, broker_id, state, delivered_at, done_at)
       select tk.id, bk.id, case when d.done is null then 'read' else 'done' end, tk.created_at, d.done
       from tasks tk join users m on m.id = tk.manager_id join bk on bk.team_id = m.team_id
       cross join lateral (select random() + bk.n * 0 as r) rr
       cross join lateral (select case when rr.r < 0.75 then tk.due_at - rr.r * interval '3 days' when rr.r < 0.85 then tk.due_at + rr.r * interval '2 days' end as done) d
       where tk.due_at < now() or rr.r < 0.3`,
    );
    await step(
      'followups',
      `insert into followups (firm_id, client_id, broker_id, branch_id, team_id, due_at, state, done_at, created_at)
       select (select id from firms), cl.id, cl.broker_id, bk.branch_id, bk.team_id, x.due, case when rr.r < 0.75 then 'done' when rr.r < 0.78 then 'cancelled' else 'open' end,
         case when rr.r < 0.75 then x.due - interval '2 days' end, x.due - interval '30 days'
       from generate_series(0, ${n(150_000) - 1}) i
       cross join lateral (select random() + i * 0 as r, now() - random() * interval '335 days' + interval '30 days' + i * interval '0 s' as due) rr
       cross join lateral (select rr.due as due) x
       join cl on cl.n = (i::bigint * 104729) % ${CLIENTS} join bk on bk.id = cl.broker_id`,
    );
    await step(
      'complaints',
      `insert into complaints (firm_id, branch_id, client_id, broker_id, category, text, status, ack_due_at, resolve_due_at, created_at)
       select (select id from firms), bk.branch_id, cl.id, cl.broker_id, 'service', '基准投诉', 'resolved', x.at + interval '1 day', x.at + interval '15 days', x.at
       from generate_series(0, ${n(5000) - 1}) i cross join lateral (select now() - random() * interval '365 days' + i * interval '0 s' as at) x
       join cl on cl.n = (i::bigint * 15485863) % ${CLIENTS} join bk on bk.id = cl.broker_id`,
    );
    await step(
      'surveys',
      `insert into surveys (conversation_id, client_id, broker_id, team_id, branch_id, trigger, at_offset, sent_at, score, answered_at)
       select cv.id, cv.client_id, cv.broker_id, bk.team_id, bk.branch_id, 'quiet', i, x.sent,
         case when x.r < 0.4 then 1 + least(4, floor(x.r * 12.5))::int end, case when x.r < 0.4 then x.sent + x.r * interval '2 days' end
       from generate_series(0, ${n(600_000) - 1}) i
       cross join lateral (select random() + i * 0 as r, now() - random() * interval '365 days' + i * interval '0 s' as sent) x
       join cv on cv.n = 1 + (i::bigint * 7907) % ${convs} join bk on bk.id = cv.broker_id`,
    );
    await c.query(`set session_replication_role = origin`);
    {
      // The load bypassed the rollup triggers (as a restore does): recount them from the rows.
      const t0 = performance.now();
      await rebuildServiceRollups(db);
      log(`  seed service_rollups (qiao_service_rollups_rebuild from every row): ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    {
      const t0 = performance.now();
      await c.query(`vacuum (analyze) users, broker_clients, conversations, response_episodes, service_rollups, recommendations, approvals, tasks, task_assignments, followups, complaints, surveys, teams, branches`);
      log(`  vacuum (analyze): ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    const out: Record<string, number> = {};
    for (const t of ['users', 'broker_clients', 'conversations', 'response_episodes', 'service_rollups', 'recommendations', 'task_assignments', 'followups', 'complaints', 'surveys']) {
      out[t] = Number((await c.query(`select count(*) from ${t}`)).rows[0].count);
    }
    log(`  seeding took ${((performance.now() - started) / 1000).toFixed(0)} s`);
    return out;
  } finally {
    await c.end();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
