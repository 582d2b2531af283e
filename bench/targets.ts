/** Registry of benchmark targets: the baselines plus whatever bench/targets-qiao.ts exports. */
import { baselineTargets } from './targets-baseline.ts';
import { qiaoTargets } from './targets-qiao.ts';
import type { BenchTarget } from './lib/types.ts';

export function allTargets(): BenchTarget[] {
  const all = [...baselineTargets, ...qiaoTargets];
  const seen = new Set<string>();
  for (const t of all) {
    if (seen.has(t.key)) throw new Error(`duplicate bench target key "${t.key}"`);
    seen.add(t.key);
  }
  return all;
}

export function findTarget(key: string): BenchTarget {
  const t = allTargets().find((x) => x.key === key);
  if (!t) throw new Error(`unknown target "${key}" (available: ${allTargets().map((x) => x.key).join(', ')})`);
  return t;
}
