/**
 * The admins' queue dashboard (@bull-board) at /admin/queues, in services mode (BullMQ on Redis).
 * Embedded mode has the in-process queue, which bull-board cannot show: there every dashboard path
 * answers 404 QIAO_QUEUE_DASHBOARD_UNAVAILABLE.
 *
 * Who may see it: administrators. A browser cannot send the bearer token on a page load, so the admin
 * area first calls `POST /api/admin/queue-dashboard/session` with its token; the answer sets a cookie
 * for the dashboard's path only (HttpOnly, SameSite=Strict, QIAO_QUEUE_DASHBOARD_COOKIE_S long). The
 * cookie is its own short-lived signed token (a key derived from QIAO_JWT_SECRET, an audience of its
 * own: it is no API token), and every dashboard request checks the account again (active, still admin,
 * same session version), so logout, sign-out-everywhere or a role change end it at once. A bearer
 * token in the Authorization header works too (scripts). No credentials: 401 QIAO_AUTH_REQUIRED;
 * not an admin: 403 QIAO_QUEUE_DASHBOARD_FORBIDDEN.
 */
import { createHmac } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SignJWT, jwtVerify } from 'jose';
import { loadAccountState } from '../auth/sessions.ts';
import type { AppDeps } from '../deps.ts';
import { QiaoError, type ErrorCode } from '../errors/codes.ts';
import { QUEUES } from '../queue/jobs.ts';
import type { BullQueue } from '../queue/queue-bullmq.ts';
import { authenticate, bearerSecurity, bearerToken } from './auth-hook.ts';

export const DASHBOARD_PATH = '/admin/queues';
export const DASHBOARD_COOKIE = 'qiao_queue_dashboard';
const AUDIENCE = 'qiao-queue-dashboard';
/**
 * The dashboard page's own policy (like the web client's, src/routes/web.ts): helmet's default would
 * upgrade its requests to https on a plain-http deployment. bull-board's UI uses inline styles and
 * Google's fonts; scripts only from here.
 */
export const DASHBOARD_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline' https://fonts.googleapis.com; font-src 'self' data: https://fonts.gstatic.com; img-src 'self' data:; base-uri 'self'; frame-ancestors 'none'";

function refuse(reply: FastifyReply, code: ErrorCode): FastifyReply {
  const e = new QiaoError(code);
  if (e.status === 401) reply.header('www-authenticate', `Bearer error="invalid_token", error_description="${e.code}"`);
  return reply.code(e.status).send({ error: e.toJSON() });
}

function cookieValue(req: FastifyRequest, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

const Session = {
  type: 'object',
  properties: { url: { type: 'string' }, expiresAt: { type: 'string', format: 'date-time' } },
  required: ['url', 'expiresAt'],
} as const;

export default async function queueDashboardRoutes(app: FastifyInstance, d: AppDeps): Promise<void> {
  const bull = 'bullQueue' in d.queue ? (d.queue as BullQueue) : null;
  const key = createHmac('sha256', d.config.jwtSecret).update('qiao queue dashboard cookie').digest();

  app.post(
    '/api/admin/queue-dashboard/session',
    {
      preHandler: authenticate(d.tokens),
      schema: { tags: ['admin'], summary: 'Open the queue dashboard in this browser (admin; services mode): sets its cookie', security: bearerSecurity, response: { 200: Session } },
    },
    async (req, reply) => {
      if (!bull) throw new QiaoError('QIAO_QUEUE_DASHBOARD_UNAVAILABLE');
      if (req.principal.role !== 'admin') throw new QiaoError('QIAO_QUEUE_DASHBOARD_FORBIDDEN');
      const ttl = d.config.ops.dashboardCookieS;
      const exp = Math.floor(Date.now() / 1000) + ttl;
      const jwt = await new SignJWT({ sv: req.principal.sv ?? 0 }).setProtectedHeader({ alg: 'HS256' }).setSubject(req.principal.id).setAudience(AUDIENCE).setExpirationTime(exp).sign(key);
      const secure = req.protocol === 'https' ? '; Secure' : '';
      reply.header('set-cookie', `${DASHBOARD_COOKIE}=${jwt}; Path=${DASHBOARD_PATH}; Max-Age=${ttl}; HttpOnly; SameSite=Strict${secure}`);
      return { url: `${DASHBOARD_PATH}/`, expiresAt: new Date(exp * 1000).toISOString() };
    },
  );

  if (!bull) {
    const unavailable = async (_req: FastifyRequest, reply: FastifyReply) => refuse(reply, 'QIAO_QUEUE_DASHBOARD_UNAVAILABLE');
    app.get(DASHBOARD_PATH, { schema: { hide: true } }, unavailable);
    app.all(`${DASHBOARD_PATH}/*`, { schema: { hide: true } }, unavailable);
    return;
  }

  /** The admin behind a dashboard request, or the refusal's code. */
  async function who(req: FastifyRequest): Promise<ErrorCode | null> {
    const bearer = bearerToken(req);
    if (bearer) {
      const p = await d.tokens.verify(bearer).catch(() => null);
      if (!p) return 'QIAO_AUTH_REQUIRED';
      return p.role === 'admin' && !p.totpPending ? null : 'QIAO_QUEUE_DASHBOARD_FORBIDDEN';
    }
    const cookie = cookieValue(req, DASHBOARD_COOKIE);
    if (!cookie) return 'QIAO_AUTH_REQUIRED';
    const claims = await jwtVerify(cookie, key, { audience: AUDIENCE, algorithms: ['HS256'] }).then((r) => r.payload, () => null);
    if (!claims?.sub) return 'QIAO_AUTH_REQUIRED';
    const account = await loadAccountState(d.db.db, claims.sub);
    if (!account || !account.active || account.sv !== claims.sv) return 'QIAO_AUTH_REQUIRED';
    return account.role === 'admin' ? null : 'QIAO_QUEUE_DASHBOARD_FORBIDDEN';
  }

  const { createBullBoard } = await import('@bull-board/api');
  const { BullMQAdapter } = await import('@bull-board/api/bullMQAdapter');
  const { FastifyAdapter } = await import('@bull-board/fastify');
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(DASHBOARD_PATH);
  createBullBoard({
    queues: Object.values(QUEUES).map((name) => new BullMQAdapter(bull.bullQueue(name))),
    // @bull-board/fastify 9.10.1 carries its own @bull-board/api 9.10.1 beside ours (9.10.2): the same
    // interface, but TypeScript sees two declarations (private fields), hence the cast.
    serverAdapter: serverAdapter as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'],
    options: { uiConfig: { boardTitle: 'Qiao 桥 queues' } },
  });
  await app.register(async (scope) => {
    scope.addHook('onRequest', async (req, reply) => {
      const refusal = await who(req);
      if (refusal) return refuse(reply, refusal);
    });
    scope.addHook('onSend', async (_req, reply, payload) => {
      if (String(reply.getHeader('content-type') ?? '').startsWith('text/html')) reply.header('content-security-policy', DASHBOARD_CSP);
      return payload;
    });
    await scope.register(serverAdapter.registerPlugin(), { prefix: DASHBOARD_PATH });
  });
}
