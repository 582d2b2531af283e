/**
 * One follow-up: client, broker, due time (overdue, escalated), rule or reason; an open one assigned to
 * me (or one I may take over) has the record form — outcome, notes and the four checklist items
 * (POST /api/followups/:id/complete); a manager may cancel an open one with a reason.
 */
import { useState } from 'preact/hooks';
import { api, call } from '../../api/api.ts';
import { notify } from '../../app/session.ts';
import { t, tOr } from '../../i18n/i18n.ts';
import { Button, ErrorText, Field, Time } from '../../ui/ui.tsx';
import { useAction } from '../../ui/use-action.ts';
import { CHECKLIST_ITEMS, OUTCOMES, type ChecklistItem, type Followup, type Outcome } from './types.ts';

const NONE: Record<ChecklistItem, boolean> = { identityConfirmed: false, riskExplained: false, noReturnPromise: false, complaintChannelTold: false };

function RecordForm(props: { f: Followup; onDone(f: Followup): void }) {
  const id = props.f.id!;
  const [outcome, setOutcome] = useState<Outcome>('reached');
  const [notes, setNotes] = useState('');
  const [checks, setChecks] = useState<Record<ChecklistItem, boolean>>(NONE);
  const act = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    void act.run(async () => {
      const r = await call(api.POST('/api/followups/{id}/complete', { params: { path: { id } }, body: { outcome, notes: notes.trim(), checklist: checks } }));
      notify(() => t('fu_completed'));
      if (r.followup) props.onDone(r.followup);
    });
  };
  return (
    <form class="fu-form" data-testid="fu-record-form" onSubmit={submit}>
      <Field label={t('fu_outcome')}>
        <select data-testid="fu-outcome" value={outcome} onChange={(e) => setOutcome(e.currentTarget.value as Outcome)}>
          {OUTCOMES.map((o) => (
            <option key={o} value={o}>
              {t(`fu_outcome_${o}`)}
            </option>
          ))}
        </select>
      </Field>
      <fieldset class="fu-checklist">
        <legend>{t('fu_checklist')}</legend>
        {CHECKLIST_ITEMS.map((k) => (
          <label key={k} class="fu-check">
            <input type="checkbox" data-testid={`fu-chk-${k}`} checked={checks[k]} onChange={(e) => setChecks({ ...checks, [k]: e.currentTarget.checked })} />
            <span>{t(`fu_chk_${k}`)}</span>
          </label>
        ))}
      </fieldset>
      <Field label={t('fu_notes')}>
        <textarea data-testid="fu-notes" rows={3} maxLength={2000} value={notes} onInput={(e) => setNotes(e.currentTarget.value)} />
      </Field>
      <ErrorText error={act.error} testid="fu-record-error" />
      <Button variant="primary" type="submit" testid="fu-record-submit" disabled={act.busy}>
        {t('fu_complete')}
      </Button>
    </form>
  );
}

function CancelForm(props: { f: Followup; onDone(f: Followup): void }) {
  const id = props.f.id!;
  const [reason, setReason] = useState('');
  const act = useAction();
  const reasonId = `fu-cancel-${id}`;
  return (
    <div class="fu-cancel">
      <label class="sr-only" for={reasonId}>
        {t('fu_cancelReason')}
      </label>
      <input id={reasonId} data-testid="fu-cancel-reason" value={reason} maxLength={500} placeholder={t('fu_cancelReason')} onInput={(e) => setReason(e.currentTarget.value)} />
      <Button
        variant="ghost"
        testid="fu-cancel"
        disabled={act.busy || !reason.trim()}
        onClick={() =>
          void act.run(async () => {
            const r = await call(api.POST('/api/followups/{id}/cancel', { params: { path: { id } }, body: { reason: reason.trim() } }));
            notify(() => t('fu_cancelled'));
            if (r.followup) props.onDone(r.followup);
          })
        }
      >
        {t('fu_cancel')}
      </Button>
      <ErrorText error={act.error} testid="fu-cancel-error" />
    </div>
  );
}

export function FollowupCard(props: { f: Followup; record: boolean; cancel: boolean; onChanged(f: Followup): void }) {
  const { f } = props;
  const [open, setOpen] = useState(false);
  const state = f.state ?? 'open';
  return (
    <article class={`fu-card fu-card--${state}${f.overdue ? ' fu-card--overdue' : ''}`} data-testid="fu-card" data-id={f.id} data-state={state} data-overdue={String(!!f.overdue)}>
      <div class="fu-card__head">
        <h3 class="fu-card__client" data-testid="fu-client">
          {f.clientName}
        </h3>
        <span class={`badge fu-state fu-state--${state}`} data-testid="fu-state">
          {t(`fu_state_${state}`)}
        </span>
        {f.overdue ? (
          <span class="badge fu-overdue" data-testid="fu-overdue">
            {t('fu_overdue')}
          </span>
        ) : null}
        {f.escalatedAt ? (
          <span class="badge fu-escalated" data-testid="fu-escalated">
            {t('fu_escalated')}
          </span>
        ) : null}
        {f.independent ? <span class="badge">{t('fu_independent')}</span> : null}
      </div>
      <dl class="fu-meta">
        <dt>{t('fu_due')}</dt>
        <dd>
          <Time at={f.dueAt} testid="fu-due" />
        </dd>
        <dt>{t('fu_broker')}</dt>
        <dd>{f.brokerName ?? '—'}</dd>
        <dt>{t('fu_assignee')}</dt>
        <dd data-testid="fu-assignee">{f.assigneeName ?? '—'}</dd>
        <dt>{t('fu_rule')}</dt>
        <dd>{f.ruleCode ? tOr(`fu_rule_${f.ruleCode.startsWith('periodic') ? 'periodic' : f.ruleCode}`, f.ruleCode) : t('fu_manual')}</dd>
        {f.reason ? (
          <>
            <dt>{t('fu_reason')}</dt>
            <dd>{f.reason}</dd>
          </>
        ) : null}
        {state === 'done' ? (
          <>
            <dt>{t('fu_outcome')}</dt>
            <dd data-testid="fu-outcome-shown">{tOr(`fu_outcome_${f.outcome ?? ''}`, f.outcome ?? '')}</dd>
            <dt>{t('fu_doneAt')}</dt>
            <dd>
              <Time at={f.doneAt} />
              {f.doneByName ? ` · ${f.doneByName}` : ''}
            </dd>
          </>
        ) : null}
        {f.notes ? (
          <>
            <dt>{t('fu_notes')}</dt>
            <dd class="fu-notes">{f.notes}</dd>
          </>
        ) : null}
      </dl>
      {state === 'open' && props.record ? (
        open ? (
          <RecordForm f={f} onDone={props.onChanged} />
        ) : (
          <Button variant="primary" testid="fu-record-open" onClick={() => setOpen(true)}>
            {t('fu_complete')}
          </Button>
        )
      ) : null}
      {state === 'open' && props.cancel ? <CancelForm f={f} onDone={props.onChanged} /> : null}
    </article>
  );
}
