/**
 * A manager's tasks: the send form, the tasks sent with done/total counts, and the progress of the
 * chosen one. The list and the progress follow the manager's task feed live.
 */
import { useState } from 'preact/hooks';
import { api, call } from '../../../api/api.ts';
import { t } from '../../../i18n/i18n.ts';
import { Empty, ErrorText, Loading, Panel, Time } from '../../../ui/ui.tsx';
import { useLoad } from '../../../ui/use-load.ts';
import { useTaskFeed } from './task-feed.ts';
import { TaskForm } from './task-form.tsx';
import { TaskProgress } from './task-progress.tsx';

export function ManagedTasks() {
  const feed = useTaskFeed();
  const [created, setCreated] = useState(0);
  const tasks = useLoad(async () => (await call(api.GET('/api/tasks', { params: { query: { mine: '1' } } }))).tasks ?? [], [feed.tick, created]);
  const [selected, setSelected] = useState<string | null>(null);
  const list = tasks.data ?? [];
  const chosen = selected ?? list[0]?.id ?? null;

  return (
    <>
      <TaskForm
        onCreated={(id) => {
          setSelected(id);
          setCreated((n) => n + 1);
        }}
      />
      <div class="desk-split desk-split--tasks">
        <Panel title={t('desk_taskList')} testid="task-list">
          <ErrorText error={tasks.error} testid="task-list-error" />
          {tasks.loading && !tasks.data ? <Loading /> : null}
          {tasks.data && !list.length ? <Empty text={t('desk_taskNone')} testid="task-list-empty" /> : null}
          <ul class="desk-list">
            {list.map((x) => {
              const c = x.counts ?? {};
              const on = x.id === chosen;
              return (
                <li key={x.id}>
                  <button type="button" class={`desk-task${on ? ' desk-task--on' : ''}`} data-testid="task-row" data-task-id={x.id} aria-pressed={on} onClick={() => setSelected(x.id!)}>
                    <span class="desk-task__title" data-testid="task-row-title">
                      {x.title}
                    </span>
                    <span class="desk-muted">
                      {t('desk_taskDueAt')} <Time at={x.dueAt} short />
                    </span>
                    <span class="desk-counts" data-testid="task-counts" data-done={String(c.done ?? 0)} data-total={String(c.total ?? 0)}>
                      {t('desk_doneOf', { done: c.done ?? 0, total: c.total ?? 0 })}
                      {c.overdue ? ` · ${t('desk_overdue')} ${c.overdue}` : ''}
                    </span>
                  </button>
                </li>
              );
            })}
          </ul>
        </Panel>
        {chosen ? <TaskProgress taskId={chosen} tick={feed.tick + created} live={feed.live} /> : null}
      </div>
    </>
  );
}
