/**
 * The DeliveryTransport contract against every transport and destination: email over SMTP (local
 * smtp-server sink) and to the .eml outbox, web push to the local decrypting push service, SMS over
 * SMPP to a local SMSC (the `smpp` package's server) and to the .json outbox. Then what is specific
 * to SMPP: segments, throttling, invalid destinations, an SMSC restart, receipts.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import pino from 'pino';
import webPush from 'web-push';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyBaseLogger } from 'fastify';
import { emailDelivery, messageIdFor } from '../../workers/email.worker.ts';
import { pushDelivery } from '../../workers/push.worker.ts';
import { smsDelivery, smsTextFor } from '../../workers/sms.worker.ts';
import { OutboxMailTransport, SmtpMailTransport } from '../../workers/transports/email-transport.ts';
import { WebPushTransport } from '../../workers/transports/push-transport.ts';
import { SmppClient, type SmppOptions } from '../../workers/transports/smpp-client.ts';
import { encodeSms, segmentCount } from '../../workers/transports/sms-encoding.ts';
import { OutboxSmsTransport, type SmsReceipt } from '../../workers/transports/sms-transport.ts';
import type { PushSubscriptionRow } from '../../src/store/push-repo.ts';
import { isQiaoError } from '../../src/errors/codes.ts';
import { PushEndpoint } from '../helpers/push-endpoint.ts';
import { FakeSmsc } from '../helpers/smsc.ts';
import { SmtpSink } from '../helpers/smtp-sink.ts';
import { deliveryTransportContract, notice, recipient } from './delivery-transport.contract.ts';

const FROM = '桥 Qiao <no-reply@qiao.example>';
const logger = pino({ level: 'silent' }) as unknown as FastifyBaseLogger;
const EMAIL = { emailAttempts: 3, emailOnCrash: 'resend' as const, publicUrl: 'http://localhost:3000' };
const mailText = async (raw: Buffer) => {
  const p = await simpleParser(raw);
  return `${p.subject}\n${p.text}`;
};
const phone = () => `+86139${String(randomBytes(4).readUInt32BE() % 100_000_000).padStart(8, '0')}`;

deliveryTransportContract('email over SMTP', async () => {
  const sink = await SmtpSink.start();
  const mail = new SmtpMailTransport({ url: sink.url, from: FROM, poolSize: 4 });
  return {
    transport: emailDelivery(mail, EMAIL),
    reachable: async () => recipient({ email: `c${randomUUID().slice(0, 8)}@qiao.example` }),
    unreachable: () => recipient({ email: 'not-an-address' }),
    arrived: async (id) => Promise.all(sink.received.filter((m) => m.deliveryId === id).map((m) => mailText(m.raw))),
    async cleanup() {
      await mail.close();
      await sink.stop();
    },
  };
});

deliveryTransportContract('email to the .eml outbox', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'qiao-dt-'));
  const mail = new OutboxMailTransport(dir, FROM);
  return {
    transport: emailDelivery(mail, EMAIL),
    reachable: async () => recipient({ email: 'client1@qiao.example' }),
    unreachable: () => recipient(),
    arrived: async (id) => {
      const raw = await readFile(join(dir, OutboxMailTransport.fileName(messageIdFor(id)))).catch(() => null);
      return raw ? [await mailText(raw)] : [];
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

deliveryTransportContract('web push to a local push service', async () => {
  const ep = await new PushEndpoint().start();
  const subs = new Map<string, PushSubscriptionRow[]>();
  const bySub = new Map<string, string>();
  const wire = new WebPushTransport({ vapid: { subject: 'mailto:ops@qiao.example', ...webPush.generateVAPIDKeys() }, timeoutMs: 5000, ca: ep.cert.cert });
  return {
    transport: pushDelivery({
      directory: {
        listForUser: async (u) => subs.get(u) ?? [],
        removeById: async () => {},
        markSuccess: async () => {},
      },
      transport: async () => wire,
      attempts: 3,
      logger,
      close: () => wire.close(),
    }),
    async reachable() {
      const r = recipient();
      const s = ep.subscription();
      bySub.set(s.id, r.userId);
      subs.set(r.userId, [{ id: randomUUID(), userId: r.userId, endpoint: s.endpoint, p256dh: s.keys.p256dh, auth: s.keys.auth, userAgent: null, createdAt: new Date(), lastSuccessAt: null }]);
      return r;
    },
    unreachable: () => recipient(),
    arrived: async (_id, r) => ep.received.filter((p) => bySub.get(p.subscriptionId) === r.userId).map((p) => `${p.json?.title}\n${p.json?.body}`),
    async cleanup() {
      await wire.close();
      await ep.close();
    },
  };
});

function smppOptions(smsc: FakeSmsc, extra: Partial<SmppOptions> = {}): SmppOptions {
  return { url: smsc.url, sourceAddr: '10690000', window: 10, ratePerS: 0, maxSegments: 5, enquireLinkMs: 30_000, responseTimeoutMs: 3000, rebindMinMs: 50, rebindMaxMs: 500, logger, ...extra };
}

deliveryTransportContract('SMS over SMPP to a local SMSC', async () => {
  const smsc = await new FakeSmsc().start();
  const client = new SmppClient(smppOptions(smsc));
  return {
    transport: smsDelivery(client, { attempts: 3, maxSegments: 5 }),
    reachable: async () => recipient({ phone: phone() }),
    unreachable: () => recipient({ phone: '+1 555 0100' }),
    arrived: async (_id, r) => smsc.received.filter((m) => `+${m.to}` === r.phone).map((m) => m.text),
    async cleanup() {
      await client.close();
      await smsc.stop();
    },
  };
});

deliveryTransportContract('SMS to the .json outbox', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'qiao-sms-'));
  return {
    transport: smsDelivery(new OutboxSmsTransport(dir, 5), { attempts: 3, maxSegments: 5 }),
    reachable: async () => recipient({ phone: phone() }),
    unreachable: () => recipient(),
    arrived: async (id) => {
      const raw = await readFile(join(dir, OutboxSmsTransport.fileName(id)), 'utf8').catch(() => null);
      return raw ? [JSON.parse(raw).text] : [];
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('SMS encoding', () => {
  it('one UCS-2 segment up to 70 characters, 67 per part beyond, with the same 8-bit reference in every part', () => {
    expect(segmentCount('好'.repeat(70))).toBe(1);
    expect(segmentCount('好'.repeat(71))).toBe(2);
    expect(segmentCount('好'.repeat(67 * 3))).toBe(3);
    const parts = encodeSms('好'.repeat(150), 5, 0x2a);
    expect(parts).toHaveLength(3);
    expect(parts.map((p) => [...p.shortMessage.subarray(0, 6)])).toEqual([1, 2, 3].map((i) => [0x05, 0x00, 0x03, 0x2a, 3, i]));
    expect(parts[0].shortMessage.length).toBe(6 + 67 * 2);
  });

  it('never splits a surrogate pair (an emoji) between segments', () => {
    const text = '好'.repeat(66) + '😀' + '好'.repeat(10);
    const parts = encodeSms(text, 5, 1);
    const decoded = parts.map((p) => Buffer.from(p.shortMessage.subarray(6)).swap16().toString('utf16le'));
    expect(decoded.join('')).toBe(text);
    expect(decoded[0].endsWith('好')).toBe(true);
  });

  it('longer than the segment limit → QIAO_SMS_TOO_LONG; empty → QIAO_SMS_EMPTY', () => {
    const err = (() => {
      try {
        encodeSms('好'.repeat(67 * 5 + 1), 5, 1);
      } catch (e) {
        return e;
      }
    })();
    expect(isQiaoError(err) && err.code).toBe('QIAO_SMS_TOO_LONG');
    expect(() => encodeSms('', 5, 1)).toThrow(/empty/);
  });

  it('the text: brand, 【重要】 for critical, title and body; English for English readers', () => {
    expect(smsTextFor({ kind: 'notice', payload: { title: '追加保证金通知', body: '请补足', topic: 'margin' } }, 'zh-CN')).toBe('【桥】【重要】追加保证金通知：请补足');
    expect(smsTextFor({ kind: 'notice', payload: { title: 'Margin call', body: 'Top up' } }, 'en')).toBe('[Qiao] Margin call: Top up');
  });

  it('the worker fails a too-long message at render with the stable code, before anything is sent', () => {
    const t = smsDelivery(new OutboxSmsTransport(tmpdir(), 2), { attempts: 3, maxSegments: 2 });
    const r = recipient({ phone: phone() });
    try {
      t.render(notice('长通知', '内容'.repeat(100)), r);
      expect.unreachable();
    } catch (e) {
      expect(isQiaoError(e) && e.code).toBe('QIAO_SMS_TOO_LONG');
    }
  });
});

describe('SMPP specifics (local SMSC)', () => {
  let smsc: FakeSmsc;
  beforeAll(async () => {
    smsc = await new FakeSmsc().start();
  });
  afterAll(async () => {
    await smsc.stop();
  });

  it('a long Chinese text arrives as UCS-2 segments that reassemble to the same text, with one id per segment', async () => {
    const c = new SmppClient(smppOptions(smsc));
    try {
      const to = phone();
      const text = '【桥】' + '尊敬的客户，您持有的贵州茅台（600519.SH）配股缴款截止日为 3 月 6 日。'.repeat(4);
      const out = await c.send({ to, text, deliveryId: randomUUID() });
      expect(out.result).toBe('ok');
      const got = await smsc.waitFor(to);
      expect(got.dataCoding).toBe(8);
      expect(got.segments).toBe(segmentCount(text));
      expect(got.segments).toBeGreaterThan(1);
      expect(got.text).toBe(text);
      expect(out.result === 'ok' && out.ids).toEqual(got.ids);
    } finally {
      await c.close();
    }
  });

  it('throttled (0x58) and system error (0x08) are retryable; invalid destination (0x0B) is permanent', async () => {
    const c = new SmppClient(smppOptions(smsc));
    try {
      const a = phone();
      smsc.respond(a, 0x58);
      expect(await c.send({ to: a, text: '测试', deliveryId: randomUUID() })).toMatchObject({ result: 'refused', status: 0x58, permanent: false });
      expect(await c.send({ to: a, text: '测试', deliveryId: randomUUID() })).toMatchObject({ result: 'ok' });
      const b = phone();
      smsc.respond(b, 0x08);
      expect(await c.send({ to: b, text: '测试', deliveryId: randomUUID() })).toMatchObject({ result: 'refused', permanent: false });
      const bad = phone();
      smsc.respond(bad, 0x0b);
      expect(await c.send({ to: bad, text: '测试', deliveryId: randomUUID() })).toMatchObject({ result: 'refused', status: 0x0b, permanent: true });
      expect(smsc.received.some((m) => `+${m.to}` === bad)).toBe(false);
    } finally {
      await c.close();
    }
  });

  it('delivery receipts come back on the session with the SMSC id and the outcome', async () => {
    const c = new SmppClient(smppOptions(smsc));
    const receipts: SmsReceipt[] = [];
    c.onReceipt((r) => {
      receipts.push(r);
    });
    try {
      const ok = phone();
      const lost = phone();
      smsc.receiptStat.set(lost.slice(1), 'UNDELIV');
      const o1 = await c.send({ to: ok, text: '成交回报', deliveryId: randomUUID() });
      const o2 = await c.send({ to: lost, text: '成交回报', deliveryId: randomUUID() });
      const until = Date.now() + 5000;
      while (receipts.length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(receipts).toContainEqual(expect.objectContaining({ messageId: o1.result === 'ok' ? o1.ids[0] : '?', outcome: 'delivered', stat: 'DELIVRD' }));
      expect(receipts).toContainEqual(expect.objectContaining({ messageId: o2.result === 'ok' ? o2.ids[0] : '?', outcome: 'failed', stat: 'UNDELIV' }));
    } finally {
      await c.close();
    }
  });

  it('the window: never more than `window` submits unanswered (the rest wait), and all arrive', async () => {
    const c = new SmppClient(smppOptions(smsc, { window: 3 }));
    try {
      const n = 30;
      smsc.maxInFlight = 0;
      const before = smsc.received.length;
      const outs = await Promise.all(Array.from({ length: n }, () => c.send({ to: phone(), text: '窗口', deliveryId: randomUUID() })));
      expect(outs.every((o) => o.result === 'ok')).toBe(true);
      expect(smsc.received.length - before).toBe(n);
      expect(smsc.maxInFlight).toBeLessThanOrEqual(3);
      expect(smsc.maxInFlight).toBeGreaterThanOrEqual(2);
    } finally {
      await c.close();
    }
  });

  it('the rate: 20 messages at 50/s take at least ~0.35 s', async () => {
    const c = new SmppClient(smppOptions(smsc, { ratePerS: 50 }));
    try {
      while (!c.isBound) await new Promise((r) => setTimeout(r, 10));
      const t0 = Date.now();
      await Promise.all(Array.from({ length: 20 }, () => c.send({ to: phone(), text: '限速', deliveryId: randomUUID() })));
      expect(Date.now() - t0).toBeGreaterThanOrEqual(330);
    } finally {
      await c.close();
    }
  });

  it('an SMSC restart: sends fail retryably while it is down, the client rebinds and continues', async () => {
    const own = await new FakeSmsc().start();
    const c = new SmppClient(smppOptions(own, { responseTimeoutMs: 300 }));
    try {
      expect((await c.send({ to: phone(), text: '重启前', deliveryId: randomUUID() })).result).toBe('ok');
      await own.stop();
      const down = await c.send({ to: phone(), text: '停机中', deliveryId: randomUUID() });
      expect(down.result).toBe('unavailable');
      await own.restart();
      const to = phone();
      const until = Date.now() + 5000;
      let out = await c.send({ to, text: '重启后', deliveryId: randomUUID() });
      while (out.result !== 'ok' && Date.now() < until) out = await c.send({ to, text: '重启后', deliveryId: randomUUID() });
      expect(out.result).toBe('ok');
      expect(c.binds).toBeGreaterThanOrEqual(2);
      expect((await own.waitFor(to)).text).toBe('重启后');
    } finally {
      await c.close();
      await own.stop();
    }
  });
});
