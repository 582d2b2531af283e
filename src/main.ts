/**
 * CLI entry: `start` (hub node), `worker` (delivery workers), `migrate`, `seed`, `archive-verify` and
 * `archive-purge` (src/compliance/cli.ts).
 * Prints a clear message and exits non-zero when the configuration is invalid. `start` and `worker` shut
 * down gracefully on SIGTERM/SIGINT (src/shutdown.ts). Production runs the build of this file,
 * `node dist/main.js <command>` (src/build/server-bundle.ts).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildApp, openDb, openPresence, openQueue } from './app.ts';
import { ConfigError, checkHubConfig, loadConfig, processArgs, type Config } from './config/config.ts';
import { installShutdown } from './shutdown.ts';
import { DEMO_LOGINS, DEMO_PASSWORD, seedDemo } from './store/seed.ts';

function out(line: string): void {
  process.stdout.write(line + '\n');
}

/**
 * Embedded mode without QIAO_JWT_SECRET: keep one generated secret in the data folder, so a restart
 * does not log everyone out. (Services mode needs the same explicit secret on every node.)
 */
function embeddedSecret(config: Config): Config {
  if (config.mode !== 'embedded' || !config.jwtSecretGenerated) return config;
  const file = join(config.dataDir, 'jwt-secret');
  if (!existsSync(file)) writeFileSync(file, config.jwtSecret, { mode: 0o600 });
  return { ...config, jwtSecret: readFileSync(file, 'utf8').trim() };
}

async function start(config: Config): Promise<void> {
  if (config.mode === 'embedded') mkdirSync(config.dataDir, { recursive: true });
  config = embeddedSecret(config);
  const app = await buildApp(config);
  // SIGTERM/SIGINT: drain (refuse writes, move clients to other nodes, finish publishes), then exit 0.
  installShutdown({ logger: app.log, timeoutMs: config.ops.shutdownTimeoutMs, close: () => app.drain() });
  const address = await app.listen({ host: config.host, port: config.port });
  const port = (app.server.address() as { port: number }).port;
  out('');
  out(`Qiao 桥 hub is running (${config.mode === 'embedded' ? `embedded mode: PGlite in ${config.dataDir}, in-process bus` : 'services mode: PostgreSQL + Redis'})`);
  out(`  Web client:  http://localhost:${port}/`);
  out(`  API docs:    http://localhost:${port}/docs`);
  out(`  Listening:   ${address}  node=${config.nodeId}`);
  if (config.seedDemo) {
    out(`  Demo logins (password ${DEMO_PASSWORD}):`);
    for (const l of DEMO_LOGINS) out(`    ${l.login.padEnd(12)} ${l.role.padEnd(11)} ${l.note}`);
  }
  out('');
}

async function migrateOnly(config: Config, seed: boolean): Promise<void> {
  if (config.mode === 'embedded') mkdirSync(config.dataDir, { recursive: true });
  const db = await openDb(config);
  await db.migrate();
  out(`migrations applied (${db.kind})`);
  if (seed) out((await seedDemo(db.db)) ? 'demo firm seeded' : 'database already has a firm; seed skipped');
  await db.close();
}

/**
 * `worker [fanout,email,digest,escalation]`: delivery workers on BullMQ (services mode only; run as
 * many processes as needed). SIGTERM/SIGINT: stop taking jobs, finish the ones in flight, exit.
 */
async function worker(config: Config, which: string | undefined): Promise<void> {
  if (config.mode !== 'services') {
    process.stderr.write('qiao: the worker command needs DATABASE_URL and REDIS_URL (in embedded mode the workers run inside `npm start`)\n');
    process.exit(2);
  }
  const { startWorkers, WORKER_NAMES } = await import('../workers/index.ts');
  const queues = which ? which.split(',').map((q) => q.trim()) : WORKER_NAMES;
  const unknown = queues.filter((q) => !(WORKER_NAMES as string[]).includes(q));
  if (unknown.length) {
    process.stderr.write(`qiao: unknown worker(s) ${unknown.join(', ')} (expected ${WORKER_NAMES.join(', ')})\n`);
    process.exit(2);
  }
  const { pino } = await import('pino');
  const logger = pino({ level: config.logLevel, base: { node: config.nodeId, pid: process.pid, role: 'worker' } });
  const { workerProcessMetrics, startWorkerServer } = await import('../workers/worker-server.ts');
  let closing = false;
  let release = async () => {};
  // Installed first: a signal while connecting still closes what is open (and an uncaught error exits).
  installShutdown({
    logger,
    timeoutMs: config.ops.shutdownTimeoutMs,
    close: async () => {
      closing = true;
      await release();
    },
  });
  const db = await openDb(config, false, logger);
  const queue = await openQueue(config);
  // Presence (Redis, written by the hub nodes): online users get no push — their socket showed it.
  const presence = await openPresence(config);
  const metrics = workerProcessMetrics(config.nodeId);
  const workers = startWorkers({ config, logger, db: db.db, queue, presence, metrics }, { queues: queues as typeof WORKER_NAMES });
  const server = await startWorkerServer({ config, logger, db, metrics, closing: () => closing });
  // Stop taking jobs and finish those in flight, then connections; the health port goes last, so it
  // answers 'draining' meanwhile.
  release = async () => {
    await workers.close();
    await queue.close();
    await presence.close();
    await server?.close();
    await db.close();
  };
  logger.info({ queues, mail: workers.ctx.mail.kind, metricsPort: server?.port ?? null }, 'workers started');
  const ops = server ? ` health/metrics=http://${config.host}:${server.port}` : '';
  out(`Qiao 桥 workers running: ${queues.join(', ')} (mail: ${workers.ctx.mail.kind}) node=${config.nodeId} pid=${process.pid}${ops}`);
}

async function main(): Promise<void> {
  const [cmd = 'start'] = processArgs();
  let config: Config;
  try {
    config = loadConfig();
    if (cmd === 'start') checkHubConfig(config);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`qiao: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  switch (cmd) {
    case 'start':
      return start(config);
    case 'worker':
      return worker(config, processArgs()[1]);
    case 'migrate':
      return migrateOnly(config, false);
    case 'seed':
      return migrateOnly(config, true);
    case 'archive-verify':
      process.exitCode = await (await import('./compliance/cli.ts')).archiveVerifyCommand(config);
      return;
    case 'archive-purge':
      process.exitCode = await (await import('./compliance/cli.ts')).archivePurgeCommand(config);
      return;
    default:
      process.stderr.write(`qiao: unknown command "${cmd}" (expected start, worker, migrate, seed, archive-verify or archive-purge)\n`);
      process.exit(2);
  }
}

main().catch((err) => {
  process.stderr.write(`qiao: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
