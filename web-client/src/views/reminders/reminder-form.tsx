/**
 * A new reminder: what, when (typed in Asia/Shanghai), and optionally one of my clients (GET
 * /api/clients, my scope) and a conversation I write in (GET /api/conversations); picking a client
 * narrows the conversations to that client's. POST /api/reminders with an Idempotency-Key per
 * submission (fresh when the form changes, reused when the same submission is retried).
 */
import { useState } from 'preact/hooks';
import { api, call, type Body } from '../../api/api.ts';
import { notify } from '../../app/session.ts';
import { t } from '../../i18n/i18n.ts';
import { isoToShanghaiInput, shanghaiInputToIso } from '../../lib/time.ts';
import { Button, ErrorText, Field, Panel } from '../../ui/ui.tsx';
import { useLoad } from '../../ui/use-load.ts';
import { requestKey } from '../staff/recommendations/request-key.ts';

interface Form {
  title: string;
  note: string;
  due: string;
  clientId: string;
  conversationId: string;
}

const fresh = (): Form => ({ title: '', note: '', due: isoToShanghaiInput(Date.now() + 3600_000), clientId: '', conversationId: '' });

export function ReminderForm(props: { onCreated(): void }) {
  const clients = useLoad(async () => (await call(api.GET('/api/clients', { params: { query: { limit: 200 } } }))).clients, []);
  const convs = useLoad(async () => (await call(api.GET('/api/conversations'))).conversations ?? [], []);
  const [f, setF] = useState<Form>(fresh);
  const [key, setKey] = useState(requestKey);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const edit = (patch: Partial<Form>) => {
    setF((cur) => ({ ...cur, ...patch }));
    setKey(requestKey());
  };

  const writable = (convs.data ?? []).filter((c) => c.access === 'write' && (!f.clientId || c.client?.id === f.clientId));
  const convLabel = (c: (typeof writable)[number]) => c.client?.displayName ?? c.title ?? c.manager?.displayName ?? c.broker?.displayName ?? c.id ?? '';

  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setError(null);
    const dueAt = shanghaiInputToIso(f.due);
    if (!dueAt) return setError({ message: t('rem_dueInvalid') });
    const body: Body<'/api/reminders', 'post'> = {
      title: f.title.trim(),
      dueAt,
      ...(f.note.trim() ? { note: f.note.trim() } : {}),
      ...(f.clientId ? { clientId: f.clientId } : {}),
      ...(f.conversationId ? { conversationId: f.conversationId } : {}),
    };
    setBusy(true);
    try {
      await call(api.POST('/api/reminders', { body, params: { header: { 'idempotency-key': key } } }));
      setF(fresh());
      setKey(requestKey());
      notify(t('rem_created'));
      props.onCreated();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Panel title={t('rem_new')} testid="reminder-new">
      <form class="rem-form" data-testid="reminder-form" onSubmit={(e) => void submit(e)} aria-busy={busy}>
        <div class="rem-grid">
          <Field label={t('rem_title')}>
            <input data-testid="reminder-title" value={f.title} required maxLength={200} onInput={(e) => edit({ title: e.currentTarget.value })} />
          </Field>
          <Field label={t('rem_due')} hint={t('rem_shanghai')}>
            <input data-testid="reminder-due" type="datetime-local" value={f.due} required onInput={(e) => edit({ due: e.currentTarget.value })} />
          </Field>
          <Field label={t('rem_client')}>
            <select data-testid="reminder-client" value={f.clientId} onChange={(e) => edit({ clientId: e.currentTarget.value, conversationId: '' })}>
              <option value="">{t('rem_none')}</option>
              {(clients.data ?? []).map((c) => (
                <option key={c.id} value={c.id}>
                  {c.displayName}
                </option>
              ))}
            </select>
          </Field>
          <Field label={t('rem_conversation')}>
            <select data-testid="reminder-conversation" value={f.conversationId} onChange={(e) => edit({ conversationId: e.currentTarget.value })}>
              <option value="">{t('rem_none')}</option>
              {writable.map((c) => (
                <option key={c.id} value={c.id}>
                  {convLabel(c)}
                </option>
              ))}
            </select>
          </Field>
        </div>
        <Field label={t('rem_note')}>
          <textarea data-testid="reminder-note" value={f.note} rows={2} maxLength={2000} onInput={(e) => edit({ note: e.currentTarget.value })} />
        </Field>
        <ErrorText error={clients.error ?? convs.error} testid="reminder-targets-error" />
        <ErrorText error={error} testid="reminder-form-error" />
        <div class="rem-actions">
          <Button type="submit" variant="primary" testid="reminder-submit" disabled={busy}>
            {busy ? t('rem_saving') : t('rem_submit')}
          </Button>
        </div>
      </form>
    </Panel>
  );
}
