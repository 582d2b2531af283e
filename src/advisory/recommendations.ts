/**
 * Recommendations through the suitability gate (证券期货投资者适当性管理办法).
 *
 * A broker recommends a security or product (risk R1–R5) to one or more of its own clients (primary or
 * shared_full relation; anyone else → QIAO_FORBIDDEN, the whole request refused). Per client, with the
 * client's current risk level, assessment date and professional flag:
 * - suitable (level, or professional investor) → delivered to `inbox.<clientId>` as a `recommendation`,
 *   the row, the message and its suitability record committed together (publish path, inTx);
 * - not suitable, or no / an expired assessment → a `refused` row with the code and the levels, and a
 *   `suitability.refusal` archive record; nothing is delivered.
 * When the batch would make the broker reach more than 25 distinct ordinary clients with the same
 * security within 30 days, its suitable part waits for a compliance user's approval instead
 * (src/advisory/approvals.ts), which re-checks suitability before delivering.
 *
 * Two phases keep this safe on several nodes: phase A (one transaction, under an advisory lock per broker
 * and security, so concurrent batches count each other) decides and writes every row — `refused`,
 * `pending_approval` or `sending`; phase B delivers each `sending` row in its own publish transaction that
 * flips it to `delivered` only if it is still `sending`. A retry with the same Idempotency-Key (or an
 * approval) finishes what a crash left in `sending`, and never delivers twice. A request with a key already
 * used for a different request (other clients, security, product, rationale or research note) is refused
 * with QIAO_IDEMPOTENCY_MISMATCH and changes nothing (src/domain/idempotency.ts).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { and, desc, eq, gt, inArray, sql } from 'drizzle-orm';
import { authorizeSubscribe, type AccessContext } from '../../channels/catalogue.ts';
import { SECURITY_RE } from '../../channels/family.ts';
import type { Principal } from '../auth/principal.ts';
import { assertSameRequest, sameJson } from '../domain/idempotency.ts';
import { checkSuitability, type ClientRisk, type ProductRisk, type SuitabilityDecision } from '../domain/suitability.ts';
import { QiaoError, isQiaoError, type ErrorCode } from '../errors/codes.ts';
import type { DlpService } from '../compliance/dlp.ts';
import type { Publisher } from '../hub/publisher.ts';
import type { ArchiveInput, ArchiveRepo } from '../store/archive-repo.ts';
import type { AuditRepo } from '../store/audit-repo.ts';
import type { Db } from '../store/db.ts';
import type { Tx } from '../store/messages-repo.ts';
import { approvals, brokerClients, messages, recommendations, users } from '../store/schema/index.ts';
import { toPrincipal } from '../store/users-repo.ts';
import { DAY_MS, StaleState, assertStorable, isUniqueViolation, lockKey, mapLimit } from './common.ts';

/** More distinct ordinary clients than this with one security within the window needs approval. */
export const APPROVAL_CLIENT_LIMIT = 25;
export const APPROVAL_WINDOW_DAYS = 30;
/** Deliveries of one batch in flight at once. */
const DELIVERY_CONCURRENCY = 4;

export interface RecommendationRequest {
  clientIds: string[];
  security: string;
  productName?: string;
  productRisk: ProductRisk;
  rationale: string;
  researchMessageId?: string;
  /** The Idempotency-Key header. */
  requestKey?: string;
}

export type RecommendationOutcome = 'delivered' | 'refused' | 'pending_approval' | 'rejected' | 'failed';

export interface ClientResult {
  clientId: string;
  recommendationId: string;
  outcome: RecommendationOutcome;
  /** Refusal code (suitability), QIAO_FORBIDDEN (no longer assigned at approval) or QIAO_UNAVAILABLE (failed: retry). */
  code?: ErrorCode;
  basis?: 'level' | 'professional';
  clientRisk: string | null;
  clientRiskAssessedOn: string | null;
  professionalInvestor: boolean;
  productRisk: string;
  messageId?: string;
}

export interface RecommendationBatch {
  batchId: string;
  approvalId: string | null;
  /** True when an earlier request with the same Idempotency-Key is returned (and finished). */
  duplicate: boolean;
  results: ClientResult[];
  counts: Record<RecommendationOutcome, number>;
}

