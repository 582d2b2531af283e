/**
 * The compliance archive writer. Records are appended in the caller's transaction and chained:
 * hash = sha256(prevHash ‖ canonical JSON of the record). A transaction-scoped advisory lock
 * serialises appends so the chain has one order; callers append last in their transaction so the
 * lock is held only until commit. The database refuses UPDATE and early DELETE (migration 0002).
 */
import { createHash } from 'node:crypto';
import { desc, sql } from 'drizzle-orm';
import { retainUntil, type RetentionClass } from '../domain/retention.ts';
import type { Db } from './db.ts';
import { archiveRecords } from './schema/index.ts';

/** Any drizzle executor: the db or a transaction. */
export type Executor = Pick<Db, 'select' | 'insert' | 'execute'>;

export interface ArchiveInput {
  kind: string;
  actorId: string;
  subjects: string[];
  conversationId?: string | null;
  channel?: string | null;
  retentionClass: RetentionClass;
  body: Record<string, unknown>;
  /** Searchable text (e.g. the chat text, note title); defaults to ''. */
  text?: string;
  /** Defaults to now; tests pass a shifted clock. */
  recordedAt?: Date;
}

export const GENESIS_HASH = '0'.repeat(64);
/** Arbitrary constant key of the archive's advisory lock. */
const ARCHIVE_LOCK_KEY = 7_140_220_251;

