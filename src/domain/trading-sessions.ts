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

/**
 * Seconds of [a, b) that fall inside trading sessions (whole seconds, rounded down): how long a client
 * waited "in trading hours". A wait from Friday 14:50 to Monday 09:40 counts 10 + 10 minutes; one that
 * starts and ends outside the sessions (an evening question answered before the open) counts 0. Walks
 * the local days of the interval, two sessions each: O(days), however long the wait.
 */
export function tradingSecondsBetween(a: Date, b: Date, holidays: Holidays = NO_HOLIDAYS): number {
  const from = a.getTime();
  const to = b.getTime();
  if (!(to > from)) return 0;
  const start = localParts(from, MARKET_TZ);
  const end = localParts(to, MARKET_TZ);
  const lastDay = ymd(end.year, end.month, end.day);
  let ms = 0;
  for (let i = 0; ; i++) {
    const d = addDays(start.year, start.month, start.day, i);
    const day = ymd(d.year, d.month, d.day);
    if (isTradingDay(d.year, d.month, d.day, d.weekday, holidays)) {
      for (const [open, close] of SESSIONS) {
        const o = zonedToInstant(d.year, d.month, d.day, Math.floor(open / 60), open % 60, MARKET_TZ).getTime();
        const c = zonedToInstant(d.year, d.month, d.day, Math.floor(close / 60), close % 60, MARKET_TZ).getTime();
        const overlap = Math.min(c, to) - Math.max(o, from);
        if (overlap > 0) ms += overlap;
      }
    }
    if (day >= lastDay) break;
  }
  return Math.floor(ms / 1000);
}
