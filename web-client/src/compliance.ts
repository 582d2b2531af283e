/**
 * Compliance view 合规: search the archive (person, conversation, dates, keyword), page through the
 * results, export them (records.jsonl, records.txt and manifest.json, downloaded from the page, with
 * the sha256 of each shown), and verify the hash chain. For compliance users; the server authorises
 * every call anyway.
 *
 * main.ts puts the toggle in the top bar (`complianceToggle(...)`). The view lives in its own element
 * beside #app, so re-rendering the page keeps the form, the results and the export; while it is open
 * the main layout is hidden (body.view-compliance). Text only (textContent), never HTML.
 */
import { h } from './dom.ts';
import { errorText, formatTime, lang } from './i18n.ts';

const TEXT = {
  'zh-CN': {
    open: '合规',
    close: '返回消息',
    title: '合规存档',
    hint: '检索与导出均会记入审计日志与合规存档。日期按北京时间。',
    person: '人员（登录名或 ID）',
    conversation: '会话 ID',
    from: '开始日期',
    to: '结束日期',
    keyword: '关键词',
    search: '检索',
    searching: '检索中…',
    export: '导出结果',
    exporting: '导出中…',
    verify: '校验存档',
    verifying: '校验中…',
    more: '加载更多',
    noResults: '没有符合条件的记录',
    results: '条记录',
    seq: '序号',
    time: '时间',
    kind: '类型',
    actor: '操作人',
    where: '频道 / 会话',
    content: '内容',
    hash: '哈希',
    dlp: 'DLP',
    exported: '导出完成',
    exportId: '导出编号',
    recordCount: '记录数',
    file: '文件',
    download: '下载',
    verifyOk: '存档完整：已校验 {n} 条记录，哈希链无断裂',
    verifyBad: '存档校验失败：{n} 处问题，首个问题在序号 {seq}',
    kind_message: '消息',
    'kind_dlp.blocked': 'DLP 拦截',
    'kind_compliance.search': '合规检索',
    'kind_compliance.export': '合规导出',
    'kind_archive.purge': '存档清理',
    'kind_legal-hold.placed': '法律保全',
    'kind_legal-hold.released': '解除保全',
    'kind_dlp.term.set': 'DLP 词条',
    'kind_dlp.term.removed': 'DLP 词条删除',
    dlp_block: '拦截',
    dlp_warn: '警示',
    dlp_log: '记录',
  },
  en: {
    open: 'Compliance',
    close: 'Back to messages',
    title: 'Compliance archive',
    hint: 'Searches and exports are audited and archived. Dates are Beijing time.',
    person: 'Person (login or id)',
    conversation: 'Conversation id',
    from: 'From',
    to: 'To',
    keyword: 'Keyword',
    search: 'Search',
    searching: 'Searching…',
    export: 'Export results',
    exporting: 'Exporting…',
    verify: 'Verify archive',
    verifying: 'Verifying…',
    more: 'Load more',
    noResults: 'No matching records',
    results: 'records',
    seq: 'Seq',
    time: 'Time',
    kind: 'Kind',
    actor: 'Actor',
    where: 'Channel / conversation',
    content: 'Content',
    hash: 'Hash',
    dlp: 'DLP',
    exported: 'Export ready',
    exportId: 'Export id',
    recordCount: 'Records',
    file: 'File',
    download: 'Download',
    verifyOk: 'Archive intact: {n} records checked, hash chain unbroken',
    verifyBad: 'Archive verification failed: {n} problem(s), first at seq {seq}',
    kind_message: 'Message',
    'kind_dlp.blocked': 'DLP blocked',
    'kind_compliance.search': 'Compliance search',
    'kind_compliance.export': 'Compliance export',
    'kind_archive.purge': 'Archive purge',
    'kind_legal-hold.placed': 'Legal hold',
    'kind_legal-hold.released': 'Hold released',
    'kind_dlp.term.set': 'DLP term',
    'kind_dlp.term.removed': 'DLP term removed',
    dlp_block: 'blocked',
    dlp_warn: 'warned',
    dlp_log: 'logged',
  },
} as const;

