/**
 * Load-generator side of the Qiao targets (c) socket.io gateway and (d) raw WebSocket gateway, speaking
 * the protocol of src/gateway/protocol.ts. bench/targets-qiao.ts combines these hooks with a `start()`.
 *
 * What the hooks need from `start()` (ServerHandle.info, JSON):
 *   channel            channel to subscribe/publish, e.g. "research.macro"
 *   subscriberTokens   JWT(s) for subscribers, used round-robin (one token for all is fine if the server
 *                      has no per-user connection cap)
 *   publisherToken     JWT of a user allowed to publish on the channel (research desk)
 *   publishers?        number of publisher connections, round-robin (default 1). Qiao rate-limits
 *                      commands per connection (QIAO_RATE_LIMIT_PER_S / _BURST): raise those for the bench
 *                      server, or use several publisher connections, or the saturated phase measures the
 *                      rate limiter (rejected publishes are counted as publish errors).
 *   kind?              publication kind (default "note")
 *
 * Deliveries: raw WS messages may pack several JSON frames separated by "\n": each is parsed, frames with
 * t === 'msg' on our channel are deliveries, the publish time is payload.ts (payload = BenchMessage).
 * socket.io pushes arrive on event `push`, one object or an array of them.
 */
import { type Socket as IoSocket, io as ioClient } from 'socket.io-client';
import { WebSocket } from 'ws';
import type { Command, Push, Reply, ServerFrame } from '../../src/gateway/protocol.ts';
import type { BenchMessage, BenchTarget, LoadContext, SubscriberHandle } from './types.ts';

const CONNECT_TIMEOUT_MS = 10_000;
/** `Command` minus `id`, per union member. */
type CommandWithoutId = Command extends infer C ? (C extends Command ? Omit<C, 'id'> : never) : never;
const COMMAND_TIMEOUT_MS = 30_000;

export interface QiaoBenchInfo {
  channel: string;
  subscriberTokens: string[];
  publisherToken: string;
  publishers?: number;
  kind?: string;
}

export function qiaoInfo(ctx: LoadContext): QiaoBenchInfo {
  const info = ctx.info as Partial<QiaoBenchInfo>;
  if (typeof info.channel !== 'string') throw new Error('Qiao target: info.channel missing');
  if (!Array.isArray(info.subscriberTokens) || info.subscriberTokens.length === 0) {
    throw new Error('Qiao target: info.subscriberTokens missing');
  }
  if (typeof info.publisherToken !== 'string') throw new Error('Qiao target: info.publisherToken missing');
  return info as QiaoBenchInfo;
}

function subscriberToken(info: QiaoBenchInfo, i: number): string {
  return info.subscriberTokens[i % info.subscriberTokens.length];
}

/** Handle one server frame/push addressed to a subscriber: deliveries go to ctx.onDelivery. */
function handlePush(f: ServerFrame, channel: string, i: number, ctx: LoadContext): void {
  switch (f.t) {
    case 'msg': {
      if (f.channel !== channel) {
        ctx.onAnomaly('msg-other-channel', f.channel);
        return;
      }
      const m = fromQiaoPayload(f.payload);
      if (m) ctx.onDelivery(m.seq, m.ts);
      else ctx.onAnomaly('msg-without-bench-payload');
      return;
    }
    case 'welcome':
    case 'reply':
      return; // handled by the caller when relevant
    case 'gap':
      ctx.onAnomaly('gap', `${f.error?.code} since ${f.since} from ${f.from}`);
      return;
    case 'unsubscribed':
      ctx.onAnomaly('unsubscribed', f.error?.code);
      ctx.onSubscriberLost(i, `unsubscribed ${f.error?.code}`);
      return;
    case 'reconnect':
      ctx.onAnomaly('reconnect', f.reason);
      return;
    default:
      ctx.onAnomaly('unknown-frame', JSON.stringify(f).slice(0, 200));
  }
}

/**
 * Qiao validates payloads per channel kind (a research note has a title, a risk level, …), so the bench
 * message travels as a real note: seq in the title, the publish time in the summary, the filler as body.
 * The JSON is about the same ~200 bytes as the baselines' message.
 */
export function toQiaoPayload(m: BenchMessage): Record<string, unknown> {
  return { title: `bench#${m.seq}`, summary: String(m.ts), riskLevel: 'R1', body: m.pad.slice(0, 120) };
}

export function fromQiaoPayload(p: unknown): { seq: number; ts: number } | null {
  const o = p as { title?: unknown; summary?: unknown } | null;
  if (!o || typeof o.title !== 'string' || typeof o.summary !== 'string' || !o.title.startsWith('bench#')) return null;
  const seq = Number(o.title.slice(6));
  const ts = Number(o.summary);
  return Number.isFinite(seq) && Number.isFinite(ts) ? { seq, ts } : null;
}

function replyError(r: Reply): Error {
  return r.ok ? new Error('ok') : new Error(`${r.error.code}: ${r.error.message}`);
}

