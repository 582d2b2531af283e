/**
 * Ingest of account events from the trading and back-office systems: order filled / partly filled /
 * rejected / cancelled (成交回报), margin call (追加保证金), forced-liquidation warning, funds in / out.
 *
 * Each event goes to its client's `account.<clientId>` channel through the publisher (stored before
 * seen: the message, its archive record, the idempotency row and a fill's position change commit in
 * one transaction). Idempotent by (source, event id): the same id with the same body answers the first
 * result (200); the same id with a different body is QIAO_IDEMPOTENCY_MISMATCH and changes nothing.
 * An unknown account number is QIAO_ACCOUNT_UNKNOWN, an unknown symbol QIAO_SECURITY_NOT_FOUND: checked
 * before anything is written.
 */
import { and, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import { ORDER_STATUSES } from '../../channels/account-payloads.ts';
import { accountChannel } from '../../channels/account.ts';
import { SYMBOL_RE } from '../../channels/family.ts';
import type { Principal } from '../auth/principal.ts';
import { sameJson } from '../domain/idempotency.ts';
import type { SecuritiesDirectory } from '../domain/securities.ts';
import { QiaoError, isQiaoError, toQiaoError, type ErrorCode } from '../errors/codes.ts';
import type { Publisher } from '../hub/publisher.ts';
import { pgArray, type Db } from '../store/db.ts';
import { accountIngestEvents, users } from '../store/schema/index.ts';
import { fundsText, liquidationText, marginCallText, orderText } from './event-texts.ts';
import type { PositionsRepo } from './positions.ts';

export const ACCOUNT_EVENT_TYPES = [
  'order.filled',
  'order.partly-filled',
  'order.rejected',
  'order.cancelled',
  'margin-call',
  'liquidation-warning',
  'funds.in',
  'funds.out',
] as const;
export type AccountEventType = (typeof ACCOUNT_EVENT_TYPES)[number];

/** Most events in one batch request. */
export const MAX_ACCOUNT_EVENTS_PER_BATCH = 500;

const symbol = z.string().regex(SYMBOL_RE, 'must be an A-share code like 600519.SH');
const time = z.string().datetime({ offset: true });
const money = z.number().finite().positive().max(1e13);
const base = {
  /** The source's own event id: the idempotency key. */
  id: z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, '1–64 of A–Z a–z 0–9 . _ : -'),
  /** The client's account number (资金账号). */
  accountNo: z.string().regex(/^[0-9A-Za-z-]{4,32}$/, '4–32 letters, digits or "-"'),
  time,
};
const order = z
  .object({
    ...base,
    type: z.enum(['order.filled', 'order.partly-filled', 'order.rejected', 'order.cancelled']),
    orderId: z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/),
    symbol,
    side: z.enum(['buy', 'sell']),
    qty: z.number().int().positive().max(1e10),
    filledQty: z.number().int().positive().max(1e10).optional(),
    price: z.number().finite().positive().max(1e7).optional(),
    reason: z.string().min(1).max(500).optional(),
  })
  .strict()
  .superRefine((e, ctx) => {
    const fill = e.type === 'order.filled' || e.type === 'order.partly-filled';
    if (fill && (e.filledQty === undefined || e.price === undefined)) ctx.addIssue({ code: 'custom', path: ['filledQty'], message: 'fills need filledQty and price' });
    if (!fill && e.filledQty !== undefined) ctx.addIssue({ code: 'custom', path: ['filledQty'], message: 'only fills carry filledQty' });
    if (e.filledQty !== undefined && e.filledQty > e.qty) ctx.addIssue({ code: 'custom', path: ['filledQty'], message: 'must not exceed qty' });
  });
const marginCall = z.object({ ...base, type: z.literal('margin-call'), amount: money, deadline: time }).strict();
const liquidation = z
  .object({ ...base, type: z.literal('liquidation-warning'), symbol: symbol.optional(), deadline: time.optional(), maintenanceRatio: z.number().finite().min(0).max(10_000).optional() })
  .strict();
const funds = z.object({ ...base, type: z.enum(['funds.in', 'funds.out']), amount: money, balance: z.number().finite().max(1e13).optional() }).strict();

export const AccountEventInput = z.union([order, marginCall, liquidation, funds]);
export type AccountEvent = z.infer<typeof AccountEventInput>;