type Key = keyof (typeof TEXT)['zh-CN'];

function tx(key: Key, vars: Record<string, string | number> = {}): string {
  let s: string = TEXT[lang()][key];
  for (const [k, v] of Object.entries(vars)) s = s.replace(`{${k}}`, String(v));
  return s;
}

function txOr(key: string, fallback: string): string {
  const d = TEXT[lang()] as Record<string, string>;
  return Object.hasOwn(d, key) ? d[key] : fallback;
}

// ---- DOM helper: text only ----


// ---- API ----

interface ArchiveRecord {
  seq: number;
  recordedAt: string;
  kind: string;
  actorId: string;
  subjects: string[];
  conversationId: string | null;
  channel: string | null;
  body: unknown;
  text: string;
  hash: string;
}
interface Person {
  id: string;
  login: string;
  displayName: string;
}
interface SearchResult {
  records: ArchiveRecord[];
  people: Record<string, Person>;
  nextCursor: number | null;
}
interface ExportFile {
  name: string;
  contentType: string;
  sha256: string;
  bytes: number;
  content: string;
}
interface ExportBundle {
  exportId: string;
  manifest: { recordCount: number; files: Array<{ name: string; sha256: string }> };
  files: ExportFile[];
}
interface VerifyReport {
  ok: boolean;
  checked: number;
  firstBrokenSeq: number | null;
  problemCount: number;
}

class CallError extends Error {
  constructor(
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = getToken();
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new CallError('QIAO_UNAVAILABLE', e instanceof Error ? e.message : 'network error');
  }
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = (data as { error?: { code?: string; message?: string } } | null)?.error;
    throw new CallError(err?.code, err?.message ?? res.statusText);
  }
  return data as T;
}

// ---- state (kept across page re-renders) ----

interface Filter {
  person: string;
  conversationId: string;
  from: string;
  to: string;
  q: string;
}

const state = {
  open: false,
  filter: { person: '', conversationId: '', from: '', to: '', q: '' } as Filter,
  records: [] as ArchiveRecord[],
  people: {} as Record<string, Person>,
  nextCursor: null as number | null,
  searched: false,
  busy: null as null | 'search' | 'export' | 'verify',
  exportBundle: null as ExportBundle | null,
  /** Object URLs of the export's files, by name (revoked on the next export and on logout). */
  exportUrls: {} as Record<string, string>,
  verify: null as VerifyReport | null,
  error: null as { code?: string; message: string } | null,
};
let getToken: () => string | null = () => null;
let host: HTMLElement | null = null;

function revokeExport(): void {
  for (const u of Object.values(state.exportUrls)) URL.revokeObjectURL(u);
  state.exportUrls = {};
}

function filterBody(): Record<string, string> {
  const f = state.filter;
  return Object.fromEntries(
    Object.entries({ person: f.person.trim(), conversationId: f.conversationId.trim(), from: f.from, to: f.to, q: f.q.trim() }).filter(([, v]) => v !== ''),
  );
}

async function run(kind: 'search' | 'more' | 'export' | 'verify'): Promise<void> {
  state.busy = kind === 'more' ? 'search' : kind;
  state.error = null;
  paint();
  try {
    if (kind === 'search' || kind === 'more') {
      const params = new URLSearchParams(filterBody());
      params.set('limit', '50');
      if (kind === 'more' && state.nextCursor) params.set('cursor', String(state.nextCursor));
      const r = await call<SearchResult>('GET', `/api/compliance/archive?${params}`);
      state.records = kind === 'more' ? [...state.records, ...r.records] : r.records;
      state.people = { ...state.people, ...r.people };
      state.nextCursor = r.nextCursor;
      state.searched = true;
    } else if (kind === 'export') {
      const b = await call<ExportBundle>('POST', '/api/compliance/exports', filterBody());
      revokeExport();
      state.exportBundle = b;
      state.exportUrls = Object.fromEntries(b.files.map((f) => [f.name, URL.createObjectURL(new Blob([f.content], { type: f.contentType }))]));
    } else {
      state.verify = await call<VerifyReport>('GET', '/api/compliance/archive/verify');
    }
  } catch (e) {
    const err = e as CallError;
    state.error = { code: err.code, message: err.message };
  } finally {
    state.busy = null;
    paint();
  }
}

