/**
 * Account-event latency bench (issue 12): ingest → client socket through the real PostgreSQL + Redis
 * path, with the hub in services mode.
 *
 *   npm run bench:account                                   # 2,000 clients, 2,000 events/s, 20 s
 *   npx tsx bench/account-events.bench.ts --clients 2000 --rate 2000 --seconds 20 --batch 50 --warmup 3 [--hubs N] [--receivers N]
 *
 * What it does: creates a throw-away database and Redis key prefix; starts one hub (`src/main.ts start`,
 * services mode; it migrates and seeds the demo firm); inserts N clients with account numbers in SQL;
 * connects N socket.io clients (websocket transport, tokens minted with the hub's key) each subscribed
 * to its own `account.<id>`, held by `--receivers` processes (default 1, bench/lib/account-receiver.ts)
 * as separate devices would be, so the load generator's work and pauses stay out of the figures; then posts order fills to POST /api/ingest/account-events/batch in batches
 * every (batch / rate) seconds, open loop, round-robin over the clients. Each event's `time` is the wall
 * time its request was sent; latency = receipt at the client's socket − that time (same clock, one
 * machine). Prints p50/p90/p99/max, the achieved ingest and delivery rates and losses. The delivery
 * workers (fanout: inbox rows, push) run in separate processes in services mode and are not started:
 * the bench measures the live path (commit → relay → Redis bus → socket). After the warm-up the
 * database is ANALYZEd, as autovacuum would have done on a live system (this machine runs Postgres
 * without it). `--hubs N` runs N hub processes on the same database and Redis, sockets and batches
 * round-robin over them. Diagnostics: BENCH_HUB_PROF=dir (CPU profiles), BENCH_HUB_NODE_ARGS='--trace-gc'
 * (node flags of the hubs), BENCH_RECEIVER_NODE_ARGS (the same for the receiver processes), BENCH_PG_LOG=1 (Postgres logs each statement with its duration).
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import pg from 'pg';
import { createTokenService } from '../src/auth/token.ts';
import { cheapPasswordHash } from './lib/publish-seed.ts';
import { freePort, installCleanup, spawnNode, startNodeServer } from './lib/proc.ts';
import type { ChildProcess } from 'node:child_process';
import { ADMIN_DB, admin } from './lib/pg-admin.ts';
import { deleteRedisPrefix } from './lib/redis-prefix.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const CLIENTS = opt('clients', 2000);
const RATE = opt('rate', 2000);
const SECONDS = opt('seconds', 20);
const BATCH = opt('batch', 50);
const WARMUP = opt('warmup', 3);
/** Hub processes sharing the database and Redis (services mode): sockets and ingest requests go round-robin over them. */
const HUBS = opt('hubs', 1);
/** Processes holding the client sockets (like separate devices: the load generator's pauses stay out of the latencies). */
const RECEIVERS = opt('receivers', 1);
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const KEY = `bench-trading-${randomBytes(8).toString('hex')}`;
const SECRET = randomBytes(32).toString('hex');
const log = (m: string) => process.stderr.write(`[bench:account] ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The next IPC message of type `t` from a receiver (its `error` message rejects). */
function nextMessage(cp: ChildProcess, t: string, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`receiver: no ${t} within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (m: { t: string; message?: string }) => {
      if (m.t === t) done(undefined, m);
      else if (m.t === 'error') done(new Error(`receiver: ${m.message}`));
    };
    const onExit = () => done(new Error(`receiver exited before ${t}`));
    const done = (err?: Error, m?: unknown) => {
      clearTimeout(timer);
      cp.off('message', onMessage);
      cp.off('exit', onExit);
      if (err) reject(err);
      else resolve(m);
    };
    cp.on('message', onMessage);
    cp.once('exit', onExit);
  });
}

