/**
 * 法律保全 / Legal holds (compliance): place a hold on a person (user id) or a conversation with a
 * reason — while active, none of their archive records is purged — list holds, release one. The form
 * can be prefilled from the URL (`?subjectId=` or `?conversationId=`), as the conversation viewer does.
 */
import { useState } from 'preact/hooks';
import { api, call } from '../../api/api.ts';
import { Link, query } from '../../app/router.tsx';
import { notify } from '../../app/session.ts';
import { t } from '../../i18n/i18n.ts';
import { Button, Empty, ErrorText, Field, Loading, Page, Panel, Time, ListState } from '../../ui/ui.tsx';
import { useAction } from '../../ui/use-action.ts';
import { useLoad } from '../../ui/use-load.ts';
import type { Hold } from './types.ts';

type Target = 'person' | 'conversation';

function PlaceForm(props: { onPlaced(): void }) {
  const q = query.value;
  const [target, setTarget] = useState<Target>(q.get('conversationId') ? 'conversation' : 'person');
  const [id, setId] = useState(q.get('conversationId') ?? q.get('subjectId') ?? '');
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!id.trim() || !reason.trim()) return;
    setBusy(true);
    setError(null);
    try {
      const body = target === 'person' ? { subjectId: id.trim(), reason: reason.trim() } : { conversationId: id.trim(), reason: reason.trim() };
      await call(api.POST('/api/compliance/legal-holds', { body }));
      notify(t('ovHoldPlaced'));
      setId('');
      setReason('');
      props.onPlaced();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="ov-form" data-testid="hold-form" onSubmit={submit}>
      <fieldset class="ov-fieldset">
        <legend class="field__label">{t('ovHoldTarget')}</legend>
        {(['person', 'conversation'] as const).map((x) => (
          <label key={x} class="ov-radio">
            <input type="radio" name="hold-target" value={x} data-testid={`hold-target-${x}`} checked={target === x} onChange={() => setTarget(x)} />
            {x === 'person' ? t('ovHoldPerson') : t('ovHoldConversation')}
          </label>
        ))}
      </fieldset>
      <Field label={target === 'person' ? t('ovUserId') : t('ovConversationId')} hint={t('ovIdHint')}>
        <input data-testid="hold-id" required spellcheck={false} autoComplete="off" value={id} onInput={(e) => setId(e.currentTarget.value)} />
      </Field>
      <Field label={t('ovHoldReason')}>
        <textarea data-testid="hold-reason" required rows={3} maxLength={1000} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
      </Field>
      <ErrorText error={error} testid="hold-error" />
      <div class="form-actions">
        <Button type="submit" variant="primary" testid="hold-submit" disabled={busy}>
          {t('ovHoldPlace')}
        </Button>
      </div>
    </form>
  );
}

function HoldRow(props: { h: Hold; onReleased(): void }) {
  const { h } = props;
  const { busy, error, run } = useAction();
  const release = () =>
    run(async () => {
      await call(api.POST('/api/compliance/legal-holds/{id}/release', { params: { path: { id: h.id! } }, body: {} }));
      notify(t('ovHoldReleasedNotice'));
      props.onReleased();
    });
  return (
    <tr data-testid="hold-row" data-hold-id={h.id} data-active={String(h.active)}>
      <td>
        {h.conversationId ? (
          <>
            {`${t('ovHoldConversation')} `}
            <Link href={`/compliance/conversations/${h.conversationId}`} class="ov-mono">
              {h.conversationId}
            </Link>
          </>
        ) : (
          <>
            {`${t('ovHoldPerson')} `}
            <span class="ov-mono" data-testid="hold-subject">
              {h.subjectId}
            </span>
          </>
        )}
      </td>
      <td data-testid="hold-reason-text">{h.reason}</td>
      <td>
        <Time at={h.placedAt} />
      </td>
      <td data-testid="hold-state">{h.active ? t('ovHoldActive') : t('ovHoldReleased')}</td>
      <td>
        <Time at={h.releasedAt} />
      </td>
      <td>
        {h.active ? (
          <Button variant="ghost" testid="hold-release" disabled={busy} onClick={() => void release()}>
            {t('ovHoldRelease')}
          </Button>
        ) : null}
        <ErrorText error={error} testid="hold-release-error" />
      </td>
    </tr>
  );
}

export function HoldsView() {
  const [seq, setSeq] = useState(0);
  const list = useLoad(async () => (await call(api.GET('/api/compliance/legal-holds'))).holds ?? [], [seq]);
  const reload = () => setSeq((n) => n + 1);
  return (
    <Page title={t('ovHoldsTitle')} hint={t('ovHoldsHint')} testid="holds-view">
      <Panel title={t('ovHoldNew')}>
        <PlaceForm onPlaced={reload} />
      </Panel>
      <Panel title={t('ovHoldsList')} testid="holds-list">
        <ListState list={list} empty={t('ovHoldsNone')} errorTestid="holds-error" emptyTestid="holds-empty">
          {(rows) => (
            <div class="ov-scroll">
              <table class="table ov-table">
                <thead>
                  <tr>
                    <th scope="col">{t('ovHoldTarget')}</th>
                    <th scope="col">{t('ovHoldReason')}</th>
                    <th scope="col">{t('ovColPlacedAt')}</th>
                    <th scope="col">{t('ovColStatus')}</th>
                    <th scope="col">{t('ovColReleasedAt')}</th>
                    <th scope="col">{t('ovColActions')}</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((h) => (
                    <HoldRow key={h.id} h={h} onReleased={reload} />
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </ListState>
      </Panel>
    </Page>
  );
}