// ---------------------------------------------------------------------------------------------------
// Raw WebSocket (/ws?token=JWT)

/** Split a raw-WS message into server frames ("\n"-separated JSON). */
export function parseRawFrames(data: string): ServerFrame[] {
  if (data.indexOf('\n') === -1) return [JSON.parse(data) as ServerFrame];
  const out: ServerFrame[] = [];
  let start = 0;
  for (let n = 0; n <= data.length && n < 1_000_000; n++) {
    const nl = data.indexOf('\n', start);
    const end = nl === -1 ? data.length : nl;
    if (end > start) out.push(JSON.parse(data.slice(start, end)) as ServerFrame);
    if (nl === -1) break;
    start = nl + 1;
  }
  return out;
}

/** One raw-WS connection with command/reply correlation. */
class RawConn {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (r: Reply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >();
  onPush: (f: ServerFrame) => void = () => {};
  onClose: (code: number, reason: string) => void = () => {};
  private welcomed: Promise<void>;

  constructor(
    readonly ws: WebSocket,
    private readonly ctx: LoadContext,
  ) {
    let gotWelcome!: () => void;
    this.welcomed = new Promise((r) => (gotWelcome = r));
    this.gotWelcome = gotWelcome;
    // Lean on purpose: at 80,000 deliveries/s this handler is most of the load generator's own CPU.
    ws.on('message', (data) => {
      let frames: ServerFrame[];
      try {
        frames = parseRawFrames(data.toString());
      } catch (e) {
        this.ctx.onAnomaly('bad-json', String(e));
        return;
      }
      for (const f of frames) this.onFrame(f);
    });
    ws.on('close', (code, reason) => {
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(`bench: connection closed (${code}) before the reply`));
      }
      this.pending.clear();
      this.onClose(code, reason.toString());
    });
  }

  private gotWelcome: () => void;

  private onFrame(f: ServerFrame): void {
    if (f.t === 'msg') {
      this.onPush(f);
      return;
    }
    if (f.t === 'reply') {
      const p = this.pending.get(f.re);
      if (p) {
        this.pending.delete(f.re);
        clearTimeout(p.timer);
        p.resolve(f);
      }
      return;
    }
    if (f.t === 'welcome') this.gotWelcome();
    this.onPush(f);
  }

  static open(url: string, ctx: LoadContext): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: CONNECT_TIMEOUT_MS });
      const conn = new RawConn(ws, ctx);
      ws.once('open', () => resolve(conn));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => {
        reject(new Error(`HTTP ${res.statusCode} on upgrade`));
        ws.terminate();
      });
    });
  }

  /** Resolves at the `welcome` push (the first frame), or after timeoutMs. */
  async waitWelcome(timeoutMs = CONNECT_TIMEOUT_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.welcomed,
      new Promise<void>((_, rej) => {
        timer = setTimeout(() => rej(new Error('no welcome frame')), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** Sends a command (id assigned here); resolves with the reply, rejects on timeout/close. */
  command(cmd: CommandWithoutId): Promise<Reply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`bench: no reply to ${cmd.op} within ${COMMAND_TIMEOUT_MS} ms`));
      }, COMMAND_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ ...cmd, id }));
    });
  }
}

function rawUrl(ctx: LoadContext, token: string): string {
  return `ws://${ctx.host}:${ctx.port}/ws?token=${encodeURIComponent(token)}`;
}

