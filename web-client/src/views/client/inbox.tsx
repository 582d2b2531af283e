/**
 * 消息 / Inbox at `/inbox/:id?`: the client's items (unread, all, archived), new ones arriving live,
 * and the open item in full. Opening an item marks it read on the server — the read receipt that
 * stops its escalation (push, then email). `/inbox/<id>` is the deep link of emails and pushes.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, call } from '../../api/api.ts';
import { Link, navigate } from '../../app/router.tsx';
import { showError } from '../../app/session.ts';
import { t, type MsgKey } from '../../i18n/i18n.ts';
import { Empty, ErrorText, Loading } from '../../ui/ui.tsx';
import { useLoad } from '../../ui/use-load.ts';
import { useChannelTitles } from './channel-titles.ts';
import { InboxDetail, InboxRow, type Entry } from './inbox-entry.tsx';
import { arrivals, counts, setItemState } from './inbox-store.ts';

type Filter = 'unread' | 'all' | 'archived';
const FILTERS: ReadonlyArray<[Filter, MsgKey]> = [
  ['unread', 'filterUnread'],
  ['all', 'filterAll'],
  ['archived', 'filterArchived'],
];
const LIMIT = 100;

async function load(filter: Filter): Promise<Entry[]> {
  const r = await call(api.GET('/api/inbox', { params: { query: { limit: LIMIT, ...(filter === 'all' ? {} : { state: filter }) } } }));
  return (r.items ?? []).filter((i): i is Entry => Boolean(i.messageId && i.state));
}

/** An item named by a deep link that the current list does not hold (older, or archived). */
async function find(id: string): Promise<Entry | null> {
  for (const state of [undefined, 'archived'] as const) {
    const r = await call(api.GET('/api/inbox', { params: { query: { limit: 200, ...(state ? { state } : {}) } } }));
    const hit = (r.items ?? []).find((i) => i.messageId === id);
    if (hit?.messageId && hit.state) return hit as Entry;
  }
  return null;
}

