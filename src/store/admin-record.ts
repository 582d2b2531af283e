/**
 * What every firm-administration change leaves behind: its audit event and its archive record (who,
 * when, old → new), written in the change's own transaction. Shared by the organisation and the users.
 */
import type { Principal } from '../auth/principal.ts';
import type { ArchiveRepo, Executor } from './archive-repo.ts';
import { auditLog } from './schema/index.ts';

export const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export function isUniqueViolation(e: unknown): boolean {
  for (let cur = e as { code?: unknown; cause?: unknown } | undefined, i = 0; cur && i < 4; cur = cur.cause as typeof cur, i++) {
    if (cur.code === '23505') return true;
  }
  return false;
}

/** old → new of the fields that changed. */
export function diff<T extends Record<string, unknown>>(before: T, after: T): { before: Partial<T>; after: Partial<T> } {
  const b: Partial<T> = {};
  const a: Partial<T> = {};
  for (const k of Object.keys(after) as Array<keyof T>) {
    if (after[k] === undefined) continue;
    if (JSON.stringify(before[k] ?? null) !== JSON.stringify(after[k] ?? null)) {
      b[k] = before[k];
      a[k] = after[k];
    }
  }
  return { before: b, after: a };
}

/** The audit event and the archive record of one change; the archive is written last (its lock is held only until commit). */
export async function recordChange(
  archive: ArchiveRepo,
  tx: Executor,
  actor: Principal,
  action: string,
  target: string,
  subjects: string[],
  detail: Record<string, unknown>,
  retention: 'compliance-activity' | 'suitability' = 'compliance-activity',
  ip?: string,
): Promise<void> {
  await tx.insert(auditLog).values({ actorId: actor.id, action, target, outcome: 'ok', detail, ip: ip ?? null });
  // Archived last: the archive's lock is held only until commit.
  await archive.append({ kind: action, actorId: actor.id, subjects, retentionClass: retention, body: { target, ...detail }, text: action }, tx);
}
