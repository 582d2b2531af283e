/**
 * Multi-process helpers for end-to-end suites: a throw-away Postgres database and Redis prefix per run,
 * hub nodes started as real child processes (`node --import tsx src/main.ts start`), and a minimal
 * test client for the socket protocol (raw WebSocket or socket.io) that behaves like a real client:
 * it tracks the last offset per channel, resubscribes with `since` after every reconnect (rotating
 * through the node URLs it was given), follows `reconnect` pushes, and drops duplicates by id.
 *
 * Everything binds to 127.0.0.1. Every child is also SIGKILLed when the test process exits, and each
 * child exits by itself when its stdin pipe (held by the test process) closes, so none outlives a
 * crashed runner.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { io as ioConnect, type Socket as IoSocket } from 'socket.io-client';
import WebSocket from 'ws';
import type { GapPush, MsgPush, Reply, SubscribeResult } from '../../src/gateway/protocol.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const PG_ADMIN_URL = process.env.QIAO_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.QIAO_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const DEMO_PASSWORD = 'qiao-demo-2026';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------
// Ports, database, Redis prefix

/** A TCP port that was free a moment ago on 127.0.0.1 (listen on 0, read it, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** CREATE DATABASE qiao_e2e_<random> on the admin server; `drop()` removes it WITH (FORCE). */
export async function createTestDatabase(adminUrl = PG_ADMIN_URL): Promise<TestDatabase> {
  const name = `qiao_e2e_${randomBytes(6).toString('hex')}`;
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
    c.on('error', () => {});
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end().catch(() => {});
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const u = new URL(adminUrl);
  u.pathname = '/' + name;
  let dropped = false;
  return {
    name,
    url: u.toString(),
    async drop() {
      if (dropped) return;
      dropped = true;
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/** A Redis key prefix unique to this run (matches QIAO_REDIS_PREFIX's grammar). */
export function uniqueRedisPrefix(tag = 'e2e'): string {
  return `qiao-${tag}-${randomBytes(5).toString('hex')}:`;
}

/** Deletes every key under `prefix`; returns how many. */
export async function deleteRedisPrefix(prefix: string, url = REDIS_URL): Promise<number> {
  if (!/^[A-Za-z0-9:_-]{4,64}$/.test(prefix)) throw new Error(`refusing to delete keys under prefix "${prefix}"`);
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  r.on('error', () => {});
  let n = 0;
  try {
    await r.connect();
    let cursor = '0';
    for (let i = 0; i < 10_000; i++) {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length) n += await r.del(...keys);
      cursor = next;
      if (cursor === '0') break;
    }
  } finally {
    r.disconnect();
  }
  return n;
}

// ---------------------------------------------------------------------------------------------------
// Hub node processes

export interface HubNodeOptions {
  /** Node id (QIAO_NODE_ID) and log tag. */
  name: string;
  databaseUrl: string;
  redisUrl?: string;
  redisPrefix: string;
  /** Same on every node, so a token from one node is accepted by the others. */
  jwtSecret: string;
  /** Extra QIAO_* / standard variables (e.g. QIAO_SEED_DEMO=false, QIAO_DRAIN_TIMEOUT_MS). */
  env?: Record<string, string>;
  readyTimeoutMs?: number;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const children = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const cp of children) {
      try {
        cp.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
  });
}

/** Preload: exit when the parent (holding our stdin pipe) goes away, even if it was SIGKILLed. */
export const EXIT_WITH_PARENT =
  'data:text/javascript,' +
  encodeURIComponent(
    'if(!process.stdin.isTTY){const b=()=>process.exit(0);process.stdin.on("end",b);process.stdin.on("close",b);process.stdin.on("error",b);process.stdin.resume();process.stdin.unref?.();}',
  );

/** One hub process. */
export class HubNode {
  readonly exited: Promise<ExitInfo>;
  private exitInfo: ExitInfo | null = null;
  private readonly log: string[] = [];

  constructor(
    readonly name: string,
    readonly port: number,
    readonly proc: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        children.delete(proc);
        resolve(this.exitInfo);
      });
    });
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (!line) continue;
        this.log.push(line);
        if (this.log.length > 300) this.log.shift();
      }
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  get running(): boolean {
    return this.exitInfo === null;
  }

  /** The last lines the process printed (stdout and stderr), for failure messages. */
  output(): string {
    return this.log.join('\n');
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.running) this.proc.kill(signal);
  }

  /** Resolves with the exit code/signal, or rejects after `timeoutMs`. */
  async waitExit(timeoutMs: number): Promise<ExitInfo> {
    let t: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.exited,
        new Promise<never>((_, rej) => {
          t = setTimeout(() => rej(new Error(`${this.name} did not exit within ${timeoutMs} ms\n${this.output()}`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(t);
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. Safe to call twice. */
  async stop(graceMs = 3000): Promise<void> {
    if (!this.running) return;
    this.kill('SIGTERM');
    try {
      await this.waitExit(graceMs);
    } catch {
      this.kill('SIGKILL');
      await this.waitExit(5000).catch(() => {});
    }
    this.proc.stdin?.destroy();
  }

  async health(): Promise<{ status: number; body: ReadyBody }> {
    const res = await fetch(`${this.url}/health/ready`, { signal: AbortSignal.timeout(3000) });
    return { status: res.status, body: (await res.json()) as ReadyBody };
  }
}

export interface ReadyBody {
  status: string;
  node: string;
  mode: string;
  checks: { postgres: { ok: boolean; kind: string }; redis: { ok: boolean; kind: string } };
}

/** Environment for a child: the parent's, minus every variable the hub config reads, plus ours. */
export function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^QIAO_/.test(k) || ['DATABASE_URL', 'REDIS_URL', 'PORT', 'HOST', 'NODE_ENV', 'NODE_OPTIONS'].includes(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/**
 * Starts `node --import tsx src/main.ts start` on a free port and resolves once `/health/ready` is 200.
 * Rejects (after killing the child) when it exits early or is not ready in time.
 */
export async function startHubNode(opts: HubNodeOptions): Promise<HubNode> {
  installExitHook();
  const port = await freePort();
  const env = childEnv({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATABASE_URL: opts.databaseUrl,
    REDIS_URL: opts.redisUrl ?? REDIS_URL,
    QIAO_REDIS_PREFIX: opts.redisPrefix,
    QIAO_JWT_SECRET: opts.jwtSecret,
    QIAO_NODE_ID: opts.name,
    QIAO_LOG_LEVEL: 'warn',
    QIAO_PG_POOL_SIZE: '5',
    // Spawned hubs and workers: admin and compliance log in with the password only (TOTP suites set their own).
    QIAO_TOTP_REQUIRED_ROLES: '',
    // Load and fault suites publish from one user and one address far faster than a person would.
    QIAO_HTTP_RATE_LIMIT_MAX: '100000000',
    QIAO_LOGIN_RATE_MAX: '1000000',
    QIAO_LOGIN_MAX_FAILURES_PER_ADDRESS: '1000000',
    ...opts.env,
  });
  const proc = spawn(process.execPath, ['--import', 'tsx', '--import', EXIT_WITH_PARENT, 'src/main.ts', 'start'], {
    cwd: REPO_ROOT,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.add(proc);
  const node = new HubNode(opts.name, port, proc);
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  let lastErr = '';
  while (Date.now() < deadline) {
    if (!node.running) {
      const info = await node.exited;
      throw new Error(`${opts.name} exited during start (code ${info.code}, signal ${info.signal}):\n${node.output()}`);
    }
    try {
      const { status, body } = await node.health();
      if (status === 200) return node;
      lastErr = `HTTP ${status} ${JSON.stringify(body)}`;
    } catch (e) {
      lastErr = (e as Error).message;
    }
    await sleep(100);
  }
  await node.stop(1000);
  throw new Error(`${opts.name} not ready on port ${port} within the timeout (last: ${lastErr}):\n${node.output()}`);
}

// ---------------------------------------------------------------------------------------------------
// REST helpers

export async function login(baseUrl: string, user: string, password = DEMO_PASSWORD): Promise<string> {
  const res = await fetch(`${baseUrl}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ login: user, password }),
    signal: AbortSignal.timeout(10_000),
  });
  if (res.status !== 200) throw new Error(`login ${user} at ${baseUrl}: HTTP ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

export interface Published {
  channel: string;
  id: string;
  offset: number;
}

/** POSTs one research note; throws on any status other than 201. */
export async function publishNote(baseUrl: string, token: string, channel: string, n: number): Promise<Published> {
  const res = await fetch(`${baseUrl}/api/channels/${encodeURIComponent(channel)}/publications`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ kind: 'note', payload: { title: `e2e note ${n}`, riskLevel: 'R2', summary: `n=${n}` } }),
    signal: AbortSignal.timeout(10_000),
  });
  if (res.status !== 201) throw new Error(`publish #${n} to ${channel} at ${baseUrl}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as Published;
}

/**
 * Publishes notes 1..count with at most `concurrency` requests in flight, optionally paced to about
 * `ratePerS` starts per second. Returns the results in completion order.
 */
export async function publishMany(
  baseUrl: string,
  token: string,
  channel: string,
  count: number,
  opts: { concurrency?: number; ratePerS?: number; firstN?: number; onPublished?: (p: Published, done: number) => void } = {},
): Promise<Published[]> {
  const concurrency = opts.concurrency ?? 10;
  const interval = opts.ratePerS ? 1000 / opts.ratePerS : 0;
  const first = opts.firstN ?? 1;
  const out: Published[] = [];
  const t0 = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      if (interval) {
        const due = t0 + i * interval;
        const wait = due - Date.now();
        if (wait > 0) await sleep(wait);
      }
      const p = await publishNote(baseUrl, token, channel, first + i);
      out.push(p);
      opts.onPublished?.(p, out.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Test client (raw WebSocket or socket.io)

export type ClientEvent =
  | { type: 'open'; url: string; node: string; at: number }
  | { type: 'close'; url: string; code: number; reason: string; at: number }
  | { type: 'reconnect-push'; url: string; afterMs: number; reason: string; at: number }
  | { type: 'connect-failed'; url: string; error: string; at: number }
  | { type: 'subscribed'; url: string; channel: string; since: number | undefined; result: SubscribeResult; at: number };

export interface TestClientOptions {
  name: string;
  token: string;
  /** Node base URLs (http://127.0.0.1:port). The client starts on urls[0] and rotates on reconnect. */
  urls: string[];
  transport?: 'ws' | 'socketio';
  /** Delay before the first reconnect attempt after an unexpected close (ms). */
  reconnectDelayMs?: number;
  /** Give up reconnecting after this many failed attempts in a row. */
  maxReconnectAttempts?: number;
  /** Called with every `msg` push as received, before the duplicate check (what the server actually sent). */
  onRawMsg?: (m: MsgPush, url: string) => void;
}

interface Conn {
  url: string;
  send(cmd: Record<string, unknown> & { id: number }): Promise<Reply>;
  close(): void;
}

/**
 * A deliberately small client that does what a real one must: per channel, it remembers the last
 * offset it accepted and, on every (re)connect, resubscribes with `since` = that offset; it drops a
 * message whose id it already has (or whose offset is not above the last one) and counts it; an
 * offset jump is recorded as a gap. `msgs(channel)` is the accepted sequence.
 */
export class TestClient {
  readonly transport: 'ws' | 'socketio';
  readonly events: ClientEvent[] = [];
  readonly gapPushes: GapPush[] = [];
  readonly gaps: Array<{ channel: string; after: number; got: number }> = [];
  /** Messages dropped as duplicates (same id, or offset not above the last accepted). */
  duplicates = 0;
  /** The first few duplicates: offset, last accepted offset then, and the node URL it came from. */
  readonly duplicateLog: Array<{ offset: number; last: number; url: string; at: number }> = [];
  readonly errors: string[] = [];
  private readonly accepted = new Map<string, MsgPush[]>();
  private readonly last = new Map<string, number>();
  private readonly seenIds = new Set<string>();
  private readonly wanted = new Set<string>();
  private conn: Conn | null = null;
  private urlIndex = 0;
  private nextId = 1;
  private userClosed = true;
  private reconnecting: Promise<void> | null = null;
  private drainHint: { afterMs: number } | null = null;
  private listeners = new Set<() => void>();

  constructor(private readonly o: TestClientOptions) {
    this.transport = o.transport ?? 'ws';
  }

  get connectedUrl(): string | null {
    return this.conn?.url ?? null;
  }

  msgs(channel: string): MsgPush[] {
    return this.accepted.get(channel) ?? [];
  }

  lastOffset(channel: string): number | undefined {
    return this.last.get(channel);
  }

  /** Connects (to `url`, or to the current URL of the rotation) and resubscribes everything wanted. */
  async connect(url?: string): Promise<void> {
    if (url) {
      const i = this.o.urls.indexOf(url);
      if (i < 0) this.o.urls.push(url);
      this.urlIndex = i < 0 ? this.o.urls.length - 1 : i;
    }
    this.userClosed = false;
    await this.open(this.o.urls[this.urlIndex]);
  }

  /** Subscribes (fresh: no `since` unless an offset is known) and remembers the channel for reconnects. */
  async subscribe(channel: string): Promise<SubscribeResult> {
    this.wanted.add(channel);
    return this.subscribeOn(this.requireConn(), channel);
  }

  /** Closes on purpose: no automatic reconnect until `connect` is called again. */
  async disconnect(): Promise<void> {
    this.userClosed = true;
    const c = this.conn;
    this.conn = null;
    if (c) c.close();
    await sleep(20);
  }

  /** Resolves once `pred()` holds (checked on every message/event), or rejects after `timeoutMs`. */
  async waitFor(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (pred()) return;
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!pred()) return;
        clearTimeout(t);
        this.listeners.delete(check);
        resolve();
      };
      const t = setTimeout(() => {
        this.listeners.delete(check);
        reject(new Error(`${this.o.name}: timed out after ${timeoutMs} ms waiting for ${what}\n${this.describe()}`));
      }, timeoutMs);
      this.listeners.add(check);
    });
  }

  waitForOffset(channel: string, offset: number, timeoutMs: number): Promise<void> {
    return this.waitFor(() => (this.last.get(channel) ?? 0) >= offset, timeoutMs, `${channel} offset ${offset}`);
  }

  describe(): string {
    const chans = [...this.wanted].map((c) => `${c}: ${this.msgs(c).length} msgs, last ${this.last.get(c)}`).join('; ');
    const ev = this.events
      .map((e) => JSON.stringify(e))
      .slice(-12)
      .join('\n  ');
    return `[${this.o.name}/${this.transport}] ${chans}; dups ${this.duplicates} ${JSON.stringify(this.duplicateLog.slice(0, 5))}; gaps ${JSON.stringify(this.gaps.slice(0, 5))}; errors ${this.errors.slice(-5).join(' | ')}\n  ${ev}`;
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }

  private record(e: ClientEvent): void {
    this.events.push(e);
    this.notify();
  }

  private requireConn(): Conn {
    if (!this.conn) throw new Error(`${this.o.name}: not connected`);
    return this.conn;
  }

  private async subscribeOn(c: Conn, channel: string): Promise<SubscribeResult> {
    const since = this.last.get(channel);
    const cmd: Record<string, unknown> & { id: number } = { op: 'subscribe', id: this.nextId++, channel };
    if (since !== undefined) cmd.since = since;
    const reply = await c.send(cmd);
    if (!reply.ok) throw new Error(`${this.o.name}: subscribe ${channel} refused: ${reply.error.code} ${reply.error.message}`);
    const result = reply.result as SubscribeResult;
    // A fresh subscription starts "now": everything up to topOffset is not expected.
    if (since === undefined && !this.last.has(channel)) this.last.set(channel, result.topOffset);
    this.record({ type: 'subscribed', url: c.url, channel, since, result, at: Date.now() });
    return result;
  }

  private onMsg(c: Conn, m: MsgPush): void {
    this.o.onRawMsg?.(m, c.url);
    const last = this.last.get(m.channel) ?? 0;
    if (this.seenIds.has(m.id) || m.offset <= last) {
      this.duplicates++;
      if (this.duplicateLog.length < 20) this.duplicateLog.push({ offset: m.offset, last, url: c.url, at: Date.now() });
      return;
    }
    if (m.offset !== last + 1) this.gaps.push({ channel: m.channel, after: last, got: m.offset });
    this.seenIds.add(m.id);
    this.last.set(m.channel, m.offset);
    let list = this.accepted.get(m.channel);
    if (!list) this.accepted.set(m.channel, (list = []));
    list.push(m);
    this.notify();
  }

  /** Handles a server push other than the welcome and replies. */
  private onPush(c: Conn, p: { t: string } & Record<string, unknown>): void {
    switch (p.t) {
      case 'msg':
        return this.onMsg(c, p as unknown as MsgPush);
      case 'gap':
        this.gapPushes.push(p as unknown as GapPush);
        this.notify();
        return;
      case 'reconnect': {
        // The node is draining: it will close us; reconnect elsewhere `afterMs` after that close.
        // Should the close not come, leave on our own a little later.
        const afterMs = Number(p.afterMs) || 0;
        this.drainHint = { afterMs };
        this.record({ type: 'reconnect-push', url: c.url, afterMs, reason: String(p.reason), at: Date.now() });
        setTimeout(() => {
          if (this.conn !== c || this.userClosed) return;
          this.errors.push('draining node did not close us; leaving');
          this.conn = null;
          c.close();
          this.reconnecting ??= this.reconnectLoop(0).finally(() => {
            this.reconnecting = null;
          });
        }, afterMs + 3000).unref();
        return;
      }
      default:
        return;
    }
  }

  private onClosed(c: Conn, code: number, reason: string): void {
    this.record({ type: 'close', url: c.url, code, reason, at: Date.now() });
    if (this.conn !== c) return; // closed on purpose, or superseded
    this.conn = null;
    if (this.userClosed) return;
    const delay = this.drainHint ? this.drainHint.afterMs : (this.o.reconnectDelayMs ?? 50);
    this.drainHint = null;
    this.reconnecting ??= this.reconnectLoop(delay).finally(() => {
      this.reconnecting = null;
    });
  }

  /** Rotates through the URLs (next one first) until a connection and all resubscriptions succeed. */
  private async reconnectLoop(firstDelay: number): Promise<void> {
    await sleep(firstDelay);
    const max = this.o.maxReconnectAttempts ?? 100;
    for (let attempt = 0; attempt < max && !this.userClosed; attempt++) {
      this.urlIndex = (this.urlIndex + 1) % this.o.urls.length;
      try {
        await this.open(this.o.urls[this.urlIndex]);
        return;
      } catch (e) {
        this.errors.push(`reconnect: ${(e as Error).message}`);
        await sleep(Math.min(500, 50 * (attempt + 1)));
      }
    }
    this.errors.push('gave up reconnecting');
  }

  /** Opens a connection, waits for the welcome, resubscribes every wanted channel with `since`. */
  private async open(url: string): Promise<void> {
    const c = this.transport === 'ws' ? await this.openWs(url) : await this.openSio(url);
    this.conn = c;
    try {
      for (const ch of this.wanted) await this.subscribeOn(c, ch);
    } catch (e) {
      if (this.conn === c) this.conn = null;
      c.close();
      throw e;
    }
  }

  private openWs(url: string): Promise<Conn> {
    const wsUrl = url.replace(/^http/, 'ws') + `/ws?token=${encodeURIComponent(this.o.token)}`;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(wsUrl, { handshakeTimeout: 3000 });
      const pending = new Map<number, (r: Reply) => void>();
      let welcomed = false;
      const conn: Conn = {
        url,
        send: (cmd) =>
          new Promise<Reply>((res, rej) => {
            if (ws.readyState !== WebSocket.OPEN) return rej(new Error('socket not open'));
            const t = setTimeout(() => {
              pending.delete(cmd.id);
              rej(new Error(`no reply to ${String(cmd.op)} within 10 s`));
            }, 10_000);
            pending.set(cmd.id, (r) => {
              clearTimeout(t);
              res(r);
            });
            ws.send(JSON.stringify(cmd));
          }),
        close: () => ws.close(1000, 'client closing'),
      };
      ws.on('message', (data) => {
        for (const line of data.toString().split('\n')) {
          if (!line) continue;
          let f: { t: string } & Record<string, unknown>;
          try {
            f = JSON.parse(line);
          } catch {
            this.errors.push(`unparsable frame: ${line.slice(0, 80)}`);
            continue;
          }
          if (f.t === 'reply') {
            const cb = pending.get(f.re as number);
            pending.delete(f.re as number);
            cb?.(f as unknown as Reply);
          } else if (f.t === 'welcome') {
            welcomed = true;
            this.record({ type: 'open', url, node: String(f.node), at: Date.now() });
            resolve(conn);
          } else this.onPush(conn, f);
        }
      });
      ws.on('error', (err) => {
        if (!welcomed) {
          this.record({ type: 'connect-failed', url, error: err.message, at: Date.now() });
          reject(err);
        }
      });
      ws.on('close', (code, reason) => {
        for (const cb of pending.values()) cb({ t: 'reply', re: 0, ok: false, error: { code: 'QIAO_UNAVAILABLE', message: 'connection closed' } });
        pending.clear();
        if (!welcomed) {
          reject(new Error(`closed before welcome: ${code} ${reason.toString()}`));
          return;
        }
        this.onClosed(conn, code, reason.toString());
      });
    });
  }

  private openSio(url: string): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const socket: IoSocket = ioConnect(url, {
        path: '/socket.io/',
        transports: ['websocket'],
        auth: { token: this.o.token },
        reconnection: false,
        forceNew: true,
        timeout: 3000,
      });
      let welcomed = false;
      let closing: { code: number; reason: string } | null = null;
      const conn: Conn = {
        url,
        send: (cmd) =>
          new Promise<Reply>((res, rej) => {
            if (!socket.connected) return rej(new Error('socket not connected'));
            socket.timeout(10_000).emit('cmd', cmd, (err: Error | null, r: Reply) => (err ? rej(err) : res(r)));
          }),
        close: () => socket.disconnect(),
      };
      socket.on('connect_error', (err) => {
        this.record({ type: 'connect-failed', url, error: err.message, at: Date.now() });
        socket.close();
        reject(err);
      });
      socket.on('push', (p: unknown) => {
        for (const f of (Array.isArray(p) ? p : [p]) as Array<{ t: string } & Record<string, unknown>>) {
          if (f.t === 'welcome') {
            welcomed = true;
            this.record({ type: 'open', url, node: String(f.node), at: Date.now() });
            resolve(conn);
          } else this.onPush(conn, f);
        }
      });
      socket.on('closing', (c: { code: number; reason: string }) => {
        closing = c;
      });
      socket.on('disconnect', (reason) => {
        if (!welcomed) {
          reject(new Error(`disconnected before welcome: ${reason}`));
          return;
        }
        this.onClosed(conn, closing?.code ?? 1006, closing?.reason ?? String(reason));
      });
    });
  }
}

/** Asserts-friendly summary of one accepted sequence: offsets contiguous from `from`, ids unique. */
export function sequenceReport(msgs: MsgPush[], from = 1): { count: number; contiguous: boolean; uniqueIds: boolean; first?: number; last?: number } {
  let contiguous = true;
  for (let i = 0; i < msgs.length; i++) if (msgs[i].offset !== from + i) contiguous = false;
  return {
    count: msgs.length,
    contiguous,
    uniqueIds: new Set(msgs.map((m) => m.id)).size === msgs.length,
    first: msgs[0]?.offset,
    last: msgs[msgs.length - 1]?.offset,
  };
}

// ---------------------------------------------------------------------------------------------------
// A TCP load balancer in front of the nodes (what clients with one URL reconnect through)

/**
 * A minimal TCP balancer on 127.0.0.1: each new connection goes to the first enabled backend (in the
 * given preference order) that accepts a TCP connection. Established connections are spliced byte for
 * byte, so when a backend dies its clients see the drop and reconnect through the balancer to the next
 * backend. `disable(port)` is the "deregister before SIGTERM" step an orchestrator would do.
 */
export class TcpBalancer {
  private readonly disabled = new Set<number>();
  private readonly sockets = new Set<net.Socket>();
  /** Which backend port each accepted connection went to, in order (for assertions and debugging). */
  readonly routed: number[] = [];

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
    private backends: number[],
  ) {}

  static async start(backends: number[]): Promise<TcpBalancer> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const lb = new TcpBalancer(server, (server.address() as net.AddressInfo).port, backends);
    server.on('connection', (c) => void lb.route(c));
    return lb;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  setBackends(ports: number[]): void {
    this.backends = [...ports];
  }

  disable(port: number): void {
    this.disabled.add(port);
  }

  enable(port: number): void {
    this.disabled.delete(port);
  }

  private track(s: net.Socket): void {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
  }

  private async route(client: net.Socket): Promise<void> {
    this.track(client);
    client.on('error', () => client.destroy());
    for (const port of this.backends) {
      if (this.disabled.has(port) || client.destroyed) continue;
      const up = await new Promise<net.Socket | null>((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port });
        const t = setTimeout(() => {
          s.destroy();
          resolve(null);
        }, 1000);
        s.once('connect', () => {
          clearTimeout(t);
          resolve(s);
        });
        s.once('error', () => {
          clearTimeout(t);
          s.destroy();
          resolve(null);
        });
      });
      if (!up) continue;
      if (client.destroyed) {
        up.destroy();
        return;
      }
      this.track(up);
      this.routed.push(port);
      up.on('error', () => up.destroy());
      up.once('close', () => client.destroy());
      client.once('close', () => up.destroy());
      client.pipe(up);
      up.pipe(client);
      return;
    }
    client.destroy();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** Polls `fn` every 50 ms until it returns something truthy; on timeout throws, with `out()` (a process's output) if given. */
export async function until<T>(fn: () => Promise<T | undefined | false | null>, what: string, timeoutMs: number, out?: () => string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as T;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${out ? `\n--- worker output ---\n${out()}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

