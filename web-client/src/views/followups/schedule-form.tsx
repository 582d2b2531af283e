/**
 * A manager (or branch head, admin) schedules a follow-up by hand: a client of its teams or branch,
 * the due time in Beijing time, independent staff or the client's broker (POST /api/followups).
 */
import { useState } from 'preact/hooks';
import { api, call } from '../../api/api.ts';
import { notify } from '../../app/session.ts';
import { t } from '../../i18n/i18n.ts';
import { isoToShanghaiInput, shanghaiInputToIso } from '../../lib/time.ts';
import { Button, ErrorText, Field, Panel } from '../../ui/ui.tsx';
import { useAction } from '../../ui/use-action.ts';
import { useLoad } from '../../ui/use-load.ts';

export function ScheduleForm(props: { onScheduled(): void }) {
  const clients = useLoad(async () => (await call(api.GET('/api/followups/schedulable'))).clients ?? [], []);
  const [clientId, setClientId] = useState('');
  const [due, setDue] = useState(() => isoToShanghaiInput(Date.now() + 7 * 86_400_000));
  const [toBroker, setToBroker] = useState(false);
  const [reason, setReason] = useState('');
  const act = useAction();
  const list = clients.data ?? [];
  const chosen = list.find((c) => c.id === clientId);

  const submit = (e: Event) => {
    e.preventDefault();
    void act.run(async () => {
      const dueAt = shanghaiInputToIso(due);
      if (!dueAt) throw { message: t('fu_dueInvalid') };
      if (!clientId) throw { message: t('fu_scheduleChoose') };
      await call(
        api.POST('/api/followups', {
          body: { clientId, dueAt, reason: reason.trim(), ...(toBroker && chosen?.brokerId ? { assigneeId: chosen.brokerId } : {}) },
        }),
      );
      notify(() => t('fu_scheduled'));
      setReason('');
      props.onScheduled();
    });
  };

  return (
    <Panel title={t('fu_schedule')} testid="fu-schedule">
      <form class="fu-form fu-pad" onSubmit={submit}>
        <ErrorText error={clients.error} />
        <Field label={t('fu_scheduleClient')}>
          <select data-testid="fu-schedule-client" value={clientId} onChange={(e) => setClientId(e.currentTarget.value)}>
            <option value="">{t('fu_scheduleChoose')}</option>
            {list.map((c) => (
              <option key={c.id} value={c.id}>
                {c.brokerName ? `${c.displayName} · ${c.brokerName}` : c.displayName}
              </option>
            ))}
          </select>
        </Field>
        <Field label={t('fu_scheduleDue')}>
          <input type="datetime-local" data-testid="fu-schedule-due" value={due} onInput={(e) => setDue(e.currentTarget.value)} />
        </Field>
        <Field label={t('fu_scheduleAssign')}>
          <select data-testid="fu-schedule-assign" value={toBroker ? 'broker' : 'independent'} onChange={(e) => setToBroker(e.currentTarget.value === 'broker')}>
            <option value="independent">{t('fu_scheduleIndependent')}</option>
            <option value="broker">{t('fu_scheduleBroker')}</option>
          </select>
        </Field>
        <Field label={t('fu_scheduleReason')}>
          <input data-testid="fu-schedule-reason" value={reason} maxLength={500} onInput={(e) => setReason(e.currentTarget.value)} />
        </Field>
        <ErrorText error={act.error} testid="fu-schedule-error" />
        <Button variant="primary" type="submit" testid="fu-schedule-submit" disabled={act.busy}>
          {t('fu_scheduleSubmit')}
        </Button>
      </form>
    </Panel>
  );
}
