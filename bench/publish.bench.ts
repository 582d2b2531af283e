/**
 * Publish benchmark (issue 8): publish throughput and publish→delivery latency through the real
 * PostgreSQL + Redis path with two hub nodes.
 *
 *   npm run bench:publish                     # full size: 1,000 conversations × 10,000 messages of history
 *   npm run bench:publish -- --quick          # 50 conversations × 1,000, rates 100,500, 5 s windows
 *   npx tsx bench/publish.bench.ts --conversations 1000 --history 10000 --rates 100,500,1000,2000 \
 *       --seconds 10 --phases fresh,history,notes
 *
 * What it does: creates a throw-away database and Redis key prefix; starts hub node a (which migrates
 * and seeds the demo firm), then node b, both `src/main.ts start` in services mode; seeds in SQL two
 * disjoint sets of N broker–client conversations (lib/publish-seed.ts): "fresh" (no message yet) and
 * "history" (H chat messages each, read positions and channel offsets to match); then a load generator
 * process (publish-loadgen.ts) runs the phases:
 *
 *   fresh    chat on the fresh conversations: each broker publishes on `conv.<id>` over its socket, the
 *            client receives it on the OTHER node (raw WS and socket.io, half each, for both sides);
 *   history  the same on the conversations with history;
 *   notes    research notes by research1 over REST on research.* channels, to --note-subscribers clients.
 *
 * Each phase runs every --rates value (offered aggregate publications/s, open loop) for --warmup +
 * --seconds, then drains. Output: a markdown table on stdout, progress on stderr, the full record in
 * bench/results/publish-<time>.json (gitignored), node logs beside it. See bench/README.md.
 */
import { execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { LatencySummary } from './lib/message.ts';
import { wallNow } from './lib/message.ts';
import { REPO_ROOT, freePort, installCleanup, readCpuTimes, spawnNode, startNodeServer, stopChild } from './lib/proc.ts';
import type { Transport } from './lib/publish-conn.ts';
import type {
  ConvPlan,
  NoteSubscriberPlan,
  PhaseKind,
  PrepareResult,
  PublishBenchRequestBody,
  PublishLoadgenMessage,
  StepResult,
} from './lib/publish-ipc.ts';
import {
  BENCH_PASSWORD,
  type SchemaReport,
  type SeededConversation,
  cheapPasswordHash,
  inspectSchema,
  seedConversationSet,
  seedHistory,
} from './lib/publish-seed.ts';
import type { ServerHandle } from './lib/types.ts';
import { LoadgenClient } from './lib/loadgen-client.ts';
import { ADMIN_DB, admin } from './lib/pg-admin.ts';
import { deleteRedisPrefix } from './lib/redis-prefix.ts';
import { DEMO_PASSWORD } from '../src/store/seed.ts';

// ---------------------------------------------------------------------------------------------------
// Options

class UsageError extends Error {}

const ALL_CPUS = `0-${Math.max(0, os.cpus().length - 1)}`;
/** Conversations of the warm-up set (users bench-w-…). */
const WARM_CONVERSATIONS = 100;
const WARM_RATE = 100;
const NOTE_CHANNELS = [
  'research.macro',
  'research.strategy',
  'research.fixed-income',
  'research.morning-brief',
  'research.sector.consumer',
  'research.sector.tech',
  'research.sector.finance',
  'research.sector.healthcare',
  'research.sector.energy',
  'research.sector.materials',
  'research.sector.industrials',
  'research.sector.property',
];

interface Options {
  conversations: number;
  history: number;
  historyUnread: number;
  clientsPerBroker: number;
  rates: number[];
  seconds: number;
  warmup: number;
  drain: number;
  maxInflight: number;
  phases: PhaseKind[];
  noteSubscribers: number;
  noteChannels: number;
  textBytes: number;
  refine: number;
  nodeWarmup: number;
  satP99Ms: number;
  seedBatch: number;
  seedParallel: number;
  vacuum: boolean;
  pgPool?: number;
  cpuA: string;
  cpuB: string;
  cpuLoadgen: string;
  concurrency: number;
  keepDb: boolean;
  quick: boolean;
}

const HELP = `usage: npx tsx bench/publish.bench.ts [options]        (npm run bench:publish -- [options])
  --quick                  small run: --conversations 50 --history 1000 --rates 100,500 --seconds 5 --warmup 1
                           (any option given as well overrides the preset)
  --conversations N        conversations per chat phase (default 1000); two disjoint sets are seeded
  --history H              chat messages of history per conversation in the history set (default 10000)
  --history-unread U       of those, the last U offsets are unread by the client (default 0: all read)
  --clients-per-broker K   conversations (clients) per broker (default 1: one broker socket per conversation)
  --rates a,b,c            offered aggregate publications/s (default 100,500,1000,2000)
  --seconds S              measurement window per rate (default 10)
  --warmup S               publishing before each window, not measured (default 2)
  --drain S                max wait after a window for its acks and deliveries (default 30)
  --max-inflight N         publications awaiting their ack before due ticks are skipped (default 2000)
  --phases p,q             fresh,history,notes (default all three, in that order)
  --note-subscribers N     clients subscribed to research notes in the notes phase (default 200)
  --note-channels C        research channels the notes go round-robin over (default 4, max ${NOTE_CHANNELS.length});
                           each subscriber subscribes to one, so a note reaches N/C clients
  --text-bytes B           filler bytes in each chat text / note body (default 100)
  --refine N               after the listed rates, N bisection steps between the highest sustained and the
                           lowest unsustained rate of each phase (default 0)
  --node-warmup S          unmeasured chat at 100 msgs/s for S s on ${WARM_CONVERSATIONS} separate conversations before the
                           first phase, so the nodes' JIT and pools are warm whatever the phase order (default 10; 0: none)
  --sat-p99-ms MS          delivery p99 bound of a "sustained" step (default 1000)
  --seed-batch N           conversations per history INSERT (default: ~100,000 rows per statement)
  --seed-parallel N        history INSERTs in flight (default 2)
  --no-vacuum              skip VACUUM (ANALYZE) + CHECKPOINT after seeding
  --pg-pool N              QIAO_PG_POOL_SIZE of each node (default: the hub's default)
  --cpu-a L, --cpu-b L, --cpu-loadgen L
                           taskset CPU lists of node a, node b and the load generator (default ${ALL_CPUS}: unpinned)
  --concurrency N          logins / connects / subscribes in flight while preparing a phase (default 32)
  --keep-db                keep the database (and Redis keys) at the end, print how to reach them
Environment: BENCH_DATABASE_URL (admin connection, default postgres://postgres@127.0.0.1:5432/postgres),
BENCH_REDIS_URL (default redis://127.0.0.1:6379).`;

function parseArgs(argv: string[]): Options {
  const o: Options = {
    conversations: 1000,
    history: 10_000,
    historyUnread: 0,
    clientsPerBroker: 1,
    rates: [100, 500, 1000, 2000],
    seconds: 10,
    warmup: 2,
    drain: 30,
    maxInflight: 2000,
    phases: ['fresh', 'history', 'notes'],
    noteSubscribers: 200,
    noteChannels: 4,
    textBytes: 100,
    refine: 0,
    nodeWarmup: 10,
    satP99Ms: 1000,
    seedBatch: 0,
    seedParallel: 2,
    vacuum: true,
    cpuA: ALL_CPUS,
    cpuB: ALL_CPUS,
    cpuLoadgen: ALL_CPUS,
    concurrency: 32,
    keepDb: false,
    quick: false,
  };
  if (argv.includes('--quick')) Object.assign(o, { quick: true, conversations: 50, history: 1000, rates: [100, 500], seconds: 5, warmup: 1 });
  const num = (name: string, v: string | undefined, min: number, max: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < min || n > max) throw new UsageError(`${name}: expected a number in [${min}, ${max}], got ${v}`);
    return n;
  };
  const int = (name: string, v: string | undefined, min: number, max: number) => Math.floor(num(name, v, min, max));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    const take = () => {
      i++;
      return v;
    };
    switch (a) {
      case '--quick':
        break;
      case '--conversations':
        o.conversations = int(a, take(), 1, 99_999);
        break;
      case '--history':
        o.history = int(a, take(), 0, 1_000_000);
        break;
      case '--history-unread':
        o.historyUnread = int(a, take(), 0, 1_000_000);
        break;
      case '--clients-per-broker':
        o.clientsPerBroker = int(a, take(), 1, 1000);
        break;
      case '--rates':
        o.rates = String(take() ?? '')
          .split(',')
          .filter(Boolean)
          .map((x) => num(a, x, 0.1, 100_000));
        if (!o.rates.length) throw new UsageError('--rates: at least one rate');
        break;
      case '--seconds':
        o.seconds = num(a, take(), 1, 3600);
        break;
      case '--warmup':
        o.warmup = num(a, take(), 0, 600);
        break;
      case '--drain':
        o.drain = num(a, take(), 0, 600);
        break;
      case '--max-inflight':
        o.maxInflight = int(a, take(), 1, 1_000_000);
        break;
      case '--phases': {
        const ps = String(take() ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        if (!ps.length || ps.some((p) => p !== 'fresh' && p !== 'history' && p !== 'notes')) throw new UsageError('--phases: fresh, history and/or notes');
        o.phases = ps as PhaseKind[];
        break;
      }
      case '--note-subscribers':
        o.noteSubscribers = int(a, take(), 1, 100_000);
        break;
      case '--note-channels':
        o.noteChannels = int(a, take(), 1, NOTE_CHANNELS.length);
        break;
      case '--text-bytes':
        o.textBytes = int(a, take(), 0, 7000);
        break;
      case '--refine':
        o.refine = int(a, take(), 0, 10);
        break;
      case '--node-warmup':
        o.nodeWarmup = num(a, take(), 0, 600);
        break;
      case '--sat-p99-ms':
        o.satP99Ms = num(a, take(), 1, 120_000);
        break;
      case '--seed-batch':
        o.seedBatch = int(a, take(), 1, 100_000);
        break;
      case '--seed-parallel':
        o.seedParallel = int(a, take(), 1, 16);
        break;
      case '--no-vacuum':
        o.vacuum = false;
        break;
      case '--pg-pool':
        o.pgPool = int(a, take(), 1, 500);
        break;
      case '--cpu-a':
        o.cpuA = String(take());
        break;
      case '--cpu-b':
        o.cpuB = String(take());
        break;
      case '--cpu-loadgen':
        o.cpuLoadgen = String(take());
        break;
      case '--concurrency':
        o.concurrency = int(a, take(), 1, 1000);
        break;
      case '--keep-db':
        o.keepDb = true;
        break;
      case '-h':
      case '--help':
        console.log(HELP);
        process.exit(0);
        break;
      default:
        throw new UsageError(`unknown argument ${a}\n${HELP}`);
    }
  }
  if (o.historyUnread > o.history) throw new UsageError('--history-unread cannot exceed --history');
  o.rates = [...new Set(o.rates)].sort((x, y) => x - y);
  return o;
}

