/**
 * The production build: `npm run build` compiles the server to dist/main.js (no tsx at run time) and
 * the web bundle; `node dist/main.js start` runs the hub on embedded defaults (a temp QIAO_DATA_DIR, a
 * free port): ready, serves the web page, a demo login works, its /metrics has the hub's series, and
 * SIGTERM drains and exits 0.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEMO_PASSWORD, HubNode, PG_ADMIN_URL, REDIS_URL, REPO_ROOT, createTestDatabase, deleteRedisPrefix, freePort, login, uniqueRedisPrefix, type TestDatabase } from '../helpers/process.ts';
import { gateService, postgresAvailable, redisAvailable } from '../helpers/services.ts';

const pgUp = await gateService('Postgres', PG_ADMIN_URL, postgresAvailable);
const redisUp = await gateService('Redis', REDIS_URL, redisAvailable);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The parent's environment without anything the config reads. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^QIAO_/.test(k) && !['DATABASE_URL', 'REDIS_URL', 'PORT', 'HOST', 'NODE_ENV', 'NODE_OPTIONS'].includes(k)) env[k] = v;
  return env;
}

async function untilReady(node: HubNode, path = '/health/ready'): Promise<boolean> {
  for (const end = Date.now() + 120_000; Date.now() < end && node.running; ) {
    const ok = await fetch(`${node.url}${path}`, { signal: AbortSignal.timeout(3000) }).then((r) => r.status === 200, () => false);
    if (ok) return true;
    await sleep(100);
  }
  return false;
}

describe('production build', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'qiao-prod-'));
  let node: HubNode | undefined;

  afterAll(async () => {
    await node?.stop(2000);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('npm run build, then node dist/main.js start: ready, login, metrics, SIGTERM exits 0', async () => {
    const build = spawnSync('npm', ['run', 'build'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(build.status, `${build.stdout}\n${build.stderr}`).toBe(0);
    expect(build.stdout).toMatch(/server (built|up to date): dist\/main\.js/);
    expect(existsSync(join(REPO_ROOT, 'dist/main.js'))).toBe(true);
    expect(existsSync(join(REPO_ROOT, 'web-client/dist/index.html'))).toBe(true);
    // Plain JavaScript: no TypeScript import specifiers are left for a loader to resolve.
    expect(readFileSync(join(REPO_ROOT, 'dist/main.js'), 'utf8')).not.toMatch(/from ["']\.{1,2}\/[^"']+\.ts["']/);

    // The worker command runs from dist too (here it refuses embedded mode, as under tsx).
    const worker = spawnSync(process.execPath, ['dist/main.js', 'worker'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH ?? '', QIAO_DATA_DIR: dataDir } });
    expect(worker.status, worker.stderr).toBe(2);
    expect(worker.stderr).toContain('the worker command needs DATABASE_URL and REDIS_URL');

    const port = await freePort();
    const env = cleanEnv();
    // No --import tsx: the built file runs on Node alone.
    const proc = spawn(process.execPath, ['dist/main.js', 'start'], {
      cwd: REPO_ROOT,
      env: { ...env, HOST: '127.0.0.1', PORT: String(port), QIAO_DATA_DIR: dataDir, QIAO_LOG_LEVEL: 'warn', QIAO_TOTP_REQUIRED_ROLES: '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    node = new HubNode('prod', port, proc);
    let ready = false;
    // PGlite migrations and the demo seed take a while on a busy machine.
    for (const end = Date.now() + 120_000; Date.now() < end && !ready && node.running; ) {
      ready = await node.health().then((h) => h.status === 200, () => false);
      if (!ready) await sleep(100);
    }
    expect(ready, node.output()).toBe(true);
    expect((await node.health()).body).toMatchObject({ status: 'ready', mode: 'embedded', checks: { postgres: { ok: true, kind: 'pglite' } } });
    // The migrations were found from dist/ (the demo firm exists), and so was the web bundle.
    const login = await fetch(`${node.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ login: 'client1', password: DEMO_PASSWORD }) });
    expect(login.status).toBe(200);
    expect(((await login.json()) as { token: string }).token).toMatch(/^ey/);
    const page = await fetch(`${node.url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/\/assets\/main-[A-Z0-9]+\.js/);
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    for (const name of ['qiao_alert_firings_total', 'qiao_dlp_blocks_total', 'qiao_jobs_processed_total', 'qiao_notifications_sent_total']) expect(metrics).toContain(`# TYPE ${name} `);

    node.kill('SIGTERM');
    const exit = await node.waitExit(15_000);
    expect(exit, node.output()).toEqual({ code: 0, signal: null });
  }, 240_000);
});

/** The built hub and worker in services mode. */
describe.skipIf(!(pgUp && redisUp))('production build, services mode', () => {
  let db: TestDatabase;
  const prefix = uniqueRedisPrefix('prod');
  const nodes: HubNode[] = [];

  afterAll(async () => {
    for (const n of nodes) await n.stop(3000);
    await db?.drop();
    await deleteRedisPrefix(prefix);
  });

  it('node dist/main.js start and worker: the queue dashboard for the admin, the worker health and metrics port', async () => {
    // Up to date after the first test (a no-op then); run alone, this builds.
    expect(spawnSync('npm', ['run', 'build'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 }).status).toBe(0);
    db = await createTestDatabase();
    const common = { ...cleanEnv(), HOST: '127.0.0.1', DATABASE_URL: db.url, REDIS_URL, QIAO_REDIS_PREFIX: prefix, QIAO_JWT_SECRET: 'prod-build-test-secret-0123456789-abcdef', QIAO_LOG_LEVEL: 'warn', QIAO_TOTP_REQUIRED_ROLES: '', QIAO_PG_POOL_SIZE: '4' };
    const hubPort = await freePort();
    const hub = new HubNode('prod-hub', hubPort, spawn(process.execPath, ['dist/main.js', 'start'], { cwd: REPO_ROOT, env: { ...common, PORT: String(hubPort) }, stdio: ['pipe', 'pipe', 'pipe'] }));
    nodes.push(hub);
    expect(await untilReady(hub), hub.output()).toBe(true);
    const workerPort = await freePort();
    const worker = new HubNode('prod-worker', workerPort, spawn(process.execPath, ['dist/main.js', 'worker'], { cwd: REPO_ROOT, env: { ...common, QIAO_WORKER_METRICS_PORT: String(workerPort), QIAO_SEED_DEMO: 'false' }, stdio: ['pipe', 'pipe', 'pipe'] }));
    nodes.push(worker);
    expect(await untilReady(worker), worker.output()).toBe(true);

    const admin = await login(hub.url, 'admin');
    const page = await fetch(`${hub.url}/admin/queues/`, { headers: { authorization: `Bearer ${admin}` } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<base href="/admin/queues/"');
    const queues = await fetch(`${hub.url}/admin/queues/api/queues`, { headers: { authorization: `Bearer ${admin}` } });
    expect(((await queues.json()) as { queues: unknown[] }).queues.length).toBeGreaterThanOrEqual(6);

    const metrics = await (await fetch(`${worker.url}/metrics`)).text();
    expect(metrics).toMatch(/^qiao_queue_jobs\{queue="qiao-email",state="waiting",node="[^"]+"\} 0$/m);
    expect(metrics).toContain('qiao_jobs_processed_total{queue="qiao-fanout"');

    worker.kill('SIGTERM');
    expect(await worker.waitExit(15_000), worker.output()).toEqual({ code: 0, signal: null });
    hub.kill('SIGTERM');
    expect(await hub.waitExit(20_000), hub.output()).toEqual({ code: 0, signal: null });
  }, 240_000);
});
