/** The JobQueue contract (src/queue/queue.ts), run against every implementation. */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UnrecoverableJobError, backoffDelay, type JobQueue } from '../../src/queue/queue.ts';

export interface QueueFixture {
  queue: JobQueue;
  cleanup(): Promise<void>;
}

async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('timed out waiting for condition');
}

export function queueContract(name: string, factory: () => Promise<QueueFixture>): void {
  describe(`JobQueue contract: ${name}`, () => {
    let f: QueueFixture;
    let q: string;
    beforeEach(async () => {
      f = await factory();
      q = `t-${randomUUID().slice(0, 8)}`;
    });
    afterEach(async () => {
      await f.cleanup();
    });

    it('processes every job added, with its data', async () => {
      const seen: number[] = [];
      f.queue.process<{ n: number }>(q, async (job) => {
        seen.push(job.data.n);
      }, { concurrency: 4 });
      for (let n = 0; n < 50; n++) await f.queue.add(q, 'n', { n });
      await waitFor(() => seen.length === 50);
      expect([...seen].sort((a, b) => a - b)).toEqual([...Array(50).keys()]);
      await waitFor(async () => (await f.queue.pendingCount(q)) === 0);
    });

    it('deduplicates by jobId while the job is known', async () => {
      let runs = 0;
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      f.queue.process(q, async () => {
        runs++;
        await gate;
      });
      const a = await f.queue.add(q, 'x', { v: 1 }, { jobId: 'msg-1:user-1:email' });
      const b = await f.queue.add(q, 'x', { v: 2 }, { jobId: 'msg-1:user-1:email' });
      expect(b).toBe(a);
      await waitFor(() => runs === 1);
      release();
      await waitFor(async () => (await f.queue.pendingCount(q)) === 0);
      expect(runs).toBe(1);
    });

    it('addBulk adds every job once, deduplicated by jobId against earlier and bulk-mates', async () => {
      const seen: string[] = [];
      f.queue.process<{ k: string }>(q, async (job) => {
        seen.push(job.data.k);
      }, { concurrency: 8 });
      const first = await f.queue.add(q, 'x', { k: 'a-single' }, { jobId: 'bulk-a' });
      const ids = await f.queue.addBulk(q, [
        { name: 'x', data: { k: 'a-bulk' }, opts: { jobId: 'bulk-a' } },
        ...Array.from({ length: 30 }, (_, n) => ({ name: 'x', data: { k: `n${n}` }, opts: { jobId: `bulk-n${n}` } })),
        { name: 'x', data: { k: 'n0-again' }, opts: { jobId: 'bulk-n0' } },
      ]);
      expect(ids).toHaveLength(32);
      expect(ids[0]).toBe(first);
      expect(ids[31]).toBe(ids[1]);
      await waitFor(() => seen.length >= 31);
      await waitFor(async () => (await f.queue.pendingCount(q)) === 0);
      expect([...seen].sort()).toEqual(['a-single', ...Array.from({ length: 30 }, (_, n) => `n${n}`)].sort());
    });

    it('retries transient failures, then succeeds', async () => {
      const attempts: number[] = [];
      f.queue.process(q, async (job) => {
        attempts.push(job.attempt);
        if (job.attempt < 3) throw new Error('smtp down');
      });
      await f.queue.add(q, 'x', {}, { attempts: 5, backoffMs: 20 });
      await waitFor(() => attempts.length === 3);
      await waitFor(async () => (await f.queue.pendingCount(q)) === 0);
      expect(attempts).toEqual([1, 2, 3]);
      expect(await f.queue.deadLetters(q)).toEqual([]);
    });

    it('sends unrecoverable jobs to the dead-letter list at once, with the reason', async () => {
      let runs = 0;
      f.queue.process(q, async () => {
        runs++;
        throw new UnrecoverableJobError('recipient has no email address');
      });
      const id = await f.queue.add(q, 'x', { k: 'v' }, { attempts: 5, backoffMs: 20 });
      await waitFor(async () => (await f.queue.deadLetters(q)).length === 1);
      const [d] = await f.queue.deadLetters(q);
      expect(runs).toBe(1);
      expect(d).toMatchObject({ id, name: 'x', data: { k: 'v' }, reason: 'recipient has no email address' });
    });

    it('dead-letters after the last attempt, and replay runs the job again, marked replayed', async () => {
      let fail = true;
      let runs = 0;
      const seen: unknown[] = [];
      f.queue.process(q, async (job) => {
        runs++;
        seen.push(job.data);
        if (fail) throw new Error('push service 503');
      });
      const id = await f.queue.add(q, 'x', { deliveryId: 'd-1' }, { attempts: 2, backoffMs: 10 });
      await waitFor(async () => (await f.queue.deadLetters(q)).length === 1);
      expect(runs).toBe(2);
      expect((await f.queue.deadLetters(q))[0].reason).toBe('push service 503');
      fail = false;
      expect(await f.queue.replay(q, id)).toBe(true);
      await waitFor(() => runs === 3);
      await waitFor(async () => (await f.queue.deadLetters(q)).length === 0);
      // Retries see the data as added; the replay sees it with `replayed: true`.
      expect(seen).toEqual([{ deliveryId: 'd-1' }, { deliveryId: 'd-1' }, { deliveryId: 'd-1', replayed: true }]);
      expect(await f.queue.replay(q, 'no-such-job')).toBe(false);
    });

    it('does not run a delayed job early', async () => {
      let ranAt = 0;
      f.queue.process(q, async () => {
        ranAt = Date.now();
      });
      const t0 = Date.now();
      await f.queue.add(q, 'x', {}, { delayMs: 400 });
      await waitFor(() => ranAt > 0);
      expect(ranAt - t0).toBeGreaterThanOrEqual(380);
    });
  });
}

describe('backoffDelay', () => {
  it('grows exponentially with at most 50% jitter', () => {
    expect(backoffDelay(100, 1, () => 1)).toBe(100);
    expect(backoffDelay(100, 3, () => 1)).toBe(400);
    expect(backoffDelay(100, 3, () => 0)).toBe(200);
  });
});
