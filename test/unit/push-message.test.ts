import { describe, expect, it } from 'vitest';
import { hostAllowed } from '../../src/routes/push.routes.ts';
import { PUSH_TTL_S, pushMessageFor } from '../../workers/push.worker.ts';
import { classifyStatus, pushTopic } from '../../workers/transports/push-transport.ts';

const id = '6f1c2f55-3c1e-4a43-9d0e-3f0f9f1c2a11';

describe('push message and headers', () => {
  it('price alerts: short TTL, high urgency, a Topic and tag per symbol', () => {
    const m = pushMessageFor({ messageId: id, channel: `inbox.${id}`, kind: 'alert', payload: { symbol: '600519.SH', title: '贵州茅台 600519.SH 突破 1800.00', body: '最新价 1801.50', severity: 'warning', event: 'price', price: 1801.5 } });
    expect(m.options).toEqual({ ttlS: PUSH_TTL_S.priceAlert, urgency: 'high', topic: 'alert-600519SH' });
    expect(m.payload).toEqual({ title: '贵州茅台 600519.SH 突破 1800.00', body: '最新价 1801.50', url: `/inbox/${id}`, tag: 'alert-600519SH', id, channel: `inbox.${id}` });
  });

  it('critical notices are urgent and kept longer; research is low urgency; other events keep no topic', () => {
    expect(pushMessageFor({ messageId: id, channel: `inbox.${id}`, kind: 'notice', payload: { title: '追加保证金通知', topic: 'margin' } }).options).toEqual({ ttlS: PUSH_TTL_S.critical, urgency: 'high' });
    expect(pushMessageFor({ messageId: id, channel: 'research.macro', kind: 'note', payload: { title: 'x', summary: 's' } }).options).toEqual({ ttlS: PUSH_TTL_S.default, urgency: 'low' });
    const ev = pushMessageFor({ messageId: id, channel: 'alerts.600519.SH', kind: 'alert', payload: { symbol: '600519.SH', title: '停牌', event: 'suspension' } });
    expect(ev.options).toEqual({ ttlS: PUSH_TTL_S.marketEvent, urgency: 'normal' });
    expect(ev.payload.tag).toBe(id);
  });

  it('chat uses the sender name, English for English users; the click URL is the message in the inbox, or a notice\'s own same-origin path', () => {
    const chat = pushMessageFor({ messageId: id, channel: `conv.${id}`, kind: 'chat', payload: { text: 'hello' }, locale: 'en', senderName: 'Broker Wang' });
    expect(chat.payload.title).toBe('Broker Wang sent you a message');
    expect(chat.payload.body).toBe('hello');
    expect(pushMessageFor({ messageId: id, channel: `inbox.${id}`, kind: 'notice', payload: { title: 't', url: '//evil.example/x' } }).payload.url).toBe(`/inbox/${id}`);
    expect(chat.payload.url).toBe(`/inbox/${id}`);
    expect(pushMessageFor({ messageId: id, channel: `inbox.${id}`, kind: 'notice', payload: { title: 't', url: 'https://evil.example/x' } }).payload.url).toBe(`/inbox/${id}`);
    expect(pushMessageFor({ messageId: id, channel: `inbox.${id}`, kind: 'notice', payload: { title: 't', url: '/inbox' } }).payload.url).toBe('/inbox');
    expect(pushMessageFor({ messageId: id, channel: `inbox.${id}`, kind: 'notice', payload: { title: 't', body: 'x'.repeat(5000) } }).payload.body.length).toBeLessThanOrEqual(300);
  });

  it('topics use the URL-safe base64 alphabet and at most 32 characters', () => {
    expect(pushTopic('alert-600519.SH')).toBe('alert-600519SH');
    expect(pushTopic('a'.repeat(40) + '/+=')).toHaveLength(32);
    expect(pushTopic('价格 alert_1')).toBe('alert_1');
  });

  it('classifies push service answers', () => {
    expect([201, 404, 410, 429, 500, 503, 400, 403, 413].map(classifyStatus)).toEqual(['ok', 'gone', 'gone', 'transient', 'transient', 'transient', 'rejected', 'rejected', 'rejected']);
  });

  it('matches push endpoint hosts against the allowlist', () => {
    const list = ['fcm.googleapis.com', '*.push.apple.com', '*.notify.windows.com'];
    expect(hostAllowed('fcm.googleapis.com', list)).toBe(true);
    expect(hostAllowed('web.push.apple.com', list)).toBe(true);
    expect(hostAllowed('push.apple.com.evil.example', list)).toBe(false);
    expect(hostAllowed('evilpush.apple.com', list)).toBe(false);
    expect(hostAllowed('127.0.0.1', list)).toBe(false);
    expect(hostAllowed('anything', ['*'])).toBe(true);
  });
});
