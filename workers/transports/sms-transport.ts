/**
 * Where SMS goes: the firm's SMS centre over SMPP 3.4 (workers/transports/smpp-client.ts), or — in
 * embedded mode with no QIAO_SMPP_URL — one JSON file per message in an outbox folder, as email
 * does. Both are behind one interface; the delivery worker's SMS transport (workers/sms.worker.ts)
 * renders, checks the length and settles the row.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { encodeSms, segmentCount } from './sms-encoding.ts';
import { SmppClient, type SmppOptions } from './smpp-client.ts';

export interface OutgoingSms {
  /** E.164 ('+8613812345678'). */
  to: string;
  text: string;
  /** The delivery row, for logs and the outbox file name. */
  deliveryId: string;
}

/**
 * - ok: every segment accepted; `ids` are the SMSC's message ids, one per segment.
 * - refused: the SMSC answered with an error `status` (SMPP command_status); `permanent` per
 *   `isPermanentStatus`. `accepted` segments went out before the refusal (the rest did not).
 * - unavailable: not bound, connection lost, no answer in time: worth retrying.
 */
export type SmsResult =
  | { result: 'ok'; ids: string[] }
  | { result: 'refused'; status: number; permanent: boolean; accepted: number; detail: string }
  | { result: 'unavailable'; accepted: number; detail: string };

/** A delivery receipt (deliver_sm with esm_class receipt) for one SMSC message id. */
export interface SmsReceipt {
  messageId: string;
  /** DELIVRD → delivered; EXPIRED, DELETED, UNDELIV, REJECTD, UNKNOWN → failed. */
  outcome: 'delivered' | 'failed';
  stat: string;
  err?: string;
}

export interface SmsTransport {
  readonly kind: 'smpp' | 'outbox';
  /** Throws QIAO_SMS_TOO_LONG / QIAO_SMS_EMPTY before sending anything; otherwise never throws. */
  send(sms: OutgoingSms): Promise<SmsResult>;
  /** Receipts as they arrive (SMPP only; the outbox has none). One listener. */
  onReceipt(listener: (r: SmsReceipt) => Promise<void> | void): void;
  close(): Promise<void>;
}

/**
 * SMPP command_status values worth retrying (SMPP 3.4 §5.1.3): the SMSC is busy or broken for now,
 * not refusing this message. Everything else (invalid destination 0x0B, bad length 0x01, bad data
 * coding 0x104, prohibited 0x101, …) fails the delivery at once.
 */
export const RETRYABLE_STATUS: ReadonlySet<number> = new Set([
  0x0008, // ESME_RSYSERR: system error
  0x0014, // ESME_RMSGQFUL: message queue full
  0x0045, // ESME_RSUBMITFAIL: submit failed
  0x0058, // ESME_RTHROTTLED: throughput exceeded
  0x0064, // ESME_RX_T_APPN: temporary application error
  0x00fe, // ESME_RDELIVERYFAILURE: transaction delivery failure
  0x00ff, // ESME_RUNKNOWNERR: unknown error
]);

export function isPermanentStatus(status: number): boolean {
  return !RETRYABLE_STATUS.has(status);
}

/** A receipt's `stat:` word → what it means for the row; undefined for intermediate states. */
export function receiptOutcome(stat: string): SmsReceipt['outcome'] | undefined {
  const s = stat.toUpperCase();
  if (s === 'DELIVRD') return 'delivered';
  if (['EXPIRED', 'DELETED', 'UNDELIV', 'REJECTD', 'UNKNOWN'].includes(s)) return 'failed';
  return undefined;
}

/** message_state TLV values (SMPP 3.4 §5.3.2.35) → `stat:` words. */
export const MESSAGE_STATE_STAT: Record<number, string> = { 1: 'ENROUTE', 2: 'DELIVRD', 3: 'EXPIRED', 4: 'DELETED', 5: 'UNDELIV', 6: 'ACCEPTD', 7: 'UNKNOWN', 8: 'REJECTD' };

/** One JSON file per delivery row (a retry rewrites the same file), written then renamed. */
export class OutboxSmsTransport implements SmsTransport {
  readonly kind = 'outbox' as const;
  private ready: Promise<unknown> | null = null;

  constructor(
    readonly dir: string,
    private readonly maxSegments: number,
  ) {}

  static fileName(deliveryId: string): string {
    return `sms-${deliveryId.replace(/[^A-Za-z0-9-]/g, '_')}.json`;
  }

  async send(sms: OutgoingSms): Promise<SmsResult> {
    // The same check as over SMPP, so embedded mode refuses what production would.
    encodeSms(sms.text, this.maxSegments, 0);
    this.ready ??= mkdir(this.dir, { recursive: true });
    await this.ready;
    const file = join(this.dir, OutboxSmsTransport.fileName(sms.deliveryId));
    const tmp = `${file}.${process.pid}.tmp`;
    const body = JSON.stringify({ to: sms.to, text: sms.text, segments: segmentCount(sms.text), deliveryId: sms.deliveryId, writtenAt: new Date().toISOString() }, null, 2);
    try {
      await writeFile(tmp, body).catch(async (e) => {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        await mkdir(this.dir, { recursive: true });
        await writeFile(tmp, body);
      });
      await rename(tmp, file);
    } catch (e) {
      return { result: 'unavailable', accepted: 0, detail: `outbox write failed: ${(e as Error).message}` };
    }
    return { result: 'ok', ids: [`outbox-${sms.deliveryId}`] };
  }

  onReceipt(): void {}

  async close(): Promise<void> {}
}

export interface SmsTransportConfig extends Omit<SmppOptions, 'url' | 'logger'> {
  smppUrl?: string;
  outboxDir: string;
}

export function createSmsTransport(c: SmsTransportConfig, logger: FastifyBaseLogger): SmsTransport {
  return c.smppUrl ? new SmppClient({ ...c, url: c.smppUrl, logger }) : new OutboxSmsTransport(c.outboxDir, c.maxSegments);
}
