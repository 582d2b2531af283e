/**
 * Delivery rows: one per message × recipient × chosen transport (unique), with their status.
 *
 * Sending is claimed with a conditional UPDATE (queued|failed → sending, attempts + 1), so two jobs
 * for the same row — a retry, a replay, a stalled job re-run by the queue — never both send: only one
 * UPDATE matches. A claim older than the lease (its worker died mid-send) may be taken over; see
 * docs/operations.md ("Delivery guarantees") for what that means for exactly-once.
 *
 * Lease ages are measured with the database clock (now()), the same for every process; due times
 * (quiet hours, digests) use the caller's clock, which tests may shift.
 */
import { and, asc, eq, gt, inArray, lte, ne, or, sql } from 'drizzle-orm';
import { SENT_TRANSPORTS, type TrackedTransport } from '../domain/routing.ts';
import { isUniqueViolation } from './admin-record.ts';
import { pgArray, uuidIn, type Db } from './db.ts';
import { uuidv7 } from './uuid7.ts';
import { deliveries, inboxItems, messages, users } from './schema/index.ts';

export type DeliveryRow = typeof deliveries.$inferSelect;
export type DeliveryStatus = DeliveryRow['status'];
export type NewDelivery = Pick<typeof deliveries.$inferInsert, 'messageId' | 'userId' | 'transport' | 'status' | 'reason' | 'dueAt'>;

/** Everything an email (or push) needs about its delivery row, in one read. */
export interface DeliveryContext {
  id: string;
  messageId: string;
  userId: string;
  transport: DeliveryRow['transport'];
  status: DeliveryStatus;
  attempts: number;
  email: string | null;
  phone: string | null;
  locale: string;
  displayName: string;
  timeZone: string;
  channel: string;
  kind: string;
  payload: unknown;
  senderId: string;
  publishedAt: Date;
}

/**
 * `takeover`: the row was 'sending' under a claim whose lease ran out — its worker died (or stalled)
 * mid-send, so the server may or may not have accepted the message already.
 */
/** What a batched claim returns per row: the row and its recipient, not the message. */
export type ClaimedContext = Omit<DeliveryContext, 'channel' | 'kind' | 'payload' | 'senderId' | 'publishedAt'>;

export type ClaimResult = { claimed: true; row: DeliveryRow; takeover: boolean } | { claimed: false; row: DeliveryRow | undefined };

/**
 * A failed row is claimed only by the replay of its dead letter (an operator's decision): a duplicate
 * or retried job must not send a row that failed for good, least of all one failed 'unknown-outcome'.
 */
