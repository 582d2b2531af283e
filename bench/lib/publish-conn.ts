/**
 * Minimal Qiao socket clients for the publish benchmark (bench/publish.bench.ts): one connection per
 * user, raw WebSocket (`/ws`) or socket.io (`/socket.io/`), with fire-and-forget commands whose reply
 * arrives in a callback (the load generator publishes open-loop, so it never awaits a publish) and a
 * push callback. Speaks src/gateway/protocol.ts; raw-WS messages are split with parseRawFrames (several
 * frames may share one message).
 */
import { type Socket as IoSocket, io as ioClient } from 'socket.io-client';
import { WebSocket } from 'ws';
import type { Command, Push, Reply, ServerFrame } from '../../src/gateway/protocol.ts';
import { parseRawFrames } from './qiao-client.ts';

export type Transport = 'ws' | 'io';
/** `Command` minus `id`, per union member. */
export type CommandWithoutId = Command extends infer C ? (C extends Command ? Omit<C, 'id'> : never) : never;
export type ReplyCallback = (r: Reply) => void;

const CONNECT_TIMEOUT_MS = 15_000;
const COMMAND_TIMEOUT_MS = 30_000;

/** The reply a pending command gets when its connection closes first (not a Qiao code). */
export function disconnectedReply(re: number, why: string): Reply {
  return { t: 'reply', re, ok: false, error: { code: 'BENCH_DISCONNECTED' as never, message: why } };
}

export interface BenchConn {
  readonly transport: Transport;
  /** Sends a command; `cb` gets its reply (or a BENCH_DISCONNECTED reply if the connection closes first). */
  send(cmd: CommandWithoutId, cb: ReplyCallback): void;
  /** Sends a command and waits for its reply (setup only: subscribe). */
  command(cmd: CommandWithoutId, timeoutMs?: number): Promise<Reply>;
  /** Every push (msg, signal, gap, unsubscribed, …) except the welcome. */
  onPush: (p: Push) => void;
  /** Called once when the connection ends (by the server or the network; not after close()). */
  onLost: (reason: string) => void;
  /** Replies still outstanding. */
  pending(): number;
  close(): void;
}

function commandWithTimeout(conn: BenchConn, cmd: CommandWithoutId, timeoutMs: number): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no reply to ${cmd.op} within ${timeoutMs} ms`)), timeoutMs);
    conn.send(cmd, (r) => {
      clearTimeout(timer);
      resolve(r);
    });
  });
}

class RawConn implements BenchConn {
  readonly transport = 'ws' as const;
  onPush: (p: Push) => void = () => {};
  onLost: (reason: string) => void = () => {};
  private nextId = 1;
  private readonly waiting = new Map<number, ReplyCallback>();
  private closedByUs = false;

  constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      let frames: ServerFrame[];
      try {
        frames = parseRawFrames(data.toString());
      } catch {
        return; // counted by nobody: the server only sends JSON
      }
      for (const f of frames) {
        if (f.t === 'reply') {
          const cb = this.waiting.get(f.re);
          if (cb) {
            this.waiting.delete(f.re);
            cb(f);
          }
        } else if (f.t !== 'welcome') this.onPush(f);
      }
    });
    ws.on('close', (code, reason) => {
      const why = `closed ${code} ${reason.toString()}`;
      for (const [id, cb] of this.waiting) cb(disconnectedReply(id, why));
      this.waiting.clear();
      if (!this.closedByUs) this.onLost(why);
    });
    ws.on('error', () => {}); // 'close' follows
  }

  send(cmd: CommandWithoutId, cb: ReplyCallback): void {
    const id = this.nextId++;
    if (this.ws.readyState !== WebSocket.OPEN) {
      cb(disconnectedReply(id, 'not open'));
      return;
    }
    this.waiting.set(id, cb);
    this.ws.send(JSON.stringify({ ...cmd, id }));
  }

  command(cmd: CommandWithoutId, timeoutMs = COMMAND_TIMEOUT_MS): Promise<Reply> {
    return commandWithTimeout(this, cmd, timeoutMs);
  }

  pending(): number {
    return this.waiting.size;
  }

  close(): void {
    this.closedByUs = true;
    this.ws.terminate();
  }
}

class IoConn implements BenchConn {
  readonly transport = 'io' as const;
  onPush: (p: Push) => void = () => {};
  onLost: (reason: string) => void = () => {};
  private nextId = 1;
  private readonly waiting = new Map<number, ReplyCallback>();
  private closedByUs = false;

  constructor(private readonly s: IoSocket) {
    s.on('push', (p: Push | Push[]) => {
      if (Array.isArray(p)) {
        for (const x of p) if (x.t !== 'welcome') this.onPush(x);
      } else if (p.t !== 'welcome') this.onPush(p);
    });
    s.on('disconnect', (reason) => {
      for (const [id, cb] of this.waiting) cb(disconnectedReply(id, reason));
      this.waiting.clear();
      if (!this.closedByUs) this.onLost(reason);
    });
  }

  send(cmd: CommandWithoutId, cb: ReplyCallback): void {
    const id = this.nextId++;
    if (!this.s.connected) {
      cb(disconnectedReply(id, 'not connected'));
      return;
    }
    this.waiting.set(id, cb);
    this.s.emit('cmd', { ...cmd, id }, (r: Reply) => {
      if (this.waiting.delete(id)) cb(r);
    });
  }

  command(cmd: CommandWithoutId, timeoutMs = COMMAND_TIMEOUT_MS): Promise<Reply> {
    return commandWithTimeout(this, cmd, timeoutMs);
  }

  pending(): number {
    return this.waiting.size;
  }

  close(): void {
    this.closedByUs = true;
    this.s.close();
  }
}

/** Opens a connection as the token's user; resolves once the server greeted it (raw WS: the welcome frame). */
export async function openConn(transport: Transport, port: number, token: string): Promise<BenchConn> {
  if (transport === 'ws') {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${encodeURIComponent(token)}`, {
      perMessageDeflate: false,
      handshakeTimeout: CONNECT_TIMEOUT_MS,
    });
    // Listen for the welcome before the connection object exists, so it cannot be missed.
    const welcomed = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no welcome frame')), CONNECT_TIMEOUT_MS);
      const onMsg = (data: unknown) => {
        if (String(data).includes('"welcome"')) {
          clearTimeout(timer);
          ws.off('message', onMsg);
          resolve();
        }
      };
      ws.on('message', onMsg);
      ws.once('close', (code) => {
        clearTimeout(timer);
        reject(new Error(`closed ${code} before the welcome`));
      });
      ws.once('unexpected-response', (_req, res) => {
        clearTimeout(timer);
        reject(new Error(`HTTP ${res.statusCode} on upgrade`));
        ws.terminate();
      });
    });
    const conn = new RawConn(ws);
    try {
      await welcomed;
    } catch (e) {
      conn.close();
      throw e;
    }
    return conn;
  }
  const s = ioClient(`http://127.0.0.1:${port}`, {
    path: '/socket.io/',
    transports: ['websocket'],
    forceNew: true, // one real connection per user (no Manager multiplexing)
    reconnection: false,
    timeout: CONNECT_TIMEOUT_MS,
    auth: { token },
  });
  const conn = new IoConn(s);
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('connect_error', (e) => {
      s.close();
      reject(e);
    });
  });
  return conn;
}
