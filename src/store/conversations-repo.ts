/**
 * Conversations: the facts access decisions need, opening conversations (idempotent per pair), the
 * conversation list and the broker workstation (one SQL statement each, whatever the number of
 * conversations), and read/delivered positions.
 *
 * Unread counts are never stored: they are derived from `conversation_reads.read_offset` and the
 * message log (chat messages from others after the read offset, not recalled), so they cannot drift.
 * Access is decided by src/domain/conversation-access.ts; the SQL here only narrows the candidates
 * and returns the facts the rule needs.
 */
import { sql, type SQL } from 'drizzle-orm';
import { UUID_RE } from '../../channels/family.ts';
import {
  conversationAccess,
  isParticipant,
  type AccessLevel,
  type BrokerRelation,
  type ChatOriginal,
  type ConversationFacts,
  type ConversationType,
} from '../domain/conversation-access.ts';
import type { Principal } from '../auth/principal.ts';
import type { Executor } from './archive-repo.ts';
import type { Db } from './db.ts';
import { conversationMembers, conversations } from './schema/index.ts';

const UUID = new RegExp(`^${UUID_RE}$`);
export const isUuid = (v: unknown): v is string => typeof v === 'string' && UUID.test(v);
export const convChannel = (id: string) => `conv.${id}`;

/** Runs a raw statement; node-postgres and PGlite both return `{ rows }`. */
export async function rows<T>(db: Executor, q: SQL): Promise<T[]> {
  return ((await db.execute(q)) as unknown as { rows: T[] }).rows;
}

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const iso = (v: unknown): string => (v instanceof Date ? v : new Date(String(v))).toISOString();
const isoOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : iso(v));

/** Chat messages from others after `after`, not recalled: the unread count. SQL over channel expression `ch`. */
function unreadExpr(ch: SQL, after: SQL, viewer: string | SQL): SQL {
  return sql`(select count(*) from messages m
     where m.channel = ${ch} and m."offset" > ${after} and m.kind = 'chat' and m.sender_id <> ${viewer}
       and not exists (select 1 from messages r where r.channel = m.channel and r."offset" > m."offset"
                         and r.kind = 'chat.recall' and r.payload->>'ref' = m.id::text))::int`;
}

/** The last chat message of channel `ch`, with its latest edit and whether it was recalled (lateral). */
function lastMessageLateral(ch: SQL): SQL {
  return sql`left join lateral (
      select m.id::text as id, m."offset"::float8 as "offset", m.sender_id as sender, m.payload->>'text' as text, m.created_at as time,
        (select e.payload->>'text' from messages e where e.channel = m.channel and e."offset" > m."offset" and e.kind = 'chat.edit'
           and e.payload->>'ref' = m.id::text order by e."offset" desc limit 1) as edited_text,
        exists (select 1 from messages r where r.channel = m.channel and r."offset" > m."offset" and r.kind = 'chat.recall'
           and r.payload->>'ref' = m.id::text) as recalled
      from messages m where m.channel = ${ch} and m.kind = 'chat' order by m."offset" desc limit 1) lm on true`;
}

export interface LastMessage {
  id: string;
  offset: number;
  sender: string;
  /** The current text (after the latest edit); null when recalled. */
  text: string | null;
  time: string;
  edited: boolean;
  recalled: boolean;
}

function lastMessageOf(r: Record<string, unknown>): LastMessage | null {
  if (!r.lm_id) return null;
  const recalled = r.lm_recalled === true || r.lm_recalled === 't';
  const edited = typeof r.lm_edited_text === 'string';
  return {
    id: String(r.lm_id),
    offset: num(r.lm_offset),
    sender: String(r.lm_sender),
    text: recalled ? null : String(edited ? r.lm_edited_text : (r.lm_text ?? '')),
    time: iso(r.lm_time),
    edited,
    recalled,
  };
}

export interface Person {
  id: string;
  displayName: string;
}

export interface ConversationRow {
  id: string;
  type: ConversationType;
  title: string | null;
  brokerId: string | null;
  clientId: string | null;
  managerId: string | null;
  teamId: string | null;
  createdAt: string;
}

