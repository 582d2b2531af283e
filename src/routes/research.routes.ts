/**
 * The research desk: its notes with delivery counts, and who a research channel reaches.
 * - GET /api/research/notes: research users see their own notes; admin and compliance see every
 *   author's of their firm, or one author's (`author`). Anyone else: QIAO_FORBIDDEN.
 * - GET /api/research/audience: the client tiers entitled to a research channel (from its family's
 *   declaration, channels/research.ts) and how many users are subscribed now / would receive a note
 *   (active subscribers that fanout's entitlement re-check lets through).
 */
import type { FastifyInstance } from 'fastify';
import { resolveChannel } from '../../channels/catalogue.ts';
import { STAFF_ROLES, UUID_RE } from '../../channels/family.ts';
import { tierEntitled } from '../../channels/research.ts';
import type { Principal, Tier } from '../auth/principal.ts';
import type { AppDeps } from '../deps.ts';
import { QiaoError } from '../errors/codes.ts';
import { ResearchRepo } from '../store/research-repo.ts';
import { authenticate, bearerSecurity } from './auth-hook.ts';
import { ChannelNameSchema } from './channel-name.ts';
import { errors } from './schemas.ts';
import { typed } from './type-provider.ts';

const TIERS: readonly Tier[] = ['general', 'hnw', 'institutional'];
const RISK = ['R1', 'R2', 'R3', 'R4', 'R5'] as const;

const Note = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    channel: { type: 'string' },
    authorId: { type: 'string' },
    authorName: { type: ['string', 'null'] },
    title: { type: 'string' },
    summary: { type: 'string' },
    tickers: { type: 'array', items: { type: 'string' } },
    productRisk: { type: ['string', 'null'], enum: [...RISK, null], description: 'the note payload\'s riskLevel (product risk R1–R5)' },
    category: { type: ['string', 'null'] },
    publishedAt: { type: 'string', format: 'date-time' },
    recipients: { type: 'integer', description: 'recipients fanout routed the note to (one inbox delivery row each)' },
    read: { type: 'integer', description: 'of those, how many have read (or archived) it' },
  },
  required: ['id', 'channel', 'authorId', 'authorName', 'title', 'summary', 'tickers', 'productRisk', 'category', 'publishedAt', 'recipients', 'read'],
} as const;

const Audience = {
  type: 'object',
  properties: {
    channel: { type: 'string' },
    title: { type: 'object', properties: { zh: { type: 'string' }, en: { type: 'string' } }, required: ['zh', 'en'] },
    entitledTiers: { type: 'array', items: { type: 'string', enum: TIERS as unknown as string[] } },
    subscribers: { type: 'integer', description: 'active users subscribed to the channel now' },
    wouldReceive: { type: 'integer', description: 'of those, the ones a note published now would be delivered to (staff, and clients of an entitled tier)' },
    breakdown: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          role: { type: 'string' },
          tier: { type: ['string', 'null'] },
          subscribers: { type: 'integer' },
          entitled: { type: 'boolean' },
        },
        required: ['role', 'tier', 'subscribers', 'entitled'],
      },
    },
  },
  required: ['channel', 'title', 'entitledTiers', 'subscribers', 'wouldReceive', 'breakdown'],
} as const;

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Whose notes `p` may list: its own (research), anyone's of its firm or one author's (admin, compliance). */
function authorScope(p: Principal, author: string | undefined): { authorId?: string; firmId?: string } {
  if (p.role === 'research') {
    if (author !== undefined && author !== p.id) throw new QiaoError('QIAO_FORBIDDEN', 'The research desk sees its own notes only');
    return { authorId: p.id };
  }
  if (p.role === 'admin' || p.role === 'compliance') return { authorId: author, firmId: p.firmId };
  throw new QiaoError('QIAO_FORBIDDEN', 'Only the research desk, compliance and admin see research notes with delivery counts');
}

export default async function researchRoutes(scope: FastifyInstance, d: AppDeps): Promise<void> {
  const app = typed(scope);
  app.addHook('preHandler', authenticate(d.tokens));
  const repo = new ResearchRepo(d.db.db);

  app.get(
    '/api/research/notes',
    {
      schema: {
        tags: ['research'],
        summary: 'Research notes published (own, or any author for admin/compliance), newest first, with recipients and read counts',
        security: bearerSecurity,
        querystring: {
          type: 'object',
          properties: {
            author: { type: 'string', pattern: `^${UUID_RE}$`, description: 'admin/compliance: one author (user id)' },
            limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
            before: { type: 'string', format: 'date-time', description: 'publishedAt of the last note of the previous page (nextBefore)' },
          },
          additionalProperties: false,
        },
        response: {
          200: { type: 'object', properties: { notes: { type: 'array', items: Note }, nextBefore: { type: ['string', 'null'] } }, required: ['notes', 'nextBefore'] },
          ...errors(400, 401, 403),
        },
      },
    },
    async (req) => {
      const q = req.query;
      const scope = authorScope(req.principal, q.author);
      const rows = await repo.notes({ ...scope, limit: q.limit, before: q.before ? new Date(q.before) : undefined });
      const notes = rows.map((r) => {
        const p = (r.payload ?? {}) as Record<string, unknown>;
        const risk = str(p.riskLevel);
        return {
          id: r.id,
          channel: r.channel,
          authorId: r.authorId,
          authorName: r.authorName,
          title: str(p.title),
          summary: str(p.summary),
          tickers: Array.isArray(p.tickers) ? p.tickers.filter((t): t is string => typeof t === 'string') : [],
          productRisk: (RISK as readonly string[]).includes(risk) ? risk : null,
          category: typeof p.category === 'string' ? p.category : null,
          publishedAt: r.publishedAt.toISOString(),
          recipients: r.recipients,
          read: r.read,
        };
      });
      return { notes, nextBefore: notes.length === q.limit ? notes[notes.length - 1].publishedAt : null };
    },
  );

  app.get(
    '/api/research/audience',
    {
      schema: {
        tags: ['research'],
        summary: 'Who a research channel reaches: entitled client tiers, subscribers now, and how many a note would be delivered to',
        security: bearerSecurity,
        querystring: { type: 'object', properties: { channel: ChannelNameSchema }, required: ['channel'], additionalProperties: false },
        response: { 200: Audience, ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const p = req.principal;
      if (p.role !== 'research' && p.role !== 'admin' && p.role !== 'compliance') {
        throw new QiaoError('QIAO_FORBIDDEN', 'Only the research desk, compliance and admin see channel audiences');
      }
      const { channel } = req.query;
      const r = resolveChannel(channel);
      if (r.family.family !== 'research') throw new QiaoError('QIAO_CHANNEL_BAD_NAME', `"${channel}" is not a research channel`);
      const entitledTiers = TIERS.filter((t) => tierEntitled(t, r.parsed));
      // The same re-check fanout applies (workers/fanout.worker.ts entitled()).
      const breakdown = (await repo.audience(r.parsed.name)).map((row) => ({
        ...row,
        entitled: STAFF_ROLES.has(row.role) || (row.role === 'client' && tierEntitled(row.tier ?? 'general', r.parsed)),
      }));
      return {
        channel: r.parsed.name,
        title: r.family.title(r.parsed),
        entitledTiers,
        subscribers: breakdown.reduce((n, b) => n + b.subscribers, 0),
        wouldReceive: breakdown.reduce((n, b) => n + (b.entitled ? b.subscribers : 0), 0),
        breakdown,
      };
    },
  );
}
