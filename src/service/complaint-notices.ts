/**
 * How a complaint step reaches people: the state change commits with the first notice (publish with
 * `inTx`: the complaint row, its event, its archive record and that notice are one transaction), and
 * the other recipients' notices follow, each under an idempotency key derived from the step, so a
 * retry (a repeated filing with the same Idempotency-Key, the sweep's repair pass) sends only what is
 * missing and never twice. A step with nobody to tell still commits (its own transaction).
 *
 * Notices are sent by the complaint desk (a server principal), not by the person who acted: they are
 * the firm's notices, and the acting person is in the complaint's event and archive record.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Principal } from '../auth/principal.ts';
import type { Publisher } from '../hub/publisher.ts';
import type { ArchiveInput, ArchiveRepo } from '../store/archive-repo.ts';
import type { Db } from '../store/db.ts';
import type { Tx } from '../store/messages-repo.ts';

export const COMPLAINT_DESK: Principal = { id: 'complaint-desk', role: 'feed', displayName: '投诉处理 Complaints' };

export type ComplaintEvent = 'filed' | 'assigned' | 'acknowledged' | 'escalated' | 'resolved' | 'rejected';

export interface ComplaintNotice {
  complaintId: string;
  status: 'open' | 'acknowledged' | 'resolved' | 'rejected';
  event: ComplaintEvent;
  title: string;
  body?: string;
  reply?: string;
}

export interface NoticeDeps {
  db: Db;
  publisher: Publisher;
  archive: ArchiveRepo;
  logger: FastifyBaseLogger;
}

/** The idempotency key of one recipient's notice of one step. */
export const noticeKey = (step: string, userId: string) => `complaint:${step}:${userId}`;

/**
 * Commits `inTx` (the state change; returns its archive records) with the first recipient's notice,
 * then sends the others. Returns how many follow-up notices failed (already logged).
 */
export async function commitWithNotices(
  d: NoticeDeps,
  step: string,
  recipients: ReadonlyArray<{ userId: string; notice: ComplaintNotice }>,
  inTx: (tx: Tx) => Promise<ArchiveInput[]>,
): Promise<number> {
  const unique = [...new Map(recipients.map((r) => [r.userId, r])).values()];
  if (unique.length === 0) {
    await d.db.transaction(async (tx) => {
      const records = await inTx(tx);
      await d.archive.appendMany(records, tx);
    });
    return 0;
  }
  const [first, ...rest] = unique;
  await d.publisher.publish(
    COMPLAINT_DESK,
    { channel: `inbox.${first.userId}`, kind: 'complaint', payload: first.notice, idempotencyKey: noticeKey(step, first.userId), inTx: (tx) => inTx(tx) },
    { trusted: true },
  );
  return sendNotices(d, step, rest);
}

/** Sends notices that carry no state change (the rest of a step's recipients, or a repair). */
export async function sendNotices(d: NoticeDeps, step: string, recipients: ReadonlyArray<{ userId: string; notice: ComplaintNotice }>): Promise<number> {
  let failed = 0;
  for (const r of recipients) {
    try {
      await d.publisher.publish(COMPLAINT_DESK, { channel: `inbox.${r.userId}`, kind: 'complaint', payload: r.notice, idempotencyKey: noticeKey(step, r.userId) }, { trusted: true });
    } catch (err) {
      failed++;
      d.logger.warn({ err, step, userId: r.userId }, 'complaint notice failed');
    }
  }
  return failed;
}
