/**
 * Price-alert benchmark (issue: 100,000 alert rules across 3,000 symbols, 10,000 ticks/s).
 *
 *   npm run bench:alerts
 *   npx tsx bench/alerts.bench.ts [--rules 100000] [--symbols 3000] [--users 2000] [--rate 10000] [--batch 100]
 *                                 [--seconds 20] [--warmup 3] [--index-ticks 1000000] [--phases index,paced,max]
 *                                 [--hub-cpu 0] [--feed-cpu 1]
 *
 * Phase "index": the in-memory index alone (src/domain/alert-index.ts), one core: how many ticks/s it
 *   evaluates and how many rules each tick looks at (binary-search probes + rules that change state).
 * Phase "paced": a real hub node (src/main.ts, services mode: PostgreSQL + Redis, pinned to --hub-cpu)
 *   with the rules in Postgres; this process is the feed (pinned to --feed-cpu) posting --batch ticks
 *   every batch/rate seconds to POST /api/ingest/ticks, and also listens on the Redis bus to every
 *   rule owner's inbox channel.
 *   Notification = the owner's inbox publication (kind alert) stored in Postgres together with the
 *   rule's claim, handed to the bus and its fanout job enqueued (one transaction; the ingest request
 *   answers after evaluation, the notifications follow). Latency tick-to-notification = from the
 *   moment the feed sends the batch holding the tick to the moment the alert arrives here from the
 *   Redis bus (same host clock).
 * Phase "max": the same hub, batches posted back to back (4 in flight) to find the ceiling.
 *
 * Prices: a random walk per symbol (σ 0.02 % per tick); above rules between +0.1 % and +5 % of the start
 * price, below rules between −0.1 % and −5 % (--spread 0.1,5); 30 % repeating. Rules belong to --users
 * clients. --spread 0.05,3 puts many more rules within reach (a burst of firings: a stress case for the
 * publish path).
 * Needs PostgreSQL and Redis (QIAO_TEST_DATABASE_URL, QIAO_TEST_REDIS_URL; default local). A throwaway
 * database and Redis prefix are used and removed afterwards.
 * Results: table on stdout, JSON in bench/results/alerts-<time>.json, hub log next to it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { eq } from 'drizzle-orm';
import { RedisBus } from '../src/bus/bus-redis.ts';
import { AlertIndex, type AlertRuleState } from '../src/domain/alert-index.ts';
import { AlertRulesRepo, type NewAlertRule } from '../src/store/alert-rules-repo.ts';
import { openPostgres } from '../src/store/db.ts';
import { firms, users } from '../src/store/schema/index.ts';
import { seedDemo } from '../src/store/seed.ts';
import { deleteRedisPrefix } from '../test/helpers/app.ts';
import { createTestDatabase } from '../test/helpers/pg.ts';
import { REPO_ROOT, freePort, installCleanup, readCpuSeconds, spawnNode, stopChild, waitForTcp } from './lib/proc.ts';
import { prng } from '../src/domain/prng.ts';

type Phase = 'index' | 'paced' | 'max';
interface Options {
  rules: number;
  symbols: number;
  users: number;
  rate: number;
  batch: number;
  seconds: number;
  warmup: number;
  indexTicks: number;
  phases: Phase[];
  hubCpu: string;
  feedCpu: string;
  seed: number;
  /** Thresholds lie between these distances from the start price, in percent. */
  spread: [number, number];
}