// ---------------------------------------------------------------------------------------------------
// Load generator client

class Loadgen extends LoadgenClient<PublishLoadgenMessage> {
  onWindow: (start: number, end: number) => void = () => {};

  constructor(cp: ChildProcess) {
    super(cp, (m) => {
      if (m.type === 'window') this.onWindow(m.start, m.end);
    });
  }
}

// ---------------------------------------------------------------------------------------------------
// Helpers

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const f = (n: number | undefined, d = 1) => (n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(d));
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const LOADGEN = fileURLToPath(new URL('./publish-loadgen.ts', import.meta.url));


async function waitReady(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const r = await fetch(`http://127.0.0.1:${port}/health/ready`).catch((e) => {
      last = String(e);
      return null;
    });
    if (r?.ok) return;
    if (r) last = `HTTP ${r.status}`;
    await sleep(250);
  }
  throw new Error(`node on ${port} not ready after ${timeoutMs} ms (${last})`);
}

function gitInfo(): { commit: string; dirtySrcFiles: number } {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'channels', 'drizzle'], { cwd: REPO_ROOT, encoding: 'utf8' })
      .split('\n')
      .filter(Boolean).length;
    return { commit, dirtySrcFiles: dirty };
  } catch {
    return { commit: 'unknown', dirtySrcFiles: -1 };
  }
}

/** utime+stime of several processes, s (missing ones skipped). */
function cpuOf(pids: number[]): number {
  let s = 0;
  for (const p of pids) {
    try {
      const [u, k] = readCpuTimes(p);
      s += u + k;
    } catch {
      /* gone or unreadable */
    }
  }
  return s;
}

async function redisCpu(r: Redis): Promise<number> {
  try {
    const info = await r.info('cpu');
    const get = (k: string) => Number(new RegExp(`^${k}:([0-9.]+)`, 'm').exec(info)?.[1] ?? NaN);
    return get('used_cpu_sys') + get('used_cpu_user');
  } catch {
    return NaN;
  }
}

// ---------------------------------------------------------------------------------------------------
// Records

interface CpuPct {
  nodeA: number;
  nodeB: number;
  loadgen: number;
  /** Backends of the bench database (pg_stat_activity), summed. */
  postgres: number;
  /** The whole redis-server (INFO cpu): shared with anything else using that server. */
  redis: number;
}

interface StepRecord extends StepResult {
  cpuPct: CpuPct;
  sustained: boolean;
  sustainedWhyNot: string[];
  refine?: boolean;
}

interface PhaseRecord {
  phase: PhaseKind;
  prepare?: PrepareResult;
  steps: StepRecord[];
  /** Highest offered rate of a sustained step (null: none). */
  saturation: { highestSustained: number | null; lowestUnsustained: number | null; maxAckedPerS: number };
  release?: unknown;
  error?: string;
}

function sustained(s: StepResult, o: Options): string[] {
  const why: string[] = [];
  if (s.ackedPerS < 0.95 * s.rate) why.push(`acked/s ${f(s.ackedPerS)} < 95% of ${s.rate}`);
  const attempted = s.sent + s.skipped;
  if (attempted && (s.windowErrors + s.windowUnanswered + s.skipped) / attempted > 0.01) why.push('> 1% errors/skipped/unanswered');
  if (!(s.delivery.p99Ms < o.satP99Ms)) why.push(`delivery p99 ${f(s.delivery.p99Ms)} ms ≥ ${o.satP99Ms}`);
  if (s.undeliveredPct > 1) why.push(`${f(s.undeliveredPct, 2)}% undelivered`);
  return why;
}

function saturationOf(steps: StepRecord[]): PhaseRecord['saturation'] {
  let hi: number | null = null;
  let lo: number | null = null;
  for (const s of steps) if (s.sustained && (hi === null || s.rate > hi)) hi = s.rate;
  for (const s of steps) if (!s.sustained && (hi === null || s.rate > hi) && (lo === null || s.rate < lo)) lo = s.rate;
  return { highestSustained: hi, lowestUnsustained: lo, maxAckedPerS: Math.max(0, ...steps.map((s) => s.ackedPerS)) };
}

