/**
 * A real local Redis Cluster for the cluster suites: 3 masters + 3 replicas, `redis-server` child
 * processes with `--cluster-enabled yes` on free ports of 127.0.0.1 (client port and cluster-bus port
 * both picked free, via `--cluster-port`), temp directories, joined by
 * `redis-cli --cluster create … --cluster-replicas 1 --cluster-yes`. Ready when every node reports
 * `cluster_state:ok`, all 16384 slots are covered and every replica's link to its master is up (so a
 * failover test may kill a master at once).
 *
 * `cluster-node-timeout` is short (1 s) so a killed master's replica is promoted within a few seconds;
 * persistence is off (the realistic data loss of a replica that had not received the last writes is
 * what the failover tests exercise).
 *
 * Cleanup: `close()` kills the nodes and removes the directory; a process 'exit' hook does the same
 * for anything still running; directories are named after the runner's pid, so a later run removes
 * (and kills) what a crashed runner left behind.
 *
 * Gate: `gateRedisCluster()` — when redis-server or redis-cli are missing it warns loudly and returns
 * false (the suite skips), unless QIAO_REQUIRE_SERVICES=1, in which case it throws. One cluster per
 * test file (start it in beforeAll): starting takes 2–4 s.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from './process.ts';
import { requireServices } from './services.ts';
import { installExitHook, liveCleanups, pidAlive } from './exit-cleanup.ts';

const execFileP = promisify(execFile);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const DIR_PREFIX = 'qiao-own-rcluster-';
const NODE_TIMEOUT_MS = 1000;

function which(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return null;
}

/** True when a local cluster can be started; otherwise warns loudly (or throws under QIAO_REQUIRE_SERVICES=1). */
export function gateRedisCluster(suite: string): boolean {
  const missing = ['redis-server', 'redis-cli'].filter((c) => !which(c));
  if (missing.length === 0) return true;
  if (requireServices()) throw new Error(`${suite} needs a local Redis Cluster (QIAO_REQUIRE_SERVICES=1) but these are missing: ${missing.join(', ')}`);
  console.warn(
    [
      '',
      '!'.repeat(78),
      `!!! SKIPPING ${suite}: missing ${missing.join(', ')}`,
      '!!! These tests did NOT run. Install redis-server (≥ 7.0), or set QIAO_REQUIRE_SERVICES=1 to make this a failure.',
      '!'.repeat(78),
      '',
    ].join('\n'),
  );
  return false;
}

export interface ClusterNodeInfo {
  port: number;
  id: string;
  role: 'master' | 'replica';
  /** Master's id (replicas). */
  masterId?: string;
  /** Slot ranges (masters), e.g. [[0, 5460]]. */
  slots: Array<[number, number]>;
  failed: boolean;
}

export interface RedisClusterHandle {
  /** `redis+cluster://127.0.0.1:<m1>,127.0.0.1:<m2>,127.0.0.1:<m3>` (the three initial masters as seeds). */
  readonly url: string;
  /** Client ports of all six nodes. */
  readonly ports: number[];
  /** Ports of nodes that are running. */
  alivePorts(): number[];
  /** CLUSTER NODES as seen by a live node. */
  nodes(): Promise<ClusterNodeInfo[]>;
  /** Ports of the current masters that are not failed. */
  masters(): Promise<number[]>;
  /** Port of the master owning `slot`. */
  masterOfSlot(slot: number): Promise<number>;
  /** SIGKILLs one node and waits for its process to be gone. */
  killNode(port: number): Promise<void>;
  /** Waits until every live node reports cluster_state:ok and no slot is served by a dead node. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Runs one command on one node (plain connection, no redirection). */
  command(port: number, ...args: Array<string | number>): Promise<unknown>;
  /** Sum of used_cpu_sys + used_cpu_user (seconds) over the live nodes. */
  cpuSeconds(): Promise<number>;
  /** Last output lines of a node. */
  log(port: number): string;
  close(): Promise<void>;
}