function parseArgs(argv: string[]): Options {
  const o: Options = { rules: 100_000, symbols: 3000, users: 2000, rate: 10_000, batch: 100, seconds: 20, warmup: 3, indexTicks: 1_000_000, phases: ['index', 'paced', 'max'], hubCpu: '0', feedCpu: '1', seed: 42, spread: [0.1, 5] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${a} needs a value`);
      return x;
    };
    const num = () => Number(v());
    if (a === '--rules') o.rules = num();
    else if (a === '--symbols') o.symbols = num();
    else if (a === '--users') o.users = num();
    else if (a === '--rate') o.rate = num();
    else if (a === '--batch') o.batch = num();
    else if (a === '--seconds') o.seconds = num();
    else if (a === '--warmup') o.warmup = num();
    else if (a === '--index-ticks') o.indexTicks = num();
    else if (a === '--phases') o.phases = v().split(',') as Phase[];
    else if (a === '--hub-cpu') o.hubCpu = v();
    else if (a === '--feed-cpu') o.feedCpu = v();
    else if (a === '--seed') o.seed = num();
    else if (a === '--spread') o.spread = v().split(',').map(Number) as [number, number];
    else if (a === '--help') {
      process.stdout.write('see the header of bench/alerts.bench.ts\n');
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  return o;
}

const log = (s: string) => process.stderr.write(s + '\n');


function gauss(rnd: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
}

function pct(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

interface Market {
  symbols: string[];
  start: number[];
  price: number[];
  rnd: () => number;
}

function market(o: Options): Market {
  const rnd = prng(o.seed);
  const symbols = Array.from({ length: o.symbols }, (_, i) => {
    const ex = i % 3 === 0 ? 'SH' : i % 3 === 1 ? 'SZ' : 'BJ';
    return `${String(100000 + i * 7).padStart(6, '0')}.${ex}`;
  });
  const start = symbols.map(() => Math.round((3 + rnd() * 200) * 100) / 100);
  return { symbols, start, price: start.slice(), rnd };
}

/** The next tick: a random symbol, its price moved by σ 0.02 %. */
function nextTick(m: Market): { symbol: string; price: number } {
  const i = Math.floor(m.rnd() * m.symbols.length);
  m.price[i] = m.price[i] * (1 + 0.0002 * gauss(m.rnd));
  return { symbol: m.symbols[i], price: m.price[i] };
}

function makeRules(o: Options, m: Market, userIds: string[]): NewAlertRule[] {
  const rnd = prng(o.seed + 1);
  return Array.from({ length: o.rules }, (_, k) => {
    const i = Math.floor(rnd() * m.symbols.length);
    const above = rnd() < 0.5;
    const off = (o.spread[0] + rnd() * (o.spread[1] - o.spread[0])) / 100;
    return {
      userId: userIds[k % userIds.length],
      symbol: m.symbols[i],
      direction: above ? 'above' : 'below',
      price: Math.round(m.start[i] * (above ? 1 + off : 1 - off) * 100) / 100,
      repeat: rnd() < 0.3,
    };
  });
}

// ---------------------------------------------------------------------------------------------------

function indexPhase(o: Options) {
  const m = market(o);
  const userIds = Array.from({ length: o.users }, () => randomUUID());
  const rules = makeRules(o, m, userIds);
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const ix = new AlertIndex({ hysteresisBp: 20 });
  rules.forEach((r, k) => ix.upsert({ ...r, id: `r${k}`, armed: true } as AlertRuleState));
  const buildMs = performance.now() - t0;
  const heapMb = (process.memoryUsage().heapUsed - heap0) / 1e6;
  const ticks = Array.from({ length: o.indexTicks }, () => nextTick(m));
  const evaluated = new Uint32Array(o.indexTicks);
  let fired = 0;
  let rearmed = 0;
  const t1 = performance.now();
  for (let k = 0; k < ticks.length; k++) {
    const ev = ix.evaluate(ticks[k].symbol, ticks[k].price);
    evaluated[k] = ev.evaluated;
    fired += ev.fired.length;
    rearmed += ev.rearmed.length;
  }
  const evalMs = performance.now() - t1;
  const sorted = Array.from(evaluated).sort((a, b) => a - b);
  const mean = sorted.reduce((s, x) => s + x, 0) / sorted.length;
  return {
    rules: o.rules,
    symbols: ix.symbolCount,
    buildMs,
    heapMb,
    ticks: o.indexTicks,
    ticksPerS: o.indexTicks / (evalMs / 1000),
    nsPerTick: (evalMs * 1e6) / o.indexTicks,
    evaluatedPerTick: { mean, p50: pct(sorted, 50), p99: pct(sorted, 99), max: sorted[sorted.length - 1] },
    rulesPerSymbol: o.rules / o.symbols,
    fired,
    rearmed,
  };
}

// ---------------------------------------------------------------------------------------------------

interface HubRun {
  phase: 'paced' | 'max';
  targetRate: number | null;
  seconds: number;
  ticksSent: number;
  ticksAcked: number;
  ticksPerS: number;
  batchesFailed: number;
  batchMs: { p50: number; p99: number; max: number };
  evaluatedPerTick: number;
  fired: number;
  notificationsReceived: number;
  notificationsPerS: number;
  tickToNotificationMs: { p50: number; p99: number; max: number; n: number };
  hubCpuUtil: number;
  maxInFlight: number;
}

async function hubPhases(o: Options): Promise<{ runs: HubRun[]; setup: Record<string, number> }> {
  const tdb = await createTestDatabase();
  const redisUrl = process.env.QIAO_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = `qiao_bench_${randomBytes(4).toString('hex')}:`;
  const feedKey = 'bench-feed-key-' + randomBytes(8).toString('hex');
  let hub: ReturnType<typeof spawnNode> | undefined;
  let bus: RedisBus | undefined;
  try {
    const setup: Record<string, number> = {};
    let t = performance.now();
    const h = await openPostgres(tdb.url, 8);
    await h.migrate();
    await seedDemo(h.db);
    const [firm] = await h.db.select({ id: firms.id }).from(firms).limit(1);
    const [demo] = await h.db.select({ hash: users.passwordHash }).from(users).where(eq(users.login, 'client1'));
    const rows = Array.from({ length: o.users }, (_, i) => ({
      firmId: firm.id,
      login: `bench${i}`,
      passwordHash: demo.hash,
      displayName: `压测客户${i}`,
      role: 'client' as const,
      tier: 'general' as const,
      riskLevel: 'C3' as const,
    }));
    const ids: string[] = [];
    for (let i = 0; i < rows.length; i += 1000) ids.push(...(await h.db.insert(users).values(rows.slice(i, i + 1000)).returning({ id: users.id })).map((r) => r.id));
    const m = market(o);
    await new AlertRulesRepo(h.db).insertMany(makeRules(o, m, ids));
    await h.close();
    setup.seedMs = performance.now() - t;
    log(`seeded ${o.users} users and ${o.rules} rules in ${(setup.seedMs / 1000).toFixed(1)} s`);

    const port = await freePort();
    mkdirSync(`${REPO_ROOT}bench/results`, { recursive: true });
    const logFile = `${REPO_ROOT}bench/results/alerts-hub-${new Date().toISOString().replace(/[:.]/g, '-')}.log`;
    t = performance.now();
    hub = spawnNode({
      script: 'src/main.ts',
      args: ['start'],
      cpu: o.hubCpu,
      logFile,
      env: {
        DATABASE_URL: tdb.url,
        REDIS_URL: redisUrl,
        QIAO_REDIS_PREFIX: prefix,
        PORT: String(port),
        HOST: '127.0.0.1',
        QIAO_FEED_API_KEY: feedKey,
        QIAO_JWT_SECRET: randomBytes(32).toString('hex'),
        QIAO_TOTP_REQUIRED_ROLES: '', // bench users log in with the password only
        QIAO_HTTP_RATE_LIMIT_MAX: '100000000', // a bench publishes faster than any person
        QIAO_LOGIN_RATE_MAX: '1000000',
        QIAO_LOG_LEVEL: 'warn',
        QIAO_SEED_DEMO: 'false',
        QIAO_NODE_ID: 'bench-alerts',
        QIAO_EMBEDDED_WORKERS: 'false',
      },
    });
    await waitForTcp(port, 120_000, hub);
    setup.hubStartMs = performance.now() - t;
    log(`hub listening on ${port} after ${(setup.hubStartMs / 1000).toFixed(1)} s (index loaded from Postgres; log ${logFile})`);

    // Listen to every owner's inbox on the bus.
    bus = new RedisBus({ url: redisUrl, prefix });
    const sentAt = new Map<string, number>();
    const latencies: number[] = [];
    let received = 0;
    let measuring = false;
    /** Ticks sent from this time on count (warm-up ticks and their notifications do not). */
    let measureFrom = Infinity;
    const onPub = (pub: { kind: string; payload: unknown }) => {
      if (pub.kind !== 'alert') return;
      const p = pub.payload as { symbol: string; price: number };
      const at = sentAt.get(`${p.symbol}|${p.price}`);
      if (at === undefined || at < measureFrom) return;
      received++;
      latencies.push(performance.now() - at);
    };
    for (let i = 0; i < ids.length; i += 200) await Promise.all(ids.slice(i, i + 200).map((id) => bus!.subscribe(`inbox.${id}`, onPub)));

    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const post = (ticks: Array<{ symbol: string; price: number }>) =>
      new Promise<{ ok: boolean; ms: number; evaluated: number; fired: number }>((resolve) => {
        const body = JSON.stringify({ ticks });
        const t0 = performance.now();
        for (const tk of ticks) sentAt.set(`${tk.symbol}|${tk.price}`, t0);
        const req = http.request(
          { host: '127.0.0.1', port, path: '/api/ingest/ticks', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-api-key': feedKey } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => {
              const ms = performance.now() - t0;
              if (res.statusCode !== 200) return resolve({ ok: false, ms, evaluated: 0, fired: 0 });
              const r = JSON.parse(Buffer.concat(chunks).toString()) as { evaluated: number; fired: number };
              resolve({ ok: true, ms, evaluated: r.evaluated, fired: r.fired });
            });
          },
        );
        req.on('error', () => resolve({ ok: false, ms: performance.now() - t0, evaluated: 0, fired: 0 }));
        req.end(body);
      });

    const runs: HubRun[] = [];
    for (const phase of o.phases.filter((p): p is 'paced' | 'max' => p === 'paced' || p === 'max')) {
      log(`phase ${phase}: ${o.warmup}s warm-up + ${o.seconds}s${phase === 'paced' ? ` at ${o.rate} ticks/s (${o.batch}-tick batches)` : ', batches back to back, 4 in flight'}…`);
      let sent = 0;
      let acked = 0;
      let failed = 0;
      let evaluated = 0;
      let fired = 0;
      let inFlight = 0;
      let maxInFlight = 0;
      const batchMs: number[] = [];
      const inflight = new Set<Promise<unknown>>();
      const send = () => {
        const ticks = Array.from({ length: o.batch }, () => nextTick(m));
        const count = measuring;
        if (count) sent += ticks.length;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        const p = post(ticks).then((r) => {
          inFlight--;
          if (!count) return;
          if (r.ok) {
            acked += ticks.length;
            evaluated += r.evaluated;
            fired += r.fired;
            batchMs.push(r.ms);
          } else failed++;
        });
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
        return p;
      };
      const cpu0 = readCpuSeconds(hub.pid!);
      let t0 = 0;
      const total = (o.warmup + o.seconds) * 1000;
      const begin = performance.now();
      if (phase === 'paced') {
        // Absolute schedule: batch k goes out at begin + k·period (no drift, no catch-up bursts hidden).
        const period = (o.batch / o.rate) * 1000;
        for (let k = 0; ; k++) {
          const due = begin + k * period;
          if (due - begin >= total) break;
          const wait = due - performance.now();
          if (wait > 1) await new Promise((r) => setTimeout(r, wait));
          if (!measuring && performance.now() - begin >= o.warmup * 1000) {
            measuring = true;
            t0 = measureFrom = performance.now();
          }
          void send();
        }
      } else {
        const loop = async () => {
          while (performance.now() - begin < total) {
            if (!measuring && performance.now() - begin >= o.warmup * 1000) {
              measuring = true;
              t0 = measureFrom = performance.now();
            }
            await send();
          }
        };
        await Promise.all([loop(), loop(), loop(), loop()]);
      }
      const elapsed = (performance.now() - t0) / 1000;
      await Promise.all([...inflight]);
      const cpu = readCpuSeconds(hub.pid!) - cpu0;
      // Notifications of the last ticks may still be on their way: wait until none came for 5 s (≤ 90 s).
      const drainEnd = performance.now() + 90_000;
      for (let last = -1; last !== received && performance.now() < drainEnd; ) {
        last = received;
        await new Promise((r) => setTimeout(r, 5000));
      }
      measuring = false;
      measureFrom = Infinity;
      batchMs.sort((a, b) => a - b);
      const lat = latencies.splice(0).sort((a, b) => a - b);
      runs.push({
        phase,
        targetRate: phase === 'paced' ? o.rate : null,
        seconds: elapsed,
        ticksSent: sent,
        ticksAcked: acked,
        ticksPerS: acked / elapsed,
        batchesFailed: failed,
        batchMs: { p50: pct(batchMs, 50), p99: pct(batchMs, 99), max: batchMs[batchMs.length - 1] },
        evaluatedPerTick: evaluated / Math.max(1, acked),
        fired,
        notificationsReceived: received,
        notificationsPerS: received / elapsed,
        tickToNotificationMs: { p50: pct(lat, 50), p99: pct(lat, 99), max: lat[lat.length - 1], n: lat.length },
        hubCpuUtil: cpu / ((performance.now() - begin) / 1000),
        maxInFlight,
      });
      received = 0;
    }
    agent.destroy();
    return { runs, setup };
  } finally {
    await bus?.close().catch(() => {});
    if (hub) await stopChild(hub);
    await Promise.allSettled([tdb.drop(), deleteRedisPrefix(redisUrl, prefix)]);
  }
}

// ---------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  installCleanup();
  const load0 = os.loadavg().map((x) => x.toFixed(1)).join(' ');
  try {
    execFileSync('taskset', ['-cp', o.feedCpu, String(process.pid)], { stdio: 'ignore' });
  } catch {
    log(`(could not pin to CPU ${o.feedCpu})`);
  }
  const out: Record<string, unknown> = { options: o, node: process.version, cpus: os.cpus().length };
  let text = `\nPrice alerts: ${o.rules.toLocaleString('en')} rules across ${o.symbols.toLocaleString('en')} symbols (${(o.rules / o.symbols).toFixed(1)} per symbol), ${o.users} owners, thresholds ${o.spread[0]}–${o.spread[1]} % from the start price; load average at start ${load0}\n`;

  if (o.phases.includes('index')) {
    log(`phase index: ${o.indexTicks.toLocaleString('en')} ticks through the in-memory index…`);
    const r = indexPhase(o);
    out.index = r;
    text +=
      `\n[index only, one core] build ${r.buildMs.toFixed(0)} ms, ~${r.heapMb.toFixed(0)} MB heap; ${Math.round(r.ticksPerS).toLocaleString('en')} ticks/s (${r.nsPerTick.toFixed(0)} ns/tick)\n` +
      `  rules evaluated per tick: mean ${r.evaluatedPerTick.mean.toFixed(1)}, p50 ${r.evaluatedPerTick.p50}, p99 ${r.evaluatedPerTick.p99}, max ${r.evaluatedPerTick.max} ` +
      `(of ${o.rules.toLocaleString('en')} rules; ${r.rulesPerSymbol.toFixed(1)} per symbol); fired ${r.fired}, re-armed ${r.rearmed}\n`;
  }
  if (o.phases.includes('paced') || o.phases.includes('max')) {
    const { runs, setup } = await hubPhases(o);
    out.hub = { setup, runs };
    text += `\n[hub end to end: services mode, hub on CPU ${o.hubCpu}, feed + bus listener on CPU ${o.feedCpu}; hub start with index load ${(setup.hubStartMs / 1000).toFixed(1)} s]\n`;
    for (const r of runs) {
      text +=
        `  ${r.phase === 'paced' ? `paced at ${r.targetRate} ticks/s` : 'max (4 batches in flight)'}: ${Math.round(r.ticksPerS).toLocaleString('en')} ticks/s sustained over ${r.seconds.toFixed(1)} s` +
        ` (${r.ticksAcked}/${r.ticksSent} acked, ${r.batchesFailed} batches failed; batch round trip p50 ${r.batchMs.p50.toFixed(1)} ms, p99 ${r.batchMs.p99.toFixed(1)} ms; max in flight ${r.maxInFlight}; hub CPU ${(r.hubCpuUtil * 100).toFixed(0)}%)\n` +
        `    rules evaluated per tick ${r.evaluatedPerTick.toFixed(1)}; fired ${r.fired}, notifications received ${r.notificationsReceived} (${r.notificationsPerS.toFixed(0)}/s)\n` +
        `    tick → notification (inbox alert stored, on the bus, fanout job enqueued): p50 ${r.tickToNotificationMs.p50.toFixed(1)} ms, p99 ${r.tickToNotificationMs.p99.toFixed(1)} ms, max ${r.tickToNotificationMs.max?.toFixed(1)} ms (n=${r.tickToNotificationMs.n})\n`;
    }
  }
  const load1 = os.loadavg().map((x) => x.toFixed(1)).join(' ');
  text += `\nload average at end ${load1} (other processes on this host skew the figures)\n`;
  out.loadavg = { start: load0, end: load1 };
  process.stdout.write(text);
  mkdirSync(`${REPO_ROOT}bench/results`, { recursive: true });
  const file = `${REPO_ROOT}bench/results/alerts-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, JSON.stringify(out, null, 2));
  log(`results: ${file}`);
  process.exit(0);
}

main().catch((e) => {
  log(`alerts bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(1);
});
