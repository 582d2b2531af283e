import { describe, expect, it } from 'vitest';
import { Coalescer } from '../../workers/coalesce.ts';

const turn = () => new Promise<void>((r) => setImmediate(r));

describe('Coalescer', () => {
  it('answers the gets of one event-loop turn with one run, each with its own value', async () => {
    const runs: number[][] = [];
    const c = new Coalescer(async (keys: number[]) => {
      runs.push(keys);
      return new Map(keys.map((k) => [k, k * 10]));
    });
    expect(await Promise.all([c.get(1), c.get(2), c.get(3)])).toEqual([10, 20, 30]);
    expect(runs).toEqual([[1, 2, 3]]);
  });

  it('splits at `max` keys per run', async () => {
    const runs: number[][] = [];
    const c = new Coalescer(async (keys: number[]) => void runs.push(keys), 2);
    await Promise.all([1, 2, 3, 4, 5].map((k) => c.get(k)));
    expect(runs).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('with maxInFlight, gets made while a run is out wait for it and then go together', async () => {
    const runs: number[][] = [];
    const open: Array<() => void> = [];
    const c = new Coalescer(
      (keys: number[]) =>
        new Promise<void>((resolve) => {
          runs.push(keys);
          open.push(resolve);
        }),
      256,
      1,
    );
    const first = c.get(1);
    await turn();
    expect(runs).toEqual([[1]]);
    const later = [c.get(2), c.get(3)];
    await turn();
    await turn();
    const more = [c.get(4)];
    await turn();
    // Still one run out: nothing new started.
    expect(runs).toEqual([[1]]);
    open.shift()!();
    await first;
    await turn();
    expect(runs).toEqual([[1], [2, 3, 4]]);
    open.shift()!();
    await Promise.all([...later, ...more]);
  });

  it('a failed run rejects its own gets only, and the next run still happens', async () => {
    let n = 0;
    const c = new Coalescer(async (keys: number[]) => {
      if (n++ === 0) throw new Error('boom');
      return new Map(keys.map((k) => [k, 'ok']));
    }, 256, 1);
    const a = c.get(1);
    await expect(a).rejects.toThrow('boom');
    await expect(c.get(2)).resolves.toBe('ok');
  });
});