/** Client hooks for target (d): Qiao raw WebSocket gateway. */
export function qiaoRawClientHooks(): Pick<BenchTarget, 'setup' | 'connectSubscriber' | 'publish' | 'teardown'> {
  return {
    async setup(ctx) {
      const info = qiaoInfo(ctx);
      const conns: RawConn[] = [];
      for (let k = 0; k < Math.max(1, Math.min(64, info.publishers ?? 1)); k++) {
        const c = await RawConn.open(rawUrl(ctx, info.publisherToken), ctx);
        c.onPush = (f) => {
          if (f.t !== 'welcome') ctx.onAnomaly(`publisher-push-${f.t}`);
        };
        c.onClose = (code) => {
          if (!(ctx.state.qiaoPubClosing as boolean | undefined)) ctx.onAnomaly('publisher-closed', String(code));
        };
        await c.waitWelcome();
        conns.push(c);
      }
      ctx.state.qiaoPub = { conns, rr: 0 };
    },

    async connectSubscriber(i, ctx) {
      const info = qiaoInfo(ctx);
      const c = await RawConn.open(rawUrl(ctx, subscriberToken(info, i)), ctx);
      let subscribed = false;
      let closedByUs = false;
      c.onPush = (f) => handlePush(f, info.channel, i, ctx);
      c.onClose = (code, reason) => {
        if (subscribed && !closedByUs) ctx.onSubscriberLost(i, `close ${code} ${reason}`);
      };
      try {
        await c.waitWelcome();
        const r = await c.command({ op: 'subscribe', channel: info.channel });
        if (!r.ok) throw replyError(r);
      } catch (e) {
        c.ws.terminate();
        throw e;
      }
      subscribed = true;
      return {
        close() {
          closedByUs = true;
          c.ws.terminate();
        },
      } satisfies SubscriberHandle;
    },

    async publish(msg, ctx) {
      const info = qiaoInfo(ctx);
      const st = ctx.state.qiaoPub as { conns: RawConn[]; rr: number };
      const c = st.conns[st.rr++ % st.conns.length];
      const r = await c.command({ op: 'publish', channel: info.channel, kind: info.kind ?? 'note', payload: toQiaoPayload(msg) });
      if (!r.ok) throw replyError(r);
    },

    async teardown(ctx) {
      const st = ctx.state.qiaoPub as { conns: RawConn[] } | undefined;
      ctx.state.qiaoPubClosing = true;
      for (const c of st?.conns ?? []) c.ws.terminate();
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// socket.io (/socket.io/): event `cmd` with ack → Reply; pushes on `push` (Push | Push[])

export interface QiaoSocketIoOptions {
  /**
   * How the JWT travels in the socket.io handshake. Default: `{ auth: { token } }`. Adjust to whatever
   * the Qiao socket.io gateway reads (e.g. `{ query: { token } }`).
   */
  handshake?: (token: string) => { auth?: Record<string, unknown>; query?: Record<string, string> };
  path?: string;
}

function qiaoIo(ctx: LoadContext, token: string, opts: QiaoSocketIoOptions): IoSocket {
  const hs = opts.handshake ? opts.handshake(token) : { auth: { token } };
  return ioClient(`http://${ctx.host}:${ctx.port}`, {
    path: opts.path ?? '/socket.io/',
    transports: ['websocket'],
    forceNew: true, // one real connection per subscriber (no Manager multiplexing)
    reconnection: false,
    timeout: CONNECT_TIMEOUT_MS,
    ...hs,
  });
}

function ioConnected(s: IoSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('connect_error', (e) => {
      s.close();
      reject(e);
    });
  });
}

/** Emits `cmd` with an ack; resolves with the Reply, rejects on ack timeout (socket.io's own error). */
function ioCommand(s: IoSocket, cmd: Command): Promise<Reply> {
  return new Promise((resolve, reject) => {
    s.timeout(COMMAND_TIMEOUT_MS).emit('cmd', cmd, (err: Error | null, reply: Reply) => {
      if (err) reject(new Error(`bench: no ack to ${cmd.op}: ${err.message}`));
      else resolve(reply);
    });
  });
}

/** Client hooks for target (c): Qiao socket.io gateway. */
export function qiaoSocketIoClientHooks(
  opts: QiaoSocketIoOptions = {},
): Pick<BenchTarget, 'setup' | 'connectSubscriber' | 'publish' | 'teardown'> {
  return {
    async setup(ctx) {
      const info = qiaoInfo(ctx);
      const socks: IoSocket[] = [];
      for (let k = 0; k < Math.max(1, Math.min(64, info.publishers ?? 1)); k++) {
        const s = qiaoIo(ctx, info.publisherToken, opts);
        await ioConnected(s);
        s.on('disconnect', (reason) => {
          if (reason !== 'io client disconnect') ctx.onAnomaly('publisher-disconnect', reason);
        });
        socks.push(s);
      }
      ctx.state.qiaoPub = { socks, rr: 0, nextId: 1 };
    },

    async connectSubscriber(i, ctx) {
      const info = qiaoInfo(ctx);
      const s = qiaoIo(ctx, subscriberToken(info, i), opts);
      let subscribed = false;
      let closedByUs = false;
      s.on('push', (p: Push | Push[]) => {
        if (Array.isArray(p)) for (const f of p) handlePush(f, info.channel, i, ctx);
        else handlePush(p, info.channel, i, ctx);
      });
      s.on('disconnect', (reason) => {
        if (subscribed && !closedByUs) ctx.onSubscriberLost(i, reason);
      });
      try {
        await ioConnected(s);
        const r = await ioCommand(s, { op: 'subscribe', id: 1, channel: info.channel });
        if (!r.ok) throw replyError(r);
      } catch (e) {
        s.close();
        throw e;
      }
      subscribed = true;
      return {
        close() {
          closedByUs = true;
          s.close();
        },
      } satisfies SubscriberHandle;
    },

    async publish(msg, ctx) {
      const info = qiaoInfo(ctx);
      const st = ctx.state.qiaoPub as { socks: IoSocket[]; rr: number; nextId: number };
      const s = st.socks[st.rr++ % st.socks.length];
      const r = await ioCommand(s, {
        op: 'publish',
        id: st.nextId++,
        channel: info.channel,
        kind: info.kind ?? 'note',
        payload: toQiaoPayload(msg),
      });
      if (!r.ok) throw replyError(r);
    },

    async teardown(ctx) {
      const st = ctx.state.qiaoPub as { socks: IoSocket[] } | undefined;
      for (const s of st?.socks ?? []) s.close();
    },
  };
}
