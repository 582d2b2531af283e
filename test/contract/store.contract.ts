/**
 * The store contract: the same repositories and migrations behave the same on PGlite (embedded) and
 * real PostgreSQL. Offsets, atomicity of the publish transaction (message, domain writes, outbox row),
 * idempotency, and the database-level append-only guards.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DbHandle } from '../../src/store/db.ts';
import { MessagesRepo, type AppendInput } from '../../src/store/messages-repo.ts';
import { seedDemo } from '../../src/store/seed.ts';
import { SubscriptionsRepo } from '../../src/store/subscriptions-repo.ts';
import { UsersRepo } from '../../src/store/users-repo.ts';

/** drizzle wraps driver errors ("Failed query: …"); the database's own message is in `cause`. */
function dbError(re: RegExp) {
  return (e: unknown) => {
    const err = e as { message?: string; cause?: { message?: string } };
    return re.test(`${err?.message ?? ''} ${err?.cause?.message ?? ''}`);
  };
}

export function storeContract(name: string, factory: () => Promise<{ db: DbHandle; cleanup(): Promise<void> }>): void {
  describe(`Store contract: ${name}`, () => {
    let f: Awaited<ReturnType<typeof factory>>;
    let messages: MessagesRepo;
    const ch = () => `research.macro`;
    beforeAll(async () => {
      f = await factory();
      await f.db.migrate();
      await f.db.migrate(); // idempotent
      expect(await seedDemo(f.db.db)).toBe(true);
      expect(await seedDemo(f.db.db)).toBe(false);
      messages = new MessagesRepo(f.db.db);
    });
    afterAll(async () => f?.cleanup());

    const note = (title: string) => ({ title, riskLevel: 'R1', tickers: [] });
    const append = (channel: string, payload: unknown, inTx?: AppendInput['inTx'], idempotencyKey?: string, strictIdempotency = false) =>
      messages.append({ channel, family: 'research', kind: 'note', senderId: 'sender-1', payload, idempotencyKey, inTx, strictIdempotency });
    const outbox = async (channel: string) =>
      (
        (await f.db.db.execute(sql`select "offset"::int as o from publish_outbox where channel = ${channel} order by "offset"`)) as unknown as {
          rows: Array<{ o: number }>;
        }
      ).rows.map((r) => Number(r.o));

    it('allocates gap-free offsets 1, 2, 3 per channel', async () => {
      const c = `research.sector.tech`;
      const a = await append(c, note('a'));
      const b = await append(c, note('b'));
      const other = await append('research.strategy', note('x'));
      expect([a.pub.offset, b.pub.offset]).toEqual([1, 2]);
      expect(other.pub.offset).toBe(1);
      expect(await messages.topOffset(c)).toBe(2);
    });

    it('commits concurrent publications with gap-free offsets, each with its outbox row', async () => {
      const c = ch();
      const out = await Promise.all(Array.from({ length: 20 }, (_, i) => append(c, note(`n${i}`))));
      const offsets = out.map((o) => o.pub.offset).sort((x, y) => x - y);
      expect(offsets).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(await outbox(c)).toEqual(offsets);
      const unrelayed = await messages.unrelayed(-60_000, 100);
      expect(unrelayed.filter((u) => u.pub.channel === c).map((u) => u.pub.offset)).toEqual(offsets);
      expect(unrelayed.find((u) => u.pub.channel === c)?.family).toBe('research');
      // Fresh rows are not "left behind" yet.
      expect((await messages.unrelayed(60_000, 100)).filter((u) => u.pub.channel === c)).toEqual([]);
      await messages.relayed(out.map((o) => ({ channel: c, offset: o.pub.offset })));
      expect(await outbox(c)).toEqual([]);
    });

    it('writes nothing when a domain write in the transaction fails (no half-written data)', async () => {
      const c = 'research.fixed-income';
      await append(c, note('ok'));
      await expect(append(c, note('fails'), async () => Promise.reject(new Error('domain write failed')))).rejects.toThrow('domain write failed');
      expect(await messages.topOffset(c)).toBe(1);
      const page = await messages.page(c, { limit: 10 });
      expect(page.map((p) => (p.payload as { title: string }).title)).toEqual(['ok']);
      expect(await outbox(c)).toEqual([1]);
      expect((await append(c, note('next'))).pub.offset).toBe(2);
    });

    it('refuses a repeated key with a different request when strict, and returns the first for the same one', async () => {
      const c = 'research.sector.health';
      const key = randomUUID();
      const first = await append(c, { title: 'x', riskLevel: 'R1', tickers: ['600519.SH'] }, undefined, key, true);
      // Same request, keys in another order: the first result.
      const again = await append(c, { tickers: ['600519.SH'], riskLevel: 'R1', title: 'x' }, undefined, key, true);
      expect(again).toMatchObject({ duplicate: true, pub: { id: first.pub.id, offset: first.pub.offset } });
      await expect(append(c, note('different'), undefined, key, true)).rejects.toMatchObject({ code: 'QIAO_IDEMPOTENCY_MISMATCH' });
      await expect(append('research.sector.tech', { title: 'x', riskLevel: 'R1', tickers: ['600519.SH'] }, undefined, key, true)).rejects.toMatchObject({
        code: 'QIAO_IDEMPOTENCY_MISMATCH',
      });
      // Not strict (a service retrying its own key): the first result.
      expect((await append(c, note('different'), undefined, key, false)).pub.id).toBe(first.pub.id);
      expect(await messages.topOffset(c)).toBe(1);
    });

    it('returns the first publication for a repeated idempotency key', async () => {
      const c = 'research.sector.finance';
      const key = randomUUID();
      const [a, b] = await Promise.all([append(c, note('once'), undefined, key, true), append(c, note('once'), undefined, key, true)]);
      const c3 = await append(c, note('once'), undefined, key, true);
      expect(new Set([a.pub.id, b.pub.id, c3.pub.id]).size).toBe(1);
      expect([a.duplicate, b.duplicate, c3.duplicate].filter(Boolean).length).toBe(2);
      expect(await messages.topOffset(c)).toBe(1);
    });

    it('pages history newest-first and replays since an offset', async () => {
      const c = 'research.sector.energy';
      for (let i = 1; i <= 7; i++) await append(c, note(`t${i}`));
      const p1 = await messages.page(c, { limit: 3 });
      expect(p1.map((p) => p.offset)).toEqual([5, 6, 7]);
      const p2 = await messages.page(c, { limit: 3, before: 5 });
      expect(p2.map((p) => p.offset)).toEqual([2, 3, 4]);
      expect((await messages.since(c, 4, 100)).map((p) => p.offset)).toEqual([5, 6, 7]);
    });

    it('stores SQL and HTML metacharacters verbatim', async () => {
      const title = `'; DROP TABLE messages; -- <script>alert(1)</script> "\\ 茅台 🚀`;
      const r = await append('research.sector.consumer', note(title));
      const [back] = await messages.since('research.sector.consumer', r.pub.offset - 1, 1);
      expect((back.payload as { title: string }).title).toBe(title);
    });

    it('refuses UPDATE and DELETE on the message log in the database itself', async () => {
      await expect(f.db.db.execute(sql`UPDATE messages SET kind = 'x'`)).rejects.toSatisfy(dbError(/append-only/));
      await expect(f.db.db.execute(sql`DELETE FROM messages`)).rejects.toSatisfy(dbError(/append-only/));
    });

    it('refuses UPDATE, TRUNCATE and premature DELETE on the archive', async () => {
      // seq is assigned by ArchiveRepo under the archive lock (max + 1), not by the column's sequence.
      await f.db.db.execute(sql`INSERT INTO archive_records (seq, recorded_at, kind, actor_id, subjects, retention_class, retain_until, body, prev_hash, hash)
        VALUES ((SELECT coalesce(max(seq), 0) + 1 FROM archive_records), now(), 'test', 'a', ARRAY['u1'], 'client-communications', now() + interval '20 years', '{}'::jsonb, '0', '1')`);
      await expect(f.db.db.execute(sql`UPDATE archive_records SET kind = 'x'`)).rejects.toSatisfy(dbError(/append-only/));
      await expect(f.db.db.execute(sql`DELETE FROM archive_records`)).rejects.toSatisfy(dbError(/retention/));
      await expect(f.db.db.execute(sql`TRUNCATE archive_records`)).rejects.toSatisfy(dbError(/append-only/));
    });

    it('answers assignment and subscription lookups', async () => {
      const users = new UsersRepo(f.db.db);
      const broker = await users.findByLogin('broker1');
      const client = await users.findByLogin('client1');
      const inst = await users.findByLogin('inst1');
      expect(broker?.passwordHash).toMatch(/^scrypt\$/);
      expect(await users.isBrokerOf(broker!.id, client!.id)).toBe(true);
      expect(await users.isBrokerOf(broker!.id, inst!.id)).toBe(false);
      const subs = new SubscriptionsRepo(f.db.db);
      expect(await subs.put(client!.id, 'research.macro', {})).toBe(true);
      expect(await subs.put(client!.id, 'research.macro', { muted: true })).toBe(false);
      expect(await subs.list(client!.id)).toMatchObject([{ channel: 'research.macro', prefs: { muted: true } }]);
      expect(await subs.remove(client!.id, 'research.macro')).toBe(true);
      expect(await subs.remove(client!.id, 'research.macro')).toBe(false);
    });
  });
}
