/**
 * Compliance approvals: recommendation batches over the 25-clients/30-days limit, and every firm-wide
 * broadcast. Only a compliance user approves or rejects; approver, time and note are kept on the row
 * and in the archive.
 *
 * - Broadcast: an admin's publish to `firm.broadcast` becomes a pending approval (Publisher.submit →
 *   `requestBroadcast`). Approving publishes it as the requester, flipping the approval to `approved`
 *   in the same transaction (only if still pending), so two approvers on two nodes deliver it once.
 *   A retried publish with the same Idempotency-Key returns the same approval; the same key with another
 *   channel, kind or payload is refused with QIAO_IDEMPOTENCY_MISMATCH.
 * - Recommendation batch: approving re-checks each client's suitability now (and that the client is
 *   still the broker's), records refusals, then delivers the rest through the recommendation service.
 *   Approving an approved batch again resumes deliveries a crash interrupted (rows still `sending`).
 */
import type { FastifyBaseLogger } from 'fastify';
import { and, desc, eq, inArray } from 'drizzle-orm';
import { authorizePublish, type AccessContext } from '../../channels/catalogue.ts';
import type { Principal } from '../auth/principal.ts';
import { assertSameRequest } from '../domain/idempotency.ts';
import type { ProductRisk } from '../domain/suitability.ts';
import { QiaoError } from '../errors/codes.ts';
import type { ApprovalGate, Publisher } from '../hub/publisher.ts';
import type { ArchiveInput, ArchiveRepo } from '../store/archive-repo.ts';
import type { Db } from '../store/db.ts';
import { approvals, messages, recommendations, users } from '../store/schema/index.ts';
import { StaleState, assertStorable, isUniqueViolation } from './common.ts';
import { batchOf, countSending, decide, refusalRecord, type RecommendationBatch, type RecommendationsService } from './recommendations.ts';

export type ApprovalStatus = 'pending' | 'approved' | 'rejected';

export interface ApprovalView {
  id: string;
  kind: 'recommendation' | 'broadcast';
  status: ApprovalStatus;
  requestedBy: { id: string; displayName: string };
  payload: unknown;
  decidedBy: string | null;
  /** The decider's display name (for the history of decided items). */
  decidedByName: string | null;
  decidedAt: string | null;
  note: string | null;
  messageId: string | null;
  createdAt: string;
}

export interface ApprovalDecision {
  approval: ApprovalView;
  /** Broadcast: the delivered publication. */
  publication?: { channel: string; id: string; offset: number };
  /** Recommendation batch: per-client outcomes after the re-check. */
  batch?: RecommendationBatch;
}

export interface ApprovalsDeps {
  db: Db;
  publisher: Publisher;
  archive: ArchiveRepo;
  access: AccessContext;
  recommendations: RecommendationsService;
  logger: FastifyBaseLogger;
}

type ApprovalRow = typeof approvals.$inferSelect;

interface BroadcastPayload {
  channel: string;
  family: string;
  kind: string;
  payload: unknown;
}

/** A value as jsonb gives it back (what JSON.stringify keeps: undefined dropped, non-finite numbers null). */
function asStoredJson(v: unknown): unknown {
  if (v === undefined) return undefined;
  try {
    return JSON.parse(JSON.stringify(v)) as unknown;
  } catch {
    return v; // not storable as JSON (e.g. nested too deeply): compared as it is, so it differs.
  }
}

/** A retried broadcast with a used Idempotency-Key must be the stored request: channel, kind and payload. */
function assertSameBroadcast(prior: ApprovalRow, req: { channel: string; kind: string; payload: unknown }): void {
  if (prior.kind !== 'broadcast') throw new QiaoError('QIAO_IDEMPOTENCY_MISMATCH');
  const b = prior.payload as BroadcastPayload;
  assertSameRequest({ channel: b.channel, kind: b.kind, payload: b.payload }, { channel: req.channel, kind: req.kind, payload: asStoredJson(req.payload) });
}

function decisionRecord(a: ApprovalRow, status: 'approved' | 'rejected', by: Principal, at: Date, extra: Record<string, unknown> = {}): ArchiveInput {
  return {
    kind: `approval.${status}`,
    actorId: by.id,
    subjects: [by.id, a.requestedBy],
    retentionClass: 'compliance-activity',
    body: { approvalId: a.id, kind: a.kind, requestedBy: a.requestedBy, decidedBy: by.id, decidedAt: at.toISOString(), note: a.note ?? null, ...extra },
    text: a.note ?? '',
    recordedAt: at,
  };
}

