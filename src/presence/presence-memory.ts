import type { Presence, PresenceState } from './presence.ts';

/** In-process presence for embedded mode. */
export class MemoryPresence implements Presence {
  private readonly users = new Map<string, Map<string, { state: 'online' | 'away'; expiresAt: number }>>();

  constructor(private readonly now: () => number = Date.now) {}

  async set(userId: string, connId: string, state: 'online' | 'away', ttlMs: number): Promise<void> {
    let conns = this.users.get(userId);
    if (!conns) this.users.set(userId, (conns = new Map()));
    conns.set(connId, { state, expiresAt: this.now() + ttlMs });
  }

  async remove(userId: string, connId: string): Promise<void> {
    const conns = this.users.get(userId);
    conns?.delete(connId);
    if (conns?.size === 0) this.users.delete(userId);
  }

  async get(userIds: string[]): Promise<Map<string, PresenceState>> {
    const now = this.now();
    const out = new Map<string, PresenceState>();
    for (const id of userIds) {
      let state: PresenceState = 'offline';
      // Stops at the first live `online` connection: cheap even for a login with thousands of them.
      for (const [c, v] of this.users.get(id) ?? []) {
        if (v.expiresAt <= now) {
          this.users.get(id)!.delete(c);
          continue;
        }
        if (v.state === 'online') {
          state = 'online';
          break;
        }
        state = 'away';
      }
      out.set(id, state);
    }
    return out;
  }

  async close(): Promise<void> {
    this.users.clear();
  }
}