export interface RecommendationView {
  id: string;
  batchId: string;
  brokerId: string;
  clientId: string;
  clientName: string;
  security: string;
  productName: string | null;
  productRisk: string;
  rationale: string;
  status: string;
  refusalCode: string | null;
  basis: string | null;
  clientRiskLevel: string | null;
  professionalInvestor: boolean;
  approvalId: string | null;
  decidedBy: string | null;
  decidedAt: string | null;
  createdAt: string;
}

export interface RecommendableClient {
  id: string;
  displayName: string;
  tier: string | null;
  riskLevel: string | null;
  riskAssessedOn: string | null;
  professionalInvestor: boolean;
  relation: string;
}

export interface RecommendationsDeps {
  db: Db;
  publisher: Publisher;
  archive: ArchiveRepo;
  audit: AuditRepo;
  access: AccessContext;
  logger: FastifyBaseLogger;
  /** DLP screening of the rationale before anything is recorded (absent: only the publish path screens). */
  dlp?: Pick<DlpService, 'screen'>;
}

type RecRow = typeof recommendations.$inferSelect;
/** A row after a delivery attempt; `failure`: why it is still `sending` (retry, or e.g. a DLP block). */
export type DeliveredRow = RecRow & { failure?: ErrorCode };
type ClientRow = Pick<typeof users.$inferSelect, 'id' | 'displayName' | 'tier' | 'riskLevel' | 'riskAssessedOn' | 'professionalInvestor'> & { riskExpiresOn?: string | null };

const RECOMMENDING_RELATIONS = ['primary', 'shared_full'] as const;

export function decide(c: ClientRow, productRisk: ProductRisk, now: Date): SuitabilityDecision {
  return checkSuitability({
    clientRisk: c.riskLevel as ClientRisk | null,
    assessedOn: c.riskAssessedOn,
    expiresOn: c.riskExpiresOn ?? null,
    professional: c.professionalInvestor,
    productRisk,
    now,
  });
}

export function refusalRecord(r: RecRow, stage: 'send' | 'approval', actorId: string, at: Date): ArchiveInput {
  return {
    kind: 'suitability.refusal',
    actorId,
    subjects: [r.brokerId, r.clientId],
    retentionClass: 'suitability',
    body: {
      recommendationId: r.id,
      batchId: r.batchId,
      brokerId: r.brokerId,
      clientId: r.clientId,
      security: r.security,
      productName: r.productName,
      productRisk: r.productRisk,
      clientRisk: r.clientRiskLevel,
      clientRiskAssessedOn: r.clientRiskAssessedOn,
      professionalInvestor: r.professionalInvestor,
      code: r.refusalCode,
      stage,
      approvalId: r.approvalId,
      at: at.toISOString(),
    },
    text: [r.security, r.productName, r.refusalCode].filter(Boolean).join(' '),
    recordedAt: at,
  };
}

function resultOf(r: DeliveredRow): ClientResult {
  const outcome: RecommendationOutcome = r.status === 'sending' ? 'failed' : r.status;
  const code = (r.status === 'sending' ? (r.failure ?? 'QIAO_UNAVAILABLE') : (r.refusalCode ?? undefined)) as ErrorCode | undefined;
  return {
    clientId: r.clientId,
    recommendationId: r.id,
    outcome,
    ...(code ? { code } : {}),
    ...(r.basis ? { basis: r.basis } : {}),
    clientRisk: r.clientRiskLevel,
    clientRiskAssessedOn: r.clientRiskAssessedOn,
    professionalInvestor: r.professionalInvestor,
    productRisk: r.productRisk,
    ...(r.messageId ? { messageId: r.messageId } : {}),
  };
}

/** The fields that define a recommendation request besides its clients, as the rows store them. */
function requestFields(r: Pick<RecRow, 'security' | 'productRisk' | 'rationale'> & { productName?: string | null; researchMessageId?: string | null }) {
  return {
    security: r.security,
    productName: r.productName ?? null,
    productRisk: r.productRisk,
    rationale: r.rationale,
    researchMessageId: r.researchMessageId?.toLowerCase() ?? null,
  };
}

/**
 * A retry with an Idempotency-Key already used: the stored batch must be the same request — the same
 * set of clients (ids lower-cased and de-duplicated, as stored; order does not matter) and the same
 * security, product, risk, rationale and research note — else QIAO_IDEMPOTENCY_MISMATCH.
 */
