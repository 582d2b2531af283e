/**
 * Idempotency-Key semantics shared by every write that takes one (publications, chat, recommendations,
 * tasks, broadcasts): the same key with the same request returns the first result; the same key with
 * a different request is refused with QIAO_IDEMPOTENCY_MISMATCH (409), never answered with the first
 * result. "The same request" is compared on what was stored, as JSON values: object key order does not
 * matter (Postgres jsonb reorders keys), everything else does.
 */
import { QiaoError } from '../errors/codes.ts';

/** Deep equality of two JSON values, ignoring object key order. Not recursive: deep input cannot overflow the stack. */
export function sameJson(a: unknown, b: unknown): boolean {
  const stack: Array<[unknown, unknown]> = [[a, b]];
  while (stack.length > 0) {
    const [x, y] = stack.pop()!;
    if (x === y) continue;
    if (x === null || y === null || typeof x !== 'object' || typeof y !== 'object') {
      // undefined and a missing key are the same thing in JSON.
      if (x === undefined && y === undefined) continue;
      return false;
    }
    if (Array.isArray(x) !== Array.isArray(y)) return false;
    if (Array.isArray(x)) {
      const ya = y as unknown[];
      if (x.length !== ya.length) return false;
      for (let i = 0; i < x.length; i++) stack.push([x[i], ya[i]]);
      continue;
    }
    const xo = x as Record<string, unknown>;
    const yo = y as Record<string, unknown>;
    const xk = Object.keys(xo).filter((k) => xo[k] !== undefined);
    const yk = Object.keys(yo).filter((k) => yo[k] !== undefined);
    if (xk.length !== yk.length) return false;
    for (const k of xk) {
      if (!Object.hasOwn(yo, k)) return false;
      stack.push([xo[k], yo[k]]);
    }
  }
  return true;
}

/**
 * Throws QIAO_IDEMPOTENCY_MISMATCH unless the stored request and the retried one are the same
 * (each given as a JSON value of the fields that define the request).
 */
export function assertSameRequest(stored: unknown, retried: unknown): void {
  if (!sameJson(stored, retried)) {
    throw new QiaoError('QIAO_IDEMPOTENCY_MISMATCH');
  }
}