// ---- rendering ----

function personName(id: string): string {
  const p = state.people[id];
  return p ? `${p.displayName}（${p.login}）` : id;
}

function dlpOf(r: ArchiveRecord): string {
  const d = (r.body as { dlp?: { block?: string[]; warn?: string[]; log?: string[] } } | null)?.dlp;
  if (!d) return '';
  return (['block', 'warn', 'log'] as const)
    .filter((k) => d[k]?.length)
    .map((k) => `${tx(`dlp_${k}` as Key)}: ${d[k]!.join('、')}`)
    .join('；');
}

function field(key: Key, name: keyof Filter, type = 'text'): HTMLElement {
  const input = h('input', { testid: `cmp-${name}`, attrs: { type, name, autocomplete: 'off', spellcheck: 'false' } });
  input.value = state.filter[name];
  input.addEventListener('input', () => (state.filter[name] = input.value));
  return h('label', { class: 'field cmp__field' }, h('span', { class: 'field__label', text: tx(key) }), input);
}

function resultsTable(): HTMLElement {
  if (!state.searched) return h('div');
  if (state.records.length === 0) return h('p', { class: 'cmp__empty', testid: 'cmp-empty', text: tx('noResults') });
  const head = h('tr', {}, ...(['seq', 'time', 'kind', 'actor', 'where', 'content', 'dlp', 'hash'] as const).map((k) => h('th', { text: tx(k) })));
  const rows = state.records.map((r) =>
    h(
      'tr',
      { testid: 'cmp-row', attrs: { 'data-seq': String(r.seq), 'data-kind': r.kind } },
      h('td', { class: 'cmp__mono', text: String(r.seq) }),
      h('td', { class: 'cmp__nowrap', text: formatTime(r.recordedAt) }),
      h('td', { text: txOr(`kind_${r.kind}`, r.kind) }),
      h('td', { text: personName(r.actorId) }),
      h('td', { class: 'cmp__mono', text: r.conversationId ?? r.channel ?? '' }),
      h('td', { class: 'cmp__text', testid: 'cmp-text', text: r.text || JSON.stringify(r.body).slice(0, 300) }),
      h('td', { text: dlpOf(r) }),
      h('td', { class: 'cmp__mono', attrs: { title: r.hash }, text: `${r.hash.slice(0, 12)}…` }),
    ),
  );
  return h(
    'div',
    { class: 'cmp__results' },
    h('p', { class: 'panel__hint', testid: 'cmp-count', text: `${state.records.length} ${tx('results')}` }),
    h('div', { class: 'cmp__scroll' }, h('table', { class: 'cmp__table', testid: 'cmp-results' }, h('thead', {}, head), h('tbody', {}, ...rows))),
    state.nextCursor
      ? h('button', { class: 'btn btn--ghost cmp__more', testid: 'cmp-more', text: tx('more'), attrs: { type: 'button' }, on: { click: () => void run('more') } })
      : null,
  );
}

function exportBox(): HTMLElement | null {
  const b = state.exportBundle;
  if (!b) return null;
  const items = b.files.map((f) => {
    const url = state.exportUrls[f.name] ?? '';
    return h(
      'li',
      { testid: 'cmp-file', attrs: { 'data-name': f.name, 'data-sha256': f.sha256 } },
      h('a', { class: 'cmp__download', testid: `cmp-download-${f.name}`, text: `${tx('download')} ${f.name}`, attrs: { href: url, download: `${b.exportId}-${f.name}` } }),
      h('span', { class: 'cmp__mono', testid: 'cmp-file-sha', text: ` sha256 ${f.sha256}` }),
    );
  });
  return h(
    'section',
    { class: 'card cmp__export', testid: 'cmp-export' },
    h('h3', { class: 'panel__title', text: tx('exported') }),
    h('p', { text: `${tx('exportId')}: ${b.exportId} · ${tx('recordCount')}: ${b.manifest.recordCount}` }),
    h('ul', { class: 'cmp__files' }, ...items),
    h('pre', { class: 'cmp__manifest', testid: 'cmp-manifest', text: b.files.find((f) => f.name === 'manifest.json')?.content ?? '' }),
  );
}