const CLAIMABLE: DeliveryStatus[] = ['queued', 'failed'];
const QUEUED: DeliveryStatus[] = ['queued'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Statuses after which nothing is left to do for a row. */
export const TERMINAL: ReadonlySet<DeliveryStatus> = new Set(['sent', 'delivered', 'read', 'suppressed']);


const leaseExpired = (leaseMs: number) => sql`${deliveries.updatedAt} < now() - (${Math.round(leaseMs)}::int * interval '1 millisecond')`;

/**
 * New rows as one `select * from unnest(…)` of seven array parameters, in the column order
 * (id, message_id, user_id, transport, status, reason, due_at). Ids are made here, time-ordered
 * (src/store/uuid7.ts), so the primary key grows at its right edge.
 */
function unnestRows(page: NewDelivery[]) {
  return sql`select * from unnest(
    ${pgArray(page.map(() => uuidv7()))}::uuid[], ${pgArray(page.map((r) => r.messageId))}::uuid[], ${pgArray(page.map((r) => r.userId))}::uuid[],
    ${pgArray(page.map((r) => r.transport))}::text[], ${pgArray(page.map((r) => r.status))}::text[],
    ${pgArray(page.map((r) => r.reason ?? null))}::text[], ${pgArray(page.map((r) => (r.dueAt ? r.dueAt.toISOString() : null)))}::timestamptz[])`;
}

export class DeliveriesRepo {
  constructor(private readonly db: Db) {}

  /** Inserts rows that do not exist yet (by message × user × transport); existing rows are left alone. */
  async insertMany(rows: NewDelivery[]): Promise<void> {
    // One statement with six array parameters (unnest) instead of six parameters per row: a 10,000
    // recipient fanout writes 30,000 rows, and per-row parameters cost more to build and bind than
    // the insert itself.
    for (let i = 0; i < rows.length; i += 5000) {
      const page = rows.slice(i, i + 5000);
      await this.db.execute(sql`insert into ${deliveries} (id, message_id, user_id, transport, status, reason, due_at) ${unnestRows(page)} on conflict do nothing`);
    }
  }

  /**
   * The fanout's write: inserts the rows and returns every row of `rows` that is now 'queued' on one
   * of `transports` — the new ones and those a previous run left queued (a fanout killed between
   * insert and enqueue must still enqueue them on its re-run). Rows in any other state are left alone.
   *
   * A first run (the usual case) is a plain INSERT … RETURNING: ON CONFLICT's speculative insertion
   * made the insert about twice as slow (EXPLAIN ANALYZE, 10,000 rows). Should any row exist already
   * (a re-run, or two runs at once), the unique key refuses the whole statement and the page is
   * written again the idempotent way: insert-if-absent, and a no-op DO UPDATE on rows still queued,
   * which is what makes RETURNING report them.
   */
  async insertManyReturningQueued(rows: NewDelivery[], transports: readonly TrackedTransport[]): Promise<Array<{ id: string; transport: DeliveryRow['transport'] }>> {
    const out: Array<{ id: string; transport: DeliveryRow['transport'] }> = [];
    const sent = pgArray([...transports]);
    for (let i = 0; i < rows.length; i += 5000) {
      const page = rows.slice(i, i + 5000);
      const values = unnestRows(page);
      let res;
      try {
        res = await this.db.execute(sql`
          with ins as (
            insert into ${deliveries} (id, message_id, user_id, transport, status, reason, due_at) ${values}
            returning id, transport, status
          )
          select id, transport from ins where status = 'queued' and transport = any(${sent}::text[])`);
      } catch (e) {
        if (!isUniqueViolation(e)) throw e;
        res = await this.db.execute(sql`
          with ins as (
            insert into ${deliveries} as d (id, message_id, user_id, transport, status, reason, due_at) ${values}
            on conflict (message_id, user_id, transport) do update set status = d.status
              where d.status = 'queued' and d.transport = any(${sent}::text[])
            returning d.id, d.transport, d.status
          )
          select id, transport from ins where status = 'queued' and transport = any(${sent}::text[])`);
      }
      for (const r of (res as unknown as { rows: Array<{ id: string; transport: DeliveryRow['transport'] }> }).rows) out.push({ id: String(r.id), transport: r.transport });
    }
    return out;
  }

  async get(id: string): Promise<DeliveryRow | undefined> {
    const [r] = await this.db.select().from(deliveries).where(eq(deliveries.id, id)).limit(1);
    return r;
  }

  async find(messageId: string, userId: string, transport: TrackedTransport): Promise<DeliveryRow | undefined> {
    const [r] = await this.db
      .select()
      .from(deliveries)
      .where(and(eq(deliveries.messageId, messageId), eq(deliveries.userId, userId), eq(deliveries.transport, transport)))
      .limit(1);
    return r;
  }

  /**
   * Takes a row for sending: queued (or failed, with `orFailed`: the replay of a dead letter), or (a
   * takeover) a 'sending' claim older than the lease.
   */
  async claim(id: string, leaseMs: number, orFailed = false): Promise<ClaimResult> {
    const take = { status: 'sending' as const, attempts: sql`${deliveries.attempts} + 1`, updatedAt: sql`now()` };
    const [row] = await this.db
      .update(deliveries)
      .set(take)
      .where(and(eq(deliveries.id, id), inArray(deliveries.status, orFailed ? CLAIMABLE : QUEUED)))
      .returning();
    if (row) return { claimed: true, row, takeover: false };
    // Separate statement so the caller knows it is taking over a dead worker's send.
    const [stale] = await this.db
      .update(deliveries)
      .set(take)
      .where(and(eq(deliveries.id, id), eq(deliveries.status, 'sending'), leaseExpired(leaseMs)))
      .returning();
    if (stale) return { claimed: true, row: stale, takeover: true };
    return { claimed: false, row: await this.get(id) };
  }

  /**
   * The delivery worker's fast path, for many rows in one statement: claims those that are queued
   * (queued → sending, attempts + 1) and returns them with their recipient's contact
   * data. Rows not returned were not claimable; the caller takes the single-row path for them
   * (takeovers, settled rows). Coalescing concurrent jobs into one round trip is what lets one worker
   * process send hundreds of emails a second.
   */
  async claimManyWithContext(ids: string[], transport: TrackedTransport): Promise<Map<string, ClaimedContext>> {
    const out = new Map<string, ClaimedContext>();
    const valid = ids.filter((id) => UUID.test(id));
    if (!valid.length) return out;
    const res = await this.db.execute(sql`
      with c as (
        update ${deliveries} set status = 'sending', attempts = attempts + 1, updated_at = now()
        where id = any(${`{${valid.join(',')}}`}::uuid[]) and transport = ${transport} and status = 'queued'
        returning id, message_id, user_id, transport, status, attempts
      )
      select c.id, c.message_id, c.user_id, c.transport, c.status, c.attempts, u.email, u.phone, u.locale, u.display_name, u.time_zone
      from c join ${users} u on u.id = c.user_id`);
    for (const r of (res as unknown as { rows: Array<Record<string, unknown>> }).rows) {
      out.set(String(r.id), {
        id: String(r.id),
        messageId: String(r.message_id),
        userId: String(r.user_id),
        transport: r.transport as DeliveryRow['transport'],
        status: r.status as DeliveryStatus,
        attempts: Number(r.attempts),
        email: (r.email as string | null) ?? null,
        phone: (r.phone as string | null) ?? null,
        locale: String(r.locale),
        displayName: String(r.display_name),
        timeZone: String(r.time_zone),
      });
    }
    return out;
  }

  /** Milliseconds until a 'sending' claim's lease runs out (0 when it has), by the database clock. */
  async leaseRemainingMs(id: string, leaseMs: number): Promise<number> {
    const [r] = await this.db
      .select({ ms: sql<number>`greatest(0, extract(epoch from (${deliveries.updatedAt} + (${Math.round(leaseMs)}::int * interval '1 millisecond') - now())) * 1000)` })
      .from(deliveries)
      .where(eq(deliveries.id, id));
    return r ? Math.ceil(Number(r.ms)) : 0;
  }

  async context(id: string): Promise<DeliveryContext | undefined> {
    const [r] = await this.db
      .select({
        id: deliveries.id,
        messageId: deliveries.messageId,
        userId: deliveries.userId,
        transport: deliveries.transport,
        status: deliveries.status,
        attempts: deliveries.attempts,
        email: users.email,
        phone: users.phone,
        locale: users.locale,
        displayName: users.displayName,
        timeZone: users.timeZone,
        channel: messages.channel,
        kind: messages.kind,
        payload: messages.payload,
        senderId: messages.senderId,
        publishedAt: messages.createdAt,
      })
      .from(deliveries)
      .innerJoin(users, eq(users.id, deliveries.userId))
      .innerJoin(messages, eq(messages.id, deliveries.messageId))
      .where(eq(deliveries.id, id))
      .limit(1);
    return r;
  }

  /** sending → sent. Only the claim holder's row matches, so a late duplicate cannot flip it back. */
  async markSent(ids: string | string[]): Promise<void> {
    const list = Array.isArray(ids) ? ids : [ids];
    if (!list.length) return;
    await this.db
      .update(deliveries)
      .set({ status: 'sent', lastError: null, sentAt: sql`now()`, updatedAt: sql`now()` })
      .where(and(uuidIn(deliveries.id, list), eq(deliveries.status, 'sending')));
  }

  /** sending → sent, storing the far end's ids (SMSC message ids) that its receipts will name. */
  async markSentWithProviderIds(rows: Array<{ id: string; providerIds: string[] }>): Promise<void> {
    if (!rows.length) return;
    // One statement for the batch: ids and a JSON array of id lists, joined by position.
    await this.db.execute(sql`
      update ${deliveries} d set status = 'sent', last_error = null, sent_at = now(), updated_at = now(),
        provider_ids = array(select jsonb_array_elements_text(v.p))
      from unnest(${pgArray(rows.map((r) => r.id))}::uuid[], ${pgArray(rows.map((r) => JSON.stringify(r.providerIds)))}::jsonb[]) as v(id, p)
      where d.id = v.id and d.status = 'sending'`);
  }

  /**
   * A delivery receipt for one of the far end's ids: sent → delivered, or sent|delivered → failed
   * (one undelivered SMS segment fails the message). Returns the row id, or null when no row has
   * that id (a receipt for something we no longer track) or the state does not move.
   */
  async applyReceipt(providerId: string, outcome: 'delivered' | 'failed', detail: string): Promise<string | null> {
    const from: DeliveryStatus[] = outcome === 'delivered' ? ['sent'] : ['sent', 'delivered'];
    const [r] = await this.db
      .update(deliveries)
      .set(outcome === 'delivered' ? { status: 'delivered', updatedAt: sql`now()` } : { status: 'failed', reason: 'undelivered', lastError: detail.slice(0, 1000), updatedAt: sql`now()` })
      .where(and(sql`${deliveries.providerIds} @> array[${providerId}]::text[]`, inArray(deliveries.status, from)))
      .returning({ id: deliveries.id });
    return r?.id ?? null;
  }

  /**
   * Of the claimed SMS rows `ids`, those past the user's `cap` for the day starting `since`: all of
   * the users' SMS rows sent since then or claimed since then are ranked — sent rows first, then
   * rows being sent by when they were claimed (then by id) — and rows ranked past the cap are
   * returned. Every worker ranks the same way, so two processes checking at once agree on which rows
   * are over.
   *
   * Why sent rows come first rather than by `sent_at`: a row only ever moves forward in this order
   * (sending → sent). Ranking sent rows by `sent_at` moved them *behind* rows claimed while they were
   * in flight, so a row checked later could find itself within the cap although every row ahead of it
   * had already passed: one SMS too many (seen in test/integration/sms-delivery.pg-redis.test.ts).
   */
  async smsOverDailyCap(ids: string[], cap: number, since: Date): Promise<Set<string>> {
    const valid = ids.filter((id) => UUID.test(id));
    if (!valid.length) return new Set();
    const res = await this.db.execute(sql`
      with mine as (select id, user_id from ${deliveries} where id = any(${`{${valid.join(',')}}`}::uuid[])),
      ranked as (
        select d.id, row_number() over (partition by d.user_id order by (d.sent_at is null), d.updated_at, d.id) as rn
        from ${deliveries} d
        where d.transport = 'sms' and d.status <> 'suppressed' and d.user_id in (select user_id from mine)
          and (d.sent_at >= ${since.toISOString()}::timestamptz or (d.status = 'sending' and d.updated_at >= ${since.toISOString()}::timestamptz))
      )
      select r.id from ranked r join mine m on m.id = r.id where r.rn > ${cap}`);
    return new Set((res as unknown as { rows: Array<{ id: string }> }).rows.map((r) => String(r.id)));
  }

  /** sending → suppressed: nothing to send to (no subscription left, daily cap). */
  async markSuppressed(id: string, reason: string, detail?: string): Promise<void> {
    await this.db
      .update(deliveries)
      .set({ status: 'suppressed', reason, lastError: detail?.slice(0, 1000) ?? null, updatedAt: sql`now()` })
      .where(and(eq(deliveries.id, id), eq(deliveries.status, 'sending')));
  }

  /** sending → queued after a transient failure, so the retry can claim it at once. */
  async release(id: string, error: string): Promise<void> {
    await this.db
      .update(deliveries)
      .set({ status: 'queued', lastError: error.slice(0, 1000), updatedAt: sql`now()` })
      .where(and(eq(deliveries.id, id), eq(deliveries.status, 'sending')));
  }

  /** Failed for good (the job goes to the dead-letter list); a replay may claim it again. */
  async markFailed(id: string, reason: string, error: string): Promise<void> {
    await this.db
      .update(deliveries)
      .set({ status: 'failed', reason, lastError: error.slice(0, 1000), updatedAt: sql`now()` })
      .where(and(eq(deliveries.id, id), inArray(deliveries.status, ['sending', 'queued'])));
  }

  /** Held (quiet hours, trading hours) rows now due → queued; returns them for enqueueing. */
  async releaseDue(now: Date, limit: number): Promise<Array<{ id: string; transport: DeliveryRow['transport'] }>> {
    const due = this.db
      .select({ id: deliveries.id })
      .from(deliveries)
      .where(and(eq(deliveries.status, 'held'), ne(deliveries.reason, 'digest'), lte(deliveries.dueAt, now)))
      .limit(limit);
    return this.db
      .update(deliveries)
      .set({ status: 'queued', updatedAt: sql`now()` })
      .where(and(inArray(deliveries.id, due), eq(deliveries.status, 'held')))
      .returning({ id: deliveries.id, transport: deliveries.transport });
  }

  /** Users with digest items due at `now`. */
  async digestUsersDue(now: Date, limit: number): Promise<string[]> {
    const rows = await this.db
      .selectDistinct({ userId: deliveries.userId })
      .from(deliveries)
      .where(and(eq(deliveries.status, 'held'), eq(deliveries.reason, 'digest'), eq(deliveries.transport, 'email'), lte(deliveries.dueAt, now)))
      .limit(limit);
    return rows.map((r) => r.userId);
  }

  /** Claims a user's due digest items (held → sending); returns them oldest first. */
  async claimDigest(userId: string, now: Date): Promise<Array<{ id: string; messageId: string }>> {
    const rows = await this.db
      .update(deliveries)
      .set({ status: 'sending', attempts: sql`${deliveries.attempts} + 1`, updatedAt: sql`now()` })
      .where(
        and(
          eq(deliveries.userId, userId),
          eq(deliveries.transport, 'email'),
          eq(deliveries.status, 'held'),
          eq(deliveries.reason, 'digest'),
          lte(deliveries.dueAt, now),
        ),
      )
      .returning({ id: deliveries.id, messageId: deliveries.messageId, createdAt: deliveries.createdAt });
    return rows.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime()).map(({ id, messageId }) => ({ id, messageId }));
  }

  /** Digest claims back to held after a failed send (retried by the next sweep). */
  async releaseDigest(ids: string[], error: string): Promise<void> {
    if (!ids.length) return;
    await this.db
      .update(deliveries)
      .set({ status: 'held', lastError: error.slice(0, 1000), updatedAt: sql`now()` })
      .where(and(uuidIn(deliveries.id, ids), eq(deliveries.status, 'sending')));
  }

  /**
   * Repair after crashes: digest claims whose lease ran out go back to held; queued rows older than
   * `queuedAgeMs` and other expired claims are returned so their job can be enqueued again (a no-op
   * when the job still exists: job ids are stable).
   */
  async stale(queuedAgeMs: number, leaseMs: number, limit: number): Promise<Array<{ id: string; transport: DeliveryRow['transport'] }>> {
    await this.db
      .update(deliveries)
      .set({ status: 'held', updatedAt: sql`now()` })
      .where(and(eq(deliveries.status, 'sending'), eq(deliveries.reason, 'digest'), leaseExpired(leaseMs)));
    return this.db
      .select({ id: deliveries.id, transport: deliveries.transport })
      .from(deliveries)
      .where(
        and(
          inArray(deliveries.transport, SENT_TRANSPORTS),
          or(
            and(eq(deliveries.status, 'queued'), leaseExpired(queuedAgeMs)),
            and(eq(deliveries.status, 'sending'), leaseExpired(leaseMs)),
          ),
        ),
      )
      .orderBy(asc(deliveries.updatedAt))
      .limit(limit);
  }

  /**
   * Escalation: makes sure a row for (message, user, transport) is queued. Where the fanout wrote none
   * (the transport was not chosen) one is inserted, and a row suppressed at fanout (mute, digest…) is
   * turned into a queued one, both with reason 'escalation'; rows already
   * queued, held, sending or sent are left alone. Returns the id when the caller should enqueue a job.
   */
  async escalate(messageId: string, userId: string, transport: 'email' | 'push'): Promise<string | null> {
    // A disabled account is not escalated to (its pending deliveries were stopped when it was disabled).
    const [u] = await this.db.select({ active: users.active }).from(users).where(eq(users.id, userId)).limit(1);
    if (!u?.active) return null;
    const [r] = await this.db
      .insert(deliveries)
      .values({ messageId, userId, transport, status: 'queued', reason: 'escalation' })
      .onConflictDoUpdate({
        target: [deliveries.messageId, deliveries.userId, deliveries.transport],
        set: { status: 'queued', reason: 'escalation', updatedAt: sql`now()` },
        setWhere: eq(deliveries.status, 'suppressed'),
      })
      .returning({ id: deliveries.id });
    return r?.id ?? null;
  }

  /** Records a row in a final state unless one exists (e.g. escalation finding no push subscription). */
  async recordIfAbsent(row: NewDelivery): Promise<void> {
    await this.db.insert(deliveries).values(row).onConflictDoNothing();
  }

  /** Whether the recipient has read (or archived) the message, which stops escalation. */
  async acknowledged(messageId: string, userId: string): Promise<boolean> {
    const [item] = await this.db
      .select({ state: inboxItems.state })
      .from(inboxItems)
      .where(and(eq(inboxItems.messageId, messageId), eq(inboxItems.userId, userId)))
      .limit(1);
    if (item && item.state !== 'unread') return true;
    const [read] = await this.db
      .select({ id: deliveries.id })
      .from(deliveries)
      .where(and(eq(deliveries.messageId, messageId), eq(deliveries.userId, userId), eq(deliveries.status, 'read')))
      .limit(1);
    return Boolean(read);
  }

  /** Statuses of one message's deliveries, with the recipient's login, for senders and admins. */
  async listByMessage(messageId: string, opts: { limit: number; afterId?: string }) {
    return this.db
      .select({
        id: deliveries.id,
        userId: deliveries.userId,
        login: users.login,
        transport: deliveries.transport,
        status: deliveries.status,
        reason: deliveries.reason,
        attempts: deliveries.attempts,
        dueAt: deliveries.dueAt,
        lastError: deliveries.lastError,
        updatedAt: deliveries.updatedAt,
      })
      .from(deliveries)
      .innerJoin(users, eq(users.id, deliveries.userId))
      .where(and(eq(deliveries.messageId, messageId), opts.afterId ? gt(deliveries.id, opts.afterId) : undefined))
      .orderBy(asc(deliveries.id))
      .limit(opts.limit);
  }

  async summary(messageId: string): Promise<Record<string, Record<string, number>>> {
    const rows = await this.db
      .select({ transport: deliveries.transport, status: deliveries.status, n: sql<number>`count(*)::int` })
      .from(deliveries)
      .where(eq(deliveries.messageId, messageId))
      .groupBy(deliveries.transport, deliveries.status);
    const out: Record<string, Record<string, number>> = {};
    for (const r of rows) (out[r.transport] ??= {})[r.status] = Number(r.n);
    return out;
  }

  /** How many of a message's rows on one transport are in a status (tests, operations). */
  async countByStatus(messageId: string, transport: TrackedTransport, status: DeliveryStatus): Promise<number> {
    const [r] = await this.db
      .select({ n: sql<number>`count(*)::int` })
      .from(deliveries)
      .where(and(eq(deliveries.messageId, messageId), eq(deliveries.transport, transport), eq(deliveries.status, status)));
    return Number(r?.n ?? 0);
  }
}

