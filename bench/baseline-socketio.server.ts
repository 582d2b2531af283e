/**
 * Baseline (b): a plain socket.io server with the default in-memory adapter. The yardstick for Qiao's
 * socket.io gateway.
 *
 *   subscriber: connects, emits `join` (room name, ack) → server does socket.join(room) and acks.
 *   publisher:  emits `pub` (room, msg, ack) → server does io.to(room).emit('m', msg) and acks.
 *
 * Server options are socket.io's defaults (in-memory adapter, perMessageDeflate off, both transports
 * allowed; the bench clients use transports: ['websocket']).
 *
 * Usage: node --import tsx bench/baseline-socketio.server.ts --port 4102
 */
import { createServer } from 'node:http';
import { Server } from 'socket.io';

function argValue(name: string, def: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : (process.env[name.replace(/^--/, '').toUpperCase()] ?? def);
}

const port = Number(argValue('--port', '4102'));

const httpServer = createServer();
const io = new Server(httpServer);

io.on('connection', (socket) => {
  socket.on('join', (room: unknown, ack?: (ok: boolean) => void) => {
    if (typeof room !== 'string') return ack?.(false);
    socket.join(room);
    ack?.(true);
  });
  socket.on('pub', (room: unknown, msg: unknown, ack?: () => void) => {
    if (typeof room === 'string') io.to(room).emit('m', msg);
    ack?.();
  });
});

httpServer.listen({ host: '127.0.0.1', port, backlog: 4096 }, () => {
  process.stdout.write(`baseline-socketio listening on 127.0.0.1:${port} pid ${process.pid}\n`);
});

const shutdown = () => {
  io.disconnectSockets(true);
  io.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
