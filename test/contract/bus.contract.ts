/**
 * Contract every Bus implementation must pass: one test (or more) per guarantee in src/bus/bus.ts.
 * Run it from an implementation's test file:
 *
 *   busContract('MemoryBus', async () => ({ bus: new MemoryBus(), cleanup: async () => {} }));
 *
 * `bus2`, when given, is a second instance on the same backend (another process's view).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bus, BusHandler, ChannelOptions, Publication } from '../../src/bus/bus.ts';

export interface BusContractFixture {
  bus: Bus;
  bus2?: Bus;
  cleanup(): Promise<void>;
}

const OPTS: ChannelOptions = { historySize: 100, historyTtlMs: 60_000 };

/** Unique per test, with dots and colons as real channel names have. */
function uniqueChannel(label: string): string {
  return `contract.${label}:${randomUUID().slice(0, 8)}.x`;
}

function mkPub(channel: string, offset: number, extra: Partial<Publication> = {}): Publication {
  return {
    channel,
    id: randomUUID(),
    offset,
    kind: 'note',
    sender: 'contract-test',
    payload: { n: offset, text: `message ${offset}`, nested: { ok: true } },
    time: new Date(1_700_000_000_000 + offset).toISOString(),
    ...extra,
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitFor(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** A handler that records offsets (and raw text) it receives. */
function recorder(): { handler: BusHandler; offsets: number[]; pubs: Publication[]; raws: string[] } {
  const offsets: number[] = [];
  const pubs: Publication[] = [];
  const raws: string[] = [];
  return {
    offsets,
    pubs,
    raws,
    handler: (pub, raw) => {
      offsets.push(pub.offset);
      pubs.push(pub);
      raws.push(raw);
    },
  };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

export function busContract(name: string, factory: () => Promise<BusContractFixture>): void {
  describe(`Bus contract: ${name}`, () => {
    let fx: BusContractFixture;
    let bus: Bus;

    beforeAll(async () => {
      fx = await factory();
      bus = fx.bus;
    });

    afterAll(async () => {
      await fx?.cleanup();
    });

    describe('1. offsets', () => {
      it('accepts strictly increasing offsets and reports the top offset', async () => {
        const ch = uniqueChannel('offsets');
        expect(await bus.publish(mkPub(ch, 1), OPTS)).toEqual({ accepted: true, topOffset: 1 });
        expect(await bus.publish(mkPub(ch, 2), OPTS)).toEqual({ accepted: true, topOffset: 2 });
        // Gaps are allowed: only "strictly greater" is required.
        expect(await bus.publish(mkPub(ch, 7), OPTS)).toEqual({ accepted: true, topOffset: 7 });
      });

      it('rejects an equal or lower offset; rejected publications are neither delivered nor stored', async () => {
        const ch = uniqueChannel('stale');
        const rec = recorder();
        await bus.subscribe(ch, rec.handler);
        try {
          expect((await bus.publish(mkPub(ch, 5), OPTS)).accepted).toBe(true);
          const equal = mkPub(ch, 5, { kind: 'duplicate' });
          expect(await bus.publish(equal, OPTS)).toEqual({ accepted: false, topOffset: 5 });
          const lower = mkPub(ch, 3, { kind: 'lower' });
          expect(await bus.publish(lower, OPTS)).toEqual({ accepted: false, topOffset: 5 });
          expect((await bus.publish(mkPub(ch, 6), OPTS)).accepted).toBe(true);

          // 6 arrives after 5; nothing in between, so had a rejected one been delivered it would be there.
          await waitFor(() => rec.offsets.includes(6), 'offset 6');
          expect(rec.offsets).toEqual([5, 6]);
          expect(rec.pubs.map((p) => p.kind)).toEqual(['note', 'note']);

          const h = await bus.history(ch, { sinceOffset: 0, limit: 100 });
          expect(h.publications.map((p) => p.offset)).toEqual([5, 6]);
          expect(h.publications.map((p) => p.kind)).toEqual(['note', 'note']);
          expect(h.topOffset).toBe(6);
        } finally {
          await bus.unsubscribe(ch, rec.handler);
        }
      });

      it('rejects offset 0 on a fresh channel', async () => {
        const ch = uniqueChannel('zero');
        expect(await bus.publish(mkPub(ch, 0), OPTS)).toEqual({ accepted: false, topOffset: 0 });
        expect((await bus.history(ch, { sinceOffset: -1, limit: 10 })).publications).toEqual([]);
      });

      it('keeps offsets per channel', async () => {
        const a = uniqueChannel('per-a');
        const b = uniqueChannel('per-b');
        expect((await bus.publish(mkPub(a, 10), OPTS)).accepted).toBe(true);
        expect(await bus.publish(mkPub(b, 1), OPTS)).toEqual({ accepted: true, topOffset: 1 });
        expect((await bus.history(a, { sinceOffset: 0, limit: 10 })).publications.map((p) => p.channel)).toEqual([a]);
        expect((await bus.history(b, { sinceOffset: 0, limit: 10 })).publications.map((p) => p.channel)).toEqual([b]);
      });

      it('still rejects a stale offset after history expired', async () => {
        const ch = uniqueChannel('stale-after-ttl');
        const opts = { historySize: 10, historyTtlMs: 150 };
        expect((await bus.publish(mkPub(ch, 3), opts)).accepted).toBe(true);
        await sleep(350);
        expect(await bus.publish(mkPub(ch, 2), opts)).toEqual({ accepted: false, topOffset: 3 });
        expect(await bus.publish(mkPub(ch, 3), opts)).toEqual({ accepted: false, topOffset: 3 });
        expect((await bus.publish(mkPub(ch, 4), opts)).accepted).toBe(true);
      });
    });

    describe('1b. contiguous mode', () => {
      const C = { ...OPTS, contiguous: true };

      it('starts anywhere on a channel it has no record of, then accepts only top + 1', async () => {
        const ch = uniqueChannel('contig');
        const rec = recorder();
        await bus.subscribe(ch, rec.handler);
        try {
          expect(await bus.publish(mkPub(ch, 41), C)).toEqual({ accepted: true, topOffset: 41 });
          // A hole is refused with the top, so the relay knows what to hand over first.
          expect(await bus.publish(mkPub(ch, 43, { kind: 'ahead' }), C)).toEqual({ accepted: false, topOffset: 41 });
          expect(await bus.publish(mkPub(ch, 41, { kind: 'again' }), C)).toEqual({ accepted: false, topOffset: 41 });
          expect(await bus.publish(mkPub(ch, 42), C)).toEqual({ accepted: true, topOffset: 42 });
          expect(await bus.publish(mkPub(ch, 43), C)).toEqual({ accepted: true, topOffset: 43 });
          await waitFor(() => rec.offsets.includes(43), 'offset 43');
          expect(rec.offsets).toEqual([41, 42, 43]);
          expect(rec.pubs.map((p) => p.kind)).toEqual(['note', 'note', 'note']);
          const h = await bus.history(ch, { sinceOffset: 40, limit: 10 });
          expect(h.publications.map((p) => p.offset)).toEqual([41, 42, 43]);
        } finally {
          await bus.unsubscribe(ch, rec.handler);
        }
      });

      it('concurrent contiguous publishers never leave a hole', async () => {
        const ch = uniqueChannel('contig-race');
        const rec = recorder();
        await bus.subscribe(ch, rec.handler);
        try {
          // Like two relays: each retries from the top it is told until its own offset is in.
          const relay = async (offsets: number[]) => {
            for (const o of offsets) {
              for (let i = 0; i < 1000; i++) {
                const r = await bus.publish(mkPub(ch, o), C);
                if (r.accepted || r.topOffset >= o) break;
                await bus.publish(mkPub(ch, r.topOffset + 1), C);
              }
            }
          };
          // The channel exists (offset 1 is in), as it does once anything was relayed.
          expect((await bus.publish(mkPub(ch, 1), C)).accepted).toBe(true);
          await Promise.all([relay(range(2, 60).filter((o) => o % 2 === 0)), relay(range(2, 60).filter((o) => o % 2 === 1))]);
          await waitFor(() => rec.offsets.length >= 60, '60 deliveries');
          await sleep(20);
          expect(rec.offsets).toEqual(range(1, 60));
        } finally {
          await bus.unsubscribe(ch, rec.handler);
        }
      });
    });

    describe('2. ordering', () => {
      it('delivers a channel in offset order to several handlers', async () => {
        const ch = uniqueChannel('order');
        const recs = [recorder(), recorder(), recorder()];
        for (const r of recs) await bus.subscribe(ch, r.handler);
        try {
          // Not awaited one by one: the bus must keep order with publications in flight.
          const results = await Promise.all(range(1, 200).map((o) => bus.publish(mkPub(ch, o), OPTS)));
          expect(results.every((r) => r.accepted)).toBe(true);
          for (const r of recs) await waitFor(() => r.offsets.length >= 200, '200 deliveries');
          await sleep(20);
          for (const r of recs) expect(r.offsets).toEqual(range(1, 200));
        } finally {
          for (const r of recs) await bus.unsubscribe(ch, r.handler);
        }
      });

      it('keeps order when a handler publishes to the same channel while being called', async () => {
        const ch = uniqueChannel('reentrant');
        const seen: number[] = [];
        const republisher: BusHandler = (pub) => {
          if (pub.offset === 1) void bus.publish(mkPub(ch, 2), OPTS);
        };
        const watcher: BusHandler = (pub) => seen.push(pub.offset);
        await bus.subscribe(ch, republisher);
        await bus.subscribe(ch, watcher);
        try {
          await bus.publish(mkPub(ch, 1), OPTS);
          await waitFor(() => seen.length >= 2, 'two deliveries');
          expect(seen).toEqual([1, 2]);
        } finally {
          await bus.unsubscribe(ch, republisher);
          await bus.unsubscribe(ch, watcher);
        }
      });

      it('does not deliver one channel to another channel’s handlers', async () => {
        const a = uniqueChannel('iso-a');
        const b = uniqueChannel('iso-b');
        const ra = recorder();
        const rb = recorder();
        await bus.subscribe(a, ra.handler);
        await bus.subscribe(b, rb.handler);
        try {
          await bus.publish(mkPub(a, 1), OPTS);
          await bus.publish(mkPub(b, 1), OPTS);
          await bus.publish(mkPub(b, 2), OPTS);
          await waitFor(() => ra.offsets.length >= 1 && rb.offsets.length >= 2, 'deliveries');
          await sleep(20);
          expect(ra.pubs.map((p) => p.channel)).toEqual([a]);
          expect(rb.pubs.map((p) => p.channel)).toEqual([b, b]);
        } finally {
          await bus.unsubscribe(a, ra.handler);
          await bus.unsubscribe(b, rb.handler);
        }
      });
    });

    describe('3. durability and history', () => {
      it('publish resolves only after history contains the publication', async () => {
        const ch = uniqueChannel('durable');
        for (const o of range(1, 20)) {
          const pub = mkPub(ch, o);
          await bus.publish(pub, OPTS);
          const h = await bus.history(ch, { sinceOffset: o - 1, limit: 1 });
          expect(h.publications).toEqual([pub]);
          expect(h.topOffset).toBe(o);
        }
      });

      it('history returns publications oldest first, after sinceOffset, at most limit', async () => {
        const ch = uniqueChannel('hist');
        const pubs = range(1, 10).map((o) => mkPub(ch, o));
        for (const p of pubs) await bus.publish(p, OPTS);

        const all = await bus.history(ch, { sinceOffset: 0, limit: 100 });
        expect(all).toEqual({ publications: pubs, topOffset: 10, complete: true });

        const mid = await bus.history(ch, { sinceOffset: 4, limit: 3 });
        expect(mid.publications.map((p) => p.offset)).toEqual([5, 6, 7]);
        expect(mid.complete).toBe(true);
        expect(mid.topOffset).toBe(10);

        const tail = await bus.history(ch, { sinceOffset: 8, limit: 100 });
        expect(tail.publications.map((p) => p.offset)).toEqual([9, 10]);
        expect(tail.complete).toBe(true);
      });

      it('history keeps at least the last historySize publications, and says complete=false past a trim', async () => {
        const ch = uniqueChannel('bounded');
        const opts = { historySize: 5, historyTtlMs: 60_000 };
        for (const o of range(1, 40)) await bus.publish(mkPub(ch, o), opts);

        const h = await bus.history(ch, { sinceOffset: 0, limit: 1000 });
        const offsets = h.publications.map((p) => p.offset);
        expect(h.topOffset).toBe(40);
        // At least the last historySize, contiguous at the end, strictly increasing.
        expect(offsets.slice(-5)).toEqual([36, 37, 38, 39, 40]);
        expect([...offsets].sort((x, y) => x - y)).toEqual(offsets);
        expect(new Set(offsets).size).toBe(offsets.length);
        // A bus may keep more than historySize; `complete` must say whether offset 1 is still there.
        expect(h.complete).toBe(offsets[0] === 1);

        // Asking from inside the kept window is complete.
        const recent = await bus.history(ch, { sinceOffset: 35, limit: 1000 });
        expect(recent.publications.map((p) => p.offset)).toEqual([36, 37, 38, 39, 40]);
        expect(recent.complete).toBe(true);
      });

      it('history expires historyTtlMs after the last publish; complete=false across the gap', async () => {
        const ch = uniqueChannel('ttl');
        const opts = { historySize: 10, historyTtlMs: 200 };
        for (const o of range(1, 3)) await bus.publish(mkPub(ch, o), opts);
        await sleep(100);
        // A publish extends the lifetime: still there 150 ms after it (250 ms after the first ones).
        await bus.publish(mkPub(ch, 4), opts);
        await sleep(150);
        expect((await bus.history(ch, { sinceOffset: 0, limit: 10 })).publications.map((p) => p.offset)).toEqual([
          1, 2, 3, 4,
        ]);

        await sleep(300);
        const expired = await bus.history(ch, { sinceOffset: 0, limit: 10 });
        expect(expired.publications).toEqual([]);
        expect(expired.topOffset).toBe(4);
        expect(expired.complete).toBe(false);

        await bus.publish(mkPub(ch, 5), opts);
        const after = await bus.history(ch, { sinceOffset: 0, limit: 10 });
        expect(after.publications.map((p) => p.offset)).toEqual([5]);
        expect(after.complete).toBe(false);
        const fromTop = await bus.history(ch, { sinceOffset: 4, limit: 10 });
        expect(fromTop.publications.map((p) => p.offset)).toEqual([5]);
        expect(fromTop.complete).toBe(true);
      });

      it('sinceOffset at or beyond the top returns nothing and is complete', async () => {
        const ch = uniqueChannel('beyond');
        for (const o of range(1, 3)) await bus.publish(mkPub(ch, o), OPTS);
        expect(await bus.history(ch, { sinceOffset: 3, limit: 10 })).toEqual({
          publications: [],
          topOffset: 3,
          complete: true,
        });
        expect(await bus.history(ch, { sinceOffset: 50, limit: 10 })).toEqual({
          publications: [],
          topOffset: 3,
          complete: true,
        });
      });

      it('history of an unknown channel is empty, top 0, complete', async () => {
        expect(await bus.history(uniqueChannel('unknown'), { sinceOffset: 0, limit: 10 })).toEqual({
          publications: [],
          topOffset: 0,
          complete: true,
        });
      });
    });

    describe('4/5. live delivery and subscriptions', () => {
      it('subscribe resolves with delivery active: a publish right after it is delivered, with its JSON', async () => {
        const ch = uniqueChannel('sub');
        const rec = recorder();
        await bus.subscribe(ch, rec.handler);
        try {
          const pub = mkPub(ch, 1, { payload: { text: '中文 and "quotes"', list: [1, 2, 3] } });
          await bus.publish(pub, OPTS);
          await waitFor(() => rec.pubs.length >= 1, 'delivery');
          expect(rec.pubs).toEqual([pub]);
          expect(JSON.parse(rec.raws[0])).toEqual(pub);
        } finally {
          await bus.unsubscribe(ch, rec.handler);
        }
      });

      it('handlers of one channel get the same raw text', async () => {
        const ch = uniqueChannel('raw');
        const r1 = recorder();
        const r2 = recorder();
        await bus.subscribe(ch, r1.handler);
        await bus.subscribe(ch, r2.handler);
        try {
          await bus.publish(mkPub(ch, 1), OPTS);
          await waitFor(() => r1.raws.length >= 1 && r2.raws.length >= 1, 'deliveries');
          expect(r1.raws[0]).toBe(r2.raws[0]);
          expect(JSON.parse(r1.raws[0]).offset).toBe(1);
        } finally {
          await bus.unsubscribe(ch, r1.handler);
          await bus.unsubscribe(ch, r2.handler);
        }
      });

      it('unsubscribe stops delivery to that handler and keeps the others', async () => {
        const ch = uniqueChannel('unsub');
        const gone = recorder();
        const stays = recorder();
        await bus.subscribe(ch, gone.handler);
        await bus.subscribe(ch, stays.handler);
        try {
          await bus.publish(mkPub(ch, 1), OPTS);
          await waitFor(() => gone.offsets.length >= 1 && stays.offsets.length >= 1, 'first delivery');
          await bus.unsubscribe(ch, gone.handler);
          await bus.publish(mkPub(ch, 2), OPTS);
          await bus.publish(mkPub(ch, 3), OPTS);
          await waitFor(() => stays.offsets.length >= 3, 'later deliveries');
          await sleep(20);
          expect(stays.offsets).toEqual([1, 2, 3]);
          expect(gone.offsets).toEqual([1]);
        } finally {
          await bus.unsubscribe(ch, stays.handler);
        }
      });

      it('after the last handler leaves nothing is delivered; subscribing again works', async () => {
        const ch = uniqueChannel('last-leaves');
        const first = recorder();
        await bus.subscribe(ch, first.handler);
        await bus.unsubscribe(ch, first.handler);
        await bus.publish(mkPub(ch, 1), OPTS);
        await sleep(100);
        expect(first.offsets).toEqual([]);

        const second = recorder();
        await bus.subscribe(ch, second.handler);
        try {
          await bus.publish(mkPub(ch, 2), OPTS);
          await waitFor(() => second.offsets.length >= 1, 'delivery after resubscribe');
          await sleep(20);
          expect(second.offsets).toEqual([2]);
          expect(first.offsets).toEqual([]);
        } finally {
          await bus.unsubscribe(ch, second.handler);
        }
      });

      it('handles subscribe/unsubscribe racing on one channel', async () => {
        const ch = uniqueChannel('race');
        const a = recorder();
        const b = recorder();
        // Not awaited in between: the final state (only b) must hold once all resolve.
        await Promise.all([bus.subscribe(ch, a.handler), bus.unsubscribe(ch, a.handler), bus.subscribe(ch, b.handler)]);
        try {
          await bus.publish(mkPub(ch, 1), OPTS);
          await waitFor(() => b.offsets.length >= 1, 'delivery to b');
          await sleep(20);
          expect(b.offsets).toEqual([1]);
          expect(a.offsets).toEqual([]);
        } finally {
          await bus.unsubscribe(ch, b.handler);
        }
      });

      it('unsubscribing an unknown pair is ignored', async () => {
        const ch = uniqueChannel('unknown-unsub');
        const rec = recorder();
        await expect(bus.unsubscribe(ch, rec.handler)).resolves.toBeUndefined();
        await bus.subscribe(ch, rec.handler);
        try {
          await expect(bus.unsubscribe(ch, () => {})).resolves.toBeUndefined();
          await bus.publish(mkPub(ch, 1), OPTS);
          await waitFor(() => rec.offsets.length >= 1, 'delivery');
          expect(rec.offsets).toEqual([1]);
        } finally {
          await bus.unsubscribe(ch, rec.handler);
        }
      });

      it('a throwing handler does not stop delivery to the others', async () => {
        const ch = uniqueChannel('throw');
        let thrown = 0;
        const thrower: BusHandler = () => {
          thrown++;
          throw new Error('handler failure (expected by the test)');
        };
        const before = recorder();
        const after = recorder();
        await bus.subscribe(ch, before.handler);
        await bus.subscribe(ch, thrower);
        await bus.subscribe(ch, after.handler);
        try {
          for (const o of range(1, 5)) await bus.publish(mkPub(ch, o), OPTS);
          await waitFor(() => after.offsets.length >= 5 && before.offsets.length >= 5, 'deliveries');
          expect(before.offsets).toEqual(range(1, 5));
          expect(after.offsets).toEqual(range(1, 5));
          expect(thrown).toBe(5);
        } finally {
          await bus.unsubscribe(ch, before.handler);
          await bus.unsubscribe(ch, thrower);
          await bus.unsubscribe(ch, after.handler);
        }
      });

      it('ping resolves while the backend is up', async () => {
        await expect(bus.ping()).resolves.toBeUndefined();
      });
    });

    describe('6. signals', () => {
      const sigRecorder = () => {
        const got: Array<{ data: unknown; channel: string }> = [];
        return { got, handler: (data: unknown, channel: string) => void got.push({ data, channel }) };
      };

      it('delivers a signal to the signal handlers of its channel only, with its JSON value', async () => {
        const ch = uniqueChannel('sig');
        const other = uniqueChannel('sig-other');
        const a = sigRecorder();
        const b = sigRecorder();
        const elsewhere = sigRecorder();
        await bus.subscribeSignals(ch, a.handler);
        await bus.subscribeSignals(ch, b.handler);
        await bus.subscribeSignals(other, elsewhere.handler);
        try {
          await bus.signal(ch, { kind: 'typing', from: 'u1', nested: { n: 1, text: '正在输入' } });
          await waitFor(() => a.got.length === 1 && b.got.length === 1, 'signal delivery');
          await sleep(20);
          expect(a.got).toEqual([{ data: { kind: 'typing', from: 'u1', nested: { n: 1, text: '正在输入' } }, channel: ch }]);
          expect(b.got).toEqual(a.got);
          expect(elsewhere.got).toEqual([]);
        } finally {
          await bus.unsubscribeSignals(ch, a.handler);
          await bus.unsubscribeSignals(ch, b.handler);
          await bus.unsubscribeSignals(other, elsewhere.handler);
        }
      });

      it('signals are not stored: no history, no offset, not seen by publication handlers', async () => {
        const ch = uniqueChannel('sig-ephemeral');
        const pubs = recorder();
        const sigs = sigRecorder();
        await bus.subscribe(ch, pubs.handler);
        await bus.subscribeSignals(ch, sigs.handler);
        try {
          await bus.signal(ch, { kind: 'typing' });
          await waitFor(() => sigs.got.length === 1, 'signal delivery');
          await sleep(20);
          expect(pubs.offsets).toEqual([]);
          expect(await bus.history(ch, { sinceOffset: 0, limit: 10 })).toEqual({ publications: [], topOffset: 0, complete: true });
          // Offsets are untouched: the first publication is still accepted at offset 1.
          expect((await bus.publish(mkPub(ch, 1), OPTS)).accepted).toBe(true);
          await waitFor(() => pubs.offsets.length === 1, 'publication');
          expect(sigs.got).toHaveLength(1);
        } finally {
          await bus.unsubscribe(ch, pubs.handler);
          await bus.unsubscribeSignals(ch, sigs.handler);
        }
      });

      it('a signal without subscribers resolves; after unsubscribeSignals nothing is delivered', async () => {
        const ch = uniqueChannel('sig-unsub');
        await expect(bus.signal(ch, { x: 1 })).resolves.toBeUndefined();
        const rec = sigRecorder();
        await bus.subscribeSignals(ch, rec.handler);
        await bus.signal(ch, 1);
        await waitFor(() => rec.got.length === 1, 'first signal');
        await bus.unsubscribeSignals(ch, rec.handler);
        await bus.signal(ch, 2);
        await sleep(50);
        expect(rec.got.map((g) => g.data)).toEqual([1]);
        await expect(bus.unsubscribeSignals(ch, rec.handler)).resolves.toBeUndefined();
      });

      it('a signal is delivered before a publication published after it resolved', async () => {
        const ch = uniqueChannel('sig-order');
        const seen: string[] = [];
        const onPub: BusHandler = (pub) => void seen.push(`pub:${pub.offset}`);
        const onSig = (data: unknown) => void seen.push(`sig:${String(data)}`);
        await bus.subscribe(ch, onPub);
        await bus.subscribeSignals(ch, onSig);
        try {
          for (let i = 1; i <= 20; i++) {
            await bus.signal(ch, i);
            await bus.publish(mkPub(ch, i), OPTS);
          }
          await waitFor(() => seen.length === 40, '40 events');
          expect(seen).toEqual(range(1, 20).flatMap((i) => [`sig:${i}`, `pub:${i}`]));
        } finally {
          await bus.unsubscribe(ch, onPub);
          await bus.unsubscribeSignals(ch, onSig);
        }
      });

      it('a throwing signal handler does not stop delivery to the others', async () => {
        const ch = uniqueChannel('sig-throw');
        const rec = sigRecorder();
        const thrower = () => {
          throw new Error('boom');
        };
        await bus.subscribeSignals(ch, thrower);
        await bus.subscribeSignals(ch, rec.handler);
        try {
          await bus.signal(ch, 'x');
          await waitFor(() => rec.got.length === 1, 'signal after a throwing handler');
        } finally {
          await bus.unsubscribeSignals(ch, thrower);
          await bus.unsubscribeSignals(ch, rec.handler);
        }
      });
    });

    describe('across instances (bus2)', () => {
      const withBus2 = (fn: (bus2: Bus) => Promise<void>) => async (ctx: { skip: (note?: string) => void }) => {
        if (!fx.bus2) {
          ctx.skip('no second instance for this implementation');
          return;
        }
        await fn(fx.bus2);
      };

      it(
        'delivers 1,000 publications in order to subscribers on both instances',
        withBus2(async (bus2) => {
          const ch = uniqueChannel('cross');
          const here = recorder();
          const there = recorder();
          await bus.subscribe(ch, here.handler);
          await bus2.subscribe(ch, there.handler);
          try {
            // Alternate the publishing instance in blocks, pipelining within a block.
            for (let block = 0; block < 10; block++) {
              const publisher = block % 2 === 0 ? bus2 : bus;
              const offsets = range(block * 100 + 1, block * 100 + 100);
              const results = await Promise.all(offsets.map((o) => publisher.publish(mkPub(ch, o), OPTS)));
              expect(results.every((r) => r.accepted)).toBe(true);
            }
            await waitFor(() => here.offsets.length >= 1000 && there.offsets.length >= 1000, '1,000 deliveries', 15_000);
            await sleep(20);
            expect(here.offsets).toEqual(range(1, 1000));
            expect(there.offsets).toEqual(range(1, 1000));
            const h = await bus.history(ch, { sinceOffset: 990, limit: 100 });
            expect(h.publications.map((p) => p.offset)).toEqual(range(991, 1000));
          } finally {
            await bus.unsubscribe(ch, here.handler);
            await bus2.unsubscribe(ch, there.handler);
          }
        }),
        30_000,
      );

      it(
        'delivers signals sent on one instance to the other, in order, before later publications',
        withBus2(async (bus2) => {
          const ch = uniqueChannel('cross-sig');
          const seen: string[] = [];
          const onPub: BusHandler = (pub) => void seen.push(`pub:${pub.offset}`);
          const onSig = (data: unknown) => void seen.push(`sig:${String(data)}`);
          await bus2.subscribe(ch, onPub);
          await bus2.subscribeSignals(ch, onSig);
          try {
            for (let i = 1; i <= 50; i++) {
              await bus.signal(ch, i);
              await bus.publish(mkPub(ch, i), OPTS);
            }
            await waitFor(() => seen.length === 100, '100 events on the other instance');
            expect(seen).toEqual(range(1, 50).flatMap((i) => [`sig:${i}`, `pub:${i}`]));
          } finally {
            await bus2.unsubscribe(ch, onPub);
            await bus2.unsubscribeSignals(ch, onSig);
          }
        }),
      );

      it(
        'rejects a stale offset published from the other instance',
        withBus2(async (bus2) => {
          const ch = uniqueChannel('cross-stale');
          const rec = recorder();
          await bus.subscribe(ch, rec.handler);
          try {
            expect((await bus.publish(mkPub(ch, 5), OPTS)).accepted).toBe(true);
            expect(await bus2.publish(mkPub(ch, 5, { kind: 'stale' }), OPTS)).toEqual({ accepted: false, topOffset: 5 });
            expect(await bus2.publish(mkPub(ch, 4, { kind: 'stale' }), OPTS)).toEqual({ accepted: false, topOffset: 5 });
            expect((await bus2.publish(mkPub(ch, 6), OPTS)).accepted).toBe(true);
            await waitFor(() => rec.offsets.length >= 2, 'deliveries');
            await sleep(20);
            expect(rec.offsets).toEqual([5, 6]);
            const h = await bus2.history(ch, { sinceOffset: 0, limit: 10 });
            expect(h.publications.map((p) => [p.offset, p.kind])).toEqual([
              [5, 'note'],
              [6, 'note'],
            ]);
          } finally {
            await bus.unsubscribe(ch, rec.handler);
          }
        }),
      );

      it(
        'accepts each offset once when both instances race to publish it',
        withBus2(async (bus2) => {
          const ch = uniqueChannel('cross-race');
          const rec = recorder();
          await bus.subscribe(ch, rec.handler);
          try {
            const offsets = range(1, 200);
            const big = { historySize: 1000, historyTtlMs: 60_000 };
            const [r1, r2] = await Promise.all([
              Promise.all(offsets.map((o) => bus.publish(mkPub(ch, o, { sender: 'one' }), big))),
              Promise.all(offsets.map((o) => bus2.publish(mkPub(ch, o, { sender: 'two' }), big))),
            ]);
            const accepted = r1.filter((r) => r.accepted).length + r2.filter((r) => r.accepted).length;
            await waitFor(() => rec.offsets.length >= accepted, 'deliveries');
            await sleep(50);
            // Strictly increasing, no offset twice, 200 reached, and exactly the accepted ones delivered.
            expect(rec.offsets.length).toBe(accepted);
            for (let i = 1; i < rec.offsets.length; i++) expect(rec.offsets[i]).toBeGreaterThan(rec.offsets[i - 1]);
            expect(rec.offsets.at(-1)).toBe(200);
            const h = await bus.history(ch, { sinceOffset: 0, limit: 1000 });
            expect(h.publications.map((p) => p.id)).toEqual(rec.pubs.map((p) => p.id));
          } finally {
            await bus.unsubscribe(ch, rec.handler);
          }
        }),
      );
    });
  });
}
