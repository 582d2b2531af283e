/**
 * The append-only message log with per-channel offsets.
 *
 * `append` commits a publication: it allocates the next offset by upserting the channel row (which
 * row-locks it until commit), inserts the message, runs the caller's domain writes, records the relay
 * work in the outbox and appends the archive record, all in one transaction. Nothing is handed to the
 * bus here: the relay (src/hub/relay.ts) does that from what was committed. Because the channel row
 * stays locked until commit, a channel's publications commit in offset order and its offsets have no
 * holes: when offset N is committed, every offset below N is committed too.
 */
import { v7 as uuidv7 } from 'uuid';
import { and, asc, desc, eq, gt, lt, sql } from 'drizzle-orm';
import type { Publication } from '../bus/bus.ts';
import { assertSameRequest } from '../domain/idempotency.ts';
import { isUnavailableError } from '../errors/codes.ts';
import { retentionForFamily } from '../domain/retention.ts';
import type { ArchiveInput, ArchiveRepo, PreparedRecords } from './archive-repo.ts';
import { pgArray, pgNumberArray, rows, type Db } from './db.ts';
import { channels, messages, publishOutbox } from './schema/index.ts';

/** A transaction of the store (what `db.transaction` hands its callback). */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

export interface AppendInput {
  channel: string;
  family: string;
  kind: string;
  senderId: string;
  payload: unknown;
  /** `JSON.stringify(payload ?? null)` when the caller has it already (the publisher's size check). */
  payloadJson?: string;
  idempotencyKey?: string;
  /**
   * With a key: a stored publication under the same key must be the same request (channel, kind and
   * payload), else QIAO_IDEMPOTENCY_MISMATCH. Off for server services that retry their own keys with
   * fresh timestamps in the payload.
   */
  strictIdempotency?: boolean;
  /** People the message concerns besides the sender (archive search by person). */
  subjects?: string[];
  conversationId?: string;
  /**
   * Domain writes that must commit with the message or not at all (a recommendation row, a task state
   * change), run in the transaction after the message row; throwing rolls everything back and
   * nothing is delivered. Returned archive records are appended after the
   * message's own record, last in the transaction.
   */
  inTx?: (tx: Tx, pub: Publication) => Promise<ArchiveInput[] | void>;
  /** Merged into the message's archive record (e.g. the DLP terms it matched). */
  archiveNote?: Record<string, unknown>;
  /**
   * Seeding only (demo history, src/store/seed-service-history.ts): the message's time instead of the
   * commit's, so the conversation side and the archive record read the backdated time. Never set on
   * the publish path.
   */
  at?: Date;
}

/** Searchable text of a payload: the human-written fields. */
export function payloadText(payload: unknown): string {
  if (!payload || typeof payload !== 'object') return typeof payload === 'string' ? payload : '';
  const p = payload as Record<string, unknown>;
  return ['title', 'summary', 'body', 'text', 'rationale']
    .map((k) => p[k])
    .filter((v): v is string => typeof v === 'string' && v.length > 0)
    .join('\n');
}

export interface AppendResult {
  pub: Publication;
  /** True when an earlier publish with the same idempotency key was found and returned instead. */
  duplicate: boolean;
}

type RowLike = typeof messages.$inferSelect;

export function rowToPublication(r: RowLike): Publication {
  return {
    channel: r.channel,
    id: r.id,
    offset: Number(r.offset),
    kind: r.kind,
    sender: r.senderId,
    payload: r.payload,
    time: r.createdAt.toISOString(),
  };
}

/** Publications waiting for the next group commit: one `append`, or one `appendMany` with its writes. */
interface PendingAppend {
  inputs: AppendInput[];
  after?: (tx: Tx, pubs: Publication[]) => Promise<void>;
  resolve: (pubs: Publication[]) => void;
  reject: (e: unknown) => void;
}

/** Columns of a message row as the raw insert returns them (drivers differ on bigint and timestamps). */
interface RawMessageRow {
  ord: number | string;
  id: string;
  channel: string;
  offset: number | string;
  kind: string;
  sender_id: string;
  created_at: Date | string;
}

/** Most publications a group commit takes (a larger `appendMany` still commits whole, alone)... */
const MAX_BATCH = 500;
/** ...and most entries (single publications run their own writes one after another in the transaction). */
const MAX_ENTRIES = 64;

