/**
 * Securities directory (static): look a security up by its code, or search by code prefix or by a
 * substring of its Chinese or English name. Pure; the data is in securities-data.ts. The web client uses
 * it to pick symbols for price alerts, research tickers and recommendations.
 */
import { SYMBOL_RE } from '../../channels/family.ts';
import { SECURITY_ROWS } from './securities-data.ts';

export type SecurityKind = 'stock' | 'etf';
export type Exchange = 'SH' | 'SZ' | 'BJ';

export interface Security {
  /** Code with exchange suffix, e.g. 600519.SH. */
  symbol: string;
  name: { zh: string; en: string };
  exchange: Exchange;
  kind: SecurityKind;
}

export interface SecuritiesDirectory {
  get(symbol: string): Security | undefined;
  /** Best matches first: exact code, then code prefix, then name (Chinese, then English). */
  search(q: string, limit: number): Security[];
  readonly size: number;
}

/** Whether `symbol` has the grammar of an A-share code (does not say whether it is listed here). */
export function isSymbol(symbol: string): boolean {
  return SYMBOL_RE.test(symbol);
}

/** Folds a query or a name for matching: NFKC (full-width → half-width), lower case, trimmed. */
const fold = (s: string) => s.normalize('NFKC').toLowerCase().trim();

export class StaticSecuritiesDirectory implements SecuritiesDirectory {
  private readonly bySymbol = new Map<string, Security>();
  private readonly list: Array<{ s: Security; zh: string; en: string }> = [];

  constructor(securities: readonly Security[]) {
    for (const s of [...securities].sort((a, b) => a.symbol.localeCompare(b.symbol))) {
      if (this.bySymbol.has(s.symbol)) throw new Error(`securities directory: duplicate ${s.symbol}`);
      if (!isSymbol(s.symbol)) throw new Error(`securities directory: bad symbol ${s.symbol}`);
      this.bySymbol.set(s.symbol, s);
      this.list.push({ s, zh: fold(s.name.zh), en: fold(s.name.en) });
    }
  }

  get size(): number {
    return this.list.length;
  }

  get(symbol: string): Security | undefined {
    return this.bySymbol.get(symbol.toUpperCase());
  }

  search(q: string, limit: number): Security[] {
    const needle = fold(q);
    if (!needle) return this.list.slice(0, limit).map((x) => x.s);
    const rank = (x: { s: Security; zh: string; en: string }): number => {
      const sym = x.s.symbol.toLowerCase();
      if (sym === needle) return 0;
      if (sym.startsWith(needle)) return 1;
      if (x.zh.includes(needle)) return x.zh.startsWith(needle) ? 2 : 3;
      if (x.en.includes(needle)) return x.en.startsWith(needle) ? 4 : 5;
      return -1;
    };
    const hits: Array<{ r: number; s: Security }> = [];
    for (const x of this.list) {
      const r = rank(x);
      if (r >= 0) hits.push({ r, s: x.s });
    }
    // Stable sort: within a rank, by symbol (the list order).
    return hits
      .sort((a, b) => a.r - b.r)
      .slice(0, limit)
      .map((h) => h.s);
  }
}

/** The directory of the well-known securities in securities-data.ts. */
export const SECURITIES: SecuritiesDirectory = new StaticSecuritiesDirectory(
  SECURITY_ROWS.map(([code, exchange, kind, zh, en]) => ({ symbol: `${code}.${exchange}`, name: { zh, en }, exchange, kind })),
);
