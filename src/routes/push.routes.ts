/**
 * Web push subscriptions: the VAPID public key (the browser's `applicationServerKey`), and my
 * browsers' subscriptions — one per user and device, keyed by the endpoint URL.
 *
 * An endpoint must be an https URL on a push service host allowed by QIAO_PUSH_ENDPOINT_HOSTS: the
 * push worker POSTs to it, so an arbitrary URL would let any user make the server call internal
 * hosts (SSRF).
 */
import { createPublicKey } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../deps.ts';
import { QiaoError } from '../errors/codes.ts';
import { authenticate, bearerSecurity } from './auth-hook.ts';
import { NoContent, errors } from './schemas.ts';
import { typed } from './type-provider.ts';

const B64URL = '^[A-Za-z0-9_-]+={0,2}$';

const SubscriptionBody = {
  type: 'object',
  properties: {
    endpoint: { type: 'string', minLength: 12, maxLength: 2048 },
    // PushSubscription.toJSON() has it; we do not use it.
    expirationTime: { anyOf: [{ type: 'null' }, { type: 'number' }] },
    keys: {
      type: 'object',
      properties: { p256dh: { type: 'string', minLength: 80, maxLength: 100, pattern: B64URL }, auth: { type: 'string', minLength: 16, maxLength: 32, pattern: B64URL } },
      required: ['p256dh', 'auth'],
      additionalProperties: false,
    },
    userAgent: { type: 'string', maxLength: 512 },
  },
  required: ['endpoint', 'keys'],
  additionalProperties: false,
} as const;

/** Whether `host` matches one of the patterns (`*` any host, `*.example.com` any subdomain). */
export function hostAllowed(host: string, patterns: readonly string[]): boolean {
  const h = host.toLowerCase();
  return patterns.some((p) => p === '*' || p === h || (p.startsWith('*.') && h.endsWith(p.slice(1))));
}

function b64(s: string): Buffer {
  return Buffer.from(s.replace(/=+$/, ''), 'base64url');
}

/** Checks endpoint and keys; throws QIAO_PUSH_SUBSCRIPTION_INVALID naming what is wrong. */
export function checkSubscription(endpoint: string, p256dh: string, auth: string, allowedHosts: readonly string[]): void {
  const bad = (why: string) => new QiaoError('QIAO_PUSH_SUBSCRIPTION_INVALID', why);
  let u: URL;
  try {
    u = new URL(endpoint);
  } catch {
    throw bad('endpoint is not a URL');
  }
  if (u.protocol !== 'https:') throw bad('endpoint must be an https URL');
  if (u.username || u.password) throw bad('endpoint must not carry credentials');
  if (!hostAllowed(u.hostname, allowedHosts)) throw bad(`endpoint host ${u.hostname} is not a known push service`);
  const key = b64(p256dh);
  if (key.length !== 65 || key[0] !== 0x04) throw bad('keys.p256dh must be an uncompressed P-256 point (65 bytes, base64url)');
  try {
    createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: key.subarray(1, 33).toString('base64url'), y: key.subarray(33).toString('base64url') }, format: 'jwk' });
  } catch {
    throw bad('keys.p256dh is not a point on P-256');
  }
  if (b64(auth).length !== 16) throw bad('keys.auth must be 16 bytes (base64url)');
}

export default async function pushRoutes(scope: FastifyInstance, d: AppDeps): Promise<void> {
  const app = typed(scope);
  const auth = authenticate(d.tokens);

  app.get(
    '/api/push/vapid-public-key',
    {
      schema: {
        tags: ['push'],
        summary: "The server's VAPID public key (base64url), for PushManager.subscribe({ applicationServerKey })",
        response: { 200: { type: 'object', properties: { publicKey: { type: 'string' } }, required: ['publicKey'] }, ...errors(503) },
      },
    },
    async () => ({ publicKey: (await d.push.vapidKeys()).publicKey }),
  );

  app.get(
    '/api/push/subscriptions',
    {
      preHandler: auth,
      schema: {
        tags: ['push'],
        summary: 'My browsers subscribed to web push',
        security: bearerSecurity,
        response: {
          200: {
            type: 'object',
            properties: {
              subscriptions: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: { endpoint: { type: 'string' }, userAgent: { type: ['string', 'null'] }, createdAt: { type: 'string' }, lastSuccessAt: { type: ['string', 'null'] } },
                },
              },
            },
          },
          ...errors(401),
        },
      },
    },
    async (req) => ({
      subscriptions: (await d.push.listForUser(req.principal.id)).map((s) => ({
        endpoint: s.endpoint,
        userAgent: s.userAgent,
        createdAt: s.createdAt.toISOString(),
        lastSuccessAt: s.lastSuccessAt ? s.lastSuccessAt.toISOString() : null,
      })),
    }),
  );

  app.post(
    '/api/push/subscriptions',
    {
      preHandler: auth,
      schema: {
        tags: ['push'],
        summary: 'Store this browser’s push subscription (PushSubscription.toJSON()); 201 new, 200 updated',
        security: bearerSecurity,
        body: SubscriptionBody,
        response: { 200: { type: 'object', properties: { created: { type: 'boolean' } } }, 201: { type: 'object', properties: { created: { type: 'boolean' } } }, ...errors(400, 401) },
      },
    },
    async (req, reply) => {
      const b = req.body;
      checkSubscription(b.endpoint, b.keys.p256dh, b.keys.auth, d.config.pushEndpointHosts);
      const userAgent = b.userAgent ?? (typeof req.headers['user-agent'] === 'string' ? req.headers['user-agent'].slice(0, 512) : undefined);
      const r = await d.push.upsert(req.principal.id, { endpoint: b.endpoint, p256dh: b.keys.p256dh, auth: b.keys.auth, userAgent });
      await d.audit.append({ actorId: req.principal.id, action: 'push.subscribe', target: new URL(b.endpoint).host, outcome: 'ok' });
      reply.code(r.created ? 201 : 200);
      return { created: r.created };
    },
  );

  app.delete(
    '/api/push/subscriptions',
    {
      preHandler: auth,
      schema: {
        tags: ['push'],
        summary: 'Remove one of my push subscriptions (by endpoint)',
        security: bearerSecurity,
        body: { type: 'object', properties: { endpoint: { type: 'string', minLength: 1, maxLength: 2048 } }, required: ['endpoint'], additionalProperties: false },
        response: { 204: NoContent('Removed'), ...errors(400, 401, 404) },
      },
    },
    async (req, reply) => {
      const { endpoint } = req.body;
      if (!(await d.push.removeOwn(req.principal.id, endpoint))) throw new QiaoError('QIAO_NOT_FOUND', 'No such push subscription of yours');
      await d.audit.append({ actorId: req.principal.id, action: 'push.unsubscribe', target: URL.canParse(endpoint) ? new URL(endpoint).host : 'invalid', outcome: 'ok' });
      reply.code(204);
    },
  );
}