export class ApprovalsService implements ApprovalGate {
  constructor(private readonly d: ApprovalsDeps) {}

  /** ApprovalGate: a firm-wide broadcast waits here (already authorised and validated by the publisher). */
  async requestBroadcast(
    p: Principal,
    req: { channel: string; family: string; kind: string; payload: unknown; idempotencyKey?: string },
  ): Promise<{ approvalId: string; duplicate: boolean }> {
    if (req.idempotencyKey) {
      const prior = await this.byKey(p.id, req.idempotencyKey);
      if (prior) {
        assertSameBroadcast(prior, req);
        return { approvalId: prior.id, duplicate: true };
      }
      // The key already names a publication of this sender: one on another channel (a broadcast is
      // published only on approval, under the approval's own key), so a different request.
      const [pub] = await this.d.db
        .select({ id: messages.id })
        .from(messages)
        .where(and(eq(messages.senderId, p.id), eq(messages.idempotencyKey, req.idempotencyKey)))
        .limit(1);
      if (pub) throw new QiaoError('QIAO_IDEMPOTENCY_MISMATCH');
    }
    try {
      const id = await this.d.db.transaction(async (tx) => {
        const payload: BroadcastPayload = { channel: req.channel, family: req.family, kind: req.kind, payload: req.payload };
        const [a] = await tx
          .insert(approvals)
          .values({ kind: 'broadcast', requestedBy: p.id, payload, idempotencyKey: req.idempotencyKey ?? null })
          .returning();
        const title = (req.payload as { title?: unknown } | null)?.title;
        await this.d.archive.append(
          {
            kind: 'approval.requested',
            actorId: p.id,
            subjects: [p.id],
            channel: req.channel,
            retentionClass: 'compliance-activity',
            body: { approvalId: a.id, kind: 'broadcast', channel: req.channel, messageKind: req.kind, payload: req.payload as object },
            text: typeof title === 'string' ? title : '',
            recordedAt: a.createdAt,
          },
          tx,
        );
        return a.id;
      });
      return { approvalId: id, duplicate: false };
    } catch (e) {
      if (req.idempotencyKey && isUniqueViolation(e)) {
        const prior = await this.byKey(p.id, req.idempotencyKey);
        if (prior) {
          assertSameBroadcast(prior, req);
          return { approvalId: prior.id, duplicate: true };
        }
      }
      throw e;
    }
  }

  /** Compliance and admin see every approval; anyone else only their own requests. */
  async list(p: Principal, q: { status?: ApprovalStatus; kind?: 'recommendation' | 'broadcast'; limit: number }): Promise<ApprovalView[]> {
    if (p.role === 'client' || p.role === 'feed') throw new QiaoError('QIAO_FORBIDDEN');
    const where = [
      q.status ? eq(approvals.status, q.status) : undefined,
      q.kind ? eq(approvals.kind, q.kind) : undefined,
      p.role === 'compliance' || p.role === 'admin' ? undefined : eq(approvals.requestedBy, p.id),
    ].filter((x) => x !== undefined);
    const rows = await this.d.db
      .select({ a: approvals, name: users.displayName })
      .from(approvals)
      .innerJoin(users, eq(users.id, approvals.requestedBy))
      .where(where.length ? and(...where) : undefined)
      .orderBy(desc(approvals.createdAt), approvals.id)
      .limit(q.limit);
    const names = await this.namesOf(rows.map((r) => r.a.decidedBy));
    return rows.map(({ a, name }) => view(a, name, a.decidedBy ? names.get(a.decidedBy) : undefined));
  }

  async get(p: Principal, id: string): Promise<ApprovalView> {
    const row = await this.row(id);
    if (!row) throw new QiaoError('QIAO_NOT_FOUND', 'No such approval');
    if (p.role !== 'compliance' && p.role !== 'admin' && row.requestedBy !== p.id) throw new QiaoError('QIAO_FORBIDDEN');
    return this.viewOf(row);
  }