export function assertSameBatchRequest(prior: RecRow[], req: RecommendationRequest, clientIds: string[]): void {
  const first = requestFields(prior[0]);
  // Every row of one batch carries the same request; rows that disagree cannot be this request.
  if (prior.some((r) => !sameJson(requestFields(r), first))) throw new QiaoError('QIAO_IDEMPOTENCY_MISMATCH');
  assertSameRequest(
    { ...first, clientIds: [...new Set(prior.map((r) => r.clientId))].sort() },
    { ...requestFields(req), clientIds: [...new Set(clientIds)].sort() },
  );
}

/** Thrown inside the batch transaction when the Idempotency-Key was taken meanwhile (rolls it back). */
class KeyTaken extends Error {}

export function batchOf(rows: DeliveredRow[], duplicate: boolean): RecommendationBatch {
  const results = rows.map(resultOf);
  const counts: Record<RecommendationOutcome, number> = { delivered: 0, refused: 0, pending_approval: 0, rejected: 0, failed: 0 };
  for (const r of results) counts[r.outcome]++;
  return { batchId: rows[0]?.batchId ?? '', approvalId: rows.find((r) => r.approvalId)?.approvalId ?? null, duplicate, results, counts };
}

export class RecommendationsService {
  constructor(private readonly d: RecommendationsDeps) {}

  /** Clients this broker may recommend to (primary or shared_full relation). */
  async clientsOf(p: Principal): Promise<RecommendableClient[]> {
    if (p.role !== 'broker') throw new QiaoError('QIAO_FORBIDDEN', 'Only brokers recommend to clients');
    const rows = await this.d.db
      .select({
        id: users.id,
        displayName: users.displayName,
        tier: users.tier,
        riskLevel: users.riskLevel,
        riskAssessedOn: users.riskAssessedOn,
        riskExpiresOn: users.riskExpiresOn,
        professionalInvestor: users.professionalInvestor,
        relation: brokerClients.relation,
      })
      .from(brokerClients)
      .innerJoin(users, eq(users.id, brokerClients.clientId))
      .where(and(eq(brokerClients.brokerId, p.id), inArray(brokerClients.relation, [...RECOMMENDING_RELATIONS]), eq(users.role, 'client'), eq(users.active, true)))
      .orderBy(users.displayName);
    return rows;
  }

