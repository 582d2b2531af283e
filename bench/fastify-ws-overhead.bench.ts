/**
 * How much RSS per 1,000 WebSocket connections fastify + @fastify/websocket cost by themselves (no Qiao
 * code): the floor under target (d) of the fanout bench. Run: npx tsx bench/fastify-ws-overhead.bench.ts
 * [connections, default 3000]. Server and client are separate processes on 127.0.0.1.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { WebSocket } from 'ws';
import { freePort } from './lib/proc.ts';

const N = Number(process.argv[2] ?? 3000);
const SERVER = `
import Fastify from 'fastify';
import ws from '@fastify/websocket';
const app = Fastify({ logger: { level: 'warn' } });
await app.register(ws, { options: { perMessageDeflate: false } });
app.get('/ws', { websocket: true }, (socket) => { socket.on('message', () => socket.send('{"t":"reply","re":1,"ok":true}')); });
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
`;

const port = await freePort();
const cp = spawn(process.execPath, ['--input-type=module', '-e', SERVER], { env: { ...process.env, PORT: String(port) }, stdio: 'inherit' });
const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${cp.pid}/status`, 'utf8'))![1]) / 1024;
try {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((res) => {
      const w = new WebSocket(`ws://127.0.0.1:${port}/ws`);
      w.on('open', () => (w.close(), res(true)));
      w.on('error', () => res(false));
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, 2000));
  const before = rssMb();
  const socks: WebSocket[] = [];
  for (let i = 0; i < N; i += 200) {
    await Promise.all(
      Array.from({ length: Math.min(200, N - i) }, () => new Promise<void>((res, rej) => {
        const w = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${'x'.repeat(300)}`);
        socks.push(w);
        w.on('open', () => w.send('{}'));
        w.on('message', () => res());
        w.on('error', rej);
      })),
    );
  }
  await new Promise((r) => setTimeout(r, 3000));
  process.stdout.write(`fastify + @fastify/websocket alone: ${((rssMb() - before) / (N / 1000)).toFixed(2)} MB RSS per 1,000 connections (${N} connections)\n`);
  for (const s of socks) s.terminate();
} finally {
  cp.kill('SIGKILL');
}
