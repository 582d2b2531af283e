/**
 * Fanout benchmark orchestrator (Qiao issue: one channel, 10,000 subscribers, ~200-byte messages).
 *
 *   npx tsx bench/fanout.bench.ts [--targets a,b,c,d] [--subs 10000] [--seconds 10] [--rate 8] [--window 4]
 *
 * For each target: start its server pinned to CPU 0, start bench/loadgen.ts pinned to CPU 1 (IPC),
 * read the server's VmRSS, connect the subscribers, read VmRSS again, run the saturated phase and the
 * fixed-rate phase, then stop both processes. Prints a table and writes JSON to bench/results/.
 * See bench/README.md for what the numbers mean; see bench/loadgen.ts for the publishing discipline.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { ConnectResult, LoadgenMessage, PhaseName, PhaseResult } from './lib/ipc.ts';
import { BENCH_MESSAGE_BYTES, wallNow } from './lib/message.ts';
import {
  freePort,
  installCleanup,
  readComm,
  readCpuTimes,
  readHwmKb,
  readRssKb,
  spawnNode,
  stopChild,
} from './lib/proc.ts';
import type { BenchTarget, ServerHandle } from './lib/types.ts';
import { LoadgenClient } from './lib/loadgen-client.ts';
import { allTargets } from './targets.ts';

// ---------------------------------------------------------------------------------------------------
// Options

/** Bad command line: printed without a stack trace, exit code 2. */
class UsageError extends Error {}

interface Options {
  targets: string[];
  subs: number;
  seconds: number;
  rate: number;
  window: number;
  warmup: number;
  drain: number;
  repeat: number;
  calibrate: boolean;
  concurrency: number;
  attempts: number;
  stallMs: number;
  settleMs: number;
  serverCpu: string;
  loadgenCpu: string;
  phases: PhaseName[];
}

const HELP = `usage: npx tsx bench/fanout.bench.ts [options]
  --targets a,b,c,d   targets to run (default: all registered: ${allTargets()
    .map((t) => t.key)
    .join(',')})
  --subs N            subscribers (default 10000)
  --seconds S         measurement window per phase (default 10)
  --rate R            broadcasts/s in the fixed-rate phase (default 8)
  --window W          saturated: publications in flight, end to end (default 4)
  --warmup S          publishing before each window, not measured (default 1)
  --drain S           max wait after a window for its publications to be delivered (default 30;
                      ends earlier once all arrived or after 2 s without any delivery)
  --repeat N          run all targets N times, interleaved (a b a b ...); the table shows medians (default 1)
  --no-calibrate      skip the 2-core CPU availability check before/after the run
  --phases p,q        saturated,fixed (default both)
  --concurrency N     subscriber connects in flight (default 500)
  --attempts N        connect attempts per subscriber (default 3)
  --stall-ms MS       write off a publication after this long (default 5000)
  --settle-ms MS      pause before each RSS reading (default 2000)
  --server-cpu L      taskset CPU list for servers (default 0)
  --loadgen-cpu L     taskset CPU list for the load generator (default 1)`;

