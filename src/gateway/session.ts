/**
 * One connected client, whatever its transport: parses and validates commands, authorises them from
 * the channel catalogue on every call, enforces the per-connection limits (frame size, subscription
 * count, command rate), and talks to the hub. Transports (websocket.ts, socketio.ts) only move bytes.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { authorizeSubscribe, type AccessContext } from '../../channels/catalogue.ts';
import type { Principal } from '../auth/principal.ts';
import { MAX_JSON_DEPTH, jsonDepthExceeds } from '../domain/json-depth.ts';
import { QiaoError, toQiaoError } from '../errors/codes.ts';
import type { Hub, HubSession, SharedFrame } from '../hub/hub.ts';
import type { Publisher } from '../hub/publisher.ts';
import type { Command, GapPush, MsgPush, Push, Reply, SignalPush, UnsubscribedPush } from './protocol.ts';

export interface SessionLimits {
  maxPayloadBytes: number;
  maxSubscriptions: number;
  ratePerS: number;
  burst: number;
}

/** What a transport provides to the session. */
export interface TransportPort {
  readonly kind: 'ws' | 'socketio';
  sendReply(reply: Reply, ack?: (r: Reply) => void): void;
  sendPush(push: Push): void;
  /** ws: queue pre-encoded text for the batched flush; socketio: emit the object. */
  sendMsg(frame: string | Buffer, push: MsgPush): void;
  /** ws: a channel batch shared by every raw WebSocket of the channel (see Hub). */
  sendShared?(frame: SharedFrame): void;
  close(code: number, reason: string): void;
  joinRoom?(room: string): void;
  leaveRoom?(room: string): void;
}

export interface SessionDeps {
  hub: Hub;
  publisher: Publisher;
  access: AccessContext;
  logger: FastifyBaseLogger;
  limits: SessionLimits;
  /** Commands served outside the core (typing, presence, receipts: src/conversations/live.ts). */
  extraOps?: Record<string, (s: Session, cmd: Record<string, unknown>) => Promise<unknown>>;
  /**
   * Bumped whenever access was revoked somewhere: a subscribe authorised before a revocation and
   * registered after it is checked again, so it cannot slip past the revocation.
   */
  accessEpoch?: () => number;
}

/** Refused commands in a row beyond the burst after which the connection is closed as abusive. */
const ABUSE_FACTOR = 5;

export class Session implements HubSession {
  readonly id = randomUUID();
  readonly transport: 'ws' | 'socketio';
  readonly subscriptions = new Set<string>();
  private tokens: number;
  private lastRefill = Date.now();
  private refusedInARow = 0;
  private closed = false;

