/**
 * A manager's (or admin's) form to send a task: title, detail, due time entered in Asia/Shanghai, and
 * the teams and/or brokers it goes to (GET /api/tasks/recipients). POST /api/tasks with an
 * Idempotency-Key per submission (fresh when the form changes, reused on a retry of the same one).
 */
import { useState } from 'preact/hooks';
import { api, call, type Body } from '../../../api/api.ts';
import { t } from '../../../i18n/i18n.ts';
import { isoToShanghaiInput, shanghaiInputToIso } from '../../../lib/time.ts';
import { Button, ErrorText, Field, Panel } from '../../../ui/ui.tsx';
import { useLoad } from '../../../ui/use-load.ts';
import { requestKey } from '../recommendations/request-key.ts';

interface Form {
  title: string;
  detail: string;
  due: string;
  teams: string[];
  brokers: string[];
}

const fresh = (): Form => ({ title: '', detail: '', due: isoToShanghaiInput(Date.now() + 24 * 3600_000), teams: [], brokers: [] });

export function TaskForm(props: { onCreated(taskId: string): void }) {
  const recipients = useLoad(() => call(api.GET('/api/tasks/recipients')), []);
  const [f, setF] = useState<Form>(fresh);
  const [key, setKey] = useState(requestKey);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const edit = (patch: Partial<Form>) => {
    setF((cur) => ({ ...cur, ...patch }));
    setKey(requestKey());
  };
  const flip = (list: string[], id: string, on: boolean) => (on ? [...list, id] : list.filter((x) => x !== id));

  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setError(null);
    if (!f.teams.length && !f.brokers.length) return setError({ message: t('desk_taskPickRecipient') });
    const dueAt = shanghaiInputToIso(f.due);
    if (!dueAt) return setError({ message: t('desk_taskDueInvalid') });
    const body: Body<'/api/tasks', 'post'> = {
      title: f.title.trim(),
      detail: f.detail.trim(),
      dueAt,
      ...(f.teams.length ? { teamIds: f.teams } : {}),
      ...(f.brokers.length ? { brokerIds: f.brokers } : {}),
    };
    setBusy(true);
    try {
      const r = await call(api.POST('/api/tasks', { body, params: { header: { 'idempotency-key': key } } }));
      setF(fresh());
      setKey(requestKey());
      if (r.task?.id) props.onCreated(r.task.id);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const teams = recipients.data?.teams ?? [];
  const brokers = recipients.data?.brokers ?? [];
  return (
    <Panel title={t('desk_taskNew')} testid="task-new">
      <form class="desk-form desk-pad" data-testid="task-form" onSubmit={(e) => void submit(e)} aria-busy={busy}>
        <ErrorText error={recipients.error} testid="task-recipients-error" />
        <div class="desk-grid">
          <Field label={t('desk_taskName')}>
            <input data-testid="task-title" value={f.title} required maxLength={200} onInput={(e) => edit({ title: e.currentTarget.value })} />
          </Field>
          <Field label={t('desk_taskDue')} hint={t('desk_shanghaiTime')}>
            <input data-testid="task-due" type="datetime-local" value={f.due} required onInput={(e) => edit({ due: e.currentTarget.value })} />
          </Field>
        </div>
        <Field label={t('desk_taskDetail')}>
          <textarea data-testid="task-detail" value={f.detail} rows={2} maxLength={4000} onInput={(e) => edit({ detail: e.currentTarget.value })} />
        </Field>
        <div class="desk-grid">
          <fieldset class="desk-fieldset" data-testid="task-teams">
            <legend>{t('desk_taskTeams')}</legend>
            {teams.map((x) => (
              <label key={x.id} class="desk-check">
                <input type="checkbox" data-testid="task-team" data-id={x.id} checked={f.teams.includes(x.id!)} onChange={(e) => edit({ teams: flip(f.teams, x.id!, e.currentTarget.checked) })} />
                <span>{x.name}</span>
              </label>
            ))}
          </fieldset>
          <fieldset class="desk-fieldset" data-testid="task-brokers">
            <legend>{t('desk_taskBrokers')}</legend>
            {brokers.map((x) => (
              <label key={x.id} class="desk-check">
                <input type="checkbox" data-testid="task-broker" data-id={x.id} checked={f.brokers.includes(x.id!)} onChange={(e) => edit({ brokers: flip(f.brokers, x.id!, e.currentTarget.checked) })} />
                <span>{x.displayName}</span>
              </label>
            ))}
          </fieldset>
        </div>
        <ErrorText error={error} testid="task-form-error" />
        <div class="desk-actions">
          <Button type="submit" variant="primary" testid="task-submit" disabled={busy}>
            {busy ? t('desk_sending') : t('desk_taskSubmit')}
          </Button>
        </div>
      </form>
    </Panel>
  );
}