/** What one event's ingest answers (each event of a batch individually). */
export interface IngestAccepted {
  eventId: string;
  status: 200 | 201;
  channel: string;
  id: string;
  offset: number;
  duplicate: boolean;
}
export type IngestResult = IngestAccepted | { eventId: string; status: number; error: { code: ErrorCode; message: string } };

/** Parses one event; a bad one is QIAO_BAD_REQUEST naming the field. */
export function parseAccountEvent(raw: unknown): AccountEvent {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new QiaoError('QIAO_BAD_REQUEST', 'An event must be an object');
  const t = (raw as { type?: unknown }).type;
  if (typeof t !== 'string' || !(ACCOUNT_EVENT_TYPES as readonly string[]).includes(t)) {
    throw new QiaoError('QIAO_BAD_REQUEST', `type: must be one of ${ACCOUNT_EVENT_TYPES.join(', ')}`);
  }
  const schema = t.startsWith('order.') ? order : t === 'margin-call' ? marginCall : t === 'liquidation-warning' ? liquidation : funds;
  const r = schema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new QiaoError('QIAO_BAD_REQUEST', `${i.path.join('.') || 'event'}: ${i.message}`);
  }
  return r.data;
}

export function sourcePrincipal(source: string): Principal {
  return { id: `source:${source}`, role: 'feed', displayName: `Ingest source ${source}` };
}

type IngestRow = typeof accountIngestEvents.$inferSelect;

export interface AccountEventsDeps {
  db: Db;
  publisher: Publisher;
  positions: PositionsRepo;
  securities: SecuritiesDirectory;
}

/** Account numbers seen recently → client id. Only hits are kept; an account number never moves to another client. */
const CACHE_MS = 60_000;

export class AccountEventsService {
  private readonly clients = new Map<string, { id: string; at: number }>();

  constructor(private readonly d: AccountEventsDeps) {}

  /** The active client with this account number; QIAO_ACCOUNT_UNKNOWN otherwise. */
  async clientByAccount(accountNo: string): Promise<string> {
    const hit = this.clients.get(accountNo);
    if (hit && Date.now() - hit.at < CACHE_MS) return hit.id;
    const [u] = await this.d.db
      .select({ id: users.id })
      .from(users)
      .where(and(eq(users.accountNo, accountNo), eq(users.role, 'client'), eq(users.active, true)))
      .limit(1);
    if (!u) throw new QiaoError('QIAO_ACCOUNT_UNKNOWN', `No active client has account number ${accountNo}`);
    if (this.clients.size > 100_000) this.clients.clear();
    this.clients.set(accountNo, { id: u.id, at: Date.now() });
    return u.id;
  }

  private async prior(source: string, raw: unknown, eventId: string, known?: Map<string, IngestRow>): Promise<IngestAccepted | null> {
    const row = known
      ? known.get(eventId)
      : (await this.d.db.select().from(accountIngestEvents).where(and(eq(accountIngestEvents.source, source), eq(accountIngestEvents.eventId, eventId))).limit(1))[0];
    if (!row) return null;
    if (!sameJson(row.body, JSON.parse(JSON.stringify(raw)))) {
      throw new QiaoError('QIAO_IDEMPOTENCY_MISMATCH', `Event id ${eventId} of source ${source} was already used for a different event`);
    }
    return { eventId, status: 200, channel: row.channel, id: row.messageId, offset: Number(row.offset), duplicate: true };
  }

