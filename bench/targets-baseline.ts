/**
 * Baseline targets (a) bare `ws` and (b) plain socket.io. See bench/README.md.
 * start() runs in the orchestrator; the other hooks run in the load generator (see lib/types.ts).
 */
import { fileURLToPath } from 'node:url';
import { type Socket as IoSocket, io as ioClient } from 'socket.io-client';
import { WebSocket } from 'ws';
import { startNodeServer } from './lib/proc.ts';
import type { BenchMessage, BenchTarget, LoadContext, SubscriberHandle } from './lib/types.ts';

const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));
const ROOM = 'research.macro';

/** Client-side timeouts (ms): a connect attempt that takes longer fails and is retried by the load generator. */
const CONNECT_TIMEOUT_MS = 10_000;

// ---------------------------------------------------------------------------------------------------
// (a) bare ws

interface WsPublisherState {
  ws: WebSocket;
  /** Acks come back in order on the one publisher connection: a FIFO of resolvers. */
  pending: Array<{ resolve: () => void; reject: (e: Error) => void }>;
}

/** BENCH_CPU_PROF=dir: CPU profile of the server (written on its clean SIGTERM exit), as for the Qiao targets. */
function profileArgs(): string[] {
  return process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.BENCH_CPU_PROF] : [];
}

export const wsBaseline: BenchTarget = {
  key: 'a',
  name: 'ws baseline',
  description: 'bare ws server, client.send(msg) in a loop over all sockets, perMessageDeflate off',
  start: (opts) =>
    startNodeServer({
      script: here('./baseline-ws.server.ts'),
      args: ['--port', String(opts.port)],
      cpu: opts.cpu,
      logFile: opts.logFile,
      port: opts.port,
      nodeArgs: profileArgs(),
    }),

  async setup(ctx) {
    const ws = new WebSocket(`ws://${ctx.host}:${ctx.port}/pub`, {
      perMessageDeflate: false,
      handshakeTimeout: CONNECT_TIMEOUT_MS,
    });
    const st: WsPublisherState = { ws, pending: [] };
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.on('message', () => st.pending.shift()?.resolve());
    ws.on('close', () => {
      for (const p of st.pending.splice(0)) p.reject(new Error('publisher connection closed'));
    });
    ws.on('error', (e) => ctx.onAnomaly('publisher-error', String(e)));
    ctx.state.pub = st;
  },

  connectSubscriber(i, ctx) {
    return new Promise<SubscriberHandle>((resolve, reject) => {
      const ws = new WebSocket(`ws://${ctx.host}:${ctx.port}/sub`, {
        perMessageDeflate: false,
        handshakeTimeout: CONNECT_TIMEOUT_MS,
      });
      let open = false;
      let closedByUs = false;
      ws.on('message', (data) => {
        const m = JSON.parse(data.toString()) as BenchMessage;
        ctx.onDelivery(m.seq, m.ts);
      });
      ws.once('open', () => {
        open = true;
        resolve({
          close() {
            closedByUs = true;
            ws.terminate();
          },
        });
      });
      ws.on('error', (e) => {
        if (!open) reject(e);
      });
      ws.once('close', (code) => {
        if (open && !closedByUs) ctx.onSubscriberLost(i, `close ${code}`);
        if (!open) reject(new Error(`closed before open (${code})`));
      });
    });
  },

  publish(msg, ctx) {
    const st = ctx.state.pub as WsPublisherState;
    return new Promise<void>((resolve, reject) => {
      st.pending.push({ resolve, reject });
      st.ws.send(JSON.stringify(msg));
    });
  },

  async teardown(ctx) {
    (ctx.state.pub as WsPublisherState | undefined)?.ws.terminate();
  },
};

// ---------------------------------------------------------------------------------------------------
// (b) plain socket.io

function ioConnect(ctx: LoadContext): IoSocket {
  return ioClient(`http://${ctx.host}:${ctx.port}`, {
    transports: ['websocket'],
    // Without forceNew, every io() to the same URL shares ONE Manager, i.e. one WebSocket (multiplexing):
    // 10,000 "subscribers" would be a single connection.
    forceNew: true,
    reconnection: false,
    timeout: CONNECT_TIMEOUT_MS,
  });
}

export const socketioBaseline: BenchTarget = {
  key: 'b',
  name: 'socket.io baseline',
  description: "plain socket.io server, in-memory adapter, io.to(room).emit('m', msg)",
  start: (opts) =>
    startNodeServer({
      script: here('./baseline-socketio.server.ts'),
      args: ['--port', String(opts.port)],
      cpu: opts.cpu,
      logFile: opts.logFile,
      port: opts.port,
      nodeArgs: profileArgs(),
    }),

  async setup(ctx) {
    const s = ioConnect(ctx);
    await new Promise<void>((resolve, reject) => {
      s.once('connect', () => resolve());
      s.once('connect_error', reject);
    });
    s.on('disconnect', (reason) => {
      if (reason !== 'io client disconnect') ctx.onAnomaly('publisher-disconnect', reason);
    });
    ctx.state.pub = s;
  },

  connectSubscriber(i, ctx) {
    return new Promise<SubscriberHandle>((resolve, reject) => {
      const s = ioConnect(ctx);
      let joined = false;
      let closedByUs = false;
      s.on('m', (m: BenchMessage) => ctx.onDelivery(m.seq, m.ts));
      s.once('connect', () => {
        s.timeout(CONNECT_TIMEOUT_MS).emit('join', ROOM, (err: Error | null, ok: boolean) => {
          if (err || !ok) {
            s.close();
            reject(err ?? new Error('join refused'));
            return;
          }
          joined = true;
          resolve({
            close() {
              closedByUs = true;
              s.close();
            },
          });
        });
      });
      s.once('connect_error', (e) => {
        s.close();
        reject(e);
      });
      s.on('disconnect', (reason) => {
        if (joined && !closedByUs) ctx.onSubscriberLost(i, reason);
      });
    });
  },

  publish(msg, ctx) {
    const s = ctx.state.pub as IoSocket;
    return new Promise<void>((resolve) => {
      s.emit('pub', ROOM, msg, () => resolve());
    });
  },

  async teardown(ctx) {
    (ctx.state.pub as IoSocket | undefined)?.close();
  },
};

export const baselineTargets: BenchTarget[] = [wsBaseline, socketioBaseline];
