/**
 * First-response times as a histogram of fixed bins (the service-quality dashboards, docs/service.md).
 * A firm's year holds millions of answered waits; exact percentiles over them cost a sort of every wait
 * on each request (seconds, not milliseconds), so each broker's waits are also counted per day and per
 * month into these bins (`response_rollups`, kept in the transaction of the reply), and p50 / p90 are
 * read off the summed counts. Pure.
 *
 * Bin 0 holds 0 s; bin i (1 ≤ i < EDGES.length) holds (EDGES[i-1], EDGES[i]]; the last bin holds
 * everything above 30 days. A percentile is reported as the upper edge of the bin it falls in — "p90
 * within 5 minutes" — so it is exact whenever the waits themselves are bin edges, and otherwise at most
 * one step above the exact value (steps of 10 s up to a minute, then about ×1.5).
 */

/** Upper edges of the bins, in seconds. */
export const RESPONSE_BIN_EDGES: readonly number[] = [
  0, 10, 20, 30, 45, 60, 90, 120, 180, 240, 300, 420, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200, 10_800, 14_400, 21_600,
  28_800, 43_200, 86_400, 172_800, 259_200, 345_600, 604_800, 1_209_600, 2_592_000,
];

/** Number of bins (one more than edges: the last bin is open-ended). */
export const RESPONSE_BINS = RESPONSE_BIN_EDGES.length + 1;

/** Bin index (0-based) of a wait in whole seconds: how many edges lie below it. */
export function responseBin(seconds: number): number {
  let lo = 0;
  let hi = RESPONSE_BIN_EDGES.length;
  // First edge ≥ seconds.
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (RESPONSE_BIN_EDGES[mid] < seconds) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * `width_bucket(seconds, thresholds)` in SQL gives the same bin as `responseBin` with these thresholds
 * (integers: seconds > edge ⟺ seconds ≥ edge + 1).
 */
export const RESPONSE_BIN_SQL_THRESHOLDS: readonly number[] = RESPONSE_BIN_EDGES.map((e) => e + 1);

/** A histogram with one wait counted. */
export function oneWait(seconds: number): number[] {
  const h = new Array<number>(RESPONSE_BINS).fill(0);
  h[responseBin(seconds)] = 1;
  return h;
}

/**
 * Nearest-rank percentile (`q` in (0, 1]) of the waits counted in `hist`: the upper edge of the bin
 * holding the ⌈q·n⌉-th smallest wait (the open last bin reports its lower edge, 30 days). Null when
 * nothing was counted.
 */
export function histPercentile(hist: readonly number[], q: number): number | null {
  const n = hist.reduce((s, x) => s + x, 0);
  if (n <= 0) return null;
  const rank = Math.max(1, Math.ceil(q * n));
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    seen += hist[i];
    if (seen >= rank) return RESPONSE_BIN_EDGES[Math.min(i, RESPONSE_BIN_EDGES.length - 1)];
  }
  return RESPONSE_BIN_EDGES[RESPONSE_BIN_EDGES.length - 1];
}
