/**
 * socket.io gateway for browsers. Commands are the `cmd` event with an ack; pushes are the `push`
 * event. Publications are broadcast to a per-channel room on this node only (`io.local`): the hub
 * already receives each publication from the bus once per node, so no socket.io adapter is needed
 * between nodes, and socket.io encodes each broadcast once for all sockets in the room.
 */
import type { FastifyInstance } from 'fastify';
import { Server as IoServer, type Socket } from 'socket.io';
import type { TokenService } from '../auth/token.ts';
import { QiaoError, toQiaoError } from '../errors/codes.ts';
import type { Hub } from '../hub/hub.ts';
import type { Metrics } from '../metrics.ts';
import type { MsgPush, Push, Reply, WelcomePush } from './protocol.ts';
import { Session, type SessionDeps, type TransportPort } from './session.ts';
import type { SessionRegistry } from './session-registry.ts';

export interface SocketIoGatewayOptions {
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

const ROOM_PREFIX = 'ch:';

class SioPort implements TransportPort {
  readonly kind = 'socketio' as const;
  constructor(private readonly socket: Socket) {}

  sendReply(reply: Reply, ack?: (r: Reply) => void): void {
    if (ack) ack(reply);
    else this.socket.emit('push', reply);
  }

  sendPush(push: Push): void {
    this.socket.emit('push', push);
  }

  sendMsg(_frame: string | Buffer, push: MsgPush): void {
    this.socket.emit('push', push);
  }

  close(code: number, reason: string): void {
    // socket.io has no close code: tell the client first, then disconnect.
    this.socket.emit('closing', { code, reason });
    this.socket.disconnect(true);
  }

  joinRoom(room: string): void {
    this.socket.join(ROOM_PREFIX + room);
  }

  leaveRoom(room: string): void {
    this.socket.leave(ROOM_PREFIX + room);
  }

  /** Bytes and packets not yet written to the network for this socket. */
  backlogBytes(): number {
    const conn = this.socket.conn as unknown as {
      writeBuffer?: unknown[];
      transport?: { socket?: { bufferedAmount?: number } };
    };
    return (conn.transport?.socket?.bufferedAmount ?? 0) + (conn.writeBuffer?.length ?? 0) * 256;
  }
}

export function socketIoGateway(app: FastifyInstance, opts: SocketIoGatewayOptions): IoServer {
  const limits = opts.sessionDeps.limits;
  // @fastify/websocket routes every HTTP upgrade through fastify, which answers 404 for /socket.io/
  // (not a fastify route) and breaks socket.io's websocket transport. Keep those upgrades for engine.io.
  for (const l of app.server.listeners('upgrade') as Array<(...args: unknown[]) => void>) {
    app.server.removeListener('upgrade', l);
    app.server.on('upgrade', (req: { url?: string }, ...rest: unknown[]) => {
      if (!req.url?.startsWith('/socket.io/')) l.call(app.server, req, ...rest);
    });
  }
  const io = new IoServer(app.server, {
    path: '/socket.io/',
    serveClient: false,
    // Hard cap well above the soft per-frame limit, so an oversized command still gets an error reply.
    maxHttpBufferSize: limits.maxPayloadBytes * 4,
    perMessageDeflate: false,
    pingInterval: 20_000,
    pingTimeout: 20_000,
    cors: { origin: false },
  });
  opts.hub.setRoomBroadcast((room, push) => io.local.to(ROOM_PREFIX + room).emit('push', push));

  io.use((socket, next) => {
    if (opts.registry.draining) return next(withData(new QiaoError('QIAO_DRAINING')));
    const auth = socket.handshake.auth as { token?: unknown } | undefined;
    const header = socket.handshake.headers.authorization;
    const token = typeof auth?.token === 'string' ? auth.token : header?.startsWith('Bearer ') ? header.slice(7) : undefined;
    opts.tokens.verify(token).then(
      (p) => {
        // A role that must enrol TOTP gets no live connection until it has (docs/accounts.md).
        if (p.totpPending) return next(withData(new QiaoError('QIAO_TOTP_ENROLMENT_REQUIRED')));
        socket.data.principal = p;
        next();
      },
      (e) => next(withData(toQiaoError(e))),
    );
  });

  io.on('connection', (socket) => {
    const port = new SioPort(socket);
    const session = new Session(socket.data.principal, port, opts.sessionDeps);
    opts.registry.add(session);
    opts.metrics.connections.inc({ transport: 'socketio' });
    const welcome: WelcomePush = {
      t: 'welcome',
      node: opts.nodeId,
      user: { id: session.principal.id, role: session.principal.role, displayName: session.principal.displayName },
      limits: { maxPayloadBytes: limits.maxPayloadBytes, maxSubscriptions: limits.maxSubscriptions },
      nodes: [...(opts.publicNodes ?? [])],
    };
    socket.emit('push', welcome);
    let chain = Promise.resolve();
    socket.on('cmd', (cmd: unknown, ack?: unknown) => {
      const cb = typeof ack === 'function' ? (ack as (r: Reply) => void) : undefined;
      const size = Buffer.byteLength(safeStringify(cmd));
      chain = chain
        .then(() =>
          size > limits.maxPayloadBytes
            ? port.sendReply(
                { t: 'reply', re: 0, ok: false, error: new QiaoError('QIAO_PAYLOAD_TOO_LARGE', `Command exceeds ${limits.maxPayloadBytes} bytes`).toJSON() },
                cb,
              )
            : session.handleCommand(cmd, cb),
        )
        .catch((err) => app.log.error({ err }, 'socket.io command failed'));
    });
    socket.on('disconnect', () => {
      opts.registry.delete(session);
      opts.metrics.connections.dec({ transport: 'socketio' });
      void session.onClosed();
    });
  });

  // Slow consumers: socket.io has no per-send hook for room broadcasts, so sweep periodically.
  const sweep = setInterval(() => {
    for (const [, socket] of io.of('/').sockets) {
      const conn = socket.conn as unknown as { writeBuffer?: unknown[]; transport?: { socket?: { bufferedAmount?: number } } };
      const bytes = (conn.transport?.socket?.bufferedAmount ?? 0) + (conn.writeBuffer?.length ?? 0) * 256;
      if (bytes > opts.slowConsumerBytes) {
        opts.metrics.slowConsumers.inc({ transport: 'socketio' });
        socket.emit('closing', { code: new QiaoError('QIAO_SLOW_CONSUMER').wsClose, reason: 'QIAO_SLOW_CONSUMER' });
        socket.disconnect(true);
      }
    }
  }, 1000);
  sweep.unref();
  app.addHook('onClose', async () => {
    clearInterval(sweep);
  });
  return io;
}

function withData(e: QiaoError): Error & { data: unknown } {
  const err = new Error(e.message) as Error & { data: unknown };
  err.data = e.toJSON();
  return err;
}

function safeStringify(v: unknown): string {
  try {
    return JSON.stringify(v) ?? '';
  } catch {
    return '';
  }
}