function pct(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main(): Promise<void> {
  installCleanup();
  const dbName = `qiao_bench_acct_${randomBytes(4).toString('hex')}`;
  const prefix = `qiao_bench_acct_${randomBytes(4).toString('hex')}:`;
  await admin((c) => c.query(`create database ${dbName}`));
  // BENCH_PG_LOG=1: Postgres logs every statement of the bench database with its duration (server log).
  if (process.env.BENCH_PG_LOG) await admin((c) => c.query(`alter database ${dbName} set log_min_duration_statement = 0`));
  const dbUrl = new URL(ADMIN_DB);
  dbUrl.pathname = `/${dbName}`;
  const hubs: Array<Awaited<ReturnType<typeof startNodeServer>>> = [];
  const receivers: ChildProcess[] = [];
  try {
    const bases: string[] = [];
    // The first hub migrates and seeds; the others start once it is ready.
    for (let h = 0; h < HUBS; h++) {
      const port = await freePort();
      log(`starting hub ${h + 1}/${HUBS} on ${port} (services mode, database ${dbName})`);
      hubs.push(
        await startNodeServer({
          script: 'src/main.ts',
          args: ['start'],
          cpu: `0-${Math.max(0, os.cpus().length - 1)}`,
          logFile: 'inherit',
          // BENCH_HUB_PROF=dir: CPU profile of each hub (written on its clean SIGTERM exit).
          nodeArgs: process.env.BENCH_HUB_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_HUB_PROF}`] : process.env.BENCH_HUB_NODE_ARGS ? process.env.BENCH_HUB_NODE_ARGS.split(' ') : [],
          port,
          readyTimeoutMs: 180_000,
          env: {
            HOST: '127.0.0.1',
            PORT: String(port),
            DATABASE_URL: dbUrl.toString(),
            REDIS_URL,
            QIAO_REDIS_PREFIX: prefix,
            QIAO_JWT_SECRET: SECRET,
            QIAO_INGEST_SOURCES: `trading:${KEY}`,
            QIAO_TOTP_REQUIRED_ROLES: '',
            QIAO_HTTP_RATE_LIMIT_MAX: '100000000',
            QIAO_LOG_LEVEL: 'warn',
            QIAO_EMBEDDED_WORKERS: 'false',
          },
        }),
      );
      const base = `http://127.0.0.1:${port}`;
      for (let i = 0; i < 600; i++) {
        if ((await fetch(`${base}/health/ready`).catch(() => null))?.ok) break;
        await sleep(250);
      }
      bases.push(base);
    }

    // ---- Clients, in SQL (one statement).
    const db = new pg.Client({ connectionString: dbUrl.toString() });
    await db.connect();
    const { rows: firm } = await db.query(`select id from firms limit 1`);
    const hash = cheapPasswordHash('qiao-bench-2026');
    const { rows: clients } = await db.query<{ id: string; account_no: string }>(
      `insert into users (firm_id, login, password_hash, display_name, role, tier, risk_level, account_no)
       select $1, 'bench-acct-' || g, $2, '基准客户' || g, 'client', 'general', 'C3', 'B' || lpad(g::text, 10, '0')
       from generate_series(1, $3::int) g returning id, account_no`,
      [firm[0].id, hash, CLIENTS],
    );
    await db.end();
    log(`${clients.length} clients inserted`);

    // ---- Sockets, each subscribed to its own account channel, held by receiver processes.
    const tokens = createTokenService(SECRET, 3600);
    const withTokens = await Promise.all(
      clients.map(async (c) => ({ id: c.id, token: (await tokens.issue({ id: c.id, role: 'client', displayName: 'bench', firmId: firm[0].id, tier: 'general', sv: 1 })).token })),
    );
    const per = Math.ceil(withTokens.length / RECEIVERS);
    await Promise.all(
      Array.from({ length: RECEIVERS }, async (_, r) => {
        const cp = spawnNode({
          script: 'bench/lib/account-receiver.ts',
          cpu: `0-${Math.max(0, os.cpus().length - 1)}`,
          logFile: 'inherit',
          ipc: true,
          nodeArgs: process.env.BENCH_RECEIVER_NODE_ARGS ? process.env.BENCH_RECEIVER_NODE_ARGS.split(' ') : [],
        });
        receivers.push(cp);
        const ready = nextMessage(cp, 'ready', 300_000);
        cp.send({ t: 'connect', bases, clients: withTokens.slice(r * per, (r + 1) * per), offset: r * per });
        await ready;
      }),
    );
    const measure = (on: boolean) => receivers.forEach((cp) => cp.send({ t: 'measure', on }));
    const report = async () => {
      const all = await Promise.all(
        receivers.map((cp) => {
          const got = nextMessage(cp, 'report', 60_000) as Promise<{ received: number; latencies: number[]; slow: Array<[number, number]>; pauses: Array<[number, number]> }>;
          cp.send({ t: 'report' });
          return got;
        }),
      );
      return { received: all.reduce((a, x) => a + x.received, 0), latencies: all.flatMap((x) => x.latencies), slow: all.flatMap((x) => x.slow), pauses: all.flatMap((x) => x.pauses) };
    };
    log(`${withTokens.length} sockets connected and subscribed, in ${RECEIVERS} receiver processes`);

    // ---- Load: open loop, one batch every BATCH/RATE seconds.
    const intervalMs = (BATCH / RATE) * 1000;
    let next = 0;
    let posted = 0;
    let refused = 0;
    let postedMeasured = 0;
    let batches = 0;
    const answers: number[] = [];
    const inflight = new Set<Promise<void>>();
    const post = (phase: 'w' | 'm') => {
      const at = new Date().toISOString();
      const events = [];
      for (let k = 0; k < BATCH; k++) {
        const c = clients[next++ % clients.length];
        events.push({ id: `${phase}-${next}`, type: 'order.filled', accountNo: c.account_no, time: at, orderId: `O${next}`, symbol: '600519.SH', side: 'buy', qty: 100, filledQty: 100, price: 1700 });
      }
      posted += BATCH;
      if (phase === 'm') postedMeasured += BATCH;
      const sentAt = Date.now();
      const p = fetch(`${bases[batches++ % bases.length]}/api/ingest/account-events/batch`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': KEY }, body: JSON.stringify({ events }) })
        .then(async (r) => {
          // The answer comes after the commit and the relay to the bus: with the socket latency it tells
          // ingest time from delivery time.
          if (phase === 'm') answers.push(Date.now() - sentAt);
          const b = (await r.json()) as { results?: Array<{ status: number }> };
          refused += r.ok ? (b.results ?? []).filter((x) => x.status >= 300).length : BATCH;
        })
        .catch(() => {
          refused += BATCH;
        })
        .finally(() => inflight.delete(p));
      inflight.add(p);
    };
    const run = async (phase: 'w' | 'm', seconds: number) => {
      const start = performance.now();
      let n = 0;
      while (performance.now() - start < seconds * 1000) {
        post(phase);
        n++;
        const wait = start + n * intervalMs - performance.now();
        if (wait > 0) await sleep(wait);
      }
      return (performance.now() - start) / 1000;
    };
    log(`warm-up ${WARMUP} s at ${RATE}/s`);
    await run('w', WARMUP);
    await Promise.all(inflight);
    // What autovacuum does on a live database: statistics for the tables the warm-up filled (this
    // machine's Postgres runs without autovacuum). Without them a connection's cached generic plan,
    // made while a table was nearly empty, can go on scanning it whole.
    const stats = new pg.Client({ connectionString: dbUrl.toString() });
    await stats.connect();
    await stats.query('analyze');
    await stats.end();
    await sleep(500);
    const receivedBefore = (await report()).received;
    measure(true);
    log(`measuring ${SECONDS} s at ${RATE}/s in batches of ${BATCH}`);
    const t0 = performance.now();
    const elapsed = await run('m', SECONDS);
    await Promise.all(inflight);
    const ingestDone = (performance.now() - t0) / 1000;
    let { received, latencies, slow, pauses } = await report();
    for (let i = 0; i < 100 && latencies.length < postedMeasured - refused; i++) {
      await sleep(100);
      ({ received, latencies, slow, pauses } = await report());
    }
    measure(false);
    const got = received - receivedBefore;
    latencies.sort((a, b) => a - b);
    const f = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '–');
    const out = [
      `| hubs | clients | offered/s | posted | refused | received | achieved ingest/s | p50 ms | p90 ms | p99 ms | max ms |`,
      `|---|---|---|---|---|---|---|---|---|---|---|`,
      `| ${HUBS} | ${clients.length} | ${RATE} | ${postedMeasured} | ${refused} | ${latencies.length} | ${f(postedMeasured / ingestDone)} | ${f(pct(latencies, 50))} | ${f(pct(latencies, 90))} | ${f(pct(latencies, 99))} | ${f(latencies[latencies.length - 1])} |`,
    ];
    process.stdout.write(out.join('\n') + '\n');
    answers.sort((a, b) => a - b);
    log(`batch answered (commit + relay to the bus) p50 ${f(pct(answers, 50))} ms, p99 ${f(pct(answers, 99))} ms`);
    log(`send window ${elapsed.toFixed(2)} s, all answered after ${ingestDone.toFixed(2)} s; socket messages in window ${got}; target p99 ≤ 50 ms: ${pct(latencies, 99) <= 50 ? 'met' : 'NOT met'}`);
    // Whether the receivers measured their own pauses: slow messages received during or just after
    // one of their GC pauses of 5 ms or more.
    const long = pauses.filter(([, ms]) => ms >= 5);
    const afterPause = slow.filter(([at]) => long.some(([start, ms]) => at >= start && at <= start + ms + 20)).length;
    log(
      `receivers: ${pauses.length} GC pauses (${long.length} of 5 ms or more, longest ${f(Math.max(0, ...pauses.map(([, ms]) => ms)))} ms); ` +
        `socket messages over 50 ms: ${slow.length}, of which ${afterPause} arrived during or within 20 ms after such a pause`,
    );
    if (latencies.length < postedMeasured - refused) log(`LOST: ${postedMeasured - refused - latencies.length} events not received`);
  } finally {
    for (const cp of receivers) cp.disconnect();
    await Promise.all(hubs.map((h) => h.stop(process.env.BENCH_HUB_PROF ? 20_000 : undefined)));
    await admin((c) => c.query(`drop database if exists ${dbName} with (force)`)).catch(() => {});
    await deleteRedisPrefix(REDIS_URL, prefix).catch((e) => log(`redis cleanup: ${e}`));
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
