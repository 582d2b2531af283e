/**
 * Presence: which users are connected, and whether they are active or away.
 *
 * Guarantees (checked by test/contract/presence.contract.ts):
 * 1. A user is `online` while at least one of its connections reported `online` within its TTL,
 *    `away` while its live connections all report `away`, and `offline` otherwise.
 * 2. Connections are tracked separately: closing one tab does not make a user offline while another
 *    tab is open. An entry not refreshed within its TTL expires (a crashed node's connections vanish
 *    without anyone removing them).
 * 3. All hub processes sharing the backend see the same answer.
 */
export type PresenceState = 'online' | 'away' | 'offline';

export interface Presence {
  /** Report a connection's state; refresh it before `ttlMs` passes. */
  set(userId: string, connId: string, state: 'online' | 'away', ttlMs: number): Promise<void>;
  remove(userId: string, connId: string): Promise<void>;
  get(userIds: string[]): Promise<Map<string, PresenceState>>;
  close(): Promise<void>;
}
