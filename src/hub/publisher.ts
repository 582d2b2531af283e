/**
 * The publish path shared by REST and both sockets: authorise from the channel catalogue, check size,
 * commit (message, domain writes, outbox row and archive record in one transaction), then relay the
 * committed publication to the bus and the fanout queue (src/hub/relay.ts). Nothing reaches a
 * subscriber before its commit; a failure before the commit leaves nothing written, and a failure
 * after it leaves relay work that the sweeper finishes.
 */
import type { FastifyBaseLogger } from 'fastify';
import { authorizePublish, resolveChannel, type AccessContext, type ResolvedChannel } from '../../channels/catalogue.ts';
import type { Principal } from '../auth/principal.ts';
import type { Publication } from '../bus/bus.ts';
import { QiaoError, isQiaoError } from '../errors/codes.ts';
import type { Metrics } from '../metrics.ts';
import type { DlpService, ScreenOutcome } from '../compliance/dlp.ts';
import type { AuditRepo } from '../store/audit-repo.ts';
import type { AppendInput, MessagesRepo, Tx } from '../store/messages-repo.ts';
import type { Relay } from './relay.ts';

export interface PublishRequest {
  channel: unknown;
  kind: unknown;
  payload: unknown;
  idempotencyKey?: string;
  /** Domain writes committed with the message (see AppendInput.inTx): a service's rows, a conversation's counters. */
  inTx?: AppendInput['inTx'];
}

export interface PublishOutcome {
  pub: Publication;
  duplicate: boolean;
  /** DLP warn terms the text matched: delivered, and the sender is told. */
  dlp?: { warn: string[] };
}

/** A publication on a family that needs approval (firm.broadcast): stored as a pending approval, not delivered. */
export interface PendingOutcome {
  pending: true;
  approvalId: string;
  channel: string;
  duplicate: boolean;
}

export interface PublishOptions {
  /**
   * A server service that authorised the action itself publishes (recommendation after the
   * suitability gate, task state change, approved broadcast): the family's publisher check and the
   * approval requirement are skipped, internal kinds are allowed; size and payload are still checked.
   */
  trusted?: boolean;
}

/** Where publications that need approval go (src/advisory/approvals.ts). */
export interface ApprovalGate {
  requestBroadcast(
    p: Principal,
    req: { channel: string; family: string; kind: string; payload: unknown; idempotencyKey?: string },
  ): Promise<{ approvalId: string; duplicate: boolean }>;
}

export interface PublisherDeps {
  messages: MessagesRepo;
  /** Hands committed publications to the bus and the fanout queue. */
  relay: Relay;
  audit: AuditRepo;
  access: AccessContext;
  metrics: Metrics;
  logger: FastifyBaseLogger;
  maxPayloadBytes: number;
  /** How long a publish waits for its relay before answering anyway (it is committed), ms. */
  relayWaitMs?: number;
  /** DLP screening before anything is stored (absent: none, e.g. in unit tests). */
  dlp?: DlpService;
}

export class Publisher {
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  private approvalGate: ApprovalGate | null = null;
  private draining = false;
  private readonly familyInTx = new Map<string, NonNullable<AppendInput['inTx']>>();
  private readonly publishedListeners: Array<(p: Principal, pub: Publication, family: string) => void> = [];

  constructor(private readonly d: PublisherDeps) {}

  /** Called after each new (not duplicate) publication is stored and delivered, e.g. to push unread counts. */
  onPublished(fn: (p: Principal, pub: Publication, family: string) => void): void {
    this.publishedListeners.push(fn);
  }

  /**
   * Domain writes every publication of `family` commits with, whichever path publishes it (REST,
   * sockets, services): e.g. a conversation's unread counters. Run before the request's own `inTx`.
   */
  onCommit(family: string, fn: NonNullable<AppendInput['inTx']>): void {
    this.familyInTx.set(family, fn);
  }

  /** The family's writes, then the request's, as one `inTx`. */
  private inTxOf(family: string, req: PublishRequest): AppendInput['inTx'] {
    const f = this.familyInTx.get(family);
    const own = req.inTx;
    if (!f || !own) return f ?? own;
    return async (tx, pub) => [...((await f(tx, pub)) ?? []), ...((await own(tx, pub)) ?? [])];
  }

  /** From now on every new publish is refused with QIAO_DRAINING; those in flight finish (see `idle`). */
  drain(): void {
    this.draining = true;
  }

  setApprovalGate(gate: ApprovalGate): void {
    this.approvalGate = gate;
  }

