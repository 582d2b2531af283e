/**
 * Reading account events: a client's own feed, and their brokers' view of it on the workstation
 * (the same people who may read the client's conversations: brokers with a broker_clients row —
 * primary, shared_full or shared_read —, the manager of the primary broker's team, compliance).
 *
 * The broker's badge is "events since I last looked", per client: the channel's last offset (the
 * per-channel counter the publisher keeps, gap-free) minus the broker's seen offset. One indexed
 * query for all of a broker's clients, no counting of messages. Live updates: after account events
 * are published, this node gathers the clients touched in the last moment and pushes each of their
 * brokers the new counts over `sys.user` (the per-user push of src/conversations/live.ts), once per
 * client per flush however many events arrived.
 */
import type { FastifyBaseLogger } from 'fastify';
import { and, eq, sql } from 'drizzle-orm';
import { accountChannel } from '../../channels/account.ts';
import type { Principal } from '../auth/principal.ts';
import type { Bus, Publication } from '../bus/bus.ts';
import { USER_SIGNAL_CHANNEL } from '../conversations/live.ts';
import { QiaoError } from '../errors/codes.ts';
import type { SignalPush } from '../gateway/protocol.ts';
import { rows, type Db } from '../store/db.ts';
import type { MessagesRepo } from '../store/messages-repo.ts';
import { accountEventReads, brokerClients, teams, users } from '../store/schema/index.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Badge pushes are gathered for this long (ms): one push per client and broker per interval at most. */
const FLUSH_MS = 200;

export interface UnseenCount {
  clientId: string;
  unseen: number;
  topOffset: number;
  seenOffset: number;
}

/** A Postgres array literal of UUIDs (one parameter, whatever the count). */
function pgUuidArray(ids: string[]): string {
  return `{${ids.filter((id) => UUID.test(id)).join(',')}}`;
}

export class AccountFeed {
  private pending = new Set<string>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly d: { db: Db; messages: MessagesRepo; bus: Bus; logger: FastifyBaseLogger }) {}

  /** Whether the viewer may read this client's account events; QIAO_FORBIDDEN / QIAO_USER_NOT_FOUND otherwise. */
  async assertCanRead(p: Principal, clientId: string): Promise<void> {
    if (!UUID.test(clientId)) throw new QiaoError('QIAO_USER_NOT_FOUND');
    const [c] = await this.d.db.select({ role: users.role }).from(users).where(eq(users.id, clientId)).limit(1);
    if (!c || c.role !== 'client') throw new QiaoError('QIAO_USER_NOT_FOUND');
    if (p.role === 'client' && p.id === clientId) return;
    if (p.role === 'compliance') return;
    if (p.role === 'broker') {
      const [r] = await this.d.db.select({ b: brokerClients.brokerId }).from(brokerClients).where(and(eq(brokerClients.brokerId, p.id), eq(brokerClients.clientId, clientId))).limit(1);
      if (r) return;
    }
    if (p.role === 'manager') {
      const [r] = await this.d.db
        .select({ b: brokerClients.brokerId })
        .from(brokerClients)
        .innerJoin(users, eq(users.id, brokerClients.brokerId))
        .innerJoin(teams, eq(teams.id, users.teamId))
        .where(and(eq(brokerClients.clientId, clientId), eq(brokerClients.relation, 'primary'), eq(teams.managerId, p.id)))
        .limit(1);
      if (r) return;
    }
    throw new QiaoError('QIAO_FORBIDDEN', "You may not read this client's account events");
  }

  /** A page of the client's account events, newest first. */
  async page(p: Principal, clientId: string, opts: { before?: number; limit: number }): Promise<Publication[]> {
    await this.assertCanRead(p, clientId);
    const page = await this.d.messages.page(accountChannel(clientId), opts);
    return [...page].sort((a, b) => b.offset - a.offset);
  }

  /** Unseen counts of a broker's clients (all of them, or these). */
  async unseen(userId: string, clientIds?: string[]): Promise<UnseenCount[]> {
    const only = clientIds ? sql`and bc.client_id = any(${pgUuidArray(clientIds)}::uuid[])` : sql``;
    const r = await rows<{ client_id: string; top: number | string; seen: number | string }>(
      this.d.db,
      sql`select bc.client_id, coalesce(c.last_offset, 0) as top, coalesce(r.seen_offset, 0) as seen
          from broker_clients bc
          left join channels c on c.name = 'account.' || bc.client_id::text
          left join account_event_reads r on r.user_id = bc.broker_id and r.client_id = bc.client_id
          where bc.broker_id = ${userId}::uuid ${only}
          order by bc.client_id`,
    );
    return r.map((x) => ({ clientId: x.client_id, topOffset: Number(x.top), seenOffset: Number(x.seen), unseen: Math.max(0, Number(x.top) - Number(x.seen)) }));
  }

  /** Marks the client's events up to `offset` as seen by the viewer; returns the remaining count. */
  async markSeen(p: Principal, clientId: string, offset: number): Promise<UnseenCount> {
    await this.assertCanRead(p, clientId);
    await this.d.db
      .insert(accountEventReads)
      .values({ userId: p.id, clientId, seenOffset: offset })
      .onConflictDoUpdate({ target: [accountEventReads.userId, accountEventReads.clientId], set: { seenOffset: sql`greatest(${accountEventReads.seenOffset}, ${offset})`, updatedAt: new Date() } });
    const [u] = p.role === 'broker' ? await this.unseen(p.id, [clientId]) : [];
    const top = await this.d.messages.topOffset(accountChannel(clientId));
    const count = u ?? { clientId, topOffset: top, seenOffset: offset, unseen: Math.max(0, top - offset) };
    // The broker's other connections clear their badge too.
    if (p.role === 'broker') await this.push([{ to: p.id, count }]);
    return count;
  }

  /** Publisher hook: an account event was stored; its client's brokers get new counts shortly. */
  onPublished(pub: Publication, family: string): void {
    if (family !== 'account') return;
    this.pending.add(pub.channel.slice('account.'.length));
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), FLUSH_MS);
      this.timer.unref();
    }
  }

  async flush(): Promise<void> {
    this.timer = null;
    const clients = [...this.pending];
    this.pending.clear();
    if (!clients.length) return;
    try {
      const r = await rows<{ broker_id: string; client_id: string; top: number | string; seen: number | string }>(
        this.d.db,
        sql`select bc.broker_id, bc.client_id, coalesce(c.last_offset, 0) as top, coalesce(r.seen_offset, 0) as seen
            from broker_clients bc
            left join channels c on c.name = 'account.' || bc.client_id::text
            left join account_event_reads r on r.user_id = bc.broker_id and r.client_id = bc.client_id
            where bc.client_id = any(${pgUuidArray(clients)}::uuid[])`,
      );
      await this.push(r.map((x) => ({ to: x.broker_id, count: { clientId: x.client_id, topOffset: Number(x.top), seenOffset: Number(x.seen), unseen: Math.max(0, Number(x.top) - Number(x.seen)) } })));
    } catch (err) {
      this.d.logger.warn({ err }, 'account badge push failed (counts are right on the next load)');
    }
  }

  private async push(items: Array<{ to: string; count: UnseenCount }>): Promise<void> {
    if (!items.length) return;
    const deliveries = items.map(({ to, count }) => ({
      to,
      push: { t: 'signal', channel: accountChannel(count.clientId), kind: 'account-unseen', from: 'system', data: count } satisfies SignalPush,
    }));
    await this.d.bus.signal(USER_SIGNAL_CHANNEL, { deliveries });
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}


