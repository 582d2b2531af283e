/**
 * An SMPP 3.4 ESME (the `smpp` package for the wire): one bind_transceiver session to the SMS centre,
 * kept alive and rebound, sending at most `window` submit_sm without a response and at most
 * `ratePerS` a second (the SMSC sets both; exceeding them gets ESME_RTHROTTLED), and receiving
 * delivery receipts on the same session.
 *
 * - Bind: on connect, bind_transceiver with system_id/password from the URL
 *   (smpp://system_id:password@host:2775?system_type=…; ssmpp:// for TLS). A failed bind or a lost
 *   connection rebinds after a backoff (rebindMinMs doubling to rebindMaxMs, reset on success).
 * - Keep-alive: enquire_link every enquireLinkMs; no answer within responseTimeoutMs drops the
 *   connection (a half-open TCP session is otherwise only noticed when a submit times out). The
 *   SMSC's own enquire_link and unbind are answered.
 * - Submits wait (FIFO) for a bound session, a window slot and a rate token. A submit in flight when
 *   the connection drops, or unanswered in responseTimeoutMs, is 'unavailable': the SMSC may or may
 *   not have it (the worker retries: at-least-once, like email across a crash).
 * - Multipart messages are submitted one segment after the other, stopping at the first refusal,
 *   so a refused message never goes out in part unless the refusal came mid-way (reported).
 */
import smpp, { type PDU, type Session } from 'smpp';
import type { FastifyBaseLogger } from 'fastify';
import { DATA_CODING_UCS2, ESM_CLASS_RECEIPT, ESM_CLASS_UDHI, encodeSms, smppAddress } from './sms-encoding.ts';
import { MESSAGE_STATE_STAT, isPermanentStatus, receiptOutcome, type OutgoingSms, type SmsReceipt, type SmsResult, type SmsTransport } from './sms-transport.ts';

export interface SmppOptions {
  /** smpp://system_id:password@host:port[?system_type=…] (ssmpp:// for TLS). */
  url: string;
  /** Sender address (the firm's short code, e.g. 106900001234). */
  sourceAddr: string;
  /** Max submit_sm awaiting a response. */
  window: number;
  /** Max submit_sm per second; 0: no limit. */
  ratePerS: number;
  maxSegments: number;
  enquireLinkMs: number;
  responseTimeoutMs: number;
  rebindMinMs: number;
  rebindMaxMs: number;
  logger: FastifyBaseLogger;
}

interface Waiter {
  params: Record<string, unknown>;
  resolve: (r: { status: number; messageId?: string; lost?: string }) => void;
}

export class SmppClient implements SmsTransport {
  readonly kind = 'smpp' as const;
  private session: Session | null = null;
  private bound = false;
  private closing = false;
  private backoffMs: number;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private enquireTimer: NodeJS.Timeout | null = null;
  private pumpTimer: NodeJS.Timeout | null = null;
  private readonly waiting: Waiter[] = [];
  /** In flight on the current session: sequence number → its waiter and response timer. */
  private readonly inFlight = new Map<Waiter, NodeJS.Timeout>();
  private tokens: number;
  private lastRefill = Date.now();
  private ref = Math.floor(Math.random() * 256);
  private receiptListener: ((r: SmsReceipt) => Promise<void> | void) | null = null;
  private readonly target: { host: string; port: number; tls: boolean; systemId: string; password: string; systemType: string };
  /** Binds made (tests: a rebind after the SMSC restarted). */
  binds = 0;

  constructor(private readonly o: SmppOptions) {
    const u = new URL(o.url);
    const tls = u.protocol === 'ssmpp:';
    this.target = {
      host: u.hostname,
      port: Number(u.port) || (tls ? 3550 : 2775),
      tls,
      systemId: decodeURIComponent(u.username),
      password: decodeURIComponent(u.password),
      systemType: u.searchParams.get('system_type') ?? '',
    };
    this.backoffMs = o.rebindMinMs;
    this.tokens = this.burst();
    this.connect();
  }

  private burst(): number {
    // A twentieth of a second's worth (at least 1): smooth enough for any SMSC's per-second limit.
    return this.o.ratePerS > 0 ? Math.max(1, this.o.ratePerS / 20) : Infinity;
  }

  get isBound(): boolean {
    return this.bound;
  }

