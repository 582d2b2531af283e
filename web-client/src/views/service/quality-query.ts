/**
 * The dashboard's query lives in the URL (`/service?scope=team&id=…&from=…&to=…&bucket=week&hours=all`),
 * so a view can be bookmarked, shared and opened by link (a broker's name opens that broker's figures).
 * Left out, the server picks: the caller's default scope, the last 30 days, by day, trading hours.
 */
import { navigate } from '../../app/router.tsx';

export const SCOPE_KINDS = ['broker', 'team', 'branch', 'firm'] as const;
export type ScopeKind = (typeof SCOPE_KINDS)[number];
export const BUCKETS = ['day', 'week', 'month'] as const;
export type Bucket = (typeof BUCKETS)[number];
export const HOURS = ['trading', 'all'] as const;
export type Hours = (typeof HOURS)[number];

export interface QualityQuery {
  scope?: ScopeKind;
  id?: string;
  from?: string;
  to?: string;
  bucket?: string;
  hours?: string;
}

const KEYS = ['scope', 'id', 'from', 'to', 'bucket', 'hours'] as const;

/** The query as the URL says; anything else is passed on as is, and the server judges it. */
export function readQuery(q: URLSearchParams): QualityQuery {
  const out: QualityQuery = {};
  const scope = q.get('scope');
  if (scope && (SCOPE_KINDS as readonly string[]).includes(scope)) out.scope = scope as ScopeKind;
  for (const k of ['id', 'from', 'to', 'bucket', 'hours'] as const) {
    const v = q.get(k);
    if (v) out[k] = v;
  }
  return out;
}

export function queryHref(q: QualityQuery): string {
  const p = new URLSearchParams();
  for (const k of KEYS) {
    const v = q[k];
    if (v) p.set(k, v);
  }
  const s = p.toString();
  return s ? `/service?${s}` : '/service';
}

/** A new query in place of the current one (no history entry per picker change). */
export function setQuery(q: QualityQuery): void {
  navigate(queryHref(q), { replace: true });
}
