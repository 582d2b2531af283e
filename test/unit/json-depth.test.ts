import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, jsonDepthExceeds } from '../../src/domain/json-depth.ts';

/** `{"a":{"a":…1…}}` nested `n` objects deep, parsed from text (never built by recursion). */
const deepObject = (n: number): unknown => JSON.parse('{"a":'.repeat(n) + '1' + '}'.repeat(n));
const deepArray = (n: number): unknown => JSON.parse('['.repeat(n) + ']'.repeat(n));

describe('jsonDepthExceeds', () => {
  it('scalars have depth 0 and never exceed', () => {
    for (const v of [null, undefined, 0, 1.5, '', 'x'.repeat(1000), true, false]) {
      expect(jsonDepthExceeds(v, 0), String(v)).toBe(false);
      expect(jsonDepthExceeds(v, MAX_JSON_DEPTH), String(v)).toBe(false);
    }
  });

  it('counts nested objects and arrays: {} and [] are depth 1, {"a":[1]} depth 2', () => {
    expect(jsonDepthExceeds({}, 0)).toBe(true);
    expect(jsonDepthExceeds({}, 1)).toBe(false);
    expect(jsonDepthExceeds([], 1)).toBe(false);
    expect(jsonDepthExceeds({ a: [1] }, 1)).toBe(true);
    expect(jsonDepthExceeds({ a: [1] }, 2)).toBe(false);
    expect(jsonDepthExceeds([[[]]], 2)).toBe(true);
    expect(jsonDepthExceeds([[[]]], 3)).toBe(false);
    // Strings that look like JSON are not containers.
    expect(jsonDepthExceeds({ a: '[[[[[[[[[[' }, 1)).toBe(false);
  });

  it('exactly maxDepth is accepted, one more is refused (objects and arrays)', () => {
    for (const build of [deepObject, deepArray]) {
      expect(jsonDepthExceeds(build(MAX_JSON_DEPTH), MAX_JSON_DEPTH)).toBe(false);
      expect(jsonDepthExceeds(build(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH)).toBe(true);
    }
  });

  it('finds a deep branch anywhere, not only in the first or last key', () => {
    const deep = deepObject(MAX_JSON_DEPTH);
    expect(jsonDepthExceeds({ first: 1, mid: deep, last: [] }, MAX_JSON_DEPTH)).toBe(true);
    expect(jsonDepthExceeds([1, 'x', deep, null], MAX_JSON_DEPTH)).toBe(true);
    expect(jsonDepthExceeds({ a: [{ b: [1, 2, { c: deep }] }], z: 0 }, MAX_JSON_DEPTH)).toBe(true);
    // Wide but shallow is fine: object 1 → items 2 → element 3 → tags 4.
    const wide = { items: Array.from({ length: 10_000 }, (_, i) => ({ i, tags: ['a', 'b'] })) };
    expect(jsonDepthExceeds(wide, 4)).toBe(false);
    expect(jsonDepthExceeds(wide, 3)).toBe(true);
  });

  it('does not overflow the stack on 100,000 and 1,000,000 levels', () => {
    for (const n of [5_000, 100_000, 1_000_000]) {
      expect(jsonDepthExceeds(deepObject(n), MAX_JSON_DEPTH)).toBe(true);
      expect(jsonDepthExceeds(deepArray(n), MAX_JSON_DEPTH)).toBe(true);
      // With a limit above the real depth it walks all of it, still without recursion.
      expect(jsonDepthExceeds(deepArray(n), n)).toBe(false);
      expect(jsonDepthExceeds(deepArray(n), n - 1)).toBe(true);
    }
  });

  it('a cyclic value counts as too deep (terminates)', () => {
    const a: Record<string, unknown> = {};
    a.self = a;
    expect(jsonDepthExceeds(a, MAX_JSON_DEPTH)).toBe(true);
  });

  it('the limit leaves room for every real payload: a full research note command is far below it', () => {
    const cmd = {
      op: 'publish',
      id: 1,
      channel: 'research.macro',
      kind: 'note',
      payload: { title: 't', tickers: ['600519.SH'], riskLevel: 'R2' },
    };
    // command 1 → payload 2 → tickers 3
    expect(jsonDepthExceeds(cmd, 3)).toBe(false);
    expect(jsonDepthExceeds(cmd, 2)).toBe(true);
    expect(MAX_JSON_DEPTH).toBe(32);
  });
});
