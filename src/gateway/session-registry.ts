/** The sessions connected to this node, for draining and access revocation. */
import type { Session } from './session.ts';

export class SessionRegistry {
  private readonly sessions = new Set<Session>();
  draining = false;

  add(s: Session): void {
    this.sessions.add(s);
  }

  delete(s: Session): void {
    this.sessions.delete(s);
  }

  get size(): number {
    return this.sessions.size;
  }

  all(): Session[] {
    return [...this.sessions];
  }

  byUser(userId: string): Session[] {
    return this.all().filter((s) => s.principal.id === userId);
  }
}
