/**
 * Web push throughput: pushes/s through workers/transports/push-transport.ts to a local HTTPS push
 * service (bench/lib/push-endpoint.server.ts, another process on another CPU) that verifies the VAPID
 * JWT and decrypts the aes128gcm body of every push (or every Nth: --verify-every).
 *
 *   npm run bench:push
 *   npx tsx bench/push.bench.ts [--seconds 10] [--concurrency 128] [--subs 1000] [--strategies pooled,web-push]
 *                               [--verify-every 1] [--sender-cpu 1] [--endpoint-cpu 0]
 *                               [--phases transport,worker] [--deliveries 20000] [--queue memory|bullmq] [--batch 25]
 *                               [--worker-procs 0]
 *
 * Strategies:
 *   pooled    the transport encrypts (workers/transports/push-encryption.ts: RFC 8291 with a fresh ECDH key
 *             per message), the VAPID JWT is signed once per push-service origin and reused; keep-alive
 *             undici connection pool.
 *   web-push  web-push's sendNotification, which signs a new VAPID JWT for every request (same agent).
 *
 * Also measures the sender's CPU per push, split into encryption and JWT signing (in-process loops), so
 * the ceiling of one sender core is visible. Goal (issue): ≥ 2,000 pushes/s.
 *
 * Phase "worker" (--phases transport,worker): the whole push worker (workers/push.worker.ts) on a
 * MemoryQueue against PostgreSQL (QIAO_TEST_DATABASE_URL, a throwaway database): per delivery the
 * claim UPDATE, the context read, the subscriptions read, the push, `sent` and lastSuccessAt — i.e.
 * deliveries/s end to end (--deliveries, default 20,000, over --subs users with one browser each).
 * `--queue memory` (default: embedded mode's in-process queue) or `bullmq` (services mode: jobs in
 * Redis at BENCH_REDIS_URL or redis://127.0.0.1:6379 under a unique prefix, added with addBulk as the
 * fanout does, deleted afterwards), `--batch` rows per job as the fanout makes them (default: the push
 * entry of workers/delivery-transports.ts; 1 = a job per row). The table's last lines compare it with the transport alone (the
 * ceiling: same endpoint, same concurrency) and give the worker's CPU per delivery, the figure that
 * moves least with the load of a shared machine. Issue 13's target: ≥ 2,500 deliveries/s end to end.
 * `--worker-procs N`: N real push worker processes (`src/main.ts worker push`, services mode, BullMQ)
 * on every CPU instead of the worker in this process, as a deployment scales out. On a two-core machine
 * the local push service shares their cores: with `--verify-every 1` it decrypts every push there,
 * about as much CPU per push as the worker spends, which a real push service spends on its own machines;
 * the goal line says which verification a figure was measured with.
 * Results: table on stdout, JSON in bench/results/push-<time>.json.
 */
import { execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import webPush from 'web-push';
import { PUSH_BATCH } from '../workers/delivery-transports.ts';
import { deliveryJobs } from '../workers/enqueue.ts';
import { PushEncryptor } from '../workers/transports/push-encryption.ts';
import { WebPushTransport, type PushTarget } from '../workers/transports/push-transport.ts';
import { REPO_ROOT, installCleanup, readCpuSeconds, spawnNode, startServiceWorkers, stopChild } from './lib/proc.ts';
import { deleteRedisPrefix } from './lib/redis-prefix.ts';

interface Options {
  seconds: number;
  warmup: number;
  concurrency: number;
  subs: number;
  strategies: Array<'pooled' | 'web-push'>;
  verifyEvery: number;
  senderCpu: string;
  endpointCpu: string;
  phases: Array<'transport' | 'worker'>;
  deliveries: number;
  queue: 'memory' | 'bullmq';
  batch: number;
  /** Push worker processes (`src/main.ts worker push`, services mode) instead of the worker in this process; 0: in this process. */
  workerProcs: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { seconds: 10, warmup: 2, concurrency: 128, subs: 1000, strategies: ['pooled', 'web-push'], verifyEvery: 1, senderCpu: '1', endpointCpu: '0', phases: ['transport', 'worker'], deliveries: 20_000, queue: 'memory', batch: PUSH_BATCH, workerProcs: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${a} needs a value`);
      return x;
    };
    if (a === '--seconds') o.seconds = Number(v());
    else if (a === '--warmup') o.warmup = Number(v());
    else if (a === '--concurrency') o.concurrency = Number(v());
    else if (a === '--subs') o.subs = Number(v());
    else if (a === '--strategies') o.strategies = v().split(',') as Options['strategies'];
    else if (a === '--verify-every') o.verifyEvery = Number(v());
    else if (a === '--sender-cpu') o.senderCpu = v();
    else if (a === '--endpoint-cpu') o.endpointCpu = v();
    else if (a === '--phases') o.phases = v().split(',') as Options['phases'];
    else if (a === '--deliveries') o.deliveries = Number(v());
    else if (a === '--queue') o.queue = v() as Options['queue'];
    else if (a === '--batch') o.batch = Math.max(1, Number(v()));
    else if (a === '--worker-procs') o.workerProcs = Math.max(0, Number(v()));
    else if (a === '--help') {
      process.stdout.write('see the header of bench/push.bench.ts\n');
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  // Worker processes take their jobs from BullMQ, as in production.
  if (o.workerProcs > 0) o.queue = 'bullmq';
  return o;
}

const log = (s: string) => process.stderr.write(s + '\n');

function pct(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** A ~200-byte notification like the push worker sends. */
function payload(i: number): string {
  return JSON.stringify({ title: '贵州茅台 600519.SH 突破 1800.00', body: `最新价 1801.50（10:31:02），提醒价 1800.00 #${i}`, url: '/', tag: 'alert-600519SH', id: '6f1c2f55-3c1e-4a43-9d0e-3f0f9f1c2a11', channel: 'inbox.6f1c2f55-3c1e-4a43-9d0e-3f0f9f1c2a11' });
}

function rpc<T>(cp: ChildProcess, msg: object, type: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: { t?: string }) => {
      if (m?.t === type) {
        cp.off('message', on);
        resolve(m as T);
      }
    };
    cp.on('message', on);
    cp.send(msg);
  });
}

interface Stats {
  requests: number;
  verified: number;
  errors: number;
  firstErrors: string[];
}

/** Sender-side CPU per push: encryption, JWT signing, whole request build (µs), single-threaded loops. */
function microbench(vapid: { subject: string; publicKey: string; privateKey: string }, target: PushTarget) {
  const sub = { endpoint: target.endpoint, keys: { p256dh: target.p256dh, auth: target.auth } };
  const time = (n: number, fn: (i: number) => void) => {
    for (let i = 0; i < 200; i++) fn(i);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn(i);
    return Number(process.hrtime.bigint() - t0) / 1000 / n;
  };
  const aud = new URL(target.endpoint).origin;
  const encryptUs = time(3000, (i) => webPush.encrypt(target.p256dh, target.auth, payload(i), 'aes128gcm'));
  const encryptor = new PushEncryptor();
  const qiaoEncryptUs = time(3000, (i) => encryptor.encrypt(target.p256dh, target.auth, payload(i)));
  const jwtUs = time(3000, () => webPush.getVapidHeaders(aud, vapid.subject, vapid.publicKey, vapid.privateKey, 'aes128gcm'));
  const cachedAuth = webPush.getVapidHeaders(aud, vapid.subject, vapid.publicKey, vapid.privateKey, 'aes128gcm').Authorization;
  const requestCachedUs = time(3000, (i) =>
    webPush.generateRequestDetails(sub, payload(i), { TTL: 300, urgency: 'high', topic: 'alert-600519SH', vapidDetails: null as never, headers: { Authorization: cachedAuth } }),
  );
  const requestSignedUs = time(3000, (i) => webPush.generateRequestDetails(sub, payload(i), { TTL: 300, urgency: 'high', topic: 'alert-600519SH', vapidDetails: vapid }));
  return { encryptUs, qiaoEncryptUs, jwtUs, requestCachedUs, requestSignedUs };
}

