/**
 * The in-app inbox: one item per user and message, unread → read → archived. Counts are computed on
 * the server from the (user_id, state) index, so every device sees the same numbers.
 */
import { and, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import type { Publication } from '../bus/bus.ts';
import { isUniqueViolation } from './admin-record.ts';
import { pgArray, type Db } from './db.ts';
import { rowToPublication } from './messages-repo.ts';
import { deliveries, inboxItems, messages } from './schema/index.ts';

export type InboxState = 'unread' | 'read' | 'archived';

export interface InboxEntry {
  messageId: string;
  channel: string;
  state: InboxState;
  createdAt: string;
  publication: Publication;
}

export interface InboxCounts {
  unread: number;
  read: number;
  archived: number;
}

export class InboxRepo {
  constructor(private readonly db: Db) {}

  /**
   * Adds items that do not exist yet; an existing item keeps its state (a re-run fanout changes
   * nothing). `likelyNew` (a fanout's first run): try a plain INSERT first, which is much cheaper than
   * ON CONFLICT's speculative insertion, and fall back to insert-if-absent when the primary key says
   * an item exists already (see DeliveriesRepo.insertManyReturningQueued).
   */
  async add(items: Array<{ userId: string; messageId: string; channel: string }>, opts: { likelyNew?: boolean } = {}): Promise<void> {
    // Array parameters (unnest): see DeliveriesRepo.insertMany.
    for (let i = 0; i < items.length; i += 5000) {
      const page = items.slice(i, i + 5000);
      const values = sql`select * from unnest(${pgArray(page.map((x) => x.userId))}::uuid[], ${pgArray(page.map((x) => x.messageId))}::uuid[], ${pgArray(page.map((x) => x.channel))}::text[])`;
      if (opts.likelyNew) {
        try {
          await this.db.execute(sql`insert into ${inboxItems} (user_id, message_id, channel) ${values}`);
          continue;
        } catch (e) {
          if (!isUniqueViolation(e)) throw e;
        }
      }
      await this.db.execute(sql`insert into ${inboxItems} (user_id, message_id, channel) ${values} on conflict do nothing`);
    }
  }

  /** Newest first; `before` is the createdAt of the last item of the previous page. */
  async list(userId: string, opts: { state?: InboxState; limit: number; before?: Date }): Promise<InboxEntry[]> {
    const rows = await this.db
      .select({ item: inboxItems, msg: messages })
      .from(inboxItems)
      .innerJoin(messages, eq(messages.id, inboxItems.messageId))
      .where(
        and(
          eq(inboxItems.userId, userId),
          opts.state ? eq(inboxItems.state, opts.state) : inArray(inboxItems.state, ['unread', 'read']),
          opts.before ? lt(inboxItems.createdAt, opts.before) : undefined,
        ),
      )
      .orderBy(desc(inboxItems.createdAt), desc(inboxItems.messageId))
      .limit(opts.limit);
    return rows.map(({ item, msg }) => ({
      messageId: item.messageId,
      channel: item.channel,
      state: item.state,
      createdAt: item.createdAt.toISOString(),
      publication: rowToPublication(msg),
    }));
  }

  async counts(userId: string): Promise<InboxCounts> {
    const rows = await this.db
      .select({ state: inboxItems.state, n: sql<number>`count(*)::int` })
      .from(inboxItems)
      .where(eq(inboxItems.userId, userId))
      .groupBy(inboxItems.state);
    const out: InboxCounts = { unread: 0, read: 0, archived: 0 };
    for (const r of rows) out[r.state] = Number(r.n);
    return out;
  }

  async state(userId: string, messageId: string): Promise<InboxState | undefined> {
    const [r] = await this.db
      .select({ state: inboxItems.state })
      .from(inboxItems)
      .where(and(eq(inboxItems.userId, userId), eq(inboxItems.messageId, messageId)))
      .limit(1);
    return r?.state;
  }

  /**
   * Marks an item read or archived; returns the new state, or undefined when there is no such item.
   * Reading or archiving is the read receipt: the inbox delivery row becomes 'read', which also stops
   * escalation. Archived items stay archived when "read" again.
   */
  async setState(userId: string, messageId: string, to: 'read' | 'archived'): Promise<InboxState | undefined> {
    return this.db.transaction(async (tx) => {
      const [r] = await tx
        .update(inboxItems)
        .set({ state: to === 'read' ? sql`case when ${inboxItems.state} = 'archived' then 'archived' else 'read' end` : 'archived', updatedAt: sql`now()` })
        .where(and(eq(inboxItems.userId, userId), eq(inboxItems.messageId, messageId)))
        .returning({ state: inboxItems.state });
      if (!r) return undefined;
      await tx
        .update(deliveries)
        .set({ status: 'read', updatedAt: sql`now()` })
        .where(and(eq(deliveries.messageId, messageId), eq(deliveries.userId, userId), eq(deliveries.transport, 'inbox'), inArray(deliveries.status, ['delivered', 'sent'])));
      return r.state;
    });
  }
}
