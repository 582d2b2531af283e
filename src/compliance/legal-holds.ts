/**
 * Legal holds: while a hold on a person or a conversation is active, none of their archive records is
 * purged, whatever its retention (checked by the purge and again by the database trigger). Placing and
 * releasing a hold are archived themselves.
 */
import { and, desc, eq, isNull } from 'drizzle-orm';
import { QiaoError } from '../errors/codes.ts';
import type { ArchiveRepo } from '../store/archive-repo.ts';
import type { Db } from '../store/db.ts';
import { conversations, legalHolds, users } from '../store/schema/index.ts';

export type LegalHoldRow = typeof legalHolds.$inferSelect;

export function holdJson(h: LegalHoldRow) {
  return {
    id: h.id,
    subjectId: h.subjectId,
    conversationId: h.conversationId,
    reason: h.reason,
    placedBy: h.placedBy,
    placedAt: h.placedAt.toISOString(),
    releasedAt: h.releasedAt ? h.releasedAt.toISOString() : null,
    active: h.releasedAt === null,
  };
}

export class LegalHolds {
  constructor(
    private readonly db: Db,
    private readonly archive: ArchiveRepo,
  ) {}

  async list(opts: { activeOnly?: boolean } = {}): Promise<LegalHoldRow[]> {
    return this.db
      .select()
      .from(legalHolds)
      .where(opts.activeOnly ? isNull(legalHolds.releasedAt) : undefined)
      .orderBy(desc(legalHolds.placedAt));
  }

  async place(actorId: string, input: { subjectId?: string; conversationId?: string; reason: string }): Promise<LegalHoldRow> {
    const subjectId = input.subjectId?.toLowerCase();
    const conversationId = input.conversationId?.toLowerCase();
    if (subjectId) {
      const [u] = await this.db.select({ id: users.id }).from(users).where(eq(users.id, subjectId)).limit(1);
      if (!u) throw new QiaoError('QIAO_NOT_FOUND', 'No user with this subjectId');
    }
    if (conversationId) {
      const [c] = await this.db.select({ id: conversations.id }).from(conversations).where(eq(conversations.id, conversationId)).limit(1);
      if (!c) throw new QiaoError('QIAO_NOT_FOUND', 'No conversation with this conversationId');
    }
    return this.db.transaction(async (tx) => {
      const [row] = await tx
        .insert(legalHolds)
        .values({ subjectId: subjectId ?? null, conversationId: conversationId ?? null, reason: input.reason, placedBy: actorId })
        .returning();
      await this.archive.append(
        {
          kind: 'legal-hold.placed',
          actorId,
          subjects: [actorId, ...(subjectId ? [subjectId] : [])],
          conversationId: conversationId ?? null,
          retentionClass: 'compliance-activity',
          body: { holdId: row.id, subjectId: row.subjectId, conversationId: row.conversationId, reason: row.reason },
          text: input.reason,
        },
        tx,
      );
      return row;
    });
  }

  async release(actorId: string, id: string, note?: string): Promise<LegalHoldRow> {
    return this.db.transaction(async (tx) => {
      const [before] = await tx.select().from(legalHolds).where(eq(legalHolds.id, id)).limit(1);
      if (!before) throw new QiaoError('QIAO_NOT_FOUND', 'No such legal hold');
      const [row] = await tx
        .update(legalHolds)
        .set({ releasedAt: new Date() })
        .where(and(eq(legalHolds.id, id), isNull(legalHolds.releasedAt)))
        .returning();
      if (!row) throw new QiaoError('QIAO_CONFLICT', 'This legal hold has already been released');
      await this.archive.append(
        {
          kind: 'legal-hold.released',
          actorId,
          subjects: [actorId, ...(row.subjectId ? [row.subjectId] : [])],
          conversationId: row.conversationId,
          retentionClass: 'compliance-activity',
          body: { holdId: row.id, subjectId: row.subjectId, conversationId: row.conversationId, reason: row.reason, note: note ?? null },
          text: note ?? '',
        },
        tx,
      );
      return row;
    });
  }
}
