/**
 * 任务 Tasks. Manager: a form to send a task to teams and/or brokers, the tasks sent, and a live progress
 * table (delivered / read / accepted / done, overdue) per broker. Broker: my tasks with read / accept /
 * done (with a note) buttons.
 *
 * Live: the view subscribes to the user's task feed `tasks.<userId>` on the app's socket client first,
 * then loads the snapshot over REST, so nothing falls between the two; the client library resubscribes
 * with its last offset after a reconnect, so missed changes are replayed. A change is applied only when
 * it moves a recipient forward, so a replayed or duplicated event never goes backwards or counts twice.
 * Text only (textContent).
 */
import type { MsgPush, QiaoClient } from '../../src/client/qiao-client.ts';
import { formatTime } from './i18n.ts';
import { at, atOr, call, h, randomKey, showInline } from './advisory-ui.ts';
import type { AdvisoryContext } from './advisory.ts';

type TaskState = 'delivered' | 'read' | 'accepted' | 'done';
const RANK: Record<TaskState, number> = { delivered: 0, read: 1, accepted: 2, done: 3 };
const STATES: TaskState[] = ['delivered', 'read', 'accepted', 'done'];

interface TaskView {
  id: string;
  managerId: string;
  managerName: string;
  title: string;
  detail: string;
  dueAt: string;
  createdAt: string;
}
interface Assignment {
  taskId: string;
  brokerId: string;
  brokerName: string;
  state: TaskState;
  overdue: boolean;
  note: string | null;
  updatedAt: string;
}
type Counts = Record<TaskState | 'overdue' | 'total', number>;
interface MyTask extends TaskView {
  assignment: Assignment;
}
interface ManagedTask extends TaskView {
  counts: Counts;
}
interface Recipients {
  teams: Array<{ id: string; code: string; name: string }>;
  brokers: Array<{ id: string; displayName: string; teamId: string | null }>;
}
interface Progress {
  task: TaskView;
  assignments: Assignment[];
}

const st = {
  mine: null as MyTask[] | null,
  notes: new Map<string, string>(),
  busy: new Set<string>(),
  recipients: null as Recipients | null,
  managed: null as ManagedTask[] | null,
  form: { title: '', detail: '', due: '', teams: new Set<string>(), brokers: new Set<string>() },
  formKey: randomKey(),
  sending: false,
  selected: null as string | null,
  progress: new Map<string, Progress>(),
  /** The socket client the task feed is subscribed on (a new session means a new client). */
  feedOn: null as QiaoClient | null,
  live: false,
  error: null as unknown,
  formError: null as unknown,
  refreshTimer: undefined as ReturnType<typeof setTimeout> | undefined,
};

export function resetTasks(): void {
  st.mine = st.managed = st.recipients = null;
  st.notes.clear();
  st.busy.clear();
  st.form = { title: '', detail: '', due: '', teams: new Set(), brokers: new Set() };
  st.formKey = randomKey();
  st.selected = null;
  st.progress.clear();
  st.feedOn = null;
  st.live = false;
  st.error = st.formError = null;
  if (st.refreshTimer) clearTimeout(st.refreshTimer);
}

const isManager = (ctx: AdvisoryContext) => ctx.user.role === 'manager' || ctx.user.role === 'admin';

export function tasksView(ctx: AdvisoryContext): HTMLElement {
  ensureFeed(ctx);
  const box = h('div', { class: 'adv-pane', testid: 'tasks-view', data: { live: String(st.live) } });
  const err = h('p', { class: 'form__error', testid: 'tasks-error', attrs: { role: 'alert', hidden: '' } });
  if (st.error) showInline(err, st.error);
  box.append(err);
  if (isManager(ctx)) {
    box.append(managerForm(ctx), managedList(ctx));
    if (st.selected) box.append(progressView(st.selected));
  } else {
    box.append(myTasks(ctx));
  }
  return box;
}

// ---------------------------------------------------------------------------------------------------
// Live feed

