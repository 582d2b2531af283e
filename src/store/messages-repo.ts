/**
 * The append-only message log with per-channel offsets.
 *
 * `append` allocates the next offset by upserting the channel row (which row-locks it until commit),
 * inserts the message, and runs `deliver` while the lock is still held. So two processes publishing
 * to the same channel hand their publications to the bus in offset order, and a publication that the
 * bus refuses, or that fails to reach it, rolls back: nothing is half-written.
 */
import { randomUUID } from 'node:crypto';
import { and, desc, eq, gt, lt, sql } from 'drizzle-orm';
import type { Publication } from '../bus/bus.ts';
import { retentionForFamily } from '../domain/retention.ts';
import type { ArchiveInput, ArchiveRepo } from './archive-repo.ts';
import type { Db } from './db.ts';
import { channels, messages } from './schema/index.ts';

/** A transaction of the store (what `db.transaction` hands its callback). */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

export interface AppendInput {
  channel: string;
  family: string;
  kind: string;
  senderId: string;
  payload: unknown;
  idempotencyKey?: string;
  /** People the message concerns besides the sender (archive search by person). */
  subjects?: string[];
  conversationId?: string;
  /**
   * Domain writes that must commit with the message or not at all (a recommendation row, a task state
   * change), run in the transaction after the message row and before delivery; throwing rolls
   * everything back and nothing is delivered. Returned archive records are appended after the
   * message's own record, last in the transaction.
   */
  inTx?: (tx: Tx, pub: Publication) => Promise<ArchiveInput[] | void>;
  /** Merged into the message's archive record (e.g. the DLP terms it matched). */
  archiveNote?: Record<string, unknown>;
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

/** Thrown by a `deliver` callback when the bus already holds a higher offset than the store. */
export class OffsetBehindError extends Error {
  constructor(readonly busTop: number) {
    super(`bus top offset ${busTop} is ahead of the store`);
  }
}

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

  async append(input: AppendInput, deliver: (pub: Publication) => Promise<void>): Promise<AppendResult> {
    if (input.idempotencyKey) {
      const prior = await this.findByIdempotencyKey(input.senderId, input.idempotencyKey);
      if (prior) return { pub: prior, duplicate: true };
    }
    for (let attempt = 0; ; attempt++) {
      try {
        const pub = await this.db.transaction(async (tx) => {
          const [ch] = await tx
            .insert(channels)
            .values({ name: input.channel, family: input.family, lastOffset: 1 })
            .onConflictDoUpdate({ target: channels.name, set: { lastOffset: sql`${channels.lastOffset} + 1` } })
            .returning({ offset: channels.lastOffset });
          const payloadJson = JSON.stringify(input.payload);
          const [row] = await tx
            .insert(messages)
            .values({
              id: randomUUID(),
              channel: input.channel,
              offset: ch.offset,
              kind: input.kind,
              senderId: input.senderId,
              payload: input.payload as object,
              sizeBytes: Buffer.byteLength(payloadJson),
              idempotencyKey: input.idempotencyKey ?? null,
            })
            .returning();
          const p = rowToPublication(row);
          const extra = input.inTx ? await input.inTx(tx, p) : undefined;
          await deliver(p);
          // Archived last, in the same transaction: a message is either stored, delivered and
          // archived, or none of these.
          await this.archive?.append(
            {
              kind: 'message',
              actorId: input.senderId,
              subjects: [input.senderId, ...(input.subjects ?? [])],
              conversationId: input.conversationId ?? null,
              channel: input.channel,
              retentionClass: retentionForFamily(input.family),
              body: { ...p, ...input.archiveNote },
              text: payloadText(input.payload),
              recordedAt: row.createdAt,
            },
            tx,
          );
          for (const rec of extra ?? []) await this.archive?.append(rec, tx);
          return p;
        });
        return { pub, duplicate: false };
      } catch (e) {
        if (e instanceof OffsetBehindError && attempt < 2) {
          // The bus saw offsets the store rolled back (a commit that failed after delivery, or a
          // restored database). Move the counter past them so offsets stay strictly increasing.
          await this.db
            .insert(channels)
            .values({ name: input.channel, family: input.family, lastOffset: e.busTop })
            .onConflictDoUpdate({ target: channels.name, set: { lastOffset: sql`greatest(${channels.lastOffset}, ${e.busTop})` } });
          continue;
        }
        if (input.idempotencyKey && isUniqueViolation(e)) {
          const prior = await this.findByIdempotencyKey(input.senderId, input.idempotencyKey);
          if (prior) return { pub: prior, duplicate: true };
        }
        throw e;
      }
    }
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
