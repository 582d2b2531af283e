/**
 * sameJson / assertSameRequest (src/domain/idempotency.ts): what "the same request" means for every
 * Idempotency-Key path — JSON equality where object key order does not matter (jsonb reorders keys),
 * array order does, and a missing key equals an undefined one but not null.
 */
import { describe, expect, it } from 'vitest';
import { assertSameRequest, sameJson } from '../../src/domain/idempotency.ts';
import { QiaoError } from '../../src/errors/codes.ts';

/** `{ a: { a: … { a: leaf } } }`, `depth` objects deep, built without recursion. */
function nested(depth: number, leaf: unknown): unknown {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}

/** `[[[ … leaf ]]]`, `depth` arrays deep. */
function nestedArrays(depth: number, leaf: unknown): unknown {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

describe('sameJson', () => {
  it('primitives: equal only when the same type and value', () => {
    expect(sameJson(1, 1)).toBe(true);
    expect(sameJson('a', 'a')).toBe(true);
    expect(sameJson(true, true)).toBe(true);
    expect(sameJson(null, null)).toBe(true);
    expect(sameJson(1, 2)).toBe(false);
    expect(sameJson(1, '1')).toBe(false);
    expect(sameJson(0, false)).toBe(false);
    expect(sameJson('', null)).toBe(false);
    expect(sameJson('a', 'A')).toBe(false);
    expect(sameJson('a ', 'a')).toBe(false);
  });

  it('ignores object key order, at every level', () => {
    expect(sameJson({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(true);
    expect(sameJson({ x: { c: [1, { e: 5, d: 4 }], b: 'y' } }, { x: { b: 'y', c: [1, { d: 4, e: 5 }] } })).toBe(true);
  });

  it('arrays are ordered', () => {
    expect(sameJson([1, 2, 3], [1, 2, 3])).toBe(true);
    expect(sameJson([1, 2, 3], [3, 2, 1])).toBe(false);
    expect(sameJson(['a', 'b'], ['a', 'b', 'b'])).toBe(false);
    expect(sameJson([], [])).toBe(true);
    expect(sameJson([], {})).toBe(false);
    expect(sameJson({ 0: 'a' }, ['a'])).toBe(false);
  });

  it('nested differences are found, however deep in objects and arrays', () => {
    expect(sameJson({ a: { b: { c: [1, 2, { d: 'x' }] } } }, { a: { b: { c: [1, 2, { d: 'y' }] } } })).toBe(false);
    expect(sameJson({ a: { b: [1, [2, [3]]] } }, { a: { b: [1, [2, [4]]] } })).toBe(false);
    expect(sameJson({ a: { b: [1, [2, [3]]] } }, { a: { b: [1, [2, [3]]] } })).toBe(true);
  });

  it('an extra or a missing key differs; a key set to undefined equals a missing key; null does not', () => {
    expect(sameJson({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(sameJson({ a: 1, b: 2 }, { a: 1 })).toBe(false);
    expect(sameJson({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(sameJson({ a: 1 }, { a: 1, b: undefined })).toBe(true);
    expect(sameJson({ a: 1, b: null }, { a: 1 })).toBe(false);
    expect(sameJson({ a: 1 }, { a: 1, b: null })).toBe(false);
    expect(sameJson({ a: null }, { a: undefined })).toBe(false);
    // Same number of keys, different names.
    expect(sameJson({ a: 1, b: undefined }, { a: 1, c: 2 })).toBe(false);
    expect(sameJson(undefined, undefined)).toBe(true);
    expect(sameJson(undefined, null)).toBe(false);
  });

  it('a value equals its jsonb round trip', () => {
    const v = { kind: 'notice', payload: { title: '国庆假期安排', tags: ['a', 'b'], n: 1.5, deep: { z: null, y: [true, false] } } };
    expect(sameJson(JSON.parse(JSON.stringify(v)), v)).toBe(true);
  });

  it('compares 100,000 levels of nesting without throwing (objects and arrays)', () => {
    const depth = 100_000;
    expect(() => sameJson(nested(depth, 1), nested(depth, 1))).not.toThrow();
    expect(sameJson(nested(depth, 1), nested(depth, 1))).toBe(true);
    expect(sameJson(nested(depth, 1), nested(depth, 2))).toBe(false);
    expect(sameJson(nested(depth, 1), nested(depth - 1, 1))).toBe(false);
    expect(sameJson(nestedArrays(depth, 'x'), nestedArrays(depth, 'x'))).toBe(true);
    expect(sameJson(nestedArrays(depth, 'x'), nestedArrays(depth, 'y'))).toBe(false);
  });
});

describe('assertSameRequest', () => {
  it('passes for the same request and throws QIAO_IDEMPOTENCY_MISMATCH (409) for a different one', () => {
    expect(() => assertSameRequest({ channel: 'c', payload: { a: 1, b: 2 } }, { payload: { b: 2, a: 1 }, channel: 'c' })).not.toThrow();
    let caught: unknown;
    try {
      assertSameRequest({ channel: 'c', payload: { a: 1 } }, { channel: 'd', payload: { a: 1 } });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(QiaoError);
    expect((caught as QiaoError).code).toBe('QIAO_IDEMPOTENCY_MISMATCH');
    expect((caught as QiaoError).status).toBe(409);
  });
});
