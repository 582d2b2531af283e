/**
 * The yearly complaint report (compliance, admin): the year's figures by category as computed by the
 * server, and the CSV / xlsx files it makes from the same numbers.
 */
import { useState } from 'preact/hooks';
import { api, call } from '../../api/api.ts';
import { t } from '../../i18n/i18n.ts';
import { TIME_ZONE } from '../../lib/time.ts';
import { Button, ErrorText, Field, Panel } from '../../ui/ui.tsx';
import { useAction } from '../../ui/use-action.ts';
import { useLoad } from '../../ui/use-load.ts';
import { categoryLabel } from './parts.tsx';

const thisYear = () => Number(new Intl.DateTimeFormat('en', { timeZone: TIME_ZONE, year: 'numeric' }).format(new Date()));
const hours = (v: number | null) => (v === null ? '—' : String(v));

export function ReportPanel() {
  const [year, setYear] = useState(String(thisYear()));
  const [shown, setShown] = useState(year);
  const report = useLoad(() => call(api.GET('/api/complaints/report', { params: { query: { year: shown } } })), [shown]);
  const dl = useAction();
  const download = (format: 'csv' | 'xlsx') =>
    void dl.run(async () => {
      const { data, error } = await api.GET('/api/complaints/report', { params: { query: { year, format } }, parseAs: 'blob' });
      if (error || !(data instanceof Blob)) throw error ?? new Error('download failed');
      const url = URL.createObjectURL(data);
      const link = document.createElement('a');
      link.href = url;
      link.download = `complaints-${year}.${format}`;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    });
  const r = report.data;
  return (
    <Panel title={t('cmp_report')} testid="complaint-report">
      <div class="cmp-pad">
        <p class="cmp-muted">{t('cmp_reportHint')}</p>
        <form
          class="cmp-form cmp-form--row"
          onSubmit={(e) => {
            e.preventDefault();
            setShown(year);
          }}
        >
          <Field label={t('cmp_year')}>
            <input data-testid="complaint-report-year" inputMode="numeric" pattern="\d{4}" required value={year} onInput={(e) => setYear(e.currentTarget.value)} />
          </Field>
          <Button type="submit" testid="complaint-report-show">
            {t('cmp_show')}
          </Button>
          <Button testid="complaint-report-csv" disabled={dl.busy} onClick={() => download('csv')}>
            {t('cmp_downloadCsv')}
          </Button>
          <Button testid="complaint-report-xlsx" disabled={dl.busy} onClick={() => download('xlsx')}>
            {t('cmp_downloadXlsx')}
          </Button>
        </form>
        <ErrorText error={dl.error ?? report.error} testid="complaint-report-error" />
        {r ? (
          <div class="cmp-scroll">
            <table class="table" data-testid="complaint-report-table" data-year={r.year}>
              <caption class="sr-only">{`${t('cmp_report')} ${r.year}`}</caption>
              <thead>
                <tr>
                  <th scope="col">{t('cmp_category_col')}</th>
                  <th scope="col">{t('cmp_filedCount')}</th>
                  <th scope="col">{t('cmp_resolvedCount')}</th>
                  <th scope="col">{t('cmp_rejectedCount')}</th>
                  <th scope="col">{t('cmp_openCount')}</th>
                  <th scope="col">{t('cmp_ackAvg')}</th>
                  <th scope="col">{t('cmp_handleAvg')}</th>
                  <th scope="col">{t('cmp_overdueCount')}</th>
                </tr>
              </thead>
              <tbody>
                {[...r.byCategory.map((x) => ({ ...x, label: categoryLabel(x.category), key: x.category })), { ...r.totals, label: t('cmp_filterAll'), key: 'total' }].map((x) => (
                  <tr key={x.key} data-testid="complaint-report-row" data-key={x.key}>
                    <th scope="row">{x.label}</th>
                    <td data-testid="complaint-report-filed">{x.filed}</td>
                    <td>{x.resolved}</td>
                    <td>{x.rejected}</td>
                    <td>{x.stillOpen}</td>
                    <td>{hours(x.ackAvgH)}</td>
                    <td>{hours(x.handleAvgH)}</td>
                    <td>{`${x.ackOverdue} / ${x.resolveOverdue}`}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </div>
    </Panel>
  );
}
