/** Recommendations through the suitability gate (src/advisory/recommendations.ts). */
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../deps.ts';
import { QiaoError, type ErrorCode } from '../errors/codes.ts';
import type { RecommendationBatch } from '../advisory/recommendations.ts';
import { authenticate, bearerSecurity } from './auth-hook.ts';
import { errorWith, errors, IdempotencyKeyHeaders } from './schemas.ts';
import { typed } from './type-provider.ts';

const UUID = { type: 'string', format: 'uuid' } as const;

/** 409: the Idempotency-Key was already used for a different request. */
const IdempotencyMismatch = errorWith('QIAO_IDEMPOTENCY_MISMATCH: this Idempotency-Key was already used with a different body; nothing was changed');

const ClientResultSchema = {
  type: 'object',
  properties: {
    clientId: { type: 'string' },
    recommendationId: { type: 'string' },
    outcome: { type: 'string', enum: ['delivered', 'refused', 'pending_approval', 'rejected', 'failed'] },
    code: { type: 'string', description: 'refusal code (QIAO_SUITABILITY_MISMATCH, QIAO_RISK_ASSESSMENT_MISSING, QIAO_RISK_ASSESSMENT_EXPIRED), QIAO_FORBIDDEN, or QIAO_UNAVAILABLE (failed: retry with the same Idempotency-Key)' },
    basis: { type: 'string', enum: ['level', 'professional'] },
    clientRisk: { type: ['string', 'null'] },
    clientRiskAssessedOn: { type: ['string', 'null'] },
    professionalInvestor: { type: 'boolean' },
    productRisk: { type: 'string' },
    messageId: { type: 'string' },
  },
  required: ['clientId', 'recommendationId', 'outcome', 'productRisk'],
} as const;

export const BatchSchema = {
  type: 'object',
  properties: {
    batchId: { type: 'string' },
    approvalId: { type: ['string', 'null'] },
    duplicate: { type: 'boolean' },
    results: { type: 'array', items: ClientResultSchema },
    counts: {
      type: 'object',
      properties: {
        delivered: { type: 'integer' },
        refused: { type: 'integer' },
        pending_approval: { type: 'integer' },
        rejected: { type: 'integer' },
        failed: { type: 'integer' },
      },
    },
  },
} as const;

const RecommendationSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    batchId: { type: 'string' },
    brokerId: { type: 'string' },
    clientId: { type: 'string' },
    clientName: { type: 'string' },
    security: { type: 'string' },
    productName: { type: ['string', 'null'] },
    productRisk: { type: 'string' },
    rationale: { type: 'string' },
    status: { type: 'string' },
    refusalCode: { type: ['string', 'null'] },
    basis: { type: ['string', 'null'] },
    clientRiskLevel: { type: ['string', 'null'] },
    professionalInvestor: { type: 'boolean' },
    approvalId: { type: ['string', 'null'] },
    decidedBy: { type: ['string', 'null'] },
    decidedAt: { type: ['string', 'null'] },
    createdAt: { type: 'string' },
  },
} as const;

/** A batch's HTTP status (a single refused client is answered 422 before this): waiting for approval → 202, else 200. */
export function batchStatus(b: RecommendationBatch): 200 | 202 {
  return b.approvalId && b.counts.pending_approval > 0 ? 202 : 200;
}

