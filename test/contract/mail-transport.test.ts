/**
 * MailTransport contract against both implementations — the .eml outbox and pooled SMTP to a local
 * smtp-server sink (no external service) — plus what is specific to each.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MailSendError, OutboxMailTransport, SmtpMailTransport, createMailTransport } from '../../workers/transports/email-transport.ts';
import { SmtpSink } from '../helpers/smtp-sink.ts';
import { mail, mailTransportContract } from './mail-transport.contract.ts';

const FROM = '桥 Qiao <no-reply@qiao.example>';

mailTransportContract('outbox (.eml files)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'qiao-outbox-'));
  const transport = new OutboxMailTransport(join(dir, 'outbox'), FROM);
  return {
    transport,
    async fetch(messageId) {
      return [await readFile(join(dir, 'outbox', OutboxMailTransport.fileName(messageId)))];
    },
    async cleanup() {
      await transport.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

mailTransportContract('SMTP (pooled, to a local smtp-server)', async () => {
  const sink = await SmtpSink.start();
  const transport = new SmtpMailTransport({ url: sink.url, from: FROM, poolSize: 4 });
  return {
    transport,
    async fetch(messageId) {
      return sink.received.filter((m) => m.messageId === messageId).map((m) => m.raw);
    },
    async cleanup() {
      await transport.close();
      await sink.stop();
    },
  };
});

describe('outbox specifics', () => {
  it('names files after the Message-ID, so a resend rewrites the same file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'qiao-outbox-'));
    try {
      const t = createMailTransport({ mailFrom: FROM, smtpPoolSize: 1, outboxDir: dir });
      expect(t.kind).toBe('outbox');
      const m = mail();
      await t.send(m);
      await t.send(m);
      const files = await readdir(dir);
      expect(files).toEqual([OutboxMailTransport.fileName(m.messageId)]);
      expect(files[0]).toMatch(/^delivery-[0-9a-f-]{36}_qiao\.mail\.eml$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('SMTP specifics', () => {
  it('reports a 5xx refusal as permanent', async () => {
    const sink = await SmtpSink.start();
    sink.rejectRecipients = /^nobody@/;
    const t = new SmtpMailTransport({ url: sink.url, from: FROM, poolSize: 1 });
    try {
      const err = await t.send(mail({ to: 'nobody@qiao.example' })).catch((e) => e);
      expect(err).toBeInstanceOf(MailSendError);
      expect(err.permanent).toBe(true);
    } finally {
      await t.close();
      await sink.stop();
    }
  });

  it('reports an unreachable server as transient, and recovers when it is back', async () => {
    const sink = await SmtpSink.start();
    const t = new SmtpMailTransport({ url: sink.url, from: FROM, poolSize: 2 });
    try {
      await t.send(mail());
      await sink.stop();
      const err = await t.send(mail()).catch((e) => e);
      expect(err).toBeInstanceOf(MailSendError);
      expect(err.permanent).toBe(false);
      await sink.restart();
      const m = mail();
      await t.send(m);
      expect(sink.received.filter((r) => r.messageId === m.messageId)).toHaveLength(1);
    } finally {
      await t.close();
      await sink.stop();
    }
  });
});
