/**
 * Web push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payload encryption (RFC 8291, done by
 * web-push). Behind one interface with a memory implementation for tests of the push worker.
 *
 * Throughput notes (bench/push.bench.ts): every message needs its own ECDH key pair and shared secret
 * (RFC 8291 requires a fresh sender key per message), so that part cannot be cached; the encryption is
 * push-encryption.ts (why not web-push's: see there). The VAPID JWT can:
 * web-push signs a new one for every request; here one JWT per push-service origin is signed and
 * reused until an hour before it expires (12 h lifetime), which RFC 8292 allows. Requests go through
 * undici (Node's own HTTP client, the one behind fetch) with a keep-alive connection pool per push
 * service: TLS handshakes are paid once per connection, and a request costs about a third of the CPU
 * of node:https (26 vs ~90 µs of client CPU in a loopback micro-bench), and CPU is what the push
 * worker is bound by (bench/push.bench.ts).
 */
import https from 'node:https';
import { Agent, type Dispatcher } from 'undici';
import webPush from 'web-push';
import { PushEncryptor } from './push-encryption.ts';

export type Urgency = 'very-low' | 'low' | 'normal' | 'high';

export interface PushTarget {
  endpoint: string;
  /** Browser's P-256 public key, base64url. */
  p256dh: string;
  /** Browser's auth secret, base64url. */
  auth: string;
}

export interface PushOptions {
  /** Seconds the push service keeps the message for an offline device (0: deliver now or drop). */
  ttlS: number;
  urgency: Urgency;
  /** Replaces an undelivered message with the same topic (URL-safe base64 alphabet, ≤ 32 chars). */
  topic?: string;
}

/**
 * - ok: accepted (201).
 * - gone: 404/410, the subscription no longer exists: delete it.
 * - transient: 429, 5xx, network error, timeout: try again later (`retryAfterS` from Retry-After).
 * - rejected: any other 4xx (400 bad request, 413 payload too large, 401/403 VAPID refused): retrying
 *   the same request cannot help.
 */
export type PushOutcome =
  | { result: 'ok'; status: number }
  | { result: 'gone' | 'transient' | 'rejected'; status: number; detail: string; retryAfterS?: number };

export interface PushTransport {
  send(target: PushTarget, payload: string, opts: PushOptions): Promise<PushOutcome>;
  close(): Promise<void>;
}

export interface VapidDetails {
  subject: string;
  publicKey: string;
  privateKey: string;
}

export interface WebPushTransportOptions {
  vapid: VapidDetails;
  /** Limit, ms, on each of: connecting, waiting for the answer's headers, receiving its body. */
  timeoutMs: number;
  /** Extra CA certificate(s) to trust (PEM): tests and benches pass their local push service's. */
  ca?: string;
  /** Connections per push-service origin (default 64). */
  maxSockets?: number;
  /**
   * 'pooled' (default): this module encrypts (push-encryption.ts), builds the request and sends it with
   * a cached VAPID JWT. 'web-push': web-push's own sendNotification with a fresh JWT per request (kept
   * for the benchmark comparison).
   */
  strategy?: 'pooled' | 'web-push';
}

/** Makes a Topic header value: only [A-Za-z0-9_-], at most 32 characters. */
export function pushTopic(raw: string): string {
  return raw.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 32);
}

export function classifyStatus(status: number): PushOutcome['result'] {
  if (status >= 200 && status < 300) return 'ok';
  if (status === 404 || status === 410) return 'gone';
  if (status === 429 || status >= 500) return 'transient';
  return 'rejected';
}

function retryAfter(h: string | string[] | undefined): number | undefined {
  const v = Array.isArray(h) ? h[0] : h;
  if (!v) return undefined;
  const n = Number(v);
  if (Number.isFinite(n) && n >= 0) return n;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, Math.ceil((t - Date.now()) / 1000));
}

const URGENCIES: ReadonlySet<string> = new Set<Urgency>(['very-low', 'low', 'normal', 'high']);
const JWT_LIFETIME_S = 12 * 3600;
const JWT_RENEW_BEFORE_S = 3600;

export class WebPushTransport implements PushTransport {
  private readonly pool: Dispatcher;
  /** Only for the 'web-push' strategy, which sends through node:https. */
  private readonly agent: https.Agent | undefined;
  private readonly jwtByAudience = new Map<string, { header: string; renewAt: number }>();
  private readonly strategy: 'pooled' | 'web-push';
  private readonly encryptor = new PushEncryptor();

  constructor(private readonly o: WebPushTransportOptions) {
    this.strategy = o.strategy ?? 'pooled';
    const connections = o.maxSockets ?? 64;
    this.pool = new Agent({ connections, connect: { timeout: o.timeoutMs, ...(o.ca ? { ca: o.ca } : {}) }, headersTimeout: o.timeoutMs, bodyTimeout: o.timeoutMs });
    this.agent = this.strategy === 'web-push' ? new https.Agent({ keepAlive: true, maxSockets: connections, timeout: o.timeoutMs, ...(o.ca ? { ca: o.ca } : {}) }) : undefined;
  }

