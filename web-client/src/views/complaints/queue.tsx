/**
 * The complaint queue: the branch's service desk, its head and its managers (and an assignee) see the
 * complaints they may handle — filter open / overdue, acknowledge, assign, note, resolve or reject
 * with a reply — with the event timeline. Compliance and admin see every complaint (read, notes) and
 * the yearly report. The server decides who sees what; a new complaint in the inbox reloads the list.
 */
import { useState } from 'preact/hooks';
import { api, call } from '../../api/api.ts';
import { Link } from '../../app/router.tsx';
import { notify, user } from '../../app/session.ts';
import { t } from '../../i18n/i18n.ts';
import { Button, Empty, ErrorText, Field, ListState, Page, Panel, Time } from '../../ui/ui.tsx';
import { useAction } from '../../ui/use-action.ts';
import { useLoad } from '../../ui/use-load.ts';
import { Deadlines, Reply, StatusBadge, Timeline, categoryLabel, useComplaintNotices, type ComplaintDetail } from './parts.tsx';
import { ReportPanel } from './report.tsx';

type Filter = 'active' | 'overdue' | 'all';

export function ComplaintQueueView(props: { params: Record<string, string> }) {
  const oversight = user.value?.role === 'compliance' || user.value?.role === 'admin';
  const base = oversight ? '/complaints/all' : '/complaints/queue';
  const [filter, setFilter] = useState<Filter>(oversight ? 'all' : 'active');
  const tick = useComplaintNotices();
  const [changed, setChanged] = useState(0);
  const list = useLoad(async () => {
    const query = filter === 'overdue' ? { overdue: '1' as const } : {};
    const rows = (await call(api.GET('/api/complaints', { params: { query } }))).complaints;
    return filter === 'active' ? rows.filter((c) => c.status === 'open' || c.status === 'acknowledged') : rows;
  }, [filter, tick, changed]);
  const selected = props.params.id;
  return (
    <Page title={oversight ? t('cmp_allTitle') : t('cmp_queueTitle')} hint={oversight ? t('cmp_allHint') : t('cmp_queueHint')} testid="complaint-queue-view">
      {oversight ? <ReportPanel /> : null}
      <div class="cmp-layout">
        <Panel title={t('cmp_navQueue')} testid="complaint-queue">
          <div class="cmp-filter" role="group" aria-label={t('cmp_filter')}>
            {(['active', 'overdue', 'all'] as const).map((f) => (
              <Button key={f} variant={filter === f ? 'primary' : 'ghost'} testid={`complaint-filter-${f}`} aria-pressed={filter === f} onClick={() => setFilter(f)}>
                {t(f === 'active' ? 'cmp_filterActive' : f === 'overdue' ? 'cmp_filterOverdue' : 'cmp_filterAll')}
              </Button>
            ))}
          </div>
          <ListState list={list} empty={t('cmp_none')} errorTestid="complaint-list-error" emptyTestid="complaint-empty">
            {(rows) => (
              <ul class="cmp-list" data-testid="complaint-list">
                {rows.map((c) => (
                  <li key={c.id} class={c.id === selected ? 'cmp-list__item cmp-list__item--selected' : 'cmp-list__item'} data-testid="complaint-item" data-complaint-id={c.id} data-status={c.status}>
                    <Link href={`${base}/${c.id}`} data-testid="complaint-open" aria-current={c.id === selected ? 'page' : undefined}>
                      {categoryLabel(c.category)} · {c.clientName}
                    </Link>
                    <StatusBadge c={c} />
                    <div class="cmp-muted">
                      {c.branchName ?? ''} · <Time at={c.createdAt} short />
                    </div>
                  </li>
                ))}
              </ul>
            )}
          </ListState>
        </Panel>
        <Panel title={t('cmp_detail')} testid="complaint-detail-panel">
          {selected ? <Detail key={selected} id={selected} tick={tick} changed={() => setChanged((n) => n + 1)} /> : <Empty text={t('cmp_select')} testid="complaint-none-selected" />}
        </Panel>
      </div>
    </Page>
  );
}

