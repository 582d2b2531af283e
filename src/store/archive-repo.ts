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
 * Canonical JSON: object keys sorted at every level, so the hash does not depend on key order. Its
 * output may never change (records chained by earlier releases must still verify). Plain JSON data,
 * which is what every record holds, is printed by one native JSON.stringify of a key-sorted view
 * (`sortedView`); anything else goes through `canonicalWalk`, the definition.
 */
export function canonicalJson(v: unknown): string {
  const view = sortedView(v, 0);
  return view === NOT_PLAIN ? canonicalWalk(v) : (JSON.stringify(view) as string);
}

/** The definition of the canonical form, key by key (string appends: it once ran for every record). */
function canonicalWalk(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (v instanceof Date) return JSON.stringify(v.toISOString());
  if (Array.isArray(v)) {
    // Array holes and undefined elements are null, as in JSON.stringify (and so in jsonb).
    let out = '[';
    for (let i = 0; i < v.length; i++) out += (i > 0 ? ',' : '') + canonicalWalk(v[i] ?? null);
    return out + ']';
  }
  const o = v as Record<string, unknown>;
  let out = '{';
  for (const k of Object.keys(o).sort()) {
    const x = o[k];
    if (x === undefined) continue;
    out += (out.length > 1 ? ',' : '') + JSON.stringify(k) + ':' + canonicalWalk(x);
  }
  return out + '}';
}

const NOT_PLAIN = Symbol('not plain JSON data');
/** Deeper than this is left to canonicalWalk (which throws as it always did on a cycle). */
const MAX_VIEW_DEPTH = 100;

/**
 * `v` as JSON.stringify must see it to print the canonical form: the same value where it already is
 * (keys in sorted order), else a copy with sorted keys; Dates as their ISO strings. NOT_PLAIN for what
 * native printing would treat differently from `canonicalWalk`: anything but strings, finite or not
 * numbers, booleans, null, undefined, arrays, Dates and plain objects (a toJSON method, a function, a
 * boxed value, a class instance), and keys that start with a digit (an object lists array-index keys
 * first, in numeric order, so a rebuilt object could not keep them in sorted order).
 */
function sortedView(v: unknown, depth: number): unknown {
  if (v === null) return v;
  const t = typeof v;
  if (t === 'string' || t === 'number' || t === 'boolean' || t === 'undefined') return v;
  if (t !== 'object' || depth > MAX_VIEW_DEPTH) return NOT_PLAIN;
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) {
    let copy: unknown[] | null = null;
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      const y = sortedView(x, depth + 1);
      if (y === NOT_PLAIN) return NOT_PLAIN;
      if (y !== x && !copy) copy = v.slice(0, i);
      if (copy) copy.push(y);
    }
    return copy ?? v;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return NOT_PLAIN;
  const o = v as Record<string, unknown>;
  if (typeof o.toJSON === 'function') return NOT_PLAIN;
  const keys = Object.keys(o);
  let inOrder = true;
  let changed = false;
  const views: unknown[] = new Array(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    const c = k.charCodeAt(0);
    if (c >= 48 && c <= 57) return NOT_PLAIN;
    if (i > 0 && keys[i - 1] > k) inOrder = false;
    const x = o[k];
    const y = sortedView(x, depth + 1);
    if (y === NOT_PLAIN) return NOT_PLAIN;
    views[i] = y;
    if (y !== x) changed = true;
  }
  if (inOrder && !changed) return v;
  const order = keys.map((_, i) => i);
  if (!inOrder) order.sort((a, b) => (keys[a] < keys[b] ? -1 : keys[a] > keys[b] ? 1 : 0));
  // No prototype: a key named "__proto__" is then an ordinary property, as in the original.
  const copy: Record<string, unknown> = Object.create(null);
  for (const i of order) copy[keys[i]] = views[i];
  return copy;
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
  /** Per record, its canonical JSON before and after `"seq":<n>`. */
  readonly around: ReadonlyArray<readonly [string, string]>;
}

