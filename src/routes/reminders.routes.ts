/** Work reminders (工作提醒): a staff member's own reminders (src/service/reminders.ts). */
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../deps.ts';
import type { ReminderFilter } from '../service/reminders.ts';
import { MAX_REMINDER_DAYS } from '../service/reminders.ts';
import { authenticate, bearerSecurity } from './auth-hook.ts';
import { errorWith, errors, IdempotencyKeyHeaders } from './schemas.ts';
import { emptyBodyIsObject } from './tasks.routes.ts';
import { typed } from './type-provider.ts';

const UUID = { type: 'string', format: 'uuid' } as const;
const NULLABLE_TIME = { type: ['string', 'null'] } as const;

const KIND = { type: 'string', enum: ['manual', 'risk_expiry', 'risk_expiry_today', 'client_waiting', 'task_due', 'followup_due', 'followup_overdue', 'complaint_overdue'] } as const;
const STATE = { type: 'string', enum: ['pending', 'fired', 'done', 'dismissed'] } as const;

const ReminderSchema = {
  type: 'object',
  required: ['id', 'kind', 'title', 'note', 'dueAt', 'state', 'snoozeCount', 'createdAt', 'updatedAt'],
  properties: {
    id: { type: 'string' },
    kind: KIND,
    title: { type: 'string' },
    note: { type: 'string' },
    dueAt: { type: 'string' },
    state: STATE,
    snoozeCount: { type: 'integer' },
    firedAt: NULLABLE_TIME,
    doneAt: NULLABLE_TIME,
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
    client: { type: ['object', 'null'], properties: { id: { type: 'string' }, displayName: { type: 'string' } } },
    conversationId: { type: ['string', 'null'] },
    task: { type: ['object', 'null'], properties: { id: { type: 'string' }, title: { type: 'string' } } },
    followupId: { type: ['string', 'null'] },
    complaintId: { type: ['string', 'null'] },
    messageId: { type: ['string', 'null'], description: 'The inbox message of its last firing' },
    expiresOn: { type: ['string', 'null'], description: 'risk_expiry, risk_expiry_today: the day the client\'s risk assessment stops being valid (YYYY-MM-DD)' },
  },
} as const;

const CountsSchema = {
  type: 'object',
  required: ['pending', 'fired'],
  properties: { pending: { type: 'integer' }, fired: { type: 'integer', description: 'Fired and not done or dismissed (the navigation badge)' } },
} as const;

const ChangeSchema = { type: 'object', required: ['changed', 'reminder'], properties: { changed: { type: 'boolean' }, reminder: ReminderSchema } } as const;
const IdParam = { type: 'object', properties: { id: UUID }, required: ['id'] } as const;

const NotFound = errorWith('QIAO_REMINDER_NOT_FOUND: no such reminder of yours (someone else\'s answers the same)');
const Closed = errorWith('QIAO_REMINDER_CLOSED: the reminder is already done or dismissed');

