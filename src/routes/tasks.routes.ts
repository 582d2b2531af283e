/** Team tasks: create, follow progress, and the recipients' state changes (src/advisory/tasks.ts). */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TaskAction } from '../advisory/tasks.ts';
import type { AppDeps } from '../deps.ts';
import { authenticate, bearerSecurity } from './auth-hook.ts';
import { errorWith, errors, IdempotencyKeyHeaders } from './schemas.ts';
import { typed } from './type-provider.ts';

const UUID = { type: 'string', format: 'uuid' } as const;

/** 409: the Idempotency-Key was already used for a different request. */
const IdempotencyMismatch = errorWith('QIAO_IDEMPOTENCY_MISMATCH: this Idempotency-Key was already used with a different body; nothing was changed');

const STATE = { type: 'string', enum: ['delivered', 'read', 'accepted', 'done'] } as const;

const TaskSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    managerId: { type: 'string' },
    managerName: { type: 'string' },
    title: { type: 'string' },
    detail: { type: 'string' },
    dueAt: { type: 'string' },
    createdAt: { type: 'string' },
  },
} as const;

const AssignmentSchema = {
  type: 'object',
  properties: {
    taskId: { type: 'string' },
    brokerId: { type: 'string' },
    brokerName: { type: 'string' },
    state: STATE,
    overdue: { type: 'boolean' },
    note: { type: ['string', 'null'] },
    deliveredAt: { type: 'string' },
    readAt: { type: ['string', 'null'] },
    acceptedAt: { type: ['string', 'null'] },
    doneAt: { type: ['string', 'null'] },
    updatedAt: { type: 'string' },
  },
} as const;

const CountsSchema = {
  type: 'object',
  properties: Object.fromEntries(['delivered', 'read', 'accepted', 'done', 'overdue', 'total'].map((k) => [k, { type: 'integer' }])),
} as const;

const IdParam = { type: 'object', properties: { id: UUID }, required: ['id'] } as const;

/** A POST without a body (`curl -X POST …/read`) means `{}`. */
export async function emptyBodyIsObject(req: FastifyRequest): Promise<void> {
  if (req.body === undefined || req.body === null) req.body = {};
}

/** A transition's body: `done` needs a note, the others may carry none. */
const NoteRequiredBody = { type: 'object', properties: { note: { type: 'string', minLength: 1, maxLength: 2000 } }, required: ['note'], additionalProperties: false } as const;
const NoteOptionalBody = { type: 'object', properties: {}, additionalProperties: false } as const;