async function run(
  strategy: 'pooled' | 'web-push',
  o: Options,
  vapid: { subject: string; publicKey: string; privateKey: string },
  cert: string,
  subs: Array<{ endpoint: string; keys: { p256dh: string; auth: string } }>,
  endpoint: ChildProcess,
) {
  const t = new WebPushTransport({ vapid, timeoutMs: 10_000, ca: cert, maxSockets: o.concurrency, strategy });
  let i = 0;
  let ok = 0;
  let failed = 0;
  const failures = new Map<string, number>();
  const lat: number[] = [];
  let measuring = false;
  let stop = false;
  const worker = async () => {
    while (!stop) {
      const s = subs[i++ % subs.length];
      const t0 = performance.now();
      const r = await t.send({ endpoint: s.endpoint, ...s.keys }, payload(i), { ttlS: 300, urgency: 'high', topic: 'alert-600519SH' });
      if (!measuring) continue;
      if (r.result === 'ok') {
        ok++;
        lat.push(performance.now() - t0);
      } else {
        failed++;
        const k = `${r.result} ${r.status}`;
        failures.set(k, (failures.get(k) ?? 0) + 1);
      }
    }
  };
  const workers = Array.from({ length: o.concurrency }, worker);
  await new Promise((r) => setTimeout(r, o.warmup * 1000));
  const before = await rpc<Stats>(endpoint, { t: 'stats' }, 'stats');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  measuring = true;
  await new Promise((r) => setTimeout(r, o.seconds * 1000));
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  stop = true;
  await Promise.all(workers);
  const after = await rpc<Stats>(endpoint, { t: 'stats' }, 'stats');
  await t.close();
  lat.sort((a, b) => a - b);
  return {
    strategy,
    pushesPerS: ok / elapsed,
    ok,
    failed,
    failures: Object.fromEntries(failures),
    latencyMs: { p50: pct(lat, 50), p99: pct(lat, 99), max: lat[lat.length - 1] },
    senderCpuUsPerPush: ((cpu.user + cpu.system) / Math.max(1, ok + failed)),
    senderCpuUtil: (cpu.user + cpu.system) / 1e6 / elapsed,
    endpoint: { requests: after.requests - before.requests, verified: after.verified - before.verified, errors: after.errors - before.errors, firstErrors: after.firstErrors },
  };
}

