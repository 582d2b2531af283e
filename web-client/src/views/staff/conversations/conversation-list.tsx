/** 全部会话: every conversation I can see, newest activity first, with presence, unread and last message. */
import { Link } from '../../../app/router.tsx';
import { user } from '../../../app/session.ts';
import { t } from '../../../i18n/i18n.ts';
import { CountBadge, Empty, Time } from '../../../ui/ui.tsx';
import { PresenceDot, convName, previewText } from './conv-parts.tsx';
import { conversations } from './conversations-store.ts';

export function ConversationList(props: { openId: string | undefined }) {
  const role = user.value?.role;
  const list = conversations.value;
  if (!list.length) return <Empty text={t('conv_empty')} testid="conv-empty" />;
  return (
    <ul class="conv-list" data-testid="conv-list">
      {list.map((c) => {
        const unread = c.participant ? c.unread : 0;
        const on = c.id === props.openId;
        return (
          <li key={c.id} data-testid="conv-row" data-id={c.id} data-unread={String(unread)}>
            <Link
              href={`/conversations/${encodeURIComponent(c.id)}`}
              class={`conv-item${on ? ' conv-item--on' : ''}`}
              data-testid="conv-item"
              aria-current={on ? 'page' : undefined}
            >
              <span class="conv-item__line">
                {c.peer ? <PresenceDot state={c.peer.presence} /> : null}
                <span class="conv-item__name" data-testid="conv-name">
                  {convName(c, role)}
                </span>
                {c.access === 'read' ? <span class="conv-item__tag">{t('conv_readOnlyShort')}</span> : null}
                <CountBadge n={unread} testid="conv-unread" />
              </span>
              <span class="conv-item__preview">{previewText(c.lastMessage)}</span>
              {c.lastMessage ? (
                <span class="conv-item__time">
                  <Time at={c.lastMessage.time} short />
                </span>
              ) : null}
            </Link>
          </li>
        );
      })}
    </ul>
  );
}
