/**
 * 撰写研报 / Compose a note (research desk): channel (research categories and sectors the user may
 * publish to), title, summary, body, tickers and product risk; beside it the note as a client will see
 * it in the feed and the audience it will reach — both before publishing. Publishing posts to
 * /api/channels/{channel}/publications with the draft's Idempotency-Key. A DLP refusal names the
 * blocked terms and keeps the draft; success clears it and opens the notes list.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError, api, call, type Answer } from '../../../api/api.ts';
import { navigate } from '../../../app/router.tsx';
import { notify, user } from '../../../app/session.ts';
import { t, titleOf, tOr } from '../../../i18n/i18n.ts';
import { Button, ErrorText, Field, Page, Panel, RiskSelect } from '../../../ui/ui.tsx';
import { useLoad } from '../../../ui/use-load.ts';
import { FeedItem } from '../../common/channels.tsx';
import { AudiencePanel, useAudience } from './audience.tsx';
import { clearDraft, draft, draftKey, editDraft, notePayload } from './draft.ts';
import { TickerInput } from './ticker-input.tsx';

type Channel = Answer<'/api/channels', 'get'>['channels'][number];

/** The research channels this user may publish to: categories first, then sectors. */
export function usePublishable() {
  return useLoad(async () => (await call(api.GET('/api/channels'))).channels.filter((c) => c.family === 'research' && c.canPublish), []);
}

/** The blocked terms a DLP refusal names (error details `terms`). */
function blockedTerms(e: unknown): string[] {
  if (!(e instanceof ApiError) || e.code !== 'QIAO_DLP_BLOCKED') return [];
  const terms = (e.details as { terms?: unknown } | undefined)?.terms;
  return Array.isArray(terms) ? terms.filter((x): x is string => typeof x === 'string') : [];
}

function Preview(props: { channel: Channel | undefined }) {
  const d = draft.value;
  const payload = notePayload(d);
  const now = useMemo(() => new Date().toISOString(), [d]);
  return (
    <Panel title={t('desk_previewTitle')} testid="note-preview" class="desk-preview">
      <div class="desk-pad">
        <p class="desk-muted">{t('desk_previewHint')}</p>
        {payload.title ? (
          <FeedItem
            item={{ pub: { channel: d.channel, id: 'preview', offset: 0, kind: 'note', sender: user.value?.id ?? '', payload, time: now }, live: false }}
            channelTitle={props.channel ? titleOf(props.channel.title, props.channel.name) : t('desk_noChannel')}
          />
        ) : (
          <p class="desk-muted" data-testid="note-preview-empty">
            {t('desk_previewEmpty')}
          </p>
        )}
      </div>
    </Panel>
  );
}

export function ComposeView() {
  const channels = usePublishable();
  const d = draft.value;
  const audience = useAudience(d.channel);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const list = channels.data ?? [];
  const current = list.find((c) => c.name === d.channel);

  // First visit: the first channel the user may publish to.
  useEffect(() => {
    if (!d.channel && list.length) editDraft({ channel: list[0].name });
  }, [list.length]);

  const terms = blockedTerms(error);
  const ready = !!current && !!d.title.trim() && !!audience.data && !busy;

  const publish = async (e: Event) => {
    e.preventDefault();
    if (!ready) return;
    setBusy(true);
    setError(null);
    try {
      await call(
        api.POST('/api/channels/{channel}/publications', {
          params: { path: { channel: d.channel }, header: { 'idempotency-key': draftKey.value } },
          body: { kind: 'note', payload: notePayload(d) },
        }),
      );
      clearDraft();
      notify(t('desk_published'));
      navigate('/research/notes');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Page title={t('desk_composeTitle')} hint={t('desk_composeHint')} testid="research-compose">
      <div class="desk-split">
        <Panel title={t('desk_noteForm')} class="desk-form-panel">
          <form class="desk-form" data-testid="note-form" onSubmit={(e) => void publish(e)} aria-busy={busy}>
            {channels.error ? <ErrorText error={channels.error} testid="channels-error" /> : null}
            <Field label={t('desk_channel')}>
              <select data-testid="note-channel" value={d.channel} required onChange={(e) => editDraft({ channel: e.currentTarget.value })}>
                {list.map((c) => (
                  <option key={c.name} value={c.name}>
                    {`${titleOf(c.title, c.name)} · ${c.name}`}
                  </option>
                ))}
              </select>
            </Field>
            <Field label={t('desk_title')}>
              <input data-testid="note-title" value={d.title} required maxLength={200} onInput={(e) => editDraft({ title: e.currentTarget.value })} />
            </Field>
            <Field label={t('desk_summary')} hint={t('desk_summaryHint')}>
              <textarea data-testid="note-summary" value={d.summary} rows={3} maxLength={2000} onInput={(e) => editDraft({ summary: e.currentTarget.value })} />
            </Field>
            <Field label={t('desk_body')}>
              <textarea data-testid="note-body" value={d.body} rows={8} maxLength={200_000} onInput={(e) => editDraft({ body: e.currentTarget.value })} />
            </Field>
            <TickerInput value={d.tickers} onChange={(tickers) => editDraft({ tickers })} />
            <Field label={t('desk_productRisk')} hint={t('desk_productRiskHint')}>
              <RiskSelect testid="note-risk" value={d.riskLevel} onChange={(riskLevel) => editDraft({ riskLevel })} />
            </Field>
            {error ? (
              <div class="desk-refusal" data-testid="publish-error-box">
                <ErrorText error={error} testid="publish-error" />
                {terms.length ? (
                  <p class="desk-terms" data-testid="dlp-terms">
                    <span>{t('desk_dlpTerms')}</span>
                    {terms.map((x) => (
                      <mark key={x} class="desk-term" data-testid="dlp-term">
                        {x}
                      </mark>
                    ))}
                  </p>
                ) : null}
                {terms.length ? <p class="desk-muted">{t('desk_dlpKept')}</p> : null}
              </div>
            ) : null}
            <div class="desk-actions">
              <Button type="submit" variant="primary" testid="note-publish" disabled={!ready}>
                {busy ? t('desk_publishing') : audience.data ? t('desk_publishTo', { n: audience.data.wouldReceive }) : t('desk_publish')}
              </Button>
              <Button testid="note-clear" disabled={busy} onClick={() => (clearDraft(), setError(null))}>
                {t('desk_clear')}
              </Button>
            </div>
          </form>
        </Panel>
        <div class="desk-side">
          <AudiencePanel audience={audience} />
          <Preview channel={current} />
        </div>
      </div>
    </Page>
  );
}