/** Takes the archive's transaction-scoped lock (appends and purges hold it until commit). */
export async function lockArchive(tx: Executor): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${ARCHIVE_LOCK_KEY})`);
}

/**
 * Canonical JSON: object keys sorted at every level, so the hash does not depend on key order. Built
 * with string appends, not map/filter/join: it runs over every archived record under load, and the
 * intermediate arrays were a sixth of the hub's allocations in the account-events bench.
 */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (v instanceof Date) return JSON.stringify(v.toISOString());
  if (Array.isArray(v)) {
    // Array holes and undefined elements are null, as in JSON.stringify (and so in jsonb).
    let out = '[';
    for (let i = 0; i < v.length; i++) out += (i > 0 ? ',' : '') + canonicalJson(v[i] ?? null);
    return out + ']';
  }
  const o = v as Record<string, unknown>;
  let out = '{';
  for (const k of Object.keys(o).sort()) {
    const x = o[k];
    if (x === undefined) continue;
    out += (out.length > 1 ? ',' : '') + JSON.stringify(k) + ':' + canonicalJson(x);
  }
  return out + '}';
}

export interface ChainFields {
  seq: number;
  recordedAt: Date;
  kind: string;
  actorId: string;
  subjects: string[];
  conversationId: string | null;
  channel: string | null;
  retentionClass: string;
  retainUntil: Date;
  body: unknown;
  text: string;
}

/**
 * The chained fields of a record as plain JSON (timestamps as ISO strings), in one fixed order. The hash
 * and the compliance export both use it, so what is exported is exactly what was hashed.
 */
export function chainedFieldsJson(r: ChainFields) {
  return {
    seq: r.seq,
    recordedAt: r.recordedAt.toISOString(),
    kind: r.kind,
    actorId: r.actorId,
    subjects: r.subjects,
    conversationId: r.conversationId,
    channel: r.channel,
    retentionClass: r.retentionClass,
    retainUntil: r.retainUntil.toISOString(),
    body: r.body,
    text: r.text,
  };
}

export function recordHash(prevHash: string, r: ChainFields): string {
  return chainHash(prevHash, canonicalJson(chainedFieldsJson(r)));
}

function chainHash(prevHash: string, canonical: string): string {
  return createHash('sha256').update(prevHash).update('\n').update(canonical).digest('hex');
}

/**
 * Records made ready for `appendPrepared` without the database: everything but their place in the
 * chain. Their canonical JSON is built around the one chained field that depends on that place (seq,
 * a number), so under the lock only the hashing is left.
 */
export interface PreparedRecords {
  readonly rows: ReadonlyArray<Omit<ChainFields, 'seq'>>;
  /** Per record, its canonical JSON before and after `"seq":<n>`. */
  readonly around: ReadonlyArray<readonly [string, string]>;
}

export function canonicalAroundSeq(r: Omit<ChainFields, 'seq'>): readonly [string, string] {
  // canonicalJson of the chained fields, key by key, split where the seq pair goes.
  const o: Record<string, unknown> = chainedFieldsJson({ ...r, seq: 0 });
  let before = '{';
  let after = '';
  let passed = false;
  for (const k of Object.keys(o).sort()) {
    if (k === 'seq') {
      passed = true;
      continue;
    }
    if (o[k] === undefined) continue;
    const pair = JSON.stringify(k) + ':' + canonicalJson(o[k]);
    if (passed) after += ',' + pair;
    else before += pair + ',';
  }
  return [before + '"seq":', after + '}'];
}

export class ArchiveRepo {
  constructor(private readonly db: Db) {}

  /** Appends one record inside `tx` (or its own transaction when none is given). */
  async append(input: ArchiveInput, tx?: Executor): Promise<{ seq: number; hash: string }> {
    if (!tx) return this.db.transaction((t) => this.append(input, t));
    const [out] = await this.appendMany([input], tx);
    return out;
  }

  /**
   * Appends records in this order inside `tx`: one lock, one read of the chain's end, one insert.
   * Callers append last in their transaction, so the lock is held only until commit.
   */
  async appendMany(inputs: ArchiveInput[], tx: Executor): Promise<Array<{ seq: number; hash: string }>> {
    return this.appendPrepared(this.prepare(inputs), tx);
  }

  /** The CPU part of `appendMany`, done before the lock (e.g. while the caller's statements run). */
  prepare(inputs: ArchiveInput[]): PreparedRecords {
    const rows = inputs.map((input) => {
      const recordedAt = input.recordedAt ?? new Date();
      // Hash exactly what the row will read back as, so `verify` can recompute it from the stored row:
      // JS Dates carry milliseconds, which timestamptz keeps exactly; Postgres prints uuids in lower
      // case; jsonb holds what JSON.stringify produced (Dates as ISO strings, undefined dropped).
      return {
        recordedAt,
        kind: input.kind,
        actorId: input.actorId,
        subjects: [...new Set(input.subjects)].sort(),
        conversationId: input.conversationId?.toLowerCase() ?? null,
        channel: input.channel ?? null,
        retentionClass: input.retentionClass,
        retainUntil: retainUntil(input.retentionClass, recordedAt),
        body: JSON.parse(JSON.stringify(input.body)) as unknown,
        text: input.text ?? '',
      };
    });
    return { rows, around: rows.map(canonicalAroundSeq) };
  }

  /** Appends prepared records in this order inside `tx`: one lock, one read of the chain's end, one insert. */
  async appendPrepared(prepared: PreparedRecords, tx: Executor): Promise<Array<{ seq: number; hash: string }>> {
    if (prepared.rows.length === 0) return [];
    await lockArchive(tx);
    const [last] = await tx
      .select({ seq: archiveRecords.seq, hash: archiveRecords.hash })
      .from(archiveRecords)
      .orderBy(desc(archiveRecords.seq))
      .limit(1);
    let seq = last?.seq ?? 0;
    let prevHash = last?.hash ?? GENESIS_HASH;
    const rows = prepared.rows.map((fields, i) => {
      const [before, after] = prepared.around[i];
      const hash = chainHash(prevHash, `${before}${++seq}${after}`);
      const row = { ...fields, seq, prevHash, hash };
      prevHash = hash;
      return row;
    });
    // One JSON parameter for the whole batch: building a multi-row insert through the query builder
    // cost more CPU than the hashing (issue 12 profile); jsonb_to_recordset reads back exactly what was
    // hashed (ISO timestamps with milliseconds, text arrays, jsonb bodies).
    await tx.execute(
      sql`insert into archive_records (seq, recorded_at, kind, actor_id, subjects, conversation_id, channel, retention_class, retain_until, body, text, prev_hash, hash)
          select seq, "recordedAt", kind, "actorId", subjects, "conversationId", channel, "retentionClass", "retainUntil", body, text, "prevHash", hash
          from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as t(seq bigint, "recordedAt" timestamptz, kind text, "actorId" text, subjects text[], "conversationId" uuid, channel text, "retentionClass" text, "retainUntil" timestamptz, body jsonb, text text, "prevHash" text, hash text)
          order by seq`,
    );
    return rows.map((r) => ({ seq: r.seq, hash: r.hash }));
  }
}
