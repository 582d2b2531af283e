/** The Presence contract (src/presence/presence.ts), run against every implementation. */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Presence } from '../../src/presence/presence.ts';

export function presenceContract(name: string, factory: () => Promise<{ presence: Presence; other?: Presence; cleanup(): Promise<void> }>): void {
  describe(`Presence contract: ${name}`, () => {
    let f: Awaited<ReturnType<typeof factory>>;
    let u: string;
    beforeEach(async () => {
      f = await factory();
      u = randomUUID();
    });
    afterEach(async () => f.cleanup());

    it('is offline until a connection reports, online after', async () => {
      expect((await f.presence.get([u])).get(u)).toBe('offline');
      await f.presence.set(u, 'c1', 'online', 10_000);
      expect((await f.presence.get([u])).get(u)).toBe('online');
    });

    it('is online while any connection is online, away when all are away', async () => {
      await f.presence.set(u, 'c1', 'away', 10_000);
      expect((await f.presence.get([u])).get(u)).toBe('away');
      await f.presence.set(u, 'c2', 'online', 10_000);
      expect((await f.presence.get([u])).get(u)).toBe('online');
      await f.presence.remove(u, 'c2');
      expect((await f.presence.get([u])).get(u)).toBe('away');
      await f.presence.remove(u, 'c1');
      expect((await f.presence.get([u])).get(u)).toBe('offline');
    });

    it('expires connections that are not refreshed (a crashed node)', async () => {
      await f.presence.set(u, 'c1', 'online', 150);
      await f.presence.set(u, 'c2', 'online', 10_000);
      await new Promise((r) => setTimeout(r, 250));
      await f.presence.remove(u, 'c2');
      expect((await f.presence.get([u])).get(u)).toBe('offline');
    });

    it('answers for many users at once', async () => {
      const v = randomUUID();
      await f.presence.set(u, 'c1', 'online', 10_000);
      const m = await f.presence.get([u, v]);
      expect(m.get(u)).toBe('online');
      expect(m.get(v)).toBe('offline');
    });

    it('is shared across instances when the backend is shared', async () => {
      if (!f.other) return;
      await f.presence.set(u, 'c1', 'online', 10_000);
      expect((await f.other.get([u])).get(u)).toBe('online');
      await f.other.remove(u, 'c1');
      expect((await f.presence.get([u])).get(u)).toBe('offline');
    });
  });
}