  async approve(p: Principal, id: string, note: string | undefined, now = new Date()): Promise<ApprovalDecision> {
    this.mustBeCompliance(p);
    if (note !== undefined) assertStorable({ note });
    const a = await this.row(id);
    if (!a) throw new QiaoError('QIAO_NOT_FOUND', 'No such approval');
    return a.kind === 'broadcast' ? this.approveBroadcast(p, a, note, now) : this.approveRecommendations(p, a, note, now);
  }

  async reject(p: Principal, id: string, note: string | undefined, now = new Date()): Promise<ApprovalDecision> {
    this.mustBeCompliance(p);
    if (note !== undefined) assertStorable({ note });
    const a = await this.row(id);
    if (!a) throw new QiaoError('QIAO_NOT_FOUND', 'No such approval');
    const decided = await this.d.db.transaction(async (tx) => {
      const [u] = await tx
        .update(approvals)
        .set({ status: 'rejected', decidedBy: p.id, decidedAt: now, note: note ?? null })
        .where(and(eq(approvals.id, a.id), eq(approvals.status, 'pending')))
        .returning();
      if (!u) throw new QiaoError('QIAO_APPROVAL_NOT_PENDING');
      const recs =
        u.kind === 'recommendation'
          ? await tx
              .update(recommendations)
              .set({ status: 'rejected', decidedBy: p.id, decidedAt: now })
              .where(and(eq(recommendations.approvalId, u.id), eq(recommendations.status, 'pending_approval')))
              .returning({ id: recommendations.id })
          : [];
      await this.d.archive.append(decisionRecord(u, 'rejected', p, now, { recommendationIds: recs.map((r) => r.id) }), tx);
      return u;
    });
    const out: ApprovalDecision = { approval: await this.viewOf(decided) };
    if (decided.kind === 'recommendation') out.batch = batchOf(await this.d.recommendations.rowsOfApproval(decided.id), false);
    return out;
  }

  private async approveBroadcast(p: Principal, a: ApprovalRow, note: string | undefined, now: Date): Promise<ApprovalDecision> {
    if (a.status !== 'pending') throw new QiaoError('QIAO_APPROVAL_NOT_PENDING');
    const b = a.payload as BroadcastPayload;
    const requester = await this.d.recommendations.principalOf(a.requestedBy);
    if (!requester) throw new QiaoError('QIAO_NOT_FOUND', 'The requester no longer exists');
    // The requester must still be allowed to publish it (e.g. not demoted since).
    await authorizePublish(requester, b.channel, b.kind, b.payload, this.d.access);
    let approved: ApprovalRow | undefined;
    try {
      const { pub, duplicate } = await this.d.publisher.publish(
        requester,
        {
          channel: b.channel,
          kind: b.kind,
          payload: b.payload,
          idempotencyKey: `approval:${a.id}`,
          inTx: async (tx, pub) => {
            const [u] = await tx
              .update(approvals)
              .set({ status: 'approved', decidedBy: p.id, decidedAt: now, note: note ?? null, messageId: pub.id })
              .where(and(eq(approvals.id, a.id), eq(approvals.status, 'pending')))
              .returning();
            if (!u) throw new StaleState();
            approved = u;
            return [decisionRecord(u, 'approved', p, now, { channel: pub.channel, messageId: pub.id, offset: pub.offset })];
          },
        },
        { trusted: true },
      );
      // Another approver (on any node) published it first: theirs is the decision.
      if (duplicate || !approved) throw new QiaoError('QIAO_APPROVAL_NOT_PENDING');
      return { approval: await this.viewOf(approved), publication: { channel: pub.channel, id: pub.id, offset: pub.offset } };
    } catch (e) {
      if (e instanceof StaleState) throw new QiaoError('QIAO_APPROVAL_NOT_PENDING');
      throw e;
    }
  }