function parseArgs(argv: string[]): Options {
  const o: Options = {
    targets: allTargets().map((t) => t.key),
    subs: 10_000,
    seconds: 10,
    rate: 8,
    window: 4,
    warmup: 1,
    drain: 30,
    repeat: 1,
    calibrate: true,
    concurrency: 500,
    attempts: 3,
    stallMs: 5000,
    settleMs: 2000,
    serverCpu: '0',
    loadgenCpu: '1',
    phases: ['saturated', 'fixed'],
  };
  const num = (name: string, v: string | undefined, min: number, max: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`${name}: expected a number in [${min}, ${max}], got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    switch (a) {
      case '--targets':
        o.targets = (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
        i++;
        break;
      case '--subs':
        o.subs = Math.floor(num(a, v, 1, 50_000));
        i++;
        break;
      case '--seconds':
        o.seconds = num(a, v, 1, 600);
        i++;
        break;
      case '--rate':
        o.rate = num(a, v, 0.1, 10_000);
        i++;
        break;
      case '--window':
        o.window = Math.floor(num(a, v, 1, 10_000));
        i++;
        break;
      case '--warmup':
        o.warmup = num(a, v, 0, 60);
        i++;
        break;
      case '--drain':
        o.drain = num(a, v, 0, 120);
        i++;
        break;
      case '--repeat':
        o.repeat = Math.floor(num(a, v, 1, 20));
        i++;
        break;
      case '--no-calibrate':
        o.calibrate = false;
        break;
      case '--phases':
        o.phases = (v ?? '').split(',').map((s) => s.trim()) as PhaseName[];
        if (!o.phases.length || o.phases.some((p) => p !== 'saturated' && p !== 'fixed')) {
          throw new UsageError('--phases: saturated and/or fixed');
        }
        i++;
        break;
      case '--concurrency':
        o.concurrency = Math.floor(num(a, v, 1, 5000));
        i++;
        break;
      case '--attempts':
        o.attempts = Math.floor(num(a, v, 1, 10));
        i++;
        break;
      case '--stall-ms':
        o.stallMs = num(a, v, 100, 120_000);
        i++;
        break;
      case '--settle-ms':
        o.settleMs = num(a, v, 0, 60_000);
        i++;
        break;
      case '--server-cpu':
        o.serverCpu = String(v);
        i++;
        break;
      case '--loadgen-cpu':
        o.loadgenCpu = String(v);
        i++;
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
  return o;
}

// ---------------------------------------------------------------------------------------------------
// Load generator client

class Loadgen extends LoadgenClient<LoadgenMessage> {
  onWindow: (phase: PhaseName, start: number, end: number) => void = () => {};

  constructor(cp: ChildProcess) {
    super(cp, (m) => {
      if (m.type === 'window') this.onWindow(m.phase, m.start, m.end);
    });
  }
}

// ---------------------------------------------------------------------------------------------------
// One target

interface PhaseRecord extends PhaseResult {
  /** Server CPU use inside the window, % of one core (all threads). */
  serverCpuPct: number;
  /** Load-generator CPU use inside the window, % of one core (all threads). */
  loadgenCpuPct: number;
  /** The kernel (stime) part of the above: on loopback it includes the peer's TCP receive processing. */
  serverSysCpuPct: number;
  loadgenSysCpuPct: number;
}

interface TargetRecord {
  key: string;
  /** 1-based repeat round. */
  round?: number;
  name: string;
  description?: string;
  error?: string;
  serverPid?: number;
  serverComm?: string;
  connect?: ConnectResult;
  rssBeforeKb?: number;
  rssAfterConnectKb?: number;
  rssEndKb?: number;
  hwmKb?: number;
  rssMbPer1k?: number;
  loadgenRssAfterConnectKb?: number;
  phases: PhaseRecord[];
  loadgenStats?: unknown;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));
const LOADGEN = fileURLToPath(new URL('./loadgen.ts', import.meta.url));

async function runTarget(t: BenchTarget, o: Options, resultsDir: string, stamp: string): Promise<TargetRecord> {
  const rec: TargetRecord = { key: t.key, name: t.name, description: t.description, phases: [] };
  let server: ServerHandle | undefined;
  let lgProc: ChildProcess | undefined;
  console.error(`\n[bench] === (${t.key}) ${t.name} ===`);
  try {
    const port = await freePort();
    server = await t.start({
      cpu: o.serverCpu,
      port,
      subscribers: o.subs,
      logFile: `${resultsDir}/${stamp}-${t.key}-server.log`,
    });
    const srv = server;
    rec.serverPid = srv.pid;
    rec.serverComm = readComm(srv.pid);
    if (rec.serverComm !== 'node') {
      console.error(`[bench] warning: server pid ${srv.pid} is "${rec.serverComm}", not node: RSS may be a wrapper's`);
    }
    console.error(`[bench] server pid ${srv.pid} on 127.0.0.1:${srv.port} (cpu ${o.serverCpu})`);

    lgProc = spawnNode({
      script: LOADGEN,
      cpu: o.loadgenCpu,
      logFile: 'inherit',
      ipc: true,
      // BENCH_LOADGEN_PROF=dir: CPU profile of the load generator (written when it exits cleanly).
      nodeArgs: ['--max-old-space-size=4096', ...(process.env.BENCH_LOADGEN_PROF ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.BENCH_LOADGEN_PROF] : [])],
    });
    const lg = new Loadgen(lgProc);
    const lgPid = lgProc.pid!;

    // CPU sampling at the window edges (scheduled on the same wall clock as the load generator).
    type CpuEdge = { s: [number, number]; l: [number, number]; t: number };
    const cpuSamples = new Map<PhaseName, { e0?: CpuEdge; e1?: CpuEdge }>();
    lg.onWindow = (phase, start, end) => {
      const rec0: { e0?: CpuEdge; e1?: CpuEdge } = {};
      cpuSamples.set(phase, rec0);
      const sample = (edge: 0 | 1) => {
        try {
          const e: CpuEdge = { s: readCpuTimes(srv.pid), l: readCpuTimes(lgPid), t: wallNow() };
          if (edge === 0) rec0.e0 = e;
          else rec0.e1 = e;
        } catch {
          /* process gone */
        }
      };
      setTimeout(() => sample(0), start - wallNow());
      setTimeout(() => sample(1), end - wallNow());
    };

    await lg.request({ type: 'init', targetKey: t.key, port: srv.port, info: srv.info ?? {}, subscribers: o.subs }, 60_000);
    await sleep(o.settleMs);
    rec.rssBeforeKb = readRssKb(srv.pid);

    const deadlineMs = Math.max(60_000, o.subs * 20);
    rec.connect = await lg.request<ConnectResult>(
      { type: 'connect', concurrency: o.concurrency, attempts: o.attempts, deadlineMs },
      deadlineMs + 60_000,
    );
    if (rec.connect.connected === 0) throw new Error(`no subscriber connected: ${rec.connect.errorSamples.join('; ')}`);
    await sleep(o.settleMs);
    rec.rssAfterConnectKb = readRssKb(srv.pid);
    rec.loadgenRssAfterConnectKb = readRssKb(lgPid);
    rec.rssMbPer1k = (rec.rssAfterConnectKb - rec.rssBeforeKb) / 1024 / (rec.connect.connected / 1000);
    console.error(
      `[bench] server RSS ${(rec.rssBeforeKb / 1024).toFixed(1)} MB → ${(rec.rssAfterConnectKb / 1024).toFixed(1)} MB ` +
        `with ${rec.connect.connected} subscribers: ${rec.rssMbPer1k.toFixed(2)} MB/1k conns`,
    );

    for (const phase of o.phases) {
      const r = await lg.request<PhaseResult>(
        {
          type: 'phase',
          phase,
          seconds: o.seconds,
          warmupS: o.warmup,
          drainS: o.drain,
          window: o.window,
          rate: o.rate,
          stallMs: o.stallMs,
        },
        (o.warmup + o.seconds + o.drain) * 1000 + 60_000,
      );
      // The reply can beat the orchestrator's end-of-window timer: let that timer fire first.
      await sleep(r.windowEnd + 100 - wallNow());
      const { e0, e1 } = cpuSamples.get(phase) ?? {};
      const pct = (sel: (e: CpuEdge) => number) =>
        e0 && e1 ? (100 * (sel(e1) - sel(e0))) / ((e1.t - e0.t) / 1000) : NaN;
      rec.phases.push({
        ...r,
        serverCpuPct: pct((e) => e.s[0] + e.s[1]),
        serverSysCpuPct: pct((e) => e.s[1]),
        loadgenCpuPct: pct((e) => e.l[0] + e.l[1]),
        loadgenSysCpuPct: pct((e) => e.l[1]),
      });
      await sleep(500);
    }
    rec.rssEndKb = readRssKb(srv.pid);
    rec.hwmKb = readHwmKb(srv.pid);
    rec.loadgenStats = await lg.request({ type: 'shutdown' }, 30_000);
  } catch (e) {
    rec.error = String((e as Error)?.message ?? e);
    console.error(`[bench] (${t.key}) failed: ${(e as Error)?.stack ?? e}`);
  } finally {
    // Server first (its sockets then sit in TIME_WAIT, not the load generator's ephemeral ports).
    if (server) await server.stop().catch((e) => console.error(`[bench] stop server: ${e}`));
    if (lgProc) await stopChild(lgProc);
  }
  return rec;
}

