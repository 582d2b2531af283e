import { describe, expect, it } from 'vitest';
import { pgArray } from '../../src/store/db.ts';
import { uuidv7 } from '../../src/store/uuid7.ts';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('uuidv7', () => {
  it('is a version-7, RFC-variant UUID whose first 48 bits are the milliseconds given', () => {
    const ms = Date.UTC(2026, 11, 4, 1, 2, 3, 456);
    const id = uuidv7(ms);
    expect(id).toMatch(V7);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(ms);
  });

  it('orders by millisecond and never repeats', () => {
    const ids = Array.from({ length: 5000 }, (_, i) => uuidv7(1_700_000_000_000 + Math.floor(i / 100)));
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 100; i < ids.length; i += 100) expect(ids[i - 1].slice(0, 13) < ids[i].slice(0, 13)).toBe(true);
    expect(uuidv7()).toMatch(V7);
  });
});

describe('pgArray', () => {
  it('quotes every value, escapes quotes and backslashes, and writes NULL for null', () => {
    expect(pgArray([])).toBe('{}');
    expect(pgArray(['a', null, undefined, 'NULL', 'x,y', 'say "hi"', 'C:\\dir', ''])).toBe('{"a",NULL,NULL,"NULL","x,y","say \\"hi\\"","C:\\\\dir",""}');
  });
});
