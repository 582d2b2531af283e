/**
 * The relay and the publish path on a real (embedded) Postgres: nothing reaches the bus that is not
 * committed, every committed publication reaches it once and in offset order — after a failed relay
 * (the sweeper), when relays run out of order (the catch-up from the store), when the bus already has
 * it — and a publisher is acknowledged once the publication is committed, whatever the bus does.
 */
import { pino } from 'pino';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBus } from '../../src/bus/bus-memory.ts';
import type { Bus, ChannelOptions, Publication, PublishResult } from '../../src/bus/bus.ts';
import { Publisher } from '../../src/hub/publisher.ts';
import { Relay } from '../../src/hub/relay.ts';
import { createMetrics } from '../../src/metrics.ts';
import { QUEUES } from '../../src/queue/jobs.ts';
import { MemoryQueue } from '../../src/queue/queue-memory.ts';
import { ArchiveRepo } from '../../src/store/archive-repo.ts';
import { AuditRepo } from '../../src/store/audit-repo.ts';
import { openPglite, type DbHandle } from '../../src/store/db.ts';
import { MessagesRepo } from '../../src/store/messages-repo.ts';
import { seedDemo } from '../../src/store/seed.ts';
import { UsersRepo } from '../../src/store/users-repo.ts';
import type { Principal } from '../../src/auth/principal.ts';

const logger = pino({ level: 'silent' });
const note = (title: string) => ({ title, riskLevel: 'R1', tickers: [] });

/** A bus that can be switched off (throws, like Redis during a restart) and records what it accepted. */
class SwitchableBus extends MemoryBus {
  down = false;
  readonly accepted: Array<[string, number]> = [];
  override async publish(pub: Publication, opts: ChannelOptions): Promise<PublishResult> {
    if (this.down) throw new Error('Connection is closed.');
    const r = await super.publish(pub, opts);
    if (r.accepted) this.accepted.push([pub.channel, pub.offset]);
    return r;
  }
}

/** Records the jobs added (nothing processes them here). */
class RecordingQueue extends MemoryQueue {
  readonly added: Array<[string, unknown]> = [];
  override async add<T>(queue: string, name: string, data: T, opts?: Parameters<MemoryQueue['add']>[3]): Promise<string> {
    this.added.push([queue, data]);
    return super.add(queue, name, data, opts);
  }
}

/** Refuses bulk adds while `refuse` is set (Redis gone between the bus publish and the enqueue). */
class RefusingQueue extends RecordingQueue {
  refuse = true;
  override async addBulk<T>(queue: string, jobs: Parameters<MemoryQueue['addBulk']>[1]): Promise<string[]> {
    if (this.refuse) throw new Error('Connection is closed.');
    return super.addBulk<T>(queue, jobs as never);
  }
}

