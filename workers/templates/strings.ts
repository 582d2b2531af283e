/** Email wording in Simplified Chinese and English. Plain strings; render.ts escapes them for HTML. */

export type Lang = 'zh-CN' | 'en';

/** Users' locale column → the language we write in (Chinese unless the user chose English). */
export function langOf(locale: string | null | undefined): Lang {
  return locale?.toLowerCase().startsWith('en') ? 'en' : 'zh-CN';
}

export interface Strings {
  brand: string;
  greeting: (name: string) => string;
  prefix: Record<string, string>;
  important: string;
  published: string;
  channel: string;
  tickers: string;
  riskLevel: string;
  riskNames: Record<string, string>;
  symbol: string;
  price: string;
  from: string;
  forwarded: string;
  open: string;
  researchDisclaimer: string;
  footer: string;
  /** Name of the settings page; the footer contains it, linked to `<publicUrl>/settings/notifications`. */
  settings: string;
  ackRequest: string;
  digestSubject: (n: number) => string;
  digestIntro: (n: number) => string;
  newMessage: (sender: string) => string;
}

export const STRINGS: Record<Lang, Strings> = {
  'zh-CN': {
    brand: '桥 Qiao',
    greeting: (n) => `${n}，您好：`,
    prefix: { note: '研究报告', 'research-forward': '研究报告转发', alert: '行情提醒', notice: '通知', chat: '新消息', reminder: '工作提醒', followup: '客户回访', survey: '满意度调查' },
    important: '重要',
    published: '发布时间',
    channel: '频道',
    tickers: '相关证券',
    riskLevel: '风险等级',
    riskNames: { R1: 'R1 低风险', R2: 'R2 中低风险', R3: 'R3 中风险', R4: 'R4 中高风险', R5: 'R5 高风险' },
    symbol: '证券代码',
    price: '价格',
    from: '发送人',
    forwarded: '您的客户经理为您转发了一篇研究报告。',
    open: '在桥中查看',
    researchDisclaimer: '本报告仅供参考，不构成任何投资建议。投资有风险，入市需谨慎。',
    footer: '您收到此邮件是因为您在桥中开启了邮件通知。可在“通知设置”中修改。',
    settings: '通知设置',
    ackRequest: '请尽快阅读并确认此通知。',
    digestSubject: (n) => `[桥] 消息摘要（${n} 条）`,
    digestIntro: (n) => `以下是您的 ${n} 条新消息：`,
    newMessage: (s) => `${s} 给您发来一条消息`,
  },
  en: {
    brand: 'Qiao 桥',
    greeting: (n) => `Dear ${n},`,
    prefix: { note: 'Research', 'research-forward': 'Research forwarded', alert: 'Market alert', notice: 'Notice', chat: 'New message', reminder: 'Reminder', followup: 'Follow-up', survey: 'Satisfaction survey' },
    important: 'Important',
    published: 'Published',
    channel: 'Channel',
    tickers: 'Securities',
    riskLevel: 'Risk level',
    riskNames: { R1: 'R1 low', R2: 'R2 medium-low', R3: 'R3 medium', R4: 'R4 medium-high', R5: 'R5 high' },
    symbol: 'Symbol',
    price: 'Price',
    from: 'From',
    forwarded: 'Your account manager forwarded a research note to you.',
    open: 'Open in Qiao',
    researchDisclaimer: 'For information only; this is not investment advice. Investing involves risk.',
    footer: 'You receive this email because email notifications are on in Qiao. Change them under Notification settings.',
    settings: 'Notification settings',
    ackRequest: 'Please read and acknowledge this notice.',
    digestSubject: (n) => `[Qiao] Your digest (${n} ${n === 1 ? 'message' : 'messages'})`,
    digestIntro: (n) => `Here ${n === 1 ? 'is 1 new message' : `are ${n} new messages`}:`,
    newMessage: (s) => `${s} sent you a message`,
  },
};