/** The push worker end to end on PostgreSQL: deliveries/s. */
async function workerPhase(o: Options, cert: string, subs: Array<{ endpoint: string; keys: { p256dh: string; auth: string } }>, endpoint: ChildProcess) {
  const { createTestDatabase } = await import('../test/helpers/pg.ts');
  const { openPostgres } = await import('../src/store/db.ts');
  const { seedDemo } = await import('../src/store/seed.ts');
  const { loadConfig } = await import('../src/config/config.ts');
  const { MemoryQueue } = await import('../src/queue/queue-memory.ts');
  const { BullQueue } = await import('../src/queue/queue-bullmq.ts');
  const { QUEUES } = await import('../src/queue/jobs.ts');
  const { pushWorker } = await import('../workers/push.worker.ts');
  const schema = await import('../src/store/schema/index.ts');
  const { eq } = await import('drizzle-orm');
  const pino = (await import('pino')).default;

  const tdb = await createTestDatabase();
  const h = await openPostgres(tdb.url, 16);
  try {
    await h.migrate();
    await seedDemo(h.db);
    const [firm] = await h.db.select({ id: schema.firms.id }).from(schema.firms).limit(1);
    const [demo] = await h.db.select({ hash: schema.users.passwordHash }).from(schema.users).where(eq(schema.users.login, 'client1'));
    const userIds: string[] = [];
    for (let i = 0; i < subs.length; i += 1000) {
      const rows = subs.slice(i, i + 1000).map((_, k) => ({ firmId: firm.id, login: `pushbench${i + k}`, passwordHash: demo.hash, displayName: `推送压测${i + k}`, role: 'client' as const, tier: 'general' as const, riskLevel: 'C3' as const }));
      userIds.push(...(await h.db.insert(schema.users).values(rows).returning({ id: schema.users.id })).map((r) => r.id));
    }
    await h.db.insert(schema.pushSubscriptions).values(subs.map((s, i) => ({ userId: userIds[i], endpoint: s.endpoint, p256dh: s.keys.p256dh, auth: s.keys.auth })));
    const perMessage = userIds.length;
    const nMessages = Math.ceil(o.deliveries / perMessage);
    const messageIds: string[] = [];
    for (let m = 0; m < nMessages; m++) {
      const id = (await import('node:crypto')).randomUUID();
      const payload = { symbol: '600519.SH', title: '贵州茅台 600519.SH 突破 1800.00', body: `最新价 1801.50 #${m}`, severity: 'warning', event: 'price', price: 1801.5 };
      await h.db.insert(schema.messages).values({ id, channel: 'alerts.600519.SH', offset: m + 1, kind: 'alert', senderId: 'feed', payload, sizeBytes: 200 });
      messageIds.push(id);
    }
    const rows = [];
    for (const messageId of messageIds) for (const userId of userIds) rows.push({ messageId, userId, transport: 'push' as const, status: 'queued' as const });
    rows.length = o.deliveries;
    const deliveryIds: string[] = [];
    for (let i = 0; i < rows.length; i += 2000) deliveryIds.push(...(await h.db.insert(schema.deliveries).values(rows.slice(i, i + 2000)).returning({ id: schema.deliveries.id })).map((r) => r.id));
    log(`worker phase: ${deliveryIds.length} push deliveries queued (${nMessages} messages × ${perMessage} users, one browser each)`);

    const config = loadConfig({ DATABASE_URL: tdb.url, REDIS_URL: 'redis://unused:6379', QIAO_LOG_LEVEL: 'warn', QIAO_PUSH_CONCURRENCY: String(o.concurrency) });
    const logger = pino({ level: 'warn' }) as never;
    const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
    const prefix = `qiao-bench-push-${(await import('node:crypto')).randomBytes(4).toString('hex')}:`;
    const queue = o.queue === 'bullmq' ? new BullQueue({ url: redisUrl, prefix }) : new MemoryQueue();
    // Postgres transactions of the bench database per delivery (every autocommit statement is one).
    const xacts = async () => {
      await new Promise((r) => setTimeout(r, 1200)); // backends report their counters at most once a second
      const res = await h.db.execute((await import('drizzle-orm')).sql`select xact_commit + xact_rollback as n from pg_stat_database where datname = current_database()`);
      return Number((res as unknown as { rows: Array<{ n: string }> }).rows[0].n);
    };
    const statuses = async () => {
      const r = await h.db.execute((await import('drizzle-orm')).sql`select status, count(*)::int as n from deliveries group by status`);
      return (r as unknown as { rows?: Array<{ status: string; n: number }> }).rows ?? [];
    };
    if (o.workerProcs > 0) {
      try {
        return await workerProcesses(o, { dbUrl: tdb.url, redisUrl, prefix, cert, queue, deliveryIds, endpoint, xacts, statuses });
      } finally {
        await queue.close();
        await deleteRedisPrefix(redisUrl, prefix);
      }
    }
    const w = pushWorker({ config, logger, db: h.db, pushCa: cert, queue });
    let done = 0;
    let first = 0;
    let last = 0;
    const finished = new Promise<void>((resolve) => {
      queue.process(QUEUES.push, async (job) => {
        if (!first) first = performance.now();
        await w.handler(job as never);
        last = performance.now();
        const data = job.data as { deliveryIds?: string[] };
        done += data.deliveryIds ? data.deliveryIds.length : 1;
        if (done === deliveryIds.length) resolve();
      }, { concurrency: o.concurrency });
    });
    const xact0 = await xacts();
    const before = await rpc<Stats>(endpoint, { t: 'stats' }, 'stats');
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    // As the fanout enqueues them (workers/enqueue.ts): `--batch` rows per job (1: a job per row).
    const jobs = deliveryJobs('push', deliveryIds, o.batch);
    for (let i = 0; i < jobs.length; i += 1000) await queue.addBulk(QUEUES.push, jobs.slice(i, i + 1000));
    const enqueueS = (performance.now() - t0) / 1000;
    await finished;
    const cpu = process.cpuUsage(cpu0);
    const after = await rpc<Stats>(endpoint, { t: 'stats' }, 'stats');
    const pgTransactionsPerDelivery = ((await xacts()) - xact0 - 1) / deliveryIds.length;
    const rowStatuses = await statuses();
    await w.close();
    await queue.close();
    if (o.queue === 'bullmq') {
      await deleteRedisPrefix(redisUrl, prefix);
    }
    const elapsed = (last - first) / 1000;
    return {
      queue: o.queue,
      enqueueS,
      pgTransactionsPerDelivery,
      workerCpuUsPerDelivery: (cpu.user + cpu.system) / deliveryIds.length,
      deliveries: deliveryIds.length,
      seconds: elapsed,
      deliveriesPerS: deliveryIds.length / elapsed,
      statuses: rowStatuses,
      workerCpuUtil: (cpu.user + cpu.system) / 1e6 / elapsed,
      endpoint: { requests: after.requests - before.requests, verified: after.verified - before.verified, errors: after.errors - before.errors, firstErrors: after.firstErrors },
    };
  } finally {
    await h.close();
    await tdb.drop();
  }
}

