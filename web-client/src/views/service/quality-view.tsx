/**
 * 服务质量 / 我的服务 (`/service`): a broker's own figures; a manager's teams and, as branch head, its
 * branch; the firm for admin and compliance (the server decides: QIAO_SERVICE_SCOPE_FORBIDDEN
 * otherwise). Per broker: first-response p50/p90 in the hours chosen, answers, clients waiting now and
 * the longest wait, coverage of the book in 30 days, recommendations, tasks, follow-ups, complaints and
 * satisfaction; roll-ups per branch and team; a trend line and bars; the same report as CSV. Refreshed
 * when one of the brokers in view has a client start or stop waiting (use-waiting-refresh.ts).
 */
import { api, call } from '../../api/api.ts';
import { query } from '../../app/router.tsx';
import { user } from '../../app/session.ts';
import { t } from '../../i18n/i18n.ts';
import { formatClock } from '../../lib/time.ts';
import { Button, ErrorText, Loading, Page, Panel } from '../../ui/ui.tsx';
import { useAction } from '../../ui/use-action.ts';
import { useLoad } from '../../ui/use-load.ts';
import { downloadQualityCsv } from './csv-download.ts';
import { QualityCharts } from './quality-charts.tsx';
import { QualityFilters } from './quality-filters.tsx';
import { readQuery } from './quality-query.ts';
import { BrokerTable, RollupTable } from './quality-tables.tsx';
import { useWaitingRefresh } from './use-waiting-refresh.ts';

export function QualityView() {
  const q = readQuery(query.value);
  const key = JSON.stringify(q);
  const scopes = useLoad(() => call(api.GET('/api/service/scopes')), []);
  const report = useLoad(() => call(api.GET('/api/service/quality', { params: { query: q } })), [key]);
  const csv = useAction();
  // A failed load keeps nothing of the previous scope on screen: its figures would look like the new one's.
  const r = report.error ? undefined : report.data;
  useWaitingRefresh(r?.brokers.map((b) => b.id) ?? [], report.reload);
  const mine = user.value?.role === 'broker';

  return (
    <Page
      title={t(mine ? 'sq_titleMine' : 'sq_title')}
      hint={t('sq_hint')}
      testid="sq-view"
      actions={
        <>
          <Button testid="sq-refresh" onClick={report.reload} disabled={report.loading}>
            {t('sq_refresh')}
          </Button>
          <Button testid="sq-csv" onClick={() => r && void csv.run(() => downloadQualityCsv(r))} disabled={!r || csv.busy}>
            {t('sq_csv')}
          </Button>
        </>
      }
    >
      <Panel testid="sq-controls">
        <div class="sq-pad">
          <QualityFilters q={q} scopes={scopes.data} report={r} />
          {r ? (
            <p class="sq-muted sq-status" data-testid="sq-status" data-hours={r.period.hours} data-scope={r.scope.kind} data-id={r.scope.id}>
              <span data-testid="sq-scope-name">{r.scope.name}</span>
              {` · ${t('sq_period', { from: r.period.from, to: r.period.to })} · `}
              <span data-testid="sq-hours-shown">{t(r.period.hours === 'all' ? 'sq_hoursShown_all' : 'sq_hoursShown_trading')}</span>
              {` · ${t('sq_updated', { time: formatClock(r.generatedAt) })}`}
            </p>
          ) : null}
          <ErrorText error={report.error} testid="sq-error" />
          <ErrorText error={csv.error} testid="sq-csv-error" />
          {!r && !report.error ? <Loading /> : null}
        </div>
      </Panel>
      {r ? (
        <div data-testid="sq-report" data-generated={r.generatedAt} aria-busy={report.loading ? 'true' : 'false'}>
          <BrokerTable r={r} />
          <RollupTable r={r} />
          <QualityCharts r={r} />
        </div>
      ) : null}
    </Page>
  );
}
