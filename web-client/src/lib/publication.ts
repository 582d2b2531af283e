/**
 * Reading a publication's payload for display, whatever its kind: title, summary, body, tickers, risk,
 * severity. Payloads are validated by the server per kind; this only picks what is there and typed.
 */
import type { PublicationFrame } from '../../../src/gateway/protocol.ts';
import { tOr } from '../i18n/i18n.ts';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

export interface Shown {
  title: string;
  summary?: string;
  body?: string;
  tickers: string[];
  risk?: string;
  severity?: 'info' | 'warning' | 'critical';
}

export function show(p: Pick<PublicationFrame, 'kind' | 'payload'>): Shown {
  const pl: Obj = isObj(p.payload) ? p.payload : {};
  const tickers = Array.isArray(pl.tickers) ? pl.tickers.filter((x): x is string => typeof x === 'string') : [];
  const symbol = str(pl.symbol) ?? str(pl.security);
  if (symbol && !tickers.includes(symbol)) tickers.unshift(symbol);
  const riskRaw = str(pl.riskLevel) ?? str(pl.productRisk);
  const severity = pl.severity === 'info' || pl.severity === 'warning' || pl.severity === 'critical' ? pl.severity : undefined;
  return {
    title: str(pl.title) ?? str(pl.text) ?? tOr(`kind_${p.kind}`, p.kind),
    summary: str(pl.summary) ?? (p.kind !== 'note' ? str(pl.body) ?? str(pl.rationale) : undefined),
    body: p.kind === 'note' ? str(pl.body) : undefined,
    tickers,
    risk: riskRaw && /^R[1-5]$/.test(riskRaw) ? riskRaw : undefined,
    severity,
  };
}
