/** Pieces the complaint views share: status and category labels, deadlines, the event timeline, the live refresh. */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Answer } from '../../api/api.ts';
import { live, user } from '../../app/session.ts';
import { t, tOr } from '../../i18n/i18n.ts';
import { Time } from '../../ui/ui.tsx';

export type ComplaintItem = Answer<'/api/complaints', 'get'>['complaints'][number];
export type ComplaintDetail = Answer<'/api/complaints/{id}', 'get'>;

export const CATEGORIES = ['service', 'advice', 'trading', 'fees', 'system', 'privacy', 'other'] as const;
export type Category = (typeof CATEGORIES)[number];

export const categoryLabel = (c: string) => tOr(`cmp_cat_${c}`, c);
export const statusLabel = (s: string) => tOr(`cmp_status_${s}`, s);

export function StatusBadge(props: { c: Pick<ComplaintItem, 'status' | 'overdue' | 'escalationLevel'> }) {
  const { c } = props;
  return (
    <span class="cmp-badges">
      <span class={`badge cmp-status cmp-status--${c.status}`} data-testid="complaint-status" data-status={c.status}>
        {statusLabel(c.status)}
      </span>
      {c.overdue ? (
        <span class="badge cmp-overdue" data-testid="complaint-overdue" data-overdue={c.overdue}>
          {tOr(`cmp_overdue_${c.overdue}`, c.overdue)}
        </span>
      ) : null}
      {c.escalationLevel > 0 ? <span class="badge cmp-escalated">{t('cmp_escalated')}</span> : null}
    </span>
  );
}

/** The reply the client sees, once the complaint is resolved or rejected. */
export function Reply(props: { c: ComplaintItem }) {
  const { c } = props;
  return c.reply ? (
    <div class="cmp-reply" data-testid="complaint-reply">
      <strong>{t('cmp_reply')}</strong>
      <p>{c.reply}</p>
    </div>
  ) : null;
}

export function Deadlines(props: { c: ComplaintItem }) {
  const { c } = props;
  return (
    <dl class="cmp-dl">
      <dt>{t('cmp_filedAt')}</dt>
      <dd>
        <Time at={c.createdAt} />
      </dd>
      {c.status === 'open' ? (
        <>
          <dt>{t('cmp_ackDue')}</dt>
          <dd>
            <Time at={c.ackDueAt} />
          </dd>
        </>
      ) : null}
      {c.status === 'open' || c.status === 'acknowledged' ? (
        <>
          <dt>{t('cmp_resolveDue')}</dt>
          <dd>
            <Time at={c.resolveDueAt} />
          </dd>
        </>
      ) : null}
    </dl>
  );
}

export function Timeline(props: { events: ComplaintDetail['events'] }) {
  return (
    <ol class="cmp-timeline" data-testid="complaint-timeline" aria-label={t('cmp_timeline')}>
      {props.events.map((e) => (
        <li key={e.id} data-testid="complaint-event" data-action={e.action} class={e.clientVisible ? '' : 'cmp-internal'}>
          <div class="cmp-timeline__head">
            <strong>{tOr(`cmp_ev_${e.action}`, e.action)}</strong> <span class="cmp-muted">{e.actorName ?? t('cmp_system')}</span> <Time at={e.at} />
          </div>
          {e.note ? <p class="cmp-note">{e.note}</p> : null}
        </li>
      ))}
    </ol>
  );
}

/** A number that changes when a complaint notice reaches the user's inbox (use it as a load dependency). */
export function useComplaintNotices(): number {
  const id = user.value?.id;
  const [tick, setTick] = useState(0);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => {
    if (!id) return;
    const stop = live.listen(`inbox.${id}`, (m) => {
      if (m.kind !== 'complaint') return;
      clearTimeout(timer.current);
      timer.current = setTimeout(() => setTick((n) => n + 1), 150);
    });
    return () => {
      clearTimeout(timer.current);
      stop();
    };
  }, [id]);
  return tick;
}