  async recommend(p: Principal, req: RecommendationRequest, now = new Date()): Promise<RecommendationBatch> {
    if (p.role !== 'broker') throw new QiaoError('QIAO_FORBIDDEN', 'Only brokers recommend to clients');
    if (!SECURITY_RE.test(req.security)) throw new QiaoError('QIAO_SECURITY_INVALID');
    assertStorable({ rationale: req.rationale, productName: req.productName, security: req.security });
    const clientIds = [...new Set(req.clientIds.map((id) => id.toLowerCase()))];

    const clients = await this.assignedClients(p.id, clientIds);
    const foreign = clientIds.filter((id) => !clients.has(id));
    if (foreign.length) {
      await this.d.audit
        .append({ actorId: p.id, action: 'recommend', target: foreign.join(','), outcome: 'refused', detail: { code: 'QIAO_FORBIDDEN', security: req.security } })
        .catch(() => {});
      throw new QiaoError('QIAO_FORBIDDEN', 'You may recommend only to your own clients (primary or shared_full)', { clientIds: foreign });
    }
    if (req.researchMessageId) await this.researchTitle(p, req.researchMessageId.toLowerCase());
    // A prohibited term (e.g. 保本) stops the whole request before any row is written.
    await this.d.dlp?.screen(p, {
      channel: `inbox.${clientIds[0]}`,
      family: 'inbox',
      kind: 'recommendation',
      payload: { title: [req.security, req.productName].filter(Boolean).join(' '), body: req.rationale },
      subjects: clientIds,
    });

    if (req.requestKey) {
      const prior = await this.batchByKey(p.id, req.requestKey);
      if (prior.length) {
        assertSameBatchRequest(prior, req, clientIds);
        return this.finish(p, prior, true);
      }
    }

    const batchId = randomUUID();
    let rows: RecRow[];
    try {
      rows = await this.d.db.transaction(async (tx) => {
        if (req.requestKey) {
          // The unique index is per client, so two requests with one key and disjoint clients would not
          // collide there: serialise requests with the same key (taken before the security lock, always
          // in this order) and look again for a batch committed meanwhile.
          await lockKey(tx, `qiao:recommend-key:${p.id}:${req.requestKey}`);
          const [taken] = await tx
            .select({ id: recommendations.id })
            .from(recommendations)
            .where(and(eq(recommendations.brokerId, p.id), eq(recommendations.requestKey, req.requestKey)))
            .limit(1);
          if (taken) throw new KeyTaken();
        }
        // Serialises batches of one broker and security on every node, so the count below sees them all.
        await lockKey(tx, `qiao:recommend:${p.id}:${req.security}`);
        const decisions = clientIds.map((id) => ({ c: clients.get(id)!, d: decide(clients.get(id)!, req.productRisk, now) }));
        const reach = await this.reachedClients(tx, p.id, req.security, now);
        for (const x of decisions) if (x.d.ok && !x.c.professionalInvestor) reach.add(x.c.id);
        const needsApproval = reach.size > APPROVAL_CLIENT_LIMIT && decisions.some((x) => x.d.ok);
        let approvalId: string | null = null;
        if (needsApproval) {
          const [a] = await tx
            .insert(approvals)
            .values({
              kind: 'recommendation',
              requestedBy: p.id,
              payload: {
                batchId,
                security: req.security,
                productName: req.productName ?? null,
                productRisk: req.productRisk,
                rationale: req.rationale,
                clientCount: decisions.filter((x) => x.d.ok).length,
                reach: reach.size,
                windowDays: APPROVAL_WINDOW_DAYS,
              },
            })
            .returning({ id: approvals.id });
          approvalId = a.id;
        }
        const inserted = await tx
          .insert(recommendations)
          .values(
            decisions.map(({ c, d }) => ({
              batchId,
              brokerId: p.id,
              clientId: c.id,
              security: req.security,
              productName: req.productName ?? null,
              productRisk: req.productRisk,
              rationale: req.rationale,
              researchMessageId: req.researchMessageId?.toLowerCase() ?? null,
              clientRiskLevel: c.riskLevel,
              clientRiskAssessedOn: c.riskAssessedOn,
              professionalInvestor: c.professionalInvestor,
              status: d.ok ? (approvalId ? ('pending_approval' as const) : ('sending' as const)) : ('refused' as const),
              refusalCode: d.ok ? null : d.code,
              basis: d.ok ? d.basis : null,
              approvalId: d.ok ? approvalId : null,
              requestKey: req.requestKey ?? null,
              createdAt: now,
            })),
          )
          .returning();
        for (const r of inserted) if (r.status === 'refused') await this.d.archive.append(refusalRecord(r, 'send', p.id, now), tx);
        if (approvalId) {
          const waiting = inserted.filter((r) => r.status === 'pending_approval');
          await this.d.archive.append(
            {
              kind: 'approval.requested',
              actorId: p.id,
              subjects: [p.id, ...waiting.map((r) => r.clientId)],
              retentionClass: 'compliance-activity',
              body: {
                approvalId,
                kind: 'recommendation',
                batchId,
                security: req.security,
                productRisk: req.productRisk,
                reach: reach.size,
                limit: APPROVAL_CLIENT_LIMIT,
                recommendationIds: waiting.map((r) => r.id),
              },
              text: `${req.security} ${req.productName ?? ''}`.trim(),
              recordedAt: now,
            },
            tx,
          );
        }
        return inserted;
      });
    } catch (e) {
      // The same Idempotency-Key raced us on another request: return that one if it is this request.
      if (req.requestKey && (e instanceof KeyTaken || isUniqueViolation(e))) {
        const prior = await this.batchByKey(p.id, req.requestKey);
        if (prior.length) {
          assertSameBatchRequest(prior, req, clientIds);
          return this.finish(p, prior, true);
        }
      }
      throw e;
    }
    return this.finish(p, rows, false);
  }

  /** Delivers the batch's `sending` rows (phase B) and reports every row in request order. */
  private async finish(sender: Principal, rows: RecRow[], duplicate: boolean): Promise<RecommendationBatch> {
    const delivered = await this.deliverRows(sender, rows);
    return batchOf(delivered, duplicate);
  }

