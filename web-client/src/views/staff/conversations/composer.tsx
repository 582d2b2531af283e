/**
 * The message box of an open conversation: Enter sends, Shift+Enter starts a new line, typing tells
 * the other side (at most every 1.5 s). A refused send keeps the draft and shows why (DLP: the
 * blocked terms); the error goes away as soon as the draft changes or a send succeeds. Warn-level
 * DLP terms of a sent message are shown until the next send.
 */
import { useRef, useState } from 'preact/hooks';
import { live } from '../../../app/session.ts';
import { t } from '../../../i18n/i18n.ts';
import { Button } from '../../../ui/ui.tsx';
import { DlpWarning, SendError } from './send-feedback.tsx';
import { sendChat } from './send.ts';

const TYPING_EVERY_MS = 1500;

export function Composer(props: { conversationId: string; channel: string }) {
  const [draft, setDraft] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [warn, setWarn] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const lastTyping = useRef(0);

  const submit = async () => {
    const text = draft.trim();
    if (!text || busy) return;
    setBusy(true);
    setWarn([]);
    try {
      const w = await sendChat(props.conversationId, 'chat', { text });
      setDraft('');
      setError(null);
      setWarn(w);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const onInput = (v: string) => {
    setDraft(v);
    setError(null);
    const c = live.client;
    if (c?.state === 'connected' && Date.now() - lastTyping.current > TYPING_EVERY_MS) {
      lastTyping.current = Date.now();
      void c.typing(props.channel).catch(() => {});
    }
  };

  return (
    <form
      class="conv-composer"
      data-testid="conv-composer"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <SendError error={error} />
      <DlpWarning terms={warn} />
      <div class="conv-composer__row">
        <textarea
          class="conv-composer__input"
          data-testid="conv-input"
          rows={2}
          maxLength={8000}
          aria-label={t('conv_inputLabel')}
          placeholder={t('conv_placeholder')}
          value={draft}
          onInput={(e) => onInput(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              void submit();
            }
          }}
        />
        <Button type="submit" variant="primary" testid="conv-send" disabled={busy} aria-busy={busy}>
          {busy ? t('conv_sending') : t('conv_send')}
        </Button>
      </div>
    </form>
  );
}
