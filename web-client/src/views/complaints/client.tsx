/**
 * The client's complaints: 我要投诉 (category, text, optionally one of their own conversations) and
 * 我的投诉 (status, deadlines, the firm's reply and the client-visible history). The list follows
 * the client's inbox: an acknowledgement or a reply shows without a reload.
 */
import { useState } from 'preact/hooks';
import { api, call } from '../../api/api.ts';
import { Link, navigate } from '../../app/router.tsx';
import { notify } from '../../app/session.ts';
import { t } from '../../i18n/i18n.ts';
import { Button, ErrorText, Field, ListState, Page, Panel } from '../../ui/ui.tsx';
import { useAction } from '../../ui/use-action.ts';
import { useLoad } from '../../ui/use-load.ts';
import { CATEGORIES, Deadlines, Reply, StatusBadge, Timeline, categoryLabel, useComplaintNotices, type Category } from './parts.tsx';

export function FileComplaintView() {
  const [category, setCategory] = useState<Category>('service');
  const [text, setText] = useState('');
  const [conversationId, setConversationId] = useState('');
  // One key per complaint being written: a retried submit (lost answer) does not file it twice.
  const [key] = useState(() => crypto.randomUUID());
  const a = useAction();
  const convs = useLoad(async () => (await call(api.GET('/api/conversations', { params: { query: { limit: 100 } } }))).conversations ?? [], []);
  const mine = (convs.data ?? []).filter((c) => c.type === 'broker_client');
  const submit = (e: Event) => {
    e.preventDefault();
    void a.run(async () => {
      const c = await call(
        api.POST('/api/complaints', {
          body: { category, text: text.trim(), ...(conversationId ? { conversationId } : {}) },
          params: { header: { 'idempotency-key': key } },
        }),
      );
      notify(t('cmp_filed'));
      navigate(`/complaints/mine/${c.id}`);
    });
  };
  return (
    <Page title={t('cmp_fileTitle')} hint={t('cmp_fileHint')} testid="complaint-file-view">
      <Panel>
        <form class="cmp-form" data-testid="complaint-form" onSubmit={submit}>
          <Field label={t('cmp_category')}>
            <select data-testid="complaint-category" value={category} onChange={(e) => setCategory(e.currentTarget.value as Category)}>
              {CATEGORIES.map((c) => (
                <option key={c} value={c}>
                  {categoryLabel(c)}
                </option>
              ))}
            </select>
          </Field>
          <Field label={t('cmp_conversation')}>
            <select data-testid="complaint-conversation" value={conversationId} onChange={(e) => setConversationId(e.currentTarget.value)}>
              <option value="">{t('cmp_noConversation')}</option>
              {mine.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.peer?.displayName ?? c.title ?? c.id}
                </option>
              ))}
            </select>
          </Field>
          <Field label={t('cmp_text')} hint={t('cmp_textHint')}>
            <textarea data-testid="complaint-text" required maxLength={2000} rows={6} value={text} onInput={(e) => setText(e.currentTarget.value)} />
          </Field>
          <div class="form-actions">
            <Button type="submit" variant="primary" testid="complaint-submit" disabled={a.busy || !text.trim()}>
              {t('cmp_submit')}
            </Button>
          </div>
          <ErrorText error={a.error} testid="complaint-file-error" />
        </form>
      </Panel>
    </Page>
  );
}

export function MyComplaintsView(props: { params: Record<string, string> }) {
  const tick = useComplaintNotices();
  const list = useLoad(async () => (await call(api.GET('/api/complaints', { params: { query: {} } }))).complaints, [tick]);
  const selected = props.params.id;
  return (
    <Page
      title={t('cmp_mineTitle')}
      testid="complaint-mine-view"
      actions={
        <Link href="/complaints/new" class="btn btn--primary" data-testid="complaint-new">
          {t('cmp_navFile')}
        </Link>
      }
    >
      <ListState list={list} empty={t('cmp_none')} errorTestid="complaint-list-error" emptyTestid="complaint-empty">
        {(rows) => (
          <ul class="cmp-cards" data-testid="complaint-list">
            {rows.map((c) => (
              <li key={c.id} class={`panel cmp-card${c.id === selected ? ' cmp-card--selected' : ''}`} data-testid="complaint-item" data-complaint-id={c.id} data-status={c.status}>
                <div class="cmp-card__head">
                  <strong>{categoryLabel(c.category)}</strong>
                  <StatusBadge c={c} />
                </div>
                <p class="cmp-text">{c.text}</p>
                <Deadlines c={c} />
                <Reply c={c} />
                {c.id === selected ? <ClientHistory id={c.id} tick={tick} /> : <Link href={`/complaints/mine/${c.id}`} data-testid="complaint-open">{t('cmp_timeline')}</Link>}
              </li>
            ))}
          </ul>
        )}
      </ListState>
    </Page>
  );
}

function ClientHistory(props: { id: string; tick: number }) {
  const d = useLoad(() => call(api.GET('/api/complaints/{id}', { params: { path: { id: props.id } } })), [props.id, props.tick]);
  return (
    <>
      <ErrorText error={d.error} />
      {d.data ? <Timeline events={d.data.events} /> : null}
    </>
  );
}
