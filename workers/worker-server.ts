/**
 * A worker process's own HTTP port (QIAO_WORKER_METRICS_PORT, 0: none): `/health/live`,
 * `/health/ready` (Postgres and Redis answer) and `/metrics` (Prometheus, this process's registry:
 * workers/worker-metrics.ts plus the process defaults). `/metrics` follows the hub's rule
 * (QIAO_OPS_ALLOW / X-Ops-Token); the health routes are open, as on the hub.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { opsAllowed } from '../src/app.ts';
import type { Config } from '../src/config/config.ts';
import { QiaoError } from '../src/errors/codes.ts';
import type { DbHandle } from '../src/store/db.ts';
import { createWorkerMetrics, type WorkerMetrics } from './worker-metrics.ts';
import { probe } from '../src/health-probe.ts';

/** The registry of one worker process, with its node label and the process defaults. */
export function workerProcessMetrics(nodeId: string): WorkerMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node: nodeId });
  collectDefaultMetrics({ register: registry, prefix: 'qiao_process_' });
  return createWorkerMetrics(registry);
}

export interface WorkerServer {
  /** The port it listens on (the configured one, or the one the OS chose for 0 in tests). */
  port: number;
  close(): Promise<void>;
}

export interface WorkerServerDeps {
  config: Config;
  logger: FastifyBaseLogger;
  db: DbHandle;
  metrics: WorkerMetrics;
  /** Set while the process is closing: /health/ready answers 503 'draining'. */
  closing(): boolean;
}

export function buildWorkerServer(d: WorkerServerDeps): { app: FastifyInstance; redis: Redis | null } {
  const app = Fastify({ logger: false });
  // Its own small connection: a ping must not queue behind BullMQ's blocking commands.
  const redis = d.config.redisUrl
    ? new Redis(d.config.redisUrl, { connectionName: 'qiao-worker-health', lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000 })
    : null;
  redis?.on('error', () => {});
  app.get('/health/live', async () => ({ status: 'ok', node: d.config.nodeId, role: 'worker' }));
  app.get('/health/ready', async (_req, reply) => {
    const [postgres, redisProbe] = await Promise.all([
      probe(() => d.db.ping()),
      probe(async () => {
        if (!redis) return;
        if (redis.status === 'wait' || redis.status === 'end') await redis.connect().catch(() => {});
        await redis.ping();
      }),
    ]);
    const ready = postgres.ok && redisProbe.ok && !d.closing();
    reply.code(ready ? 200 : 503);
    return {
      status: ready ? 'ready' : d.closing() ? 'draining' : 'unavailable',
      node: d.config.nodeId,
      role: 'worker',
      checks: { postgres: { ...postgres, kind: d.db.kind }, redis: { ...redisProbe, kind: redis ? 'redis' : 'memory' } },
    };
  });
  app.get('/metrics', async (req, reply) => {
    if (!opsAllowed(d.config, req.socket.remoteAddress, req.headers['x-ops-token'])) {
      const e = new QiaoError('QIAO_OPS_FORBIDDEN');
      return reply.code(e.status).send({ error: e.toJSON() });
    }
    reply.header('content-type', d.metrics.registry.contentType);
    return d.metrics.registry.metrics();
  });
  app.addHook('onClose', async () => {
    redis?.disconnect();
  });
  return { app, redis };
}

/**
 * Listens on QIAO_WORKER_METRICS_PORT at HOST. A port already taken (a second worker on the host left
 * on the default) is logged as an error and the worker runs on without the port: its jobs matter more
 * than its metrics, and the missing target shows up in Prometheus. Returns null when off or not bound.
 */
export async function startWorkerServer(d: WorkerServerDeps): Promise<WorkerServer | null> {
  if (d.config.ops.workerMetricsPort === 0) return null;
  const { app } = buildWorkerServer(d);
  try {
    await app.listen({ host: d.config.host, port: d.config.ops.workerMetricsPort });
  } catch (err) {
    d.logger.error({ err, port: d.config.ops.workerMetricsPort }, 'worker health/metrics port unavailable (QIAO_WORKER_METRICS_PORT): running without it');
    await app.close().catch(() => {});
    return null;
  }
  const port = (app.server.address() as { port: number }).port;
  return { port, close: () => app.close() };
}
