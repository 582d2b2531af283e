/**
 * A local SMS centre for tests and the SMS bench, on the `smpp` package's server side: accepts
 * bind_transceiver (checking system_id/password), answers enquire_link, decodes every submit_sm
 * (UCS-2 text, concatenation UDH), reassembles multipart messages, answers with a message id and —
 * unless told not to — sends a delivery receipt (deliver_sm, esm_class 0x04) back on the session.
 *
 * `respond(phone, ...statuses)` scripts the next command_status answers for a destination (e.g.
 * 0x58 throttled, 0x0B invalid destination). `stop()` / `restart()` simulate an SMSC restart.
 */
import type { AddressInfo } from 'node:net';
import smpp, { type PDU, type Server, type Session } from 'smpp';
import { decodeSegment } from '../../workers/transports/sms-encoding.ts';

export interface ReceivedSms {
  /** destination_addr as sent (E.164 digits, no '+'). */
  to: string;
  text: string;
  segments: number;
  /** SMSC message ids, one per segment. */
  ids: string[];
  dataCoding: number;
}

export class FakeSmsc {
  private server: Server | null = null;
  port = 0;
  readonly systemId = 'qiao';
  readonly password = 'secret';
  /** Whole messages (multipart reassembled), in arrival order. */
  readonly received: ReceivedSms[] = [];
  /** Every submit_sm, including refused ones. */
  submits = 0;
  binds = 0;
  /** Most submit_sm seen at once before their response went out (responses are delayed a tick). */
  maxInFlight = 0;
  private inFlight = 0;
  /** Send receipts for accepted messages; 'DELIVRD' by default, or a stat per destination. */
  receipts = true;
  receiptStat = new Map<string, string>();
  private readonly script = new Map<string, number[]>();
  private readonly parts = new Map<string, { total: number; texts: string[]; ids: string[]; dataCoding: number }>();
  private nextId = 1;
  private readonly sessions = new Set<Session>();

  get url(): string {
    return `smpp://${this.systemId}:${this.password}@127.0.0.1:${this.port}`;
  }

  respond(to: string, ...statuses: number[]): void {
    this.script.set(to.replace(/^\+/, ''), statuses);
  }

  async start(port = 0): Promise<this> {
    this.server = smpp.createServer({}, (s) => this.session(s));
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', () => resolve()));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  private session(s: Session): void {
    this.sessions.add(s);
    s.on('close', () => this.sessions.delete(s));
    s.on('error', () => {});
    s.on('bind_transceiver', (pdu: PDU) => {
      if (pdu.system_id !== this.systemId || pdu.password !== this.password) {
        s.send(pdu.response({ command_status: 0x0e }));
        return;
      }
      this.binds++;
      s.send(pdu.response({ system_id: 'fake-smsc' }));
    });
    s.on('enquire_link', (pdu: PDU) => s.send(pdu.response()));
    s.on('unbind', (pdu: PDU) => {
      s.send(pdu.response());
      s.close();
    });
    s.on('submit_sm', (pdu: PDU) => this.submit(s, pdu));
  }

  private submit(s: Session, pdu: PDU): void {
    this.submits++;
    const to = String(pdu.destination_addr);
    const scripted = this.script.get(to)?.shift();
    if (scripted !== undefined && scripted !== 0) {
      s.send(pdu.response({ command_status: scripted }));
      return;
    }
    const id = `m${this.nextId++}`;
    // Answer on the next turn, so submits pipelined by the client are counted as in flight together.
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    setImmediate(() => {
      this.inFlight--;
      s.send(pdu.response({ message_id: id }));
      this.accepted(s, pdu, to, id);
    });
  }

  private accepted(s: Session, pdu: PDU, to: string, id: string): void {
    // The package decodes short_message on arrival (iconv, by data_coding) and splits off the UDH:
    // an independent decoder of what Qiao encoded.
    const seg = segmentOf(pdu);
    if (seg.total && seg.total > 1) {
      const key = `${to}/${seg.ref}`;
      const p = this.parts.get(key) ?? { total: seg.total, texts: [], ids: [], dataCoding: pdu.data_coding };
      p.texts[seg.seq! - 1] = seg.text;
      p.ids[seg.seq! - 1] = id;
      this.parts.set(key, p);
      if (p.texts.filter((t) => t !== undefined).length === p.total) {
        this.parts.delete(key);
        this.received.push({ to, text: p.texts.join(''), segments: p.total, ids: p.ids, dataCoding: p.dataCoding });
      }
    } else {
      this.received.push({ to, text: seg.text, segments: 1, ids: [id], dataCoding: pdu.data_coding });
    }
    if (this.receipts) this.receipt(s, to, id);
  }

  private receipt(s: Session, to: string, id: string): void {
    const stat = this.receiptStat.get(to) ?? 'DELIVRD';
    const state = { DELIVRD: 2, EXPIRED: 3, DELETED: 4, UNDELIV: 5, ACCEPTD: 6, UNKNOWN: 7, REJECTD: 8 }[stat] ?? 7;
    setImmediate(() =>
      s.deliver_sm({
        source_addr: to,
        destination_addr: '10690000',
        esm_class: 0x04,
        short_message: `id:${id} sub:001 dlvrd:${stat === 'DELIVRD' ? '001' : '000'} submit date:2601011200 done date:2601011200 stat:${stat} err:${stat === 'DELIVRD' ? '000' : '001'} text:`,
        receipted_message_id: id,
        message_state: state,
      }),
    );
  }

  /** The complete message to `phone` (+86… or digits), waiting for it. */
  async waitFor(phone: string, timeoutMs = 10_000): Promise<ReceivedSms> {
    const to = phone.replace(/^\+/, '');
    const until = Date.now() + timeoutMs;
    for (;;) {
      const m = this.received.find((r) => r.to === to);
      if (m) return m;
      if (Date.now() > until) throw new Error(`no SMS to ${phone} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Closes the listener and every session (an SMSC going down). */
  async stop(): Promise<void> {
    for (const s of this.sessions) s.destroy();
    this.sessions.clear();
    if (!this.server) return;
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = null;
  }

  /** Back on the same port. */
  async restart(): Promise<void> {
    await this.start(this.port);
  }
}

/** Text and concatenation header of one submit_sm, as the `smpp` package decoded it. */
function segmentOf(pdu: PDU): { text: string; ref?: number; total?: number; seq?: number } {
  const sm = pdu.short_message as Buffer | { udh?: Buffer[]; message: string | Buffer };
  if (Buffer.isBuffer(sm)) return decodeSegment(sm, Boolean(pdu.esm_class & 0x40), pdu.data_coding);
  const text = typeof sm.message === 'string' ? sm.message : sm.message.toString('latin1');
  // IEI 0x00 (8-bit reference): [0x00, 0x03, ref, total, seq].
  const concat = sm.udh?.find((u) => u[0] === 0x00 && u[1] === 0x03);
  return concat ? { text, ref: concat[2], total: concat[3], seq: concat[4] } : { text };
}
