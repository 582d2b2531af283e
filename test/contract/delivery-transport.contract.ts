/**
 * The DeliveryTransport contract (workers/transports/delivery-transport.ts), run against every
 * transport — email (SMTP sink, .eml outbox), web push (the local decrypting push service), SMS
 * (the local SMSC over SMPP, the .json outbox) — by test/contract/delivery-transport.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeliveryTransport, OutgoingMessage, Recipient } from '../../workers/transports/delivery-transport.ts';

export interface DeliveryTransportFixture {
  transport: DeliveryTransport;
  /** A recipient the transport can reach (a fresh one per call). */
  reachable(): Promise<Recipient>;
  /** A recipient without the contact the transport needs. */
  unreachable(): Recipient;
  /** The texts (decoded: subject + body, notification JSON, SMS text) that reached `r` for this delivery. */
  arrived(deliveryId: string, r: Recipient): Promise<string[]>;
  cleanup(): Promise<void>;
}

export function notice(title = '追加保证金通知', body = '您的账户维持担保比例低于 130%，请于 T+1 日 15:00 前补足。'): OutgoingMessage {
  const id = randomUUID();
  return { id, channel: `inbox.${randomUUID()}`, kind: 'notice', payload: { title, body, topic: 'margin', severity: 'critical' }, senderId: randomUUID(), senderName: '风控部', publishedAt: new Date('2026-03-02T09:30:00+08:00') };
}

export function recipient(extra: Partial<Recipient> = {}): Recipient {
  return { userId: randomUUID(), locale: 'zh-CN', displayName: '刘女士', timeZone: 'Asia/Shanghai', email: null, phone: null, ...extra };
}

async function eventually<T>(what: () => Promise<T[]>, n: number, timeoutMs = 10_000): Promise<T[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const got = await what();
    if (got.length >= n || Date.now() > until) return got;
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function deliveryTransportContract(name: string, factory: () => Promise<DeliveryTransportFixture>): void {
  describe(`DeliveryTransport contract: ${name}`, () => {
    let f: DeliveryTransportFixture;
    beforeEach(async () => {
      f = await factory();
    });
    afterEach(async () => {
      await f.cleanup();
    });

    it('declares itself: a name, the contact it needs, at least one attempt, a takeover policy', () => {
      expect(['email', 'push', 'sms']).toContain(f.transport.name);
      expect(['email', 'push-subscriptions', 'phone']).toContain(f.transport.needs);
      expect(f.transport.attempts).toBeGreaterThanOrEqual(1);
      expect(['resend', 'dead-letter']).toContain(f.transport.onTakeover);
    });

    it('renders deterministically: the same message and recipient give the same content', async () => {
      const m = notice();
      const r = await f.reachable();
      expect(f.transport.render(m, r)).toEqual(f.transport.render(m, r));
    });

    it('sends a Chinese critical notice: sent, and it arrives once with its title and body intact', async () => {
      const m = notice();
      const r = await f.reachable();
      const id = randomUUID();
      const out = await f.transport.send(id, r, f.transport.render(m, r));
      expect(out.result).toBe('sent');
      const got = await eventually(() => f.arrived(id, r), 1);
      expect(got).toHaveLength(1);
      expect(got[0]).toContain('追加保证金通知');
      expect(got[0]).toContain('维持担保比例低于 130%');
    });

    it('a recipient without the needed contact: not sent (failed for good or suppressed), nothing arrives', async () => {
      const r = f.unreachable();
      const id = randomUUID();
      const out = await f.transport.send(id, r, f.transport.render(notice(), r));
      expect(['permanent', 'suppressed']).toContain(out.result);
      await new Promise((res) => setTimeout(res, 100));
      expect(await f.arrived(id, r)).toHaveLength(0);
    });

    it('sends many concurrently: each arrives exactly once', async () => {
      const jobs = await Promise.all(Array.from({ length: 20 }, async (_, i) => ({ id: randomUUID(), r: await f.reachable(), m: notice(`通知 ${i}`) })));
      const outs = await Promise.all(jobs.map((j) => f.transport.send(j.id, j.r, f.transport.render(j.m, j.r))));
      expect(outs.every((o) => o.result === 'sent')).toBe(true);
      for (const [i, j] of jobs.entries()) {
        const got = await eventually(() => f.arrived(j.id, j.r), 1);
        expect(got).toHaveLength(1);
        expect(got[0]).toContain(`通知 ${i}`);
      }
    });

    it('closes cleanly, twice', async () => {
      const r = await f.reachable();
      await f.transport.send(randomUUID(), r, f.transport.render(notice(), r));
      await f.transport.close();
      await f.transport.close();
    });
  });
}
