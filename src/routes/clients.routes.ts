/**
 * Client assignment: assign a primary broker, transfer to another broker, share (read-only or full)
 * and unshare. Admin anywhere; a manager for clients of a team it leads, naming brokers of its own
 * branch (src/domain/conversation-access.ts). Each change is one transaction with its audit event and
 * archive record; afterwards every node drops live subscriptions that lost access.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { UUID_RE } from '../../channels/family.ts';
import type { AppDeps } from '../deps.ts';
import type { AssignmentOp } from '../domain/conversation-access.ts';
import { QiaoError, isQiaoError } from '../errors/codes.ts';
import type { AssignmentChange } from '../store/assignments-repo.ts';
import { authenticate, bearerSecurity } from './auth-hook.ts';
import { errors } from './schemas.ts';
import { typed } from './type-provider.ts';

const Uuid = { type: 'string', pattern: `^${UUID_RE}$` } as const;
const ClientParam = { type: 'object', properties: { clientId: Uuid }, required: ['clientId'], additionalProperties: false } as const;

const Change = {
  type: 'object',
  properties: {
    op: { type: 'string' },
    clientId: { type: 'string' },
    brokerId: { type: 'string' },
    previousPrimary: { type: ['string', 'null'] },
    before: { type: ['string', 'null'] },
    after: { type: ['string', 'null'] },
  },
} as const;

const Brokers = {
  type: 'object',
  properties: {
    clientId: { type: 'string' },
    brokers: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          brokerId: { type: 'string' },
          displayName: { type: 'string' },
          relation: { type: 'string', enum: ['primary', 'shared_read', 'shared_full'] },
          teamId: { type: ['string', 'null'] },
          branchId: { type: ['string', 'null'] },
        },
      },
    },
  },
} as const;

export default async function clientRoutes(scope: FastifyInstance, d: AppDeps): Promise<void> {
  const app = typed(scope);
  app.addHook('preHandler', authenticate(d.tokens));

  async function change(req: FastifyRequest, op: AssignmentOp, clientId: string, brokerId: string, relation?: 'shared_read' | 'shared_full'): Promise<AssignmentChange> {
    let c: AssignmentChange;
    try {
      c = await d.assignments.change(op, req.principal, clientId, brokerId, relation);
    } catch (e) {
      if (isQiaoError(e) && e.status < 500) {
        await d.audit
          .append({ actorId: req.principal.id, action: `assignment.${op}`, target: clientId, outcome: 'refused', detail: { brokerId, code: e.code }, ip: req.ip })
          .catch(() => {});
      }
      throw e;
    }
    // Committed: now take live access away everywhere (before answering, so a caller that saw the
    // answer can rely on it).
    await d.live.afterAssignment(c).catch((err) => req.log.error({ err, clientId }, 'live access revocation failed'));
    return c;
  }

  app.get(
    '/api/clients/:clientId/brokers',
    {
      schema: {
        tags: ['assignment'],
        summary: 'A client’s brokers: the primary and those it is shared with',
        security: bearerSecurity,
        params: ClientParam,
        response: { 200: Brokers, ...errors(400, 401, 403) },
      },
    },
    async (req) => {
      const { clientId } = req.params;
      const p = req.principal;
      const brokers = await d.assignments.brokersOf(clientId);
      const primary = brokers.find((b) => b.relation === 'primary');
      const allowed =
        p.role === 'admin' ||
        p.role === 'compliance' ||
        p.id === clientId ||
        (p.role === 'broker' && brokers.some((b) => b.brokerId === p.id)) ||
        (p.role === 'manager' && primary?.teamId != null && (await d.assignments.actor(p)).ledTeamIds.includes(primary.teamId));
      if (!allowed) throw new QiaoError('QIAO_FORBIDDEN');
      return { clientId, brokers };
    },
  );

  app.post(
    '/api/clients/:clientId/assign',
    {
      schema: {
        tags: ['assignment'],
        summary: 'Give a client without a primary broker its primary broker',
        security: bearerSecurity,
        params: ClientParam,
        body: { type: 'object', properties: { brokerId: Uuid }, required: ['brokerId'], additionalProperties: false },
        response: { 200: Change, ...errors(400, 401, 403, 404, 422) },
      },
    },
    async (req) => {
      const { clientId } = req.params;
      return change(req, 'assign', clientId, req.body.brokerId);
    },
  );

  app.post(
    '/api/clients/:clientId/transfer',
    {
      schema: {
        tags: ['assignment'],
        summary: 'Transfer a client to another primary broker',
        description:
          'The previous broker loses access at once, including live sockets already subscribed (they get `unsubscribed` with QIAO_SUBSCRIBE_FORBIDDEN). ' +
          'History is kept: the client’s conversation continues with the new broker. An audit event and an archive record are written in the same transaction.',
        security: bearerSecurity,
        params: ClientParam,
        body: { type: 'object', properties: { toBrokerId: Uuid }, required: ['toBrokerId'], additionalProperties: false },
        response: { 200: Change, ...errors(400, 401, 403, 404, 422) },
      },
    },
    async (req) => {
      const { clientId } = req.params;
      return change(req, 'transfer', clientId, req.body.toBrokerId);
    },
  );

  app.post(
    '/api/clients/:clientId/shares',
    {
      schema: {
        tags: ['assignment'],
        summary: 'Share a client with another broker: shared_read (reads conversations) or shared_full (also writes)',
        security: bearerSecurity,
        params: ClientParam,
        body: {
          type: 'object',
          properties: { brokerId: Uuid, relation: { type: 'string', enum: ['shared_read', 'shared_full'], default: 'shared_read' } },
          required: ['brokerId'],
          additionalProperties: false,
        },
        response: { 200: Change, ...errors(400, 401, 403, 404, 422) },
      },
    },
    async (req) => {
      const { clientId } = req.params;
      const b = req.body;
      return change(req, 'share', clientId, b.brokerId, b.relation);
    },
  );

  app.delete(
    '/api/clients/:clientId/shares/:brokerId',
    {
      schema: {
        tags: ['assignment'],
        summary: 'Stop sharing a client with a broker (its live subscriptions end at once)',
        security: bearerSecurity,
        params: { type: 'object', properties: { clientId: Uuid, brokerId: Uuid }, required: ['clientId', 'brokerId'], additionalProperties: false },
        response: { 200: Change, ...errors(400, 401, 403, 404, 422) },
      },
    },
    async (req) => {
      const { clientId, brokerId } = req.params;
      return change(req, 'unshare', clientId, brokerId);
    },
  );
}
