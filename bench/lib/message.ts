/** Benchmark message construction, the wall clock, and the latency histogram. No dependencies. */
import type { BenchMessage } from './types.ts';

/** Size of JSON.stringify(BenchMessage): the "~200-byte message" of the workload. */
export const BENCH_MESSAGE_BYTES = 200;

/** Wall clock in ms with sub-ms precision, comparable across processes on the same machine. */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

export function makeMessage(seq: number, ts: number = wallNow()): BenchMessage {
  const base = JSON.stringify({ seq, ts, pad: '' }).length;
  return { seq, ts, pad: 'x'.repeat(Math.max(0, BENCH_MESSAGE_BYTES - base)) };
}

/**
 * Fixed-bucket latency histogram (ms): 10 µs buckets up to 100 ms, then 1 ms buckets up to 120 s;
 * values beyond are clamped into the last bucket (the exact max is kept separately). Recording is O(1)
 * and allocation-free, so it can take millions of samples per phase.
 */
export class LatencyHistogram {
  private static readonly FINE_LIMIT_MS = 100;
  private static readonly FINE_STEP_MS = 0.01;
  private static readonly COARSE_LIMIT_MS = 120_000;
  private readonly fineBuckets = Math.round(LatencyHistogram.FINE_LIMIT_MS / LatencyHistogram.FINE_STEP_MS);
  private readonly buckets = new Float64Array(
    this.fineBuckets + (LatencyHistogram.COARSE_LIMIT_MS - LatencyHistogram.FINE_LIMIT_MS),
  );
  count = 0;
  sum = 0;
  max = 0;
  min = Infinity;
  /** Samples below zero (clock skew between processes; should not happen on one machine). */
  negative = 0;

  record(ms: number): void {
    if (ms < 0) {
      this.negative++;
      ms = 0;
    }
    this.count++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
    if (ms < this.min) this.min = ms;
    let idx: number;
    if (ms < LatencyHistogram.FINE_LIMIT_MS) idx = Math.floor(ms / LatencyHistogram.FINE_STEP_MS);
    else idx = this.fineBuckets + Math.floor(ms - LatencyHistogram.FINE_LIMIT_MS);
    if (idx >= this.buckets.length) idx = this.buckets.length - 1;
    this.buckets[idx]++;
  }

  /** Upper edge of the bucket holding the q-quantile (0 < q ≤ 1), capped at the observed max. */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i];
      if (seen >= rank) {
        const upper =
          i < this.fineBuckets
            ? (i + 1) * LatencyHistogram.FINE_STEP_MS
            : LatencyHistogram.FINE_LIMIT_MS + (i - this.fineBuckets + 1);
        return Math.min(upper, this.max);
      }
    }
    return this.max;
  }

  summary(): LatencySummary {
    return {
      samples: this.count,
      meanMs: this.count ? this.sum / this.count : NaN,
      minMs: this.count ? this.min : NaN,
      p50Ms: this.quantile(0.5),
      p90Ms: this.quantile(0.9),
      p99Ms: this.quantile(0.99),
      p999Ms: this.quantile(0.999),
      maxMs: this.count ? this.max : NaN,
      negativeSamples: this.negative,
    };
  }
}

export interface LatencySummary {
  samples: number;
  meanMs: number;
  minMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  negativeSamples: number;
}
