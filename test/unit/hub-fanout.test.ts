/**
 * The hub's fanout: raw WebSockets get per-socket cursors over a channel log swept in slices (several
 * publications per write when they arrive together), socket.io sessions one room broadcast per channel
 * and turn. Whatever the batching, every session gets every publication after it went live exactly
 * once, in offset order, and recovery never duplicates or skips.
 */
import { setImmediate as tick } from 'node:timers/promises';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { ResolvedChannel } from '../../channels/catalogue.ts';
import { MemoryBus } from '../../src/bus/bus-memory.ts';
import type { Publication } from '../../src/bus/bus.ts';
import type { GapPush, MsgPush } from '../../src/gateway/protocol.ts';
import { Hub, SWEEP_SLICE, type HubSession, type SharedFrame } from '../../src/hub/hub.ts';
import { createMetrics } from '../../src/metrics.ts';
import type { MessagesRepo } from '../../src/store/messages-repo.ts';

const CH = 'research.macro';
const OPTS = { historySize: 10_000, historyTtlMs: 60_000 };

class WsSession implements HubSession {
  readonly transport = 'ws' as const;
  readonly offsets: number[] = [];
  writes = 0;
  gaps: GapPush[] = [];
  constructor(readonly id: string) {}
  deliverEncoded(frame: string | Buffer): void {
    this.writes++;
    this.offsets.push((JSON.parse(frame.toString()) as MsgPush).offset);
  }
  deliverShared(frame: SharedFrame): void {
    this.writes++;
    const lines = frame.text.toString().split('\n');
    expect(lines).toHaveLength(frame.count);
    for (const l of lines) {
      const m = JSON.parse(l) as MsgPush;
      expect(m.t).toBe('msg');
      this.offsets.push(m.offset);
    }
  }
  sendGap(g: GapPush): void {
    this.gaps.push(g);
  }
}

class SioSession implements HubSession {
  readonly transport = 'socketio' as const;
  readonly offsets: number[] = [];
  room: string | null = null;
  constructor(readonly id: string) {}
  deliverEncoded(_frame: string | Buffer, push: MsgPush): void {
    this.offsets.push(push.offset);
  }
  sendGap(): void {}
  joinRoom(room: string): void {
    expect(this.room).toBeNull();
    this.room = room;
  }
  leaveRoom(room: string): void {
    expect(this.room).toBe(room);
    this.room = null;
  }
}

function setup() {
  const bus = new MemoryBus();
  const messages = {
    topOffset: async () => 0,
    since: async (channel: string, since: number, limit: number) => (await bus.history(channel, { sinceOffset: since, limit })).publications,
  } as unknown as MessagesRepo;
  const sio: SioSession[] = [];
  const broadcasts: Array<{ room: string; offsets: number[] }> = [];
  const hub = new Hub({
    bus,
    messages,
    metrics: createMetrics('test', false),
    logger: pino({ level: 'silent' }),
    roomBroadcast: (room, push) => {
      const offsets = (Array.isArray(push) ? push : [push]).map((p) => p.offset);
      broadcasts.push({ room, offsets });
      for (const s of sio) if (s.room === room) s.offsets.push(...offsets);
    },
  });
  let offset = 0;
  const publish = (): Promise<unknown> => {
    offset++;
    const pub: Publication = { channel: CH, id: `m${offset}`, offset, kind: 'note', sender: 'u1', payload: { n: offset }, time: new Date().toISOString() };
    return bus.publish(pub, OPTS);
  };
  const channel = { parsed: { name: CH }, family: { signals: [] } } as unknown as ResolvedChannel;
  return { hub, bus, publish, channel, sio, broadcasts };
}

