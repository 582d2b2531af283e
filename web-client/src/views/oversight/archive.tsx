/**
 * 合规存档 / Compliance archive (compliance): search by person (login or id), conversation, dates
 * (Beijing time) and keyword; page through the hits; export them (records.jsonl, records.txt,
 * manifest.json with their sha256); verify the hash chain. The filter lives in the URL, so going back
 * from a conversation opened from a hit shows the same search. Every search and export is audited.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, call, type Answer } from '../../api/api.ts';
import { Link, navigate, query } from '../../app/router.tsx';
import { t, tOr } from '../../i18n/i18n.ts';
import { Button, Empty, ErrorText, Field, Loading, Page, Panel, Time } from '../../ui/ui.tsx';
import { recordKindLabel } from './archive-labels.ts';
import { ExportResult, type ExportBundle } from './archive-export.tsx';
import { personName, recordDlp, type ArchiveRecord, type People } from './types.ts';

const FILTER_KEYS = ['person', 'conversationId', 'from', 'to', 'q'] as const;
type FilterKey = (typeof FILTER_KEYS)[number];
type Filter = Record<FilterKey, string>;
type Verify = Answer<'/api/compliance/archive/verify', 'get'>;

function filterOf(q: URLSearchParams): Filter {
  return Object.fromEntries(FILTER_KEYS.map((k) => [k, q.get(k) ?? ''])) as Filter;
}
function given(f: Filter): Partial<Filter> {
  return Object.fromEntries(FILTER_KEYS.map((k) => [k, f[k].trim()]).filter(([, v]) => v !== ''));
}

function useSearch(key: string, f: Filter | null) {
  const [state, setState] = useState<{ records: ArchiveRecord[]; people: People; next: number | null; error: unknown; busy: boolean }>({ records: [], people: {}, next: null, error: null, busy: false });
  const load = async (cursor?: number) => {
    if (!f) return;
    setState((s) => ({ ...s, busy: true, error: null }));
    try {
      const r = await call(api.GET('/api/compliance/archive', { params: { query: { ...given(f), limit: 50, ...(cursor ? { cursor } : {}) } } }));
      setState((s) => ({
        records: cursor ? [...s.records, ...(r.records ?? [])] : (r.records ?? []),
        people: { ...s.people, ...r.people },
        next: r.nextCursor ?? null,
        error: null,
        busy: false,
      }));
    } catch (e) {
      setState((s) => ({ ...s, error: e, busy: false }));
    }
  };
  useEffect(() => {
    setState({ records: [], people: {}, next: null, error: null, busy: false });
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  return { ...state, more: () => void load(state.next ?? undefined) };
}

function Results(props: { records: ArchiveRecord[]; people: People }) {
  return (
    <div class="ov-scroll">
      <table class="table ov-table" data-testid="archive-results">
        <thead>
          <tr>
            <th scope="col">{t('ovColSeq')}</th>
            <th scope="col">{t('ovColTime')}</th>
            <th scope="col">{t('ovColKind')}</th>
            <th scope="col">{t('ovColActor')}</th>
            <th scope="col">{t('ovColWhere')}</th>
            <th scope="col">{t('ovColContent')}</th>
            <th scope="col">DLP</th>
            <th scope="col">{t('ovColHash')}</th>
          </tr>
        </thead>
        <tbody>
          {props.records.map((r) => {
            const dlp = recordDlp(r);
            return (
              <tr key={r.seq} data-testid="archive-row" data-seq={String(r.seq)} data-kind={r.kind}>
                <td class="ov-mono">{r.seq}</td>
                <td class="ov-nowrap">
                  <Time at={r.recordedAt} />
                </td>
                <td>{recordKindLabel(r)}</td>
                <td data-testid="archive-actor">{personName(props.people, r.actorId)}</td>
                <td class="ov-mono">
                  {r.conversationId ? (
                    <Link href={`/compliance/conversations/${r.conversationId}`} data-testid="open-conversation" aria-label={`${t('ovOpenConversation')} ${r.conversationId}`}>
                      {t('ovOpenConversation')}
                    </Link>
                  ) : (
                    (r.channel ?? '')
                  )}
                </td>
                <td class="ov-text" data-testid="archive-text">
                  {r.text || JSON.stringify(r.body ?? null).slice(0, 300)}
                </td>
                <td>
                  {Object.entries(dlp)
                    .map(([k, v]) => `${tOr(`ovDlpHit_${k}`, k)}: ${v.join('、')}`)
                    .join('；')}
                </td>
                <td class="ov-mono" title={r.hash}>
                  {`${(r.hash ?? '').slice(0, 12)}…`}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

export function ArchiveView() {
  const q = query.value;
  const key = q.toString();
  const active = q.has('run');
  const current = filterOf(q);
  const [form, setForm] = useState<Filter>(current);
  useEffect(() => setForm(filterOf(q)), [key]);
  const hits = useSearch(key, active ? current : null);
  const [bundle, setBundle] = useState<ExportBundle | null>(null);
  const [verify, setVerify] = useState<Verify | null>(null);
  const [busy, setBusy] = useState<null | 'export' | 'verify'>(null);
  const [error, setError] = useState<unknown>(null);

  const search = (e: Event) => {
    e.preventDefault();
    navigate(`/compliance/archive?${new URLSearchParams({ ...given(form), run: '1' })}`);
  };
  const doExport = async () => {
    setBusy('export');
    setError(null);
    try {
      setBundle(await call(api.POST('/api/compliance/exports', { body: given(form) })));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };
  const doVerify = async () => {
    setBusy('verify');
    setError(null);
    try {
      setVerify(await call(api.GET('/api/compliance/archive/verify')));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };
  const set = (k: FilterKey) => (e: { currentTarget: HTMLInputElement }) => setForm({ ...form, [k]: e.currentTarget.value });
  const input = (k: FilterKey, label: string) => (
    <Field label={label}>
      <input type="text" name={k} data-testid={`archive-${k}`} autoComplete="off" spellcheck={false} value={form[k]} onInput={set(k)} />
    </Field>
  );
  const date = (k: 'from' | 'to', label: string) => (
    <Field label={label}>
      <input type="date" name={k} data-testid={`archive-${k}`} value={form[k]} onInput={set(k)} />
    </Field>
  );
  return (
    <Page title={t('ovArchiveTitle')} hint={t('ovArchiveHint')} testid="archive-view">
      <Panel>
        <form class="ov-form ov-form--grid" data-testid="archive-form" onSubmit={search}>
          {input('person', t('ovPerson'))}
          {input('conversationId', t('ovConversationId'))}
          {date('from', t('ovFrom'))}
          {date('to', t('ovTo'))}
          {input('q', t('ovKeyword'))}
          <div class="form-actions ov-actions">
            <Button type="submit" variant="primary" testid="archive-search" disabled={hits.busy}>
              {hits.busy ? t('ovSearching') : t('ovSearch')}
            </Button>
            <Button variant="ghost" testid="archive-export-btn" disabled={busy !== null} onClick={() => void doExport()}>
              {busy === 'export' ? t('ovExporting') : t('ovExport')}
            </Button>
            <Button variant="ghost" testid="archive-verify" disabled={busy !== null} onClick={() => void doVerify()}>
              {busy === 'verify' ? t('ovVerifying') : t('ovVerify')}
            </Button>
          </div>
        </form>
        <ErrorText error={error} testid="archive-action-error" />
        {verify ? (
          <p class={`ov-verify ov-verify--${verify.ok ? 'ok' : 'bad'}`} role="status" data-testid="archive-verify-result" data-ok={String(verify.ok)}>
            {verify.ok ? t('ovVerifyOk', { n: verify.checked ?? 0 }) : t('ovVerifyBad', { n: verify.problemCount ?? 0, seq: verify.firstBrokenSeq ?? '-' })}
          </p>
        ) : null}
      </Panel>
      {bundle ? <ExportResult bundle={bundle} /> : null}
      {active ? (
        <Panel title={t('ovResults')} testid="archive-hits">
          <ErrorText error={hits.error} testid="archive-error" />
          {hits.busy && !hits.records.length ? <Loading /> : null}
          {!hits.busy && !hits.error && hits.records.length === 0 ? <Empty text={t('ovNoResults')} testid="archive-empty" /> : null}
          {hits.records.length ? (
            <>
              <p class="ov-muted" data-testid="archive-count">
                {t('ovResultCount', { n: hits.records.length })}
              </p>
              <Results records={hits.records} people={hits.people} />
              {hits.next ? (
                <Button variant="ghost" testid="archive-more" disabled={hits.busy} onClick={hits.more}>
                  {t('ovLoadMore')}
                </Button>
              ) : null}
            </>
          ) : null}
        </Panel>
      ) : null}
    </Page>
  );
}
