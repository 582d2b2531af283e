/**
 * Verifies the archive's hash chain: walks the records in seq order, page by page, recomputes each
 * record's hash from its stored fields, and checks that each record's prev_hash is the hash of the
 * record before it.
 *
 * Purges (src/compliance/purge.ts) remove records past retention; each purge leaves an
 * `archive.purge` record listing the seq ranges it removed with the prev_hash of the first removed
 * record and the hash of the last one. A gap in seq is accepted only when such ranges bridge it
 * exactly, so the chain is still checked end to end across purged records; a gap nothing explains
 * (a deleted record) is reported. When the first remaining record is not seq 1, the chain starts from
 * it if the purge records bridge back to the genesis hash, and otherwise is reported as a gap.
 */
import { asc, eq, gt } from 'drizzle-orm';
import { GENESIS_HASH, recordHash } from '../store/archive-repo.ts';
import type { Db } from '../store/db.ts';
import { archiveRecords } from '../store/schema/index.ts';

export type VerifyProblemKind = 'hash-mismatch' | 'prev-hash-mismatch' | 'gap';

export interface VerifyProblem {
  seq: number;
  problem: VerifyProblemKind;
  detail: string;
}

export interface VerifyReport {
  ok: boolean;
  /** Records whose hash was recomputed. */
  checked: number;
  firstSeq: number | null;
  lastSeq: number | null;
  lastHash: string | null;
  /** Lowest seq at which something is wrong. */
  firstBrokenSeq: number | null;
  /** Gaps bridged by purge records. */
  purgedGaps: number;
  /** At most `maxProblems`; `problemCount` has them all. */
  problems: VerifyProblem[];
  problemCount: number;
  startedAt: string;
  finishedAt: string;
}

/** One contiguous run of purged records, as listed in an `archive.purge` record. */
export interface PurgedRange {
  from: number;
  to: number;
  /** prev_hash of record `from`. */
  prevHash: string;
  /** hash of record `to`. */
  lastHash: string;
}

export interface VerifyOptions {
  pageSize?: number;
  maxProblems?: number;
}

function isRange(r: unknown): r is PurgedRange {
  const x = r as PurgedRange;
  return !!x && Number.isInteger(x.from) && Number.isInteger(x.to) && x.to >= x.from && typeof x.prevHash === 'string' && typeof x.lastHash === 'string';
}

async function loadPurgedRanges(db: Db): Promise<Map<number, PurgedRange>> {
  const rows = await db.select({ body: archiveRecords.body }).from(archiveRecords).where(eq(archiveRecords.kind, 'archive.purge')).orderBy(asc(archiveRecords.seq));
  const byFrom = new Map<number, PurgedRange>();
  for (const r of rows) {
    const ranges = (r.body as { ranges?: unknown })?.ranges;
    if (!Array.isArray(ranges)) continue;
    for (const x of ranges) if (isRange(x)) byFrom.set(x.from, x);
  }
  return byFrom;
}

/**
 * Follows purged ranges from `afterSeq` (whose hash is `afterHash`) up to `nextSeq`. Returns the hash
 * the record at `nextSeq` must carry as prev_hash, or null when the ranges do not bridge the gap.
 */
function bridge(ranges: Map<number, PurgedRange>, afterSeq: number, afterHash: string, nextSeq: number): string | null {
  let seq = afterSeq + 1;
  let hash = afterHash;
  while (seq < nextSeq) {
    const r = ranges.get(seq);
    if (!r || r.prevHash !== hash || r.to >= nextSeq) return null;
    hash = r.lastHash;
    seq = r.to + 1;
  }
  return seq === nextSeq ? hash : null;
}

export async function verifyArchive(db: Db, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const pageSize = opts.pageSize ?? 1000;
  const maxProblems = opts.maxProblems ?? 100;
  const startedAt = new Date().toISOString();
  const ranges = await loadPurgedRanges(db);
  const problems: VerifyProblem[] = [];
  let problemCount = 0;
  let firstBroken: number | null = null;
  const report = (seq: number, problem: VerifyProblemKind, detail: string) => {
    problemCount++;
    if (firstBroken === null || seq < firstBroken) firstBroken = seq;
    if (problems.length < maxProblems) problems.push({ seq, problem, detail });
  };

  let prev: { seq: number; hash: string } = { seq: 0, hash: GENESIS_HASH };
  let firstSeq: number | null = null;
  let checked = 0;
  let purgedGaps = 0;
  for (;;) {
    const rows = await db.select().from(archiveRecords).where(gt(archiveRecords.seq, prev.seq)).orderBy(asc(archiveRecords.seq)).limit(pageSize);
    for (const r of rows) {
      firstSeq ??= r.seq;
      let expectedPrev: string | null = prev.hash;
      if (r.seq !== prev.seq + 1) {
        expectedPrev = bridge(ranges, prev.seq, prev.hash, r.seq);
        if (expectedPrev === null) {
          report(r.seq, 'gap', prev.seq === 0 ? `records 1–${r.seq - 1} are missing and no purge record accounts for them` : `records ${prev.seq + 1}–${r.seq - 1} are missing and no purge record accounts for them`);
        } else {
          purgedGaps++;
        }
      }
      if (expectedPrev !== null && r.prevHash !== expectedPrev) {
        report(r.seq, 'prev-hash-mismatch', `prev_hash ${r.prevHash.slice(0, 12)}… does not match the hash of the record before it (${expectedPrev.slice(0, 12)}…)`);
      }
      const computed = recordHash(r.prevHash, r);
      if (computed !== r.hash) report(r.seq, 'hash-mismatch', 'stored hash does not match the record’s content: the record was altered');
      checked++;
      // Continue from the stored hash: one altered record is reported once, not at every later record.
      prev = { seq: r.seq, hash: r.hash };
    }
    if (rows.length < pageSize) break;
  }
  return {
    ok: problemCount === 0,
    checked,
    firstSeq,
    lastSeq: checked ? prev.seq : null,
    lastHash: checked ? prev.hash : null,
    firstBrokenSeq: firstBroken,
    purgedGaps,
    problems,
    problemCount,
    startedAt,
    finishedAt: new Date().toISOString(),
  };
}