function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; cause?: { code?: string } };
  return err?.code === '23505' || err?.cause?.code === '23505';
}

export class MessagesRepo {
  /** Without an archive (unit tests of the log alone) nothing is archived. */
  constructor(
    private readonly db: Db,
    private readonly archive?: ArchiveRepo,
  ) {}

  async findByIdempotencyKey(senderId: string, key: string): Promise<Publication | undefined> {
    const [r] = await this.db
      .select()
      .from(messages)
      .where(and(eq(messages.senderId, senderId), eq(messages.idempotencyKey, key)))
      .limit(1);
    return r ? rowToPublication(r) : undefined;
  }

  /** The stored publication of an earlier request with this key, checked against this one when strict. */
  private async prior(input: AppendInput): Promise<Publication | undefined> {
    const prior = await this.findByIdempotencyKey(input.senderId, input.idempotencyKey!);
    if (prior && input.strictIdempotency) {
      assertSameRequest(
        { channel: prior.channel, kind: prior.kind, payload: prior.payload },
        { channel: input.channel, kind: input.kind, payload: JSON.parse(JSON.stringify(input.payload ?? null)) },
      );
    }
    return prior;
  }

  /**
   * Commits one publication (see the file comment). Returns the earlier publication instead when the
   * idempotency key was used before (`duplicate`), without writing anything.
   *
   * Group commit: publications arriving while a commit runs are committed together in the next
   * transaction (one WAL flush and one hold of the archive lock for all of them), so throughput does
   * not stop at one commit per disk flush. A batch that fails for a reason other than a lost database
   * is retried one publication per transaction, so one bad publication fails alone.
   */
  async append(input: AppendInput): Promise<AppendResult> {
    if (input.idempotencyKey) {
      const prior = await this.prior(input);
      if (prior) return { pub: prior, duplicate: true };
    }
    try {
      return { pub: await this.enqueue(input), duplicate: false };
    } catch (e) {
      if (input.idempotencyKey && isUniqueViolation(e)) {
        // The same key raced us on another request and won.
        const prior = await this.prior(input);
        if (prior) return { pub: prior, duplicate: true };
      }
      throw e;
    }
  }

  /**
   * Commits `inputs` together, all or nothing (no idempotency keys: the caller's `after` writes carry
   * its guard); `after` runs with every publication, before the archive records are appended. For an
   * ingest batch: one archive append, and the caller's rows written with one statement each instead
   * of one per publication. Takes part in the group commit like `append`: batches arriving while a
   * commit runs share the next transaction (each batch's `after` runs in arrival order), so under load
   * small batches cost one WAL flush and one hold of the archive lock between them, not one each.
   */
  async appendMany(inputs: AppendInput[], after?: (tx: Tx, pubs: Publication[]) => Promise<void>): Promise<Publication[]> {
    if (inputs.some((i) => i.idempotencyKey)) throw new Error('appendMany takes no idempotency keys');
    if (inputs.length === 0) return [];
    return this.enqueueMany(inputs, after);
  }

  private readonly pending: PendingAppend[] = [];
  private committing = false;

  private async enqueue(input: AppendInput): Promise<Publication> {
    return (await this.enqueueMany([input]))[0];
  }

  private enqueueMany(inputs: AppendInput[], after?: PendingAppend['after']): Promise<Publication[]> {
    return new Promise((resolve, reject) => {
      this.pending.push({ inputs, after, resolve, reject });
      if (!this.committing) void this.commitPending();
    });
  }

  /** The next group: whole entries, up to MAX_ENTRIES and MAX_BATCH publications (at least one entry). */
  private takeGroup(): PendingAppend[] {
    let n = 0;
    let k = 0;
    while (k < this.pending.length && k < MAX_ENTRIES && (k === 0 || n + this.pending[k].inputs.length <= MAX_BATCH)) n += this.pending[k++].inputs.length;
    return this.pending.splice(0, k);
  }

  private async commitPending(): Promise<void> {
    this.committing = true;
    try {
      while (this.pending.length > 0) {
        const group = this.takeGroup();
        try {
          const pubs = await this.commitGroup(group);
          let at = 0;
          for (const g of group) g.resolve(pubs.slice(at, (at += g.inputs.length)));
        } catch (e) {
          if (group.length === 1 || isUnavailableError(e)) {
            for (const g of group) g.reject(e);
            continue;
          }
          // Isolate the entry that failed the group: each on its own now.
          for (const g of group) {
            try {
              g.resolve(await this.commitGroup([g]));
            } catch (err) {
              g.reject(err);
            }
          }
        }
      }
    } finally {
      this.committing = false;
    }
  }