/** `bodyJson`: the body's canonical JSON when the caller has printed it already. */
export function canonicalAroundSeq(r: Omit<ChainFields, 'seq'>, bodyJson?: string): readonly [string, string] {
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
    const pair = JSON.stringify(k) + ':' + (k === 'body' && bodyJson !== undefined ? bodyJson : canonicalJson(o[k]));
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
    return {
      around: inputs.map((input) => {
        const recordedAt = input.recordedAt ?? new Date();
        // Hash exactly what the row will read back as, so `verify` can recompute it from the stored row:
        // JS Dates carry milliseconds, which timestamptz keeps exactly; Postgres prints uuids in lower
        // case; jsonb holds what JSON.stringify produced (Dates as ISO strings, undefined dropped), which
        // for plain data is what the canonical form prints anyway, so only other bodies make the trip.
        const view = sortedView(input.body, 0);
        const body = view === NOT_PLAIN ? (JSON.parse(JSON.stringify(input.body)) as unknown) : input.body;
        const bodyJson = view === NOT_PLAIN ? canonicalJson(body) : (JSON.stringify(view) as string);
        return canonicalAroundSeq(
          {
            recordedAt,
            kind: input.kind,
            actorId: input.actorId,
            subjects: [...new Set(input.subjects)].sort(),
            conversationId: input.conversationId?.toLowerCase() ?? null,
            channel: input.channel ?? null,
            retentionClass: input.retentionClass,
            retainUntil: retainUntil(input.retentionClass, recordedAt),
            body,
            text: input.text ?? '',
          },
          bodyJson,
        );
      }),
    };
  }

  /** Appends prepared records in this order inside `tx`: one lock, one read of the chain's end, one insert. */
  async appendPrepared(prepared: PreparedRecords, tx: Executor): Promise<Array<{ seq: number; hash: string }>> {
    if (prepared.around.length === 0) return [];
    await lockArchive(tx);
    const [last] = await tx
      .select({ seq: archiveRecords.seq, hash: archiveRecords.hash })
      .from(archiveRecords)
      .orderBy(desc(archiveRecords.seq))
      .limit(1);
    let seq = last?.seq ?? 0;
    let prevHash = last?.hash ?? GENESIS_HASH;
    const out: Array<{ seq: number; hash: string }> = new Array(prepared.around.length);
    // The insert's one JSON parameter is the hashed text itself: the canonical record names every
    // chained column as jsonb_to_recordset reads it, so only prevHash and hash are added (both hex).
    // jsonb_to_recordset reads back exactly what was hashed (ISO timestamps with milliseconds, text
    // arrays, jsonb bodies); no second serialisation of the bodies.
    let param = '[';
    for (let i = 0; i < prepared.around.length; i++) {
      const [before, after] = prepared.around[i];
      const canonical = `${before}${++seq}${after}`;
      const hash = chainHash(prevHash, canonical);
      param += `${i > 0 ? ',' : ''}${canonical.slice(0, -1)},"prevHash":"${prevHash}","hash":"${hash}"}`;
      out[i] = { seq, hash };
      prevHash = hash;
    }
    await tx.execute(
      sql`insert into archive_records (seq, recorded_at, kind, actor_id, subjects, conversation_id, channel, retention_class, retain_until, body, text, prev_hash, hash)
          select seq, "recordedAt", kind, "actorId", subjects, "conversationId", channel, "retentionClass", "retainUntil", body, text, "prevHash", hash
          from jsonb_to_recordset(${param + ']'}::jsonb) as t(seq bigint, "recordedAt" timestamptz, kind text, "actorId" text, subjects text[], "conversationId" uuid, channel text, "retentionClass" text, "retainUntil" timestamptz, body jsonb, text text, "prevHash" text, hash text)
          order by seq`,
    );
    return out;
  }
}
