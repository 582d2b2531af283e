/**
 * One inbox item: its row in the list (a real link to /inbox/<id>) and its full view. Payload text
 * goes in as JSX children only; a notice's `url` becomes a link only when it is this site's path or
 * an https address.
 */
import { Link } from '../../app/router.tsx';
import { t, tOr } from '../../i18n/i18n.ts';
import { show } from '../../lib/publication.ts';
import { Button, RiskBadge, Tickers, Time } from '../../ui/ui.tsx';
import { SurveyForm } from '../followups/survey-form.tsx';
import type { InboxItem } from './inbox-store.ts';

export type Entry = Required<Pick<InboxItem, 'messageId' | 'state'>> & InboxItem & { live?: boolean };

function Severity(props: { severity?: string }) {
  if (!props.severity || props.severity === 'info') return null;
  return (
    <span class={`badge badge--sev sev-${props.severity}`} data-testid="inbox-severity">
      {tOr(`severity_${props.severity}`, props.severity)}
    </span>
  );
}

export function InboxRow(props: { e: Entry; channelTitle: string; selected: boolean; href: string }) {
  const { e } = props;
  const pub = e.publication;
  const s = pub ? show(pub) : { title: e.messageId, tickers: [] as string[] };
  return (
    <li class={`inbox-row inbox-row--${e.state}${props.selected ? ' inbox-row--on' : ''}`} data-testid="inbox-row" data-id={e.messageId} data-state={e.state} data-kind={pub?.kind}>
      <Link href={props.href} class="inbox-row__link" aria-current={props.selected ? 'page' : undefined} data-testid="inbox-open">
        <span class="inbox-row__top">
          {e.state === 'unread' ? <span class="inbox-row__dot" data-testid="inbox-unread" title={t('stateUnread')} aria-label={t('stateUnread')} role="img" /> : null}
          <span class="inbox-row__title" data-testid="inbox-title">
            {s.title}
          </span>
        </span>
        {s.summary ? <span class="inbox-row__summary">{s.summary}</span> : null}
        <span class="inbox-row__meta">
          <span class="chip chip--channel" data-testid="inbox-channel">
            {props.channelTitle}
          </span>
          <span class="badge badge--kind" data-testid="inbox-kind">
            {tOr(`kind_${pub?.kind ?? ''}`, pub?.kind ?? '')}
          </span>
          {e.live ? <span class="badge badge--new">{t('newMessage')}</span> : null}
          <Time at={pub?.time ?? e.createdAt} short testid="inbox-time" />
        </span>
      </Link>
    </li>
  );
}

function safeUrl(u: unknown): string | null {
  if (typeof u !== 'string') return null;
  if (u.startsWith('/') && !u.startsWith('//')) return u;
  return /^https:\/\//i.test(u) ? u : null;
}

export function InboxDetail(props: { e: Entry; channelTitle: string; busy: boolean; onArchive(): void }) {
  const { e } = props;
  const pub = e.publication;
  const s = pub ? show(pub) : { title: e.messageId, tickers: [] as string[] };
  const pl = (pub?.payload ?? {}) as Record<string, unknown>;
  const url = safeUrl(pl.url);
  return (
    <article class={`inbox-detail${s.severity ? ` msg--${s.severity}` : ''}`} data-testid="inbox-detail" data-id={e.messageId} data-state={e.state} aria-labelledby="inbox-detail-title">
      <div class="msg__meta">
        <span class="chip chip--channel">{props.channelTitle}</span>
        <span class="badge badge--kind">{tOr(`kind_${pub?.kind ?? ''}`, pub?.kind ?? '')}</span>
        <RiskBadge risk={s.risk} testid="inbox-risk" />
        <Severity severity={s.severity} />
        <span class="badge" data-testid="inbox-state">
          {t(e.state === 'unread' ? 'stateUnread' : e.state === 'read' ? 'stateRead' : 'stateArchived')}
        </span>
        <Time at={pub?.time ?? e.createdAt} testid="inbox-detail-time" />
      </div>
      <h2 class="inbox-detail__title" id="inbox-detail-title" data-testid="inbox-detail-title">
        {s.title}
      </h2>
      {s.summary ? (
        <p class="msg__summary" data-testid="inbox-detail-summary">
          {s.summary}
        </p>
      ) : null}
      {s.body ? (
        <div class="inbox-detail__body" data-testid="inbox-detail-body">
          {s.body}
        </div>
      ) : null}
      <Tickers tickers={s.tickers} />
      {pub?.kind === 'survey' && typeof pl.surveyId === 'string' ? <SurveyForm surveyId={pl.surveyId} brokerName={typeof pl.brokerName === 'string' ? pl.brokerName : ''} /> : null}
      <div class="inbox-detail__actions">
        {pub?.kind === 'complaint' && typeof pl.complaintId === 'string' ? (
          <Link href={`/complaints/mine/${encodeURIComponent(pl.complaintId)}`} data-testid="inbox-to-complaint">
            {t('cmp_openComplaint')}
          </Link>
        ) : null}
        {pub?.kind === 'recommendation' ? (
          <Link href={`/recommendations/${encodeURIComponent(e.messageId)}`} data-testid="inbox-to-recommendation">
            {t('openRecommendation')}
          </Link>
        ) : null}
        {url ? (
          url.startsWith('/') ? (
            <Link href={url} data-testid="inbox-link">
              {t('inboxOpenLink')}
            </Link>
          ) : (
            <a href={url} target="_blank" rel="noopener noreferrer" data-testid="inbox-link">
              {t('inboxOpenLink')}
            </a>
          )
        ) : null}
        {e.state !== 'archived' ? (
          <Button variant="plain" testid="inbox-archive" disabled={props.busy} onClick={props.onArchive}>
            {t('inboxArchive')}
          </Button>
        ) : null}
      </div>
    </article>
  );
}