export default async function taskRoutes(scope: FastifyInstance, d: AppDeps): Promise<void> {
  const app = typed(scope);
  app.addHook('preHandler', authenticate(d.tokens));
  const svc = d.advisory.tasks;

  app.get(
    '/api/tasks/recipients',
    {
      schema: {
        tags: ['tasks'],
        summary: 'Teams and brokers I may send tasks to (manager: own teams and branch; admin: all)',
        security: bearerSecurity,
        response: {
          200: {
            type: 'object',
            properties: {
              teams: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, code: { type: 'string' }, name: { type: 'string' } } } },
              brokers: {
                type: 'array',
                items: { type: 'object', properties: { id: { type: 'string' }, displayName: { type: 'string' }, teamId: { type: ['string', 'null'] } } },
              },
            },
          },
          ...errors(401, 403),
        },
      },
    },
    async (req) => svc.recipients(req.principal),
  );

  app.post(
    '/api/tasks',
    {
      schema: {
        tags: ['tasks'],
        summary: 'Send a task to teams and/or named brokers (manager: own teams and branch; admin: any)',
        description:
          'One assignment per broker (a broker in a named team and named again gets one). Each broker gets an inbox notice (`inbox.<brokerId>`, kind `task`) ' +
          'and a `task.assigned` event on its task feed (`tasks.<brokerId>`); the manager\'s feed (`tasks.<managerId>`) gets `task.created` and then every state change. ' +
          'Send an `Idempotency-Key` header: a retried create with the same body returns the same task (200) and sends only missing notifications; ' +
          'the same key with a different body (title, detail, due time, teams, brokers) is refused with 409 QIAO_IDEMPOTENCY_MISMATCH and creates nothing.',
        security: bearerSecurity,
        headers: IdempotencyKeyHeaders,
        body: {
          type: 'object',
          properties: {
            title: { type: 'string', minLength: 1, maxLength: 200 },
            detail: { type: 'string', maxLength: 4000, default: '' },
            dueAt: { type: 'string', format: 'date-time', description: 'ISO 8601 with offset, in the future (at most 366 days ahead)' },
            teamIds: { type: 'array', items: UUID, minItems: 1, maxItems: 20, uniqueItems: true },
            brokerIds: { type: 'array', items: UUID, minItems: 1, maxItems: 200, uniqueItems: true },
          },
          required: ['title', 'dueAt'],
          anyOf: [{ required: ['teamIds'] }, { required: ['brokerIds'] }],
          additionalProperties: false,
        },
        response: {
          201: { type: 'object', properties: { task: TaskSchema, assignments: { type: 'array', items: AssignmentSchema }, duplicate: { type: 'boolean' } } },
          200: { type: 'object', properties: { task: TaskSchema, assignments: { type: 'array', items: AssignmentSchema }, duplicate: { type: 'boolean' } } },
          ...errors(400, 401, 403, 413, 422, 503),
          409: IdempotencyMismatch,
        },
      },
    },
    async (req, reply) => {
      const key = req.headers['idempotency-key'];
      const body = req.body;
      const out = await svc.create(req.principal, { ...body, idempotencyKey: typeof key === 'string' ? key : undefined });
      reply.code(out.duplicate ? 200 : 201);
      return out;
    },
  );

  app.get(
    '/api/tasks',
    {
      schema: {
        tags: ['tasks'],
        summary: 'Brokers: tasks sent to me (with my state). Managers/admin: tasks I sent, with progress counts (`mine=false`: compliance and admin see all)',
        security: bearerSecurity,
        querystring: {
          type: 'object',
          properties: { mine: { type: 'string', enum: ['1', '0', 'true', 'false'], default: '1' }, limit: { type: 'integer', minimum: 1, maximum: 200, default: 100 } },
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: {
              role: { type: 'string', enum: ['broker', 'manager'] },
              tasks: { type: 'array', items: { type: 'object', properties: { ...TaskSchema.properties, assignment: AssignmentSchema, counts: CountsSchema } } },
            },
          },
          ...errors(400, 401, 403),
        },
      },
    },
    async (req) => {
      const q = req.query;
      return svc.list(req.principal, { mine: q.mine === '1' || q.mine === 'true', limit: q.limit });
    },
  );

  app.get(
    '/api/tasks/:id/progress',
    {
      schema: {
        tags: ['tasks'],
        summary: "Each recipient's state (delivered/read/accepted/done, overdue) — the task's manager, compliance, admin",
        description: 'Follow it live: subscribe to `feed.channel` with `since: feed.topOffset`; every `task.progress` after this snapshot arrives, none is missed.',
        security: bearerSecurity,
        params: IdParam,
        response: {
          200: {
            type: 'object',
            properties: {
              task: TaskSchema,
              feed: { type: 'object', properties: { channel: { type: 'string' }, topOffset: { type: 'integer' } } },
              assignments: { type: 'array', items: AssignmentSchema },
              counts: CountsSchema,
            },
          },
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (req) => svc.progress(req.principal, req.params.id),
  );

  const transition = (action: TaskAction, summary: string, noteRequired: boolean) =>
    app.post(
      `/api/tasks/:id/${action}`,
      {
        preValidation: emptyBodyIsObject,
        schema: {
          tags: ['tasks'],
          summary,
          description:
            'The broker the task was sent to. Repeating a state, or asking for an earlier one, changes nothing (200, `changed: false`). ' +
            '`done` needs `accepted` first (QIAO_TASK_TRANSITION_INVALID) and a note.',
          security: bearerSecurity,
          params: IdParam,
          body: noteRequired ? NoteRequiredBody : NoteOptionalBody,
          response: { 200: { type: 'object', properties: { changed: { type: 'boolean' }, assignment: AssignmentSchema } }, ...errors(400, 401, 403, 404, 409, 503) },
        },
      },
      async (req) => svc.transition(req.principal, req.params.id, action, 'note' in req.body && typeof req.body.note === 'string' ? req.body.note : undefined),
    );
  transition('read', 'Mark a task read', false);
  transition('accept', 'Accept a task (implies read)', false);
  transition('done', 'Mark a task done, with a note (after accepting it)', true);
}
