/**
 * 死信队列 / Dead letters (admin): jobs of one queue that failed for good, with the reason and the
 * attempts; each can be replayed with a fresh set of attempts after a confirmation in the row (no
 * browser dialog). The queue is in the URL (`?queue=`).
 */
import { useState } from 'preact/hooks';
import { api, call } from '../../api/api.ts';
import { navigate, query } from '../../app/router.tsx';
import { notify } from '../../app/session.ts';
import { t, tOr } from '../../i18n/i18n.ts';
import { Button, Empty, ErrorText, Field, Loading, Page, Panel, Time, ListState } from '../../ui/ui.tsx';
import { useAction } from '../../ui/use-action.ts';
import { useLoad } from '../../ui/use-load.ts';
import { QUEUES, type DeadLetter, type QueueName } from './types.ts';

function Row(props: { queue: QueueName; d: DeadLetter; onReplayed(): void }) {
  const { d } = props;
  const [confirm, setConfirm] = useState(false);
  const { busy, error, run } = useAction();
  const replay = async () => {
    const ok = await run(async () => {
      await call(api.POST('/api/admin/dead-letters/{queue}/{id}/replay', { params: { path: { queue: props.queue, id: d.id! } } }));
      notify(t('ovReplayed', { id: d.id ?? '' }));
      props.onReplayed();
    });
    if (!ok) setConfirm(false);
  };
  return (
    <tr data-testid="dead-letter-row" data-id={d.id}>
      <td class="ov-mono">{d.id}</td>
      <td>{d.name}</td>
      <td data-testid="dead-letter-reason">{d.reason}</td>
      <td>{d.attempts}</td>
      <td>
        <Time at={d.failedAt} />
      </td>
      <td>
        <details class="ov-data">
          <summary>{t('ovJobData')}</summary>
          <pre class="ov-pre">{JSON.stringify(d.data, null, 2)}</pre>
        </details>
      </td>
      <td>
        {confirm ? (
          <div class="ov-confirm" role="group" aria-label={t('ovReplayConfirm')}>
            <span>{t('ovReplayConfirm')}</span>
            <Button variant="primary" testid="dead-letter-confirm" disabled={busy} onClick={() => void replay()}>
              {t('ovConfirm')}
            </Button>
            <Button variant="ghost" testid="dead-letter-cancel" disabled={busy} onClick={() => setConfirm(false)}>
              {t('ovCancel')}
            </Button>
          </div>
        ) : (
          <Button variant="ghost" testid="dead-letter-replay" onClick={() => setConfirm(true)}>
            {t('ovReplay')}
          </Button>
        )}
        <ErrorText error={error} testid="dead-letter-error" />
      </td>
    </tr>
  );
}

/**
 * 队列看板: the BullMQ dashboard (services mode). A page load cannot carry the bearer token, so the
 * token first buys a short-lived cookie for the dashboard's path; then the browser goes there.
 */
function QueueDashboardButton() {
  const { busy, error, run } = useAction();
  const open = () =>
    run(async () => {
      const s = await call(api.POST('/api/admin/queue-dashboard/session'));
      window.location.assign(s.url);
    });
  return (
    <>
      <Button variant="ghost" testid="queue-dashboard-open" disabled={busy} onClick={() => void open()}>
        {t('ovQueueDashboard')}
      </Button>
      <ErrorText error={error} testid="queue-dashboard-error" />
    </>
  );
}

export function DeadLettersView() {
  const q = query.value.get('queue');
  const queue: QueueName = QUEUES.includes(q as QueueName) ? (q as QueueName) : 'fanout';
  const [seq, setSeq] = useState(0);
  const list = useLoad(async () => (await call(api.GET('/api/admin/dead-letters', { params: { query: { queue, limit: 200 } } }))).deadLetters ?? [], [queue, seq]);
  return (
    <Page
      title={t('ovDeadLettersTitle')}
      hint={t('ovDeadLettersHint')}
      testid="dead-letters-view"
      actions={
        <>
          <QueueDashboardButton />
          <Button variant="ghost" testid="dead-letters-refresh" onClick={() => setSeq((n) => n + 1)}>
            {t('ovRefresh')}
          </Button>
        </>
      }
    >
      <Panel>
        <Field label={t('ovQueue')}>
          <select data-testid="dead-letters-queue" value={queue} onChange={(e) => navigate(`/admin/dead-letters?queue=${e.currentTarget.value}`, { replace: true })}>
            {QUEUES.map((x) => (
              <option key={x} value={x}>
                {tOr(`ovQueue_${x}`, x)}
              </option>
            ))}
          </select>
        </Field>
        <ListState list={list} empty={t('ovDeadLettersNone')} errorTestid="dead-letters-error" emptyTestid="dead-letters-empty">
          {(rows) => (
            <div class="ov-scroll">
              <table class="table ov-table" data-testid="dead-letters" data-queue={queue}>
                <thead>
                  <tr>
                    <th scope="col">{t('ovColId')}</th>
                    <th scope="col">{t('ovColJob')}</th>
                    <th scope="col">{t('ovColReason')}</th>
                    <th scope="col">{t('ovColAttempts')}</th>
                    <th scope="col">{t('ovColFailedAt')}</th>
                    <th scope="col">{t('ovJobData')}</th>
                    <th scope="col">{t('ovColActions')}</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((d) => (
                    <Row key={d.id} queue={queue} d={d} onReplayed={() => setSeq((n) => n + 1)} />
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </ListState>
      </Panel>
    </Page>
  );
}
