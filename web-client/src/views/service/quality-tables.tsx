/**
 * The report as tables: one row per broker (its name opens that broker's own figures) with the scope's
 * total at the foot, and — for a branch or the firm — the roll-ups per branch and team. Wide tables
 * scroll sideways in a focusable region, so keyboard users reach every column.
 */
import type { ComponentChildren } from 'preact';
import { Link } from '../../app/router.tsx';
import { t } from '../../i18n/i18n.ts';
import { Empty, Panel } from '../../ui/ui.tsx';
import { FigureCells, FigureHead } from './figure-cells.tsx';
import { queryHref } from './quality-query.ts';
import type { QualityReport } from './types.ts';

function Scroll(props: { label: string; children: ComponentChildren }) {
  return (
    <div class="sq-scroll" tabIndex={0} role="region" aria-label={props.label}>
      {props.children}
    </div>
  );
}

export function BrokerTable(props: { r: QualityReport }) {
  const { r } = props;
  const now = Date.parse(r.generatedAt);
  const showTeam = r.scope.kind !== 'broker' && r.scope.kind !== 'team';
  const lead = showTeam ? [t('sq_broker'), t('sq_team')] : [t('sq_broker')];
  // A link keeps the period, bucket and hours, and narrows the scope to the broker.
  const brokerHref = (id: string) => queryHref({ scope: 'broker', id, from: r.period.from, to: r.period.to, bucket: r.period.bucket, hours: r.period.hours });
  return (
    <Panel title={t('sq_brokers')} testid="sq-brokers">
      {r.brokers.length === 0 ? (
        <Empty text={t('sq_empty')} testid="sq-empty" />
      ) : (
        <Scroll label={t('sq_brokers')}>
          <table class="table sq-table" data-testid="sq-broker-table">
            <caption class="sr-only">{`${t('sq_brokers')} · ${r.scope.name} · ${t('sq_period', { from: r.period.from, to: r.period.to })}`}</caption>
            <FigureHead lead={lead} />
            <tbody>
              {r.brokers.map((b) => (
                <tr key={b.id} data-testid="sq-broker-row" data-broker={b.id}>
                  <th scope="row" data-testid="sq-broker-name">
                    {r.scope.kind === 'broker' ? b.name : <Link href={brokerHref(b.id)}>{b.name}</Link>}
                    {b.active ? null : <span class="sq-muted sq-small">{` (${t('sq_inactive')})`}</span>}
                  </th>
                  {showTeam ? <td>{b.teamName ?? '—'}</td> : null}
                  <FigureCells f={b} now={now} />
                </tr>
              ))}
            </tbody>
            {r.brokers.length > 1 ? (
              <tfoot>
                <tr data-testid="sq-total-row">
                  <th scope="row">{t('sq_total')}</th>
                  {showTeam ? <td /> : null}
                  <FigureCells f={r.total} now={now} />
                </tr>
              </tfoot>
            ) : null}
          </table>
        </Scroll>
      )}
    </Panel>
  );
}

/** Branch and team roll-ups; only when the scope has more than its one team. */
export function RollupTable(props: { r: QualityReport }) {
  const { r } = props;
  if (r.branches.length === 0 && r.teams.length <= 1) return null;
  const now = Date.parse(r.generatedAt);
  const rows = [
    ...r.branches.map((g) => ({ g, level: t('sq_levelBranch'), kind: 'branch' })),
    ...r.teams.map((g) => ({ g, level: t('sq_levelTeam'), kind: 'team' })),
    { g: r.total, level: t('sq_total'), kind: 'total' },
  ];
  return (
    <Panel title={t('sq_rollups')} testid="sq-rollups">
      <Scroll label={t('sq_rollups')}>
        <table class="table sq-table" data-testid="sq-rollup-table">
          <caption class="sr-only">{`${t('sq_rollups')} · ${r.scope.name}`}</caption>
          <FigureHead lead={[t('sq_name'), t('sq_level'), t('sq_brokerCount')]} />
          <tbody>
            {rows.map(({ g, level, kind }) => (
              <tr key={`${kind}-${g.id ?? 'none'}`} data-testid="sq-rollup-row" data-kind={kind} data-id={g.id ?? ''}>
                <th scope="row">{g.name ?? t('sq_unassigned')}</th>
                <td>{level}</td>
                <td class="num">{g.brokers}</td>
                <FigureCells f={g} now={now} />
              </tr>
            ))}
          </tbody>
        </table>
      </Scroll>
    </Panel>
  );
}