function Detail(props: { id: string; tick: number; changed(): void }) {
  const d = useLoad(() => call(api.GET('/api/complaints/{id}', { params: { path: { id: props.id } } })), [props.id, props.tick]);
  const saved = (c: ComplaintDetail) => {
    d.set(c);
    notify(t('cmp_done'));
    props.changed();
  };
  const c = d.data;
  return (
    <div class="cmp-detail" data-testid="complaint-detail" data-complaint-id={props.id} data-status={c?.status}>
      <ErrorText error={d.error} testid="complaint-detail-error" />
      {c ? (
        <>
          <div class="cmp-card__head">
            <strong>{categoryLabel(c.category)}</strong>
            <StatusBadge c={c} />
          </div>
          <dl class="cmp-dl">
            <dt>{t('cmp_client')}</dt>
            <dd data-testid="complaint-client">{c.clientName}</dd>
            <dt>{t('cmp_branch')}</dt>
            <dd>{c.branchName ?? '—'}</dd>
            <dt>{t('cmp_broker')}</dt>
            <dd data-testid="complaint-broker">{c.brokerName ?? '—'}</dd>
            <dt>{t('cmp_assignee')}</dt>
            <dd data-testid="complaint-assignee">{c.assigneeName ?? '—'}</dd>
          </dl>
          <p class="cmp-text" data-testid="complaint-text">
            {c.text}
          </p>
          <Deadlines c={c} />
          <Reply c={c} />
          <Actions c={c} saved={saved} />
          <h3 class="cmp-h3">{t('cmp_timeline')}</h3>
          <Timeline events={c.events} />
        </>
      ) : null}
    </div>
  );
}

function Actions(props: { c: ComplaintDetail; saved(c: ComplaintDetail): void }) {
  const { c } = props;
  const a = useAction();
  const [ackNote, setAckNote] = useState('');
  const [assignee, setAssignee] = useState('');
  const [note, setNote] = useState('');
  const [reply, setReply] = useState('');
  const staff = useLoad(async () => (c.can.assign ? (await call(api.GET('/api/complaints/{id}/assignable', { params: { path: { id: c.id } } }))).staff : []), [c.id, c.can.assign]);
  const path = { params: { path: { id: c.id } } };
  const run = (fn: () => Promise<ComplaintDetail>) => void a.run(async () => props.saved(await fn()));
  return (
    <div class="cmp-actions" data-testid="complaint-actions">
      {c.can.acknowledge ? (
        <form
          class="cmp-form"
          onSubmit={(e) => {
            e.preventDefault();
            run(() => call(api.POST('/api/complaints/{id}/acknowledge', { ...path, body: ackNote.trim() ? { note: ackNote.trim() } : {} })));
          }}
        >
          <Field label={t('cmp_ackNote')}>
            <textarea data-testid="complaint-ack-note" rows={2} maxLength={2000} value={ackNote} onInput={(e) => setAckNote(e.currentTarget.value)} />
          </Field>
          <Button type="submit" variant="primary" testid="complaint-acknowledge" disabled={a.busy}>
            {t('cmp_acknowledge')}
          </Button>
        </form>
      ) : null}
      {c.can.resolve ? (
        <form class="cmp-form" onSubmit={(e) => e.preventDefault()}>
          <Field label={t('cmp_replyLabel')}>
            <textarea data-testid="complaint-reply-text" rows={3} maxLength={2000} value={reply} onInput={(e) => setReply(e.currentTarget.value)} />
          </Field>
          <div class="form-actions">
            <Button variant="primary" testid="complaint-resolve" disabled={a.busy || !reply.trim()} onClick={() => run(() => call(api.POST('/api/complaints/{id}/resolve', { ...path, body: { reply: reply.trim() } })))}>
              {t('cmp_resolve')}
            </Button>
            <Button variant="danger" testid="complaint-reject" disabled={a.busy || !reply.trim()} onClick={() => run(() => call(api.POST('/api/complaints/{id}/reject', { ...path, body: { reply: reply.trim() } })))}>
              {t('cmp_reject')}
            </Button>
          </div>
        </form>
      ) : null}
      {c.can.assign && staff.data?.length ? (
        <form
          class="cmp-form cmp-form--row"
          onSubmit={(e) => {
            e.preventDefault();
            if (assignee) run(() => call(api.POST('/api/complaints/{id}/assign', { ...path, body: { assigneeId: assignee } })));
          }}
        >
          <Field label={t('cmp_assignTo')}>
            <select data-testid="complaint-assignee-select" value={assignee} onChange={(e) => setAssignee(e.currentTarget.value)}>
              <option value="">{t('cmp_choose')}</option>
              {staff.data.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.displayName}
                </option>
              ))}
            </select>
          </Field>
          <Button type="submit" testid="complaint-assign" disabled={a.busy || !assignee}>
            {t('cmp_assign')}
          </Button>
        </form>
      ) : null}
      {c.can.note ? (
        <form
          class="cmp-form cmp-form--row"
          onSubmit={(e) => {
            e.preventDefault();
            run(async () => {
              const out = await call(api.POST('/api/complaints/{id}/note', { ...path, body: { text: note.trim() } }));
              setNote('');
              return out;
            });
          }}
        >
          <Field label={t('cmp_note')}>
            <input data-testid="complaint-note-text" maxLength={2000} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
          </Field>
          <Button type="submit" testid="complaint-add-note" disabled={a.busy || !note.trim()}>
            {t('cmp_addNote')}
          </Button>
        </form>
      ) : null}
      <ErrorText error={a.error} testid="complaint-action-error" />
    </div>
  );
}