export interface ConversationSummary extends ConversationRow {
  channel: string;
  access: Exclude<AccessLevel, 'none'>;
  /** Whether the viewer is one of the people the conversation is between (not a supervisor). */
  participant: boolean;
  broker: Person | null;
  client: (Person & { tier: string | null; riskLevel: string | null }) | null;
  manager: Person | null;
  members: Person[];
  topOffset: number;
  readOffset: number;
  deliveredOffset: number;
  unread: number;
  lastMessage: LastMessage | null;
}

export interface ReadState {
  userId: string;
  deliveredOffset: number;
  readOffset: number;
}

export interface WorkstationRow {
  client: Person & { tier: string | null; riskLevel: string | null };
  relation: BrokerRelation;
  conversationId: string | null;
  unread: number;
  lastMessage: LastMessage | null;
  /** Time of the client's oldest chat message not yet answered by the broker side; null when none waits. */
  waitingSince: string | null;
}

function facts(r: Record<string, unknown>): ConversationFacts {
  return {
    type: r.type as ConversationType,
    brokerId: (r.broker_id as string | null) ?? null,
    clientId: (r.client_id as string | null) ?? null,
    managerId: (r.manager_id as string | null) ?? null,
    teamId: (r.team_id as string | null) ?? null,
    viewerRelation: (r.viewer_relation as BrokerRelation | null) ?? null,
    viewerLeadsPrimaryTeam: r.viewer_leads === true || r.viewer_leads === 't',
    viewerIsMember: r.viewer_member === true || r.viewer_member === 't',
  };
}

/** Columns giving the viewer-specific facts of conversation `c` (viewer id as a parameter). */
function viewerFactColumns(viewer: string): SQL {
  return sql`(select bc.relation from broker_clients bc where bc.client_id = c.client_id and bc.broker_id = ${viewer}) as viewer_relation,
    exists (select 1 from broker_clients pr join users pb on pb.id = pr.broker_id join teams t on t.id = pb.team_id
            where pr.client_id = c.client_id and pr.relation = 'primary' and t.manager_id = ${viewer}) as viewer_leads,
    exists (select 1 from conversation_members cm where cm.conversation_id = c.id and cm.user_id = ${viewer}) as viewer_member`;
}

function toRow(r: Record<string, unknown>): ConversationRow {
  return {
    id: String(r.id),
    type: r.type as ConversationType,
    title: (r.title as string | null) ?? null,
    brokerId: (r.broker_id as string | null) ?? null,
    clientId: (r.client_id as string | null) ?? null,
    managerId: (r.manager_id as string | null) ?? null,
    teamId: (r.team_id as string | null) ?? null,
    createdAt: iso(r.created_at),
  };
}

export class ConversationsRepo {
  constructor(private readonly db: Db) {}

  /** The conversation and the viewer's facts; null when it does not exist (or the id is malformed). */
  async facts(conversationId: string, viewerId: string): Promise<(ConversationFacts & { row: ConversationRow }) | null> {
    if (!isUuid(conversationId)) return null;
    // Non-user principals (the feed) have no facts of their own.
    const viewer = isUuid(viewerId) ? viewerId : '00000000-0000-0000-0000-000000000000';
    const [r] = await rows<Record<string, unknown>>(
      this.db,
      sql`select c.*, ${viewerFactColumns(viewer)} from conversations c where c.id = ${conversationId}`,
    );
    return r ? { ...facts(r), row: toRow(r) } : null;
  }

  async access(conversationId: string, p: Pick<Principal, 'id' | 'role'>): Promise<AccessLevel> {
    return conversationAccess(p, await this.facts(conversationId, p.id));
  }

  /** A chat message of a channel by id, for edit/recall checks. */
  async findChat(channel: string, id: string): Promise<ChatOriginal | null> {
    if (!isUuid(id)) return null;
    const [r] = await rows<Record<string, unknown>>(
      this.db,
      sql`select m.sender_id, m.kind, m.created_at,
            exists (select 1 from messages x where x.channel = m.channel and x."offset" > m."offset" and x.kind = 'chat.recall'
                    and x.payload->>'ref' = m.id::text) as recalled
          from messages m where m.id = ${id} and m.channel = ${channel}`,
    );
    return r ? { sender: String(r.sender_id), kind: String(r.kind), time: iso(r.created_at), recalled: r.recalled === true || r.recalled === 't' } : null;
  }

