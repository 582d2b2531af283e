/**
 * Work reminders fire once across nodes: two hubs sharing one real Postgres database and one Redis
 * prefix run the reminder sweep at the same moment, several times over; every due reminder (manual
 * and automatic) ends up with exactly one inbox message and one delivery to its owner's socket, and
 * every automatic reminder is made once. A restarted sweep (a third run) sends nothing again.
 *
 * Needs Postgres and Redis: skips loudly when they are unreachable, fails under QIAO_REQUIRE_SERVICES=1.
 */
import { and, eq, inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MsgPush } from '../../src/gateway/protocol.ts';
import { messages, reminders, users } from '../../src/store/schema/index.ts';
import type { PublicUser } from '../../src/store/users-repo.ts';
import { addClients, dbOf } from '../helpers/advisory.ts';
import { TEST_REDIS_URL, WsTestClient, isMsg, sleep, startServicesNodes, type TestApp } from '../helpers/app.ts';
import { TEST_DATABASE_URL } from '../helpers/pg.ts';
import { gateService, postgresAvailable, redisAvailable } from '../helpers/services.ts';

const pgUp = await gateService('Postgres', TEST_DATABASE_URL, postgresAvailable);
const redisUp = await gateService('Redis', TEST_REDIS_URL, redisAvailable);

type Login = { token: string; user: PublicUser };
const HOUR = 3_600_000;
const shDate = (t: number) => new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(new Date(t));

describe.skipIf(!(pgUp && redisUp))('work reminders on two nodes (Postgres + Redis)', () => {
  let cluster: Awaited<ReturnType<typeof startServicesNodes>>;
  let a: TestApp;
  let b: TestApp;
  const u: Record<string, Login> = {};

  beforeAll(async () => {
    cluster = await startServicesNodes(2, { QIAO_SERVICE_SWEEP_MS: '3600000' });
    [a, b] = cluster.nodes;
    for (const l of ['broker1', 'broker2']) u[l] = await a.login(l);
  }, 60_000);
  afterAll(async () => {
    await cluster?.close();
  });

  it('both nodes sweep concurrently: each due reminder is made once and reaches its owner once', async () => {
    const db = dbOf(a);
    const broker1 = u.broker1.user.id;
    // 40 manual reminders on both nodes, and 15 clients of broker1 whose assessment expires in 5 days.
    const made = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? a : b).request('POST', '/api/reminders', { token: u.broker1.token, json: { title: `提醒 ${i}`, dueAt: new Date(Date.now() + HOUR).toISOString() } }),
      ),
    );
    expect(made.every((r) => r.status === 201)).toBe(true);
    const manual = made.map((r) => r.body.reminder.id as string);
    const clients = await addClients(db, broker1, 15, { level: 'C3' });
    await db.update(users).set({ riskExpiresOn: shDate(Date.now() + 5 * 24 * HOUR) }).where(inArray(users.id, clients));

    const ws = await WsTestClient.connect(b.wsUrl, u.broker1.token);
    try {
      expect((await ws.subscribe(`inbox.${broker1}`)).ok).toBe(true);
      const at = new Date(Date.now() + 2 * HOUR);
      // Several rounds of simultaneous sweeps on both nodes (a restart is one more round).
      for (let round = 0; round < 3; round++) {
        await Promise.all([a.app.qiao.sweeper!.runOnce(at), b.app.qiao.sweeper!.runOnce(at), a.app.qiao.sweeper!.runOnce(at)]);
      }
      const auto = await db.select().from(reminders).where(and(eq(reminders.kind, 'risk_expiry'), inArray(reminders.clientId, clients)));
      expect(auto).toHaveLength(15);
      const ids = [...manual, ...auto.map((r) => r.id)];
      const rows = await db.select().from(reminders).where(inArray(reminders.id, ids));
      expect(rows.every((r) => r.state === 'fired' && r.messageId)).toBe(true);
      const sent = await db
        .select({ rid: sql<string>`${messages.payload} ->> 'reminderId'`, n: sql<number>`count(*)::int` })
        .from(messages)
        .where(and(eq(messages.channel, `inbox.${broker1}`), eq(messages.kind, 'reminder')))
        .groupBy(sql`${messages.payload} ->> 'reminderId'`);
      const byId = new Map(sent.map((s) => [s.rid, Number(s.n)]));
      for (const id of ids) expect(byId.get(id), id).toBe(1);
      // The live side: one push per reminder on the owner's socket (on the node that fired none, or some).
      await sleep(1500);
      const pushed = (ws.frames.peek(isMsg(`inbox.${broker1}`)) as MsgPush[]).filter((m) => m.kind === 'reminder' && ids.includes((m.payload as { reminderId: string }).reminderId));
      expect(pushed).toHaveLength(ids.length);
      expect(new Set(pushed.map((m) => (m.payload as { reminderId: string }).reminderId)).size).toBe(ids.length);
      // broker2 got none of broker1's.
      const other = await db.select({ n: sql<number>`count(*)::int` }).from(messages).where(and(eq(messages.channel, `inbox.${u.broker2.user.id}`), sql`${messages.payload} ->> 'reminderId' in ${ids}`));
      expect(Number(other[0].n)).toBe(0);
    } finally {
      await ws.close();
    }
  }, 60_000);
});
