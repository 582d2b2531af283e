/**
 * Team channel: `team.<teamId>`. Members of the team (brokers and its manager) subscribe, as do
 * compliance and admin; the team's manager and admin publish.
 */
import { DAY_MS, UUID_RE, type ChannelFamily } from './family.ts';
import { NoticePayload, kind } from './payloads.ts';

const RE = new RegExp(`^team\\.(${UUID_RE})$`);

export const team: ChannelFamily<'team'> = {
  family: 'team',
  description: { zh: '团队频道', en: 'Team channel' },
  parse(name) {
    const m = RE.exec(name);
    return m ? { name, family: 'team', parts: { teamId: m[1] } } : null;
  },
  title() {
    return { zh: '我的团队', en: 'My team' };
  },
  async canSubscribe(p, ch) {
    if (p.role === 'admin' || p.role === 'compliance') return null;
    if ((p.role === 'broker' || p.role === 'manager') && p.teamId === ch.parts.teamId) return null;
    return 'QIAO_SUBSCRIBE_FORBIDDEN';
  },
  async canPublish(p, ch) {
    if (p.role === 'admin') return null;
    if (p.role === 'manager' && p.teamId === ch.parts.teamId) return null;
    return 'QIAO_PUBLISH_FORBIDDEN';
  },
  kinds: { notice: kind(NoticePayload) },
  historySize: 200,
  historyTtlMs: 30 * DAY_MS,
  retentionDays: 20 * 365,
  retentionClass: 'staff-communications',
  recipients: { kind: 'team', roles: ['broker', 'manager'] },
  delivery: {
    preferenceCategory: true,
    defaultTransports: { web: true, inbox: true, email: false, push: true, sms: false },
    criticalSms: false,
    categoryByKind: {},
    pushUrgency: 'normal',
  },
  listFor(p) {
    return (p.role === 'broker' || p.role === 'manager') && p.teamId
      ? [{ name: `team.${p.teamId}`, family: 'team', parts: { teamId: p.teamId } }]
      : [];
  },
};
