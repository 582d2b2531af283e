/**
 * Firm-wide broadcast: `firm.broadcast`. Everyone subscribes; admin publishes, and every publication
 * waits for a compliance user's approval before it is delivered (src/advisory/approvals.ts).
 */
import { DAY_MS, type ChannelFamily } from './family.ts';
import { NoticePayload, kind } from './payloads.ts';

export const firm: ChannelFamily<'firm'> = {
  family: 'firm',
  description: { zh: '全公司公告', en: 'Firm-wide broadcast' },
  parse(name) {
    return name === 'firm.broadcast' ? { name, family: 'firm', parts: {} } : null;
  },
  title() {
    return { zh: '公司公告', en: 'Firm announcements' };
  },
  async canSubscribe(p) {
    return p.role === 'feed' ? 'QIAO_SUBSCRIBE_FORBIDDEN' : null;
  },
  async canPublish(p) {
    return p.role === 'admin' ? null : 'QIAO_PUBLISH_FORBIDDEN';
  },
  kinds: { notice: kind(NoticePayload) },
  historySize: 100,
  historyTtlMs: 30 * DAY_MS,
  retentionDays: 20 * 365,
  retentionClass: 'staff-communications',
  recipients: { kind: 'sender-firm' },
  delivery: {
    preferenceCategory: true,
    defaultTransports: { web: true, inbox: true, email: false, push: false, sms: false },
    criticalSms: false,
    categoryByKind: {},
    pushUrgency: 'normal',
  },
  requiresApproval: true,
  listFor(p) {
    return p.role === 'feed' ? [] : [{ name: 'firm.broadcast', family: 'firm', parts: {} }];
  },
};
