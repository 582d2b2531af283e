/**
 * Security names from the directory (GET /api/securities/:symbol), cached for the page's life: the
 * directory is static, and watchlist, alerts and recommendations all show the same few names.
 */
import { signal } from '@preact/signals';
import { api, call, type Answer } from '../../api/api.ts';
import { lang } from '../../i18n/i18n.ts';

export type Security = Answer<'/api/securities/{symbol}', 'get'>;

/** A-share code with its exchange, as the server checks it (channels/family.ts SYMBOL_RE). */
export const SYMBOL_RE = /^\d{6}\.(SH|SZ|BJ)$/;

/** symbol → the security, or null when the directory does not have it. */
const known = signal<ReadonlyMap<string, Security | null>>(new Map());
const asked = new Set<string>();

function remember(symbol: string, s: Security | null): void {
  const next = new Map(known.value);
  next.set(symbol, s);
  known.value = next;
}

/** Fills the cache from a search answer, so picked suggestions need no second call. */
export function rememberAll(list: readonly Security[]): void {
  const next = new Map(known.value);
  for (const s of list) next.set(s.symbol, s);
  known.value = next;
}

/** The name of `symbol` in the current language, once known (undefined while unknown or not listed). */
export function nameOf(symbol: string): string | undefined {
  const s = known.value.get(symbol);
  if (s === undefined && SYMBOL_RE.test(symbol) && !asked.has(symbol)) {
    asked.add(symbol);
    call(api.GET('/api/securities/{symbol}', { params: { path: { symbol } } })).then(
      (r) => remember(symbol, r),
      () => remember(symbol, null),
    );
  }
  if (!s) return undefined;
  return lang.value === 'en' ? s.name.en : s.name.zh;
}

export async function search(q: string): Promise<Security[]> {
  const r = await call(api.GET('/api/securities', { params: { query: { q, limit: 8 } } }));
  rememberAll(r.items);
  return r.items;
}
