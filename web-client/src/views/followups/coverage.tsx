/**
 * The coverage report of a year per branch and rule (GET /api/followups/coverage), with the same
 * numbers as CSV (GET /api/followups/coverage.csv). Compliance, admin and branch heads; for others the
 * panel is not shown (the server answers QIAO_FORBIDDEN).
 */
import { useState } from 'preact/hooks';
import { api, call } from '../../api/api.ts';
import { t, tOr } from '../../i18n/i18n.ts';
import { Button, Empty, ErrorText, Loading, Panel } from '../../ui/ui.tsx';
import { useAction } from '../../ui/use-action.ts';
import { useLoad } from '../../ui/use-load.ts';
import type { BranchCoverage } from './types.ts';

const thisYear = () => Number(new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric' }).format(new Date()));
const pct = (v: number | null | undefined) => (v === null || v === undefined ? '—' : `${Math.round(v * 1000) / 10}%`);

function BranchRows(props: { b: BranchCoverage }) {
  const { b } = props;
  const na = b.newAccounts ?? {};
  const s = b.annualSample ?? {};
  return (
    <tbody data-testid="fu-cov-branch" data-branch={b.branchCode}>
      <tr>
        <th scope="rowgroup" rowSpan={2 + (b.periodic?.length ?? 0)}>
          {`${b.branchCode} ${b.branchName}`}
        </th>
        <td>{t('fu_cov_newAccounts', { days: na.withinDays ?? 30 })}</td>
        <td data-testid="fu-cov-na-opened">{na.opened}</td>
        <td data-testid="fu-cov-na-done">{`${na.inWindow} / ${na.late}`}</td>
        <td data-testid="fu-cov-na-open">{`${na.missing} / ${na.pending}`}</td>
        <td rowSpan={2 + (b.periodic?.length ?? 0)} data-testid="fu-cov-checklist">
          {`${pct(b.checklistShare)} (${b.fullChecklist}/${b.completed})`}
        </td>
        <td rowSpan={2 + (b.periodic?.length ?? 0)} data-testid="fu-cov-bybroker" class={b.doneByOwnBroker ? 'fu-bad' : ''}>
          {b.doneByOwnBroker}
        </td>
      </tr>
      <tr>
        <td>{t('fu_cov_sample', { percent: s.percent ?? 10 })}</td>
        <td data-testid="fu-cov-sample-required">{`${s.required} (${t('fu_cov_existing')} ${s.existingClients})`}</td>
        <td data-testid="fu-cov-sample-done">{s.done}</td>
        <td>{Math.max(0, (s.required ?? 0) - (s.done ?? 0))}</td>
      </tr>
      {(b.periodic ?? []).map((p) => (
        <tr key={p.ruleId} data-testid="fu-cov-periodic">
          <td>{`${t('fu_cov_periodic')} · ${tOr(`fu_tier_${p.tier}`, p.tier ?? '')} · ${p.everyDays}d`}</td>
          <td>{p.due}</td>
          <td>{p.done}</td>
          <td>{p.overdue}</td>
        </tr>
      ))}
    </tbody>
  );
}

export function CoveragePanel() {
  const [year, setYear] = useState(thisYear());
  const report = useLoad(async () => call(api.GET('/api/followups/coverage', { params: { query: { year } } })), [year]);
  const dl = useAction();
  if ((report.error as { code?: string } | null)?.code === 'QIAO_FORBIDDEN') return null;
  const download = () =>
    void dl.run(async () => {
      const text = await call(api.GET('/api/followups/coverage.csv', { params: { query: { year } }, parseAs: 'text' }));
      // The server's BOM is dropped when read as text: put it back for spreadsheet programs.
      const url = URL.createObjectURL(new Blob(['\uFEFF' + String(text).replace(/^\uFEFF/, '')], { type: 'text/csv;charset=utf-8' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = `followup-coverage-${year}.csv`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    });
  const branches = report.data?.branches ?? [];
  return (
    <Panel
      title={t('fu_coverage')}
      testid="fu-coverage"
      actions={
        <div class="fu-actions">
          <label class="sr-only" for="fu-year">
            {t('fu_year')}
          </label>
          <select id="fu-year" data-testid="fu-year" value={year} onChange={(e) => setYear(Number(e.currentTarget.value))}>
            {[0, 1, 2].map((k) => (
              <option key={k} value={thisYear() - k}>
                {thisYear() - k}
              </option>
            ))}
          </select>
          <Button variant="ghost" testid="fu-csv" onClick={download} disabled={dl.busy}>
            {t('fu_downloadCsv')}
          </Button>
        </div>
      }
    >
      <div class="fu-pad">
        <ErrorText error={report.error ?? dl.error} testid="fu-coverage-error" />
        {report.loading && !report.data ? <Loading /> : null}
        {report.data && !branches.length ? <Empty text={t('fu_cov_none')} /> : null}
        {branches.length ? (
          // Focusable: a wide table scrolls sideways, and keyboard users must reach it.
          <div class="fu-table-wrap" tabIndex={0} role="region" aria-label={t('fu_coverage')}>
            <table class="fu-table" data-testid="fu-coverage-table">
              <thead>
                <tr>
                  <th scope="col">{t('fu_cov_branch')}</th>
                  <th scope="col">{t('fu_rule')}</th>
                  <th scope="col">{`${t('fu_cov_opened')} / ${t('fu_cov_required')} / ${t('fu_cov_due')}`}</th>
                  <th scope="col">{`${t('fu_cov_inWindow')} / ${t('fu_cov_late')} · ${t('fu_cov_done')}`}</th>
                  <th scope="col">{`${t('fu_cov_missing')} / ${t('fu_cov_pending')} · ${t('fu_cov_overdue')}`}</th>
                  <th scope="col">{t('fu_cov_checklist')}</th>
                  <th scope="col">{t('fu_cov_byBroker')}</th>
                </tr>
              </thead>
              {branches.map((b) => (
                <BranchRows key={b.branchId} b={b} />
              ))}
            </table>
          </div>
        ) : null}
      </div>
    </Panel>
  );
}