function ensureFeed(ctx: AdvisoryContext): void {
  const client = ctx.client();
  if (!client || st.feedOn === client) return;
  st.feedOn = client;
  st.live = false;
  const channel = `tasks.${ctx.user.id}`;
  client
    .subscribe(channel, (m) => onFeed(ctx, m))
    .then(() => {
      if (st.feedOn !== client) return;
      st.live = true;
      // Snapshot after the subscription is live: nothing falls in between.
      if (isManager(ctx)) void loadManaged(ctx).then(() => (st.selected ? loadProgress(ctx, st.selected) : undefined));
      else void loadMine(ctx);
    })
    .catch((e: unknown) => {
      if ((e as { code?: string }).code === 'QIAO_ALREADY_SUBSCRIBED') st.live = true;
      else if ((e as { code?: string }).code !== 'QIAO_UNAVAILABLE') st.error = e;
      ctx.rerender();
    });
}

function onFeed(ctx: AdvisoryContext, m: MsgPush): void {
  const p = (m.payload ?? {}) as Record<string, unknown>;
  if (m.kind === 'task.progress' && typeof p.taskId === 'string' && typeof p.brokerId === 'string' && typeof p.state === 'string') {
    const prog = st.progress.get(p.taskId);
    const a = prog?.assignments.find((x) => x.brokerId === p.brokerId);
    const state = p.state as TaskState;
    if (prog && a && RANK[state] > RANK[a.state]) {
      a.state = state;
      if (typeof p.note === 'string') a.note = p.note;
      if (typeof p.at === 'string') a.updatedAt = p.at;
      a.overdue = state !== 'done' && Date.parse(prog.task.dueAt) < Date.now();
    }
    const t = st.managed?.find((x) => x.id === p.taskId);
    if (t && prog) t.counts = countOf(prog.assignments);
    else scheduleRefresh(ctx);
    ctx.rerender();
  } else if (m.kind === 'task.created' || m.kind === 'task.assigned') {
    scheduleRefresh(ctx);
  }
}

function scheduleRefresh(ctx: AdvisoryContext): void {
  if (st.refreshTimer) clearTimeout(st.refreshTimer);
  st.refreshTimer = setTimeout(() => void (isManager(ctx) ? loadManaged(ctx) : loadMine(ctx)), 150);
}

function countOf(list: Assignment[]): Counts {
  const c: Counts = { delivered: 0, read: 0, accepted: 0, done: 0, overdue: 0, total: list.length };
  for (const a of list) {
    c[a.state]++;
    if (a.overdue) c.overdue++;
  }
  return c;
}

// ---------------------------------------------------------------------------------------------------
// Manager

