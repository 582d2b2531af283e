/**
 * The fanout's write path on real PostgreSQL, over several pages written concurrently: every
 * subscriber is routed exactly once (keyset pages neither skip nor repeat anyone), and a re-run after
 * a crash between insert and enqueue — the plain INSERT refused by the unique keys, the idempotent
 * fallback taken — writes nothing twice, leaves settled rows alone and enqueues exactly the rows still
 * queued.
 *
 * Skips loudly when Postgres is unreachable; fails instead with QIAO_REQUIRE_SERVICES=1.
 */
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { and, eq, inArray, sql } from 'drizzle-orm';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { DELIVERY_QUEUES } from '../../src/queue/jobs.ts';
import { MemoryQueue } from '../../src/queue/queue-memory.ts';
import { openPostgres, type DbHandle } from '../../src/store/db.ts';
import { deliveries, inboxItems, messages, notificationPrefs, subscriptions, users } from '../../src/store/schema/index.ts';
import { seedDemo } from '../../src/store/seed.ts';
import { createContext } from '../../workers/context.ts';
import { runFanout } from '../../workers/fanout.worker.ts';
import { OutboxMailTransport } from '../../workers/transports/email-transport.ts';
import { TEST_DATABASE_URL, createTestDatabase, type TestDatabase } from '../helpers/pg.ts';
import { gateService, postgresAvailable } from '../helpers/services.ts';

const pgUp = await gateService('Postgres', TEST_DATABASE_URL, postgresAvailable);

const SUBS = 2300;
const CHANNEL = 'research.quant';

