/**
 * JSON schemas shared by routes (also feed the OpenAPI document). Shapes used by several routes are
 * registered once (`registerSharedSchemas`, fastify `addSchema` with an `$id`) and referenced with
 * `$ref`, so the OpenAPI document has one component each instead of inlined copies; the `*Schema`
 * constants below are those references.
 */
import type { FastifyInstance } from 'fastify';
import { ERRORS, type ErrorCode } from '../errors/codes.ts';

/** The body of every error: `code` is one of the catalogue's (src/errors/codes.ts), derived from it. */
export const ErrorBodyDef = {
  $id: 'QiaoErrorBody',
  type: 'object',
  properties: {
    code: { type: 'string', enum: Object.keys(ERRORS) as ErrorCode[], description: 'Stable error code (src/errors/codes.ts); never reused' },
    message: { type: 'string' },
    details: {},
  },
  required: ['code', 'message'],
} as const;

/** Every error answer: `{ error: { code, message, details? } }`. */
export const ErrorResponseDef = {
  $id: 'QiaoError',
  type: 'object',
  properties: { error: { $ref: 'QiaoErrorBody#' } },
  required: ['error'],
} as const;

export const ErrorBodyRef = { $ref: 'QiaoErrorBody#' } as const;
export const ErrorResponse = { $ref: 'QiaoError#' } as const;

/** An error answer with its own description (e.g. which code a 409 means on this route). */
export const errorWith = (description: string) => ({ $ref: 'QiaoError#', description }) as const;

export const PublicationDef = {
  $id: 'Publication',
  type: 'object',
  properties: {
    channel: { type: 'string' },
    id: { type: 'string' },
    offset: { type: 'integer' },
    kind: { type: 'string' },
    sender: { type: 'string' },
    payload: {},
    time: { type: 'string', format: 'date-time' },
  },
  required: ['channel', 'id', 'offset', 'kind', 'sender', 'payload', 'time'],
} as const;

export const ChannelParam = {
  type: 'object',
  properties: { channel: { type: 'string', minLength: 1, maxLength: 128 } },
  required: ['channel'],
} as const;

/** The Idempotency-Key header a create or publish route accepts (a retry with the same key returns the first result). */
export const IdempotencyKeyHeaders = { type: 'object', properties: { 'idempotency-key': { type: 'string', minLength: 1, maxLength: 128 } } } as const;

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad request',
  401: 'Not authenticated',
  403: 'Not allowed',
  404: 'Not found',
  409: 'Conflict with the current state',
  410: 'Gone',
  413: 'Payload too large',
  422: 'Refused by a business rule',
  429: 'Too many requests',
  500: 'Internal error',
  503: 'Unavailable (draining node or backing service)',
};

/** The error answers a route can give, each the shared QiaoError component. */
export const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, errorWith(`${STATUS_TEXT[c] ?? 'Error'}: error.code tells which`)]));

/** Error answers of a route that `produces` another type (CSV…): errors are still JSON. */
export function errorsAsJson(...codes: number[]): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(errors(...codes)).map(([status, { description, ...schema }]) => [status, { description, content: { 'application/json': { schema } } }]),
  );
}

/** A 204 answer: no body. */
export const NoContent = (description: string) => ({ type: 'null', description }) as const;

/** Answer to a publish: 201 when new, 200 when an earlier publish with the same idempotency key is returned. */
export const PublishedDef = {
  $id: 'Published',
  type: 'object',
  properties: {
    channel: { type: 'string' },
    id: { type: 'string' },
    offset: { type: 'integer' },
    duplicate: { type: 'boolean' },
    /** Delivered, but the text matched DLP warn terms (src/compliance/dlp.ts): shown to the sender. */
    dlp: { type: 'object', properties: { warn: { type: 'array', items: { type: 'string' } } } },
  },
} as const;

/** Answer to a publish that waits for compliance approval (firm.broadcast): 202. */
export const PendingPublishDef = {
  $id: 'PendingPublish',
  type: 'object',
  properties: { channel: { type: 'string' }, pending: { type: 'boolean' }, approvalId: { type: 'string' }, duplicate: { type: 'boolean' } },
} as const;

/** A user as the API shows it (src/store/users-repo.ts toPublicUser). */
export const PublicUserDef = {
  $id: 'PublicUser',
  type: 'object',
  properties: {
    id: { type: 'string', format: 'uuid' },
    login: { type: 'string' },
    role: { type: 'string', enum: ['client', 'broker', 'manager', 'research', 'compliance', 'admin'] },
    displayName: { type: 'string' },
    tier: { type: ['string', 'null'], enum: ['general', 'hnw', 'institutional', null] },
    riskLevel: { type: ['string', 'null'], enum: ['C1', 'C2', 'C3', 'C4', 'C5', null] },
    riskAssessedOn: { type: ['string', 'null'], description: 'date of the last risk assessment (YYYY-MM-DD)' },
    professionalInvestor: { type: 'boolean' },
    branchId: { type: ['string', 'null'] },
    teamId: { type: ['string', 'null'] },
    locale: { type: 'string' },
    timeZone: { type: 'string' },
  },
  required: ['id', 'login', 'role', 'displayName', 'tier', 'riskLevel', 'riskAssessedOn', 'professionalInvestor', 'branchId', 'teamId', 'locale', 'timeZone'],
} as const;

export const TitleDef = {
  $id: 'Title',
  type: 'object',
  properties: { zh: { type: 'string' }, en: { type: 'string' } },
  required: ['zh', 'en'],
} as const;

/** A page of stored publications, newest page first (channel and conversation history). */
export const PublicationPageDef = {
  $id: 'PublicationPage',
  type: 'object',
  properties: {
    publications: { type: 'array', items: { $ref: 'Publication#' } },
    nextBefore: { type: ['integer', 'null'], description: 'pass as `before` for the next (older) page; null on the last page' },
  },
  required: ['publications', 'nextBefore'],
} as const;

export const PublicationSchema = { $ref: 'Publication#' } as const;
export const PublishedSchema = { $ref: 'Published#' } as const;
export const PendingPublishSchema = { $ref: 'PendingPublish#' } as const;
export const PublicUserSchema = { $ref: 'PublicUser#' } as const;
export const TitleSchema = { $ref: 'Title#' } as const;
export const PublicationPageSchema = { $ref: 'PublicationPage#' } as const;

/** The shared schemas, in dependency order: registered on the root instance before any route. */
export const SHARED_SCHEMAS = [ErrorBodyDef, ErrorResponseDef, PublicationDef, PublicationPageDef, PublishedDef, PendingPublishDef, PublicUserDef, TitleDef] as const;

export function registerSharedSchemas(app: FastifyInstance): void {
  for (const s of SHARED_SCHEMAS) app.addSchema(s);
}