  private async approveRecommendations(p: Principal, a: ApprovalRow, note: string | undefined, now: Date): Promise<ApprovalDecision> {
    const sender = await this.d.recommendations.principalOf(a.requestedBy);
    if (!sender) throw new QiaoError('QIAO_NOT_FOUND', 'The requester no longer exists');
    let row: ApprovalRow;
    if (a.status === 'pending') {
      row = await this.d.db.transaction(async (tx) => {
        const [u] = await tx
          .update(approvals)
          .set({ status: 'approved', decidedBy: p.id, decidedAt: now, note: note ?? null })
          .where(and(eq(approvals.id, a.id), eq(approvals.status, 'pending')))
          .returning();
        if (!u) throw new QiaoError('QIAO_APPROVAL_NOT_PENDING');
        const waiting = await tx
          .select()
          .from(recommendations)
          .where(and(eq(recommendations.approvalId, u.id), eq(recommendations.status, 'pending_approval')));
        const clients = await this.d.recommendations.assignedClients(
          u.requestedBy,
          waiting.map((r) => r.clientId),
          tx,
        );
        const refusals: ArchiveInput[] = [];
        for (const r of waiting) {
          const c = clients.get(r.clientId);
          // Suitability is decided again with the client's data as it is now.
          const d = c ? decide(c, r.productRisk as ProductRisk, now) : ({ ok: false, code: 'QIAO_FORBIDDEN' } as const);
          const [x] = await tx
            .update(recommendations)
            .set({
              status: d.ok ? 'sending' : 'refused',
              refusalCode: d.ok ? null : d.code,
              basis: d.ok ? d.basis : null,
              clientRiskLevel: c ? c.riskLevel : r.clientRiskLevel,
              clientRiskAssessedOn: c ? c.riskAssessedOn : r.clientRiskAssessedOn,
              professionalInvestor: c ? c.professionalInvestor : r.professionalInvestor,
              decidedBy: p.id,
              decidedAt: now,
            })
            .where(eq(recommendations.id, r.id))
            .returning();
          if (!d.ok) refusals.push(refusalRecord(x, 'approval', p.id, now));
        }
        await this.d.archive.append(decisionRecord(u, 'approved', p, now, { recommendationIds: waiting.map((r) => r.id) }), tx);
        for (const rec of refusals) await this.d.archive.append(rec, tx);
        return u;
      });
    } else if (a.status === 'approved' && (await countSending(this.d.db, a.id)) > 0) {
      row = a;
    } else {
      throw new QiaoError('QIAO_APPROVAL_NOT_PENDING');
    }
    const rows = await this.d.recommendations.rowsOfApproval(row.id);
    const delivered = await this.d.recommendations.deliverRows(sender, rows, { id: row.decidedBy ?? p.id, at: row.decidedAt ?? now });
    return { approval: await this.viewOf(row), batch: batchOf(delivered, false) };
  }

  private mustBeCompliance(p: Principal): void {
    if (p.role !== 'compliance') throw new QiaoError('QIAO_FORBIDDEN', 'Only a compliance user approves or rejects');
  }

  private async row(id: string): Promise<ApprovalRow | undefined> {
    const [a] = await this.d.db.select().from(approvals).where(eq(approvals.id, id.toLowerCase())).limit(1);
    return a;
  }

  private async byKey(userId: string, key: string): Promise<ApprovalRow | undefined> {
    const [a] = await this.d.db
      .select()
      .from(approvals)
      .where(and(eq(approvals.requestedBy, userId), eq(approvals.idempotencyKey, key)))
      .limit(1);
    return a;
  }

  private async viewOf(a: ApprovalRow): Promise<ApprovalView> {
    const names = await this.namesOf([a.requestedBy, a.decidedBy]);
    return view(a, names.get(a.requestedBy) ?? '', a.decidedBy ? names.get(a.decidedBy) : undefined);
  }

  private async namesOf(ids: Array<string | null>): Promise<Map<string, string>> {
    const want = [...new Set(ids.filter((x): x is string => Boolean(x)))];
    if (!want.length) return new Map();
    const rows = await this.d.db.select({ id: users.id, name: users.displayName }).from(users).where(inArray(users.id, want));
    return new Map(rows.map((r) => [r.id, r.name]));
  }
}

function view(a: ApprovalRow, requesterName: string, deciderName?: string): ApprovalView {
  return {
    id: a.id,
    kind: a.kind,
    status: a.status,
    requestedBy: { id: a.requestedBy, displayName: requesterName },
    payload: a.payload,
    decidedBy: a.decidedBy,
    decidedByName: a.decidedBy ? (deciderName ?? null) : null,
    decidedAt: a.decidedAt?.toISOString() ?? null,
    note: a.note,
    messageId: a.messageId,
    createdAt: a.createdAt.toISOString(),
  };
}

// Re-exported so callers can require the gate without importing the publisher module.
export type { ApprovalGate };
