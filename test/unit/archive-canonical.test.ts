/**
 * The archive's canonical JSON is what every record's hash covers, so its output may never change:
 * records chained by an earlier release must still verify. Checked against the first implementation,
 * and the split used to hash outside the lock (canonicalAroundSeq) against the whole.
 */
import { describe, expect, it } from 'vitest';
import { canonicalAroundSeq, canonicalJson, chainedFieldsJson, recordHash, GENESIS_HASH, type ChainFields } from '../../src/store/archive-repo.ts';
import { createHash } from 'node:crypto';

/** The first implementation (map/filter/join), kept as the reference. */
function reference(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => reference(x ?? null)).join(',')}]`;
  if (v && typeof v === 'object' && !(v instanceof Date)) {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${reference(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v instanceof Date ? v.toISOString() : v);
}

const samples: unknown[] = [
  null,
  0,
  -1.5e-7,
  'plain',
  '引号 " 反斜杠 \\ 换行 \n 表情 😀',
  true,
  [],
  {},
  [1, undefined, null, 'x', [2, [3]], { b: 1, a: 2 }],
  { z: 1, a: { y: [{ d: 4, c: 3 }], x: undefined }, m: null, '键': '值', 'a b': new Date('2026-12-04T08:00:00.123Z') },
  { channel: 'account.8a3f', offset: 12, payload: { title: '成交回报：买入 贵州茅台(600519.SH) 100 股', price: 1700.5, tags: ['a', 'b'] } },
  // Already in order at every level (printed as is), and in order above an unsorted level.
  { a: 1, b: [{ c: 2, d: { e: 3 } }], f: 'g' },
  { a: 1, b: [{ c: 2 }, { e: 3, d: 4 }], f: 'g' },
  // Keys an object lists first whatever their insertion order (array indexes), and look-alikes.
  { '10': 'ten', '9': 'nine', a: 1, '1a': 2, '-1': 3, '01': 4 },
  JSON.parse('{"__proto__": {"b": 1, "a": 2}, "z": 0, "constructor": "x"}'),
  Object.assign(Object.create(null), { b: 2, a: 1 }),
  { n: NaN, i: -Infinity, z: -0, big: 1e21, small: 5e-324, arr: [NaN, undefined, null] },
  { when: new Date('2026-12-04T08:00:00.123Z'), nested: [{ when: new Date(0) }] },
  // Values native printing would treat differently: the walk decides them.
  { j: { toJSON: () => 'custom', b: 1, a: 2 } },
  { boxed: Object('str'), num: Object(5) },
  { m: new Map([['a', 1]]), inst: new (class P { b = 1; a = 2; })() },
  { f: () => 1, s: Symbol('s'), u: undefined, k: 'v' },
];

/** 150 levels of unsorted nesting: past the native view's depth, printed by the walk. */
function deep(n: number): unknown {
  let v: unknown = { z: 'end', a: 0 };
  for (let i = 0; i < n; i++) v = { z: i, a: v };
  return v;
}
samples.push(deep(150), deep(20));

const fields = (over: Partial<ChainFields> = {}): ChainFields => ({
  seq: 41,
  recordedAt: new Date('2026-12-04T01:02:03.456Z'),
  kind: 'message',
  actorId: 'source:trading',
  subjects: ['0f0e6c4e-3a49-4f7e-9d8e-2b2d3a0c1b11', 'source:trading'],
  conversationId: null,
  channel: 'account.0f0e6c4e-3a49-4f7e-9d8e-2b2d3a0c1b11',
  retentionClass: 'account',
  retainUntil: new Date('2046-12-04T01:02:03.456Z'),
  body: { id: '0193a8b4-0000-7000-8000-000000000001', offset: 7, payload: { title: '成交回报', qty: 100 } },
  text: '成交回报 委托 O1 已全部成交',
  ...over,
});

describe('archive canonical JSON', () => {
  it('prints every sample exactly as the first implementation did', () => {
    for (const v of samples) expect(canonicalJson(v)).toBe(reference(v));
  });

  it('leaves the value it prints untouched (a sorted view is a copy)', () => {
    const v = { b: { d: 1, c: [{ y: 1, x: 2 }] }, a: 0 };
    const before = JSON.stringify(v);
    canonicalJson(v);
    expect(JSON.stringify(v)).toBe(before);
    expect(Object.keys(v)).toEqual(['b', 'a']);
  });

  it('the split around seq joins to the whole canonical record, so hashing after the split is the same hash', () => {
    for (const f of [fields(), fields({ seq: 1, conversationId: 'c0ffee00-0000-4000-8000-000000000000', text: '' }), fields({ seq: 9_007_199_254, body: {} })]) {
      const [before, after] = canonicalAroundSeq(f);
      const whole = canonicalJson(chainedFieldsJson(f));
      expect(`${before}${f.seq}${after}`).toBe(whole);
      // With the body printed beforehand (as ArchiveRepo.prepare does): the same split.
      expect(canonicalAroundSeq(f, canonicalJson(f.body))).toEqual([before, after]);
      const hash = createHash('sha256').update(GENESIS_HASH).update('\n').update(`${before}${f.seq}${after}`).digest('hex');
      expect(hash).toBe(recordHash(GENESIS_HASH, f));
    }
  });
});