function localInput(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

function managerForm(ctx: AdvisoryContext): HTMLElement {
  if (st.recipients === null) {
    void loadRecipients(ctx);
    return h('p', { class: 'adv-muted', text: '…' });
  }
  const f = st.form;
  if (!f.due) f.due = localInput(new Date(Date.now() + 24 * 3600_000));
  const title = h('input', { testid: 'task-title', attrs: { required: '', maxlength: '200' } });
  title.value = f.title;
  title.addEventListener('input', () => ((f.title = title.value), (st.formKey = randomKey())));
  const detail = h('textarea', { testid: 'task-detail', attrs: { maxlength: '4000', rows: '2' } });
  detail.value = f.detail;
  detail.addEventListener('input', () => ((f.detail = detail.value), (st.formKey = randomKey())));
  const due = h('input', { testid: 'task-due', attrs: { type: 'datetime-local', required: '' } });
  due.value = f.due;
  due.addEventListener('input', () => ((f.due = due.value), (st.formKey = randomKey())));
  const checks = <T extends { id: string }>(items: T[], set: Set<string>, testid: string, label: (x: T) => string) =>
    items.map((x) => {
      const input = h('input', { testid, attrs: { type: 'checkbox', value: x.id }, data: { id: x.id } });
      input.checked = set.has(x.id);
      input.addEventListener('change', () => {
        if (input.checked) set.add(x.id);
        else set.delete(x.id);
        st.formKey = randomKey();
      });
      return h('label', { class: 'adv-check' }, input, h('span', { text: label(x) }));
    });
  const err = h('p', { class: 'form__error', testid: 'task-form-error', attrs: { role: 'alert', hidden: '' } });
  if (st.formError) showInline(err, st.formError);
  const submit = h('button', { class: 'btn btn--primary', testid: 'task-submit', text: at('taskSubmit'), attrs: { type: 'submit' } });
  submit.disabled = st.sending;
  return h(
    'form',
    {
      class: 'adv-form',
      testid: 'task-form',
      on: {
        submit: (ev) => {
          ev.preventDefault();
          void createTask(ctx);
        },
      },
    },
    h('h3', { class: 'adv-subtitle', text: at('taskNew') }),
    h('label', { class: 'field adv-field' }, h('span', { class: 'field__label', text: at('taskName') }), title),
    h('label', { class: 'field adv-field' }, h('span', { class: 'field__label', text: at('taskDetail') }), detail),
    h('label', { class: 'field adv-field' }, h('span', { class: 'field__label', text: at('taskDue') }), due),
    h('fieldset', { class: 'adv-fieldset' }, h('legend', { text: at('taskTeams') }), ...checks(st.recipients.teams, f.teams, 'task-team', (x) => x.name)),
    h('fieldset', { class: 'adv-fieldset' }, h('legend', { text: at('taskBrokers') }), ...checks(st.recipients.brokers, f.brokers, 'task-broker', (x) => x.displayName)),
    err,
    submit,
  );
}

async function loadRecipients(ctx: AdvisoryContext): Promise<void> {
  try {
    st.recipients = (await call<Recipients>(ctx.token(), 'GET', '/api/tasks/recipients')).body;
  } catch (e) {
    st.recipients = { teams: [], brokers: [] };
    st.error = e;
  }
  ctx.rerender();
}

async function createTask(ctx: AdvisoryContext): Promise<void> {
  const f = st.form;
  st.formError = null;
  if (!f.teams.size && !f.brokers.size) {
    st.formError = new Error(at('taskPickRecipient'));
    return ctx.rerender();
  }
  const dueAt = new Date(f.due);
  const body: Record<string, unknown> = { title: f.title.trim(), detail: f.detail.trim(), dueAt: Number.isNaN(dueAt.getTime()) ? f.due : dueAt.toISOString() };
  if (f.teams.size) body.teamIds = [...f.teams];
  if (f.brokers.size) body.brokerIds = [...f.brokers];
  st.sending = true;
  ctx.rerender();
  try {
    const r = await call<{ task: TaskView; assignments: Assignment[] }>(ctx.token(), 'POST', '/api/tasks', body, { 'idempotency-key': st.formKey });
    st.form = { title: '', detail: '', due: '', teams: new Set(), brokers: new Set() };
    st.formKey = randomKey();
    st.selected = r.body.task.id;
    st.progress.set(r.body.task.id, { task: r.body.task, assignments: r.body.assignments });
    await loadManaged(ctx);
  } catch (e) {
    st.formError = e;
  } finally {
    st.sending = false;
    ctx.rerender();
  }
}

let managedLoading = false;

function managedList(ctx: AdvisoryContext): HTMLElement {
  const box = h('section', { class: 'adv-section', testid: 'task-list' }, h('h3', { class: 'adv-subtitle', text: at('taskList') }));
  if (st.managed === null) {
    if (!managedLoading) void loadManaged(ctx);
    return box;
  }
  if (st.managed.length === 0) box.append(h('p', { class: 'adv-muted', text: at('taskNone') }));
  for (const t of st.managed) {
    const c = t.counts;
    box.append(
      h(
        'button',
        {
          class: `adv-task${st.selected === t.id ? ' adv-task--selected' : ''}`,
          testid: 'task-row',
          data: { taskId: t.id },
          attrs: { type: 'button', 'aria-pressed': String(st.selected === t.id) },
          on: {
            click: () => {
              st.selected = t.id;
              ctx.rerender();
              void loadProgress(ctx, t.id);
            },
          },
        },
        h('span', { class: 'adv-task__title', text: t.title }),
        h('span', { class: 'adv-muted', text: `${at('taskDueAt')} ${formatTime(t.dueAt)}` }),
        h('span', { class: 'adv-counts', testid: 'task-counts', text: `${at('state_done')} ${c.done}/${c.total}${c.overdue ? ` · ${at('count_overdue')} ${c.overdue}` : ''}` }),
      ),
    );
  }
  return box;
}

async function loadManaged(ctx: AdvisoryContext): Promise<void> {
  managedLoading = true;
  try {
    st.managed = (await call<{ tasks: ManagedTask[] }>(ctx.token(), 'GET', '/api/tasks?mine=1')).body.tasks;
    // Counts of loaded progress tables are fresher (live) than a list read just before a change landed.
    for (const t of st.managed) {
      const p = st.progress.get(t.id);
      if (p) t.counts = countOf(p.assignments);
    }
  } catch (e) {
    st.managed = st.managed ?? [];
    st.error = e;
  } finally {
    managedLoading = false;
  }
  ctx.rerender();
}

async function loadProgress(ctx: AdvisoryContext, taskId: string): Promise<void> {
  try {
    const r = await call<Progress>(ctx.token(), 'GET', `/api/tasks/${taskId}/progress`);
    const known = st.progress.get(taskId);
    // Keep whichever is further along per broker: the snapshot or a live change that arrived meanwhile.
    if (known) {
      for (const a of r.body.assignments) {
        const k = known.assignments.find((x) => x.brokerId === a.brokerId);
        if (k && RANK[k.state] > RANK[a.state]) Object.assign(a, { state: k.state, note: k.note, updatedAt: k.updatedAt, overdue: k.overdue });
      }
    }
    st.progress.set(taskId, r.body);
    const t = st.managed?.find((x) => x.id === taskId);
    if (t) t.counts = countOf(r.body.assignments);
  } catch (e) {
    st.error = e;
  }
  ctx.rerender();
}

function progressView(taskId: string): HTMLElement {
  const p = st.progress.get(taskId);
  const box = h('section', { class: 'adv-section', testid: 'task-progress', data: { taskId } });
  if (!p) return box;
  const c = countOf(p.assignments);
  box.append(
    h(
      'div',
      { class: 'adv-head' },
      h('h3', { class: 'adv-subtitle', text: `${at('taskProgress')} · ${p.task.title}` }),
      st.live ? h('span', { class: 'badge badge--new', testid: 'task-live', text: at('taskLive') }) : null,
    ),
    h(
      'p',
      { class: 'adv-counts', testid: 'progress-counts' },
      STATES.map((s) => `${at(`state_${s}`)} ${c[s]}`).join(' · ') + (c.overdue ? ` · ${at('count_overdue')} ${c.overdue}` : ''),
    ),
  );
  const rows = p.assignments.map((a) =>
    h(
      'tr',
      { testid: 'progress-row', data: { brokerId: a.brokerId, state: a.state, overdue: String(a.overdue) } },
      h('td', { text: a.brokerName }),
      h(
        'td',
        {},
        h('span', { class: `badge adv-state adv-state--${a.state}`, testid: 'progress-state', text: atOr(`state_${a.state}`, a.state) }),
        a.overdue ? h('span', { class: 'badge adv-overdue', testid: 'progress-overdue', text: at('taskOverdue') }) : null,
      ),
      h('td', { testid: 'progress-note', text: a.note ?? '' }),
      h('td', {}, h('time', { class: 'msg__time', attrs: { datetime: a.updatedAt }, text: formatTime(a.updatedAt) })),
    ),
  );
  box.append(
    h(
      'table',
      { class: 'adv-table' },
      h('thead', {}, h('tr', {}, h('th', { text: at('colBroker') }), h('th', { text: at('colState') }), h('th', { text: at('colNote') }), h('th', { text: at('colUpdated') }))),
      h('tbody', {}, ...rows),
    ),
  );
  return box;
}

// ---------------------------------------------------------------------------------------------------
// Broker

function myTasks(ctx: AdvisoryContext): HTMLElement {
  const box = h('section', { class: 'adv-section', testid: 'my-tasks' }, h('div', { class: 'adv-head' }, h('h3', { class: 'adv-subtitle', text: at('taskMine') }), h('button', { class: 'btn btn--ghost', testid: 'tasks-refresh', text: at('refresh'), attrs: { type: 'button' }, on: { click: () => void loadMine(ctx) } })));
  if (st.mine === null) {
    if (!ctx.client()) void loadMine(ctx);
    return box;
  }
  if (st.mine.length === 0) box.append(h('p', { class: 'adv-muted', testid: 'tasks-empty', text: at('taskNone') }));
  for (const t of st.mine) box.append(myTask(ctx, t));
  return box;
}

function myTask(ctx: AdvisoryContext, t: MyTask): HTMLElement {
  const a = t.assignment;
  const busy = st.busy.has(t.id);
  const button = (action: 'read' | 'accept' | 'done', label: string, primary = false) => {
    const b = h('button', {
      class: `btn ${primary ? 'btn--primary' : 'btn--ghost'}`,
      testid: `task-${action}`,
      text: label,
      attrs: { type: 'button' },
      on: { click: () => void transition(ctx, t.id, action) },
    });
    b.disabled = busy;
    return b;
  };
  const actions = h('div', { class: 'adv-row' });
  if (a.state === 'delivered') actions.append(button('read', at('taskRead')));
  if (a.state === 'delivered' || a.state === 'read') actions.append(button('accept', at('taskAccept'), true));
  if (a.state === 'accepted') {
    const note = h('input', { testid: 'task-note', attrs: { maxlength: '2000', placeholder: at('taskNote') } });
    note.value = st.notes.get(t.id) ?? '';
    note.addEventListener('input', () => st.notes.set(t.id, note.value));
    actions.append(note, button('done', at('taskDone'), true));
  }
  return h(
    'article',
    { class: 'adv-card', testid: 'my-task', data: { taskId: t.id, state: a.state, overdue: String(a.overdue) } },
    h(
      'div',
      { class: 'adv-card__head' },
      h('strong', { class: 'adv-card__title', testid: 'my-task-title', text: t.title }),
      h('span', { class: `badge adv-state adv-state--${a.state}`, testid: 'my-task-state', text: atOr(`state_${a.state}`, a.state) }),
      a.overdue ? h('span', { class: 'badge adv-overdue', text: at('taskOverdue') }) : null,
    ),
    t.detail ? h('p', { class: 'adv-text', text: t.detail }) : null,
    h('p', { class: 'adv-muted', text: `${at('taskFrom')}: ${t.managerName} · ${at('taskDueAt')} ${formatTime(t.dueAt)}` }),
    a.note ? h('p', { class: 'adv-text', testid: 'my-task-note', text: a.note }) : null,
    actions,
  );
}

async function loadMine(ctx: AdvisoryContext): Promise<void> {
  try {
    st.mine = (await call<{ tasks: MyTask[] }>(ctx.token(), 'GET', '/api/tasks?mine=1')).body.tasks;
  } catch (e) {
    st.mine = st.mine ?? [];
    st.error = e;
  }
  ctx.rerender();
}

async function transition(ctx: AdvisoryContext, taskId: string, action: 'read' | 'accept' | 'done'): Promise<void> {
  const note = (st.notes.get(taskId) ?? '').trim();
  if (action === 'done' && !note) {
    st.error = new Error(at('taskNoteRequired'));
    return ctx.rerender();
  }
  st.busy.add(taskId);
  st.error = null;
  ctx.rerender();
  try {
    const r = await call<{ changed: boolean; assignment: Assignment }>(ctx.token(), 'POST', `/api/tasks/${taskId}/${action}`, action === 'done' ? { note } : {});
    const t = st.mine?.find((x) => x.id === taskId);
    if (t) t.assignment = { ...t.assignment, ...r.body.assignment };
  } catch (e) {
    st.error = e;
  } finally {
    st.busy.delete(taskId);
    ctx.rerender();
  }
}
