/**
 * A client's own account: `account.<clientId>`. Order fills and rejections (成交回报), margin calls
 * (追加保证金), forced-liquidation warnings, funds in and out, and the corporate actions of what the
 * client holds or watches. Published only by the server after ingest from the trading and
 * back-office systems (src/account/), so every kind is internal. Only the client subscribes; their
 * brokers read the feed through GET /api/clients/:id/account-events (same scoping as conversations).
 * Client communications: kept 20 years.
 */
import { kind } from './payloads.ts';
import {
  CorporateActionPayload,
  CorporateActionReminderPayload,
  FundsPayload,
  LiquidationWarningPayload,
  MarginCallPayload,
  OrderEventPayload,
} from './account-payloads.ts';
import { DAY_MS, UUID_RE, type ChannelFamily } from './family.ts';

const RE = new RegExp(`^account\\.(${UUID_RE})$`);

export function accountChannel(clientId: string): string {
  return `account.${clientId}`;
}

/**
 * Kinds that must reach the client whatever their settings: their payloads say severity 'critical'
 * with topic 'margin' / 'risk', which routing treats as critical (bypass quiet hours, mute and
 * digests; push even while online). SMS (issue 12, SMS part): these are the kinds to send by SMS.
 */
export const ACCOUNT_CRITICAL_KINDS = ['margin-call', 'liquidation-warning'] as const;

export const account: ChannelFamily<'account'> = {
  family: 'account',
  description: { zh: '账户动态', en: 'Account events' },
  parse(name) {
    const m = RE.exec(name);
    // `userId`: the owner, so the 'owner' recipient rule and the archive's subject work unchanged.
    return m ? { name, family: 'account', parts: { userId: m[1] } } : null;
  },
  title() {
    return { zh: '我的账户动态', en: 'My account events' };
  },
  async canSubscribe(p, ch) {
    return p.id === ch.parts.userId ? null : 'QIAO_SUBSCRIBE_FORBIDDEN';
  },
  async canPublish() {
    // Ingest only (src/routes/account-ingest.routes.ts), never a publish command.
    return 'QIAO_PUBLISH_FORBIDDEN';
  },
  kinds: {
    order: kind(OrderEventPayload, { internal: true }),
    'margin-call': kind(MarginCallPayload, { internal: true }),
    'liquidation-warning': kind(LiquidationWarningPayload, { internal: true }),
    funds: kind(FundsPayload, { internal: true }),
    'corporate-action': kind(CorporateActionPayload, { internal: true }),
    'corporate-action-reminder': kind(CorporateActionReminderPayload, { internal: true }),
  },
  historySize: 200,
  historyTtlMs: 7 * DAY_MS,
  retentionDays: 20 * 365,
  retentionClass: 'client-communications',
  recipients: { kind: 'owner' },
  delivery: {
    preferenceCategory: true,
    // Fills are frequent: live and inbox by default, push for what the client cannot miss. SMS costs
    // money and is off by default; the critical kinds (ACCOUNT_CRITICAL_KINDS: margin call, forced
    // liquidation) go by SMS and push whatever this says, unless the client turned SMS off here.
    defaultTransports: { web: true, inbox: true, email: false, push: true, sms: false },
    criticalSms: true,
    categoryByKind: {},
    pushUrgency: 'normal',
  },
  listFor(p) {
    return p.role === 'client' ? [{ name: accountChannel(p.id), family: 'account', parts: { userId: p.id } }] : [];
  },
};