/** Lets every pending sweep slice and flush run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 200; i++) await tick();
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('hub fanout', () => {
  it('a burst of publications reaches every raw WebSocket in one write, in order, exactly once', async () => {
    const { hub, publish, channel } = setup();
    const sessions = Array.from({ length: 1000 }, (_, i) => new WsSession(`s${i}`));
    for (const s of sessions) await hub.subscribe(s, channel, undefined);
    for (let i = 0; i < 50; i++) void publish();
    await settle();
    for (const s of sessions) {
      expect(s.offsets).toEqual(range(1, 50));
      expect(s.writes).toBe(1);
    }
  });

  it('publications arriving during a sweep join the writes still ahead; nobody misses or repeats one', async () => {
    const { hub, publish, channel } = setup();
    const sessions = Array.from({ length: SWEEP_SLICE * 3 + 7 }, (_, i) => new WsSession(`s${i}`));
    for (const s of sessions) await hub.subscribe(s, channel, undefined);
    await publish();
    await tick(); // first slice written: publication 1 only
    await publish();
    await settle();
    for (const s of sessions) expect(s.offsets).toEqual([1, 2]);
    expect(sessions[0].writes).toBe(2);
    expect(sessions.at(-1)!.writes).toBe(1);
  });

  it('a socket that goes live mid-sweep gets only what is published after, once', async () => {
    const { hub, publish, channel } = setup();
    const early = Array.from({ length: SWEEP_SLICE * 2 }, (_, i) => new WsSession(`e${i}`));
    for (const s of early) await hub.subscribe(s, channel, undefined);
    await publish();
    const late = new WsSession('late');
    const r = await hub.subscribe(late, channel, undefined);
    expect(r.topOffset).toBe(1);
    await publish();
    await settle();
    expect(late.offsets).toEqual([2]);
    for (const s of early) expect(s.offsets).toEqual([1, 2]);
  });

  it('recovery while publications flow: everything after `since`, in order, no duplicate', async () => {
    const { hub, publish, channel } = setup();
    const live = Array.from({ length: SWEEP_SLICE + 1 }, (_, i) => new WsSession(`l${i}`));
    for (const s of live) await hub.subscribe(s, channel, undefined);
    for (let i = 0; i < 20; i++) await publish();
    const rec = new WsSession('rec');
    const sub = hub.subscribe(rec, channel, 5);
    for (let i = 0; i < 20; i++) void publish();
    await sub;
    for (let i = 0; i < 10; i++) void publish();
    await settle();
    expect(rec.offsets).toEqual(range(6, 50));
    expect(rec.gaps).toEqual([]);
    for (const s of live) expect(s.offsets).toEqual(range(1, 50));
  });

  it('socket.io: one room broadcast per shard of SWEEP_SLICE sockets, several publications in one push array', async () => {
    const { hub, publish, channel, sio, broadcasts } = setup();
    const sessions = Array.from({ length: SWEEP_SLICE * 2 + 1 }, (_, i) => new SioSession(`s${i}`));
    sio.push(...sessions);
    for (const s of sessions) await hub.subscribe(s, channel, undefined);
    expect(new Set(sessions.map((s) => s.room)).size).toBe(3);
    void publish();
    void publish();
    void publish();
    await settle();
    expect(broadcasts).toHaveLength(3);
    for (const b of broadcasts) expect(b.offsets).toEqual([1, 2, 3]);
    for (const s of sessions) expect(s.offsets).toEqual([1, 2, 3]);
  });

  it('socket.io: a session going live while its shard is behind is not sent what came before, then joins', async () => {
    const { hub, publish, channel, sio } = setup();
    const first = Array.from({ length: 10 }, (_, i) => new SioSession(`f${i}`));
    sio.push(...first);
    for (const s of first) await hub.subscribe(s, channel, undefined);
    void publish();
    void publish();
    const b = new SioSession('b');
    sio.push(b);
    const r = await hub.subscribe(b, channel, undefined); // its shard has not sent 1 and 2 yet
    expect(r.topOffset).toBe(2);
    expect(b.room).toBeNull();
    void publish();
    await settle();
    for (const s of first) expect(s.offsets).toEqual([1, 2, 3]);
    expect(b.offsets).toEqual([3]);
    expect(b.room).toBe(first[0].room);
    await publish();
    await settle();
    expect(b.offsets).toEqual([3, 4]);
    await hub.unsubscribe(b, CH);
    expect(b.room).toBeNull();
    await publish();
    await settle();
    expect(b.offsets).toEqual([3, 4]);
    expect(first[0].offsets).toEqual([1, 2, 3, 4, 5]);
  });

  it('socket.io recovery mid-stream: everything after `since` once, then live', async () => {
    const { hub, publish, channel, sio } = setup();
    const live = Array.from({ length: 5 }, (_, i) => new SioSession(`l${i}`));
    sio.push(...live);
    for (const s of live) await hub.subscribe(s, channel, undefined);
    for (let i = 0; i < 10; i++) await publish();
    const rec = new SioSession('rec');
    sio.push(rec);
    const sub = hub.subscribe(rec, channel, 3);
    for (let i = 0; i < 10; i++) void publish();
    await sub;
    for (let i = 0; i < 5; i++) void publish();
    await settle();
    expect(rec.offsets).toEqual(range(4, 25));
    for (const s of live) expect(s.offsets).toEqual(range(1, 25));
  });

  it('a socket that throws does not stall the channel for the others', async () => {
    const { hub, publish, channel } = setup();
    const ok = Array.from({ length: SWEEP_SLICE + 3 }, (_, i) => new WsSession(`s${i}`));
    const bad = new WsSession('bad');
    bad.deliverShared = () => {
      throw new Error('socket exploded');
    };
    await hub.subscribe(ok[0], channel, undefined);
    await hub.subscribe(bad, channel, undefined);
    for (const s of ok.slice(1)) await hub.subscribe(s, channel, undefined);
    await publish();
    await settle();
    await publish();
    await settle();
    for (const s of ok) expect(s.offsets).toEqual([1, 2]);
  });

  it('unsubscribing mid-sweep stops delivery to that socket and releases the channel when it was the last', async () => {
    const { hub, publish, channel } = setup();
    const s1 = new WsSession('s1');
    await hub.subscribe(s1, channel, undefined);
    void publish();
    await hub.unsubscribe(s1, CH);
    expect(hub.channelCount).toBe(0);
    await settle();
    expect(s1.offsets).toEqual([]);
  });
});
