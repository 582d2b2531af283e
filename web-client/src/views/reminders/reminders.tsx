/**
 * 工作提醒 / Work reminders (`/reminders`, brokers and managers): reminders that are due now (fired),
 * upcoming ones, and done or dismissed ones; a form for a new one. Reminders that fire arrive live on
 * `inbox.<me>` (reminders-store.ts) and the lists reload; so do they after every action.
 */
import { useEffect } from 'preact/hooks';
import { api, call } from '../../api/api.ts';
import { t } from '../../i18n/i18n.ts';
import { Button, Empty, ErrorText, Loading, Page, Panel } from '../../ui/ui.tsx';
import { useLoad } from '../../ui/use-load.ts';
import { ReminderCard } from './reminder-card.tsx';
import { ReminderForm } from './reminder-form.tsx';
import { arrived, setCounts, type Reminder } from './reminders-store.ts';

function Section(props: { title: string; testid: string; empty: string; list: Reminder[] | undefined; onChanged(): void }) {
  return (
    <Panel title={props.title} testid={props.testid}>
      <div class="rem-list">
        {props.list && !props.list.length ? <Empty text={props.empty} testid={`${props.testid}-empty`} /> : null}
        {(props.list ?? []).map((r) => (
          <ReminderCard key={r.id} r={r} onChanged={props.onChanged} />
        ))}
      </div>
    </Panel>
  );
}

export function RemindersView() {
  const tick = arrived.value;
  const open = useLoad(() => call(api.GET('/api/reminders', { params: { query: { state: 'open' } } })), [tick]);
  const done = useLoad(async () => (await call(api.GET('/api/reminders', { params: { query: { state: 'done' } } }))).reminders, [tick]);
  useEffect(() => setCounts(open.data?.counts), [open.data]);
  const reload = () => {
    open.reload();
    done.reload();
  };
  const list = open.data?.reminders;
  return (
    <Page
      title={t('remindersTitle')}
      hint={t('rem_hint')}
      testid="reminders-view"
      actions={
        <Button variant="ghost" testid="reminders-refresh" onClick={reload} disabled={open.loading}>
          {t('rem_refresh')}
        </Button>
      }
    >
      <ErrorText error={open.error ?? done.error} testid="reminders-error" />
      {open.loading && !open.data ? <Loading /> : null}
      <div class="rem-layout">
        <div class="rem-main">
          <Section title={t('rem_fired')} testid="reminders-fired" empty={t('rem_firedNone')} list={list?.filter((r) => r.state === 'fired')} onChanged={reload} />
          <Section title={t('rem_pending')} testid="reminders-pending" empty={t('rem_pendingNone')} list={list?.filter((r) => r.state === 'pending')} onChanged={reload} />
          <Section title={t('rem_done')} testid="reminders-done" empty={t('rem_doneNone')} list={done.data} onChanged={reload} />
        </div>
        <ReminderForm onCreated={reload} />
      </div>
    </Page>
  );
}
