/**
 * Conversations: the facts access decisions need, opening conversations (idempotent per pair), the
 * conversation list and the broker workstation (one SQL statement each, whatever the number of
 * conversations), and read/delivered positions.
 *
 * Unread counts — chat messages from others after the reader's read offset, not recalled — are
 * stored per reader (`conversation_reads.unread`) and kept in the transaction of each change, so
 * every per-message step costs the same whatever the length of the conversation (years of history):
 * - a message: `recordMessage`, run inside its publish transaction (the publish `inTx` hook, while the
 *   channel row — the per-channel offset lock — is held): a chat adds one for every other reader, a
 *   recall takes one off for the readers that had the original unread, the sender has read up to it;
 * - a read: `advance` takes off the counted messages between the old and the new read offset (what was
 *   just read, never the history), under the reader's row lock;
 * - a reader without a counter (a row from before the column, a supervisor opening the list for the
 *   first time, a broker a client was just shared with): computed once from the log while holding the
 *   channel lock, so no message commits between the count and the stored value (`ensureCounters`).
 * The workstation's first-response wait (`conversations.waiting_since`) is kept the same way.
 * Every statement here is index-bounded; edits and recalls are found by `messages_ref_idx`.
 *
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
import type { Publication } from '../bus/bus.ts';
import { RESPONSE_BINS, responseBin } from '../domain/response-bins.ts';
import { MARKET_TZ, tradingSecondsBetween, type Holidays } from '../domain/trading-sessions.ts';
import { localParts, ymd } from '../domain/zoned-time.ts';
import { QiaoError } from '../errors/codes.ts';
import type { Executor } from './archive-repo.ts';
import { rows, type Db } from './db.ts';
import { conversationMembers, conversations } from './schema/index.ts';

const UUID = new RegExp(`^${UUID_RE}$`);
export const isUuid = (v: unknown): v is string => typeof v === 'string' && UUID.test(v);
export const convChannel = (id: string) => `conv.${id}`;


const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const iso = (v: unknown): string => (v instanceof Date ? v : new Date(String(v))).toISOString();
const isoOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : iso(v));

/**
 * What an unread counter counts: chat messages of channel `ch` from others than `viewer` with an
 * offset in (`after`, `upTo`] (no upper bound when `upTo` is null), not recalled. Reads only that
 * offset range (`messages_channel_offset_uq`) and one `messages_ref_idx` probe per message.
 */
function countedExpr(ch: SQL, after: SQL, upTo: SQL | null, viewer: SQL): SQL {
  return sql`(select count(*) from messages m
     where m.channel = ${ch} and m."offset" > ${after} ${upTo ? sql`and m."offset" <= ${upTo}` : sql``}
       and m.kind = 'chat' and m.sender_id <> ${viewer}
       and not exists (select 1 from messages r where r.channel = m.channel and (r.payload->>'ref') = m.id::text
                         and r."offset" > m."offset" and r.kind = 'chat.recall'))::int`;
}

/**
 * Time of the client's first chat after the last chat from anyone else, from the log (backfill only;
 * `recordMessage` keeps it from then on). Both in offset order, on the channel's offset index: a
 * `min(created_at)` here would let the planner walk the global `messages_created_idx` instead.
 */
function waitingFromLog(ch: SQL, client: SQL): SQL {
  return sql`(select m.created_at from messages m
     where m.channel = ${ch} and m.kind = 'chat' and m.sender_id = ${client}
       and m."offset" > coalesce((select a."offset" from messages a
                                  where a.channel = ${ch} and a.kind = 'chat' and a.sender_id <> ${client}
                                  order by a."offset" desc limit 1), 0)
     order by m."offset" limit 1)`;
}

/**
 * Takes the channel row lock (the one every publish to the channel holds until it commits), creating
 * the row if the channel has no message yet: while it is held no message of the channel commits.
 */
async function lockChannel(tx: Executor, channel: string): Promise<void> {
  await tx.execute(sql`insert into channels (name, family) values (${channel}, 'conv') on conflict (name) do nothing`);
  await tx.execute(sql`select 1 from channels where name = ${channel} for update`);
}