// ---------------------------------------------------------------------------------------------------
// CPU availability check

/**
 * Burns CPU on both bench cores at once for `ms` and returns the share of each core the burners got (%).
 * On a dedicated 2-core machine this is ~100/100. On a shared VM it shows how much CPU the host really
 * gives when server and load generator are both busy (it was 25-90% per core on the machine this bench
 * was written on, varying minute to minute), which bounds every throughput figure of the run.
 */
async function calibrateCpu(cpus: string[], ms = 2000): Promise<number[]> {
  const code =
    `const t=Date.now(),c=process.cpuUsage();let x=0;while(Date.now()-t<${ms})x+=Math.sqrt(x+1);` +
    `const u=process.cpuUsage(c);console.log(((u.user+u.system)/10/(Date.now()-t)).toFixed(1))`;
  const runs = cpus.map(
    (cpu) =>
      new Promise<number>((resolve) => {
        const cp = spawn('taskset', ['-c', cpu, process.execPath, '-e', code], { stdio: ['ignore', 'pipe', 'ignore'] });
        let out = '';
        cp.stdout.on('data', (d) => (out += d));
        cp.on('close', () => resolve(Number(out.trim())));
        cp.on('error', () => resolve(NaN));
      }),
  );
  return Promise.all(runs);
}

