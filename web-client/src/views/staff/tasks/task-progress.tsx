/**
 * One task's progress for its manager (GET /api/tasks/:id/progress): counts per state and each
 * recipient's state, overdue mark, note and last change. Reloaded when the task feed reports a change.
 */
import { api, call } from '../../../api/api.ts';
import { t } from '../../../i18n/i18n.ts';
import { ErrorText, Loading, Panel, Time } from '../../../ui/ui.tsx';
import { useLoad } from '../../../ui/use-load.ts';
import { STATES, StateBadge } from './task-state.tsx';

export function TaskProgress(props: { taskId: string; tick: number; live: boolean }) {
  const p = useLoad(() => call(api.GET('/api/tasks/{id}/progress', { params: { path: { id: props.taskId } } })), [props.taskId, props.tick]);
  const data = p.data;
  const rows = data?.assignments ?? [];
  const counts = data?.counts ?? {};
  return (
    <Panel
      title={data?.task?.title ? t('desk_taskProgressOf', { title: data.task.title }) : t('desk_taskProgress')}
      testid="task-progress"
      actions={
        props.live ? (
          <span class="badge badge--new" data-testid="task-live">
            {t('desk_live')}
          </span>
        ) : null
      }
    >
      <div class="desk-pad" data-task-id={props.taskId}>
        <ErrorText error={p.error} testid="task-progress-error" />
        {p.loading && !data ? <Loading /> : null}
        {data ? (
          <p class="desk-counts" data-testid="progress-counts" aria-live="polite">
            {STATES.map((s) => (
              <span key={s} data-testid={`progress-count-${s}`} data-n={String(counts[s] ?? 0)}>
                {`${t(`desk_state_${s}`)} ${counts[s] ?? 0}`}
              </span>
            ))}
            <span data-testid="progress-count-total" data-n={String(counts.total ?? rows.length)}>{t('desk_taskTotal', { n: counts.total ?? rows.length })}</span>
            {counts.overdue ? <span class="desk-overdue-text">{`${t('desk_overdue')} ${counts.overdue}`}</span> : null}
          </p>
        ) : null}
        {rows.length ? (
          <table class="table desk-table">
            <caption class="sr-only">{t('desk_taskProgress')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('desk_colBroker')}</th>
                <th scope="col">{t('desk_colState')}</th>
                <th scope="col">{t('desk_colNote')}</th>
                <th scope="col">{t('desk_colUpdated')}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((a) => (
                <tr key={a.brokerId} data-testid="progress-row" data-broker-id={a.brokerId} data-state={a.state} data-overdue={String(!!a.overdue)}>
                  <td>{a.brokerName}</td>
                  <td>
                    <StateBadge state={a.state} overdue={a.overdue} testid="progress-state" />
                  </td>
                  <td data-testid="progress-note">{a.note ?? ''}</td>
                  <td>
                    <Time at={a.updatedAt} short />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </div>
    </Panel>
  );
}
