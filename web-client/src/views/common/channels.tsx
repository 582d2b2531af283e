/**
 * 频道 / Channels: the channel list with subscribe switches, and the live feed of the subscribed ones.
 * Each subscribed channel shows its recent stored history, then listens live from the last offset it
 * showed, so nothing published in between is missed.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import type { PublicationFrame } from '../../../../src/gateway/protocol.ts';
import { ApiError, api, call, type Answer } from '../../api/api.ts';
import { live, liveChannels, showError, unsubscribedSeq } from '../../app/session.ts';
import { lang, t, titleOf, tOr } from '../../i18n/i18n.ts';
import { show } from '../../lib/publication.ts';
import { Empty, RiskBadge, Tickers, Time } from '../../ui/ui.tsx';
import { useLoad } from '../../ui/use-load.ts';

type Channel = Answer<'/api/channels', 'get'>['channels'][number];
const HISTORY_LIMIT = 50;
const MAX_FEED = 300;

interface Item {
  pub: PublicationFrame;
  live: boolean;
}

function newerFirst(a: Item, b: Item): number {
  if (a.pub.time !== b.pub.time) return a.pub.time > b.pub.time ? -1 : 1;
  return b.pub.offset - a.pub.offset;
}

/** The feed of the subscribed channels: history first, then live. */
function useFeed(channels: string[]): Item[] {
  const [items, setItems] = useState<Item[]>([]);
  const key = channels.slice().sort().join('\n');
  useEffect(() => {
    const ids = new Set<string>();
    const add = (pub: PublicationFrame, isLive: boolean) => {
      if (ids.has(pub.id)) return;
      ids.add(pub.id);
      setItems((cur) => [...cur, { pub, live: isLive }].sort(newerFirst).slice(0, MAX_FEED));
    };
    setItems([]);
    let stopped = false;
    const stops: Array<() => void> = [];
    for (const name of channels) {
      void call(api.GET('/api/channels/{channel}/history', { params: { path: { channel: name }, query: { limit: HISTORY_LIMIT } } }))
        .then((r) => {
          const pubs = (r as { publications: PublicationFrame[] }).publications;
          for (const p of pubs) add(p, false);
          return pubs.length ? pubs[pubs.length - 1].offset : 0;
        })
        .catch((e: unknown) => {
          showError(e);
          return undefined;
        })
        .then((since) => {
          if (!stopped) stops.push(live.listen(name, (m) => add(m, true), since));
        });
    }
    return () => {
      stopped = true;
      for (const s of stops) s();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  return items;
}

function ChannelRow(props: { c: Channel; busy: boolean; onToggle(on: boolean): void }) {
  const { c } = props;
  const locked = !c.entitled && !c.subscribed;
  const title = titleOf(c.title, c.name);
  return (
    <li class={`channel${c.subscribed ? ' channel--on' : ''}${locked ? ' channel--locked' : ''}`} data-testid="channel-row" data-channel={c.name} data-subscribed={String(c.subscribed)} data-live={String(liveChannels.value.has(c.name))}>
      <div class="channel__text">
        <span class="channel__title" data-testid="channel-title">
          {title}
        </span>
        <span class="channel__name">{c.name}</span>
        {locked ? (
          <span class="channel__lock" data-testid="channel-locked">
            {t('notEntitled')}
          </span>
        ) : null}
      </div>
      <label class="switch">
        <input
          class="switch__input"
          type="checkbox"
          role="switch"
          data-testid={`sub-toggle-${c.name}`}
          aria-label={`${t('subscribe')} ${title}`}
          checked={c.subscribed}
          disabled={locked || props.busy}
          onChange={(e) => props.onToggle(e.currentTarget.checked)}
        />
        <span class="switch__track" aria-hidden="true" />
      </label>
    </li>
  );
}

export function FeedItem(props: { item: Item; channelTitle: string }) {
  const p = props.item.pub;
  const s = show(p);
  return (
    <article class={`msg msg--${p.kind === 'alert' ? 'alert' : 'note'}${props.item.live ? ' msg--live' : ''}${s.severity ? ` msg--${s.severity}` : ''}`} data-testid="feed-item" data-channel={p.channel} data-id={p.id} data-offset={String(p.offset)}>
      <div class="msg__meta">
        <span class="chip chip--channel" data-testid="feed-channel">
          {props.channelTitle}
        </span>
        <span class="badge badge--kind" data-testid="feed-kind">
          {tOr(`kind_${p.kind}`, p.kind)}
        </span>
        <RiskBadge risk={s.risk} testid="feed-risk" />
        {s.severity ? (
          <span class={`badge badge--sev sev-${s.severity}`} data-testid="feed-severity">
            {tOr(`severity_${s.severity}`, s.severity)}
          </span>
        ) : null}
        {props.item.live ? <span class="badge badge--new">{t('newMessage')}</span> : null}
        <Time at={p.time} testid="feed-time" />
      </div>
      <h3 class="msg__title" data-testid="feed-title">
        {s.title}
      </h3>
      {s.summary ? (
        <p class="msg__summary" data-testid="feed-summary">
          {s.summary}
        </p>
      ) : null}
      <Tickers tickers={s.tickers} testid="feed-tickers" />
      {s.body ? (
        <details class="msg__body">
          <summary>{t('readMore')}</summary>
          <div class="msg__body-text" data-testid="feed-body">
            {s.body}
          </div>
        </details>
      ) : null}
    </article>
  );
}

export function ChannelsView() {
  const reload = unsubscribedSeq.value;
  const list = useLoad(async () => (await call(api.GET('/api/channels'))).channels, [reload]);
  const [busy, setBusy] = useState<string | null>(null);
  const channels = list.data ?? [];
  const subscribed = useMemo(() => channels.filter((c) => c.subscribed).map((c) => c.name), [channels]);
  const feed = useFeed(subscribed);
  const titles = useMemo(() => new Map(channels.map((c) => [c.name, titleOf(c.title, c.name)])), [channels, lang.value]);

  const toggle = async (c: Channel, on: boolean) => {
    setBusy(c.name);
    // Shown at once (the switch follows the hand); put back if the server refuses.
    const setOn = (v: boolean) => list.set((cur) => (cur ?? []).map((x) => (x.name === c.name ? { ...x, subscribed: v } : x)));
    setOn(on);
    try {
      if (on) await call(api.PUT('/api/subscriptions/{channel}', { params: { path: { channel: c.name } }, body: {} }));
      else {
        try {
          await call(api.DELETE('/api/subscriptions/{channel}', { params: { path: { channel: c.name } } }));
        } catch (e) {
          if (!(e instanceof ApiError && e.code === 'QIAO_NOT_FOUND')) throw e;
        }
      }
    } catch (e) {
      setOn(!on);
      showError(e);
    } finally {
      setBusy(null);
    }
  };

  const groups = new Map<string, Channel[]>();
  for (const c of channels) groups.set(c.family, [...(groups.get(c.family) ?? []), c]);

  return (
    <div class="layout" data-testid="channels-view">
      <aside class="panel channels">
        <div class="panel__head">
          <h1 class="panel__title" data-testid="channels-title">
            {t('channels')}
          </h1>
          <p class="panel__hint">{t('channelsHint')}</p>
        </div>
        <div class="channels__list" data-testid="channel-list">
          {[...groups].map(([family, cs]) => (
            <section key={family} class="group" data-family={family}>
              <h2 class="group__title">{tOr(`family_${family}`, family)}</h2>
              <ul class="group__list">
                {cs.map((c) => (
                  <ChannelRow key={c.name} c={c} busy={busy === c.name} onToggle={(on) => void toggle(c, on)} />
                ))}
              </ul>
            </section>
          ))}
        </div>
      </aside>
      <section class="panel feed">
        <div class="panel__head panel__head--row">
          <h2 class="panel__title" data-testid="feed-title-heading">
            {t('feed')}
          </h2>
          <span class="panel__hint">{`${t('timeZoneNote')} (UTC+8)`}</span>
        </div>
        <div class="feed__list" data-testid="feed" aria-live="polite">
          {feed.length === 0 ? <Empty text={t('feedEmpty')} testid="feed-empty" /> : feed.map((it) => <FeedItem key={it.pub.id} item={it} channelTitle={titles.get(it.pub.channel) ?? it.pub.channel} />)}
        </div>
      </section>
    </div>
  );
}
