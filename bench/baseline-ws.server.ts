/**
 * Baseline (a): a bare `ws` fan-out server, written the plain way on purpose: no batching, no
 * pre-framing, no backpressure handling. It is the yardstick for Qiao's raw WebSocket gateway.
 *
 *   ws://127.0.0.1:PORT/sub  subscriber: receives every published message as one text frame.
 *   ws://127.0.0.1:PORT/pub  publisher: each text message it sends is broadcast to every subscriber
 *                            with `client.send(msg)` in a loop; then the server replies "ack".
 *
 * Usage: node --import tsx bench/baseline-ws.server.ts --port 4101
 */
import { WebSocket, WebSocketServer } from 'ws';

function argValue(name: string, def: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : (process.env[name.replace(/^--/, '').toUpperCase()] ?? def);
}

const port = Number(argValue('--port', '4101'));
/** BENCH_SERVER_DEBUG=1: log the duration of each broadcast loop and the idle gap before it (server log). */
const DEBUG = process.env.BENCH_SERVER_DEBUG === '1';
let lastEnd = 0;
function debugLine(t0: number): void {
  const t1 = performance.now();
  process.stdout.write(`broadcast ${(t1 - t0).toFixed(1)} ms, idle before ${(t0 - lastEnd).toFixed(1)} ms, ${subscribers.size} subs\n`);
  lastEnd = t1;
}

const subscribers = new Set<WebSocket>();
const wss = new WebSocketServer({
  host: '127.0.0.1',
  port,
  perMessageDeflate: false,
  clientTracking: false, // we keep our own subscriber set (publishers are not subscribers)
  backlog: 4096,
});

wss.on('connection', (ws, req) => {
  if (req.url === '/pub') {
    ws.on('message', (data) => {
      const t0 = DEBUG ? performance.now() : 0;
      const msg = data.toString();
      for (const client of subscribers) {
        if (client.readyState === WebSocket.OPEN) client.send(msg);
      }
      ws.send('ack');
      if (DEBUG) debugLine(t0);
    });
    return;
  }
  subscribers.add(ws);
  ws.on('close', () => subscribers.delete(ws));
  ws.on('error', () => subscribers.delete(ws));
});

wss.on('listening', () => {
  process.stdout.write(`baseline-ws listening on 127.0.0.1:${port} pid ${process.pid}\n`);
});

const shutdown = () => {
  for (const c of subscribers) c.terminate();
  wss.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
