/**
 * Email workers as real processes (`node --import tsx src/main.ts worker`) on Postgres + Redis +
 * BullMQ, sending to a local SMTP sink:
 * - a worker SIGKILLed in the middle of a batch: another worker finishes it; every delivery row ends
 *   'sent' and the sink has every delivery; a second copy is only possible for a row whose send was in
 *   flight at the kill (see docs/operations.md, "Delivery guarantees") and the test says how many;
 * - the SMTP server goes away: jobs retry with backoff, and all mail arrives, once, when it is back.
 * Skips loudly without Postgres/Redis; fails instead with QIAO_REQUIRE_SERVICES=1.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveries, notificationPrefs, subscriptions, users } from '../../src/store/schema/index.ts';
import { startServicesApp, TEST_JWT_SECRET, TEST_REDIS_URL, type TestApp } from '../helpers/app.ts';
import { TEST_DATABASE_URL } from '../helpers/pg.ts';
import { REPO_ROOT, until } from '../helpers/process.ts';
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
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  constructor(readonly proc: ChildProcess) {
    const keep = (b: Buffer) => {
      for (const l of b.toString().split('\n')) if (l) this.lines.push(l);
      if (this.lines.length > 400) this.lines.splice(0, this.lines.length - 400);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    this.exited = new Promise((r) => proc.once('exit', (code, signal) => (children.delete(proc), r({ code, signal }))));
  }

  static async start(env: Record<string, string>): Promise<WorkerProc> {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'worker'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.add(proc);
    const w = new WorkerProc(proc);
    await until(async () => w.lines.some((l) => l.includes('workers running')), 'worker start', 30_000, () => w.output());
    return w;
  }

  output(): string {
    return this.lines.slice(-60).join('\n');
  }
}

describe.skipIf(!(pgUp && redisUp))('email workers as processes (Postgres + Redis + BullMQ)', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let researchToken: string;
  let workerEnv: Record<string, string>;
  const workers: WorkerProc[] = [];

  beforeAll(async () => {
    sink = await SmtpSink.start(0, { delayMs: 15 });
    // The hub itself runs no workers here: only the child processes deliver.
    t = await startServicesApp({ QIAO_EMBEDDED_WORKERS: 'false' });
    researchToken = (await t.login('research1')).token;
    workerEnv = {
      DATABASE_URL: t.config.databaseUrl!,
      REDIS_URL: t.config.redisUrl!,
      QIAO_REDIS_PREFIX: t.config.redisPrefix,
      QIAO_JWT_SECRET: TEST_JWT_SECRET,
      QIAO_SMTP_URL: sink.url,
      QIAO_SEED_DEMO: 'false',
      QIAO_LOG_LEVEL: 'warn',
      QIAO_PG_POOL_SIZE: '6',
      QIAO_EMAIL_CONCURRENCY: '16',
      QIAO_SMTP_POOL_SIZE: '8',
      QIAO_QUEUE_LOCK_MS: '2000',
      QIAO_DELIVERY_LEASE_MS: '2000',
      QIAO_EMAIL_BACKOFF_MS: '200',
      QIAO_EMAIL_ATTEMPTS: '10',
      QIAO_SWEEP_INTERVAL_MS: '1000',
    };
  }, 60_000);

  afterAll(async () => {
    for (const w of workers) w.proc.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await t?.close();
    await sink?.stop();
  });

  /** `n` clients subscribed to `channel` with research email on (half of them in English). */
  async function addSubscribers(channel: string, n: number, tag: string): Promise<Map<string, string>> {
    const db = t.app.qiao.db.db;
    const [{ firmId }] = await db.select({ firmId: users.firmId }).from(users).limit(1);
    const rows = Array.from({ length: n }, (_, i) => ({
      firmId,
      login: `${tag}-${i}`,
      passwordHash: 'x',
      displayName: `客户 ${tag}-${i}`,
      email: `${tag}-${i}@clients.example`,
      role: 'client' as const,
      tier: 'general' as const,
      riskLevel: 'C3' as const,
      locale: i % 2 ? 'en' : 'zh-CN',
    }));
    const created = await db.insert(users).values(rows).returning({ id: users.id, email: users.email });
    await db.insert(subscriptions).values(created.map((u) => ({ userId: u.id, channel })));
    await db.insert(notificationPrefs).values(created.map((u) => ({ userId: u.id, category: 'research', transports: { email: true } })));
    return new Map(created.map((u) => [u.id, u.email!]));
  }

  async function publish(channel: string, title: string): Promise<string> {
    const r = await t.request('POST', `/api/channels/${channel}/publications`, {
      token: researchToken,
      json: { kind: 'note', payload: { title, summary: title, riskLevel: 'R2' } },
    });
    expect(r.status, r.text).toBe(201);
    return r.body.id;
  }

  const emailRows = (messageId: string) =>
    t.app.qiao.db.db.select().from(deliveries).where(and(eq(deliveries.messageId, messageId), eq(deliveries.transport, 'email')));

  /** Starts a worker, publishes to N new subscribers, SIGKILLs the worker after ~60 mails, starts another. */
  async function killMidBatch(channel: string, policy: 'resend' | 'dead-letter') {
    const N = 300;
    const emails = await addSubscribers(channel, N, `kill${randomUUID().slice(0, 4)}`);
    const env = { ...workerEnv, QIAO_EMAIL_ON_CRASH: policy };
    const a = await WorkerProc.start({ ...env, QIAO_NODE_ID: `worker-a-${policy}` });
    workers.push(a);
    const messageId = await publish(channel, `周报（${policy}）：流动性展望`);

    await until(async () => sink.about(messageId).length >= 60, '60 mails before the kill', 30_000, () => a.output());
    a.proc.kill('SIGKILL');
    expect((await a.exited).signal).toBe('SIGKILL');
    const atKill = sink.about(messageId).length;
    // A statement the dead worker had already sent may still commit: let Postgres finish them.
    await sleep(500);
    const inFlight = new Set(
      (await t.app.qiao.db.db
        .select({ id: deliveries.id })
        .from(deliveries)
        .where(and(eq(deliveries.messageId, messageId), eq(deliveries.transport, 'email'), eq(deliveries.status, 'sending')))).map((r) => r.id),
    );
    expect(atKill).toBeLessThan(N);

    const b = await WorkerProc.start({ ...env, QIAO_NODE_ID: `worker-b-${policy}` });
    workers.push(b);
    await until(async () => (await emailRows(messageId)).every((r) => r.status === 'sent' || r.status === 'failed'), `all ${N} rows settled`, 60_000, () => b.output());
    // Leave time for anything that would be sent twice to arrive.
    await sleep(3000);
    const rows = await emailRows(messageId);
    expect(rows).toHaveLength(N);
    const counts = new Map<string, number>();
    for (const m of sink.about(messageId)) {
      counts.set(m.deliveryId, (counts.get(m.deliveryId) ?? 0) + 1);
      const r = rows.find((x) => x.id === m.deliveryId)!;
      expect(m.to).toEqual([emails.get(r.userId)]);
    }
    await b.proc.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
    return { N, rows, counts, inFlight, atKill, messageId };
  }

  it('a worker killed mid-batch (QIAO_EMAIL_ON_CRASH=resend): every row is sent, no mail is lost; only rows in flight at the kill may arrive twice', async () => {
    const { N, rows, counts, inFlight, atKill } = await killMidBatch('research.macro', 'resend');
    expect(rows.every((r) => r.status === 'sent')).toBe(true);
    expect(new Set(counts.keys())).toEqual(new Set(rows.map((r) => r.id)));
    const twice = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
    for (const id of twice) expect(inFlight.has(id), `delivery ${id} received twice but was not in flight at the kill`).toBe(true);
    expect(Math.max(...counts.values())).toBeLessThanOrEqual(2);
    console.info(`[kill, resend] ${atKill} mails before SIGKILL, ${inFlight.size} rows in flight at the kill, ${twice.length} of them received twice; ${N} rows sent`);
  }, 120_000);

  it('a worker killed mid-batch (QIAO_EMAIL_ON_CRASH=dead-letter): no mail arrives twice; rows in flight at the kill are dead-lettered for an admin', async () => {
    const { N, rows, counts, inFlight, atKill } = await killMidBatch('research.fixed-income', 'dead-letter');
    expect(Math.max(...counts.values())).toBe(1);
    const failed = rows.filter((r) => r.status === 'failed');
    for (const r of failed) {
      expect(r.reason).toBe('unknown-outcome');
      expect(inFlight.has(r.id)).toBe(true);
    }
    // Every row not in flight at the kill was sent exactly once.
    for (const r of rows) if (!inFlight.has(r.id)) expect([r.status, counts.get(r.id)]).toEqual(['sent', 1]);
    const admin = (await t.login('admin')).token;
    const dl = await t.request('GET', '/api/admin/dead-letters?queue=email&limit=1000', { token: admin });
    // A row's own job, or the fanout's batch job (25 rows) whose reason names the rows that failed.
    const flagged = (id: string) =>
      dl.body.deadLetters.some((d: { data: { deliveryId?: string; deliveryIds?: string[] }; reason: string }) => d.data.deliveryId === id || (d.data.deliveryIds?.includes(id) && d.reason.includes(id)));
    for (const r of failed) expect(flagged(r.id), `row ${r.id} failed but is in no dead letter`).toBe(true);
    console.info(`[kill, dead-letter] ${atKill} mails before SIGKILL, ${inFlight.size} rows in flight at the kill, ${failed.length} dead-lettered (outcome unknown), ${N - failed.length} sent once, none twice`);
  }, 120_000);

  it('the SMTP server goes away: jobs retry with backoff, then every mail arrives once when it is back', async () => {
    const M = 50;
    await addSubscribers('research.strategy', M, `outage${randomUUID().slice(0, 4)}`);
    workers.push(await WorkerProc.start({ ...workerEnv, QIAO_NODE_ID: 'worker-c' }));
    await sink.stop();
    const messageId = await publish('research.strategy', '策略周报：风格切换');

    // Retries are happening: attempts go up and nothing is sent while the server is down.
    await until(async () => (await emailRows(messageId)).filter((r) => r.attempts >= 2).length >= M / 2, 'retries', 30_000);
    const down = await emailRows(messageId);
    expect(down).toHaveLength(M);
    expect(down.some((r) => r.status === 'sent')).toBe(false);
    expect(down.some((r) => /ECONNREFUSED|ECONNECTION|ESOCKET|connect/i.test(r.lastError ?? ''))).toBe(true);

    await sink.restart();
    await until(async () => (await emailRows(messageId)).every((r) => r.status === 'sent'), 'all sent after the server is back', 60_000, () => workers.map((w) => w.output()).join('\n'));
    await sleep(1000);
    const rows = await emailRows(messageId);
    const got = sink.about(messageId);
    expect(got).toHaveLength(M);
    expect(new Set(got.map((m) => m.deliveryId))).toEqual(new Set(rows.map((r) => r.id)));
    expect(Math.max(...rows.map((r) => r.attempts))).toBeGreaterThan(1);
    const [{ dl }] = await t.app.qiao.db.db
      .select({ dl: sql<number>`count(*)::int` })
      .from(deliveries)
      .where(and(inArray(deliveries.id, rows.map((r) => r.id)), eq(deliveries.status, 'failed')));
    expect(Number(dl)).toBe(0);
  }, 120_000);
});
