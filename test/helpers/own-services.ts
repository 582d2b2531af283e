/**
 * A private PostgreSQL server and a private Redis server for fault suites: started by the test on
 * free ports of 127.0.0.1, so the test may stop, restart and kill them without touching the shared
 * servers other suites use.
 *
 * PostgreSQL: `initdb` into a temp directory, then `pg_ctl start` / `pg_ctl stop -m fast` (a real server
 * stop: open connections get 57P01 admin_shutdown). Postgres refuses to run as root, so when this process
 * is root the binaries run as the `postgres` OS user (`runuser -u postgres --`), and the temp directory
 * is chowned to it. Durability is switched off (fsync, synchronous_commit, full_page_writes): these
 * servers only need to survive a clean stop, not a power cut.
 *
 * Redis: `redis-server` as a child process with persistence off; `restart` = kill + start again on the
 * same port, so the data is lost — the realistic fault with that configuration.
 *
 * Cleanup: `close()` stops the server and removes its temp directory; a process 'exit' hook does the
 * same for anything still running. Temp directories are named after the runner's pid, so a later run
 * removes what a crashed runner left behind (stopping its postmaster / redis-server first).
 *
 * Gate: `gateOwnServices()` follows the convention of services.ts — when `initdb`/`pg_ctl` or
 * `redis-server` are missing it warns loudly and returns false (the suite skips), unless
 * QIAO_REQUIRE_SERVICES=1, in which case it throws.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './process.ts';
import { redisAvailable, requireServices } from './services.ts';
import { installExitHook, liveCleanups, pidAlive } from './exit-cleanup.ts';

const execFileP = promisify(execFile);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const PG_DIR_PREFIX = 'qiao-own-pg-';
const REDIS_DIR_PREFIX = 'qiao-own-redis-';

// ---------------------------------------------------------------------------------------------------
// Binaries

/** The newest `/usr/lib/postgresql/<version>/bin` holding initdb and pg_ctl (or QIAO_TEST_PG_BINDIR). */
export function postgresBinDir(): string | null {
  const override = process.env.QIAO_TEST_PG_BINDIR;
  if (override) return existsSync(join(override, 'initdb')) && existsSync(join(override, 'pg_ctl')) ? override : null;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => /^\d+(\.\d+)?$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const bin = join(root, v, 'bin');
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl'))) return bin;
  }
  return null;
}

function which(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return null;
}

const isRoot = () => process.getuid?.() === 0;

/** What is missing to run private services (empty when everything is there). */
export function ownServicesMissing(): string[] {
  const missing: string[] = [];
  if (!postgresBinDir()) missing.push('PostgreSQL server binaries (initdb, pg_ctl under /usr/lib/postgresql/<version>/bin)');
  if (!which('redis-server')) missing.push('redis-server');
  if (isRoot() && !which('runuser')) missing.push('runuser (needed to run postgres as a non-root user)');
  if (isRoot()) {
    try {
      execFileSync('id', ['-u', 'postgres'], { stdio: 'pipe' });
    } catch {
      missing.push('the "postgres" OS user (postgres refuses to run as root)');
    }
  }
  return missing;
}

/** True when private services can be started; otherwise warns loudly (or throws under QIAO_REQUIRE_SERVICES=1). */
export function gateOwnServices(suite: string): boolean {
  const missing = ownServicesMissing();
  if (missing.length === 0) return true;
  if (requireServices()) {
    throw new Error(`${suite} needs its own PostgreSQL and Redis servers (QIAO_REQUIRE_SERVICES=1) but these are missing: ${missing.join('; ')}`);
  }
  console.warn(
    [
      '',
      '!'.repeat(78),
      `!!! SKIPPING ${suite}: missing ${missing.join('; ')}`,
      '!!! These tests did NOT run. Install PostgreSQL server and redis-server, or set QIAO_REQUIRE_SERVICES=1 to make this a failure.',
      '!'.repeat(78),
      '',
    ].join('\n'),
  );
  return false;
}

// ---------------------------------------------------------------------------------------------------
// Cleanup on exit and of stale runs

/** Runs a Postgres binary (as the postgres user when we are root). */
function pgArgv(bin: string, args: string[]): [string, string[]] {
  return isRoot() ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
}

