/**
 * Recommendations sent, newest first (GET /api/recommendations): a broker sees its own, compliance and
 * admin all of them (read-only). Each row: client, security, product risk against the client's level,
 * the outcome, and the refusal reason in words.
 */
import { api, call } from '../../../api/api.ts';
import { t } from '../../../i18n/i18n.ts';
import { Button, Empty, ErrorText, Loading, Panel, RiskBadge, Time } from '../../../ui/ui.tsx';
import type { Loaded } from '../../../ui/use-load.ts';
import { useLoad } from '../../../ui/use-load.ts';
import { OutcomeBadge, reasonOf } from './outcome.tsx';

export type Sent = NonNullable<Awaited<ReturnType<typeof loadSent>>>;

function loadSent() {
  return call(api.GET('/api/recommendations', { params: { query: { limit: 100 } } })).then((r) => r.recommendations ?? []);
}

export function useSent(): Loaded<Sent> {
  return useLoad(loadSent, []);
}

export function SentList(props: { sent: Loaded<Sent>; all: boolean }) {
  const { data, error, loading, reload } = props.sent;
  return (
    <Panel
      title={props.all ? t('desk_recAll') : t('desk_recSentList')}
      testid="rec-sent"
      actions={
        <Button testid="rec-refresh" variant="ghost" onClick={reload} disabled={loading}>
          {t('desk_refresh')}
        </Button>
      }
    >
      <ErrorText error={error} testid="rec-sent-error" />
      {loading && !data ? <Loading /> : null}
      {data && !data.length ? <Empty text={t('desk_recNone')} testid="rec-sent-empty" /> : null}
      {data?.length ? (
        <table class="table desk-table" data-testid="rec-sent-table">
          <caption class="sr-only">{props.all ? t('desk_recAll') : t('desk_recSentList')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('desk_colTime')}</th>
              <th scope="col">{t('desk_colClient')}</th>
              <th scope="col">{t('desk_security')}</th>
              <th scope="col">{t('desk_productRisk')}</th>
              <th scope="col">{t('desk_colClientLevel')}</th>
              <th scope="col">{t('desk_colOutcome')}</th>
              <th scope="col">{t('desk_colReason')}</th>
            </tr>
          </thead>
          <tbody>
            {data.map((r) => {
              const outcome = r.status ?? '';
              return (
                <tr key={r.id} data-testid="rec-sent-row" data-id={r.id} data-client-id={r.clientId} data-status={outcome} data-code={r.refusalCode ?? ''}>
                  <td>
                    <Time at={r.createdAt} short />
                  </td>
                  <td>{r.clientName}</td>
                  <td>
                    <span class="ticker">{r.security}</span>
                    {r.productName ? <div class="desk-muted">{r.productName}</div> : null}
                  </td>
                  <td>
                    <RiskBadge risk={r.productRisk} />
                  </td>
                  <td>{r.professionalInvestor ? t('desk_professional') : (r.clientRiskLevel ?? '—')}</td>
                  <td>
                    <OutcomeBadge outcome={outcome} testid="rec-sent-outcome" />
                  </td>
                  <td data-testid="rec-sent-reason">{reasonOf({ outcome, code: r.refusalCode, basis: r.basis, clientRisk: r.clientRiskLevel, productRisk: r.productRisk })}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : null}
    </Panel>
  );
}