  /**
   * The entry point of publish commands (REST and sockets): like `publish`, except that on a family
   * that requires approval the publication becomes a pending approval instead of being delivered.
   */
  async submit(p: Principal, req: PublishRequest): Promise<PublishOutcome | PendingOutcome> {
    if (this.draining) throw new QiaoError('QIAO_DRAINING');
    let needsApproval = false;
    try {
      needsApproval = resolveChannel(req.channel).family.requiresApproval === true;
    } catch {
      // A bad name: `publish` reports it with its code.
    }
    if (!needsApproval || !this.approvalGate) return this.publish(p, req);
    let family = 'unknown';
    try {
      const r = await this.check(p, req, false);
      family = r.family.family;
      await this.screen(p, req, r);
      const { approvalId, duplicate } = await this.approvalGate.requestBroadcast(p, {
        channel: r.parsed.name,
        family,
        kind: req.kind as string,
        payload: req.payload,
        idempotencyKey: req.idempotencyKey,
      });
      this.d.metrics.publishes.inc({ family, outcome: 'pending_approval' });
      return { pending: true, approvalId, channel: r.parsed.name, duplicate };
    } catch (e) {
      this.d.metrics.publishes.inc({ family, outcome: isQiaoError(e) ? e.code : 'error' });
      throw e;
    }
  }

  /**
   * Size, authorisation (audited when refused), payload and storability checks shared by every path.
   * Returns the resolved channel and the payload's JSON (what the store writes, made once here).
   */
  private async check(p: Principal, req: PublishRequest, trusted: boolean): Promise<ResolvedChannel & { payloadJson: string }> {
    const payloadJson = JSON.stringify(req.payload ?? null) ?? 'null';
    const size = Buffer.byteLength(payloadJson);
    if (size > this.d.maxPayloadBytes) {
      throw new QiaoError('QIAO_PAYLOAD_TOO_LARGE', `Payload is ${size} bytes; the limit is ${this.d.maxPayloadBytes}`);
    }
    const r = await authorizePublish(p, req.channel, req.kind, req.payload, this.d.access, { trusted }).catch(async (e) => {
      if (isQiaoError(e) && e.code === 'QIAO_PUBLISH_FORBIDDEN') {
        await this.d.audit
          .append({ actorId: p.id, action: 'publish', target: String(req.channel), outcome: 'refused', detail: { code: e.code } })
          .catch(() => {});
      }
      throw e;
    });
    if (UNSTORABLE_JSON.test(payloadJson)) {
      // Postgres text/jsonb cannot hold U+0000 or unpaired surrogates: refuse it here instead of
      // failing in the store and telling the client to retry something that can never succeed.
      throw new QiaoError('QIAO_BAD_PUBLICATION', 'Text must not contain NUL characters or unpaired UTF-16 surrogates');
    }
    return { ...r, payloadJson };
  }

  /**
   * DLP screening of what a person wrote, before anything is stored: a block term throws
   * QIAO_DLP_BLOCKED (the attempt is archived); the market-data feed's alerts are not screened.
   */
  private async screen(p: Principal, req: PublishRequest, r: ResolvedChannel): Promise<ScreenOutcome | undefined> {
    if (!this.d.dlp || p.role === 'feed') return undefined;
    return this.d.dlp.screen(p, {
      channel: r.parsed.name,
      family: r.family.family,
      kind: req.kind as string,
      payload: req.payload,
      subjects: r.parsed.parts.userId ? [r.parsed.parts.userId] : [],
      conversationId: r.parsed.parts.conversationId,
    });
  }

  get pending(): number {
    return this.inFlight;
  }

