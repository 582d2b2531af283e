/**
 * 会话 / Conversations (`/conversations/:id?`; clients, brokers, managers): on the left the
 * conversations (brokers also their client workstation), on the right the open one. Clients can
 * open the conversation with their broker, brokers the one with their team manager (both idempotent
 * on the server: the existing conversation is returned).
 */
import { useState } from 'preact/hooks';
import { api, call } from '../../../api/api.ts';
import type { Params } from '../../../app/router.tsx';
import { navigate } from '../../../app/router.tsx';
import { showError, user } from '../../../app/session.ts';
import { t } from '../../../i18n/i18n.ts';
import { Button, CountBadge, Empty, ErrorText, Loading } from '../../../ui/ui.tsx';
import { ChatThread } from './chat-thread.tsx';
import { ConversationList } from './conversation-list.tsx';
import { convsError, convsLoaded, refreshConversations, totalUnread } from './conversations-store.ts';
import { Workstation } from './workstation.tsx';

type Tab = 'workstation' | 'list';

function StartButton() {
  const role = user.value?.role;
  const [busy, setBusy] = useState(false);
  if (role !== 'client' && role !== 'broker') return null;
  const start = async () => {
    setBusy(true);
    try {
      const r = await call(api.POST('/api/conversations', { body: { type: role === 'client' ? 'broker_client' : 'broker_manager' } }));
      await refreshConversations();
      navigate(`/conversations/${encodeURIComponent(r.conversation?.id ?? '')}`);
    } catch (e) {
      showError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Button variant="plain" testid={role === 'client' ? 'conv-contact-broker' : 'conv-contact-manager'} disabled={busy} onClick={() => void start()}>
      {role === 'client' ? t('conv_contactBroker') : t('conv_contactManager')}
    </Button>
  );
}

export function ConversationsView({ params }: { params: Params }) {
  const role = user.value?.role;
  const [tab, setTab] = useState<Tab>(role === 'broker' ? 'workstation' : 'list');
  const tabs: Tab[] = role === 'broker' ? ['workstation', 'list'] : [];
  const openId = params.id;

  return (
    <div class="conv-layout" data-testid="conversations">
      <aside class="panel conv-side" aria-labelledby="conv-title">
        <div class="panel__head panel__head--row conv-side__head">
          <h1 class="panel__title" id="conv-title" data-testid="conv-title">
            {t('conv_title')}
          </h1>
          <CountBadge n={totalUnread.value} testid="conv-total-unread" />
        </div>
        <div class="conv-side__actions">
          <StartButton />
        </div>
        {tabs.length ? (
          <div class="conv-tabs" role="group" aria-label={t('conv_views')}>
            {tabs.map((x) => (
              <button key={x} type="button" class={`conv-tab${x === tab ? ' conv-tab--on' : ''}`} data-testid={`conv-tab-${x}`} aria-pressed={x === tab} onClick={() => setTab(x)}>
                {t(x === 'workstation' ? 'conv_workstation' : 'conv_list')}
              </button>
            ))}
          </div>
        ) : null}
        <div class="conv-side__body">
          {tab === 'workstation' ? (
            <Workstation openId={openId} />
          ) : convsLoaded.value ? (
            <ConversationList openId={openId} />
          ) : convsError.value ? (
            <ErrorText error={convsError.value} testid="conv-list-error" />
          ) : (
            <Loading />
          )}
        </div>
      </aside>
      <section class="panel conv-main" data-testid="conv-chat" aria-label={t('conv_messages')}>
        {openId ? <ChatThread key={openId} id={openId} /> : <Empty text={t('conv_pick')} testid="conv-pick" />}
      </section>
    </div>
  );
}
