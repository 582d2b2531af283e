/**
 * Charts where a look says more than the numbers: the first-response p50/p90 per bucket as a line,
 * answered and refused per broker as bars. Each has its data table beside it with the same figures.
 */
import type { ChartConfiguration } from 'chart.js';
import { useMemo } from 'preact/hooks';
import { lang, t } from '../../i18n/i18n.ts';
import { Panel } from '../../ui/ui.tsx';
import { COLORS, ChartCanvas } from './chart-canvas.tsx';
import { formatSeconds, timeStep } from './format.ts';
import type { QualityReport } from './types.ts';

/** A bucket's label: its first day, or its month for monthly buckets. */
const bucketLabel = (day: string, bucket: string) => (bucket === 'month' ? day.slice(0, 7) : day);

function TrendChart(props: { r: QualityReport }) {
  const { r } = props;
  const l = lang.value;
  const labels = r.series.map((s) => bucketLabel(s.bucket, r.period.bucket));
  const config = useMemo<ChartConfiguration>(
    () => ({
      type: 'line',
      data: {
        labels,
        datasets: [
          { label: t('sq_p50Long'), data: r.series.map((s) => s.p50), borderColor: COLORS.p50, backgroundColor: COLORS.p50, spanGaps: true },
          { label: t('sq_p90Long'), data: r.series.map((s) => s.p90), borderColor: COLORS.p90, backgroundColor: COLORS.p90, spanGaps: true },
        ],
      },
      options: {
        scales: { y: { beginAtZero: true, ticks: { stepSize: timeStep(Math.max(60, ...r.series.map((s) => s.p90 ?? 0))), callback: (v) => formatSeconds(Number(v)) } } },
        plugins: { tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${formatSeconds(c.parsed.y)}` } } },
      },
    }),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [r, l],
  );
  const hours = t(r.period.hours === 'all' ? 'sq_hours_all' : 'sq_hours_trading');
  return (
    <div class="sq-chart-pair" data-testid="sq-trend">
      <ChartCanvas
        config={config}
        testid="sq-trend-chart"
        caption={`${t('sq_trend')}（${hours}）`}
        label={t('sq_trendLabel', { bucket: t(`sq_bucket_${r.period.bucket}`), hours })}
      />
      <div class="sq-scroll sq-scroll--short" tabIndex={0} role="region" aria-label={t('sq_trendTable')}>
        <table class="table sq-table" data-testid="sq-trend-table">
          <caption class="sr-only">{t('sq_trendTable')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('sq_bucketCol')}</th>
              <th scope="col" class="num">{t('sq_answered')}</th>
              <th scope="col" class="num">{t('sq_p50')}</th>
              <th scope="col" class="num">{t('sq_p90')}</th>
            </tr>
          </thead>
          <tbody>
            {r.series.map((s, i) => (
              <tr key={s.bucket} data-testid="sq-trend-row" data-bucket={s.bucket}>
                <th scope="row">{labels[i]}</th>
                <td class="num" data-testid="sq-answered" data-value={s.answered}>{s.answered}</td>
                <td class="num" data-testid="sq-p50" data-value={s.p50 ?? ''}>{formatSeconds(s.p50)}</td>
                <td class="num" data-testid="sq-p90" data-value={s.p90 ?? ''}>{formatSeconds(s.p90)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

function BrokerBars(props: { r: QualityReport }) {
  const { r } = props;
  const l = lang.value;
  const config = useMemo<ChartConfiguration>(
    () => ({
      type: 'bar',
      data: {
        labels: r.brokers.map((b) => b.name),
        datasets: [
          { label: t('sq_answered'), data: r.brokers.map((b) => b.answered), backgroundColor: COLORS.answered },
          { label: t('sq_recsRefused'), data: r.brokers.map((b) => b.recsRefused), backgroundColor: COLORS.refused },
          { label: t('sq_grpComplaints'), data: r.brokers.map((b) => b.complaints), backgroundColor: COLORS.complaints },
        ],
      },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    }),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [r, l],
  );
  return (
    <div class="sq-chart-pair" data-testid="sq-bars">
      <ChartCanvas config={config} testid="sq-bars-chart" caption={t('sq_bars')} label={t('sq_barsLabel')} />
      <div class="sq-scroll sq-scroll--short" tabIndex={0} role="region" aria-label={t('sq_barsTable')}>
        <table class="table sq-table" data-testid="sq-bars-table">
          <caption class="sr-only">{t('sq_barsTable')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('sq_broker')}</th>
              <th scope="col" class="num">{t('sq_answered')}</th>
              <th scope="col" class="num">{t('sq_recsRefused')}</th>
              <th scope="col" class="num">{t('sq_grpComplaints')}</th>
            </tr>
          </thead>
          <tbody>
            {r.brokers.map((b) => (
              <tr key={b.id} data-testid="sq-bars-row" data-broker={b.id}>
                <th scope="row">{b.name}</th>
                <td class="num" data-testid="sq-answered" data-value={b.answered}>{b.answered}</td>
                <td class="num" data-testid="sq-recsRefused" data-value={b.recsRefused}>{b.recsRefused}</td>
                <td class="num" data-testid="sq-complaints" data-value={b.complaints}>{b.complaints}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

export function QualityCharts(props: { r: QualityReport }) {
  const { r } = props;
  return (
    <Panel title={t('sq_charts')} testid="sq-charts">
      <div class="sq-charts">
        {r.series.length ? <TrendChart r={r} /> : null}
        {r.brokers.length ? <BrokerBars r={r} /> : null}
      </div>
    </Panel>
  );
}
