/**
 * The hub never claims completeness it does not have: a live stream that skips offsets is held and
 * filled (bus history, else the store) before anything after the hole is delivered; recovery joins
 * history and the live buffer only where offsets follow on, filling holes from the store, and reports
 * a gap only where the store has nothing either.
 */
import { setImmediate as tick } from 'node:timers/promises';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { ResolvedChannel } from '../../channels/catalogue.ts';
import { MemoryBus } from '../../src/bus/bus-memory.ts';
import type { Publication } from '../../src/bus/bus.ts';
import type { GapPush, MsgPush } from '../../src/gateway/protocol.ts';
import { Hub, type HubSession, type SharedFrame } from '../../src/hub/hub.ts';
import { createMetrics } from '../../src/metrics.ts';
import type { MessagesRepo } from '../../src/store/messages-repo.ts';

const CH = 'research.macro';
const OPTS = { historySize: 10_000, historyTtlMs: 60_000 };
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

class Session implements HubSession {
  readonly transport = 'ws' as const;
  readonly offsets: number[] = [];
  readonly gaps: GapPush[] = [];
  constructor(readonly id: string) {}
  deliverEncoded(frame: string | Buffer): void {
    this.offsets.push((JSON.parse(frame.toString()) as MsgPush).offset);
  }
  deliverShared(frame: SharedFrame): void {
    for (const l of frame.text.toString().split('\n')) this.offsets.push((JSON.parse(l) as MsgPush).offset);
  }
  sendGap(g: GapPush): void {
    this.gaps.push(g);
  }
}

const mkPub = (offset: number): Publication => ({ channel: CH, id: `m${offset}`, offset, kind: 'note', sender: 'u1', payload: { n: offset }, time: new Date(0).toISOString() });

/**
 * A store holding `stored` (committed publications), and a bus that is only told what the test hands
 * it: so the bus can miss publications the store has, as after a Redis restart or a dead relay.
 */
function setup(stored: number[]) {
  const bus = new MemoryBus();
  const store = new Map(stored.map((o) => [o, mkPub(o)]));
  let storeDown = false;
  const storeReads: Array<[number, number]> = [];
  const messages = {
    topOffset: async () => Math.max(0, ...[...store.keys()].filter((o) => o <= storeTopAtStart)),
    since: async (_channel: string, since: number, limit: number) => {
      if (storeDown) throw new Error('Connection terminated unexpectedly');
      storeReads.push([since, limit]);
      return [...store.values()].filter((p) => p.offset > since).sort((a, b) => a.offset - b.offset).slice(0, limit);
    },
  } as unknown as MessagesRepo;
  let storeTopAtStart = 0;
  const hub = new Hub({ bus, messages, metrics: createMetrics('test', false), logger: pino({ level: 'silent' }) });
  const channel = { parsed: { name: CH }, family: { signals: [] } } as unknown as ResolvedChannel;
  return {
    hub,
    bus,
    channel,
    store,
    storeReads,
    setStoreTop: (o: number) => void (storeTopAtStart = o),
    setStoreDown: (down: boolean) => void (storeDown = down),
    /** Hands offsets to the bus as given (non-contiguous mode: holes are possible, as on a real bus after data loss). */
    toBus: async (...offsets: number[]) => {
      for (const o of offsets) await bus.publish(mkPub(o), OPTS);
    },
  };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 100; i++) await tick();
}

describe('hub: contiguity of the live stream', () => {
  it('a live publication that skips offsets waits until the hole is filled from the store', async () => {
    const t = setup(range(1, 10));
    const s = new Session('a');
    await t.hub.subscribe(s, t.channel, undefined);
    await t.toBus(1, 2, 3);
    // 4–6 were committed but never reached the bus (their relay died); 7 arrives live.
    await t.toBus(7, 8);
    await settle();
    expect(s.offsets).toEqual(range(1, 8));
    expect(s.gaps).toEqual([]);
    expect(t.storeReads.length).toBeGreaterThan(0);
  });

  it('holds the stream while the store is down, then delivers everything in order', async () => {
    const t = setup(range(1, 10));
    const s = new Session('a');
    await t.hub.subscribe(s, t.channel, undefined);
    await t.toBus(1);
    t.setStoreDown(true);
    await t.toBus(4, 5);
    await settle();
    // Nothing after the hole goes out while it cannot be filled.
    expect(s.offsets).toEqual([1]);
    t.setStoreDown(false);
    for (let i = 0; i < 50 && s.offsets.length < 5; i++) await new Promise((r) => setTimeout(r, 50));
    expect(s.offsets).toEqual(range(1, 5));
    expect(s.gaps).toEqual([]);
  });

  it('reports a gap (never skips silently) when the store has nothing for the hole either', async () => {
    const t = setup([1, 2, 6, 7]); // 3–5 purged from the store
    const s = new Session('a');
    await t.hub.subscribe(s, t.channel, undefined);
    await t.toBus(1, 2, 6, 7);
    await settle();
    expect(s.offsets).toEqual([1, 2, 6, 7]);
    expect(s.gaps).toMatchObject([{ t: 'gap', channel: CH, since: 2, from: 6, error: { code: 'QIAO_RECOVERY_GAP' } }]);
  });

  it('starts a new channel after the store top: older live copies are not news to subscribers told that top', async () => {
    const t = setup(range(1, 5));
    t.setStoreTop(5);
    const s = new Session('a');
    const r = await t.hub.subscribe(s, t.channel, undefined);
    expect(r.topOffset).toBe(5);
    await t.toBus(4, 5, 6);
    await settle();
    expect(s.offsets).toEqual([6]);
  });
});

describe('hub: recovery joins history and live only where offsets follow on', () => {
  it('fills from the store when bus history is short, and says recovered only when nothing is missing', async () => {
    const t = setup(range(1, 30));
    // The bus lost everything before 21 (a Redis restart) and has 21–30 again.
    await t.toBus(...range(21, 30));
    const s = new Session('r');
    const r = await t.hub.subscribe(s, t.channel, 5);
    expect(r.recovered).toBe(true);
    expect(s.offsets).toEqual(range(6, 30));
    expect(s.gaps).toEqual([]);
  });

  it('reports a gap from the first offset it can deliver when the store was purged below it', async () => {
    const t = setup(range(11, 20));
    await t.toBus(...range(11, 20));
    const s = new Session('r');
    const r = await t.hub.subscribe(s, t.channel, 3);
    expect(r.recovered).toBe(false);
    expect(s.gaps).toMatchObject([{ since: 3, from: 11 }]);
    expect(s.offsets).toEqual(range(11, 20));
  });

  it('publications committed during the recovery are delivered once, in order, then the session is live', async () => {
    const t = setup(range(1, 40));
    await t.toBus(...range(1, 20));
    const s = new Session('r');
    const sub = t.hub.subscribe(s, t.channel, 10);
    // Arrives while the recovery reads history: buffered, then joined without duplicates.
    await t.toBus(21, 22);
    await sub;
    await t.toBus(23, 24);
    // 25–27 never reach the bus: filled from the store before 28 goes out.
    await t.toBus(28);
    await settle();
    expect(s.offsets).toEqual(range(11, 28));
    expect(new Set(s.offsets).size).toBe(s.offsets.length);
    expect(s.gaps).toEqual([]);
  });
});
