/** JSON schemas shared by routes (also feed the OpenAPI document). */
export const ErrorResponse = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} },
      required: ['code', 'message'],
    },
  },
  required: ['error'],
} as const;

export const PublicationSchema = {
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

export const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ErrorResponse]));

/** A 204 answer: no body. */
export const NoContent = (description: string) => ({ type: 'null', description }) as const;

/** Answer to a publish: 201 when new, 200 when an earlier publish with the same idempotency key is returned. */
export const PublishedSchema = {
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
export const PendingPublishSchema = {
  type: 'object',
  properties: { channel: { type: 'string' }, pending: { type: 'boolean' }, approvalId: { type: 'string' }, duplicate: { type: 'boolean' } },
} as const;

/** A user as the API shows it (src/store/users-repo.ts toPublicUser). */
export const PublicUserSchema = {
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

export const TitleSchema = {
  type: 'object',
  properties: { zh: { type: 'string' }, en: { type: 'string' } },
  required: ['zh', 'en'],
} as const;
