/**
 * The periodic presence refresh of a hub node (src/conversations/live.ts): every user connected here is
 * re-written before its entry expires, in slices with pauses between them, not in one burst that holds
 * the event loop (and the live deliveries behind it) for tens of ms.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryBus } from '../../src/bus/bus-memory.ts';
import { ConversationLive, PRESENCE_TTL_MS } from '../../src/conversations/live.ts';
import { SessionRegistry } from '../../src/gateway/session-registry.ts';
import { MemoryPresence } from '../../src/presence/presence-memory.ts';

class CountingPresence extends MemoryPresence {
  readonly sets: Array<{ userId: string; state: string; ttlMs: number }> = [];
  override async set(userId: string, connId: string, state: 'online' | 'away', ttlMs: number): Promise<void> {
    this.sets.push({ userId, state, ttlMs });
    return super.set(userId, connId, state, ttlMs);
  }
}

describe('presence refresh', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('re-writes every connected user with the TTL, 50 at a time with pauses, once per period', async () => {
    vi.useFakeTimers();
    const presence = new CountingPresence();
    const live = new ConversationLive({ bus: new MemoryBus(), registry: new SessionRegistry(), presence, conversations: {} as never, access: {} as never, logger: pino({ level: 'silent' }) });
    await live.start();
    // What connected() records for the users with a connection on this node.
    const published = (live as unknown as { published: Map<string, 'online' | 'away'> }).published;
    for (let i = 0; i < 180; i++) published.set(`user-${i}`, i % 3 === 0 ? 'away' : 'online');

    await vi.advanceTimersByTimeAsync(29_999);
    expect(presence.sets).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    // The first slice only: the rest waits for the next timer turns.
    expect(presence.sets).toHaveLength(50);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(presence.sets).toHaveLength(180);
    expect(new Set(presence.sets.map((s) => s.userId)).size).toBe(180);
    expect(presence.sets.every((s) => s.ttlMs === PRESENCE_TTL_MS)).toBe(true);
    expect(presence.sets.find((s) => s.userId === 'user-3')?.state).toBe('away');
    // Nothing more until the next period.
    await vi.advanceTimersByTimeAsync(28_000);
    expect(presence.sets).toHaveLength(180);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(presence.sets.length).toBeGreaterThan(180);
    await live.close();
  });
});
