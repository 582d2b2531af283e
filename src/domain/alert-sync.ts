/**
 * Keeps the alert-rule indexes of all hub nodes in step: rule created/deleted through the REST API on
 * one node, and rule state changes (fired, re-armed) made by the node that evaluated the tick, are
 * broadcast to every node, which applies them to its own index.
 *
 * Guarantees (both implementations):
 * - Delivery is at-most-once and best effort. Correctness never depends on it: every transition is
 *   decided by a conditional UPDATE in Postgres (AlertRulesRepo.claimFire / rearm), so a node with a
 *   stale index at worst tries a claim that fails, and then corrects its index from the database.
 * - `onResync` listeners run when messages may have been lost (the Redis subscriber reconnected);
 *   the engine then reloads its index from Postgres.
 * - A node receives its own events too; applying them is idempotent.
 */
import type { AlertRuleState } from './alert-index.ts';

export type AlertSyncEvent =
  | { t: 'upsert'; rule: AlertRuleState }
  | { t: 'delete'; id: string }
  | { t: 'state'; id: string; active: boolean; armed: boolean };

export interface AlertSyncMessage {
  /** Node that sent it (nodes skip their own). */
  from: string;
  events: AlertSyncEvent[];
}

export type AlertSyncHandler = (msg: AlertSyncMessage) => void;

export interface AlertSync {
  publish(msg: AlertSyncMessage): Promise<void>;
  /** Resolves when delivery to `handler` is active. */
  subscribe(handler: AlertSyncHandler): Promise<void>;
  unsubscribe(handler: AlertSyncHandler): void;
  onResync(listener: () => void): void;
  close(): Promise<void>;
}

/**
 * In-process sync (embedded mode: one process). Several apps in one test process can share one
 * instance to act as several nodes.
 */
export class MemoryAlertSync implements AlertSync {
  private readonly handlers = new Set<AlertSyncHandler>();

  async publish(msg: AlertSyncMessage): Promise<void> {
    // Copy, as a real transport would serialise; deliver asynchronously like Redis does.
    const copy = structuredClone(msg);
    queueMicrotask(() => {
      for (const h of this.handlers) h(copy);
    });
  }

  async subscribe(handler: AlertSyncHandler): Promise<void> {
    this.handlers.add(handler);
  }

  unsubscribe(handler: AlertSyncHandler): void {
    this.handlers.delete(handler);
  }

  onResync(): void {}

  async close(): Promise<void> {
    this.handlers.clear();
  }
}
