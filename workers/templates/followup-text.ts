/**
 * Follow-up (客户回访) and satisfaction-survey (满意度调查) notices in email and push, in the
 * recipient's language: their payloads carry ids and names only (channels/payloads.ts), so the words
 * are written here.
 */
import type { Lang } from './strings.ts';

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

function shanghai(isoTime: string, lang: Lang): string {
  const d = new Date(isoTime);
  if (!Number.isFinite(d.getTime())) return isoTime;
  return new Intl.DateTimeFormat(lang, { timeZone: 'Asia/Shanghai', dateStyle: 'medium', timeStyle: 'short' }).format(d);
}

export function followupContent(p: Record<string, unknown>, lang: Lang): { title: string; body: string; fields: Array<{ label: string; value: string }> } {
  const en = lang === 'en';
  const client = str(p.clientName);
  const overdue = p.event === 'overdue';
  const title = en
    ? overdue
      ? `Follow-up with ${client} is overdue`
      : `New follow-up: ${client}`
    : overdue
      ? `客户回访已逾期：${client}`
      : `新的客户回访：${client}`;
  const body = en
    ? 'Confirm identity, explain the risk level and products, promise no returns and tell the complaint channel; record the outcome in Qiao.'
    : '请核实身份、说明风险等级与产品、不承诺收益并告知投诉渠道，在 Qiao 中记录回访结果。';
  return { title, body, fields: typeof p.dueAt === 'string' ? [{ label: en ? 'Due' : '应完成', value: shanghai(p.dueAt, lang) }] : [] };
}

export function surveyContent(p: Record<string, unknown>, lang: Lang): { title: string; body: string; fields: Array<{ label: string; value: string }> } {
  const broker = str(p.brokerName);
  return lang === 'en'
    ? { title: `How was the service of ${broker}?`, body: 'Rate it from 1 to 5 in your Qiao inbox; a comment is welcome.', fields: [] }
    : { title: `请为 ${broker} 的服务评分`, body: '请在 Qiao 消息中心为本次服务打分（1–5 分），欢迎留下意见。', fields: [] };
}
