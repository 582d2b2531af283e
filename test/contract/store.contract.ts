/**
 * The store contract: the same repositories and migrations behave the same on PGlite (embedded) and
 * real PostgreSQL. Offsets, atomicity of the publish transaction, idempotency, and the database-level
 * append-only guards.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Publication } from '../../src/bus/bus.ts';
import type { DbHandle } from '../../src/store/db.ts';
import { MessagesRepo, OffsetBehindError } from '../../src/store/messages-repo.ts';
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
    const append = (channel: string, payload: unknown, deliver: (p: Publication) => Promise<void> = async () => {}, idempotencyKey?: string) =>
      messages.append({ channel, family: 'research', kind: 'note', senderId: 'sender-1', payload, idempotencyKey }, deliver);

    it('allocates gap-free offsets 1, 2, 3 per channel', async () => {
      const c = `research.sector.tech`;
      const a = await append(c, note('a'));
      const b = await append(c, note('b'));
      const other = await append('research.strategy', note('x'));
      expect([a.pub.offset, b.pub.offset]).toEqual([1, 2]);
      expect(other.pub.offset).toBe(1);
      expect(await messages.topOffset(c)).toBe(2);
    });

    it('hands concurrent publications to delivery in offset order', async () => {
      const c = ch();
      const delivered: number[] = [];
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          append(c, note(`n${i}`), async (p) => {
            // A slow delivery must not let a later offset overtake it.
            await new Promise((r) => setTimeout(r, Math.random() * 3));
            delivered.push(p.offset);
          }),
        ),
      );
      expect(delivered).toEqual([...delivered].sort((x, y) => x - y));
      expect(new Set(delivered).size).toBe(20);
    });

    it('writes nothing when delivery fails (no half-written data)', async () => {
      const c = 'research.fixed-income';
      await append(c, note('ok'));
      await expect(append(c, note('fails'), async () => Promise.reject(new Error('redis down')))).rejects.toThrow('redis down');
      expect(await messages.topOffset(c)).toBe(1);
      const page = await messages.page(c, { limit: 10 });
      expect(page.map((p) => (p.payload as { title: string }).title)).toEqual(['ok']);
      expect((await append(c, note('next'))).pub.offset).toBe(2);
    });

    it('moves the counter past a bus that is ahead, keeping offsets increasing', async () => {
      const c = 'research.morning-brief';
      let first = true;
      const r = await append(c, note('x'), async (p) => {
        if (first) {
          first = false;
          throw new OffsetBehindError(p.offset + 4);
        }
      });
      expect(r.pub.offset).toBe(6);
    });

    it('returns the first publication for a repeated idempotency key', async () => {
      const c = 'research.sector.finance';
      let deliveries = 0;
      const key = randomUUID();
      const [a, b] = await Promise.all([
        append(c, note('once'), async () => void deliveries++, key),
        append(c, note('once'), async () => void deliveries++, key),
      ]);
      const c3 = await append(c, note('once'), async () => void deliveries++, key);
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
