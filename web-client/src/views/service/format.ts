/**
 * How the service figures read: first-response times and waits as 3分20秒 / 1小时5分 (3 min 20 s /
 * 1 h 5 min), and the blanks the report leaves (no answers, no book) as a dash.
 */
import { lang } from '../../i18n/i18n.ts';

export const DASH = '—';

/** Seconds as the two largest units (45秒, 3分20秒, 1小时5分, 2天3小时); a null as a dash. */
export function formatSeconds(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return DASH;
  const en = lang.value === 'en';
  const s = Math.max(0, Math.round(v));
  const units: Array<[number, string, string]> = [
    [86_400, '天', ' d'],
    [3600, '小时', ' h'],
    [60, '分', ' min'],
    [1, '秒', ' s'],
  ];
  const parts: string[] = [];
  let rest = s;
  for (const [size, zh, e] of units) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    // The largest unit present and the one after it: more is noise on a dashboard.
    if (n > 0 || parts.length > 0) parts.push(n > 0 ? `${n}${en ? e : zh}` : '');
    if (parts.length === 2) break;
  }
  const out = parts.filter(Boolean);
  if (!out.length) return en ? '0 s' : '0秒';
  return out.join(en ? ' ' : '');
}

/** A percent with its one decimal, e.g. 33.3%; a null (no book) as a dash. */
export function formatPercent(v: number | null | undefined): string {
  return v === null || v === undefined ? DASH : `${v}%`;
}

/** An average score (1–5) with up to two decimals. */
export function formatScore(v: number | null | undefined): string {
  return v === null || v === undefined ? DASH : String(Math.round(v * 100) / 100);
}

const STEPS = [10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 172_800, 604_800];

/** A tick step for a time axis up to `max` seconds that lands on whole minutes and hours (not 16分40秒). */
export function timeStep(max: number): number {
  return STEPS.find((s) => max / s <= 6) ?? Math.ceil(max / 6 / 86_400) * 86_400;
}