export function InboxView(props: { params: { id?: string } }) {
  const id = props.params.id;
  const [filter, setFilter] = useState<Filter>('all');
  const list = useLoad(() => load(filter), [filter]);
  const [liveItems, setLiveItems] = useState<Entry[]>([]);
  const [extra, setExtra] = useState<Entry | null | 'missing'>(null);
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<unknown>(null);
  const marking = useRef(new Set<string>());
  const titleOf = useChannelTitles();
  const since = useRef(arrivals.peek());

  // Live arrivals: shown at once, then the list is reloaded once fanout has stored the row.
  const arrived = arrivals.value;
  useEffect(() => {
    if (!arrived || arrived === since.current) return;
    since.current = arrived;
    const e: Entry = { messageId: arrived.id, channel: arrived.channel, state: 'unread', createdAt: arrived.time, publication: arrived, live: true };
    setLiveItems((cur) => (cur.some((x) => x.messageId === e.messageId) ? cur : [e, ...cur]));
    const timer = setTimeout(() => list.reload(), 1200);
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [arrived]);

  const stored = list.data ?? [];
  const storedIds = new Set(stored.map((e) => e.messageId));
  const liveShown = filter === 'archived' ? [] : liveItems.filter((e) => !storedIds.has(e.messageId));
  const live = new Set(liveItems.map((e) => e.messageId));
  const items = [...liveShown, ...stored.map((e) => (live.has(e.messageId) ? { ...e, live: true } : e))];
  const inList = id ? items.find((e) => e.messageId === id) : undefined;
  const selected = inList ?? (extra && extra !== 'missing' && extra.messageId === id ? extra : undefined);

  // A deep link to an item outside the current list: look for it.
  useEffect(() => {
    setExtra(null);
    if (!id || list.loading || inList) return;
    let alive = true;
    find(id).then(
      (e) => alive && setExtra(e ?? 'missing'),
      (err: unknown) => alive && setActionError(err),
    );
    return () => {
      alive = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [id, list.loading, Boolean(inList)]);

  const update = (messageId: string, state: Entry['state']) => {
    const put = (e: Entry) => (e.messageId === messageId ? { ...e, state } : e);
    list.set((cur) => (cur ?? []).map(put));
    setLiveItems((cur) => cur.map(put));
    setExtra((cur) => (cur && cur !== 'missing' ? put(cur) : cur));
  };

  // Opening an unread item is reading it.
  const selId = selected?.messageId;
  const selState = selected?.state;
  useEffect(() => {
    if (!selId || selState !== 'unread' || marking.current.has(selId)) return;
    marking.current.add(selId);
    setItemState(selId, 'read').then(
      (s) => update(selId, s === 'archived' ? 'archived' : 'read'),
      (e: unknown) => {
        marking.current.delete(selId);
        showError(e);
      },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [selId, selState]);

  const archive = async (e: Entry) => {
    setBusy(true);
    setActionError(null);
    try {
      await setItemState(e.messageId, 'archive');
      update(e.messageId, 'archived');
    } catch (err) {
      setActionError(err);
    } finally {
      setBusy(false);
    }
  };

  const c = counts.value;
  const shown = filter === 'unread' ? items.filter((e) => e.state === 'unread' || e.messageId === id) : filter === 'all' ? items.filter((e) => e.state !== 'archived' || e.messageId === id) : items;
  const hrefOf = (e: Entry) => `/inbox/${encodeURIComponent(e.messageId)}`;

  return (
    <div class="layout inbox" data-testid="inbox-view">
      <section class="panel inbox__list" aria-labelledby="inbox-title">
        <div class="panel__head">
          <h1 class="panel__title" id="inbox-title" data-testid="inbox-heading">
            {t('inboxTitle')}
          </h1>
          <p class="panel__hint" data-testid="inbox-counts" data-unread={String(c?.unread ?? '')}>
            {c ? t('inboxCounts', { unread: c.unread, read: c.read, archived: c.archived }) : ''}
          </p>
        </div>
        <div class="tabs" role="group" aria-label={t('filterLabel')}>
          {FILTERS.map(([f, key]) => (
            <button key={f} type="button" class={`tab${filter === f ? ' tab--on' : ''}`} aria-pressed={filter === f} data-testid={`inbox-filter-${f}`} onClick={() => setFilter(f)}>
              {t(key)}
            </button>
          ))}
        </div>
        <ErrorText error={list.error} testid="inbox-error" />
        {list.data === undefined && list.loading ? (
          <Loading />
        ) : shown.length === 0 ? (
          <Empty text={t(filter === 'unread' ? 'inboxEmptyUnread' : filter === 'archived' ? 'inboxEmptyArchived' : 'inboxEmpty')} testid="inbox-empty" />
        ) : (
          <ul class="inbox__items" data-testid="inbox-list" aria-live="polite">
            {shown.map((e) => (
              <InboxRow key={e.messageId} e={e} channelTitle={titleOf(e.channel ?? e.publication?.channel ?? '')} selected={e.messageId === id} href={hrefOf(e)} />
            ))}
          </ul>
        )}
      </section>
      <section class="panel inbox__open" aria-label={t('inboxOpenItem')}>
        <ErrorText error={actionError} testid="inbox-action-error" />
        {selected ? (
          <>
            <p class="inbox__back">
              <Link href="/inbox" data-testid="inbox-close">
                {t('inboxBackToList')}
              </Link>
            </p>
            <InboxDetail e={selected} channelTitle={titleOf(selected.channel ?? selected.publication?.channel ?? '')} busy={busy} onArchive={() => void archive(selected)} />
          </>
        ) : id && extra === 'missing' ? (
          <div data-testid="inbox-missing">
            <Empty text={t('inboxItemMissing')} />
            <p class="inbox__back">
              <button type="button" class="btn btn--plain" onClick={() => navigate('/inbox')}>
                {t('inboxBackToList')}
              </button>
            </p>
          </div>
        ) : id ? (
          <Loading />
        ) : (
          <Empty text={t('inboxPick')} testid="inbox-pick" />
        )}
      </section>
    </div>
  );
}
