/**
 * One reminder: title (localised for automatic ones), kind, times in Asia/Shanghai, links to what it
 * is about (client, conversation, task, follow-up, complaint), and the owner's actions — snooze
 * (15 min, 1 h, tomorrow 09:00), done, dismiss — while it is open.
 */
import { useState } from 'preact/hooks';
import { api, call } from '../../api/api.ts';
import { Link } from '../../app/router.tsx';
import { t } from '../../i18n/i18n.ts';
import { isoToShanghaiInput, shanghaiInputToIso } from '../../lib/time.ts';
import { Button, ErrorText, Time } from '../../ui/ui.tsx';
import type { Reminder } from './reminders-store.ts';
import { kindLabel, reminderTitle } from './reminder-text.ts';

type Snooze = { minutes: number } | { until: string };

/** 09:00 Beijing time on the day after today (Beijing). */
function tomorrowNine(): string {
  const day = isoToShanghaiInput(Date.now() + 24 * 3600_000).slice(0, 10);
  return shanghaiInputToIso(`${day}T09:00`)!;
}

export function ReminderCard(props: { r: Reminder; onChanged(): void }) {
  const { r } = props;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const open = r.state === 'pending' || r.state === 'fired';
  const title = reminderTitle(r);
  const path = { params: { path: { id: r.id } } };

  const act = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      props.onChanged();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const snooze = (body: Snooze) => act(() => call(api.POST('/api/reminders/{id}/snooze', { ...path, body })));
  const close = (action: 'done' | 'dismiss') =>
    act(async () => {
      await call(action === 'done' ? api.POST('/api/reminders/{id}/done', { ...path, body: {} }) : api.POST('/api/reminders/{id}/dismiss', { ...path, body: {} }));
    });

  return (
    <article class={`rem-card rem-card--${r.state}`} data-testid="reminder" data-reminder-id={r.id} data-state={r.state} data-kind={r.kind}>
      <div class="rem-card__head">
        <h3 class="rem-card__title" data-testid="reminder-title-text">
          {title}
        </h3>
        <span class={`badge rem-badge rem-badge--${r.state}`} data-testid="reminder-state">
          {t(`rem_state_${r.state}`)}
        </span>
      </div>
      {r.note ? <p class="rem-card__note">{r.note}</p> : null}
      <p class="rem-card__meta">
        <span class="rem-kind">{kindLabel(r.kind)}</span>
        {' · '}
        {`${t('rem_dueAt')} `}
        <Time at={r.dueAt} testid="reminder-due-at" />
        {r.state === 'fired' && r.firedAt ? (
          <>
            {` · ${t('rem_firedAt')} `}
            <Time at={r.firedAt} />
          </>
        ) : null}
        {!open && r.doneAt ? (
          <>
            {` · ${t('rem_doneAt')} `}
            <Time at={r.doneAt} />
          </>
        ) : null}
        {r.snoozeCount ? ` · ${t('rem_snoozed', { n: r.snoozeCount })}` : null}
      </p>
      <p class="rem-card__links">
        {r.client ? (
          <Link href="/clients" data-testid="reminder-client-link">
            {t('rem_openClient', { name: r.client.displayName ?? '' })}
          </Link>
        ) : null}
        {r.conversationId ? (
          <Link href={`/conversations/${r.conversationId}`} data-testid="reminder-conversation-link">
            {t('rem_openConversation')}
          </Link>
        ) : null}
        {r.task ? (
          <Link href="/tasks" data-testid="reminder-task-link">
            {t('rem_openTask', { title: r.task.title ?? '' })}
          </Link>
        ) : null}
        {r.followupId ? <Link href="/followups">{t('rem_openFollowup')}</Link> : null}
        {r.complaintId ? <Link href="/complaints">{t('rem_openComplaint')}</Link> : null}
      </p>
      <ErrorText error={error} testid="reminder-error" />
      {open ? (
        <div class="rem-actions">
          <div class="rem-snooze" role="group" aria-label={t('rem_snoozeLabel', { title })}>
            <Button variant="ghost" testid="reminder-snooze-15" disabled={busy} onClick={() => void snooze({ minutes: 15 })}>
              {t('rem_snooze15')}
            </Button>
            <Button variant="ghost" testid="reminder-snooze-60" disabled={busy} onClick={() => void snooze({ minutes: 60 })}>
              {t('rem_snooze1h')}
            </Button>
            <Button variant="ghost" testid="reminder-snooze-tomorrow" disabled={busy} onClick={() => void snooze({ until: tomorrowNine() })}>
              {t('rem_snoozeTomorrow')}
            </Button>
          </div>
          <Button variant="primary" testid="reminder-done" disabled={busy} onClick={() => void close('done')}>
            {t('rem_markDone')}
          </Button>
          <Button variant="ghost" testid="reminder-dismiss" disabled={busy} onClick={() => void close('dismiss')}>
            {t('rem_dismiss')}
          </Button>
        </div>
      ) : null}
    </article>
  );
}