describe('relay and publish path (embedded Postgres)', () => {
  let h: DbHandle;
  let messages: MessagesRepo;
  let research: Principal;

  beforeAll(async () => {
    h = await openPglite(undefined);
    await h.migrate();
    await seedDemo(h.db);
    messages = new MessagesRepo(h.db, new ArchiveRepo(h.db));
    const u = await new UsersRepo(h.db).findByLogin('research1');
    research = { id: u!.id, role: 'research', displayName: u!.displayName } as unknown as Principal;
  });
  afterAll(async () => h?.close());

  const outbox = async (channel: string) =>
    ((await h.db.execute(sql`select "offset"::int as o from publish_outbox where channel = ${channel} order by "offset"`)) as unknown as { rows: Array<{ o: number }> }).rows.map((r) =>
      Number(r.o),
    );
  const append = (channel: string, title: string) => messages.append({ channel, family: 'research', kind: 'note', senderId: research.id, payload: note(title) });
  const setup = (bus: Bus) => {
    const queue = new RecordingQueue();
    const relay = new Relay({ bus, messages, queue, metrics: createMetrics('t', false), logger, sweepIntervalMs: 0, staleAfterMs: 0 });
    return { relay, queue };
  };

  it('the sweeper relays committed publications a dead relay left behind, in order, with their fanout jobs', async () => {
    const ch = 'research.sector.tech';
    const bus = new SwitchableBus();
    const seen: number[] = [];
    await bus.subscribe(ch, (p) => seen.push(p.offset));
    // Committed, but the node "died" before relaying.
    for (const t of ['a', 'b', 'c']) await append(ch, t);
    expect(seen).toEqual([]);
    expect(await outbox(ch)).toEqual([1, 2, 3]);
    const { relay, queue } = setup(bus);
    expect(await relay.sweep()).toBeGreaterThanOrEqual(3);
    await relay.close();
    expect(seen).toEqual([1, 2, 3]);
    expect(await outbox(ch)).toEqual([]);
    const jobs = queue.added.filter(([q, d]) => q === QUEUES.fanout && (d as { channel: string }).channel === ch).map(([, d]) => (d as { offset: number }).offset);
    expect(jobs.sort()).toEqual([1, 2, 3]);
  });

  it('a relay that finds the bus behind hands over the missing publications first, from the store', async () => {
    const ch = 'research.sector.energy';
    const bus = new SwitchableBus();
    const seen: number[] = [];
    await bus.subscribe(ch, (p) => seen.push(p.offset));
    const { relay } = setup(bus);
    const a = await append(ch, 'a');
    await relay.relay(a.pub, 'research');
    const b = await append(ch, 'b');
    const c = await append(ch, 'c');
    // c's relay runs first (b's node is slow): the bus still gets 2 before 3, once each.
    expect(await relay.relay(c.pub, 'research')).toBe(true);
    expect(await relay.relay(b.pub, 'research')).toBe(true);
    await relay.close();
    expect(seen).toEqual([1, 2, 3]);
    expect(bus.accepted.filter(([x]) => x === ch).map(([, o]) => o)).toEqual([1, 2, 3]);
    expect(await outbox(ch)).toEqual([]);
  });

  it('a failed relay leaves the outbox row; the next sweep relays it once the bus is back', async () => {
    const ch = 'research.sector.finance';
    const bus = new SwitchableBus();
    const seen: number[] = [];
    await bus.subscribe(ch, (p) => seen.push(p.offset));
    const { relay } = setup(bus);
    bus.down = true;
    const a = await append(ch, 'a');
    expect(await relay.relay(a.pub, 'research')).toBe(false);
    expect(await outbox(ch)).toEqual([1]);
    bus.down = false;
    await relay.sweep();
    await relay.close();
    expect(seen).toEqual([1]);
    expect(await outbox(ch)).toEqual([]);
  });

  it('relayMany: a batch reaches the bus in offset order with one fanout job each; a refused addBulk leaves the rows to the sweep', async () => {
    const chA = 'research.sector.media';
    const chB = 'research.sector.auto';
    const bus = new SwitchableBus();
    const seen: string[] = [];
    await bus.subscribe(chA, (p) => seen.push(`A${p.offset}`));
    await bus.subscribe(chB, (p) => seen.push(`B${p.offset}`));
    const queue = new RefusingQueue();
    const relay = new Relay({ bus, messages, queue, metrics: createMetrics('t', false), logger, sweepIntervalMs: 0, staleAfterMs: 0 });
    const pubs = await messages.appendMany(
      ['a1', 'b1', 'a2', 'b2'].map((t) => ({ channel: t.startsWith('a') ? chA : chB, family: 'research', kind: 'note', senderId: research.id, payload: note(t) })),
    );
    // The bus takes them all; the jobs are refused: not done, the rows stay for the sweeper.
    expect(await relay.relayMany(pubs.map((pub) => ({ pub, family: 'research' })))).toEqual([false, false, false, false]);
    expect(seen.filter((x) => x.startsWith('A'))).toEqual(['A1', 'A2']);
    expect(seen.filter((x) => x.startsWith('B'))).toEqual(['B1', 'B2']);
    expect(await outbox(chA)).toEqual([1, 2]);
    queue.refuse = false;
    expect(await relay.relayMany(pubs.map((pub) => ({ pub, family: 'research' })))).toEqual([true, true, true, true]);
    await relay.close();
    // Relayed twice, still on the bus once each, and one fanout job per publication.
    expect(seen.filter((x) => x.startsWith('A'))).toEqual(['A1', 'A2']);
    expect(await outbox(chA)).toEqual([]);
    expect(await outbox(chB)).toEqual([]);
    const jobs = queue.added.filter(([q, d]) => q === QUEUES.fanout && [chA, chB].includes((d as { channel: string }).channel));
    expect(jobs.map(([, d]) => (d as { messageId: string }).messageId).sort()).toEqual(pubs.map((p) => p.id).sort());
  });

  it('publish: acknowledged once committed even when the bus is down; nothing reaches the bus when the commit fails', async () => {
    const ch = 'research.sector.consumer';
    const bus = new SwitchableBus();
    const seen: number[] = [];
    await bus.subscribe(ch, (p) => seen.push(p.offset));
    const { relay } = setup(bus);
    const publisher = new Publisher({
      messages,
      relay,
      audit: new AuditRepo(h.db),
      access: new UsersRepo(h.db),
      metrics: createMetrics('t', false),
      logger,
      maxPayloadBytes: 65536,
      relayWaitMs: 200,
    });
    bus.down = true;
    const out = await publisher.publish(research, { channel: ch, kind: 'note', payload: note('stored while Redis is down'), idempotencyKey: 'k-1' });
    expect(out.duplicate).toBe(false);
    expect(seen).toEqual([]);
    const [stored] = await messages.since(ch, 0, 10);
    expect(stored.id).toBe(out.pub.id);
    bus.down = false;
    // A domain write that fails rolls the publication back: nothing stored, nothing on the bus.
    await expect(
      publisher.publish(research, {
        channel: ch,
        kind: 'note',
        payload: note('rolled back'),
        inTx: async () => {
          throw new Error('domain write failed');
        },
      }),
    ).rejects.toThrow();
    expect((await messages.since(ch, 0, 10)).map((p) => p.offset)).toEqual([1]);
    // The retry with the same key returns the committed publication, never a second one.
    const again = await publisher.publish(research, { channel: ch, kind: 'note', payload: note('stored while Redis is down'), idempotencyKey: 'k-1' });
    expect(again).toMatchObject({ duplicate: true, pub: { id: out.pub.id, offset: 1 } });
    await expect(publisher.publish(research, { channel: ch, kind: 'note', payload: note('another body'), idempotencyKey: 'k-1' })).rejects.toMatchObject({
      code: 'QIAO_IDEMPOTENCY_MISMATCH',
    });
    await relay.sweep();
    expect(seen).toEqual([1]);
    // Draining: refused at once with a stable code.
    publisher.drain();
    await expect(publisher.publish(research, { channel: ch, kind: 'note', payload: note('late') })).rejects.toMatchObject({ code: 'QIAO_DRAINING' });
    await relay.close();
    expect((await messages.since(ch, 0, 10)).length).toBe(1);
  });

  it('group commit: concurrent publications on several channels get gap-free offsets and one archive record each', async () => {
    const chans = ['research.strategy', 'research.morning-brief', 'research.fixed-income'];
    const before = Number(((await h.db.execute(sql`select count(*)::int as n from archive_records where kind = 'message'`)) as unknown as { rows: Array<{ n: number }> }).rows[0].n);
    const out = await Promise.all(Array.from({ length: 90 }, (_, i) => append(chans[i % 3], `n${i}`)));
    for (const ch of chans) {
      const offs = out.filter((o) => o.pub.channel === ch).map((o) => o.pub.offset).sort((a, b) => a - b);
      expect(offs).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    }
    const after = Number(((await h.db.execute(sql`select count(*)::int as n from archive_records where kind = 'message'`)) as unknown as { rows: Array<{ n: number }> }).rows[0].n);
    expect(after - before).toBe(90);
  });
});