  /** One transaction for the group's publications; each entry's `after` sees its own publications. */
  private commitGroup(group: PendingAppend[]): Promise<Publication[]> {
    const inputs = group.length === 1 ? group[0].inputs : group.flatMap((g) => g.inputs);
    const withAfter = group.some((g) => g.after);
    return this.commitBatch(
      inputs,
      withAfter
        ? async (tx, pubs) => {
            let at = 0;
            for (const g of group) {
              const mine = pubs.slice(at, (at += g.inputs.length));
              if (g.after) await g.after(tx, mine);
            }
          }
        : undefined,
    );
  }

  /**
   * One transaction for `inputs`: one statement allocates every offset (locking the channel rows, in
   * name order, so two nodes' batches cannot deadlock on them), inserts the messages and their outbox
   * rows; then the callers' domain writes run, in input order; the archive records are appended last,
   * together. Returns the publications in input order.
   */
  private async commitBatch(inputs: AppendInput[], after?: (tx: Tx, pubs: Publication[]) => Promise<void>): Promise<Publication[]> {
    const payloadJsons: string[] = new Array(inputs.length);
    // Built as text around each payload's JSON, so a payload is serialised once (and not again here
    // when the publisher's size check already did it).
    let batch = '[';
    for (let ord = 0; ord < inputs.length; ord++) {
      const input = inputs[ord];
      const payloadJson = (payloadJsons[ord] = input.payloadJson ?? JSON.stringify(input.payload ?? null) ?? 'null');
      const row = JSON.stringify({
        ord,
        // Time-ordered (UUIDv7): new ids go to the right edge of the primary-key index instead of a
        // random page of it, so inserting stays cheap however large the log grows.
        id: input.at ? uuidv7({ msecs: input.at.getTime() }) : uuidv7(),
        channel: input.channel,
        family: input.family,
        kind: input.kind,
        sender_id: input.senderId,
        size_bytes: Buffer.byteLength(payloadJson),
        idempotency_key: input.idempotencyKey ?? null,
        created_at: input.at?.toISOString() ?? null,
      });
      batch += `${ord > 0 ? ',' : ''}${row.slice(0, -1)},"payload":${payloadJson}}`;
    }
    batch += ']';
    return this.db.transaction(async (tx) => {
      const got = await rows<RawMessageRow>(
        tx,
        sql`with input as (
              select * from jsonb_to_recordset(${batch}::jsonb)
                as t(ord int, id uuid, channel text, family text, kind text, sender_id text, payload jsonb, size_bytes int, idempotency_key text, created_at timestamptz)
            ), per_channel as (
              select channel, min(family) as family, count(*)::bigint as n from input group by channel
            ), c as (
              insert into channels (name, family, last_offset)
              select channel, family, n from per_channel order by channel
              on conflict (name) do update set last_offset = channels.last_offset + excluded.last_offset
              returning name, last_offset
            ), numbered as (
              -- A channel's new offsets are the n below its new counter, in input order.
              select i.*, c.last_offset - count(*) over (partition by i.channel) + row_number() over (partition by i.channel order by i.ord) as "offset"
              from input i join c on c.name = i.channel
            ), m as (
              insert into messages (id, channel, "offset", kind, sender_id, payload, size_bytes, idempotency_key, created_at)
              select id, channel, "offset", kind, sender_id, payload, size_bytes, idempotency_key, coalesce(created_at, now()) from numbered order by channel, "offset"
              returning id, channel, "offset", kind, sender_id, created_at
            ), o as (
              -- The relay's work items: committed with the messages, so no commit is ever left unrelayed.
              insert into publish_outbox (channel, "offset", message_id, family)
              select m.channel, m."offset", m.id, n.family from m join numbered n on n.id = m.id
            )
            select n.ord, m.id::text as id, m.channel, m."offset"::float8 as "offset", m.kind, m.sender_id, m.created_at
            from m join numbered n on n.id = m.id`,
      );
      const out: Publication[] = new Array(inputs.length);
      for (const row of got) {
        const createdAt = row.created_at instanceof Date ? row.created_at : new Date(row.created_at);
        out[Number(row.ord)] = {
          channel: row.channel,
          id: row.id,
          offset: Number(row.offset),
          kind: row.kind,
          sender: row.sender_id,
          // The stored JSON value, without sending it back from Postgres (jsonb may order keys differently).
          payload: JSON.parse(payloadJsons[Number(row.ord)]),
          time: createdAt.toISOString(),
        };
      }
      const records: ArchiveInput[] = [];
      for (let i = 0; i < inputs.length; i++) {
        const input = inputs[i];
        const p = out[i];
        const extra = input.inTx ? await input.inTx(tx, p) : undefined;
        records.push(
          {
            kind: 'message',
            actorId: input.senderId,
            subjects: [input.senderId, ...(input.subjects ?? [])],
            conversationId: input.conversationId ?? null,
            channel: input.channel,
            retentionClass: retentionForFamily(input.family),
            body: { ...p, ...input.archiveNote },
            text: payloadText(input.payload),
            recordedAt: new Date(p.time),
          },
          ...(extra ?? []),
        );
      }
      // The archive records are made ready while the callers' statements run in Postgres.
      const afterDone = after?.(tx, out);
      let prepared: PreparedRecords | undefined;
      try {
        prepared = this.archive?.prepare(records);
      } catch (e) {
        await afterDone?.catch(() => undefined);
        throw e;
      }
      await afterDone;
      // Archived last (the archive lock is held until commit): a message is stored and archived, or neither.
      if (prepared) await this.archive?.appendPrepared(prepared, tx);
      return out;
    });
  }

