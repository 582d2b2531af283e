/**
 * Stored unread counters and the first-response wait under concurrency, on real PostgreSQL (several
 * connections): chats and recalls from both sides committed through the message log (group commit
 * included) with the conversation's inTx, while other readers advance their read positions and
 * supervisors' counters are dropped and computed again from the log over and over. Afterwards every
 * stored counter equals the count from the log (chat from others after the read offset, not
 * recalled), and the stored wait equals the one from the log. The computation from the log holds the
 * channel lock: without it a message committing meanwhile is lost from the count (checked by hand).
 *
 * Skips loudly when Postgres is unreachable; fails instead with QIAO_REQUIRE_SERVICES=1.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isQiaoError } from '../../src/errors/codes.ts';
import { ArchiveRepo } from '../../src/store/archive-repo.ts';
import { ConversationsRepo, convChannel } from '../../src/store/conversations-repo.ts';
import { rows } from '../../src/store/db.ts';
import { openPostgres, type DbHandle } from '../../src/store/db.ts';
import { MessagesRepo } from '../../src/store/messages-repo.ts';
import { seedDemo } from '../../src/store/seed.ts';
import { TEST_DATABASE_URL, createTestDatabase, type TestDatabase } from '../helpers/pg.ts';
import { gateService, postgresAvailable } from '../helpers/services.ts';

const pgUp = await gateService('Postgres', TEST_DATABASE_URL, postgresAvailable);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!pgUp)('conversation counters under concurrency (PostgreSQL)', () => {
  let tdb: TestDatabase;
  let h: DbHandle;
  let convs: ConversationsRepo;
  let messages: MessagesRepo;
  const id: Record<string, string> = {};
  let conversationId: string;
  let ch: string;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    h = await openPostgres(tdb.url, 12);
    await h.migrate();
    await seedDemo(h.db);
    for (const r of await rows<{ login: string; id: string }>(h.db, sql`select login, id from users where login in ('client1', 'broker1', 'manager1', 'compliance1', 'research1', 'admin')`)) {
      id[r.login] = String(r.id);
    }
    convs = new ConversationsRepo(h.db);
    messages = new MessagesRepo(h.db, new ArchiveRepo(h.db));
    const [c] = await rows<{ id: string }>(h.db, sql`select id from conversations where type = 'broker_client' and client_id = ${id.client1}`);
    conversationId = String(c.id);
    ch = convChannel(conversationId);
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await tdb?.drop();
  });

  it('every stored counter and the wait equal the log after concurrent messages, recalls, reads and recomputations', async () => {
    const say = (login: string, kind: string, payload: object) =>
      messages.append({ channel: ch, family: 'conv', kind, senderId: id[login], payload, conversationId, inTx: (tx, p) => convs.recordMessage(tx, p) });
    const stats = { chats: 0, recalls: 0, refusedRecalls: 0, recomputed: 0, reads: 0 };
    let stopReaders = false;
    let stopWriters = false;
    const recent: Record<string, string[]> = { client1: [], broker1: [] };

    const writer = async (login: string) => {
      while (!stopWriters) {
        const { pub } = await say(login, 'chat', { text: `${login} ${stats.chats}` });
        stats.chats++;
        recent[login].push(pub.id);
        if (Math.random() < 0.25) {
          // Sometimes the same message twice at once: the second must be refused, not counted twice.
          const ref = recent[login][Math.floor(Math.random() * recent[login].length)];
          const tries = Math.random() < 0.5 ? [say(login, 'chat.recall', { ref })] : [say(login, 'chat.recall', { ref }), say(login, 'chat.recall', { ref })];
          for (const r of await Promise.allSettled(tries)) {
            if (r.status === 'fulfilled') stats.recalls++;
            else if (isQiaoError(r.reason) && r.reason.code === 'QIAO_MESSAGE_RECALLED') stats.refusedRecalls++;
            else throw r.reason;
          }
        }
      }
    };
    const reader = async (login: string) => {
      while (!stopReaders) {
        const top = await convs.topOffset(conversationId);
        await convs.advance(conversationId, id[login], Math.random() < 0.3 ? 'delivered' : 'read', top - Math.floor(Math.random() * 4));
        stats.reads++;
      }
    };
    // Supervisors' counters are dropped (or their row deleted) and computed again from the log while messages commit.
    const recomputer = async (login: string, reads: boolean) => {
      while (!stopReaders) {
        if (Math.random() < 0.3) await h.db.execute(sql`delete from conversation_reads where conversation_id = ${conversationId} and user_id = ${id[login]}`);
        else await h.db.execute(sql`update conversation_reads set unread = null where conversation_id = ${conversationId} and user_id = ${id[login]}`);
        await h.db.execute(sql`update conversations set waiting_known = false where id = ${conversationId}`);
        await Promise.all([convs.unreadState(conversationId, [id[login]]), convs.ensureWaiting(conversationId)]);
        stats.recomputed++;
        if (reads) await convs.advance(conversationId, id[login], 'read', (await convs.topOffset(conversationId)) - Math.floor(Math.random() * 50));
      }
    };

    const writers = [writer('client1'), writer('broker1'), writer('client1'), writer('broker1')];
    // (The repository does not check access: research1 and admin simply are more readers whose counters are recomputed.)
    const others = [reader('client1'), reader('broker1'), recomputer('manager1', true), recomputer('compliance1', false), recomputer('research1', false), recomputer('admin', true)];
    await sleep(3_000);
    stopReaders = true;
    await Promise.all(others);
    // Messages keep coming after the last read: every counter ends well above zero.
    await sleep(1_000);
    stopWriters = true;
    await Promise.all(writers);

    expect(stats.chats).toBeGreaterThan(50);
    expect(stats.recalls).toBeGreaterThan(5);
    expect(stats.recomputed).toBeGreaterThan(10);
    expect(stats.reads).toBeGreaterThan(20);

    const check = await rows<{ user_id: string; unread: number | null; truth: number }>(
      h.db,
      sql`select rd.user_id, rd.unread,
            (select count(*) from messages m where m.channel = ${ch} and m."offset" > rd.read_offset and m.kind = 'chat' and m.sender_id <> rd.user_id::text
               and not exists (select 1 from messages r where r.channel = m.channel and r.kind = 'chat.recall' and r.payload->>'ref' = m.id::text))::int as truth
          from conversation_reads rd where rd.conversation_id = ${conversationId}`,
    );
    const byLogin = Object.fromEntries(Object.entries(id).map(([login, uid]) => [login, check.find((r) => String(r.user_id) === uid)]));
    for (const login of Object.keys(id)) {
      expect(byLogin[login], login).toBeDefined();
      expect([login, byLogin[login]!.unread]).toEqual([login, byLogin[login]!.truth]);
    }
    expect(byLogin.compliance1!.truth).toBeGreaterThan(50);

    const [w] = await rows<{ waiting_known: boolean; stored: Date | null; truth: Date | null }>(
      h.db,
      sql`select c.waiting_known, c.waiting_since as stored,
            (select m.created_at from messages m where m.channel = ${ch} and m.kind = 'chat' and m.sender_id = c.client_id::text
               and m."offset" > coalesce((select max(a."offset") from messages a where a.channel = ${ch} and a.kind = 'chat' and a.sender_id <> c.client_id::text), 0)
             order by m."offset" limit 1) as truth
          from conversations c where c.id = ${conversationId}`,
    );
    expect(w.waiting_known).toBe(true);
    expect(w.stored === null ? null : new Date(w.stored).toISOString()).toBe(w.truth === null ? null : new Date(w.truth).toISOString());
  }, 60_000);
});
