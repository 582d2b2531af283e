/**
 * socket.io transport: `io(url, { auth: { token }, transports: ['websocket'] })`. Commands are the
 * `cmd` event with an ack (the Reply); pushes arrive on `push`, one Push or an array. The server
 * announces why it closes with a `closing` event ({ code, reason }) before disconnecting, and refuses
 * a handshake with a connect_error whose `data` is the error body.
 *
 * The client library owns reconnection, so the socket.io manager's own reconnection is turned off and
 * every attempt is a fresh socket (with a fresh token).
 */
import type { Command, Reply, ServerFrame } from '../gateway/protocol.ts';
import { CLOSE_ABNORMAL, HANDSHAKE_CLOSE_CODES, errorCodeIn, type Transport, type TransportSink } from './transport.ts';

/** The part of a socket.io-client Socket the client uses. */
export interface SocketIoLike {
  on(event: string, listener: (...args: any[]) => void): unknown;
  emit(event: string, ...args: any[]): unknown;
  disconnect(): unknown;
}
/** socket.io-client's `io` function (or anything with its call signature). */
export type IoFactory = (url: string, opts: any) => SocketIoLike;

export class SocketIoTransport implements Transport {
  private readonly socket: SocketIoLike;
  private closed = false;
  private closing: { code: number; reason: string } | null = null;
  private readonly closedPromise: Promise<void>;
  private resolveClosed!: () => void;

  constructor(io: IoFactory, url: string, token: string, private readonly sink: TransportSink) {
    this.closedPromise = new Promise((r) => (this.resolveClosed = r));
    this.socket = io(url, {
      auth: { token },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
    });
    this.socket.on('push', (p: unknown) => {
      if (this.closed) return;
      const frames = (Array.isArray(p) ? p : [p]).filter((f): f is ServerFrame => typeof f === 'object' && f !== null);
      if (frames.length) this.sink.onFrames(frames);
    });
    this.socket.on('closing', (c: { code?: unknown; reason?: unknown } | undefined) => {
      if (typeof c?.code === 'number') this.closing = { code: c.code, reason: typeof c.reason === 'string' ? c.reason : '' };
    });
    this.socket.on('connect_error', (err: { message?: string; data?: { code?: unknown; message?: unknown } } | undefined) => {
      const code = typeof err?.data?.code === 'string' ? err.data.code : undefined;
      const message = typeof err?.data?.message === 'string' ? err.data.message : (err?.message ?? 'connect error');
      this.finish({ code: (code && HANDSHAKE_CLOSE_CODES[code]) || CLOSE_ABNORMAL, reason: code ?? message, errorCode: code });
      this.socket.disconnect();
    });
    this.socket.on('disconnect', (reason: string) => {
      const c = this.closing;
      if (c) this.finish({ code: c.code, reason: c.reason, errorCode: errorCodeIn(c.reason) });
      else this.finish({ code: reason === 'io client disconnect' ? 1000 : CLOSE_ABNORMAL, reason });
    });
  }

  private finish(info: { code: number; reason: string; errorCode?: string }): void {
    if (this.closed) return;
    this.closed = true;
    this.sink.onClose(info);
    this.resolveClosed();
  }

  send(cmd: Command): void {
    if (this.closed) throw new Error('socket is closed');
    this.socket.emit('cmd', cmd, (reply: Reply) => {
      if (this.closed) return;
      // The ack belongs to this command whatever `re` says (the server uses 0 when it could not read the id).
      this.sink.onFrames([{ ...reply, re: cmd.id }]);
    });
  }

  close(code = 1000, reason = 'client closed'): Promise<void> {
    if (!this.closed) {
      this.finish({ code, reason });
      this.socket.disconnect();
    }
    return this.closedPromise;
  }
}
