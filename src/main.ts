/**
 * CLI entry: `start` (hub node), `migrate`, `seed`.
 * Prints a clear message and exits non-zero when the configuration is invalid.
 */
import { mkdirSync } from 'node:fs';
import { buildApp, openDb } from './app.ts';
import { ConfigError, loadConfig, processArgs, type Config } from './config/config.ts';
import { DEMO_LOGINS, DEMO_PASSWORD, seedDemo } from './store/seed.ts';

function out(line: string): void {
  process.stdout.write(line + '\n');
}

async function start(config: Config): Promise<void> {
  if (config.mode === 'embedded') mkdirSync(config.dataDir, { recursive: true });
  const app = await buildApp(config);
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
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'draining');
    app.drain().then(
      () => process.exit(0),
      (err) => {
        app.log.error({ err }, 'drain failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

async function migrateOnly(config: Config, seed: boolean): Promise<void> {
  if (config.mode === 'embedded') mkdirSync(config.dataDir, { recursive: true });
  const db = await openDb(config);
  await db.migrate();
  out(`migrations applied (${db.kind})`);
  if (seed) out((await seedDemo(db.db)) ? 'demo firm seeded' : 'database already has a firm; seed skipped');
  await db.close();
}

async function main(): Promise<void> {
  const [cmd = 'start'] = processArgs();
  let config: Config;
  try {
    config = loadConfig();
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
    case 'migrate':
      return migrateOnly(config, false);
    case 'seed':
      return migrateOnly(config, true);
    default:
      process.stderr.write(`qiao: unknown command "${cmd}" (expected start, migrate or seed)\n`);
      process.exit(2);
  }
}

main().catch((err) => {
  process.stderr.write(`qiao: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
