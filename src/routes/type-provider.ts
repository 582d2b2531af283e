/**
 * One schema source for validation, documentation and types: route schemas are `as const` JSON
 * schemas, and this type provider types a handler's `req.body`, `req.query`, `req.params` and
 * `req.headers` from them (@fastify/type-provider-json-schema-to-ts, i.e. json-schema-to-ts), so
 * handlers need no casts.
 *
 * Replies stay untyped on purpose: response schemas name shared components by `$ref` (which
 * json-schema-to-ts cannot follow without restating every component as a type argument), and
 * json-schema-to-ts types objects with an index signature that the services' interfaces do not
 * have. Answers are checked where they matter instead: fast-json-stringify serialises by the
 * response schema, and test/integration/response-schemas.test.ts checks the document.
 */
import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import type { FastifyInstance, FastifyTypeProvider } from 'fastify';

/** What JsonSchemaToTsProvider makes of a request schema (as fastify resolves a provider). */
type RequestType<S> = (JsonSchemaToTsProvider & { schema: S })['validator'];

/** @fastify/type-provider-json-schema-to-ts's provider for requests, with untyped replies (see above). */
export interface QiaoTypeProvider extends FastifyTypeProvider {
  validator: RequestType<this['schema']>;
  serializer: unknown;
}

/** The route plugin's instance with schema-derived request types. */
export const typed = (app: FastifyInstance) => app.withTypeProvider<QiaoTypeProvider>();