/** Removes what runners that no longer exist left in the temp directory (stopping their servers first). */
function cleanupStale(): void {
  let entries: string[];
  try {
    entries = readdirSync(tmpdir());
  } catch {
    return;
  }
  for (const e of entries) {
    const m = new RegExp(`^(${PG_DIR_PREFIX}|${REDIS_DIR_PREFIX})(\\d+)-`).exec(e);
    if (!m) continue;
    const ownerPid = Number(m[2]);
    if (ownerPid === process.pid || pidAlive(ownerPid)) continue;
    const dir = join(tmpdir(), e);
    try {
      if (m[1] === PG_DIR_PREFIX) {
        const bin = postgresBinDir();
        if (bin && existsSync(join(dir, 'data', 'postmaster.pid'))) {
          const [cmd, args] = pgArgv(join(bin, 'pg_ctl'), ['-D', join(dir, 'data'), '-m', 'immediate', '-w', '-t', '10', 'stop']);
          try {
            execFileSync(cmd, args, { stdio: 'pipe' });
          } catch {
            /* not running */
          }
        }
      } else {
        const pidFile = join(dir, 'redis.pid');
        if (existsSync(pidFile)) {
          const [pid, port] = readFileSync(pidFile, 'utf8').trim().split(' ').map(Number);
          // Only the redis-server this helper started (redis retitles itself "redis-server 127.0.0.1:<port>").
          let cmdline = '';
          try {
            cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
          } catch {
            /* gone */
          }
          if (pid > 0 && cmdline.includes('redis-server') && cmdline.includes(`127.0.0.1:${port}`)) process.kill(pid, 'SIGKILL');
        }
      }
      rmSync(dir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// PostgreSQL

export interface OwnPostgres {
  readonly port: number;
  /** postgres://postgres@127.0.0.1:<port>/postgres (trust auth). */
  readonly adminUrl: string;
  readonly dir: string;
  readonly running: boolean;
  /** URL of database `name` on this server. */
  url(name: string): string;
  /** `pg_ctl stop -m fast` (or `immediate`): the server goes away; connections get 57P01. */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** `pg_ctl start` again on the same port and data directory. */
  start(): Promise<void>;
  /** The server log (last `maxChars` characters), for failure messages. */
  log(maxChars?: number): string;
  /** Stops (immediate) and removes the data directory. Safe to call twice. */
  close(): Promise<void>;
}

/** initdb + pg_ctl start on a free port of 127.0.0.1. */
export async function startOwnPostgres(opts: { extraSettings?: Record<string, string> } = {}): Promise<OwnPostgres> {
  installExitHook();
  cleanupStale();
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL server binaries not found');
  const dir = mkdtempSync(join(tmpdir(), `${PG_DIR_PREFIX}${process.pid}-`));
  const dataDir = join(dir, 'data');
  const sockDir = join(dir, 'sock');
  const logFile = join(dir, 'postgres.log');
  mkdirSync(sockDir);
  writeFileSync(logFile, '');
  if (isRoot()) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    for (const p of [dir, sockDir, logFile]) chownSync(p, uid, gid);
  }
  const run = async (name: string, args: string[], timeoutMs: number) => {
    const [cmd, argv] = pgArgv(join(bin, name), args);
    try {
      return await execFileP(cmd, argv, { timeout: timeoutMs });
    } catch (e) {
      const err = e as Error & { stdout?: string; stderr?: string };
      throw new Error(`${name} ${args.join(' ')} failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}\n--- server log ---\n${tail(logFile, 4000)}`);
    }
  };

  await run('initdb', ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-locale', '--no-sync'], 120_000);
  const port = await freePort();
  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    ...opts.extraSettings,
  };
  const serverOpts = [`-p ${port}`, `-k ${sockDir}`, ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)].join(' ');
  let running = false;

  const immediateStopSync = () => {
    const [cmd, argv] = pgArgv(join(bin, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', '-w', '-t', '10', 'stop']);
    try {
      execFileSync(cmd, argv, { stdio: 'pipe' });
    } catch {
      /* not running */
    }
  };
  const exitCleanup = () => {
    immediateStopSync();
    rmSync(dir, { recursive: true, force: true });
  };
  liveCleanups.add(exitCleanup);

  const self: OwnPostgres = {
    port,
    adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dir,
    get running() {
      return running;
    },
    url(name: string) {
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    async start() {
      await run('pg_ctl', ['-D', dataDir, '-l', logFile, '-o', serverOpts, '-w', '-t', '30', 'start'], 40_000);
      running = true;
    },
    async stop(mode = 'fast') {
      await run('pg_ctl', ['-D', dataDir, '-m', mode, '-w', '-t', '30', 'stop'], 40_000);
      running = false;
    },
    log(maxChars = 4000) {
      return tail(logFile, maxChars);
    },
    async close() {
      if (!liveCleanups.has(exitCleanup)) return;
      liveCleanups.delete(exitCleanup);
      if (running) await self.stop('immediate').catch(() => immediateStopSync());
      running = false;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await self.start();
  } catch (e) {
    await self.close();
    throw e;
  }
  return self;
}

function tail(file: string, maxChars: number): string {
  try {
    const s = readFileSync(file, 'utf8');
    return s.length > maxChars ? s.slice(-maxChars) : s;
  } catch {
    return '';
  }
}

// ---------------------------------------------------------------------------------------------------
// Redis

export interface OwnRedis {
  readonly port: number;
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  readonly running: boolean;
  /** Kills the server (SIGKILL by default: no goodbye to clients) and waits for it to be gone. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port (empty: nothing was saved). */
  start(): Promise<void>;
  /** stop, wait `downMs`, start. */
  restart(downMs?: number, signal?: NodeJS.Signals): Promise<void>;
  /** The server's last output lines. */
  log(): string;
  /** Stops and removes its directory. Safe to call twice. */
  close(): Promise<void>;
}

/** `redis-server` (no persistence) on a free port of 127.0.0.1, as a child process. */
export async function startOwnRedis(): Promise<OwnRedis> {
  installExitHook();
  cleanupStale();
  const exe = which('redis-server');
  if (!exe) throw new Error('redis-server not found');
  const dir = mkdtempSync(join(tmpdir(), `${REDIS_DIR_PREFIX}${process.pid}-`));
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const lines: string[] = [];
  let proc: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();

  const exitCleanup = () => {
    try {
      proc?.kill('SIGKILL');
    } catch {
      /* gone */
    }
    rmSync(dir, { recursive: true, force: true });
  };
  liveCleanups.add(exitCleanup);

  const self: OwnRedis = {
    port,
    url,
    get running() {
      return proc !== null;
    },
    async start() {
      if (proc) return;
      const cp = spawn(
        exe,
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', dir, '--loglevel', 'warning'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      proc = cp;
      const keep = (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n')) {
          if (!line) continue;
          lines.push(line);
          if (lines.length > 100) lines.shift();
        }
      };
      cp.stdout?.on('data', keep);
      cp.stderr?.on('data', keep);
      exited = new Promise((resolve) =>
        cp.once('exit', (code, signal) => {
          lines.push(`[redis-server exited: code ${code}, signal ${signal}]`);
          if (proc === cp) proc = null;
          resolve();
        }),
      );
      writeFileSync(join(dir, 'redis.pid'), `${cp.pid} ${port}`);
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        if (proc !== cp) throw new Error(`redis-server on port ${port} exited during start:\n${lines.join('\n')}`);
        if (await redisAvailable(url)) return;
        await sleep(50);
      }
      throw new Error(`redis-server on port ${port} not answering PING within 10 s:\n${lines.join('\n')}`);
    },
    async stop(signal = 'SIGKILL') {
      const cp = proc;
      if (!cp) return;
      cp.kill(signal);
      await exited;
    },
    async restart(downMs = 0, signal: NodeJS.Signals = 'SIGKILL') {
      await self.stop(signal);
      if (downMs > 0) await sleep(downMs);
      await self.start();
    },
    log() {
      return lines.join('\n');
    },
    async close() {
      if (!liveCleanups.has(exitCleanup)) return;
      liveCleanups.delete(exitCleanup);
      await self.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await self.start();
  } catch (e) {
    await self.close();
    throw e;
  }
  return self;
}