export default async function recommendationRoutes(scope: FastifyInstance, d: AppDeps): Promise<void> {
  const app = typed(scope);
  app.addHook('preHandler', authenticate(d.tokens));
  const svc = d.advisory.recommendations;

  app.get(
    '/api/recommendations/clients',
    {
      schema: {
        tags: ['recommendations'],
        summary: 'Clients I may recommend to (broker; primary or shared_full relation), with their risk level',
        security: bearerSecurity,
        response: {
          200: {
            type: 'object',
            properties: {
              clients: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    id: { type: 'string' },
                    displayName: { type: 'string' },
                    tier: { type: ['string', 'null'] },
                    riskLevel: { type: ['string', 'null'] },
                    riskAssessedOn: { type: ['string', 'null'] },
                    professionalInvestor: { type: 'boolean' },
                    relation: { type: 'string' },
                  },
                },
              },
            },
          },
          ...errors(401, 403),
        },
      },
    },
    async (req) => ({ clients: await svc.clientsOf(req.principal) }),
  );

  app.post(
    '/api/recommendations',
    {
      schema: {
        tags: ['recommendations'],
        summary: 'Recommend a security or product to one or more of my clients, through the suitability gate',
        description: [
          'Brokers only, to their own clients (primary or shared_full); any other client refuses the whole request with QIAO_FORBIDDEN.',
          'Per client the suitability gate (证券期货投资者适当性管理办法) decides: product risk ≤ client risk (C1→R1 … C5→R1–R5) for ordinary investors; professional investors pass. A missing or expired assessment refuses.',
          'Refusals are recorded (client, levels, sender, time) and nothing is delivered to that client.',
          'Answers: one client refused → 422 with its code (QIAO_SUITABILITY_MISMATCH, QIAO_RISK_ASSESSMENT_MISSING, QIAO_RISK_ASSESSMENT_EXPIRED) and the outcome in `error.details`;',
          'otherwise 200 with per-client outcomes (a batch with refusals is still 200: read `results`, 207-style);',
          '202 when the batch would reach more than 25 ordinary clients with this security within 30 days: it waits for compliance approval (`approvalId`).',
          'Send an `Idempotency-Key` header to make retries safe: the same key with the same body returns the same batch and finishes any delivery that failed;',
          'the same key with a different body (clients, security, product, rationale, research note) is refused with 409 QIAO_IDEMPOTENCY_MISMATCH and changes nothing.',
        ].join(' '),
        security: bearerSecurity,
        headers: IdempotencyKeyHeaders,
        body: {
          type: 'object',
          properties: {
            clientIds: { type: 'array', items: UUID, minItems: 1, maxItems: 200, uniqueItems: true },
            security: { type: 'string', minLength: 1, maxLength: 32, description: 'A-share code (600519.SH), fund code (510300.OF) or product code (QZ-WM-2026-001)' },
            productName: { type: 'string', minLength: 1, maxLength: 200 },
            productRisk: { type: 'string', enum: ['R1', 'R2', 'R3', 'R4', 'R5'] },
            rationale: { type: 'string', minLength: 1, maxLength: 4000 },
            researchMessageId: { ...UUID, description: 'the research note (publication id) the recommendation rests on' },
          },
          required: ['clientIds', 'security', 'productRisk', 'rationale'],
          additionalProperties: false,
        },
        response: { 200: BatchSchema, 202: BatchSchema, ...errors(400, 401, 403, 413, 422, 503), 409: IdempotencyMismatch },
      },
    },
    async (req, reply) => {
      const body = req.body;
      const key = req.headers['idempotency-key'];
      const batch = await svc.recommend(req.principal, { ...body, requestKey: typeof key === 'string' ? key : undefined });
      if (body.clientIds.length === 1) {
        const only = batch.results[0];
        if (only?.outcome === 'refused') throw new QiaoError(only.code as ErrorCode, undefined, { batchId: batch.batchId, ...only });
        if (only?.outcome === 'failed') {
          const code = (only.code ?? 'QIAO_UNAVAILABLE') as ErrorCode;
          throw new QiaoError(code, code === 'QIAO_UNAVAILABLE' ? 'Recorded but not delivered; retry with the same Idempotency-Key' : undefined, { batchId: batch.batchId, ...only });
        }
      }
      reply.code(batchStatus(batch));
      return batch;
    },
  );

  app.get(
    '/api/recommendations',
    {
      schema: {
        tags: ['recommendations'],
        summary: 'Recommendations, newest first: a broker sees its own; compliance and admin see all',
        security: bearerSecurity,
        querystring: {
          type: 'object',
          properties: {
            status: { type: 'string', enum: ['sending', 'delivered', 'refused', 'pending_approval', 'rejected'] },
            clientId: UUID,
            limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
          },
          additionalProperties: false,
        },
        response: { 200: { type: 'object', properties: { recommendations: { type: 'array', items: RecommendationSchema } } }, ...errors(400, 401, 403) },
      },
    },
    async (req) => ({ recommendations: await svc.list(req.principal, req.query) }),
  );
}
