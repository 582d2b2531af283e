/**
 * Broker view 推荐: pick clients, security, product risk and rationale → POST /api/recommendations →
 * each client's outcome. A suitability refusal is shown with its reason (levels) and stable code, in
 * zh-CN or English. Compliance view 审批: pending approvals (recommendation batches over the 25-client
 * limit, firm-wide broadcasts) with approve / reject.
 *
 * State lives in this module so re-rendering the page (language switch) keeps the form and results.
 * Text only (textContent).
 */
import { formatTime } from './i18n.ts';
import { AdvError, at, atOr, call, h, randomKey, showInline, advErrorText } from './advisory-ui.ts';
import type { AdvisoryContext } from './advisory.ts';

interface Client {
  id: string;
  displayName: string;
  riskLevel: string | null;
  riskAssessedOn: string | null;
  professionalInvestor: boolean;
}

interface ClientResult {
  clientId: string;
  recommendationId: string;
  outcome: 'delivered' | 'refused' | 'pending_approval' | 'rejected' | 'failed';
  code?: string;
  basis?: string;
  clientRisk: string | null;
  productRisk: string;
}

interface Batch {
  batchId: string;
  approvalId: string | null;
  results: ClientResult[];
}

interface Approval {
  id: string;
  kind: 'recommendation' | 'broadcast';
  status: string;
  requestedBy: { id: string; displayName: string };
  payload: Record<string, unknown>;
  createdAt: string;
}

const rec = {
  clients: null as Client[] | null,
  selected: new Set<string>(),
  security: '',
  productName: '',
  productRisk: 'R3',
  rationale: '',
  busy: false,
  batch: null as Batch | null,
  error: null as unknown,
  /** Idempotency-Key of the form as filled in: a retry after a network error sends the same one. */
  key: randomKey(),
};

const appr = {
  list: null as Approval[] | null,
  notes: new Map<string, string>(),
  busy: new Set<string>(),
  message: null as { id: string; text: string } | null,
  error: null as unknown,
};

export function resetRecommendations(): void {
  rec.clients = null;
  rec.selected.clear();
  rec.security = rec.productName = rec.rationale = '';
  rec.productRisk = 'R3';
  rec.batch = null;
  rec.error = null;
  rec.key = randomKey();
  appr.list = null;
  appr.notes.clear();
  appr.message = null;
  appr.error = null;
}

// ---------------------------------------------------------------------------------------------------
// Broker: recommend

export function recommendView(ctx: AdvisoryContext): HTMLElement {
  const box = h('div', { class: 'adv-pane', testid: 'rec-view' });
  if (rec.clients === null) {
    void loadClients(ctx);
    box.append(h('p', { class: 'adv-muted', text: '…' }));
    return box;
  }
  const err = h('p', { class: 'form__error', testid: 'rec-error', attrs: { role: 'alert', hidden: '' } });
  if (rec.error) showInline(err, rec.error);

  const clients = h(
    'fieldset',
    { class: 'adv-fieldset', testid: 'rec-clients' },
    h('legend', { text: at('recClients') }),
    rec.clients.length === 0 ? h('p', { class: 'adv-muted', text: at('recNoClients') }) : null,
    ...rec.clients.map((c) => {
      const input = h('input', { testid: 'rec-client', attrs: { type: 'checkbox', value: c.id }, data: { clientId: c.id } });
      input.checked = rec.selected.has(c.id);
      input.addEventListener('change', () => (input.checked ? rec.selected.add(c.id) : rec.selected.delete(c.id)));
      const level = c.professionalInvestor ? at('professional') : (c.riskLevel ?? at('noAssessment'));
      return h('label', { class: 'adv-check' }, input, h('span', { text: c.displayName }), h('span', { class: 'badge adv-level', text: level }));
    }),
  );

  const security = h('input', { testid: 'rec-security', attrs: { required: '', maxlength: '32', placeholder: at('recSecurityHint'), autocapitalize: 'characters', spellcheck: 'false' } });
  security.value = rec.security;
  security.addEventListener('input', () => (rec.security = security.value));
  const product = h('input', { testid: 'rec-product', attrs: { maxlength: '200' } });
  product.value = rec.productName;
  product.addEventListener('input', () => (rec.productName = product.value));
  const risk = h('select', { testid: 'rec-risk' }, ...['R1', 'R2', 'R3', 'R4', 'R5'].map((r) => h('option', { text: r, attrs: { value: r } })));
  risk.value = rec.productRisk;
  risk.addEventListener('change', () => (rec.productRisk = risk.value));
  const rationale = h('textarea', { testid: 'rec-rationale', attrs: { required: '', maxlength: '4000', rows: '3' } });
  rationale.value = rec.rationale;
  rationale.addEventListener('input', () => (rec.rationale = rationale.value));
  for (const el of [security, product, risk, rationale]) el.addEventListener('input', () => (rec.key = randomKey()));
  const submit = h('button', { class: 'btn btn--primary', testid: 'rec-submit', text: rec.busy ? at('recSending') : at('recSubmit'), attrs: { type: 'submit' } });
  submit.disabled = rec.busy;

  const form = h(
    'form',
    {
      class: 'adv-form',
      testid: 'rec-form',
      on: {
        submit: (ev) => {
          ev.preventDefault();
          void send(ctx);
        },
      },
    },
    clients,
    h('div', { class: 'adv-row' }, field(at('recSecurity'), security), field(at('recProduct'), product), field(at('recRisk'), risk)),
    field(at('recRationale'), rationale),
    err,
    submit,
  );
  box.append(h('p', { class: 'panel__hint', text: at('recHint') }), form);
  if (rec.batch) box.append(resultsView(rec.batch));
  return box;
}