/** The last chat message of channel `ch`, with its latest edit and whether it was recalled (lateral). */
function lastMessageLateral(ch: SQL): SQL {
  // The newest chat: a backward scan of the channel's offsets that passes only the edits and recalls
  // after it; its latest edit and its recall by messages_ref_idx.
  return sql`left join lateral (
      select m.id::text as id, m."offset"::float8 as "offset", m.sender_id as sender, m.payload->>'text' as text, m.created_at as time,
        (select e.payload->>'text' from messages e where e.channel = m.channel and (e.payload->>'ref') = m.id::text
           and e."offset" > m."offset" and e.kind = 'chat.edit' order by e."offset" desc limit 1) as edited_text,
        exists (select 1 from messages r where r.channel = m.channel and (r.payload->>'ref') = m.id::text
           and r."offset" > m."offset" and r.kind = 'chat.recall') as recalled
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

/** The people a conversation is between (ids of users, one column `id`): whose unread counts matter. */
function participantsSql(conversationId: string): SQL {
  return sql`select c.client_id as id from conversations c where c.id = ${conversationId} and c.type = 'broker_client'
    union select bc.broker_id from conversations c join broker_clients bc on bc.client_id = c.client_id where c.id = ${conversationId} and c.type = 'broker_client'
    union select c.broker_id from conversations c where c.id = ${conversationId} and c.type = 'broker_manager'
    union select c.manager_id from conversations c where c.id = ${conversationId} and c.type = 'broker_manager'
    union select cm.user_id from conversation_members cm where cm.conversation_id = ${conversationId}`;
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

/**
 * For each assignment `bc` (broker_clients row), the conversation the broker's workstation shows for
 * that client (`cv`: the broker's own with the client, else the primary broker's, else the oldest) and
 * the broker's read state of it (`rd`: its stored unread counter).
 */
function workstationConversation(): SQL {
  return sql`left join lateral (
            select c.id, c.waiting_known, c.waiting_since from conversations c
            where c.type = 'broker_client' and c.client_id = bc.client_id
            order by (c.broker_id = bc.broker_id) desc,
                     (c.broker_id = (select p.broker_id from broker_clients p where p.client_id = bc.client_id and p.relation = 'primary')) desc,
                     c.created_at
            limit 1) cv on true
          left join conversation_reads rd on rd.conversation_id = cv.id and rd.user_id = bc.broker_id`;
}

/** One broker's line in a manager's team overview (GET /api/team/overview). */
export interface TeamBrokerOverview {
  brokerId: string;
  displayName: string;
  teamId: string;
  teamName: string;
  /** Clients assigned or shared to the broker (the workstation's rows). */
  clients: number;
  /** Of those, the ones with a conversation. */
  openConversations: number;
  /** Client chat messages the broker has not read, over those conversations (stored counters). */
  unreadBacklog: number;
  /** Clients whose last message has no answer from the broker side yet (stored first-response wait). */
  waitingClients: number;
  /** The longest-waiting of them. */
  oldestWaiting: { clientId: string; displayName: string; since: string } | null;
}

/** A change of a broker–client conversation's first-response wait made by one message (see `waitingChange`). */
export interface WaitingChange {
  conversationId: string;
  brokerId: string;
  clientId: string;
  /** When the client started waiting; null: the broker side just answered. */
  waitingSince: string | null;
}

/** `{0,…,1,…,0}`: a histogram of the response bins with one wait in bin `bin`. */
function oneWaitLiteral(bin: number): string {
  const h = new Array<number>(RESPONSE_BINS).fill(0);
  h[bin] = 1;
  return `{${h.join(',')}}`;
}

export class ConversationsRepo {
  /** Waiting changes of publications committed by `recordMessage`, for the live side (src/conversations/live.ts). */
  private readonly waitingChanges = new WeakMap<Publication, WaitingChange>();

  /** `holidays`: exchange holidays, for the trading-hours seconds of response episodes. */
  constructor(
    private readonly db: Db,
    private readonly holidays: Holidays = new Set(),
  ) {}

  /**
   * Whether this committed publication started or ended a client's wait (set by `recordMessage` in its
   * transaction): the live side tells the people who watch the broker's service figures.
   */
  waitingChange(pub: Publication): WaitingChange | undefined {
    return this.waitingChanges.get(pub);
  }

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
            exists (select 1 from messages x where x.channel = m.channel and (x.payload->>'ref') = m.id::text
                    and x."offset" > m."offset" and x.kind = 'chat.recall') as recalled
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
      // A new conversation has no message: nobody waits yet (see `waitingSince`).
      .values({ type, brokerId, ...(type === 'broker_client' ? { clientId: otherId } : { managerId: otherId }), waitingKnown: true, ...values })
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
      const [c] = await tx.insert(conversations).values({ type: 'group', title, teamId, createdBy, waitingKnown: true }).returning();
      await tx.insert(conversationMembers).values([...new Set([createdBy, ...memberIds])].map((userId) => ({ conversationId: c.id, userId })));
      return toRow({ ...c, broker_id: c.brokerId, client_id: c.clientId, manager_id: c.managerId, team_id: c.teamId, created_at: c.createdAt });
    });
  }

  /** Teams of a firm, with their manager (team overview scope). */
  async teams(firmId: string | undefined): Promise<Array<{ id: string; managerId: string | null }>> {
    const r = await rows<Record<string, unknown>>(
      this.db,
      sql`select t.id, t.manager_id from teams t join branches b on b.id = t.branch_id
          ${firmId && isUuid(firmId) ? sql`where b.firm_id = ${firmId}::uuid` : sql``}`,
    );
    return r.map((x) => ({ id: String(x.id), managerId: (x.manager_id as string | null) ?? null }));
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

  /** Who watches a broker's service figures live: the broker, its team's manager and its branch head (src/conversations/live.ts). */
  async serviceWatchers(brokerId: string): Promise<string[]> {
    if (!isUuid(brokerId)) return [];
    const [r] = await rows<Record<string, unknown>>(
      this.db,
      sql`select u.id::text as broker, t.manager_id::text as manager, b.head_id::text as head from users u
          left join teams t on t.id = u.team_id left join branches b on b.id = u.branch_id where u.id = ${brokerId}`,
    );
    return r ? [...new Set([r.broker, r.manager, r.head].filter(isUuid))] : [];
  }

  /** The manager leading a team, if any. */
  async teamManager(teamId: string | null): Promise<string | null> {
    if (!teamId) return null;
    const [r] = await rows<{ manager_id: string | null }>(this.db, sql`select manager_id from teams where id = ${teamId}`);
    return r?.manager_id ?? null;
  }

  /**
   * Conversations the viewer can read, newest activity first, each with its unread count for the
   * viewer (its stored counter), last message and read position. One statement (plus, the first time
   * the viewer looks at an older conversation, its counter computed once); the final access decision
   * is the rule's.
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
            rd.unread as unread,
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
    const uncounted: boolean[] = [];
    for (const r of list) {
      const f = facts(r);
      const access = conversationAccess(p, f);
      if (access === 'none') continue;
      uncounted.push(r.unread === null || r.unread === undefined);
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
    // Counters not computed yet (first look at an older conversation): once, then kept.
    const missing = out.filter((_, i) => uncounted[i]);
    if (missing.length) {
      for (const c of missing) await this.ensureCounters(c.id, [me]);
      const counted = await rows<{ conversation_id: string; unread: unknown }>(
        this.db,
        sql`select conversation_id, unread from conversation_reads
            where user_id = ${me} and conversation_id in (${sql.join(missing.map((c) => sql`${c.id}`), sql`, `)})`,
      );
      for (const c of missing) c.unread = num(counted.find((x) => String(x.conversation_id) === c.id)?.unread);
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
   * the client's oldest unanswered message has waited (stored, see `recordMessage`). One statement
   * (plus, once per conversation from before the counters, their computation from the log).
   */
  async workstation(brokerId: string): Promise<WorkstationRow[]> {
    if (!isUuid(brokerId)) return [];
    const ch = sql`('conv.' || cv.id::text)`;
    const query = () =>
      rows<Record<string, unknown>>(
        this.db,
        sql`select u.id as client_id, u.display_name, u.tier, u.risk_level, bc.relation, cv.id as conversation_id,
            rd.unread as unread, cv.waiting_known, cv.waiting_since,
            lm.id as lm_id, lm."offset" as lm_offset, lm.sender as lm_sender, lm.text as lm_text, lm.time as lm_time,
            lm.edited_text as lm_edited_text, lm.recalled as lm_recalled
          from broker_clients bc
          join users u on u.id = bc.client_id
          ${workstationConversation()}
          ${lastMessageLateral(ch)}
          where bc.broker_id = ${brokerId}
          order by cv.waiting_since asc nulls last, lm.time desc nulls last, u.display_name`,
      );
    let list = await query();
    // Counters and waits not computed yet (conversations from before they were kept): once, then kept.
    const stale = list.filter((r) => r.conversation_id && (r.unread === null || r.unread === undefined || !(r.waiting_known === true || r.waiting_known === 't')));
    if (stale.length) {
      for (const r of stale) {
        await this.ensureCounters(String(r.conversation_id), [brokerId]);
        await this.ensureWaiting(String(r.conversation_id));
      }
      list = await query();
    }
    return list.map((r) => ({
      client: { id: String(r.client_id), displayName: String(r.display_name), tier: (r.tier as string | null) ?? null, riskLevel: (r.risk_level as string | null) ?? null },
      relation: r.relation as BrokerRelation,
      conversationId: (r.conversation_id as string | null) ?? null,
      unread: num(r.unread),
      lastMessage: lastMessageOf(r),
      waitingSince: isoOrNull(r.waiting_since),
    }));
  }

  /**
   * Per active broker of the given teams (or of the firm when `teamIds` is undefined), the workstation's
   * numbers summed: conversations, unread backlog (stored conversation_reads.unread) and clients waiting
   * for a first response (stored conversations.waiting_since). One statement; counters not computed
   * yet are computed once first, as the workstation does.
   */
  async teamOverview(scope: { firmId?: string; teamIds?: string[] }): Promise<TeamBrokerOverview[]> {
    const teamIds = scope.teamIds?.filter(isUuid);
    if (teamIds && !teamIds.length) return [];
    const where = sql`u.role = 'broker' and u.active
      ${teamIds ? sql`and u.team_id in (${sql.join(teamIds.map((id) => sql`${id}::uuid`), sql`, `)})` : sql``}
      ${scope.firmId && isUuid(scope.firmId) ? sql`and u.firm_id = ${scope.firmId}::uuid` : sql``}`;
    const query = () =>
      rows<Record<string, unknown>>(
        this.db,
        sql`select u.id as broker_id, u.display_name, t.id as team_id, t.name as team_name,
            bc.client_id, cu.display_name as client_name, cv.id as conversation_id, cv.waiting_known, cv.waiting_since, rd.unread
          from users u
          join teams t on t.id = u.team_id
          left join broker_clients bc on bc.broker_id = u.id
          left join users cu on cu.id = bc.client_id
          ${workstationConversation()}
          where ${where}
          order by t.name, u.display_name, u.id`,
      );
    let list = await query();
    const stale = list.filter((r) => r.conversation_id && (r.unread === null || r.unread === undefined || !(r.waiting_known === true || r.waiting_known === 't')));
    if (stale.length) {
      for (const r of stale) {
        await this.ensureCounters(String(r.conversation_id), [String(r.broker_id)]);
        await this.ensureWaiting(String(r.conversation_id));
      }
      list = await query();
    }
    const out = new Map<string, TeamBrokerOverview>();
    for (const r of list) {
      const id = String(r.broker_id);
      let b = out.get(id);
      if (!b) {
        b = {
          brokerId: id,
          displayName: String(r.display_name),
          teamId: String(r.team_id),
          teamName: String(r.team_name),
          clients: 0,
          openConversations: 0,
          unreadBacklog: 0,
          waitingClients: 0,
          oldestWaiting: null,
        };
        out.set(id, b);
      }
      if (!r.client_id) continue;
      b.clients++;
      if (!r.conversation_id) continue;
      b.openConversations++;
      b.unreadBacklog += num(r.unread);
      const since = isoOrNull(r.waiting_since);
      if (since) {
        b.waitingClients++;
        if (!b.oldestWaiting || since < b.oldestWaiting.since) b.oldestWaiting = { clientId: String(r.client_id), displayName: String(r.client_name), since };
      }
    }
    return [...out.values()];
  }

  /** Everyone whose unread count a new message changes: the people the conversation is between. */
  async participants(conversationId: string): Promise<string[]> {
    if (!isUuid(conversationId)) return [];
    const r = await rows<{ id: string }>(this.db, participantsSql(conversationId));
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

  /**
   * Unread counts and read positions in one conversation, with its top offset, from one snapshot: of
   * `userIds`, or of its participants when omitted. Reads the stored counters (one index range of
   * conversation_reads); a counter not computed yet is computed once.
   */
  async unreadState(
    conversationId: string,
    userIds?: string[],
  ): Promise<{ topOffset: number; users: Map<string, { unread: number; readOffset: number }> }> {
    const users = new Map<string, { unread: number; readOffset: number }>();
    if (!isUuid(conversationId)) return { topOffset: 0, users };
    const ids = userIds && [...new Set(userIds.filter(isUuid))];
    if (ids && !ids.length) return { topOffset: await this.topOffset(conversationId), users };
    const who = ids ? sql`select v.id from (values ${sql.join(ids.map((i) => sql`(${i}::uuid)`), sql`, `)}) as v(id)` : participantsSql(conversationId);
    const query = () =>
      rows<Record<string, unknown>>(
        this.db,
        sql`select u.id::text as uid, coalesce(rd.read_offset, 0)::float8 as read_offset, rd.unread,
              coalesce((select last_offset from channels where name = ${convChannel(conversationId)}), 0)::float8 as top_offset
            from (${who}) as u(id)
            left join conversation_reads rd on rd.conversation_id = ${conversationId} and rd.user_id = u.id
            where u.id is not null`,
      );
    let r = await query();
    const uncounted = r.filter((x) => x.unread === null || x.unread === undefined).map((x) => String(x.uid));
    if (uncounted.length) {
      await this.ensureCounters(conversationId, uncounted);
      r = await query();
    }
    for (const x of r) users.set(String(x.uid), { unread: num(x.unread), readOffset: num(x.read_offset) });
    return { topOffset: r.length ? num(r[0].top_offset) : await this.topOffset(conversationId), users };
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
   * top offset; reading implies delivery. Returns the positions before and after, the top offset and
   * the unread count after. The counter loses what was just read: the counted messages between the
   * old and the new read offset — O(newly read), whatever the length of the history.
   */
  async advance(
    conversationId: string,
    userId: string,
    kind: 'delivered' | 'read',
    offset: number,
  ): Promise<{ before: ReadState; after: ReadState; topOffset: number; unread: number }> {
    const ch = convChannel(conversationId);
    for (let attempt = 0; ; attempt++) {
      const out = await this.db.transaction(async (tx) => {
        // The row lock first, then the top: every message up to that top has had its effect on this
        // row (a message's transaction updates the row before it commits), none after it has.
        const [prev] = await rows<Record<string, unknown>>(
          tx,
          sql`select delivered_offset::float8 as d, read_offset::float8 as r, unread from conversation_reads
              where conversation_id = ${conversationId} and user_id = ${userId} for update`,
        );
        if (!prev || prev.unread === null || prev.unread === undefined) return null;
        const [top] = await rows<{ t: unknown }>(tx, sql`select coalesce((select last_offset from channels where name = ${ch}), 0)::float8 as t`);
        const topOffset = num(top?.t);
        const o = Math.max(0, Math.min(offset, topOffset));
        const before = { userId, deliveredOffset: num(prev.d), readOffset: num(prev.r) };
        const read = kind === 'read' ? Math.max(before.readOffset, o) : before.readOffset;
        const delivered = Math.max(before.deliveredOffset, kind === 'delivered' ? o : 0, read);
        let unread = num(prev.unread);
        if (read !== before.readOffset || delivered !== before.deliveredOffset) {
          const [after] = await rows<{ unread: unknown }>(
            tx,
            sql`update conversation_reads set delivered_offset = ${delivered}, read_offset = ${read},
                  unread = ${
                    read > before.readOffset
                      ? sql`greatest(0, unread - ${countedExpr(sql`${ch}`, sql`${before.readOffset}`, sql`${read}`, sql`${userId}::text`)})`
                      : sql`unread`
                  },
                  updated_at = now()
                where conversation_id = ${conversationId} and user_id = ${userId}
                returning unread`,
          );
          unread = num(after?.unread);
        }
        return { before, after: { userId, deliveredOffset: delivered, readOffset: read }, topOffset, unread };
      });
      if (out) return out;
      if (attempt > 0) throw new Error(`unread counter of ${userId} in ${conversationId} could not be initialised`);
      await this.ensureCounters(conversationId, [userId]);
    }
  }

  /**
   * Gives these users a computed unread counter in the conversation where they have none (no row, or
   * `unread` null): counted once from the log — the only O(history) step, once per reader and
   * conversation. Holds the channel lock meanwhile, so no message commits between the count and the
   * stored value; from then on every message and read keeps it.
   */
  async ensureCounters(conversationId: string, userIds: string[]): Promise<void> {
    const ids = [...new Set(userIds.filter(isUuid))];
    if (!ids.length || !isUuid(conversationId)) return;
    const ch = convChannel(conversationId);
    const list = sql.join(ids.map((i) => sql`${i}::uuid`), sql`, `);
    await this.db.transaction(async (tx) => {
      await lockChannel(tx, ch);
      await tx.execute(sql`insert into conversation_reads (conversation_id, user_id)
        select ${conversationId}::uuid, u from unnest(array[${list}]) as u on conflict (conversation_id, user_id) do nothing`);
      await tx.execute(sql`update conversation_reads rd set unread = ${countedExpr(sql`${ch}`, sql`rd.read_offset`, null, sql`rd.user_id::text`)}
        where rd.conversation_id = ${conversationId} and rd.user_id in (${list}) and rd.unread is null`);
    });
  }

  /** Computes a conversation's first-response wait once from the log (see `ensureCounters`), if not known yet. */
  async ensureWaiting(conversationId: string): Promise<void> {
    if (!isUuid(conversationId)) return;
    const ch = convChannel(conversationId);
    await this.db.transaction(async (tx) => {
      await lockChannel(tx, ch);
      await tx.execute(sql`update conversations c set waiting_since = ${waitingFromLog(sql`${ch}`, sql`c.client_id::text`)}, waiting_known = true
        where c.id = ${conversationId} and not c.waiting_known`);
    });
  }

  /**
   * The conversation side of one new message, inside its publish transaction (publish `inTx`, after
   * the message row; the channel row lock is held, so this message is the channel's top and no other
   * message of the channel commits meanwhile). Index-bounded statements only:
   * - chat: one more unread for every other reader with a counter; the first-response wait starts
   *   (client) or ends (anyone else), and a wait that ends is a response episode (with its day and month
   *   rollups; one more statement, only then); the last chat times, and the client's chat reopens a
   *   conversation marked resolved;
   * - chat.recall: one less for every reader other than the original's sender whose read offset is
   *   below the original, unless it was recalled already (a concurrent recall that passed the check
   *   too: refused here, QIAO_MESSAGE_RECALLED, so nothing is counted twice);
   * - every kind: the sender has read (and received) up to this message, so its own count is 0.
   */
  async recordMessage(tx: Executor, pub: Publication): Promise<void> {
    if (!pub.channel.startsWith('conv.')) return;
    const conversationId = pub.channel.slice('conv.'.length);
    if (!isUuid(conversationId)) return;
    const sender = pub.sender;
    const effects: SQL[] = [];
    if (pub.kind === 'chat') {
      effects.push(sql`update conversation_reads set unread = unread + 1
        where conversation_id = ${conversationId} and user_id::text <> ${sender} and unread is not null`);
    } else if (pub.kind === 'chat.recall') {
      const ref = (pub.payload as { ref?: unknown } | null)?.ref;
      if (isUuid(ref)) {
        const [m] = await rows<Record<string, unknown>>(
          tx,
          sql`select m."offset"::float8 as "offset", m.sender_id,
                exists (select 1 from messages x where x.channel = m.channel and (x.payload->>'ref') = m.id::text
                        and x."offset" > m."offset" and x."offset" < ${pub.offset} and x.kind = 'chat.recall') as recalled
              from messages m where m.id = ${ref} and m.channel = ${pub.channel} and m.kind = 'chat'`,
        );
        if (m && (m.recalled === true || m.recalled === 't')) throw new QiaoError('QIAO_MESSAGE_RECALLED');
        if (m) {
          effects.push(sql`update conversation_reads set unread = unread - 1
            where conversation_id = ${conversationId} and user_id::text <> ${String(m.sender_id)} and read_offset < ${num(m.offset)} and unread > 0`);
        }
      }
    }
    if (isUuid(sender)) {
      // Sending counts as having read up to it: this message is the top, so nothing is left unread.
      effects.push(sql`insert into conversation_reads (conversation_id, user_id, delivered_offset, read_offset, unread, updated_at)
        values (${conversationId}, ${sender}, ${pub.offset}, ${pub.offset}, 0, now())
        on conflict (conversation_id, user_id) do update set
          delivered_offset = greatest(conversation_reads.delivered_offset, excluded.delivered_offset),
          read_offset = greatest(conversation_reads.read_offset, excluded.read_offset),
          unread = 0, updated_at = now()`);
    }
    // A chat moves the conversation's own columns; the update returns the wait as it was before it
    // (`o`: the row as the statement found it), so an answer knows how long the client waited.
    const byClient = sql`c.client_id::text = ${sender}`;
    const conversationUpdate =
      pub.kind === 'chat'
        ? sql`update conversations c set
              last_chat_at = m.created_at,
              waiting_since = case when c.type = 'broker_client' and c.waiting_known
                then (case when ${byClient} then coalesce(c.waiting_since, m.created_at) else null end) else c.waiting_since end,
              last_staff_chat_at = case when c.type = 'broker_client' and not ${byClient} then m.created_at else c.last_staff_chat_at end,
              resolved_at = case when ${byClient} then null else c.resolved_at end
            from messages m, conversations o
            where m.channel = ${pub.channel} and m."offset" = ${pub.offset} and c.id = ${conversationId} and o.id = c.id
            returning c.type, c.broker_id, c.client_id, o.waiting_known, o.waiting_since as was_waiting, c.waiting_since as waiting, m.created_at as at`
        : null;
    if (!effects.length && !conversationUpdate) return;
    // One round trip: the statements touch different rows (the sender's row is excluded from the
    // others'), so they run as data-modifying CTEs of one statement.
    const last = conversationUpdate ?? effects.pop()!;
    const r = await rows<Record<string, unknown>>(
      tx,
      effects.length ? sql`with ${sql.join(effects.map((e, i) => sql`${sql.raw(`e${i}`)} as (${e} returning 1)`), sql`, `)} ${last}` : last,
    );
    const c = conversationUpdate ? r[0] : undefined;
    if (!c || c.type !== 'broker_client' || !(c.waiting_known === true || c.waiting_known === 't') || !c.broker_id || !c.client_id) return;
    const was = isoOrNull(c.was_waiting);
    const now = isoOrNull(c.waiting);
    if (was === now) return;
    const change = { conversationId, brokerId: String(c.broker_id), clientId: String(c.client_id), waitingSince: now };
    this.waitingChanges.set(pub, change);
    if (was && !now && isUuid(sender)) await this.recordEpisode(tx, change, sender, new Date(was), new Date(iso(c.at)));
  }

  /**
   * A wait answered: the response episode (broker and its team and branch as they are now, the answer
   * time), counted into the broker's day and month rollups (src/domain/response-bins.ts). One statement.
   */
  private async recordEpisode(tx: Executor, w: WaitingChange, answeredBy: string, since: Date, at: Date): Promise<void> {
    const allSeconds = Math.max(0, Math.floor((at.getTime() - since.getTime()) / 1000));
    const tradingSeconds = tradingSecondsBetween(since, at, this.holidays);
    const p = localParts(at, MARKET_TZ);
    const day = ymd(p.year, p.month, p.day);
    const month = ymd(p.year, p.month, 1);
    const tb = responseBin(tradingSeconds);
    const ab = responseBin(allSeconds);
    await tx.execute(sql`with e as (
        insert into response_episodes (conversation_id, broker_id, client_id, answered_by, team_id, branch_id, waiting_since, answered_at, all_seconds, trading_seconds)
        select ${w.conversationId}::uuid, u.id, ${w.clientId}::uuid, ${answeredBy}::uuid, u.team_id, u.branch_id, ${since.toISOString()}::timestamptz, ${at.toISOString()}::timestamptz, ${allSeconds}::int, ${tradingSeconds}::int
        from users u where u.id = ${w.brokerId}
      )
      insert into response_rollups as r (grain, day, broker_id, answered, trading_hist, all_hist)
      values ('day', ${day}::date, ${w.brokerId}::uuid, 1, ${oneWaitLiteral(tb)}::int[], ${oneWaitLiteral(ab)}::int[]),
             ('month', ${month}::date, ${w.brokerId}::uuid, 1, ${oneWaitLiteral(tb)}::int[], ${oneWaitLiteral(ab)}::int[])
      on conflict (grain, broker_id, day) do update set answered = r.answered + 1,
        trading_hist[${tb + 1}::int] = r.trading_hist[${tb + 1}::int] + 1, all_hist[${ab + 1}::int] = r.all_hist[${ab + 1}::int] + 1`);
  }

  /** Channels of every broker_client conversation of a client (access changes with its assignment). */
  async clientChannels(clientId: string): Promise<string[]> {
    if (!isUuid(clientId)) return [];
    const r = await rows<{ id: string }>(this.db, sql`select id from conversations where type = 'broker_client' and client_id = ${clientId}`);
    return r.map((x) => convChannel(String(x.id)));
  }
}
