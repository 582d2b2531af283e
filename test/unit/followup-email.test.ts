/** Follow-up and survey notices by email: titled and explained in the recipient's language from ids and names. */
import { describe, expect, it } from 'vitest';
import { renderMessageEmail, type MessageForMail } from '../../workers/templates/render.ts';

const uid = '6f1c0000-0000-4000-8000-000000000002';
const msg = (kind: string, payload: Record<string, unknown>): MessageForMail => ({
  id: '6f1c0000-0000-4000-8000-000000000001',
  channel: `inbox.${uid}`,
  kind,
  payload,
  senderName: '客户回访 Follow-ups',
  publishedAt: new Date('2026-11-27T02:00:00Z'),
});
const ctx = { lang: 'zh-CN' as const, recipientName: '钱客服', timeZone: 'Asia/Shanghai', publicUrl: 'https://qiao.example' };

describe('follow-up and survey emails', () => {
  it('an overdue follow-up: Chinese and English subjects with the client and the due time in Beijing time', () => {
    const m = msg('followup', { followupId: uid, event: 'overdue', clientName: '周先生', dueAt: '2026-11-30T02:00:00.000Z' });
    const zh = renderMessageEmail(m, ctx);
    expect(zh.subject).toBe('[客户回访] 客户回访已逾期：周先生');
    expect(zh.text).toContain('2026');
    expect(zh.text).toContain('10:00');
    const en = renderMessageEmail(m, { ...ctx, lang: 'en' });
    expect(en.subject).toBe('[Follow-up] Follow-up with 周先生 is overdue');
    expect(en.text).toContain('promise no returns');
  });

  it('a survey names the broker and escapes names in HTML', () => {
    const m = msg('survey', { surveyId: uid, brokerName: '王<b>经纪</b>', conversationId: uid });
    const zh = renderMessageEmail(m, ctx);
    expect(zh.subject).toBe('[满意度调查] 请为 王<b>经纪</b> 的服务评分');
    expect(zh.html).not.toContain('<b>经纪</b>');
    expect(renderMessageEmail(m, { ...ctx, lang: 'en' }).subject).toBe('[Satisfaction survey] How was the service of 王<b>经纪</b>?');
  });
});
