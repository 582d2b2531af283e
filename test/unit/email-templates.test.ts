/** Email templates: both languages, both bodies, HTML escaping, digests. */
import { describe, expect, it } from 'vitest';
import { escapeHtml, renderDigestEmail, renderMessageEmail, type MessageForMail } from '../../workers/templates/render.ts';
import { langOf } from '../../workers/templates/strings.ts';

const msg = (over: Partial<MessageForMail> = {}): MessageForMail => ({
  id: '6f1c0000-0000-4000-8000-000000000001',
  channel: 'research.macro',
  kind: 'note',
  payload: { title: '宏观<b>周报</b>', summary: '第一段\n\n第二段 "引用" & more', tickers: ['600519.SH', '000858.SZ'], riskLevel: 'R4' },
  senderName: '陈研究员',
  publishedAt: new Date('2026-11-27T02:00:00Z'),
  ...over,
});
const ctx = { lang: 'zh-CN' as const, recipientName: '刘女士', timeZone: 'Asia/Shanghai', publicUrl: 'https://qiao.example' };

describe('email templates', () => {
  it('picks the language from the user locale', () => {
    expect(langOf('en')).toBe('en');
    expect(langOf('en-GB')).toBe('en');
    expect(langOf('zh-CN')).toBe('zh-CN');
    expect(langOf(undefined)).toBe('zh-CN');
  });

  it('renders a research note in Chinese: subject, fields, body, link, disclaimer', () => {
    const m = renderMessageEmail(msg(), ctx);
    expect(m.subject).toBe('[研究报告] 宏观<b>周报</b>');
    expect(m.text).toContain('刘女士，您好：');
    expect(m.text).toContain('频道: 宏观研究');
    expect(m.text).toContain('相关证券: 600519.SH, 000858.SZ');
    expect(m.text).toContain('风险等级: R4 中高风险');
    expect(m.text).toContain('发布时间: 2026年11月27日 10:00');
    expect(m.text).toContain('在桥中查看: https://qiao.example/inbox/6f1c0000-0000-4000-8000-000000000001');
    expect(m.text).not.toContain('?channel=');
    expect(m.text).toContain('投资有风险');
  });

  it('escapes everything from the payload in HTML', () => {
    const m = renderMessageEmail(msg({ payload: { title: '<script>alert(1)</script>', summary: '"x" & \'y\'', riskLevel: 'R1' } }), ctx);
    expect(m.html).not.toContain('<script>');
    expect(m.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(m.html).toContain('&quot;x&quot; &amp; &#39;y&#39;');
    expect(m.html).toContain('href="https://qiao.example/inbox/6f1c0000-0000-4000-8000-000000000001"');
    expect(escapeHtml('<a href="x">&')).toBe('&lt;a href=&quot;x&quot;&gt;&amp;');
  });

  it('links the footer to the notification settings page, in both parts and both languages', () => {
    const zh = renderMessageEmail(msg(), ctx);
    expect(zh.html).toContain('可在“<a href="https://qiao.example/settings/notifications" style="color:#0969da">通知设置</a>”中修改。');
    expect(zh.text).toContain('通知设置: https://qiao.example/settings/notifications');
    const en = renderMessageEmail(msg(), { ...ctx, lang: 'en' });
    expect(en.html).toContain('Change them under <a href="https://qiao.example/settings/notifications" style="color:#0969da">Notification settings</a>.');
    expect(en.text).toContain('Notification settings: https://qiao.example/settings/notifications');
    const digest = renderDigestEmail([msg(), msg({ id: '6f1c0000-0000-4000-8000-000000000002' })], ctx);
    expect(digest.html).toContain('href="https://qiao.example/settings/notifications"');
    expect(digest.text).toContain('通知设置: https://qiao.example/settings/notifications');
    expect(digest.text).toContain('https://qiao.example/inbox/6f1c0000-0000-4000-8000-000000000002');
    expect(digest.html).toContain('href="https://qiao.example/inbox/6f1c0000-0000-4000-8000-000000000001"');
  });

  it('keeps subjects on one line', () => {
    expect(renderMessageEmail(msg({ payload: { title: 'a\r\nBcc: evil@x', riskLevel: 'R1' } }), ctx).subject).toBe('[研究报告] a Bcc: evil@x');
  });

  it('renders English, critical notices and must-acknowledge requests', () => {
    const m = renderMessageEmail(msg({ channel: 'inbox.00000000-0000-4000-8000-000000000001', kind: 'notice', payload: { title: 'Margin call', body: 'Top up today.' } }), {
      ...ctx,
      lang: 'en',
      recipientName: 'Mr Zhou',
      critical: true,
      requireAck: true,
    });
    expect(m.subject).toBe('【Important】[Notice] Margin call');
    expect(m.text).toContain('Dear Mr Zhou,');
    expect(m.text).toContain('Please read and acknowledge this notice.');
    expect(m.text).toContain('Channel: My inbox');
    expect(m.html).toContain('lang="en"');
  });

  it('renders chat and alerts', () => {
    expect(renderMessageEmail(msg({ channel: 'conv.00000000-0000-4000-8000-000000000001', kind: 'chat', payload: { text: '您好，明天见' }, senderName: '王经纪' }), ctx).subject).toBe('[新消息] 王经纪 给您发来一条消息');
    const a = renderMessageEmail(msg({ channel: 'alerts.600519.SH', kind: 'alert', payload: { title: '贵州茅台涨停', symbol: '600519.SH', price: 1888.5 } }), ctx);
    expect(a.subject).toBe('[行情提醒] 贵州茅台涨停');
    expect(a.text).toContain('证券代码: 600519.SH');
  });

  it('renders a digest listing every item, in both languages', () => {
    const items = [msg(), msg({ id: '6f1c0000-0000-4000-8000-000000000002', payload: { title: '策略月报', riskLevel: 'R2' } })];
    const zh = renderDigestEmail(items, ctx);
    expect(zh.subject).toBe('[桥] 消息摘要（2 条）');
    expect(zh.text).toContain('1. [研究报告] 宏观<b>周报</b>');
    expect(zh.text).toContain('2. [研究报告] 策略月报');
    expect(zh.html).toContain('宏观&lt;b&gt;周报&lt;/b&gt;');
    const en = renderDigestEmail(items.slice(0, 1), { ...ctx, lang: 'en' });
    expect(en.subject).toBe('[Qiao] Your digest (1 message)');
    expect(en.text).toContain('Here is 1 new message:');
  });
});
