/**
 * One chat message: who, text (after its latest edit, or "recalled"), time, 已编辑, and on my own
 * messages 已读/未读 from the other side's read position. My own recent messages can be edited
 * (15 minutes, inline) and recalled (2 minutes); the server enforces both limits.
 */
import { useState } from 'preact/hooks';
import type { PublicationFrame } from '../../../../../src/gateway/protocol.ts';
import { t } from '../../../i18n/i18n.ts';
import { Button, Time } from '../../../ui/ui.tsx';
import { DlpWarning, SendError } from './send-feedback.tsx';
import { sendChat } from './send.ts';

export const EDIT_MS = 15 * 60_000;
export const RECALL_MS = 2 * 60_000;

export interface ShownMessage {
  pub: PublicationFrame;
  text: string;
  edited: boolean;
  recalled: boolean;
}

/** Chat messages with their edits and recalls (messages referencing the original) folded in. */
export function foldMessages(msgs: PublicationFrame[]): ShownMessage[] {
  const edits = new Map<string, string>();
  const recalled = new Set<string>();
  for (const m of msgs) {
    const p = (m.payload ?? {}) as Record<string, unknown>;
    if (m.kind === 'chat.edit' && typeof p.ref === 'string' && typeof p.text === 'string') edits.set(p.ref, p.text);
    if (m.kind === 'chat.recall' && typeof p.ref === 'string') recalled.add(p.ref);
  }
  return msgs
    .filter((m) => m.kind === 'chat')
    .map((m) => ({
      pub: m,
      recalled: recalled.has(m.id),
      edited: edits.has(m.id),
      text: edits.get(m.id) ?? String((m.payload as { text?: unknown } | null)?.text ?? ''),
    }));
}

interface Props {
  m: ShownMessage;
  mine: boolean;
  who: string;
  conversationId: string;
  canWrite: boolean;
  /** Read mark for my messages in a two-person conversation: true 已读, false 未读, null none. */
  read: boolean | null;
}

export function MessageItem({ m, mine, who, conversationId, canWrite, read }: Props) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [warn, setWarn] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const age = Date.now() - Date.parse(m.pub.time);
  const own = mine && canWrite && !m.recalled;

  const act = async (kind: 'chat.edit' | 'chat.recall') => {
    setBusy(true);
    try {
      const w = await sendChat(conversationId, kind, kind === 'chat.edit' ? { ref: m.pub.id, text: draft.trim() } : { ref: m.pub.id });
      setError(null);
      setWarn(w);
      setEditing(false);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <li
      class={`conv-msg${mine ? ' conv-msg--mine' : ''}${m.recalled ? ' conv-msg--recalled' : ''}`}
      data-testid="conv-msg"
      data-id={m.pub.id}
      data-offset={String(m.pub.offset)}
    >
      <span class="conv-msg__who">{mine ? t('conv_me') : who}</span>
      {editing ? (
        <form
          class="conv-msg__edit"
          onSubmit={(e) => {
            e.preventDefault();
            if (draft.trim() && draft.trim() !== m.text) void act('chat.edit');
          }}
        >
          <textarea
            class="conv-composer__input"
            data-testid="conv-edit-input"
            rows={2}
            aria-label={t('conv_editLabel')}
            value={draft}
            onInput={(e) => {
              setDraft(e.currentTarget.value);
              setError(null);
            }}
          />
          <span class="conv-msg__acts">
            <Button type="submit" variant="primary" testid="conv-edit-save" disabled={busy}>
              {t('conv_save')}
            </Button>
            <Button testid="conv-edit-cancel" onClick={() => setEditing(false)}>
              {t('conv_cancel')}
            </Button>
          </span>
        </form>
      ) : (
        <span class="conv-msg__text" data-testid="conv-msg-text">
          {m.recalled ? t('conv_recalled') : m.text}
        </span>
      )}
      <span class="conv-msg__meta">
        <Time at={m.pub.time} short />
        {m.edited && !m.recalled ? <span class="conv-msg__tag">{t('conv_edited')}</span> : null}
        {read !== null && !m.recalled ? (
          <span class={`conv-msg__tag${read ? ' conv-msg__tag--read' : ''}`} data-testid="conv-read-mark">
            {read ? t('conv_read') : t('conv_unreadMark')}
          </span>
        ) : null}
        {own && !editing && age < EDIT_MS ? (
          <button
            type="button"
            class="conv-msg__act"
            data-testid="conv-edit"
            onClick={() => {
              setDraft(m.text);
              setEditing(true);
            }}
          >
            {t('conv_edit')}
          </button>
        ) : null}
        {own && !editing && age < RECALL_MS ? (
          <button type="button" class="conv-msg__act" data-testid="conv-recall" disabled={busy} onClick={() => void act('chat.recall')}>
            {t('conv_recall')}
          </button>
        ) : null}
      </span>
      <SendError error={error} testid="conv-msg-error" />
      <DlpWarning terms={warn} testid="conv-msg-dlp-warn" />
    </li>
  );
}
