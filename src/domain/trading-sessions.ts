/**
 * A-share continuous trading sessions (SSE/SZSE): 09:30–11:30 and 13:00–15:00 Shanghai time, Monday
 * to Friday, except exchange holidays. The exchanges publish the holiday calendar each December; it is
 * configuration (QIAO_MARKET_HOLIDAYS), not code. Pure.
 */
import { addDays, localParts, ymd, zonedToInstant } from './zoned-time.ts';

export const MARKET_TZ = 'Asia/Shanghai';

/** Sessions as [open, close) minutes after local midnight. */
export const SESSIONS: ReadonlyArray<readonly [number, number]> = [
  [9 * 60 + 30, 11 * 60 + 30],
  [13 * 60, 15 * 60],
];

export type Holidays = ReadonlySet<string>;
const NO_HOLIDAYS: Holidays = new Set();

function isTradingDay(year: number, month: number, day: number, weekday: number, holidays: Holidays): boolean {
  return weekday >= 1 && weekday <= 5 && !holidays.has(ymd(year, month, day));
}

export function isInSession(t: Date, holidays: Holidays = NO_HOLIDAYS): boolean {
  const p = localParts(t, MARKET_TZ);
  if (!isTradingDay(p.year, p.month, p.day, p.weekday, holidays)) return false;
  const m = p.hour * 60 + p.minute;
  return SESSIONS.some(([o, c]) => m >= o && m < c);
}

/** `t` itself when the market is in session, otherwise the next session open. */
export function nextSessionOpen(t: Date, holidays: Holidays = NO_HOLIDAYS): Date {
  if (isInSession(t, holidays)) return t;
  const p = localParts(t, MARKET_TZ);
  const m = p.hour * 60 + p.minute;
  // Up to a month ahead covers the longest exchange closure (Spring Festival is about nine days).
  for (let i = 0; i < 31; i++) {
    const d = addDays(p.year, p.month, p.day, i);
    if (!isTradingDay(d.year, d.month, d.day, d.weekday, holidays)) continue;
    for (const [open] of SESSIONS) {
      if (i === 0 && open <= m) continue;
      return zonedToInstant(d.year, d.month, d.day, Math.floor(open / 60), open % 60, MARKET_TZ);
    }
  }
  throw new Error('no trading session within 31 days: check QIAO_MARKET_HOLIDAYS');
}

/** Parses `2026-01-01,2026-02-16` into a holiday set; throws on a malformed entry. */
export function parseHolidays(list: string | undefined): Holidays {
  const out = new Set<string>();
  for (const raw of (list ?? '').split(',')) {
    const s = raw.trim();
    if (!s) continue;
    if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) throw new Error(`not a YYYY-MM-DD date: "${s}"`);
    out.add(s);
  }
  return out;
}
