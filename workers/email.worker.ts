/**
 * Email as a DeliveryTransport (workers/transports/delivery-transport.ts): rendered in the
 * recipient's language, sent through the MailTransport (SMTP or the .eml outbox) with a Message-ID
 * derived from the row. The row's claim, lease, retry and settle are the shared delivery worker's
 * (workers/delivery.worker.ts); jobs are `{deliveryId}` with job id `email-<deliveryId>`.
 *
 * Outcomes: no or invalid address → failed 'no-email'; 5xx → failed 'rejected' (dead letter at once);
 * 4xx and connection errors → retried with backoff, failed 'retries-exhausted' after
 * QIAO_EMAIL_ATTEMPTS.
 *
 * Exactly-once vs at-least-once: a second send can only happen if a worker dies (or loses the
 * database) after the server accepted the message and before `sent` is committed. The row is then
 * 'sending'; once its lease expires the next claim is a takeover and QIAO_EMAIL_ON_CRASH decides:
 * 'resend' (default; at-least-once for such rows, exactly-once for all others; the copy carries the
 * same Message-ID and X-Qiao-Delivery-Id) or 'dead-letter' (never twice: the row is failed
 * 'unknown-outcome' and an admin decides whether to replay). SMTP has no way to ask a server whether
 * it already has a message, so no setting gives exactly-once across a crash. docs/operations.md.
 */
import type { DeliveryConfig } from '../src/config/config.ts';
import { classify } from '../src/domain/routing.ts';
import { renderMessageEmail } from './templates/render.ts';
import { langOf } from './templates/strings.ts';
import type { DeliveryTransport } from './transports/delivery-transport.ts';
import { MailSendError, type MailTransport, type OutgoingMail } from './transports/email-transport.ts';

/** Deliberately loose (RFC 5322 is not a regex): one @, no spaces, a dot in the domain. */
export const EMAIL_RE = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;

export function messageIdFor(deliveryId: string): string {
  return `<delivery-${deliveryId}@qiao.mail>`;
}

export type RenderedEmail = Omit<OutgoingMail, 'to' | 'messageId' | 'headers'> & { messageId: string; channel: string };

export function emailDelivery(mail: MailTransport, d: Pick<DeliveryConfig, 'emailAttempts' | 'emailOnCrash' | 'publicUrl'>): DeliveryTransport<RenderedEmail> {
  return {
    name: 'email',
    needs: 'email',
    attempts: d.emailAttempts,
    onTakeover: d.emailOnCrash,
    wantsSenderName: () => true,
    render(m, r) {
      const lang = langOf(r.locale);
      const { critical, requireAck } = classify(m.payload);
      const out = renderMessageEmail(
        { id: m.id, channel: m.channel, kind: m.kind, payload: m.payload, senderName: m.senderName, publishedAt: m.publishedAt },
        { lang, recipientName: r.displayName, timeZone: r.timeZone, publicUrl: d.publicUrl, critical, requireAck },
      );
      return { ...out, lang, messageId: m.id, channel: m.channel };
    },
    async send(id, r, c) {
      if (!r.email || !EMAIL_RE.test(r.email)) {
        return { result: 'permanent', reason: 'no-email', detail: r.email ? 'recipient email address is not valid' : 'recipient has no email address' };
      }
      try {
        await mail.send({
          to: r.email,
          subject: c.subject,
          text: c.text,
          html: c.html,
          lang: c.lang,
          messageId: messageIdFor(id),
          headers: { 'X-Qiao-Delivery-Id': id, 'X-Qiao-Message-Id': c.messageId, 'X-Qiao-Channel': c.channel },
        });
        return { result: 'sent' };
      } catch (e) {
        const err = e instanceof MailSendError ? e : new MailSendError((e as Error)?.message ?? String(e), false);
        return err.permanent ? { result: 'permanent', reason: 'rejected', detail: err.message, deadLetter: `mail server refused: ${err.message}` } : { result: 'retryable', detail: err.message };
      }
    },
    // The MailTransport is shared with digests and closed by whoever made it (workers/index.ts).
    close: async () => {},
  };
}
