/**
 * The form of a new price alert (POST /api/alert-rules): above or below a price, or a move of some
 * percent from a reference price; once or repeating. The body is one of the two shapes the route
 * accepts (src/routes/alert-rules.routes.ts); a code, price or percent the route would refuse is
 * caught here first and shown by the same error code.
 */
import { useState } from 'preact/hooks';
import { api, call, type Body } from '../../api/api.ts';
import { t } from '../../i18n/i18n.ts';
import { Button, ErrorText, Field } from '../../ui/ui.tsx';
import { SYMBOL_RE } from './securities.ts';
import { SymbolInput } from './symbol-input.tsx';

type Direction = 'above' | 'below' | 'move';
type NewRule = Body<'/api/alert-rules', 'post'>;
/** The server's bound on a move rule's percent (src/domain/alert-index.ts MAX_MOVE_PERCENT). */
const MAX_PERCENT = 50;

function num(v: string): number | null {
  const n = Number(v.trim());
  return v.trim() !== '' && Number.isFinite(n) ? n : null;
}

export function AlertForm(props: { onCreated(): void }) {
  const [symbol, setSymbol] = useState('');
  const [direction, setDirection] = useState<Direction>('above');
  const [price, setPrice] = useState('');
  const [percent, setPercent] = useState('');
  const [basePrice, setBasePrice] = useState('');
  const [repeat, setRepeat] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const sym = symbol.trim().toUpperCase();
    if (!SYMBOL_RE.test(sym)) return setError({ code: 'QIAO_SYMBOL_INVALID' });
    let body: NewRule;
    if (direction === 'move') {
      const pc = num(percent);
      const base = num(basePrice);
      if (pc === null || pc <= 0 || pc > MAX_PERCENT || base === null || base <= 0) return setError({ code: 'QIAO_BAD_REQUEST' });
      body = { symbol: sym, direction: 'move', percent: pc, basePrice: base, repeat };
    } else {
      const p = num(price);
      if (p === null || p <= 0 || p > 1_000_000) return setError({ code: 'QIAO_BAD_REQUEST' });
      body = { symbol: sym, direction, price: p, repeat };
    }
    setBusy(true);
    try {
      await call(api.POST('/api/alert-rules', { body }));
      setSymbol('');
      setPrice('');
      setPercent('');
      setBasePrice('');
      props.onCreated();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={(e) => void submit(e)} data-testid="alert-form" noValidate>
      <div class="form-grid">
        <SymbolInput value={symbol} onInput={setSymbol} label={t('symbolLabel')} hint={t('symbolHint')} testid="alert-symbol" />
        <Field label={t('alertDirection')}>
          <select value={direction} data-testid="alert-direction" onChange={(e) => setDirection(e.currentTarget.value as Direction)}>
            <option value="above">{t('dirAbove')}</option>
            <option value="below">{t('dirBelow')}</option>
            <option value="move">{t('dirMove')}</option>
          </select>
        </Field>
        {direction === 'move' ? (
          <>
            <Field label={t('alertPercent')} hint={t('alertPercentHint', { max: MAX_PERCENT })}>
              <input type="number" inputMode="decimal" step="0.1" min="0" value={percent} data-testid="alert-percent" onInput={(e) => setPercent(e.currentTarget.value)} />
            </Field>
            <Field label={t('alertBasePrice')}>
              <input type="number" inputMode="decimal" step="0.01" min="0" value={basePrice} data-testid="alert-base" onInput={(e) => setBasePrice(e.currentTarget.value)} />
            </Field>
          </>
        ) : (
          <Field label={t('alertPrice')}>
            <input type="number" inputMode="decimal" step="0.01" min="0" value={price} data-testid="alert-price" onInput={(e) => setPrice(e.currentTarget.value)} />
          </Field>
        )}
        <label class="check">
          <input type="checkbox" checked={repeat} data-testid="alert-repeat" onChange={(e) => setRepeat(e.currentTarget.checked)} />
          <span>{t('alertRepeat')}</span>
        </label>
      </div>
      <div class="form-actions">
        <Button type="submit" variant="primary" testid="alert-create" disabled={busy}>
          {t('alertCreate')}
        </Button>
      </div>
      <div class="form-inline__error">
        <ErrorText error={error} testid="alert-error" />
      </div>
    </form>
  );
}