  /** `vapid t=<jwt>, k=<public key>` for the push service at `audience`, signed once per ~11 h. */
  private authorization(audience: string): string {
    const now = Math.floor(Date.now() / 1000);
    const hit = this.jwtByAudience.get(audience);
    if (hit && now < hit.renewAt) return hit.header;
    const exp = now + JWT_LIFETIME_S;
    const { Authorization } = webPush.getVapidHeaders(audience, this.o.vapid.subject, this.o.vapid.publicKey, this.o.vapid.privateKey, 'aes128gcm', exp);
    this.jwtByAudience.set(audience, { header: Authorization, renewAt: exp - JWT_RENEW_BEFORE_S });
    if (this.jwtByAudience.size > 1000) this.jwtByAudience.delete(this.jwtByAudience.keys().next().value as string);
    return Authorization;
  }

  async send(target: PushTarget, payload: string, opts: PushOptions): Promise<PushOutcome> {
    if (this.strategy === 'web-push') {
      const sub = { endpoint: target.endpoint, keys: { p256dh: target.p256dh, auth: target.auth } };
      return this.sendWithWebPush(sub, payload, { TTL: opts.ttlS, urgency: opts.urgency, ...(opts.topic ? { topic: opts.topic } : {}) });
    }
    let url: URL;
    let body: Buffer;
    try {
      url = new URL(target.endpoint);
      if (url.protocol !== 'https:') throw new Error('the endpoint must be an https URL');
      if (!Number.isInteger(opts.ttlS) || opts.ttlS < 0) throw new Error('TTL must be a whole number of seconds, at least 0');
      if (!URGENCIES.has(opts.urgency)) throw new Error(`unknown urgency ${String(opts.urgency)}`);
      if (opts.topic && !/^[A-Za-z0-9_-]{1,32}$/.test(opts.topic)) throw new Error('topic must be 1–32 URL-safe base64 characters');
      body = this.encryptor.encrypt(target.p256dh, target.auth, payload);
    } catch (e) {
      return { result: 'rejected', status: 0, detail: `bad subscription or options: ${(e as Error).message}` };
    }
    const headers: Record<string, string> = {
      authorization: this.authorization(url.origin),
      ttl: String(opts.ttlS),
      urgency: opts.urgency,
      'content-encoding': 'aes128gcm',
      'content-type': 'application/octet-stream',
      'content-length': String(body.length),
    };
    if (opts.topic) headers.topic = opts.topic;
    try {
      const res = await this.pool.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers,
        body,
      });
      const status = res.statusCode;
      const result = classifyStatus(status);
      if (result === 'ok') {
        await res.body.dump();
        return { result, status };
      }
      // Error bodies are for the log only.
      const text = (await res.body.text().catch(() => '')).slice(0, 300);
      return { result, status, detail: `HTTP ${status} ${text}`.trim(), retryAfterS: retryAfter(res.headers['retry-after']) };
    } catch (e) {
      const err = e as Error;
      // undici's connect / headers / body timeouts (each `timeoutMs`) name themselves in the message.
      const what = /timeout/i.test(err.name) || /timeout/i.test((err as { code?: string }).code ?? '') ? `timed out after ${this.o.timeoutMs} ms (${err.message})` : err.message;
      return { result: 'transient', status: 0, detail: `network error: ${what}` };
    }
  }

  private async sendWithWebPush(sub: webPush.PushSubscription, payload: string, base: webPush.RequestOptions): Promise<PushOutcome> {
    try {
      const r = await webPush.sendNotification(sub, payload, { ...base, vapidDetails: this.o.vapid, agent: this.agent, timeout: this.o.timeoutMs });
      return { result: 'ok', status: r.statusCode };
    } catch (e) {
      if (e instanceof webPush.WebPushError) {
        const result = classifyStatus(e.statusCode);
        return result === 'ok' ? { result, status: e.statusCode } : { result, status: e.statusCode, detail: `HTTP ${e.statusCode} ${e.body ?? ''}`.slice(0, 300), retryAfterS: retryAfter(e.headers?.['retry-after']) };
      }
      const msg = (e as Error).message ?? String(e);
      // web-push throws plain Errors for bad input before sending; network failures come from https.
      return /subscription|payload|option|TTL|topic|urgency/i.test(msg) ? { result: 'rejected', status: 0, detail: msg } : { result: 'transient', status: 0, detail: msg };
    }
  }

  async close(): Promise<void> {
    this.agent?.destroy();
    await this.pool.close().catch(() => this.pool.destroy());
  }
}

/** Records sends; answers with scripted outcomes (default ok). For tests of the push worker. */
export class MemoryPushTransport implements PushTransport {
  readonly sent: Array<{ target: PushTarget; payload: string; opts: PushOptions }> = [];
  /** Per-endpoint outcomes to answer next (consumed in order); absent → ok. */
  readonly script = new Map<string, PushOutcome[]>();

  async send(target: PushTarget, payload: string, opts: PushOptions): Promise<PushOutcome> {
    this.sent.push({ target, payload, opts });
    const next = this.script.get(target.endpoint)?.shift();
    return next ?? { result: 'ok', status: 201 };
  }

  async close(): Promise<void> {}
}
