/**
 * Error answers every route can give whatever its handler does, added to each route's response
 * schemas (an `onRoute` hook registered before the routes and before @fastify/swagger), so the
 * OpenAPI document lists them without every route restating them:
 * - 400 when the route validates a body, query, params or headers (QIAO_BAD_REQUEST, QIAO_BAD_JSON);
 * - 401 when it declares a security requirement;
 * - 429 under /api/ (the general REST limit; the ingest feeds are exempt);
 * - 500 and 503 everywhere (QIAO_INTERNAL; QIAO_UNAVAILABLE, QIAO_DRAINING).
 * A route's own declaration of a status wins.
 */
import type { RouteOptions } from 'fastify';
import { errors, errorsAsJson } from './schemas.ts';

type Schema = { body?: unknown; querystring?: unknown; params?: unknown; headers?: unknown; security?: unknown; hide?: boolean; response?: Record<string, unknown> };

export function commonErrorStatuses(url: string, schema: Schema): number[] {
  const out: number[] = [];
  if (schema.body || schema.querystring || schema.params || schema.headers) out.push(400);
  if (Array.isArray(schema.security) && schema.security.length) out.push(401);
  if (url.startsWith('/api/') && !url.startsWith('/api/ingest/')) out.push(429);
  out.push(500, 503);
  return out;
}

/** onRoute hook: completes `schema.response` of documented routes. */
export function addCommonErrors(route: RouteOptions): void {
  const schema = route.schema as Schema | undefined;
  if (!schema?.response || schema.hide) return;
  const missing = commonErrorStatuses(route.url, schema).filter((s) => !(String(s) in schema.response!));
  if (!missing.length) return;
  const json = Array.isArray((schema as { produces?: unknown }).produces);
  const added = json ? errorsAsJson(...missing) : errors(...missing);
  route.schema = { ...route.schema, response: { ...schema.response, ...added } };
}
