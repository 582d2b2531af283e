/**
 * Process helpers for the bench orchestrator: spawning pinned node processes, waiting for a port,
 * reading /proc, and killing everything we started (also on error / Ctrl-C).
 */
import { type ChildProcess, type StdioOptions, execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { ServerHandle } from './types.ts';

/** The tsx ESM+CJS loader, for `node --import` (so the pid we spawn IS the node process, no tsx CLI wrapper). */
export const TSX_LOADER = import.meta.resolve('tsx');
/** Preload that makes a child exit when its stdin (held by the orchestrator) closes. */
export const EXIT_WITH_PARENT = new URL('./exit-with-parent.ts', import.meta.url).href;
/** Repository root (bench/lib/../..). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

// ---------------------------------------------------------------------------------------------------
// Child registry and cleanup

const live = new Set<ChildProcess>();

function signalGroup(cp: ChildProcess, sig: NodeJS.Signals): void {
  if (cp.pid === undefined || cp.exitCode !== null || cp.signalCode !== null) return;
  try {
    process.kill(-cp.pid, sig); // the child leads its own process group (detached: true)
  } catch {
    try {
      cp.kill(sig);
    } catch {
      /* already gone */
    }
  }
}

/** SIGKILL every child we spawned (and their process groups). Synchronous: safe in 'exit' handlers. */
export function killAllChildren(): void {
  for (const cp of live) signalGroup(cp, 'SIGKILL');
}

/** Stop one child: SIGTERM to its group, SIGKILL after `graceMs`. Resolves when it has exited. */
export async function stopChild(cp: ChildProcess, graceMs = 3000): Promise<void> {
  if (cp.exitCode !== null || cp.signalCode !== null) {
    live.delete(cp);
    return;
  }
  const exited = new Promise<void>((resolve) => cp.once('exit', () => resolve()));
  signalGroup(cp, 'SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    exited.then(() => false),
    new Promise<boolean>((r) => {
      timer = setTimeout(() => r(true), graceMs);
    }),
  ]);
  clearTimeout(timer);
  if (timedOut) {
    signalGroup(cp, 'SIGKILL');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
  }
  cp.stdin?.destroy();
  live.delete(cp);
}

let cleanupInstalled = false;
/** Kill all children on exit, Ctrl-C, SIGTERM, uncaught errors. Idempotent. */
export function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', killAllChildren);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      process.stderr.write(`\n[bench] ${sig}: killing children\n`);
      killAllChildren();
      process.exit(130);
    });
  }
  process.on('uncaughtException', (e) => {
    process.stderr.write(`[bench] uncaught: ${e?.stack ?? e}\n`);
    killAllChildren();
    process.exit(1);
  });
  process.on('unhandledRejection', (e) => {
    process.stderr.write(`[bench] unhandled rejection: ${(e as Error)?.stack ?? e}\n`);
    killAllChildren();
    process.exit(1);
  });
}

// ---------------------------------------------------------------------------------------------------
// Spawning

export interface SpawnNodeOptions {
  /** Script path (absolute, or relative to cwd), run with the tsx loader. */
  script: string;
  args?: string[];
  /** Extra environment (merged over process.env). */
  env?: Record<string, string | undefined>;
  /** `taskset -c` CPU list. */
  cpu: string;
  /** stdout+stderr go here (appended); 'inherit' to share ours. */
  logFile: string | 'inherit';
  cwd?: string;
  /** Extra node flags, e.g. ['--max-old-space-size=4096']. */
  nodeArgs?: string[];
  /** Open an IPC channel (child_process 'ipc'); the child must be node. */
  ipc?: boolean;
}

/**
 * Spawns `node --import tsx <script>` pinned with taskset, with the soft open-files limit raised to the
 * hard limit, in its own process group. `bash -c '...; exec "$@"'` and `taskset` both exec, so
 * `child.pid` is the pid of the node process itself (what /proc readings need).
 */
export function spawnNode(opts: SpawnNodeOptions): ChildProcess {
  const out = opts.logFile === 'inherit' ? 'inherit' : openSync(opts.logFile, 'a');
  const stdio: StdioOptions = ['pipe', out, out];
  if (opts.ipc) stdio.push('ipc');
  const argv = [
    '-c',
    'ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true; exec "$@"',
    'bench-spawn',
    'taskset',
    '-c',
    opts.cpu,
    process.execPath,
    ...(opts.nodeArgs ?? []),
    '--import',
    TSX_LOADER,
    '--import',
    EXIT_WITH_PARENT,
    opts.script,
    ...(opts.args ?? []),
  ];
  const cp = spawn('bash', argv, {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { ...process.env, ...opts.env },
    stdio,
    detached: true, // own process group: stop() can signal the whole tree
  });
  if (typeof out === 'number') closeSync(out);
  live.add(cp);
  cp.once('exit', () => live.delete(cp));
  cp.stdin?.on('error', () => {}); // EPIPE when the child exits first
  return cp;
}

