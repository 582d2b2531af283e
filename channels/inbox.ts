/**
 * Personal inbox: `inbox.<userId>`. Only its owner subscribes. Admin, and a broker for its own
 * assigned clients (forwarded research, notices), may publish. Recommendations and task notices are
 * published by the server only, after the recommendation and task services' checks.
 */
import { DAY_MS, UUID_RE, type ChannelFamily } from './family.ts';
import { AlertPayload, ComplaintPayload, FollowupPayload, NoticePayload, RecommendationPayload, ReminderPayload, ResearchNotePayload, SurveyPayload, TaskPayload, kind } from './payloads.ts';

const RE = new RegExp(`^inbox\\.(${UUID_RE})$`);

export const inbox: ChannelFamily<'inbox'> = {
  family: 'inbox',
  description: { zh: '个人消息', en: 'Personal inbox' },
  parse(name) {
    const m = RE.exec(name);
    return m ? { name, family: 'inbox', parts: { userId: m[1] } } : null;
  },
  title() {
    return { zh: '我的消息', en: 'My inbox' };
  },
  async canSubscribe(p, ch) {
    return p.id === ch.parts.userId ? null : 'QIAO_SUBSCRIBE_FORBIDDEN';
  },
  async canPublish(p, ch, ctx) {
    if (p.role === 'admin') return null;
    if (p.role === 'broker' && (await ctx.isBrokerOf(p.id, ch.parts.userId))) return null;
    return 'QIAO_PUBLISH_FORBIDDEN';
  },
  kinds: {
    notice: kind(NoticePayload),
    'research-forward': kind(ResearchNotePayload),
    // Only through POST /api/recommendations (suitability gate) and POST /api/tasks.
    recommendation: kind(RecommendationPayload, { internal: true }),
    task: kind(TaskPayload, { internal: true }),
    // A personal market alert: a price alert that fired (src/domain/alert-engine.ts).
    alert: kind(AlertPayload, { internal: true }),
    // A complaint's steps, to its client and its handlers (src/service/complaints.ts).
    complaint: kind(ComplaintPayload, { internal: true }),
    // A work reminder (工作提醒) that fell due: only the reminder sweep (src/service/reminder-sweep.ts).
    reminder: kind(ReminderPayload, { internal: true }),
    // Follow-ups (客户回访) and satisfaction surveys (满意度调查): src/service/followups.ts, surveys.ts.
    followup: kind(FollowupPayload, { internal: true }),
    survey: kind(SurveyPayload, { internal: true }),
  },
  historySize: 200,
  historyTtlMs: 30 * DAY_MS,
  retentionDays: 20 * 365,
  retentionClass: 'client-communications',
  recipients: { kind: 'owner' },
  delivery: {
    preferenceCategory: true,
    defaultTransports: { web: true, inbox: true, email: true, push: true, sms: false },
    criticalSms: true,
    categoryByKind: { alert: 'alerts', 'research-forward': 'research' },
    pushUrgency: 'normal',
  },
  listFor(p) {
    return p.role === 'feed' ? [] : [{ name: `inbox.${p.id}`, family: 'inbox', parts: { userId: p.id } }];
  },
};