function field(label: string, control: HTMLElement): HTMLElement {
  return h('label', { class: 'field adv-field' }, h('span', { class: 'field__label', text: label }), control);
}

async function loadClients(ctx: AdvisoryContext): Promise<void> {
  try {
    const r = await call<{ clients: Client[] }>(ctx.token(), 'GET', '/api/recommendations/clients');
    rec.clients = r.body.clients;
  } catch (e) {
    rec.clients = [];
    rec.error = e;
  }
  ctx.rerender();
}

async function send(ctx: AdvisoryContext): Promise<void> {
  if (rec.busy) return;
  rec.error = null;
  if (rec.selected.size === 0) {
    rec.error = new Error(at('recPickClient'));
    ctx.rerender();
    return;
  }
  rec.busy = true;
  rec.batch = null;
  ctx.rerender();
  const body: Record<string, unknown> = {
    clientIds: [...rec.selected],
    security: rec.security.trim(),
    productRisk: rec.productRisk,
    rationale: rec.rationale.trim(),
  };
  if (rec.productName.trim()) body.productName = rec.productName.trim();
  try {
    const r = await call<Batch>(ctx.token(), 'POST', '/api/recommendations', body, { 'idempotency-key': rec.key });
    rec.batch = r.body;
    rec.key = randomKey();
  } catch (e) {
    const d = e instanceof AdvError ? (e.details as Partial<ClientResult & { batchId: string }> | undefined) : undefined;
    if (d && typeof d.clientId === 'string' && typeof d.outcome === 'string') {
      // One client refused (422): show it as that client's outcome, with its code.
      rec.batch = { batchId: d.batchId ?? '', approvalId: null, results: [d as ClientResult] };
      rec.key = randomKey();
    } else {
      rec.error = e;
    }
  } finally {
    rec.busy = false;
    ctx.rerender();
  }
}

function resultsView(b: Batch): HTMLElement {
  const names = new Map((rec.clients ?? []).map((c) => [c.id, c.displayName]));
  const list = h('ul', { class: 'adv-results', testid: 'rec-results', data: { batchId: b.batchId } });
  for (const r of b.results) {
    const reason =
      r.outcome === 'refused' && r.code === 'QIAO_SUITABILITY_MISMATCH' && r.clientRisk
        ? `${at('mismatch', { r: r.productRisk, c: r.clientRisk })} — ${advErrorText(r.code)}`
        : r.code
          ? advErrorText(r.code)
          : r.basis
            ? atOr(`basis_${r.basis}`, r.basis)
            : '';
    list.append(
      h(
        'li',
        {
          class: `adv-result adv-result--${r.outcome}`,
          testid: 'rec-result',
          data: { clientId: r.clientId, outcome: r.outcome, code: r.code ?? '' },
          attrs: r.outcome === 'refused' ? { role: 'alert' } : {},
        },
        h('span', { class: 'adv-result__name', text: names.get(r.clientId) ?? r.clientId }),
        h('span', { class: `badge adv-outcome adv-outcome--${r.outcome}`, testid: 'rec-result-outcome', text: atOr(`outcome_${r.outcome}`, r.outcome) }),
        reason ? h('span', { class: 'adv-result__reason', testid: 'rec-result-reason', text: reason }) : null,
        r.code ? h('code', { class: 'adv-code', testid: 'rec-result-code', text: r.code }) : null,
      ),
    );
  }
  return h(
    'section',
    { class: 'adv-section' },
    h('h3', { class: 'adv-subtitle', text: at('recResults') }),
    b.approvalId ? h('p', { class: 'adv-note', testid: 'rec-pending', text: at('recPending') }) : null,
    list,
  );
}

