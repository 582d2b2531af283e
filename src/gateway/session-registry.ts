/** The sessions connected to this node, for draining, access revocation, per-user pushes and presence. */
import type { Session } from './session.ts';

export type RegistryListener = (event: 'add' | 'delete', s: Session) => void;

export class SessionRegistry {
  private readonly sessions = new Set<Session>();
  /** By user id: per-user pushes (unread counts, presence) look users up for every message. */
  private readonly users = new Map<string, Set<Session>>();
  private readonly listeners: RegistryListener[] = [];
  draining = false;

  add(s: Session): void {
    if (this.sessions.has(s)) return;
    this.sessions.add(s);
    let set = this.users.get(s.principal.id);
    if (!set) this.users.set(s.principal.id, (set = new Set()));
    set.add(s);
    this.emit('add', s);
  }

  delete(s: Session): void {
    if (!this.sessions.delete(s)) return;
    const set = this.users.get(s.principal.id);
    set?.delete(s);
    if (set?.size === 0) this.users.delete(s.principal.id);
    this.emit('delete', s);
  }

  /** Called after each add and delete (presence tracking). */
  onChange(listener: RegistryListener): void {
    this.listeners.push(listener);
  }

  private emit(event: 'add' | 'delete', s: Session): void {
    for (const l of this.listeners) {
      try {
        l(event, s);
      } catch {
        // A listener must not break connection handling.
      }
    }
  }

  get size(): number {
    return this.sessions.size;
  }

  all(): Session[] {
    return [...this.sessions];
  }

  byUser(userId: string): Session[] {
    const set = this.users.get(userId);
    return set ? [...set] : [];
  }
}
