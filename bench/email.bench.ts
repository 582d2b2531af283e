/**
 * Email throughput: emails/s from BullMQ through the real email worker (`src/main.ts worker email`, a
 * separate process: claim the delivery row in Postgres, render zh-CN/en templates, pooled SMTP, mark
 * sent) to a local smtp-server sink in this process. Goal (issue): ≥ 500 emails/s.
 *
 *   npm run bench:email
 *   npx tsx bench/email.bench.ts [--emails 5000] [--workers 1] [--concurrency 64] [--pool 16]
 *                                [--warmup 300] [--worker-cpu 1 (all CPUs with 2+ workers)] [--sink-cpu 0 (likewise)]
 *                                [--batch 25 (rows per job, as a fanout enqueues them; 1 = a job per row)]
 *
 * Needs PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres; a
 * throw-away database is created and dropped) and Redis (BENCH_REDIS_URL, default
 * redis://127.0.0.1:6379; a unique key prefix, deleted afterwards).
 * Measured: from the first enqueue of the measured batch to the last message accepted by the sink, and
 * to the last row marked sent; per-mail latency enqueue → sink. Every mail is counted by its
 * X-Qiao-Delivery-Id, so duplicates and losses would show. JSON in bench/results/email-<time>.json.
 */
import { execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { and, eq, sql } from 'drizzle-orm';
import pg from 'pg';
import { QUEUES } from '../src/queue/jobs.ts';
import { BullQueue } from '../src/queue/queue-bullmq.ts';
import { openPostgres } from '../src/store/db.ts';
import { deliveries, messages, users } from '../src/store/schema/index.ts';
import { seedDemo } from '../src/store/seed.ts';
import { SmtpSink } from '../test/helpers/smtp-sink.ts';
import { REPO_ROOT, installCleanup, readCpuSeconds, startServiceWorkers, stopChild } from './lib/proc.ts';
import { deleteRedisPrefix } from './lib/redis-prefix.ts';
import { EMAIL_BATCH } from '../workers/delivery-transports.ts';
import { deliveryJobs } from '../workers/enqueue.ts';

interface Options {
  emails: number;
  workers: number;
  concurrency: number;
  pool: number;
  warmup: number;
  workerCpu: string;
  sinkCpu: string;
  batch: number;
}

function parseArgs(argv: string[]): Options {
  // CPUs: one worker is pinned apart from the sink (CPU 1 vs 0) to measure the worker alone; with two or
  // more workers, pinning them all to one CPU would measure one CPU, so by default everything may use
  // every CPU, as several workers on one machine would in production.
  const o: Options = { emails: 5000, workers: 1, concurrency: 64, pool: 16, warmup: 300, workerCpu: '', sinkCpu: '', batch: EMAIL_BATCH };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${a} needs a value`);
      return x;
    };
    if (a === '--emails') o.emails = Number(v());
    else if (a === '--workers') o.workers = Number(v());
    else if (a === '--concurrency') o.concurrency = Number(v());
    else if (a === '--pool') o.pool = Number(v());
    else if (a === '--warmup') o.warmup = Number(v());
    else if (a === '--batch') o.batch = Math.max(1, Number(v()));
    else if (a === '--worker-cpu') o.workerCpu = v();
    else if (a === '--sink-cpu') o.sinkCpu = v();
    else if (a === '--help') {
      process.stdout.write('see the header of bench/email.bench.ts\n');
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  const all = `0-${Math.max(0, os.cpus().length - 1)}`;
  o.workerCpu ||= o.workers > 1 ? all : '1';
  o.sinkCpu ||= o.workers > 1 ? all : '0';
  return o;
}

const log = (s: string) => process.stderr.write(s + '\n');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN);

async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  installCleanup();
  try {
    execFileSync('taskset', ['-cp', o.sinkCpu, String(process.pid)], { stdio: 'ignore' });
  } catch {
    log('taskset unavailable: sink not pinned');
  }
  const adminUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const dbName = `qiao_bench_${randomBytes(5).toString('hex')}`;
  const prefix = `qiao-bench-${randomBytes(4).toString('hex')}:`;
  const admin = async (q: string) => {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    try {
      await c.query(q);
    } finally {
      await c.end();
    }
  };
  await admin(`CREATE DATABASE ${dbName}`);
  const u = new URL(adminUrl);
  u.pathname = `/${dbName}`;
  const dbUrl = u.toString();
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  mkdirSync(`${REPO_ROOT}bench/results`, { recursive: true });
  const logFile = `${REPO_ROOT}bench/results/${stamp}-email-worker.log`;

  const h = await openPostgres(dbUrl, 8);
  const sink = await SmtpSink.start();
  const queue = new BullQueue({ url: redisUrl, prefix });
  const children: ChildProcess[] = [];
  try {
    await h.migrate();
    await seedDemo(h.db);
    const db = h.db;
    const [{ firmId, researchId }] = await db
      .select({ firmId: users.firmId, researchId: users.id })
      .from(users)
      .where(eq(users.login, 'research1'));

    // Recipients, one research note, one queued email row each (what a fanout leaves behind).
    log(`preparing ${o.emails} recipients and delivery rows in ${dbName}`);
    const ids: string[] = [];
    for (let i = 0; i < o.emails; i += 1000) {
      const batch = Array.from({ length: Math.min(1000, o.emails - i) }, (_, j) => ({
        firmId,
        login: `bench-${i + j}`,
        passwordHash: 'x',
        displayName: `客户${i + j}`,
        email: `bench-${i + j}@clients.example`,
        role: 'client' as const,
        tier: 'general' as const,
        riskLevel: 'C3' as const,
        locale: (i + j) % 3 === 0 ? 'en' : 'zh-CN',
      }));
      ids.push(...(await db.insert(users).values(batch).returning({ id: users.id })).map((r) => r.id));
    }
    const messageId = randomUUID();
    const payload = {
      title: '贵州茅台（600519.SH）2026 年三季报点评：营收稳健增长，直销占比提升',
      summary: '前三季度营业收入同比增长 15.2%，归母净利润同比增长 15.0%；i茅台渠道贡献提升，毛利率保持高位。维持“买入”评级。',
      tickers: ['600519.SH'],
      riskLevel: 'R3',
    };
    await db.insert(messages).values({ id: messageId, channel: 'research.sector.consumer', offset: 1, kind: 'note', senderId: researchId, payload, sizeBytes: Buffer.byteLength(JSON.stringify(payload)) });
    const deliveryIds: string[] = [];
    for (let i = 0; i < ids.length; i += 2000) {
      const rows = ids.slice(i, i + 2000).map((userId) => ({ messageId, userId, transport: 'email' as const, status: 'queued' as const }));
      deliveryIds.push(...(await db.insert(deliveries).values(rows).returning({ id: deliveries.id })).map((r) => r.id));
    }

    log(`starting ${o.workers} email worker process(es) on CPU ${o.workerCpu}: concurrency ${o.concurrency}, SMTP pool ${o.pool}`);
    children.push(
      ...(await startServiceWorkers({
        queues: 'email',
        count: o.workers,
        cpu: o.workerCpu,
        logFile,
        dbUrl,
        redisUrl,
        prefix,
        nodeArgs: process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${REPO_ROOT}bench/results/prof`] : [],
        env: {
          QIAO_SMTP_URL: sink.url,
          QIAO_EMAIL_CONCURRENCY: String(o.concurrency),
          QIAO_SMTP_POOL_SIZE: String(o.pool),
          QIAO_PG_POOL_SIZE: String(Math.min(32, Math.max(4, Math.ceil(o.concurrency / 2)))),
          QIAO_TOTP_REQUIRED_ROLES: '', // bench users log in with the password only
          QIAO_HTTP_RATE_LIMIT_MAX: '100000000', // a bench publishes faster than any person
          QIAO_LOGIN_RATE_MAX: '1000000',
        },
      })),
    );

    const enqueue = async (list: string[], at: Map<string, number>) => {
      for (let i = 0; i < list.length; i += 1000) {
        const chunk = list.slice(i, i + 1000);
        const now = performance.now();
        for (const id of chunk) at.set(id, now);
        await queue.addBulk(QUEUES.email, deliveryJobs('email', chunk, o.batch, { attempts: 8, backoffMs: 2000 }));
      }
    };
    const enqueuedAt = new Map<string, number>();
    const warm = deliveryIds.slice(0, o.warmup);
    const measured = deliveryIds.slice(o.warmup);
    log(`warm-up: ${warm.length} emails`);
    await enqueue(warm, new Map());
    await waitFor(() => sink.received.length >= warm.length, 'warm-up mails', 120_000);

    // Postgres transactions of the bench database (every autocommit statement is one, with its WAL
    // flush): per email, the cost the workers put on the database, steady however loaded the machine.
    const xacts = async () => {
      await sleep(1200); // backends report their counters at most once a second
      const [r] = await db.execute(sql`select xact_commit + xact_rollback as n from pg_stat_database where datname = current_database()`).then((x) => (x as unknown as { rows: Array<{ n: string }> }).rows);
      return Number(r.n);
    };
    const xact0 = await xacts();
    const received0 = sink.received.length;
    const cpu0 = process.cpuUsage();
    const workerCpu0 = children.map((c) => readCpuSeconds(c.pid!));
    log(`measuring: ${measured.length} emails`);
    const t0 = performance.now();
    await enqueue(measured, enqueuedAt);
    const tEnqueued = performance.now();
    await waitFor(() => sink.received.length >= received0 + measured.length, 'all mails at the sink', 600_000);
    const tSink = performance.now();
    await waitFor(async () => {
      const [r] = await db.select({ n: sql<number>`count(*)::int` }).from(deliveries).where(and(eq(deliveries.messageId, messageId), eq(deliveries.status, 'sent')));
      return Number(r.n) === deliveryIds.length;
    }, 'all rows sent', 120_000);
    const tRows = performance.now();
    const workerCpuS = children.reduce((a, c, i) => a + readCpuSeconds(c.pid!) - workerCpu0[i], 0);
    // The waits above poll the row count once per 5 ms, ~1 transaction each: subtract them.
    const polls = Math.round((tRows - tSink) / 5);
    const xactPerEmail = Math.max(0, (await xacts()) - xact0 - polls - 2) / measured.length;

    const sinkTimes = new Map<string, number>();
    const t0Wall = Date.now() - (performance.now() - t0);
    for (const m of sink.received.slice(received0)) sinkTimes.set(m.deliveryId, m.at);
    const lat = measured.map((id) => (sinkTimes.get(id)! - t0Wall) - (enqueuedAt.get(id)! - t0)).filter(Number.isFinite).sort((a, b) => a - b);
    const counts = sink.countByDeliveryId();
    const dup = [...counts.values()].filter((n) => n > 1).length;
    const missing = deliveryIds.filter((id) => !counts.has(id)).length;
    const langs = { en: 0, zh: 0 };
    for (const m of sink.received.slice(received0, received0 + 200)) (/Content-Language: en/i.test(m.raw.toString('latin1')) ? langs.en++ : langs.zh++);

    const result = {
      at: new Date().toISOString(),
      host: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version },
      options: o,
      measured: measured.length,
      enqueueRatePerS: Math.round(measured.length / ((tEnqueued - t0) / 1000)),
      emailsPerSAtSink: Math.round(measured.length / ((tSink - t0) / 1000)),
      rowsSentPerS: Math.round(measured.length / ((tRows - t0) / 1000)),
      seconds: +((tSink - t0) / 1000).toFixed(2),
      latencyMs: { p50: Math.round(pct(lat, 50)), p99: Math.round(pct(lat, 99)), max: Math.round(lat[lat.length - 1] ?? NaN) },
      duplicates: dup,
      missing,
      sampleLanguages: langs,
      workerCpuMsPerEmail: +((workerCpuS * 1000) / measured.length).toFixed(3),
      pgTransactionsPerEmail: +xactPerEmail.toFixed(2),
      benchProcessCpuS: +((process.cpuUsage(cpu0).user + process.cpuUsage(cpu0).system) / 1e6).toFixed(2),
    };
    writeFileSync(`${REPO_ROOT}bench/results/email-${stamp}.json`, JSON.stringify(result, null, 2));
    process.stdout.write(
      [
        '',
        `Email throughput: ${o.workers} worker process(es), concurrency ${o.concurrency}, SMTP pool ${o.pool}, ${os.cpus().length} CPUs`,
        `  emails           ${result.measured} (after ${o.warmup} warm-up)`,
        `  at the sink      ${result.emailsPerSAtSink} emails/s   (${result.seconds} s)   goal ≥ 500/s: ${result.emailsPerSAtSink >= 500 ? 'met' : 'NOT met'}`,
        `  rows marked sent ${result.rowsSentPerS} /s`,
        `  enqueue          ${result.enqueueRatePerS} jobs/s`,
        `  latency          p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms, max ${result.latencyMs.max} ms (enqueue → accepted by the sink)`,
        `  worker CPU       ${result.workerCpuMsPerEmail} ms per email; sink+producer process ${result.benchProcessCpuS} s`,
        `  Postgres         ${result.pgTransactionsPerEmail} transactions per email (claims, sent, reads; approximate)`,
        `  goal ≥ 1,000/s with two workers (issue 13): ${result.emailsPerSAtSink >= 1000 && o.workers >= 2 ? 'met' : 'NOT met'}`,
        `  duplicates ${dup}, missing ${missing}; languages in a sample of 200: zh-CN ${langs.zh}, en ${langs.en}`,
        '',
      ].join('\n'),
    );
  } finally {
    await Promise.all(children.map((c) => stopChild(c)));
    await queue.close().catch(() => {});
    await sink.stop();
    await h.close().catch(() => {});
    await admin(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch((e) => log(`drop failed: ${e.message}`));
    await deleteRedisPrefix(redisUrl, prefix);
  }
}

main().catch((e) => {
  process.stderr.write(`email bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
