/**
 * 审批 / Approvals: what waits for a compliance decision (firm-wide broadcasts, recommendation batches
 * over the limit), each approved or rejected with a note; and the history of decided items — who, when,
 * with which note. Admins read both; only compliance decides (the server refuses anyone else).
 */
import { useState } from 'preact/hooks';
import { api, call } from '../../api/api.ts';
import { notify, user } from '../../app/session.ts';
import { t, tOr } from '../../i18n/i18n.ts';
import { Button, Empty, ErrorText, Loading, Page, Panel, Time, ListState } from '../../ui/ui.tsx';
import { useLoad } from '../../ui/use-load.ts';
import { approvalContent, type Approval } from './types.ts';

function PendingCard(props: { a: Approval; canDecide: boolean; onDecided(): void }) {
  const { a } = props;
  const c = approvalContent(a);
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const decide = async (action: 'approve' | 'reject') => {
    setBusy(true);
    setError(null);
    const body = note.trim() ? { note: note.trim() } : {};
    try {
      if (action === 'approve') await call(api.POST('/api/approvals/{id}/approve', { params: { path: { id: a.id! } }, body }));
      else await call(api.POST('/api/approvals/{id}/reject', { params: { path: { id: a.id! } }, body }));
      notify(t(action === 'approve' ? 'ovApprovedNotice' : 'ovRejectedNotice', { title: c.title }));
      props.onDecided();
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };
  const noteId = `approval-note-${a.id}`;
  return (
    <article class="ov-card" data-testid="approval-row" data-approval-id={a.id} data-kind={a.kind}>
      <div class="ov-card__head">
        <span class="badge badge--kind">{tOr(`ovApprovalKind_${a.kind}`, a.kind ?? '')}</span>
        <strong class="ov-card__title" data-testid="approval-title">
          {c.title}
        </strong>
        <Time at={a.createdAt} testid="approval-time" />
      </div>
      <p class="ov-muted">
        {t('ovRequestedBy')}: <span data-testid="approval-requester">{a.requestedBy?.displayName}</span>
        {c.detail.length ? ` · ${c.detail.join(' · ')}` : ''}
        {c.clients !== undefined ? ` · ${t('ovClientsCount', { n: c.clients })}` : ''}
      </p>
      {c.body ? (
        <p class="ov-text" data-testid="approval-body">
          {c.body}
        </p>
      ) : null}
      {props.canDecide ? (
        <div class="ov-row">
          <label class="field ov-grow" for={noteId}>
            <span class="field__label">{t('ovDecisionNote')}</span>
            <input id={noteId} data-testid="approval-note" maxLength={2000} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
          </label>
          <Button variant="primary" testid="approval-approve" disabled={busy} onClick={() => void decide('approve')}>
            {t('ovApprove')}
          </Button>
          <Button variant="danger" testid="approval-reject" disabled={busy} onClick={() => void decide('reject')}>
            {t('ovReject')}
          </Button>
        </div>
      ) : null}
      <ErrorText error={error} testid="approval-error" />
    </article>
  );
}

function History(props: { seq: number }) {
  const list = useLoad(async () => {
    const [ok, no] = await Promise.all(
      (['approved', 'rejected'] as const).map((status) => call(api.GET('/api/approvals', { params: { query: { status, limit: 100 } } }))),
    );
    return [...(ok.approvals ?? []), ...(no.approvals ?? [])].sort((x, y) => ((x.decidedAt ?? '') < (y.decidedAt ?? '') ? 1 : -1));
  }, [props.seq]);
  return (
    <Panel title={t('ovHistory')} testid="approvals-history">
      <ListState list={list} empty={t('ovHistoryNone')} errorTestid="history-error" emptyTestid="history-empty">
        {(rows) => (
          <div class="ov-scroll">
            <table class="table ov-table">
              <thead>
                <tr>
                  <th scope="col">{t('ovColKind')}</th>
                  <th scope="col">{t('ovColItem')}</th>
                  <th scope="col">{t('ovRequestedBy')}</th>
                  <th scope="col">{t('ovColDecision')}</th>
                  <th scope="col">{t('ovColDecidedBy')}</th>
                  <th scope="col">{t('ovColDecidedAt')}</th>
                  <th scope="col">{t('ovColNote')}</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((a) => (
                  <tr key={a.id} data-testid="history-row" data-approval-id={a.id} data-status={a.status}>
                    <td>{tOr(`ovApprovalKind_${a.kind}`, a.kind ?? '')}</td>
                    <td data-testid="history-title">{approvalContent(a).title}</td>
                    <td>{a.requestedBy?.displayName}</td>
                    <td>
                      <span class={`badge ov-status ov-status--${a.status}`} data-testid="history-status">
                        {tOr(`ovStatus_${a.status}`, a.status ?? '')}
                      </span>
                    </td>
                    <td data-testid="history-decider">{a.decidedByName ?? a.decidedBy}</td>
                    <td>
                      <Time at={a.decidedAt} testid="history-time" />
                    </td>
                    <td data-testid="history-note">{a.note ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </ListState>
    </Panel>
  );
}

export function ApprovalsView() {
  const [seq, setSeq] = useState(0);
  const canDecide = user.value?.role === 'compliance';
  const pending = useLoad(async () => (await call(api.GET('/api/approvals', { params: { query: { status: 'pending', limit: 100 } } }))).approvals ?? [], [seq]);
  const refresh = () => setSeq((n) => n + 1);
  return (
    <Page
      title={t('ovApprovalsTitle')}
      hint={canDecide ? t('ovApprovalsHint') : t('ovApprovalsReadOnly')}
      testid="approvals-view"
      actions={
        <Button variant="ghost" testid="approvals-refresh" onClick={refresh}>
          {t('ovRefresh')}
        </Button>
      }
    >
      <Panel title={t('ovPending')} testid="approvals-pending">
        <ErrorText error={pending.error} testid="approvals-error" />
        {pending.loading && !pending.data ? <Loading /> : null}
        {pending.data && pending.data.length === 0 ? <Empty text={t('ovPendingNone')} testid="approvals-empty" /> : null}
        <div class="ov-list">
          {(pending.data ?? []).map((a) => (
            <PendingCard key={a.id} a={a} canDecide={canDecide} onDecided={refresh} />
          ))}
        </div>
      </Panel>
      <History seq={seq} />
    </Page>
  );
}
