/**
 * The typed client library against tiny fake servers written here: a raw `ws` server that speaks the
 * Qiao protocol (with history for `since`), and a socket.io server for the socketio transport.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server as IoServer } from 'socket.io';
import { io as ioClient } from 'socket.io-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { Backoff } from '../../src/client/backoff.ts';
import { RecentIds } from '../../src/client/recent-ids.ts';
import { wsUrl } from '../../src/client/transport-ws.ts';
import { QiaoClient, QiaoClientError, type DisconnectedEvent, type MsgPush, type NodeEvent } from '../../src/client/qiao-client.ts';
import type { Command, GapPush, Push, Reply, SubscribeCmd } from '../../src/gateway/protocol.ts';
import { ERRORS } from '../../src/errors/codes.ts';
import { CLOSE_CODES } from '../../src/errors/close-codes.ts';

// ---------------------------------------------------------------------------------------------------
// Fake raw-WebSocket hub

interface FakeConn {
  ws: WebSocket;
  token: string;
  subs: Set<string>;
  commands: Command[];
}

class FakeWsHub {
  readonly http: HttpServer = createServer();
  readonly wss = new WebSocketServer({ server: this.http, path: '/ws' });
  readonly conns: FakeConn[] = [];
  /** Node base URLs advertised in the welcome (`nodes`). */
  nodes: string[] = [];
  /** Other nodes of the same fake deployment: publications reach their live subscribers too. */
  peers: FakeWsHub[] = [];
  private stopped = false;

  /** `history` may be shared between hubs: the deployment's storage, so `since` works on any of them. */
  constructor(
    readonly node = 'fake-1',
    readonly history = new Map<string, MsgPush[]>(),
  ) {}
  /** Tokens refused at the handshake, with the close code and reason to use. */
  readonly refuse = new Map<string, { code: number; reason: string }>();
  /** Channels whose subscribe is refused with this code. */
  readonly refuseSubscribe = new Map<string, string>();
  /** Gap pushes to send on a subscribe with `since`, by channel. */
  readonly gapOnRecover = new Map<string, GapPush>();
  /** When false, commands are recorded but never answered. */
  answer = true;
  /** Refuse every new connection so (e.g. 4103 QIAO_DRAINING). */
  refuseAll: { code: number; reason: string } | null = null;
  /** WebSocket connections accepted, refused ones included. */
  attempts = 0;

  async start(): Promise<string> {
    this.wss.on('connection', (ws, req) => {
      this.attempts++;
      const token = new URL(req.url ?? '/', 'http://x').searchParams.get('token') ?? '';
      const refusal = this.refuseAll ?? this.refuse.get(token);
      if (refusal) {
        ws.close(refusal.code, refusal.reason);
        return;
      }
      const conn: FakeConn = { ws, token, subs: new Set(), commands: [] };
      this.conns.push(conn);
      this.send(conn, [
        {
          t: 'welcome',
          node: this.node,
          user: { id: 'u1', role: 'client', displayName: '刘女士' },
          limits: { maxPayloadBytes: 4096, maxSubscriptions: 10 },
          ...(this.nodes.length ? { nodes: this.nodes } : {}),
        },
      ]);
      ws.on('message', (data) => this.onCommand(conn, JSON.parse(data.toString()) as Command));
    });
    await new Promise<void>((r) => this.http.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.http.address() as AddressInfo).port}`;
  }

  /** Sends frames packed into ONE WebSocket message, "\n"-separated, as the real gateway batches. */
  send(conn: FakeConn, frames: (Push | Reply)[]): void {
    if (conn.ws.readyState === WebSocket.OPEN) conn.ws.send(frames.map((f) => JSON.stringify(f)).join('\n'));
  }

  get last(): FakeConn {
    return this.conns[this.conns.length - 1];
  }

  /** Stores a publication and delivers it to live subscribers. */
  publish(channel: string, payload: unknown, id?: string): MsgPush {
    const list = this.history.get(channel) ?? [];
    const offset = (list[list.length - 1]?.offset ?? 0) + 1;
    const msg: MsgPush = { t: 'msg', channel, id: id ?? `${channel}-${offset}`, offset, kind: 'note', sender: 'research1', payload, time: new Date().toISOString() };
    list.push(msg);
    this.history.set(channel, list);
    for (const h of [this, ...this.peers]) for (const c of h.conns) if (c.subs.has(channel)) h.send(c, [msg]);
    return msg;
  }

  private onCommand(conn: FakeConn, cmd: Command): void {
    conn.commands.push(cmd);
    if (!this.answer) return;
    const ok = (result: unknown): Reply => ({ t: 'reply', re: cmd.id, ok: true, result });
    const fail = (code: string, message = code): Reply => ({ t: 'reply', re: cmd.id, ok: false, error: { code, message } as never });
    switch (cmd.op) {
      case 'subscribe': {
        const refused = this.refuseSubscribe.get(cmd.channel);
        if (refused) return this.send(conn, [fail(refused)]);
        const list = this.history.get(cmd.channel) ?? [];
        const frames: (Push | Reply)[] = [];
        if (cmd.since !== undefined) {
          const gap = this.gapOnRecover.get(cmd.channel);
          if (gap) frames.push(gap);
          frames.push(...list.filter((m) => m.offset > cmd.since! && (!gap || m.offset >= gap.from)));
        }
        conn.subs.add(cmd.channel);
        const top = list[list.length - 1]?.offset ?? 0;
        frames.push(ok({ channel: cmd.channel, topOffset: top, ...(cmd.since !== undefined ? { recovered: !this.gapOnRecover.has(cmd.channel) } : {}) }));
        return this.send(conn, frames);
      }
      case 'unsubscribe':
        if (!conn.subs.delete(cmd.channel)) return this.send(conn, [fail('QIAO_NOT_SUBSCRIBED')]);
        return this.send(conn, [ok({ channel: cmd.channel })]);
      case 'publish': {
        if (cmd.channel.startsWith('research.')) {
          const m = this.publish(cmd.channel, cmd.payload);
          return this.send(conn, [ok({ channel: m.channel, id: m.id, offset: m.offset })]);
        }
        return this.send(conn, [fail('QIAO_PUBLISH_FORBIDDEN', 'Not allowed to publish to this channel')]);
      }
      case 'ping':
        return this.send(conn, [ok({ time: new Date().toISOString() })]);
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const c of this.wss.clients) c.terminate();
    await new Promise<void>((r) => this.wss.close(() => r()));
    await new Promise<void>((r) => this.http.close(() => r()));
  }
}

// ---------------------------------------------------------------------------------------------------
// Helpers

async function until(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`Timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const subscribes = (c: FakeConn) => c.commands.filter((x): x is SubscribeCmd => x.op === 'subscribe');

