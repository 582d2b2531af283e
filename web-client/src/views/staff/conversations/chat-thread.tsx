/**
 * The open conversation: who it is with (presence, "typing…"), earlier pages on demand, the messages
 * with 已读 marks on mine, and the composer — or a read-only note for supervisors.
 */
import { useEffect, useRef } from 'preact/hooks';
import { user } from '../../../app/session.ts';
import { t } from '../../../i18n/i18n.ts';
import { Button, Empty, ErrorText, Loading } from '../../../ui/ui.tsx';
import { ResolveButton } from '../../followups/resolve-button.tsx';
import { Composer } from './composer.tsx';
import { PresenceDot, convName } from './conv-parts.tsx';
import { conversations } from './conversations-store.ts';
import { MessageItem, foldMessages } from './message-item.tsx';
import { useThread } from './use-thread.ts';

export function ChatThread(props: { id: string }) {
  const th = useThread(props.id);
  const me = user.value;
  const list = useRef<HTMLOListElement>(null);
  const lastOffset = th.msgs.at(-1)?.offset ?? 0;
  // Follow the newest message (not when an older page was added above).
  useEffect(() => {
    const el = list.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [lastOffset, th.loading]);

  if (th.loading) return <Loading />;
  if (!th.conv) return <ErrorText error={th.error} testid="conv-error" />;
  const c = th.conv;
  // Presence from the list, which follows presence signals.
  const peer = conversations.value.find((x) => x.id === c.id)?.peer ?? c.peer;
  const names = new Map<string, string>();
  for (const p of [c.broker, c.client, c.manager, ...c.members]) if (p) names.set(p.id, p.displayName);
  const peerRead = peer ? (th.reads.get(peer.id) ?? 0) : null;
  const shown = foldMessages(th.msgs);
  const canWrite = c.access === 'write';

  return (
    <div class="conv-thread" data-testid="conv-thread" data-id={c.id}>
      <div class="conv-thread__head" data-testid="conv-chathead">
        {peer ? <PresenceDot state={peer.presence} /> : null}
        <h2 class="conv-thread__name" data-testid="conv-chat-name">
          {convName(c, me?.role)}
        </h2>
        {peer ? <span class="conv-thread__state">{t(`conv_presence_${peer.presence}`)}</span> : null}
        <span class="conv-thread__typing" aria-live="polite">
          {th.typing ? <span data-testid="conv-typing">{t('conv_typing')}</span> : null}
        </span>
        {me?.role === 'broker' && canWrite && c.type === 'broker_client' ? <ResolveButton conversationId={c.id} /> : null}
      </div>
      <ErrorText error={th.error} testid="conv-error" />
      {th.hasOlder ? (
        <div class="conv-thread__older">
          <Button testid="conv-load-older" onClick={th.loadOlder} disabled={th.loadingOlder}>
            {t('conv_loadOlder')}
          </Button>
        </div>
      ) : null}
      {shown.length === 0 ? (
        <Empty text={t('conv_noMessages')} testid="conv-no-messages" />
      ) : (
        <ol class="conv-thread__msgs" data-testid="conv-msgs" ref={list} aria-label={t('conv_messages')} aria-live="polite" tabIndex={0}>
          {shown.map((m) => {
            const mine = m.pub.sender === me?.id;
            return (
              <MessageItem
                key={m.pub.id}
                m={m}
                mine={mine}
                who={names.get(m.pub.sender) ?? m.pub.sender.slice(0, 8)}
                conversationId={c.id}
                canWrite={canWrite}
                read={mine && peerRead !== null ? peerRead >= m.pub.offset : null}
              />
            );
          })}
        </ol>
      )}
      {canWrite ? (
        <Composer key={c.id} conversationId={c.id} channel={c.channel} />
      ) : (
        <p class="conv-thread__readonly" data-testid="conv-readonly">
          {t('conv_readOnly')}
        </p>
      )}
    </div>
  );
}
