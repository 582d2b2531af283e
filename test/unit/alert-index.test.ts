import { describe, expect, it } from 'vitest';
import { AlertIndex, type AlertRuleState } from '../../src/domain/alert-index.ts';

let seq = 0;
function rule(p: Partial<AlertRuleState> & Pick<AlertRuleState, 'direction' | 'price'>): AlertRuleState {
  seq++;
  return { id: `r${seq}`, userId: 'u1', symbol: '600519.SH', repeat: false, armed: true, ...p };
}
const ids = (rs: Array<{ id: string }>) => rs.map((r) => r.id).sort();

describe('AlertIndex', () => {
  it('fires an above rule when the price reaches the threshold, and a below rule when it falls to it', () => {
    const ix = new AlertIndex();
    const up = rule({ direction: 'above', price: 1800 });
    const down = rule({ direction: 'below', price: 1700 });
    ix.upsert(up);
    ix.upsert(down);
    expect(ix.evaluate('600519.SH', 1750).fired).toEqual([]);
    expect(ix.evaluate('600519.SH', 1799.99).fired).toEqual([]);
    expect(ids(ix.evaluate('600519.SH', 1800).fired)).toEqual([up.id]);
    expect(ids(ix.evaluate('600519.SH', 1690).fired)).toEqual([down.id]);
  });

  it('one-shot rules fire once and leave the index', () => {
    const ix = new AlertIndex();
    const r = rule({ direction: 'above', price: 10 });
    ix.upsert(r);
    expect(ids(ix.evaluate('600519.SH', 11).fired)).toEqual([r.id]);
    expect(ix.get(r.id)).toBeUndefined();
    expect(ix.size).toBe(0);
    expect(ix.evaluate('600519.SH', 9).fired).toEqual([]);
    expect(ix.evaluate('600519.SH', 12).fired).toEqual([]);
  });

  it('a rule created while the condition already holds fires on the next tick (level semantics)', () => {
    const ix = new AlertIndex();
    const r = rule({ direction: 'below', price: 20 });
    ix.upsert(r);
    expect(ids(ix.evaluate('600519.SH', 15).fired)).toEqual([r.id]);
  });

  it('repeat rules re-arm only after the price crosses back by the hysteresis band', () => {
    const ix = new AlertIndex({ hysteresisBp: 20 }); // 0.2 %: 1800 → re-arm below 1796.40
    const r = rule({ direction: 'above', price: 1800, repeat: true });
    ix.upsert(r);
    const fired: number[] = [];
    const rearmed: number[] = [];
    for (const p of [1799, 1800, 1799.99, 1800, 1801, 1797, 1800.5, 1796.5, 1801, 1796.39, 1799, 1800]) {
      const ev = ix.evaluate('600519.SH', p);
      if (ev.fired.length) fired.push(p);
      if (ev.rearmed.length) rearmed.push(p);
    }
    // Fires at 1800; hovering (1799.99, 1800, 1801, 1797, 1800.5, 1796.5, 1801) stays quiet;
    // 1796.39 < 1796.40 re-arms; the next 1800 fires again.
    expect(fired).toEqual([1800, 1800]);
    expect(rearmed).toEqual([1796.39]);
    expect(ix.get(r.id)?.armed).toBe(false);
  });

  it('below repeat rules mirror the band upwards; with 0 bp the price only has to be strictly back', () => {
    const ix = new AlertIndex({ hysteresisBp: 0 });
    const r = rule({ direction: 'below', price: 50, repeat: true });
    ix.upsert(r);
    const seen = [49, 50, 50.01, 50, 51].map((p) => {
      const ev = ix.evaluate('600519.SH', p);
      return ev.fired.length ? 'F' : ev.rearmed.length ? 'R' : '-';
    });
    expect(seen).toEqual(['F', '-', 'R', 'F', 'R']);
  });

  it('fires every rule a gap jumps over, in one tick, and only those', () => {
    const ix = new AlertIndex();
    const rs = [10, 11, 12, 13, 14, 15].map((price) => rule({ direction: 'above', price }));
    rs.forEach((r) => ix.upsert(r));
    const ev = ix.evaluate('600519.SH', 13.5);
    expect(ev.fired.map((r) => r.price)).toEqual([10, 11, 12, 13]);
    expect(ix.countFor('600519.SH')).toBe(2);
  });

  it('merges many fired repeat rules back in sorted order (gap across > 8 thresholds)', () => {
    const ix = new AlertIndex({ hysteresisBp: 0 });
    for (let i = 1; i <= 50; i++) ix.upsert(rule({ direction: 'above', price: i, repeat: true }));
    expect(ix.evaluate('600519.SH', 30).fired.length).toBe(30);
    // Back down to 5: re-arms 6..30 (re-arm needs price < threshold).
    expect(ix.evaluate('600519.SH', 5.5).rearmed.map((r) => r.price).sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i + 6));
    expect(ix.evaluate('600519.SH', 20).fired.map((r) => r.price)).toEqual(Array.from({ length: 15 }, (_, i) => i + 6));
  });

  it('never looks at other symbols, and looks at O(log n + k) rules of its own', () => {
    const ix = new AlertIndex();
    // 3,000 symbols × 30 rules, plus one hot symbol with 10,000 rules.
    for (let s = 0; s < 3000; s++) {
      const symbol = `${String(s).padStart(6, '0')}.SZ`;
      for (let i = 0; i < 30; i++) ix.upsert({ id: `${symbol}-${i}`, userId: 'u', symbol, direction: i % 2 ? 'above' : 'below', price: 10 + i, repeat: i % 3 === 0, armed: true });
    }
    for (let i = 0; i < 10_000; i++) ix.upsert({ id: `hot-${i}`, userId: 'u', symbol: '600519.SH', direction: i % 2 ? 'above' : 'below', price: 1000 + i / 10, repeat: false, armed: true });
    expect(ix.size).toBe(100_000);

    // Above rules at 1000.1, 1000.3 … 1999.9 and below rules at 1000.0, 1000.2 … 1999.8: at 1500 the
    // above rules ≤ 1500 (2,500) and the below rules ≥ 1500 (2,500) fire — k = 5,000, plus the probes.
    const first = ix.evaluate('600519.SH', 1500);
    expect(first.fired.length).toBe(5000);
    expect(first.evaluated).toBeLessThan(5000 + 4 * 15);

    const ev = ix.evaluate('600519.SH', 1500.05); // nothing new crosses
    expect(ev.fired.length).toBe(0);
    // Four binary searches over ≤ 10,000 rules: at most 4 × 14 probes.
    expect(ev.evaluated).toBeLessThanOrEqual(4 * 14);
    expect(ev.evaluated).toBeGreaterThan(0);

    // 000042.SZ: below rules at 10, 12 … 38 (10.5 fires the 14 at ≥ 12), above rules at 11 … 39 (none ≤ 10.5).
    const one = ix.evaluate('000042.SZ', 10.5);
    expect(one.fired.length).toBe(14);
    expect(one.evaluated).toBeLessThanOrEqual(14 + 4 * 6);
    expect(ix.evaluate('999999.SH', 10).evaluated).toBe(0);
  });

  it('removes and replaces rules by id, and applies remote state', () => {
    const ix = new AlertIndex();
    const a = rule({ direction: 'above', price: 10, repeat: true });
    const b = rule({ direction: 'above', price: 10, repeat: true });
    ix.upsert(a);
    ix.upsert(b);
    expect(ix.remove(a.id)).toBe(true);
    expect(ix.remove(a.id)).toBe(false);
    expect(ids(ix.evaluate('600519.SH', 10).fired)).toEqual([b.id]);
    // Another node re-armed b.
    ix.setState(b.id, { active: true, armed: true });
    expect(ids(ix.evaluate('600519.SH', 10.5).fired)).toEqual([b.id]);
    // Moved to another price.
    ix.upsert({ ...b, price: 20, armed: true });
    expect(ix.evaluate('600519.SH', 15).fired).toEqual([]);
    expect(ids(ix.evaluate('600519.SH', 20).fired)).toEqual([b.id]);
    ix.setState(b.id, { active: false, armed: false });
    expect(ix.size).toBe(0);
    expect(ix.symbolCount).toBe(0);
  });

  it('ignores non-positive or non-finite prices and refuses such thresholds', () => {
    const ix = new AlertIndex();
    ix.upsert(rule({ direction: 'below', price: 5 }));
    expect(ix.evaluate('600519.SH', 0).fired).toEqual([]);
    expect(ix.evaluate('600519.SH', Number.NaN).fired).toEqual([]);
    expect(() => ix.upsert(rule({ direction: 'above', price: 0 }))).toThrow(RangeError);
    expect(() => ix.upsert(rule({ direction: 'above', price: Infinity }))).toThrow(RangeError);
  });
});

