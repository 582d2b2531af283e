/**
 * The publish path shared by REST and both sockets: authorise from the channel catalogue, check size,
 * persist (allocating the offset), hand to the bus — in that order, so nothing reaches a subscriber
 * that is not stored, and a failure anywhere leaves nothing half-written.
 */
import type { FastifyBaseLogger } from 'fastify';
import { authorizePublish, type AccessContext } from '../../channels/catalogue.ts';
import type { Principal } from '../auth/principal.ts';
import type { Bus, Publication } from '../bus/bus.ts';
import { QiaoError, isQiaoError } from '../errors/codes.ts';
import type { Metrics } from '../metrics.ts';
import type { AuditRepo } from '../store/audit-repo.ts';
import { OffsetBehindError, type MessagesRepo } from '../store/messages-repo.ts';

export interface PublishRequest {
  channel: unknown;
  kind: unknown;
  payload: unknown;
  idempotencyKey?: string;
}

export interface PublishOutcome {
  pub: Publication;
  duplicate: boolean;
}

export interface PublisherDeps {
  bus: Bus;
  messages: MessagesRepo;
  audit: AuditRepo;
  access: AccessContext;
  metrics: Metrics;
  logger: FastifyBaseLogger;
  maxPayloadBytes: number;
}

export class Publisher {
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly d: PublisherDeps) {}

  get pending(): number {
    return this.inFlight;
  }

  async publish(p: Principal, req: PublishRequest): Promise<PublishOutcome> {
    const started = performance.now();
    this.inFlight++;
    let family = 'unknown';
    try {
      const size = Buffer.byteLength(JSON.stringify(req.payload ?? null));
      if (size > this.d.maxPayloadBytes) {
        throw new QiaoError('QIAO_PAYLOAD_TOO_LARGE', `Payload is ${size} bytes; the limit is ${this.d.maxPayloadBytes}`);
      }
      const r = await authorizePublish(p, req.channel, req.kind, req.payload, this.d.access).catch(async (e) => {
        if (isQiaoError(e) && e.code === 'QIAO_PUBLISH_FORBIDDEN') {
          await this.d.audit
            .append({ actorId: p.id, action: 'publish', target: String(req.channel), outcome: 'refused', detail: { code: e.code } })
            .catch(() => {});
        }
        throw e;
      });
      family = r.family.family;
      if (hasUnstorableText(req.payload)) {
        // Postgres text/jsonb cannot hold U+0000 or unpaired surrogates: refuse it here instead of
        // failing in the store and telling the client to retry something that can never succeed.
        throw new QiaoError('QIAO_BAD_PUBLICATION', 'Text must not contain NUL characters or unpaired UTF-16 surrogates');
      }
      const opts = { historySize: r.family.historySize, historyTtlMs: r.family.historyTtlMs };
      const out = await this.d.messages
        .append(
          {
            channel: r.parsed.name,
            family,
            kind: req.kind as string,
            senderId: p.id,
            payload: req.payload,
            idempotencyKey: req.idempotencyKey,
            subjects: r.parsed.parts.userId ? [r.parsed.parts.userId] : [],
            conversationId: r.parsed.parts.conversationId,
          },
          async (pub) => {
            const res = await this.d.bus.publish(pub, opts);
            if (!res.accepted) throw new OffsetBehindError(res.topOffset);
          },
        )
        .catch((e) => {
          if (isQiaoError(e)) throw e;
          this.d.logger.error({ err: e, channel: r.parsed.name }, 'publish failed');
          throw new QiaoError('QIAO_UNAVAILABLE', 'Publication was not stored or not delivered; nothing was written, retry');
        });
      this.d.metrics.publishes.inc({ family, outcome: out.duplicate ? 'duplicate' : 'ok' });
      this.d.metrics.publishLatency.observe({ family }, (performance.now() - started) / 1000);
      return out;
    } catch (e) {
      this.d.metrics.publishes.inc({ family, outcome: isQiaoError(e) ? e.code : 'error' });
      throw e;
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /** Resolves when no publish is in flight (or after `timeoutMs`). */
  idle(timeoutMs: number): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}

const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Whether any string (value or key) in a JSON value contains text Postgres cannot store. */
function hasUnstorableText(v: unknown, depth = 0): boolean {
  if (typeof v === 'string') return UNSTORABLE.test(v);
  if (depth > 64 || v === null || typeof v !== 'object') return false;
  if (Array.isArray(v)) return v.some((x) => hasUnstorableText(x, depth + 1));
  return Object.entries(v).some(([k, x]) => UNSTORABLE.test(k) || hasUnstorableText(x, depth + 1));
}
