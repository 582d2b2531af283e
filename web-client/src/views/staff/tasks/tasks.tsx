/**
 * 任务 / Tasks (`/tasks`): managers and admin send tasks and follow their progress; brokers see the
 * tasks sent to them and accept and complete them.
 */
import { role } from '../../../app/session.ts';
import { t } from '../../../i18n/i18n.ts';
import { Page } from '../../../ui/ui.tsx';
import { ManagedTasks } from './managed-tasks.tsx';
import { MyTasks } from './my-tasks.tsx';

export function TasksView() {
  const broker = role.value === 'broker';
  return (
    <Page title={t('desk_tasksTitle')} hint={broker ? t('desk_tasksHintBroker') : t('desk_tasksHintManager')} testid="tasks-view">
      {broker ? <MyTasks /> : <ManagedTasks />}
    </Page>
  );
}
