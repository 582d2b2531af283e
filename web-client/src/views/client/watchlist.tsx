/**
 * 自选股 / Watchlist at `/watchlist`: the watched A-share codes are the client's stored subscriptions
 * to `alerts.<symbol>` (channels/alerts.ts) — adding subscribes (PUT /api/subscriptions/…), removing
 * unsubscribes — so the list is the server's, on every device. Below: the latest alerts of the watched
 * codes, recent history first and then live.
 */
import { useEffect, useState } from 'preact/hooks';
import type { PublicationFrame } from '../../../../src/gateway/protocol.ts';
import { ApiError, api, call } from '../../api/api.ts';
import { live, showError, unsubscribedSeq } from '../../app/session.ts';
import { t, tOr } from '../../i18n/i18n.ts';
import { show } from '../../lib/publication.ts';
import { Button, Empty, ErrorText, Loading, Page, Panel, Time } from '../../ui/ui.tsx';
import { useLoad } from '../../ui/use-load.ts';
import { SYMBOL_RE, nameOf } from './securities.ts';
import { SymbolInput } from './symbol-input.tsx';

const CHANNEL_RE = /^alerts\.(\d{6}\.(?:SH|SZ|BJ))$/;
const HISTORY = 5;
const MAX_ALERTS = 50;

const channelOf = (symbol: string) => `alerts.${symbol}`;

function newerFirst(a: PublicationFrame, b: PublicationFrame): number {
  return a.time === b.time ? b.offset - a.offset : a.time > b.time ? -1 : 1;
}

/** The latest alerts of the watched codes: stored history, then live from the last offset shown. */
function useAlerts(symbols: string[]): PublicationFrame[] {
  const [items, setItems] = useState<PublicationFrame[]>([]);
  const key = symbols.slice().sort().join(',');
  useEffect(() => {
    const ids = new Set<string>();
    const add = (p: PublicationFrame) => {
      if (ids.has(p.id)) return;
      ids.add(p.id);
      setItems((cur) => [...cur, p].sort(newerFirst).slice(0, MAX_ALERTS));
    };
    setItems([]);
    let stopped = false;
    const stops: Array<() => void> = [];
    for (const s of symbols) {
      const channel = channelOf(s);
      void call(api.GET('/api/channels/{channel}/history', { params: { path: { channel }, query: { limit: HISTORY } } }))
        .then((r) => {
          const pubs = (r as { publications: PublicationFrame[] }).publications;
          pubs.forEach(add);
          return pubs.length ? pubs[pubs.length - 1].offset : 0;
        })
        .catch((e: unknown) => {
          showError(e);
          return undefined;
        })
        .then((since) => {
          if (!stopped) stops.push(live.listen(channel, add, since));
        });
    }
    return () => {
      stopped = true;
      stops.forEach((f) => f());
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  return items;
}

export function WatchlistView() {
  const reloadSeq = unsubscribedSeq.value;
  const subs = useLoad(async () => (await call(api.GET('/api/subscriptions'))).subscriptions, [reloadSeq]);
  const symbols = (subs.data ?? []).map((s) => CHANNEL_RE.exec(s.channel)?.[1]).filter((s): s is string => Boolean(s));
  const alerts = useAlerts(symbols);
  const [code, setCode] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<string | null>(null);

  const add = async (e: Event) => {
    e.preventDefault();
    const symbol = code.trim().toUpperCase();
    setError(null);
    // Same rule as the server's, checked here so the user sees it before any call.
    if (!SYMBOL_RE.test(symbol)) return setError({ code: 'QIAO_SYMBOL_INVALID' });
    if (symbols.includes(symbol)) return setError({ code: 'QIAO_ALREADY_SUBSCRIBED' });
    setBusy(symbol);
    try {
      await call(api.PUT('/api/subscriptions/{channel}', { params: { path: { channel: channelOf(symbol) } }, body: {} }));
      setCode('');
      subs.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  };

  const remove = async (symbol: string) => {
    setBusy(symbol);
    setError(null);
    try {
      await call(api.DELETE('/api/subscriptions/{channel}', { params: { path: { channel: channelOf(symbol) } } }));
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 'QIAO_NOT_FOUND')) setError(err);
    } finally {
      setBusy(null);
      subs.reload();
    }
  };

  return (
    <Page title={t('watchTitle')} testid="watchlist-view" hint={t('watchlistHint')}>
      <Panel title={t('watchlistAdd')}>
        <form class="form-inline" onSubmit={(e) => void add(e)} data-testid="watch-form" noValidate>
          <SymbolInput value={code} onInput={(v) => setCode(v)} label={t('symbolLabel')} hint={t('symbolHint')} testid="watch-input" />
          <Button type="submit" variant="primary" testid="watch-add" disabled={busy !== null}>
            {t('watchAdd')}
          </Button>
        </form>
        <div class="form-inline__error">
          <ErrorText error={error} testid="watch-error" />
        </div>
      </Panel>
      <Panel title={t('watchlistList')} testid="watch-panel">
        <ErrorText error={subs.error} testid="watch-load-error" />
        {subs.data === undefined && subs.loading ? (
          <Loading />
        ) : symbols.length === 0 ? (
          <Empty text={t('watchlistEmpty')} testid="watch-empty" />
        ) : (
          <ul class="watch-list" data-testid="watch-list">
            {symbols.map((s) => (
              <li key={s} class="watch-row" data-testid="watch-row" data-symbol={s}>
                <span class="watch-row__code">{s}</span>
                <span class="watch-row__name" data-testid="watch-name">
                  {nameOf(s) ?? ''}
                </span>
                <Button variant="danger" testid="watch-remove" aria-label={t('removeSymbol', { symbol: s })} disabled={busy === s} onClick={() => void remove(s)}>
                  {t('watchRemove')}
                </Button>
              </li>
            ))}
          </ul>
        )}
      </Panel>
      <Panel title={t('watchAlerts')} testid="watch-alerts">
        {alerts.length === 0 ? (
          <Empty text={t('watchAlertsEmpty')} testid="watch-alerts-empty" />
        ) : (
          <ul class="watch-alerts" aria-live="polite" data-testid="watch-alert-list">
            {alerts.map((p) => {
              const v = show(p);
              const sym = CHANNEL_RE.exec(p.channel)?.[1] ?? '';
              return (
                <li key={p.id} class={`watch-alert${v.severity ? ` msg--${v.severity}` : ''}`} data-testid="watch-alert" data-id={p.id} data-symbol={sym}>
                  <span class="watch-alert__sym">
                    {sym} {nameOf(sym) ?? ''}
                  </span>
                  {v.severity && v.severity !== 'info' ? <span class={`badge badge--sev sev-${v.severity}`}>{tOr(`severity_${v.severity}`, v.severity)}</span> : null}
                  <span class="watch-alert__title" data-testid="watch-alert-title">
                    {v.title}
                  </span>
                  <Time at={p.time} short />
                </li>
              );
            })}
          </ul>
        )}
      </Panel>
    </Page>
  );
}
