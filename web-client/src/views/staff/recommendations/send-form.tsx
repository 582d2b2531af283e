/**
 * The broker's recommendation form: clients (each with its risk level, or professional investor),
 * security with its name from the directory, product name and risk, rationale, and the research note
 * it rests on. POST /api/recommendations with an Idempotency-Key per submission: a fresh key when the
 * form changes, the same one when the same submission is retried. Each client's outcome is shown:
 * delivered, refused (the suitability reason in words, its code) or awaiting compliance approval.
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, call, type Answer, type Body } from '../../../api/api.ts';
import { t, tOr } from '../../../i18n/i18n.ts';
import { formatDate, formatShort } from '../../../lib/time.ts';
import { Button, ErrorText, Field, Panel, RiskSelect, type Risk } from '../../../ui/ui.tsx';
import { useLoad } from '../../../ui/use-load.ts';
import { A_SHARE_RE, SECURITY_RE, SecurityOptions, normalizeCode, securityName, useSecurityNames, useSecuritySuggestions } from '../research/security-lookup.tsx';
import { OutcomeBadge, reasonOf } from './outcome.tsx';
import { useRecentNotes } from './recent-notes.ts';
import { requestKey } from './request-key.ts';

type Client = NonNullable<Answer<'/api/recommendations/clients', 'get'>['clients']>[number];
type Batch = Answer<'/api/recommendations', 'post'>;
type Result = NonNullable<Batch['results']>[number];

interface Form {
  clients: string[];
  security: string;
  productName: string;
  productRisk: Risk;
  rationale: string;
  researchMessageId: string;
}
const EMPTY: Form = { clients: [], security: '', productName: '', productRisk: 'R3', rationale: '', researchMessageId: '' };

function clientLevel(c: Client): string {
  if (c.professionalInvestor) return t('desk_professional');
  return c.riskLevel ?? t('desk_noAssessment');
}

function Results(props: { batch: Batch; names: Map<string, string>; note?: string }) {
  const results = props.batch.results ?? [];
  return (
    <section class="desk-results" data-testid="rec-results" data-batch-id={props.batch.batchId} aria-live="polite">
      <h3 class="desk-subtitle">{t('desk_recResults')}</h3>
      {props.batch.approvalId ? (
        <p class="desk-note" data-testid="rec-pending">
          {t('desk_awaitingApprovalHint')}
        </p>
      ) : null}
      {props.note ? <p class="desk-muted" data-testid="rec-result-note">{t('desk_linkedNote', { title: props.note })}</p> : null}
      <ul class="desk-list">
        {results.map((r: Result) => (
          <li key={r.clientId} class={`desk-result desk-result--${r.outcome}`} data-testid="rec-result" data-client-id={r.clientId} data-outcome={r.outcome} data-code={r.code ?? ''}>
            <span class="desk-result__name">{props.names.get(r.clientId) ?? r.clientId}</span>
            <OutcomeBadge outcome={r.outcome} testid="rec-result-outcome" />
            <span class="desk-result__reason" data-testid="rec-result-reason">
              {reasonOf(r)}
            </span>
            {r.code ? (
              <code class="desk-code" data-testid="rec-result-code">
                {r.code}
              </code>
            ) : null}
          </li>
        ))}
      </ul>
    </section>
  );
}

/**
 * An open form follows re-grades: the clients' risk levels are fetched again every few seconds and when
 * the window regains focus. The server checks suitability against the stored level on every send anyway.
 */
const CLIENTS_REFRESH_MS = 5_000;

function useClients() {
  const clients = useLoad(async () => (await call(api.GET('/api/recommendations/clients'))).clients ?? [], []);
  const { reload } = clients;
  useEffect(() => {
    const timer = setInterval(reload, CLIENTS_REFRESH_MS);
    addEventListener('focus', reload);
    return () => {
      clearInterval(timer);
      removeEventListener('focus', reload);
    };
  }, [reload]);
  return clients;
}

