/**
 * The one place that formats times: always in Asia/Shanghai (the firm's and the exchanges' time),
 * whatever the browser's zone, in the current language's conventions.
 */
import { lang } from '../i18n/i18n.ts';

export const TIME_ZONE = 'Asia/Shanghai';

const cache = new Map<string, Intl.DateTimeFormat>();
function fmt(kind: 'dateTime' | 'date' | 'time' | 'short'): Intl.DateTimeFormat {
  const key = `${lang.value}:${kind}`;
  let f = cache.get(key);
  if (!f) {
    const base: Intl.DateTimeFormatOptions = { timeZone: TIME_ZONE, hour12: false };
    const opts: Intl.DateTimeFormatOptions =
      kind === 'date'
        ? { ...base, year: 'numeric', month: '2-digit', day: '2-digit' }
        : kind === 'time'
          ? { ...base, hour: '2-digit', minute: '2-digit' }
          : kind === 'short'
            ? { ...base, month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' }
            : { ...base, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' };
    f = new Intl.DateTimeFormat(lang.value === 'en' ? 'en-GB' : 'zh-CN', opts);
    cache.set(key, f);
  }
  return f;
}

function parse(v: string | number | Date | null | undefined): Date | null {
  if (v === null || v === undefined || v === '') return null;
  const d = v instanceof Date ? v : new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** e.g. 2026/03/02 14:05:09 */
export function formatDateTime(v: string | number | Date | null | undefined): string {
  const d = parse(v);
  return d ? fmt('dateTime').format(d) : '';
}

/** e.g. 2026/03/02 */
export function formatDate(v: string | number | Date | null | undefined): string {
  const d = parse(v);
  return d ? fmt('date').format(d) : '';
}

/** e.g. 03/02 14:05 — for lists. */
export function formatShort(v: string | number | Date | null | undefined): string {
  const d = parse(v);
  return d ? fmt('short').format(d) : '';
}

/** Hours and minutes, e.g. 14:05. */
export function formatClock(v: string | number | Date | null | undefined): string {
  const d = parse(v);
  return d ? fmt('time').format(d) : '';
}

/** A wait or age as 3 分钟 / 2 小时 / 1 天 (3 min / 2 h / 1 d). */
export function formatDuration(ms: number): string {
  const en = lang.value === 'en';
  const m = Math.max(0, Math.round(ms / 60_000));
  if (m < 60) return en ? `${m} min` : `${m} 分钟`;
  const h = Math.floor(m / 60);
  if (h < 48) return en ? `${h} h ${m % 60} min` : `${h} 小时 ${m % 60} 分钟`;
  const d = Math.floor(h / 24);
  return en ? `${d} d` : `${d} 天`;
}

/**
 * A wall-clock time typed in Asia/Shanghai (`YYYY-MM-DDTHH:mm` from <input type="datetime-local">) as an
 * ISO instant. Shanghai has no daylight saving, so the offset is always +08:00.
 */
export function shanghaiInputToIso(local: string): string | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(local)) return null;
  const d = new Date(`${local}:00+08:00`);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** An instant as the `YYYY-MM-DDTHH:mm` an <input type="datetime-local"> shows, in Asia/Shanghai. */
export function isoToShanghaiInput(v: string | number | Date): string {
  const d = new Date(new Date(v).getTime() + 8 * 3600_000);
  return d.toISOString().slice(0, 16);
}