  /**
   * Phase B: publishes every `sending` row to the client's inbox, flipping it to `delivered` in the same
   * transaction; returns the rows as they are afterwards (a failed one stays `sending`, reported failed).
   */
  async deliverRows(sender: Principal, rows: RecRow[], approvedBy?: { id: string; at: Date }): Promise<DeliveredRow[]> {
    const titles = new Map<string, string>();
    for (const id of new Set(rows.filter((r) => r.status === 'sending' && r.researchMessageId).map((r) => r.researchMessageId!))) {
      const [m] = await this.d.db.select({ payload: messages.payload }).from(messages).where(eq(messages.id, id)).limit(1);
      const title = (m?.payload as { title?: unknown } | undefined)?.title;
      if (typeof title === 'string') titles.set(id, title.slice(0, 200));
    }
    return mapLimit(rows, DELIVERY_CONCURRENCY, async (r): Promise<DeliveredRow> => {
      if (r.status !== 'sending') return r;
      try {
        return await this.deliverOne(sender, r, titles, approvedBy);
      } catch (e) {
        if (e instanceof StaleState) return (await this.row(r.id)) ?? r;
        this.d.logger.warn({ err: e, recommendation: r.id }, 'recommendation delivery failed; stays sending for a retry');
        if (!isQiaoError(e)) throw e;
        return { ...r, failure: e.code };
      }
    });
  }

  private async deliverOne(sender: Principal, r: RecRow, titles: Map<string, string>, approvedBy?: { id: string; at: Date }): Promise<RecRow> {
    let updated: RecRow | undefined;
    const researchTitle = r.researchMessageId ? titles.get(r.researchMessageId) : undefined;
    await this.d.publisher.publish(
      sender,
      {
        channel: `inbox.${r.clientId}`,
        kind: 'recommendation',
        payload: {
          recommendationId: r.id,
          title: `投资建议 · ${r.security}${r.productName ? ` ${r.productName}` : ''}`.slice(0, 300),
          security: r.security,
          ...(r.productName ? { productName: r.productName } : {}),
          riskLevel: r.productRisk,
          body: r.rationale,
          ...(r.researchMessageId ? { researchMessageId: r.researchMessageId } : {}),
          ...(researchTitle ? { researchTitle } : {}),
          basis: r.basis ?? 'level',
          brokerName: sender.displayName.slice(0, 100),
        },
        idempotencyKey: `rec:${r.id}`,
        inTx: async (tx: Tx, pub) => {
          const [u] = await tx
            .update(recommendations)
            .set({ status: 'delivered', messageId: pub.id })
            .where(and(eq(recommendations.id, r.id), eq(recommendations.status, 'sending')))
            .returning();
          if (!u) throw new StaleState();
          updated = u;
          const at = new Date(pub.time);
          return [
            {
              kind: 'suitability.delivered',
              actorId: r.brokerId,
              subjects: [r.brokerId, r.clientId],
              channel: pub.channel,
              retentionClass: 'suitability',
              body: {
                recommendationId: r.id,
                batchId: r.batchId,
                brokerId: r.brokerId,
                clientId: r.clientId,
                security: r.security,
                productName: r.productName,
                productRisk: r.productRisk,
                clientRisk: u.clientRiskLevel,
                clientRiskAssessedOn: u.clientRiskAssessedOn,
                professionalInvestor: u.professionalInvestor,
                basis: u.basis,
                messageId: pub.id,
                approvalId: u.approvalId,
                approvedBy: approvedBy?.id ?? null,
                approvedAt: approvedBy?.at.toISOString() ?? null,
                at: pub.time,
              },
              text: [r.security, r.productName].filter(Boolean).join(' '),
              recordedAt: at,
            },
          ];
        },
      },
      { trusted: true },
    );
    return updated ?? (await this.row(r.id)) ?? r;
  }

  /** Recommendations: a broker's own; compliance and admin see all. */
  async list(p: Principal, q: { status?: RecRow['status']; clientId?: string; limit: number }): Promise<RecommendationView[]> {
    if (p.role !== 'broker' && p.role !== 'compliance' && p.role !== 'admin') throw new QiaoError('QIAO_FORBIDDEN');
    const where = [
      p.role === 'broker' ? eq(recommendations.brokerId, p.id) : undefined,
      q.status ? eq(recommendations.status, q.status) : undefined,
      q.clientId ? eq(recommendations.clientId, q.clientId.toLowerCase()) : undefined,
    ].filter((x) => x !== undefined);
    const rows = await this.d.db
      .select({ r: recommendations, clientName: users.displayName })
      .from(recommendations)
      .innerJoin(users, eq(users.id, recommendations.clientId))
      .where(where.length ? and(...where) : undefined)
      .orderBy(desc(recommendations.createdAt), recommendations.id)
      .limit(q.limit);
    return rows.map(({ r, clientName }) => ({
      id: r.id,
      batchId: r.batchId,
      brokerId: r.brokerId,
      clientId: r.clientId,
      clientName,
      security: r.security,
      productName: r.productName,
      productRisk: r.productRisk,
      rationale: r.rationale,
      status: r.status,
      refusalCode: r.refusalCode,
      basis: r.basis,
      clientRiskLevel: r.clientRiskLevel,
      professionalInvestor: r.professionalInvestor,
      approvalId: r.approvalId,
      decidedBy: r.decidedBy,
      decidedAt: r.decidedAt?.toISOString() ?? null,
      createdAt: r.createdAt.toISOString(),
    }));
  }