  /** Ingests one event (see the file comment); throws a QiaoError for a refused one. */
  async ingest(source: string, raw: unknown, known?: Map<string, IngestRow>): Promise<IngestAccepted> {
    const eventId = typeof (raw as { id?: unknown })?.id === 'string' ? (raw as { id: string }).id : '';
    if (eventId) {
      const earlier = await this.prior(source, raw, eventId, known);
      if (earlier) return earlier;
    }
    const ev = parseAccountEvent(raw);
    const sym = 'symbol' in ev ? ev.symbol : undefined;
    if (sym && !this.d.securities.get(sym)) throw new QiaoError('QIAO_SECURITY_NOT_FOUND', `${sym} is not in the securities directory`);
    const clientId = await this.clientByAccount(ev.accountNo);
    const { kind, payload } = this.toMessage(source, ev);
    const channel = accountChannel(clientId);
    const body = JSON.parse(JSON.stringify(raw));
    const at = new Date(ev.time);
    const { pub, duplicate } = await this.d.publisher.publish(
      sourcePrincipal(source),
      {
        channel,
        kind,
        payload,
        // No publisher key: the (source, event id) row inserted in the same transaction is the guard
        // (a concurrent duplicate fails on its primary key and rolls back), one lookup fewer per event.
        inTx: async (tx, p) => {
          await tx.insert(accountIngestEvents).values({ source, eventId: ev.id, body, clientId, messageId: p.id, channel: p.channel, offset: p.offset });
          if (ev.type === 'order.filled' || ev.type === 'order.partly-filled') {
            await this.d.positions.applyFill(tx, clientId, ev.symbol, ev.side, ev.filledQty!, at);
          }
        },
      },
      { trusted: true },
    ).catch(async (e) => {
      // Two requests with one id at once: the loser's insert fails; answer as a retry would.
      const earlier = await this.prior(source, raw, ev.id);
      if (earlier) return { pub: { channel: earlier.channel, id: earlier.id, offset: earlier.offset }, duplicate: true };
      throw e;
    });
    return { eventId: ev.id, status: duplicate ? 200 : 201, channel: pub.channel, id: pub.id, offset: pub.offset, duplicate };
  }

  /**
   * A batch, each event answered on its own. The new, valid events are committed together in one
   * transaction (messages, archive records, idempotency rows and position changes: a few statements
   * for the whole batch) and relayed together; events of one client keep their order (offsets follow
   * the batch order). Repeats answer their first result; refused events are answered with their code
   * and do not hold up the others. If the joint commit fails (e.g. another request inserted one of
   * these ids meanwhile), its events go one by one through `ingest`, which sorts out each.
   */
  async ingestBatch(source: string, events: unknown[]): Promise<IngestResult[]> {
    const out: IngestResult[] = new Array(events.length);
    const str = (e: unknown, k: string) => (e && typeof (e as Record<string, unknown>)[k] === 'string' ? ((e as Record<string, unknown>)[k] as string) : null);
    const refuse = (i: number, err: unknown) => {
      const q = isQiaoError(err) ? err : toQiaoError(err);
      out[i] = { eventId: str(events[i], 'id') ?? '', status: q.status, error: { code: q.code, message: q.message } };
    };
    // Two queries for the whole batch instead of two per event: earlier events with these ids, and the
    // clients of these account numbers (into the cache).
    const ids = [...new Set(events.map((e) => str(e, 'id')).filter((x): x is string => x !== null))];
    const known = new Map<string, IngestRow>();
    if (ids.length) {
      // `= any(array)`: one statement text whatever the batch size (so one prepared statement).
      const found = await this.d.db.select().from(accountIngestEvents).where(and(eq(accountIngestEvents.source, source), sql`${accountIngestEvents.eventId} = any(${pgArray(ids)}::text[])`));
      for (const r of found) known.set(r.eventId, r);
    }
    const accts = [...new Set(events.map((e) => str(e, 'accountNo')).filter((x): x is string => x !== null && !this.clients.has(x)))];
    if (accts.length) {
      const found = await this.d.db
        .select({ id: users.id, accountNo: users.accountNo })
        .from(users)
        .where(and(sql`${users.accountNo} = any(${pgArray(accts)}::text[])`, eq(users.role, 'client'), eq(users.active, true)));
      for (const u of found) if (u.accountNo) this.clients.set(u.accountNo, { id: u.id, at: Date.now() });
    }
    const fresh: Array<{ i: number; ev: AccountEvent; clientId: string; kind: string; payload: Record<string, unknown>; body: unknown }> = [];
    const later: number[] = [];
    const taken = new Set<string>();
    for (let i = 0; i < events.length; i++) {
      const raw = events[i];
      try {
        const eventId = str(raw, 'id');
        if (eventId) {
          const earlier = await this.prior(source, raw, eventId, known);
          if (earlier) {
            out[i] = earlier;
            continue;
          }
          // The same id twice in this batch: answered after the first is stored (a repeat or a mismatch).
          if (taken.has(eventId)) {
            later.push(i);
            continue;
          }
        }
        const ev = parseAccountEvent(raw);
        const sym = 'symbol' in ev ? ev.symbol : undefined;
        if (sym && !this.d.securities.get(sym)) throw new QiaoError('QIAO_SECURITY_NOT_FOUND', `${sym} is not in the securities directory`);
        const clientId = await this.clientByAccount(ev.accountNo);
        taken.add(ev.id);
        fresh.push({ i, ev, clientId, ...this.toMessage(source, ev), body: JSON.parse(JSON.stringify(raw)) });
      } catch (err) {
        refuse(i, err);
      }
    }
    if (fresh.length) {
      try {
        const pubs = await this.d.publisher.publishMany(
          sourcePrincipal(source),
          fresh.map((f) => ({ channel: accountChannel(f.clientId), kind: f.kind, payload: f.payload })),
          async (tx, ps) => {
            // One JSON parameter rather than a multi-row insert from the query builder (cheaper to build).
            const idem = fresh.map((f, k) => ({ event_id: f.ev.id, body: f.body, client_id: f.clientId, message_id: ps[k].id, channel: ps[k].channel, offset: ps[k].offset }));
            await tx.execute(
              sql`insert into account_ingest_events (source, event_id, body, client_id, message_id, channel, "offset")
                  select ${source}, event_id, body, client_id, message_id, channel, "offset"
                  from jsonb_to_recordset(${JSON.stringify(idem)}::jsonb) as t(event_id text, body jsonb, client_id uuid, message_id uuid, channel text, "offset" bigint)`,
            );
            const fills = fresh.flatMap((f) =>
              f.ev.type === 'order.filled' || f.ev.type === 'order.partly-filled' ? [{ clientId: f.clientId, symbol: f.ev.symbol, side: f.ev.side, qty: f.ev.filledQty!, at: new Date(f.ev.time) }] : [],
            );
            await this.d.positions.applyFills(tx, fills);
          },
        );
        fresh.forEach((f, k) => {
          out[f.i] = { eventId: f.ev.id, status: 201, channel: pubs[k].channel, id: pubs[k].id, offset: pubs[k].offset, duplicate: false };
        });
      } catch {
        // One by one (events of one client in order, clients concurrently): each gets its own answer.
        const lanes = new Map<string, number[]>();
        for (const f of fresh) lanes.set(f.clientId, [...(lanes.get(f.clientId) ?? []), f.i]);
        await Promise.all(
          [...lanes.values()].map(async (idx) => {
            for (const i of idx) await this.ingest(source, events[i]).then((r) => (out[i] = r), (err) => refuse(i, err));
          }),
        );
      }
    }
    for (const i of later) await this.ingest(source, events[i]).then((r) => (out[i] = r), (err) => refuse(i, err));
    return out;
  }

