/**
 * Conversations over REST: my conversations (unread counts, last message, the other side's
 * presence), opening one (idempotent per pair), history, sending (the ordinary publish path on
 * `conv.<id>`: chat, chat.edit, chat.recall), read/delivered receipts, and the broker workstation.
 * Access decisions: src/domain/conversation-access.ts.
 */
import type { FastifyInstance } from 'fastify';
import { UUID_RE } from '../../channels/family.ts';
import type { Principal } from '../auth/principal.ts';
import type { AppDeps } from '../deps.ts';
import { conversationAccess } from '../domain/conversation-access.ts';
import { QiaoError } from '../errors/codes.ts';
import type { PresenceState } from '../presence/presence.ts';
import { convChannel, type ConversationSummary } from '../store/conversations-repo.ts';
import { authenticate, bearerSecurity } from './auth-hook.ts';
import { PublicationPageSchema, errors, IdempotencyKeyHeaders } from './schemas.ts';
import { typed } from './type-provider.ts';

const Uuid = { type: 'string', pattern: `^${UUID_RE}$` } as const;
const IdParam = { type: 'object', properties: { id: Uuid }, required: ['id'], additionalProperties: false } as const;
const Person = { type: 'object', properties: { id: { type: 'string' }, displayName: { type: 'string' } } } as const;
const nullable = <T extends { type: string }>(s: T) => ({ ...s, type: [s.type, 'null'] });

const LastMessage = nullable({
  type: 'object',
  properties: {
    id: { type: 'string' },
    offset: { type: 'integer' },
    sender: { type: 'string' },
    text: { type: ['string', 'null'], description: 'current text (after the latest edit); null when recalled' },
    time: { type: 'string', format: 'date-time' },
    edited: { type: 'boolean' },
    recalled: { type: 'boolean' },
  },
} as const);

const Conversation = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    type: { type: 'string', enum: ['broker_client', 'broker_manager', 'group'] },
    title: { type: ['string', 'null'] },
    channel: { type: 'string' },
    access: { type: 'string', enum: ['read', 'write'] },
    participant: { type: 'boolean', description: 'false for supervisors (team manager, compliance), who only read' },
    brokerId: { type: ['string', 'null'] },
    clientId: { type: ['string', 'null'] },
    managerId: { type: ['string', 'null'] },
    teamId: { type: ['string', 'null'] },
    broker: nullable(Person),
    client: nullable({ type: 'object', properties: { ...Person.properties, tier: { type: ['string', 'null'] }, riskLevel: { type: ['string', 'null'] } } }),
    manager: nullable(Person),
    members: { type: 'array', items: Person },
    peer: nullable({
      type: 'object',
      description: 'the other side of a two-person conversation, with presence',
      properties: { ...Person.properties, role: { type: 'string' }, presence: { type: 'string', enum: ['online', 'away', 'offline'] } },
    }),
    topOffset: { type: 'integer' },
    readOffset: { type: 'integer' },
    deliveredOffset: { type: 'integer' },
    unread: { type: 'integer', description: 'chat messages from others after my read offset, not recalled (kept with every message and read)' },
    lastMessage: LastMessage,
    createdAt: { type: 'string', format: 'date-time' },
  },
} as const;

const ReadState = {
  type: 'object',
  properties: { userId: { type: 'string' }, deliveredOffset: { type: 'integer' }, readOffset: { type: 'integer' } },
} as const;

const ReceiptResult = {
  type: 'object',
  properties: { conversationId: { type: 'string' }, readOffset: { type: 'integer' }, deliveredOffset: { type: 'integer' }, unread: { type: 'integer' } },
} as const;

const OffsetBody = {
  type: 'object',
  properties: { offset: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } },
  required: ['offset'],
  additionalProperties: false,
} as const;

type Peer = { id: string; displayName: string; role: string; presence: PresenceState };

/** The other person of a two-person conversation, from the viewer's side. */
function peerOf(p: Principal, c: ConversationSummary): Omit<Peer, 'presence'> | null {
  if (c.type === 'broker_client') {
    if (p.id === c.clientId) return c.broker ? { ...c.broker, role: 'broker' } : null;
    return c.client ? { id: c.client.id, displayName: c.client.displayName, role: 'client' } : null;
  }
  if (c.type === 'broker_manager') {
    if (p.id === c.brokerId) return c.manager ? { ...c.manager, role: 'manager' } : null;
    return c.broker ? { ...c.broker, role: 'broker' } : null;
  }
  return null;
}