// ---------------------------------------------------------------------------------------------------
// Report

const f = (n: number | undefined, d = 2) => (n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(d));
const int = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '-' : Math.round(n).toLocaleString('en-US'));

function median(xs: number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** Per target and phase: medians over the repeats (a single run when --repeat 1). */
interface Row {
  key: string;
  name: string;
  phase: PhaseName;
  runs: number;
  deliveriesPerS: number;
  minDeliveriesPerS: number;
  maxDeliveriesPerS: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  rssMbPer1k: number;
  publishesPerS: number;
  lossPct: number;
  serverCpuPct: number;
  loadgenCpuPct: number;
  /** Deliveries per second of server CPU time: throughput normalised by the CPU the server actually got. */
  deliveriesPerServerCpuS: number;
}

function aggregate(records: TargetRecord[], targets: BenchTarget[], phases: PhaseName[]): Row[] {
  const rows: Row[] = [];
  for (const t of targets) {
    const recs = records.filter((r) => r.key === t.key);
    for (const phase of phases) {
      const ps = recs.flatMap((r) => r.phases.filter((p) => p.phase === phase).map((p) => ({ r, p })));
      if (!ps.length) continue;
      const d = ps.map(({ p }) => p.deliveriesPerS);
      rows.push({
        key: t.key,
        name: t.name,
        phase,
        runs: ps.length,
        deliveriesPerS: median(d),
        minDeliveriesPerS: Math.min(...d),
        maxDeliveriesPerS: Math.max(...d),
        p50Ms: median(ps.map(({ p }) => p.latency.p50Ms)),
        p99Ms: median(ps.map(({ p }) => p.latency.p99Ms)),
        maxMs: median(ps.map(({ p }) => p.latency.maxMs)),
        rssMbPer1k: median(ps.map(({ r }) => r.rssMbPer1k ?? NaN)),
        publishesPerS: median(ps.map(({ p }) => p.publishesPerS)),
        lossPct: median(ps.map(({ p }) => p.lossPct)),
        serverCpuPct: median(ps.map(({ p }) => p.serverCpuPct)),
        loadgenCpuPct: median(ps.map(({ p }) => p.loadgenCpuPct)),
        deliveriesPerServerCpuS: median(ps.map(({ p }) => p.deliveriesPerS / (p.serverCpuPct / 100))),
      });
    }
  }
  return rows;
}

function table(rows: Row[], records: TargetRecord[], repeat: number): string {
  const head = [
    'target',
    'phase',
    'deliveries/s',
    'p50 ms',
    'p99 ms',
    'max ms',
    'RSS MB/1k conns',
    'pubs/s',
    'undeliv %',
    'deliv/srv-CPU-s',
    'srv CPU %',
    'lg CPU %',
  ];
  if (repeat > 1) head.push('deliveries/s min..max');
  const body: string[][] = rows.map((r) => {
    const cells = [
      `(${r.key}) ${r.name}`,
      r.phase,
      int(r.deliveriesPerS),
      f(r.p50Ms),
      f(r.p99Ms),
      f(r.maxMs),
      f(r.rssMbPer1k),
      f(r.publishesPerS, 1),
      f(r.lossPct, 3),
      int(r.deliveriesPerServerCpuS),
      f(r.serverCpuPct, 0),
      f(r.loadgenCpuPct, 0),
    ];
    if (repeat > 1) cells.push(`${int(r.minDeliveriesPerS)}..${int(r.maxDeliveriesPerS)} (${r.runs} runs)`);
    return cells;
  });
  for (const r of records) {
    if (r.error && !r.phases.length) {
      const cells = [`(${r.key}) ${r.name}`, 'ERROR', r.error.slice(0, 70), ...head.slice(3).map(() => '')];
      body.push(cells);
    }
  }
  const w = head.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < 2 ? (c ?? '').padEnd(w[i]) : (c ?? '').padStart(w[i]))).join(' | ');
  return [line(head), w.map((n) => '-'.repeat(n)).join('-|-'), ...body.map(line)].join('\n');
}

