/** Append-only audit trail of security-relevant actions. */
import type { Db } from './db.ts';
import { auditLog } from './schema/index.ts';

export interface AuditEvent {
  actorId: string;
  action: string;
  target?: string;
  outcome: 'ok' | 'refused' | 'error';
  detail?: Record<string, unknown>;
  ip?: string;
}

export class AuditRepo {
  constructor(private readonly db: Db) {}

  async append(e: AuditEvent): Promise<void> {
    await this.db.insert(auditLog).values({
      actorId: e.actorId,
      action: e.action,
      target: e.target ?? null,
      outcome: e.outcome,
      detail: e.detail ?? {},
      ip: e.ip ?? null,
    });
  }
}