  constructor(
    readonly principal: Principal,
    private readonly port: TransportPort,
    private readonly d: SessionDeps,
  ) {
    this.transport = port.kind;
    this.tokens = d.limits.burst;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get userId(): string {
    return this.principal.id;
  }

  sendSignal(push: SignalPush): void {
    if (!this.closed) this.port.sendPush(push);
  }

  deliverEncoded(frame: string | Buffer, push: MsgPush): void {
    if (!this.closed) this.port.sendMsg(frame, push);
  }

  deliverShared(frame: SharedFrame): void {
    if (!this.closed) this.port.sendShared?.(frame);
  }

  sendGap(gap: GapPush): void {
    if (!this.closed) this.port.sendPush(gap);
  }

  joinRoom(room: string): void {
    this.port.joinRoom?.(room);
  }

  leaveRoom(room: string): void {
    this.port.leaveRoom?.(room);
  }

  push(p: Push): void {
    if (!this.closed) this.port.sendPush(p);
  }

  private takeToken(): boolean {
    const now = Date.now();
    const refill = ((now - this.lastRefill) / 1000) * this.d.limits.ratePerS;
    if (refill > 0) {
      this.tokens = Math.min(this.d.limits.burst, this.tokens + refill);
      this.lastRefill = now;
    }
    if (this.tokens >= 1) {
      this.tokens -= 1;
      this.refusedInARow = 0;
      return true;
    }
    this.refusedInARow++;
    return false;
  }

  /** Handles one raw text frame (raw WebSocket). */
  async handleText(text: string): Promise<void> {
    if (Buffer.byteLength(text) > this.d.limits.maxPayloadBytes) {
      return this.replyError(sniffId(text), new QiaoError('QIAO_PAYLOAD_TOO_LARGE', `Frame exceeds ${this.d.limits.maxPayloadBytes} bytes`));
    }
    let cmd: unknown;
    try {
      cmd = JSON.parse(text);
    } catch {
      return this.replyError(sniffId(text), new QiaoError('QIAO_BAD_JSON'));
    }
    return this.handleCommand(cmd);
  }

  /** Handles one parsed command (socket.io passes objects; raw WS after JSON.parse). */
  async handleCommand(cmd: unknown, ack?: (r: Reply) => void): Promise<void> {
    const id = isObject(cmd) && typeof cmd.id === 'number' && Number.isSafeInteger(cmd.id) ? cmd.id : null;
    if (!this.takeToken()) {
      this.replyError(id, new QiaoError('QIAO_RATE_LIMITED'), ack);
      if (this.refusedInARow > this.d.limits.burst * ABUSE_FACTOR) {
        this.close(new QiaoError('QIAO_RATE_LIMITED').wsClose, 'rate limit exceeded repeatedly');
      }
      return;
    }
    try {
      // First, before anything walks the command: deep nesting overflows recursive code further on.
      if (jsonDepthExceeds(cmd, MAX_JSON_DEPTH)) {
        throw new QiaoError('QIAO_PAYLOAD_TOO_DEEP', `A command may nest objects and arrays at most ${MAX_JSON_DEPTH} levels deep`);
      }
      if (!isObject(cmd)) throw new QiaoError('QIAO_BAD_REQUEST', 'A command must be a JSON object');
      if (id === null) throw new QiaoError('QIAO_BAD_REQUEST', '"id" must be an integer');
      const result = await this.dispatch(cmd as unknown as Command);
      this.port.sendReply({ t: 'reply', re: id, ok: true, result }, ack);
    } catch (e) {
      this.replyError(id, e, ack);
    }
  }

  private async dispatch(cmd: Command): Promise<unknown> {
    switch (cmd.op) {
      case 'ping':
        return { time: new Date().toISOString() };
      case 'subscribe': {
        if (cmd.since !== undefined && (typeof cmd.since !== 'number' || !Number.isSafeInteger(cmd.since) || cmd.since < 0)) {
          throw new QiaoError('QIAO_BAD_REQUEST', '"since" must be a non-negative integer offset');
        }
        const epoch = this.d.accessEpoch?.();
        const r = await authorizeSubscribe(this.principal, cmd.channel, this.d.access);
        const name = r.parsed.name;
        if (this.subscriptions.has(name)) throw new QiaoError('QIAO_ALREADY_SUBSCRIBED');
        if (this.subscriptions.size >= this.d.limits.maxSubscriptions) {
          throw new QiaoError('QIAO_TOO_MANY_SUBSCRIPTIONS', `At most ${this.d.limits.maxSubscriptions} subscriptions per connection`);
        }
        this.subscriptions.add(name);
        try {
          const res = await this.d.hub.subscribe(this, r, cmd.since);
          if (this.closed) {
            await this.d.hub.unsubscribe(this, name);
            throw new QiaoError('QIAO_UNAVAILABLE', 'Connection closed');
          }
          if (epoch !== this.d.accessEpoch?.()) {
            await authorizeSubscribe(this.principal, name, this.d.access).catch(async (e) => {
              await this.d.hub.unsubscribe(this, name);
              throw e;
            });
          }
          return { channel: name, ...res };
        } catch (e) {
          this.subscriptions.delete(name);
          throw e;
        }
      }
      case 'unsubscribe': {
        if (typeof cmd.channel !== 'string' || !this.subscriptions.has(cmd.channel)) throw new QiaoError('QIAO_NOT_SUBSCRIBED');
        this.subscriptions.delete(cmd.channel);
        await this.d.hub.unsubscribe(this, cmd.channel);
        return { channel: cmd.channel };
      }
      case 'publish': {
        const out = await this.d.publisher.submit(this.principal, {
          channel: cmd.channel,
          kind: cmd.kind,
          payload: cmd.payload,
        });
        // firm.broadcast: stored for compliance approval, delivered once approved.
        if ('pending' in out) return { channel: out.channel, pending: true, approvalId: out.approvalId };
        return { channel: out.pub.channel, id: out.pub.id, offset: out.pub.offset, ...(out.dlp ? { dlp: out.dlp } : {}) };
      }
      default: {
        const op = (cmd as { op?: unknown }).op;
        const extra = typeof op === 'string' && this.d.extraOps && Object.hasOwn(this.d.extraOps, op) ? this.d.extraOps[op] : undefined;
        if (extra) return extra(this, cmd as unknown as Record<string, unknown>);
        throw new QiaoError('QIAO_UNKNOWN_OP', `Unknown op "${String(op)}"`);
      }
    }
  }

  private replyError(id: number | null, e: unknown, ack?: (r: Reply) => void): void {
    const err = toQiaoError(e);
    if (err.code === 'QIAO_INTERNAL') this.d.logger.error({ err: e, session: this.id }, 'command failed');
    this.port.sendReply({ t: 'reply', re: id ?? 0, ok: false, error: err.toJSON() }, ack);
  }

  /** Server-side removal of a subscription (e.g. access revoked); the client is told why. */
  async revoke(channel: string, code: QiaoError): Promise<void> {
    if (!this.subscriptions.delete(channel)) return;
    await this.d.hub.unsubscribe(this, channel);
    const p: UnsubscribedPush = { t: 'unsubscribed', channel, error: code.toJSON() };
    this.push(p);
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.port.close(code, reason);
  }

  /** Called by the transport once the connection is gone. */
  async onClosed(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const subs = [...this.subscriptions];
    this.subscriptions.clear();
    for (const ch of subs) await this.d.hub.unsubscribe(this, ch);
  }
}

/**
 * Best-effort command id of a frame that is not parsed (too large, or broken JSON), so the client can
 * match the error to its command. Looks only at the frame's start; null when not found.
 */
function sniffId(text: string): number | null {
  const m = /"id"\s*:\s*(\d{1,15})\s*[,}]/.exec(text.slice(0, 256));
  return m ? Number(m[1]) : null;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