  /**
   * Committed publications the relay has not finished (outbox rows older than `olderThanMs`), oldest
   * channel offsets first, with their family.
   */
  async unrelayed(olderThanMs: number, limit: number): Promise<Array<{ pub: Publication; family: string }>> {
    const rows = await this.db
      .select({ m: messages, family: publishOutbox.family })
      .from(publishOutbox)
      .innerJoin(messages, and(eq(messages.channel, publishOutbox.channel), eq(messages.offset, publishOutbox.offset)))
      .where(lt(publishOutbox.createdAt, sql`now() - ${olderThanMs} * interval '1 millisecond'`))
      .orderBy(asc(publishOutbox.channel), asc(publishOutbox.offset))
      .limit(limit);
    return rows.map((r) => ({ pub: rowToPublication(r.m), family: r.family }));
  }

  /** Removes finished relay work (the bus and the queue have these publications). */
  async relayed(keys: Array<{ channel: string; offset: number }>): Promise<void> {
    if (keys.length === 0) return;
    // Two array parameters: one statement text (so one prepared statement) whatever the number of keys,
    // and nothing per key for the query builder to assemble. Committed without waiting for the WAL
    // flush (synchronous_commit off for this statement's transaction only): a delete lost in a crash
    // means a second relay, which is harmless, while waiting would queue these frequent small commits
    // in front of the publications' own flushes.
    await this.db.execute(
      sql`with async_commit as (select set_config('synchronous_commit', 'off', true))
          delete from publish_outbox where (channel, "offset") in (
            select k.channel, k."offset" from unnest(${pgArray(keys.map((k) => k.channel))}::text[], ${pgNumberArray(keys.map((k) => k.offset))}::bigint[]) as k(channel, "offset"), async_commit)`,
    );
  }

  /** Newest-first page of a channel's stored history; `before` is an exclusive offset bound. */
  async page(channel: string, opts: { before?: number; limit: number }): Promise<Publication[]> {
    const where = opts.before
      ? and(eq(messages.channel, channel), lt(messages.offset, opts.before))
      : eq(messages.channel, channel);
    const rows = await this.db.select().from(messages).where(where).orderBy(desc(messages.offset)).limit(opts.limit);
    return rows.map(rowToPublication).reverse();
  }

  /** Oldest-first publications after `since` (recovery fallback when bus history is short). */
  async since(channel: string, since: number, limit: number): Promise<Publication[]> {
    const rows = await this.db
      .select()
      .from(messages)
      .where(and(eq(messages.channel, channel), gt(messages.offset, since)))
      .orderBy(messages.offset)
      .limit(limit);
    return rows.map(rowToPublication);
  }

  async topOffset(channel: string): Promise<number> {
    const [r] = await this.db.select({ o: channels.lastOffset }).from(channels).where(eq(channels.name, channel));
    return r ? Number(r.o) : 0;
  }
}
