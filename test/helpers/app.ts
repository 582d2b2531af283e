/**
 * Test hubs and test clients.
 *
 * - `startEmbeddedApp(overrides)`: PGlite in memory + in-process bus, listening on 127.0.0.1:0.
 * - `startServicesApp(overrides)`: a fresh Postgres database (`qiao_t_<random>`) and a unique Redis key
 *   prefix on the real services; `close()` drops the database and deletes the prefix's keys.
 * Both return the same handle, so one suite can run against either.
 *
 * - `WsTestClient`: raw WebSocket (`/ws?token=`); splits each message on "\n", lets a test await the
 *   reply to a given id or the next push matching a predicate.
 * - `SioTestClient`: socket.io-client over the websocket transport; `cmd` uses the ack, pushes arrive
 *   on `push` (one object or an array).
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { io as ioConnect, type Socket as IoClientSocket } from 'socket.io-client';
import WebSocket from 'ws';
import { buildApp } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/config/config.ts';
import type { MsgPush, Push, Reply, ServerFrame, WelcomePush } from '../../src/gateway/protocol.ts';
import { DEMO_PASSWORD } from '../../src/store/seed.ts';
import type { PublicUser } from '../../src/store/users-repo.ts';
import { createTestDatabase } from './pg.ts';

export { DEMO_PASSWORD };
export const TEST_JWT_SECRET = 'qiao-test-secret-0123456789-abcdefghijklmnop';
export const TEST_FEED_KEY = 'qiao-test-feed-key-0123456789';
export const TEST_REDIS_URL = process.env.QIAO_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON body, or undefined when the body is empty or not JSON. */
  body: any;
}

export interface RequestOptions {
  token?: string;
  /** Sent as JSON. */
  json?: unknown;
  /** Sent verbatim (with content-type application/json unless headers say otherwise). */
  raw?: string;
  headers?: Record<string, string>;
}

export interface TestApp {
  app: FastifyInstance;
  config: Config;
  mode: 'embedded' | 'services';
  baseUrl: string;
  wsUrl: string;
  login(login: string, password?: string): Promise<{ token: string; user: PublicUser & { totpEnrolled: boolean; totpRequired: boolean }; expiresAt: string }>;
  /** A real HTTP request against the listening server. */
  request(method: string, path: string, opts?: RequestOptions): Promise<HttpResult>;
  close(): Promise<void>;
}

function baseEnv(overrides: Record<string, string>): Record<string, string> {
  return {
    QIAO_LOG_LEVEL: 'silent',
    QIAO_JWT_SECRET: TEST_JWT_SECRET,
    QIAO_FEED_API_KEY: TEST_FEED_KEY,
    QIAO_NODE_ID: `test-${randomBytes(3).toString('hex')}`,
    // Suites log in and call the API many times from 127.0.0.1: throttling tests set their own limits.
    QIAO_HTTP_RATE_LIMIT_MAX: '1000000',
    QIAO_LOGIN_RATE_MAX: '1000000',
    QIAO_LOGIN_MAX_FAILURES_PER_ADDRESS: '1000000',
    // Suites log in as admin and compliance with the password only; the TOTP suites turn the requirement on.
    QIAO_TOTP_REQUIRED_ROLES: '',
    // Service sweeps run when a test calls app.qiao.sweeper.runOnce(now), never on a timer mid-test.
    QIAO_SERVICE_SWEEP_MS: '0',
    ...overrides,
  };
}

async function listen(app: FastifyInstance, config: Config, mode: TestApp['mode'], onClose: () => Promise<void>): Promise<TestApp> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;
  const request = async (method: string, path: string, opts: RequestOptions = {}): Promise<HttpResult> => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: string | undefined;
    if (opts.json !== undefined) body = JSON.stringify(opts.json);
    else if (opts.raw !== undefined) body = opts.raw;
    if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    const res = await fetch(baseUrl + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, headers: res.headers, text, body: parsed };
  };
  let closed = false;
  return {
    app,
    config,
    mode,
    baseUrl,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    request,
    async login(login, password = DEMO_PASSWORD) {
      const r = await request('POST', '/api/auth/login', { json: { login, password } });
      if (r.status !== 200) throw new Error(`login ${login} failed: ${r.status} ${r.text}`);
      return r.body;
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await app.close();
      } finally {
        await onClose();
      }
    },
  };
}

