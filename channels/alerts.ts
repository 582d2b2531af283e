/**
 * Market alerts: `alerts.market` (market-wide) and `alerts.<symbol>` (e.g. `alerts.600519.SH`).
 * Anyone logged in may subscribe; only the market-data feed (API key) and admin publish.
 */
import { DAY_MS, SYMBOL_RE, type ChannelFamily, type ParsedChannel } from './family.ts';
import { AlertPayload, kind } from './payloads.ts';

export const alerts: ChannelFamily<'alerts'> = {
  family: 'alerts',
  description: { zh: '行情提醒', en: 'Market alerts' },
  parse(name): ParsedChannel | null {
    if (name === 'alerts.market') return { name, family: 'alerts', parts: { scope: 'market' } };
    const m = /^alerts\.(.+)$/.exec(name);
    if (!m || !SYMBOL_RE.test(m[1])) return null;
    return { name, family: 'alerts', parts: { symbol: m[1] } };
  },
  title(ch) {
    return ch.parts.symbol
      ? { zh: `个股提醒 · ${ch.parts.symbol}`, en: `Alerts · ${ch.parts.symbol}` }
      : { zh: '市场提醒', en: 'Market-wide alerts' };
  },
  async canSubscribe() {
    return null;
  },
  async canPublish(p) {
    return p.role === 'feed' || p.role === 'admin' ? null : 'QIAO_PUBLISH_FORBIDDEN';
  },
  kinds: { alert: kind(AlertPayload) },
  historySize: 100,
  historyTtlMs: 1 * DAY_MS,
  retentionDays: 5 * 365,
  retentionClass: 'market-alerts',
  recipients: { kind: 'subscribers', tierGated: false },
  delivery: {
    preferenceCategory: true,
    defaultTransports: { web: true, inbox: true, email: false, push: true, sms: false },
    criticalSms: false,
    categoryByKind: {},
    pushUrgency: 'normal',
  },
  listFor() {
    return [{ name: 'alerts.market', family: 'alerts', parts: { scope: 'market' } }];
  },
};
