/**
 * The API ↔ worker contract: queue names and job payload types. The hub only enqueues these; the
 * workers in workers/ consume them. Payloads carry ids, never secrets; workers read the rest from
 * the store, so a job replayed from the dead-letter list sees current data.
 */
import type { SentTransport } from '../domain/routing.ts';

export const QUEUES = {
  /** One job per publication: decide, per recipient, which transports to use. */
  fanout: 'qiao-fanout',
  /** Email delivery rows: one job per row, or per batch of rows from a fanout (DeliveryBatchJob). */
  email: 'qiao-email',
  /** Web-push delivery rows: one job per row, or per batch of rows from a fanout (DeliveryBatchJob). */
  push: 'qiao-push',
  /** One job per SMS delivery row (workers/transports/sms-transport.ts). */
  sms: 'qiao-sms',
  /** Periodic: send due digests and release items held for quiet hours / trading sessions. */
  digest: 'qiao-digest',
  /** Acknowledgement-driven escalation steps (unread after N minutes → push → email). */
  escalation: 'qiao-escalation',
  /** Market ticks to evaluate against price-alert rules. */
  alerts: 'qiao-alerts',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export interface FanoutJob {
  messageId: string;
  channel: string;
  family: string;
  offset: number;
  kind: string;
}

/** One job per delivery row of a sent transport (email, push, SMS): workers/delivery.worker.ts. */
export interface DeliveryJob {
  /** The deliveries row this job fulfils (status moves queued → sent | failed). */
  deliveryId: string;
  /** Set by `JobQueue.replay`: an operator replayed the dead letter, so a failed row is sent again. */
  replayed?: boolean;
}
/**
 * Several delivery rows of one transport in one job (a fanout's email and push rows): the worker sends each as a
 * job of its own would, then hands the rows that need another try to single-row jobs (`jobIds.delivery`)
 * and fails the batch job (a dead letter naming them) for rows that failed for good. Fewer jobs is
 * what makes a 100,000-recipient fanout fit in seconds: BullMQ's cost is per job.
 */
export interface DeliveryBatchJob {
  deliveryIds: string[];
  /** As DeliveryJob.replayed. */
  replayed?: boolean;
}
export type EmailJob = DeliveryJob | DeliveryBatchJob;
export type PushJob = DeliveryJob | DeliveryBatchJob;
export type SmsJob = DeliveryJob;

/** The queue of each sent transport; a transport without one does not compile. */
export const DELIVERY_QUEUES = { email: QUEUES.email, push: QUEUES.push, sms: QUEUES.sms } as const satisfies Record<SentTransport, QueueName>;

export interface DigestJob {
  /** ISO time the sweep runs for (lets tests shift the clock). */
  at?: string;
}

export interface EscalationJob {
  messageId: string;
  userId: string;
  /** 0: push, 1: email. */
  step: number;
}

export interface AlertTickJob {
  symbol: string;
  price: number;
  time: string;
}

/** Stable job ids: a retried enqueue never creates a second job for the same work. */
export const jobIds = {
  fanout: (messageId: string) => `fanout-${messageId}`,
  email: (deliveryId: string) => `email-${deliveryId}`,
  push: (deliveryId: string) => `push-${deliveryId}`,
  sms: (deliveryId: string) => `sms-${deliveryId}`,
  /** `<transport>-<deliveryId>`: the same ids as `email`, `push`, `sms` above. */
  delivery: (transport: SentTransport, deliveryId: string) => `${transport}-${deliveryId}`,
  /** A batch by its first row and size: a re-run fanout re-enqueueing the same rows adds nothing. */
  deliveryBatch: (transport: SentTransport, deliveryIds: readonly string[]) => `${transport}-batch-${deliveryIds[0]}-${deliveryIds.length}`,
  escalation: (messageId: string, userId: string, step: number) => `esc-${messageId}-${userId}-${step}`,
};
