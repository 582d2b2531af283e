/**
 * 客户工作台 (brokers): every assigned or shared client with presence, tier, risk level, unread count,
 * last message and how long the client has waited for a first answer. A client without a
 * conversation yet gets one on the first click (when the broker may write to it).
 */
import { useState } from 'preact/hooks';
import { api, call } from '../../../api/api.ts';
import { Link, navigate } from '../../../app/router.tsx';
import { showError } from '../../../app/session.ts';
import { t, tOr } from '../../../i18n/i18n.ts';
import { formatDuration } from '../../../lib/time.ts';
import { CountBadge, Empty, ErrorText, Loading } from '../../../ui/ui.tsx';
import { useLoad } from '../../../ui/use-load.ts';
import { unseenByClient } from '../../account-events/unseen-store.ts';
import { PresenceDot, previewText } from './conv-parts.tsx';
import { conversations, convsVersion, presenceOf, refreshConversations } from './conversations-store.ts';
import type { WorkRow } from './types.ts';

export function Workstation(props: { openId: string | undefined }) {
  const version = convsVersion.value;
  const ws = useLoad(async () => {
    const r = await call(api.GET('/api/workstation/clients'));
    return { now: Date.parse(r.now ?? '') || Date.now(), clients: (r.clients ?? []) as WorkRow[] };
  }, [version]);
  const [busy, setBusy] = useState<string | null>(null);
  if (!ws.data) return ws.error ? <ErrorText error={ws.error} testid="conv-ws-error" /> : <Loading />;
  if (!ws.data.clients.length) return <Empty text={t('conv_noClients')} testid="conv-ws-empty" />;
  const unreadOf = new Map(conversations.value.map((c) => [c.id, c.unread]));
  const presence = presenceOf.value;
  const unseen = unseenByClient.value;

  const open = async (w: WorkRow) => {
    if (w.conversationId) return navigate(`/conversations/${encodeURIComponent(w.conversationId)}`);
    setBusy(w.client.id);
    try {
      const r = await call(api.POST('/api/conversations', { body: { type: 'broker_client', clientId: w.client.id } }));
      await refreshConversations();
      navigate(`/conversations/${encodeURIComponent(r.conversation?.id ?? '')}`);
    } catch (e) {
      showError(e);
    } finally {
      setBusy(null);
    }
  };

  return (
    <ul class="conv-list" data-testid="conv-ws-list">
      {ws.data.clients.map((w) => {
        // The list follows unread pushes between workstation loads.
        const unread = (w.conversationId ? unreadOf.get(w.conversationId) : undefined) ?? w.unread;
        const on = !!w.conversationId && w.conversationId === props.openId;
        const wait = w.waitingSince ? formatDuration(ws.data!.now - Date.parse(w.waitingSince)) : null;
        return (
          <li key={w.client.id}>
            <button
              type="button"
              class={`conv-item${on ? ' conv-item--on' : ''}`}
              data-testid="conv-ws-row"
              data-client={w.client.id}
              data-unread={String(unread)}
              aria-current={on ? 'page' : undefined}
              disabled={busy === w.client.id || (!w.conversationId && w.relation === 'shared_read')}
              onClick={() => void open(w)}
            >
              <span class="conv-item__line">
                <PresenceDot state={presence.get(w.client.id) ?? w.presence} />
                <span class="conv-item__name" data-testid="conv-name">
                  {w.client.displayName}
                </span>
                {w.client.tier ? <span class="conv-item__tag">{tOr(`tier_${w.client.tier}`, w.client.tier)}</span> : null}
                {w.client.riskLevel ? <span class="conv-item__tag">{w.client.riskLevel}</span> : null}
                {w.relation !== 'primary' ? <span class="conv-item__tag">{t(`conv_relation_${w.relation}`)}</span> : null}
                <CountBadge n={unread} testid="conv-unread" />
              </span>
              <span class="conv-item__preview">{previewText(w.lastMessage)}</span>
              {wait ? (
                <span class="conv-item__wait" data-testid="conv-wait">
                  {t('conv_waiting', { duration: wait })}
                </span>
              ) : null}
            </button>
            <Link
              href={`/clients/${encodeURIComponent(w.client.id)}/account-events`}
              class="conv-item__acct"
              data-testid="acct-ws-link"
              data-client={w.client.id}
              data-unseen={String(unseen.get(w.client.id)?.unseen ?? 0)}
              title={t('acctUnseen')}
            >
              {/* The visible text is part of the link's name (WCAG 2.5.3); the client's name is for screen readers. */}
              <span class="sr-only">{w.client.displayName} </span>
              {t('acctOpenFeed')}
              <CountBadge n={unseen.get(w.client.id)?.unseen} testid="acct-unseen" />
            </Link>
          </li>
        );
      })}
    </ul>
  );
}
