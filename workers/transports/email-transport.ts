/**
 * Where email goes: an SMTP server through a pooled nodemailer transport, or — in embedded mode with
 * no QIAO_SMTP_URL — `.eml` files in an outbox folder that a newcomer can open in any mail program.
 * Both are behind one interface and checked by one contract (test/contract/mail-transport.contract.ts).
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import nodemailer from 'nodemailer';

export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Message-ID with angle brackets; stable per delivery row, so a resend after a crash has the same one. */
  messageId: string;
  /** BCP 47 language of the content (zh-CN, en), sent as Content-Language. */
  lang: string;
  headers?: Record<string, string>;
}

export interface MailTransport {
  readonly kind: 'smtp' | 'outbox';
  /** Resolves when the server accepted the message (or the file is written); throws MailSendError. */
  send(mail: OutgoingMail): Promise<void>;
  close(): Promise<void>;
}

/** A failed send. `permanent`: retrying cannot help (5xx reply, recipient refused). */
export class MailSendError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
    readonly responseCode?: number,
  ) {
    super(message);
    this.name = 'MailSendError';
  }
}

function classify(e: unknown): MailSendError {
  const err = e as { message?: string; responseCode?: number; code?: string; response?: string };
  const code = typeof err?.responseCode === 'number' ? err.responseCode : undefined;
  // 5xx is a permanent refusal (RFC 5321 §4.2.1); 4xx and connection errors are worth retrying.
  const permanent = code !== undefined && code >= 500 && code < 600;
  const text = err?.response ?? err?.message ?? String(e);
  return new MailSendError(`${err?.code ? err.code + ': ' : ''}${text}`.slice(0, 500), permanent, code);
}

export interface SmtpOptions {
  url: string;
  from: string;
  poolSize: number;
  /** Socket inactivity limit, ms (also bounds how long one send can take). */
  socketTimeoutMs?: number;
}

export class SmtpMailTransport implements MailTransport {
  readonly kind = 'smtp' as const;
  private readonly transporter;

  constructor(o: SmtpOptions) {
    this.transporter = nodemailer.createTransport(
      {
        pool: true,
        url: o.url,
        maxConnections: o.poolSize,
        maxMessages: 1000,
        connectionTimeout: 10_000,
        greetingTimeout: 10_000,
        socketTimeout: o.socketTimeoutMs ?? 30_000,
      },
      { from: o.from },
    );
  }

  async send(m: OutgoingMail): Promise<void> {
    let info;
    try {
      info = await this.transporter.sendMail({
        to: m.to,
        subject: m.subject,
        text: m.text,
        html: m.html,
        messageId: m.messageId,
        headers: { 'Content-Language': m.lang, ...m.headers },
        // Chinese text is 3 bytes per character in UTF-8: base64 is a third the size of quoted-printable.
        textEncoding: 'base64',
      });
    } catch (e) {
      throw classify(e);
    }
    const rejected = (info.rejected ?? []).map(String);
    if (rejected.length) throw new MailSendError(`recipient refused: ${rejected.join(', ')} ${info.response ?? ''}`.trim(), true);
  }

  async close(): Promise<void> {
    this.transporter.close();
  }
}

/** `.eml` files named after the Message-ID: a retried send rewrites the same file, never a second one. */
export class OutboxMailTransport implements MailTransport {
  readonly kind = 'outbox' as const;
  private readonly composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  private ready: Promise<unknown> | null = null;

  constructor(
    readonly dir: string,
    private readonly from: string,
  ) {}

  static fileName(messageId: string): string {
    return messageId.replace(/^<|>$/g, '').replace(/[^A-Za-z0-9._-]/g, '_') + '.eml';
  }

  async send(m: OutgoingMail): Promise<void> {
    this.ready ??= mkdir(this.dir, { recursive: true });
    await this.ready;
    let raw: Buffer;
    try {
      const info = await this.composer.sendMail({
        from: this.from,
        to: m.to,
        subject: m.subject,
        text: m.text,
        html: m.html,
        messageId: m.messageId,
        headers: { 'Content-Language': m.lang, ...m.headers },
      });
      raw = info.message as Buffer;
    } catch (e) {
      throw new MailSendError((e as Error).message, true);
    }
    const file = join(this.dir, OutboxMailTransport.fileName(m.messageId));
    // Write then rename, so a reader never sees half a message.
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      await writeFile(tmp, raw).catch(async (e) => {
        // The folder was removed while we run: make it again, once.
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        await mkdir(this.dir, { recursive: true });
        await writeFile(tmp, raw);
      });
      await rename(tmp, file);
    } catch (e) {
      throw new MailSendError(`outbox write failed: ${(e as Error).message}`, false);
    }
  }

  async close(): Promise<void> {}
}

export interface MailTransportConfig {
  smtpUrl?: string;
  mailFrom: string;
  smtpPoolSize: number;
  /** Folder for .eml files when there is no SMTP URL. */
  outboxDir: string;
}

export function createMailTransport(c: MailTransportConfig): MailTransport {
  return c.smtpUrl
    ? new SmtpMailTransport({ url: c.smtpUrl, from: c.mailFrom, poolSize: c.smtpPoolSize })
    : new OutboxMailTransport(c.outboxDir, c.mailFrom);
}
