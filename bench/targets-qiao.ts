/**
 * Qiao targets for the fanout bench: (c) the socket.io gateway and (d) the raw WebSocket gateway, both
 * through the real production path: publish → PostgreSQL (offset + archive, one transaction) → Redis
 * (stream + pub/sub) → the hub's fanout. Each run gets a fresh database and Redis key prefix.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { startNodeServer } from './lib/proc.ts';
import { qiaoRawClientHooks, qiaoSocketIoClientHooks, type QiaoBenchInfo } from './lib/qiao-client.ts';
import type { BenchTarget, ServerHandle, StartOptions } from './lib/types.ts';
import { ADMIN_DB, admin } from './lib/pg-admin.ts';
import { deleteRedisPrefix } from './lib/redis-prefix.ts';

const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const SECRET = randomBytes(24).toString('hex');


async function login(port: number, user: string): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${port}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ login: user, password: 'qiao-demo-2026' }),
  });
  if (!r.ok) throw new Error(`bench login ${user}: HTTP ${r.status}`);
  return ((await r.json()) as { token: string }).token;
}

async function startQiao(opts: StartOptions): Promise<ServerHandle> {
  const dbName = `qiao_bench_${randomBytes(5).toString('hex')}`;
  const prefix = `qiao-bench:${randomBytes(5).toString('hex')}:`;
  await admin((c) => c.query(`CREATE DATABASE ${dbName}`));
  const u = new URL(ADMIN_DB);
  u.pathname = `/${dbName}`;
  const handle = await startNodeServer({
    script: 'src/main.ts',
    args: ['start'],
    cpu: opts.cpu,
    logFile: opts.logFile,
    port: opts.port,
    nodeArgs: ['--max-old-space-size=4096', ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.BENCH_CPU_PROF] : [])],
    env: {
      HOST: '127.0.0.1',
      PORT: String(opts.port),
      DATABASE_URL: u.toString(),
      REDIS_URL,
      QIAO_REDIS_PREFIX: prefix,
      QIAO_JWT_SECRET: SECRET,
      QIAO_TOTP_REQUIRED_ROLES: '', // bench users log in with the password only
      QIAO_HTTP_RATE_LIMIT_MAX: '100000000', // a bench publishes faster than any person
      QIAO_LOGIN_RATE_MAX: '1000000',
      QIAO_LOG_LEVEL: 'warn',
      // The saturated phase must measure fanout, not the per-connection command rate limiter.
      QIAO_RATE_LIMIT_PER_S: '100000',
      QIAO_RATE_LIMIT_BURST: '100000',
    },
    readyTimeoutMs: 60_000,
  });
  // Ready means migrated and seeded: wait for readiness, then log in as the demo users.
  for (let i = 0; i < 120; i++) {
    const r = await fetch(`http://127.0.0.1:${opts.port}/health/ready`).catch(() => null);
    if (r?.ok) break;
    await new Promise((res) => setTimeout(res, 250));
  }
  const info: QiaoBenchInfo = {
    channel: 'research.macro',
    subscriberTokens: [await login(opts.port, 'client1')],
    publisherToken: await login(opts.port, 'research1'),
    // Commands on one connection are handled in order; several publisher connections let the
    // saturated window's publications overlap (the channel's row lock still orders them).
    publishers: 4,
    kind: 'note',
  };
  return {
    ...handle,
    info: info as unknown as Record<string, unknown>,
    async stop() {
      if (process.env.BENCH_CPU_PROF) {
        // Let the node drain and write its CPU profile before the generic stop escalates to SIGKILL.
        try {
          process.kill(handle.pid, 'SIGTERM');
          for (let i = 0; i < 600; i++) {
            process.kill(handle.pid, 0);
            await new Promise((r) => setTimeout(r, 100));
          }
        } catch {
          // gone
        }
      }
      await handle.stop();
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)).catch(() => {});
      await deleteRedisPrefix(REDIS_URL, prefix);
    },
  };
}

export const qiaoTargets: BenchTarget[] = [
  {
    key: 'c',
    name: 'Qiao socket.io',
    description: "Qiao's socket.io gateway, real PostgreSQL + Redis path",
    start: startQiao,
    ...qiaoSocketIoClientHooks(),
  },
  {
    key: 'd',
    name: 'Qiao raw WS',
    description: "Qiao's raw WebSocket gateway, real PostgreSQL + Redis path",
    start: startQiao,
    ...qiaoRawClientHooks(),
  },
];