  async get(id: string): Promise<ConversationRow | null> {
    if (!isUuid(id)) return null;
    const [r] = await rows<Record<string, unknown>>(this.db, sql`select * from conversations c where c.id = ${id}`);
    return r ? toRow(r) : null;
  }

  /** Finds or creates the one conversation of a pair; safe under concurrent calls. */
  private async openPair(
    type: 'broker_client' | 'broker_manager',
    brokerId: string,
    otherId: string,
    values: Partial<typeof conversations.$inferInsert>,
  ): Promise<{ conversation: ConversationRow; created: boolean }> {
    const other = type === 'broker_client' ? sql`c.client_id` : sql`c.manager_id`;
    const find = async () =>
      (await rows<Record<string, unknown>>(this.db, sql`select * from conversations c where c.type = ${type} and c.broker_id = ${brokerId} and ${other} = ${otherId}`))[0];
    const existing = await find();
    if (existing) return { conversation: toRow(existing), created: false };
    const inserted = await this.db
      .insert(conversations)
      .values({ type, brokerId, ...(type === 'broker_client' ? { clientId: otherId } : { managerId: otherId }), ...values })
      .onConflictDoNothing()
      .returning({ id: conversations.id });
    if (inserted.length) return { conversation: (await this.get(inserted[0].id))!, created: true };
    // Lost a race with another request for the same pair.
    const again = await find();
    if (!again) throw new Error('conversation insert conflicted but no row was found');
    return { conversation: toRow(again), created: false };
  }

  openBrokerClient(brokerId: string, clientId: string, createdBy: string) {
    return this.openPair('broker_client', brokerId, clientId, { createdBy });
  }

  openBrokerManager(brokerId: string, managerId: string, teamId: string | null, createdBy: string) {
    return this.openPair('broker_manager', brokerId, managerId, { createdBy, teamId });
  }

  async createGroup(teamId: string, title: string, memberIds: string[], createdBy: string): Promise<ConversationRow> {
    return this.db.transaction(async (tx) => {
      const [c] = await tx.insert(conversations).values({ type: 'group', title, teamId, createdBy }).returning();
      await tx.insert(conversationMembers).values([...new Set([createdBy, ...memberIds])].map((userId) => ({ conversationId: c.id, userId })));
      return toRow({ ...c, broker_id: c.brokerId, client_id: c.clientId, manager_id: c.managerId, team_id: c.teamId, created_at: c.createdAt });
    });
  }

  /** Staff users by id with their team and role (group creation checks). */
  async usersByIds(ids: string[]): Promise<Array<{ id: string; role: string; teamId: string | null; active: boolean; displayName: string }>> {
    const valid = ids.filter(isUuid);
    if (!valid.length) return [];
    const r = await rows<Record<string, unknown>>(
      this.db,
      sql`select id, role, team_id, active, display_name from users where id in (${sql.join(valid.map((v) => sql`${v}`), sql`, `)})`,
    );
    return r.map((x) => ({ id: String(x.id), role: String(x.role), teamId: (x.team_id as string | null) ?? null, active: x.active === true || x.active === 't', displayName: String(x.display_name) }));
  }

  /** The manager leading a team, if any. */
  async teamManager(teamId: string | null): Promise<string | null> {
    if (!teamId) return null;
    const [r] = await rows<{ manager_id: string | null }>(this.db, sql`select manager_id from teams where id = ${teamId}`);
    return r?.manager_id ?? null;
  }

