/**
 * Satisfaction surveys (满意度调查): a broker marks a conversation resolved (the client gets a
 * survey), the client answers once, and lists its surveys. src/service/surveys.ts.
 */
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../deps.ts';
import { authenticate, bearerSecurity } from './auth-hook.ts';
import { errors } from './schemas.ts';
import { emptyBodyIsObject } from './tasks.routes.ts';
import { typed } from './type-provider.ts';

const UUID = { type: 'string', format: 'uuid' } as const;
const IdParam = { type: 'object', properties: { id: UUID }, required: ['id'], additionalProperties: false } as const;

const Survey = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    conversationId: { type: 'string' },
    brokerId: { type: 'string' },
    brokerName: { type: 'string' },
    trigger: { type: 'string', enum: ['quiet', 'resolved'] },
    sentAt: { type: 'string', format: 'date-time' },
    score: { type: ['integer', 'null'] },
    comment: { type: ['string', 'null'] },
    answeredAt: { type: ['string', 'null'], format: 'date-time' },
  },
} as const;

export default async function surveyRoutes(scope: FastifyInstance, d: AppDeps): Promise<void> {
  const app = typed(scope);
  app.addHook('preHandler', authenticate(d.tokens));
  app.addHook('preValidation', emptyBodyIsObject);
  const svc = d.surveys!;

  app.post(
    '/api/conversations/:id/resolve',
    {
      schema: {
        tags: ['surveys'],
        summary: 'Mark a broker–client conversation resolved (a broker with write access); the client gets a satisfaction survey',
        description: 'At most one survey per conversation in 7 days and per conversation offset: `surveyId` is null when none was sent this time.',
        security: bearerSecurity,
        params: IdParam,
        body: { type: 'object', additionalProperties: false },
        response: {
          200: { type: 'object', properties: { conversationId: { type: 'string' }, resolvedAt: { type: 'string', format: 'date-time' }, surveyId: { type: ['string', 'null'] } } },
          ...errors(400, 401, 403, 404, 422, 503),
        },
      },
    },
    async (req) => svc.resolve(req.principal, req.params.id),
  );

  app.get(
    '/api/surveys/mine',
    {
      schema: {
        tags: ['surveys'],
        summary: 'My satisfaction surveys, newest first: pending (answeredAt null) and answered (clients)',
        security: bearerSecurity,
        response: { 200: { type: 'object', properties: { surveys: { type: 'array', items: Survey } } }, ...errors(401, 403) },
      },
    },
    async (req) => ({ surveys: await svc.mine(req.principal) }),
  );

  app.post(
    '/api/surveys/:id/answer',
    {
      schema: {
        tags: ['surveys'],
        summary: 'Answer a survey once: score 1–5 and an optional comment (the client it was sent to)',
        description: 'Someone else: QIAO_SURVEY_FORBIDDEN; unknown: QIAO_SURVEY_NOT_FOUND; a second answer: QIAO_SURVEY_ANSWERED.',
        security: bearerSecurity,
        params: IdParam,
        body: {
          type: 'object',
          properties: { score: { type: 'integer', minimum: 1, maximum: 5 }, comment: { type: 'string', maxLength: 500, default: '' } },
          required: ['score'],
          additionalProperties: false,
        },
        response: { 200: { type: 'object', properties: { survey: Survey } }, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req) => {
      const b = req.body;
      return { survey: await svc.answer(req.principal, req.params.id, b.score, b.comment) };
    },
  );
}
