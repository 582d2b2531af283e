/** The MailTransport contract (workers/transports/email-transport.ts), run against every implementation. */
import { randomUUID } from 'node:crypto';
import { simpleParser } from 'mailparser';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MailTransport, OutgoingMail } from '../../workers/transports/email-transport.ts';

export interface MailTransportFixture {
  transport: MailTransport;
  /** Raw copies of the message with this Message-ID that reached the destination. */
  fetch(messageId: string): Promise<Buffer[]>;
  cleanup(): Promise<void>;
}

export function mail(overrides: Partial<OutgoingMail> = {}): OutgoingMail {
  const id = randomUUID();
  return {
    to: 'client1@qiao.example',
    subject: '[研究报告] 贵州茅台三季报点评',
    text: '刘女士，您好：\n\n营收稳健增长。\n',
    html: '<p>刘女士，您好：</p><p>营收稳健增长 &amp; 利润率提升。</p>',
    messageId: `<delivery-${id}@qiao.mail>`,
    lang: 'zh-CN',
    headers: { 'X-Qiao-Delivery-Id': id },
    ...overrides,
  };
}

export function mailTransportContract(name: string, factory: () => Promise<MailTransportFixture>): void {
  describe(`MailTransport contract: ${name}`, () => {
    let f: MailTransportFixture;
    beforeEach(async () => {
      f = await factory();
    });
    afterEach(async () => {
      await f.cleanup();
    });

    it('delivers a message with subject, both bodies, recipient, language and our headers intact', async () => {
      const m = mail();
      await f.transport.send(m);
      const [raw] = await f.fetch(m.messageId);
      const p = await simpleParser(raw);
      expect(p.subject).toBe(m.subject);
      expect(p.text?.trim()).toBe(m.text.trim());
      expect(p.html).toContain('营收稳健增长 &amp; 利润率提升');
      expect((p.to as { value: Array<{ address: string }> }).value[0].address).toBe(m.to);
      expect(p.messageId).toBe(m.messageId);
      expect(p.headers.get('content-language')).toBe('zh-CN');
      expect(p.headers.get('x-qiao-delivery-id')).toBe(m.headers!['X-Qiao-Delivery-Id']);
      expect((p.from as { value: Array<{ address: string }> }).value[0].address).toBe('no-reply@qiao.example');
    });

    it('sends English mail as English', async () => {
      const m = mail({ subject: '[Research] Kweichow Moutai Q3', text: 'Dear client,', html: '<p>Dear client,</p>', lang: 'en' });
      await f.transport.send(m);
      const p = await simpleParser((await f.fetch(m.messageId))[0]);
      expect(p.subject).toBe('[Research] Kweichow Moutai Q3');
      expect(p.headers.get('content-language')).toBe('en');
    });

    it('sends many messages concurrently', async () => {
      const ms = Array.from({ length: 40 }, () => mail());
      await Promise.all(ms.map((m) => f.transport.send(m)));
      for (const m of ms) expect(await f.fetch(m.messageId)).toHaveLength(1);
    });

    it('closes cleanly', async () => {
      await f.transport.send(mail());
      await f.transport.close();
    });
  });
}
