/**
 * Raw WebSocket gateway (`/ws`) for programmatic clients (trading terminals, bots).
 * Thin transport over Session: authenticates from `?token=` or `Authorization: Bearer`, batches the
 * session's own frames per event-loop turn ("\n"-separated in one WebSocket message), writes the hub's
 * shared channel frames pre-framed, and cuts off a consumer whose unsent bytes exceed the configured limit.
 */
import type {} from '@fastify/websocket';
import { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { TokenService } from '../auth/token.ts';
import { QiaoError, toQiaoError } from '../errors/codes.ts';
import type { Hub, SharedFrame } from '../hub/hub.ts';
import type { Metrics } from '../metrics.ts';
import type { MsgPush, Push, Reply, WelcomePush } from './protocol.ts';
import { Session, type SessionDeps, type TransportPort } from './session.ts';
import type { SessionRegistry } from './session-registry.ts';

export interface WsGatewayOptions {
  sessionDeps: SessionDeps;
  tokens: TokenService;
  hub: Hub;
  registry: SessionRegistry;
  metrics: Metrics;
  nodeId: string;
  slowConsumerBytes: number;
  /** Base URLs of the deployment's nodes, advertised in the welcome (config.publicNodes). */
  publicNodes?: readonly string[];
}

const OPEN = 1;

export function tokenFromRequest(req: FastifyRequest): string | undefined {
  const q = (req.query as Record<string, unknown> | undefined)?.token;
  if (typeof q === 'string' && q) return q;
  const h = req.headers.authorization;
  if (h?.startsWith('Bearer ')) return h.slice(7);
  return undefined;
}

/** Closes with the error's WebSocket code; the reason carries the stable code so clients can act on it. */
export function closeWithError(ws: WebSocket, e: QiaoError): void {
  try {
    ws.close(e.wsClose, e.code);
  } catch {
    ws.terminate();
  }
}

const NEWLINE = Buffer.from('\n');

function joinFrames(batch: Array<string | Buffer>): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < batch.length; i++) {
    if (i > 0) parts.push(NEWLINE);
    const f = batch[i];
    parts.push(typeof f === 'string' ? Buffer.from(f) : f);
  }
  return Buffer.concat(parts);
}

/**
 * One complete WebSocket text frame (RFC 6455 §5.2: FIN, opcode 1, unmasked as a server sends it,
 * 7/16/64-bit length), header and payload in one Buffer.
 */
export function encodeTextFrame(text: Buffer): Buffer {
  const n = text.length;
  const head = n < 126 ? 2 : n < 65_536 ? 4 : 10;
  const out = Buffer.allocUnsafe(head + n);
  out[0] = 0x81;
  if (n < 126) out[1] = n;
  else if (n < 65_536) {
    out[1] = 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 127;
    out.writeUInt32BE(Math.floor(n / 2 ** 32), 2);
    out.writeUInt32BE(n >>> 0, 6);
  }
  text.copy(out, head);
  return out;
}

/** The parts of a `ws` WebSocket the shared-frame fast path relies on (ws 8 internals, checked at run time). */
interface WsInternals {
  _socket?: { write(b: Buffer): boolean; writable?: boolean } | null;
  _sender?: { _state?: number; _queue?: unknown[] };
  _extensions?: Record<string, unknown>;
}

/**
 * Whether a pre-framed buffer may be written straight to the socket: only when `ws` itself has nothing
 * queued (its sender is idle), no extension (permessage-deflate) rewrites frames, and the internals
 * look as expected; otherwise the caller falls back to `ws.send`, which keeps the order either way.
 */
function rawSocketOf(ws: WebSocket): { write(b: Buffer): boolean } | null {
  const w = ws as unknown as WsInternals;
  const sock = w._socket;
  const sender = w._sender;
  if (!sock || typeof sock.write !== 'function' || sock.writable === false) return null;
  if (!sender || sender._state !== 0 || !Array.isArray(sender._queue) || sender._queue.length !== 0) return null;
  // Any negotiated extension (we never offer one, but a misconfiguration could) disables the fast path.
  for (const _ in w._extensions) return null;
  return sock;
}

class WsPort implements TransportPort {
  readonly kind = 'ws' as const;
  private pending: Array<string | Buffer> = [];
  session!: Session;

  constructor(
    private readonly ws: WebSocket,
    private readonly opts: WsGatewayOptions,
  ) {}

  private enqueue(text: string | Buffer): void {
    if (this.ws.readyState !== OPEN) return;
    this.pending.push(text);
    if (this.pending.length === 1) this.opts.hub.markDirty(this);
  }

  sendReply(reply: Reply): void {
    this.enqueue(JSON.stringify(reply));
  }

  sendPush(push: Push): void {
    this.enqueue(JSON.stringify(push));
  }

  sendMsg(frame: string | Buffer, _push: MsgPush): void {
    this.enqueue(frame);
  }