  private toMessage(source: string, ev: AccountEvent): { kind: string; payload: Record<string, unknown> } {
    const common = { source, eventId: ev.id, time: ev.time };
    const dir = this.d.securities;
    switch (ev.type) {
      case 'order.filled':
      case 'order.partly-filled':
      case 'order.rejected':
      case 'order.cancelled': {
        const status = ev.type.slice('order.'.length) as (typeof ORDER_STATUSES)[number];
        const t = orderText(dir, { ...ev, status });
        const facts = { status, orderId: ev.orderId, symbol: ev.symbol, side: ev.side, qty: ev.qty, filledQty: ev.filledQty, price: ev.price, reason: ev.reason };
        return { kind: 'order', payload: strip({ ...common, ...facts, ...t, severity: status === 'rejected' ? 'warning' : 'info' }) };
      }
      case 'margin-call':
        return {
          kind: 'margin-call',
          payload: { ...common, ...marginCallText(ev.amount, ev.deadline), severity: 'critical', topic: 'margin', amount: ev.amount, currency: 'CNY', deadline: ev.deadline },
        };
      case 'liquidation-warning':
        return {
          kind: 'liquidation-warning',
          payload: strip({ ...common, ...liquidationText(dir, ev.symbol, ev.deadline, ev.maintenanceRatio), severity: 'critical', topic: 'risk', symbol: ev.symbol, deadline: ev.deadline, maintenanceRatio: ev.maintenanceRatio }),
        };
      case 'funds.in':
      case 'funds.out': {
        const direction = ev.type === 'funds.in' ? 'in' : 'out';
        return { kind: 'funds', payload: strip({ ...common, ...fundsText(direction, ev.amount, ev.balance), severity: 'info', direction, amount: ev.amount, currency: 'CNY', balance: ev.balance }) };
      }
    }
  }
}

/** `o` without its undefined fields, as a new object (deleting would turn `o` into a slow dictionary object). */
function strip<T extends Record<string, unknown>>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) if (o[k] !== undefined) out[k] = o[k];
  return out as T;
}
