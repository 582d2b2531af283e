/**
 * The retention purge. Removes archive records whose retention has ended — retain_until before both
 * the given clock and the database's clock (so a clock running ahead cannot purge early) — and that
 * no active legal hold covers (by person or by conversation). The database trigger of migration 0002
 * checks the same two rules again for every deleted row, whoever deletes.
 *
 * Each batch runs in one transaction holding the archive lock and ends by appending an
 * `archive.purge` record: the cutoff, the count, and the removed seq ranges with the prev_hash of
 * each range's first record and the hash of its last, so `verify` can bridge the gaps and still check
 * the chain end to end. The newest record is never purged, so seqs are never reused.
 *
 * Runs as a database role that may DELETE on archive_records (the owner), not as the hub's role:
 * `npm run archive:purge` (docs/operations.md).
 */
import { and, asc, desc, gt, inArray, lt, sql } from 'drizzle-orm';
import { type ArchiveRepo, lockArchive } from '../store/archive-repo.ts';
import type { Db } from '../store/db.ts';
import { archiveRecords } from '../store/schema/index.ts';
import type { PurgedRange } from './verify.ts';

export interface PurgeOptions {
  /** The caller's clock; the effective cutoff is min(now, database now()). */
  now?: Date;
  /** Records per transaction (and per `archive.purge` record). */
  batchSize?: number;
  /** Who runs it (recorded in the purge record). */
  actorId?: string;
}

export interface PurgeReport {
  cutoff: string | null;
  purged: number;
  batches: Array<{ purgeSeq: number; count: number; ranges: PurgedRange[] }>;
}

/** SQL condition: no active legal hold covers the archive record (same rule as the trigger). */
const notUnderHold = sql`NOT EXISTS (
  SELECT 1 FROM legal_holds h
  WHERE h.released_at IS NULL
    AND ((h.subject_id IS NOT NULL AND h.subject_id = ANY (${archiveRecords.subjects}))
      OR (h.conversation_id IS NOT NULL AND h.conversation_id = ${archiveRecords.conversationId})))`;

export function toRanges(rows: Array<{ seq: number; prevHash: string; hash: string }>): PurgedRange[] {
  const out: PurgedRange[] = [];
  for (const r of rows) {
    const last = out[out.length - 1];
    if (last && r.seq === last.to + 1) {
      last.to = r.seq;
      last.lastHash = r.hash;
    } else {
      out.push({ from: r.seq, to: r.seq, prevHash: r.prevHash, lastHash: r.hash });
    }
  }
  return out;
}

export async function purgeArchive(db: Db, archive: ArchiveRepo, opts: PurgeOptions = {}): Promise<PurgeReport> {
  const batchSize = opts.batchSize ?? 5000;
  const actorId = opts.actorId ?? 'system:retention-purge';
  const now = opts.now ?? new Date();
  const report: PurgeReport = { cutoff: null, purged: 0, batches: [] };
  let after = 0;
  for (;;) {
    const batch = await db.transaction(async (tx) => {
      await lockArchive(tx);
      const res = (await tx.execute(sql`SELECT least(${now.toISOString()}::timestamptz, now()) AS cutoff`)) as unknown as { rows: Array<{ cutoff: string | Date }> };
      const cutoff = res.rows[0].cutoff;
      const cutoffDate = new Date(cutoff);
      const [newest] = await tx.select({ seq: archiveRecords.seq }).from(archiveRecords).orderBy(desc(archiveRecords.seq)).limit(1);
      if (!newest) return { cutoff: cutoffDate, rows: [] as Array<{ seq: number; prevHash: string; hash: string }>, purgeSeq: 0 };
      const rows = await tx
        .select({ seq: archiveRecords.seq, prevHash: archiveRecords.prevHash, hash: archiveRecords.hash, retentionClass: archiveRecords.retentionClass })
        .from(archiveRecords)
        .where(and(gt(archiveRecords.seq, after), lt(archiveRecords.seq, newest.seq), lt(archiveRecords.retainUntil, cutoffDate), notUnderHold))
        .orderBy(asc(archiveRecords.seq))
        .limit(batchSize);
      if (rows.length === 0) return { cutoff: cutoffDate, rows, purgeSeq: 0 };
      const seqs = rows.map((r) => r.seq);
      const deleted = await tx.delete(archiveRecords).where(inArray(archiveRecords.seq, seqs)).returning({ seq: archiveRecords.seq });
      if (deleted.length !== rows.length) throw new Error(`purge deleted ${deleted.length} of ${rows.length} selected records`);
      const ranges = toRanges(rows);
      const byClass: Record<string, number> = {};
      for (const r of rows) byClass[r.retentionClass] = (byClass[r.retentionClass] ?? 0) + 1;
      const { seq } = await archive.append(
        {
          kind: 'archive.purge',
          actorId,
          subjects: [actorId],
          retentionClass: 'compliance-activity',
          body: { cutoff: cutoffDate.toISOString(), count: rows.length, firstSeq: seqs[0], lastSeq: seqs[seqs.length - 1], byRetentionClass: byClass, ranges },
          text: '',
        },
        tx,
      );
      return { cutoff: cutoffDate, rows, purgeSeq: seq, ranges };
    });
    report.cutoff = batch.cutoff.toISOString();
    if (batch.rows.length === 0) break;
    report.purged += batch.rows.length;
    report.batches.push({ purgeSeq: batch.purgeSeq, count: batch.rows.length, ranges: batch.ranges ?? [] });
    after = batch.rows[batch.rows.length - 1].seq;
    if (batch.rows.length < batchSize) break;
  }
  return report;
}

