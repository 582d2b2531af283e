/**
 * How deeply a JSON value is nested, checked without recursion.
 *
 * Depth counts nested containers (objects and arrays): a scalar has depth 0, `{}` and `[]` depth 1,
 * `{"a":[1]}` depth 2. JSON.parse accepts any depth, but much of what runs on a parsed value later
 * recurses (JSON.stringify, zod, the archive's canonical JSON, Postgres jsonb): a payload nested a few
 * thousand levels deep overflows the stack there and used to surface as QIAO_INTERNAL. Every REST
 * body and every socket command is therefore refused with QIAO_PAYLOAD_TOO_DEEP before any of that
 * runs (src/app.ts, src/gateway/session.ts).
 */

/**
 * Deepest nesting accepted in a REST body or a socket command, counting the envelope: a publish
 * command is depth 1, its payload 2, a note's `tickers` array 3. Every payload Qiao defines (notes,
 * chat, notices, alerts, recommendations, tasks: channels/payloads.ts) and every REST body is at most
 * a few levels deep, so 32 leaves ample room for any legitimate client while staying far below the
 * depth at which any recursive walker could run out of stack.
 */
export const MAX_JSON_DEPTH = 32;

/**
 * Whether `value` nests objects/arrays more than `maxDepth` levels deep. Iterative (an explicit stack),
 * so it cannot overflow however deep the input is, and it stops at the first path that is too deep.
 * Meant for values parsed from JSON (trees); a cyclic value counts as too deep.
 */
export function jsonDepthExceeds(value: unknown, maxDepth: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (maxDepth < 1) return true;
  // Containers still to look into, each with its own depth (1 for `value` itself).
  const stack: Array<{ v: object; depth: number }> = [{ v: value, depth: 1 }];
  while (stack.length > 0) {
    const { v, depth } = stack.pop()!;
    const children: unknown[] = Array.isArray(v) ? v : Object.values(v);
    for (const child of children) {
      if (child === null || typeof child !== 'object') continue;
      if (depth + 1 > maxDepth) return true;
      stack.push({ v: child, depth: depth + 1 });
    }
  }
  return false;
}
