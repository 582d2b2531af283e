/**
 * What a delivery transport (email, web push, SMS) is, for the shared delivery worker
 * (workers/delivery.worker.ts). The worker owns everything about the delivery row — claim, lease,
 * takeover, retry with backoff, settle, dead letters, metrics — and a transport owns only what is
 * its own: which contact of the user it needs, how a message is rendered for the recipient's
 * language, and how it is sent.
 *
 * Guarantees a transport gives the worker:
 * - `render` is pure (no I/O) and deterministic for one message × recipient, so a retry or a
 *   takeover sends the same content. It may throw a QiaoError for content the transport cannot
 *   carry (e.g. QIAO_SMS_TOO_LONG); the worker fails the row with that code and sends nothing.
 * - `send` never throws: every failure is an outcome. 'sent' means the far end accepted the whole
 *   message (all SMS segments, at least one browser); nothing is ever half-sent and reported
 *   retryable, except when the connection drops between parts, which the outcome's detail says.
 * - `send` is safe to call concurrently (the worker runs up to `concurrency` at a time) and for the
 *   same delivery twice in a row (the worker's claim makes that happen only after a crash; see
 *   `onTakeover`).
 * - `close` waits for nothing in flight beyond the transport's own timeouts, and is idempotent.
 *
 * The contract every implementation passes: test/contract/delivery-transport.contract.ts.
 */
import type { SentTransport } from '../../src/domain/routing.ts';

export type WorkerTransport = SentTransport;

/** The recipient as the worker read it with the claim. */
export interface Recipient {
  userId: string;
  locale: string;
  displayName: string;
  timeZone: string;
  email: string | null;
  /** E.164, '+86…' (validated when stored). */
  phone: string | null;
}

/** The stored message being delivered. */
export interface OutgoingMessage {
  id: string;
  channel: string;
  kind: string;
  payload: unknown;
  senderId: string;
  /** Display name of the sender (for chat titles and email signatures); undefined when unknown. */
  senderName?: string;
  publishedAt: Date;
}

/**
 * - sent: accepted by the far end; `providerIds` are the far end's ids (SMSC message ids), stored on
 *   the row so receipts can find it.
 * - suppressed: nothing to send to (e.g. no push subscription left); not an error.
 * - permanent: retrying cannot help (5xx, invalid destination, no address); the row is failed with
 *   `reason` and the job dead-lettered at once.
 * - retryable: throttled, system error, network; the queue retries with backoff and the row is
 *   failed 'retries-exhausted' on the last attempt.
 */
export type SendOutcome =
  | { result: 'sent'; providerIds?: string[] }
  | { result: 'suppressed'; reason: string; detail?: string }
  | { result: 'permanent'; reason: string; detail: string; /** The dead letter's reason; default `detail`. */ deadLetter?: string }
  | { result: 'retryable'; detail: string };

/** Which user field a transport needs to reach someone. */
export type ContactKind = 'email' | 'push-subscriptions' | 'phone';

export interface DeliveryTransport<Content = unknown> {
  readonly name: WorkerTransport;
  readonly needs: ContactKind;
  /** Tries the queue gives a job before the row is failed 'retries-exhausted' (dead letter). */
  readonly attempts: number;
  /**
   * What to do when taking over a row whose worker died mid-send (the far end may already have it):
   * 'resend' (at-least-once for such rows) or 'dead-letter' (never twice; failed 'unknown-outcome').
   */
  readonly onTakeover: 'resend' | 'dead-letter';
  /** Whether `render` uses `senderName` (the worker reads it only then). */
  readonly wantsSenderName: (m: Pick<OutgoingMessage, 'kind'>) => boolean;
  /** The content for this recipient, in their language. Pure; may throw a QiaoError (see above). */
  render(m: OutgoingMessage, r: Recipient): Content;
  send(deliveryId: string, r: Recipient, content: Content): Promise<SendOutcome>;
  close(): Promise<void>;
}
