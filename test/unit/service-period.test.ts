/** Periods and buckets of the service dashboards (src/service/quality.ts), fixed clocks. */
import { describe, expect, it } from 'vitest';
import { QiaoError } from '../../src/errors/codes.ts';
import { bucketsOf, parsePeriod, rollupPlan } from '../../src/service/quality.ts';

// 2026-12-04 01:30 in Shanghai.
const NOW = new Date('2026-12-03T17:30:00Z');

describe('service periods', () => {
  it('defaults to the 30 Shanghai days up to today, by day, trading hours', () => {
    expect(parsePeriod({}, NOW)).toEqual({ from: '2026-11-05', to: '2026-12-04', bucket: 'day', hours: 'trading' });
    expect(parsePeriod({ from: '2026-01-01' }, NOW)).toMatchObject({ from: '2026-01-01', to: '2026-01-30' });
    expect(parsePeriod({ to: '2026-03-01' }, NOW)).toMatchObject({ from: '2026-01-31', to: '2026-03-01' });
  });

  it('refuses bad dates, reversed or over-long periods, other buckets and hours with QIAO_SERVICE_RANGE_INVALID', () => {
    for (const q of [{ from: '2026-02-29' }, { from: '2026/01/01' }, { from: '2026-06-30', to: '2026-06-01' }, { from: '2025-01-01', to: '2026-01-02' }, { bucket: 'year' }, { hours: 'night' }]) {
      try {
        parsePeriod(q, NOW);
        expect.unreachable(JSON.stringify(q));
      } catch (e) {
        expect((e as QiaoError).code, JSON.stringify(q)).toBe('QIAO_SERVICE_RANGE_INVALID');
      }
    }
    // 366 days, a leap year's worth, is allowed.
    expect(parsePeriod({ from: '2024-01-01', to: '2024-12-31' }, NOW).from).toBe('2024-01-01');
  });

  it('names buckets by their first day: Mondays for weeks, the 1st for months', () => {
    expect(bucketsOf(parsePeriod({ from: '2026-06-03', to: '2026-06-16', bucket: 'week' }, NOW))).toEqual(['2026-06-01', '2026-06-08', '2026-06-15']);
    expect(bucketsOf(parsePeriod({ from: '2026-01-31', to: '2026-03-01', bucket: 'month' }, NOW))).toEqual(['2026-01-01', '2026-02-01', '2026-03-01']);
    expect(bucketsOf(parsePeriod({ from: '2026-06-03', to: '2026-06-05' }, NOW))).toEqual(['2026-06-03', '2026-06-04', '2026-06-05']);
  });

  it('reads whole past months from month rows and every other day from day rows', () => {
    const by = (from: string, to: string, bucket = 'month') => rollupPlan(parsePeriod({ from, to, bucket }, NOW), '2026-12-04');
    expect(by('2026-01-01', '2026-12-04')).toEqual({
      months: ['2026-01-01', '2026-02-01', '2026-03-01', '2026-04-01', '2026-05-01', '2026-06-01', '2026-07-01', '2026-08-01', '2026-09-01', '2026-10-01', '2026-11-01'],
      dayRanges: [['2026-12-01', '2026-12-04']],
    });
    expect(by('2025-12-05', '2026-02-10')).toEqual({ months: ['2026-01-01'], dayRanges: [['2025-12-05', '2025-12-31'], ['2026-02-01', '2026-02-10']] });
    // The current month is read by day even when the period covers all of it (its open tasks are not all overdue yet).
    expect(rollupPlan(parsePeriod({ from: '2026-12-01', to: '2026-12-31', bucket: 'month' }, NOW), '2026-12-31')).toEqual({ months: [], dayRanges: [['2026-12-01', '2026-12-31']] });
    // By day or week: day rows only.
    expect(by('2026-01-01', '2026-03-31', 'week')).toEqual({ months: [], dayRanges: [['2026-01-01', '2026-03-31']] });
  });
});
