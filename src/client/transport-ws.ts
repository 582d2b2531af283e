/**
 * Raw WebSocket transport: `${url}/ws?token=…`. The server may pack several frames into one message,
 * separated by "\n"; each command goes out as one message. Works with the browser's WebSocket and
 * with the `ws` package in Node (pass its constructor).
 */
import type { Command, ServerFrame } from '../gateway/protocol.ts';
import { CLOSE_ABNORMAL, errorCodeIn, type Transport, type TransportSink } from './transport.ts';

/** The part of the WebSocket API the client uses (browser WebSocket and `ws` both have it). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'message' | 'close' | 'error', listener: (event: any) => void): void;
}
export type WebSocketCtor = new (url: string) => WebSocketLike;

const OPEN = 1;
const CLOSED = 3;

/** `http://host:3000` → `ws://host:3000/ws?token=…` (https → wss; ws/wss URLs are kept). */
export function wsUrl(base: string, token: string): string {
  const u = new URL(base);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  u.pathname = u.pathname.replace(/\/+$/, '') + '/ws';
  u.search = '';
  u.hash = '';
  u.searchParams.set('token', token);
  return u.toString();
}

export class WsTransport implements Transport {
  private readonly ws: WebSocketLike;
  private closed = false;
  private readonly closedPromise: Promise<void>;
  private resolveClosed!: () => void;

  constructor(Ctor: WebSocketCtor, url: string, token: string, private readonly sink: TransportSink) {
    this.closedPromise = new Promise((r) => (this.resolveClosed = r));
    this.ws = new Ctor(wsUrl(url, token));
    this.ws.addEventListener('message', (ev: { data: unknown }) => this.onMessage(ev.data));
    // Errors are always followed by a close event, which is what the client acts on.
    this.ws.addEventListener('error', () => {});
    this.ws.addEventListener('close', (ev: { code?: number; reason?: unknown }) => {
      const reason = typeof ev.reason === 'string' ? ev.reason : String(ev.reason ?? '');
      this.finish(ev.code ?? CLOSE_ABNORMAL, reason);
    });
  }

  private onMessage(data: unknown): void {
    if (this.closed) return;
    if (typeof data !== 'string') {
      this.sink.onProtocolError('Binary message received; the protocol is JSON text');
      return;
    }
    const frames: ServerFrame[] = [];
    for (const line of data.split('\n')) {
      if (!line) continue;
      try {
        frames.push(JSON.parse(line) as ServerFrame);
      } catch {
        this.sink.onProtocolError('Malformed JSON frame from the server');
      }
    }
    if (frames.length) this.sink.onFrames(frames);
  }

  private finish(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.sink.onClose({ code, reason, errorCode: errorCodeIn(reason) });
    this.resolveClosed();
  }

  send(cmd: Command): void {
    if (this.closed || this.ws.readyState !== OPEN) throw new Error('WebSocket is not open');
    this.ws.send(JSON.stringify(cmd));
  }

  close(code = 1000, reason = 'client closed'): Promise<void> {
    if (this.closed || this.ws.readyState === CLOSED) {
      this.finish(code, reason);
      return this.closedPromise;
    }
    try {
      this.ws.close(code, reason);
    } catch {
      this.finish(code, reason);
    }
    return this.closedPromise;
  }
}
