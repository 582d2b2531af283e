/**
 * SMS end to end: N queued SMS delivery rows (what a fanout leaves) → BullMQ on Redis → the SMS
 * delivery worker (batched claims, daily-cap gate, render, submit_sm over SMPP with a window) → a
 * local SMSC (test/helpers/smsc.ts: decodes, acknowledges, sends a receipt per segment) → receipts
 * update the rows to 'delivered' in Postgres. Measures SMS/s until every row is delivered.
 *
 *   npm run bench:sms -- [--sms 5000] [--window 64] [--rate 0] [--concurrency 128]
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, eq, sql } from 'drizzle-orm';
import pino from 'pino';
import type { FastifyBaseLogger } from 'fastify';
import { loadConfig } from '../src/config/config.ts';
import { BullQueue } from '../src/queue/queue-bullmq.ts';
import { openPostgres } from '../src/store/db.ts';
import { deliveries, messages, users } from '../src/store/schema/index.ts';
import { seedDemo } from '../src/store/seed.ts';
import { enqueueDeliveries } from '../workers/enqueue.ts';
import { startWorkers } from '../workers/index.ts';
import { SmppClient } from '../workers/transports/smpp-client.ts';
import { createTestDatabase } from '../test/helpers/pg.ts';
import { FakeSmsc } from '../test/helpers/smsc.ts';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg('sms', 5000);
const WINDOW = arg('window', 64);
const RATE = arg('rate', 0);
const CONCURRENCY = arg('concurrency', 128);
const log = (s: string) => process.stderr.write(`[sms-bench] ${s}\n`);

async function main(): Promise<void> {
  const tdb = await createTestDatabase();
  const h = await openPostgres(tdb.url, 8);
  const smsc = await new FakeSmsc().start();
  const prefix = `qiao-bench-${randomBytes(4).toString('hex')}:`;
  const queue = new BullQueue({ url: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379', prefix });
  const logger = pino({ level: 'warn' }) as unknown as FastifyBaseLogger;
  const config = loadConfig({ DATABASE_URL: tdb.url, REDIS_URL: 'redis://127.0.0.1:6379', QIAO_SMS_CONCURRENCY: String(CONCURRENCY), QIAO_SMS_DAILY_CAP: '1000' });
  const sms = new SmppClient({ url: smsc.url, sourceAddr: '10690000', window: WINDOW, ratePerS: RATE, maxSegments: 5, enquireLinkMs: 30_000, responseTimeoutMs: 10_000, rebindMinMs: 100, rebindMaxMs: 2000, logger });
  try {
    await h.migrate();
    await seedDemo(h.db);
    const db = h.db;
    const [{ firmId, researchId }] = await db.select({ firmId: users.firmId, researchId: users.id }).from(users).where(eq(users.login, 'research1'));
    log(`preparing ${N} recipients with phones and queued SMS rows`);
    const ids: string[] = [];
    for (let i = 0; i < N; i += 1000) {
      const batch = Array.from({ length: Math.min(1000, N - i) }, (_, j) => ({
        firmId,
        login: `sms-bench-${i + j}`,
        passwordHash: 'x',
        displayName: `客户${i + j}`,
        phone: `+86138${String(i + j).padStart(8, '0')}`,
        role: 'client' as const,
        tier: 'general' as const,
        riskLevel: 'C3' as const,
      }));
      ids.push(...(await db.insert(users).values(batch).returning({ id: users.id })).map((r) => r.id));
    }
    const messageId = randomUUID();
    // A margin call: 40 Chinese characters, one UCS-2 segment.
    const payload = { title: '追加保证金通知', body: '您的维持担保比例已低于 130%，请于下一交易日 14:00 前补足。', topic: 'margin', severity: 'critical' };
    await db.insert(messages).values({ id: messageId, channel: `inbox.${ids[0]}`, offset: 1, kind: 'notice', senderId: researchId, payload, sizeBytes: Buffer.byteLength(JSON.stringify(payload)) });
    const rows: Array<{ id: string; transport: string }> = [];
    for (let i = 0; i < ids.length; i += 1000) {
      const page = ids.slice(i, i + 1000).map((userId) => ({ messageId, userId, transport: 'sms' as const, status: 'queued' as const }));
      rows.push(...(await db.insert(deliveries).values(page).returning({ id: deliveries.id, transport: deliveries.transport })));
    }

    log('rows ready; starting the SMS worker');
    const workers = startWorkers({ config, logger, db, queue, sms, smsOutboxDir: join(tmpdir(), 'qiao-sms-bench') }, { queues: ['sms'], sweep: false });
    while (!sms.isBound) await new Promise((r) => setTimeout(r, 10));
    log('bound; enqueueing');
    const t0 = performance.now();
    await enqueueDeliveries(workers.ctx, rows);
    const tEnq = performance.now();
    const count = async (status: 'sent' | 'delivered') =>
      Number((await db.select({ n: sql<number>`count(*)::int` }).from(deliveries).where(and(eq(deliveries.messageId, messageId), eq(deliveries.status, status))))[0].n);
    let sentAt = 0;
    for (;;) {
      const delivered = await count('delivered');
      if (!sentAt && smsc.received.length >= N) sentAt = performance.now();
      if (delivered >= N) break;
      if (performance.now() - t0 > 300_000) throw new Error(`timed out: ${delivered}/${N} delivered`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const tDone = performance.now();
    const s = (ms: number) => (ms / 1000).toFixed(2);
    const table = [
      ['SMS (rows)', String(N)],
      ['window / rate / concurrency', `${WINDOW} / ${RATE || 'unlimited'} / ${CONCURRENCY}`],
      ['enqueue (s)', s(tEnq - t0)],
      ['all submitted at SMSC (s)', s(sentAt - t0)],
      ['all delivered (receipts in PG) (s)', s(tDone - t0)],
      ['SMS/s submitted', ((N * 1000) / (sentAt - t0)).toFixed(0)],
      ['SMS/s delivered (with receipts)', ((N * 1000) / (tDone - t0)).toFixed(0)],
      ['SMSC submits / binds', `${smsc.submits} / ${smsc.binds}`],
      ['worker counts', JSON.stringify(workers.ctx.transports.sms.counts)],
    ];
    const w = Math.max(...table.map((r) => r[0].length));
    console.log(table.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n'));
    await workers.close();
  } finally {
    await sms.close();
    await queue.close();
    await smsc.stop();
    await h.close();
    await tdb.drop();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