describe('AlertIndex: percent-move rules', () => {
  const move = (p: Partial<AlertRuleState> = {}) => rule({ direction: 'move', price: 100, percent: 5, ...p });

  it('fires on a move of at least the percent either way from the base price, and a one-shot leaves the index', () => {
    const ix = new AlertIndex({ hysteresisBp: 0 });
    const up = move();
    const down = move();
    ix.upsert(up);
    ix.upsert(down);
    expect(ix.countFor('600519.SH')).toBe(2);
    expect(ix.evaluate('600519.SH', 104.99).fired).toEqual([]);
    expect(ix.evaluate('600519.SH', 95.01).fired).toEqual([]);
    const hit = ix.evaluate('600519.SH', 105).fired;
    expect(ids(hit)).toEqual(ids([up, down]));
    expect(hit[0]).toMatchObject({ direction: 'move', side: 'above', threshold: 105, price: 100, percent: 5 });
    // Both legs are gone: a fall through the lower threshold fires nothing more.
    expect(ix.size).toBe(0);
    expect(ix.evaluate('600519.SH', 90).fired).toEqual([]);
  });

  it('fires the lower leg at or below base·(1 − p/100)', () => {
    const ix = new AlertIndex();
    const r = move({ percent: 10 });
    ix.upsert(r);
    expect(ix.evaluate('600519.SH', 90.01).fired).toEqual([]);
    const hit = ix.evaluate('600519.SH', 90).fired;
    expect(hit).toHaveLength(1);
    expect(hit[0]).toMatchObject({ id: r.id, side: 'below' });
  });

  it('a repeat move rule fires once per excursion and re-arms only back inside the band (with hysteresis)', () => {
    const ix = new AlertIndex({ hysteresisBp: 100 }); // 1 %: re-arm strictly inside (95·1.01, 105·0.99) = (95.95, 103.95)
    const r = move({ repeat: true });
    ix.upsert(r);
    let fired = 0;
    let rearmed = 0;
    for (const p of [101, 106, 107, 104, 95.9, 94, 100, 94.5, 103.9, 105.5]) {
      const ev = ix.evaluate('600519.SH', p);
      fired += ev.fired.length;
      rearmed += ev.rearmed.length;
    }
    // 106 fires; 107, 104, 95.9, 94 do not (not re-armed yet); 100 re-arms; 94.5 fires; 103.9 re-arms; 105.5 fires.
    expect(fired).toBe(3);
    expect(rearmed).toBe(2);
    expect(ix.get(r.id)).toMatchObject({ armed: false });
    expect(ix.countFor('600519.SH')).toBe(1);
  });

  it('applies remote state and removal to both legs', () => {
    const ix = new AlertIndex();
    const r = move({ repeat: true });
    ix.upsert(r);
    ix.setState(r.id, { active: true, armed: false });
    expect(ix.evaluate('600519.SH', 110).fired).toEqual([]);
    expect(ix.evaluate('600519.SH', 100).rearmed).toHaveLength(1);
    expect(ix.remove(r.id)).toBe(true);
    expect(ix.symbolCount).toBe(0);
    expect(ix.evaluate('600519.SH', 200).fired).toEqual([]);
  });

  it('refuses a move rule without a percent in (0, 50]', () => {
    const ix = new AlertIndex();
    expect(() => ix.upsert(move({ percent: 0 }))).toThrow(RangeError);
    expect(() => ix.upsert(move({ percent: 51 }))).toThrow(RangeError);
    expect(() => ix.upsert(move({ percent: null }))).toThrow(RangeError);
  });
});
