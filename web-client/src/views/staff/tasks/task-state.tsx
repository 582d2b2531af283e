/** Task types from the API, and a recipient's state as a badge. */
import type { Answer } from '../../../api/api.ts';
import { t, tOr } from '../../../i18n/i18n.ts';

export type TaskItem = NonNullable<Answer<'/api/tasks', 'get'>['tasks']>[number];
export type Progress = Answer<'/api/tasks/{id}/progress', 'get'>;
export type Assignment = NonNullable<Progress['assignments']>[number];
export type Recipients = Answer<'/api/tasks/recipients', 'get'>;

export const STATES = ['delivered', 'read', 'accepted', 'done'] as const;

export function StateBadge(props: { state: string | undefined; overdue?: boolean; testid?: string }) {
  const s = props.state ?? 'delivered';
  return (
    <>
      <span class={`badge desk-state desk-state--${s}`} data-testid={props.testid} data-state={s}>
        {tOr(`desk_state_${s}`, s)}
      </span>
      {props.overdue ? <span class="badge desk-overdue">{t('desk_overdue')}</span> : null}
    </>
  );
}