  /**
   * Conversations the viewer can read, newest activity first, each with its unread count for the
   * viewer, last message and read position. One statement; the final access decision is the rule's.
   */
  async listFor(p: Pick<Principal, 'id' | 'role'>, opts: { limit: number; ids?: string[] }): Promise<ConversationSummary[]> {
    if (!isUuid(p.id)) return [];
    const me = p.id;
    let candidates: SQL;
    switch (p.role) {
      case 'client':
        candidates = sql`c.type = 'broker_client' and c.client_id = ${me}`;
        break;
      case 'broker':
        candidates = sql`(c.type = 'broker_client' and exists (select 1 from broker_clients b where b.client_id = c.client_id and b.broker_id = ${me}))
          or (c.type = 'broker_manager' and c.broker_id = ${me})
          or (c.type = 'group' and exists (select 1 from conversation_members g where g.conversation_id = c.id and g.user_id = ${me}))`;
        break;
      case 'manager':
        candidates = sql`(c.type = 'broker_client' and exists (select 1 from broker_clients b join users bu on bu.id = b.broker_id join teams t on t.id = bu.team_id
                              where b.client_id = c.client_id and b.relation = 'primary' and t.manager_id = ${me}))
          or (c.type = 'broker_manager' and c.manager_id = ${me})
          or (c.type = 'group' and exists (select 1 from conversation_members g where g.conversation_id = c.id and g.user_id = ${me}))`;
        break;
      case 'compliance':
        candidates = sql`true`;
        break;
      default:
        return [];
    }
    const only = opts.ids?.length ? sql`and c.id in (${sql.join(opts.ids.filter(isUuid).map((i) => sql`${i}`), sql`, `)})` : sql``;
    const ch = sql`('conv.' || c.id::text)`;
    const list = await rows<Record<string, unknown>>(
      this.db,
      sql`select c.*, ${viewerFactColumns(me)},
            coalesce(rd.read_offset, 0)::float8 as read_offset, coalesce(rd.delivered_offset, 0)::float8 as delivered_offset,
            coalesce((select ch.last_offset from channels ch where ch.name = ${ch}), 0)::float8 as top_offset,
            ${unreadExpr(ch, sql`coalesce(rd.read_offset, 0)`, me)} as unread,
            bu.display_name as broker_name, cu.display_name as client_name, cu.tier as client_tier, cu.risk_level as client_risk,
            mu.display_name as manager_name,
            lm.id as lm_id, lm."offset" as lm_offset, lm.sender as lm_sender, lm.text as lm_text, lm.time as lm_time,
            lm.edited_text as lm_edited_text, lm.recalled as lm_recalled
          from conversations c
          left join conversation_reads rd on rd.conversation_id = c.id and rd.user_id = ${me}
          left join users bu on bu.id = c.broker_id
          left join users cu on cu.id = c.client_id
          left join users mu on mu.id = c.manager_id
          ${lastMessageLateral(ch)}
          where (${candidates}) ${only}
          order by coalesce(lm.time, c.created_at) desc, c.id
          limit ${opts.limit}`,
    );
    const out: ConversationSummary[] = [];
    for (const r of list) {
      const f = facts(r);
      const access = conversationAccess(p, f);
      if (access === 'none') continue;
      out.push({
        ...toRow(r),
        channel: convChannel(String(r.id)),
        access,
        participant: isParticipant(p, f),
        broker: r.broker_id ? { id: String(r.broker_id), displayName: String(r.broker_name) } : null,
        client: r.client_id
          ? { id: String(r.client_id), displayName: String(r.client_name), tier: (r.client_tier as string | null) ?? null, riskLevel: (r.client_risk as string | null) ?? null }
          : null,
        manager: r.manager_id ? { id: String(r.manager_id), displayName: String(r.manager_name) } : null,
        members: [],
        topOffset: num(r.top_offset),
        readOffset: num(r.read_offset),
        deliveredOffset: num(r.delivered_offset),
        unread: num(r.unread),
        lastMessage: lastMessageOf(r),
      });
    }
    const groups = out.filter((c) => c.type === 'group');
    if (groups.length) {
      const members = await rows<{ conversation_id: string; id: string; display_name: string }>(
        this.db,
        sql`select cm.conversation_id, u.id, u.display_name from conversation_members cm join users u on u.id = cm.user_id
            where cm.conversation_id in (${sql.join(groups.map((g) => sql`${g.id}`), sql`, `)}) order by u.display_name`,
      );
      for (const g of groups) g.members = members.filter((m) => m.conversation_id === g.id).map((m) => ({ id: m.id, displayName: m.display_name }));
    }
    return out;
  }

