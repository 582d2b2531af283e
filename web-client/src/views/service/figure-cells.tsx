/**
 * The figure columns shared by the broker table and the roll-up table: their two-level header and a
 * row's cells. Each cell carries its raw value in `data-value` (seconds, counts), so a test can hold the
 * table against the CSV while people read 3分20秒.
 */
import { t } from '../../i18n/i18n.ts';
import { formatPercent, formatScore, formatSeconds } from './format.ts';
import type { Figures } from './types.ts';

/** Column groups and their columns, in order. */
const GROUPS = [
  { label: 'sq_grpResponse', cols: ['sq_answered', 'sq_p50', 'sq_p90'] },
  { label: 'sq_grpWaiting', cols: ['sq_waiting', 'sq_oldest'] },
  { label: 'sq_grpCoverage', cols: ['sq_grpCoverage'] },
  { label: 'sq_grpRecs', cols: ['sq_recsSent', 'sq_recsRefused', 'sq_recsHeld'] },
  { label: 'sq_grpTasks', cols: ['sq_onTime', 'sq_overdue'] },
  { label: 'sq_grpFollowups', cols: ['sq_done', 'sq_overdue'] },
  { label: 'sq_grpComplaints', cols: ['sq_grpComplaints'] },
  { label: 'sq_grpSurvey', cols: ['sq_surveyAvg', 'sq_surveys'] },
] as const;

/** The two header rows; `lead` are the leading (name) column headers, spanning both rows. */
export function FigureHead(props: { lead: string[] }) {
  return (
    <thead>
      <tr>
        {props.lead.map((l) => (
          <th key={l} scope="col" rowSpan={2}>
            {l}
          </th>
        ))}
        {GROUPS.map((g) =>
          g.cols.length === 1 ? (
            <th key={g.label} scope="col" rowSpan={2} class="num">
              {t(g.label)}
            </th>
          ) : (
            <th key={g.label} scope="colgroup" colSpan={g.cols.length} class="sq-group">
              {t(g.label)}
            </th>
          ),
        )}
      </tr>
      <tr>
        {GROUPS.filter((g) => g.cols.length > 1).flatMap((g) =>
          g.cols.map((c) => (
            <th key={`${g.label}-${c}`} scope="col" class="num">
              {t(c)}
            </th>
          )),
        )}
      </tr>
    </thead>
  );
}

function Num(props: { k: string; v: number | null; text?: string }) {
  return (
    <td class="num" data-testid={`sq-${props.k}`} data-value={props.v === null ? '' : String(props.v)}>
      {props.text ?? (props.v === null ? '—' : String(props.v))}
    </td>
  );
}

/** One row's figure cells; `now` is the report's time, so waits are measured against the server's clock. */
export function FigureCells(props: { f: Figures; now: number }) {
  const f = props.f;
  const o = f.oldestWaiting;
  return (
    <>
      <Num k="answered" v={f.answered} />
      <Num k="p50" v={f.p50} text={formatSeconds(f.p50)} />
      <Num k="p90" v={f.p90} text={formatSeconds(f.p90)} />
      <Num k="waiting" v={f.waiting} />
      <td data-testid="sq-oldest" data-client={o?.clientId ?? ''}>
        {o ? (
          <span class="sq-oldest">
            <span data-testid="sq-oldest-name">{o.displayName}</span>
            <span class="sq-muted" data-testid="sq-oldest-wait">
              {t('sq_waitedFor', { duration: formatSeconds((props.now - Date.parse(o.since)) / 1000) })}
            </span>
          </span>
        ) : (
          <span class="sq-muted">{t('sq_none')}</span>
        )}
      </td>
      <td class="num" data-testid="sq-coverage" data-value={f.coverage === null ? '' : String(f.coverage)} data-book={f.book} data-contacted={f.contacted}>
        {formatPercent(f.coverage)}
        <span class="sq-muted sq-small">{` ${f.contacted}/${f.book}`}</span>
      </td>
      <Num k="recsSent" v={f.recsSent} />
      <Num k="recsRefused" v={f.recsRefused} />
      <Num k="recsHeld" v={f.recsHeld} />
      <Num k="tasksOnTime" v={f.tasksOnTime} />
      <Num k="tasksOverdue" v={f.tasksOverdue} />
      <Num k="followupsDone" v={f.followupsDone} />
      <Num k="followupsOverdue" v={f.followupsOverdue} />
      <Num k="complaints" v={f.complaints} />
      <Num k="surveyAvg" v={f.surveyAvg} text={formatScore(f.surveyAvg)} />
      <Num k="surveys" v={f.surveys} />
    </>
  );
}
