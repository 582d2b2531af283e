/**
 * Wall-clock arithmetic in an IANA time zone with Intl only (no date library): what local date and
 * time an instant is, and which instant a local date and time is. Pure; formatters are cached because
 * building an Intl.DateTimeFormat costs far more than using one (fanout calls this per recipient).
 */

export interface LocalDateTime {
  year: number;
  /** 1–12 */
  month: number;
  day: number;
  hour: number;
  minute: number;
  /** 0 = Sunday … 6 = Saturday */
  weekday: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'short',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Whether `tz` is a time zone this runtime knows (used to validate preferences). */
export function isValidTimeZone(tz: string): boolean {
  try {
    formatter(tz);
    return true;
  } catch {
    return false;
  }
}

interface Parts extends LocalDateTime {
  second: number;
}

function parts(t: number, timeZone: string): Parts {
  const out: Partial<Parts> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(t))) {
    switch (p.type) {
      case 'year':
        out.year = Number(p.value);
        break;
      case 'month':
        out.month = Number(p.value);
        break;
      case 'day':
        out.day = Number(p.value);
        break;
      case 'hour':
        out.hour = Number(p.value);
        break;
      case 'minute':
        out.minute = Number(p.value);
        break;
      case 'second':
        out.second = Number(p.value);
        break;
      case 'weekday':
        out.weekday = WEEKDAYS[p.value];
        break;
    }
  }
  return out as Parts;
}

export function localParts(t: Date | number, timeZone: string): LocalDateTime {
  const { second: _s, ...rest } = parts(typeof t === 'number' ? t : t.getTime(), timeZone);
  return rest;
}

/** Offset of `timeZone` from UTC at instant `t`, in ms (Shanghai: +8 h). */
function offsetAt(t: number, timeZone: string): number {
  const p = parts(t, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - Math.floor(t / 1000) * 1000;
}

/**
 * The instant at which the wall clock in `timeZone` shows the given local date and time. A time that
 * does not exist (skipped by a DST jump) resolves to the instant after the jump; an ambiguous one
 * (repeated) to its first occurrence.
 */
export function zonedToInstant(year: number, month: number, day: number, hour: number, minute: number, timeZone: string): Date {
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  let t = wall - offsetAt(wall, timeZone);
  // A second pass settles instants near an offset change.
  const o2 = offsetAt(t, timeZone);
  t = wall - o2;
  const o3 = offsetAt(t, timeZone);
  if (o3 !== o2) t = wall - Math.max(o2, o3);
  return new Date(t);
}

/** Adds `days` to a calendar date (no time zone involved: pure calendar arithmetic). */
export function addDays(year: number, month: number, day: number, days: number): { year: number; month: number; day: number; weekday: number } {
  const d = new Date(Date.UTC(year, month - 1, day + days));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), weekday: d.getUTCDay() };
}

/** `HH:MM` → minutes after midnight, or null when malformed. */
export function parseHm(hm: string | null | undefined): number | null {
  if (!hm) return null;
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(hm);
  return m ? Number(m[1]) * 60 + Number(m[2]) : null;
}

export const HM_PATTERN = '^([01][0-9]|2[0-3]):[0-5][0-9]$';

/** The first instant strictly after `now` at which the local clock in `timeZone` reads `minutes` after midnight. */
export function nextLocalTime(now: Date, minutes: number, timeZone: string): Date {
  const p = localParts(now, timeZone);
  for (let i = 0; i < 3; i++) {
    const d = addDays(p.year, p.month, p.day, i);
    const t = zonedToInstant(d.year, d.month, d.day, Math.floor(minutes / 60), minutes % 60, timeZone);
    if (t.getTime() > now.getTime()) return t;
  }
  /* c8 ignore next */
  throw new Error('unreachable: a local time recurs within three days');
}

/** Local `YYYY-MM-DD` of a date triple. */
export function ymd(year: number, month: number, day: number): string {
  return `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}
