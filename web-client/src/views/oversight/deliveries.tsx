/**
 * 投递记录 / Deliveries (admin): the deliveries of one message — per recipient and transport (inbox,
 * email, push): status, attempts, reason. The message is named by id (`?messageId=` in the URL, so a
 * broadcast links here) or picked from the recent published broadcasts.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, call } from '../../api/api.ts';
import { navigate, query } from '../../app/router.tsx';
import { t, tOr } from '../../i18n/i18n.ts';
import { Button, Empty, ErrorText, Field, Loading, Page, Panel, Time } from '../../ui/ui.tsx';
import { useLoad } from '../../ui/use-load.ts';
import { approvalContent, type Deliveries } from './types.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function Summary(props: { summary: Deliveries['summary'] }) {
  const rows = Object.entries(props.summary ?? {}).filter(([, v]) => v);
  if (!rows.length) return null;
  return (
    <ul class="ov-summary" data-testid="deliveries-summary" aria-label={t('ovDeliverySummary')}>
      {rows.map(([transport, counts]) => (
        <li key={transport} data-transport={transport}>
          <strong>{tOr(`ovTransport_${transport}`, transport)}</strong>
          {': '}
          {Object.entries(counts ?? {})
            .map(([s, n]) => `${tOr(`ovDelivery_${s}`, s)} ${n}`)
            .join(' · ')}
        </li>
      ))}
    </ul>
  );
}

function Table(props: { messageId: string }) {
  const d = useLoad(() => call(api.GET('/api/deliveries', { params: { query: { messageId: props.messageId, limit: 500 } } })), [props.messageId]);
  if (d.error) return <ErrorText error={d.error} testid="deliveries-error" />;
  if (!d.data) return <Loading />;
  const rows = d.data.deliveries;
  return (
    <div data-testid="deliveries" data-message-id={props.messageId}>
      <p class="ov-muted">
        {t('ovChannel')}: <span class="ov-mono">{d.data.channel}</span>
      </p>
      <Summary summary={d.data.summary} />
      {rows.length === 0 ? (
        <Empty text={t('ovDeliveriesNone')} testid="deliveries-empty" />
      ) : (
        <div class="ov-scroll">
          <table class="table ov-table">
            <thead>
              <tr>
                <th scope="col">{t('ovColRecipient')}</th>
                <th scope="col">{t('ovColTransport')}</th>
                <th scope="col">{t('ovColStatus')}</th>
                <th scope="col">{t('ovColAttempts')}</th>
                <th scope="col">{t('ovColReason')}</th>
                <th scope="col">{t('ovColUpdated')}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.id} data-testid="delivery-row" data-login={r.login} data-transport={r.transport} data-status={r.status}>
                  <td>{r.login}</td>
                  <td>{tOr(`ovTransport_${r.transport}`, r.transport)}</td>
                  <td data-testid="delivery-status">{tOr(`ovDelivery_${r.status}`, r.status)}</td>
                  <td>{r.attempts}</td>
                  <td>{[r.reason, r.lastError].filter(Boolean).join(' · ')}</td>
                  <td>
                    <Time at={r.updatedAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {d.data.nextAfter ? <p class="ov-muted">{t('ovDeliveriesMore')}</p> : null}
    </div>
  );
}

export function DeliveriesView() {
  const current = query.value.get('messageId') ?? '';
  const [input, setInput] = useState(current);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => setInput(current), [current]);
  const recent = useLoad(async () => ((await call(api.GET('/api/approvals', { params: { query: { kind: 'broadcast', status: 'approved', limit: 20 } } }))).approvals ?? []).filter((a) => a.messageId), []);
  const show = (id: string) => navigate(`/admin/deliveries?messageId=${encodeURIComponent(id)}`);
  const submit = (e: Event) => {
    e.preventDefault();
    const id = input.trim();
    if (!UUID.test(id)) return setError({ code: 'QIAO_BAD_REQUEST' });
    setError(null);
    show(id);
  };
  return (
    <Page title={t('ovDeliveriesTitle')} hint={t('ovDeliveriesHint')} testid="deliveries-view">
      <Panel title={t('ovPickMessage')}>
        <form class="ov-row" onSubmit={submit} data-testid="deliveries-form">
          <Field label={t('ovMessageId')} class="ov-grow">
            <input data-testid="deliveries-message-id" spellcheck={false} autoComplete="off" value={input} onInput={(e) => setInput(e.currentTarget.value)} />
          </Field>
          <Button type="submit" variant="primary" testid="deliveries-show">
            {t('ovShow')}
          </Button>
        </form>
        <ErrorText error={error} testid="deliveries-input-error" />
        <ErrorText error={recent.error} testid="recent-error" />
        {recent.data && recent.data.length ? (
          <div class="ov-picks">
            <h3 class="ov-subtitle">{t('ovRecentBroadcasts')}</h3>
            <ul class="ov-plain">
              {recent.data.map((a) => (
                <li key={a.id}>
                  <Button variant="ghost" testid="recent-broadcast" data-message-id={a.messageId} aria-pressed={a.messageId === current} onClick={() => show(a.messageId!)}>
                    {approvalContent(a).title}
                  </Button>{' '}
                  <Time at={a.decidedAt} short />
                </li>
              ))}
            </ul>
          </div>
        ) : null}
      </Panel>
      {current ? (
        <Panel title={t('ovDeliveriesOf')}>
          <Table messageId={current} />
        </Panel>
      ) : null}
    </Page>
  );
}