/** Kills the nodes and removes the directories of runners that no longer exist. */
function cleanupStale(): void {
  let entries: string[];
  try {
    entries = readdirSync(tmpdir());
  } catch {
    return;
  }
  for (const e of entries) {
    const m = new RegExp(`^${DIR_PREFIX}(\\d+)-`).exec(e);
    if (!m) continue;
    const owner = Number(m[1]);
    if (owner === process.pid || pidAlive(owner)) continue;
    const dir = join(tmpdir(), e);
    try {
      const pidsFile = join(dir, 'pids');
      if (existsSync(pidsFile)) {
        for (const line of readFileSync(pidsFile, 'utf8').split('\n')) {
          const [pid, port] = line.trim().split(' ').map(Number);
          if (!pid) continue;
          let cmdline = '';
          try {
            cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
          } catch {
            continue;
          }
          // Only a redis-server this helper started (it retitles itself "redis-server 127.0.0.1:<port> [cluster]").
          if (cmdline.includes('redis-server') && cmdline.includes(`127.0.0.1:${port}`)) process.kill(pid, 'SIGKILL');
        }
      }
      rmSync(dir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  }
}

function parseNodes(text: string, portOf: Map<string, number>): ClusterNodeInfo[] {
  const out: ClusterNodeInfo[] = [];
  for (const line of text.trim().split('\n')) {
    const f = line.trim().split(' ');
    if (f.length < 8) continue;
    const port = Number(/:(\d+)@/.exec(f[1])?.[1] ?? 0);
    portOf.set(f[0], port);
    const flags = f[2].split(',');
    const slots: Array<[number, number]> = [];
    for (const s of f.slice(8)) {
      if (s.startsWith('[')) continue; // migrating/importing
      const [a, b] = s.split('-').map(Number);
      slots.push([a, b ?? a]);
    }
    out.push({
      port,
      id: f[0],
      role: flags.includes('master') ? 'master' : 'replica',
      masterId: f[3] === '-' ? undefined : f[3],
      slots,
      failed: flags.includes('fail') || flags.includes('fail?') || f[7] === 'disconnected',
    });
  }
  return out;
}

/** Starts 3 masters + 3 replicas and creates the cluster. */
export async function startRedisCluster(opts: { replicas?: boolean } = {}): Promise<RedisClusterHandle> {
  installExitHook();
  cleanupStale();
  const exe = which('redis-server');
  const cli = which('redis-cli');
  if (!exe || !cli) throw new Error('redis-server / redis-cli not found');
  const withReplicas = opts.replicas ?? true;
  const count = withReplicas ? 6 : 3;
  const dir = mkdtempSync(join(tmpdir(), `${DIR_PREFIX}${process.pid}-`));
  const ports: number[] = [];
  const busPorts: number[] = [];
  while (ports.length < count * 2) {
    const p = await freePort();
    if (!ports.includes(p) && !busPorts.includes(p)) (ports.length < count ? ports : busPorts).push(p);
    if (busPorts.length === count) break;
  }
  const procs = new Map<number, ChildProcess>();
  const exits = new Map<number, Promise<void>>();
  const logs = new Map<number, string[]>();
  const admins = new Map<number, Redis>();
  const pidLines: string[] = [];

  const killAll = () => {
    for (const p of procs.values()) {
      try {
        p.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
  };
  const exitCleanup = () => {
    killAll();
    rmSync(dir, { recursive: true, force: true });
  };
  liveCleanups.add(exitCleanup);

  const admin = (port: number): Redis => {
    let r = admins.get(port);
    if (!r) {
      r = new Redis({ host: '127.0.0.1', port, lazyConnect: false, maxRetriesPerRequest: 1, retryStrategy: () => null, enableOfflineQueue: true, connectTimeout: 1000 });
      r.on('error', () => {});
      admins.set(port, r);
    }
    return r;
  };
  const dropAdmin = (port: number) => {
    admins.get(port)?.disconnect();
    admins.delete(port);
  };
  const command = async (port: number, ...args: Array<string | number>): Promise<unknown> => {
    try {
      return await admin(port).call(String(args[0]), ...args.slice(1).map(String));
    } catch (e) {
      dropAdmin(port);
      throw e;
    }
  };

  ports.forEach((port, i) => {
    const lines: string[] = [];
    logs.set(port, lines);
    const cp = spawn(
      exe,
      [
        '--port', String(port), '--cluster-port', String(busPorts[i]), '--bind', '127.0.0.1',
        '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`),
        '--cluster-node-timeout', String(NODE_TIMEOUT_MS), '--cluster-replica-validity-factor', '0',
        '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', dir, '--loglevel', 'warning',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    procs.set(port, cp);
    pidLines.push(`${cp.pid} ${port}`);
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (!line) continue;
        lines.push(line);
        if (lines.length > 100) lines.shift();
      }
    };
    cp.stdout?.on('data', keep);
    cp.stderr?.on('data', keep);
    exits.set(
      port,
      new Promise((resolve) =>
        cp.once('exit', (code, signal) => {
          lines.push(`[redis-server exited: code ${code}, signal ${signal}]`);
          procs.delete(port);
          resolve();
        }),
      ),
    );
  });
  writeFileSync(join(dir, 'pids'), pidLines.join('\n'));

  const alivePorts = () => ports.filter((p) => procs.has(p));
  const portOf = new Map<string, number>();
  const nodes = async (): Promise<ClusterNodeInfo[]> => {
    let lastErr: unknown;
    for (const p of alivePorts()) {
      try {
        return parseNodes(String(await command(p, 'CLUSTER', 'NODES')), portOf);
      } catch (e) {
        lastErr = e;
      }
    }
    throw lastErr ?? new Error('no live cluster node');
  };

  const self: RedisClusterHandle = {
    url: `redis+cluster://${ports.slice(0, 3).map((p) => `127.0.0.1:${p}`).join(',')}`,
    ports,
    alivePorts,
    nodes,
    async masters() {
      return (await nodes()).filter((n) => n.role === 'master' && !n.failed && n.slots.length > 0).map((n) => n.port);
    },
    async masterOfSlot(slot: number) {
      const m = (await nodes()).find((n) => n.role === 'master' && !n.failed && n.slots.some(([a, b]) => slot >= a && slot <= b));
      if (!m) throw new Error(`no live master serves slot ${slot}`);
      return m.port;
    },
    async killNode(port: number) {
      const cp = procs.get(port);
      if (!cp) return;
      dropAdmin(port);
      cp.kill('SIGKILL');
      await exits.get(port);
    },
    async waitHealthy(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let why = '';
      while (Date.now() < deadline) {
        try {
          why = await healthProblem();
          if (!why) return;
        } catch (e) {
          why = (e as Error).message;
        }
        await sleep(100);
      }
      throw new Error(`redis cluster not healthy within ${timeoutMs} ms: ${why}\n${alivePorts().map((p) => `--- ${p}\n${self.log(p)}`).join('\n')}`);
    },
    command,
    async cpuSeconds() {
      let sum = 0;
      for (const p of alivePorts()) {
        const info = String(await command(p, 'INFO', 'cpu'));
        sum += Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1] ?? 0) + Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1] ?? 0);
      }
      return sum;
    },
    log(port: number) {
      return (logs.get(port) ?? []).join('\n');
    },
    async close() {
      if (!liveCleanups.has(exitCleanup)) return;
      liveCleanups.delete(exitCleanup);
      for (const p of admins.keys()) dropAdmin(p);
      killAll();
      await Promise.all([...exits.values()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };

  /** Empty string when healthy, else what is wrong. */
  const healthProblem = async (): Promise<string> => {
    const live = alivePorts();
    for (const p of live) {
      const info = String(await command(p, 'CLUSTER', 'INFO'));
      if (!info.includes('cluster_state:ok')) return `node ${p}: ${/cluster_state:\w+/.exec(info)?.[0]}`;
      if (!info.includes('cluster_slots_assigned:16384')) return `node ${p}: not all slots assigned`;
    }
    const list = await nodes();
    for (const n of list) {
      if (n.role === 'master' && n.slots.length > 0 && !live.includes(n.port)) return `slots still on dead master ${n.port}`;
      if (n.role === 'replica' && live.includes(n.port)) {
        const master = list.find((m) => m.id === n.masterId);
        if (master && live.includes(master.port)) {
          const repl = String(await command(n.port, 'INFO', 'replication'));
          if (!repl.includes('master_link_status:up')) return `replica ${n.port}: link to master down`;
        }
      }
    }
    return '';
  };

  try {
    const deadline = Date.now() + 10_000;
    for (const p of ports) {
      while ((await command(p, 'PING').catch(() => null)) !== 'PONG') {
        if (!procs.has(p)) throw new Error(`redis-server ${p} exited during start:\n${self.log(p)}`);
        if (Date.now() > deadline) throw new Error(`redis-server ${p} not answering PING:\n${self.log(p)}`);
        await sleep(50);
      }
    }
    const args = ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', withReplicas ? '1' : '0', '--cluster-yes'];
    try {
      await execFileP(cli, args, { timeout: 60_000 });
    } catch (e) {
      const err = e as Error & { stdout?: string; stderr?: string };
      throw new Error(`redis-cli ${args.join(' ')} failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
    }
    await self.waitHealthy(30_000);
  } catch (e) {
    await self.close();
    throw e;
  }
  return self;
}
