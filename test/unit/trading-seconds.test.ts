/** Seconds of a wait that fall inside A-share trading sessions (src/domain/trading-sessions.ts), fixed clocks. */
import { describe, expect, it } from 'vitest';
import { parseHolidays, tradingSecondsBetween } from '../../src/domain/trading-sessions.ts';

/** A Shanghai wall-clock time as an instant: sh('2026-11-27 15:30') or with seconds. */
const sh = (s: string) => new Date(s.replace(' ', 'T') + (s.length === 16 ? ':00' : '') + '+08:00');
const between = (a: string, b: string, holidays?: string) => tradingSecondsBetween(sh(a), sh(b), parseHolidays(holidays));

describe('tradingSecondsBetween', () => {
  it('counts a wait inside one session in full, to the second', () => {
    // 2026-11-27 is a Friday.
    expect(between('2026-11-27 10:00', '2026-11-27 10:05')).toBe(300);
    expect(between('2026-11-27 09:30:00', '2026-11-27 09:30:42')).toBe(42);
    expect(between('2026-11-27 10:00', '2026-11-27 10:00')).toBe(0);
    // The wrong way round is no wait.
    expect(between('2026-11-27 10:05', '2026-11-27 10:00')).toBe(0);
  });

  it('leaves out the lunch break and the time before the open and after the close', () => {
    // 11:20 → 13:10: 10 minutes before lunch, 10 after.
    expect(between('2026-11-27 11:20', '2026-11-27 13:10')).toBe(20 * 60);
    // Asked during lunch, answered during lunch: 0.
    expect(between('2026-11-27 11:45', '2026-11-27 12:50')).toBe(0);
    // 08:00 → 09:40: only from the open.
    expect(between('2026-11-27 08:00', '2026-11-27 09:40')).toBe(10 * 60);
    // 14:50 → 18:00: only until the close.
    expect(between('2026-11-27 14:50', '2026-11-27 18:00')).toBe(10 * 60);
    // A whole trading day: 4 hours.
    expect(between('2026-11-27 00:00', '2026-11-28 00:00')).toBe(4 * 3600);
    // An evening question answered before the next open: 0.
    expect(between('2026-11-26 20:00', '2026-11-27 09:00')).toBe(0);
  });

  it('skips the weekend', () => {
    // Friday 14:50 → Monday 09:40: 10 + 10 minutes.
    expect(between('2026-11-27 14:50', '2026-11-30 09:40')).toBe(20 * 60);
    // Saturday to Sunday: nothing.
    expect(between('2026-11-28 10:00', '2026-11-29 14:00')).toBe(0);
  });

  it('skips exchange holidays', () => {
    // Monday 2026-11-30 declared a holiday: Friday 14:50 → Tuesday 09:40 is again 20 minutes.
    expect(between('2026-11-27 14:50', '2026-12-01 09:40', '2026-11-30')).toBe(20 * 60);
    // Without the holiday Monday's four hours count.
    expect(between('2026-11-27 14:50', '2026-12-01 09:40')).toBe(20 * 60 + 4 * 3600);
    // A wait entirely on a holiday: 0.
    expect(between('2026-11-30 10:00', '2026-11-30 14:00', '2026-11-30')).toBe(0);
  });

  it('counts every session of a long wait', () => {
    // Two full weeks: 10 trading days of 4 hours.
    expect(between('2026-11-23 00:00', '2026-12-07 00:00')).toBe(10 * 4 * 3600);
  });
});