  async row(id: string): Promise<RecRow | undefined> {
    const [r] = await this.d.db.select().from(recommendations).where(eq(recommendations.id, id)).limit(1);
    return r;
  }

  async rowsOfApproval(approvalId: string): Promise<RecRow[]> {
    return this.d.db.select().from(recommendations).where(eq(recommendations.approvalId, approvalId)).orderBy(recommendations.createdAt, recommendations.id);
  }

  /** The requested clients this broker may recommend to, by id, with what the gate needs. */
  async assignedClients(brokerId: string, clientIds: string[], tx: Pick<Db, 'select'> = this.d.db): Promise<Map<string, ClientRow>> {
    if (!clientIds.length) return new Map();
    const rows = await tx
      .select({
        id: users.id,
        displayName: users.displayName,
        tier: users.tier,
        riskLevel: users.riskLevel,
        riskAssessedOn: users.riskAssessedOn,
        riskExpiresOn: users.riskExpiresOn,
        professionalInvestor: users.professionalInvestor,
      })
      .from(brokerClients)
      .innerJoin(users, eq(users.id, brokerClients.clientId))
      .where(
        and(
          eq(brokerClients.brokerId, brokerId),
          inArray(brokerClients.clientId, clientIds),
          inArray(brokerClients.relation, [...RECOMMENDING_RELATIONS]),
          eq(users.role, 'client'),
          eq(users.active, true),
        ),
      );
    return new Map(rows.map((r) => [r.id, r]));
  }

  /** Distinct ordinary clients this broker reached (or is about to) with the security in the window. */
  private async reachedClients(tx: Tx, brokerId: string, security: string, now: Date): Promise<Set<string>> {
    const since = new Date(now.getTime() - APPROVAL_WINDOW_DAYS * DAY_MS);
    const rows = await tx
      .selectDistinct({ c: recommendations.clientId })
      .from(recommendations)
      .where(
        and(
          eq(recommendations.brokerId, brokerId),
          eq(recommendations.security, security),
          gt(recommendations.createdAt, since),
          inArray(recommendations.status, ['sending', 'delivered', 'pending_approval']),
          eq(recommendations.professionalInvestor, false),
        ),
      );
    return new Set(rows.map((r) => r.c));
  }

  private async batchByKey(brokerId: string, key: string): Promise<RecRow[]> {
    return this.d.db
      .select()
      .from(recommendations)
      .where(and(eq(recommendations.brokerId, brokerId), eq(recommendations.requestKey, key)))
      .orderBy(recommendations.createdAt, recommendations.id);
  }

  /** The research note a recommendation rests on must exist and be readable by the broker. */
  private async researchTitle(p: Principal, id: string): Promise<string | undefined> {
    const [m] = await this.d.db
      .select({ channel: messages.channel, kind: messages.kind, payload: messages.payload })
      .from(messages)
      .where(eq(messages.id, id))
      .limit(1);
    if (!m || m.kind !== 'note' || !m.channel.startsWith('research.')) throw new QiaoError('QIAO_RESEARCH_NOTE_INVALID');
    try {
      await authorizeSubscribe(p, m.channel, this.d.access);
    } catch {
      throw new QiaoError('QIAO_RESEARCH_NOTE_INVALID');
    }
    const title = (m.payload as { title?: unknown }).title;
    return typeof title === 'string' ? title : undefined;
  }

  /** The broker as a principal (the sender of deliveries an approval releases). */
  async principalOf(userId: string): Promise<Principal | undefined> {
    const [u] = await this.d.db.select().from(users).where(eq(users.id, userId)).limit(1);
    return u ? toPrincipal(u) : undefined;
  }
}

/** For approvals: count rows still waiting, to tell a resumable approval from a finished one. */
export async function countSending(db: Db, approvalId: string): Promise<number> {
  const [r] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(recommendations)
    .where(and(eq(recommendations.approvalId, approvalId), eq(recommendations.status, 'sending')));
  return Number(r?.n ?? 0);
}
