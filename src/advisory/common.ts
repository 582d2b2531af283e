/** Small pieces shared by the recommendation, approval and task services. */
import { sql } from 'drizzle-orm';
import { QiaoError } from '../errors/codes.ts';
import type { Executor } from '../store/archive-repo.ts';

/**
 * Thrown inside a publish transaction when the row it guards changed since it was read (another node or
 * request got there first): the transaction rolls back, nothing is delivered, the caller re-reads.
 * A QiaoError so the publish path passes it through instead of reporting the store unavailable.
 */
export class StaleState extends QiaoError {
  constructor() {
    super('QIAO_CONFLICT', 'Changed concurrently; re-read and retry');
  }
}

export function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; cause?: { code?: string } };
  return err?.code === '23505' || err?.cause?.code === '23505';
}

const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Postgres cannot store NUL or unpaired surrogates: refuse them as bad input, naming the field. */
export function assertStorable(fields: Record<string, string | undefined | null>): void {
  for (const [name, v] of Object.entries(fields)) {
    if (typeof v === 'string' && UNSTORABLE.test(v)) {
      throw new QiaoError('QIAO_BAD_REQUEST', `${name} must not contain NUL characters or unpaired UTF-16 surrogates`);
    }
  }
}

/** A transaction-scoped advisory lock on a text key (released at commit or rollback). */
export async function lockKey(tx: Executor, key: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${key}, 0))`);
}

/** Runs `fn` over `items` with at most `limit` in flight, keeping the order of results. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export const DAY_MS = 86_400_000;
