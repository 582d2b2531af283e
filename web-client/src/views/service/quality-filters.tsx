/**
 * What the dashboard shows: the scope (from GET /api/service/scopes, plus a broker opened by link),
 * the period, the bucket and the hours first-response times are counted in. Every change goes to the
 * URL, which the view loads from.
 */
import { t } from '../../i18n/i18n.ts';
import { Field } from '../../ui/ui.tsx';
import { BUCKETS, HOURS, setQuery, type QualityQuery, type ScopeKind } from './quality-query.ts';
import type { QualityReport, Scopes } from './types.ts';

interface Option {
  value: string;
  label: string;
}

function scopeOptions(s: Scopes | undefined, r: QualityReport | undefined): Option[] {
  const out: Option[] = [];
  if (s?.self) out.push({ value: `broker:${s.self.id}`, label: t('sq_scopeSelf') });
  if (s?.firm) out.push({ value: `firm:${s.firm.id}`, label: t('sq_scopeFirm', { name: s.firm.name }) });
  for (const b of s?.branches ?? []) out.push({ value: `branch:${b.id}`, label: t('sq_scopeBranch', { name: b.name }) });
  for (const x of s?.teams ?? []) out.push({ value: `team:${x.id}`, label: t('sq_scopeTeam', { name: x.name }) });
  // A broker opened from the table is not among the scopes offered: name it so the picker shows it.
  if (r && !out.some((o) => o.value === `${r.scope.kind}:${r.scope.id}`)) out.push({ value: `${r.scope.kind}:${r.scope.id}`, label: t('sq_scopeBroker', { name: r.scope.name }) });
  return out;
}

export function QualityFilters(props: { q: QualityQuery; scopes: Scopes | undefined; report: QualityReport | undefined }) {
  const { q, scopes, report: r } = props;
  const options = scopeOptions(scopes, r);
  // What is shown: the URL's choice, else what the server picked.
  const current = q.scope ? `${q.scope}:${q.id ?? (q.scope === 'firm' ? (scopes?.firm?.id ?? '') : '')}` : r ? `${r.scope.kind}:${r.scope.id}` : '';
  const from = q.from ?? r?.period.from ?? '';
  const to = q.to ?? r?.period.to ?? '';
  const bucket = q.bucket ?? r?.period.bucket ?? 'day';
  const hours = q.hours ?? r?.period.hours ?? 'trading';
  const set = (patch: QualityQuery) => setQuery({ ...q, ...patch });
  return (
    <form class="sq-filters" data-testid="sq-filters" onSubmit={(e) => e.preventDefault()}>
      {options.length > 1 || !scopes?.self ? (
        <Field label={t('sq_scope')}>
          <select
            data-testid="sq-scope"
            value={current}
            onChange={(e) => {
              const [kind, id] = e.currentTarget.value.split(':');
              set({ scope: kind as ScopeKind, id: kind === 'firm' ? undefined : id });
            }}
          >
            {options.some((o) => o.value === current) ? null : <option value={current}>{t('sq_scopeUnknown')}</option>}
            {options.map((o) => (
              <option key={o.value} value={o.value}>
                {o.label}
              </option>
            ))}
          </select>
        </Field>
      ) : null}
      <Field label={t('sq_from')}>
        <input type="date" data-testid="sq-from" value={from} max={to || undefined} onChange={(e) => set({ from: e.currentTarget.value || undefined, to })} />
      </Field>
      <Field label={t('sq_to')}>
        <input type="date" data-testid="sq-to" value={to} min={from || undefined} onChange={(e) => set({ to: e.currentTarget.value || undefined, from })} />
      </Field>
      <Field label={t('sq_bucket')}>
        <select data-testid="sq-bucket" value={bucket} onChange={(e) => set({ bucket: e.currentTarget.value })}>
          {BUCKETS.map((b) => (
            <option key={b} value={b}>
              {t(`sq_bucket_${b}`)}
            </option>
          ))}
        </select>
      </Field>
      <Field label={t('sq_hours')}>
        <select data-testid="sq-hours" value={hours} onChange={(e) => set({ hours: e.currentTarget.value })}>
          {HOURS.map((h) => (
            <option key={h} value={h}>
              {t(`sq_hours_${h}`)}
            </option>
          ))}
        </select>
      </Field>
    </form>
  );
}