  async publish(p: Principal, req: PublishRequest, popts: PublishOptions = {}): Promise<PublishOutcome> {
    if (this.draining) throw new QiaoError('QIAO_DRAINING');
    const started = performance.now();
    this.inFlight++;
    let family = 'unknown';
    try {
      const r = await this.check(p, req, popts.trusted === true);
      family = r.family.family;
      if (r.family.requiresApproval && !popts.trusted) {
        // Never delivered without approval, whichever path calls this (publish commands use `submit`).
        throw new QiaoError('QIAO_APPROVAL_REQUIRED');
      }
      const screened = await this.screen(p, req, r);
      const out = await this.d.messages
        .append({
          channel: r.parsed.name,
          family,
          kind: req.kind as string,
          senderId: p.id,
          payload: req.payload,
          payloadJson: r.payloadJson,
          idempotencyKey: req.idempotencyKey,
          // A person's or a source's key must name one request; services retry their own keys.
          strictIdempotency: popts.trusted !== true,
          subjects: r.parsed.parts.userId ? [r.parsed.parts.userId] : [],
          conversationId: r.parsed.parts.conversationId,
          inTx: this.inTxOf(family, req),
          archiveNote: screened?.archiveNote,
        })
        .catch((e) => {
          if (isQiaoError(e)) throw e;
          this.d.logger.error({ err: e, channel: r.parsed.name }, 'publish failed');
          throw new QiaoError('QIAO_UNAVAILABLE', 'Publication was not stored; nothing was written, retry');
        });
      // Committed. The relay puts it on the bus (a duplicate's relay is finished, or left to the
      // sweeper). Waiting for it keeps the usual case "acknowledged = on the bus"; when the bus is
      // slow or down the publisher is still acknowledged: the publication is stored and will be relayed.
      if (!out.duplicate) await this.waitForRelay(out.pub, family);
      this.d.metrics.publishes.inc({ family, outcome: out.duplicate ? 'duplicate' : 'ok' });
      this.d.metrics.publishLatency.observe({ family }, (performance.now() - started) / 1000);
      if (!out.duplicate) {
        for (const l of this.publishedListeners) {
          try {
            l(p, out.pub, family);
          } catch (err) {
            this.d.logger.error({ err, channel: out.pub.channel }, 'publish listener failed');
          }
        }
      }
      return screened?.reply ? { ...out, dlp: screened.reply } : out;
    } catch (e) {
      this.d.metrics.publishes.inc({ family, outcome: isQiaoError(e) ? e.code : 'error' });
      throw e;
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /**
   * Several publications of a trusted service committed in one transaction (MessagesRepo.appendMany),
   * with `after` writing the service's rows for all of them; then relayed concurrently (each channel
   * still in offset order). All or nothing: a request that fails its checks fails the whole call
   * before anything is written, so callers validate first. No idempotency keys.
   */
  async publishMany(p: Principal, reqs: PublishRequest[], after?: (tx: Tx, pubs: Publication[]) => Promise<void>): Promise<Publication[]> {
    if (this.draining) throw new QiaoError('QIAO_DRAINING');
    if (reqs.length === 0) return [];
    const started = performance.now();
    this.inFlight++;
    try {
      const inputs: AppendInput[] = [];
      for (const req of reqs) {
        if (req.idempotencyKey) throw new Error('publishMany takes no idempotency keys');
        const r = await this.check(p, req, true);
        const screened = await this.screen(p, req, r);
        inputs.push({
          channel: r.parsed.name,
          family: r.family.family,
          kind: req.kind as string,
          senderId: p.id,
          payload: req.payload,
          payloadJson: r.payloadJson,
          subjects: r.parsed.parts.userId ? [r.parsed.parts.userId] : [],
          conversationId: r.parsed.parts.conversationId,
          inTx: this.inTxOf(r.family.family, req),
          archiveNote: screened?.archiveNote,
        });
      }
      const pubs = await this.d.messages.appendMany(inputs, after).catch((e) => {
        if (isQiaoError(e)) throw e;
        this.d.logger.error({ err: e, count: inputs.length }, 'batch publish failed');
        throw new QiaoError('QIAO_UNAVAILABLE', 'Publications were not stored; nothing was written, retry');
      });
      await this.waitFor(this.d.relay.relayMany(pubs.map((pub, i) => ({ pub, family: inputs[i].family }))));
      const seconds = (performance.now() - started) / 1000;
      pubs.forEach((pub, i) => {
        const family = inputs[i].family;
        this.d.metrics.publishes.inc({ family, outcome: 'ok' });
        this.d.metrics.publishLatency.observe({ family }, seconds);
        for (const l of this.publishedListeners) {
          try {
            l(p, pub, family);
          } catch (err) {
            this.d.logger.error({ err, channel: pub.channel }, 'publish listener failed');
          }
        }
      });
      return pubs;
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private waitForRelay(pub: Publication, family: string): Promise<void> {
    return this.waitFor(this.d.relay.relay(pub, family));
  }

  /** Waits for a relay, at most relayWaitMs: the publications are committed whatever its fate. */
  private async waitFor(relayed: Promise<unknown>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.d.relayWaitMs ?? 2000);
    });
    try {
      await Promise.race([relayed, timeout]);
    } finally {
      clearTimeout(timer);
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

/**
 * Text Postgres text/jsonb cannot hold, as JSON.stringify writes it: NUL is always escaped (\u0000)
 * and an unpaired surrogate is escaped too (\ud800–\udfff; paired ones are written as they are). An
 * escape is a backslash preceded by an even run of backslashes (an escaped backslash is "\\").
 * Matching the JSON checks every string and key at any depth, exactly as it will be stored.
 */
const UNSTORABLE_JSON = /(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f][0-9a-f]{2})/;
