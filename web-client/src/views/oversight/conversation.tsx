/**
 * 会话存档 / Conversation from the archive (compliance, read-only): every archived record of one
 * conversation (`conv.<id>`), oldest first, with the sender's name; edits and recalls are shown as
 * their own records, pointing at the message they change, so nothing is hidden. Older pages load on
 * request (the archive answers newest first). Offers a legal hold on the conversation.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, call } from '../../api/api.ts';
import { Link } from '../../app/router.tsx';
import type { Params } from '../../app/router.tsx';
import { t } from '../../i18n/i18n.ts';
import { Button, Empty, ErrorText, Loading, Page, Panel, Time } from '../../ui/ui.tsx';
import { recordKindLabel } from './archive-labels.ts';
import { personName, recordDlp, recordMessage, type ArchiveRecord, type People } from './types.ts';

const PAGE = 200;

function Entry(props: { r: ArchiveRecord; people: People; byId: Map<string, ArchiveRecord> }) {
  const { r } = props;
  const m = recordMessage(r);
  const ref = m.ref ? props.byId.get(m.ref) : undefined;
  const kind = r.kind === 'message' ? (m.kind ?? 'chat') : r.kind;
  const dlp = recordDlp(r);
  return (
    <li class={`ov-entry ov-entry--${(kind ?? '').replace(/\./g, '-')}`} data-testid="conv-record" data-seq={String(r.seq)} data-kind={kind} data-message-id={m.id}>
      <div class="ov-entry__meta">
        <strong data-testid="conv-sender">{personName(props.people, r.actorId)}</strong>
        <span class="badge badge--kind" data-testid="conv-kind">
          {recordKindLabel(r)}
        </span>
        <Time at={r.recordedAt} testid="conv-time" />
        <span class="ov-mono ov-muted">#{r.seq}</span>
      </div>
      {m.ref ? (
        <p class="ov-muted" data-testid="conv-ref">
          {t(kind === 'chat.recall' ? 'ovRecallOf' : 'ovEditOf')}
          {ref ? `「${recordMessage(ref).text ?? ref.text ?? ''}」` : <span class="ov-mono">{m.ref}</span>}
        </p>
      ) : null}
      {kind !== 'chat.recall' ? (
        <p class="ov-text" data-testid="conv-text">
          {m.text ?? r.text}
        </p>
      ) : null}
      {Object.keys(dlp).length ? (
        <p class="ov-muted" data-testid="conv-dlp">
          DLP: {Object.values(dlp).flat().join('、')}
        </p>
      ) : null}
    </li>
  );
}

export function ConversationView(props: { params: Params }) {
  const id = props.params.id ?? '';
  const [records, setRecords] = useState<ArchiveRecord[]>([]);
  const [people, setPeople] = useState<People>({});
  const [next, setNext] = useState<number | null>(null);
  const [busy, setBusy] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const load = async (cursor?: number) => {
    setBusy(true);
    setError(null);
    try {
      const r = await call(api.GET('/api/compliance/archive', { params: { query: { conversationId: id, limit: PAGE, ...(cursor ? { cursor } : {}) } } }));
      // Newest first from the archive: shown oldest first, earlier pages above.
      const page = [...(r.records ?? [])].reverse();
      setRecords((cur) => (cursor ? [...page, ...cur] : page));
      setPeople((cur) => ({ ...cur, ...r.people }));
      setNext(r.nextCursor ?? null);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => {
    setRecords([]);
    setPeople({});
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [id]);
  const byId = new Map(records.map((r) => [recordMessage(r).id ?? '', r] as const).filter(([k]) => k));
  const parties = [...new Set(records.map((r) => r.actorId).filter((x): x is string => Boolean(x)))];
  return (
    <Page
      title={t('ovConversationTitle')}
      hint={t('ovConversationHint')}
      testid="conversation-view"
      actions={
        <>
          <Link href={`/compliance/holds?conversationId=${encodeURIComponent(id)}`} class="btn btn--ghost" data-testid="conv-hold">
            {t('ovHoldThis')}
          </Link>
          <Link href={`/compliance/archive?${new URLSearchParams({ conversationId: id, run: '1' })}`} class="btn btn--ghost" data-testid="conv-search">
            {t('ovSearchThis')}
          </Link>
        </>
      }
    >
      <Panel>
        <p class="ov-muted">
          {`${t('ovConversationId')}: `}
          <span class="ov-mono" data-testid="conv-id">
            {id}
          </span>
          {parties.length ? ` · ${t('ovParties')}: ${parties.map((p) => personName(people, p)).join('、')}` : ''}
        </p>
        <ErrorText error={error} testid="conv-error" />
        {next ? (
          <Button variant="ghost" testid="conv-earlier" disabled={busy} onClick={() => void load(next)}>
            {t('ovLoadEarlier')}
          </Button>
        ) : null}
        {busy && !records.length ? <Loading /> : null}
        {!busy && !error && records.length === 0 ? <Empty text={t('ovConversationEmpty')} testid="conv-empty" /> : null}
        <ol class="ov-thread" data-testid="conv-records" aria-label={t('ovConversationTitle')}>
          {records.map((r) => (
            <Entry key={r.seq} r={r} people={people} byId={byId} />
          ))}
        </ol>
      </Panel>
    </Page>
  );
}
