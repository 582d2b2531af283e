/** The response-time bins of the service dashboards (src/domain/response-bins.ts). */
import { describe, expect, it } from 'vitest';
import { RESPONSE_BINS, RESPONSE_BIN_EDGES, RESPONSE_BIN_SQL_THRESHOLDS, histPercentile, oneWait, responseBin } from '../../src/domain/response-bins.ts';

const histOf = (waits: number[]) => {
  const h = new Array<number>(RESPONSE_BINS).fill(0);
  for (const w of waits) h[responseBin(w)]++;
  return h;
};

describe('response bins', () => {
  it('puts 0 alone, each edge in its own bin and longer waits in the open last bin', () => {
    expect(responseBin(0)).toBe(0);
    expect(responseBin(1)).toBe(1);
    expect(responseBin(10)).toBe(1);
    expect(responseBin(11)).toBe(2);
    RESPONSE_BIN_EDGES.forEach((e, i) => expect(responseBin(e), String(e)).toBe(i));
    expect(responseBin(RESPONSE_BIN_EDGES.at(-1)! + 1)).toBe(RESPONSE_BINS - 1);
    expect(oneWait(61)).toEqual(Array.from({ length: RESPONSE_BINS }, (_, i) => (i === responseBin(90) ? 1 : 0)));
  });

  it('matches width_bucket over the SQL thresholds', () => {
    // width_bucket(v, t) = how many thresholds are ≤ v.
    const widthBucket = (v: number) => RESPONSE_BIN_SQL_THRESHOLDS.filter((x) => x <= v).length;
    for (const v of [0, 1, 9, 10, 11, 59, 60, 61, 3599, 3600, 3601, 2_592_000, 2_592_001, 9_999_999]) expect(widthBucket(v), String(v)).toBe(responseBin(v));
  });

  it('reads nearest-rank percentiles as the upper edge of their bin', () => {
    expect(histPercentile(histOf([]), 0.5)).toBeNull();
    expect(histPercentile(histOf([0, 0, 0]), 0.9)).toBe(0);
    // Edges are exact: 10 waits, p50 = 5th, p90 = 9th.
    const edges = [0, 10, 30, 60, 60, 300, 600, 1800, 3600, 7200];
    expect(histPercentile(histOf(edges), 0.5)).toBe(60);
    expect(histPercentile(histOf(edges), 0.9)).toBe(3600);
    // Other waits report the edge above them: 61 s → 90 s, 2 h 1 s → 3 h.
    expect(histPercentile(histOf([61]), 0.5)).toBe(90);
    expect(histPercentile(histOf([7201]), 0.9)).toBe(10_800);
    // Beyond 30 days: reported as 30 days.
    expect(histPercentile(histOf([40 * 86_400]), 0.5)).toBe(2_592_000);
  });
});
