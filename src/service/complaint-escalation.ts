/**
 * Complaint deadlines (投诉时限): a complaint still open past its acknowledgement deadline escalates to
 * level 1, one not closed past its resolution deadline to level 2 — each once — with an `escalated`
 * event, an archive record and inbox notices to the branch head and every compliance user.
 *
 * Runs on every hub node (src/service/sweeps.ts). The conditional UPDATE (`escalation_level < L`)
 * inside the first notice's transaction claims the escalation, and the notices' idempotency keys are
 * derived from complaint and level, so two nodes sweeping at once escalate once and notify once. The
 * notices after the first are re-offered for a few minutes (a node that stopped between them leaves
 * them to the next sweep; those already stored are skipped as duplicates).
 */
import { and, eq, gt, inArray, lt, sql } from 'drizzle-orm';
import { StaleState } from '../advisory/common.ts';
import { isQiaoError } from '../errors/codes.ts';
import { branches, complaintEvents, complaints, users } from '../store/schema/index.ts';
import type { ComplaintRow } from './complaint-access.ts';
import { COMPLAINT_DESK, commitWithNotices, sendNotices, type ComplaintNotice, type NoticeDeps } from './complaint-notices.ts';
import { CATEGORY_ZH } from './complaints.ts';
import type { ServiceSweep } from './sweeps.ts';

/** How long after an escalation its notices are re-offered, ms. */
const REPAIR_MS = 5 * 60_000;
const BATCH = 200;

export class ComplaintEscalationSweep implements ServiceSweep {
  readonly name = 'complaint-escalation';

  constructor(private readonly d: NoticeDeps) {}

  async run(now: Date): Promise<number> {
    const db = this.d.db;
    let done = 0;
    for (const level of [1, 2] as const) {
      const due = await db
        .select()
        .from(complaints)
        .where(
          level === 1
            ? and(eq(complaints.status, 'open'), lt(complaints.ackDueAt, now), lt(complaints.escalationLevel, 1))
            : and(inArray(complaints.status, ['open', 'acknowledged']), lt(complaints.resolveDueAt, now), lt(complaints.escalationLevel, 2)),
        )
        .orderBy(complaints.createdAt)
        .limit(BATCH);
      for (const c of due) if (await this.escalate(c, level, now)) done++;
    }
    await this.repair(now);
    return done;
  }

  private async recipients(c: ComplaintRow, level: 1 | 2): Promise<Array<{ userId: string; notice: ComplaintNotice }>> {
    const db = this.d.db;
    const [b] = c.branchId ? await db.select({ headId: branches.headId }).from(branches).where(eq(branches.id, c.branchId)) : [];
    const people = await db
      .select({ id: users.id })
      .from(users)
      .where(and(eq(users.firmId, c.firmId), eq(users.active, true), sql`(${users.role} = 'compliance' or ${users.id} = ${b?.headId ?? null}::uuid)`))
      .orderBy(sql`${users.role} = 'compliance'`, users.id);
    const what = level === 1 ? '超过受理时限未受理 · not acknowledged in time' : '超过办结时限未办结 · not resolved in time';
    const notice: ComplaintNotice = {
      complaintId: c.id,
      status: c.status,
      event: 'escalated',
      title: `投诉逾期 #${c.id.slice(0, 8)}（${CATEGORY_ZH[c.category]}）· Complaint overdue`,
      body: what,
    };
    return people.map((u) => ({ userId: u.id, notice }));
  }

  /** Claims and records one escalation; false when another node (or request) got there first. */
  private async escalate(c: ComplaintRow, level: 1 | 2, now: Date): Promise<boolean> {
    let won = false;
    try {
      await commitWithNotices(this.d, `esc${level}:${c.id}`, await this.recipients(c, level), async (tx) => {
        const [u] = await tx
          .update(complaints)
          .set({ escalationLevel: level, escalatedAt: now, updatedAt: now })
          .where(and(eq(complaints.id, c.id), lt(complaints.escalationLevel, level), inArray(complaints.status, level === 1 ? ['open'] : ['open', 'acknowledged'])))
          .returning({ id: complaints.id });
        if (!u) throw new StaleState();
        const note = level === 1 ? 'ack_overdue' : 'resolve_overdue';
        await tx.insert(complaintEvents).values({ complaintId: c.id, actorId: null, action: 'escalated', note, clientVisible: false, at: now });
        won = true;
        return [
          {
            kind: 'complaint.escalated',
            actorId: COMPLAINT_DESK.id,
            subjects: [c.clientId, ...(c.brokerId ? [c.brokerId] : [])],
            conversationId: c.conversationId,
            retentionClass: 'complaints',
            body: { complaintId: c.id, level, reason: note, ackDueAt: c.ackDueAt.toISOString(), resolveDueAt: c.resolveDueAt.toISOString(), status: c.status },
            text: note,
            recordedAt: now,
          },
        ];
      });
    } catch (e) {
      if (e instanceof StaleState || (isQiaoError(e) && e.code === 'QIAO_CONFLICT')) return false;
      throw e;
    }
    return won;
  }

  /** Re-offers the notices of recent escalations (only missing ones are stored). */
  private async repair(now: Date): Promise<void> {
    const recent = await this.d.db
      .select()
      .from(complaints)
      .where(and(gt(complaints.escalatedAt, new Date(now.getTime() - REPAIR_MS)), gt(complaints.escalationLevel, 0)))
      .limit(BATCH);
    for (const c of recent) {
      const level = c.escalationLevel >= 2 ? 2 : 1;
      await sendNotices(this.d, `esc${level}:${c.id}`, await this.recipients(c, level));
    }
  }
}
