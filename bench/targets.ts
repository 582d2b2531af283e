/**
 * Registry of benchmark targets: the baselines, whatever bench/targets-qiao.ts exports, and (for ad-hoc
 * experiments) modules named in BENCH_EXTRA_TARGETS (comma-separated paths, each exporting
 * `targets: BenchTarget[]`). Imported by both the orchestrator and the load generator (the environment
 * variable is inherited, so both see the same registry).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BenchTarget } from './lib/types.ts';
import { baselineTargets } from './targets-baseline.ts';
import { qiaoTargets } from './targets-qiao.ts';

const extraTargets: BenchTarget[] = [];
for (const p of (process.env.BENCH_EXTRA_TARGETS ?? '').split(',').filter(Boolean)) {
  const mod = (await import(pathToFileURL(resolve(p)).href)) as { targets?: BenchTarget[] };
  if (!Array.isArray(mod.targets)) throw new Error(`BENCH_EXTRA_TARGETS: ${p} does not export targets: BenchTarget[]`);
  extraTargets.push(...mod.targets);
}

export function allTargets(): BenchTarget[] {
  const all = [...baselineTargets, ...qiaoTargets, ...extraTargets];
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