// ---------------------------------------------------------------------------------------------------
// Compliance: approvals

export function approvalsView(ctx: AdvisoryContext): HTMLElement {
  const box = h('div', { class: 'adv-pane', testid: 'approvals-view' });
  const head = h(
    'div',
    { class: 'adv-head' },
    h('h3', { class: 'adv-subtitle', text: at('approvalsTitle') }),
    h('button', { class: 'btn btn--ghost', testid: 'approvals-refresh', text: at('refresh'), attrs: { type: 'button' }, on: { click: () => void loadApprovals(ctx) } }),
  );
  box.append(head);
  const err = h('p', { class: 'form__error', testid: 'approvals-error', attrs: { role: 'alert', hidden: '' } });
  if (appr.error) showInline(err, appr.error);
  box.append(err);
  if (appr.list === null) {
    void loadApprovals(ctx);
    return box;
  }
  if (appr.message) box.append(h('p', { class: 'adv-note', testid: 'approval-msg', text: appr.message.text }));
  if (appr.list.length === 0) box.append(h('p', { class: 'adv-muted', testid: 'approvals-empty', text: at('approvalsNone') }));
  for (const a of appr.list) box.append(approvalRow(ctx, a));
  return box;
}

function approvalSummary(a: Approval): string {
  const p = a.payload;
  if (a.kind === 'broadcast') {
    const inner = (p.payload ?? {}) as { title?: unknown };
    return typeof inner.title === 'string' ? inner.title : '';
  }
  const parts = [p.security, p.productName, p.productRisk].filter((x): x is string => typeof x === 'string' && x !== '');
  if (typeof p.clientCount === 'number') parts.push(at('clientsCount', { n: p.clientCount }));
  return parts.join(' · ');
}

function approvalRow(ctx: AdvisoryContext, a: Approval): HTMLElement {
  const note = h('input', { testid: 'approval-note', attrs: { maxlength: '2000', placeholder: at('approvalNote') } });
  note.value = appr.notes.get(a.id) ?? '';
  note.addEventListener('input', () => appr.notes.set(a.id, note.value));
  const busy = appr.busy.has(a.id);
  const btn = (action: 'approve' | 'reject') => {
    const b = h('button', {
      class: `btn ${action === 'approve' ? 'btn--primary' : 'btn--ghost'}`,
      testid: `approval-${action}`,
      text: at(action),
      attrs: { type: 'button' },
      on: { click: () => void decide(ctx, a.id, action) },
    });
    b.disabled = busy;
    return b;
  };
  const rationale = a.kind === 'recommendation' && typeof a.payload.rationale === 'string' ? a.payload.rationale : null;
  return h(
    'article',
    { class: 'adv-card', testid: 'approval-row', data: { approvalId: a.id, kind: a.kind } },
    h(
      'div',
      { class: 'adv-card__head' },
      h('span', { class: 'badge', text: atOr(`kind_${a.kind}`, a.kind) }),
      h('strong', { class: 'adv-card__title', testid: 'approval-summary', text: approvalSummary(a) }),
      h('time', { class: 'msg__time', attrs: { datetime: a.createdAt }, text: formatTime(a.createdAt) }),
    ),
    h('p', { class: 'adv-muted', text: `${at('requestedBy')}: ${a.requestedBy.displayName}` }),
    rationale ? h('p', { class: 'adv-text', text: rationale }) : null,
    h('div', { class: 'adv-row' }, note, btn('approve'), btn('reject')),
  );
}

async function loadApprovals(ctx: AdvisoryContext): Promise<void> {
  try {
    const r = await call<{ approvals: Approval[] }>(ctx.token(), 'GET', '/api/approvals?status=pending');
    appr.list = r.body.approvals;
    appr.error = null;
  } catch (e) {
    appr.list = [];
    appr.error = e;
  }
  ctx.rerender();
}

async function decide(ctx: AdvisoryContext, id: string, action: 'approve' | 'reject'): Promise<void> {
  appr.busy.add(id);
  ctx.rerender();
  const note = (appr.notes.get(id) ?? '').trim();
  try {
    await call(ctx.token(), 'POST', `/api/approvals/${id}/${action}`, note ? { note } : {});
    appr.message = { id, text: `${at(action)} ✓` };
    appr.error = null;
  } catch (e) {
    appr.error = e;
  } finally {
    appr.busy.delete(id);
  }
  await loadApprovals(ctx);
}