let hub: FakeWsHub;
let url: string;
const clients: QiaoClient[] = [];

function makeClient(over: Partial<ConstructorParameters<typeof QiaoClient>[0]> = {}): QiaoClient {
  const c = new QiaoClient({ url, token: 'good', transport: 'websocket', WebSocket, reconnect: { minDelayMs: 10, maxDelayMs: 40 }, ...over });
  clients.push(c);
  return c;
}

beforeEach(async () => {
  hub = new FakeWsHub();
  url = await hub.start();
});

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await hub.stop();
});

// ---------------------------------------------------------------------------------------------------

describe('QiaoClient over raw WebSocket', () => {
  it('builds the /ws URL from an http base', () => {
    expect(wsUrl('http://127.0.0.1:3000', 'a b')).toBe('ws://127.0.0.1:3000/ws?token=a+b');
    expect(wsUrl('https://qiao.example/', 't')).toBe('wss://qiao.example/ws?token=t');
  });

  it('connects, subscribes and receives "\\n"-batched messages in order', async () => {
    const c = makeClient();
    const welcomes: string[] = [];
    c.on('connected', (w) => welcomes.push(w.node));
    const w = await c.connect();
    expect(w.user.displayName).toBe('刘女士');
    expect(c.state).toBe('connected');
    const got: number[] = [];
    const r = await c.subscribe('research.macro', (m) => got.push(m.offset));
    expect(r).toEqual({ channel: 'research.macro', topOffset: 0 });
    // Three publications in one WebSocket message.
    const msgs = [1, 2, 3].map((i) => ({ t: 'msg', channel: 'research.macro', id: `m${i}`, offset: i, kind: 'note', sender: 's', payload: {}, time: '' }) as MsgPush);
    hub.send(hub.last, msgs);
    await until(() => got.length === 3, '3 messages');
    expect(got).toEqual([1, 2, 3]);
    expect(c.lastOffset('research.macro')).toBe(3);
    expect(welcomes).toEqual(['fake-1']);
  });

  it('drops duplicates by id and messages at or below the last offset', async () => {
    const c = makeClient();
    await c.connect();
    const got: string[] = [];
    await c.subscribe('research.macro', (m) => got.push(`${m.id}@${m.offset}`));
    const m = (id: string, offset: number) => ({ t: 'msg', channel: 'research.macro', id, offset, kind: 'note', sender: 's', payload: {}, time: '' }) as MsgPush;
    hub.send(hub.last, [m('a', 1), m('a', 1), m('b', 2), m('stale', 1), m('b', 3), m('c', 3), m('d', 4)]);
    await until(() => got.includes('d@4'), 'last message');
    expect(got).toEqual(['a@1', 'b@2', 'c@3', 'd@4']);
  });

  it('ignores messages for channels it is not subscribed to', async () => {
    const c = makeClient();
    await c.connect();
    const got: string[] = [];
    await c.subscribe('research.macro', (m) => got.push(m.channel));
    hub.send(hub.last, [{ t: 'msg', channel: 'research.quant', id: 'x', offset: 1, kind: 'note', sender: 's', payload: {}, time: '' }]);
    await c.ping();
    expect(got).toEqual([]);
  });

  it('after the server drops the connection, reconnects and resubscribes with since = last offset; missed messages arrive in order', async () => {
    const c = makeClient();
    const events: string[] = [];
    c.on('disconnected', (d: DisconnectedEvent) => events.push(`disconnected:${d.willReconnect}`));
    c.on('connected', () => events.push('connected'));
    await c.connect();
    const got: number[] = [];
    await c.subscribe('research.macro', (m) => got.push(m.offset));
    await c.subscribe('research.strategy', () => {});
    hub.publish('research.macro', { n: 1 });
    hub.publish('research.macro', { n: 2 });
    await until(() => got.length === 2, 'live messages');

    const first = hub.last;
    first.ws.terminate(); // unexpected drop (1006)
    await until(() => c.state !== 'connected', 'disconnect seen');
    hub.publish('research.macro', { n: 3 }); // published while the client is away
    hub.publish('research.macro', { n: 4 });
    await until(() => hub.conns.length === 2 && c.state === 'connected', 'reconnected');
    await until(() => got.length === 4, 'recovered messages');
    expect(got).toEqual([1, 2, 3, 4]);

    const resub = subscribes(hub.last);
    expect(resub.find((s) => s.channel === 'research.macro')?.since).toBe(2);
    // Nothing had arrived on research.strategy: it resumes from the top offset reported at subscribe time.
    expect(resub.find((s) => s.channel === 'research.strategy')?.since).toBe(0);
    expect(events).toEqual(['connected', 'disconnected:true', 'connected']);

    // Live again on the new connection, no duplicates.
    hub.publish('research.macro', { n: 5 });
    await until(() => got.length === 5, 'live after reconnect');
    expect(got).toEqual([1, 2, 3, 4, 5]);
  });

  it('seeds the offset from subscribe({ since }) (e.g. after loading history over REST)', async () => {
    for (let i = 0; i < 5; i++) hub.publish('research.macro', { i });
    const c = makeClient();
    await c.connect();
    const got: number[] = [];
    const r = await c.subscribe('research.macro', (m) => got.push(m.offset), { since: 3 });
    expect(r.recovered).toBe(true);
    expect(subscribes(hub.last)[0].since).toBe(3);
    expect(got).toEqual([4, 5]);
  });

  it('emits gap when history no longer reaches the offset', async () => {
    const c = makeClient();
    await c.connect();
    const got: number[] = [];
    await c.subscribe('research.macro', (m) => got.push(m.offset));
    hub.publish('research.macro', {});
    await until(() => got.length === 1, 'first message');
    hub.last.ws.terminate();
    await until(() => c.state !== 'connected', 'disconnect');
    for (let i = 0; i < 5; i++) hub.publish('research.macro', {});
    hub.gapOnRecover.set('research.macro', {
      t: 'gap',
      channel: 'research.macro',
      since: 1,
      from: 4,
      error: { code: 'QIAO_RECOVERY_GAP', message: 'History no longer reaches the requested offset' },
    });
    const gaps: GapPush[] = [];
    c.on('gap', (g) => gaps.push(g));
    await until(() => got.length === 4, 'messages after the gap');
    expect(gaps).toHaveLength(1);
    expect(gaps[0]).toMatchObject({ channel: 'research.macro', since: 1, from: 4, error: { code: 'QIAO_RECOVERY_GAP' } });
    expect(got).toEqual([1, 4, 5, 6]);
  });

  it('rejects with the error code from a reply', async () => {
    const c = makeClient();
    await c.connect();
    const err = await c.publish('alerts.market', 'alert', { title: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QiaoClientError);
    expect(err).toBeInstanceOf(Error);
    expect((err as QiaoClientError).code).toBe('QIAO_PUBLISH_FORBIDDEN');
    expect((err as QiaoClientError).message).toBe('Not allowed to publish to this channel');

    const ok = await c.publish('research.macro', 'note', { title: '贵州茅台 600519.SH' });
    expect(ok).toEqual({ channel: 'research.macro', id: 'research.macro-1', offset: 1 });
  });

  it('a refused subscribe rejects with its code and is not retried on reconnect', async () => {
    hub.refuseSubscribe.set('research.institutional', 'QIAO_ENTITLEMENT_REQUIRED');
    const c = makeClient();
    await c.connect();
    const err = await c.subscribe('research.institutional', () => {}).catch((e: QiaoClientError) => e);
    expect((err as QiaoClientError).code).toBe('QIAO_ENTITLEMENT_REQUIRED');
    expect(c.channelNames).toEqual([]);
  });

  it('rejects pending commands with QIAO_UNAVAILABLE when the connection drops', async () => {
    const c = makeClient();
    await c.connect();
    hub.answer = false;
    const p = c.publish('research.macro', 'note', {});
    await until(() => hub.last.commands.length === 1, 'command received');
    hub.last.ws.terminate();
    const err = await p.catch((e: QiaoClientError) => e);
    expect((err as QiaoClientError).code).toBe('QIAO_UNAVAILABLE');
    // Not connected: fails fast, nothing queued.
    await until(() => c.state !== 'connected', 'disconnected');
    const e2 = await c.publish('research.macro', 'note', {}).catch((e: QiaoClientError) => e);
    expect((e2 as QiaoClientError).code).toBe('QIAO_UNAVAILABLE');
  });

  it('refuses a publish over the advertised payload limit without sending it', async () => {
    const c = makeClient();
    await c.connect();
    const err = await c.publish('research.macro', 'note', { body: 'x'.repeat(5000) }).catch((e: QiaoClientError) => e);
    expect((err as QiaoClientError).code).toBe('QIAO_PAYLOAD_TOO_LARGE');
    expect(hub.last.commands).toHaveLength(0);
  });

  it('stops reconnecting on an auth close (46xx) with a fixed token', async () => {
    hub.refuse.set('expired', { code: 4603, reason: 'QIAO_TOKEN_EXPIRED' });
    const c = makeClient({ token: 'expired' });
    const errors: string[] = [];
    const disc: DisconnectedEvent[] = [];
    c.on('error', (e) => errors.push(e.code));
    c.on('disconnected', (d) => disc.push(d));
    const err = await c.connect().catch((e: QiaoClientError) => e);
    expect((err as QiaoClientError).code).toBe('QIAO_TOKEN_EXPIRED');
    expect(c.state).toBe('closed');
    expect(errors).toEqual(['QIAO_TOKEN_EXPIRED']);
    expect(disc).toMatchObject([{ code: 4603, willReconnect: false, wasConnected: false }]);
    await new Promise((r) => setTimeout(r, 80));
    expect(hub.conns).toHaveLength(0);
  });

  it('a close in the stop range (4500–4999) ends reconnecting, whatever the code, and says why', async () => {
    const c = makeClient({ reconnect: { minDelayMs: 5, maxDelayMs: 10 } });
    const errors: string[] = [];
    const disc: DisconnectedEvent[] = [];
    c.on('error', (e) => errors.push(e.code));
    c.on('disconnected', (d) => disc.push(d));
    await c.connect();
    // A catalogue code (request refused) and a code no client knows yet: the range decides.
    hub.last.ws.close(ERRORS.QIAO_BAD_REQUEST.wsClose, 'QIAO_BAD_REQUEST');
    await until(() => c.state === 'closed', 'stopped');
    expect(disc).toMatchObject([{ code: 4800, willReconnect: false, wasConnected: true, errorCode: 'QIAO_BAD_REQUEST' }]);
    expect(errors).toEqual(['QIAO_BAD_REQUEST']);
    await new Promise((r) => setTimeout(r, 60));
    expect(hub.attempts).toBe(1);

    const c2 = makeClient({ reconnect: { minDelayMs: 5, maxDelayMs: 10 } });
    await c2.connect();
    hub.last.ws.close(4987, 'something new');
    await until(() => c2.state === 'closed', 'stopped on an unknown stop code');
    await new Promise((r) => setTimeout(r, 60));
    expect(hub.attempts).toBe(2);
  });

  it('a close in the reconnect range (4000–4499) reconnects, a code no client knows yet included', async () => {
    const c = makeClient({ reconnect: { minDelayMs: 5, maxDelayMs: 10 } });
    const disc: DisconnectedEvent[] = [];
    c.on('disconnected', (d) => disc.push(d));
    await c.connect();
    hub.last.ws.close(ERRORS.QIAO_RATE_LIMITED.wsClose, 'QIAO_RATE_LIMITED');
    await until(() => hub.conns.length === 2 && c.state === 'connected', 'reconnected after 4229');
    hub.last.ws.close(4321, 'something new');
    await until(() => hub.conns.length === 3 && c.state === 'connected', 'reconnected after 4321');
    expect(disc.map((d) => [d.code, d.willReconnect])).toEqual([
      [4229, true],
      [4321, true],
    ]);
  });

  it('retries after an auth close when the token function gives a new token', async () => {
    hub.refuse.set('old', { code: 4603, reason: 'QIAO_TOKEN_EXPIRED' });
    const tokens = ['old', 'new'];
    let calls = 0;
    const c = makeClient({ token: async () => tokens[Math.min(calls++, tokens.length - 1)] });
    const w = await c.connect();
    expect(w.node).toBe('fake-1');
    expect(hub.last.token).toBe('new');
  });

  it('reconnects after afterMs on a reconnect push (node draining), with offsets', async () => {
    const c = makeClient({ reconnect: { minDelayMs: 5000, maxDelayMs: 5000 } });
    await c.connect();
    const got: number[] = [];
    await c.subscribe('research.macro', (m) => got.push(m.offset));
    hub.publish('research.macro', {});
    await until(() => got.length === 1, 'message');
    const t0 = Date.now();
    hub.send(hub.last, [{ t: 'reconnect', reason: 'node draining', afterMs: 30 }]);
    await until(() => hub.conns.length === 2 && c.state === 'connected', 'reconnected quickly', 2000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
    expect(Date.now() - t0).toBeLessThan(2000); // not the 5 s backoff
    // 'connected' comes with the welcome; the resubscribe is sent right after it, so wait for it to arrive.
    await until(() => subscribes(hub.last).length > 0, 'resubscribe');
    expect(subscribes(hub.last)[0]).toMatchObject({ channel: 'research.macro', since: 1 });
  });

  it('drops a channel on an unsubscribed push and reports it', async () => {
    const c = makeClient();
    await c.connect();
    await c.subscribe('research.quant', () => {});
    const seen: string[] = [];
    c.on('unsubscribed', (u) => seen.push(`${u.channel}:${u.error.code}`));
    hub.send(hub.last, [{ t: 'unsubscribed', channel: 'research.quant', error: { code: 'QIAO_ENTITLEMENT_REQUIRED', message: 'x' } }]);
    await until(() => seen.length === 1, 'unsubscribed event');
    expect(seen).toEqual(['research.quant:QIAO_ENTITLEMENT_REQUIRED']);
    expect(c.channelNames).toEqual([]);
  });

  it('unsubscribe stops delivery and tells the server', async () => {
    const c = makeClient();
    await c.connect();
    const got: number[] = [];
    await c.subscribe('research.macro', (m) => got.push(m.offset));
    await c.unsubscribe('research.macro');
    expect(hub.last.commands.map((x) => x.op)).toEqual(['subscribe', 'unsubscribe']);
    hub.send(hub.last, [{ t: 'msg', channel: 'research.macro', id: 'z', offset: 9, kind: 'note', sender: 's', payload: {}, time: '' }]);
    await c.ping();
    expect(got).toEqual([]);
  });

  it('subscriptions made before connect() are sent once connected', async () => {
    const c = makeClient();
    const p = c.subscribe('research.macro', () => {});
    await c.connect();
    await expect(p).resolves.toMatchObject({ channel: 'research.macro' });
  });

  it('a throwing handler is reported as an error event and does not stop delivery', async () => {
    const c = makeClient();
    await c.connect();
    const errors: string[] = [];
    c.on('error', (e) => errors.push(e.code));
    const got: number[] = [];
    await c.subscribe('research.macro', (m) => {
      got.push(m.offset);
      if (m.offset === 1) throw new Error('boom');
    });
    hub.publish('research.macro', {});
    hub.publish('research.macro', {});
    await until(() => got.length === 2, 'both messages');
    expect(errors).toEqual(['QIAO_INTERNAL']);
  });

  it('close() stops reconnecting', async () => {
    const c = makeClient();
    await c.connect();
    await c.close();
    expect(c.state).toBe('closed');
    await new Promise((r) => setTimeout(r, 60));
    expect(hub.conns).toHaveLength(1);
  });
});

describe('QiaoClient over socket.io', () => {
  let http: HttpServer;
  let io: IoServer;
  let base: string;
  const cmds: Command[] = [];
  let busyRefusals = 0;

  beforeEach(async () => {
    cmds.length = 0;
    busyRefusals = 0;
    http = createServer();
    io = new IoServer(http, { serveClient: false });
    io.use((socket, next) => {
      const token = (socket.handshake.auth as { token?: string }).token;
      if (token === 'good') return next();
      // 'busy': the first handshake is refused as a node in trouble would (reconnect range), then accepted.
      if (token === 'busy' && busyRefusals++ > 0) return next();
      if (token === 'busy') return next(Object.assign(new Error('unavailable'), { data: { code: 'QIAO_UNAVAILABLE', message: 'A backing service is unavailable' } }));
      const err = new Error('Token has expired') as Error & { data: unknown };
      err.data = { code: 'QIAO_TOKEN_EXPIRED', message: 'Token has expired' };
      next(err);
    });
    io.on('connection', (socket) => {
      socket.emit('push', { t: 'welcome', node: 'sio-1', user: { id: 'u', role: 'client', displayName: 'x' }, limits: { maxPayloadBytes: 65536, maxSubscriptions: 10 } });
      socket.on('cmd', (cmd: Command, ack: (r: Reply) => void) => {
        cmds.push(cmd);
        if (cmd.op === 'subscribe') {
          // Pushes can come as an array.
          socket.emit('push', [1, 2].map((o) => ({ t: 'msg', channel: cmd.channel, id: `i${o}`, offset: o, kind: 'note', sender: 's', payload: {}, time: '' })));
          ack({ t: 'reply', re: cmd.id, ok: true, result: { channel: cmd.channel, topOffset: 2 } });
        } else if (cmd.op === 'publish') {
          ack({ t: 'reply', re: cmd.id, ok: false, error: { code: 'QIAO_BAD_PUBLICATION', message: 'title: required' } });
        } else if (cmd.op === 'ping') {
          ack({ t: 'reply', re: cmd.id, ok: true, result: { time: 'now' } });
        }
      });
      socket.on('kick', () => {
        socket.emit('closing', { code: 4103, reason: 'QIAO_DRAINING' });
        socket.disconnect(true);
      });
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    await new Promise<void>((r) => io.close(() => r()));
  });

  it('subscribes via cmd + ack, takes pushes as arrays, and carries reply error codes', async () => {
    const c = new QiaoClient({ url: base, token: 'good', transport: 'socketio', io: ioClient });
    clients.push(c);
    const w = await c.connect();
    expect(w.node).toBe('sio-1');
    const got: number[] = [];
    const r = await c.subscribe('research.macro', (m) => got.push(m.offset));
    expect(r.topOffset).toBe(2);
    await until(() => got.length === 2, 'array push');
    const err = await c.publish('research.macro', 'note', {}).catch((e: QiaoClientError) => e);
    expect((err as QiaoClientError).code).toBe('QIAO_BAD_PUBLICATION');
  });

  it('reconnects after a server disconnect and resubscribes with since', async () => {
    const c = new QiaoClient({ url: base, token: 'good', transport: 'socketio', io: ioClient, reconnect: { minDelayMs: 10, maxDelayMs: 20 } });
    clients.push(c);
    const disc: DisconnectedEvent[] = [];
    c.on('disconnected', (d) => disc.push(d));
    await c.connect();
    await c.subscribe('research.macro', () => {});
    for (const [, s] of io.of('/').sockets) s.emit('closing', { code: 4100, reason: 'QIAO_INTERNAL' }), s.disconnect(true);
    await until(() => cmds.filter((x) => x.op === 'subscribe').length === 2 && c.state === 'connected', 'resubscribed');
    expect(cmds.filter((x) => x.op === 'subscribe')[1]).toMatchObject({ channel: 'research.macro', since: 2 });
    expect(disc[0]).toMatchObject({ code: 4100, errorCode: 'QIAO_INTERNAL', willReconnect: true });
  });

  it('a handshake refusal in the reconnect range retries (the close code comes from the catalogue)', async () => {
    const c = new QiaoClient({ url: base, token: 'busy', transport: 'socketio', io: ioClient, reconnect: { minDelayMs: 5, maxDelayMs: 10 } });
    clients.push(c);
    const disc: DisconnectedEvent[] = [];
    c.on('disconnected', (d) => disc.push(d));
    const w = await c.connect();
    expect(w.node).toBe('sio-1');
    expect(disc).toMatchObject([{ code: ERRORS.QIAO_UNAVAILABLE.wsClose, errorCode: 'QIAO_UNAVAILABLE', willReconnect: true }]);
  });

  it('a handshake refusal with an auth code stops the client', async () => {
    const c = new QiaoClient({ url: base, token: 'stale', transport: 'socketio', io: ioClient });
    clients.push(c);
    const err = await c.connect().catch((e: QiaoClientError) => e);
    expect((err as QiaoClientError).code).toBe('QIAO_TOKEN_EXPIRED');
    expect(CLOSE_CODES.QIAO_TOKEN_EXPIRED).toBe(4603);
    expect(c.state).toBe('closed');
  });
});

// ---------------------------------------------------------------------------------------------------
// Several nodes: failover between base URLs

/** A base URL where nothing listens (a port that was free a moment ago). */
async function deadUrl(): Promise<string> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return `http://127.0.0.1:${port}`;
}

describe('QiaoClient failover between nodes (raw WebSocket)', () => {
  // `hub` (from the outer beforeEach) is node A; node B shares its storage, as nodes of one deployment do.
  let b: FakeWsHub;
  let urlB: string;

  beforeEach(async () => {
    b = new FakeWsHub('fake-2', hub.history);
    urlB = await b.start();
    hub.peers = [b];
    b.peers = [hub];
  });

  afterEach(async () => {
    await b.stop();
  });

  it('needs at least one valid URL; `url` and `urls` are one list, `url` first', () => {
    expect(() => new QiaoClient({ urls: [], token: 't', transport: 'websocket', WebSocket })).toThrow(TypeError);
    expect(() => new QiaoClient({ urls: ['ftp://x'], token: 't', transport: 'websocket', WebSocket })).toThrow(/not an http/);
    const c = new QiaoClient({ url: `${url}/`, urls: [urlB, url], token: 't', transport: 'websocket', WebSocket });
    expect(c.nodes.map((n) => [n.url, n.source])).toEqual([
      [url, 'options'],
      [urlB, 'options'],
    ]);
  });

  it('first URL down (nothing listening): connects to the second', async () => {
    const dead = await deadUrl();
    const c = makeClient({ url: undefined, urls: [dead, urlB] });
    const disc: DisconnectedEvent[] = [];
    const nodes: NodeEvent[] = [];
    c.on('disconnected', (d) => disc.push(d));
    c.on('node', (n) => nodes.push(n));
    const w = await c.connect();
    expect(w.node).toBe('fake-2');
    expect(b.conns).toHaveLength(1);
    expect(disc[0]).toMatchObject({ url: dead, nextUrl: urlB, wasConnected: false, willReconnect: true });
    expect(nodes).toEqual([{ url: urlB, node: 'fake-2', moved: false }]);
    expect(c.currentNode).toEqual({ url: urlB, node: 'fake-2' });
    expect(c.nodes.find((n) => n.current)?.url).toBe(urlB);
  });

  it('the node it is on dies: moves to the other, resubscribes with since; nothing lost or duplicated', async () => {
    const c = makeClient({ urls: [urlB] }); // `url` (node A) first, then B
    const nodes: NodeEvent[] = [];
    c.on('node', (n) => nodes.push(n));
    await c.connect();
    const got: string[] = [];
    await c.subscribe('research.macro', (m) => got.push(`${m.id}@${m.offset}`));
    hub.publish('research.macro', { n: 1 });
    hub.publish('research.macro', { n: 2 });
    await until(() => got.length === 2, 'live messages on A');

    await hub.stop(); // node A is gone: its socket drops and nothing listens there any more
    b.publish('research.macro', { n: 3 }); // published on B while the client is between nodes
    b.publish('research.macro', { n: 4 });
    await until(() => c.state === 'connected' && b.conns.length === 1, 'connected to B');
    await until(() => got.length === 4, 'recovered on B');
    expect(subscribes(b.last)).toMatchObject([{ channel: 'research.macro', since: 2 }]);
    // The recovered messages are re-sent live too: both copies must be dropped.
    hub.history.get('research.macro')!.slice(2).forEach((m) => b.send(b.last, [m]));
    b.publish('research.macro', { n: 5 });
    await until(() => got.length === 5, 'live on B');
    await c.ping();
    expect(got).toEqual([1, 2, 3, 4, 5].map((i) => `research.macro-${i}@${i}`));
    expect(nodes).toEqual([
      { url, node: 'fake-1', moved: false },
      { url: urlB, node: 'fake-2', moved: true },
    ]);
  });

  it('a reconnect push moves it to the other node after afterMs, and it does not go back to the draining one', async () => {
    const c = makeClient({ urls: [urlB] });
    await c.connect();
    const got: number[] = [];
    await c.subscribe('research.macro', (m) => got.push(m.offset));
    hub.publish('research.macro', {});
    await until(() => got.length === 1, 'message on A');

    const t0 = Date.now();
    hub.send(hub.last, [{ t: 'reconnect', reason: 'node draining', afterMs: 60 }]);
    // Until afterMs it keeps reading on A.
    await new Promise((r) => setTimeout(r, 20));
    expect(c.state).toBe('connected');
    hub.publish('research.macro', {});
    await until(() => got.length === 2, 'message on A while draining');
    await until(() => b.conns.length === 1 && c.state === 'connected', 'moved to B');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(55);
    expect(c.nodes.find((n) => n.url === url)?.drainingUntil).toBeGreaterThan(Date.now());
    await until(() => subscribes(b.last).length === 1, 'resubscribe on B');
    expect(subscribes(b.last)[0]).toMatchObject({ channel: 'research.macro', since: 2 });

    // B drops. Round robin would pick A next, but A is draining (though it still accepts): B again.
    b.last.ws.terminate();
    await until(() => b.conns.length === 2 && c.state === 'connected', 'back on B');
    expect(hub.conns).toHaveLength(1);
    expect(c.currentNode?.url).toBe(urlB);
  });

  it('a close with 4103 (draining) moves it to the other node and marks the draining one', async () => {
    const c = makeClient({ urls: [urlB] });
    await c.connect();
    hub.refuseAll = { code: 4103, reason: 'QIAO_DRAINING' };
    hub.last.ws.close(4103, 'QIAO_DRAINING');
    await until(() => b.conns.length === 1 && c.state === 'connected', 'moved to B');
    expect(hub.attempts).toBe(1);
    b.last.ws.terminate();
    await until(() => b.conns.length === 2 && c.state === 'connected', 'back on B, A skipped');
    expect(hub.attempts).toBe(1); // not even tried (it would refuse again)
  });

  it('with every node draining it still reconnects (one URL, e.g. behind a load balancer)', async () => {
    const c = makeClient({ drainingSkipMs: 60_000 });
    await c.connect();
    hub.send(hub.last, [{ t: 'reconnect', reason: 'node draining', afterMs: 0 }]);
    await until(() => hub.conns.length === 2 && c.state === 'connected', 'reconnected to the only URL');
    // The welcome cleared the mark.
    expect(c.nodes[0].drainingUntil).toBe(0);
  });

  it('learns the nodes a server advertises in its welcome and fails over to them', async () => {
    hub.nodes = [`${urlB}/`, 'not a url', url];
    const c = makeClient(); // only node A given
    await c.connect();
    expect(c.nodes.map((n) => [n.url, n.source])).toEqual([
      [url, 'options'],
      [urlB, 'server'],
    ]);
    await hub.stop();
    await until(() => b.conns.length === 1 && c.state === 'connected', 'moved to the advertised node');
    expect(c.session?.node).toBe('fake-2');
  });

  it('learnNodes: false ignores advertised nodes', async () => {
    hub.nodes = [urlB];
    const c = makeClient({ learnNodes: false });
    await c.connect();
    expect(c.nodes.map((n) => n.url)).toEqual([url]);
  });

  it('a publish while it moves fails at once with QIAO_UNAVAILABLE; after the move it works', async () => {
    const c = makeClient({ urls: [urlB] });
    await c.connect();
    let during: Promise<unknown> | undefined;
    c.once('disconnected', () => (during = c.publish('research.macro', 'note', {}).catch((e: QiaoClientError) => e)));
    hub.send(hub.last, [{ t: 'reconnect', reason: 'node draining', afterMs: 0 }]);
    await until(() => during !== undefined, 'moving');
    const err = await during;
    expect((err as QiaoClientError).code).toBe('QIAO_UNAVAILABLE');
    await until(() => c.state === 'connected', 'moved');
    await expect(c.publish('research.macro', 'note', {})).resolves.toMatchObject({ offset: 1 });
    expect(b.last.commands.map((x) => x.op)).toEqual(['publish']);
  });
});

describe('QiaoClient failover between nodes (socket.io)', () => {
  interface SioNode {
    base: string;
    io: IoServer;
    connections: number;
    cmds: Command[];
  }
  const started: SioNode[] = [];

  async function sioNode(name: string, history: Map<string, MsgPush[]>): Promise<SioNode> {
    const http = createServer();
    const io = new IoServer(http, { serveClient: false });
    const node: SioNode = { base: '', io, connections: 0, cmds: [] };
    io.on('connection', (socket) => {
      node.connections++;
      socket.emit('push', { t: 'welcome', node: name, user: { id: 'u', role: 'client', displayName: 'x' }, limits: { maxPayloadBytes: 65536, maxSubscriptions: 10 } });
      socket.on('cmd', (cmd: Command, ack: (r: Reply) => void) => {
        node.cmds.push(cmd);
        if (cmd.op === 'subscribe') {
          const list = history.get(cmd.channel) ?? [];
          if (cmd.since !== undefined) socket.emit('push', list.filter((m) => m.offset > cmd.since!));
          ack({ t: 'reply', re: cmd.id, ok: true, result: { channel: cmd.channel, topOffset: list.length } });
        } else ack({ t: 'reply', re: cmd.id, ok: true, result: { time: 'now' } });
      });
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    node.base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    started.push(node);
    return node;
  }

  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    for (const n of started.splice(0)) await new Promise<void>((r) => n.io.close(() => r()));
  });

  const sioClient = (urls: string[]) => {
    const c = new QiaoClient({ urls, token: 'good', transport: 'socketio', io: ioClient, reconnect: { minDelayMs: 10, maxDelayMs: 40 } });
    clients.push(c);
    return c;
  };

  it('first URL down: connects to the second', async () => {
    const nb = await sioNode('sio-b', new Map());
    const c = sioClient([await deadUrl(), nb.base]);
    expect((await c.connect()).node).toBe('sio-b');
    expect(nb.connections).toBe(1);
  });

  it('a draining close (4103) moves it to the other node, resubscribed with since, and it stays off the draining one', async () => {
    const history = new Map<string, MsgPush[]>();
    const na = await sioNode('sio-a', history);
    const nb = await sioNode('sio-b', history);
    const c = sioClient([na.base, nb.base]);
    await c.connect();
    const got: number[] = [];
    await c.subscribe('research.macro', (m) => got.push(m.offset));
    const m = (o: number): MsgPush => ({ t: 'msg', channel: 'research.macro', id: `x${o}`, offset: o, kind: 'note', sender: 's', payload: {}, time: '' });
    history.set('research.macro', [m(1)]);
    for (const [, s] of na.io.of('/').sockets) s.emit('push', m(1));
    await until(() => got.length === 1, 'message on A');
    history.get('research.macro')!.push(m(2), m(3)); // published while it moves
    for (const [, s] of na.io.of('/').sockets) s.emit('closing', { code: 4103, reason: 'QIAO_DRAINING' }), s.disconnect(true);
    await until(() => nb.connections === 1 && c.state === 'connected', 'moved to B');
    await until(() => got.length === 3, 'recovered on B');
    expect(got).toEqual([1, 2, 3]);
    expect(nb.cmds.filter((x) => x.op === 'subscribe')).toMatchObject([{ channel: 'research.macro', since: 1 }]);
    // B drops without a reason: A is still marked draining, so B again.
    for (const [, s] of nb.io.of('/').sockets) s.disconnect(true);
    await until(() => nb.connections === 2 && c.state === 'connected', 'back on B');
    expect(na.connections).toBe(1);
  });
});

describe('client helpers', () => {
  it('RecentIds forgets the oldest beyond its capacity', () => {
    const r = new RecentIds(3);
    expect(['a', 'b', 'c', 'a'].map((x) => r.add(x))).toEqual([true, true, true, false]);
    r.add('d');
    expect(r.size).toBe(3);
    expect(r.has('a')).toBe(false);
    expect(r.has('d')).toBe(true);
  });

  it('Backoff doubles up to the cap, with half of each delay random', () => {
    const lo = new Backoff({ minDelayMs: 100, maxDelayMs: 1000 }, () => 0);
    expect([1, 2, 3, 4, 5, 6].map(() => lo.next())).toEqual([50, 100, 200, 400, 500, 500]);
    const hi = new Backoff({ minDelayMs: 100, maxDelayMs: 1000 }, () => 1);
    expect([1, 2, 3].map(() => hi.next())).toEqual([100, 200, 400]);
    hi.reset();
    expect(hi.next()).toBe(100);
  });
});