export default async function conversationRoutes(scope: FastifyInstance, d: AppDeps): Promise<void> {
  const app = typed(scope);
  app.addHook('preHandler', authenticate(d.tokens));
  const convs = d.conversations;

  async function withPeers(p: Principal, list: ConversationSummary[]): Promise<Array<ConversationSummary & { peer: Peer | null }>> {
    const peers = list.map((c) => peerOf(p, c));
    const presence = await d.live.presenceOf(peers.filter((x) => x !== null).map((x) => x.id));
    return list.map((c, i) => {
      const peer = peers[i];
      return { ...c, peer: peer ? { ...peer, presence: presence.get(peer.id) ?? 'offline' } : null };
    });
  }

  /** The conversation as the viewer sees it; 404 when it does not exist, 403 when the viewer has no access. */
  async function visible(p: Principal, id: string): Promise<ConversationSummary & { peer: Peer | null }> {
    const f = await convs.facts(id, p.id);
    if (!f) throw new QiaoError('QIAO_CONVERSATION_NOT_FOUND');
    if (conversationAccess(p, f) === 'none') throw new QiaoError('QIAO_FORBIDDEN', 'No access to this conversation');
    const [c] = await convs.listFor(p, { limit: 1, ids: [id] });
    if (!c) throw new QiaoError('QIAO_FORBIDDEN', 'No access to this conversation');
    return (await withPeers(p, [c]))[0];
  }

  app.get(
    '/api/conversations',
    {
      schema: {
        tags: ['conversations'],
        summary: 'My conversations, newest activity first, with unread counts, last message and the other side’s presence',
        security: bearerSecurity,
        querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 500, default: 200 } }, additionalProperties: false },
        response: { 200: { type: 'object', properties: { conversations: { type: 'array', items: Conversation } } }, ...errors(400, 401) },
      },
    },
    async (req) => {
      const { limit } = req.query;
      return { conversations: await withPeers(req.principal, await convs.listFor(req.principal, { limit })) };
    },
  );

  app.post(
    '/api/conversations',
    {
      schema: {
        tags: ['conversations'],
        summary: 'Open a conversation (idempotent per pair: 201 when created, 200 when it existed)',
        description:
          'broker_client: a client opens one with its primary broker (or `brokerId`, a broker sharing it with full access); a broker with `clientId` ' +
          '(primary or shared_full). broker_manager: a broker with its team manager; a manager with `brokerId` of a team it leads. ' +
          'group: staff of one team, `memberIds` (1–19 colleagues) and `title`; not idempotent.',
        security: bearerSecurity,
        body: {
          type: 'object',
          properties: {
            type: { type: 'string', enum: ['broker_client', 'broker_manager', 'group'] },
            clientId: Uuid,
            brokerId: Uuid,
            managerId: Uuid,
            memberIds: { type: 'array', items: Uuid, minItems: 1, maxItems: 19, uniqueItems: true },
            title: { type: 'string', minLength: 1, maxLength: 100 },
          },
          required: ['type'],
          additionalProperties: false,
        },
        response: {
          200: { type: 'object', properties: { conversation: Conversation, created: { type: 'boolean' } } },
          201: { type: 'object', properties: { conversation: Conversation, created: { type: 'boolean' } } },
          ...errors(400, 401, 403, 404, 422),
        },
      },
    },
    async (req, reply) => {
      const p = req.principal;
      const b = req.body;
      let id: string;
      let created: boolean;
      if (b.type === 'broker_client') {
        let brokerId: string;
        let clientId: string;
        if (p.role === 'client') {
          const brokers = await d.assignments.brokersOf(p.id);
          const target = b.brokerId ? brokers.find((x) => x.brokerId === b.brokerId) : brokers.find((x) => x.relation === 'primary');
          if (!target || target.relation === 'shared_read') throw new QiaoError('QIAO_CONVERSATION_INVALID', b.brokerId ? 'That broker does not serve you' : 'You have no primary broker yet');
          brokerId = target.brokerId;
          clientId = p.id;
        } else if (p.role === 'broker') {
          if (!b.clientId) throw new QiaoError('QIAO_BAD_REQUEST', 'body must have property clientId');
          const rel = (await d.assignments.brokersOf(b.clientId)).find((x) => x.brokerId === p.id)?.relation;
          // Unknown and unassigned clients get the same answer: no probing for client ids.
          if (rel !== 'primary' && rel !== 'shared_full') throw new QiaoError('QIAO_FORBIDDEN', 'Not assigned to this client with write access');
          brokerId = p.id;
          clientId = b.clientId;
        } else {
          throw new QiaoError('QIAO_FORBIDDEN', 'Broker–client conversations are opened by the client or its broker');
        }
        ({ conversation: { id }, created } = await convs.openBrokerClient(brokerId, clientId, p.id));
      } else if (b.type === 'broker_manager') {
        const [me] = await convs.usersByIds([p.id]);
        if (p.role === 'broker' && me) {
          const managerId = await convs.teamManager(me.teamId);
          if (!managerId || (b.managerId && b.managerId !== managerId)) throw new QiaoError('QIAO_CONVERSATION_INVALID', 'Brokers talk with the manager of their own team');
          ({ conversation: { id }, created } = await convs.openBrokerManager(p.id, managerId, me.teamId, p.id));
        } else if (p.role === 'manager' && me) {
          if (!b.brokerId) throw new QiaoError('QIAO_BAD_REQUEST', 'body must have property brokerId');
          const [broker] = await convs.usersByIds([b.brokerId]);
          const led = await d.assignments.actor(p);
          if (!broker || broker.role !== 'broker' || !broker.teamId || !led.ledTeamIds.includes(broker.teamId)) {
            throw new QiaoError('QIAO_CONVERSATION_INVALID', 'Managers talk with brokers of a team they lead');
          }
          ({ conversation: { id }, created } = await convs.openBrokerManager(broker.id, p.id, broker.teamId, p.id));
        } else {
          throw new QiaoError('QIAO_FORBIDDEN', 'Broker–manager conversations are opened by a broker or its manager');
        }
      } else {
        if (p.role !== 'broker' && p.role !== 'manager') throw new QiaoError('QIAO_FORBIDDEN', 'Group conversations are for brokers and managers');
        if (!b.memberIds?.length || !b.title?.trim()) throw new QiaoError('QIAO_BAD_REQUEST', 'A group needs memberIds and a title');
        const [me] = await convs.usersByIds([p.id]);
        const teamId = me?.teamId ?? null;
        const managerId = await convs.teamManager(teamId);
        const members = await convs.usersByIds(b.memberIds);
        const sameTeam = (u: (typeof members)[number]) => u.active && ((u.role === 'broker' && u.teamId === teamId) || u.id === managerId);
        if (!teamId || members.length !== b.memberIds.length || !members.every(sameTeam) || b.memberIds.includes(p.id)) {
          throw new QiaoError('QIAO_CONVERSATION_INVALID', 'Group members must be other active brokers (or the manager) of your team');
        }
        ({ id } = await convs.createGroup(teamId, b.title.trim(), b.memberIds, p.id));
        created = true;
      }
      reply.code(created ? 201 : 200);
      return { conversation: await visible(p, id), created };
    },
  );

  app.get(
    '/api/conversations/:id',
    {
      schema: {
        tags: ['conversations'],
        summary: 'One conversation, with the read and delivered positions of its participants (for 已读)',
        security: bearerSecurity,
        params: IdParam,
        response: {
          200: { type: 'object', properties: { conversation: Conversation, reads: { type: 'array', items: ReadState } } },
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (req) => {
      const { id } = req.params;
      const conversation = await visible(req.principal, id);
      // Only participants' positions: a client does not learn when supervisors read.
      const participants = new Set(await convs.participants(id));
      const reads = (await convs.reads(id)).filter((r) => participants.has(r.userId));
      return { conversation, reads };
    },
  );

  app.get(
    '/api/conversations/:id/messages',
    {
      schema: {
        tags: ['conversations'],
        summary: 'Stored messages, newest page first (items oldest→newest); edits and recalls are messages referencing the original',
        security: bearerSecurity,
        params: IdParam,
        querystring: {
          type: 'object',
          properties: { before: { type: 'integer', minimum: 1 }, limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
          additionalProperties: false,
        },
        response: {
          200: PublicationPageSchema,
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (req) => {
      const { id } = req.params;
      const q = req.query;
      await visible(req.principal, id);
      const publications = await d.messages.page(convChannel(id), { before: q.before, limit: q.limit });
      const first = publications[0];
      return { publications, nextBefore: first && first.offset > 1 && publications.length === q.limit ? first.offset : null };
    },
  );

  app.post(
    '/api/conversations/:id/messages',
    {
      schema: {
        tags: ['conversations'],
        summary: 'Send a message: stored (and archived) before it is delivered to `conv.<id>`',
        description:
          '`chat` {text}; `chat.edit` {ref, text} within 15 minutes and `chat.recall` {ref} within 2 minutes, by the original sender only. ' +
          'The original stays in history and the archive. Send an `Idempotency-Key` header to make retries safe.',
        security: bearerSecurity,
        params: IdParam,
        headers: IdempotencyKeyHeaders,
        body: {
          type: 'object',
          properties: { kind: { type: 'string', enum: ['chat', 'chat.edit', 'chat.recall'], default: 'chat' }, payload: { type: 'object' } },
          required: ['payload'],
          additionalProperties: false,
        },
        response: {
          201: { type: 'object', properties: { channel: { type: 'string' }, id: { type: 'string' }, offset: { type: 'integer' }, duplicate: { type: 'boolean' }, dlp: {} } },
          200: { type: 'object', properties: { channel: { type: 'string' }, id: { type: 'string' }, offset: { type: 'integer' }, duplicate: { type: 'boolean' }, dlp: {} } },
          ...errors(400, 401, 403, 404, 409, 413, 503),
        },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const body = req.body;
      if (!(await convs.get(id))) throw new QiaoError('QIAO_CONVERSATION_NOT_FOUND');
      const key = req.headers['idempotency-key'];
      const out = await d.publisher.publish(req.principal, {
        channel: convChannel(id),
        kind: body.kind,
        payload: body.payload,
        idempotencyKey: typeof key === 'string' ? key : undefined,
      });
      reply.code(out.duplicate ? 200 : 201);
      return { channel: out.pub.channel, id: out.pub.id, offset: out.pub.offset, duplicate: out.duplicate, ...(out.dlp ? { dlp: out.dlp } : {}) };
    },
  );

  for (const kind of ['read', 'delivered'] as const) {
    app.post(
      `/api/conversations/:id/${kind}`,
      {
        schema: {
          tags: ['conversations'],
          summary:
            kind === 'read'
              ? 'Read receipt: everything up to `offset` was read (never moves back; the other side sees 已读; my unread count is pushed to my other connections)'
              : 'Delivered receipt: everything up to `offset` reached this user (sockets send `{op:"receipt"}` instead)',
          security: bearerSecurity,
          params: IdParam,
          body: OffsetBody,
          response: { 200: ReceiptResult, ...errors(400, 401, 403, 404) },
        },
      },
      async (req) => {
        const { id } = req.params;
        const { offset } = req.body;
        return d.live.receipt(req.principal, id, kind, offset);
      },
    );
  }

  app.get(
    '/api/workstation/clients',
    {
      schema: {
        tags: ['conversations'],
        summary: 'Broker workstation: my assigned and shared clients with unread count, last message, first-response wait, tier and risk level',
        security: bearerSecurity,
        response: {
          200: {
            type: 'object',
            properties: {
              now: { type: 'string', format: 'date-time' },
              clients: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    client: { type: 'object', properties: { ...Person.properties, tier: { type: ['string', 'null'] }, riskLevel: { type: ['string', 'null'] } } },
                    relation: { type: 'string', enum: ['primary', 'shared_read', 'shared_full'] },
                    conversationId: { type: ['string', 'null'] },
                    presence: { type: 'string', enum: ['online', 'away', 'offline'] },
                    unread: { type: 'integer' },
                    lastMessage: LastMessage,
                    waitingSince: { type: ['string', 'null'], format: 'date-time', description: "the client's oldest message not yet answered by the broker side" },
                    waitingMs: { type: ['integer', 'null'], description: 'first-response time so far, ms' },
                  },
                },
              },
            },
          },
          ...errors(401, 403),
        },
      },
    },
    async (req) => {
      if (req.principal.role !== 'broker') throw new QiaoError('QIAO_FORBIDDEN', 'The workstation is for brokers');
      const rows = await d.conversations.workstation(req.principal.id);
      const presence = await d.live.presenceOf(rows.map((r) => r.client.id));
      const now = Date.now();
      return {
        now: new Date(now).toISOString(),
        clients: rows.map((r) => ({
          ...r,
          presence: presence.get(r.client.id) ?? 'offline',
          waitingMs: r.waitingSince ? Math.max(0, now - Date.parse(r.waitingSince)) : null,
        })),
      };
    },
  );
}