export function SendForm(props: { onSent(): void }) {
  const clients = useClients();
  const notes = useRecentNotes();
  const [f, setF] = useState<Form>(EMPTY);
  const [key, setKey] = useState(requestKey);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [batch, setBatch] = useState<{ batch: Batch; note?: string } | null>(null);
  const suggestions = useSecuritySuggestions(f.security);
  const code = normalizeCode(f.security);
  const names = useSecurityNames(A_SHARE_RE.test(code) ? [code] : []);
  const sec = names.get(code);

  const edit = (patch: Partial<Form>) => {
    setF((cur) => ({ ...cur, ...patch }));
    setKey(requestKey());
  };
  const toggle = (id: string, on: boolean) => edit({ clients: on ? [...f.clients, id] : f.clients.filter((x) => x !== id) });
  const clientNames = new Map((clients.data ?? []).map((c) => [c.id ?? '', c.displayName ?? '']));

  const send = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setError(null);
    if (!f.clients.length) return setError({ message: t('desk_pickClient') });
    if (!SECURITY_RE.test(code)) return setError({ code: 'QIAO_SECURITY_INVALID' });
    const body: Body<'/api/recommendations', 'post'> = {
      clientIds: f.clients,
      security: code,
      productRisk: f.productRisk,
      rationale: f.rationale.trim(),
      ...(f.productName.trim() ? { productName: f.productName.trim() } : {}),
      ...(f.researchMessageId ? { researchMessageId: f.researchMessageId } : {}),
    };
    const note = notes.data?.find((n) => n.id === f.researchMessageId)?.title;
    setBusy(true);
    setBatch(null);
    try {
      const b = await call(api.POST('/api/recommendations', { body, params: { header: { 'idempotency-key': key } } }));
      setBatch({ batch: b, note });
      setKey(requestKey());
      props.onSent();
    } catch (err) {
      // One client refused (422): its outcome, with its code, is in the error details.
      const d = err instanceof ApiError ? (err.details as (Result & { batchId?: string }) | undefined) : undefined;
      if (d && typeof d.clientId === 'string' && typeof d.outcome === 'string' && d.outcome !== 'failed') {
        setBatch({ batch: { batchId: d.batchId, approvalId: null, results: [d] }, note });
        setKey(requestKey());
        props.onSent();
      } else setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Panel title={t('desk_recSend')} testid="rec-send">
      <form class="desk-form desk-pad" data-testid="rec-form" onSubmit={(e) => void send(e)} aria-busy={busy}>
        <fieldset class="desk-fieldset" data-testid="rec-clients">
          <legend>{t('desk_recClients')}</legend>
          <ErrorText error={clients.error} testid="rec-clients-error" />
          {clients.data && !clients.data.length ? <p class="desk-muted">{t('desk_recNoClients')}</p> : null}
          {(clients.data ?? []).map((c) => (
            <label key={c.id} class="desk-check">
              <input type="checkbox" data-testid="rec-client" data-client-id={c.id} value={c.id} checked={f.clients.includes(c.id!)} onChange={(e) => toggle(c.id!, e.currentTarget.checked)} />
              <span>{c.displayName}</span>
              <span class="badge desk-level" data-testid="rec-client-level" title={c.riskAssessedOn ? t('desk_assessedOn', { date: formatDate(c.riskAssessedOn) }) : undefined}>
                {clientLevel(c)}
              </span>
              {c.tier ? <span class="desk-muted">{tOr(`tier_${c.tier}`, c.tier)}</span> : null}
            </label>
          ))}
        </fieldset>
        <div class="desk-grid">
          <Field label={t('desk_security')} hint={sec ? securityName(sec) : sec === null ? t('desk_notInDirectory') : t('desk_securityHint')}>
            <input
              data-testid="rec-security"
              list="rec-security-options"
              value={f.security}
              required
              maxLength={32}
              autocomplete="off"
              spellcheck={false}
              onInput={(e) => edit({ security: e.currentTarget.value })}
            />
          </Field>
          <SecurityOptions id="rec-security-options" items={suggestions} />
          <Field label={t('desk_productName')}>
            <input data-testid="rec-product" value={f.productName} maxLength={200} placeholder={sec ? securityName(sec) : undefined} onInput={(e) => edit({ productName: e.currentTarget.value })} />
          </Field>
          <Field label={t('desk_productRisk')}>
            <RiskSelect testid="rec-risk" value={f.productRisk} onChange={(productRisk) => edit({ productRisk })} />
          </Field>
        </div>
        <Field label={t('desk_rationale')}>
          <textarea data-testid="rec-rationale" value={f.rationale} required rows={3} maxLength={4000} onInput={(e) => edit({ rationale: e.currentTarget.value })} />
        </Field>
        <Field label={t('desk_researchNote')} hint={t('desk_researchNoteHint')}>
          <select data-testid="rec-note" value={f.researchMessageId} onChange={(e) => edit({ researchMessageId: e.currentTarget.value })}>
            <option value="">{notes.loading ? t('loading') : t('desk_noNote')}</option>
            {(notes.data ?? []).map((n) => (
              <option key={n.id} value={n.id}>
                {`${n.title} · ${n.channel} · ${formatShort(n.time)}`}
              </option>
            ))}
          </select>
        </Field>
        <ErrorText error={error} testid="rec-error" />
        <div class="desk-actions">
          <Button type="submit" variant="primary" testid="rec-submit" disabled={busy}>
            {busy ? t('desk_sending') : t('desk_recSubmit')}
          </Button>
          <Button testid="rec-reset" disabled={busy} onClick={() => (setF(EMPTY), setKey(requestKey()), setBatch(null), setError(null))}>
            {t('desk_clear')}
          </Button>
        </div>
      </form>
      {batch ? <Results batch={batch.batch} names={clientNames} note={batch.note} /> : null}
    </Panel>
  );
}
