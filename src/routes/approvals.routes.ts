/** Compliance approvals of recommendation batches and firm-wide broadcasts (src/advisory/approvals.ts). */
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../deps.ts';
import { authenticate, bearerSecurity } from './auth-hook.ts';
import { BatchSchema } from './recommendations.routes.ts';
import { emptyBodyIsObject } from './tasks.routes.ts';
import { errors } from './schemas.ts';
import { typed } from './type-provider.ts';

const ApprovalSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    kind: { type: 'string', enum: ['recommendation', 'broadcast'] },
    status: { type: 'string', enum: ['pending', 'approved', 'rejected'] },
    requestedBy: { type: 'object', properties: { id: { type: 'string' }, displayName: { type: 'string' } } },
    payload: {},
    decidedBy: { type: ['string', 'null'] },
    decidedByName: { type: ['string', 'null'], description: "the decider's display name" },
    decidedAt: { type: ['string', 'null'] },
    note: { type: ['string', 'null'] },
    messageId: { type: ['string', 'null'] },
    createdAt: { type: 'string' },
  },
} as const;

const DecisionSchema = {
  type: 'object',
  properties: {
    approval: ApprovalSchema,
    publication: { type: 'object', properties: { channel: { type: 'string' }, id: { type: 'string' }, offset: { type: 'integer' } } },
    batch: BatchSchema,
  },
} as const;

const IdParam = { type: 'object', properties: { id: { type: 'string', format: 'uuid' } }, required: ['id'] } as const;
const NoteBody = {
  type: 'object',
  properties: { note: { type: 'string', minLength: 1, maxLength: 2000 } },
  additionalProperties: false,
} as const;

export default async function approvalRoutes(scope: FastifyInstance, d: AppDeps): Promise<void> {
  const app = typed(scope);
  app.addHook('preHandler', authenticate(d.tokens));
  const svc = d.advisory.approvals;

  app.get(
    '/api/approvals',
    {
      schema: {
        tags: ['approvals'],
        summary: 'Approvals, newest first (compliance and admin: all; others: their own requests)',
        security: bearerSecurity,
        querystring: {
          type: 'object',
          properties: {
            status: { type: 'string', enum: ['pending', 'approved', 'rejected'] },
            kind: { type: 'string', enum: ['recommendation', 'broadcast'] },
            limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
          },
          additionalProperties: false,
        },
        response: { 200: { type: 'object', properties: { approvals: { type: 'array', items: ApprovalSchema } } }, ...errors(400, 401, 403) },
      },
    },
    async (req) => ({ approvals: await svc.list(req.principal, req.query) }),
  );

  app.get(
    '/api/approvals/:id',
    { schema: { tags: ['approvals'], summary: 'One approval', security: bearerSecurity, params: IdParam, response: { 200: ApprovalSchema, ...errors(400, 401, 403, 404) } } },
    async (req) => svc.get(req.principal, req.params.id),
  );

  app.post(
    '/api/approvals/:id/approve',
    {
      preValidation: emptyBodyIsObject,
      schema: {
        tags: ['approvals'],
        summary: 'Approve (compliance only): a broadcast is delivered; a recommendation batch is re-checked for suitability and delivered',
        description: 'Approver, time and note are kept. A decided approval answers QIAO_APPROVAL_NOT_PENDING (an approved batch whose delivery was interrupted is resumed instead).',
        security: bearerSecurity,
        params: IdParam,
        body: NoteBody,
        response: { 200: DecisionSchema, ...errors(400, 401, 403, 404, 409, 503) },
      },
    },
    async (req) => svc.approve(req.principal, req.params.id, req.body?.note),
  );

  app.post(
    '/api/approvals/:id/reject',
    {
      preValidation: emptyBodyIsObject,
      schema: {
        tags: ['approvals'],
        summary: 'Reject (compliance only): nothing is delivered; rejecter, time and note are kept',
        security: bearerSecurity,
        params: IdParam,
        body: NoteBody,
        response: { 200: DecisionSchema, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req) => svc.reject(req.principal, req.params.id, req.body?.note),
  );
}