function verifyBox(): HTMLElement | null {
  const v = state.verify;
  if (!v) return null;
  return h('p', {
    class: `cmp__verify ${v.ok ? 'cmp__verify--ok' : 'cmp__verify--bad'}`,
    testid: 'cmp-verify-result',
    attrs: { 'data-ok': String(v.ok), role: 'status' },
    text: v.ok ? tx('verifyOk', { n: v.checked }) : tx('verifyBad', { n: v.problemCount, seq: v.firstBrokenSeq ?? '-' }),
  });
}

function view(): HTMLElement {
  const busy = state.busy;
  const form = h(
    'form',
    {
      class: 'cmp__form',
      testid: 'cmp-form',
      on: {
        submit: (ev) => {
          ev.preventDefault();
          void run('search');
        },
      },
    },
    field('person', 'person'),
    field('conversation', 'conversationId'),
    field('from', 'from', 'date'),
    field('to', 'to', 'date'),
    field('keyword', 'q'),
    h(
      'div',
      { class: 'cmp__actions' },
      h('button', { class: 'btn btn--primary', testid: 'cmp-search', text: busy === 'search' ? tx('searching') : tx('search'), attrs: { type: 'submit', ...(busy ? { disabled: '' } : {}) } }),
      h('button', {
        class: 'btn btn--ghost cmp__btn',
        testid: 'cmp-export-btn',
        text: busy === 'export' ? tx('exporting') : tx('export'),
        attrs: { type: 'button', ...(busy ? { disabled: '' } : {}) },
        on: { click: () => void run('export') },
      }),
      h('button', {
        class: 'btn btn--ghost cmp__btn',
        testid: 'cmp-verify',
        text: busy === 'verify' ? tx('verifying') : tx('verify'),
        attrs: { type: 'button', ...(busy ? { disabled: '' } : {}) },
        on: { click: () => void run('verify') },
      }),
    ),
  );
  return h(
    'main',
    { class: 'cmp panel', testid: 'compliance-view' },
    h('div', { class: 'panel__head' }, h('h2', { class: 'panel__title', testid: 'cmp-title', text: tx('title') }), h('p', { class: 'panel__hint', text: tx('hint') })),
    form,
    state.error ? h('p', { class: 'form__error', testid: 'cmp-error', attrs: { role: 'alert', 'data-code': state.error.code ?? '' }, text: errorText(state.error.code, state.error.message) }) : null,
    verifyBox(),
    exportBox(),
    resultsTable(),
  );
}

function paint(): void {
  document.body.classList.toggle('view-compliance', state.open);
  if (!state.open) {
    host?.remove();
    host = null;
    return;
  }
  if (!host) {
    host = h('div', { class: 'cmp-host', testid: 'compliance-host' });
    document.body.append(host);
  }
  host.replaceChildren(view());
}

/** The top-bar toggle (main.ts shows it to compliance users). Re-painting keeps the view's state. */
export function complianceToggle(token: () => string | null): HTMLElement {
  getToken = token;
  if (state.open) paint();
  return h('button', {
    class: 'btn btn--ghost',
    testid: 'compliance-toggle',
    text: state.open ? tx('close') : tx('open'),
    attrs: { type: 'button', 'aria-pressed': String(state.open) },
    on: {
      click: (ev) => {
        state.open = !state.open;
        (ev.currentTarget as HTMLElement).textContent = state.open ? tx('close') : tx('open');
        (ev.currentTarget as HTMLElement).setAttribute('aria-pressed', String(state.open));
        paint();
      },
    },
  });
}

/** Logging out closes the view and forgets what it showed. */
export function complianceReset(): void {
  revokeExport();
  Object.assign(state, {
    open: false,
    filter: { person: '', conversationId: '', from: '', to: '', q: '' },
    records: [],
    people: {},
    nextCursor: null,
    searched: false,
    busy: null,
    exportBundle: null,
    verify: null,
    error: null,
  });
  paint();
}