  private connect(): void {
    if (this.closing) return;
    const log = this.o.logger;
    const s = smpp.connect({ host: this.target.host, port: this.target.port, tls: this.target.tls });
    this.session = s;
    s.on('connect', () => {
      s.bind_transceiver({ system_id: this.target.systemId, password: this.target.password, system_type: this.target.systemType, interface_version: 0x34 }, (pdu: PDU) => {
        if (pdu.command_status !== 0) {
          log.error({ status: pdu.command_status, host: this.target.host }, 'SMPP bind refused; will retry');
          s.destroy();
          return;
        }
        this.bound = true;
        this.binds++;
        this.backoffMs = this.o.rebindMinMs;
        log.info({ host: this.target.host, port: this.target.port, binds: this.binds }, 'SMPP bound (transceiver)');
        this.keepAlive(s);
        this.pump();
      });
    });
    s.on('enquire_link', (pdu: PDU) => s.send(pdu.response()));
    s.on('unbind', (pdu: PDU) => {
      s.send(pdu.response());
      s.close();
    });
    s.on('deliver_sm', (pdu: PDU) => {
      s.send(pdu.response());
      if (pdu.esm_class & ESM_CLASS_RECEIPT) this.receipt(pdu);
    });
    s.on('error', (err: Error) => log.warn({ err: err.message, host: this.target.host }, 'SMPP connection error'));
    s.on('close', () => {
      if (this.session !== s) return;
      this.session = null;
      this.bound = false;
      if (this.enquireTimer) clearInterval(this.enquireTimer);
      this.enquireTimer = null;
      // What was in flight may or may not have reached the SMSC: report it, the worker retries.
      for (const [w, timer] of this.inFlight) {
        clearTimeout(timer);
        w.resolve({ status: -1, lost: 'SMPP connection lost before the SMSC answered' });
      }
      this.inFlight.clear();
      if (this.closing) return;
      log.warn({ host: this.target.host, retryInMs: this.backoffMs }, 'SMPP connection closed; rebinding');
      this.reconnectTimer = setTimeout(() => this.connect(), this.backoffMs);
      this.backoffMs = Math.min(this.o.rebindMaxMs, this.backoffMs * 2);
    });
  }

  private keepAlive(s: Session): void {
    if (this.enquireTimer) clearInterval(this.enquireTimer);
    this.enquireTimer = setInterval(() => {
      let answered = false;
      s.enquire_link({}, () => {
        answered = true;
      });
      setTimeout(() => {
        if (!answered && this.session === s) {
          this.o.logger.warn({ host: this.target.host }, 'SMPP enquire_link unanswered; dropping the connection');
          s.destroy();
        }
      }, this.o.responseTimeoutMs).unref();
    }, this.o.enquireLinkMs);
    this.enquireTimer.unref();
  }

  private receipt(pdu: PDU): void {
    const sm = pdu.short_message as { message?: string | Buffer } | Buffer | undefined;
    const text = typeof sm === 'object' && sm && 'message' in sm ? String(sm.message ?? '') : Buffer.isBuffer(sm) ? sm.toString('latin1') : '';
    const id = (typeof pdu.receipted_message_id === 'string' && pdu.receipted_message_id) || /\bid:(\S+)/i.exec(text)?.[1];
    const stat = (typeof pdu.message_state === 'number' ? MESSAGE_STATE_STAT[pdu.message_state] : undefined) ?? /\bstat:(\w+)/i.exec(text)?.[1];
    const outcome = stat ? receiptOutcome(stat) : undefined;
    if (!id || !stat || !outcome) return;
    const err = /\berr:(\w+)/i.exec(text)?.[1];
    Promise.resolve(this.receiptListener?.({ messageId: id, outcome, stat: stat.toUpperCase(), err })).catch((e) =>
      this.o.logger.warn({ err: (e as Error).message, messageId: id }, 'SMS receipt not recorded'),
    );
  }

  onReceipt(listener: (r: SmsReceipt) => Promise<void> | void): void {
    this.receiptListener = listener;
  }