export default async function reminderRoutes(scope: FastifyInstance, d: AppDeps): Promise<void> {
  const app = typed(scope);
  app.addHook('preHandler', authenticate(d.tokens));
  const svc = () => d.reminders!;

  app.post(
    '/api/reminders',
    {
      schema: {
        tags: ['reminders'],
        summary: 'Set a work reminder (工作提醒) for myself, optionally about one of my clients or a conversation I take part in',
        description:
          'Staff only. `dueAt` must be in the future and at most 366 days ahead (QIAO_REMINDER_IN_PAST). `clientId` must be a client you serve ' +
          '(a broker: any assignment; a manager: a client of a broker of your team) and `conversationId` a conversation you may write in; both ' +
          'given, the conversation must be with that client (QIAO_REMINDER_TARGET_INVALID). When due, the reminder sweep publishes it to ' +
          '`inbox.<you>` (kind `reminder`) once, and delivers it by email/push per your preferences. Send an `Idempotency-Key`: the same key ' +
          'with the same body returns the first reminder (200); with a different body 409 QIAO_IDEMPOTENCY_MISMATCH.',
        security: bearerSecurity,
        headers: IdempotencyKeyHeaders,
        body: {
          type: 'object',
          properties: {
            title: { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S' },
            note: { type: 'string', maxLength: 2000 },
            dueAt: { type: 'string', format: 'date-time', description: `ISO 8601 with offset, in the future (at most ${MAX_REMINDER_DAYS} days ahead)` },
            clientId: UUID,
            conversationId: UUID,
          },
          required: ['title', 'dueAt'],
          additionalProperties: false,
        },
        response: {
          201: { type: 'object', properties: { reminder: ReminderSchema, duplicate: { type: 'boolean' } } },
          200: { type: 'object', properties: { reminder: ReminderSchema, duplicate: { type: 'boolean' } } },
          ...errors(400, 401, 403, 413, 422, 503),
          409: errorWith('QIAO_IDEMPOTENCY_MISMATCH: this Idempotency-Key was already used with a different body; nothing was changed'),
        },
      },
    },
    async (req, reply) => {
      const key = req.headers['idempotency-key'];
      const body = req.body;
      const out = await svc().create(req.principal, { ...body, idempotencyKey: typeof key === 'string' ? key : undefined });
      reply.code(out.duplicate ? 200 : 201);
      return out;
    },
  );

  app.get(
    '/api/reminders',
    {
      schema: {
        tags: ['reminders'],
        summary: 'My work reminders: open (pending and fired, soonest first), done (done and dismissed, latest first) or all; with the counts of open ones',
        security: bearerSecurity,
        querystring: { type: 'object', properties: { state: { type: 'string', enum: ['open', 'done', 'all'], default: 'open' } }, additionalProperties: false },
        response: {
          200: { type: 'object', required: ['reminders', 'counts'], properties: { reminders: { type: 'array', items: ReminderSchema }, counts: CountsSchema } },
          ...errors(400, 401, 403),
        },
      },
    },
    async (req) => svc().list(req.principal, req.query.state),
  );

  app.post(
    '/api/reminders/:id/snooze',
    {
      preValidation: emptyBodyIsObject,
      schema: {
        tags: ['reminders'],
        summary: 'Snooze a pending or fired reminder: until a time, or for some minutes; it fires again then',
        security: bearerSecurity,
        params: IdParam,
        body: {
          type: 'object',
          properties: {
            until: { type: 'string', format: 'date-time', description: 'ISO 8601 with offset, in the future (at most 366 days ahead)' },
            minutes: { type: 'integer', minimum: 1, maximum: MAX_REMINDER_DAYS * 24 * 60 },
          },
          oneOf: [{ required: ['until'] }, { required: ['minutes'] }],
          additionalProperties: false,
        },
        response: { 200: ChangeSchema, ...errors(400, 401, 403, 503), 404: NotFound, 409: Closed },
      },
    },
    async (req) => svc().snooze(req.principal, req.params.id, req.body),
  );

  for (const action of ['done', 'dismiss'] as const) {
    app.post(
      `/api/reminders/:id/${action}`,
      {
        preValidation: emptyBodyIsObject,
        schema: {
          tags: ['reminders'],
          summary:
            action === 'done'
              ? 'Mark a reminder done (repeating it on a done reminder answers 200, changed: false)'
              : 'Dismiss a reminder (repeating it on a dismissed reminder answers 200, changed: false)',
          security: bearerSecurity,
          params: IdParam,
          body: { type: 'object', additionalProperties: false },
          response: { 200: ChangeSchema, ...errors(400, 401, 403, 503), 404: NotFound, 409: Closed },
        },
      },
      async (req) => {
        const id = req.params.id;
        return action === 'done' ? svc().done(req.principal, id) : svc().dismiss(req.principal, id);
      },
    );
  }
}