describe.skipIf(!pgUp)('fanout pages and re-runs (PostgreSQL)', () => {
  let tdb: TestDatabase;
  let h: DbHandle;
  let researchId: string;
  const subIds: string[] = [];

  const ctxWith = (queue: MemoryQueue) =>
    createContext(
      {
        // Small pages, so 2,300 subscribers are several pages in flight at once.
        config: loadConfig({ QIAO_LOG_LEVEL: 'silent', QIAO_SEED_DEMO: 'false', QIAO_FANOUT_BATCH: '400' }),
        logger: pino({ level: 'silent' }) as never,
        db: h.db,
        queue,
        now: () => new Date('2026-11-27T10:00:00+08:00'),
      },
      new OutboxMailTransport(tmpdir(), 'x <x@x>'),
    );

  beforeAll(async () => {
    tdb = await createTestDatabase();
    h = await openPostgres(tdb.url, 8);
    await h.migrate();
    await seedDemo(h.db);
    const [r] = await h.db.select({ id: users.id, firmId: users.firmId }).from(users).where(eq(users.login, 'research1'));
    researchId = r.id;
    for (let i = 0; i < SUBS; i += 500) {
      const page = Array.from({ length: Math.min(500, SUBS - i) }, (_, k) => ({
        id: randomUUID(),
        firmId: r.firmId,
        login: `fp-${i + k}`,
        passwordHash: 'x',
        displayName: `订阅者${i + k}`,
        email: `fp-${i + k}@clients.example`,
        role: 'client' as const,
        tier: 'institutional' as const,
        riskLevel: 'C4' as const,
      }));
      await h.db.insert(users).values(page);
      await h.db.insert(subscriptions).values(page.map((u) => ({ userId: u.id, channel: CHANNEL })));
      // Every third subscriber wants research by email: a queued email row for them, none for the rest.
      await h.db.insert(notificationPrefs).values(page.filter((_, k) => (i + k) % 3 === 0).map((u) => ({ userId: u.id, category: 'research', transports: { email: true } })));
      subIds.push(...page.map((u) => u.id));
    }
  }, 120_000);

  afterAll(async () => {
    await h?.close();
    await tdb?.drop();
  });

  async function note(): Promise<string> {
    const id = randomUUID();
    const [{ n }] = await h.db.select({ n: sql<number>`coalesce(max(${messages.offset}), 0)::int` }).from(messages).where(eq(messages.channel, CHANNEL));
    await h.db.insert(messages).values({ id, channel: CHANNEL, offset: Number(n) + 1, kind: 'note', senderId: researchId, payload: { title: '因子月报', summary: 's' }, sizeBytes: 50 });
    return id;
  }

  const count = async (q: ReturnType<typeof sql>) => Number(((await h.db.execute(q)) as unknown as { rows: Array<{ n: number }> }).rows[0].n);
  /** The delivery rows the queue's jobs carry (a job per row, or a batch of rows), by draining it. */
  async function rowsIn(queue: MemoryQueue): Promise<string[]> {
    const ids: string[] = [];
    for (const q of Object.values(DELIVERY_QUEUES)) {
      queue.process<{ deliveryId?: string; deliveryIds?: string[] }>(q, async (job) => {
        ids.push(...(job.data.deliveryIds ?? [job.data.deliveryId!]));
      });
    }
    for (let i = 0; i < 200; i++) {
      const left = await Promise.all(Object.values(DELIVERY_QUEUES).map((q) => queue.pendingCount(q)));
      if (left.every((n) => n === 0)) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    return ids;
  }

  it('routes every subscriber exactly once across concurrent pages', async () => {
    const id = await note();
    const queue = new MemoryQueue();
    const stats = await runFanout(ctxWith(queue), id);
    expect(stats.recipients).toBe(SUBS);
    const wantEmail = Math.ceil(SUBS / 3);
    // One inbox item and inbox row per subscriber, an email row for those who chose email; push and
    // SMS (not chosen by anyone) and the others' email get no row: none skipped, none twice.
    expect(stats.rows).toBe(SUBS + wantEmail);
    expect(stats.notChosen).toBe(SUBS * 3 - wantEmail);
    expect(await count(sql`select count(distinct user_id)::int as n from ${inboxItems} where message_id = ${id}`)).toBe(SUBS);
    expect(await count(sql`select count(*)::int as n from ${inboxItems} where message_id = ${id}`)).toBe(SUBS);
    expect(await count(sql`select count(*)::int as n from ${deliveries} where message_id = ${id}`)).toBe(SUBS + wantEmail);
    expect(await count(sql`select count(*)::int as n from ${deliveries} where message_id = ${id} and transport = 'inbox' and status = 'delivered'`)).toBe(SUBS);
    expect(await count(sql`select count(*)::int as n from ${deliveries} where message_id = ${id} and transport = 'email' and status = 'queued'`)).toBe(wantEmail);
    // Email rows go 25 to a job (workers/delivery-transports.ts), each exactly once.
    const rows = await rowsIn(queue);
    expect(rows).toHaveLength(wantEmail);
    expect(new Set(rows).size).toBe(wantEmail);
    expect(stats.jobs).toBeGreaterThanOrEqual(Math.ceil(wantEmail / 25));
    expect(stats.jobs).toBeLessThan(wantEmail);
    await queue.close();
  }, 60_000);

  it('a re-run after a crash writes nothing twice, keeps settled rows and enqueues exactly the rows still queued', async () => {
    const id = await note();
    const first = new MemoryQueue();
    await runFanout(ctxWith(first), id);
    await first.close(); // the jobs are lost with the crashed process
    const queued = await h.db.select({ id: deliveries.id }).from(deliveries).where(and(eq(deliveries.messageId, id), eq(deliveries.status, 'queued')));
    // Some rows were sent before the crash, one item was read.
    const sent = queued.slice(0, 100).map((r) => r.id);
    await h.db.update(deliveries).set({ status: 'sent' }).where(inArray(deliveries.id, sent));
    await h.db.update(inboxItems).set({ state: 'read' }).where(and(eq(inboxItems.messageId, id), eq(inboxItems.userId, subIds[7])));

    const again = new MemoryQueue();
    const stats = await runFanout(ctxWith(again), id);
    const sentSet = new Set(sent);
    const rows = await rowsIn(again);
    expect(rows.sort()).toEqual(queued.map((r) => r.id).filter((x) => !sentSet.has(x)).sort());
    expect(stats.jobs).toBeLessThan(rows.length);
    expect(await count(sql`select count(*)::int as n from ${deliveries} where message_id = ${id}`)).toBe(SUBS + Math.ceil(SUBS / 3));
    expect(await count(sql`select count(*)::int as n from ${deliveries} where message_id = ${id} and status = 'sent'`)).toBe(sent.length);
    expect(await count(sql`select count(*)::int as n from ${inboxItems} where message_id = ${id}`)).toBe(SUBS);
    const [item] = await h.db.select({ state: inboxItems.state }).from(inboxItems).where(and(eq(inboxItems.messageId, id), eq(inboxItems.userId, subIds[7])));
    expect(item.state).toBe('read');
    await again.close();
  }, 60_000);
});