  flush(): void {
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    if (!this.writable()) return;
    // Text frames either way (binary: false): a Buffer is sent as-is, without a copy.
    this.ws.send(batch.length === 1 ? batch[0] : joinFrames(batch), { binary: false });
  }

  /** A channel batch shared by all raw WebSockets of the channel: framed once, written as one buffer. */
  sendShared(frame: SharedFrame): void {
    // This session's own frames of the turn (replies, recovery) were flushed just before; keep it so.
    if (this.pending.length > 0) this.flush();
    if (!this.writable()) return;
    const sock = rawSocketOf(this.ws);
    if (sock) sock.write((frame.wire ??= encodeTextFrame(frame.text)));
    else this.ws.send(frame.text, { binary: false });
  }

  /** Open and keeping up; a consumer whose unsent bytes passed the limit is cut off here. */
  private writable(): boolean {
    if (this.ws.readyState !== OPEN) return false;
    if (this.ws.bufferedAmount > this.opts.slowConsumerBytes) {
      this.opts.metrics.slowConsumers.inc({ transport: 'ws' });
      closeWithError(this.ws, new QiaoError('QIAO_SLOW_CONSUMER'));
      return false;
    }
    return true;
  }

  close(code: number, reason: string): void {
    this.flush();
    try {
      this.ws.close(code, reason.slice(0, 120));
    } catch {
      this.ws.terminate();
    }
  }
}

/**
 * @fastify/websocket routes the upgrade through fastify with a ServerResponse attached to the TCP socket
 * and an `error` listener on the WebSocket that closes over the fastify request and reply; both keep the
 * upgrade's IncomingMessage, ServerResponse, Request/Reply and their logger reachable for the life of
 * the connection (most of the gateway's memory per connection). Once upgraded none of it is needed:
 * detach the response from the socket and replace the listener.
 */
function releaseUpgrade(ws: WebSocket, req: FastifyRequest, onError: (err: Error) => void): void {
  ws.removeAllListeners('error');
  ws.on('error', onError);
  const tcp = req.raw.socket as (Socket & { _httpMessage?: unknown }) | undefined;
  const res = tcp?._httpMessage;
  if (res instanceof ServerResponse && res.socket === tcp) res.detachSocket(tcp);
}

export async function websocketGateway(app: FastifyInstance, opts: WsGatewayOptions): Promise<void> {
  app.get('/ws', { websocket: true, schema: { hide: true } as never }, (ws: WebSocket, req: FastifyRequest) => {
    // Take what is needed from the upgrade request now and keep no reference to it, then cut the links
    // that would keep the request's whole lifecycle alive as long as the socket (see releaseUpgrade).
    const log = app.log;
    const reqId = req.id;
    const token = tokenFromRequest(req);
    releaseUpgrade(ws, req, (err) => {
      log.warn({ err, reqId }, 'ws error');
      ws.terminate();
    });
    // Buffer frames that arrive while the token is being verified, so none is lost or reordered.
    const early: string[] = [];
    let session: Session | null = null;
    let port: WsPort | null = null;
    let chain = Promise.resolve();
    const onText = (text: string) => {
      const s = session!;
      chain = chain.then(() => s.handleText(text)).catch((err) => log.error({ err, reqId }, 'ws frame failed'));
    };
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        const err = new QiaoError('QIAO_BAD_REQUEST', 'Binary frames are not supported; send JSON text');
        if (port) port.sendReply({ t: 'reply', re: 0, ok: false, error: err.toJSON() });
        return;
      }
      const text = data.toString();
      if (session) onText(text);
      else early.push(text);
    });

    if (opts.registry.draining) {
      closeWithError(ws, new QiaoError('QIAO_DRAINING'));
      return;
    }
    opts.tokens.verify(token).then(
      (principal) => {
        if (ws.readyState !== OPEN) return;
        // A role that must enrol TOTP gets no live connection until it has (docs/accounts.md).
        if (principal.totpPending) return closeWithError(ws, new QiaoError('QIAO_TOTP_ENROLMENT_REQUIRED'));
        port = new WsPort(ws, opts);
        session = new Session(principal, port, opts.sessionDeps);
        port.session = session;
        opts.registry.add(session);
        opts.metrics.connections.inc({ transport: 'ws' });
        const welcome: WelcomePush = {
          t: 'welcome',
          node: opts.nodeId,
          user: { id: principal.id, role: principal.role, displayName: principal.displayName },
          limits: { maxPayloadBytes: opts.sessionDeps.limits.maxPayloadBytes, maxSubscriptions: opts.sessionDeps.limits.maxSubscriptions },
          nodes: [...(opts.publicNodes ?? [])],
        };
        port.sendPush(welcome);
        const s = session;
        ws.once('close', () => {
          opts.registry.delete(s);
          opts.metrics.connections.dec({ transport: 'ws' });
          void s.onClosed();
        });
        for (const t of early.splice(0)) onText(t);
      },
      (e) => closeWithError(ws, toQiaoError(e)),
    );
  });
}
