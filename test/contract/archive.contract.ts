/**
 * The compliance archive contract, on PGlite and on PostgreSQL: stored rows re-hash to their stored
 * hash; verify finds an altered, re-hashed or deleted record by seq; the retention purge (with a
 * shifted clock) removes only records past retention and not under legal hold, records itself, and
 * leaves a chain that still verifies end to end; the database refuses early deletes by itself; and the
 * application role has no UPDATE/DELETE/TRUNCATE on the append-only tables.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { asc, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildExport, resolveFilter, searchArchive } from '../../src/compliance/archive-search.ts';
import { purgeArchive } from '../../src/compliance/purge.ts';
import { verifyArchive } from '../../src/compliance/verify.ts';
import { ArchiveRepo, recordHash, type ArchiveInput } from '../../src/store/archive-repo.ts';
import type { DbHandle } from '../../src/store/db.ts';
import { MessagesRepo } from '../../src/store/messages-repo.ts';
import { seedDemo } from '../../src/store/seed.ts';
import { archiveRecords, conversations, legalHolds, users } from '../../src/store/schema/index.ts';

const YEAR_MS = 365.25 * 24 * 3600 * 1000;

/** drizzle wraps driver errors ("Failed query: …"); the database's own message is in `cause`. */
function dbError(re: RegExp) {
  return (e: unknown) => {
    const err = e as { message?: string; cause?: { message?: string } };
    return re.test(`${err?.message ?? ''} ${err?.cause?.message ?? ''}`);
  };
}

export interface ArchiveFixture {
  db: DbHandle;
  /** Runs statements on one connection (SET ROLE must stay on the connection that uses it). */
  session(fn: (q: (text: string) => Promise<unknown>) => Promise<void>): Promise<void>;
  cleanup(): Promise<void>;
}