/** Resolves once a TCP connect to 127.0.0.1:port succeeds; rejects on timeout or if `child` exits. */
export async function waitForTcp(port: number, timeoutMs = 30_000, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; attempt < 100_000 && Date.now() < deadline; attempt++) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`server exited (code ${child.exitCode}, signal ${child.signalCode}) before listening on ${port}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

/** A currently free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Generic `start()` for a node server script that takes its port from argv/env: spawn it pinned, wait
 * for the port, return a ServerHandle. Used by the baselines; usable for Qiao (script src/main.ts,
 * args ['start'], env { PORT, HOST: '127.0.0.1', ... }).
 */
export async function startNodeServer(
  opts: SpawnNodeOptions & { port: number; readyTimeoutMs?: number; info?: Record<string, unknown> },
): Promise<ServerHandle> {
  const cp = spawnNode(opts);
  try {
    await waitForTcp(opts.port, opts.readyTimeoutMs ?? 30_000, cp);
  } catch (e) {
    await stopChild(cp, 500);
    throw e;
  }
  if (cp.pid === undefined) throw new Error('spawn failed: no pid');
  return { pid: cp.pid, port: opts.port, stop: (graceMs?: number) => stopChild(cp, graceMs), info: opts.info };
}

// ---------------------------------------------------------------------------------------------------
// /proc readings

function procStatusField(pid: number, field: string): number {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(text);
  if (!m) throw new Error(`${field} not found in /proc/${pid}/status`);
  return Number(m[1]);
}

/** VmRSS of a process, kB. */
export function readRssKb(pid: number): number {
  return procStatusField(pid, 'VmRSS');
}
/** VmHWM (peak RSS) of a process, kB. */
export function readHwmKb(pid: number): number {
  return procStatusField(pid, 'VmHWM');
}

let clkTck = 0;
/** utime+stime of a process (all threads), in seconds. */
export function readCpuSeconds(pid: number): number {
  const [u, k] = readCpuTimes(pid);
  return u + k;
}

/** [utime, stime] of a process (all threads), in seconds. */
export function readCpuTimes(pid: number): [number, number] {
  if (!clkTck) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime is field 14, stime field 15.
  return [Number(rest[11]) / clkTck, Number(rest[12]) / clkTck];
}

/** Name of the executable of a process (/proc/PID/comm), to check we measure node and not a wrapper. */
export function readComm(pid: number): string {
  return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
}

export interface ServiceWorkersOptions {
  /** `src/main.ts worker <queues>`, e.g. 'email' or 'push'. */
  queues: string;
  count: number;
  /** `taskset -c` CPU list of every process. */
  cpu: string;
  /** Shared by the processes; each prints "workers running" there once started. */
  logFile: string;
  dbUrl: string;
  redisUrl: string;
  /** The bench's Redis key prefix (QIAO_REDIS_PREFIX). */
  prefix: string;
  /** More environment (QIAO_* settings of the worker, NODE_EXTRA_CA_CERTS, …). */
  env?: Record<string, string>;
  nodeArgs?: string[];
}

/**
 * Starts `count` delivery worker processes in services mode on a bench's database and Redis prefix and
 * resolves once every one of them says it is running (60 s at most).
 */
export async function startServiceWorkers(o: ServiceWorkersOptions): Promise<ChildProcess[]> {
  const children: ChildProcess[] = [];
  for (let w = 0; w < o.count; w++) {
    children.push(
      spawnNode({
        script: 'src/main.ts',
        args: ['worker', o.queues],
        cpu: o.cpu,
        logFile: o.logFile,
        nodeArgs: o.nodeArgs,
        env: {
          // The worker refuses unknown QIAO_* names: pass only ours.
          ...Object.fromEntries(Object.keys(process.env).filter((k) => k.startsWith('QIAO_')).map((k) => [k, undefined])),
          DATABASE_URL: o.dbUrl,
          REDIS_URL: o.redisUrl,
          QIAO_REDIS_PREFIX: o.prefix,
          QIAO_LOG_LEVEL: 'warn',
          QIAO_SEED_DEMO: 'false',
          QIAO_NODE_ID: `bench-worker-${w}`,
          QIAO_JWT_SECRET: 'bench-secret-0123456789-abcdefghijklmnopqrstuv',
          ...o.env,
        },
      }),
    );
  }
  const end = Date.now() + 60_000;
  while ((readFileSync(o.logFile, 'utf8').match(/workers running/g) ?? []).length < o.count) {
    if (Date.now() > end) {
      await Promise.all(children.map((c) => stopChild(c)));
      throw new Error(`${o.queues} workers did not start within 60 s; see ${o.logFile}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return children;
}
