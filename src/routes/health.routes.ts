/** Liveness, readiness (Postgres and the bus) and Prometheus metrics. */
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../deps.ts';

async function probe(fn: () => Promise<void>, timeoutMs = 2000): Promise<{ ok: boolean; ms: number; error?: string }> {
  const t0 = performance.now();
  try {
    await Promise.race([fn(), new Promise((_, rej) => setTimeout(() => rej(new Error('timeout')), timeoutMs).unref())]);
    return { ok: true, ms: Math.round(performance.now() - t0) };
  } catch (e) {
    return { ok: false, ms: Math.round(performance.now() - t0), error: (e as Error).message };
  }
}

export default async function healthRoutes(app: FastifyInstance, d: AppDeps): Promise<void> {
  app.get('/health/live', { schema: { tags: ['ops'], summary: 'Liveness' } }, async () => ({ status: 'ok', node: d.config.nodeId }));

  app.get('/health/ready', { schema: { tags: ['ops'], summary: 'Readiness of Postgres and Redis (or their embedded stand-ins)' } }, async (_req, reply) => {
    const [postgres, bus] = await Promise.all([probe(() => d.db.ping()), probe(() => d.bus.ping())]);
    const ready = postgres.ok && bus.ok && !d.registry.draining;
    reply.code(ready ? 200 : 503);
    return {
      status: ready ? 'ready' : d.registry.draining ? 'draining' : 'unavailable',
      node: d.config.nodeId,
      mode: d.config.mode,
      checks: { postgres: { ...postgres, kind: d.db.kind }, redis: { ...bus, kind: d.config.mode === 'embedded' ? 'memory' : 'redis' } },
    };
  });

  app.get('/metrics', { schema: { tags: ['ops'], summary: 'Prometheus metrics' } }, async (_req, reply) => {
    reply.header('content-type', d.metrics.registry.contentType);
    return d.metrics.registry.metrics();
  });
}