export function archiveContract(name: string, factory: () => Promise<ArchiveFixture>): void {
  describe(`Archive contract: ${name}`, () => {
    let f: ArchiveFixture;
    let archive: ArchiveRepo;
    const db = () => f.db.db;

    /** Runs `fn` with the row guard off, as the owner: the only way to alter a record, in a test. */
    async function tamper(fn: () => Promise<unknown>): Promise<void> {
      await db().execute(sql`ALTER TABLE archive_records DISABLE TRIGGER archive_records_guard_row`);
      try {
        await fn();
      } finally {
        await db().execute(sql`ALTER TABLE archive_records ENABLE TRIGGER archive_records_guard_row`);
      }
    }

    const rec = (over: Partial<ArchiveInput> = {}): ArchiveInput => ({
      kind: 'message',
      actorId: randomUUID(),
      subjects: [],
      retentionClass: 'client-communications',
      body: { text: 'x' },
      text: 'x',
      ...over,
    });

    beforeAll(async () => {
      f = await factory();
      await f.db.migrate();
      archive = new ArchiveRepo(f.db.db);
    });
    afterAll(async () => f?.cleanup());

    it('stores rows whose recomputed hash equals the stored hash, whatever the input looked like', async () => {
      const messages = new MessagesRepo(db(), archive);
      await messages.append(
        {
          channel: 'research.macro',
          family: 'research',
          kind: 'note',
          senderId: 'sender-1',
          payload: { title: '宏观 "周报" \\ 🚀', riskLevel: 'R2', tickers: ['600519.SH'], n: 0.1, big: 1e21, neg: -0, nested: { z: 1, a: [1, 'x', null] } },
        },
      );
      await archive.append(rec({ conversationId: randomUUID().toUpperCase(), subjects: ['b', 'a', 'b'], body: { at: new Date(), list: [1, undefined, 3], skip: undefined } }));
      await archive.append(rec({ recordedAt: new Date('2010-02-03T04:05:06.789Z') }));
      // Bodies printed by the canonical walk rather than natively: a toJSON value, index-like keys, NaN.
      await archive.append(rec({ body: { amount: { toJSON: () => '1700.50', b: 1 }, '10': 'ten', '9': 'nine', ratio: NaN, list: [{ d: 1, c: 2 }] } }));
      const rows = await db().select().from(archiveRecords).orderBy(asc(archiveRecords.seq));
      expect(rows.length).toBeGreaterThanOrEqual(4);
      expect(rows[rows.length - 1].body).toEqual({ amount: '1700.50', '10': 'ten', '9': 'nine', ratio: null, list: [{ c: 2, d: 1 }] });
      for (const r of rows) expect(recordHash(r.prevHash, r), `seq ${r.seq}`).toBe(r.hash);
      const report = await verifyArchive(db());
      expect(report).toMatchObject({ ok: true, problemCount: 0, firstBrokenSeq: null, checked: rows.length, lastSeq: rows[rows.length - 1].seq });
    });

    it('reports an altered record by its seq, and is clean again once it is restored', async () => {
      for (let i = 0; i < 4; i++) await archive.append(rec({ text: `chain ${i}` }));
      const [victim] = await db().select().from(archiveRecords).where(eq(archiveRecords.text, 'chain 1'));
      await tamper(() => db().execute(sql`UPDATE archive_records SET text = 'chain 1 (edited)' WHERE seq = ${victim.seq}`));
      const bad = await verifyArchive(db(), { pageSize: 2 });
      expect(bad.ok).toBe(false);
      expect(bad.firstBrokenSeq).toBe(victim.seq);
      expect(bad.problems).toEqual([expect.objectContaining({ seq: victim.seq, problem: 'hash-mismatch' })]);
      await tamper(() => db().execute(sql`UPDATE archive_records SET text = 'chain 1' WHERE seq = ${victim.seq}`));
      expect((await verifyArchive(db())).ok).toBe(true);
    });

    it('reports a record altered and re-hashed at the link to the next record', async () => {
      const [victim] = await db().select().from(archiveRecords).where(eq(archiveRecords.text, 'chain 2'));
      const forged = recordHash(victim.prevHash, { ...victim, text: 'forged' });
      await tamper(() => db().execute(sql`UPDATE archive_records SET text = 'forged', hash = ${forged} WHERE seq = ${victim.seq}`));
      const bad = await verifyArchive(db());
      expect(bad.ok).toBe(false);
      expect(bad.firstBrokenSeq).toBe(victim.seq + 1);
      expect(bad.problems).toEqual([expect.objectContaining({ seq: victim.seq + 1, problem: 'prev-hash-mismatch' })]);
      await tamper(() => db().execute(sql`UPDATE archive_records SET text = ${victim.text}, hash = ${victim.hash} WHERE seq = ${victim.seq}`));
      expect((await verifyArchive(db())).ok).toBe(true);
    });

    it('reports a deleted record as a gap no purge accounts for', async () => {
      // Not the newest record: a truncated tail is seen only against a lastSeq/lastHash kept elsewhere.
      const [victim] = await db().select().from(archiveRecords).where(eq(archiveRecords.text, 'chain 0'));
      await tamper(() => db().execute(sql`DELETE FROM archive_records WHERE seq = ${victim.seq}`));
      const bad = await verifyArchive(db());
      expect(bad.ok).toBe(false);
      expect(bad.problems).toEqual([expect.objectContaining({ seq: victim.seq + 1, problem: 'gap' })]);
      await db().insert(archiveRecords).values(victim);
      expect((await verifyArchive(db())).ok).toBe(true);
    });

    it('purges only records past retention and not under legal hold, with a shifted clock', async () => {
      const now = Date.now();
      const ago = (years: number) => new Date(now - years * YEAR_MS);
      const heldPerson = randomUUID();
      const heldConversation = randomUUID();
      const t = (label: string) => `purge-test ${label}`;
      const old1 = await archive.append(rec({ recordedAt: ago(25), text: t('old 1') })); // 20y class: expired 5y ago
      const old2 = await archive.append(rec({ recordedAt: ago(25), text: t('old 2') }));
      const recent = await archive.append(rec({ recordedAt: ago(10), text: t('10 years') })); // kept until +10y
      const heldByPerson = await archive.append(rec({ recordedAt: ago(25), subjects: [heldPerson], text: t('held person') }));
      const heldByConv = await archive.append(rec({ recordedAt: ago(25), conversationId: heldConversation, text: t('held conversation') }));
      const task = await archive.append(rec({ recordedAt: ago(6), retentionClass: 'tasks', text: t('task 6y') })); // 5y class
      const old3 = await archive.append(rec({ recordedAt: ago(30), text: t('old 3') }));
      await db().insert(legalHolds).values([
        { subjectId: heldPerson, reason: '监管调查', placedBy: 'compliance-test' },
        { conversationId: heldConversation, reason: '诉讼保全', placedBy: 'compliance-test' },
      ]);
      const newest = await archive.append(rec({ text: t('newest') }));

      // The database refuses deleting early by itself: under retention, and under legal hold.
      await expect(db().execute(sql`DELETE FROM archive_records WHERE seq = ${recent.seq}`)).rejects.toSatisfy(dbError(/retention/));
      await expect(db().execute(sql`DELETE FROM archive_records WHERE seq = ${heldByPerson.seq}`)).rejects.toSatisfy(dbError(/legal hold/));
      await expect(db().execute(sql`DELETE FROM archive_records WHERE seq = ${heldByConv.seq}`)).rejects.toSatisfy(dbError(/legal hold/));

      // A clock running 100 years ahead purges nothing more: the database clock bounds the cutoff.
      const report = await purgeArchive(db(), archive, { now: new Date(now + 100 * YEAR_MS), batchSize: 2 });
      const gone = [old1.seq, old2.seq, task.seq, old3.seq];
      expect(report.purged).toBe(4);
      expect(report.batches.map((b) => b.count)).toEqual([2, 2]);
      expect(new Date(report.cutoff!).getTime()).toBeLessThanOrEqual(Date.now() + 1000);
      const left = new Set((await db().select({ seq: archiveRecords.seq }).from(archiveRecords)).map((r) => r.seq));
      for (const s of gone) expect(left.has(s), `seq ${s} purged`).toBe(false);
      for (const s of [recent.seq, heldByPerson.seq, heldByConv.seq, newest.seq]) expect(left.has(s), `seq ${s} kept`).toBe(true);

      // Each batch recorded itself, listing the removed ranges.
      const purges = await db().select().from(archiveRecords).where(eq(archiveRecords.kind, 'archive.purge')).orderBy(asc(archiveRecords.seq));
      expect(purges.map((p) => (p.body as { count: number }).count)).toEqual([2, 2]);
      expect((purges[0].body as { ranges: Array<{ from: number; to: number }> }).ranges).toEqual([expect.objectContaining({ from: old1.seq, to: old2.seq })]);
      expect(purges[0].retentionClass).toBe('compliance-activity');

      // The chain still verifies end to end, across the purged records.
      const v = await verifyArchive(db());
      expect(v).toMatchObject({ ok: true, problemCount: 0 });
      expect(v.purgedGaps).toBe(2);

      // Nothing left to purge until a hold is released.
      expect((await purgeArchive(db(), archive)).purged).toBe(0);
      await db().update(legalHolds).set({ releasedAt: new Date() }).where(eq(legalHolds.subjectId, heldPerson));
      const again = await purgeArchive(db(), archive);
      expect(again.purged).toBe(1);
      expect((await db().select().from(archiveRecords).where(eq(archiveRecords.seq, heldByPerson.seq))).length).toBe(0);
      expect((await db().select().from(archiveRecords).where(eq(archiveRecords.seq, heldByConv.seq))).length).toBe(1);
      expect((await verifyArchive(db())).ok).toBe(true);
    });

    it('never purges the newest record, so seqs are never reused', async () => {
      const last = await archive.append(rec({ recordedAt: new Date(Date.now() - 40 * YEAR_MS), text: 'expired but newest' }));
      const r = await purgeArchive(db(), archive);
      expect(r.purged).toBe(0);
      expect((await db().select().from(archiveRecords).where(eq(archiveRecords.seq, last.seq))).length).toBe(1);
      const next = await archive.append(rec());
      expect(next.seq).toBe(last.seq + 1);
      expect((await purgeArchive(db(), archive)).purged).toBe(1);
      expect((await verifyArchive(db())).ok).toBe(true);
    });

    it('searches by person (and their conversations), keyword with % and _ taken literally, and dates; exports what it finds', async () => {
      await seedDemo(db());
      const [broker] = await db().select().from(users).where(eq(users.login, 'broker1'));
      // A client of its own: the demo's clients have archived history of their own.
      const [client] = await db()
        .insert(users)
        .values({ firmId: broker.firmId, login: 'archive-person', passwordHash: broker.passwordHash, displayName: '档案测试客户', role: 'client', tier: 'general' })
        .returning();
      const [conv] = await db().insert(conversations).values({ type: 'broker_client', brokerId: broker.id, clientId: client.id }).onConflictDoNothing().returning();
      const convId = conv?.id ?? (await db().select().from(conversations).where(eq(conversations.clientId, client.id)))[0].id;
      const inConv = await archive.append(rec({ actorId: broker.id, subjects: [broker.id], conversationId: convId, text: '费率 0.5%_优惠 说明' }));
      const aboutClient = await archive.append(rec({ actorId: broker.id, subjects: [broker.id, client.id], text: '风险测评提醒' }));
      await archive.append(rec({ text: '无关 05x_优惠' }));

      const byPerson = await searchArchive(db(), await resolveFilter(db(), { person: 'archive-person' }), { limit: 10 });
      expect(byPerson.records.map((r) => r.seq)).toEqual([aboutClient.seq, inConv.seq]);
      const literal = await searchArchive(db(), await resolveFilter(db(), { q: '0.5%_优惠' }), { limit: 10 });
      expect(literal.records.map((r) => r.seq)).toEqual([inConv.seq]);
      expect((await searchArchive(db(), await resolveFilter(db(), { q: '0_5' }), { limit: 10 })).records).toEqual([]);
      const byConv = await searchArchive(db(), await resolveFilter(db(), { conversationId: convId.toUpperCase(), from: '2000-01-01', to: '2999-01-01' }), { limit: 10 });
      expect(byConv.records.map((r) => r.seq)).toEqual([inConv.seq]);
      const page = await searchArchive(db(), await resolveFilter(db(), { person: client.id }), { limit: 1 });
      expect(page.nextCursor).toBe(aboutClient.seq);

      const bundle = await buildExport(db(), await resolveFilter(db(), { person: 'archive-person' }), { id: 'tester' }, { maxRecords: 10 });
      expect(bundle.manifest).toMatchObject({ recordCount: 2, firstSeq: inConv.seq, lastSeq: aboutClient.seq });
      const lines = bundle.files[0].content.trimEnd().split('\n').map((l) => JSON.parse(l));
      for (const l of lines) expect(recordHash(l.prevHash, { ...l, recordedAt: new Date(l.recordedAt), retainUntil: new Date(l.retainUntil) })).toBe(l.hash);
      await expect(buildExport(db(), await resolveFilter(db(), {}), { id: 'tester' }, { maxRecords: 1 })).rejects.toMatchObject({ code: 'QIAO_EXPORT_TOO_LARGE' });
    });

    it('gives the application role no UPDATE, DELETE or TRUNCATE on the append-only tables', async () => {
      const role = `qiao_t_app_${randomBytes(5).toString('hex')}`;
      await db().execute(sql.raw(`CREATE ROLE ${role} NOLOGIN`));
      try {
        await db().execute(sql`SELECT qiao_grant_app_role(${role})`);
        const outcomes: Record<string, string> = {};
        await f.session(async (q) => {
          await q(`SET ROLE ${role}`);
          const attempt = async (label: string, stmt: string) => {
            try {
              await q(stmt);
              outcomes[label] = 'ok';
            } catch (e) {
              // drizzle wraps the driver's error; the database's message is its cause.
              const err = e as Error & { cause?: { message?: string } };
              outcomes[label] = err.cause?.message ?? err.message;
            }
          };
          await attempt('select', 'SELECT count(*) FROM archive_records');
          await attempt('update', "UPDATE archive_records SET kind = 'x' WHERE seq = 1");
          await attempt('delete', 'DELETE FROM archive_records WHERE seq = 1');
          await attempt('truncate', 'TRUNCATE archive_records');
          await attempt('disable-trigger', 'ALTER TABLE archive_records DISABLE TRIGGER archive_records_guard_row');
          await attempt('messages-update', "UPDATE messages SET kind = 'x'");
          await attempt('audit-delete', 'DELETE FROM audit_log');
          await attempt('users-select', 'SELECT count(*) FROM users');
          await q('RESET ROLE');
        });
        expect(outcomes.select).toBe('ok');
        expect(outcomes['users-select']).toBe('ok');
        for (const k of ['update', 'delete', 'truncate', 'messages-update', 'audit-delete']) expect(outcomes[k], k).toMatch(/permission denied/);
        expect(outcomes['disable-trigger']).toMatch(/must be owner/);
        // The role the migration prepared for production has the same shape.
        const priv = (await db().execute(
          sql`SELECT has_table_privilege('qiao_app', 'archive_records', 'INSERT') AS ins, has_table_privilege('qiao_app', 'archive_records', 'UPDATE') AS upd, has_table_privilege('qiao_app', 'archive_records', 'DELETE') AS del`,
        )) as unknown as { rows: Array<{ ins: boolean; upd: boolean; del: boolean }> };
        expect(priv.rows[0]).toEqual({ ins: true, upd: false, del: false });
      } finally {
        await db().execute(sql.raw(`DROP OWNED BY ${role}`));
        await db().execute(sql.raw(`DROP ROLE ${role}`));
      }
    });
  });
}
