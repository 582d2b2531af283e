/**
 * The tickers of a note: A-share codes with exchange (600519.SH), checked as they are added (the
 * server's rule, channels/payloads.ts), each shown with its name from the securities directory, or
 * marked when the directory does not list it. Enter or the add button adds; each chip has a remove button.
 */
import { useState } from 'preact/hooks';
import { t } from '../../../i18n/i18n.ts';
import { Button, ErrorText } from '../../../ui/ui.tsx';
import { A_SHARE_RE, SecurityOptions, normalizeCode, securityName, useSecurityNames, useSecuritySuggestions } from './security-lookup.tsx';

const MAX_TICKERS = 50;

export function TickerInput(props: { value: string[]; onChange(v: string[]): void }) {
  const [text, setText] = useState('');
  const [error, setError] = useState<unknown>(null);
  const names = useSecurityNames(props.value);
  const suggestions = useSecuritySuggestions(text);

  const add = () => {
    const code = normalizeCode(text);
    if (!code) return;
    if (!A_SHARE_RE.test(code)) return setError({ code: 'QIAO_SYMBOL_INVALID' });
    setError(null);
    setText('');
    if (!props.value.includes(code) && props.value.length < MAX_TICKERS) props.onChange([...props.value, code]);
  };

  return (
    <div class="field desk-tickers" data-testid="note-tickers">
      <label class="field__label" for="note-ticker-input">
        {t('tickers')}
      </label>
      <div class="desk-row">
        <input
          id="note-ticker-input"
          data-testid="note-ticker-input"
          list="note-ticker-options"
          value={text}
          placeholder={t('desk_tickerHint')}
          autocomplete="off"
          spellcheck={false}
          maxLength={64}
          aria-describedby="note-ticker-hint"
          onInput={(e) => {
            setText(e.currentTarget.value);
            setError(null);
          }}
          onKeyDown={(e) => {
            if (e.key === 'Enter') {
              e.preventDefault();
              add();
            }
          }}
        />
        <Button testid="note-ticker-add" onClick={add}>
          {t('desk_add')}
        </Button>
      </div>
      <SecurityOptions id="note-ticker-options" items={suggestions} />
      <span class="field__hint" id="note-ticker-hint">
        {t('desk_tickerRule')}
      </span>
      <ErrorText error={error} testid="note-ticker-error" />
      {props.value.length ? (
        <ul class="desk-chips" aria-label={t('tickers')}>
          {props.value.map((code) => {
            const s = names.get(code);
            return (
              <li key={code} class="desk-chip" data-testid="note-ticker" data-code={code} data-known={s === undefined ? '' : String(s !== null)}>
                <span class="ticker">{code}</span>
                <span class="desk-chip__name" data-testid="note-ticker-name">
                  {s ? securityName(s) : s === null ? t('desk_notInDirectory') : ''}
                </span>
                <button type="button" class="desk-chip__remove" aria-label={t('desk_removeTicker', { code })} onClick={() => props.onChange(props.value.filter((x) => x !== code))}>
                  ×
                </button>
              </li>
            );
          })}
        </ul>
      ) : null}
    </div>
  );
}
