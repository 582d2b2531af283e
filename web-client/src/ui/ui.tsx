/**
 * Small shared pieces of every view. Text goes in as JSX children, which Preact sets as text: nothing
 * from the server is ever parsed as HTML (the app has no dangerouslySetInnerHTML).
 */
import type { ButtonHTMLAttributes, ComponentChildren } from 'preact';
import { errorText, t, tOr } from '../i18n/i18n.ts';
import { formatDateTime, formatShort } from '../lib/time.ts';

export function Page(props: { title: string; testid?: string; actions?: ComponentChildren; children?: ComponentChildren; hint?: string }) {
  return (
    <section class="page" data-testid={props.testid} aria-labelledby="page-title">
      <div class="page__head">
        <div>
          <h1 class="page__title" id="page-title">
            {props.title}
          </h1>
          {props.hint ? <p class="page__hint">{props.hint}</p> : null}
        </div>
        {props.actions ? <div class="page__actions">{props.actions}</div> : null}
      </div>
      {props.children}
    </section>
  );
}

export function Panel(props: { title?: string; testid?: string; children?: ComponentChildren; class?: string; actions?: ComponentChildren }) {
  return (
    <section class={`panel ${props.class ?? ''}`} data-testid={props.testid}>
      {props.title || props.actions ? (
        <div class="panel__head panel__head--row">
          {props.title ? <h2 class="panel__title">{props.title}</h2> : <span />}
          {props.actions}
        </div>
      ) : null}
      {props.children}
    </section>
  );
}

/** An error shown where it happened (forms, panels), with its stable code in data-code for tests. */
export function ErrorText(props: { error: unknown; testid?: string }) {
  if (!props.error) return null;
  const e = props.error as { code?: string; message?: string };
  return (
    <p class="form__error" role="alert" data-testid={props.testid ?? 'error'} data-code={e.code ?? ''}>
      {errorText(e.code, e.message)}
    </p>
  );
}

export function Empty(props: { text: string; testid?: string }) {
  return (
    <p class="empty" data-testid={props.testid ?? 'empty'}>
      {props.text}
    </p>
  );
}

export function Loading() {
  return (
    <p class="loading" role="status" aria-live="polite">
      {t('loading')}
    </p>
  );
}

/** A time in Asia/Shanghai, machine-readable in `datetime`. */
export function Time(props: { at: string | null | undefined; short?: boolean; testid?: string }) {
  if (!props.at) return null;
  return (
    <time dateTime={props.at} data-testid={props.testid} title={formatDateTime(props.at)}>
      {props.short ? formatShort(props.at) : formatDateTime(props.at)}
    </time>
  );
}

type FieldProps = { label: string; hint?: string; children: ComponentChildren; class?: string; testid?: string };
/** A labelled form control: the label wraps the control, so it is announced with it. */
export function Field(props: FieldProps) {
  return (
    <label class={`field ${props.class ?? ''}`} data-testid={props.testid}>
      <span class="field__label">{props.label}</span>
      {props.children}
      {props.hint ? <span class="field__hint">{props.hint}</span> : null}
    </label>
  );
}

export function Button(props: ButtonHTMLAttributes<HTMLButtonElement> & { variant?: 'primary' | 'ghost' | 'danger' | 'plain'; testid?: string }) {
  const { variant = 'plain', testid, class: cls, type, ...rest } = props;
  return <button type={(type as 'button' | 'submit' | undefined) ?? 'button'} class={`btn btn--${variant} ${cls ?? ''}`} data-testid={testid} {...rest} />;
}

export function RiskBadge(props: { risk: string | null | undefined; testid?: string }) {
  if (!props.risk) return null;
  return (
    <span class={`badge badge--risk risk-${props.risk}`} data-testid={props.testid} title={t('riskLevel')}>
      {tOr(`risk_${props.risk}`, props.risk)}
    </span>
  );
}

/** A count in a pill; hidden at zero. */
export function CountBadge(props: { n: number | undefined; testid?: string; label?: string }) {
  if (!props.n) return null;
  return (
    <span class="count" data-testid={props.testid} aria-label={props.label ? `${props.label}: ${props.n}` : undefined}>
      {props.n > 99 ? '99+' : props.n}
    </span>
  );
}

/** Security codes of a message, e.g. 600519.SH (at most 20). */
export function Tickers(props: { tickers: readonly string[]; testid?: string }) {
  if (!props.tickers.length) return null;
  return (
    <div class="msg__tickers" data-testid={props.testid} aria-label={t('tickers')}>
      {props.tickers.slice(0, 20).map((x) => (
        <span key={x} class="ticker">
          {x}
        </span>
      ))}
    </div>
  );
}

export const RISKS = ['R1', 'R2', 'R3', 'R4', 'R5'] as const;
export type Risk = (typeof RISKS)[number];

/** A product risk level R1–R5, named in the current language. */
export function RiskSelect(props: { value: Risk; onChange(r: Risk): void; testid?: string }) {
  return (
    <select data-testid={props.testid} value={props.value} onChange={(e) => props.onChange(e.currentTarget.value as Risk)}>
      {RISKS.map((r) => (
        <option key={r} value={r}>
          {tOr(`risk_${r}`, r)}
        </option>
      ))}
    </select>
  );
}

/**
 * The states of a loaded list in one place: its error, "loading" the first time, the empty text, or
 * the rows (rendered by the child function).
 */
export function ListState<T>(props: {
  list: { data: T[] | undefined; error: unknown; loading: boolean };
  empty: string;
  errorTestid?: string;
  emptyTestid?: string;
  children: (rows: T[]) => ComponentChildren;
}) {
  const { data, error, loading } = props.list;
  return (
    <>
      <ErrorText error={error} testid={props.errorTestid} />
      {loading && !data ? <Loading /> : null}
      {data && data.length === 0 ? <Empty text={props.empty} testid={props.emptyTestid} /> : null}
      {data && data.length ? props.children(data) : null}
    </>
  );
}
