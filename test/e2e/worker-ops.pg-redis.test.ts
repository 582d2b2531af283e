/**
 * A worker process's operations side, as real processes (`node --import tsx src/main.ts worker`) on
 * Postgres + Redis + BullMQ with a local SMTP sink:
 * - its own port serves /health/live, /health/ready and /metrics; after one mail is sent and one is
 *   refused for good (550), the job, notification, dead-letter and queue-depth series say so;
 * - SIGTERM: it finishes the send in flight, closes and exits 0;
 * - a second signal while it is closing forces exit 1 at once; QIAO_SHUTDOWN_TIMEOUT_MS bounds a close.
 * Skips loudly without Postgres/Redis; fails instead with QIAO_REQUIRE_SERVICES=1.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BullQueue } from '../../src/queue/queue-bullmq.ts';
import { QUEUES } from '../../src/queue/jobs.ts';
import { deliveries, notificationPrefs, subscriptions, users } from '../../src/store/schema/index.ts';
import { metricValue, startServicesApp, TEST_JWT_SECRET, TEST_REDIS_URL, type TestApp } from '../helpers/app.ts';
import { TEST_DATABASE_URL } from '../helpers/pg.ts';
import { freePort, REPO_ROOT, until } from '../helpers/process.ts';
import { gateService, postgresAvailable, redisAvailable } from '../helpers/services.ts';
import { SmtpSink } from '../helpers/smtp-sink.ts';

const pgUp = await gateService('Postgres', TEST_DATABASE_URL, postgresAvailable);
const redisUp = await gateService('Redis', TEST_REDIS_URL, redisAvailable);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

class WorkerProc {
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: string | null; at: number }>;
  constructor(
    readonly proc: ChildProcess,
    readonly port: number,
  ) {
    const keep = (b: Buffer) => {
      for (const l of b.toString().split('\n')) if (l) this.lines.push(l);
      if (this.lines.length > 400) this.lines.splice(0, this.lines.length - 400);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    this.exited = new Promise((r) => proc.once('exit', (code, signal) => (children.delete(proc), r({ code, signal, at: Date.now() }))));
  }

  static async start(env: Record<string, string>, which?: string): Promise<WorkerProc> {
    const port = await freePort();
    const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'worker', ...(which ? [which] : [])], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', HOST: '127.0.0.1', QIAO_WORKER_METRICS_PORT: String(port), ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.add(proc);
    const w = new WorkerProc(proc, port);
    await until(async () => w.lines.some((l) => l.includes('workers running')), 'worker start', 30_000, () => w.output());
    return w;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  output(): string {
    return this.lines.slice(-60).join('\n');
  }

  async metrics(): Promise<string> {
    const r = await fetch(`${this.url}/metrics`, { signal: AbortSignal.timeout(5000) });
    expect(r.status).toBe(200);
    return r.text();
  }
}

describe.skipIf(!(pgUp && redisUp))('worker processes: health, metrics and graceful shutdown (Postgres + Redis + BullMQ)', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let researchToken: string;
  let workerEnv: Record<string, string>;
  const workers: WorkerProc[] = [];

  beforeAll(async () => {
    sink = await SmtpSink.start(0);
    sink.rejectRecipients = /^refused-/;
    t = await startServicesApp({ QIAO_EMBEDDED_WORKERS: 'false' });
    researchToken = (await t.login('research1')).token;
    workerEnv = {
      DATABASE_URL: t.config.databaseUrl!,
      REDIS_URL: t.config.redisUrl!,
      QIAO_REDIS_PREFIX: t.config.redisPrefix,
      QIAO_JWT_SECRET: TEST_JWT_SECRET,
      QIAO_SMTP_URL: sink.url,
      QIAO_SEED_DEMO: 'false',
      QIAO_LOG_LEVEL: 'info',
      QIAO_PG_POOL_SIZE: '4',
      QIAO_EMAIL_BACKOFF_MS: '100',
      QIAO_EMAIL_ATTEMPTS: '2',
      QIAO_SWEEP_INTERVAL_MS: '60000',
    };
  }, 60_000);

  afterAll(async () => {
    for (const w of workers) w.proc.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await t?.close();
    await sink?.stop();
  });

  /** Clients subscribed to `channel` with research email on, at the given addresses. */
  async function addSubscribers(channel: string, emails: string[]): Promise<void> {
    const db = t.app.qiao.db.db;
    const [{ firmId }] = await db.select({ firmId: users.firmId }).from(users).limit(1);
    const created = await db
      .insert(users)
      .values(emails.map((email) => ({ firmId, login: email.split('@')[0], passwordHash: 'x', displayName: email, email, role: 'client' as const, tier: 'general' as const, riskLevel: 'C3' as const })))
      .returning({ id: users.id });
    await db.insert(subscriptions).values(created.map((u) => ({ userId: u.id, channel })));
    await db.insert(notificationPrefs).values(created.map((u) => ({ userId: u.id, category: 'research', transports: { email: true } })));
  }

  async function publish(channel: string, title: string): Promise<string> {
    const r = await t.request('POST', `/api/channels/${channel}/publications`, { token: researchToken, json: { kind: 'note', payload: { title, summary: title, riskLevel: 'R2' } } });
    expect(r.status, r.text).toBe(201);
    return r.body.id;
  }

  const emailRows = (messageId: string) =>
    t.app.qiao.db.db.select().from(deliveries).where(and(eq(deliveries.messageId, messageId), eq(deliveries.transport, 'email')));

  it('serves /health/live, /health/ready and /metrics with the job, notification, dead-letter and queue series', async () => {
    const tag = randomUUID().slice(0, 6);
    await addSubscribers('research.macro', [`ok-${tag}@clients.example`, `refused-${tag}@clients.example`]);
    // Not the escalation queue: a job parked there shows queue depth and age below.
    const w = await WorkerProc.start({ ...workerEnv, QIAO_NODE_ID: `worker-metrics-${tag}` }, 'fanout,email,push,sms');
    workers.push(w);

    const live = await fetch(`${w.url}/health/live`);
    expect(live.status).toBe(200);
    expect(await live.json()).toMatchObject({ status: 'ok', node: `worker-metrics-${tag}`, role: 'worker' });
    const ready = await fetch(`${w.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { postgres: { ok: true, kind: 'pg' }, redis: { ok: true, kind: 'redis' } } });

    // Before any job: the series exist at 0.
    const before = await w.metrics();
    expect(before).toMatch(/^qiao_jobs_processed_total\{queue="qiao-email",node="worker-metrics-[^"]+"\} 0$/m);
    for (const name of ['qiao_escalations_total', 'qiao_dead_letters_total', 'qiao_notifications_sent_total', 'qiao_notifications_failed_total', 'qiao_queue_oldest_waiting_age_seconds', 'qiao_queue_finished_jobs']) {
      expect(before, name).toContain(`# TYPE ${name} `);
    }

    const messageId = await publish('research.macro', `metrics ${tag}`);
    await until(async () => {
      const rows = await emailRows(messageId);
      return rows.length === 2 && rows.every((r) => r.status === 'sent' || r.status === 'failed');
    }, 'both email rows settled', 30_000, () => w.output());
    expect(sink.about(messageId)).toHaveLength(1);

    // A job parked in a queue this worker does not take (escalation runs elsewhere): depth and age.
    const q = new BullQueue({ url: TEST_REDIS_URL, prefix: t.config.redisPrefix });
    await q.add(QUEUES.escalation, 'escalate', { messageId, userId: randomUUID(), step: 0 }, { jobId: `esc-metrics-${tag}` });
    await q.close();
    await sleep(1200);

    const text = await w.metrics();
    const v = (name: string, labels: Record<string, string>) => metricValue(text, name, labels);
    expect(v('qiao_jobs_processed_total', { queue: 'qiao-fanout' })).toBe(1);
    // Both email rows go in one batch job (workers/delivery-transports.ts): the accepted one is sent,
    // the 550 is permanent (failed at once, no retry), so the job ends a dead letter naming that row.
    expect(v('qiao_jobs_processed_total', { queue: 'qiao-email' })).toBe(0);
    expect(v('qiao_jobs_failed_total', { queue: 'qiao-email' })).toBe(1);
    expect(v('qiao_jobs_retried_total', { queue: 'qiao-email' })).toBe(0);
    expect(v('qiao_dead_letters_total', { queue: 'qiao-email' })).toBe(1);
    expect(v('qiao_notifications_sent_total', { transport: 'email' })).toBe(1);
    expect(v('qiao_notifications_failed_total', { transport: 'email' })).toBe(1);
    expect(v('qiao_notifications_sent_total', { transport: 'push' })).toBe(0);
    expect(v('qiao_queue_jobs', { queue: 'qiao-email', state: 'failed' })).toBe(1);
    expect(v('qiao_queue_jobs', { queue: 'qiao-email', state: 'waiting' })).toBe(0);
    expect(v('qiao_queue_jobs', { queue: 'qiao-escalation', state: 'waiting' })).toBe(1);
    expect(v('qiao_queue_oldest_waiting_age_seconds', { queue: 'qiao-escalation' })).toBeGreaterThanOrEqual(1);
    expect(v('qiao_queue_oldest_waiting_age_seconds', { queue: 'qiao-email' })).toBe(0);
    // BullMQ's own counts (Worker `metrics`): the batch job failed.
    expect(v('qiao_queue_finished_jobs', { queue: 'qiao-email', state: 'completed' })).toBe(0);
    expect(v('qiao_queue_finished_jobs', { queue: 'qiao-email', state: 'failed' })).toBe(1);
    expect(text).toContain('qiao_process_process_resident_memory_bytes');

    // SIGTERM: closes and exits 0; the port goes with it.
    const t0 = Date.now();
    w.proc.kill('SIGTERM');
    const exit = await w.exited;
    expect(exit.code, w.output()).toBe(0);
    expect(exit.at - t0).toBeLessThan(10_000);
    await expect(fetch(`${w.url}/health/live`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
  }, 90_000);

  /** A worker in the middle of a send that takes 4 s (the SMTP server is slow). */
  async function busyWorker(tag: string, env: Record<string, string> = {}): Promise<{ w: WorkerProc; messageId: string }> {
    // No worker of an earlier test may take this send.
    for (const old of workers) old.proc.kill('SIGKILL');
    await Promise.all(workers.map((x) => x.exited));
    await addSubscribers('research.fixed-income', [`slow-${tag}@clients.example`]);
    const w = await WorkerProc.start({ ...workerEnv, QIAO_NODE_ID: `worker-slow-${tag}`, ...env }, 'fanout,email');
    workers.push(w);
    const messageId = await publish('research.fixed-income', `slow ${tag}`);
    await until(async () => (await emailRows(messageId)).some((r) => r.status === 'sending'), 'the send in flight', 20_000, () => w.output());
    return { w, messageId };
  }

  it('SIGTERM waits for the send in flight, then exits 0; a second signal while closing forces exit 1 at once', async () => {
    sink.delayMs = 4000;
    try {
      // Graceful: the mail in flight is delivered and recorded before the exit.
      const a = await busyWorker(randomUUID().slice(0, 6));
      a.w.proc.kill('SIGTERM');
      const exitA = await a.w.exited;
      expect(exitA.code, a.w.output()).toBe(0);
      expect((await emailRows(a.messageId)).map((r) => r.status), a.w.output()).toEqual(['sent']);
      expect(sink.about(a.messageId)).toHaveLength(1);

      // Forced: SIGTERM starts the close (waiting on the 4 s send), SIGINT ends it now.
      const b = await busyWorker(randomUUID().slice(0, 6));
      b.w.proc.kill('SIGTERM');
      await until(async () => b.w.lines.some((l) => l.includes('"msg":"closing"')), 'closing logged', 5000, () => b.w.output());
      const t0 = Date.now();
      b.w.proc.kill('SIGINT');
      const exitB = await b.w.exited;
      expect(exitB.code, b.w.output()).toBe(1);
      expect(exitB.at - t0).toBeLessThan(2000);
      expect(b.w.output()).toContain('second signal while closing');
    } finally {
      sink.delayMs = 0;
    }
  }, 90_000);

  it('a close that outlasts QIAO_SHUTDOWN_TIMEOUT_MS is cut short with exit 1', async () => {
    sink.delayMs = 6000;
    try {
      const { w } = await busyWorker(randomUUID().slice(0, 6), { QIAO_SHUTDOWN_TIMEOUT_MS: '800' });
      const t0 = Date.now();
      w.proc.kill('SIGTERM');
      const exit = await w.exited;
      expect(exit.code, w.output()).toBe(1);
      expect(exit.at - t0).toBeLessThan(4000);
      expect(w.output()).toContain('shutdown timed out');
    } finally {
      sink.delayMs = 0;
    }
  }, 60_000);
});