// ---------------------------------------------------------------------------------------------------
// Plans

function convPlans(set: SeededConversation[], k: number): ConvPlan[] {
  return set.map((c, i) => {
    const b = c.brokerIndex;
    const brokerNode = b % 2;
    const clientT: Transport = (k === 1 ? i >> 1 : i) % 2 === 0 ? 'ws' : 'io';
    const brokerT: Transport = k === 1 ? (clientT === 'ws' ? 'io' : 'ws') : (b >> 1) % 2 === 0 ? 'ws' : 'io';
    return {
      id: c.id,
      broker: { login: c.brokerLogin, node: brokerNode, transport: brokerT },
      client: { login: c.clientLogin, node: 1 - brokerNode, transport: clientT },
    };
  });
}

function notePlans(clients: string[], channels: string[]): NoteSubscriberPlan[] {
  const C = channels.length;
  return clients.map((login, j) => ({
    login,
    node: j % 2,
    channel: channels[Math.floor(j / 2) % C],
    transport: Math.floor(j / (2 * C)) % 2 === 0 ? 'ws' : 'io',
  }));
}

// ---------------------------------------------------------------------------------------------------
// Report

function latCell(l: LatencySummary, q: 'p50Ms' | 'p99Ms'): string {
  if (!l.samples) return '-';
  const v = l[q];
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

function errorsCell(s: StepResult): string {
  const parts = Object.entries(s.errorsByCode).map(([k, v]) => `${k}×${v}`);
  if (s.skipped) parts.push(`skipped×${s.skipped}`);
  return parts.length ? parts.join(' ') : '0';
}

function table(phases: PhaseRecord[]): string {
  const out: string[] = [];
  out.push(
    '| phase | offered/s | acked/s | delivered/s | ack p50 ms | ack p99 ms | delivery p50 ms | delivery p99 ms | errors | undeliv % | CPU % a / b / pg / redis / lg | sustained |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|:-:|',
  );
  for (const p of phases) {
    if (p.error && !p.steps.length) {
      out.push(`| ${p.phase} | failed: ${p.error.replace(/\|/g, '/').slice(0, 200)} |||||||||||`);
      continue;
    }
    for (const s of [...p.steps].sort((x, y) => x.rate - y.rate)) {
      const c = s.cpuPct;
      out.push(
        `| ${p.phase}${s.refine ? ' (refine)' : ''} | ${s.rate} | ${f(s.ackedPerS)} | ${f(s.deliveredPerS)} | ${latCell(s.ack, 'p50Ms')} | ${latCell(s.ack, 'p99Ms')} | ` +
          `${latCell(s.delivery, 'p50Ms')} | ${latCell(s.delivery, 'p99Ms')} | ${errorsCell(s)} | ${f(s.undeliveredPct, 2)} | ` +
          `${f(c.nodeA, 0)} / ${f(c.nodeB, 0)} / ${f(c.postgres, 0)} / ${f(c.redis, 0)} / ${f(c.loadgen, 0)} | ${s.sustained ? 'yes' : 'no'} |`,
      );
    }
  }
  return out.join('\n');
}

function summaryLines(phases: PhaseRecord[], o: Options): string[] {
  const lines: string[] = [];
  for (const p of phases) {
    if (!p.steps.length) continue;
    const s = p.saturation;
    const where =
      s.highestSustained === null
        ? `below ${s.lowestUnsustained ?? '?'} msgs/s (no offered rate was sustained)`
        : s.lowestUnsustained === null
          ? `≥ ${s.highestSustained} msgs/s (every offered rate sustained)`
          : `between ${s.highestSustained} and ${s.lowestUnsustained} msgs/s (highest sustained: ${s.highestSustained})`;
    lines.push(`- saturation, ${p.phase}: ${where}; max acked/s seen ${f(s.maxAckedPerS)}`);
  }
  for (const p of phases) {
    for (const s of p.steps) {
      if (s.loadgenElu > 0.8 || s.sendLagP99Ms > 50) {
        lines.push(
          `- load generator busy at ${p.phase} ${s.rate}/s (event loop ${f(100 * s.loadgenElu, 0)}% busy, sends p99 ${f(s.sendLagP99Ms, 0)} ms late): ` +
            'that step partly measures the load generator and the shared CPU',
        );
      }
    }
  }
  const at = (ph: PhaseKind, rate: number) => phases.find((p) => p.phase === ph)?.steps.find((s) => s.rate === rate && !s.refine);
  for (const ph of ['fresh', 'history'] as const) {
    const s = at(ph, 1000);
    if (s) {
      const ok = s.delivery.p99Ms <= 20 && s.sustained;
      lines.push(`- target chat p99 ≤ 20 ms at 1,000 msgs/s, ${ph}: delivery p99 ${f(s.delivery.p99Ms, 1)} ms, acked ${f(s.ackedPerS)}/s → ${ok ? 'MET' : 'NOT MET'}`);
    }
  }
  const fresh = phases.find((p) => p.phase === 'fresh');
  const hist = phases.find((p) => p.phase === 'history');
  if (fresh && hist) {
    for (const r of o.rates) {
      const a = at('fresh', r);
      const b = at('history', r);
      if (!a || !b) continue;
      const d = (x: number, y: number) => (x > 0 && Number.isFinite(x) && Number.isFinite(y) ? (100 * (y - x)) / x : NaN);
      const ds = {
        'acked/s': d(a.ackedPerS, b.ackedPerS),
        'ack p50': d(a.ack.p50Ms, b.ack.p50Ms),
        'ack p99': d(a.ack.p99Ms, b.ack.p99Ms),
        'delivery p50': d(a.delivery.p50Ms, b.delivery.p50Ms),
        'delivery p99': d(a.delivery.p99Ms, b.delivery.p99Ms),
      };
      const worst = Math.max(...Object.values(ds).map((x) => (Number.isFinite(x) ? Math.abs(x) : 0)));
      lines.push(
        `- history vs fresh at ${r}/s: ${Object.entries(ds)
          .map(([k, v]) => `${k} ${v >= 0 ? '+' : ''}${f(v, 0)}%`)
          .join(', ')} → ${worst <= 10 ? 'within' : 'OUTSIDE'} the 10% target${a.sustained && b.sustained ? '' : ' (a step was not sustained: queueing dominates, compare with care)'}`,
      );
    }
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
  let o: Options;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`${e.message}\n`);
      return 2;
    }
    throw e;
  }
  installCleanup();
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const resultsDir = `${REPO_ROOT}bench/results`;
  mkdirSync(resultsDir, { recursive: true });
  const jsonPath = `${resultsDir}/publish-${stamp}.json`;
  const tag = randomBytes(5).toString('hex');
  const dbName = `qiao_pubbench_${tag}`;
  const prefix = `qiao-pubbench:${tag}:`;
  const dbUrl = new URL(ADMIN_DB);
  dbUrl.pathname = `/${dbName}`;
  const secret = randomBytes(24).toString('hex');
  const git = gitInfo();
  const record: Record<string, unknown> = {
    bench: 'publish',
    startedAt: new Date().toISOString(),
    options: o,
    env: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, loadavg: os.loadavg(), node: process.version, git },
  };
  const phases: PhaseRecord[] = [];
  record.phases = phases;
  const nodes: Array<{ name: string; handle?: ServerHandle; port: number }> = [];
  let lgProc: ChildProcess | undefined;
  const redis = new Redis(REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 2 });
  let exitCode = 0;
  log(`database ${dbName}, Redis prefix ${prefix}, git ${git.commit} (${git.dirtySrcFiles} uncommitted file(s) under src/, channels/, drizzle/)`);
  if (git.dirtySrcFiles > 0) log('note: the hub runs the working tree as it is, uncommitted changes included');
  const t0 = performance.now();
  try {
    await admin((c) => c.query(`CREATE DATABASE ${dbName}`));
    const nodeEnv = (name: string, port: number) => ({
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: dbUrl.toString(),
      REDIS_URL,
      QIAO_REDIS_PREFIX: prefix,
      QIAO_JWT_SECRET: secret,
      QIAO_TOTP_REQUIRED_ROLES: '', // bench users log in with the password only
      QIAO_HTTP_RATE_LIMIT_MAX: '100000000', // a bench publishes faster than any person
      QIAO_LOGIN_RATE_MAX: '1000000',
      QIAO_NODE_ID: `bench-${name}`,
      QIAO_LOG_LEVEL: 'warn',
      ...(o.pgPool ? { QIAO_PG_POOL_SIZE: String(o.pgPool) } : {}),
    });
    for (const [name, cpu] of [
      ['a', o.cpuA],
      ['b', o.cpuB],
    ] as const) {
      const port = await freePort();
      const ts = performance.now();
      const handle = await startNodeServer({
        script: 'src/main.ts',
        args: ['start'],
        cpu,
        logFile: `${resultsDir}/publish-${stamp}-node-${name}.log`,
        port,
        nodeArgs: ['--max-old-space-size=4096', ...(process.env.BENCH_HUB_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_HUB_PROF}`] : [])],
        env: nodeEnv(name, port),
        readyTimeoutMs: 180_000,
      });
      nodes.push({ name, handle, port });
      // Node a migrates and seeds the demo firm before it listens; b starts once a is ready.
      await waitReady(port, 120_000);
      log(`node ${name}: pid ${handle.pid}, 127.0.0.1:${port}, ready in ${f((performance.now() - ts) / 1000)} s (cpu ${cpu})`);
    }

    // ---- Seeding
    const seed: Record<string, unknown> = {};
    record.seed = seed;
    const db = new pg.Client({ connectionString: dbUrl.toString() });
    await db.connect();
    let schema: SchemaReport;
    let freshSet: SeededConversation[] = [];
    let historySet: SeededConversation[] = [];
    let warmSet: SeededConversation[] = [];
    try {
      schema = await inspectSchema(db);
      seed.schema = schema;
      for (const w of schema.warnings) log(`schema: ${w}`);
      const hash = cheapPasswordHash(BENCH_PASSWORD);
      const needFresh = o.phases.includes('fresh') || o.phases.includes('notes');
      const ts = performance.now();
      if (needFresh) {
        freshSet = await seedConversationSet(db, {
          prefix: 'bench-f',
          conversations: Math.max(o.conversations, o.phases.includes('notes') ? o.noteSubscribers : 0),
          clientsPerBroker: o.clientsPerBroker,
          passwordHash: hash,
          createdAt: new Date(),
          schema,
        });
      }
      if (o.phases.includes('history')) {
        historySet = await seedConversationSet(db, {
          prefix: 'bench-h',
          conversations: o.conversations,
          clientsPerBroker: o.clientsPerBroker,
          passwordHash: hash,
          createdAt: new Date(Date.now() - 30 * 86_400_000),
          schema,
        });
      }
      if (o.nodeWarmup > 0) {
        warmSet = await seedConversationSet(db, {
          prefix: 'bench-w',
          conversations: WARM_CONVERSATIONS,
          clientsPerBroker: 1,
          passwordHash: hash,
          createdAt: new Date(),
          schema,
        });
      }
      seed.usersAndConversationsS = (performance.now() - ts) / 1000;
      log(
        `seeded ${freshSet.length} fresh + ${historySet.length} history${warmSet.length ? ` + ${warmSet.length} warm-up` : ''} conversations ` +
          `(users, assignments) in ${f(seed.usersAndConversationsS as number, 2)} s`,
      );
      if (historySet.length && o.history > 0) {
        const batch = o.seedBatch || Math.max(1, Math.round(100_000 / o.history));
        const th = performance.now();
        const stepTimes: Record<string, number> = {};
        seed.historyStepsAtS = stepTimes;
        let lastPct = -1;
        const rows = await seedHistory(dbUrl.toString(), historySet, {
          history: o.history,
          unread: o.historyUnread,
          batchConversations: batch,
          parallel: o.seedParallel,
          schema,
          onStep: (what) => {
            const s = (performance.now() - th) / 1000;
            stepTimes[what] = s;
            log(`history: ${what} done at ${f(s)} s`);
          },
          onProgress: (done, total) => {
            const pct = Math.floor((10 * done) / total) * 10;
            if (pct !== lastPct) {
              lastPct = pct;
              const s = (performance.now() - th) / 1000;
              log(`history: ${done}/${total} conversations, ${(done * o.history).toLocaleString('en')} rows, ${f(s)} s (${f((done * o.history) / s / 1000)}k rows/s)`);
            }
          },
        });
        seed.historyRows = rows;
        seed.historyS = (performance.now() - th) / 1000;
        log(`history: ${rows.toLocaleString('en')} messages in ${f(seed.historyS as number)} s (${f(rows / (seed.historyS as number) / 1000)}k rows/s; batches of ${batch} conversations, ${o.seedParallel} in parallel)`);
      }
      if (o.vacuum) {
        const tv = performance.now();
        await db.query('VACUUM (ANALYZE) messages, conversations, conversation_reads, channels, users, broker_clients');
        seed.vacuumAnalyzeS = (performance.now() - tv) / 1000;
        const tc = performance.now();
        await db.query('CHECKPOINT');
        seed.checkpointS = (performance.now() - tc) / 1000;
        log(`VACUUM (ANALYZE) ${f(seed.vacuumAnalyzeS as number)} s, CHECKPOINT ${f(seed.checkpointS as number)} s`);
      }
      const size = await db.query<{ s: string; m: string }>(
        `select pg_size_pretty(pg_database_size(current_database())) as s, pg_size_pretty(pg_total_relation_size('messages')) as m`,
      );
      seed.databaseSize = size.rows[0].s;
      seed.messagesTableSize = size.rows[0].m;
      seed.totalS = (performance.now() - ts) / 1000;
      log(`seeding done in ${f(seed.totalS as number)} s; database ${size.rows[0].s} (messages incl. indexes ${size.rows[0].m})`);
    } finally {
      await db.end();
    }

    // ---- Load generator
    lgProc = spawnNode({ script: LOADGEN, cpu: o.cpuLoadgen, logFile: 'inherit', ipc: true, nodeArgs: ['--max-old-space-size=4096'] });
    const lg = new Loadgen(lgProc);
    const lgPid = lgProc.pid!;
    await lg.request({ type: 'init', nodes: nodes.map((n) => ({ name: n.name, port: n.port })) }, 60_000);

    // CPU samples at the window edges (the load generator announces the window before it starts).
    // Postgres: per backend of the bench database, the delta of those present at both edges plus the whole
    // CPU of those that appeared in between (pool connections come and go); backends that ended inside the
    // window are missed, so the figure is a lower bound.
    interface Edge {
      t: number;
      v: number[];
      pg: Map<number, number>;
    }
    let edges: { e0?: Edge; e1?: Edge } = {};
    const pidA = nodes[0].handle!.pid;
    const pidB = nodes[1].handle!.pid;
    const pgBackends = async (): Promise<Map<number, number>> => {
      const m = new Map<number, number>();
      try {
        const r = await admin((c) => c.query<{ pid: number }>('select pid from pg_stat_activity where datname = $1', [dbName]));
        for (const { pid } of r.rows) m.set(pid, cpuOf([pid]));
      } catch {
        /* counted as NaN below */
      }
      return m;
    };
    lg.onWindow = (start, end) => {
      const rec: typeof edges = {};
      edges = rec;
      const sample = async (which: 0 | 1) => {
        const [r, pgm] = await Promise.all([redisCpu(redis), pgBackends()]);
        const e: Edge = { t: wallNow(), v: [cpuOf([pidA]), cpuOf([pidB]), cpuOf([lgPid]), r], pg: pgm };
        if (which === 0) rec.e0 = e;
        else rec.e1 = e;
      };
      setTimeout(() => void sample(0), start - wallNow());
      setTimeout(() => void sample(1), end - wallNow());
    };
    const cpuPct = (): CpuPct => {
      const { e0, e1 } = edges;
      if (!e0 || !e1) return { nodeA: NaN, nodeB: NaN, loadgen: NaN, postgres: NaN, redis: NaN };
      const s = (e1.t - e0.t) / 1000;
      const pct = (i: number) => (100 * (e1.v[i] - e0.v[i])) / s;
      let pgS = 0;
      for (const [pid, c1] of e1.pg) pgS += c1 - (e0.pg.get(pid) ?? 0);
      return { nodeA: pct(0), nodeB: pct(1), loadgen: pct(2), postgres: e1.pg.size ? (100 * pgS) / s : NaN, redis: pct(3) };
    };

    if (warmSet.length) {
      // Unmeasured: JIT, pools and caches of both nodes warm before the first phase, whichever it is.
      const tw = performance.now();
      try {
        await lg.request<PrepareResult>(
          { type: 'prepare', phase: 'warmup', password: BENCH_PASSWORD, conversations: convPlans(warmSet, 1), concurrency: o.concurrency },
          600_000,
        );
        const w = await lg.request<StepResult>(
          { type: 'step', rate: WARM_RATE, seconds: o.nodeWarmup, warmupS: 0, drainS: o.drain, maxInflight: o.maxInflight, textBytes: o.textBytes },
          (o.nodeWarmup + o.drain + 90) * 1000,
        );
        record.nodeWarmup = w;
        log(
          `node warm-up: ${WARM_RATE}/s for ${o.nodeWarmup} s on ${warmSet.length} conversations: acked ${f(w.ackedPerS)}/s, ` +
            `delivery p50/p99 ${latCell(w.delivery, 'p50Ms')}/${latCell(w.delivery, 'p99Ms')} ms (${f((performance.now() - tw) / 1000)} s, not reported)`,
        );
      } finally {
        await lg.request({ type: 'release' }, 30_000).catch(() => {});
      }
      await sleep(1000);
    }

    for (const ph of o.phases) {
      const rec: PhaseRecord = { phase: ph, steps: [], saturation: { highestSustained: null, lowestUnsustained: null, maxAckedPerS: 0 } };
      phases.push(rec);
      log(`=== phase ${ph} ===`);
      try {
        const channels = NOTE_CHANNELS.slice(0, o.noteChannels);
        const prep =
          ph === 'notes'
            ? {
                type: 'prepare' as const,
                phase: ph,
                password: BENCH_PASSWORD,
                noteSubscribers: notePlans(
                  freshSet.slice(0, o.noteSubscribers).map((c) => c.clientLogin),
                  channels,
                ),
                noteChannels: channels,
                notePublisher: 'research1',
                // research1 is a demo user: the demo password.
                notePublisherPassword: DEMO_PASSWORD,
                concurrency: o.concurrency,
              }
            : {
                type: 'prepare' as const,
                phase: ph,
                password: BENCH_PASSWORD,
                conversations: convPlans((ph === 'fresh' ? freshSet : historySet).slice(0, o.conversations), o.clientsPerBroker),
                concurrency: o.concurrency,
              };
        rec.prepare = await lg.request<PrepareResult>(prep, 600_000);
        const pr = rec.prepare;
        log(
          `${ph}: ${pr.users} users logged in in ${f(pr.loginMs / 1000, 1)} s, ${pr.connections} sockets in ${f(pr.connectMs / 1000, 1)} s, ` +
            `${pr.subscriptions} subscriptions in ${f(pr.subscribeMs / 1000, 1)} s${pr.failures ? `; ${pr.failures} FAILURES: ${pr.failureSamples.slice(0, 3).join(' | ')}` : ''}`,
        );
        await sleep(1000);
        const runRate = async (rate: number, refine: boolean) => {
          const r = await lg.request<StepResult>(
            { type: 'step', rate, seconds: o.seconds, warmupS: o.warmup, drainS: o.drain, maxInflight: o.maxInflight, textBytes: o.textBytes },
            (o.warmup + o.seconds + o.drain + 90) * 1000,
          );
          await sleep(r.windowEnd + 150 - wallNow());
          const why = sustained(r, o);
          const step: StepRecord = { ...r, cpuPct: cpuPct(), sustained: why.length === 0, sustainedWhyNot: why, ...(refine ? { refine } : {}) };
          rec.steps.push(step);
          const c = step.cpuPct;
          log(
            `${ph} @ ${rate}/s: acked ${f(r.ackedPerS)}/s, delivered ${f(r.deliveredPerS)}/s, ack p50/p99 ${latCell(r.ack, 'p50Ms')}/${latCell(r.ack, 'p99Ms')} ms, ` +
              `delivery p50/p99 ${latCell(r.delivery, 'p50Ms')}/${latCell(r.delivery, 'p99Ms')} ms, errors ${errorsCell(r)}, ` +
              `CPU a ${f(c.nodeA, 0)}% b ${f(c.nodeB, 0)}% pg ${f(c.postgres, 0)}% redis ${f(c.redis, 0)}% lg ${f(c.loadgen, 0)}% → ${why.length ? `not sustained (${why.join('; ')})` : 'sustained'}`,
          );
          if (Object.keys(r.anomalies).length) log(`${ph} @ ${rate}/s anomalies: ${JSON.stringify(r.anomalies)}`);
          await sleep(1000);
        };
        for (const rate of o.rates) await runRate(rate, false);
        for (let i = 0; i < o.refine; i++) {
          const s = saturationOf(rec.steps);
          if (s.highestSustained === null || s.lowestUnsustained === null) break;
          const mid = Math.round((s.highestSustained + s.lowestUnsustained) / 2);
          if (mid === s.highestSustained || mid === s.lowestUnsustained) break;
          await runRate(mid, true);
        }
      } catch (e) {
        rec.error = String((e as Error)?.message ?? e);
        exitCode = 1;
        log(`phase ${ph} failed: ${(e as Error)?.stack ?? e}`);
      }
      rec.saturation = saturationOf(rec.steps);
      rec.release = await lg.request({ type: 'release' }, 30_000).catch((e) => String(e));
      await sleep(1000);
    }
    await lg.request({ type: 'shutdown' }, 30_000).catch(() => {});
  } catch (e) {
    exitCode = 1;
    record.error = String((e as Error)?.message ?? e);
    log(`failed: ${(e as Error)?.stack ?? e}`);
  } finally {
    record.totalS = (performance.now() - t0) / 1000;
    for (const n of nodes) await n.handle?.stop().catch((e) => log(`stop node ${n.name}: ${e}`));
    if (lgProc) await stopChild(lgProc);
    if (o.keepDb) {
      log(`kept: DATABASE_URL=${dbUrl} REDIS_URL=${REDIS_URL} QIAO_REDIS_PREFIX=${prefix}`);
    } else {
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)).catch((e) => log(`drop database: ${e}`));
      await deleteRedisPrefix(REDIS_URL, prefix).catch((e) => log(`redis cleanup: ${e}`));
    }
    redis.disconnect();
  }

  record.finishedAt = new Date().toISOString();
  writeFileSync(jsonPath, JSON.stringify(record, null, 2));
  const seed = record.seed as Record<string, number | string> | undefined;
  const out: string[] = [];
  out.push(
    `## Publish benchmark — ${o.conversations} conversations, history ${o.history}, ${o.seconds} s windows (${new Date().toISOString()}, git ${git.commit}${git.dirtySrcFiles > 0 ? ' + uncommitted' : ''})`,
    '',
  );
  if (seed) {
    out.push(
      `Seeding: ${seed.historyRows ? `${Number(seed.historyRows).toLocaleString('en')} history messages in ${f(Number(seed.historyS))} s, ` : ''}` +
        `VACUUM (ANALYZE) ${f(Number(seed.vacuumAnalyzeS))} s, total ${f(Number(seed.totalS))} s; database ${seed.databaseSize ?? '?'}.`,
      '',
    );
  }
  out.push(table(phases), '', ...summaryLines(phases, o), '');
  out.push(
    `Latencies in ms: ack = publish sent → reply/HTTP response; delivery = publish sent → the receiving client's copy (chat: on the other node).`,
    `CPU % of one core inside the window: node a / node b / this database's Postgres backends / the whole redis-server / load generator (${os.cpus().length} cores).`,
    `Full record: ${jsonPath}`,
  );
  process.stdout.write(out.join('\n') + '\n');
  log(`total ${f((record.totalS as number) / 60, 1)} min`);
  if (phases.some((p) => p.error)) exitCode = 1;
  return exitCode;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`[bench] ${(e as Error)?.stack ?? e}\n`);
    process.exit(1);
  },
);
