/**
 * Task feed: `tasks.<userId>`, the live side of team tasks (src/advisory/tasks.ts). A manager's feed
 * carries `task.created` and every recipient's `task.progress`; a broker's feed carries
 * `task.assigned`. Its owner subscribes (compliance and admin may read). Nobody publishes with a
 * publish command: every event is written by the task service together with the state it reports, so
 * a reconnect with `since` replays exactly the changes missed. The tasks themselves stay in Postgres.
 */
import { DAY_MS, UUID_RE, type ChannelFamily } from './family.ts';
import { TaskCreatedPayload, TaskPayload, TaskProgressPayload, kind } from './payloads.ts';

const RE = new RegExp(`^tasks\\.(${UUID_RE})$`);

export const tasks: ChannelFamily<'tasks'> = {
  family: 'tasks',
  description: { zh: '任务动态', en: 'Task feed' },
  parse(name) {
    const m = RE.exec(name);
    return m ? { name, family: 'tasks', parts: { userId: m[1] } } : null;
  },
  title() {
    return { zh: '任务动态', en: 'Task feed' };
  },
  async canSubscribe(p, ch) {
    if (p.id === ch.parts.userId && p.role !== 'feed') return null;
    return p.role === 'compliance' || p.role === 'admin' ? null : 'QIAO_SUBSCRIBE_FORBIDDEN';
  },
  async canPublish() {
    return 'QIAO_PUBLISH_FORBIDDEN';
  },
  kinds: {
    'task.created': kind(TaskCreatedPayload, { internal: true }),
    'task.assigned': kind(TaskPayload, { internal: true }),
    'task.progress': kind(TaskProgressPayload, { internal: true }),
  },
  historySize: 500,
  historyTtlMs: 30 * DAY_MS,
  retentionDays: 5 * 365,
  retentionClass: 'tasks',
  recipients: { kind: 'none' },
  delivery: {
    preferenceCategory: false,
    // Live only (recipients 'none'), so these never apply today; they are the general defaults.
    defaultTransports: { web: true, inbox: true, email: false, push: false, sms: false },
    criticalSms: false,
    categoryByKind: {},
    pushUrgency: 'normal',
  },
  // Not in the channel list: the task views subscribe to it themselves.
  listFor() {
    return [];
  },
};
