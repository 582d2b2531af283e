/**
 * The demo history (src/store/seed-service-history*.ts) on a fresh embedded app: manager1 opens the
 * service view of team A and sees real figures for the last 30 days; the seeded conversation log reads
 * in time order per channel, each response episode is a client chat answered by a staff chat of its
 * conversation at the recorded times, the rollups equal a rebuild, and the archive still verifies.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rebuildServiceRollups } from '../../src/service/quality-rollups.ts';
import { rows } from '../../src/store/db.ts';
import { startEmbeddedApp, type TestApp } from '../helpers/app.ts';

describe('demo service history (embedded)', () => {
  let t: TestApp;
  const tok: Record<string, string> = {};
  const db = () => t.app.qiao.db.db;

  beforeAll(async () => {
    t = await startEmbeddedApp({ QIAO_EMBEDDED_WORKERS: 'false' });
    for (const l of ['manager1', 'broker3', 'compliance1']) tok[l] = (await t.login(l)).token;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('gives manager1 real service figures for team A over the last 30 days', async () => {
    const [teamA] = await rows<{ id: string }>(db(), sql`select id::text from teams where code = 'SH-A'`);
    const r = await t.request('GET', `/api/service/quality?scope=team&id=${teamA.id}`, { token: tok.manager1 });
    expect(r.status, r.text).toBe(200);
    const total = r.body.total;
    expect(total.answered).toBeGreaterThan(20);
    expect(total.p50).not.toBeNull();
    expect(total.p90).toBeGreaterThanOrEqual(total.p50);
    // client13 and client17 of broker3 wait now (client1 of broker1 too, from the first demo part).
    expect(total.waiting).toBeGreaterThanOrEqual(3);
    expect(total.coverage).toBeGreaterThan(0);
    expect(total.coverage).toBeLessThan(100);
    expect(total.recsSent).toBeGreaterThan(0);
    expect(total.recsRefused).toBeGreaterThan(0);
    expect(total.recsHeld).toBeGreaterThan(0);
    expect(total.tasksOnTime).toBeGreaterThan(0);
    expect(total.tasksOverdue).toBeGreaterThanOrEqual(1);
    const names = r.body.brokers.map((b: { name: string }) => b.name).sort();
    expect(names).toEqual(['王经纪', '赵经纪'].sort());
    const b3 = r.body.brokers.find((b: { name: string }) => b.name === '赵经纪');
    expect(b3).toMatchObject({ waiting: 2, book: 18 });
    expect(b3.oldestWaiting.displayName).toBe('马秀英');
    // The series spreads over the weeks, not one day.
    expect(r.body.series.filter((p: { answered: number }) => p.answered > 0).length).toBeGreaterThan(8);
  });

  it('the branch roll-up has both branches for the firm', async () => {
    const r = await t.request('GET', '/api/service/quality?scope=firm', { token: tok.compliance1 });
    expect(r.status, r.text).toBe(200);
    expect(r.body.branches.filter((b: { answered: number }) => b.answered > 0)).toHaveLength(2);
  });

  it('reads back in time order per channel; episodes are the seeded messages; rollups equal a rebuild', async () => {
    const [disorder] = await rows<{ n: number }>(
      db(),
      sql`select count(*)::int as n from (select created_at < lag(created_at) over (partition by channel order by "offset") as back from messages) x where back`,
    );
    expect(disorder.n).toBe(0);
    const [episodes] = await rows<{ n: number; matched: number; future: number }>(
      db(),
      sql`select count(*)::int as n,
            count(*) filter (where exists (select 1 from messages m where m.channel = 'conv.' || e.conversation_id::text and m.kind = 'chat' and m.sender_id = e.client_id::text and m.created_at = e.waiting_since)
                               and exists (select 1 from messages m where m.channel = 'conv.' || e.conversation_id::text and m.kind = 'chat' and m.sender_id = e.answered_by::text and m.created_at = e.answered_at))::int as matched,
            count(*) filter (where e.answered_at > now())::int as future
          from response_episodes e`,
    );
    expect(episodes.n).toBeGreaterThan(50);
    expect(episodes.matched).toBe(episodes.n);
    expect(episodes.future).toBe(0);
    // broker3's clients read everything; broker3 has the waiting clients' questions unread.
    const [unread] = await rows<{ clients: number; broker3: number }>(
      db(),
      sql`select coalesce(sum(rd.unread) filter (where rd.user_id = c.client_id), 0)::int as clients,
                 coalesce(sum(rd.unread) filter (where rd.user_id = c.broker_id), 0)::int as broker3
          from conversations c join users b on b.id = c.broker_id and b.login = 'broker3' join conversation_reads rd on rd.conversation_id = c.id`,
    );
    expect(unread).toEqual({ clients: 0, broker3: 4 });

    const snapshot = () => rows<Record<string, unknown>>(db(), sql`select * from service_rollups order by grain, day, broker_id`);
    const kept = await snapshot();
    expect(kept.length).toBeGreaterThan(20);
    await rebuildServiceRollups(db());
    expect(await snapshot()).toEqual(kept);
  });

  it('leaves the archive verifiable', async () => {
    const r = await t.request('GET', '/api/compliance/archive/verify', { token: tok.compliance1 });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ ok: true, problemCount: 0 });
    expect(r.body.checked).toBeGreaterThan(250);
  });

  it('seeds once: a second run changes nothing', async () => {
    const count = async () => (await rows<{ n: number }>(db(), sql`select (select count(*) from users) + (select count(*) from messages) + (select count(*) from tasks) as n`))[0].n;
    const before = Number(await count());
    const { seedServiceHistory } = await import('../../src/store/seed-service-history.ts');
    await seedServiceHistory(db());
    expect(Number(await count())).toBe(before);
  });
});
