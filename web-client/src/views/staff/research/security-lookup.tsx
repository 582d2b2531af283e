/**
 * The securities directory as the desk views use it: a code's name (GET /api/securities/{symbol},
 * remembered per code) and suggestions while typing (GET /api/securities?q=) for a <datalist>.
 * Used by the research compose form (tickers) and the broker's recommendation form (security).
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, call, type Answer } from '../../../api/api.ts';
import { lang } from '../../../i18n/i18n.ts';

export type Security = Answer<'/api/securities/{symbol}', 'get'>;

/** An A-share code with its exchange, as research note tickers require (600519.SH). */
export const A_SHARE_RE = /^\d{6}\.(SH|SZ|BJ)$/;
/** What a recommendation may name: an A-share or fund code, or a product code (QZ-WM-2026-001). */
export const SECURITY_RE = /^(?:\d{6}\.(?:SH|SZ|BJ|OF)|[A-Z][A-Z0-9-]{2,31})$/;

/** Upper case, full-width dots and spaces normalised: 600519.sh → 600519.SH. */
export function normalizeCode(v: string): string {
  return v.normalize('NFKC').trim().toUpperCase();
}

const names = new Map<string, Promise<Security | null>>();

/** The directory entry of an A-share code, or null when the directory does not list it. */
export function lookupSecurity(symbol: string): Promise<Security | null> {
  let p = names.get(symbol);
  if (!p) {
    p = call(api.GET('/api/securities/{symbol}', { params: { path: { symbol } } })).catch((e: unknown) => {
      if (e instanceof ApiError && e.code === 'QIAO_SECURITY_NOT_FOUND') return null;
      names.delete(symbol);
      throw e;
    });
    names.set(symbol, p);
  }
  return p;
}

/** A security's name in the current language. */
export function securityName(s: Security): string {
  return lang.value === 'en' ? s.name.en || s.name.zh : s.name.zh || s.name.en;
}

/**
 * The name of each A-share code of `symbols` once known: a Security, null (not in the directory) or
 * undefined (still loading, or not an A-share code).
 */
export function useSecurityNames(symbols: readonly string[]): ReadonlyMap<string, Security | null> {
  const [known, setKnown] = useState<ReadonlyMap<string, Security | null>>(new Map());
  const key = symbols.join(',');
  useEffect(() => {
    let alive = true;
    for (const s of symbols) {
      if (!A_SHARE_RE.test(s) || known.has(s)) continue;
      lookupSecurity(s).then(
        (v) => alive && setKnown((m) => new Map(m).set(s, v)),
        () => {
          // A failed look-up only leaves the name out; the code is still valid.
        },
      );
    }
    return () => {
      alive = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  return known;
}

/** Directory matches for what is being typed (code prefix or name), for a <datalist>. */
export function useSecuritySuggestions(q: string): Security[] {
  const [items, setItems] = useState<Security[]>([]);
  useEffect(() => {
    const query = q.trim();
    if (!query || A_SHARE_RE.test(normalizeCode(query))) {
      setItems([]);
      return;
    }
    let alive = true;
    const timer = setTimeout(() => {
      call(api.GET('/api/securities', { params: { query: { q: query, limit: 8 } } })).then(
        (r) => alive && setItems(r.items),
        () => alive && setItems([]),
      );
    }, 200);
    return () => {
      alive = false;
      clearTimeout(timer);
    };
  }, [q]);
  return items;
}

/** The <datalist> of suggestions: value is the code, the label its name. */
export function SecurityOptions(props: { id: string; items: Security[] }) {
  return (
    <datalist id={props.id}>
      {props.items.map((s) => (
        <option key={s.symbol} value={s.symbol}>
          {securityName(s)}
        </option>
      ))}
    </datalist>
  );
}
