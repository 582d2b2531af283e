/**
 * 我的研报 / My notes (research desk): the notes I published, newest first, with how many recipients
 * fanout delivered each to and how many have read it (GET /api/research/notes), paged by nextBefore.
 */
import { useMemo, useState } from 'preact/hooks';
import { api, call, type Answer } from '../../../api/api.ts';
import { Link } from '../../../app/router.tsx';
import { t, titleOf } from '../../../i18n/i18n.ts';
import { Button, Empty, ErrorText, Loading, Page, Panel, RiskBadge, Time } from '../../../ui/ui.tsx';
import { useLoad } from '../../../ui/use-load.ts';

type Note = Answer<'/api/research/notes', 'get'>['notes'][number];

export function NotesView() {
  const [pages, setPages] = useState(1);
  const channels = useLoad(async () => (await call(api.GET('/api/channels'))).channels, []);
  const titles = useMemo(() => new Map((channels.data ?? []).map((c) => [c.name, c])), [channels.data]);
  const notes = useLoad(async () => {
    const out: Note[] = [];
    let before: string | undefined;
    let more = false;
    for (let i = 0; i < pages; i++) {
      const r = await call(api.GET('/api/research/notes', { params: { query: { limit: 20, ...(before ? { before } : {}) } } }));
      out.push(...r.notes);
      more = r.nextBefore !== null;
      if (!r.nextBefore) break;
      before = r.nextBefore;
    }
    return { notes: out, more };
  }, [pages]);
  const list = notes.data?.notes ?? [];

  return (
    <Page
      title={t('desk_notesTitle')}
      hint={t('desk_notesHint')}
      testid="research-notes"
      actions={
        <>
          <Button testid="notes-refresh" onClick={notes.reload} disabled={notes.loading}>
            {t('desk_refresh')}
          </Button>
          <Link href="/research/compose" class="btn btn--primary" data-testid="notes-compose">
            {t('desk_newNote')}
          </Link>
        </>
      }
    >
      <Panel>
        <ErrorText error={notes.error} testid="notes-error" />
        {notes.loading && !notes.data ? <Loading /> : null}
        {notes.data && !list.length ? <Empty text={t('desk_notesEmpty')} testid="notes-empty" /> : null}
        {list.length ? (
          <table class="table desk-table" data-testid="notes-table">
            <caption class="sr-only">{t('desk_notesTitle')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('desk_colPublished')}</th>
                <th scope="col">{t('desk_channel')}</th>
                <th scope="col">{t('desk_title')}</th>
                <th scope="col">{t('tickers')}</th>
                <th scope="col">{t('desk_productRisk')}</th>
                <th scope="col">{t('desk_colRecipients')}</th>
                <th scope="col">{t('desk_colRead')}</th>
              </tr>
            </thead>
            <tbody>
              {list.map((n) => {
                const c = titles.get(n.channel);
                return (
                  <tr key={n.id} data-testid="note-row" data-id={n.id} data-channel={n.channel}>
                    <td>
                      <Time at={n.publishedAt} short />
                    </td>
                    <td>{c ? titleOf(c.title, c.name) : n.channel}</td>
                    <td>
                      <strong data-testid="note-row-title">{n.title}</strong>
                      {n.summary ? <div class="desk-muted desk-clip">{n.summary}</div> : null}
                    </td>
                    <td>
                      {n.tickers.map((x) => (
                        <span key={x} class="ticker">
                          {x}
                        </span>
                      ))}
                    </td>
                    <td>
                      <RiskBadge risk={n.productRisk} />
                    </td>
                    <td data-testid="note-recipients" data-n={String(n.recipients)}>
                      {n.recipients}
                    </td>
                    <td data-testid="note-read" data-n={String(n.read)}>
                      {n.recipients ? t('desk_readOf', { read: n.read, pct: Math.round((n.read / n.recipients) * 100) }) : n.read}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        ) : null}
        {notes.data?.more ? (
          <div class="desk-actions desk-pad">
            <Button testid="notes-more" disabled={notes.loading} onClick={() => setPages((p) => p + 1)}>
              {t('desk_loadMore')}
            </Button>
          </div>
        ) : null}
      </Panel>
    </Page>
  );
}