export async function startEmbeddedApp(overrides: Record<string, string> = {}): Promise<TestApp> {
  const config = loadConfig(baseEnv(overrides));
  const app = await buildApp(config, { inMemoryDb: true });
  return listen(app, config, 'embedded', async () => {});
}

/** Deletes every Redis key under `prefix`. */
export async function deleteRedisPrefix(url: string, prefix: string): Promise<number> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  r.on('error', () => {});
  let n = 0;
  try {
    await r.connect();
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) n += await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
  return n;
}

export async function startServicesApp(overrides: Record<string, string> = {}): Promise<TestApp> {
  const db = await createTestDatabase();
  const prefix = `qiao_t_${randomBytes(6).toString('hex')}:`;
  const cleanup = async () => {
    await Promise.allSettled([db.drop(), deleteRedisPrefix(TEST_REDIS_URL, prefix)]);
  };
  try {
    const config = loadConfig(baseEnv({ DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, QIAO_REDIS_PREFIX: prefix, QIAO_PG_POOL_SIZE: '4', ...overrides }));
    const app = await buildApp(config);
    return await listen(app, config, 'services', cleanup);
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/**
 * `n` hubs sharing one fresh Postgres database and one Redis prefix, as the nodes of one deployment
 * (in this process; started one after the other so only the first migrates and seeds). `close()`
 * closes every node, then drops the database and the prefix's keys.
 */
export async function startServicesNodes(n: number, overrides: Record<string, string> = {}): Promise<{ nodes: TestApp[]; close(): Promise<void> }> {
  const db = await createTestDatabase();
  const prefix = `qiao_t_${randomBytes(6).toString('hex')}:`;
  const nodes: TestApp[] = [];
  const close = async () => {
    await Promise.allSettled(nodes.map((x) => x.close()));
    await Promise.allSettled([db.drop(), deleteRedisPrefix(TEST_REDIS_URL, prefix)]);
  };
  try {
    for (let i = 0; i < n; i++) {
      const config = loadConfig(
        baseEnv({ DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, QIAO_REDIS_PREFIX: prefix, QIAO_PG_POOL_SIZE: '4', QIAO_NODE_ID: `node-${i}-${randomBytes(2).toString('hex')}`, ...overrides }),
      );
      nodes.push(await listen(await buildApp(config), config, 'services', async () => {}));
    }
    return { nodes, close };
  } catch (e) {
    await close();
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Frame queue shared by both test clients
// ---------------------------------------------------------------------------------------------

interface Waiter<T> {
  pred: (f: T) => boolean;
  resolve: (f: T) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** Frames not yet taken by a test; `take` waits for the first frame matching a predicate and removes it. */
class FrameQueue<T> {
  readonly all: T[] = [];
  private readonly pending: T[] = [];
  private readonly waiters: Waiter<T>[] = [];
  private failure: Error | null = null;

  add(f: T): void {
    this.all.push(f);
    const i = this.waiters.findIndex((w) => w.pred(f));
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      clearTimeout(w.timer);
      w.resolve(f);
    } else {
      this.pending.push(f);
    }
  }

  take(pred: (f: T) => boolean, timeoutMs: number, what: string): Promise<T> {
    const i = this.pending.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.pending.splice(i, 1)[0]);
    if (this.failure) return Promise.reject(new Error(`${what}: ${this.failure.message}`));
    return new Promise<T>((resolve, reject) => {
      const w: Waiter<T> = {
        pred,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; unconsumed: ${JSON.stringify(this.pending).slice(0, 500)}`));
        }, timeoutMs),
      };
      this.waiters.push(w);
    });
  }

  /** Frames not taken yet (not removed). */
  peek(pred: (f: T) => boolean = () => true): T[] {
    return this.pending.filter(pred);
  }

  fail(e: Error): void {
    this.failure = e;
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(e);
    }
  }
}

export type CmdInput = { op: string; [k: string]: unknown };
const DEFAULT_WAIT_MS = 10_000;

export const isMsg =
  (channel?: string) =>
  (f: ServerFrame | Push): f is MsgPush =>
    f.t === 'msg' && (channel === undefined || (f as MsgPush).channel === channel);

// ---------------------------------------------------------------------------------------------
// Raw WebSocket client
// ---------------------------------------------------------------------------------------------

export interface WsClose {
  code: number;
  reason: string;
}

export class WsTestClient {
  readonly frames = new FrameQueue<ServerFrame>();
  /** Raw text of every WebSocket message received. */
  readonly messages: string[] = [];
  readonly closed: Promise<WsClose>;
  closeInfo: WsClose | null = null;
  welcome: WelcomePush | null = null;
  private nextId = 1;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? `<binary ${(data as Buffer).length}>` : data.toString();
      this.messages.push(text);
      for (const line of text.split('\n')) {
        if (!line) continue;
        this.frames.add(JSON.parse(line) as ServerFrame);
      }
    });
    ws.on('error', () => {});
    this.closed = new Promise<WsClose>((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        this.frames.fail(new Error(`socket closed (${code} ${reason.toString()})`));
        resolve(this.closeInfo);
      });
    });
  }

  /** Opens `/ws?token=…` and waits for the welcome push (rejects if the server closes first). */
  static async connect(wsUrl: string, token: string | null, timeoutMs = DEFAULT_WAIT_MS): Promise<WsTestClient> {
    const url = token === null ? wsUrl : `${wsUrl}?token=${encodeURIComponent(token)}`;
    const c = new WsTestClient(new WebSocket(url));
    c.welcome = (await c.frames.take((f) => f.t === 'welcome', timeoutMs, 'welcome')) as WelcomePush;
    return c;
  }

  /** Opens a socket without waiting for the welcome (for handshake-failure tests). */
  static open(wsUrl: string, token: string | null): WsTestClient {
    const url = token === null ? wsUrl : `${wsUrl}?token=${encodeURIComponent(token)}`;
    return new WsTestClient(new WebSocket(url));
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends a raw text frame or an object as JSON. */
  send(data: string | object): void {
    this.ws.send(typeof data === 'string' ? data : JSON.stringify(data));
  }

  /** Sends a command with a fresh id and resolves with its reply. */
  async cmd(c: CmdInput, timeoutMs = DEFAULT_WAIT_MS): Promise<Reply> {
    const id = this.nextId++;
    this.send({ ...c, id });
    return this.reply(id, timeoutMs);
  }

  /** Next reply with `re === id` (id 0: replies to frames that had no usable id). */
  reply(id: number, timeoutMs = DEFAULT_WAIT_MS): Promise<Reply> {
    return this.frames.take((f) => f.t === 'reply' && f.re === id, timeoutMs, `reply ${id}`) as Promise<Reply>;
  }

  /** Next push (non-reply frame) matching `pred`. */
  nextPush<T extends Push = Push>(pred: (p: Push) => boolean = () => true, timeoutMs = DEFAULT_WAIT_MS): Promise<T> {
    return this.frames.take((f) => f.t !== 'reply' && pred(f as Push), timeoutMs, 'push') as Promise<T>;
  }

  /** Next `n` publications on `channel`, in arrival order. */
  async msgs(channel: string, n: number, timeoutMs = DEFAULT_WAIT_MS): Promise<MsgPush[]> {
    const out: MsgPush[] = [];
    for (let i = 0; i < n; i++) out.push(await this.nextPush<MsgPush>(isMsg(channel), timeoutMs));
    return out;
  }

  async subscribe(channel: string, since?: number): Promise<Reply> {
    return this.cmd(since === undefined ? { op: 'subscribe', channel } : { op: 'subscribe', channel, since });
  }

  /** Sends a ping and asserts nothing: returns whether an ok reply came back. */
  async pingOk(timeoutMs = DEFAULT_WAIT_MS): Promise<boolean> {
    const r = await this.cmd({ op: 'ping' }, timeoutMs);
    return r.ok;
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      try {
        this.ws.close();
      } catch {
        this.ws.terminate();
      }
    }
    const t = setTimeout(() => this.ws.terminate(), 1000);
    await this.closed;
    clearTimeout(t);
  }
}

// ---------------------------------------------------------------------------------------------
// socket.io client
// ---------------------------------------------------------------------------------------------

export class SioTestClient {
  readonly pushes = new FrameQueue<Push>();
  readonly closing: Array<{ code: number; reason: string }> = [];
  welcome: WelcomePush | null = null;
  private nextId = 1;

  constructor(readonly socket: IoClientSocket) {
    socket.on('push', (p: Push | Push[]) => {
      for (const one of Array.isArray(p) ? p : [p]) this.pushes.add(one);
    });
    socket.on('closing', (c: { code: number; reason: string }) => this.closing.push(c));
    socket.on('disconnect', (reason) => this.pushes.fail(new Error(`socket.io disconnected: ${reason}`)));
  }

  static socket(baseUrl: string, auth: Record<string, unknown> | undefined): IoClientSocket {
    return ioConnect(baseUrl, {
      path: '/socket.io/',
      transports: ['websocket'],
      auth,
      reconnection: false,
      forceNew: true,
      timeout: DEFAULT_WAIT_MS,
    });
  }

  /** Connects with `auth: { token }` and waits for the welcome push. */
  static async connect(baseUrl: string, token: string, timeoutMs = DEFAULT_WAIT_MS): Promise<SioTestClient> {
    const socket = SioTestClient.socket(baseUrl, { token });
    const c = new SioTestClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', (err) => {
        const d = (err as { description?: unknown }).description;
        const detail = d instanceof Error ? d.message : (d as { message?: string } | undefined)?.message ?? (d === undefined ? '' : String(d));
        reject(Object.assign(new Error(`socket.io connect failed: ${err.message}${detail ? ` (${detail})` : ''}`), { cause: err, data: (err as { data?: unknown }).data }));
      });
    });
    c.welcome = (await c.pushes.take((p) => p.t === 'welcome', timeoutMs, 'welcome')) as WelcomePush;
    return c;
  }

  /** Tries to connect and resolves with the connect_error (rejects if the connection succeeds). */
  static async connectError(baseUrl: string, auth: Record<string, unknown> | undefined): Promise<Error & { data?: any }> {
    const socket = SioTestClient.socket(baseUrl, auth);
    try {
      return await new Promise<Error & { data?: any }>((resolve, reject) => {
        socket.once('connect', () => reject(new Error('socket.io connection unexpectedly succeeded')));
        socket.once('connect_error', (err) => resolve(err as Error & { data?: any }));
      });
    } finally {
      socket.disconnect();
    }
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  /** Emits `cmd` with a fresh id (unless given) and resolves with the ack. */
  async cmd(c: CmdInput | Record<string, unknown>, timeoutMs = DEFAULT_WAIT_MS): Promise<Reply> {
    const withId = 'id' in c ? c : { ...c, id: this.nextId++ };
    return (await this.socket.timeout(timeoutMs).emitWithAck('cmd', withId)) as Reply;
  }

  /** Emits an arbitrary `cmd` argument (e.g. not an object) and resolves with the ack. */
  async rawCmd(arg: unknown, timeoutMs = DEFAULT_WAIT_MS): Promise<Reply> {
    return (await this.socket.timeout(timeoutMs).emitWithAck('cmd', arg)) as Reply;
  }

  async subscribe(channel: string, since?: number): Promise<Reply> {
    return this.cmd(since === undefined ? { op: 'subscribe', channel } : { op: 'subscribe', channel, since });
  }

  async pingOk(timeoutMs = DEFAULT_WAIT_MS): Promise<boolean> {
    return (await this.cmd({ op: 'ping' }, timeoutMs)).ok;
  }

  nextPush<T extends Push = Push>(pred: (p: Push) => boolean = () => true, timeoutMs = DEFAULT_WAIT_MS): Promise<T> {
    return this.pushes.take(pred, timeoutMs, 'socket.io push') as Promise<T>;
  }

  async msgs(channel: string, n: number, timeoutMs = DEFAULT_WAIT_MS): Promise<MsgPush[]> {
    const out: MsgPush[] = [];
    for (let i = 0; i < n; i++) out.push(await this.nextPush<MsgPush>(isMsg(channel), timeoutMs));
    return out;
  }

  close(): void {
    this.socket.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------
// Small utilities
// ---------------------------------------------------------------------------------------------

/** Sum of the samples of a Prometheus metric whose labels include every given label. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const l = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value or the time is up. */
export async function eventually<T>(fn: () => Promise<T> | T, timeoutMs = 5_000, stepMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('eventually: condition not met in time');
    await sleep(stepMs);
  }
}

/** A valid research note payload. */
export function note(title: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { title, summary: '', body: '', tickers: ['600519.SH'], riskLevel: 'R2', ...extra };
}