  /**
   * Workstation of a broker: every client assigned or shared to it, with the conversation it works
   * in (its own with the client, else the primary broker's), unread count, last message and how long
   * the client's oldest unanswered message has waited. One statement.
   */
  async workstation(brokerId: string): Promise<WorkstationRow[]> {
    if (!isUuid(brokerId)) return [];
    const ch = sql`('conv.' || cv.id::text)`;
    const list = await rows<Record<string, unknown>>(
      this.db,
      sql`select u.id as client_id, u.display_name, u.tier, u.risk_level, bc.relation, cv.id as conversation_id,
            case when cv.id is null then 0 else ${unreadExpr(ch, sql`coalesce(rd.read_offset, 0)`, brokerId)} end as unread,
            lm.id as lm_id, lm."offset" as lm_offset, lm.sender as lm_sender, lm.text as lm_text, lm.time as lm_time,
            lm.edited_text as lm_edited_text, lm.recalled as lm_recalled,
            wt.since as waiting_since
          from broker_clients bc
          join users u on u.id = bc.client_id
          left join lateral (
            select c.id from conversations c
            where c.type = 'broker_client' and c.client_id = bc.client_id
            order by (c.broker_id = bc.broker_id) desc,
                     (c.broker_id = (select p.broker_id from broker_clients p where p.client_id = bc.client_id and p.relation = 'primary')) desc,
                     c.created_at
            limit 1) cv on true
          left join conversation_reads rd on rd.conversation_id = cv.id and rd.user_id = bc.broker_id
          ${lastMessageLateral(ch)}
          left join lateral (
            select min(m.created_at) as since from messages m
            where m.channel = ${ch} and m.kind = 'chat' and m.sender_id = u.id::text
              and m."offset" > coalesce((select max(a."offset") from messages a
                                         where a.channel = m.channel and a.kind = 'chat' and a.sender_id <> u.id::text), 0)) wt on true
          where bc.broker_id = ${brokerId}
          order by wt.since asc nulls last, lm.time desc nulls last, u.display_name`,
    );
    return list.map((r) => ({
      client: { id: String(r.client_id), displayName: String(r.display_name), tier: (r.tier as string | null) ?? null, riskLevel: (r.risk_level as string | null) ?? null },
      relation: r.relation as BrokerRelation,
      conversationId: (r.conversation_id as string | null) ?? null,
      unread: num(r.unread),
      lastMessage: lastMessageOf(r),
      waitingSince: isoOrNull(r.waiting_since),
    }));
  }

  /** Everyone whose unread count a new message changes: the people the conversation is between. */
  async participants(conversationId: string): Promise<string[]> {
    const r = await rows<{ id: string }>(
      this.db,
      sql`select c.client_id as id from conversations c where c.id = ${conversationId} and c.type = 'broker_client'
          union select bc.broker_id from conversations c join broker_clients bc on bc.client_id = c.client_id where c.id = ${conversationId} and c.type = 'broker_client'
          union select c.broker_id from conversations c where c.id = ${conversationId} and c.type = 'broker_manager'
          union select c.manager_id from conversations c where c.id = ${conversationId} and c.type = 'broker_manager'
          union select cm.user_id from conversation_members cm where cm.conversation_id = ${conversationId}`,
    );
    return r.map((x) => String(x.id)).filter(isUuid);
  }

  /** For each conversation a user is part of, the other people in it (presence fanout). */
  async counterparts(userId: string): Promise<Array<{ conversationId: string; userId: string }>> {
    if (!isUuid(userId)) return [];
    const r = await rows<{ conversation_id: string; user_id: string }>(
      this.db,
      sql`select c.id as conversation_id, bc.broker_id as user_id from conversations c join broker_clients bc on bc.client_id = c.client_id
            where c.type = 'broker_client' and c.client_id = ${userId}
          union select c.id, c.client_id from conversations c join broker_clients bc on bc.client_id = c.client_id
            where c.type = 'broker_client' and bc.broker_id = ${userId}
          union select c.id, case when c.broker_id = ${userId} then c.manager_id else c.broker_id end from conversations c
            where c.type = 'broker_manager' and (c.broker_id = ${userId} or c.manager_id = ${userId})
          union select cm.conversation_id, o.user_id from conversation_members cm join conversation_members o on o.conversation_id = cm.conversation_id
            where cm.user_id = ${userId} and o.user_id <> ${userId}`,
    );
    return r.filter((x) => x.user_id && x.user_id !== userId).map((x) => ({ conversationId: String(x.conversation_id), userId: String(x.user_id) }));
  }

