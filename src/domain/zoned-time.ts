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

/** Offset of `timeZone` from UTC at instant `t`, in ms, straight from Intl (slow: ~10 µs). */
function intlOffsetAt(t: number, timeZone: string): number {
  const v: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(t))) {
    if (p.type !== 'literal' && p.type !== 'weekday' && p.type !== 'era') v[p.type] = Number(p.value);
  }
  const asUtc = Date.UTC(v.year, v.month - 1, v.day, v.hour, v.minute, v.second);
  return asUtc - Math.floor(t / 1000) * 1000;
}

// Offsets change only at transitions on quarter-hour boundaries, so one Intl call per zone and
// quarter hour is enough; everything else is arithmetic.
const QUARTER_MS = 15 * 60_000;
const offsetCache = new Map<string, Map<number, number>>();

/** Offset of `timeZone` from UTC at instant `t`, in ms (Shanghai: +8 h). */
export function offsetAt(t: number, timeZone: string): number {
  const bucket = t - (((t % QUARTER_MS) + QUARTER_MS) % QUARTER_MS);
  let zone = offsetCache.get(timeZone);
  if (!zone) offsetCache.set(timeZone, (zone = new Map()));
  let o = zone.get(bucket);
  if (o === undefined) {
    if (zone.size > 20_000) zone.clear();
    o = intlOffsetAt(bucket, timeZone);
    zone.set(bucket, o);
  }
  return o;
}

export function localParts(t: Date | number, timeZone: string): LocalDateTime {
  const ms = typeof t === 'number' ? t : t.getTime();
  const d = new Date(ms + offsetAt(ms, timeZone));
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    weekday: d.getUTCDay(),
  };
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
  // In a gap (spring forward) the two offsets disagree: the pre-jump (smaller) one lands after the jump.
  if (o3 !== o2) t = wall - Math.min(o2, o3);
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