/**
 * `--worker-procs N`: the same measurement with N real worker processes (`src/main.ts worker push`,
 * services mode) on every CPU, taking the jobs from BullMQ; they trust the endpoint's self-signed
 * certificate through NODE_EXTRA_CA_CERTS. Elapsed time runs from the first enqueue to the endpoint's
 * last request; worker CPU is read from /proc.
 */
async function workerProcesses(
  o: Options,
  a: {
    dbUrl: string;
    redisUrl: string;
    prefix: string;
    cert: string;
    queue: import('../src/queue/queue.ts').JobQueue;
    deliveryIds: string[];
    endpoint: ChildProcess;
    xacts: () => Promise<number>;
    statuses: () => Promise<Array<{ status: string; n: number }>>;
  },
) {
  const { QUEUES } = await import('../src/queue/jobs.ts');
  const caFile = join(os.tmpdir(), `qiao-bench-push-ca-${process.pid}.pem`);
  const logFile = join(os.tmpdir(), `qiao-bench-push-workers-${process.pid}.log`);
  writeFileSync(caFile, a.cert);
  writeFileSync(logFile, '');
  const children: ChildProcess[] = [];
  try {
    children.push(
      ...(await startServiceWorkers({
        queues: 'push',
        count: o.workerProcs,
        cpu: `0-${os.cpus().length - 1}`,
        logFile,
        dbUrl: a.dbUrl,
        redisUrl: a.redisUrl,
        prefix: a.prefix,
        env: { QIAO_PUSH_CONCURRENCY: String(o.concurrency), QIAO_PG_POOL_SIZE: '16', NODE_EXTRA_CA_CERTS: caFile },
      })),
    );
    log(`${o.workerProcs} push worker process(es) running on every CPU, ${o.concurrency} in flight each`);
    const xact0 = await a.xacts();
    const before = await rpc<Stats>(a.endpoint, { t: 'stats' }, 'stats');
    const cpu0 = children.map((c) => readCpuSeconds(c.pid!));
    const t0 = performance.now();
    const jobs = deliveryJobs('push', a.deliveryIds, o.batch);
    for (let i = 0; i < jobs.length; i += 1000) await a.queue.addBulk(QUEUES.push, jobs.slice(i, i + 1000));
    const enqueueS = (performance.now() - t0) / 1000;
    let stats = before;
    for (let i = 0; stats.requests - before.requests < a.deliveryIds.length; i++) {
      if (i > 6000) throw new Error(`only ${stats.requests - before.requests} of ${a.deliveryIds.length} pushes arrived in 300 s`);
      await new Promise((r) => setTimeout(r, 50));
      stats = await rpc<Stats>(a.endpoint, { t: 'stats' }, 'stats');
    }
    const elapsed = (performance.now() - t0) / 1000;
    const cpuS = children.reduce((sum, c, i) => sum + readCpuSeconds(c.pid!) - cpu0[i], 0);
    // The last rows are marked sent just after their push arrived.
    let rowStatuses = await a.statuses();
    for (let i = 0; i < 100 && (rowStatuses.find((r) => r.status === 'sent')?.n ?? 0) < a.deliveryIds.length; i++) {
      await new Promise((r) => setTimeout(r, 100));
      rowStatuses = await a.statuses();
    }
    const pgTransactionsPerDelivery = ((await a.xacts()) - xact0 - 1) / a.deliveryIds.length;
    return {
      queue: `bullmq, ${o.workerProcs} worker process(es)`,
      enqueueS,
      pgTransactionsPerDelivery,
      workerCpuUsPerDelivery: (cpuS * 1e6) / a.deliveryIds.length,
      deliveries: a.deliveryIds.length,
      seconds: elapsed,
      deliveriesPerS: a.deliveryIds.length / elapsed,
      statuses: rowStatuses,
      // Summed over the processes: up to N × 100 %.
      workerCpuUtil: cpuS / elapsed,
      endpoint: { requests: stats.requests - before.requests, verified: stats.verified - before.verified, errors: stats.errors - before.errors, firstErrors: stats.firstErrors },
    };
  } finally {
    for (const c of children) await stopChild(c);
    rmSync(caFile, { force: true });
    rmSync(logFile, { force: true });
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const load0 = os.loadavg().map((x) => x.toFixed(1)).join(' ');
  installCleanup();
  try {
    execFileSync('taskset', ['-cp', o.senderCpu, String(process.pid)], { stdio: 'ignore' });
  } catch {
    log(`(could not pin the sender to CPU ${o.senderCpu}; continuing unpinned)`);
  }
  log(`starting the HTTPS push endpoint (${o.subs} subscriptions, verify every ${o.verifyEvery}) on CPU ${o.endpointCpu}…`);
  const endpoint = spawnNode({
    script: 'bench/lib/push-endpoint.server.ts',
    cpu: o.endpointCpu,
    logFile: 'inherit',
    ipc: true,
    env: { BENCH_SUBS: String(o.subs), BENCH_VERIFY_EVERY: String(o.verifyEvery) },
  });
  const ready = await new Promise<{ port: number; cert: string; subs: Array<{ endpoint: string; keys: { p256dh: string; auth: string } }> }>((resolve, reject) => {
    endpoint.once('exit', (c) => reject(new Error(`endpoint exited (${c})`)));
    endpoint.on('message', (m: { t?: string }) => {
      if (m?.t === 'ready') resolve(m as never);
    });
  });
  const vapid = { subject: 'mailto:ops@qiao.example', ...webPush.generateVAPIDKeys() };
  const micro = microbench(vapid, { endpoint: ready.subs[0].endpoint, ...ready.subs[0].keys });
  log(
    `sender CPU per push (one core): encrypt ${micro.qiaoEncryptUs.toFixed(0)} µs (web-push's ${micro.encryptUs.toFixed(0)} µs), VAPID JWT sign ${micro.jwtUs.toFixed(0)} µs, ` +
      `web-push's request build with cached JWT ${micro.requestCachedUs.toFixed(0)} µs, with a fresh JWT ${micro.requestSignedUs.toFixed(0)} µs`,
  );
  const results = [];
  if (o.phases.includes('transport')) {
    for (const s of o.strategies) {
      log(`running ${s}: ${o.warmup}s warm-up + ${o.seconds}s, ${o.concurrency} in flight…`);
      results.push(await run(s, o, vapid, ready.cert, ready.subs, endpoint));
    }
  }
  const worker = o.phases.includes('worker') ? await workerPhase(o, ready.cert, ready.subs, endpoint) : undefined;
  await stopChild(endpoint);

  const rows = results.map((r) => [
    r.strategy,
    r.pushesPerS.toFixed(0),
    r.latencyMs.p50.toFixed(1),
    r.latencyMs.p99.toFixed(1),
    r.senderCpuUsPerPush.toFixed(0),
    (r.senderCpuUtil * 100).toFixed(0) + '%',
    `${r.endpoint.verified}/${r.endpoint.requests}`,
    String(r.failed + r.endpoint.errors),
  ]);
  const head = ['strategy', 'pushes/s', 'p50 ms', 'p99 ms', 'sender µs/push', 'sender CPU', 'verified/requests', 'errors'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
  const load = os.loadavg().map((x) => x.toFixed(1)).join(' ');
  process.stdout.write(
    `\nWeb push to a local HTTPS push service (${os.cpus().length} CPUs: sender on ${o.senderCpu}, endpoint on ${o.endpointCpu}; ${o.concurrency} in flight; VAPID verified and body decrypted for every ${o.verifyEvery === 1 ? '' : o.verifyEvery + 'th '}push; load average ${load} (start ${load0}))\n` +
      line(head) + '\n' + rows.map(line).join('\n') + '\n' +
      `sender CPU per push: encrypt ${micro.qiaoEncryptUs.toFixed(0)} µs (web-push's ${micro.encryptUs.toFixed(0)} µs) · JWT sign ${micro.jwtUs.toFixed(0)} µs · web-push's request build, cached JWT ${micro.requestCachedUs.toFixed(0)} µs / fresh JWT ${micro.requestSignedUs.toFixed(0)} µs\n` +
      `goal ≥ 2,000 pushes/s: ${results.map((r) => `${r.strategy} ${r.pushesPerS >= 2000 ? 'met' : 'NOT met'}`).join(', ')}\n` +
      (worker
        ? `push worker end to end (${worker.queue} queue job → PostgreSQL claim → RFC 8291 push → sent, ${o.concurrency} in flight, ${o.batch} rows per job): ${worker.deliveriesPerS.toFixed(0)} deliveries/s ` +
          `(${worker.deliveries} in ${worker.seconds.toFixed(1)} s; worker CPU ${(worker.workerCpuUtil * 100).toFixed(0)}%, ${worker.workerCpuUsPerDelivery.toFixed(0)} µs per delivery; ${worker.pgTransactionsPerDelivery.toFixed(2)} Postgres transactions per delivery; enqueue ${worker.enqueueS.toFixed(1)} s; endpoint verified ${worker.endpoint.verified}/${worker.endpoint.requests}, errors ${worker.endpoint.errors}; rows ${JSON.stringify(worker.statuses)})\n` +
          `goal ≥ 2,500 deliveries/s end to end: ${worker.deliveriesPerS >= 2500 ? 'met' : 'NOT met'} (the push service verifying ${o.verifyEvery === 1 ? 'every push' : `one push in ${o.verifyEvery}`})` +
          (results.length ? `; ${((worker.deliveriesPerS / Math.max(...results.map((r) => r.pushesPerS))) * 100).toFixed(0)}% of the transport alone in this run (${Math.max(...results.map((r) => r.pushesPerS)).toFixed(0)} pushes/s)` : '') +
          '\n'
        : ''),
  );
  mkdirSync(`${REPO_ROOT}bench/results`, { recursive: true });
  const file = `${REPO_ROOT}bench/results/push-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, JSON.stringify({ options: o, node: process.version, cpus: os.cpus().length, loadavg: { start: load0, end: load }, micro, results, worker }, null, 2));
  log(`results: ${file}`);
  const failed = results.some((r) => r.endpoint.errors > 0) || (worker?.endpoint.errors ?? 0) > 0;
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  log(`push bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(1);
});
