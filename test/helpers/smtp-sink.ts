/**
 * A local SMTP sink for delivery tests and benchmarks (smtp-server on 127.0.0.1): records every message
 * it accepts, raw, with its envelope and the X-Qiao-Delivery-Id header; parses on demand with
 * mailparser. It can be stopped (connections cut at once) and started again on the same port, and can
 * refuse chosen recipients with a permanent 550.
 */
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  raw: Buffer;
  from: string;
  to: string[];
  /** X-Qiao-Delivery-Id header (space-separated ids for digests), or '' when absent. */
  deliveryId: string;
  messageId: string;
  /** X-Qiao-Message-Id header: the publication the mail is about (not set on digests). */
  qiaoMessageId: string;
  at: number;
}

function header(raw: Buffer, name: string): string {
  const head = raw.subarray(0, Math.max(0, raw.indexOf('\r\n\r\n')) || raw.length).toString('utf8');
  const m = new RegExp(`^${name}:[ \\t]*(.*(?:\\r\\n[ \\t].*)*)`, 'im').exec(head);
  return m ? m[1].replace(/\r\n[ \t]+/g, ' ').trim() : '';
}

export class SmtpSink {
  readonly received: ReceivedMail[] = [];
  /** Recipients matching this are refused with 550 (a permanent failure). */
  rejectRecipients: RegExp | null = null;
  /** Wait this long before accepting each message (a slower server, to catch a batch mid-way). */
  delayMs = 0;
  private server: SMTPServer | null = null;
  private waiters: Array<() => void> = [];

  private constructor(public port: number) {}

  static async start(port = 0, opts: { delayMs?: number } = {}): Promise<SmtpSink> {
    const sink = new SmtpSink(port);
    sink.delayMs = opts.delayMs ?? 0;
    await sink.listen();
    return sink;
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.server !== null;
  }

  private listen(): Promise<void> {
    const server = new SMTPServer({
      logger: false,
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      closeTimeout: 50,
      size: 10 * 1024 * 1024,
      onRcptTo: (address, _session, cb) => {
        if (this.rejectRecipients?.test(address.address)) {
          const err = Object.assign(new Error('mailbox unavailable'), { responseCode: 550 });
          return cb(err);
        }
        cb();
      },
      onData: (stream, session, cb) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', async () => {
          if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
          const raw = Buffer.concat(chunks);
          this.received.push({
            raw,
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            deliveryId: header(raw, 'X-Qiao-Delivery-Id'),
            messageId: header(raw, 'Message-ID'),
            qiaoMessageId: header(raw, 'X-Qiao-Message-Id'),
            at: Date.now(),
          });
          for (const w of this.waiters.splice(0)) w();
          cb();
        });
      },
    });
    server.on('error', () => {});
    return new Promise((resolve, reject) => {
      server.server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        this.port = (server.server.address() as AddressInfo).port;
        this.server = server;
        resolve();
      });
    });
  }

  /** Stops listening and cuts every open connection (a crashed or unreachable mail server). */
  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = null;
    const closed = new Promise<void>((r) => s.close(() => r()));
    for (const c of s.connections) (c as unknown as { _socket?: { destroy(): void } })._socket?.destroy();
    await closed;
  }

  /** Listens again on the same port. */
  async restart(): Promise<void> {
    if (!this.server) await this.listen();
  }

  async parse(m: ReceivedMail): Promise<ParsedMail> {
    return simpleParser(m.raw);
  }

  /** Mails about one publication. */
  about(messageId: string): ReceivedMail[] {
    return this.received.filter((m) => m.qiaoMessageId === messageId);
  }

  /** Messages addressed to `address`. */
  to(address: string): ReceivedMail[] {
    return this.received.filter((m) => m.to.includes(address));
  }

  /** How many times each delivery id was received. */
  countByDeliveryId(): Map<string, number> {
    const out = new Map<string, number>();
    for (const m of this.received) for (const id of m.deliveryId.split(' ').filter(Boolean)) out.set(id, (out.get(id) ?? 0) + 1);
    return out;
  }

  /** Resolves when `pred` holds (checked on every received message), or rejects after `timeoutMs`. */
  async waitFor(pred: (received: ReceivedMail[]) => boolean, timeoutMs = 10_000, what = 'mail'): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!pred(this.received)) {
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; received ${this.received.length}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }
}
