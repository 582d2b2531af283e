/**
 * Raw WebSocket gateway (`/ws`) for programmatic clients (trading terminals, bots).
 * Thin transport over Session: authenticates from `?token=` or `Authorization: Bearer`, batches
 * outgoing frames per event-loop turn ("\n"-separated in one WebSocket message) and cuts off a
 * consumer whose unsent bytes exceed the configured limit.
 */
import type {} from '@fastify/websocket';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { TokenService } from '../auth/token.ts';
import { QiaoError, toQiaoError } from '../errors/codes.ts';
import type { Hub } from '../hub/hub.ts';
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

/**
 * Per flush cycle: sockets of the same channel usually hold the very same pending frames, so the joined
 * batch is built once and shared (keyed by the identity of its first frame, checked element-wise).
 */
export type JoinCache = Map<string | Buffer, Array<{ batch: Array<string | Buffer>; joined: Buffer }>>;

function joinShared(batch: Array<string | Buffer>, cache: JoinCache | undefined): Buffer {
  if (!cache) return joinFrames(batch);
  const candidates = cache.get(batch[0]);
  if (candidates) {
    for (const c of candidates) {
      if (c.batch.length === batch.length && c.batch.every((f, i) => f === batch[i])) return c.joined;
    }
  }
  const joined = joinFrames(batch);
  if (candidates) candidates.push({ batch, joined });
  else cache.set(batch[0], [{ batch, joined }]);
  return joined;
}

function joinFrames(batch: Array<string | Buffer>): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < batch.length; i++) {
    if (i > 0) parts.push(NEWLINE);
    const f = batch[i];
    parts.push(typeof f === 'string' ? Buffer.from(f) : f);
  }
  return Buffer.concat(parts);
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

  flush(cache?: JoinCache): void {
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    if (this.ws.readyState !== OPEN) return;
    if (this.ws.bufferedAmount > this.opts.slowConsumerBytes) {
      this.opts.metrics.slowConsumers.inc({ transport: 'ws' });
      closeWithError(this.ws, new QiaoError('QIAO_SLOW_CONSUMER'));
      return;
    }
    // Text frames either way (binary: false): a shared Buffer is sent as-is, without a per-socket copy.
    this.ws.send(batch.length === 1 ? batch[0] : joinShared(batch, cache), { binary: false });
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

export async function websocketGateway(app: FastifyInstance, opts: WsGatewayOptions): Promise<void> {
  app.get('/ws', { websocket: true, schema: { hide: true } as never }, (ws: WebSocket, req: FastifyRequest) => {
    // Take what is needed from the upgrade request now and keep no reference to it: the request graph
    // (IncomingMessage, reply, headers) can then be collected while the socket lives on.
    const log = req.log;
    const token = tokenFromRequest(req);
    // Buffer frames that arrive while the token is being verified, so none is lost or reordered.
    const early: string[] = [];
    let session: Session | null = null;
    let port: WsPort | null = null;
    let chain = Promise.resolve();
    const onText = (text: string) => {
      const s = session!;
      chain = chain.then(() => s.handleText(text)).catch((err) => log.error({ err }, 'ws frame failed'));
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
    ws.on('error', (err) => log.debug({ err }, 'ws error'));

    if (opts.registry.draining) {
      closeWithError(ws, new QiaoError('QIAO_DRAINING'));
      return;
    }
    opts.tokens.verify(token).then(
      (principal) => {
        if (ws.readyState !== OPEN) return;
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
