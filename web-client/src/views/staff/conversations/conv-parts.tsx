/** Small pieces shared by the conversation list, the workstation and the thread: names, presence, previews. */
import type { Role } from '../../../api/api.ts';
import { t } from '../../../i18n/i18n.ts';
import type { Conv, LastMessage, Presence } from './types.ts';

/** A presence dot with its state as text for screen readers (and `data-state` for tests). */
export function PresenceDot(props: { state: Presence | undefined }) {
  const s = props.state ?? 'offline';
  const label = t(`conv_presence_${s}`);
  return (
    <span class={`conv-dot conv-dot--${s}`} data-testid="conv-presence" data-state={s} title={label}>
      <span class="sr-only">{label}</span>
    </span>
  );
}

/** The conversation's name as the viewer sees it. */
export function convName(c: Conv, role: Role | undefined): string {
  if (c.type === 'group') return t('conv_group', { title: c.title ?? '' });
  if (c.peer && c.participant) return c.type === 'broker_manager' && role === 'broker' ? t('conv_withManager', { name: c.peer.displayName }) : c.peer.displayName;
  // Supervisors (who only read) see both sides.
  return [c.broker?.displayName, c.client?.displayName ?? c.manager?.displayName].filter(Boolean).join(' ↔ ');
}

export function previewText(m: LastMessage | null | undefined): string {
  if (!m) return t('conv_noMessages');
  return m.recalled ? t('conv_recalled') : (m.text ?? '');
}