  /** Sends what the window, the rate and the bind allow; schedules itself for when a token is due. */
  private pump(): void {
    const s = this.session;
    if (!s || !this.bound) return;
    const now = Date.now();
    if (this.o.ratePerS > 0) {
      this.tokens = Math.min(this.burst(), this.tokens + ((now - this.lastRefill) * this.o.ratePerS) / 1000);
      this.lastRefill = now;
    }
    while (this.waiting.length && this.inFlight.size < this.o.window && this.tokens >= 1) {
      const w = this.waiting.shift()!;
      if (this.o.ratePerS > 0) this.tokens -= 1;
      const timer = setTimeout(() => {
        if (!this.inFlight.delete(w)) return;
        w.resolve({ status: -1, lost: `no submit_sm_resp within ${this.o.responseTimeoutMs} ms` });
        this.pump();
      }, this.o.responseTimeoutMs);
      this.inFlight.set(w, timer);
      const sent = s.submit_sm(w.params, (pdu: PDU) => {
        const t = this.inFlight.get(w);
        if (t === undefined) return;
        clearTimeout(t);
        this.inFlight.delete(w);
        w.resolve({ status: pdu.command_status, messageId: pdu.message_id });
        this.pump();
      });
      if (!sent) {
        clearTimeout(timer);
        this.inFlight.delete(w);
        this.waiting.unshift(w);
        return;
      }
    }
    if (this.waiting.length && this.tokens < 1 && !this.pumpTimer) {
      const waitMs = Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.o.ratePerS));
      this.pumpTimer = setTimeout(() => {
        this.pumpTimer = null;
        this.pump();
      }, waitMs);
    }
  }

  private submit(params: Record<string, unknown>): Promise<{ status: number; messageId?: string; lost?: string }> {
    if (this.closing) return Promise.resolve({ status: -1, lost: 'SMPP client closed' });
    return new Promise((resolve) => {
      const w: Waiter = { params, resolve };
      this.waiting.push(w);
      // Not bound for a whole response timeout: give the job back to the queue rather than hold it.
      const giveUp = setTimeout(() => {
        const i = this.waiting.indexOf(w);
        if (i >= 0) {
          this.waiting.splice(i, 1);
          resolve({ status: -1, lost: `not bound to the SMSC for ${this.o.responseTimeoutMs} ms` });
        }
      }, this.o.responseTimeoutMs);
      w.resolve = (r) => {
        clearTimeout(giveUp);
        resolve(r);
      };
      this.pump();
    });
  }

  async send(sms: OutgoingSms): Promise<SmsResult> {
    this.ref = (this.ref + 1) & 0xff;
    const segments = encodeSms(sms.text, this.o.maxSegments, this.ref);
    const ids: string[] = [];
    for (const seg of segments) {
      const r = await this.submit({
        source_addr_ton: 0x05, // alphanumeric/short code as the SMSC assigned it
        source_addr_npi: 0x00,
        source_addr: this.o.sourceAddr,
        dest_addr_ton: 0x01, // international
        dest_addr_npi: 0x01, // ISDN (E.164)
        destination_addr: smppAddress(sms.to),
        esm_class: seg.udhi ? ESM_CLASS_UDHI : 0,
        registered_delivery: 0x01, // a receipt for success and failure
        data_coding: DATA_CODING_UCS2,
        short_message: seg.shortMessage,
      });
      if (r.lost) return { result: 'unavailable', accepted: ids.length, detail: partial(r.lost, ids.length, segments.length) };
      if (r.status !== 0) {
        return { result: 'refused', status: r.status, permanent: isPermanentStatus(r.status), accepted: ids.length, detail: partial(`SMSC refused: command_status 0x${r.status.toString(16).padStart(8, '0')}`, ids.length, segments.length) };
      }
      ids.push(String(r.messageId ?? ''));
    }
    return { result: 'ok', ids };
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.enquireTimer) clearInterval(this.enquireTimer);
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    for (const w of this.waiting.splice(0)) w.resolve({ status: -1, lost: 'SMPP client closed' });
    const s = this.session;
    if (!s) return;
    await new Promise<void>((resolve) => {
      const done = setTimeout(() => {
        s.destroy();
        resolve();
      }, 1000);
      s.socket.once('close', () => {
        clearTimeout(done);
        resolve();
      });
      if (this.bound) s.unbind({}, () => s.close());
      else s.destroy();
    });
  }
}

function partial(what: string, accepted: number, total: number): string {
  return total > 1 ? `${what} (${accepted} of ${total} segments accepted before)` : what;
}
