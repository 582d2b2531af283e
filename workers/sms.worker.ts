/**
 * SMS as a DeliveryTransport: one job per SMS delivery row (`{deliveryId}`, job id
 * `sms-<deliveryId>`) on the shared delivery worker (workers/delivery.worker.ts), sent through an
 * SmsTransport (SMPP to the SMS centre, or the outbox folder in embedded mode).
 *
 * - Text: 【品牌】 + title + '：' + body (English: [Qiao] title: body), critical ones marked 【重要】.
 *   Too long for QIAO_SMS_MAX_SEGMENTS → the row is failed with QIAO_SMS_TOO_LONG at render, before
 *   any segment is submitted: an SMS never goes out in part because of its length.
 * - No or invalid phone → failed 'no-phone'.
 * - SMSC refusals: throttling, system errors, queue full → retried with backoff; invalid destination
 *   and other permanent statuses → failed 'rejected' at once (sms-transport.ts RETRYABLE_STATUS).
 * - Sent rows keep the SMSC message ids; delivery receipts move sent → delivered, or → failed
 *   'undelivered' (DeliveriesRepo.applyReceipt).
 * - Daily cap (QIAO_SMS_DAILY_CAP per user per Asia/Shanghai day): a gate between claim and send
 *   suppresses rows past the cap ('daily-cap'). Rows are ranked sent first, then by when they were
 *   claimed (DeliveriesRepo.smsOverDailyCap), so concurrent workers agree on which rows are over.
 */
import { classify } from '../src/domain/routing.ts';
import type { SmsConfig } from '../src/config/config.ts';
import { CN_MOBILE_RE } from '../src/domain/phone.ts';
import { QiaoError } from '../src/errors/codes.ts';
import type { DeliveriesRepo } from '../src/store/deliveries-repo.ts';
import type { DeliveryGate } from './delivery.worker.ts';
import { langOf } from './templates/strings.ts';
import type { DeliveryTransport, OutgoingMessage, SendOutcome } from './transports/delivery-transport.ts';
import { segmentCount } from './transports/sms-encoding.ts';
import type { SmsReceipt, SmsTransport } from './transports/sms-transport.ts';

const SMS_STRINGS = {
  'zh-CN': { brand: '【桥】', important: '【重要】', sep: '：', prefix: { note: '研究报告', 'research-forward': '研究报告', alert: '行情提醒', notice: '通知', chat: '新消息' } as Record<string, string> },
  en: { brand: '[Qiao] ', important: '[Important] ', sep: ': ', prefix: { note: 'Research', 'research-forward': 'Research', alert: 'Market alert', notice: 'Notice', chat: 'New message' } as Record<string, string> },
};

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v.trim().replace(/\s+/g, ' ') : undefined);

/** The SMS text for a message (pure; unit-tested). */
export function smsTextFor(m: Pick<OutgoingMessage, 'kind' | 'payload'>, locale: string | null | undefined): string {
  const S = SMS_STRINGS[langOf(locale) === 'en' ? 'en' : 'zh-CN'];
  const p = (m.payload && typeof m.payload === 'object' ? m.payload : {}) as Record<string, unknown>;
  const title = str(p.title) ?? S.prefix[m.kind] ?? '';
  const body = str(p.smsText) ?? str(p.summary) ?? str(p.body) ?? str(p.text);
  const mark = classify(p).critical ? S.important : '';
  return `${S.brand}${mark}${title}${body && body !== title ? S.sep + body : ''}`;
}

export function smsDelivery(sms: SmsTransport, c: Pick<SmsConfig, 'attempts' | 'maxSegments'>): DeliveryTransport<string> {
  return {
    name: 'sms',
    needs: 'phone',
    attempts: c.attempts,
    // A lost submit_sm_resp is like SMTP: the SMSC cannot be asked whether it has the message.
    onTakeover: 'resend',
    wantsSenderName: () => false,
    render(m, r) {
      const text = smsTextFor(m, r.locale);
      const n = segmentCount(text);
      if (n > c.maxSegments) throw new QiaoError('QIAO_SMS_TOO_LONG', `SMS needs ${n} segments; QIAO_SMS_MAX_SEGMENTS is ${c.maxSegments}`);
      return text;
    },
    async send(id, r, text): Promise<SendOutcome> {
      if (!r.phone || !CN_MOBILE_RE.test(r.phone)) return { result: 'permanent', reason: 'no-phone', detail: r.phone ? 'recipient phone number is not a mobile number' : 'recipient has no phone number' };
      const res = await sms.send({ to: r.phone, text, deliveryId: id });
      switch (res.result) {
        case 'ok':
          return { result: 'sent', providerIds: res.ids };
        case 'refused':
          return res.permanent ? { result: 'permanent', reason: 'rejected', detail: res.detail, deadLetter: `SMS centre refused: ${res.detail}` } : { result: 'retryable', detail: res.detail };
        case 'unavailable':
          return { result: 'retryable', detail: res.detail };
      }
    },
    close: () => sms.close(),
  };
}

const SHANGHAI_OFFSET_MS = 8 * 3600_000; // Asia/Shanghai has had no daylight saving since 1991

/** Midnight Asia/Shanghai at the start of the day containing `now`. */
export function shanghaiDayStart(now: Date): Date {
  const day = 86_400_000;
  return new Date(Math.floor((now.getTime() + SHANGHAI_OFFSET_MS) / day) * day - SHANGHAI_OFFSET_MS);
}

/** The daily-cap gate for the delivery worker. */
export function smsDailyCap(deliveries: DeliveriesRepo, cap: number, now: () => Date = () => new Date()): DeliveryGate {
  return async (rows) => {
    const over = await deliveries.smsOverDailyCap(
      rows.map((r) => r.id),
      cap,
      shanghaiDayStart(now()),
    );
    return new Map([...over].map((id) => [id, { reason: 'daily-cap', detail: `more than ${cap} SMS today (Asia/Shanghai) for this user` }]));
  };
}

/**
 * Receipts from the SMSC update the rows they name. A receipt can overtake our own 'sent' write
 * (the SMSC answers submit_sm and reports delivery before the row holds its ids), so one that
 * matches no row is tried again a few times (0.1 s doubling, ~6 s in all) before it is dropped.
 */
export function recordReceipts(sms: SmsTransport, deliveries: DeliveriesRepo, logger?: { debug(o: object, m: string): void }): void {
  const apply = async (r: SmsReceipt, attempt: number): Promise<void> => {
    const row = await deliveries.applyReceipt(r.messageId, r.outcome, `receipt stat:${r.stat}${r.err ? ` err:${r.err}` : ''}`);
    if (row) return;
    if (attempt >= 6) {
      logger?.debug({ messageId: r.messageId, stat: r.stat }, 'SMS receipt matches no sent row; dropped');
      return;
    }
    setTimeout(() => void apply(r, attempt + 1).catch(() => {}), 100 * 2 ** attempt).unref();
  };
  sms.onReceipt((r) => apply(r, 0));
}
