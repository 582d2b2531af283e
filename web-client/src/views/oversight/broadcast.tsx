/**
 * 全员公告 / Firm broadcast (admin): compose a notice for `firm.broadcast`. Every such publish waits
 * for a compliance approval (channels/firm.ts `requiresApproval`): the server answers 202 with the
 * approval's id, and the page says so. Below, the admin's own broadcasts with their status; a
 * published one links to its deliveries.
 */
import { useState } from 'preact/hooks';
import { api, call } from '../../api/api.ts';
import { Link } from '../../app/router.tsx';
import { user } from '../../app/session.ts';
import { t, tOr } from '../../i18n/i18n.ts';
import { Button, Empty, ErrorText, Field, Loading, Page, Panel, Time } from '../../ui/ui.tsx';
import { useLoad } from '../../ui/use-load.ts';
import { approvalContent, randomKey } from './types.ts';

const SEVERITIES = ['info', 'warning', 'critical'] as const;
type Severity = (typeof SEVERITIES)[number];

function Compose(props: { onSent(approvalId: string): void }) {
  const [title, setTitle] = useState('');
  const [body, setBody] = useState('');
  const [severity, setSeverity] = useState<Severity>('info');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  // One key per composed broadcast: a retried submit (lost answer) is the same approval, not a second one.
  const [key, setKey] = useState(randomKey);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!title.trim()) return;
    setBusy(true);
    setError(null);
    try {
      const r = await call(
        api.POST('/api/channels/{channel}/publications', {
          params: { path: { channel: 'firm.broadcast' }, header: { 'idempotency-key': key } },
          body: { kind: 'notice', payload: { title: title.trim(), body, severity } },
        }),
      );
      const approvalId = (r as { approvalId?: string }).approvalId;
      if (approvalId) props.onSent(approvalId);
      setTitle('');
      setBody('');
      setSeverity('info');
      setKey(randomKey());
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="ov-form" data-testid="broadcast-form" onSubmit={submit}>
      <Field label={t('ovBroadcastTitleLabel')}>
        <input data-testid="broadcast-title" required maxLength={200} value={title} onInput={(e) => setTitle(e.currentTarget.value)} />
      </Field>
      <Field label={t('ovBroadcastBody')}>
        <textarea data-testid="broadcast-body" rows={5} maxLength={20000} value={body} onInput={(e) => setBody(e.currentTarget.value)} />
      </Field>
      <Field label={t('ovSeverity')}>
        <select data-testid="broadcast-severity" value={severity} onChange={(e) => setSeverity(e.currentTarget.value as Severity)}>
          {SEVERITIES.map((s) => (
            <option key={s} value={s}>
              {tOr(`severity_${s}`, s)}
            </option>
          ))}
        </select>
      </Field>
      <ErrorText error={error} testid="broadcast-error" />
      <div class="form-actions">
        <Button type="submit" variant="primary" testid="broadcast-submit" disabled={busy}>
          {busy ? t('ovSubmitting') : t('ovBroadcastSubmit')}
        </Button>
      </div>
    </form>
  );
}

export function BroadcastView() {
  const [seq, setSeq] = useState(0);
  const [sent, setSent] = useState<string | null>(null);
  const me = user.value?.id;
  const mine = useLoad(
    async () => ((await call(api.GET('/api/approvals', { params: { query: { kind: 'broadcast', limit: 100 } } }))).approvals ?? []).filter((a) => a.requestedBy?.id === me),
    [seq, me],
  );
  return (
    <Page title={t('ovBroadcastTitle')} hint={t('ovBroadcastHint')} testid="broadcast-view">
      <Panel title={t('ovBroadcastCompose')}>
        <Compose
          onSent={(id) => {
            setSent(id);
            setSeq((n) => n + 1);
          }}
        />
        {sent ? (
          <p class="ov-pending" role="status" data-testid="broadcast-pending" data-approval-id={sent}>
            {t('ovBroadcastAwaiting')}
          </p>
        ) : null}
      </Panel>
      <Panel
        title={t('ovMyBroadcasts')}
        testid="my-broadcasts"
        actions={
          <Button variant="ghost" testid="broadcasts-refresh" onClick={() => setSeq((n) => n + 1)}>
            {t('ovRefresh')}
          </Button>
        }
      >
        <ErrorText error={mine.error} testid="broadcasts-error" />
        {mine.loading && !mine.data ? <Loading /> : null}
        {mine.data && mine.data.length === 0 ? <Empty text={t('ovMyBroadcastsNone')} testid="broadcasts-empty" /> : null}
        {mine.data && mine.data.length ? (
          <ul class="ov-list">
            {mine.data.map((a) => (
              <li key={a.id} class="ov-card" data-testid="broadcast-row" data-approval-id={a.id} data-status={a.status}>
                <div class="ov-card__head">
                  <strong class="ov-card__title" data-testid="broadcast-row-title">
                    {approvalContent(a).title}
                  </strong>
                  <span class={`badge ov-status ov-status--${a.status}`} data-testid="broadcast-status">
                    {tOr(`ovBroadcastStatus_${a.status}`, a.status ?? '')}
                  </span>
                  <Time at={a.createdAt} />
                </div>
                {a.status !== 'pending' ? (
                  <p class="ov-muted">
                    {`${a.decidedByName ?? ''} · `}
                    <Time at={a.decidedAt} />
                    {a.note ? ` · ${a.note}` : ''}
                  </p>
                ) : null}
                {a.messageId ? (
                  <Link href={`/admin/deliveries?messageId=${encodeURIComponent(a.messageId)}`} data-testid="broadcast-deliveries">
                    {t('ovSeeDeliveries')}
                  </Link>
                ) : null}
              </li>
            ))}
          </ul>
        ) : null}
      </Panel>
    </Page>
  );
}