function ratios(rows: Row[]): string[] {
  const out: string[] = [];
  for (const [num, den, label] of [
    ['c', 'b', '(c) Qiao socket.io / (b) socket.io baseline'],
    ['d', 'a', '(d) Qiao raw WS / (a) ws baseline'],
  ] as const) {
    for (const n of rows.filter((r) => r.key === num)) {
      const d = rows.find((r) => r.key === den && r.phase === n.phase);
      if (!d) continue;
      out.push(
        `${label}, ${n.phase}: deliveries/s ${f(n.deliveriesPerS / d.deliveriesPerS, 3)}` +
          `, deliveries per server CPU-s ${f(n.deliveriesPerServerCpuS / d.deliveriesPerServerCpuS, 3)}`,
      );
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  installCleanup();
  const o = parseArgs(process.argv.slice(2));
  const registry = allTargets();
  const unknown = o.targets.filter((k) => !registry.some((t) => t.key === k));
  if (unknown.length) {
    throw new UsageError(
      `unknown target(s) ${unknown.join(', ')}; registered: ${registry.map((t) => `${t.key} (${t.name})`).join(', ')}` +
        (unknown.some((k) => k === 'c' || k === 'd') ? ' — Qiao targets go in bench/targets-qiao.ts' : ''),
    );
  }
  const targets = o.targets.map((k) => registry.find((t) => t.key === k)!);

  const resultsDir = fileURLToPath(new URL('./results', import.meta.url));
  mkdirSync(resultsDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');

  let nofile = 'unknown';
  try {
    nofile = /Max open files\s+(\S+)\s+(\S+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.slice(1).join('/') ?? nofile;
  } catch {
    /* not linux */
  }
  const env: Record<string, unknown> = {
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    totalMemMb: Math.round(os.totalmem() / 1048576),
    nofileSoftHard: nofile,
    messageBytes: BENCH_MESSAGE_BYTES,
  };
  console.error(`[bench] ${JSON.stringify({ ...o, env })}`);
  if (os.cpus().length < 2) console.error('[bench] warning: fewer than 2 CPUs: server and load generator share a core');
  const benchCpus = [o.serverCpu, o.loadgenCpu];
  if (o.calibrate) {
    env.cpuAvailableBeforePct = await calibrateCpu(benchCpus);
    console.error(`[bench] CPU available with both cores busy: ${JSON.stringify(env.cpuAvailableBeforePct)} % (cpu ${benchCpus})`);
  }

  const records: TargetRecord[] = [];
  for (let round = 1; round <= o.repeat; round++) {
    for (const t of targets) {
      if (o.repeat > 1) console.error(`\n[bench] round ${round}/${o.repeat}`);
      records.push({ ...(await runTarget(t, o, resultsDir, stamp)), round });
      await sleep(1000);
    }
  }
  if (o.calibrate) {
    env.cpuAvailableAfterPct = await calibrateCpu(benchCpus);
    console.error(`[bench] CPU available with both cores busy: ${JSON.stringify(env.cpuAvailableAfterPct)} % (after)`);
  }

  const rows = aggregate(records, targets, o.phases);
  console.log(
    `\nFanout: ${o.subs} subscribers, one channel, ${BENCH_MESSAGE_BYTES}-byte messages; ` +
      `saturated (window ${o.window}) and fixed ${o.rate}/s, ${o.seconds} s windows; server on CPU ${o.serverCpu}, ` +
      `load generator on CPU ${o.loadgenCpu}${o.repeat > 1 ? `; medians of ${o.repeat} interleaved runs` : ''}`,
  );
  if (o.calibrate) {
    console.log(
      `CPU the host gave two busy cores (burn test): before ${JSON.stringify(env.cpuAvailableBeforePct)} %, ` +
        `after ${JSON.stringify(env.cpuAvailableAfterPct)} %\n`,
    );
  }
  console.log(table(rows, records, o.repeat));
  const rs = ratios(rows);
  if (rs.length) console.log(`\n${rs.join('\n')}`);
  for (const r of records) {
    const notes: string[] = [];
    if (r.connect && r.connect.failed) notes.push(`${r.connect.failed} subscribers failed to connect`);
    for (const p of r.phases) {
      if (p.publishErrors) notes.push(`${p.phase}: ${p.publishErrors} publish errors (${p.publishErrorSamples[0]})`);
      if (p.stalled) notes.push(`${p.phase}: ${p.stalled} publications incomplete after ${o.stallMs} ms`);
      if (p.skipped) notes.push(`${p.phase}: ${p.skipped} ticks skipped (too many in flight)`);
      if (p.phase === 'fixed' && p.completionMsLastQuarter > 2 * p.completionMsFirstQuarter + 1000 / o.rate) {
        notes.push(
          `fixed: ${o.rate}/s not sustained: completion time (publish → last subscriber) grew from ` +
            `${f(p.completionMsFirstQuarter, 0)} ms to ${f(p.completionMsLastQuarter, 0)} ms over the window`,
        );
      }
    }
    if (r.error) notes.push(`error: ${r.error}`);
    if (notes.length) console.log(`\n(${r.key})${o.repeat > 1 ? ` round ${r.round}` : ''}: ${notes.join('\n    ')}`);
  }

  const file = `${resultsDir}/fanout-${stamp}.json`;
  writeFileSync(file, JSON.stringify({ startedAt: stamp, options: o, env, summary: rows, runs: records }, null, 2));
  console.log(`\nJSON: ${file}`);
  if (records.some((r) => r.error)) process.exitCode = 1;
}

main().then(
  () => process.exit(),
  (e) => {
    console.error(`[bench] ${e instanceof UsageError ? e.message : ((e as Error)?.stack ?? e)}`);
    process.exit(e instanceof UsageError ? 2 : 1);
  },
);
