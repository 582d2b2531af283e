/**
 * A broker's tasks: each task sent to me with who sent it, the due time (Asia/Shanghai) and my state;
 * accept it, then mark it done with a note (POST /api/tasks/:id/accept | done). New tasks arrive live.
 */
import { useState } from 'preact/hooks';
import { api, call } from '../../../api/api.ts';
import { t } from '../../../i18n/i18n.ts';
import { Button, Empty, ErrorText, Loading, Panel, Time } from '../../../ui/ui.tsx';
import { useLoad } from '../../../ui/use-load.ts';
import { useTaskFeed } from './task-feed.ts';
import { StateBadge, type TaskItem } from './task-state.tsx';

function MyTask(props: { task: TaskItem; onChanged(a: NonNullable<TaskItem['assignment']>): void }) {
  const { task } = props;
  const a = task.assignment ?? {};
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const id = task.id!;
  const noteId = `task-note-${id}`;

  const act = async (action: 'accept' | 'done') => {
    setError(null);
    if (action === 'done' && !note.trim()) return setError({ message: t('desk_taskNoteRequired') });
    setBusy(true);
    try {
      const r =
        action === 'done'
          ? await call(api.POST('/api/tasks/{id}/done', { params: { path: { id } }, body: { note: note.trim() } }))
          : await call(api.POST('/api/tasks/{id}/accept', { params: { path: { id } }, body: {} }));
      if (r.assignment) props.onChanged(r.assignment);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <article class="desk-card" data-testid="my-task" data-task-id={id} data-state={a.state} data-overdue={String(!!a.overdue)}>
      <div class="desk-card__head">
        <h3 class="desk-card__title" data-testid="my-task-title">
          {task.title}
        </h3>
        <StateBadge state={a.state} overdue={a.overdue} testid="my-task-state" />
      </div>
      {task.detail ? <p class="desk-text">{task.detail}</p> : null}
      <p class="desk-muted">
        {`${t('desk_taskFrom', { name: task.managerName ?? '' })} · ${t('desk_taskDueAt')} `}
        <Time at={task.dueAt} testid="my-task-due" />
      </p>
      {a.note ? (
        <p class="desk-text" data-testid="my-task-note">
          {a.note}
        </p>
      ) : null}
      <ErrorText error={error} testid="my-task-error" />
      <div class="desk-actions">
        {a.state === 'delivered' || a.state === 'read' ? (
          <Button variant="primary" testid="task-accept" disabled={busy} onClick={() => void act('accept')}>
            {t('desk_taskAccept')}
          </Button>
        ) : null}
        {a.state === 'accepted' ? (
          <>
            <label class="sr-only" for={noteId}>
              {t('desk_taskNote')}
            </label>
            <input id={noteId} class="desk-input" data-testid="task-note" value={note} maxLength={2000} placeholder={t('desk_taskNote')} onInput={(e) => setNote(e.currentTarget.value)} />
            <Button variant="primary" testid="task-done" disabled={busy} onClick={() => void act('done')}>
              {t('desk_taskDone')}
            </Button>
          </>
        ) : null}
      </div>
    </article>
  );
}

export function MyTasks() {
  const feed = useTaskFeed();
  const tasks = useLoad(async () => (await call(api.GET('/api/tasks', { params: { query: { mine: '1' } } }))).tasks ?? [], [feed.tick]);
  const list = tasks.data ?? [];
  return (
    <Panel
      title={t('desk_taskMine')}
      testid="my-tasks"
      actions={
        <Button variant="ghost" testid="tasks-refresh" onClick={tasks.reload} disabled={tasks.loading}>
          {t('desk_refresh')}
        </Button>
      }
    >
      <div class="desk-pad">
        <ErrorText error={tasks.error} testid="tasks-error" />
        {tasks.loading && !tasks.data ? <Loading /> : null}
        {tasks.data && !list.length ? <Empty text={t('desk_taskNone')} testid="tasks-empty" /> : null}
        {list.map((x) => (
          <MyTask key={x.id} task={x} onChanged={(a) => tasks.set((cur) => (cur ?? []).map((y) => (y.id === x.id ? { ...y, assignment: { ...y.assignment, ...a } } : y)))} />
        ))}
      </div>
    </Panel>
  );
}
