/**
 * A security code input with search as you type (GET /api/securities?q=): suggestions show code and
 * zh/en names. ARIA combobox: arrows move through the suggestions, Enter picks, Escape closes; a
 * click picks too. Typing a full code and not picking is fine — the form validates the code itself.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { lang, t } from '../../i18n/i18n.ts';
import { search, type Security } from './securities.ts';

let seq = 0;

export function SymbolInput(props: { value: string; onInput(v: string): void; onPick?(s: Security): void; label: string; testid: string; hint?: string }) {
  const [items, setItems] = useState<Security[]>([]);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  const [id] = useState(() => `sym-${++seq}`);
  const asked = useRef(0);
  // Closing on blur waits for a click on a suggestion; typing again must not be closed by it.
  const blurTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const q = props.value.trim();

  useEffect(() => {
    if (!q || !open) {
      setItems([]);
      return;
    }
    const n = ++asked.current;
    const timer = setTimeout(() => {
      search(q).then(
        (r) => n === asked.current && (setItems(r), setActive(-1)),
        () => n === asked.current && setItems([]),
      );
    }, 150);
    return () => clearTimeout(timer);
  }, [q, open]);

  const pick = (s: Security) => {
    props.onInput(s.symbol);
    props.onPick?.(s);
    setOpen(false);
    setItems([]);
  };
  const shown = open && items.length > 0;
  const en = lang.value === 'en';

  return (
    <div class="combo">
      <label class="field__label" for={id}>
        {props.label}
      </label>
      <input
        id={id}
        class="combo__input"
        type="text"
        role="combobox"
        autoComplete="off"
        spellcheck={false}
        placeholder="600519.SH"
        aria-autocomplete="list"
        aria-expanded={shown}
        aria-controls={`${id}-list`}
        aria-activedescendant={shown && active >= 0 ? `${id}-opt-${active}` : undefined}
        aria-describedby={props.hint ? `${id}-hint` : undefined}
        data-testid={props.testid}
        value={props.value}
        onInput={(e) => {
          clearTimeout(blurTimer.current);
          props.onInput(e.currentTarget.value);
          setOpen(true);
        }}
        onFocus={() => clearTimeout(blurTimer.current)}
        onBlur={() => {
          blurTimer.current = setTimeout(() => setOpen(false), 150);
        }}
        onKeyDown={(e) => {
          if (e.key === 'ArrowDown' && items.length) {
            e.preventDefault();
            setOpen(true);
            setActive((a) => (a + 1) % items.length);
          } else if (e.key === 'ArrowUp' && items.length) {
            e.preventDefault();
            setActive((a) => (a <= 0 ? items.length - 1 : a - 1));
          } else if (e.key === 'Enter' && shown && active >= 0) {
            e.preventDefault();
            pick(items[active]);
          } else if (e.key === 'Escape') setOpen(false);
        }}
      />
      {props.hint ? (
        <span class="field__hint" id={`${id}-hint`}>
          {props.hint}
        </span>
      ) : null}
      <ul id={`${id}-list`} class="combo__list" role="listbox" aria-label={t('symbolSuggestions')} hidden={!shown} data-testid={`${props.testid}-suggestions`}>
        {shown
          ? items.map((s, i) => (
              <li
                key={s.symbol}
                id={`${id}-opt-${i}`}
                role="option"
                aria-selected={i === active}
                class={`combo__opt${i === active ? ' combo__opt--on' : ''}`}
                data-testid="symbol-suggestion"
                data-symbol={s.symbol}
                onMouseDown={(e) => {
                  e.preventDefault();
                  pick(s);
                }}
              >
                <span class="combo__code">{s.symbol}</span>
                <span class="combo__name">{en ? s.name.en : s.name.zh}</span>
                <span class="combo__alt">{en ? s.name.zh : s.name.en}</span>
              </li>
            ))
          : null}
      </ul>
    </div>
  );
}
