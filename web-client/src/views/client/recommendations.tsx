/**
 * 投资建议 / Recommendations at `/recommendations/:id?`: what my brokers recommended to me. A
 * recommendation reaches a client only as an inbox item of kind `recommendation` (published by the
 * server after the suitability gate; payload: channels/payloads.ts RecommendationPayload), so the list
 * is the inbox's, filtered by kind. Opening one reads it, like in the inbox.
 */
import { useEffect, useRef } from 'preact/hooks';
import { api, call } from '../../api/api.ts';
import { Link } from '../../app/router.tsx';
import { showError } from '../../app/session.ts';
import { t, tOr } from '../../i18n/i18n.ts';
import { Empty, ErrorText, Loading, Page, RiskBadge, Time } from '../../ui/ui.tsx';
import { useLoad } from '../../ui/use-load.ts';
import { arrivals, setItemState, type InboxItem } from './inbox-store.ts';
import { nameOf } from './securities.ts';

interface Rec {
  messageId: string;
  state: string;
  time: string;
  title: string;
  security: string;
  productName?: string;
  riskLevel?: string;
  rationale: string;
  brokerName: string;
  basis?: string;
  researchMessageId?: string;
  researchTitle?: string;
}

const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

function toRec(i: InboxItem): Rec | null {
  const p = i.publication;
  if (!p || p.kind !== 'recommendation' || !i.messageId) return null;
  const pl = (p.payload ?? {}) as Record<string, unknown>;
  return {
    messageId: i.messageId,
    state: i.state ?? 'read',
    time: p.time,
    title: str(pl.title) ?? '',
    security: str(pl.security) ?? '',
    productName: str(pl.productName),
    riskLevel: str(pl.riskLevel),
    rationale: str(pl.body) ?? '',
    brokerName: str(pl.brokerName) ?? '',
    basis: str(pl.basis),
    researchMessageId: str(pl.researchMessageId),
    researchTitle: str(pl.researchTitle),
  };
}

async function load(): Promise<Rec[]> {
  const [open, archived] = await Promise.all([
    call(api.GET('/api/inbox', { params: { query: { limit: 200 } } })),
    call(api.GET('/api/inbox', { params: { query: { limit: 200, state: 'archived' } } })),
  ]);
  return [...(open.items ?? []), ...(archived.items ?? [])]
    .map(toRec)
    .filter((r): r is Rec => r !== null)
    .sort((a, b) => (a.time > b.time ? -1 : 1));
}

function RecCard(props: { r: Rec; open: boolean }) {
  const { r } = props;
  const name = r.productName ?? nameOf(r.security);
  return (
    <article class={`rec${props.open ? ' rec--open' : ''}${r.state === 'unread' ? ' rec--unread' : ''}`} data-testid="rec-card" data-id={r.messageId} data-state={r.state}>
      <div class="msg__meta">
        <span class="badge badge--kind">{t('kind_recommendation')}</span>
        <RiskBadge risk={r.riskLevel} testid="rec-risk" />
        {r.state === 'unread' ? <span class="badge badge--new">{t('stateUnread')}</span> : null}
        <Time at={r.time} testid="rec-time" />
      </div>
      <h2 class="rec__title">
        <Link href={`/recommendations/${encodeURIComponent(r.messageId)}`} data-testid="rec-open" aria-current={props.open ? 'page' : undefined}>
          <span class="mono" data-testid="rec-security">
            {r.security}
          </span>{' '}
          <span data-testid="rec-name">{name ?? ''}</span>
        </Link>
      </h2>
      <p class="rec__by" data-testid="rec-broker">
        {t('recFrom', { name: r.brokerName })}
      </p>
      {props.open ? (
        <div class="rec__detail" data-testid="rec-detail">
          {r.title ? <p class="rec__headline">{r.title}</p> : null}
          <h3 class="rec__label">{t('recRationale')}</h3>
          <p class="rec__rationale" data-testid="rec-rationale">
            {r.rationale}
          </p>
          {r.basis ? <p class="rec__basis">{tOr(`basis_${r.basis}`, r.basis)}</p> : null}
          {r.researchMessageId ? (
            <p>
              <Link href={`/inbox/${encodeURIComponent(r.researchMessageId)}`} data-testid="rec-research">
                {t('recResearch', { title: r.researchTitle ?? t('kind_note') })}
              </Link>
            </p>
          ) : null}
        </div>
      ) : (
        <p class="rec__rationale rec__rationale--short">{r.rationale}</p>
      )}
    </article>
  );
}

export function RecommendationsView(props: { params: { id?: string } }) {
  const id = props.params.id;
  const arrived = arrivals.value;
  const list = useLoad(load, [arrived?.kind === 'recommendation' ? arrived.id : '']);
  const marking = useRef(new Set<string>());
  const recs = list.data ?? [];
  const open = id ? recs.find((r) => r.messageId === id) : undefined;

  useEffect(() => {
    if (!open || open.state !== 'unread' || marking.current.has(open.messageId)) return;
    const mid = open.messageId;
    marking.current.add(mid);
    setItemState(mid, 'read').then(
      () => list.set((cur) => (cur ?? []).map((r) => (r.messageId === mid ? { ...r, state: 'read' } : r))),
      (e: unknown) => {
        marking.current.delete(mid);
        showError(e);
      },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [open?.messageId, open?.state]);

  return (
    <Page title={t('recsTitle')} testid="recs-view" hint={t('recommendationsHint')}>
      <ErrorText error={list.error} testid="recs-error" />
      {list.data === undefined && list.loading ? (
        <Loading />
      ) : recs.length === 0 ? (
        <Empty text={t('recommendationsEmpty')} testid="recs-empty" />
      ) : (
        <>
          {id && !open ? <Empty text={t('inboxItemMissing')} testid="rec-missing" /> : null}
          <div class="recs" data-testid="recs-list">
            {recs.map((r) => (
              <RecCard key={r.messageId} r={r} open={r.messageId === id} />
            ))}
          </div>
        </>
      )}
    </Page>
  );
}