  /** Unread counts and read positions of several users in one conversation, with its top offset, from one snapshot. */
  async unreadState(conversationId: string, userIds: string[]): Promise<{ topOffset: number; users: Map<string, { unread: number; readOffset: number }> }> {
    const ids = [...new Set(userIds.filter(isUuid))];
    const users = new Map<string, { unread: number; readOffset: number }>();
    const ch = convChannel(conversationId);
    if (!ids.length) return { topOffset: await this.topOffset(conversationId), users };
    const read = sql`coalesce((select rd.read_offset from conversation_reads rd where rd.conversation_id = ${conversationId} and rd.user_id::text = v.uid), 0)`;
    const r = await rows<Record<string, unknown>>(
      this.db,
      sql`select v.uid, ${read}::float8 as read_offset, ${unreadExpr(sql`${ch}`, read, sql`v.uid`)} as unread,
            coalesce((select last_offset from channels where name = ${ch}), 0)::float8 as top_offset
          from (values ${sql.join(ids.map((i) => sql`(${i}::text)`), sql`, `)}) as v(uid)`,
    );
    for (const x of r) users.set(String(x.uid), { unread: num(x.unread), readOffset: num(x.read_offset) });
    return { topOffset: num(r[0]?.top_offset), users };
  }

  async topOffset(conversationId: string): Promise<number> {
    const [r] = await rows<{ t: unknown }>(this.db, sql`select coalesce((select last_offset from channels where name = ${convChannel(conversationId)}), 0)::float8 as t`);
    return num(r?.t);
  }

  async reads(conversationId: string): Promise<ReadState[]> {
    const r = await rows<Record<string, unknown>>(
      this.db,
      sql`select user_id, delivered_offset::float8 as d, read_offset::float8 as r from conversation_reads where conversation_id = ${conversationId}`,
    );
    return r.map((x) => ({ userId: String(x.user_id), deliveredOffset: num(x.d), readOffset: num(x.r) }));
  }

  /**
   * Moves a user's delivered / read position forward (never back), clamped to the conversation's
   * top offset; reading implies delivery. Returns the positions before and after.
   */
  async advance(
    conversationId: string,
    userId: string,
    kind: 'delivered' | 'read',
    offset: number,
  ): Promise<{ before: ReadState; after: ReadState; topOffset: number }> {
    const ch = convChannel(conversationId);
    return this.db.transaction(async (tx) => {
      const [top] = await rows<{ t: unknown }>(tx, sql`select coalesce((select last_offset from channels where name = ${ch}), 0)::float8 as t`);
      const topOffset = num(top?.t);
      const o = Math.max(0, Math.min(offset, topOffset));
      const [prev] = await rows<Record<string, unknown>>(
        tx,
        sql`select delivered_offset::float8 as d, read_offset::float8 as r from conversation_reads
            where conversation_id = ${conversationId} and user_id = ${userId} for update`,
      );
      const before = { userId, deliveredOffset: num(prev?.d), readOffset: num(prev?.r) };
      const read = kind === 'read' ? Math.max(before.readOffset, o) : before.readOffset;
      const delivered = Math.max(before.deliveredOffset, kind === 'delivered' ? o : 0, read);
      if (read !== before.readOffset || delivered !== before.deliveredOffset || !prev) {
        await tx.execute(sql`insert into conversation_reads (conversation_id, user_id, delivered_offset, read_offset, updated_at)
          values (${conversationId}, ${userId}, ${delivered}, ${read}, now())
          on conflict (conversation_id, user_id) do update set
            delivered_offset = greatest(conversation_reads.delivered_offset, excluded.delivered_offset),
            read_offset = greatest(conversation_reads.read_offset, excluded.read_offset),
            updated_at = now()`);
      }
      return { before, after: { userId, deliveredOffset: delivered, readOffset: read }, topOffset };
    });
  }

  /** Channels of every broker_client conversation of a client (access changes with its assignment). */
  async clientChannels(clientId: string): Promise<string[]> {
    if (!isUuid(clientId)) return [];
    const r = await rows<{ id: string }>(this.db, sql`select id from conversations where type = 'broker_client' and client_id = ${clientId}`);
    return r.map((x) => convChannel(String(x.id)));
  }
}
